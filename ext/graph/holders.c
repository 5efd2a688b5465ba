/* Who holds an object: its owner (the dominator chain from the root that
 * alone keeps it) or, when several roots reach it, each of them with a path.
 *
 * The dominator tree answers most of it.  Every vertex hangs, below the
 * super-root, from a "top" vertex: a root, or an object the super-root
 * dominates directly (reachable from several roots).  An object under a root
 * r is reachable from r only: roots have no incoming edges but the
 * super-root's, so a path from any other root would avoid r.  Hence the
 * roots reaching an object are found by searching backwards through objects
 * whose top is not a root only (the shared part of the graph), and stopping
 * at the first vertex of each root's own subtree: that root reaches it.
 *
 * Costs: one pass over the edges keeps the edges into shared objects as
 * rows of sources (gh_graph_sources: 4 bytes an edge, 4 bytes a shared object, rows
 * found by the objects' rank in a bit set of them); the top of each vertex
 * is memoised with path compression (4 bytes per vertex); all searches
 * together visit at most as many vertices as the graph has vertices and
 * edges, after which they report that they were cut short. */
#include <stdlib.h>
#include <string.h>

#include "../util/vec.h"
#include "graph.h"

#define CHAIN_MAX 32        /* dominator chain vertices kept in a path */
#define MAX_HOLDER_NAMES 64 /* distinct root names reported per vertex */

struct gh_holders {
	const struct gh_graph *g;
	uint32_t *top;       /* per vertex: top vertex + 1; 0 not yet known */
	struct gh_vertex_set shared; /* the shared objects */
	uint32_t *poff;      /* per shared object, by rank: its row in from */
	uint32_t *from;      /* edges into shared objects: their sources, rising */
	uint64_t budget;     /* vertices searches may still visit */
};

GH_VEC(u32vec, uint32_t)

static bool shared_obj(const struct gh_graph *g, uint32_t v)
{
	return gh_vertex_is_obj(g, v) && gh_reachable(g, v) && g->idom[v] == 0;
}

void gh_holders_free(struct gh_holders *hs)
{
	if (!hs)
		return;
	free(hs->top);
	free(hs->shared.bits);
	free(hs->shared.rank);
	free(hs->poff);
	free(hs->from);
	free(hs);
}

struct gh_error *gh_holders_new(const struct gh_graph *g, struct gh_holders **out)
{
	if (!g->idom)
		return gh_errorf(GH_ERR_MISSING, "holders need the dominator tree");
	struct gh_holders *hs = calloc(1, sizeof(*hs));
	if (!hs || !(hs->top = calloc(g->nv, sizeof(*hs->top)))) {
		gh_holders_free(hs);
		return &gh_error_nomem;
	}
	hs->g = g;
	hs->budget = (uint64_t)g->nv + g->nedges;
	/* The shared objects as a bit set, read once per edge below: an eighth
	 * of a byte per vertex stays in the cache where idom does not. */
	size_t nwords = g->nv / 64 + 1;
	struct gh_vertex_set *sh = &hs->shared;
	if (!(sh->bits = calloc(nwords, sizeof(*sh->bits))) || !(sh->rank = malloc((nwords + 1) * sizeof(*sh->rank)))) {
		gh_holders_free(hs);
		return &gh_error_nomem;
	}
	for (uint32_t v = 0; v < g->nv; v++)
		if (shared_obj(g, v))
			sh->bits[v / 64] |= 1ull << (v % 64);
	uint32_t nshared = 0;
	for (size_t w = 0; w < nwords; w++) {
		sh->rank[w] = nshared;
		nshared += (uint32_t)__builtin_popcountll(sh->bits[w]);
	}
	sh->rank[nwords] = nshared;
	/* The edges from reached vertices into shared objects, reversed. */
	struct gh_error *err = gh_graph_sources(g, sh, nshared, &hs->poff, &hs->from);
	if (err) {
		gh_holders_free(hs);
		return err;
	}
	*out = hs;
	return NULL;
}

/* The vertex the super-root immediately dominates on v's branch of the
 * dominator tree (v reachable, not the super-root). */
static uint32_t top_of(struct gh_holders *hs, uint32_t v)
{
	const struct gh_graph *g = hs->g;
	uint32_t x = v;
	for (uint32_t steps = 0; !hs->top[x] && g->idom[x] && steps < g->nv; steps++)
		x = g->idom[x];
	uint32_t t = hs->top[x] ? hs->top[x] - 1 : x;
	for (uint32_t y = v, steps = 0; y != x && steps < g->nv; y = g->idom[y], steps++)
		hs->top[y] = t + 1;
	hs->top[x] = t + 1;
	return t;
}

/* Appends the dominator chain below anc down to v (anc excluded, v
 * included), keeping the CHAIN_MAX - 1 vertices nearest v. */
static bool push_chain(const struct gh_graph *g, uint32_t anc, uint32_t v, struct u32vec *out)
{
	uint32_t tmp[CHAIN_MAX];
	size_t n = 0;
	for (uint32_t x = v; x != anc && x && n < CHAIN_MAX - 1; x = g->idom[x])
		tmp[n++] = x;
	while (n) {
		uint32_t *s = u32vec_push(out);
		if (!s)
			return false;
		*s = tmp[--n];
	}
	return true;
}

struct gh_error *gh_owner_chain(struct gh_holders *hs, uint32_t v, struct gh_path *out)
{
	struct u32vec p = { 0 };
	uint32_t t = top_of(hs, v);
	uint32_t *s = u32vec_push(&p);
	if (!s || !push_chain(hs->g, t, v, &p)) {
		free(p.data);
		return &gh_error_nomem;
	}
	*s = t;
	out->v = p.data;
	out->n = p.len;
	return NULL;
}

