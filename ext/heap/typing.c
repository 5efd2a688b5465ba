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
 * bucket array types all its entries in one go).
 *
 * With a second CPU the sorting and applying of proposals runs on a thread
 * of its own beside the walk (struct pipeline); a batch the applier cannot
 * take yet is sorted by the walker instead of waiting.  Batches end wherever
 * the walk runs dry, so the order proposals are applied in is not fixed: an
 * object offered two names for one value (a named type and its twin, the
 * values sharing a tiny block) keeps the preferred one by a fixed order,
 * not the first to come, and both ways type every object alike. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../runtime/goroutines.h"
#include "../util/radix.h"
#include "../util/threads.h"
#include "../util/timings.h"
#include "mapshape.h"
#include "typing.h"

#define MAX_DEPTH 32
#define MAX_MAP_DIR (1u << 24)
#define BATCH (1u << 20) /* proposals sorted at once: 2 x 8 MiB */
#define PIPE_BATCH (BATCH / 2) /* the same with the applier: 5 x 4 MiB */
/* Fewer proposals than this, when the walker has nothing else to do, are
 * applied by the walker: following a linked list types one node per batch,
 * and a hand-over to the other thread costs more than applying one. */
#define SMALL_BATCH 8192
/* A proposal packed in a word: offset from the heap's first span above,
 * type id below, so that sorting the words sorts by address. */
#define TYPE_BITS 24
#define PAGE_BITS 12 /* sorted by 4 KiB page: two radix passes, not three */

/* Fields are grouped by the thread that writes them, each group on cache
 * lines of its own: with the applier running, a line written by one thread
 * and read by the other moves between the CPUs' caches at every write. */
#define LINE __attribute__((aligned(64)))
struct typer {
	/* Set up once, then read by both threads. */
	struct gh_heap *h;
	struct gh_program *p;
	struct gh_types *T;
	uint64_t *pending;  /* bit per object: typed, not yet walked */
	uint64_t *summary;  /* bit per word of pending that may be non-zero */
	uint64_t *summary2; /* bit per word of summary that may be non-zero */
	size_t nwords;
	uint64_t heap_lo;   /* first span's base: proposals are offsets from it */
	struct gh_typing_stats *st;
	gh_type_id u8, mapextra, swiss_table;
	/* With a second CPU, proposals are sorted and applied on a thread of
	 * their own (the applier) while this one walks: see struct pipeline. */
	struct pipeline *pl;

	/* Both threads: objects pending, updated a word of bits at a time;
	 * the lowest word given pending bits since the walk last looked, so
	 * that a sweep starts there rather than at the first word (following a
	 * long list types a node a sweep). */
	size_t npending LINE;
	size_t low;

	/* The applier (or the walker, while the applier is idle). */
	const struct gh_span *aspan LINE; /* gh_heap_span_at memo */
	uint64_t acc_word, acc_bits; /* pending bits not yet published (push_flush) */

	/* The walker. */
	uint64_t *batch LINE, *scratch; /* proposals not yet applied */
	size_t nbatch;
	const struct gh_span *span; /* of the last lookup: work comes in address order */
	/* The bytes of the object being walked, mapped from the core: its
	 * words are read without a segment lookup and a copy each. */
	uint64_t vbase, vend;
	const uint8_t *vdata;
	uint8_t *closures; /* bit per object: closure context already walked */
	/* HashTrieMap node types resolved to their entry/indirect types: a map
	 * has thousands of nodes of one type, and a name lookup may scan DWARF. */
	struct trie_memo { gh_type_id node, entry, indirect; } trie[8];
	uint32_t ntrie;
	/* Map types by the shape of untyped bucket arrays; shaped: the header
	 * being checked was typed that way. */
	struct gh_map_shapes *shapes;
	bool shaped;
	struct plan **plans; /* by type id: how to walk a value (walk plans) */
	size_t nplans;
	struct plan_builder *builder;

	/* Either thread, under the pipeline's vmu.  Values reached by interior
	 * pointers: walked from a work list, each (address, type) once; the
	 * visited set is bounded. */
	struct ival { uint64_t addr; gh_type_id id; } *vals LINE;
	size_t nvals, capvals;
	uint64_t *vseen;   /* open addressing set of addr ^ id hashes; 0 empty */
	size_t vcap, vcount;
};

/* The walker (the calling thread) fills proposal buffers and queues them;
 * the applier sorts each and applies it, in queue order.  The applier is
 * the only one to write object types and set pending bits, the walker the
 * only one to read core memory, intern types and clear pending bits; both
 * reach the interior-value list under vmu.  The walker calls apply itself
 * only while the applier is idle (pipe_quiesce). */
#define NBUF 3
struct pipeline {
	pthread_t thread;
	pthread_mutex_t mu, vmu;
	pthread_cond_t work, idle; /* the applier waits on work, the walker on idle */
	uint64_t *queue[NBUF];
	size_t qn[NBUF];
	bool qsorted[NBUF];        /* sorted by the walker already */
	unsigned qhead, qlen;
	uint64_t *spare[NBUF];     /* empty buffers */
	unsigned nspare;
	uint64_t *scratch;         /* the applier's sort buffer */
	uint64_t *wscratch;        /* the walker's */
	uint64_t *small[2];        /* the walker's, for what it applies itself */
	bool busy, stop;
};

static uint64_t g_types_base(struct typer *k);
static void push_value_locked(struct typer *k, uint64_t p, gh_type_id id);
static void flush(struct typer *k);

static const struct gh_type *ty(struct typer *k, gh_type_id id)
{
	return gh_type_get(k->T, id);
}

/* Publishes the pending bits gathered for one word of the bit set (the
 * applier works in address order, so a word's objects come together). */
