/* Giving heap objects their Go types.
 *
 * Seeds: the type in a malloc header or mspan.largeType (Go 1.22+), and the
 * global variables, typed from DWARF; last, map headers typed by their
 * bucket arrays (type_map_headers).  From there types propagate through
 * typed memory: a *T points at a T, a []T's backing array holds T's, a
 * string's bytes are uint8s, an interface's type word names the dynamic type
 * of its data, a map's buckets or groups are of the map type's bucket/group
 * type, a channel's buffer holds its element type.  Only a pointer to an
 * object's start types the object (an interior pointer says nothing about the
 * object around it); a type proposed for an object that already has another
 * one is counted as a conflict: a header type is the runtime's own truth.
 *
 * The work is the set of objects typed but not yet walked, a bit per object:
 * each object is typed once and walked once, so cycles terminate; the walk
 * inside one value is bounded by the type's nesting depth.  Proposals are
 * not applied one by one: they are batched and sorted by address, so that
 * finding their objects walks the span and object tables in order (a big
 * heap's tables do not fit in the cache, and one lookup per pointer in walk
 * order misses it two or three times).  The pending objects are walked in
 * sweeps in address order, so the heap is read front to back; a bit set is
 * small where a queue could hold millions of entries at once (a map's
 * bucket array types all its entries in one go). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/goroutines.h"
#include "../util/radix.h"
#include "mapshape.h"
#include "typing.h"

#define MAX_DEPTH 32
#define MAX_MAP_DIR (1u << 24)
#define BATCH (1u << 20) /* proposals sorted at once: 2 x 8 MiB */
/* A proposal packed in a word: offset from the heap's first span above,
 * type id below, so that sorting the words sorts by address. */
#define TYPE_BITS 24
#define PAGE_BITS 12 /* sorted by 4 KiB page: two radix passes, not three */

struct typer {
	struct gh_heap *h;
	struct gh_program *p;
	struct gh_types *T;
	uint64_t *pending;  /* bit per object: typed, not yet walked */
	uint64_t *summary;  /* bit per word of pending that may be non-zero */
	size_t npending, nwords;
	uint64_t *batch, *scratch; /* proposals not yet applied */
	size_t nbatch;
	uint64_t heap_lo;          /* first span's base: proposals are offsets from it */
	const struct gh_span *span; /* of the last lookup: work comes in address order */
	/* The bytes of the object being walked, mapped from the core: its
	 * words are read without a segment lookup and a copy each. */
	uint64_t vbase, vend;
	const uint8_t *vdata;
	struct gh_typing_stats *st;
	gh_type_id u8, mapextra, swiss_table;
	uint8_t *closures; /* bit per object: closure context already walked */
	/* HashTrieMap node types resolved to their entry/indirect types: a map
	 * has thousands of nodes of one type, and a name lookup may scan DWARF. */
	struct trie_memo { gh_type_id node, entry, indirect; } trie[8];
	uint32_t ntrie;
	/* Map types by the shape of untyped bucket arrays; shaped: the header
	 * being checked was typed that way. */
	struct gh_map_shapes *shapes;
	bool shaped;
	/* Values reached by interior pointers: walked from a work list, each
	 * (address, type) once; the visited set is bounded. */
	struct ival { uint64_t addr; gh_type_id id; } *vals;
	size_t nvals, capvals;
	uint64_t *vseen;   /* open addressing set of addr ^ id hashes; 0 empty */
	size_t vcap, vcount;
};

static uint64_t g_types_base(struct typer *k);

static const struct gh_type *ty(struct typer *k, gh_type_id id)
{
	return gh_type_get(k->T, id);
}

/* The span containing a, trying the last one first. */
static const struct gh_span *span_at(struct typer *k, uint64_t a)
{
	if (k->span && gh_span_covers(k->span, a))
		return k->span;
	const struct gh_span *s = gh_heap_span_of(k->h, a);
	if (s)
		k->span = s;
	return s;
}

static void push(struct typer *k, uint32_t obj)
{
	uint64_t bit = 1ull << (obj % 64);
	if (k->pending[obj / 64] & bit)
		return;
	k->pending[obj / 64] |= bit;
	k->summary[obj / 4096] |= 1ull << (obj / 64 % 64);
	k->npending++;
}

/* The first pending object at or after obj; UINT32_MAX if none. */
static uint32_t next_pending(struct typer *k, uint32_t obj)
{
	size_t w = obj / 64;
	if (w >= k->nwords)
		return UINT32_MAX;
	uint64_t bits = k->pending[w] & (~0ull << (obj % 64));
	if (bits)
		return (uint32_t)(w * 64 + (size_t)__builtin_ctzll(bits));
	for (size_t s = (w + 1) / 64, first = (w + 1) % 64; s * 64 < k->nwords; s++, first = 0) {
		uint64_t sb = k->summary[s] & (~0ull << first);
		while (sb) {
			size_t ww = s * 64 + (size_t)__builtin_ctzll(sb);
			if (k->pending[ww])
				return (uint32_t)(ww * 64 + (size_t)__builtin_ctzll(k->pending[ww]));
			k->summary[s] &= ~(1ull << (ww % 64)); /* emptied since: forget it */
			sb &= sb - 1;
		}
	}
	return UINT32_MAX;
}

/* Whether generic is the runtime struct behind values of the channel or map
 * type specific: runtime.hchan for channels; runtime.hmap or
 * internal/runtime/maps.Map for maps. */
static bool header_of(const struct gh_type *generic, const struct gh_type *specific)
{
	if (!generic || !specific)
		return false;
	if (specific->kind == GH_KIND_CHAN)
		return !strcmp(generic->name, "runtime.hchan");
	if (specific->kind == GH_KIND_MAP)
		return !strcmp(generic->name, "runtime.hmap") || !strcmp(generic->name, "internal/runtime/maps.Map");
	return false;
}