/* Visited vertices of one search: vertex -> the next vertex towards the
 * target (open addressing; vertex 0, the super-root, is never visited). */
struct vmap {
	uint32_t *key, *val;
	size_t cap, n;
};

static uint32_t *vmap_slot(struct vmap *m, uint32_t k)
{
	size_t i = (k * 0x9E3779B1u) & (m->cap - 1);
	while (m->key[i] && m->key[i] != k)
		i = (i + 1) & (m->cap - 1);
	return &m->key[i];
}

static uint32_t vmap_get(struct vmap *m, uint32_t k)
{
	uint32_t *s = vmap_slot(m, k);
	return *s ? m->val[s - m->key] : 0;
}

static bool vmap_put(struct vmap *m, uint32_t k, uint32_t v)
{
	if ((m->n + 1) * 2 > m->cap) {
		struct vmap nm = { calloc(m->cap * 2, sizeof(uint32_t)), calloc(m->cap * 2, sizeof(uint32_t)), m->cap * 2, 0 };
		if (!nm.key || !nm.val) {
			free(nm.key);
			free(nm.val);
			return false;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->key[i]) {
				uint32_t *s = vmap_slot(&nm, m->key[i]);
				*s = m->key[i];
				nm.val[s - nm.key] = m->val[i];
			}
		nm.n = m->n;
		free(m->key);
		free(m->val);
		*m = nm;
	}
	uint32_t *s = vmap_slot(m, k);
	if (!*s)
		m->n++;
	*s = k;
	m->val[s - m->key] = v;
	return true;
}

/* The path from root r to the target: follow next; a step that is no edge
 * was a dominator link, filled in with the chain between. */
static bool build_path(const struct gh_graph *g, struct vmap *m, uint32_t r, uint32_t target, struct u32vec *p)
{
	p->len = 0;
	uint32_t *s = u32vec_push(p);
	if (!s)
		return false;
	*s = r;
	for (uint32_t x = r, steps = 0; x != target && steps <= m->n; steps++) {
		uint32_t y = vmap_get(m, x);
		if (!y)
			break;
		if (gh_has_edge(g, x, y)) {
			if (!(s = u32vec_push(p)))
				return false;
			*s = y;
		} else if (!push_chain(g, x, y, p)) {
			return false;
		}
		x = y;
	}
	return true;
}

struct gh_error *gh_holders_of(struct gh_holders *hs, uint32_t v, gh_holder_fn fn, void *arg, bool *truncated)
{
	const struct gh_graph *g = hs->g;
	*truncated = false;
	if (v == 0 || !gh_reachable(g, v))
		return NULL;
	struct vmap m = { calloc(64, sizeof(uint32_t)), calloc(64, sizeof(uint32_t)), 64, 0 };
	struct u32vec queue = { 0 }, path = { 0 };
	const char *names[MAX_HOLDER_NAMES];
	size_t nnames = 0;
	struct gh_error *err = NULL;
	if (!m.key || !m.val) {
		err = &gh_error_nomem;
		goto out;
	}
	/* Start from the top of v's branch: a root holds v alone; an object
	 * several roots reach is where the search begins. */
	uint32_t t = top_of(hs, v), *q;
	if (!vmap_put(&m, v, v) || (t != v && !vmap_put(&m, t, v)) || !(q = u32vec_push(&queue))) {
		err = &gh_error_nomem;
		goto out;
	}
	*q = t;
	for (size_t qi = 0; qi < queue.len && !err && !*truncated; qi++) {
		uint32_t x = queue.data[qi];
		if (!gh_vertex_is_obj(g, x)) { /* a root: reported, not searched past */
			const char *name = g->roots[x - 1].name;
			bool seen = false;
			for (size_t k = 0; k < nnames && !seen; k++)
				seen = !strcmp(names[k], name);
			if (seen)
				continue;
			if (nnames == MAX_HOLDER_NAMES)
				break;
			names[nnames++] = name;
			if (!build_path(g, &m, x, v, &path)) {
				err = &gh_error_nomem;
				break;
			}
			if (!fn(arg, &(struct gh_path){ path.data, path.len }))
				break;
			continue;
		}
		/* x is a shared object: a root's subtree is never searched. */
		if (!gh_set_has(&hs->shared, x))
			continue;
		uint32_t r = gh_set_rank(&hs->shared, x);
		for (uint32_t i = hs->poff[r]; i < hs->poff[r + 1]; i++) {
			uint32_t u = hs->from[i];
			if (vmap_get(&m, u))
				continue;
			if (!hs->budget) {
				*truncated = true;
				break;
			}
			hs->budget--;
			/* u is a root, a shared object (searched further), or in
			 * the subtree of a root or of a shared object: its top. */
			uint32_t next = x, at = u;
			if (gh_vertex_is_obj(g, u) && g->idom[u]) {
				if (!vmap_put(&m, u, x)) {
					err = &gh_error_nomem;
					break;
				}
				next = u;
				at = top_of(hs, u);
				if (vmap_get(&m, at))
					continue;
			}
			if (!vmap_put(&m, at, next) || !(q = u32vec_push(&queue))) {
				err = &gh_error_nomem;
				break;
			}
			*q = at;
		}
	}
out:
	free(m.key);
	free(m.val);
	free(queue.data);
	free(path.data);
	return err;
}
