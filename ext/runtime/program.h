/* A Go program under inspection: the target (core or process) bound to its
 * executable, with everything decoded from the executable that later layers
 * need: Go version, symbols, DWARF, the layout table, pclntab, moduledata. */
#ifndef GH_PROGRAM_H
#define GH_PROGRAM_H

#include "../binary/buildinfo.h"
#include "../binary/dwarf.h"
#include "../binary/exe.h"
#include "../binary/pclntab.h"
#include "../binary/symbols.h"
#include "../target/target.h"
#include "layout.h"

struct gh_program {
	struct gh_target *t;
	struct gh_exe *exe;
	struct gh_symbols *syms;
	struct gh_dwarf *dw; /* NULL: no DWARF */
	struct gh_buildinfo bi;
	struct gh_pclntab pcln;
	struct gh_layout L;
	uint64_t moduledata;         /* 0: not found */
	const char *moduledata_from; /* how it was found */
	const char *text_from;       /* where pclntab's text base came from */
	const char *mheap_from;      /* how runtime.mheap_ was found (NULL: not found) */
	/* Analyses built on first use by the layers above (types, heap, ...),
	 * freed with the program through their own destructors. */
	struct gh_cache_slot {
		void *ptr;
		void (*free)(void *);
	} cache[8];
};

struct gh_open_opts {
	const char *core;     /* core file, or */
	int pid;              /* live process (goheap stops it) */
	const char *exe;      /* executable; NULL: the one the target names */
};

struct gh_error *gh_program_open(const struct gh_open_opts *o, struct gh_program **out);
/* Binds an already opened target (the GDB front end builds its own);
 * takes ownership of t in all cases. */
struct gh_error *gh_program_from_target(struct gh_target *t, const char *exe, struct gh_program **out);
void gh_program_close(struct gh_program *p);

/* Reads a field of the struct at base, zero-extended (field sizes 1..8). */
bool gh_read_field(struct gh_program *p, uint64_t base, const struct gh_field *f, uint64_t *v);
/* The Go version string for messages ("go1.22.12 X:noallocheaders"). */
const char *gh_program_version(const struct gh_program *p);

#endif
