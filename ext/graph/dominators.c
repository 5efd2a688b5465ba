/* Dominators by Semi-NCA (Georgiadis, Tarjan and Werneck, "Finding
 * dominators in practice", 2006): semidominators as in Lengauer-Tarjan,
 * with path compression, then each immediate dominator as the nearest
 * common ancestor of the vertex's parent and semidominator, found by
 * climbing the dominator tree built so far.  It needs no buckets of
 * vertices by semidominator, and everything is indexed by preorder number,
 * so the temporaries are five 4-byte arrays per vertex with edges and the
 * search's non-tree edges, reversed (kept by the search as it meets them
 * and laid out as rows on several threads); what is no longer needed is
 * freed before the results are allocated.  The numbering by vertex (4
 * bytes each) becomes the immediate dominators in place.
 *
 * Vertices without edges (about half of a heap's objects: strings' bytes,
 * pointer-free values) take no part: such a leaf is nobody's predecessor,
 * parent or dominator, and its immediate dominator is the nearest common
 * ancestor of its predecessors in the dominator tree, which for most is
 * their only predecessor.  The search records a leaf's first predecessor
 * in the leaf's own numbering entry and any further one on a list; only
 * the vertices with edges are numbered, and the per-vertex temporaries
 * are sized for them.
 *
 * No recursion: depth-first search uses an explicit stack and path
 * compression reverses the path's links, because heap graphs have paths
 * millions of vertices long (linked lists).  Retained size of a vertex =
 * its own size plus the retained sizes of the vertices it immediately
 * dominates. */
#include <stdlib.h>
#include <string.h>

#include "../util/rows.h"
#include "../util/timings.h"
#include "../util/vec.h"
#include "graph.h"

#define NONE UINT32_MAX
#define AHEAD 8 /* edges: how far ahead the semidominators prefetch */
#define ROW_AHEAD 6 /* edges: how far ahead the search prefetches in a row */
/* dfnum of a vertex: its preorder number (below REACHED_LEAF); for a leaf
 * reached, REACHED_LEAF | the preorder number of a predecessor (the first
 * met, later the dominator); LEAF and NONE: a leaf and a vertex with edges
 * not reached yet.  Preorder numbers stay below MAX_NUMBERED. */
#define REACHED_LEAF (UINT32_C(1) << 31)
#define LEAF (UINT32_MAX - 1)
#define MAX_NUMBERED (REACHED_LEAF - 2)

GH_VEC(u64vec, uint64_t)

struct snca {
	uint32_t n;           /* vertices reached; preorder numbers 0..n-1 */
	uint32_t *vertex;     /* preorder -> vertex */
	uint32_t *parent;     /* preorder -> parent's preorder in the DFS tree */
	uint32_t *semi;       /* preorder -> semidominator's preorder */
	uint32_t *label;      /* min semi on the compressed path; then idom */
	uint32_t *ancestor;   /* link-eval forest (NONE: a root) */
	uint32_t *poff, *preds; /* predecessors by preorder, as preorder numbers */
	struct u64vec more;   /* (leaf << 32 | predecessor's preorder), after a leaf's first */
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
	free(t->more.data);
	memset(t, 0, sizeof(*t));
}

/* A vertex's immediate dominator from its dfnum entry, once idom (by
 * preorder) and the leaves' entries are final; 0 for one not reached. */
static uint32_t to_idom(const struct snca *t, const uint32_t *idom, uint32_t j)
{
	if (j < REACHED_LEAF)
		return t->vertex[idom[j]];
	return j < LEAF ? t->vertex[j & ~REACHED_LEAF] : 0;
}

/* Preorder numbering from the super-root of the vertices with edges.  An
 * edge the search meets that is not a tree edge has both ends numbered: it
 * is kept, reversed, as the target's row holding the source (through feed,
 * when there is one, gathered on another thread).  An edge into
 * a leaf is recorded as the leaf's (see dfnum above).  dfnum is the
 * caller's; stack and cursor are scratch arrays, both indexed by stack
 * depth (a vertex's place in the edge table is kept beside it on the
 * stack, not in a per-vertex array written at random). */
