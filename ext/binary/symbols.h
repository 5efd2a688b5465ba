/* The executable's symbol table (read with libbfd).  Stripped binaries have
 * none; callers fall back to DWARF, pclntab or signature scans. */
#ifndef GH_SYMBOLS_H
#define GH_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/error.h"

struct gh_symbol {
	const char *name;
	uint64_t addr; /* link-time address */
};

struct gh_symbols;

/* symtab false: as for a stripped file (no symbols). */
struct gh_error *gh_symbols_load(const char *path, bool symtab, struct gh_symbols **out);
void gh_symbols_free(struct gh_symbols *s);
size_t gh_symbols_count(const struct gh_symbols *s);
/* Exact-name lookup; NULL if absent. */
const struct gh_symbol *gh_symbols_find(const struct gh_symbols *s, const char *name);

#endif
