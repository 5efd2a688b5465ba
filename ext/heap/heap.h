/* The Go heap of a program: every in-use span and every allocated object,
 * with each object's pointer words.
 *
 * Storage is sized for big heaps: spans and objects live in sorted arrays
 * with 32-bit ids.  An object is 8 bytes: its address and its type in one
 * word (struct gh_object); the rare flags (garbage, mid-allocation) are bit
 * sets beside the table; its span is found again by binary search (both
 * arrays are sorted by address), so it is not stored.  Address -> object is a
 * binary search over spans, then arithmetic inside the span.  Pointer words are computed on
 * demand from the span's own pointer metadata, never stored.
 *
 * A corrupt core degrades into counted warnings (bad spans skipped), never a
 * crash or an unbounded loop. */
#ifndef GH_HEAP_H
#define GH_HEAP_H

#include <stdbool.h>
#include <stdint.h>

#include "../runtime/program.h"
#include "../runtime/types.h"
#include "../util/error.h"

/* How a span records which words of its objects are pointers. */
enum gh_ptrmode {
	GH_PTR_NONE,         /* noscan span: no pointers */
	GH_PTR_ARENA_BITMAP, /* Go 1.20-1.21 (and 1.22 noallocheaders): heapArena.bitmap */
	GH_PTR_SPAN_BITS,    /* 1.22+: objects <= 512 B, bitmap at the end of the span */
	GH_PTR_HEADER,       /* 1.22+: 8-byte type header at the start of each slot */
	GH_PTR_LARGE_TYPE,   /* 1.22+: one large object typed by mspan.largeType */
};

struct gh_span {
	uint64_t base;      /* first slot */
	uint64_t limit;     /* end of the last slot (small) or of the object (large) */
	uint64_t mspan;     /* address of the runtime's mspan */
	uint64_t elemsize;  /* slot size */
	uint64_t npages;
	uint64_t heapbits;  /* GH_PTR_SPAN_BITS: address of the span's heap bits */
	uint64_t largetype; /* GH_PTR_LARGE_TYPE: type descriptor, 0 while zeroing */
	uint32_t nelems;
	uint32_t first;     /* index of the span's first object in the object array */
	uint32_t nobjs;
	uint32_t garbage;   /* objects allocated but unmarked in an unswept span */
	uint32_t slots;     /* some slots free: its first word in the heap's slot_bits; else GH_NO_SLOTS */
	uint8_t sizeclass;
	uint8_t ptrmode;    /* enum gh_ptrmode */
	bool noscan, unswept, inline_marks, user_arena;
};

/* An object: its start (after a malloc header), 8-aligned and below 2^48,
 * kept divided by 8 in the low GH_OBJ_ADDR_BITS bits, and its gh_type_id (0
 * until typed) above them.  One word, so that a 10M-object heap's table is
 * 80 MB; read and written through the gh_obj_* functions below, atomically,
 * because typing sets types on one thread while another reads addresses. */
#define GH_OBJ_ADDR_BITS 45
#define GH_OBJ_ADDR_LIMIT (1ull << (GH_OBJ_ADDR_BITS + 3))
_Static_assert(GH_OBJ_ADDR_BITS + GH_TYPE_ID_BITS <= 64, "an object record is one word");

struct gh_object {
	uint64_t w;
};

struct gh_heap_stats {
	uint64_t arenas, spans, objects, bytes, slot_bytes;
	uint64_t garbage_objects, garbage_bytes, allocating_objects;
	uint64_t large_objects, large_bytes, tiny_blocks;
	uint64_t manual_spans, bad_spans, bad_pointer_maps;
	uint64_t by_class_objects[256], by_class_bytes[256];
};

