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
 * and the reversed edges.
 *
 * The work list is a ring of RING vertices in front of an overflow stack:
 * a vertex's row offset is fetched when it enters the ring, and its row
 * while the vertices ahead of it are scanned. */
#include <stdlib.h>
#include <string.h>

#include "../util/vec.h"
#include "graph.h"

#define SEVERAL UINT32_MAX /* the label of a vertex several roots reach */
#define RING 64             /* a power of two */
#define ROW_AHEAD 6         /* edges: how far ahead a row's labels are fetched */
#define NEXT_AHEAD 8        /* ring entries: how far ahead rows are fetched */

GH_VEC(u32vec, uint32_t)

struct work {
	const struct gh_graph *g;
	uint32_t ring[RING];
	uint32_t head, len;
	struct u32vec over; /* when the ring is full */
};

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
static bool take(struct work *k, uint32_t *v)
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
	if (k->len > NEXT_AHEAD)
		__builtin_prefetch(&k->g->adj[k->g->off[k->ring[(k->head + NEXT_AHEAD) % RING]]]);
	return true;
}

struct gh_error *gh_graph_root_retained(struct gh_graph *g)
{
	if (g->retained)
		return NULL; /* by the dominators, or already */
	uint32_t *label = calloc(g->nv, sizeof(*label));
	uint64_t *ret = calloc((size_t)g->nroots + 1, sizeof(*ret));
	uint8_t *reach = calloc(g->nv / 8 + 1, 1);
	struct work k = { .g = g };
	struct gh_error *err = &gh_error_nomem;
	if (!label || !ret || !reach)
		goto out;
	label[0] = SEVERAL;
	for (uint32_t r = 1; r <= g->nroots; r++) {
		label[r] = r;
		if (!put(&k, r))
			goto out;
	}
	uint32_t v;
	while (take(&k, &v)) {
		uint32_t lv = label[v], end = g->off[v + 1];
		for (uint32_t e = g->off[v]; e < end; e++) {
			if (e + ROW_AHEAD < end)
				__builtin_prefetch(&label[g->adj[e + ROW_AHEAD]]);
			uint32_t w = g->adj[e], lw = label[w];
			if (lw == lv || lw == SEVERAL)
				continue;
			label[w] = lw ? SEVERAL : lv;
			if (!put(&k, w))
				goto out;
		}
	}
	/* Sizes, span by span (no lookup per object). */
	g->reachable_objects = g->reachable_bytes = 0;
	for (uint32_t u = 0; u <= g->nroots; u++)
		reach[u / 8] |= (uint8_t)(1u << (u % 8));
	const struct gh_heap *h = g->h;
	for (uint32_t si = 0; si < h->nspans; si++) {
		const struct gh_span *s = &h->spans[si];
		for (uint32_t i = s->first; i < s->first + s->nobjs; i++) {
			uint32_t u = gh_obj_vertex(g, i), l = label[u];
			if (!l)
				continue;
			reach[u / 8] |= (uint8_t)(1u << (u % 8));
			g->reachable_objects++;
			g->reachable_bytes += s->elemsize; /* gh_vertex_size */
			if (l != SEVERAL)
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
	free(label);
	free(ret);
	free(reach);
	free(k.over.data);
	return err;
}
