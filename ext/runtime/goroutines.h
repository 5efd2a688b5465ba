/* Goroutines of a Go program and what their stacks hold: the goroutine list
 * (runtime.allgs), each goroutine's frames (unwound with pclntab the way the
 * runtime's unwinder does), the pointer slots the garbage collector would
 * scan in them (stack maps, stack objects, conservative frames), and the
 * typed locals DWARF describes.  See docs/goroutines.md.
 *
 * Everything is read from an untrusted target: counts, frame walks and
 * lists are bounded, and what cannot be followed becomes a counted warning
 * on the goroutine, never a crash or an unbounded loop. */
#ifndef GH_GOROUTINES_H
#define GH_GOROUTINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/error.h"
#include "program.h"

/* Slot of struct gh_program .cache[] holding the goroutine list. */
#define GH_CACHE_GOROUTINES 4

/* Frame flags. */
#define GH_FRAME_CONSERVATIVE 0x01 /* scanned word by word, as the runtime does */
#define GH_FRAME_INTERRUPTED  0x02 /* stopped at an arbitrary instruction (thread registers, signal) */
#define GH_FRAME_DEAD         0x04 /* continpc 0: the frame trapped and will not resume */
#define GH_FRAME_TOP          0x08 /* a TOPFRAME function (goexit): the bottom of the stack */
#define GH_FRAME_TRUNCATED    0x10 /* the walk stopped after this frame on an error */

struct gh_frame {
	uint64_t pc, sp;
	uint64_t fp;        /* caller's SP: the DWARF CFA */
	uint64_t varp;      /* top of the locals */
	uint64_t argp;      /* start of the incoming arguments */
	uint64_t lr;        /* return address (0 for the bottom frame) */
	uint64_t continpc;  /* where the frame resumes; 0 if dead */
	uint64_t entry;
	int32_t args;       /* _func.args */
	const char *func;   /* pclntab name */
	const char *file;   /* NULL if unknown */
	int32_t line;
	uint32_t flags;
};

enum gh_slot_kind {
	GH_SLOT_LOCAL,        /* locals bitmap (FUNCDATA_LocalsPointerMaps) */
	GH_SLOT_ARG,          /* arguments bitmap (FUNCDATA_ArgsPointerMaps) */
	GH_SLOT_STACK_OBJECT, /* pointer word of a reachable stack object */
	GH_SLOT_CONSERVATIVE, /* any word of a conservatively scanned frame */
	GH_SLOT_DEFER,        /* a _defer record's fn or link */
	GH_SLOT_CONTEXT,      /* g.sched.ctxt (closure context register) */
};
const char *gh_slot_kind_name(enum gh_slot_kind k);

struct gh_slot {
	uint64_t addr, value;
	uint32_t frame;       /* index into the goroutine's frames; UINT32_MAX: not in a frame */
	uint8_t kind;         /* enum gh_slot_kind */
};

struct gh_local {
	uint32_t frame;
	const char *name;
	uint64_t addr;        /* memory of the variable (its first piece) */
	uint64_t size;        /* of its type, 0 if unknown */
	const char *type_name; /* DWARF name: "[]uint8", "*main.Payload" */
	uint64_t type_desc;   /* runtime type descriptor address, 0 if the linker kept none */
	bool is_param;
	bool pieces;          /* location split in pieces: only the first is at addr */
};

struct gh_goroutine {
	uint64_t g;           /* address of its runtime.g */
	uint64_t goid, parent_goid;
	uint32_t status;      /* atomicstatus without _Gscan */
	bool scan_bit;
	uint32_t waitreason;  /* raw index */
	const char *wait;     /* status or wait reason as the runtime prints it */
	int64_t waitsince;    /* nanotime when blocked (0: unknown) */
	uint64_t gopc, startpc;
	const char *start_func;   /* function at startpc */
	const char *creator_func; /* function containing gopc */
	const char *creator_file;
	int32_t creator_line;
	uint64_t stack_lo, stack_hi;
	uint64_t m;           /* its M if running on one */
	int64_t tid;          /* that M's thread (m.procid); -1 if none */
	bool system;          /* the runtime's isSystemGoroutine rule */
	/* Filled on first use by gh_goroutine_frames / _slots / _locals. */
	bool walked, scanned, typed;
	const char *user_start; /* outermost frame below goexit that is not a wrapper */
	struct gh_frame *frames;
	size_t nframes;
	struct gh_slot *slots;
	size_t nslots;
	struct gh_local *locals;
	size_t nlocals;
	/* Filled by gh_goroutine_waits (chans.h): the channels it blocks on. */
	bool waits_read;
	uint64_t *waits_on;
	size_t nwaits_on;
	char *warnings;       /* one per line, the first few */
	uint32_t nwarnings;
};

struct gh_goroutines {
	struct gh_program *p;
	struct gh_goroutine *gs; /* live goroutines (not _Gdead), in allgs order */
	size_t n;
	uint64_t allgs, allglen, dead;
	uint64_t bad;            /* allgs entries that are not plausible gs */
	const char *allgs_from;  /* how runtime.allgs was found */
	int64_t now;             /* a lower bound of nanotime at capture, 0 if none */
	const char *now_from;
	const char *waits_from;  /* where wait reason names came from */
	/* Internal: wait reason strings, functions the walk recognises. */
	char **wait_names;
	uint32_t nwait_names;
	uint8_t wrapper_funcid;
	struct gh_dwfunc *dwfuncs; /* DWARF functions by entry (locals.c) */
	size_t ndwfuncs;
	bool dwfuncs_built;
	struct gh_locals_memo *lmemo; /* DWARF locals by frame PC (locals.c) */
	uint64_t *by_g;          /* (g address, index) pairs sorted by address, built on first use */
	char **strs;             /* strings owned by the list */
	size_t nstrs, capstrs;
};

/* The program's goroutines, built on first use and cached in
 * p->cache[GH_CACHE_GOROUTINES].  GH_ERR_MISSING when runtime.allgs can be
 * found neither by symbol nor by the validated scan of the data sections. */
struct gh_error *gh_goroutines_load(struct gh_program *p, struct gh_goroutines **out);
void gh_goroutines_free(struct gh_goroutines *gs);
struct gh_goroutine *gh_goroutine_by_id(struct gh_goroutines *gs, uint64_t goid);
/* The live goroutine whose runtime.g is at addr, or NULL. */
struct gh_goroutine *gh_goroutine_by_g(struct gh_goroutines *gs, uint64_t addr);

/* The goroutine's frames, innermost first.  A walk that cannot go on ends
 * with GH_FRAME_TRUNCATED and a warning; only allocation failure is an error. */
struct gh_error *gh_goroutine_frames(struct gh_goroutines *gs, struct gh_goroutine *g);
/* Its pointer slots (frames walked first), in address order. */
struct gh_error *gh_goroutine_slots(struct gh_goroutines *gs, struct gh_goroutine *g);
/* Its typed locals and parameters from DWARF (none without DWARF). */
struct gh_error *gh_goroutine_locals(struct gh_goroutines *gs, struct gh_goroutine *g);

/* Internal to the goroutine files. */
void gh_locals_memo_free(struct gh_locals_memo *m);
void gh_goroutine_warn(struct gh_goroutine *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *gh_goroutines_strdup(struct gh_goroutines *gs, const char *s);

#endif