/* Two types that describe the same object without disagreeing: a channel
 * with or without direction, a named type and its unnamed twin (same kind
 * and size, no inner structure), a struct and the struct embedded at its
 * start (runtime.mPadded and runtime.m), two map types with one bucket type. */
static bool compatible(struct typer *k, const struct gh_type *a, const struct gh_type *b)
{
	if (a->kind == GH_KIND_CHAN && b->kind == GH_KIND_CHAN)
		return a->elem == b->elem;
	if (a->kind == b->kind && a->size == b->size && a->kind != GH_KIND_STRUCT && a->kind != GH_KIND_ARRAY &&
	    a->kind != GH_KIND_INTERFACE && a->kind != GH_KIND_MAP && a->kind != GH_KIND_POINTER)
		return true;
	if (a->kind == GH_KIND_MAP && b->kind == GH_KIND_MAP) /* a named map type and its unnamed twin */
		return a->map_bucket == b->map_bucket;
	for (int d = 0; d < 8 && a->kind == GH_KIND_STRUCT && a->nfields && a->fields[0].offset == 0; d++) {
		const struct gh_type *f = ty(k, a->fields[0].type);
		if (!f)
			break;
		if (f == b || !strcmp(f->name, b->name))
			return true;
		a = f;
	}
	return false;
}

static uint64_t vkey(uint64_t addr, gh_type_id id)
{
	uint64_t x = addr ^ ((uint64_t)id * 0x9E3779B97F4A7C15ull);
	x ^= x >> 31;
	return x ? x : 1;
}

/* Whether the value of type id at p was seen before (it is recorded
 * otherwise); true also when the bounded set is full (the work is dropped). */
static bool seen_value(struct typer *k, uint64_t p, gh_type_id id)
{
	if (!k->vcap) {
		k->vcap = 1024;
		if (!(k->vseen = calloc(k->vcap, sizeof(*k->vseen))))
			return true;
	}
	if ((k->vcount + 1) * 2 > k->vcap) {
		size_t ncap = k->vcap * 2;
		if (ncap > 4 * (size_t)k->h->nobjs + 1024) {
			k->st->dropped++;
			return true;
		}
		uint64_t *ns = calloc(ncap, sizeof(*ns));
		if (!ns)
			return true;
		for (size_t i = 0; i < k->vcap; i++)
			if (k->vseen[i])
				for (size_t j = k->vseen[i] & (ncap - 1);; j = (j + 1) & (ncap - 1))
					if (!ns[j]) {
						ns[j] = k->vseen[i];
						break;
					}
		free(k->vseen);
		k->vseen = ns;
		k->vcap = ncap;
	}
	uint64_t key = vkey(p, id);
	size_t j = key & (k->vcap - 1);
	for (; k->vseen[j]; j = (j + 1) & (k->vcap - 1))
		if (k->vseen[j] == key)
			return true;
	k->vseen[j] = key;
	k->vcount++;
	return false;
}

/* Queues the value of type id at interior address p for walking. */
static void push_value(struct typer *k, uint64_t p, gh_type_id id)
{
	if (seen_value(k, p, id))
		return;
	if (k->nvals == k->capvals) {
		size_t nc = k->capvals ? k->capvals * 2 : 1024;
		struct ival *nv = realloc(k->vals, nc * sizeof(*nv));
		if (!nv)
			return;
		k->vals = nv;
		k->capvals = nc;
	}
	k->vals[k->nvals++] = (struct ival){ p, id };
}

/* Applies a proposal of type id for the object that starts exactly at p. */
static void apply(struct typer *k, uint64_t p, gh_type_id id)
{
	const struct gh_type *t = ty(k, id);
	if (!t || !t->size)
		return;
	const struct gh_span *sp = span_at(k, p);
	struct gh_object *o = sp ? (struct gh_object *)gh_span_find(k->h, sp, p) : NULL;
	if (!o || (o->addr_flags & GH_OBJ_GARBAGE))
		return;
	uint64_t osize = gh_span_obj_size(k->h, sp);
	bool tiny = gh_span_is_tiny(k->h, sp);
	if (t->size > osize)
		return;
	if (gh_obj_addr(o) != p) {
		/* An interior pointer says nothing about the object around it,
		 * but the value it points at has its type: walk that value.
		 * Small pointer-free values share tiny-allocator blocks: such a
		 * pointer types the block. */
		if (tiny && !t->ptrdata && p + t->size <= gh_obj_addr(o) + 16 && !o->type) {
			o->type = id;
			push(k, (uint32_t)(o - k->h->objs));
		} else if (t->ptrdata && p + t->size <= gh_obj_addr(o) + osize) {
			push_value(k, p, id);
		}
		return;
	}
	if (o->type && o->type != id && header_of(ty(k, o->type), t)) {
		/* The runtime's own header struct (from a runtime local such as
		 * chanrecv's c *hchan) and the user's channel or map type name
		 * the same object: keep the more telling one, walk it again. */
		o->type = id;
		push(k, (uint32_t)(o - k->h->objs));
		return;
	}
	if (o->type) {
		const struct gh_type *cur = ty(k, o->type);
		if (o->type != id && strcmp(cur->name, t->name) && !tiny && !header_of(t, cur) &&
		    !compatible(k, cur, t) && !compatible(k, t, cur)) {
			if (k->st->conflicts++ < 5)
				gh_heap_warn(k->h, "type conflict at 0x%llx: typed %s, a pointer says %s",
					     (unsigned long long)gh_obj_addr(o), cur->name, t->name);
		}
		return;
	}
	o->type = id;
	push(k, (uint32_t)(o - k->h->objs));
}

