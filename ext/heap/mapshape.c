/* Map types recognised by shape.
 *
 * A heap that records no types (Go 1.20-1.21 without DWARF; small objects
 * in any release) still says, for every word, whether the GC scans it as a
 * pointer.  A map's bucket (swiss: group) array is allocated as an array of
 * its bucket type, so its first bucket's pointer words are that type's
 * pointer mask, and its size is the bucket size times the number of buckets
 * its header states.  Candidates are every map type the module lists
 * (reflect.MapOf must find each unnamed one there); those whose bucket size
 * and mask fit are then tried on a sample of the array's occupied slots:
 * control bytes or tophashes the runtime could have written, and each key
 * and value plausible for its type, checked against the heap where it can
 * be (a *T points at memory whose pointer words are T's, an interface's type
 * word names a type descriptor, a map value points at a header whose own
 * array fits the inner map type, recursively to a small depth).  Each
 * confirmation scores; a candidate with an impossible value is out.  The
 * best score wins; a tie (map[string]int against map[string]int64, say) is
 * left untyped and counted rather than guessed. */
#include <stdlib.h>
#include <string.h>

#include "mapshape.h"

#define SLOTS 8
#define MIN_TOPHASH 5 /* runtime/map.go: tophash values below mark empty or evacuated slots */
#define EVACUATED_EMPTY 4
#define CTRL_EMPTY 0x80
#define CTRL_DELETED 0xFE
#define MAX_INLINE 128       /* larger keys and values live behind a pointer (swiss) */
#define MAX_BUCKET 4096      /* bytes of one bucket or group read at once */
#define MAX_WORDS 4096       /* words of a value compared with a type's mask */
#define SAMPLE 32            /* occupied slots checked in the array itself */
#define SAMPLE_INNER 4       /* in an inner map's array */
#define SAMPLE_BUCKETS 64    /* buckets or groups visited for the sample */
#define BUDGET 2048          /* value checks per candidate */
#define DEPTH 3              /* pointers followed from a slot */
#define NEST 8               /* struct and array nesting inside one value */

struct cand {
	gh_type_id map;
	uint64_t size;          /* bucket or group */
	const uint8_t *mask;    /* the bucket type's pointer mask (ptrdata bytes) */
	uint64_t ptrdata;
	bool swiss;
};

struct gh_map_shapes {
	struct gh_heap *h;
	struct gh_types *T;
	struct cand *c;
	size_t n;
};

/* One candidate's trial. */
struct trial {
	struct gh_map_shapes *ms;
	uint64_t score;
	uint32_t budget;
};

static const struct gh_type *ty(struct gh_map_shapes *ms, gh_type_id id)
{
	return gh_type_get(ms->T, id);
}

static bool rd(struct gh_map_shapes *ms, uint64_t a, uint64_t *v)
{
	return gh_read_u64(ms->h->p->t, a, v);
}

static bool readable(struct gh_map_shapes *ms, uint64_t a)
{
	uint8_t b;
	return gh_read(ms->h->p->t, a, &b, 1);
}

static bool rdf(struct gh_map_shapes *ms, uint64_t base, const struct gh_field *f, uint64_t *v)
{
	return f->off >= 0 && gh_read_field(ms->h->p, base, f, v);
}

static bool bit(const uint8_t *m, uint64_t i)
{
	return (m[i / 8] >> (i % 8)) & 1;
}

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	return x->size < y->size ? -1 : x->size > y->size;
}

struct gh_map_shapes *gh_map_shapes_new(struct gh_heap *h, struct gh_types *T)
{
	struct gh_map_shapes *ms = calloc(1, sizeof(*ms));
	if (!ms)
		return NULL;
	ms->h = h;
	ms->T = T;
	gh_type_map_of_bucket(T, UINT32_MAX); /* interns every listed type */
	uint32_t count = gh_types_count(T);
	size_t cap = 0;
	for (gh_type_id id = 1; id <= count; id++) {
		const struct gh_type *t = gh_type_get(T, id), *bt;
		if (t->kind != GH_KIND_MAP || !t->map_bucket || !(bt = gh_type_get(T, t->map_bucket)) ||
		    gh_type_map_of_bucket(T, t->map_bucket) != id) /* one of a named/unnamed pair */
			continue;
		struct cand c = { .map = id, .swiss = t->map_swiss };
		c.size = t->map_swiss ? t->map_groupsize : t->map_bucketsize;
		uint64_t size;
		if (!c.size || c.size > MAX_BUCKET || !(c.mask = gh_heap_type_mask(h, bt->addr, &size, &c.ptrdata)) ||
		    size != c.size)
			continue;
		if (ms->n == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			struct cand *nc = realloc(ms->c, ncap * sizeof(*nc));
			if (!nc)
				break;
			ms->c = nc;
			cap = ncap;
		}
		ms->c[ms->n++] = c;
	}
	if (ms->n)
		qsort(ms->c, ms->n, sizeof(*ms->c), cand_cmp);
	return ms;
}

