/* goheap spans: the in-use heap spans. */
#include <string.h>

#include "../heap/heap.h"
#include "../util/strutil.h"
#include "commands.h"

static const char *ptrmode_name(uint8_t m)
{
	static const char *const names[] = { "noscan", "arena bitmap", "span heap bits", "malloc headers", "large type" };
	return m < sizeof(names) / sizeof(names[0]) ? names[m] : "?";
}

struct gh_error *gh_cmd_spans(struct gh_program *p, int argc, char **argv, struct gh_out *o)
{
	uint64_t limit = 1000;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
			if (!gh_parse_u64(argv[++i], &limit))
				return gh_errorf(GH_ERR_USAGE, "--limit takes a count (0: all)");
		} else
			return gh_errorf(GH_ERR_USAGE, "usage: spans [--limit N]");
	}
	struct gh_heap *h;
	GH_TRY(gh_cmd_heap(p, &h));
	struct gh_node *r = gh_out_root(o);
	struct gh_node *t = gh_put_table(r, "spans");
	for (uint32_t i = 0; i < h->nspans && (!limit || i < limit); i++) {
		const struct gh_span *s = &h->spans[i];
		struct gh_node *row = gh_table_row(t);
		gh_put_addr(row, "base", s->base);
		gh_put_addr(row, "mspan", s->mspan);
		gh_put_u64(row, "pages", s->npages);
		gh_put_u64(row, "class", s->sizeclass);
		gh_put_u64(row, "elemsize", s->elemsize);
		gh_put_u64(row, "nelems", s->nelems);
		gh_put_u64(row, "objects", s->nobjs);
		gh_put_u64(row, "garbage", s->garbage);
		gh_put_str(row, "pointers", ptrmode_name(s->ptrmode));
		gh_put_strf(row, "flags", "%s%s%s", s->unswept ? "unswept " : "", s->inline_marks ? "inline-marks " : "",
			    s->user_arena ? "user-arena" : "");
	}
	gh_put_u64(r, "total", h->nspans);
	gh_put_u64(r, "corrupt_spans_skipped", h->st.bad_spans);
	if (h->warnings)
		gh_out_warn(o, "%s", h->warnings);
	return NULL;
}
