/* goheap why: paths from roots to an object. */
#include <inttypes.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "../graph/graph.h"
#include "../runtime/goroutines.h"
#include "../util/strutil.h"
#include "../util/timings.h"
#include "commands.h"

#define NONE UINT32_MAX

/* Reverse breadth-first search from the target: parent[v] is the next hop
 * from v towards the target on a shortest path.  Excluded vertices are not
 * crossed. */
static struct gh_error *reverse_bfs(const struct gh_graph *g, uint32_t target, const uint8_t *excluded, uint32_t *next)
{
	/* The edges reversed, each row's sources rising. */
	uint32_t *poff = NULL, *preds = NULL, *queue = malloc((size_t)g->nv * sizeof(*queue));
	double t0 = gh_phase_begin();
	struct gh_error *err = queue ? gh_graph_sources(g, NULL, g->nv, &poff, &preds) : &gh_error_nomem;
	gh_phase_end("edges reversed", t0);
	if (err) {
		free(queue);
		return err;
	}
	for (uint32_t v = 0; v < g->nv; v++)
		next[v] = NONE;
	uint32_t qh = 0, qt = 0;
	next[target] = target;
	queue[qt++] = target;
	while (qh < qt) {
		uint32_t v = queue[qh++];
		for (uint32_t e = poff[v]; e < poff[v + 1]; e++) {
			uint32_t u = preds[e];
			if (next[u] != NONE || (excluded && ((excluded[u / 8] >> (u % 8)) & 1)))
				continue;
			next[u] = v;
			queue[qt++] = u;
		}
	}
	free(poff);
	free(queue);
	free(preds);
	return NULL;
}

static void put_path(struct gh_program *p, const struct gh_graph *g, struct gh_node *list, uint32_t root,
		     const uint32_t *next, uint32_t target)
{
	struct gh_node *path = gh_list_add(list);
	char name[600], label[400];
	gh_cmd_vertex_name(p, g, root, name, sizeof(name));
	gh_put_str(path, "root", name);
	struct gh_node *t = gh_put_table(path, "hops");
	uint32_t prev = 0, hops = 0;
	for (uint32_t v = root;; v = next[v]) {
		struct gh_node *row = gh_table_row(t);
		gh_cmd_vertex_name(p, g, v, name, sizeof(name));
		gh_cmd_edge_label(p, g, prev, v, label, sizeof(label));
		gh_put_str(row, "via", label);
		gh_put_str(row, "holder", name);
		if (gh_vertex_is_obj(g, v))
			gh_put_addr(row, "address", gh_obj_addr(&g->h->objs[gh_vertex_obj(g, v)]));
		else
			gh_put_addr(row, "address", g->roots[v - 1].addr);
		gh_put_bytes(row, "size", gh_vertex_size(g, v));
		gh_put_bytes(row, "retains", g->retained[v]);
		prev = v;
		if (v == target || ++hops > g->nv)
			break;
	}
	gh_put_u64(path, "length", hops);
}

