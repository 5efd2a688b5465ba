#include <string.h>

#include <stdio.h>
#include <stdlib.h>

#include "../graph/graph.h"
#include "../heap/heap.h"
#include "../heap/typing.h"
#include "../runtime/goroutines.h"
#include "../util/threads.h"
#include "../util/timings.h"
#include "commands.h"

/* Cache slots in struct gh_program, in build order. */
enum { SLOT_TYPES, SLOT_HEAP, SLOT_TYPING, SLOT_GRAPH };

static void types_free(void *t) { gh_types_free(t); }
static void heap_free(void *h) { gh_heap_free(h); }
static void graph_free(void *g) { gh_graph_free(g); }

static struct gh_error *heap_untyped(struct gh_program *p, struct gh_heap **out);

struct dominators_job {
	struct gh_graph *g;
	struct gh_error *err;
};

static void *dominators_thread(void *arg)
{
	struct dominators_job *j = arg;
	j->err = gh_graph_dominators(j->g);
	return NULL;
}

/* The graph, built once and cached, with the dominators or with the
 * roots' retained sizes alone (gh_graph_root_retained: what a command
 * naming only roots needs), each computed once; with typed, the heap typed
 * too.  The roots' sizes alone need no edges between objects: the graph is
 * then partial (the roots' rows), and replaced by the whole graph when a
 * later command needs edges.  Typing and the dominators do not depend on
 * each other once the graph is built, and the dominators run on one CPU
 * (each step needs the last): with a second one, typing runs beside them,
 * on one thread fewer. */
static struct gh_error *graph(struct gh_program *p, bool typed, bool dominators, bool edges, struct gh_graph **out)
{
	struct gh_heap *h;
	struct gh_graph *g = p->cache[SLOT_GRAPH].ptr;
	/* The partial graph reads the reached objects in the order it reaches
	 * them: through a debugger's memory reads (block by block, microseconds
	 * each) the graph's pass in address order is the cheaper way. */
	edges |= dominators || !gh_target_threadsafe(p->t);
	if (g && g->partial && edges) {
		gh_graph_free(g);
		p->cache[SLOT_GRAPH] = (struct gh_cache_slot){ NULL, NULL };
		g = NULL;
	}
	if (!g) {
		GH_TRY(heap_untyped(p, &h));
		GH_TRY(edges ? gh_graph_build(h, &g) : gh_graph_build_roots(h, &g));
		p->cache[SLOT_GRAPH] = (struct gh_cache_slot){ g, graph_free };
	}
	struct dominators_job j = { g, NULL };
	bool need = dominators && !g->idom;
	pthread_t th;
	bool beside = need && typed && !p->cache[SLOT_TYPING].ptr && gh_threads() > 1;
	if (beside) {
		gh_threads_reserve(1);
		if (!(beside = gh_thread_start(&th, dominators_thread, &j)))
			gh_threads_reserve(-1);
	}
	struct gh_error *err = typed ? gh_cmd_heap(p, &h) : NULL;
	if (beside) {
		pthread_join(th, NULL);
		gh_threads_reserve(-1);
	} else if (need) {
		dominators_thread(&j);
	}
	if (err || j.err) {
		if (err && j.err)
			gh_error_free(j.err);
		return err ? err : j.err;
	}
	if (!dominators && !g->retained) {
		double t0 = gh_phase_begin();
		GH_TRY(gh_graph_root_retained(g));
		gh_phase_end("retained by roots", t0);
	}
	*out = g;
	return NULL;
}

struct gh_error *gh_cmd_graph(struct gh_program *p, struct gh_graph **out)
{
	return graph(p, true, true, true, out);
}

/* The graph, its roots and what they retain do not depend on types:
 * analyses that print only roots (top --by root, roots, goroutines) skip
 * typing the heap, the dominator tree and the objects' edges. */
struct gh_error *gh_cmd_graph_roots(struct gh_program *p, struct gh_graph **out)
{
	return graph(p, false, false, false, out);
}