/* Applies the batched proposals in address order. */
static void flush(struct typer *k)
{
	size_t n = k->nbatch;
	k->nbatch = 0;
	gh_radix_sort(&k->batch, &k->scratch, n, TYPE_BITS + PAGE_BITS);
	for (size_t i = 0; i < n; i++)
		apply(k, k->heap_lo + (k->batch[i] >> TYPE_BITS), (gh_type_id)(k->batch[i] & ((1u << TYPE_BITS) - 1)));
}

/* Proposes type id for the object that starts exactly at p. */
static void assign(struct typer *k, uint64_t p, gh_type_id id)
{
	if (!p || !id)
		return;
	if (p < k->heap_lo || (p - k->heap_lo) >> (64 - TYPE_BITS) || id >> TYPE_BITS) {
		apply(k, p, id); /* not in the heap, or too far to pack: rare */
		return;
	}
	if (!k->batch) {
		k->batch = malloc(BATCH * sizeof(*k->batch));
		k->scratch = malloc(BATCH * sizeof(*k->scratch));
		if (!k->batch || !k->scratch) { /* no room to batch: apply at once */
			free(k->batch);
			free(k->scratch);
			k->batch = k->scratch = NULL;
			apply(k, p, id);
			return;
		}
	}
	k->batch[k->nbatch++] = (p - k->heap_lo) << TYPE_BITS | id;
	if (k->nbatch == BATCH)
		flush(k);
}

static bool rd(struct typer *k, uint64_t a, uint64_t *v)
{
	if (a >= k->vbase && a < k->vend && k->vend - a >= 8) {
		memcpy(v, k->vdata + (a - k->vbase), 8);
		return true;
	}
	return gh_read_u64(k->p->t, a, v);
}

/* Starts the read of the next pending object's bytes while this one is
 * walked: pending objects are in address order, but with gaps the hardware
 * does not predict. */
static void prefetch_object(struct typer *k, uint32_t obj)
{
	const void *v = gh_view(k->p->t, gh_obj_addr(&k->h->objs[obj]), 8);
	if (v)
		__builtin_prefetch(v);
}

static void walk(struct typer *k, uint64_t a, gh_type_id id, int depth);

/* Proposes that p (a slice's backing array, a pointer's target) holds values
 * of type id.  A map or channel value is a pointer to its header, and an
 * object typed with a map or channel type is that header: an object holding
 * such values ([]map[K]V's array) is not typed, its values are walked
 * instead (once per address), each typing the header it points at. */
static void assign_values(struct typer *k, uint64_t p, gh_type_id id)
{
	const struct gh_type *t = ty(k, id);
	if (!t || (t->kind != GH_KIND_MAP && t->kind != GH_KIND_CHAN)) {
		assign(k, p, id);
		return;
	}
	const struct gh_object *o = p ? gh_heap_find(k->h, p) : NULL;
	if (!o || (o->addr_flags & GH_OBJ_GARBAGE) || seen_value(k, p, id))
		return;
	for (uint64_t a = p, end = gh_obj_addr(o) + gh_obj_size(k->h, o); a + 8 <= end; a += 8)
		walk(k, a, id, 1);
}

static bool rdf(struct typer *k, uint64_t base, const struct gh_field *f, uint64_t *v)
{
	return gh_read_field(k->p, base, f, v);
}

/* Bucket maps (Go ≤ 1.23, 1.24/1.25 noswissmap): hmap -> buckets, old
 * buckets, and overflow buckets kept alive through hmap.extra. */
/* The compiler's bucket type for bucket maps (cmd/compile reflectdata
 * MapBucketType): struct { topbits [8]uint8; keys [8]K; elems [8]V;
 * overflow unsafe.Pointer-or-uintptr }. */
static bool is_bucket_type(const struct gh_type *t)
{
	return t->kind == GH_KIND_STRUCT && t->nfields == 4 && !strcmp(t->fields[0].name, "topbits") &&
	       !strcmp(t->fields[3].name, "overflow");
}

static void bucket_map(struct typer *k, uint64_t m, const struct gh_type *t)
{
	const struct gh_layout *L = &k->p->L;
	uint64_t b, ob, extra;
	if (rdf(k, m, &L->hmap.buckets, &b))
		assign(k, b, t->map_bucket);
	if (rdf(k, m, &L->hmap.oldbuckets, &ob))
		assign(k, ob, t->map_bucket);
	if (!rdf(k, m, &L->hmap.extra, &extra) || !extra)
		return;
	assign(k, extra, k->mapextra);
	const struct gh_field *lists[] = { &L->mapextra.overflow, &L->mapextra.oldoverflow };
	for (int i = 0; i < 2; i++) {
		uint64_t sp, s[3];
		/* *[]*bmap: a slice header object holding pointers to buckets. */
		if (!rdf(k, extra, lists[i], &sp) || !sp || !gh_read(k->p->t, sp, s, 24) || s[1] > s[2])
			continue;
		const struct gh_object *so = gh_heap_find(k->h, s[0]);
		if (!so || s[1] > gh_obj_size(k->h, so) / 8)
			continue;
		for (uint64_t j = 0; j < s[1]; j++) {
			uint64_t bp;
			if (rd(k, s[0] + 8 * j, &bp))
				assign(k, bp, t->map_bucket);
		}
	}
}

/* Swiss maps (Go 1.24+): a small map's dirPtr is one group; a big map's is
 * a directory of tables, each with an array of groups. */