static struct gh_error *why_one(struct gh_program *p, struct gh_graph *g, uint64_t addr, uint64_t max,
			       const char *exclude, struct gh_node *r)
{
	struct gh_heap *h = g->h;
	const struct gh_object *ob = gh_heap_find(h, addr);
	if (!ob) {
		/* A goroutine's stack: say whose, and what it holds. */
		struct gh_goroutines *gs;
		struct gh_error *gerr = gh_goroutines_load(p, &gs);
		for (size_t i = 0; !gerr && i < gs->n; i++) {
			const struct gh_goroutine *gr = &gs->gs[i];
			if (addr >= gr->stack_lo && addr < gr->stack_hi)
				return gh_errorf(GH_ERR_NOT_FOUND,
						 "0x%" PRIx64 " is in the stack of goroutine %" PRIu64 " [%s] %s, not in a heap object: stacks are roots (see 'goheap goroutine %" PRIu64 " locals')",
						 addr, gr->goid, gr->wait ? gr->wait : "?",
						 gr->user_start ? gr->user_start : gr->start_func ? gr->start_func : "?", gr->goid);
		}
		gh_error_free(gerr);
		const struct gh_segment *s = gh_segment_at(p->t, addr);
		return gh_errorf(GH_ERR_NOT_FOUND, "0x%" PRIx64 " is not in a live heap object: %s", addr,
				 !s ? "it is not in the target's memory"
				 : gh_heap_span_of(h, addr) ? "it is a free slot of a heap span (the object there was freed)"
				 : "it is memory outside the Go heap (a global, a goroutine stack, or runtime memory)");
	}
	uint32_t target = gh_obj_vertex(g, (uint32_t)(ob - h->objs));
	char name[600];
	gh_cmd_vertex_name(p, g, target, name, sizeof(name));
	gh_put_str(r, "object", name);
	gh_put_bytes(r, "size", gh_obj_size(h, ob));
	gh_put_bytes(r, "retains", g->retained[target]);
	if (!gh_reachable(g, target)) {
		gh_put_str(r, "status", gh_obj_garbage(h, ob)
						? "garbage: unmarked at the last GC, not yet swept"
						: "unreachable: no root reaches it; it is garbage the next GC frees");
		gh_put_list(r, "paths");
		return NULL;
	}
	gh_put_str(r, "status", "reachable");
	uint8_t *excluded = NULL;
	if (exclude) {
		regex_t re;
		if (regcomp(&re, exclude, REG_EXTENDED | REG_NOSUB))
			return gh_errorf(GH_ERR_USAGE, "--exclude: invalid regular expression '%s'", exclude);
		excluded = calloc(g->nv / 8 + 1, 1);
		if (!excluded) {
			regfree(&re);
			return &gh_error_nomem;
		}
		for (uint32_t v = 1; v < g->nv; v++) {
			if (v == target)
				continue;
			gh_cmd_vertex_name(p, g, v, name, sizeof(name));
			if (!regexec(&re, name, 0, NULL, 0))
				excluded[v / 8] |= (uint8_t)(1u << (v % 8));
		}
		regfree(&re);
	}
	uint32_t *next = malloc((size_t)g->nv * sizeof(*next));
	struct gh_error *err = next ? reverse_bfs(g, target, excluded, next) : &gh_error_nomem;
	if (err) {
		free(next);
		free(excluded);
		return err;
	}
	/* One path per root that reaches the object, shortest first. */
	uint32_t *rootsv = malloc(((size_t)g->nroots + 1) * sizeof(*rootsv)), nr = 0;
	uint32_t *len = malloc(((size_t)g->nroots + 1) * sizeof(*len));
	if (!rootsv || !len) {
		free(rootsv);
		free(len);
		free(next);
		free(excluded);
		return &gh_error_nomem;
	}
	for (uint32_t v = 1; v <= g->nroots; v++) {
		if (next[v] == NONE)
			continue;
		uint32_t l = 0;
		for (uint32_t x = v; x != target && l <= g->nv; x = next[x])
			l++;
		uint32_t k = nr++;
		while (k && len[k - 1] > l) { /* insertion sort by length */
			rootsv[k] = rootsv[k - 1];
			len[k] = len[k - 1];
			k--;
		}
		rootsv[k] = v;
		len[k] = l;
	}
	struct gh_node *paths = gh_put_list(r, "paths");
	for (uint32_t i = 0; i < nr && (!max || i < max); i++)
		put_path(p, g, paths, rootsv[i], next, target);
	gh_put_u64(r, "roots_reaching", nr);
	if (!nr)
		gh_put_str(r, "note", exclude ? "every path crosses an excluded holder" : "no path found");
	free(rootsv);
	free(len);
	free(next);
	free(excluded);
	return NULL;
}

struct gh_error *gh_cmd_why(struct gh_program *p, int argc, char **argv, struct gh_out *o)
{
	uint64_t max = 3;
	const char *exclude = NULL;
	int naddr = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--all"))
			max = 0;
		else if (!strcmp(argv[i], "--max") && i + 1 < argc) {
			if (!gh_parse_u64(argv[++i], &max) || !max)
				return gh_errorf(GH_ERR_USAGE, "--max takes a positive count");
		} else if (!strcmp(argv[i], "--exclude") && i + 1 < argc)
			exclude = argv[++i];
		else {
			uint64_t a;
			GH_TRY(gh_cmd_address(argv[i], &a));
			naddr++;
		}
	}
	if (!naddr)
		return gh_errorf(GH_ERR_USAGE, "usage: why ADDR... [--all | --max N] [--exclude REGEX]");
	struct gh_graph *g;
	GH_TRY(gh_cmd_graph(p, &g));
	struct gh_node *list = gh_put_list(gh_out_root(o), "why");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--all"))
			continue;
		if (!strcmp(argv[i], "--max") || !strcmp(argv[i], "--exclude")) {
			i++;
			continue;
		}
		uint64_t a;
		GH_TRY(gh_cmd_address(argv[i], &a));
		GH_TRY(why_one(p, g, a, max, exclude, gh_list_add(list)));
	}
	return NULL;
}
