/* Walking Go maps: bucket maps and swiss tables.  See maps.h and
 * docs/maps.md; the rules are the runtime's (runtime/map.go,
 * map_noswiss.go; internal/runtime/maps/{map,table,group}.go). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/sort.h"
#include "maps.h"

/* cmd/compile: keys and values larger than this are stored behind a
 * pointer, in both implementations (MapMaxKeyBytes, MapMaxElemBytes). */
#define MAX_INLINE 128
#define SLOTS 8             /* per bucket (bucketCnt) and per group (MapGroupSlots) */
#define SAME_SIZE_GROW 8    /* hmap.flags: the old array is as large as the new */
/* tophash marks (runtime/map.go; unchanged up to map_noswiss.go). */
#define EMPTY_REST 0
#define EMPTY_ONE 1
#define EVACUATED_EMPTY 4
#define MIN_TOPHASH 5
/* Control bytes (internal/runtime/maps/group.go). */
#define CTRL_EMPTY 0x80
#define CTRL_DELETED 0xFE
/* Limits when no heap object bounds an array (maps off the heap). */
#define MAX_B_NO_HEAP 24
#define MAX_DIR_NO_HEAP (1u << 20)

struct walk {
	struct gh_program *p;
	struct gh_heap *h;
	struct gh_types *T;
	const struct gh_type *mt;
	gh_map_entry_fn fn;
	void *arg;
	struct gh_map_stats *st;
	bool stopped;
	bool key_indirect, elem_indirect;
	uint8_t *buf;          /* one bucket or group */
	uint64_t budget;       /* buckets or groups left to visit */
};

static void warn(struct gh_map_stats *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct gh_map_stats *st, const char *fmt, ...)
{
	if (st->nwarnings < GH_MAP_WARNINGS) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(st->warnings[st->nwarnings], sizeof(st->warnings[0]), fmt, ap);
		va_end(ap);
	}
	st->nwarnings++;
}

uint64_t gh_map_object_bytes(struct gh_heap *h, uint64_t addr)
{
	const struct gh_object *o = h && addr ? gh_heap_find(h, addr) : NULL;
	uint64_t slot_size = 0;
	if (o)
		gh_obj_slot(h, o, &slot_size);
	return slot_size;
}

/* The heap object starting at addr and its size; false if there is none. */
static bool object_at(struct gh_heap *h, uint64_t addr, uint64_t *size)
{
	const struct gh_object *o = gh_heap_find(h, addr);
	if (!o || gh_obj_addr(o) != addr)
		return false;
	*size = gh_obj_size(h, o);
	return true;
}

static bool rdf(struct walk *w, uint64_t base, const struct gh_field *f, uint64_t *v)
{
	return f->off >= 0 && gh_read_field(w->p, base, f, v);
}

/* Reports a live slot: key and value addresses, through indirect slots. */
static void entry(struct walk *w, uint64_t key, uint64_t elem)
{
	w->st->live++;
	if (w->key_indirect) {
		uint64_t k = 0;
		if (!gh_read_u64(w->p->t, key, &k) || !k) {
			warn(w->st, "indirect key slot at 0x%" PRIx64 " holds no key", key);
			return;
		}
		w->st->indirect_bytes += gh_map_object_bytes(w->h, k);
		key = k;
	}
	if (w->elem_indirect) {
		uint64_t e = 0;
		if (!gh_read_u64(w->p->t, elem, &e) || !e) {
			warn(w->st, "indirect value slot at 0x%" PRIx64 " holds no value", elem);
			return;
		}
		w->st->indirect_bytes += gh_map_object_bytes(w->h, e);
		elem = e;
	}
	if (!w->fn || w->stopped)
		return;
	struct gh_map_entry e = { key, elem, w->mt->key, w->mt->elem };
	if (!w->fn(w->arg, &e))
		w->stopped = true;
}

/* ---- bucket maps ---- */

/* One bucket of the current (old: false) or old array: counts its slots
 * and reports its live entries. */
