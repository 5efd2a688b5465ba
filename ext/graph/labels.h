/* Edge labels for printed paths. */
#ifndef GH_LABELS_H
#define GH_LABELS_H

#include <stddef.h>
#include <stdint.h>

#include "../runtime/types.h"

/* The path to byte offset off inside a value of type id at base:
 * ".Buf.buf", "[3].next", "map value [\"user:42\"]"; "" when off is the
 * value itself. */
void gh_field_path(struct gh_program *p, struct gh_types *T, uint64_t base, gh_type_id id, uint64_t off, char *buf,
		   size_t n);

#endif