static void swiss_map(struct typer *k, uint64_t m, const struct gh_type *t)
{
	const struct gh_layout *L = &k->p->L;
	uint64_t dir, dirlen;
	if (!rdf(k, m, &L->swissMap.dirPtr, &dir) || !dir || !rdf(k, m, &L->swissMap.dirLen, &dirlen))
		return;
	if (dirlen == 0) {
		assign(k, dir, t->map_bucket);
		return;
	}
	if (dirlen > MAX_MAP_DIR)
		return;
	uint64_t last = 0;
	for (uint64_t i = 0; i < dirlen; i++) {
		uint64_t tab, data;
		if (!rd(k, dir + 8 * i, &tab) || !tab || tab == last)
			continue; /* directory entries repeat for tables of lower depth */
		last = tab;
		assign(k, tab, k->swiss_table);
		if (rdf(k, tab, &L->swissTable.groupsData, &data))
			assign(k, data, t->map_bucket);
	}
}

/* Map headers typed by their buckets.  Nothing else types a header that no
 * typed memory points at (on stripped executables, no DWARF global names a
 * map): a header is 48 or 56 bytes, too small for a malloc header.  But the
 * bucket or group array of a map of more than a few entries is over 512
 * bytes and pointerful, so from Go 1.22 its malloc header (or largeType)
 * names the bucket or group type, which exactly one map type has.  An object
 * of a header's size whose buckets word (hmap.buckets; maps.Map.dirPtr, a
 * small map's group or the directory whose first table holds the groups)
 * points at the start of such an array is that map's header when its own
 * fields agree: B with the array's size, count within the slots, flags the
 * runtime sets, directory length and depths, and the GC's pointer map of the
 * object marks the buckets word as a pointer. */

/* The object starting exactly at a (live) and its size; NULL if none. */
static const struct gh_object *object_at(struct typer *k, uint64_t a, uint64_t *size)
{
	const struct gh_object *o = a ? gh_heap_find(k->h, a) : NULL;
	if (!o || gh_obj_addr(o) != a || (o->addr_flags & GH_OBJ_GARBAGE))
		return NULL;
	*size = gh_obj_size(k->h, o);
	return o;
}

/* The map type whose bucket or group array of n buckets or groups starts
 * at a (NULL if none): by the array's type, or when the heap records none,
 * by its shape (mapshape.c). */
static const struct gh_type *buckets_map(struct typer *k, uint64_t a, uint64_t n, bool swiss, uint64_t *size,
					 gh_type_id *id)
{
	const struct gh_object *o = object_at(k, a, size);
	if (o && !o->type) {
		if (!k->shapes && !(k->shapes = gh_map_shapes_new(k->h, k->T)))
			return NULL;
		const struct gh_type *mt = ty(k, *id = gh_map_shape_of(k->shapes, o, n, swiss, &k->st->ambiguous_map_shapes));
		if (mt)
			k->shaped = true;
		return mt;
	}
	const struct gh_type *bt = o ? ty(k, o->type) : NULL;
	if (!bt || bt->kind != GH_KIND_STRUCT)
		return NULL;
	*id = gh_type_map_of_bucket(k->T, o->type);
	const struct gh_type *mt = ty(k, *id);
	return mt && mt->map_bucket == o->type ? mt : NULL;
}

static void ptr_word(void *arg, uint64_t off, uint64_t value)
{
	(void)value;
	uint64_t *want = arg;
	if (off == *want)
		*want = UINT64_MAX; /* found */
}

/* Objects of size are in the size class of a hsize-byte header (classes are
 * 16 bytes apart there). */
static bool header_size(uint64_t size, int64_t hsize)
{
	return hsize > 0 && size >= (uint64_t)hsize && size < (uint64_t)hsize + 16;
}

/* The GC scans the object's word at off (its pointer map says so). */
static bool scans_word(struct typer *k, const struct gh_object *o, int64_t off)
{
	uint64_t want = (uint64_t)off;
	gh_heap_pointers(k->h, o, ptr_word, &want);
	return want == UINT64_MAX;
}

static gh_type_id bucket_header(struct typer *k, const struct gh_object *o, uint64_t size)
{
	const struct gh_layout *L = &k->p->L;
	uint64_t a = gh_obj_addr(o), count, flags, B, b, old = 0, nevac = 0, extra = 0, asize, osize;
	gh_type_id id = 0;
	const struct gh_type *mt;
	if (!header_size(size, L->hmap.size_of) || !rdf(k, a, &L->hmap.buckets, &b) || !rdf(k, a, &L->hmap.B, &B) ||
	    B >= 40 || !(mt = buckets_map(k, b, 1ull << B, false, &asize, &id)) || mt->map_swiss || !mt->map_bucketsize ||
	    !rdf(k, a, &L->hmap.count, &count) || !rdf(k, a, &L->hmap.flags, &flags))
		return 0;
	rdf(k, a, &L->hmap.oldbuckets, &old);
	rdf(k, a, &L->hmap.nevacuate, &nevac);
	rdf(k, a, &L->hmap.extra, &extra);
	uint64_t nb = 1ull << B; /* B < 40, checked above */
	if (!gh_map_array_holds(asize, nb, mt->map_bucketsize) || count > 8 * nb || (flags & ~0xfull) || nevac > nb ||
	    (old && !object_at(k, old, &osize)) || (extra && !object_at(k, extra, &osize)))
		return 0;
	return scans_word(k, o, L->hmap.buckets.off) ? id : 0;
}

