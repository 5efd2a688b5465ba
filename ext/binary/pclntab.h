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

#endif
