/* What each root retains, without the dominator tree.
 *
 * The roots are the super-root's only successors and no edge leads back
 * into one, so an object is dominated by root r exactly when r is the only
 * root that reaches it.  Labelling every vertex with the roots that reach
 * it, reduced to "none", "only r" or "several", therefore gives each root's
 * retained size, and reachability, from one traversal: a label only rises
 * (none < only r < several; two different roots make several), and a
 * vertex whose label rises is scanned again to pass it on, so each vertex
 * is scanned at most twice and the result does not depend on the order.
 * This is what `top --by root`, `roots` and the goroutines' retained sizes
 * need; it takes a label per vertex, where the dominators take five arrays
 * and the reversed edges.  Labels are 2 bytes when there are fewer than
 * 65535 roots: the labels of a 10M-object heap then fit in the cache, and
 * reading one per edge is what the pass waits on.
 *
 * Each thread (one per CPU) has a work list: a ring of RING vertices in
 * front of an overflow stack, so that a vertex's row offset is fetched when
 * it enters the ring, its row and then its targets' labels while the
 * vertices ahead of it are scanned (most rows are short: a look ahead
 * inside the row would miss them).  Labels rise by compare-and-swap, and
 * the thread that raises a label scans the vertex; a thread out of work
 * takes from a shared pool, which holds the roots at first and then what a
 * busy thread moves there from its overflow when another is waiting.
 *
 * The graph may be partial (gh_graph_build_roots): the roots' rows only.
 * An object's edges are then its pointer words, read from the heap and
 * resolved as the graph would resolve them (the page table, else the span
 * table): on the benchmark heap this takes about as long as building the
 * graph and labelling it, and half the memory, the graph's 143 MiB never
 * being made.  An object's words are read and resolved when it is
 * LABELS_AHEAD entries from being scanned, its targets kept in its ring
 * slot and their labels fetched meanwhile. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../util/threads.h"
#include "../util/vec.h"
#include "graph_internal.h"

#define RING 128        /* a power of two */
#define ROW_AHEAD 6      /* edges: how far ahead a long row's labels are fetched */
#define ROWS_AHEAD 96    /* ring entries: how far ahead rows are fetched */
#define LABELS_AHEAD 48  /* and the labels of their first LABELS_ROW targets */
#define LABELS_ROW 8
#define SHARE 1024       /* vertices moved to or from the pool at once */
#define SLOT_EDGES 32    /* a partial graph's object: its targets found ahead, up to this many */
#define VISIT_AHEAD 8    /* an object scanned in place: targets resolved this far ahead of their offer */
#define NOT_FOUND UINT32_MAX

GH_VEC(u32vec, uint32_t)

/* What the threads share. */
struct pool {
	const struct gh_graph *g;
	const struct gh_pages *pages; /* a partial graph's objects: their pointers resolved */
	void *label;        /* 2 or 4 bytes a vertex (width) */
	uint64_t *edges;    /* bit per vertex: it may have edges (one without is not scanned) */
	unsigned width;
	uint32_t several;   /* the label of a vertex several roots reach */
	pthread_mutex_t mu;
	pthread_cond_t cv;  /* work in the pool, or nobody working */
	struct u32vec v;    /* vertices to scan; under mu */
	unsigned working;   /* threads not waiting; under mu */
	unsigned waiting;   /* threads waiting for work: read without mu as a hint */
	bool nomem;         /* under mu */
};

/* One thread's work list. */
struct work {
	struct pool *pl;
	const struct gh_graph *g;
	const void *label;
	uint32_t ring[RING];
	uint32_t head, len;
	struct u32vec over; /* when the ring is full */
	bool nomem;
	/* In a partial graph, an object's pointers are read and resolved
	 * LABELS_AHEAD entries before it is scanned, and its targets' labels
	 * fetched: per ring slot, how many (NOT_FOUND: not done; the object
	 * is then read when scanned) and which. */
	uint32_t nfound[RING];
	uint32_t found[RING][SLOT_EDGES];
};

/* Label access for a width the callers pass as a constant: each loop below
 * is compiled once per width. */
