/* The graph's edges reversed, as rows of sources: one pass over the edges
 * in ranges of sources of about equal edge counts, one per thread, each
 * gathered apart (util/rows.h) and laid out together in range order, so
 * that each row's sources rise. */
#include "../util/rows.h"
#include "../util/threads.h"
#include "graph.h"

struct gather {
	const struct gh_graph *g;
	const struct gh_vertex_set *set;
	uint32_t lo, hi; /* sources */
	struct gh_rows rows;
	bool nomem;
};

static void *gather_part(void *arg)
{
	struct gather *p = arg;
	const struct gh_graph *g = p->g;
	const struct gh_vertex_set *set = p->set;
	for (uint32_t u = p->lo; u < p->hi; u++) {
		if (set && !gh_reachable(g, u))
			continue;
		for (uint32_t e = g->off[u]; e < g->off[u + 1]; e++) {
			uint32_t w = g->adj[e];
			if (set && !gh_set_has(set, w))
				continue;
			if (!gh_rows_add(&p->rows, set ? gh_set_rank(set, w) : w, u)) {
				p->nomem = true;
				return NULL;
			}
		}
	}
	return NULL;
}

struct gh_error *gh_graph_sources(const struct gh_graph *g, const struct gh_vertex_set *set, uint32_t nrows,
				  uint32_t **off, uint32_t **srcs)
{
	*off = *srcs = NULL;
	struct gather parts[GH_MAX_PARTS];
	unsigned n = gh_parts(g->nedges >= (1u << 16));
	struct gh_error *err = NULL;
	for (unsigned i = 0, u = set ? 1 : 0; i < n; i++) { /* with a set, from reached vertices: not the super-root */
		parts[i] = (struct gather){ .g = g, .set = set, .lo = u };
		while (u < g->nv && (i == n - 1 || g->off[u] < g->nedges * (i + 1) / n))
			u++;
		parts[i].hi = u;
		if (!err)
			err = gh_rows_init(&parts[i].rows, nrows);
	}
	if (!err) {
		gh_run_parts(parts, sizeof(parts[0]), n, gather_part);
		for (unsigned i = 0; i < n; i++)
			if (parts[i].nomem)
				err = &gh_error_nomem;
	}
	struct gh_rows rows[GH_MAX_PARTS];
	for (unsigned i = 0; i < n; i++)
		rows[i] = parts[i].rows;
	if (!err)
		err = gh_rows_lay_out_n(rows, n, nrows, off, srcs);
	for (unsigned i = 0; i < n; i++)
		gh_rows_free(&rows[i]);
	return err;
}
