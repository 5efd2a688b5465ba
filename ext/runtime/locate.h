/* Runtime globals in executables without symbols or DWARF, by validated scans. */
#ifndef GH_LOCATE_H
#define GH_LOCATE_H

#include "program.h"

/* Fills the layout's runtime.mheap_ address when symbols did not; records
 * how it was found in p->mheap_from (NULL: not found). */
void gh_locate_runtime_globals(struct gh_program *p);

/* Calls fn with every 8-byte aligned three-word window {ptr, len, cap} of
 * the executable's data section named (a candidate slice header), and its
 * address.  Unreadable pages are skipped. */
typedef void (*gh_slice_fn)(void *arg, uint64_t addr, const uint64_t w[3]);
void gh_locate_scan_slices(struct gh_program *p, const char *section, gh_slice_fn fn, void *arg);

/* runtime.allp ([]*p) by symbol, or by a validated scan of .bss: a slice
 * header whose elements are Ps numbered 0..len-1 (p.id), each with a sane
 * status and an mcache, each one an M runs pointing back at it (m.p).
 * false if no single candidate passes; *from says how it was found. */
bool gh_locate_allp(struct gh_program *p, uint64_t *addr, const char **from);

#endif