static inline __attribute__((always_inline)) uint32_t get(const void *l, unsigned width, uint32_t v)
{
	return width == 2 ? __atomic_load_n(&((const uint16_t *)l)[v], __ATOMIC_RELAXED)
			  : __atomic_load_n(&((const uint32_t *)l)[v], __ATOMIC_RELAXED);
}
/* Raises v's label from was to x; false if another thread changed it first. */
static inline __attribute__((always_inline)) bool raise(void *l, unsigned width, uint32_t v, uint32_t was, uint32_t x)
{
	if (width == 2) {
		uint16_t w16 = (uint16_t)was;
		return __atomic_compare_exchange_n(&((uint16_t *)l)[v], &w16, (uint16_t)x, false, __ATOMIC_RELAXED,
						   __ATOMIC_RELAXED);
	}
	return __atomic_compare_exchange_n(&((uint32_t *)l)[v], &was, x, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

/* Where a vertex's edges start: its row's offset, or in a partial graph
 * an object's record (its address), then its first bytes. */
static inline void fetch_row(const struct gh_graph *g, uint32_t v)
{
	if (g->partial && gh_vertex_is_obj(g, v))
		__builtin_prefetch(&g->h->objs[gh_vertex_obj(g, v)]);
	else
		__builtin_prefetch(&g->off[v]);
}
static inline void fetch_edges(const struct gh_graph *g, uint32_t v)
{
	if (!g->partial || !gh_vertex_is_obj(g, v)) {
		__builtin_prefetch(&g->adj[g->off[v]]);
		return;
	}
	const void *d = gh_view(g->h->p->t, gh_obj_addr(&g->h->objs[gh_vertex_obj(g, v)]), 8);
	if (d)
		__builtin_prefetch(d);
}

static bool put(struct work *k, uint32_t v)
{
	if (k->len == RING) {
		uint32_t *s = u32vec_push(&k->over);
		if (!s)
			return false;
		*s = v;
		return true;
	}
	uint32_t i = (k->head + k->len++) % RING;
	k->ring[i] = v;
	k->nfound[i] = NOT_FOUND;
	fetch_row(k->g, v);
	return true;
}

static void find_ahead(struct work *k, unsigned width, uint32_t slot);

/* The next vertex to scan and its ring slot (false: none left), topping
 * the ring up from the overflow stack. */
static inline __attribute__((always_inline)) bool take(struct work *k, unsigned width, uint32_t *v, uint32_t *slot)
{
	while (k->len < RING && k->over.len) {
		uint32_t w = k->over.data[--k->over.len], i = (k->head + k->len++) % RING;
		k->ring[i] = w;
		k->nfound[i] = NOT_FOUND;
		fetch_row(k->g, w);
	}
	if (!k->len)
		return false;
	*v = k->ring[k->head];
	*slot = k->head;
	k->head = (k->head + 1) % RING;
	k->len--;
	if (k->len > ROWS_AHEAD)
		fetch_edges(k->g, k->ring[(k->head + ROWS_AHEAD) % RING]);
	uint32_t x = k->len > LABELS_AHEAD ? k->ring[(k->head + LABELS_AHEAD) % RING] : 0;
	if (x && k->g->partial && gh_vertex_is_obj(k->g, x)) {
		find_ahead(k, width, (k->head + LABELS_AHEAD) % RING);
	} else if (x) { /* a row's first targets' labels */
		uint32_t e = k->g->off[x], end = k->g->off[x + 1];
		for (uint32_t i = e; i < end && i < e + LABELS_ROW; i++)
			__builtin_prefetch((const char *)k->label + (size_t)k->g->adj[i] * width);
	}
	return true;
}

/* With work to spare and a thread waiting: SHARE vertices to the pool. */
static void share(struct work *k)
{
	struct pool *pl = k->pl;
	pthread_mutex_lock(&pl->mu);
	uint32_t *d = u32vec_append(&pl->v, SHARE);
	if (d) {
		k->over.len -= SHARE;
		memcpy(d, k->over.data + k->over.len, SHARE * sizeof(*d));
		pthread_cond_broadcast(&pl->cv);
	}
	pthread_mutex_unlock(&pl->mu);
}

/* Refills an empty work list from the pool, waiting while another thread
 * works and may share; false when all the work is done. */
static bool refill(struct work *k)
{
	struct pool *pl = k->pl;
	pthread_mutex_lock(&pl->mu);
	pl->nomem |= k->nomem;
	pl->working--;
	while (!pl->v.len && pl->working && !pl->nomem) {
		__atomic_add_fetch(&pl->waiting, 1, __ATOMIC_RELAXED);
		pthread_cond_wait(&pl->cv, &pl->mu);
		__atomic_sub_fetch(&pl->waiting, 1, __ATOMIC_RELAXED);
	}
	bool more = pl->v.len && !pl->nomem;
	if (more) {
		pl->working++;
		size_t n = pl->v.len < SHARE ? pl->v.len : SHARE;
		pl->v.len -= n;
		for (size_t i = 0; i < n && !k->nomem; i++)
			k->nomem = !put(k, pl->v.data[pl->v.len + i]);
		pl->nomem |= k->nomem;
	} else {
		pthread_cond_broadcast(&pl->cv); /* nobody works: the waiters are done too */
	}
	pthread_mutex_unlock(&pl->mu);
	return more;
}

/* Passes label lv on to w; false when out of memory. */
static inline __attribute__((always_inline)) bool offer(struct work *k, unsigned width, uint32_t w, uint32_t lv)
{
	struct pool *pl = k->pl;
	uint32_t lw = get(pl->label, width, w);
	while (lw != lv && lw != pl->several && !raise(pl->label, width, w, lw, lw ? pl->several : lv))
		lw = get(pl->label, width, w);
	if (lw == lv || lw == pl->several || !(pl->edges[w / 64] >> (w % 64) & 1))
		return true;
	return put(k, w);
}

/* The object a pointer word of a partial graph's object leads to, as the
 * graph resolves it; false for none. */
static inline bool resolve(const struct work *k, uint64_t value, uint32_t *obj)
{
	const struct gh_graph *g = k->g;
	if (!value)
		return false;
	int how = k->pl->pages ? gh_pages_resolve(g->h, k->pl->pages, value, obj) : GH_RESOLVE_SEARCH;
	if (how == GH_RESOLVE_SEARCH) {
		const struct gh_object *o = gh_heap_find(g->h, value);
		if (!o)
			return false;
		*obj = (uint32_t)(o - g->h->objs);
		return true;
	}
	return how == GH_RESOLVE_OBJECT;
}

/* Calls fn(arg, offset, value) for each pointer word of vertex v's object. */
static void object_words(const struct work *k, uint32_t v, gh_ptr_fn fn, void *arg)
{
	const struct gh_graph *g = k->g;
	struct gh_object *o = &g->h->objs[gh_vertex_obj(g, v)];
	const struct gh_span *s = gh_heap_span_of(g->h, gh_obj_addr(o));
	if (s)
		gh_span_pointers_in(g->h, s, o, 0, UINT64_MAX, fn, arg);
}

/* Scanning an object in place: each target offered the label, VISIT_AHEAD
 * targets after its label was fetched (a big array has thousands). */
struct visit {
	struct work *k;
	uint32_t lv, n;
	uint32_t q[VISIT_AHEAD];
};
static inline __attribute__((always_inline)) void visit(void *arg, uint64_t value, unsigned width)
{
	struct visit *vi = arg;
	uint32_t obj;
	if (vi->k->nomem || !resolve(vi->k, value, &obj))
		return;
	uint32_t w = gh_obj_vertex(vi->k->g, obj), *q = &vi->q[vi->n++ % VISIT_AHEAD];
	__builtin_prefetch((const char *)vi->k->pl->label + (size_t)w * width);
	if (vi->n > VISIT_AHEAD && !offer(vi->k, width, *q, vi->lv))
		vi->k->nomem = true;
	*q = w;
}
/* The targets still queued when the object's words are done. */
static inline __attribute__((always_inline)) void visit_end(struct visit *vi, unsigned width)
{
	for (uint32_t i = vi->n > VISIT_AHEAD ? vi->n - VISIT_AHEAD : 0; i < vi->n && !vi->k->nomem; i++)
		if (!offer(vi->k, width, vi->q[i % VISIT_AHEAD], vi->lv))
			vi->k->nomem = true;
}
static void visit_2(void *arg, uint64_t off, uint64_t value)
{
	(void)off;
	visit(arg, value, 2);
}
static void visit_4(void *arg, uint64_t off, uint64_t value)
{
	(void)off;
	visit(arg, value, 4);
}

/* Finding an object's targets ahead: kept in its ring slot, their labels
 * fetched; more than SLOT_EDGES and it is read again when scanned. */
struct ahead {
	struct work *k;
	uint32_t slot, n;
	unsigned width;
};
static void gather(void *arg, uint64_t off, uint64_t value)
{
	(void)off;
	struct ahead *a = arg;
	uint32_t obj;
	if (a->n > SLOT_EDGES || !resolve(a->k, value, &obj))
		return;
	if (a->n == SLOT_EDGES) {
		a->n++;
		return;
	}
	uint32_t w = gh_obj_vertex(a->k->g, obj);
	a->k->found[a->slot][a->n++] = w;
	__builtin_prefetch((const char *)a->k->label + (size_t)w * a->width);
}
static void find_ahead(struct work *k, unsigned width, uint32_t slot)
{
	struct ahead a = { k, slot, 0, width };
	object_words(k, k->ring[slot], gather, &a);
	k->nfound[slot] = a.n <= SLOT_EDGES ? a.n : NOT_FOUND;
}

/* One thread's labelling, until no thread has work. */
static inline __attribute__((always_inline)) void label_all(struct work *k, unsigned width)
{
	const struct gh_graph *g = k->g;
	struct pool *pl = k->pl;
	uint32_t v, slot;
	do {
		while (!k->nomem && take(k, width, &v, &slot)) {
			uint32_t lv = get(pl->label, width, v);
			if (g->partial && gh_vertex_is_obj(g, v) && k->nfound[slot] != NOT_FOUND) {
				/* Copied: offering may put a vertex in this slot, now free. */
				uint32_t n = k->nfound[slot], t[SLOT_EDGES];
				memcpy(t, k->found[slot], n * sizeof(*t));
				for (uint32_t i = 0; i < n && !k->nomem; i++)
					if (!offer(k, width, t[i], lv))
						k->nomem = true;
			} else if (g->partial && gh_vertex_is_obj(g, v)) {
				struct visit vi = { .k = k, .lv = lv };
				object_words(k, v, width == 2 ? visit_2 : visit_4, &vi);
				visit_end(&vi, width);
			} else {
				uint32_t end = g->off[v + 1];
				for (uint32_t e = g->off[v]; e < end && !k->nomem; e++) {
					if (e + ROW_AHEAD < end && e + ROW_AHEAD >= g->off[v] + LABELS_ROW)
						__builtin_prefetch((const char *)pl->label + (size_t)g->adj[e + ROW_AHEAD] * width);
					if (!offer(k, width, g->adj[e], lv))
						k->nomem = true;
				}
			}
			if (k->over.len >= 2 * SHARE && __atomic_load_n(&pl->waiting, __ATOMIC_RELAXED))
				share(k);
		}
	} while (refill(k));
}

static void *label_2(void *arg)
{
	label_all(arg, 2);
	return NULL;
}
static void *label_4(void *arg)
{
	label_all(arg, 4);
	return NULL;
}

struct gh_error *gh_graph_root_retained(struct gh_graph *g)
{
	if (g->retained)
		return NULL; /* by the dominators, or already */
	struct pool pl = { .g = g, .width = g->nroots < UINT16_MAX ? 2 : 4 };
	struct work ks[GH_MAX_PARTS];
	/* A partial graph's objects are read through the target: several
	 * threads only where it allows (and with the pointer masks frozen). */
	unsigned n = gh_parts(g->nv >= (1u << 12) && (!g->partial || gh_target_threadsafe(g->h->p->t)));
	struct gh_pages pages = { 0 };
	if (g->partial && gh_pages_make(g->h, &pages))
		pl.pages = &pages;
	memset(ks, 0, sizeof(ks));
	pl.several = pl.width == 2 ? UINT16_MAX : UINT32_MAX;
	pl.label = calloc(g->nv, pl.width);
	pl.edges = calloc(g->nv / 64 + 1, sizeof(uint64_t));
	uint64_t *ret = calloc((size_t)g->nroots + 1, sizeof(*ret));
	uint8_t *reach = calloc(g->nv / 8 + 1, 1);
	struct gh_error *err = &gh_error_nomem;
	if (!pl.label || !pl.edges || !ret || !reach || (g->nroots && !u32vec_append(&pl.v, g->nroots)))
		goto out;
	for (uint32_t v = 0; v < (g->partial ? g->nroots + 1 : g->nv); v++)
		pl.edges[v / 64] |= (uint64_t)(g->off[v] != g->off[v + 1]) << (v % 64);
	for (uint32_t si = 0; g->partial && si < g->h->nspans; si++) { /* objects that may hold pointers */
		const struct gh_span *s = &g->h->spans[si];
		for (uint32_t i = s->first; !s->noscan && i < s->first + s->nobjs; i++) {
			uint32_t v = gh_obj_vertex(g, i);
			pl.edges[v / 64] |= 1ull << (v % 64);
		}
	}
	/* The roots label themselves and wait in the pool. */
	if (pl.width == 2)
		((uint16_t *)pl.label)[0] = (uint16_t)pl.several;
	else
		((uint32_t *)pl.label)[0] = pl.several;
	for (uint32_t r = 1; r <= g->nroots; r++) {
		if (pl.width == 2)
			((uint16_t *)pl.label)[r] = (uint16_t)r;
		else
			((uint32_t *)pl.label)[r] = r;
		pl.v.data[r - 1] = r;
	}
	pthread_mutex_init(&pl.mu, NULL);
	pthread_cond_init(&pl.cv, NULL);
	pl.working = n;
	for (unsigned i = 0; i < n; i++)
		ks[i] = (struct work){ .pl = &pl, .g = g, .label = pl.label };
	if (g->partial && n > 1)
		gh_heap_masks_freeze(g->h);
	gh_run_parts(ks, sizeof(ks[0]), n, pl.width == 2 ? label_2 : label_4);
	if (g->partial && n > 1)
		gh_heap_masks_thaw(g->h);
	pthread_cond_destroy(&pl.cv);
	pthread_mutex_destroy(&pl.mu);
	for (unsigned i = 0; i < n; i++)
		free(ks[i].over.data);
	if (pl.nomem)
		goto out;
	/* Sizes, span by span (no lookup per object). */
	g->reachable_objects = g->reachable_bytes = 0;
	for (uint32_t u = 0; u <= g->nroots; u++)
		reach[u / 8] |= (uint8_t)(1u << (u % 8));
	const struct gh_heap *h = g->h;
	for (uint32_t si = 0; si < h->nspans; si++) {
		const struct gh_span *s = &h->spans[si];
		for (uint32_t i = s->first; i < s->first + s->nobjs; i++) {
			uint32_t u = gh_obj_vertex(g, i), l = pl.width == 2 ? get(pl.label, 2, u) : get(pl.label, 4, u);
			if (!l)
				continue;
			reach[u / 8] |= (uint8_t)(1u << (u % 8));
			g->reachable_objects++;
			g->reachable_bytes += s->elemsize; /* gh_vertex_size */
			if (l != pl.several)
				ret[l] += s->elemsize;
		}
	}
	ret[0] = g->reachable_bytes;
	g->reach = reach;
	g->retained = ret;
	reach = NULL;
	ret = NULL;
	err = NULL;
out:
	gh_pages_free(&pages);
	free(pl.label);
	free(pl.edges);
	free(pl.v.data);
	free(ret);
	free(reach);
	return err;
}
