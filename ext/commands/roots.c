/* goheap roots: the GC roots and what each retains. */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "../graph/graph.h"
#include "../util/strutil.h"
#include "commands.h"

static int by_retained(const void *a, const void *b, void *arg)
{
	const struct gh_graph *g = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	uint64_t rx = g->retained[x], ry = g->retained[y];
	return rx != ry ? (rx < ry ? 1 : -1) : (x < y ? -1 : x > y);
}

/* Bytes reachable from the super-root (skipping the roots in `skip`), or,
 * with `seen` pre-filled, newly reachable from the roots in `from`. */
static uint64_t sweep(const struct gh_graph *g, const uint8_t *skip, const uint8_t *from, uint8_t *seen, uint32_t *stack)
{
	uint32_t sp = 0;
	uint64_t bytes = 0;
	if (!from) {
		seen[0] = 1;
		stack[sp++] = 0;
	} else {
		for (uint32_t v = 1; v <= g->nroots; v++)
			if (from[v] && !seen[v]) {
				seen[v] = 1;
				stack[sp++] = v;
			}
	}
	while (sp) {
		uint32_t v = stack[--sp];
		bytes += gh_vertex_size(g, v);
		for (uint32_t e = g->off[v]; e < g->off[v + 1]; e++) {
			uint32_t w = g->adj[e];
			if (!seen[w] && !(skip && w <= g->nroots && skip[w])) {
				seen[w] = 1;
				stack[sp++] = w;
			}
		}
	}
	return bytes;
}

/* What the roots matching re retain together: the bytes that become
 * unreachable when all of them are cleared. */
static struct gh_error *group(struct gh_program *p, const struct gh_graph *g, const char *src, struct gh_node *r)
{
	regex_t re;
	if (regcomp(&re, src, REG_EXTENDED | REG_NOSUB))
		return gh_errorf(GH_ERR_USAGE, "--group: invalid regular expression '%s'", src);
	uint8_t *in = calloc((size_t)g->nroots + 1, 1), *seen = calloc(g->nv, 1);
	uint32_t *stack = malloc((size_t)g->nv * sizeof(*stack));
	if (!in || !seen || !stack) {
		regfree(&re);
		free(in);
		free(seen);
		free(stack);
		return &gh_error_nomem;
	}
	struct gh_node *members = gh_put_list(r, "group_members");
	for (uint32_t v = 1; v <= g->nroots; v++)
		if (!regexec(&re, g->roots[v - 1].name, 0, NULL, 0)) {
			in[v] = 1;
			gh_list_str(members, g->roots[v - 1].name);
		}
	regfree(&re);
	sweep(g, in, NULL, seen, stack);
	uint64_t only = sweep(g, NULL, in, seen, stack);
	gh_put_str(r, "group", src);
	gh_put_bytes(r, "group_retains", only);
	free(in);
	free(seen);
	free(stack);
	(void)p;
	return NULL;
}

struct gh_error *gh_cmd_roots(struct gh_program *p, int argc, char **argv, struct gh_out *o)
{
	const char *kind = NULL, *grp = NULL;
	uint64_t n = 50;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--kind") && i + 1 < argc)
			kind = argv[++i];
		else if (!strcmp(argv[i], "--group") && i + 1 < argc)
			grp = argv[++i];
		else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			if (!gh_parse_u64(argv[++i], &n))
				return gh_errorf(GH_ERR_USAGE, "-n takes a count (0: all)");
		} else
			return gh_errorf(GH_ERR_USAGE, "usage: roots [--kind global|stack|finalizer|register|other] [--group REGEX] [-n N]");
	}
	struct gh_graph *g;
	/* Roots are named by DWARF, not by heap types; a group is swept over
	 * the objects' edges. */
	GH_TRY(grp ? gh_cmd_graph_edges(p, &g) : gh_cmd_graph_roots(p, &g));
	uint32_t *vs = malloc(((size_t)g->nroots + 1) * sizeof(*vs)), nv = 0;
	if (!vs)
		return &gh_error_nomem;
	for (uint32_t r = 0; r < g->nroots; r++)
		if (!kind || !strcmp(gh_root_kind_name(g->roots[r].kind), kind))
			vs[nv++] = 1 + r;
	qsort_r(vs, nv, sizeof(*vs), by_retained, g);
	struct gh_node *root = gh_out_root(o);
	struct gh_node *t = gh_put_table(root, "roots");
	for (uint32_t i = 0; i < nv && (!n || i < n); i++) {
		const struct gh_root *r = &g->roots[vs[i] - 1];
		struct gh_node *row = gh_table_row(t);
		gh_put_bytes(row, "retains", g->retained[vs[i]]);
		gh_put_u64(row, "points_to", g->off[vs[i] + 1] - g->off[vs[i]]);
		gh_put_str(row, "kind", gh_root_kind_name(r->kind));
		gh_put_addr(row, "address", r->addr);
		gh_put_str(row, "name", r->name);
	}
	gh_put_u64(root, "total", nv);
	free(vs);
	return grp ? group(p, g, grp, root) : NULL;
}