/* The same with every edge (roots --group walks them). */
struct gh_error *gh_cmd_graph_edges(struct gh_program *p, struct gh_graph **out)
{
	return graph(p, false, false, true, out);
}

struct gh_error *gh_cmd_goroutine_retained(struct gh_program *p, struct gh_goroutines *gs, uint64_t *out)
{
	struct gh_graph *g;
	GH_TRY(gh_cmd_graph_roots(p, &g)); /* roots' sizes only */
	if (g->stack_warning)
		return gh_errorf(GH_ERR_MISSING, "goroutine stacks are not roots: %s", g->stack_warning);
	memset(out, 0, gs->n * sizeof(*out));
	for (uint32_t v = 1; v <= g->nroots; v++) {
		struct gh_goroutine *gr = g->roots[v - 1].kind == GH_ROOT_STACK ? gh_goroutine_by_g(gs, g->roots[v - 1].addr) : NULL;
		if (gr)
			out[gr - gs->gs] = g->retained[v];
	}
	return NULL;
}

struct gh_error *gh_cmd_types(struct gh_program *p, struct gh_types **out)
{
	if (!p->cache[SLOT_TYPES].ptr) {
		struct gh_types *t;
		double t0 = gh_phase_begin();
		GH_TRY(gh_types_new(p, &t));
		gh_phase_end("types", t0);
		p->cache[SLOT_TYPES] = (struct gh_cache_slot){ t, types_free };
	}
	*out = p->cache[SLOT_TYPES].ptr;
	return NULL;
}

static struct gh_error *heap_untyped(struct gh_program *p, struct gh_heap **out)
{
	if (!p->cache[SLOT_HEAP].ptr) {
		struct gh_heap *h;
		double t0 = gh_phase_begin();
		GH_TRY(gh_heap_build(p, &h));
		gh_phase_end("heap", t0);
		p->cache[SLOT_HEAP] = (struct gh_cache_slot){ h, heap_free };
	}
	*out = p->cache[SLOT_HEAP].ptr;
	return NULL;
}

/* Marks a typing attempt that failed (no type table): not retried. */
static char typing_failed;

struct gh_error *gh_cmd_heap(struct gh_program *p, struct gh_heap **out)
{
	struct gh_heap *h;
	GH_TRY(heap_untyped(p, &h));
	if (!p->cache[SLOT_TYPING].ptr) {
		struct gh_types *t;
		struct gh_error *err = gh_cmd_types(p, &t);
		if (err) {
			gh_heap_warn(h, "objects are untyped: %s", err->msg);
			gh_error_free(err);
			p->cache[SLOT_TYPING] = (struct gh_cache_slot){ &typing_failed, NULL };
		} else {
			struct gh_typing_stats *st = calloc(1, sizeof(*st));
			if (!st)
				return &gh_error_nomem;
			p->cache[SLOT_TYPING] = (struct gh_cache_slot){ st, free };
			double t0 = gh_phase_begin();
			GH_TRY(gh_heap_type_objects(h, t, st));
			gh_phase_end("typing", t0);
		}
	}
	*out = h;
	return NULL;
}

const struct gh_typing_stats *gh_cmd_typing(struct gh_program *p)
{
	void *st = p->cache[SLOT_TYPING].ptr;
	return st == &typing_failed ? NULL : st;
}

void gh_cmd_type_name(struct gh_program *p, const struct gh_heap *h, const struct gh_object *o, char *buf, size_t n)
{
	const struct gh_type *t = gh_obj_type(o) ? gh_type_get(p->cache[SLOT_TYPES].ptr, gh_obj_type(o)) : NULL;
	uint64_t size = gh_obj_size(h, o);
	if (!t) {
		snprintf(buf, n, "<unknown %llu-byte object>", (unsigned long long)size);
		return;
	}
	if (gh_obj_is_tiny(h, o)) {
		snprintf(buf, n, "tiny block (%s values)", t->name);
		return;
	}
	/* An object holding several values of its type is an array of it;
	 * a map or channel type on an object means its header. */
	uint64_t count = t->size && t->kind != GH_KIND_MAP && t->kind != GH_KIND_CHAN ? size / t->size : 1;
	if (count > 1)
		snprintf(buf, n, "[%llu]%s", (unsigned long long)count, t->name);
	else
		snprintf(buf, n, "%s", t->name);
}

