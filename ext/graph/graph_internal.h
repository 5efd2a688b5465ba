/* Shared by the graph layer's own files only. */
#ifndef GH_GRAPH_INTERNAL_H
#define GH_GRAPH_INTERNAL_H

#include "graph.h"

/* Roots and their edges as they are discovered, before the CSR is built. */
struct gh_root_edge_rec {
	uint32_t root; /* index into roots */
	uint32_t obj;  /* object index */
};

struct gh_root_builder {
	struct gh_heap *h;
	struct gh_root *roots;
	uint32_t nroots, cap_roots;
	struct gh_root_edge_rec *edges;
	size_t nedges, cap_edges;
	uint64_t unresolved;
};

/* Records that the root (kind, name, addr, size) holds value at slot; the
 * root is created on first use (consecutive calls for the same root reuse
 * it).  A value that is not a pointer into a heap object is ignored. */
struct gh_error *gh_root_edge(struct gh_root_builder *b, enum gh_root_kind kind, const char *name, uint64_t addr,
			      uint64_t size, uint64_t slot, uint64_t value);

/* Starts a root even if it turns out to hold no heap pointer. */
struct gh_error *gh_root_begin(struct gh_root_builder *b, enum gh_root_kind kind, const char *name, uint64_t addr,
			       uint64_t size);
struct gh_error *gh_roots_globals(struct gh_heap *h, struct gh_root_builder *b);
struct gh_error *gh_roots_specials(struct gh_heap *h, struct gh_root_builder *b);
struct gh_error *gh_roots_registers(struct gh_heap *h, struct gh_root_builder *b);
/* *warning (malloc'd) says why stacks could not be read, if they could not. */
struct gh_error *gh_roots_stacks(struct gh_heap *h, struct gh_root_builder *b, char **warning);

#endif
