/* Shared by the target layer's own files only. */
#ifndef GH_TARGET_INTERNAL_H
#define GH_TARGET_INTERNAL_H

#include "target.h"

struct gh_target *gh_target_alloc(enum gh_target_kind kind);
void gh_segvec_sort(struct gh_segvec *v);
/* Resumes threads stopped by gh_target_open_pid(). */
void gh_target_detach(struct gh_target *t);
/* Decodes a kernel register block (NT_PRSTATUS pr_reg / PTRACE_GETREGSET). */
void gh_regs_from_kernel(struct gh_regs *r, enum gh_arch arch, const void *data, size_t len);

#endif
