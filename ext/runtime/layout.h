/* The runtime layout table: struct sizes, field offsets and sizes,
 * constants and global addresses of one Go program, filled from its DWARF
 * and symbols at load.  See layout.def for the list. */
#ifndef GH_LAYOUT_H
#define GH_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "../binary/dwarf.h"
#include "../binary/symbols.h"
#include "../target/arch.h"
#include "../util/error.h"
#include "layout.def"

struct gh_field {
	int64_t off;   /* -1: this Go release has no such field */
	uint32_t size; /* bytes */
};

struct gh_const {
	bool have;
	int64_t v;
};

struct gh_var {
	bool have;
	uint64_t addr; /* run-time address */
};

#define GH_L_FIELD_(sid, id, path) struct gh_field id;
#define GH_L_STRUCT_(id, names)                    \
	struct {                                   \
		int64_t size_of; /* -1: absent */    \
		GH_FIELDS_##id(GH_L_FIELD_)        \
	} id;
#define GH_L_CONST_(id, names) struct gh_const id;
#define GH_L_VAR_(id, names) struct gh_var id;

struct gh_layout {
	bool from_dwarf;       /* offsets read from the executable's DWARF */
	char builtin[64];      /* else: the built-in table used ("go1.22/amd64"), "" if none */
	GH_STRUCTS(GH_L_STRUCT_)
	struct {
		GH_CONSTS(GH_L_CONST_)
	} c;
	struct {
		GH_VARS(GH_L_VAR_)
	} v;
	/* Fixed by the architecture, not by the Go release. */
	uint64_t arenaBaseOffset;
	unsigned ptrSize;
};

/* Fills L from DWARF and symbols.  Without DWARF (stripped executables) the
 * struct layouts and constants come from the built-in table for the release,
 * architecture and experiments (see layout_builtin.c), when there is one. */
void gh_layout_fill(struct gh_layout *L, enum gh_arch arch, struct gh_dwarf *dw, const struct gh_symbols *syms,
		    uint64_t bias, int go_minor, const char *experiments);

/* Built-in tables, generated from the DWARF of real builds of each release
 * (scripts/gen-layout-tables). */
struct gh_builtin_entry {
	const char *id;   /* as in gh_layout_entry.id */
	int64_t value;    /* struct size, field offset or constant value */
	int64_t size;     /* field size (0 otherwise) */
};
struct gh_builtin_layout {
	int go_minor;
	const char *arch;
	const char *experiments; /* sorted, comma-separated; "" for the release's defaults */
	const struct gh_builtin_entry *entries;
	size_t n;
};
extern const struct gh_builtin_layout gh_builtin_layouts[];
extern const size_t gh_nbuiltin_layouts;

/* NULL if the field is present, else an error naming it and the version. */
struct gh_error *gh_layout_require(const struct gh_layout *L, const struct gh_field *f, const char *goversion);
struct gh_error *gh_layout_require_var(const struct gh_layout *L, const struct gh_var *v, const char *goversion);

/* Iteration over every entry, for display. */
enum gh_layout_kind { GH_LK_STRUCT, GH_LK_FIELD, GH_LK_CONST, GH_LK_VAR };
struct gh_layout_entry {
	enum gh_layout_kind kind;
	const char *id;       /* "mspan", "mspan.startAddr", "pageSize", "mheap_" */
	const char *names;    /* DWARF / symbol names tried */
	const void *value;    /* int64_t*, struct gh_field*, struct gh_const*, struct gh_var* */
};
size_t gh_layout_entries(const struct gh_layout *L, struct gh_layout_entry *out, size_t max);
/* How many entries the table has. */
size_t gh_layout_count(void);

#endif
