/* The command table both front ends use: one handler per command, each
 * filling an output document that the front end renders as text or JSON. */
#ifndef GH_COMMANDS_H
#define GH_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../output/out.h"
#include "../runtime/program.h"
#include "../util/error.h"

struct gh_command {
	const char *name;
	const char *usage;   /* arguments after the name */
	const char *summary; /* one line */
	const char *help;    /* paragraphs */
	bool needs_program;
	/* argv[0] is the command name. */
	struct gh_error *(*run)(struct gh_program *p, int argc, char **argv, struct gh_out *o);
};

extern const struct gh_command gh_commands[];
extern const size_t gh_ncommands;

const struct gh_command *gh_command_find(const char *name);
/* Runs argv[0] with the program (may be NULL for commands that need none). */
struct gh_error *gh_command_run(struct gh_program *p, int argc, char **argv, struct gh_out *o);

struct gh_heap;
struct gh_object;
struct gh_types;
struct gh_typing_stats;
/* The program's type table and its heap (objects typed where possible),
 * built on first use and kept with the program.  A heap that could not be
 * typed (no type layout) is still returned; *typing is NULL then. */
struct gh_error *gh_cmd_types(struct gh_program *p, struct gh_types **out);
struct gh_error *gh_cmd_heap(struct gh_program *p, struct gh_heap **out);
const struct gh_typing_stats *gh_cmd_typing(struct gh_program *p);
struct gh_graph;
/* The object graph with dominators and retained sizes, built on first use. */
struct gh_error *gh_cmd_graph(struct gh_program *p, struct gh_graph **out);
/* The object graph with reachability and the retained sizes of the roots
 * only (no dominator tree, no types), for output that names only roots. */
struct gh_error *gh_cmd_graph_roots(struct gh_program *p, struct gh_graph **out);
/* The same with every edge between objects too. */
struct gh_error *gh_cmd_graph_edges(struct gh_program *p, struct gh_graph **out);
/* A vertex for display: "main.cache (global)", "main.Payload @0xc000012340". */
void gh_cmd_vertex_name(struct gh_program *p, const struct gh_graph *g, uint32_t v, char *buf, size_t n);
/* The label of edge u -> v: field path, index or map key in u ("" if none found). */
void gh_cmd_edge_label(struct gh_program *p, const struct gh_graph *g, uint32_t u, uint32_t v, char *buf, size_t n);
struct gh_path;
/* A path (ext/graph/graph.h) on one line, with the edge labels why shows:
 * the root's name, then each hop ("main.holderA.m", "main.holderB -> .m",
 * "main.index -> .buckets -> map value [\"region-3\"]"); "..." where a
 * dominator chain was cut. */
void gh_cmd_path_text(struct gh_program *p, const struct gh_graph *g, const struct gh_path *path, char *buf, size_t n);
/* Parses an address argument; error names the argument. */
struct gh_error *gh_cmd_address(const char *arg, uint64_t *addr);

/* Display name of an object's type: "main.Payload", "[4]*main.Node",
 * "<unknown 48-byte object>". */
void gh_cmd_type_name(struct gh_program *p, const struct gh_heap *h, const struct gh_object *o, char *buf, size_t n);

/* Handlers, one file each. */
struct gh_error *gh_cmd_help(struct gh_program *p, int argc, char **argv, struct gh_out *o);
struct gh_error *gh_cmd_info(struct gh_program *p, int argc, char **argv, struct gh_out *o);
struct gh_error *gh_cmd_memory(struct gh_program *p, int argc, char **argv, struct gh_out *o);
struct gh_error *gh_cmd_stats(struct gh_program *p, int argc, char **argv, struct gh_out *o);
struct gh_error *gh_cmd_objects(struct gh_program *p, int argc, char **argv, struct gh_out *o);
struct gh_error *gh_cmd_spans(struct gh_program *p, int argc, char **argv, struct gh_out *o);
struct gh_error *gh_cmd_object(struct gh_program *p, int argc, char **argv, struct gh_out *o);
struct gh_error *gh_cmd_why(struct gh_program *p, int argc, char **argv, struct gh_out *o);
struct gh_error *gh_cmd_top(struct gh_program *p, int argc, char **argv, struct gh_out *o);
struct gh_error *gh_cmd_dominators(struct gh_program *p, int argc, char **argv, struct gh_out *o);
struct gh_error *gh_cmd_roots(struct gh_program *p, int argc, char **argv, struct gh_out *o);
struct gh_error *gh_cmd_graph_export(struct gh_program *p, int argc, char **argv, struct gh_out *o);
struct gh_error *gh_cmd_histogram(struct gh_program *p, int argc, char **argv, struct gh_out *o);
struct gh_error *gh_cmd_maps(struct gh_program *p, int argc, char **argv, struct gh_out *o);
struct gh_error *gh_cmd_map(struct gh_program *p, int argc, char **argv, struct gh_out *o);
struct gh_error *gh_cmd_syncmap(struct gh_program *p, int argc, char **argv, struct gh_out *o);
/* Goroutine commands (goroutines.c); their list is cached in
 * p->cache[GH_CACHE_GOROUTINES] (slot 4, ext/runtime/goroutines.h). */
/* Slot 5: the last global word labelled (graphcmd.c). */
#define GH_CACHE_LABELS 5
struct gh_error *gh_cmd_goroutines(struct gh_program *p, int argc, char **argv, struct gh_out *o);
struct gh_error *gh_cmd_goroutine(struct gh_program *p, int argc, char **argv, struct gh_out *o);
struct gh_error *gh_cmd_chans(struct gh_program *p, int argc, char **argv, struct gh_out *o);
struct gh_error *gh_cmd_timers(struct gh_program *p, int argc, char **argv, struct gh_out *o);

struct gh_goroutines;
struct gh_chan;
/* Bytes each goroutine of gs retains: what its stack's root dominates, the
 * figure top --by goroutine ranks (0 for a stack holding no heap pointer);
 * out has gs->n entries.  An error if stacks could not be made roots. */
struct gh_error *gh_cmd_goroutine_retained(struct gh_program *p, struct gh_goroutines *gs, uint64_t *out);
/* Every channel goheap can find (chans.c): those the blocked goroutines
 * wait on and the heap objects typed as channels, sorted and distinct
 * (*out malloc'd).  Why typed objects could not be used is a warning on o. */
struct gh_error *gh_cmd_channels(struct gh_program *p, struct gh_goroutines *gs, struct gh_out *o, uint64_t **out,
				 size_t *n);
/* The timers feeding the channels: (channel, timer) pairs sorted by channel
 * (*pairs malloc'd), from every timer goheap finds given those channels.
 * Why timers could not be read is a warning on o. */
struct gh_error *gh_cmd_chan_timers(struct gh_goroutines *gs, const uint64_t *chans, size_t n, struct gh_out *o,
				    uint64_t **pairs, size_t *npairs);
/* A channel's timer: hchan.timer, or the timer whose argument it is. */
uint64_t gh_cmd_chan_timer(const uint64_t *pairs, size_t n, const struct gh_chan *c);
/* A channel's cells in a table row; `skip` is a goroutine id left out of
 * the receivers and senders (the goroutine being shown), 0 for none. */
void gh_cmd_put_chan(struct gh_program *p, const struct gh_chan *c, uint64_t timer, uint64_t skip, struct gh_node *row);
/* The name of the type descriptor at desc, "?" if it cannot be decoded. */
void gh_cmd_type_at(struct gh_program *p, uint64_t desc, char *buf, size_t n);

#endif