const struct gh_command gh_commands[] = {
	{ "help", "[COMMAND]", "list commands, or describe one",
	  "Without an argument, lists every command. With one, prints its usage and description.",
	  false, gh_cmd_help },
	{ "info", "", "describe the target: Go version, threads, mappings, runtime layout",
	  "Prints the Go version and GOEXPERIMENTs (from .go.buildinfo), the architecture, the executable and\n"
	  "whether it matches the target (read-only segment bytes compared), every thread with its PC, SP and the\n"
	  "Go function at PC (from pclntab), the memory mappings and where each one's bytes come from (core file or\n"
	  "executable), and the resolved runtime layout: struct sizes, field offsets, constants and runtime\n"
	  "globals, as read from DWARF (reported unavailable for stripped executables).",
	  true, gh_cmd_info },
	{ "memory", "[--size N] [--keep-going] ADDR...", "dump target bytes and where they come from",
	  "Prints N bytes (default 16, at most 4096) at each address, in hex, with the source of the bytes:\n"
	  "the core file, the executable (pages a core does not hold), the live process or the debugger.\n"
	  "An unreadable address is an error; with --keep-going it is listed with null bytes instead.",
	  true, gh_cmd_memory },
	{ "stats", "", "heap totals: objects, bytes, size classes, garbage not yet swept",
	  "Enumerates every heap object (arenas, spans, allocation bits) and prints totals: objects and bytes,\n"
	  "allocated versus garbage not yet swept (unmarked objects in spans the sweeper has not reached),\n"
	  "large objects, tiny-allocator blocks, a table by size class, and spans skipped as corrupt.",
	  true, gh_cmd_stats },
	{ "objects", "[--type REGEX] [--min-size N] [--limit N] [--pointers]", "list heap objects: address, size, type, span class, flags",
	  "Lists heap objects in address order with their type (--type REGEX filters on it), their size (exact for large objects; without the 8-byte\n"
	  "malloc header for header objects), the slot holding them, size class, and flags (garbage: dead but\n"
	  "not yet swept; allocating: caught mid-allocation). --pointers adds the offsets, from the slot start,\n"
	  "of the words the runtime treats as pointers. --limit N (default 1000, 0 for all).",
	  true, gh_cmd_objects },
	{ "histogram", "[--top N] [--sort bytes|count] [--type REGEX]", "count, bytes and average size per type",
	  "Groups live heap objects by type (objects holding several values of their type count as arrays,\n"
	  "e.g. [512]*main.Node) and prints count, bytes and average size, largest first. Untyped objects are\n"
	  "grouped as <unknown N-byte object>. --top N rows (default 30, 0 for all); --type REGEX keeps the\n"
	  "types whose name matches (POSIX extended syntax).",
	  true, gh_cmd_histogram },
	{ "object", "ADDR|EXPR...", "the heap object containing an address: type, size, span, fields",
	  "For each address (any interior pointer), prints the live heap object containing it: its start, size,\n"
	  "type, slot and span, size class and state, and its fields decoded by type: numbers, strings as text,\n"
	  "interfaces with their dynamic type, pointers with the type of what they point at. In GDB the argument\n"
	  "may be any expression yielding an address (quote Go names: goheap object 'main.cache').",
	  true, gh_cmd_object },
	{ "why", "ADDR|EXPR... [--all | --max N] [--exclude REGEX]", "paths from roots to an object, shortest first",
	  "For each address, prints paths from GC roots to the object containing it, one per root that reaches it, shortest\n"
	  "first (--max N paths, default 3; --all for every root). Each hop shows the holder's type and address, the\n"
	  "field, array index or map key through which it points at the next one, and the bytes it retains.\n"
	  "--exclude REGEX skips holders whose type or root name matches (e.g. to ignore sync.Pool). An object that\n"
	  "no root reaches is reported as garbage (allocated, not yet collected).",
	  true, gh_cmd_why },
	{ "top", "[--by object|type|root|goroutine|package] [-n N]", "biggest retainers by retained size",
	  "Ranks what retains the most memory: single objects (--by object, with the root that dominates them),\n"
	  "types (sum over instances not dominated by another instance of the same type), roots (each global\n"
	  "variable, goroutine stack, finalizer), goroutines only, or packages (globals grouped by package).\n"
	  "Shows retained and shallow bytes and counts; sizes are the memory objects occupy (slots, pages).",
	  true, gh_cmd_top },
	{ "dominators", "ADDR|EXPR", "the chain of immediate dominators from an object up to its root",
	  "Prints the object containing the address and each of its immediate dominators up to the root that\n"
	  "retains it: every object on the chain must be freed (or cut loose) for the object to be freed.",
	  true, gh_cmd_dominators },
	{ "roots", "[--kind global|stack|finalizer|register|other] [--group REGEX] [-n N]", "GC roots with what each retains",
	  "Lists the roots (global variables, goroutine stacks, finalizers and other specials, and the registers\n"
	  "of the threads, conservatively) with their kind, address, the objects they point at directly,\n"
	  "and the bytes each retains (dominates), largest first. --group REGEX adds what the matching roots\n"
	  "retain together: the bytes freed if all of them were cleared (one map shared by several holders is\n"
	  "retained by none of them alone, but by the group).",
	  true, gh_cmd_roots },
	{ "graph", "--output FILE", "write the object graph with dominators to a text file",
	  "Writes the object graph for other tools: a line 'V <vertices> <roots>', then one line per vertex\n"
	  "'<id> <size> <immediate dominator> <retained bytes> <reachable 0|1>' (vertex 0 is the virtual\n"
	  "super-root, 1..roots are the roots in 'goheap roots' order of creation, then the heap objects in\n"
	  "address order, as 'goheap objects' lists them), then one line 'E <from> <to>' per pointer.",
	  true, gh_cmd_graph_export },
	{ "spans", "[--limit N]", "list heap spans: base, pages, size class, objects, pointer metadata",
	  "Lists the in-use heap spans in address order: base address, the runtime's mspan record, pages,\n"
	  "size class and slot size, slots and allocated objects, garbage not yet swept, and how the span\n"
	  "records pointers (arena bitmap, span heap bits, malloc headers, large type, noscan).\n"
	  "Span records that fail validation are skipped and counted. --limit N (default 1000, 0 for all).",
	  true, gh_cmd_spans },
	{ "maps", "[--sort bytes|waste|len] [--min-bytes N] [--type REGEX] [--limit N] [--no-owners]",
	  "every map in the heap: length, capacity, bytes of its own structure, waste, owner",
	  "Lists every map header in the heap (objects typed as a map) with its type, len, capacity in slots,\n"
	  "the bytes of its own structure (header, bucket or group arrays, overflow buckets, swiss directory and\n"
	  "tables, as heap slots), deleted slots (emptyOne tophashes; swiss tombstones), overflow buckets and\n"
	  "load factor (entries / slots). Flags: never-shrunk (at least 64 slots and under 1/16 of them used: more\n"
	  "sparse than inserts alone can leave a map), nested (values are maps: depth, count and bytes of every\n"
	  "inner map), growing (a bucket map mid-evacuation), corrupt (see the warnings), shared (no single root\n"
	  "keeps it: roots of several names reach it), unreachable (garbage). owner: the dominator chain from the\n"
	  "root that alone keeps the map, labelled as why labels paths (main.cache, main.holderB -> .m); holders,\n"
	  "for a shared map: each root reaching it with a path. Owners need the object graph (seconds on a big\n"
	  "heap): --no-owners leaves them out. --sort bytes (default), waste (bytes of unused slots) or len;\n"
	  "--min-bytes N; --type REGEX on the map type; --limit N rows.",
	  true, gh_cmd_maps },
	{ "map", "ADDR|EXPR|NAME [--limit N] [--keys-only] [--addresses] [--as MAPTYPE]", "the entries of one map (or sync.Map), decoded by type",
	  "Prints a map's statistics and its entries: keys and values decoded by type (strings as text, numbers,\n"
	  "interfaces as their dynamic type and value, pointers with the type of the object they point at).\n"
	  "ADDR is the map header, a variable or field holding the map, or a sync.Map (then as syncmap); NAME a\n"
	  "global by its Go name (CLI: goheap map main.cache). In GDB:\n"
	  "goheap map 'main.cache'. --limit N entries (default 100, 0 for all); --keys-only; --addresses adds\n"
	  "where each key and value is (after indirect slots). --as MAPTYPE decodes\n"
	  "ADDR as a header of that map type (\"map[string]int\") when typing did not reach it (stripped executables).",
	  true, gh_cmd_map },
	{ "syncmap", "ADDR|EXPR|NAME [--limit N] [--keys-only] [--addresses]", "the entries of a sync.Map",
	  "Prints the live entries of the sync.Map at ADDR (both implementations: read/dirty maps with deleted\n"
	  "and expunged entries, up to Go 1.23 and 1.24 nosynchashtriemap; the HashTrieMap of 1.24+), its\n"
	  "length and the bytes of its structure. NAME: a global by its Go name (CLI). In GDB, quote the address\n"
	  "expression: goheap syncmap \"&'main.registry'\".",
	  true, gh_cmd_syncmap },
	{ "goroutines", "[--group-by wait|start|creator|stack] [--min-count N] [--no-retained]",
	  "list goroutines, or count them by wait reason, start, creator or stack",
	  "Lists every live goroutine (runtime.allgs without the dead ones): id, status or wait reason as the\n"
	  "runtime prints it, how long it has waited (a lower bound: against the latest runtime timestamp in the\n"
	  "target), its start function (the outermost frame that is not compiler-generated), where it was created,\n"
	  "its stack size, the bytes its stack retains (what only its stack keeps alive: the dominator tree under\n"
	  "its stack's root, as top --by goroutine ranks it), the thread it runs on, whether the runtime counts it\n"
	  "as a system goroutine, and the channels it is blocked on (hchan addresses; see chans).\n"
	  "--group-by counts goroutines by wait reason, start function, creation site or whole stack, largest\n"
	  "group first, with their ids and the sum of what each retains; --min-count N hides smaller groups.\n"
	  "--no-retained skips the object graph that retained bytes need (faster on big heaps).",
	  true, gh_cmd_goroutines },
	{ "goroutine", "ID|all [bt|frames|slots|locals] [--no-retained]",
	  "one goroutine's backtrace, frames, pointer slots or typed locals",
	  "Every view starts with the goroutine's summary (as in goroutines) and, if it is blocked on channels,\n"
	  "each channel: what it does there (receive, send), the element type, len and cap, whether it is closed,\n"
	  "the other goroutines receiving or sending on it, and its timer.\n"
	  "bt (default): the goroutine's frames, innermost first, with file:line, unwound with pclntab the way the\n"
	  "runtime does (a running goroutine from its thread's registers, through a signal frame if needed).\n"
	  "frames: also pc, sp, fp (the DWARF CFA), entry, continuation pc and frame size. slots: the stack words\n"
	  "the garbage collector treats as pointers (stack maps, reachable stack objects, frames scanned\n"
	  "conservatively, defer records, the closure context). locals: the DWARF variables and parameters\n"
	  "of each frame with their type, address and value, and the heap object a pointer value lands in.\n"
	  "'all' prints the view for every goroutine. --no-retained: as for goroutines.",
	  true, gh_cmd_goroutine },
	{ "chans", "[--all]", "channels with waiters or buffered elements: element type, len/cap, who waits, timer",
	  "Lists the channels that goroutines are blocked on or that hold buffered elements: address (the\n"
	  "runtime.hchan), element type, len and cap, closed, the goroutines blocked receiving and sending (from\n"
	  "its wait queues), and its timer (a time.Ticker's or time.Timer's channel). Channels are found from the\n"
	  "blocked goroutines (g.waiting's sudogs, one per select case), from every heap object typed as a channel\n"
	  "and from the timers' channels. --all lists every channel found, idle ones included.",
	  true, gh_cmd_chans },
	{ "timers", "[--no-retained]", "live timers and tickers: kind, when, period, function, what they retain",
	  "Lists every live timer: those in each P's timer heap, those of channels (since Go 1.23 a Ticker or\n"
	  "Timer nobody waits on is in no heap and is reached through its channel's hchan.timer) and the\n"
	  "time.Sleep timers of sleeping goroutines. For each: kind (ticker: a channel timer with a period; timer;\n"
	  "afterfunc: time.AfterFunc, with the function it calls; sleep; other runtime timers), when it fires\n"
	  "(fires in: against the latest runtime timestamp in the target, a lower bound of the capture time, so an\n"
	  "upper bound), period, the timer's function, its argument and channel, the goroutines it wakes, the P\n"
	  "whose heap holds it, and the heap object its argument is (an AfterFunc closure, a ticker's channel)\n"
	  "with the bytes it retains and the objects it points at. --no-retained skips the object graph.",
	  true, gh_cmd_timers },
};
const size_t gh_ncommands = sizeof(gh_commands) / sizeof(gh_commands[0]);