struct gh_heap {
	struct gh_program *p;
	struct gh_span *spans; /* sorted by base */
	uint32_t nspans;
	struct gh_object *objs; /* sorted by address */
	uint32_t nobjs;
	/* Bit per object: unmarked in an unswept span (dead, not yet freed);
	 * mid-allocation when the core was taken (no trusted pointer map). */
	uint64_t *garbage, *allocating;
	/* Spans with free slots among their objects (after a collection, most
	 * spans of a long-running program): a bit per slot, set where an object
	 * is, from the span's word gh_span.slots on; and per word of bits the
	 * index of the object at its first set bit, so that a slot's object is
	 * a popcount away (gh_span_slot_object), not a search of the span. */
	uint64_t *slot_bits;
	uint32_t *slot_rank;
	bool alloc_headers;    /* 1.22+ layout (no arena bitmap) */
	uint64_t header_size;  /* malloc header bytes (8) */
	uint64_t header_min;   /* objects larger than this get a header */
	uint64_t tiny_size;    /* the tiny allocator's block size (16) */
	uint8_t tiny_class;    /* and its size class (2) */
	struct gh_heap_stats st;
	struct gh_mask_cache *masks; /* type descriptor -> pointer mask */
	bool masks_frozen;     /* threads are reading masks: a miss loads nothing */
	/* Address -> span in O(1): per arena, the span index of each page
	 * (UINT32_MAX: none), arenas sorted by base. */
	struct gh_arena_index {
		uint64_t base;
		uint32_t *page_span;
	} *arena_index;
	uint32_t narena_index;
	/* The same by arena number, for arenas dense_lo .. dense_lo + ndense - 1
	 * (NULL: none): a heap's arenas are few and close together, and every
	 * pointer word is looked up here. */
	uint32_t **arena_dense;
	uint64_t dense_lo, ndense;
	uint64_t page_size, arena_bytes, arena_base_offset;
	uint8_t page_shift, arena_shift; /* log2 of both: lookups shift, not divide */
	char *warnings;        /* first few warnings, one per line */
	size_t warnings_len;
};

struct gh_error *gh_heap_build(struct gh_program *p, struct gh_heap **out);
void gh_heap_free(struct gh_heap *h);

static inline uint64_t gh_obj_addr(const struct gh_object *o)
{
	return (__atomic_load_n(&o->w, __ATOMIC_RELAXED) & ((1ull << GH_OBJ_ADDR_BITS) - 1)) << 3;
}
static inline gh_type_id gh_obj_type(const struct gh_object *o)
{
	return (gh_type_id)(__atomic_load_n(&o->w, __ATOMIC_RELAXED) >> GH_OBJ_ADDR_BITS);
}
/* Typing's alone, one thread at a time (id below 2^GH_TYPE_ID_BITS). */
static inline void gh_obj_set_type(struct gh_object *o, gh_type_id id)
{
	uint64_t w = __atomic_load_n(&o->w, __ATOMIC_RELAXED);
	__atomic_store_n(&o->w, (w & ((1ull << GH_OBJ_ADDR_BITS) - 1)) | (uint64_t)id << GH_OBJ_ADDR_BITS,
			 __ATOMIC_RELAXED);
}
static inline bool gh_obj_flag(const struct gh_heap *h, const uint64_t *bits, const struct gh_object *o)
{
	size_t i = (size_t)(o - h->objs);
	return bits && bits[i / 64] >> (i % 64) & 1;
}
/* Unmarked in an unswept span: dead, not yet freed. */
static inline bool gh_obj_garbage(const struct gh_heap *h, const struct gh_object *o)
{
	return gh_obj_flag(h, h->garbage, o);
}
/* Mid-allocation when the core was taken: no trusted pointer map. */
static inline bool gh_obj_allocating(const struct gh_heap *h, const struct gh_object *o)
{
	return gh_obj_flag(h, h->allocating, o);
}
/* Tiny-allocator blocks: 16-byte noscan slots that may hold several small values. */
bool gh_obj_is_tiny(const struct gh_heap *h, const struct gh_object *o);
/* The span holding an object. */
const struct gh_span *gh_obj_span(const struct gh_heap *h, const struct gh_object *o);
/* Object size: the slot minus any malloc header, or the exact size of a large object. */
uint64_t gh_obj_size(const struct gh_heap *h, const struct gh_object *o);
/* The slot holding the object: its address and size (what the GC scans). */
uint64_t gh_obj_slot(const struct gh_heap *h, const struct gh_object *o, uint64_t *slot_size);

/* The object containing addr (any interior pointer, header included); NULL if none. */
const struct gh_object *gh_heap_find(const struct gh_heap *h, uint64_t addr);
/* The same, also giving the span (set even when no object is found). */
const struct gh_object *gh_heap_find_in(const struct gh_heap *h, uint64_t addr, const struct gh_span **span);
/* The object of span s containing addr (which s covers: gh_span_covers). */
const struct gh_object *gh_span_find(const struct gh_heap *h, const struct gh_span *s, uint64_t addr);
static inline bool gh_span_covers(const struct gh_span *s, uint64_t addr)
{
	return addr >= s->base && addr - s->base < (uint64_t)s->nelems * s->elemsize;
}
/* The same when every slot of s holds an object, its place then being
 * arithmetic; NULL otherwise (gh_span_find looks in the span's slot bits). */
