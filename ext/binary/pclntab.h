/* Go's function table (.gopclntab, kept by -s -w): function names, entry
 * points, file:line and the pc-value tables, for Go 1.20+ (magic 0xfffffff1).
 * All reads are bounds-checked against the table's bytes. */
#ifndef GH_PCLNTAB_H
#define GH_PCLNTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/error.h"
#include "exe.h"

struct gh_pclntab {
	const uint8_t *data; /* the whole table, from the executable file */
	size_t size;
	uint64_t addr;       /* its run-time address */
	uint8_t quantum;     /* PC quantum: 1 amd64, 4 arm64 */
	uint64_t nfunc, nfiles;
	uint64_t funcname_off, cu_off, filetab_off, pctab_off, pcln_off;
	uint64_t text;       /* moduledata.text: base of entry offsets */
};

struct gh_func {
	uint64_t entry;
	const char *name;
	uint32_t off;        /* of the _func record within pclntable */
	int32_t args;
	uint8_t funcid, flag;
};

/* Finds and checks the table in the executable (.gopclntab section, or the
 * signature scan of read-only data).  text may be 0 until moduledata is
 * known; gh_pclntab_set_text() sets it. */
struct gh_error *gh_pclntab_open(const struct gh_exe *e, struct gh_pclntab *p);
/* Text start recorded in the header (Go ≤ 1.25; 0 on 1.26+). */
uint64_t gh_pclntab_header_text(const struct gh_pclntab *p);
/* The function containing pc; false if pc is outside Go text. */
bool gh_pclntab_find(const struct gh_pclntab *p, uint64_t pc, struct gh_func *f);
/* Value of pc-value table at table offset tab for pc (false if undecodable). */
bool gh_pclntab_pcvalue(const struct gh_pclntab *p, const struct gh_func *f, uint32_t tab, uint64_t pc, int32_t *val);
/* Source position of pc inside f; file points into the table. */
bool gh_pclntab_fileline(const struct gh_pclntab *p, const struct gh_func *f, uint64_t pc, const char **file, int32_t *line);

/* The rest of a function's _func record, for stack walks (runtime
 * stkframe/getStackMap). */
#define GH_PCDATA_STACKMAP_INDEX 1 /* abi.PCDATA_StackMapIndex */
#define GH_FUNCDATA_ARGS_POINTER_MAPS 0
#define GH_FUNCDATA_LOCALS_POINTER_MAPS 1
#define GH_FUNCDATA_STACK_OBJECTS 2
#define GH_FUNCFLAG_TOPFRAME 1 /* abi.FuncFlagTopFrame */
#define GH_FUNCFLAG_SPWRITE 2  /* abi.FuncFlagSPWrite */
#define GH_FUNCFLAG_ASM 4      /* abi.FuncFlagAsm */
#define GH_ARGS_SIZE_UNKNOWN (-0x7fffffff - 1) /* abi.ArgsSizeUnknown */

struct gh_funcinfo {
	uint32_t deferreturn; /* offset of the deferreturn call from entry, 0: none */
	uint32_t pcsp;        /* pctab offset of the SP-delta table, 0: no frame information */
	uint32_t npcdata;
	uint8_t nfuncdata;
	int32_t startline;
};
bool gh_pclntab_funcinfo(const struct gh_pclntab *p, const struct gh_func *f, struct gh_funcinfo *fi);
/* Value of PCDATA table idx at pc; false when the function has no such table
 * or it does not cover pc. */
bool gh_pclntab_pcdata(const struct gh_pclntab *p, const struct gh_func *f, uint32_t idx, uint64_t pc, int32_t *val);
/* Offset of FUNCDATA idx from moduledata.gofunc; false when absent. */
bool gh_pclntab_funcdata(const struct gh_pclntab *p, const struct gh_func *f, uint32_t idx, uint32_t *off);
/* The i-th function of the table (0 <= i < nfunc), for whole-table scans. */
bool gh_pclntab_func_at(const struct gh_pclntab *p, uint64_t i, struct gh_func *f);
/* The function whose name is exactly name (a linear scan). */
bool gh_pclntab_find_name(const struct gh_pclntab *p, const char *name, struct gh_func *f);

#endif
