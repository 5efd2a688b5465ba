/* Shared by the graph layer's own files only. */
#ifndef GH_GRAPH_INTERNAL_H
#define GH_GRAPH_INTERNAL_H

#include "graph.h"

/* Roots and their edges as they are discovered, before the CSR is built. */
struct gh_root_edge_rec {
	uint32_t root; /* index into roots */
	uint32_t obj;  /* object index */
};

struct gh_root_builder {
	struct gh_heap *h;
	struct gh_root *roots;
	uint32_t nroots, cap_roots;
	struct gh_root_edge_rec *edges;
	size_t nedges, cap_edges;
	uint64_t unresolved;
};

/* Records that the root (kind, name, addr, size) holds value at slot; the
 * root is created on first use (consecutive calls for the same root reuse
 * it).  A value that is not a pointer into a heap object is ignored. */
struct gh_error *gh_root_edge(struct gh_root_builder *b, enum gh_root_kind kind, const char *name, uint64_t addr,
			      uint64_t size, uint64_t slot, uint64_t value);

/* Starts a root even if it turns out to hold no heap pointer. */
struct gh_error *gh_root_begin(struct gh_root_builder *b, enum gh_root_kind kind, const char *name, uint64_t addr,
			       uint64_t size);
struct gh_error *gh_roots_globals(struct gh_heap *h, struct gh_root_builder *b);
struct gh_error *gh_roots_specials(struct gh_heap *h, struct gh_root_builder *b);
struct gh_error *gh_roots_registers(struct gh_heap *h, struct gh_root_builder *b);
/* *warning (malloc'd) says why stacks could not be read, if they could not. */
struct gh_error *gh_roots_stacks(struct gh_heap *h, struct gh_root_builder *b, char **warning);

/* Heap pages, for resolving pointers without the span table (pages.c):
 * 16 bytes a page, for the heap's dense arena range (gh_heap_page_span).
 * A page of a span whose slots are all objects is DIRECT, one of a span
 * with free slots among its objects SLOTS (its object is found in the
 * heap's slot bits); any other SEARCH (through the span table). */
enum { GH_PAGE_NONE, GH_PAGE_DIRECT, GH_PAGE_SLOTS, GH_PAGE_SEARCH };
struct gh_page {
	uint32_t first;    /* the span's first object (DIRECT), or first word of slot bits (SLOTS) */
	uint32_t elemsize; /* its slot size */
	uint32_t nelems;   /* its slots */
	uint16_t pgoff;    /* this page's place in the span */
	uint8_t kind;      /* GH_PAGE_NONE: no span; GH_PAGE_SEARCH: resolve through the span */
};
struct gh_pages {
	struct gh_page **arena;
	uint64_t n;
};
/* False (and nothing to free) when it cannot be had. */
bool gh_pages_make(const struct gh_heap *h, struct gh_pages *p);
void gh_pages_free(struct gh_pages *p);

/* Where a pointer value leads, as the graph resolves it: into no span's
 * page (no edge); to object *obj; into a span's page but no object; or
 * to be found through the span table (gh_heap_find): outside the table, or
 * a SEARCH page (a large span, a span without slot bits). */
enum { GH_RESOLVE_NONE, GH_RESOLVE_OBJECT, GH_RESOLVE_FREE, GH_RESOLVE_SEARCH };
static inline int gh_pages_resolve(const struct gh_heap *h, const struct gh_pages *p, uint64_t value, uint32_t *obj)
{
	uint64_t rel = value - h->arena_base_offset, n = (rel >> h->arena_shift) - h->dense_lo;
	if (n >= p->n)
		return GH_RESOLVE_SEARCH;
	if (!p->arena[n])
		return GH_RESOLVE_NONE;
	const struct gh_page *pg = &p->arena[n][(rel & (h->arena_bytes - 1)) >> h->page_shift];
	if (pg->kind != GH_PAGE_DIRECT && pg->kind != GH_PAGE_SLOTS)
		return pg->kind == GH_PAGE_NONE ? GH_RESOLVE_NONE : GH_RESOLVE_SEARCH;
	/* Below 2^16 pages into the span: a 32-bit division. */
	uint32_t in = (uint32_t)((rel & (h->page_size - 1)) + ((uint64_t)pg->pgoff << h->page_shift));
	uint32_t i = in / pg->elemsize;
	if (i >= pg->nelems)
		return GH_RESOLVE_FREE;
	if (pg->kind == GH_PAGE_DIRECT) {
		*obj = pg->first + i;
		return GH_RESOLVE_OBJECT;
	}
	return gh_slot_index(h, pg->first, i, obj) ? GH_RESOLVE_OBJECT : GH_RESOLVE_FREE;
}

#endif