static void scan_bucket(struct walk *w, uint64_t b, bool old)
{
	const struct gh_type *mt = w->mt;
	for (unsigned i = 0; i < SLOTS; i++) {
		uint8_t th = w->buf[i];
		if (th >= MIN_TOPHASH) {
			if (old)
				w->st->old_live++;
			entry(w, b + 8 + (uint64_t)i * mt->map_keysize,
			      b + 8 + SLOTS * (uint64_t)mt->map_keysize + (uint64_t)i * mt->map_valuesize);
		} else if (!old) {
			if (th == EMPTY_ONE)
				w->st->deleted++;
			else
				w->st->empty++;
			if (th > EMPTY_ONE) /* evacuation marks belong to old buckets only */
				warn(w->st, "bucket 0x%" PRIx64 " of the current array has evacuation mark %u", b, th);
		}
	}
}

/* A bucket and its overflow chain.  Brent's cycle check: the chain is
 * compared with a tortoise that jumps to the hare at powers of two. */
static void walk_chain(struct walk *w, uint64_t b, bool old, uint64_t array)
{
	uint64_t bsize = w->mt->map_bucketsize, tort = b, power = 1, lam = 0;
	for (bool first = true; b && !w->stopped; first = false) {
		if (!w->budget--) {
			warn(w->st, "bucket walk stopped: more buckets than the heap can hold");
			return;
		}
		if (!gh_read(w->p->t, b, w->buf, bsize)) {
			warn(w->st, "bucket 0x%" PRIx64 " is unreadable", b);
			return;
		}
		if (!first) {
			if (!old)
				w->st->overflow++;
			/* Overflow buckets are their own objects, or spares
			 * preallocated at the end of the array's object. */
			const struct gh_object *o = w->h ? gh_heap_find(w->h, b) : NULL;
			if (o && gh_obj_addr(o) != array)
				w->st->bytes += gh_map_object_bytes(w->h, b);
		}
		scan_bucket(w, b, old);
		uint64_t next;
		memcpy(&next, w->buf + bsize - 8, 8);
		if (next && w->h && !gh_heap_find(w->h, next)) {
			warn(w->st, "overflow pointer 0x%" PRIx64 " of bucket 0x%" PRIx64 " is not in the heap", next, b);
			return;
		}
		if (next == tort) {
			warn(w->st, "overflow chain of bucket 0x%" PRIx64 " is a cycle", tort);
			return;
		}
		if (++lam == power) {
			tort = next;
			power *= 2;
			lam = 0;
		}
		b = next;
	}
}

/* The array at a of n buckets: its object must hold them all. */
static struct gh_error *check_array(struct walk *w, const char *what, uint64_t a, uint64_t n)
{
	uint64_t size = w->mt->map_bucketsize * n;
	if (!w->h) {
		if (!gh_read(w->p->t, a, w->buf, 1) || !gh_read(w->p->t, a + size - 1, w->buf, 1))
			return gh_errorf(GH_ERR_FORMAT, "%s array 0x%" PRIx64 " of %" PRIu64 " buckets is unreadable",
					 what, a, n);
		return NULL;
	}
	uint64_t osize;
	if (!object_at(w->h, a, &osize))
		return gh_errorf(GH_ERR_FORMAT, "%s array 0x%" PRIx64 " is not a heap object", what, a);
	if (osize < size)
		return gh_errorf(GH_ERR_FORMAT, "%s array 0x%" PRIx64 " (%" PRIu64 " bytes) cannot hold %" PRIu64
				 " buckets of %u bytes: corrupt B", what, a, osize, n, w->mt->map_bucketsize);
	w->st->bytes += gh_map_object_bytes(w->h, a);
	return NULL;
}

/* hmap.extra's overflow lists (*[]*bmap): the slice header and its array
 * are map structure (they keep pointer-free overflow buckets alive). */
static void extra_bytes(struct walk *w, uint64_t extra)
{
	const struct gh_layout *L = &w->p->L;
	w->st->bytes += gh_map_object_bytes(w->h, extra);
	const struct gh_field *lists[] = { &L->mapextra.overflow, &L->mapextra.oldoverflow };
	for (int i = 0; i < 2; i++) {
		uint64_t sp, arr;
		if (!rdf(w, extra, lists[i], &sp) || !sp)
			continue;
		w->st->bytes += gh_map_object_bytes(w->h, sp);
		if (gh_read_u64(w->p->t, sp, &arr) && arr)
			w->st->bytes += gh_map_object_bytes(w->h, arr);
	}
}

