/* Dominators by Semi-NCA (Georgiadis, Tarjan and Werneck, "Finding
 * dominators in practice", 2006): semidominators as in Lengauer-Tarjan,
 * with path compression, then each immediate dominator as the nearest
 * common ancestor of the vertex's parent and semidominator, found by
 * climbing the dominator tree built so far.  It needs no buckets, and
 * everything is indexed by preorder number, so the temporaries are five
 * 4-byte arrays per reached vertex and the reversed edges that reach back in
 * preorder (the reversal runs on several threads, each with a row counter
 * array of its own in the room the search's cursors left); what is no
 * longer needed is freed before the results are allocated.
 *
 * No recursion: depth-first search uses an explicit stack and path
 * compression reverses the path's links, because heap graphs have paths
 * millions of vertices long (linked lists).  Retained size of a vertex =
 * its own size plus the retained sizes of the vertices it immediately
 * dominates. */
#include <stdlib.h>
#include <string.h>

#include "../util/hugepage.h"
#include "../util/threads.h"
#include "graph.h"

#define NONE UINT32_MAX
#define AHEAD 16 /* edges: how far ahead the reversal prefetches */

struct snca {
	uint32_t n;           /* vertices reached; preorder numbers 0..n-1 */
	uint32_t *vertex;     /* preorder -> vertex */
	uint32_t *parent;     /* preorder -> parent's preorder in the DFS tree */
	uint32_t *semi;       /* preorder -> semidominator's preorder */
	uint32_t *label;      /* min semi on the compressed path; then idom */
	uint32_t *ancestor;   /* link-eval forest (NONE: a root) */
	uint32_t *poff, *preds; /* predecessors by preorder, as preorder numbers */
};

static void snca_free(struct snca *t)
{
	free(t->vertex);
	free(t->parent);
	free(t->semi);
	free(t->label);
	free(t->ancestor);
	free(t->poff);
	free(t->preds);
	memset(t, 0, sizeof(*t));
}

/* Preorder numbering from the super-root.  dfnum (vertex -> preorder,
 * NONE: unreached) is the caller's; stack and cursor are scratch arrays of
 * nv entries, both indexed by stack depth (a vertex's place in the edge
 * table is kept beside it on the stack, not in a per-vertex array written
 * at random). */
static void dfs(const struct gh_graph *g, struct snca *t, uint32_t *dfnum, uint32_t *stack, uint32_t *cursor)
{
	uint32_t sp = 0;
	dfnum[0] = 0;
	t->vertex[0] = 0;
	t->parent[0] = NONE;
	t->n = 1;
	stack[sp] = 0;
	cursor[sp++] = g->off[0];
	while (sp) {
		uint32_t v = stack[sp - 1], c = cursor[sp - 1], end = g->off[v + 1];
		if (c == end) {
			sp--;
			continue;
		}
		cursor[sp - 1] = c + 1;
		uint32_t w = g->adj[c];
		if (c + 4 < end) /* the row's next targets, while this one is looked at */
			__builtin_prefetch(&dfnum[g->adj[c + 4]]);
		if (dfnum[w] != NONE)
			continue;
		dfnum[w] = t->n;
		t->parent[t->n] = dfnum[v];
		t->vertex[t->n++] = w;
		stack[sp] = w;
		cursor[sp++] = g->off[w];
	}
}

/* The preorder number of edge e's target, prefetching that of the edge
 * AHEAD further on, and the entry of at[] that the edge AHEAD / 2 further
 * on will touch (its number was prefetched AHEAD / 2 edges ago): the
 * reversal's passes read both at random. */
static inline uint32_t target_num(const struct gh_graph *g, const uint32_t *dfnum, const uint32_t *at, uint32_t e)
{
	if (e + AHEAD < g->nedges)
		__builtin_prefetch(&dfnum[g->adj[e + AHEAD]]);
	if (e + AHEAD / 2 < g->nedges) {
		uint32_t j = dfnum[g->adj[e + AHEAD / 2]];
		if (j != NONE)
			__builtin_prefetch(&at[j + 1]);
	}
	return dfnum[g->adj[e]];
}

/* The reversal runs in parts over ranges of source vertices, one per
 * thread.  Each part counts, then fills, its own share of every row, with
 * a row counter array of its own (part 0's is poff); the shares of a row
 * lie in part order.  semi takes the least of the parts' candidates. */
struct rev_part {
	const struct gh_graph *g;
	struct snca *t;
	const uint32_t *dfnum;
	uint32_t *cnt;    /* row j's counter at j + 1 */
	uint32_t lo, hi;  /* source vertices */
	bool fill;
	bool shared;      /* other parts update semi too */
};