static void push_flush(struct typer *k)
{
	uint64_t bits = k->acc_bits, w = k->acc_word, sbit = 1ull << (w % 64);
	if (!bits)
		return;
	k->acc_bits = 0;
	if (!k->pl) {
		size_t added = (size_t)__builtin_popcountll(bits & ~k->pending[w]);
		k->pending[w] |= bits;
		k->summary[w / 64] |= sbit;
		k->summary2[w / 4096] |= 1ull << (w / 64 % 64);
		k->npending += added;
		if (w < k->low)
			k->low = w;
		return;
	}
	/* The walker takes words meanwhile (take_pending). */
	uint64_t old = __atomic_fetch_or(&k->pending[w], bits, __ATOMIC_SEQ_CST);
	size_t added = (size_t)__builtin_popcountll(bits & ~old);
	if (!added)
		return;
	if (!(__atomic_load_n(&k->summary[w / 64], __ATOMIC_SEQ_CST) & sbit) &&
	    !(__atomic_fetch_or(&k->summary[w / 64], sbit, __ATOMIC_SEQ_CST) & sbit)) {
		/* Newly set: its summary word's bit too (next_summary clears it
		 * only after seeing the word empty, and then looks again). */
		uint64_t s2bit = 1ull << (w / 64 % 64);
		if (!(__atomic_load_n(&k->summary2[w / 4096], __ATOMIC_SEQ_CST) & s2bit))
			__atomic_fetch_or(&k->summary2[w / 4096], s2bit, __ATOMIC_SEQ_CST);
	}
	size_t low = __atomic_load_n(&k->low, __ATOMIC_RELAXED);
	while (w < low && !__atomic_compare_exchange_n(&k->low, &low, w, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		;
	__atomic_fetch_add(&k->npending, added, __ATOMIC_RELEASE);
}

/* Where a sweep over what became pending behind the last one starts: the
 * lowest word given bits since the last sweep started (the sweep before
 * took every bit it passed; a bit set behind it lowered low). */
static size_t sweep_start(struct typer *k)
{
	size_t low;
	if (k->pl) {
		low = __atomic_exchange_n(&k->low, SIZE_MAX, __ATOMIC_SEQ_CST);
	} else {
		low = k->low;
		k->low = SIZE_MAX;
	}
	return low == SIZE_MAX ? 0 : low;
}

static void push(struct typer *k, uint32_t obj)
{
	if (k->acc_bits && k->acc_word != obj / 64)
		push_flush(k);
	k->acc_word = obj / 64;
	k->acc_bits |= 1ull << (obj % 64);
}

static size_t npending(struct typer *k)
{
	return __atomic_load_n(&k->npending, __ATOMIC_ACQUIRE);
}

/* The first word of summary at or after word s that may have a bit set,
 * found through summary2; SIZE_MAX if none.  A long list followed one node
 * a sweep asks for the next pending word millions of times, the rest of
 * the work lying far ahead: a scan of summary word by word read 215 M
 * words on the shapes heap. */
static size_t next_summary(struct typer *k, size_t s)
{
	size_t nsum = (k->nwords + 63) / 64;
	for (size_t t = s / 64, first = s % 64; t * 64 < nsum; t++, first = 0) {
		uint64_t b = __atomic_load_n(&k->summary2[t], __ATOMIC_RELAXED) & (~0ull << first);
		while (b) {
			size_t ss = t * 64 + (size_t)__builtin_ctzll(b);
			uint64_t bit = 1ull << (ss % 64);
			if (ss >= nsum)
				return SIZE_MAX;
			if (__atomic_load_n(&k->summary[ss], __ATOMIC_SEQ_CST))
				return ss;
			/* Emptied since: forget it, unless it was refilled meanwhile. */
			__atomic_fetch_and(&k->summary2[t], ~bit, __ATOMIC_SEQ_CST);
			if (__atomic_load_n(&k->summary[ss], __ATOMIC_SEQ_CST)) {
				__atomic_fetch_or(&k->summary2[t], bit, __ATOMIC_SEQ_CST);
				return ss;
			}
			b &= b - 1;
		}
	}
	return SIZE_MAX;
}

/* The first word of the pending set at or after word w that has a bit set;
 * SIZE_MAX if none. */
static size_t next_pending(struct typer *k, size_t w)
{
	if (w >= k->nwords)
		return SIZE_MAX;
	if (__atomic_load_n(&k->pending[w], __ATOMIC_RELAXED))
		return w;
	size_t s = (w + 1) / 64, first = (w + 1) % 64;
	while (s != SIZE_MAX && s * 64 < k->nwords) {
		uint64_t sb = __atomic_load_n(&k->summary[s], __ATOMIC_RELAXED) & (~0ull << first);
		while (sb) {
			size_t ww = s * 64 + (size_t)__builtin_ctzll(sb);
			uint64_t pw = __atomic_load_n(&k->pending[ww], __ATOMIC_SEQ_CST), sbit = 1ull << (ww % 64);
			if (!pw) { /* emptied since: forget it, unless the applier refilled it meanwhile */
				__atomic_fetch_and(&k->summary[s], ~sbit, __ATOMIC_SEQ_CST);
				if ((pw = __atomic_load_n(&k->pending[ww], __ATOMIC_SEQ_CST)))
					__atomic_fetch_or(&k->summary[s], sbit, __ATOMIC_SEQ_CST);
			}
			if (pw)
				return ww;
			sb &= sb - 1;
		}
		s = next_summary(k, s + 1);
		first = 0;
	}
	return SIZE_MAX;
}

/* Takes word w's objects off the pending set; returns their bits. */
static uint64_t take_pending(struct typer *k, size_t w)
{
	uint64_t bits;
	if (k->pl) {
		bits = __atomic_exchange_n(&k->pending[w], 0, __ATOMIC_ACQ_REL);
		__atomic_fetch_sub(&k->npending, (size_t)__builtin_popcountll(bits), __ATOMIC_RELAXED);
	} else {
		bits = k->pending[w];
		k->pending[w] = 0;
		k->npending -= (size_t)__builtin_popcountll(bits);
	}
	return bits;
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

/* A total order on the types proposed for one object, so that the one it
 * keeps does not depend on the order the proposals came in (the applier
 * runs beside the walker): the bigger value first (a tiny block holds
 * several), then a named type before an unnamed one, then the lower
 * descriptor address. */
static bool preferred(const struct gh_type *a, const struct gh_type *b)
{
	if (a->size != b->size)
		return a->size > b->size;
	bool na = strchr(a->name, '.') != NULL, nb = strchr(b->name, '.') != NULL;
	if (na != nb)
		return na;
	return a->addr < b->addr;
}

/* The same for a tiny block, which holds no pointers: a pointer-free type
 * before one with pointers. */
static bool tiny_preferred(const struct gh_type *a, const struct gh_type *b)
{
	if (!a->ptrdata != !b->ptrdata)
		return !a->ptrdata;
	return preferred(a, b);
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

static void lock_values(struct typer *k)
{
	if (k->pl)
		pthread_mutex_lock(&k->pl->vmu);
}

static void unlock_values(struct typer *k)
{
	if (k->pl)
		pthread_mutex_unlock(&k->pl->vmu);
}

/* seen_value for either thread. */
static bool seen_value_locked(struct typer *k, uint64_t p, gh_type_id id)
{
	lock_values(k);
	bool seen = seen_value(k, p, id);
	unlock_values(k);
	return seen;
}

/* The next queued interior value; false if none. */
static bool next_value(struct typer *k, size_t *vi, struct ival *v)
{
	lock_values(k);
	bool any = *vi < k->nvals;
	if (any)
		*v = k->vals[(*vi)++];
	unlock_values(k);
	return any;
}

/* Queues the value of type id at interior address p for walking. */
static void push_value(struct typer *k, uint64_t p, gh_type_id id)
{
	lock_values(k);
	push_value_locked(k, p, id);
	unlock_values(k);
}

static void push_value_locked(struct typer *k, uint64_t p, gh_type_id id)
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

/* Gives object o (size bytes) type t (id) and, when t has pointers, queues
 * it to be walked: walking a pointer-free value proposes nothing (a
 * string's bytes, a []byte's array, a tiny block are most of a heap's
 * objects).  Only one thread applies at a time: it keeps the totals. */
static void retype(struct typer *k, struct gh_object *o, uint64_t size, const struct gh_type *t, gh_type_id id)
{
	if (!gh_obj_type(o)) {
		k->st->typed_objects++;
		k->st->typed_bytes += size;
	}
	gh_obj_set_type(o, id); /* the pending bit set next publishes it */
	if (t->ptrdata)
		push(k, (uint32_t)(o - k->h->objs));
}

/* Applies a proposal of type id for the object that starts exactly at p,
 * in span sp (NULL: none); o is p's object when the caller found it
 * already, else NULL. */
static void apply_in(struct typer *k, uint64_t p, gh_type_id id, const struct gh_span *sp, struct gh_object *o)
{
	const struct gh_type *t = ty(k, id);
	if (!t || !t->size || !sp)
		return;
	if (!o)
		o = (struct gh_object *)gh_span_find(k->h, sp, p);
	if (!o || gh_obj_garbage(k->h, o))
		return;
	gh_type_id cur_id = gh_obj_type(o);
	uint64_t osize = gh_span_obj_size(k->h, sp);
	bool tiny = gh_span_is_tiny(k->h, sp);
	if (t->size > osize)
		return;
	if (gh_obj_addr(o) != p) {
		/* An interior pointer says nothing about the object around it,
		 * but the value it points at has its type: walk that value.
		 * Small pointer-free values share tiny-allocator blocks: such a
		 * pointer types the block. */
		if (tiny && !t->ptrdata && p + t->size <= gh_obj_addr(o) + 16 &&
		    (!cur_id || (cur_id != id && tiny_preferred(t, ty(k, cur_id))))) {
			retype(k, o, osize, t, id);
		} else if (t->ptrdata && p + t->size <= gh_obj_addr(o) + osize) {
			push_value(k, p, id);
		}
		return;
	}
	if (cur_id && cur_id != id && header_of(ty(k, cur_id), t)) {
		/* The runtime's own header struct (from a runtime local such as
		 * chanrecv's c *hchan) and the user's channel or map type name
		 * the same object: keep the more telling one, walk it again. */
		retype(k, o, osize, t, id);
		return;
	}
	if (cur_id == id)
		return;
	if (cur_id) {
		const struct gh_type *cur = ty(k, cur_id);
		if (strcmp(cur->name, t->name) && !tiny && !header_of(t, cur) && !compatible(k, cur, t) &&
		    !compatible(k, t, cur)) {
			if (k->st->conflicts++ < 5)
				gh_heap_warn(k->h, "type conflict at 0x%llx: typed %s, a pointer says %s",
					     (unsigned long long)gh_obj_addr(o), cur->name, t->name);
			return;
		}
		/* Two names for one object: the preferred one, whatever order
		 * they came in, but never over a type the runtime recorded, nor
		 * a runtime struct over the user's type. */
		if (!header_of(t, cur) && sp->ptrmode != GH_PTR_HEADER && sp->ptrmode != GH_PTR_LARGE_TYPE &&
		    (tiny ? tiny_preferred(t, cur) : preferred(t, cur))) {
			retype(k, o, osize, t, id);
		}
		return;
	}
	retype(k, o, osize, t, id);
}

static void apply(struct typer *k, uint64_t p, gh_type_id id)
{
	apply_in(k, p, id, gh_heap_span_at(k->h, &k->aspan, p), NULL);
}

/* Where a proposal for p lands: its span and, when the span's slots are
 * all objects (the record's place is arithmetic, no search), its object,
 * whose record starts loading.  Proposals come sorted but spread over the
 * whole heap: consecutive ones are objects apart, and the record is a
 * cache miss the hardware does not predict. */
struct landing {
	const struct gh_span *sp;
	struct gh_object *o;
};

static struct landing locate(struct typer *k, uint64_t p)
{
	struct landing l = { gh_heap_span_at(k->h, &k->aspan, p), NULL };
	if (l.sp && (l.o = gh_span_dense_find(k->h, l.sp, p)))
		__builtin_prefetch(l.o, 1);
	return l;
}

/* Sorts n proposals by address (unless sorted already) and applies them in
 * that order, each located AHEAD proposals before it is applied. */
#define AHEAD 16
static void apply_batch(struct typer *k, uint64_t **b, uint64_t **scratch, size_t n, bool sorted)
{
	if (!sorted)
		gh_radix_sort(b, scratch, n, TYPE_BITS + PAGE_BITS);
	const uint64_t *v = *b;
	struct landing ring[AHEAD];
	for (size_t i = 0; i < n && i < AHEAD; i++)
		ring[i] = locate(k, k->heap_lo + (v[i] >> TYPE_BITS));
	for (size_t i = 0; i < n; i++) {
		struct landing l = ring[i % AHEAD];
		if (i + AHEAD < n)
			ring[i % AHEAD] = locate(k, k->heap_lo + (v[i + AHEAD] >> TYPE_BITS));
		apply_in(k, k->heap_lo + (v[i] >> TYPE_BITS), (gh_type_id)(v[i] & ((1u << TYPE_BITS) - 1)), l.sp, l.o);
	}
	push_flush(k);
}

/* ---- the applier thread ------------------------------------------------ */

static void *applier(void *arg)
{
	struct typer *k = arg;
	struct pipeline *pl = k->pl;
	pthread_mutex_lock(&pl->mu);
	for (;;) {
		while (!pl->qlen && !pl->stop)
			pthread_cond_wait(&pl->work, &pl->mu);
		if (!pl->qlen)
			break;
		uint64_t *b = pl->queue[pl->qhead];
		size_t n = pl->qn[pl->qhead];
		bool sorted = pl->qsorted[pl->qhead];
		pl->qhead = (pl->qhead + 1) % NBUF;
		pl->qlen--;
		pl->busy = true;
		pthread_mutex_unlock(&pl->mu);
		apply_batch(k, &b, &pl->scratch, n, sorted);
		pthread_mutex_lock(&pl->mu);
		pl->spare[pl->nspare++] = b;
		pl->busy = false;
		pthread_cond_broadcast(&pl->idle);
	}
	pthread_mutex_unlock(&pl->mu);
	return NULL;
}

static void pipe_free(struct pipeline *pl)
{
	for (unsigned i = 0; i < pl->nspare; i++)
		free(pl->spare[i]);
	free(pl->scratch);
	free(pl->wscratch);
	free(pl->small[0]);
	free(pl->small[1]);
	pthread_mutex_destroy(&pl->mu);
	pthread_mutex_destroy(&pl->vmu);
	pthread_cond_destroy(&pl->work);
	pthread_cond_destroy(&pl->idle);
	free(pl);
}

/* Starts the applier when there is a second CPU and work enough to share;
 * otherwise (or when a buffer or the thread cannot be had) typing stays on
 * this thread.  The buffers take what the one-thread batch takes. */
static void pipe_start(struct typer *k)
{
	if (gh_threads() < 2 || k->h->nobjs < (1u << 12))
		return;
	if (k->batch) { /* proposals of the seeds: applied first, here */
		flush(k);
		free(k->batch);
		free(k->scratch);
		k->batch = k->scratch = NULL;
	}
	struct pipeline *pl = calloc(1, sizeof(*pl));
	if (!pl)
		return;
	pthread_mutex_init(&pl->mu, NULL);
	pthread_mutex_init(&pl->vmu, NULL);
	pthread_cond_init(&pl->work, NULL);
	pthread_cond_init(&pl->idle, NULL);
	bool ok = (pl->scratch = malloc(PIPE_BATCH * sizeof(uint64_t))) &&
		  (pl->wscratch = malloc(PIPE_BATCH * sizeof(uint64_t))) &&
		  (pl->small[0] = malloc(SMALL_BATCH * sizeof(uint64_t))) &&
		  (pl->small[1] = malloc(SMALL_BATCH * sizeof(uint64_t)));
	for (; ok && pl->nspare < NBUF; pl->nspare++)
		ok = (pl->spare[pl->nspare] = malloc(PIPE_BATCH * sizeof(uint64_t))) != NULL;
	k->pl = pl;
	if (!ok || !gh_thread_start(&pl->thread, applier, k)) {
		k->pl = NULL;
		pipe_free(pl);
		return;
	}
	k->batch = pl->spare[--pl->nspare];
	k->nbatch = 0;
}

/* Whether the applier has queued or unfinished work. */
static bool pipe_active(struct typer *k)
{
	struct pipeline *pl = k->pl;
	pthread_mutex_lock(&pl->mu);
	bool active = pl->qlen || pl->busy;
	pthread_mutex_unlock(&pl->mu);
	return active;
}

/* Waits until the applier has applied every queued proposal: then this
 * thread may apply too. */
static void pipe_quiesce(struct typer *k)
{
	struct pipeline *pl = k->pl;
	if (!pl)
		return;
	pthread_mutex_lock(&pl->mu);
	while (pl->qlen || pl->busy)
		pthread_cond_wait(&pl->idle, &pl->mu);
	pthread_mutex_unlock(&pl->mu);
}

/* Queues the walker's buffer for the applier and takes an empty one.  When
 * the applier has a batch queued already, or no buffer is free, the walker
 * sorts its own batch first rather than wait: with the sort done on the
 * applier's thread only, the walker idled for a quarter of the typing. */
static void pipe_submit(struct typer *k)
{
	struct pipeline *pl = k->pl;
	pthread_mutex_lock(&pl->mu);
	bool sorted = pl->qlen || !pl->nspare;
	if (sorted) {
		pthread_mutex_unlock(&pl->mu);
		gh_radix_sort(&k->batch, &pl->wscratch, k->nbatch, TYPE_BITS + PAGE_BITS);
		pthread_mutex_lock(&pl->mu);
	}
	while (!pl->nspare)
		pthread_cond_wait(&pl->idle, &pl->mu);
	unsigned tail = (pl->qhead + pl->qlen) % NBUF;
	pl->queue[tail] = k->batch;
	pl->qn[tail] = k->nbatch;
	pl->qsorted[tail] = sorted;
	pl->qlen++;
	k->batch = pl->spare[--pl->nspare];
	k->nbatch = 0;
	pthread_cond_signal(&pl->work);
	pthread_mutex_unlock(&pl->mu);
}

static void pipe_stop(struct typer *k)
{
	struct pipeline *pl = k->pl;
	if (!pl)
		return;
	pthread_mutex_lock(&pl->mu);
	pl->stop = true;
	pthread_cond_signal(&pl->work);
	pthread_mutex_unlock(&pl->mu);
	pthread_join(pl->thread, NULL);
	k->pl = NULL;
	pl->spare[pl->nspare++] = k->batch;
	k->batch = NULL;
	k->nbatch = 0;
	pipe_free(pl);
}

/* Applies the batched proposals: on the applier, or here. */
static void flush(struct typer *k)
{
	struct pipeline *pl = k->pl;
	if (pl && k->nbatch > SMALL_BATCH) {
		pipe_submit(k);
		return;
	}
	if (pl) {
		size_t n = k->nbatch;
		k->nbatch = 0;
		pipe_quiesce(k);
		memcpy(pl->small[0], k->batch, n * sizeof(*k->batch));
		apply_batch(k, &pl->small[0], &pl->small[1], n, false);
		return;
	}
	size_t n = k->nbatch;
	k->nbatch = 0;
	apply_batch(k, &k->batch, &k->scratch, n, false);
}

/* Proposes type id for the object that starts exactly at p. */
static void assign(struct typer *k, uint64_t p, gh_type_id id)
{
	if (!p || !id || p < k->heap_lo) /* below the first span: not a heap object */
		return;
	if ((p - k->heap_lo) >> (64 - TYPE_BITS) || id >> TYPE_BITS) {
		pipe_quiesce(k);
		apply(k, p, id); /* too far to pack: rare */
		push_flush(k);
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
	if (k->nbatch == (k->pl ? PIPE_BATCH : BATCH))
		flush(k);
}

/* Reads n (at most 8) bytes at a: from the bytes of the object at hand,
 * or where the core maps them, or through the target. */
static bool rdn(struct typer *k, uint64_t a, size_t n, uint64_t *v)
{
	const uint8_t *d = a >= k->vbase && a < k->vend && k->vend - a >= n ? k->vdata + (a - k->vbase) : gh_view(k->p->t, a, n);
	*v = 0;
	if (d) {
		memcpy(v, d, n);
		return true;
	}
	return gh_read(k->p->t, a, v, n);
}

static bool rd(struct typer *k, uint64_t a, uint64_t *v)
{
	return rdn(k, a, 8, v);
}

/* Starts the read of a pending object's bytes (drain: LOOKAHEAD objects
 * before they are walked; populate has mapped the pages by then): pending
 * objects are in address order, but with gaps the hardware does not
 * predict. */
#define LOOKAHEAD 8
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
	if (!o || gh_obj_garbage(k->h, o) || seen_value_locked(k, p, id))
		return;
	for (uint64_t a = p, end = gh_obj_addr(o) + gh_obj_size(k->h, o); a + 8 <= end; a += 8)
		walk(k, a, id, 1);
}

/* gh_read_field, through rdn. */
static bool rdf(struct typer *k, uint64_t base, const struct gh_field *f, uint64_t *v)
{
	*v = 0;
	return f->off >= 0 && f->size && f->size <= 8 && rdn(k, base + (uint64_t)f->off, f->size, v);
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
	if (!o || gh_obj_addr(o) != a || gh_obj_garbage(k->h, o))
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
	if (o && !gh_obj_type(o)) {
		if (!k->shapes && !(k->shapes = gh_map_shapes_new(k->h, k->T)))
			return NULL;
		const struct gh_type *mt = ty(k, *id = gh_map_shape_of(k->shapes, o, n, swiss, &k->st->ambiguous_map_shapes));
		if (mt)
			k->shaped = true;
		return mt;
	}
	const struct gh_type *bt = o ? ty(k, gh_obj_type(o)) : NULL;
	if (!bt || bt->kind != GH_KIND_STRUCT)
		return NULL;
	*id = gh_type_map_of_bucket(k->T, gh_obj_type(o));
	const struct gh_type *mt = ty(k, *id);
	return mt && mt->map_bucket == gh_obj_type(o) ? mt : NULL;
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
		/* The span's bytes at hand: its objects' fields are read
		 * without a segment lookup each (rd, rdf). */
		uint64_t len = (uint64_t)s->nelems * s->elemsize;
		if ((k->vdata = gh_view(k->p->t, s->base, len))) {
			k->vbase = s->base;
			k->vend = s->base + len;
		}
		for (uint32_t i = s->first; i < s->first + s->nobjs; i++) {
			struct gh_object *o = &k->h->objs[i];
			if (gh_obj_garbage(k->h, o) || gh_obj_allocating(k->h, o))
				continue;
			k->shaped = false;
			gh_type_id id = bucket_header(k, o, size);
			if (!id)
				id = swiss_header(k, o, size);
			if (!id)
				continue;
			bool untyped = !gh_obj_type(o);
			apply(k, gh_obj_addr(o), id); /* now, not batched: its result is read next */
			push_flush(k);
			if (untyped && gh_obj_type(o) == id && k->shaped)
				k->st->from_map_shapes++;
			else if (untyped && gh_obj_type(o) == id)
				k->st->from_map_buckets++;
		}
		k->vbase = k->vend = 0;
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

/* Whether field i of struct t (type id) is an unsafe.Pointer, with in *to
 * what it is known to point at (unsafe_pointee; 0: unknown, not followed). */
static bool unsafe_field(struct typer *k, gh_type_id id, const struct gh_type *t, uint32_t i, gh_type_id *to)
{
	const struct gh_type *ft = ty(k, t->fields[i].type);
	if (!ft || ft->kind != GH_KIND_UNSAFE_POINTER)
		return false;
	*to = unsafe_pointee(k, id, t, i);
	return true;
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

/* An interface value: a non-empty interface holds an itab, whose first
 * word is this interface's own descriptor; an empty one holds a type.  A
 * direct-interface dynamic type is stored in the data word itself. */
static void walk_iface(struct typer *k, uint64_t a, gh_type_id id, int depth)
{
	const struct gh_type *t = ty(k, id);
	uint64_t w0, w1;
	if (!t || !rd(k, a, &w0) || !w0 || !rd(k, a + 8, &w1))
		return;
	uint64_t desc = w0, inter;
	if (rd(k, w0, &inter) && inter == t->addr && !rdf(k, w0, &k->p->L.itab.type, &desc))
		return;
	gh_type_id dyn;
	struct gh_error *err = gh_type_at(k->T, desc, &dyn);
	if (err) {
		gh_error_free(err);
		k->st->bad_types++;
		return;
	}
	if (ty(k, dyn)->direct_iface)
		walk(k, a + 8, dyn, depth + 1);
	else
		assign(k, w1, dyn);
}

/* ---- walk plans ---------------------------------------------------------
 *
 * Typing walks a value of a type at every address that holds one, millions
 * of times for some types, so each type's walk is flattened once into a
 * plan: the pointer-bearing words at fixed offsets, with what each
 * proposes.  What a plan cannot say in a word or two (interfaces, funcs,
 * arrays of maps or channels, long arrays, types too big for one plan) is
 * an op that runs the plan of that part, one level deeper. */
enum plan_op {
	OP_PTR,    /* *T: propose T for the pointee */
	OP_STRING, /* string: its bytes are uint8s (when the length is not 0) */
	OP_SLICE,  /* []T: the backing array holds Ts (when the capacity is not 0) */
	OP_HEADER, /* map or chan value: the header has the map or chan type */
	OP_UNSAFE, /* unsafe.Pointer whose pointee a standard layout names */
	OP_VALUES, /* *T or []T of maps or chans (id: that type): assign_values */
	OP_ARRAY,  /* array too long to inline (id: the array type): each element */
	OP_IFACE,  /* interface (id: its type): by its dynamic type */
	OP_FUNC,   /* func value: its closure's captured variables */
	OP_TYPE,   /* a part walked by its own plan (a type too big for one) */
};

struct op {
	uint32_t off;
	uint8_t kind;   /* enum plan_op */
	uint8_t depth;  /* nesting below the plan's value: ops deeper than
			 * MAX_DEPTH from the walk's start are not run */
	gh_type_id id;
};

struct plan {
	uint32_t n;
	struct op ops[];
};

#define PLAN_MAX 256   /* ops in one plan; a bigger type is walked part by part */
#define ARRAY_INLINE 64 /* ops an array may expand to before it is walked instead */

struct plan_builder {
	struct op ops[PLAN_MAX];
	uint32_t n;
	bool full;
};

static void plan_add(struct plan_builder *b, uint64_t off, enum plan_op kind, gh_type_id id, int depth)
{
	if (b->n == PLAN_MAX || off > UINT32_MAX) {
		b->full = true;
		return;
	}
	b->ops[b->n++] = (struct op){ (uint32_t)off, (uint8_t)kind, (uint8_t)depth, id };
}

/* Appends the ops of a value of type id at off, as walk(k, a + off, id,
 * depth) would act on it. */
static void plan_value(struct typer *k, struct plan_builder *b, uint64_t off, gh_type_id id, int depth)
{
	const struct gh_type *t = ty(k, id), *e;
	if (!t || !t->ptrdata || depth > MAX_DEPTH || b->full)
		return;
	switch (t->kind) {
	case GH_KIND_POINTER:
	case GH_KIND_SLICE:
		/* assign_values walks an array of maps or channels value by value. */
		e = ty(k, t->elem);
		if (e && (e->kind == GH_KIND_MAP || e->kind == GH_KIND_CHAN))
			plan_add(b, off, OP_VALUES, id, depth);
		else
			plan_add(b, off, t->kind == GH_KIND_POINTER ? OP_PTR : OP_SLICE, t->elem, depth);
		break;
	case GH_KIND_STRING:
		plan_add(b, off, OP_STRING, k->u8, depth);
		break;
	case GH_KIND_ARRAY: {
		e = ty(k, t->elem);
		if (!e || !e->ptrdata || !e->size)
			break;
		uint32_t at = b->n;
		for (uint64_t i = 0; i < t->len && (i + 1) * e->size <= t->size && !b->full; i++) {
			plan_value(k, b, off + i * e->size, t->elem, depth + 1);
			if (b->n - at > ARRAY_INLINE) {
				b->n = at;
				plan_add(b, off, OP_ARRAY, id, depth);
				break;
			}
		}
		break;
	}
	case GH_KIND_STRUCT:
		for (uint32_t i = 0; i < t->nfields; i++) {
			gh_type_id to;
			if (unsafe_field(k, id, t, i, &to)) {
				if (to)
					plan_add(b, off + t->fields[i].offset, OP_UNSAFE, to, depth);
			} else {
				plan_value(k, b, off + t->fields[i].offset, t->fields[i].type, depth + 1);
			}
		}
		break;
	case GH_KIND_MAP:
	case GH_KIND_CHAN:
		plan_add(b, off, OP_HEADER, id, depth);
		break;
	case GH_KIND_INTERFACE:
		plan_add(b, off, OP_IFACE, id, depth);
		break;
	case GH_KIND_FUNC:
		plan_add(b, off, OP_FUNC, id, depth);
		break;
	default:
		break;
	}
}

/* The plan of a type too big for PLAN_MAX ops: a struct as its fields,
 * each by its own plan; an array element by element. */
static struct plan *plan_parts(struct typer *k, gh_type_id id)
{
	const struct gh_type *t = ty(k, id);
	uint32_t n = t->kind == GH_KIND_STRUCT ? t->nfields : 1;
	struct plan *pl = malloc(sizeof(*pl) + (size_t)n * sizeof(pl->ops[0]));
	if (!pl)
		return NULL;
	pl->n = 0;
	if (t->kind != GH_KIND_STRUCT) {
		pl->ops[pl->n++] = (struct op){ 0, OP_ARRAY, 0, id };
		return pl;
	}
	for (uint32_t i = 0; i < t->nfields; i++) {
		const struct gh_type *f = ty(k, t->fields[i].type);
		gh_type_id to;
		if (t->fields[i].offset > UINT32_MAX)
			continue;
		if (unsafe_field(k, id, t, i, &to)) {
			if (to)
				pl->ops[pl->n++] = (struct op){ (uint32_t)t->fields[i].offset, OP_UNSAFE, 0, to };
		} else if (f && f->ptrdata) {
			pl->ops[pl->n++] = (struct op){ (uint32_t)t->fields[i].offset, OP_TYPE, 1, t->fields[i].type };
		}
	}
	return pl;
}

/* The plan of type id, made on first use (NULL: no memory for it). */
static const struct plan *plan_of(struct typer *k, gh_type_id id)
{
	if (id >= k->nplans) {
		size_t n = k->nplans ? k->nplans : 256;
		while (n <= id)
			n *= 2;
		struct plan **np = realloc(k->plans, n * sizeof(*np));
		if (!np)
			return NULL;
		memset(np + k->nplans, 0, (n - k->nplans) * sizeof(*np));
		k->plans = np;
		k->nplans = n;
	}
	if (!k->plans[id]) {
		struct plan_builder *b = k->builder;
		if (!b && !(b = k->builder = malloc(sizeof(*b))))
			return NULL;
		b->n = 0;
		b->full = false;
		plan_value(k, b, 0, id, 0);
		struct plan *pl;
		if (b->full) {
			pl = plan_parts(k, id);
		} else if ((pl = malloc(sizeof(*pl) + b->n * sizeof(pl->ops[0])))) {
			pl->n = b->n;
			memcpy(pl->ops, b->ops, b->n * sizeof(pl->ops[0]));
		}
		if (!pl)
			return NULL;
		k->plans[id] = pl;
	}
	return k->plans[id];
}

/* The word at a + off: from the object's mapped bytes when a value of
 * size bytes at a lies in them. */
static bool word(struct typer *k, const uint8_t *data, uint64_t a, uint32_t off, uint64_t *v)
{
	if (data) {
		memcpy(v, data + off, 8);
		return true;
	}
	return rd(k, a + off, v);
}

/* Proposes types for what the value of plan pl at a (size bytes) points
 * at; depth: the value's nesting from where the walk started. */
static void run_plan(struct typer *k, const struct plan *pl, uint64_t a, uint64_t size, int depth)
{
	const uint8_t *data = a >= k->vbase && a < k->vend && k->vend - a >= size ? k->vdata + (a - k->vbase) : NULL;
	for (uint32_t i = 0; i < pl->n; i++) {
		const struct op *op = &pl->ops[i];
		int d = depth + op->depth;
		if (d > MAX_DEPTH)
			continue;
		uint64_t w0, w1;
		const struct gh_type *t, *e;
		switch (op->kind) {
		case OP_PTR:
		case OP_HEADER:
			if (word(k, data, a, op->off, &w0))
				assign(k, w0, op->id);
			break;
		case OP_STRING:
			if (word(k, data, a, op->off, &w0) && word(k, data, a, op->off + 8, &w1) && w1)
				assign(k, w0, op->id);
			break;
		case OP_SLICE:
			if (word(k, data, a, op->off, &w0) && word(k, data, a, op->off + 16, &w1) && w1)
				assign(k, w0, op->id);
			break;
		case OP_UNSAFE:
			if (word(k, data, a, op->off, &w0))
				assign(k, w0, trie_node(k, op->id, w0));
			break;
		case OP_VALUES:
			t = ty(k, op->id);
			if (word(k, data, a, op->off, &w0) &&
			    (t->kind == GH_KIND_POINTER || (word(k, data, a, op->off + 16, &w1) && w1)))
				assign_values(k, w0, t->elem);
			break;
		case OP_ARRAY:
			t = ty(k, op->id);
			e = ty(k, t->elem);
			for (uint64_t j = 0; e && e->size && j < t->len && (j + 1) * e->size <= t->size; j++)
				walk(k, a + op->off + j * e->size, t->elem, d + 1);
			break;
		case OP_IFACE:
			walk_iface(k, a + op->off, op->id, d);
			break;
		case OP_FUNC:
			if (word(k, data, a, op->off, &w0) && w0)
				walk_closure(k, w0);
			break;
		default:
			walk(k, a + op->off, op->id, d);
			break;
		}
	}
}

/* Proposes types for what a value of type id at a points at (depth: its
 * nesting from where the walk started; none past MAX_DEPTH). */
static void walk(struct typer *k, uint64_t a, gh_type_id id, int depth)
{
	const struct gh_type *t = ty(k, id);
	const struct plan *pl;
	if (t && t->ptrdata && depth <= MAX_DEPTH && (pl = plan_of(k, id)))
		run_plan(k, pl, a, t->size, depth);
}

/* Walks every element of a typed object: an object may be an array of its
 * type (a slice's backing array, make([]T, n) with a header type T). */
static void walk_object(struct typer *k, const struct gh_object *o)
{
	gh_type_id id = gh_obj_type(o);
	const struct gh_type *t = ty(k, id);
	if (!t || !t->ptrdata || !t->size)
		return;
	uint64_t a = gh_obj_addr(o), buf;
	const struct gh_span *s = gh_heap_span_at(k->h, &k->span, a);
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
	const struct plan *pl = plan_of(k, id);
	for (uint64_t off = 0; pl && off + t->size <= size; off += t->size)
		run_plan(k, pl, a + off, t->size, 0);
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
 * makes pending behind the sweep waits for the next one, which starts at
 * the lowest word made pending meanwhile (sweep_start).  A list whose nodes
 * lie each below the one before types a node per sweep: each sweep starting
 * at the first word, or ending at the last, made that a scan of the whole
 * pending set per node. */
static void drain(struct typer *k, size_t *vi)
{
	size_t at = 0, word = 0; /* the sweep's next word; the word bits were taken from */
	uint64_t bits = 0;        /* taken, not yet queued */
	uint32_t queue[LOOKAHEAD];
	unsigned head = 0, queued = 0;
	struct ival v;
	for (;;) {
		/* The sweep runs LOOKAHEAD objects ahead of the walk, starting
		 * the read of each object's bytes. */
		while (queued < LOOKAHEAD) {
			if (!bits) {
				size_t w = npending(k) ? next_pending(k, at) : SIZE_MAX;
				if (w == SIZE_MAX)
					break;
				at = w + 1;
				word = w;
				bits = take_pending(k, w);
				continue;
			}
			uint32_t i = (uint32_t)(word * 64 + (size_t)__builtin_ctzll(bits));
			bits &= bits - 1;
			prefetch_object(k, i);
			queue[(head + queued++) % LOOKAHEAD] = i;
		}
		if (queued) {
			uint32_t i = queue[head];
			head = (head + 1) % LOOKAHEAD;
			queued--;
			walk_object(k, &k->h->objs[i]);
		} else if (npending(k)) {
			at = sweep_start(k); /* what was made pending behind the sweep */
		} else if (next_value(k, vi, &v)) {
			walk(k, v.addr, v.id, 0);
		} else if (k->nbatch) {
			/* Nothing was pending: what this makes pending starts at
			 * low, not past where the sweep ended. */
			flush(k);
			at = sweep_start(k);
		} else if (k->pl && pipe_active(k)) {
			/* What the applier types becomes pending: look again soon. */
			gh_thread_pause();
		} else {
			break;
		}
	}
}

struct gh_error *gh_heap_type_objects(struct gh_heap *h, struct gh_types *T, struct gh_typing_stats *st)
{
	pthread_t pop;
	bool popping = gh_threads() > 1 && gh_thread_start(&pop, gh_heap_populate, h);
	memset(st, 0, sizeof(*st));
	struct typer k = { .h = h, .p = h->p, .T = T, .st = st, .heap_lo = h->nspans ? h->spans[0].base : 0,
			   .low = SIZE_MAX };
	k.nwords = (size_t)h->nobjs / 64 + 1;
	k.pending = calloc(k.nwords, sizeof(*k.pending));
	k.summary = calloc(k.nwords / 64 + 1, sizeof(*k.summary));
	k.summary2 = calloc(k.nwords / 4096 + 1, sizeof(*k.summary2));
	if (!k.pending || !k.summary || !k.summary2) {
		free(k.pending);
		free(k.summary);
		free(k.summary2);
		return &gh_error_nomem;
	}
	double t0 = gh_phase_begin();
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
			if (gh_obj_type(o) || gh_obj_allocating(h, o))
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
			gh_obj_set_type(o, id);
			st->from_headers++;
			st->typed_objects++;
			st->typed_bytes += gh_span_obj_size(h, s);
		}
	}
	gh_phase_end("typing: header types", t0);
	t0 = gh_phase_begin();
	pipe_start(&k);
	/* Then walked in address order, reading the heap front to back. */
	for (uint32_t si = 0; si < h->nspans; si++) {
		const struct gh_span *s = &h->spans[si];
		if (s->ptrmode == GH_PTR_HEADER || s->ptrmode == GH_PTR_LARGE_TYPE)
			for (uint32_t i = s->first; i < s->first + s->nobjs; i++)
				if (gh_obj_type(&h->objs[i]))
					walk_object(&k, &h->objs[i]);
	}
	struct globals_ctx g = { .k = &k };
	gh_dwarf_foreach_variable(h->p->dw, global, &g);
	type_stacks(&k);
	gh_phase_end("typing: seeds walked", t0);
	t0 = gh_phase_begin();
	size_t vi = 0;
	drain(&k, &vi);
	gh_phase_end("typing: propagation", t0);
	t0 = gh_phase_begin();
	/* Then the map headers nothing typed reached, by their buckets, and
	 * what their entries reach.  The applier is idle (drain waited for it):
	 * these are applied here, one by one. */
	type_map_headers(&k);
	drain(&k, &vi);
	pipe_stop(&k);
	gh_phase_end("typing: map headers", t0);
	if (popping)
		pthread_join(pop, NULL);
	free(k.batch);
	free(k.scratch);
	free(k.pending);
	free(k.summary);
	free(k.summary2);
	free(k.vals);
	free(k.vseen);
	free(k.closures);
	gh_map_shapes_free(k.shapes);
	for (size_t i = 0; i < k.nplans; i++)
		free(k.plans[i]);
	free(k.plans);
	free(k.builder);
	return NULL;
}
