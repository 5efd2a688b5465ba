/* Map types recognised by the shape of a map's bucket or group array, for
 * arrays the heap records no type for: every object before Go 1.22, and
 * objects of up to 512 bytes after (a map of a few entries).  See mapshape.c. */
#ifndef GH_MAPSHAPE_H
#define GH_MAPSHAPE_H

#include "../runtime/types.h"
#include "heap.h"

struct gh_map_shapes;

/* Whether an object of osize bytes is an array of n buckets or groups of
 * size bytes: it holds them, and a size class's slack (or makeBucketArray's
 * spare overflow buckets) stays under another n. */
static inline bool gh_map_array_holds(uint64_t osize, uint64_t n, uint64_t size)
{
	return n && size && n <= (1ull << 40) / size && osize >= n * size && osize < 2 * n * size;
}

/* Collects the candidates: every map type the module lists, with its bucket
 * or group size and pointer mask.  NULL when out of memory. */
struct gh_map_shapes *gh_map_shapes_new(struct gh_heap *h, struct gh_types *T);
void gh_map_shapes_free(struct gh_map_shapes *ms);

/* The map type whose bucket (swiss: group) array is the untyped object arr,
 * holding n buckets or groups: the one candidate whose bucket size, pointer
 * mask and sampled entries fit, or the best fit by how many sampled values
 * the heap confirms.  0 when none fits or the best fits tie (counted in
 * *ambiguous). */
gh_type_id gh_map_shape_of(struct gh_map_shapes *ms, const struct gh_object *arr, uint64_t n, bool swiss,
			   uint64_t *ambiguous);

#endif