static void semi_min(uint32_t *semi, uint32_t i, bool shared)
{
	if (!shared) {
		if (i < *semi)
			*semi = i;
		return;
	}
	uint32_t cur = __atomic_load_n(semi, __ATOMIC_RELAXED);
	while (i < cur && !__atomic_compare_exchange_n(semi, &cur, i, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

static void *rev_pass(void *arg)
{
	struct rev_part *r = arg;
	const struct gh_graph *g = r->g;
	struct snca *t = r->t;
	/* Rows in vertex order: the edge table is read front to back. */
	for (uint32_t v = r->lo; v < r->hi; v++) {
		uint32_t i = r->dfnum[v];
		if (i == NONE)
			continue;
		for (uint32_t e = g->off[v]; e < g->off[v + 1]; e++) {
			uint32_t j = target_num(g, r->dfnum, r->cnt, e);
			if (i > j) {
				if (r->fill) /* from the end of the part's share down */
					t->preds[--r->cnt[j + 1]] = i;
				else
					r->cnt[j + 1]++;
			} else if (!r->fill) {
				semi_min(&t->semi[j], i, r->shared);
			}
		}
	}
	return NULL;
}

/* The reached vertices' predecessors, in preorder numbers; only those
 * numbered above the vertex.  One numbered below it (not yet processed
 * when the vertex is) is its own semidominator candidate: the least of
 * those goes straight into semi, so those edges are never stored. */
static struct gh_error *reverse(const struct gh_graph *g, struct snca *t, const uint32_t *dfnum)
{
	struct rev_part parts[GH_MAX_PARTS];
	unsigned n = gh_parts(g->nedges >= (1u << 16));
	if (!(t->poff = calloc((size_t)t->n + 1, sizeof(*t->poff))))
		return &gh_error_nomem;
	gh_advise_huge(t->poff, ((size_t)t->n + 1) * sizeof(*t->poff));
	for (uint32_t i = 0; i < t->n; i++)
		t->semi[i] = i;
	for (unsigned k = 0; k < n; k++) {
		parts[k] = (struct rev_part){ g, t, dfnum, t->poff, 0, g->nv, false, n > 1 };
		if (k && !(parts[k].cnt = calloc((size_t)t->n + 1, sizeof(uint32_t)))) {
			n = k; /* no room for another counter array: fewer parts */
			break;
		}
	}
	for (unsigned k = 0, v = 0; k < n; k++) { /* parts of about equal edge counts */
		parts[k].lo = v;
		while (v < g->nv && (k == n - 1 || g->off[v] < g->nedges * (k + 1) / n))
			v++;
		parts[k].hi = v;
		parts[k].shared = n > 1;
	}
	gh_run_parts(parts, sizeof(parts[0]), n, rev_pass);
	/* Row starts; each part's counter becomes the end of its share. */
	uint32_t start = 0;
	for (uint32_t j = 0; j < t->n; j++) {
		for (unsigned k = 0; k < n; k++) {
			start += parts[k].cnt[j + 1];
			parts[k].cnt[j + 1] = start;
		}
	}
	uint32_t total = start;
	struct gh_error *err = NULL;
	if (!(t->preds = malloc(((size_t)total + 1) * sizeof(*t->preds)))) {
		err = &gh_error_nomem;
	} else {
		for (unsigned k = 0; k < n; k++)
			parts[k].fill = true;
		gh_run_parts(parts, sizeof(parts[0]), n, rev_pass);
		/* Part 0's counters end at each row's start, one entry up. */
		memmove(t->poff, t->poff + 1, (size_t)t->n * sizeof(*t->poff));
		t->poff[t->n] = total;
	}
	for (unsigned k = 1; k < n; k++)
		free(parts[k].cnt);
	return err;
}

/* The minimum label on the forest path from v, compressing the path.  The
 * path is climbed with its ancestor links turned to point down (it is its
 * own stack: no array of n entries for a path that long), then compressed
 * top down, each link restored from the vertex before it. */
static uint32_t eval(struct snca *t, uint32_t v)
{
	if (t->ancestor[v] == NONE)
		return t->label[v];
	uint32_t down = NONE, x = v;
	while (t->ancestor[t->ancestor[x]] != NONE) {
		uint32_t up = t->ancestor[x];
		t->ancestor[x] = down;
		down = x;
		x = up;
	}
	for (uint32_t a = x, y = down; y != NONE;) { /* a: y's ancestor, already compressed */
		uint32_t next = t->ancestor[y];
		if (t->label[a] < t->label[y])
			t->label[y] = t->label[a];
		t->ancestor[y] = t->ancestor[a];
		a = y;
		y = next;
	}
	return t->label[v];
}

struct gh_error *gh_graph_dominators(struct gh_graph *g)
{
	if (g->idom)
		return NULL;
	struct snca t = { 0 };
	size_t nv = g->nv;
	struct gh_error *err = &gh_error_nomem;
	uint32_t *dfnum = malloc(nv * sizeof(*dfnum));
	t.vertex = malloc(nv * sizeof(uint32_t));
	t.parent = malloc(nv * sizeof(uint32_t));
	/* semi and ancestor serve as the search's stack and cursors first. */
	t.semi = malloc(nv * sizeof(uint32_t));
	t.ancestor = malloc(nv * sizeof(uint32_t));
	if (!dfnum || !t.vertex || !t.parent || !t.semi || !t.ancestor)
		goto out;
	/* Read at random, one entry per edge: fewer TLB misses in huge pages. */
	gh_advise_huge(dfnum, nv * sizeof(*dfnum));
	gh_advise_huge(t.semi, nv * sizeof(uint32_t));
	memset(dfnum, 0xff, nv * sizeof(*dfnum));
	dfs(g, &t, dfnum, t.semi, t.ancestor);
	free(t.ancestor); /* the search's cursors: room for the reversal's */
	t.ancestor = NULL;
	if (!(g->reach = calloc(nv / 8 + 1, 1)))
		goto out;
	for (uint32_t v = 0; v < nv; v++)
		if (dfnum[v] != NONE)
			g->reach[v / 8] |= (uint8_t)(1u << (v % 8));
	if ((err = reverse(g, &t, dfnum)))
		goto out;
	/* The numbering is done with: its pages become the labels (pages
	 * the kernel need not zero again). */
	t.label = dfnum;
	dfnum = NULL;
	err = &gh_error_nomem;
	if (!(t.ancestor = malloc((size_t)t.n * sizeof(uint32_t))))
		goto out;
	for (uint32_t i = 0; i < t.n; i++) {
		t.label[i] = i;
		t.ancestor[i] = NONE;
	}
	/* Semidominators, in reverse preorder: semi holds the least predecessor
	 * numbered below w already; one above gives the least semidominator
	 * on its path up the processed forest. */
	for (uint32_t w = t.n - 1; w >= 1; w--) {
		uint32_t s = t.semi[w];
		for (uint32_t e = t.poff[w]; e < t.poff[w + 1]; e++) {
			uint32_t u = eval(&t, t.preds[e]);
			if (u < s)
				s = u;
		}
		t.semi[w] = t.label[w] = s;
		t.ancestor[w] = t.parent[w];
	}
	free(t.ancestor);
	free(t.poff);
	free(t.preds);
	t.ancestor = t.poff = t.preds = NULL;
	/* Immediate dominators, in preorder: the nearest ancestor of the
	 * parent (in the dominator tree so far) numbered at most semi. */
	uint32_t *idom = t.label;
	idom[0] = 0;
	for (uint32_t w = 1; w < t.n; w++) {
		uint32_t x = t.parent[w];
		while (x > t.semi[w])
			x = idom[x];
		idom[w] = x;
	}
	free(t.semi);
	free(t.parent);
	t.semi = t.parent = NULL;
	g->idom = calloc(nv, sizeof(*g->idom));
	g->retained = calloc(nv, sizeof(*g->retained));
	if (!g->idom || !g->retained)
		goto out;
	for (uint32_t w = 1; w < t.n; w++)
		g->idom[t.vertex[w]] = t.vertex[idom[w]];
	/* Own sizes first, span by span (no lookup per object), then each
	 * vertex's total into its dominator's, children before parents. */
	const struct gh_heap *h = g->h;
	for (uint32_t si = 0; si < h->nspans; si++) {
		const struct gh_span *s = &h->spans[si];
		for (uint32_t i = s->first; i < s->first + s->nobjs; i++) {
			uint32_t v = gh_obj_vertex(g, i);
			if (gh_reachable(g, v)) {
				g->retained[v] = s->elemsize; /* gh_vertex_size */
				g->reachable_objects++;
				g->reachable_bytes += s->elemsize;
			}
		}
	}
	for (uint32_t w = t.n; w-- > 1;) {
		uint32_t v = t.vertex[w];
		g->retained[g->idom[v]] += g->retained[v];
	}
	err = NULL;
out:
	free(dfnum);
	snca_free(&t);
	if (err) {
		free(g->idom);
		free(g->retained);
		free(g->reach);
		g->reach = NULL;
		g->idom = NULL;
		g->retained = NULL;
	}
	return err;
}