static struct gh_error *bucket_map(struct walk *w, uint64_t m)
{
	const struct gh_layout *L = &w->p->L;
	struct gh_map_stats *st = w->st;
	const char *v = gh_program_version(w->p);
	GH_TRY(gh_layout_require(L, &L->hmap.count, v));
	GH_TRY(gh_layout_require(L, &L->hmap.B, v));
	GH_TRY(gh_layout_require(L, &L->hmap.buckets, v));
	uint64_t count, B, buckets, old = 0, flags = 0, nevac = 0, extra = 0;
	if (!rdf(w, m, &L->hmap.count, &count) || !rdf(w, m, &L->hmap.B, &B) || !rdf(w, m, &L->hmap.buckets, &buckets))
		return gh_errorf(GH_ERR_FAULT, "map header 0x%" PRIx64 " is unreadable", m);
	rdf(w, m, &L->hmap.oldbuckets, &old);
	rdf(w, m, &L->hmap.flags, &flags);
	rdf(w, m, &L->hmap.nevacuate, &nevac);
	rdf(w, m, &L->hmap.extra, &extra);
	const struct gh_type *mt = w->mt;
	if (mt->map_bucketsize < 8 + SLOTS * (mt->map_keysize + mt->map_valuesize) + 8)
		return gh_errorf(GH_ERR_FORMAT, "map type %s: bucket size %u is too small", mt->name, mt->map_bucketsize);
	st->len = count;
	st->B = (unsigned)B;
	if ((int64_t)count < 0 || B > (w->h ? 56 : MAX_B_NO_HEAP))
		return gh_errorf(GH_ERR_FORMAT, "map 0x%" PRIx64 ": absurd header (count %" PRId64 ", B %" PRIu64 ")", m,
				 (int64_t)count, B);
	w->buf = malloc(mt->map_bucketsize);
	if (!w->buf)
		return &gh_error_nomem;
	w->budget = w->h ? (uint64_t)w->h->nobjs + (2ull << B) : (4ull << B);
	uint64_t nb = 1ull << B;
	if (extra)
		extra_bytes(w, extra);
	if (!buckets) { /* allocated lazily, on the first insert */
		if (count)
			warn(st, "map 0x%" PRIx64 " has count %" PRIu64 " but no buckets", m, count);
		return NULL;
	}
	st->buckets = nb;
	GH_TRY(check_array(w, "bucket", buckets, nb));
	for (uint64_t i = 0; i < nb && !w->stopped; i++)
		walk_chain(w, buckets + i * mt->map_bucketsize, false, buckets);
	st->capacity = SLOTS * (nb + st->overflow);
	if (old) {
		/* Mid-growth: old buckets not yet evacuated still hold their
		 * entries; evacuated ones (tophash[0] an evacuation mark) are
		 * skipped, their entries being in the new array. */
		uint64_t onb = (flags & SAME_SIZE_GROW) ? nb : nb / 2;
		st->growing = true;
		st->old_buckets = onb;
		st->nevacuate = nevac;
		struct gh_error *err = check_array(w, "old bucket", old, onb);
		if (err) {
			warn(st, "%s", err->msg);
			gh_error_free(err);
		} else {
			for (uint64_t i = 0; i < onb && !w->stopped; i++) {
				uint64_t b = old + i * mt->map_bucketsize;
				uint8_t th0;
				if (!gh_read(w->p->t, b, &th0, 1)) {
					warn(st, "old bucket 0x%" PRIx64 " is unreadable", b);
					continue;
				}
				if (th0 > EMPTY_ONE && th0 <= EVACUATED_EMPTY)
					continue; /* evacuated, with its whole chain */
				walk_chain(w, b, true, old);
			}
		}
	}
	if (!w->stopped && st->live != count)
		warn(st, "map 0x%" PRIx64 ": count says %" PRIu64 " entries, the buckets hold %" PRIu64, m, count, st->live);
	return NULL;
}

/* ---- swiss tables ---- */

static void scan_group(struct walk *w, uint64_t g, bool *bad_ctrl)
{
	const struct gh_type *mt = w->mt;
	for (unsigned i = 0; i < SLOTS && !w->stopped; i++) {
		uint8_t c = w->buf[i]; /* ctrl byte i is byte i of the word (little-endian) */
		if (!(c & 0x80))
			entry(w, g + mt->map_keysoff + i * mt->map_keystride, g + mt->map_elemsoff + i * mt->map_elemstride);
		else if (c == CTRL_DELETED)
			w->st->deleted++;
		else if (c == CTRL_EMPTY)
			w->st->empty++;
		else {
			w->st->empty++;
			if (!*bad_ctrl)
				warn(w->st, "group 0x%" PRIx64 ": control byte 0x%02x is neither empty, deleted nor full", g, c);
			*bad_ctrl = true;
		}
	}
}