const struct gh_command *gh_command_find(const char *name)
{
	for (size_t i = 0; i < gh_ncommands; i++)
		if (!strcmp(gh_commands[i].name, name))
			return &gh_commands[i];
	return NULL;
}

struct gh_error *gh_command_run(struct gh_program *p, int argc, char **argv, struct gh_out *o)
{
	if (argc < 1)
		return gh_errorf(GH_ERR_USAGE, "no command given (try 'goheap help')");
	const struct gh_command *c = gh_command_find(argv[0]);
	if (!c)
		return gh_errorf(GH_ERR_USAGE, "unknown command '%s' (try 'goheap help')", argv[0]);
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		char *hargv[] = { "help", argv[0] };
		return gh_cmd_help(p, 2, hargv, o);
	}
	if (c->needs_program && !p)
		return gh_errorf(GH_ERR_USAGE, "'%s' needs a target: --core CORE [--exe BIN] or --pid PID", c->name);
	return c->run(p, argc, argv, o);
}

struct gh_error *gh_cmd_help(struct gh_program *p, int argc, char **argv, struct gh_out *o)
{
	(void)p;
	struct gh_node *r = gh_out_root(o);
	if (argc > 2)
		return gh_errorf(GH_ERR_USAGE, "usage: help [COMMAND]");
	if (argc == 2) {
		const struct gh_command *c = gh_command_find(argv[1]);
		if (!c)
			return gh_errorf(GH_ERR_USAGE, "unknown command '%s' (try 'goheap help')", argv[1]);
		gh_put_strf(r, "usage", "goheap %s%s%s", c->name, *c->usage ? " " : "", c->usage);
		gh_put_str(r, "summary", c->summary);
		gh_put_str(r, "description", c->help);
		return NULL;
	}
	gh_put_str(r, "usage",
		   "goheap [--json] [-o FILE] [--timings] (--core CORE [--exe BIN] | --pid PID) COMMAND [ARGS]");
	struct gh_node *t = gh_put_table(r, "commands");
	for (size_t i = 0; i < gh_ncommands; i++) {
		struct gh_node *row = gh_table_row(t);
		gh_put_str(row, "command", gh_commands[i].name);
		gh_put_str(row, "summary", gh_commands[i].summary);
	}
	return NULL;
}
