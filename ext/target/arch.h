/* Architectures goheap reads, and their thread register sets. */
#ifndef GH_ARCH_H
#define GH_ARCH_H

#include <stddef.h>
#include <stdint.h>

enum gh_arch { GH_ARCH_UNKNOWN = 0, GH_ARCH_AMD64, GH_ARCH_ARM64 };

const char *gh_arch_name(enum gh_arch a);
/* Maps an ELF e_machine to an architecture (GH_ARCH_UNKNOWN if unsupported). */
enum gh_arch gh_arch_from_elf(unsigned machine);

#define GH_MAX_REGS 34

/* One thread's registers as the kernel reports them in NT_PRSTATUS
 * (x86-64 user_regs_struct: 27 words; arm64 user_pt_regs: 34 words). */
struct gh_regs {
	enum gh_arch arch;
	unsigned n;
	uint64_t r[GH_MAX_REGS];
};

unsigned gh_regs_count(enum gh_arch a);
const char *gh_reg_name(enum gh_arch a, unsigned i);
/* Index of a register by name ("pc", "sp", "rip", "x29", ...); -1 if none. */
int gh_reg_index(enum gh_arch a, const char *name);
uint64_t gh_regs_pc(const struct gh_regs *r);
uint64_t gh_regs_sp(const struct gh_regs *r);
/* Frame pointer (rbp / x29) and, on arm64, the link register (x30). */
uint64_t gh_regs_fp(const struct gh_regs *r);
uint64_t gh_regs_lr(const struct gh_regs *r);
/* The register Go code keeps the current g in (r14 / x28). */
uint64_t gh_regs_g(const struct gh_regs *r);

#endif