void gh_map_shapes_free(struct gh_map_shapes *ms)
{
	if (!ms)
		return;
	free(ms->c);
	free(ms);
}

/* ---- the heap's pointer words ---- */

struct gather {
	uint8_t *bits;
	uint64_t from, nwords;
};

static void gather_word(void *arg, uint64_t off, uint64_t value)
{
	(void)value;
	struct gather *g = arg;
	uint64_t w = (off - g->from) / 8;
	if (off >= g->from && w < g->nwords)
		g->bits[w / 8] |= (uint8_t)(1u << (w % 8));
}

/* The pointer words of object o's bytes [a, a + len) into bits (len/8 bits). */
static bool heap_bits(struct gh_map_shapes *ms, const struct gh_object *o, uint64_t a, uint64_t len, uint8_t *bits)
{
	uint64_t slot_size, slot = gh_obj_slot(ms->h, o, &slot_size);
	struct gather g = { bits, a - slot, len / 8 };
	memset(bits, 0, (len / 8 + 7) / 8);
	return gh_heap_pointers_in(ms->h, o, g.from, g.from + len, gather_word, &g);
}

/* Whether the words of [a, a + len) in object o are pointers exactly where
 * mask (ptrdata bytes of it) says. */
static bool mask_fits(struct gh_map_shapes *ms, const struct gh_object *o, uint64_t a, uint64_t len,
		      const uint8_t *mask, uint64_t ptrdata)
{
	uint8_t got[MAX_WORDS / 8];
	if (len > MAX_WORDS * 8)
		len = MAX_WORDS * 8;
	if (!heap_bits(ms, o, a, len, got))
		return false;
	for (uint64_t w = 0; w < len / 8; w++)
		if (bit(got, w) != (8 * w < ptrdata && bit(mask, w)))
			return false;
	return true;
}

/* ---- values ---- */

static bool value_ok(struct trial *tr, uint64_t a, gh_type_id id, unsigned depth, unsigned nest);
static bool header_ok(struct trial *tr, uint64_t hdr, const struct gh_type *mt, unsigned depth);

/* A pointer to a value of type id: into a live object whose pointer words
 * are id's, or outside the heap into readable memory (a global). */
static bool target_ok(struct trial *tr, uint64_t v, gh_type_id id, unsigned depth)
{
	struct gh_map_shapes *ms = tr->ms;
	const struct gh_type *t = ty(ms, id);
	const struct gh_span *s = NULL;
	const struct gh_object *o = gh_heap_find_in(ms->h, v, &s);
	if (!o)
		return !s && readable(ms, v); /* a free slot of an in-use span: no */
	if (gh_obj_garbage(ms->h, o))
		return false;
	if (!t || !t->size)
		return true;
	uint64_t end = gh_obj_addr(o) + gh_obj_size(ms->h, o);
	if (v < gh_obj_addr(o) || v + t->size > end)
		return false;
	uint64_t size, ptrdata;
	const uint8_t *mask = gh_heap_type_mask(ms->h, t->addr, &size, &ptrdata);
	if (mask) {
		if (!mask_fits(ms, o, v, t->size, mask, ptrdata))
			return false;
		tr->score++;
	}
	return !depth || value_ok(tr, v, id, depth - 1, 0);
}

