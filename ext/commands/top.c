/* goheap top: the biggest retainers. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../util/sort.h"
#include "../graph/graph.h"
#include "../heap/heap.h"
#include "../runtime/types.h"
#include "../util/strutil.h"
#include "commands.h"

struct agg {
	char *name;
	uint64_t retained, shallow, count;
	uint32_t v; /* representative vertex (by object / root) */
};

static int by_retained(const void *a, const void *b)
{
	const struct agg *x = a, *y = b;
	if (x->retained != y->retained)
		return x->retained < y->retained ? 1 : -1;
	int c = strcmp(x->name ? x->name : "", y->name ? y->name : "");
	return c ? c : (x->v > y->v) - (x->v < y->v);
}

/* Whether row a ranks below row b (by_retained, unnamed rows). */
static bool ranks_below(const struct agg *a, const struct agg *b)
{
	return a->retained < b->retained || (a->retained == b->retained && a->v > b->v);
}

/* The n objects that retain the most, in a heap whose root is the least
 * of them: one pass over the vertices, memory for n rows, not a row per
 * object sorted whole. */
static struct gh_error *top_objects(const struct gh_graph *g, uint64_t n, struct agg **out, size_t *nout)
{
	size_t cap = n < g->h->nobjs ? (size_t)n : g->h->nobjs, k = 0;
	struct agg *rows = calloc(cap + 1, sizeof(*rows));
	if (!rows)
		return &gh_error_nomem;
	for (uint32_t v = 1 + g->nroots; v < g->nv && cap; v++) {
		if (!gh_reachable(g, v))
			continue;
		struct agg a = { .retained = g->retained[v], .v = v };
		size_t i;
		if (k < cap) { /* sift up */
			for (i = k++; i && ranks_below(&a, &rows[(i - 1) / 2]); i = (i - 1) / 2)
				rows[i] = rows[(i - 1) / 2];
		} else if (ranks_below(&rows[0], &a)) { /* replace the least, sift down */
			for (i = 0; 2 * i + 1 < k;) {
				size_t c = 2 * i + 1;
				if (c + 1 < k && ranks_below(&rows[c + 1], &rows[c]))
					c++;
				if (!ranks_below(&rows[c], &a))
					break;
				rows[i] = rows[c];
				i = c;
			}
		} else {
			continue;
		}
		rows[i] = a;
	}
	for (size_t i = 0; i < k; i++) {
		rows[i].shallow = gh_vertex_size(g, rows[i].v);
		rows[i].count = 1;
	}
	*out = rows;
	*nout = k;
	return NULL;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct agg *)a)->name, ((const struct agg *)b)->name);
}

/* Merges rows with equal names (sorted by name first). */
static size_t merge(struct agg *rows, size_t n)
{
	gh_sort(rows, n, sizeof(*rows), by_name);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && !strcmp(rows[m - 1].name, rows[i].name)) {
			rows[m - 1].retained += rows[i].retained;
			rows[m - 1].shallow += rows[i].shallow;
			rows[m - 1].count += rows[i].count;
			free(rows[i].name);
		} else {
			rows[m++] = rows[i];
		}
	}
	return m;
}

/* The root a vertex hangs from in the dominator tree ("" if the super-root
 * dominates it directly: several roots share it). */
static void dominator_root(struct gh_program *p, const struct gh_graph *g, uint32_t v, char *buf, size_t n)
{
	uint32_t steps = 0;
	while (v && gh_vertex_is_obj(g, v) && steps++ < g->nv)
		v = g->idom[v];
	if (!v)
		snprintf(buf, n, "(several roots)");
	else
		gh_cmd_vertex_name(p, g, v, buf, n);
}

/* Instances of a type not dominated by another instance of the same type:
 * a walk of the dominator tree keeping, per type, how many ancestors on the
 * current path have it. */
static struct gh_error *top_types(struct gh_program *p, const struct gh_graph *g, struct agg **out, size_t *nout)
{
	uint32_t nv = g->nv;
	uint32_t *coff = calloc((size_t)nv + 1, sizeof(*coff)), *kids = malloc((size_t)nv * sizeof(*kids));
	uint32_t *stack = malloc((size_t)nv * sizeof(*stack));
	uint8_t *entered = calloc(nv / 8 + 1, 1);
	uint32_t maxtype = 0;
	for (uint32_t i = 0; i < g->h->nobjs; i++)
		if (gh_obj_type(&g->h->objs[i]) > maxtype)
			maxtype = gh_obj_type(&g->h->objs[i]);
	uint32_t *active = calloc((size_t)maxtype + 1, sizeof(*active));
	struct agg *rows = calloc((size_t)maxtype + 2, sizeof(*rows));
	struct gh_error *err = NULL;
	if (!coff || !kids || !stack || !entered || !active || !rows) {
		err = &gh_error_nomem;
		goto out;
	}
	for (uint32_t v = 1; v < nv; v++)
		if (gh_reachable(g, v))
			coff[g->idom[v] + 1]++;
	for (uint32_t v = 0; v < nv; v++)
		coff[v + 1] += coff[v];
	{
		uint32_t *cur = malloc((size_t)nv * sizeof(*cur));
		if (!cur) {
			err = &gh_error_nomem;
			goto out;
		}
		memcpy(cur, coff, (size_t)nv * sizeof(*cur));
		for (uint32_t v = 1; v < nv; v++)
			if (gh_reachable(g, v))
				kids[cur[g->idom[v]]++] = v;
		free(cur);
	}
	uint32_t sp = 0;
	stack[sp++] = 0;
	while (sp) {
		uint32_t v = stack[sp - 1];
		uint32_t t = gh_vertex_is_obj(g, v) ? gh_obj_type(&g->h->objs[gh_vertex_obj(g, v)]) : 0;
		if ((entered[v / 8] >> (v % 8)) & 1) { /* leaving v */
			sp--;
			if (t)
				active[t]--;
			continue;
		}
		entered[v / 8] |= (uint8_t)(1u << (v % 8));
		if (t) {
			if (!active[t]) {
				rows[t].retained += g->retained[v];
				rows[t].count++;
				rows[t].v = v;
			}
			rows[t].shallow += gh_vertex_size(g, v);
			active[t]++;
		}
		for (uint32_t e = coff[v]; e < coff[v + 1]; e++)
			stack[sp++] = kids[e];
	}
	/* Name each type by a representative instance (arrays keep their element type's row). */
	size_t n = 0;
	for (uint32_t t = 1; t <= maxtype; t++) {
		if (!rows[t].count)
			continue;
		const struct gh_type *ty = NULL;
		struct gh_types *T;
		struct gh_error *e = gh_cmd_types(p, &T);
		if (!e)
			ty = gh_type_get(T, t);
		gh_error_free(e);
		rows[n] = rows[t];
		rows[n].name = strdup(ty ? ty->name : "?");
		if (!rows[n].name) {
			err = &gh_error_nomem;
			goto out;
		}
		n++;
	}
	*out = rows;
	*nout = n;
	rows = NULL;
out:
	free(coff);
	free(kids);
	free(stack);
	free(entered);
	free(active);
	free(rows);
	return err;
}

