/* Dominators by Lengauer-Tarjan (the simple version with path compression,
 * O(m log n)), written without recursion: depth-first search, semidominator
 * evaluation and path compression all use explicit stacks, because heap
 * graphs have paths millions of vertices long (linked lists).  Retained size
 * of a vertex = its own size plus the retained sizes of the vertices it
 * immediately dominates. */
#include <stdlib.h>
#include <string.h>

#include "graph.h"

#define NONE UINT32_MAX

struct lt {
	uint32_t n;           /* vertices reached */
	uint32_t *dfnum, *vertex, *parent, *semi, *ancestor, *best, *samedom, *bhead, *bnext;
	uint32_t *poff, *preds; /* reverse CSR over reached vertices */
	uint32_t *path;       /* compression stack */
};

static void lt_free(struct lt *t)
{
	free(t->dfnum);
	free(t->vertex);
	free(t->parent);
	free(t->semi);
	free(t->ancestor);
	free(t->best);
	free(t->samedom);
	free(t->bhead);
	free(t->bnext);
	free(t->poff);
	free(t->preds);
	free(t->path);
}

static struct gh_error *dfs(const struct gh_graph *g, struct lt *t)
{
	uint32_t *stack = malloc((size_t)g->nv * sizeof(*stack));
	uint32_t *cursor = malloc((size_t)g->nv * sizeof(*cursor));
	if (!stack || !cursor) {
		free(stack);
		free(cursor);
		return &gh_error_nomem;
	}
	uint32_t sp = 0;
	t->dfnum[0] = 0;
	t->vertex[0] = 0;
	t->parent[0] = NONE;
	t->n = 1;
	cursor[0] = g->off[0];
	stack[sp++] = 0;
	while (sp) {
		uint32_t v = stack[sp - 1];
		if (cursor[v] == g->off[v + 1]) {
			sp--;
			continue;
		}
		uint32_t w = g->adj[cursor[v]++];
		if (t->dfnum[w] != NONE)
			continue;
		t->dfnum[w] = t->n;
		t->vertex[t->n++] = w;
		t->parent[w] = v;
		cursor[w] = g->off[w];
		stack[sp++] = w;
	}
	free(stack);
	free(cursor);
	return NULL;
}

static struct gh_error *reverse(const struct gh_graph *g, struct lt *t)
{
	t->poff = calloc((size_t)g->nv + 1, sizeof(*t->poff));
	if (!t->poff)
		return &gh_error_nomem;
	for (uint32_t v = 0; v < g->nv; v++)
		if (t->dfnum[v] != NONE)
			for (uint32_t e = g->off[v]; e < g->off[v + 1]; e++)
				t->poff[g->adj[e] + 1]++;
	for (uint32_t v = 0; v < g->nv; v++)
		t->poff[v + 1] += t->poff[v];
	t->preds = malloc(((size_t)t->poff[g->nv] + 1) * sizeof(*t->preds));
	uint32_t *cur = malloc((size_t)g->nv * sizeof(*cur));
	if (!t->preds || !cur) {
		free(cur);
		return &gh_error_nomem;
	}
	memcpy(cur, t->poff, (size_t)g->nv * sizeof(*cur));
	for (uint32_t v = 0; v < g->nv; v++)
		if (t->dfnum[v] != NONE)
			for (uint32_t e = g->off[v]; e < g->off[v + 1]; e++)
				t->preds[cur[g->adj[e]]++] = v;
	free(cur);
	return NULL;
}

/* The ancestor of v (in the forest linked so far) with the lowest
 * semidominator, compressing the path as the recursive version does. */
static uint32_t eval(struct lt *t, uint32_t v)
{
	uint32_t sp = 0, x = v;
	while (t->ancestor[x] != NONE && t->ancestor[t->ancestor[x]] != NONE) {
		t->path[sp++] = x;
		x = t->ancestor[x];
	}
	while (sp) {
		uint32_t y = t->path[--sp], a = t->ancestor[y];
		uint32_t b = t->best[a];
		t->ancestor[y] = t->ancestor[a];
		if (t->semi[b] < t->semi[t->best[y]])
			t->best[y] = b;
	}
	return t->best[v];
}

struct gh_error *gh_graph_dominators(struct gh_graph *g)
{
	if (g->idom)
		return NULL;
	struct lt t = { 0 };
	size_t n = g->nv;
	struct gh_error *err = NULL;
	uint32_t **arrs[] = { &t.dfnum, &t.vertex, &t.parent, &t.semi, &t.ancestor, &t.best, &t.samedom, &t.bhead,
			      &t.bnext, &t.path };
	for (size_t i = 0; i < sizeof(arrs) / sizeof(arrs[0]); i++)
		if (!(*arrs[i] = malloc(n * sizeof(uint32_t)))) {
			err = &gh_error_nomem;
			goto out;
		}
	memset(t.dfnum, 0xff, n * sizeof(uint32_t));
	memset(t.ancestor, 0xff, n * sizeof(uint32_t));
	memset(t.samedom, 0xff, n * sizeof(uint32_t));
	memset(t.bhead, 0xff, n * sizeof(uint32_t));
	if ((err = dfs(g, &t)) || (err = reverse(g, &t)))
		goto out;
	g->idom = calloc(n, sizeof(*g->idom));
	g->retained = calloc(n, sizeof(*g->retained));
	if (!g->idom || !g->retained) {
		err = &gh_error_nomem;
		goto out;
	}
	for (uint32_t i = 0; i < t.n; i++) {
		uint32_t v = t.vertex[i];
		t.semi[v] = i;
		t.best[v] = v;
	}
	for (uint32_t i = t.n - 1; i >= 1; i--) {
		uint32_t w = t.vertex[i], p = t.parent[w], s = t.dfnum[p];
		for (uint32_t e = t.poff[w]; e < t.poff[w + 1]; e++) {
			uint32_t v = t.preds[e];
			if (t.dfnum[v] == NONE)
				continue;
			uint32_t s2 = t.dfnum[v] <= t.dfnum[w] ? t.dfnum[v] : t.semi[eval(&t, v)];
			if (s2 < s)
				s = s2;
		}
		t.semi[w] = s;
		uint32_t sv = t.vertex[s];
		t.bnext[w] = t.bhead[sv];
		t.bhead[sv] = w;
		t.ancestor[w] = p;
		for (uint32_t v = t.bhead[p]; v != NONE; v = t.bnext[v]) {
			uint32_t y = eval(&t, v);
			if (t.semi[y] == t.semi[v])
				g->idom[v] = p;
			else
				t.samedom[v] = y;
		}
		t.bhead[p] = NONE;
	}
	for (uint32_t i = 1; i < t.n; i++) {
		uint32_t w = t.vertex[i];
		if (t.samedom[w] != NONE)
			g->idom[w] = g->idom[t.samedom[w]];
	}
	for (uint32_t i = t.n; i-- > 1;) {
		uint32_t w = t.vertex[i];
		g->retained[w] += gh_vertex_size(g, w);
		g->retained[g->idom[w]] += g->retained[w];
	}
out:
	lt_free(&t);
	if (err) {
		free(g->idom);
		free(g->retained);
		g->idom = NULL;
		g->retained = NULL;
	}
	return err;
}