static bool iface_ok(struct trial *tr, uint64_t a, const struct gh_type *it, unsigned depth)
{
	struct gh_map_shapes *ms = tr->ms;
	uint64_t w0, w1, inter, desc;
	if (!rd(ms, a, &w0) || !rd(ms, a + 8, &w1))
		return false;
	if (!w0)
		return true;
	/* Non-empty interfaces hold an itab, which starts with the
	 * interface's own descriptor; empty ones the type itself. */
	desc = w0;
	if (rd(ms, w0, &inter) && inter == it->addr && !rdf(ms, w0, &ms->h->p->L.itab.type, &desc))
		return false;
	gh_type_id dyn;
	struct gh_error *err = gh_type_at(ms->T, desc, &dyn);
	if (err) {
		gh_error_free(err);
		return false;
	}
	const struct gh_type *d = ty(ms, dyn);
	if (d->kind == GH_KIND_INTERFACE)
		return false;
	tr->score++;
	if (d->direct_iface) /* the data word is the value (a pointer-shaped one) */
		return d->kind != GH_KIND_POINTER || !w1 || target_ok(tr, w1, d->elem, depth);
	return w1 && target_ok(tr, w1, dyn, depth);
}

static bool value_ok(struct trial *tr, uint64_t a, gh_type_id id, unsigned depth, unsigned nest)
{
	struct gh_map_shapes *ms = tr->ms;
	const struct gh_type *t = ty(ms, id);
	uint64_t v, len, cap;
	if (!t || !tr->budget)
		return true;
	tr->budget--;
	switch (t->kind) {
	case GH_KIND_BOOL: {
		uint8_t b;
		return gh_read(ms->h->p->t, a, &b, 1) && b <= 1;
	}
	case GH_KIND_STRING:
		if (!rd(ms, a, &v) || !rd(ms, a + 8, &len) || len >> 40)
			return false;
		if (!len)
			return true;
		if (!readable(ms, v) || !readable(ms, v + len - 1))
			return false;
		{ /* string bytes are pointer-free memory */
			const struct gh_object *o = gh_heap_find(ms->h, v);
			if (!o)
				return true;
			if (v + len > gh_obj_addr(o) + gh_obj_size(ms->h, o) || !gh_obj_span(ms->h, o)->noscan)
				return false;
			tr->score++;
		}
		return true;
	case GH_KIND_SLICE: {
		const struct gh_type *e = ty(ms, t->elem);
		if (!rd(ms, a, &v) || !rd(ms, a + 8, &len) || !rd(ms, a + 16, &cap) || len > cap || cap >> 40)
			return false;
		if (!cap || !e || !e->size)
			return true;
		const struct gh_object *o = gh_heap_find(ms->h, v);
		if (!o)
			return readable(ms, v);
		if (v + cap * e->size > gh_obj_addr(o) + gh_obj_size(ms->h, o))
			return false;
		return !len || target_ok(tr, v, t->elem, depth);
	}
	case GH_KIND_INTERFACE:
		return iface_ok(tr, a, t, depth);
	case GH_KIND_POINTER:
		if (!rd(ms, a, &v))
			return false;
		return !v || target_ok(tr, v, t->elem, depth);
	case GH_KIND_MAP:
		if (!rd(ms, a, &v))
			return false;
		return !v || header_ok(tr, v, t, depth);
	case GH_KIND_CHAN:
	case GH_KIND_FUNC:
	case GH_KIND_UNSAFE_POINTER:
		return rd(ms, a, &v) && (!v || readable(ms, v));
	case GH_KIND_STRUCT:
		if (nest >= NEST)
			return true;
		for (uint32_t i = 0; i < t->nfields; i++)
			if (!value_ok(tr, a + t->fields[i].offset, t->fields[i].type, depth, nest + 1))
				return false;
		return true;
	case GH_KIND_ARRAY: {
		const struct gh_type *e = ty(ms, t->elem);
		if (nest >= NEST || !e)
			return true;
		for (uint64_t i = 0; i < t->len && i < 4; i++)
			if (!value_ok(tr, a + i * e->size, t->elem, depth, nest + 1))
				return false;
		return true;
	}
	default:
		return true; /* numbers: any bits */
	}
}

/* ---- buckets and groups ---- */

/* Where a bucket or group keeps slot i's key and value, and their types. */
struct slots {
	uint64_t koff, kstride, voff, vstride;
	gh_type_id ktype, vtype;
	bool kind_ptr, vind_ptr; /* swiss: key or value behind a pointer */
};