static gh_type_id swiss_header(struct typer *k, const struct gh_object *o, uint64_t size)
{
	const struct gh_layout *L = &k->p->L;
	uint64_t a = gh_obj_addr(o), used, dir, dirlen, depth = 0, gsize, dsize;
	gh_type_id id = 0;
	const struct gh_type *mt;
	if (!header_size(size, L->swissMap.size_of) || !rdf(k, a, &L->swissMap.dirPtr, &dir) ||
	    !rdf(k, a, &L->swissMap.used, &used) || !rdf(k, a, &L->swissMap.dirLen, &dirlen))
		return 0;
	rdf(k, a, &L->swissMap.globalDepth, &depth);
	if (dirlen == 0) { /* a small map: one group (newarray of 1) */
		if (!(mt = buckets_map(k, dir, 1, true, &gsize, &id)) || !mt->map_swiss || !mt->map_groupsize)
			return 0;
		return gh_map_array_holds(gsize, 1, mt->map_groupsize) && used <= 8 && !depth &&
		       scans_word(k, o, L->swissMap.dirPtr.off) ? id : 0;
	}
	/* A directory of 2^globalDepth table pointers; its first entry's table
	 * starts at directory index 0 and holds the groups array. */
	uint64_t tab, cap, data, mask, tused, index = 0, ldepth = 0;
	if ((int64_t)dirlen < 0 || (dirlen & (dirlen - 1)) || dirlen > k->h->nobjs ||
	    (L->swissMap.globalDepth.off >= 0 && (depth > 63 || dirlen != 1ull << depth)) ||
	    !object_at(k, dir, &dsize) || dsize < dirlen * 8 || !rd(k, dir, &tab) ||
	    !object_at(k, tab, &dsize) || dsize < (uint64_t)L->swissTable.size_of ||
	    !rdf(k, tab, &L->swissTable.capacity, &cap) || !rdf(k, tab, &L->swissTable.used, &tused) ||
	    !rdf(k, tab, &L->swissTable.groupsData, &data) || !rdf(k, tab, &L->swissTable.groupsMask, &mask))
		return 0;
	rdf(k, tab, &L->swissTable.index, &index);
	rdf(k, tab, &L->swissTable.localDepth, &ldepth);
	if (cap < 8 || (cap & (cap - 1)) || mask + 1 != cap / 8 || tused > cap || index || ldepth > depth ||
	    used > dirlen * 65536 || !(mt = buckets_map(k, data, mask + 1, true, &gsize, &id)) || !mt->map_swiss ||
	    gsize < (mask + 1) * mt->map_groupsize)
		return 0;
	return scans_word(k, o, L->swissMap.dirPtr.off) ? id : 0;
}

/* Every object of a header's size: untyped ones get the map type their
 * buckets name; a typed one is proposed it too, so that a disagreement
 * shows as the usual conflict warning. */
static void type_map_headers(struct typer *k)
{
	const struct gh_layout *L = &k->p->L;
	if (L->hmap.buckets.off < 0 && L->swissMap.dirPtr.off < 0)
		return;
	for (uint32_t si = 0; si < k->h->nspans; si++) {
		const struct gh_span *s = &k->h->spans[si];
		uint64_t size = gh_span_obj_size(k->h, s);
		if (s->noscan || s->ptrmode == GH_PTR_NONE ||
		    (!header_size(size, L->hmap.size_of) && !header_size(size, L->swissMap.size_of)))
			continue;
		for (uint32_t i = s->first; i < s->first + s->nobjs; i++) {
			struct gh_object *o = &k->h->objs[i];
			if (o->addr_flags & (GH_OBJ_GARBAGE | GH_OBJ_ALLOCATING))
				continue;
			k->shaped = false;
			gh_type_id id = bucket_header(k, o, size);
			if (!id)
				id = swiss_header(k, o, size);
			if (!id)
				continue;
			bool untyped = !o->type;
			apply(k, gh_obj_addr(o), id); /* now, not batched: its result is read next */
			if (untyped && o->type == id && k->shaped)
				k->st->from_map_shapes++;
			else if (untyped && o->type == id)
				k->st->from_map_buckets++;
		}
	}
}

/* The pointee type of unsafe.Pointer field i of struct t (0: unknown).
 * Two standard-library layouts say what such a field points at:
 *  - a bucket map's bucket: its overflow field points at the next bucket;
 *  - sync/atomic.Pointer[T] {_ [0]*T; _ noCopy; v unsafe.Pointer}: v is a *T,
 *    and the zero-length array names T (sync.Map's entries and read-only
 *    map, 1.24+'s HashTrieMap nodes, ... are all atomic.Pointers). */
static gh_type_id unsafe_pointee(struct typer *k, gh_type_id id, const struct gh_type *t, uint32_t i)
{
	if (i == 3 && is_bucket_type(t))
		return id;
	if (strcmp(t->fields[i].name, "v") || strncmp(t->name, "atomic.Pointer[", 15) || !t->nfields)
		return 0;
	const struct gh_type *arr = ty(k, t->fields[0].type), *ptr = arr ? ty(k, arr->elem) : NULL;
	if (!arr || arr->kind != GH_KIND_ARRAY || arr->len != 0 || !ptr || ptr->kind != GH_KIND_POINTER)
		return 0;
	return ptr->elem;
}

/* internal/sync.HashTrieMap (sync.Map from Go 1.24): its children are
 * atomic.Pointer[node[K,V]], but a node is the first field of either an
 * entry[K,V] or an indirect[K,V], and node.isEntry says which.  Returns the
 * type the object at p really has (id itself for anything else). */
