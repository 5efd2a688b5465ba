/* DWARF lookups goheap needs: struct layouts, global variables, constants.
 * Go emits one named DIE per type, variable and runtime constant at the top
 * level of its compile units; they are indexed by name once. */
#ifndef GH_DWARF_H
#define GH_DWARF_H

#include <libelf.h>
#include <stdbool.h>
#include <stdint.h>

#include "../util/error.h"

struct gh_dwarf;

/* *out is NULL (and the result NULL) when the file has no DWARF. */
struct gh_error *gh_dwarf_open(Elf *elf, struct gh_dwarf **out);
void gh_dwarf_close(struct gh_dwarf *d);

/* The "DW_AT_producer" of the first compile unit ("Go cmd/compile go1.22.12; regabi"). */
const char *gh_dwarf_producer(const struct gh_dwarf *d);
size_t gh_dwarf_count(const struct gh_dwarf *d);

/* names may list alternatives separated by '|'; the first found wins and
 * *found (if non-NULL) points to it inside names. */
bool gh_dwarf_struct_size(struct gh_dwarf *d, const char *names, uint64_t *size);
/* A member by dotted path through embedded structs ("heapArenaPtrScalar.bitmap");
 * paths may list whole alternatives separated by '|' ("bitmap|heapArenaPtrScalar.bitmap"). */
bool gh_dwarf_member(struct gh_dwarf *d, const char *struct_names, const char *path, uint64_t *offset,
		     uint64_t *size);
bool gh_dwarf_variable(struct gh_dwarf *d, const char *names, uint64_t *addr);
bool gh_dwarf_constant(struct gh_dwarf *d, const char *names, int64_t *value);

/* DW_AT_go_runtime_type: the offset of a Go type's runtime descriptor from
 * moduledata.types (not an address).  For the type of a global variable
 * (names: '|' alternatives), or for a type by its exact Go name.  false when
 * unknown or 0 (the linker kept no descriptor for the type). */
bool gh_dwarf_variable_runtime_type(struct gh_dwarf *d, const char *names, uint64_t *off);
bool gh_dwarf_type_runtime_type(struct gh_dwarf *d, const char *name, uint64_t *off);

/* Calls fn for every global variable with a static address (DW_AT_location
 * a lone DW_OP_addr), with its name, link-time address and size in bytes
 * (0 if its type has no size). */
typedef void (*gh_dwarf_var_fn)(void *arg, const char *name, uint64_t addr, uint64_t size);
void gh_dwarf_foreach_variable(struct gh_dwarf *d, gh_dwarf_var_fn fn, void *arg);
/* Name of the DWARF type of a global variable ("sync.Map"); NULL if unknown. */
const char *gh_dwarf_variable_type_name(struct gh_dwarf *d, const char *name);

/* The field path to byte offset off inside a global variable, from its
 * DWARF type (".m", ".items[3].next"; "" when none), for variables whose
 * type has no runtime descriptor (anonymous structs). */
void gh_dwarf_variable_field_path(struct gh_dwarf *d, const char *name, uint64_t off, char *buf, size_t n);

/* Functions and their variables, for typing the locals of stack frames.
 * fn is called for every DW_TAG_subprogram with code (link-time low/high
 * PC) and its DIE offset. */
typedef void (*gh_dwarf_func_fn)(void *arg, uint64_t lowpc, uint64_t highpc, uint64_t die);
void gh_dwarf_foreach_function(struct gh_dwarf *d, gh_dwarf_func_fn fn, void *arg);

/* A variable or parameter of a function, where it is at one PC. */
struct gh_dwarf_local {
	const char *name;
	const char *type_name; /* the DWARF type's name, NULL if none */
	uint64_t type_off;     /* DW_AT_go_runtime_type of its type (offset from moduledata.types), 0 if none */
	uint64_t size;         /* of its type, 0 if unknown */
	int64_t cfa_offset;    /* its (first piece's) memory: CFA + cfa_offset */
	bool is_param;
	bool pieces;           /* only the first piece is at cfa_offset */
};
typedef void (*gh_dwarf_local_fn)(void *arg, const struct gh_dwarf_local *l);
/* Calls fn for each variable and formal parameter of the function at DIE
 * die (and of its lexical blocks and inlined calls covering pc) whose
 * location at link-time pc is in memory relative to the frame's CFA
 * (DW_OP_call_frame_cfa or DW_OP_fbreg forms); register-only locations are
 * skipped.  Location lists (DWARF 4 .debug_loc, DWARF 5 .debug_loclists)
 * are resolved by libdw.  Returns the number of variables passed. */
size_t gh_dwarf_function_locals(struct gh_dwarf *d, uint64_t die, uint64_t pc, gh_dwarf_local_fn fn, void *arg);

/* The parts of a global variable's type that have runtime type descriptors,
 * for variables whose own type has none: through struct members and array
 * elements, the outermost parts with a descriptor (fn(offset, rtype, false)),
 * and pointers whose pointee has one (fn(offset, pointee rtype, true)).
 * Offsets are from the variable's start; rtype as gh_dwarf_variable_runtime_type. */
typedef void (*gh_dwarf_part_fn)(void *arg, uint64_t offset, uint64_t rtype_off, bool points_to);
void gh_dwarf_variable_parts(struct gh_dwarf *d, const char *name, gh_dwarf_part_fn fn, void *arg);

/* The captured variables of a closure function (Go 1.23+ DWARF gives each
 * its DW_AT_go_closure_offset in the closure context), as parts: offsets are
 * from the context's start (its first word is the code pointer). */
void gh_dwarf_closure_parts(struct gh_dwarf *d, const char *func, gh_dwarf_part_fn fn, void *arg);

#endif
