/* Go values in the target as one line of text, by their runtime type:
 * numbers, strings as quoted text, pointers with the type of the heap
 * object they point at, interfaces as their dynamic type and value, maps
 * and channels with their length, small structs field by field.  Used to
 * show map entries (goheap map, syncmap, the GDB printers). */
#ifndef GH_GOSTRUCTS_VALUES_H
#define GH_GOSTRUCTS_VALUES_H

#include <stddef.h>
#include <stdint.h>

#include "../heap/heap.h"
#include "../runtime/types.h"

/* Longest string shown in full; longer ones end in "..." and their length. */
#define GH_VALUE_MAX_STRING 200

struct gh_value_ctx {
	struct gh_program *p;
	struct gh_heap *h;     /* NULL: pointers are shown without their target's type */
	struct gh_types *T;
};

/* The value of type `type` at addr, as text in buf (always terminated,
 * truncated to n).  type 0 means an interface value of unknown interface
 * type (empty or not). */
void gh_value_text(const struct gh_value_ctx *c, uint64_t addr, gh_type_id type, char *buf, size_t n);

/* The dynamic type of the interface value at addr (iface: through its
 * itab).  0 for nil or an unreadable type word.  iface_type 0: either
 * kind of interface, told apart by what the first word points at. */
gh_type_id gh_iface_dynamic_type(const struct gh_value_ctx *c, uint64_t addr, gh_type_id iface_type);

/* A map or channel header's length (hmap.count, Map.used, hchan.qcount). */
bool gh_value_map_len(struct gh_program *p, uint64_t hdr, bool swiss, uint64_t *len);

#endif
