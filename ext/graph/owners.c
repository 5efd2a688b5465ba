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
 * The work list is a ring of RING vertices in front of an overflow stack:
 * a vertex's row offset is fetched when it enters the ring, its row and
 * then its targets' labels while the vertices ahead of it are scanned
 * (most rows are short: a look ahead inside the row would miss them). */
#include <stdlib.h>
#include <string.h>

#include "../util/vec.h"
#include "graph.h"

#define RING 128        /* a power of two */
#define ROW_AHEAD 6      /* edges: how far ahead a long row's labels are fetched */
#define ROWS_AHEAD 96    /* ring entries: how far ahead rows are fetched */
#define LABELS_AHEAD 48  /* and the labels of their first LABELS_ROW targets */
#define LABELS_ROW 8

GH_VEC(u32vec, uint32_t)

struct work {
	const struct gh_graph *g;
	void *label;        /* 2 or 4 bytes a vertex (width) */
	uint64_t *edges;    /* bit per vertex: it has edges (one without is not scanned) */
	unsigned width;
	uint32_t several;   /* the label of a vertex several roots reach */
	uint32_t ring[RING];
	uint32_t head, len;
	struct u32vec over; /* when the ring is full */
};

/* Label access for a width the callers pass as a constant: each loop below
 * is compiled once per width. */
static inline __attribute__((always_inline)) uint32_t get(const void *l, unsigned width, uint32_t v)
{
	return width == 2 ? ((const uint16_t *)l)[v] : ((const uint32_t *)l)[v];
}
static inline __attribute__((always_inline)) void set(void *l, unsigned width, uint32_t v, uint32_t x)
{
	if (width == 2)
		((uint16_t *)l)[v] = (uint16_t)x;
	else
		((uint32_t *)l)[v] = x;
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
	k->ring[(k->head + k->len++) % RING] = v;
	__builtin_prefetch(&k->g->off[v]);
	return true;
}

/* The next vertex to scan (false: none left), topping the ring up from the
 * overflow stack. */
static inline __attribute__((always_inline)) bool take(struct work *k, unsigned width, uint32_t *v)
{
	while (k->len < RING && k->over.len) {
		uint32_t w = k->over.data[--k->over.len];
		k->ring[(k->head + k->len++) % RING] = w;
		__builtin_prefetch(&k->g->off[w]);
	}
	if (!k->len)
		return false;
	*v = k->ring[k->head];
	k->head = (k->head + 1) % RING;
	k->len--;
	if (k->len > ROWS_AHEAD)
		__builtin_prefetch(&k->g->adj[k->g->off[k->ring[(k->head + ROWS_AHEAD) % RING]]]);
	if (k->len > LABELS_AHEAD) {
		uint32_t x = k->ring[(k->head + LABELS_AHEAD) % RING], e = k->g->off[x], end = k->g->off[x + 1];
		for (uint32_t i = e; i < end && i < e + LABELS_ROW; i++)
			__builtin_prefetch((const char *)k->label + (size_t)k->g->adj[i] * width);
	}
	return true;
}

/* Labels every vertex the roots reach; false when out of memory. */
static inline __attribute__((always_inline)) bool label_all(struct work *k, unsigned width)
{
	const struct gh_graph *g = k->g;
	void *label = k->label;
	set(label, width, 0, k->several);
	for (uint32_t r = 1; r <= g->nroots; r++) {
		set(label, width, r, r);
		if (!put(k, r))
			return false;
	}
	uint32_t v;
	while (take(k, width, &v)) {
		uint32_t lv = get(label, width, v), end = g->off[v + 1];
		for (uint32_t e = g->off[v]; e < end; e++) {
			if (e + ROW_AHEAD < end && e + ROW_AHEAD >= g->off[v] + LABELS_ROW)
				__builtin_prefetch((const char *)label + (size_t)g->adj[e + ROW_AHEAD] * width);
			uint32_t w = g->adj[e], lw = get(label, width, w);
			if (lw == lv || lw == k->several)
				continue;
			set(label, width, w, lw ? k->several : lv);
			if ((k->edges[w / 64] >> (w % 64) & 1) && !put(k, w))
				return false;
		}
	}
	return true;
}

static bool label_2(struct work *k) { return label_all(k, 2); }
static bool label_4(struct work *k) { return label_all(k, 4); }

struct gh_error *gh_graph_root_retained(struct gh_graph *g)
{
	if (g->retained)
		return NULL; /* by the dominators, or already */
	struct work k = { .g = g, .width = g->nroots < UINT16_MAX ? 2 : 4 };
	k.several = k.width == 2 ? UINT16_MAX : UINT32_MAX;
	k.label = calloc(g->nv, k.width);
	k.edges = calloc(g->nv / 64 + 1, sizeof(uint64_t));
	for (uint32_t v = 0; k.edges && v < g->nv; v++)
		k.edges[v / 64] |= (uint64_t)(g->off[v] != g->off[v + 1]) << (v % 64);
	uint64_t *ret = calloc((size_t)g->nroots + 1, sizeof(*ret));
	uint8_t *reach = calloc(g->nv / 8 + 1, 1);
	struct gh_error *err = &gh_error_nomem;
	if (!k.label || !k.edges || !ret || !reach || !(k.width == 2 ? label_2(&k) : label_4(&k)))
		goto out;
	/* Sizes, span by span (no lookup per object). */
	g->reachable_objects = g->reachable_bytes = 0;
	for (uint32_t u = 0; u <= g->nroots; u++)
		reach[u / 8] |= (uint8_t)(1u << (u % 8));
	const struct gh_heap *h = g->h;
	for (uint32_t si = 0; si < h->nspans; si++) {
		const struct gh_span *s = &h->spans[si];
		for (uint32_t i = s->first; i < s->first + s->nobjs; i++) {
			uint32_t u = gh_obj_vertex(g, i), l = k.width == 2 ? get(k.label, 2, u) : get(k.label, 4, u);
			if (!l)
				continue;
			reach[u / 8] |= (uint8_t)(1u << (u % 8));
			g->reachable_objects++;
			g->reachable_bytes += s->elemsize; /* gh_vertex_size */
			if (l != k.several)
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
	free(k.label);
	free(k.edges);
	free(ret);
	free(reach);
	free(k.over.data);
	return err;
}