static gh_type_id trie_node(struct typer *k, gh_type_id id, uint64_t p)
{
	const struct gh_type *t = ty(k, id);
	const char *at = t ? strstr(t->name, "node[") : NULL;
	if (!t || !at || t->kind != GH_KIND_STRUCT || !t->nfields || strcmp(t->fields[0].name, "isEntry") || !p)
		return id;
	uint8_t is_entry;
	if (!gh_read(k->p->t, p + t->fields[0].offset, &is_entry, 1))
		return id;
	struct trie_memo *m = NULL;
	for (uint32_t i = 0; i < k->ntrie && !m; i++)
		if (k->trie[i].node == id)
			m = &k->trie[i];
	if (!m) {
		struct trie_memo tmp = { id, 0, 0 };
		char name[512];
		int n = snprintf(name, sizeof(name), "%.*sentry%s", (int)(at - t->name), t->name, at + 4);
		if (n > 0 && (size_t)n < sizeof(name))
			tmp.entry = gh_type_by_name(k->T, name);
		n = snprintf(name, sizeof(name), "%.*sindirect%s", (int)(at - t->name), t->name, at + 4);
		if (n > 0 && (size_t)n < sizeof(name))
			tmp.indirect = gh_type_by_name(k->T, name);
		if (k->ntrie < sizeof(k->trie) / sizeof(k->trie[0])) {
			k->trie[k->ntrie] = tmp;
			m = &k->trie[k->ntrie++];
		} else { /* more map types than memo slots: resolve without keeping */
			gh_type_id real = is_entry ? tmp.entry : tmp.indirect;
			return real ? real : id;
		}
	}
	gh_type_id real = is_entry ? m->entry : m->indirect;
	return real ? real : id;
}

struct closure_ctx {
	struct typer *k;
	uint64_t base, types;
};

static void closure_part(void *arg, uint64_t off, uint64_t rtype, bool points_to)
{
	struct closure_ctx *c = arg;
	gh_type_id id;
	struct gh_error *err = gh_type_at(c->k->T, c->types + rtype, &id);
	uint64_t w;
	if (err) {
		gh_error_free(err);
		return;
	}
	if (!points_to)
		walk(c->k, c->base + off, id, 0);
	else if (rd(c->k, c->base + off, &w))
		assign_values(c->k, w, id);
}

/* A func value points at its closure context: code pointer first, then
 * the captured variables, which Go 1.23+ DWARF places (closure offsets). */
static void walk_closure(struct typer *k, uint64_t ctx)
{
	const struct gh_object *o = gh_heap_find(k->h, ctx);
	if (!o || gh_obj_addr(o) != ctx || !k->p->dw)
		return;
	uint32_t i = (uint32_t)(o - k->h->objs);
	if (!k->closures && !(k->closures = calloc(k->h->nobjs / 8 + 1, 1)))
		return;
	if ((k->closures[i / 8] >> (i % 8)) & 1)
		return;
	k->closures[i / 8] |= (uint8_t)(1u << (i % 8));
	uint64_t pc;
	struct gh_func f;
	if (!rd(k, ctx, &pc) || !gh_pclntab_find(&k->p->pcln, pc, &f) || f.entry != pc)
		return;
	struct closure_ctx c = { k, ctx, g_types_base(k) };
	if (c.types)
		gh_dwarf_closure_parts(k->p->dw, f.name, closure_part, &c);
}

static void walk(struct typer *k, uint64_t a, gh_type_id id, int depth)
{
	const struct gh_type *t = ty(k, id);
	if (!t || !t->ptrdata || depth > MAX_DEPTH)
		return;
	uint64_t w0, w1, w2;
	switch (t->kind) {
	case GH_KIND_POINTER:
		if (rd(k, a, &w0))
			assign_values(k, w0, t->elem);
		break;
	case GH_KIND_STRING:
		if (rd(k, a, &w0) && rd(k, a + 8, &w1) && w1)
			assign(k, w0, k->u8);
		break;
	case GH_KIND_SLICE:
		if (rd(k, a, &w0) && rd(k, a + 8, &w1) && rd(k, a + 16, &w2) && w2)
			assign_values(k, w0, t->elem);
		break;
	case GH_KIND_ARRAY: {
		const struct gh_type *e = ty(k, t->elem);
		if (!e || !e->ptrdata || !e->size)
			break;
		for (uint64_t i = 0; i < t->len && (i + 1) * e->size <= t->size; i++)
			walk(k, a + i * e->size, t->elem, depth + 1);
		break;
	}
	case GH_KIND_STRUCT:
		for (uint32_t i = 0; i < t->nfields; i++) {
			const struct gh_type *ft = ty(k, t->fields[i].type);
			if (ft && ft->kind == GH_KIND_UNSAFE_POINTER) {
				gh_type_id to = unsafe_pointee(k, id, t, i);
				if (to && rd(k, a + t->fields[i].offset, &w0))
					assign(k, w0, trie_node(k, to, w0));
			} else {
				walk(k, a + t->fields[i].offset, t->fields[i].type, depth + 1);
			}
		}
		break;
	case GH_KIND_INTERFACE: {
		if (!rd(k, a, &w0) || !w0 || !rd(k, a + 8, &w1))
			break;
		/* A non-empty interface holds an itab, whose first word is this
		 * interface's own descriptor; an empty one holds a type. */
		uint64_t desc = w0, inter;
		if (rd(k, w0, &inter) && inter == t->addr && !rdf(k, w0, &k->p->L.itab.type, &desc))
			break;
		gh_type_id dyn;
		struct gh_error *err = gh_type_at(k->T, desc, &dyn);
		if (err) {
			gh_error_free(err);
			k->st->bad_types++;
			break;
		}
		if (ty(k, dyn)->direct_iface)
			walk(k, a + 8, dyn, depth + 1);
		else
			assign(k, w1, dyn);
		break;
	}
	case GH_KIND_MAP:
	case GH_KIND_CHAN:
		/* A map or channel value points at its header, which is typed
		 * as the map or channel type itself (walk_object follows it). */
		if (rd(k, a, &w0) && w0)
			assign(k, w0, id);
		break;
	case GH_KIND_FUNC:
		if (rd(k, a, &w0) && w0)
			walk_closure(k, w0);
		break;
	default:
		break;
	}
}