static bool read_group(struct walk *w, uint64_t g)
{
	if (!gh_read(w->p->t, g, w->buf, 8)) {
		warn(w->st, "group 0x%" PRIx64 " is unreadable", g);
		return false;
	}
	return true;
}

/* One table: its groups, checked against its own counters. */
static void swiss_table(struct walk *w, uint64_t tab)
{
	const struct gh_layout *L = &w->p->L;
	struct gh_map_stats *st = w->st;
	uint64_t used, cap, data, mask;
	if (!rdf(w, tab, &L->swissTable.used, &used) || !rdf(w, tab, &L->swissTable.capacity, &cap) ||
	    !rdf(w, tab, &L->swissTable.groupsData, &data) || !rdf(w, tab, &L->swissTable.groupsMask, &mask)) {
		warn(st, "table 0x%" PRIx64 " is unreadable", tab);
		return;
	}
	st->bytes += gh_map_object_bytes(w->h, tab);
	st->tables++;
	if (cap < SLOTS || (cap & (cap - 1)) || mask + 1 != cap / SLOTS) {
		warn(st, "table 0x%" PRIx64 ": capacity %" PRIu64 " and %" PRIu64 " groups disagree", tab, cap, mask + 1);
		return;
	}
	uint64_t ngroups = mask + 1, gsize = w->mt->map_groupsize, osize;
	if (w->h && (!object_at(w->h, data, &osize) || osize < ngroups * gsize)) {
		warn(st, "table 0x%" PRIx64 ": groups 0x%" PRIx64 " are not a heap object of %" PRIu64 " groups", tab,
		     data, ngroups);
		return;
	}
	if (ngroups > w->budget) {
		warn(st, "table 0x%" PRIx64 ": more groups than the heap can hold", tab);
		return;
	}
	w->budget -= ngroups;
	st->bytes += gh_map_object_bytes(w->h, data);
	st->capacity += cap;
	st->buckets += ngroups;
	uint64_t before = st->live;
	bool bad = false;
	for (uint64_t g = 0; g < ngroups && !w->stopped; g++)
		if (read_group(w, data + g * gsize))
			scan_group(w, data + g * gsize, &bad);
	if (!w->stopped && st->live - before != used)
		warn(st, "table 0x%" PRIx64 ": used says %" PRIu64 ", its groups hold %" PRIu64, tab, used,
		     st->live - before);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static struct gh_error *swiss_map(struct walk *w, uint64_t m)
{
	const struct gh_layout *L = &w->p->L;
	struct gh_map_stats *st = w->st;
	const char *v = gh_program_version(w->p);
	GH_TRY(gh_layout_require(L, &L->swissMap.used, v));
	GH_TRY(gh_layout_require(L, &L->swissMap.dirPtr, v));
	GH_TRY(gh_layout_require(L, &L->swissMap.dirLen, v));
	GH_TRY(gh_layout_require(L, &L->swissTable.groupsData, v));
	uint64_t used, dir, dirlen, depth = 0;
	if (!rdf(w, m, &L->swissMap.used, &used) || !rdf(w, m, &L->swissMap.dirPtr, &dir) ||
	    !rdf(w, m, &L->swissMap.dirLen, &dirlen))
		return gh_errorf(GH_ERR_FAULT, "map header 0x%" PRIx64 " is unreadable", m);
	bool have_depth = rdf(w, m, &L->swissMap.globalDepth, &depth);
	const struct gh_type *mt = w->mt;
	uint64_t kslot = w->key_indirect ? 8 : gh_type_get(w->T, mt->key)->size;
	uint64_t eslot = w->elem_indirect ? 8 : gh_type_get(w->T, mt->elem)->size;
	if (mt->map_groupsize > (1u << 20) || mt->map_keysoff < 8 ||
	    mt->map_keysoff + (SLOTS - 1) * mt->map_keystride + kslot > mt->map_groupsize ||
	    mt->map_elemsoff + (SLOTS - 1) * mt->map_elemstride + eslot > mt->map_groupsize)
		return gh_errorf(GH_ERR_FORMAT, "map type %s: slots do not fit its %" PRIu64 "-byte group", mt->name,
				 mt->map_groupsize);
	st->swiss = true;
	st->len = used;
	st->dir_len = dirlen;
	w->buf = malloc(8);
	if (!w->buf)
		return &gh_error_nomem;
	w->budget = w->h ? (uint64_t)w->h->nobjs + 1 : MAX_DIR_NO_HEAP;
	if (!dir) {
		if (used)
			warn(st, "map 0x%" PRIx64 " has used %" PRIu64 " but no groups", m, used);
		return NULL;
	}
	if (dirlen == 0) { /* a small map: one group, never tombstones */
		uint64_t osize;
		if (w->h && (!object_at(w->h, dir, &osize) || osize < mt->map_groupsize))
			return gh_errorf(GH_ERR_FORMAT, "small map 0x%" PRIx64 ": group 0x%" PRIx64 " is not a heap object",
					 m, dir);
		st->bytes += gh_map_object_bytes(w->h, dir);
		st->capacity = SLOTS;
		st->buckets = 1;
		bool bad = false;
		if (read_group(w, dir))
			scan_group(w, dir, &bad);
	} else {
		uint64_t osize, limit = w->h ? w->h->nobjs : MAX_DIR_NO_HEAP;
		if ((int64_t)dirlen < 0 || (dirlen & (dirlen - 1)) || dirlen > limit ||
		    (have_depth && (depth > 63 || dirlen != 1ull << depth)))
			return gh_errorf(GH_ERR_FORMAT, "map 0x%" PRIx64 ": absurd directory (dirLen %" PRId64 ", depth %" PRIu64 ")",
					 m, (int64_t)dirlen, depth);
		if (w->h && (!object_at(w->h, dir, &osize) || osize < dirlen * 8))
			return gh_errorf(GH_ERR_FORMAT, "map 0x%" PRIx64 ": directory 0x%" PRIx64 " is not a heap object of %" PRIu64
					 " entries", m, dir, dirlen);
		uint64_t *tabs = malloc(dirlen * 8);
		if (!tabs)
			return &gh_error_nomem;
		if (!gh_read(w->p->t, dir, tabs, dirlen * 8)) {
			free(tabs);
			return gh_errorf(GH_ERR_FAULT, "map 0x%" PRIx64 ": directory 0x%" PRIx64 " is unreadable", m, dir);
		}
		st->bytes += gh_map_object_bytes(w->h, dir);
		/* A table of local depth d fills 2^(globalDepth-d) directory
		 * entries: count each table once. */
		gh_sort(tabs, dirlen, 8, cmp_u64);
		for (uint64_t i = 0; i < dirlen && !w->stopped; i++) {
			if (!tabs[i] || (i && tabs[i] == tabs[i - 1]))
				continue;
			uint64_t tsize;
			if (w->h && (!object_at(w->h, tabs[i], &tsize) || tsize < 32)) {
				warn(st, "directory entry 0x%" PRIx64 " is not a table object", tabs[i]);
				continue;
			}
			swiss_table(w, tabs[i]);
		}
		free(tabs);
	}
	if (!w->stopped && st->live != used)
		warn(st, "map 0x%" PRIx64 ": used says %" PRIu64 ", its groups hold %" PRIu64, m, used, st->live);
	return NULL;
}

struct gh_error *gh_map_walk(struct gh_program *p, struct gh_heap *h, struct gh_types *T, uint64_t addr,
			     gh_type_id map_type, gh_map_entry_fn fn, void *arg, struct gh_map_stats *st)
{
	memset(st, 0, sizeof(*st));
	const struct gh_type *mt = gh_type_get(T, map_type);
	if (!mt || mt->kind != GH_KIND_MAP || !mt->map_bucket)
		return gh_errorf(GH_ERR_FORMAT, "type %s is not a map type", mt ? mt->name : "(none)");
	const struct gh_type *k = gh_type_get(T, mt->key), *e = gh_type_get(T, mt->elem);
	if (!k || !e)
		return gh_errorf(GH_ERR_FORMAT, "map type %s: key or value type missing", mt->name);
	struct walk w = { .p = p, .h = h, .T = T, .mt = mt, .fn = fn, .arg = arg, .st = st,
			  .key_indirect = k->size > MAX_INLINE, .elem_indirect = e->size > MAX_INLINE };
	st->bytes = gh_map_object_bytes(h, addr);
	struct gh_error *err = mt->map_swiss ? swiss_map(&w, addr) : bucket_map(&w, addr);
	free(w.buf);
	return err;
}
