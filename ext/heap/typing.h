/* Typing heap objects: see typing.c. */
#ifndef GH_TYPING_H
#define GH_TYPING_H

#include "../runtime/types.h"
#include "heap.h"

struct gh_typing_stats {
	uint64_t typed_objects, typed_bytes;
	uint64_t from_headers;   /* objects typed by a malloc header or largeType */
	uint64_t from_globals;   /* global variables walked */
	uint64_t from_locals;    /* goroutine locals walked (DWARF) */
	uint64_t from_map_buckets; /* map headers typed by their bucket or group arrays */
	uint64_t from_map_shapes;  /* ... by the shape of untyped arrays (mapshape.c) */
	uint64_t ambiguous_map_shapes; /* arrays several map types fit equally: left untyped */
	uint64_t conflicts;      /* a pointer proposed a type other than the object's */
	uint64_t bad_types;      /* type words naming no readable descriptor */
	uint64_t dropped;        /* work lost to memory exhaustion */
};

/* Types every object it can; idempotent (the heap remembers it ran). */
struct gh_error *gh_heap_type_objects(struct gh_heap *h, struct gh_types *T, struct gh_typing_stats *st);

#endif
