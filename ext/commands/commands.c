#include <string.h>

#include "../heap/heap.h"
#include "commands.h"

static void heap_free(void *h)
{
	gh_heap_free(h);
}

struct gh_error *gh_cmd_heap(struct gh_program *p, struct gh_heap **out)
{
	if (!p->heap) {
		struct gh_heap *h;
		GH_TRY(gh_heap_build(p, &h));
		p->heap = h;
		p->heap_free = heap_free;
	}
	*out = p->heap;
	return NULL;
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
	{ "objects", "[--min-size N] [--limit N] [--pointers]", "list heap objects: address, size, span class, flags",
	  "Lists heap objects in address order with their size (exact for large objects; without the 8-byte\n"
	  "malloc header for header objects), the slot holding them, size class, and flags (garbage: dead but\n"
	  "not yet swept; allocating: caught mid-allocation). --pointers adds the offsets, from the slot start,\n"
	  "of the words the runtime treats as pointers. --limit N (default 1000, 0 for all).",
	  true, gh_cmd_objects },
	{ "spans", "[--limit N]", "list heap spans: base, pages, size class, objects, pointer metadata",
	  "Lists the in-use heap spans in address order: base address, the runtime's mspan record, pages,\n"
	  "size class and slot size, slots and allocated objects, garbage not yet swept, and how the span\n"
	  "records pointers (arena bitmap, span heap bits, malloc headers, large type, noscan).\n"
	  "Span records that fail validation are skipped and counted. --limit N (default 1000, 0 for all).",
	  true, gh_cmd_spans },
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
		   "goheap [--json] [-o FILE] (--core CORE [--exe BIN] | --pid PID) COMMAND [ARGS]");
	struct gh_node *t = gh_put_table(r, "commands");
	for (size_t i = 0; i < gh_ncommands; i++) {
		struct gh_node *row = gh_table_row(t);
		gh_put_str(row, "command", gh_commands[i].name);
		gh_put_str(row, "summary", gh_commands[i].summary);
	}
	return NULL;
}