static bool slots_of(struct gh_map_shapes *ms, const struct gh_type *mt, struct slots *sl)
{
	memset(sl, 0, sizeof(*sl));
	if (mt->map_swiss) {
		const struct gh_type *k = ty(ms, mt->key), *e = ty(ms, mt->elem);
		if (!k || !e || !mt->map_keystride)
			return false;
		*sl = (struct slots){ mt->map_keysoff, mt->map_keystride, mt->map_elemsoff, mt->map_elemstride,
				      mt->key, mt->elem, k->size > MAX_INLINE, e->size > MAX_INLINE };
		return true;
	}
	/* bucket: struct { topbits [8]uint8; keys [8]K; elems [8]V; overflow } */
	const struct gh_type *b = ty(ms, mt->map_bucket);
	if (!b || b->kind != GH_KIND_STRUCT || b->nfields < 3)
		return false;
	const struct gh_type *ka = ty(ms, b->fields[1].type), *va = ty(ms, b->fields[2].type);
	if (!ka || !va || ka->kind != GH_KIND_ARRAY || va->kind != GH_KIND_ARRAY || ka->len != SLOTS || va->len != SLOTS)
		return false;
	sl->koff = b->fields[1].offset;
	sl->voff = b->fields[2].offset;
	sl->ktype = ka->elem;
	sl->vtype = va->elem;
	sl->kstride = ka->len ? ka->size / ka->len : 0;
	sl->vstride = va->len ? va->size / va->len : 0;
	return true;
}

/* A slot's key or value: in place, or behind a pointer. */
static bool slot_ok(struct trial *tr, uint64_t a, gh_type_id id, bool indirect, unsigned depth)
{
	uint64_t p;
	if (!indirect)
		return value_ok(tr, a, id, depth, 0);
	return rd(tr->ms, a, &p) && p && target_ok(tr, p, id, depth);
}

/* Samples the occupied slots of the n buckets or groups at arr, as map
 * type mt's: false if any is impossible. */
static bool array_ok(struct trial *tr, uint64_t arr, uint64_t n, const struct gh_type *mt, unsigned depth, unsigned want)
{
	struct gh_map_shapes *ms = tr->ms;
	struct slots sl;
	uint8_t buf[MAX_BUCKET];
	uint64_t size = mt->map_swiss ? mt->map_groupsize : mt->map_bucketsize;
	if (!slots_of(ms, mt, &sl) || !size || size > sizeof(buf) ||
	    sl.koff + (SLOTS - 1) * sl.kstride > size || sl.voff + (SLOTS - 1) * sl.vstride > size)
		return false;
	uint64_t step = n > SAMPLE_BUCKETS ? n / SAMPLE_BUCKETS : 1;
	unsigned seen = 0;
	for (uint64_t bi = 0; bi < n && seen < want; bi += step) {
		uint64_t b = arr + bi * size;
		if (!gh_read(ms->h->p->t, b, buf, (size_t)size))
			return false;
		bool rest = false;
		for (unsigned i = 0; i < SLOTS; i++) {
			uint8_t c = buf[i];
			bool full;
			if (mt->map_swiss) {
				if (c != CTRL_EMPTY && c != CTRL_DELETED && c >= 0x80)
					return false; /* not a control byte */
				full = c < 0x80;
			} else {
				/* evacuation marks live in old arrays only; after an
				 * emptyRest every later slot is empty too */
				if ((c > 1 && c <= EVACUATED_EMPTY) || (rest && c))
					return false;
				rest = rest || !c;
				full = c >= MIN_TOPHASH;
			}
			if (!full || seen >= want)
				continue;
			seen++;
			if (!slot_ok(tr, b + sl.koff + i * sl.kstride, sl.ktype, sl.kind_ptr, depth) ||
			    !slot_ok(tr, b + sl.voff + i * sl.vstride, sl.vtype, sl.vind_ptr, depth))
				return false;
		}
		if (!mt->map_swiss && mt->map_bucketsize >= 8) {
			uint64_t ovf; /* the last word: the next overflow bucket, if any */
			memcpy(&ovf, buf + size - 8, 8);
			const struct gh_type *b0 = ty(ms, mt->map_bucket);
			if (b0 && b0->ptrdata && ovf && !gh_heap_find(ms->h, ovf))
				return false;
		}
	}
	return true;
}

/* The live object starting at a that is an array of n buckets of size bytes. */
static const struct gh_object *array_at(struct gh_map_shapes *ms, uint64_t a, uint64_t n, uint64_t size)
{
	const struct gh_object *o = a ? gh_heap_find(ms->h, a) : NULL;
	if (!o || gh_obj_addr(o) != a || gh_obj_garbage(ms->h, o))
		return NULL;
	return gh_map_array_holds(gh_obj_size(ms->h, o), n, size) ? o : NULL;
}

