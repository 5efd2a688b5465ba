/* goheap graph: the object graph for other tools, as plain text. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../graph/graph.h"
#include "commands.h"

/* Written straight to the output file: a graph has millions of lines, too
 * many for the document model. */
struct gh_error *gh_cmd_graph_export(struct gh_program *p, int argc, char **argv, struct gh_out *o)
{
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--output") && i + 1 < argc)
			path = argv[++i];
		else
			return gh_errorf(GH_ERR_USAGE, "usage: graph --output FILE");
	}
	if (!path)
		return gh_errorf(GH_ERR_USAGE, "usage: graph --output FILE");
	struct gh_graph *g;
	GH_TRY(gh_cmd_graph(p, &g));
	FILE *f = fopen(path, "w");
	if (!f)
		return gh_errorf(GH_ERR_IO, "cannot write %s", path);
	fprintf(f, "# goheap graph: V nv nroots; then per vertex: v size idom retained reachable; then E u v\n");
	fprintf(f, "V %" PRIu32 " %" PRIu32 "\n", g->nv, g->nroots);
	for (uint32_t v = 0; v < g->nv; v++)
		fprintf(f, "%" PRIu32 " %" PRIu64 " %" PRIu32 " %" PRIu64 " %d\n", v, gh_vertex_size(g, v), g->idom[v],
			g->retained[v], gh_reachable(g, v));
	for (uint32_t u = 0; u < g->nv; u++)
		for (uint32_t e = g->off[u]; e < g->off[u + 1]; e++)
			fprintf(f, "E %" PRIu32 " %" PRIu32 "\n", u, g->adj[e]);
	bool bad = ferror(f);
	if (fclose(f) || bad)
		return gh_errorf(GH_ERR_IO, "writing %s failed", path);
	struct gh_node *r = gh_out_root(o);
	gh_put_str(r, "written", path);
	gh_put_u64(r, "vertices", g->nv);
	gh_put_u64(r, "roots", g->nroots);
	gh_put_u64(r, "edges", g->nedges);
	return NULL;
}
