/* Go maps decoded from the target: bucket maps (runtime.hmap, Go ≤ 1.23 and
 * 1.24/1.25 noswissmap) and swiss tables (internal/runtime/maps.Map, 1.24+),
 * both from a header address and the map's type descriptor.  One call walks
 * the whole map once: it reports every live entry to a callback and fills
 * the map's statistics (capacity, deleted slots, overflow buckets, bytes of
 * its own structure).  See docs/maps.md.
 *
 * Input is untrusted: absurd sizes (B, dirLen, table capacity) are errors;
 * damage inside the map (unreadable buckets or groups, overflow cycles,
 * control bytes no runtime writes) becomes counted warnings and the walk
 * goes on with what it can read.  Every loop is bounded. */
#ifndef GH_GOSTRUCTS_MAPS_H
#define GH_GOSTRUCTS_MAPS_H

#include <stdbool.h>
#include <stdint.h>

#include "../heap/heap.h"
#include "../runtime/types.h"
#include "../util/error.h"

#define GH_MAP_WARNINGS 4

struct gh_map_stats {
	bool swiss;
	uint64_t len;            /* the header's count (hmap.count, Map.used) */
	uint64_t live;           /* full slots found by the walk (= len when intact) */
	uint64_t capacity;       /* slots: 8 per bucket (overflow included) or per group */
	uint64_t deleted;        /* emptyOne tophash (buckets), tombstones 0xFE (swiss) */
	uint64_t empty;          /* every other free slot */
	uint64_t buckets;        /* 2^B (buckets); groups (swiss) */
	uint64_t overflow;       /* overflow buckets chained from the current array */
	uint64_t bytes;          /* heap slots of the map's own structure (see below) */
	uint64_t indirect_bytes; /* separately allocated keys and values (> 128 bytes) */
	/* Buckets: mid-growth state. */
	unsigned B;
	bool growing;            /* oldbuckets != nil: evacuation in progress */
	uint64_t old_buckets, nevacuate, old_live;
	/* Swiss: directory and tables. */
	uint64_t dir_len, tables;
	uint32_t nwarnings;      /* how many warnings, of which the first few: */
	char warnings[GH_MAP_WARNINGS][160];
};

/* One live entry: where its key and value are (after following indirect
 * slots), and their types. */
struct gh_map_entry {
	uint64_t key, elem;
	gh_type_id key_type, elem_type;
};

/* Return false to stop the walk (statistics then cover what was walked). */
typedef bool (*gh_map_entry_fn)(void *arg, const struct gh_map_entry *e);

/* Walks the map whose header is at addr and whose map type is map_type.
 * fn may be NULL (statistics only).  h may be NULL: then bytes are not
 * counted and sizes are bounded by fixed limits instead of heap objects.
 * An error means the header itself is unusable (unreadable, absurd sizes,
 * a type that is not a map). */
struct gh_error *gh_map_walk(struct gh_program *p, struct gh_heap *h, struct gh_types *T, uint64_t addr,
			     gh_type_id map_type, gh_map_entry_fn fn, void *arg, struct gh_map_stats *st);

/* Bytes of the heap object holding addr (its slot), 0 if none; used to
 * count a structure's memory once per object. */
uint64_t gh_map_object_bytes(struct gh_heap *h, uint64_t addr);

#endif