struct gh_error *gh_cmd_top(struct gh_program *p, int argc, char **argv, struct gh_out *o)
{
	const char *by = "object";
	uint64_t n = 20;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--by") && i + 1 < argc)
			by = argv[++i];
		else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			if (!gh_parse_u64(argv[++i], &n))
				return gh_errorf(GH_ERR_USAGE, "-n takes a count (0: all)");
		} else
			return gh_errorf(GH_ERR_USAGE, "usage: top [--by object|type|root|goroutine|package] [-n N]");
	}
	if (strcmp(by, "object") && strcmp(by, "type") && strcmp(by, "root") && strcmp(by, "goroutine") &&
	    strcmp(by, "package"))
		return gh_errorf(GH_ERR_USAGE, "--by takes object, type, root, goroutine or package");
	bool goroutines = !strcmp(by, "goroutine");
	struct gh_graph *g;
	/* Rows of roots are named by their roots and need only what each root
	 * retains: no types, no dominator tree. */
	if (!strcmp(by, "object") || !strcmp(by, "type"))
		GH_TRY(gh_cmd_graph(p, &g));
	else
		GH_TRY(gh_cmd_graph_roots(p, &g));
	struct agg *rows = NULL;
	size_t nrows = 0;
	char name[600];
	if (!strcmp(by, "type")) {
		GH_TRY(top_types(p, g, &rows, &nrows));
	} else if (!strcmp(by, "object") && n) {
		GH_TRY(top_objects(g, n, &rows, &nrows));
	} else {
		bool objs = !strcmp(by, "object");
		rows = calloc(objs ? g->h->nobjs + 1 : g->nroots + 1, sizeof(*rows));
		if (!rows)
			return &gh_error_nomem;
		/* Roots are vertices 1..nroots, objects the rest. */
		uint32_t lo = objs ? 1 + g->nroots : 1, hi = objs ? g->nv : 1 + g->nroots;
		for (uint32_t v = lo; v < hi; v++) {
			if (!gh_reachable(g, v))
				continue;
			if (goroutines && g->roots[v - 1].kind != GH_ROOT_STACK)
				continue;
			struct agg *a = &rows[nrows];
			if (!strcmp(by, "package")) {
				const char *rn = g->roots[v - 1].name, *dot = strrchr(rn, '/');
				dot = strchr(dot ? dot : rn, '.');
				a->name = gh_strndup(rn, dot ? (size_t)(dot - rn) : strlen(rn));
			} else {
				a->name = NULL; /* named at output, for the rows shown */
			}
			if (!strcmp(by, "package") && !a->name) {
				free(rows);
				return &gh_error_nomem;
			}
			a->retained = g->retained[v];
			a->shallow = gh_vertex_size(g, v);
			a->count = 1;
			a->v = v;
			nrows++;
		}
		if (!strcmp(by, "package"))
			nrows = merge(rows, nrows);
	}
	gh_sort(rows, nrows, sizeof(*rows), by_retained);
	struct gh_node *r = gh_out_root(o);
	gh_put_str(r, "by", by);
	gh_put_bytes(r, "reachable_bytes", g->reachable_bytes);
	gh_put_u64(r, "unreachable_objects", g->h->nobjs - g->reachable_objects);
	gh_put_bytes(r, "unreachable_bytes", g->h->st.slot_bytes - g->reachable_bytes);
	if (g->stack_warning)
		gh_out_warn(o, "goroutine stacks are not roots: %s", g->stack_warning);
	struct gh_node *t = gh_put_table(r, "top");
	for (size_t i = 0; i < nrows && (!n || i < n); i++) {
		struct gh_node *row = gh_table_row(t);
		gh_put_bytes(row, "retained", rows[i].retained);
		gh_put_bytes(row, "shallow", rows[i].shallow);
		gh_put_u64(row, "count", rows[i].count);
		if (rows[i].name)
			gh_put_str(row, "name", rows[i].name);
		else {
			gh_cmd_vertex_name(p, g, rows[i].v, name, sizeof(name));
			gh_put_str(row, "name", name);
		}
		if (!strcmp(by, "object")) {
			dominator_root(p, g, rows[i].v, name, sizeof(name));
			gh_put_str(row, "held_by", name);
		}
	}
	for (size_t i = 0; i < nrows; i++)
		free(rows[i].name);
	free(rows);
	return NULL;
}
