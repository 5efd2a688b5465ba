/* goheap stats: heap totals from the span walk. */
#include <string.h>

#include "../heap/heap.h"
#include "../heap/typing.h"
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
	const struct gh_typing_stats *ty = gh_cmd_typing(p);
	struct gh_node *tn = gh_put_object(r, "typing");
	if (ty) {
		gh_put_u64(tn, "typed_objects", ty->typed_objects);
		gh_put_bytes(tn, "typed_bytes", ty->typed_bytes);
		gh_put_strf(tn, "typed_fraction_of_bytes", "%.2f%%",
			    st->bytes ? 100.0 * (double)ty->typed_bytes / (double)st->bytes : 0.0);
		gh_put_u64(tn, "typed_by_malloc_header", ty->from_headers);
		gh_put_u64(tn, "globals_walked", ty->from_globals);
		gh_put_u64(tn, "goroutine_locals_walked", ty->from_locals);
		gh_put_u64(tn, "map_headers_typed_by_buckets", ty->from_map_buckets);
		gh_put_u64(tn, "map_headers_typed_by_shape", ty->from_map_shapes);
		gh_put_u64(tn, "map_arrays_ambiguous", ty->ambiguous_map_shapes);
		gh_put_u64(tn, "type_conflicts", ty->conflicts);
		gh_put_u64(tn, "unreadable_type_words", ty->bad_types);
	} else {
		gh_put_str(tn, "status", "untyped (see warnings)");
	}
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