static inline struct gh_object *gh_span_dense_find(const struct gh_heap *h, const struct gh_span *s, uint64_t addr)
{
	return s->nobjs && s->nobjs == s->nelems ? &h->objs[s->first + (addr - s->base) / s->elemsize] : NULL;
}
#define GH_NO_SLOTS UINT32_MAX
/* The index of the object in slot i of the span whose slot bits start at
 * word slots (gh_span.slots); false for a free slot. */
static inline bool gh_slot_index(const struct gh_heap *h, uint32_t slots, uint64_t i, uint32_t *obj)
{
	uint64_t b = h->slot_bits[slots + i / 64], m = 1ull << (i % 64);
	if (!(b & m))
		return false;
	*obj = h->slot_rank[slots + i / 64] + (uint32_t)__builtin_popcountll(b & (m - 1));
	return true;
}
/* The object in slot i (< nelems) of a span with slot bits (s->slots !=
 * GH_NO_SLOTS); NULL for a free slot. */
static inline struct gh_object *gh_span_slot_object(const struct gh_heap *h, const struct gh_span *s, uint64_t i)
{
	uint32_t obj;
	return gh_slot_index(h, s->slots, i, &obj) ? &h->objs[obj] : NULL;
}
/* Object size and tininess from the span, for callers that have it. */
uint64_t gh_span_obj_size(const struct gh_heap *h, const struct gh_span *s);
bool gh_span_is_tiny(const struct gh_heap *h, const struct gh_span *s);
/* Index of the span holding addr's page (UINT32_MAX: none); addr may lie
 * past the span's last slot.  Reads only the page index. */
uint32_t gh_heap_page_span(const struct gh_heap *h, uint64_t addr);
/* The in-use span containing addr; NULL if none. */
const struct gh_span *gh_heap_span_of(const struct gh_heap *h, uint64_t addr);
/* The same, trying *memo (the span the caller found last) first and keeping
 * the span found in it: for lookups that come in address order. */
const struct gh_span *gh_heap_span_at(const struct gh_heap *h, const struct gh_span **memo, uint64_t addr);

/* Calls fn for each word of the object's slot that may hold a heap pointer,
 * with its offset from the slot start, and its value.  Returns false (and
 * counts a bad pointer map) if the object's pointer metadata cannot be read. */
typedef void (*gh_ptr_fn)(void *arg, uint64_t slot_offset, uint64_t value);
bool gh_heap_pointers(struct gh_heap *h, const struct gh_object *o, gh_ptr_fn fn, void *arg);
/* The same for the words at slot offsets [from, to) only. */
bool gh_heap_pointers_in(struct gh_heap *h, const struct gh_object *o, uint64_t from, uint64_t to, gh_ptr_fn fn, void *arg);
/* The same for an object of span s, for callers that have the span at hand. */
bool gh_span_pointers_in(struct gh_heap *h, const struct gh_span *s, const struct gh_object *o, uint64_t from, uint64_t to,
			 gh_ptr_fn fn, void *arg);
/* For several threads calling gh_heap_pointers at once: loads the pointer
 * mask of every type a header or largeType names, then freezes the cache
 * (a type not loaded then reads as an unreadable pointer map) until
 * gh_heap_masks_thaw.  Counters are updated atomically meanwhile.  Callers
 * must also keep to targets whose memory is thread-safe to read
 * (gh_target_threadsafe). */
void gh_heap_masks_freeze(struct gh_heap *h);
void gh_heap_masks_thaw(struct gh_heap *h);
/* The pointer mask of the type descriptor at desc (bit i: word i is a
 * pointer, for ptrdata bytes), with its size; NULL if it cannot be read
 * (a GC program, a mask the runtime has not built).  Cached per heap. */
const uint8_t *gh_heap_type_mask(struct gh_heap *h, uint64_t desc, uint64_t *size, uint64_t *ptrdata);

/* Maps the core's pages of the heap's pointerful spans into the page
 * tables (MADV_POPULATE_READ), for a thread of its own ahead of a pass that
 * reads every object (arg: the heap; returns NULL).  Advisory: does nothing
 * where the target does not map the core or the kernel cannot. */
void *gh_heap_populate(void *arg);

/* Internal to the heap layer. */
void gh_mask_cache_free(struct gh_mask_cache *c);
void gh_heap_warn(struct gh_heap *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
