/* The table of heap pages behind gh_pages_resolve: a pointer into a small
 * span resolves from its page's entry, by arithmetic (the span's slots all
 * objects) or through the heap's slot bits (some slots free), without
 * reading the span table, whose records a big heap's pointers would read at
 * random. */
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"

void gh_pages_free(struct gh_pages *p)
{
	for (uint64_t i = 0; p->arena && i < p->n; i++)
		free(p->arena[i]);
	free(p->arena);
	memset(p, 0, sizeof(*p));
}

bool gh_pages_make(const struct gh_heap *h, struct gh_pages *p)
{
	memset(p, 0, sizeof(*p));
	uint64_t per = h->arena_bytes >> h->page_shift;
	if (!h->arena_dense || !h->ndense || !per || !(p->arena = calloc(h->ndense, sizeof(*p->arena))))
		return false;
	p->n = h->ndense;
	for (uint64_t a = 0; a < h->ndense; a++) {
		const uint32_t *ps = h->arena_dense[a];
		if (!ps)
			continue;
		if (!(p->arena[a] = calloc(per, sizeof(struct gh_page)))) {
			gh_pages_free(p);
			return false;
		}
		uint64_t base = ((h->dense_lo + a) << h->arena_shift) + h->arena_base_offset;
		for (uint64_t i = 0; i < per; i++) {
			struct gh_page *pg = &p->arena[a][i];
			if (ps[i] == UINT32_MAX)
				continue; /* GH_PAGE_NONE */
			const struct gh_span *s = &h->spans[ps[i]];
			uint64_t pgoff = (base + (i << h->page_shift) - s->base) >> h->page_shift;
			pg->kind = GH_PAGE_SEARCH;
			if (!s->nobjs || s->elemsize > UINT32_MAX || pgoff > UINT16_MAX || s->npages > UINT16_MAX)
				continue;
			if (s->nobjs == s->nelems)
				*pg = (struct gh_page){ .first = s->first, .elemsize = (uint32_t)s->elemsize,
							.nelems = s->nelems, .pgoff = (uint16_t)pgoff, .kind = GH_PAGE_DIRECT };
			else if (s->slots != GH_NO_SLOTS)
				*pg = (struct gh_page){ .first = s->slots, .elemsize = (uint32_t)s->elemsize,
							.nelems = s->nelems, .pgoff = (uint16_t)pgoff, .kind = GH_PAGE_SLOTS };
		}
	}
	return true;
}