/* Walks every element of a typed object: an object may be an array of its
 * type (a slice's backing array, make([]T, n) with a header type T). */
static void walk_object(struct typer *k, const struct gh_object *o)
{
	const struct gh_type *t = ty(k, o->type);
	if (!t || !t->ptrdata || !t->size)
		return;
	uint64_t a = gh_obj_addr(o), buf;
	const struct gh_span *s = span_at(k, a);
	if (!s)
		return;
	uint64_t size = gh_span_obj_size(k->h, s);
	const uint8_t *view = gh_view(k->p->t, a, size);
	if (view) {
		k->vbase = a;
		k->vend = a + size;
		k->vdata = view;
	}
	if (t->kind == GH_KIND_MAP) { /* a map header (hmap, maps.Map) */
		if (t->map_swiss)
			swiss_map(k, a, t);
		else
			bucket_map(k, a, t);
		return;
	}
	if (t->kind == GH_KIND_CHAN) { /* an hchan: its buffer holds elements */
		if (rdf(k, a, &k->p->L.hchan.buf, &buf))
			assign_values(k, buf, t->elem);
		return;
	}
	for (uint64_t off = 0; off + t->size <= size; off += t->size)
		walk(k, a + off, o->type, 0);
	k->vbase = k->vend = 0;
}

struct globals_ctx {
	struct typer *k;
	uint64_t addr;      /* of the variable being walked by parts */
	uint64_t types;     /* moduledata.types: base of DWARF runtime-type offsets */
};

/* A part of a variable whose type has no descriptor (gh_dwarf_variable_parts). */
static void global_part(void *arg, uint64_t off, uint64_t rtype, bool points_to)
{
	struct globals_ctx *g = arg;
	struct typer *k = g->k;
	gh_type_id id;
	struct gh_error *err = gh_type_at(k->T, g->types + rtype, &id);
	if (err) {
		gh_error_free(err);
		k->st->bad_types++;
		return;
	}
	uint64_t w;
	if (!points_to)
		walk(k, g->addr + off, id, 0);
	else if (rd(k, g->addr + off, &w))
		assign_values(k, w, id);
}

static void global(void *arg, const char *name, uint64_t addr, uint64_t size)
{
	(void)size;
	struct typer *k = ((struct globals_ctx *)arg)->k;
	uint64_t desc = gh_types_global_type(k->T, name);
	gh_type_id id = 0;
	if (desc) {
		struct gh_error *err = gh_type_at(k->T, desc, &id);
		if (err) {
			gh_error_free(err);
			k->st->bad_types++;
			return;
		}
	} else {
		/* The linker kept no descriptor for the variable's own type
		 * (nothing converts it to an interface): find one by name, or
		 * one for the element of a slice or pointer type. */
		const char *tn = gh_dwarf_variable_type_name(k->p->dw, name);
		if (tn)
			id = gh_type_by_name(k->T, tn);
		if (!id && g_types_base(k)) {
			/* Walk the parts of it whose types have descriptors. */
			struct globals_ctx *gc = arg;
			gc->addr = addr + k->p->exe->bias;
			gc->types = g_types_base(k);
			k->st->from_globals++;
			gh_dwarf_variable_parts(k->p->dw, name, global_part, gc);
			return;
		}
		if (!id && tn && (!strncmp(tn, "[]", 2) || tn[0] == '*')) {
			gh_type_id elem = gh_type_by_name(k->T, tn + (tn[0] == '*' ? 1 : 2));
			uint64_t v;
			if (elem && rd(k, addr + k->p->exe->bias, &v)) {
				k->st->from_globals++;
				assign_values(k, v, elem);
			}
			return;
		}
	}
	if (!id)
		return;
	k->st->from_globals++;
	walk(k, addr + k->p->exe->bias, id, 0);
}

/* Goroutines' typed locals (DWARF), as roots of typing.  A goroutine list
 * that cannot be read leaves stack-held objects untyped, nothing more. */
static void type_stacks(struct typer *k)
{
	struct gh_goroutines *gs;
	struct gh_error *err = gh_goroutines_load(k->p, &gs);
	if (err) {
		gh_error_free(err);
		return;
	}
	for (size_t i = 0; i < gs->n; i++) {
		struct gh_goroutine *g = &gs->gs[i];
		if ((err = gh_goroutine_locals(gs, g))) {
			gh_error_free(err);
			continue;
		}
		for (size_t j = 0; j < g->nlocals; j++) {
			const struct gh_local *l = &g->locals[j];
			gh_type_id id = 0;
			/* The runtime's own frames (gopark, chanrecv, ...) hold runtime
			 * structures typed through other roots; their DWARF locations
			 * are not all live at the frame's PC. */
			const char *fn = l->frame < g->nframes ? g->frames[l->frame].func : NULL;
			if (fn && !strncmp(fn, "runtime.", 8))
				continue;
			if (l->type_desc) {
				if ((err = gh_type_at(k->T, l->type_desc, &id))) {
					gh_error_free(err);
					k->st->bad_types++;
					continue;
				}
			} else if (l->type_name) {
				id = gh_type_by_name(k->T, l->type_name);
			}
			const struct gh_type *t = ty(k, id);
			if (!t)
				continue;
			k->st->from_locals++;
			bool ptr_first = t->kind == GH_KIND_POINTER || t->kind == GH_KIND_SLICE || t->kind == GH_KIND_STRING;
			if (!l->pieces && !ptr_first) {
				walk(k, l->addr, id, 0);
				continue;
			}
			/* Only the first word is sure to be the variable's: a slice's
			 * len and cap may live in registers or other slots.  For a
			 * pointer, slice or string that word is the data pointer. */
			uint64_t w;
			if (!rd(k, l->addr, &w))
				continue;
			if (t->kind == GH_KIND_POINTER || t->kind == GH_KIND_SLICE)
				assign_values(k, w, t->elem);
			else if (t->kind == GH_KIND_STRING)
				assign(k, w, k->u8);
		}
	}
}