static struct gh_error *dfs(const struct gh_graph *g, struct snca *t, uint32_t *dfnum, uint32_t *stack,
			    uint32_t *cursor, struct gh_rows *back, struct gh_rows_feed *feed)
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
		/* The row's next targets, while this one is looked at: on the
		 * row's first step all of the first ROW_AHEAD, then one more each
		 * step (most rows are short, and a prefetch only some steps
		 * ahead would miss them all). */
		if (c == g->off[v]) {
			for (uint32_t k = c + 1; k < end && k <= c + ROW_AHEAD; k++)
				__builtin_prefetch(&dfnum[g->adj[k]]);
		} else if (c + ROW_AHEAD < end) {
			__builtin_prefetch(&dfnum[g->adj[c + ROW_AHEAD]]);
		}
		uint32_t j = dfnum[w], pv = dfnum[v];
		if (j < REACHED_LEAF) {
			if (!(feed ? gh_rows_feed_add(feed, j, pv) : gh_rows_add(back, j, pv)))
				return &gh_error_nomem;
		} else if (j < LEAF) {
			uint64_t *m = u64vec_push(&t->more);
			if (!m)
				return &gh_error_nomem;
			*m = (uint64_t)w << 32 | pv;
		} else if (j == LEAF) {
			dfnum[w] = REACHED_LEAF | pv;
		} else {
			dfnum[w] = t->n;
			t->parent[t->n] = pv;
			t->vertex[t->n++] = w;
			stack[sp] = w;
			cursor[sp++] = g->off[w];
		}
	}
	return NULL;
}

/* The minimum label on the forest path from v, compressing the path, while
 * w is processed: the vertices numbered above w are in the forest (linked
 * to their parents), the others are roots, their own labels (so neither
 * array needs filling first).  The path is climbed with its ancestor links
 * turned to point down (it is its own stack: no array of n entries for a
 * path that long), then compressed top down, each link restored from the
 * vertex before it. */