/* A map value: a header whose array fits map type mt. */
static bool header_ok(struct trial *tr, uint64_t hdr, const struct gh_type *mt, unsigned depth)
{
	struct gh_map_shapes *ms = tr->ms;
	const struct gh_layout *L = &ms->h->p->L;
	const struct gh_type *bt = ty(ms, mt->map_bucket);
	const struct gh_object *o = gh_heap_find(ms->h, hdr);
	uint64_t count, arr, n, size, bsize, ptrdata;
	if (!bt || !o || gh_obj_addr(o) != hdr || gh_obj_garbage(ms->h, o) ||
	    !(mt->map_swiss ? mt->map_groupsize : mt->map_bucketsize))
		return false;
	if (mt->map_swiss) {
		uint64_t dirlen, tab, mask;
		size = mt->map_groupsize;
		if (!rdf(ms, hdr, &L->swissMap.used, &count) || !rdf(ms, hdr, &L->swissMap.dirLen, &dirlen) ||
		    !rdf(ms, hdr, &L->swissMap.dirPtr, &arr) || (int64_t)dirlen < 0)
			return false;
		if (!arr)
			return !count;
		n = 1;
		if (dirlen) { /* the first table's groups */
			if (!rd(ms, arr, &tab) || !rdf(ms, tab, &L->swissTable.groupsData, &arr) ||
			    !rdf(ms, tab, &L->swissTable.groupsMask, &mask) || mask >> 32)
				return false;
			n = mask + 1;
		}
	} else {
		uint64_t B;
		size = mt->map_bucketsize;
		if (!rdf(ms, hdr, &L->hmap.count, &count) || !rdf(ms, hdr, &L->hmap.B, &B) ||
		    !rdf(ms, hdr, &L->hmap.buckets, &arr) || B > 40)
			return false;
		if (!arr) /* makemap_small: allocated on the first insert */
			return !count;
		n = 1ull << B;
		if (count > 8 * n * 2)
			return false;
	}
	const struct gh_object *a = array_at(ms, arr, n, size);
	const uint8_t *mask = gh_heap_type_mask(ms->h, bt->addr, &bsize, &ptrdata);
	if (!a || (mask && !mask_fits(ms, a, arr, size, mask, ptrdata)))
		return false;
	tr->score++;
	return !depth || array_ok(tr, arr, n, mt, depth - 1, SAMPLE_INNER);
}

/* Whether the array's pointer words (got: its first len bytes) are the
 * candidate's mask repeated over its first m buckets, and none after. */
static bool tiles(const struct cand *c, const uint8_t *got, uint64_t len, uint64_t m)
{
	for (uint64_t w = 0; w < len / 8; w++) {
		uint64_t off = 8 * w, rel = off % c->size;
		bool want = off < m * c->size && rel < c->ptrdata && bit(c->mask, rel / 8);
		if (bit(got, w) != want)
			return false;
	}
	return true;
}

gh_type_id gh_map_shape_of(struct gh_map_shapes *ms, const struct gh_object *arr, uint64_t n, bool swiss,
			   uint64_t *ambiguous)
{
	if (!ms || !ms->n || !n)
		return 0;
	uint64_t a = gh_obj_addr(arr), osize = gh_obj_size(ms->h, arr);
	uint8_t got[MAX_WORDS / 8];
	uint64_t len = osize < MAX_WORDS * 8 ? osize & ~7ull : MAX_WORDS * 8;
	if (!heap_bits(ms, arr, a, len, got))
		return 0;
	gh_type_id best = 0;
	uint64_t best_score = 0;
	bool tie = false;
	for (size_t i = 0; i < ms->n; i++) {
		const struct cand *c = &ms->c[i];
		if (c->swiss != swiss || !gh_map_array_holds(osize, n, c->size))
			continue;
		/* newarray(bucket, n), the slot's slack left pointer-free; but
		 * from B = 4 makeBucketArray adds spare overflow buckets up to
		 * the end of the size class. */
		uint64_t m = !swiss && n >= 16 ? osize / c->size : n;
		if (!tiles(c, got, len, m))
			continue;
		struct trial tr = { ms, 0, BUDGET };
		if (!array_ok(&tr, a, n, ty(ms, c->map), DEPTH, SAMPLE))
			continue;
		if (!best || tr.score > best_score) {
			best = c->map;
			best_score = tr.score;
			tie = false;
		} else if (tr.score == best_score) {
			tie = true;
		}
	}
	if (tie) {
		(*ambiguous)++;
		return 0;
	}
	return best;
}
