/* goheap stats: heap totals from the span walk. */
#include <string.h>

#include "../heap/heap.h"
#include "commands.h"

struct gh_error *gh_cmd_stats(struct gh_program *p, int argc, char **argv, struct gh_out *o)
{
	(void)argv;
	if (argc > 1)
		return gh_errorf(GH_ERR_USAGE, "usage: stats (takes no arguments)");
	struct gh_heap *h;
	GH_TRY(gh_cmd_heap(p, &h));
	const struct gh_heap_stats *st = &h->st;
	struct gh_node *r = gh_out_root(o);
	struct gh_node *hp = gh_put_object(r, "heap");
	gh_put_u64(hp, "objects", st->objects);
	gh_put_bytes(hp, "bytes", st->bytes);
	gh_put_bytes(hp, "slot_bytes", st->slot_bytes);
	gh_put_u64(hp, "live_objects", st->objects - st->garbage_objects);
	gh_put_bytes(hp, "live_bytes", st->bytes - st->garbage_bytes);
	gh_put_u64(hp, "garbage_objects", st->garbage_objects);
	gh_put_bytes(hp, "garbage_bytes", st->garbage_bytes);
	gh_put_u64(hp, "allocating_objects", st->allocating_objects);
	gh_put_u64(hp, "large_objects", st->large_objects);
	gh_put_bytes(hp, "large_bytes", st->large_bytes);
	gh_put_u64(hp, "tiny_blocks", st->tiny_blocks);
	gh_put_u64(hp, "arenas", st->arenas);
	gh_put_u64(hp, "spans", st->spans);
	gh_put_u64(hp, "corrupt_spans_skipped", st->bad_spans);
	struct gh_node *t = gh_put_table(r, "size_classes");
	for (unsigned c = 0; c < 256; c++) {
		if (!st->by_class_objects[c])
			continue;
		struct gh_node *row = gh_table_row(t);
		gh_put_u64(row, "class", c);
		gh_put_u64(row, "objects", st->by_class_objects[c]);
		gh_put_bytes(row, "bytes", st->by_class_bytes[c]);
	}
	if (h->warnings)
		gh_out_warn(o, "%s", h->warnings);
	return NULL;
}
