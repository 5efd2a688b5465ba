/* goheap dominators: the immediate-dominator chain of an object. */
#include <inttypes.h>

#include "../graph/graph.h"
#include "commands.h"

struct gh_error *gh_cmd_dominators(struct gh_program *p, int argc, char **argv, struct gh_out *o)
{
	if (argc != 2)
		return gh_errorf(GH_ERR_USAGE, "usage: dominators ADDR");
	uint64_t addr;
	GH_TRY(gh_cmd_address(argv[1], &addr));
	struct gh_graph *g;
	GH_TRY(gh_cmd_graph(p, &g));
	const struct gh_object *ob = gh_heap_find(g->h, addr);
	if (!ob)
		return gh_errorf(GH_ERR_NOT_FOUND, "0x%" PRIx64 " is not in a live heap object", addr);
	uint32_t v = gh_obj_vertex(g, (uint32_t)(ob - g->h->objs));
	struct gh_node *r = gh_out_root(o);
	if (!gh_reachable(g, v)) {
		gh_put_str(r, "status", "unreachable: no root reaches it (garbage)");
		gh_put_table(r, "chain");
		return NULL;
	}
	struct gh_node *t = gh_put_table(r, "chain");
	char name[600];
	for (uint32_t steps = 0; steps <= g->nv; steps++) {
		struct gh_node *row = gh_table_row(t);
		gh_cmd_vertex_name(p, g, v, name, sizeof(name));
		gh_put_str(row, "dominator", name);
		gh_put_bytes(row, "size", gh_vertex_size(g, v));
		gh_put_bytes(row, "retains", g->retained[v]);
		if (v == 0)
			break;
		v = g->idom[v];
	}
	return NULL;
}