static uint32_t eval(struct snca *t, uint32_t v, uint32_t w)
{
	if (v <= w)
		return v;
	uint32_t down = NONE, x = v;
	while (t->ancestor[x] > w) {
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
	/* What gh_graph_root_retained left, if it ran: made again, whole. */
	free(g->reach);
	free(g->retained);
	g->reach = NULL;
	g->retained = NULL;
	g->reachable_objects = g->reachable_bytes = 0;
	struct snca t = { 0 };
	struct gh_rows back = { 0 };
	size_t nv = g->nv, ni = 1; /* vertices with edges, and the super-root */
	struct gh_error *err = &gh_error_nomem;
	double t0 = gh_phase_begin();
	uint32_t *dfnum = malloc(nv * sizeof(*dfnum));
	if (!dfnum)
		goto out;
	dfnum[0] = NONE;
	for (uint32_t v = 1; v < nv; v++) {
		bool edges = g->off[v] != g->off[v + 1];
		dfnum[v] = edges ? NONE : LEAF;
		ni += edges;
	}
	if (ni > MAX_NUMBERED) {
		err = gh_errorf(GH_ERR_UNSUPPORTED, "%zu objects hold pointers; dominators handle up to 2^31",
				ni);
		goto out;
	}
	t.vertex = malloc(ni * sizeof(uint32_t));
	t.parent = malloc(ni * sizeof(uint32_t));
	/* semi and ancestor serve as the search's stack and cursors first. */
	t.semi = malloc(ni * sizeof(uint32_t));
	t.ancestor = malloc(ni * sizeof(uint32_t));
	if (!t.vertex || !t.parent || !t.semi || !t.ancestor || (err = gh_rows_init(&back, (uint32_t)ni)))
		goto out;
	/* With a CPU to spare, the kept edges are gathered on it. */
	struct gh_rows_feed *feed = gh_rows_feed_start(&back);
	err = dfs(g, &t, dfnum, t.semi, t.ancestor, &back, feed);
	struct gh_error *ferr = feed ? gh_rows_feed_finish(feed) : NULL;
	if (err || (err = ferr))
		goto out;
	err = &gh_error_nomem;
	if (!(g->reach = calloc(nv / 8 + 1, 1)))
		goto out;
	for (uint32_t v = 0; v < nv; v++)
		if (dfnum[v] < LEAF)
			g->reach[v / 8] |= (uint8_t)(1u << (v % 8));
	if ((err = gh_rows_lay_out(&back, t.n, &t.poff, &t.preds)))
		goto out;
	gh_rows_free(&back);
	gh_phase_end("dominators: search", t0);
	t0 = gh_phase_begin();
	err = &gh_error_nomem;
	if (!(t.label = malloc((size_t)t.n * sizeof(uint32_t))))
		goto out;
	/* Semidominators, in reverse preorder: the parent, or a predecessor's
	 * least semidominator on its path up the processed forest (one
	 * numbered below w is not in the forest yet: itself). */
	t.semi[0] = 0;
	for (uint32_t w = t.n - 1; w >= 1; w--) {
		uint32_t s = t.parent[w];
		/* The edges are read from the last down, so the forest links
		 * of those AHEAD below are fetched while this one is looked at. */
		for (uint32_t e = t.poff[w + 1]; e-- > t.poff[w];) {
			if (e >= AHEAD) {
				__builtin_prefetch(&t.ancestor[t.preds[e - AHEAD]]);
				__builtin_prefetch(&t.label[t.preds[e - AHEAD]]);
			}
			uint32_t u = eval(&t, t.preds[e], w);
			if (u < s)
				s = u;
		}
		t.semi[w] = t.label[w] = s;
		t.ancestor[w] = t.parent[w];
	}
	gh_phase_end("dominators: semidominators", t0);
	t0 = gh_phase_begin();
	free(t.ancestor);
	free(t.poff);
	t.ancestor = t.poff = NULL;
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
	/* A leaf with several predecessors: the nearest common ancestor of
	 * them all (a dominator is numbered below what it dominates). */
	for (size_t i = 0; i < t.more.len; i++) {
		uint64_t m = t.more.data[i];
		uint32_t leaf = (uint32_t)(m >> 32), a = dfnum[leaf] & ~REACHED_LEAF, b = (uint32_t)m;
		while (a != b) {
			if (a > b)
				a = idom[a];
			else
				b = idom[b];
		}
		dfnum[leaf] = REACHED_LEAF | a;
	}
	free(t.more.data);
	t.more = (struct u64vec){ 0 };
	/* The retained sizes take over the predecessors' memory: its pages
	 * are in place (80 MB of fresh pages cost 20 K page faults). */
	if (!(g->retained = realloc(t.preds, nv * sizeof(*g->retained))))
		goto out;
	t.preds = NULL;
	memset(g->retained, 0, nv * sizeof(*g->retained));
	/* The numbering becomes the immediate dominators (by vertex), entry
	 * by entry.  Own sizes go in span by span (no lookup per object), a
	 * leaf's also into its dominator's; then each other vertex's total
	 * into its dominator's, children before parents. */
	for (uint32_t v = 0; v <= g->nroots; v++)
		dfnum[v] = to_idom(&t, idom, dfnum[v]);
	const struct gh_heap *h = g->h;
	for (uint32_t si = 0; si < h->nspans; si++) {
		const struct gh_span *s = &h->spans[si];
		for (uint32_t i = s->first; i < s->first + s->nobjs; i++) {
			uint32_t v = gh_obj_vertex(g, i), j = dfnum[v];
			dfnum[v] = to_idom(&t, idom, j);
			if (j >= LEAF)
				continue;
			g->retained[v] += s->elemsize; /* gh_vertex_size */
			g->reachable_objects++;
			g->reachable_bytes += s->elemsize;
			if (j >= REACHED_LEAF)
				g->retained[dfnum[v]] += s->elemsize;
		}
	}
	g->idom = dfnum;
	dfnum = NULL;
	for (uint32_t w = t.n; w-- > 1;) /* the dominator's vertex from preorder: near w, not at random */
		g->retained[t.vertex[idom[w]]] += g->retained[t.vertex[w]];
	gh_phase_end("dominators: tree, sizes", t0);
	err = NULL;
out:
	free(dfnum);
	gh_rows_free(&back);
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
