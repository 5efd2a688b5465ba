/* Runtime globals in executables without symbols or DWARF, by validated scans. */
#ifndef GH_LOCATE_H
#define GH_LOCATE_H

#include "program.h"

/* Fills the layout's runtime.mheap_ address when symbols did not; records
 * how it was found in p->mheap_from (NULL: not found). */
void gh_locate_runtime_globals(struct gh_program *p);

#endif