/* moduledata.types: DWARF runtime-type attributes are offsets from it. */
static uint64_t g_types_base(struct typer *k)
{
	uint64_t v = 0;
	if (k->p->moduledata)
		gh_read_field(k->p, k->p->moduledata, &k->p->L.moduledata.types, &v);
	return v;
}

static gh_type_id by_name(struct typer *k, const char *name)
{
	return gh_type_by_name(k->T, name);
}

/* Walks pending objects and values, applying proposals, until none is
 * left: sweeps over the pending objects in address order; what a flush
 * makes pending behind the sweep waits for the next one. */
static void drain(struct typer *k, size_t *vi)
{
	uint32_t at = 0, i = UINT32_MAX; /* i: the next object of the sweep */
	for (;;) {
		if (i == UINT32_MAX && k->npending)
			i = next_pending(k, at);
		if (i != UINT32_MAX) {
			k->pending[i / 64] &= ~(1ull << (i % 64));
			k->npending--;
			at = i + 1;
			uint32_t next = next_pending(k, at);
			if (next != UINT32_MAX)
				prefetch_object(k, next);
			walk_object(k, &k->h->objs[i]);
			i = next;
		} else if (k->npending) {
			at = 0; /* what was made pending behind the sweep */
		} else if (*vi < k->nvals) {
			struct ival v = k->vals[(*vi)++];
			walk(k, v.addr, v.id, 0);
		} else if (k->nbatch) {
			flush(k);
		} else {
			break;
		}
	}
}

struct gh_error *gh_heap_type_objects(struct gh_heap *h, struct gh_types *T, struct gh_typing_stats *st)
{
	memset(st, 0, sizeof(*st));
	struct typer k = { .h = h, .p = h->p, .T = T, .st = st, .heap_lo = h->nspans ? h->spans[0].base : 0 };
	k.nwords = (size_t)h->nobjs / 64 + 1;
	k.pending = calloc(k.nwords, sizeof(*k.pending));
	k.summary = calloc(k.nwords / 64 + 1, sizeof(*k.summary));
	if (!k.pending || !k.summary) {
		free(k.pending);
		free(k.summary);
		return &gh_error_nomem;
	}
	k.u8 = by_name(&k, "uint8");
	k.mapextra = by_name(&k, "runtime.mapextra");
	k.swiss_table = by_name(&k, "internal/runtime/maps.table");
	/* Seeds the runtime recorded itself, span by span (the span is at hand),
	 * all of them before any proposal: a header type is the truth. */
	for (uint32_t si = 0; si < h->nspans; si++) {
		const struct gh_span *s = &h->spans[si];
		if (s->ptrmode != GH_PTR_HEADER && s->ptrmode != GH_PTR_LARGE_TYPE)
			continue;
		for (uint32_t i = s->first; i < s->first + s->nobjs; i++) {
			struct gh_object *o = &h->objs[i];
			uint64_t desc = 0;
			if (o->type || (o->addr_flags & GH_OBJ_ALLOCATING))
				continue;
			if (s->ptrmode == GH_PTR_HEADER)
				gh_read_u64(h->p->t, gh_obj_addr(o) - h->header_size, &desc);
			else
				desc = s->largetype;
			if (!desc)
				continue;
			gh_type_id id;
			struct gh_error *err = gh_type_at(T, desc, &id);
			if (err) {
				gh_error_free(err);
				st->bad_types++;
				continue;
			}
			/* A map or channel element type: an array of map or
			 * channel values (make([]map[K]V, n)), not a header. */
			const struct gh_type *t = gh_type_get(T, id);
			if (t->kind == GH_KIND_MAP || t->kind == GH_KIND_CHAN) {
				assign_values(&k, gh_obj_addr(o), id);
				continue;
			}
			o->type = id;
			st->from_headers++;
		}
	}
	/* Then walked in address order, reading the heap front to back. */
	for (uint32_t si = 0; si < h->nspans; si++) {
		const struct gh_span *s = &h->spans[si];
		if (s->ptrmode == GH_PTR_HEADER || s->ptrmode == GH_PTR_LARGE_TYPE)
			for (uint32_t i = s->first; i < s->first + s->nobjs; i++)
				if (h->objs[i].type)
					walk_object(&k, &h->objs[i]);
	}
	struct globals_ctx g = { .k = &k };
	gh_dwarf_foreach_variable(h->p->dw, global, &g);
	type_stacks(&k);
	size_t vi = 0;
	drain(&k, &vi);
	/* Then the map headers nothing typed reached, by their buckets, and
	 * what their entries reach. */
	type_map_headers(&k);
	drain(&k, &vi);
	free(k.batch);
	free(k.scratch);
	free(k.pending);
	free(k.summary);
	free(k.vals);
	free(k.vseen);
	free(k.closures);
	gh_map_shapes_free(k.shapes);
	for (uint32_t si = 0; si < h->nspans; si++) {
		const struct gh_span *s = &h->spans[si];
		uint64_t size = gh_span_obj_size(h, s);
		for (uint32_t i = s->first; i < s->first + s->nobjs; i++)
			if (h->objs[i].type) {
				st->typed_objects++;
				st->typed_bytes += size;
			}
	}
	return NULL;
}
