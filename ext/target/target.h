/* The target: a stopped Go process's memory and threads, from an ELF core
 * file, a live process (/proc/PID/mem, stopped with ptrace), or a front end's
 * reader callback (GDB's memory for remote targets).
 *
 * Memory is a table of segments.  Core and live segments take precedence;
 * executable segments (added by the binary layer) supply what a core does
 * not hold (read-only file-backed pages).  Bytes no segment holds are
 * faults, never zeros.  goheap never writes to the target. */
#ifndef GH_TARGET_H
#define GH_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../util/error.h"
#include "../util/vec.h"
#include "arch.h"

/* Where a segment's bytes come from. */
enum gh_seg_source {
	GH_SRC_CORE,     /* bytes in the core file */
	GH_SRC_EXE,      /* bytes in the executable file */
	GH_SRC_ZERO,     /* executable bss not present in the core */
	GH_SRC_PROC,     /* /proc/PID/mem of a stopped live process */
	GH_SRC_CALLBACK, /* the front end's reader (e.g. GDB) */
};

typedef bool (*gh_read_fn)(void *arg, uint64_t addr, void *buf, size_t len);

struct gh_segment {
	uint64_t start, end;      /* [start, end) in the target's address space */
	enum gh_seg_source src;
	unsigned flags;           /* PF_R | PF_W | PF_X as in ELF */
	const uint8_t *data;      /* GH_SRC_CORE / GH_SRC_EXE: mapped bytes for start */
	uint64_t file_offset;     /* offset of start in its file, for display */
};

GH_VEC(gh_segvec, struct gh_segment)

/* A file mapping the process had (NT_FILE note, /proc/PID/maps). */
struct gh_mapped_file {
	uint64_t start, end, offset;
	char *path;
};
GH_VEC(gh_filevec, struct gh_mapped_file)

struct gh_thread {
	int64_t tid;
	struct gh_regs regs;
};
GH_VEC(gh_threadvec, struct gh_thread)

enum gh_target_kind { GH_TARGET_CORE, GH_TARGET_LIVE, GH_TARGET_CALLBACK, GH_TARGET_EXE_ONLY };

/* Auxiliary vector entries goheap uses (0 when absent). */
struct gh_auxv {
	uint64_t phdr, phent, phnum, entry, execfn;
};

struct gh_target {
	enum gh_target_kind kind;
	enum gh_arch arch;
	char *path;               /* core file, or "/proc/PID" */
	int pid;
	struct gh_segvec primary;  /* core / live / callback segments, sorted */
	struct gh_segvec fallback; /* executable segments, sorted */
	size_t last;              /* primary segment of the last read + 1 (0: none) */
	struct gh_filevec files;
	struct gh_threadvec threads;
	struct gh_auxv auxv;
	char *exe_hint;           /* executable path the target names, if any */
	bool has_nt_file;

	/* core file */
	int fd;
	const uint8_t *map;
	size_t map_size;

	/* live process */
	int mem_fd;
	bool attached;            /* goheap stopped the threads with ptrace */

	/* callback */
	gh_read_fn cb;
	void *cb_arg;
	struct gh_page_cache *cache;
};

/* Opens an ELF core file (mapped, not read into memory). */
struct gh_error *gh_target_open_core(const char *path, struct gh_target **out);
/* Stops every thread of a live process with ptrace and reads it through
 * /proc/PID/mem (read-only).  gh_target_close() resumes it. */
struct gh_error *gh_target_open_pid(int pid, struct gh_target **out);
/* A process that is already stopped by the caller (GDB): memory through
 * /proc/PID/mem, threads added by the caller with gh_target_add_thread(). */
struct gh_error *gh_target_open_stopped_pid(int pid, enum gh_arch arch, struct gh_target **out);
/* A target read through the front end's callback (cached by page). */
struct gh_error *gh_target_open_callback(enum gh_arch arch, gh_read_fn fn, void *arg,
					 struct gh_target **out);
/* No process at all: only the executable's file bytes (static inspection). */
struct gh_error *gh_target_open_none(enum gh_arch arch, struct gh_target **out);
void gh_target_close(struct gh_target *t);

struct gh_error *gh_target_add_thread(struct gh_target *t, int64_t tid, const struct gh_regs *regs);
/* Adds a fallback segment (executable bytes); keeps the table sorted. */
struct gh_error *gh_target_add_fallback(struct gh_target *t, const struct gh_segment *seg);

/* Reads len bytes at addr; false if any byte is unreadable. */
bool gh_read(struct gh_target *t, uint64_t addr, void *buf, size_t len);
/* Same, with an error naming the first unreadable address. */
struct gh_error *gh_read_err(struct gh_target *t, uint64_t addr, void *buf, size_t len);
bool gh_read_u64(struct gh_target *t, uint64_t addr, uint64_t *v);
bool gh_read_u32(struct gh_target *t, uint64_t addr, uint32_t *v);
/* Zero-copy view of [addr, addr+len) when one mapped segment holds it all;
 * NULL otherwise (use gh_read). Valid until the target is closed. */
const void *gh_view(struct gh_target *t, uint64_t addr, size_t len);
/* The same, or else the bytes copied into buf (room for len; NULL: no
 * copy); NULL if neither can be had. */
const void *gh_view_or_read(struct gh_target *t, uint64_t addr, size_t len, void *buf);
/* The segment that supplies the byte at addr (NULL: unreadable). */
const struct gh_segment *gh_segment_at(struct gh_target *t, uint64_t addr);
/* Whether several threads may read the target at once. */
bool gh_target_threadsafe(const struct gh_target *t);

const char *gh_source_name(enum gh_seg_source s);

#endif
