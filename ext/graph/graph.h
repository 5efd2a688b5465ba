/* The object graph: vertices are a virtual super-root (0), the roots
 * (1..nroots: each a global variable, a goroutine, a finalizer queue, ...)
 * and the heap objects (nroots+1 ..); edges are pointers, in compressed
 * sparse rows with 32-bit vertex ids.  Edge labels (field names, map keys)
 * are not stored: they are recomputed from types when a path is printed.
 *
 * Modelling each root as a vertex makes the dominator tree answer "what
 * does main.cache retain" directly: an object reachable from two roots is
 * retained by neither. */
#ifndef GH_GRAPH_H
#define GH_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../heap/heap.h"
#include "../util/error.h"

enum gh_root_kind {
	GH_ROOT_GLOBAL,   /* data or bss variable */
	GH_ROOT_STACK,    /* a goroutine's stack */
	GH_ROOT_FINALIZER,
	GH_ROOT_OTHER,
	GH_ROOT_REGISTER, /* a thread's register (conservative) */
};
/* "global", "stack", "finalizer", "other", "register". */
const char *gh_root_kind_name(enum gh_root_kind k);

struct gh_root {
	enum gh_root_kind kind;
	char *name;       /* "main.cache", "goroutine 17", "data 0x5aa788" */
	uint64_t addr;    /* where it lives (variable address, g) */
	uint64_t size;    /* bytes it covers (0 unknown) */
};

struct gh_graph {
	struct gh_heap *h;
	uint32_t nroots;
	struct gh_root *roots;
	uint32_t nv;      /* 1 + nroots + nobjs */
	uint32_t *off;    /* nv + 1 */
	uint32_t *adj;    /* edge targets, in a mapping of their own: */
	void *adj_map;
	size_t adj_map_len;
	uint64_t nedges;
	/* From gh_graph_dominators: which vertices the super-root reaches
	 * (a bit each), the immediate dominator of each vertex (0 for the
	 * super-root and unreachable vertices) and retained bytes.  From
	 * gh_graph_root_retained alone: reach, and retained for vertices
	 * 0..nroots only (idom NULL). */
	uint8_t *reach;
	uint64_t reachable_objects, reachable_bytes;
	uint32_t *idom;
	uint64_t *retained;
	uint64_t unresolved_pointers; /* pointer words into the heap that hit no object */
	/* Rows for the super-root and the roots only (gh_graph_build_roots):
	 * off has nroots + 2 entries, objects' edges are read from the heap. */
	bool partial;
	char *stack_warning;          /* why goroutine stacks are not roots (NULL: they are) */
	struct gh_place_index *place; /* gh_edge_place's index of one long row (graph.c) */
};

static inline uint32_t gh_obj_vertex(const struct gh_graph *g, uint32_t obj) { return 1 + g->nroots + obj; }
static inline bool gh_vertex_is_obj(const struct gh_graph *g, uint32_t v) { return v > g->nroots; }
static inline uint32_t gh_vertex_obj(const struct gh_graph *g, uint32_t v) { return v - 1 - g->nroots; }
static inline bool gh_reachable(const struct gh_graph *g, uint32_t v) { return (g->reach[v / 8] >> (v % 8)) & 1; }
/* The place of u's first edge to v among u's edges, UINT32_MAX if u does
 * not point at v.  A scan of u's edges; a long row asked about twice in a
 * row is indexed (the paths of a slice's 500,000 maps each ask the slice's
 * row), so that labelling every element is not quadratic.  Not for several
 * threads at once. */
uint32_t gh_edge_place(const struct gh_graph *g, uint32_t u, uint32_t v);
static inline bool gh_has_edge(const struct gh_graph *g, uint32_t u, uint32_t v)
{
	return gh_edge_place(g, u, v) != UINT32_MAX;
}

struct gh_error *gh_graph_build(struct gh_heap *h, struct gh_graph **out);
/* The roots and their rows alone (partial): what gh_graph_root_retained
 * needs, without the objects' edges. */
struct gh_error *gh_graph_build_roots(struct gh_heap *h, struct gh_graph **out);
void gh_graph_free(struct gh_graph *g);
/* Computes reachability, idom and retained sizes (Semi-NCA, iterative). */
struct gh_error *gh_graph_dominators(struct gh_graph *g);
/* Computes reachability and the retained sizes of the super-root and the
 * roots, the same as the dominators give them, from one labelling pass
 * (owners.c); nothing when retained sizes are there already. */
struct gh_error *gh_graph_root_retained(struct gh_graph *g);
/* Memory the vertex occupies: an object's slot or pages (0 for roots). */
uint64_t gh_vertex_size(const struct gh_graph *g, uint32_t v);

/* A set of vertices as a bit set with, per 64-bit word, the number of
 * members before it: a member's rank is its place among the members. */
struct gh_vertex_set {
	uint64_t *bits;
	uint32_t *rank; /* one entry more than bits has words: the members */
};
static inline bool gh_set_has(const struct gh_vertex_set *s, uint32_t v) { return (s->bits[v / 64] >> (v % 64)) & 1; }
static inline uint32_t gh_set_rank(const struct gh_vertex_set *s, uint32_t v)
{
	return s->rank[v / 64] + (uint32_t)__builtin_popcountll(s->bits[v / 64] & ((1ull << (v % 64)) - 1));
}
/* The edges reversed (reverse.c): rows of sources, each rising, of nrows
 * rows.  Without a set, every edge, a row per vertex (nrows = nv); with
 * one, the edges from reached vertices into the set's members, a row per
 * member by rank.  On one thread per CPU; the caller frees *off, *srcs. */
struct gh_error *gh_graph_sources(const struct gh_graph *g, const struct gh_vertex_set *set, uint32_t nrows,
				  uint32_t **off, uint32_t **srcs);

/* Who holds an object (holders.c), for many queries on one graph with
 * dominators.  A path lists vertices from a root (or an object several roots
 * reach) down to the object; consecutive vertices are joined by an edge, or
 * are a dominator and a vertex it dominates where a long dominator chain was
 * cut (the first vertex and the ones nearest the object are kept). */
struct gh_holders;
struct gh_path {
	const uint32_t *v;
	size_t n;
};
struct gh_error *gh_holders_new(const struct gh_graph *g, struct gh_holders **out);
void gh_holders_free(struct gh_holders *hs);
/* v's owner: the dominator chain from the vertex the super-root immediately
 * dominates on v's branch (a root, or an object several roots reach) down to
 * v.  v must be reachable.  out->v is malloc'd: the caller frees it. */
struct gh_error *gh_owner_chain(struct gh_holders *hs, uint32_t v, struct gh_path *out);
/* The roots that reach v, one per distinct root name (several words of one
 * variable are one holder), nearest first, each with a path to v; fn returns
 * false to stop.  The searches of one gh_holders visit at most as many
 * vertices as the graph has vertices and edges; *truncated says a search
 * ran out of that budget (some holders may be missing). */
typedef bool (*gh_holder_fn)(void *arg, const struct gh_path *path);
struct gh_error *gh_holders_of(struct gh_holders *hs, uint32_t v, gh_holder_fn fn, void *arg, bool *truncated);

#endif
