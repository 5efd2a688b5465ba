#include <elf.h>
#include <string.h>

#include "arch.h"

static const char *const amd64_names[27] = {
	"r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
	"rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp",
	"ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
};

static const char *const arm64_names[34] = {
	"x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11",
	"x12", "x13", "x14", "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22",
	"x23", "x24", "x25", "x26", "x27", "x28", "x29", "x30", "sp", "pc", "pstate",
};

enum { AMD64_RBP = 4, AMD64_R14 = 1, AMD64_RIP = 16, AMD64_RSP = 19 };
enum { ARM64_X28 = 28, ARM64_X29 = 29, ARM64_X30 = 30, ARM64_SP = 31, ARM64_PC = 32 };

const char *gh_arch_name(enum gh_arch a)
{
	switch (a) {
	case GH_ARCH_AMD64: return "amd64";
	case GH_ARCH_ARM64: return "arm64";
	default: return "unknown";
	}
}

enum gh_arch gh_arch_from_elf(unsigned machine)
{
	switch (machine) {
	case EM_X86_64: return GH_ARCH_AMD64;
	case EM_AARCH64: return GH_ARCH_ARM64;
	default: return GH_ARCH_UNKNOWN;
	}
}

unsigned gh_regs_count(enum gh_arch a)
{
	return a == GH_ARCH_AMD64 ? 27 : a == GH_ARCH_ARM64 ? 34 : 0;
}

const char *gh_reg_name(enum gh_arch a, unsigned i)
{
	if (a == GH_ARCH_AMD64 && i < 27)
		return amd64_names[i];
	if (a == GH_ARCH_ARM64 && i < 34)
		return arm64_names[i];
	return "?";
}

int gh_reg_index(enum gh_arch a, const char *name)
{
	if (!strcmp(name, "pc"))
		return a == GH_ARCH_AMD64 ? AMD64_RIP : ARM64_PC;
	if (!strcmp(name, "sp"))
		return a == GH_ARCH_AMD64 ? AMD64_RSP : ARM64_SP;
	for (unsigned i = 0; i < gh_regs_count(a); i++)
		if (!strcmp(gh_reg_name(a, i), name))
			return (int)i;
	return -1;
}

static uint64_t pick(const struct gh_regs *r, unsigned amd64, unsigned arm64)
{
	unsigned i = r->arch == GH_ARCH_AMD64 ? amd64 : arm64;
	return i < r->n ? r->r[i] : 0;
}

uint64_t gh_regs_pc(const struct gh_regs *r) { return pick(r, AMD64_RIP, ARM64_PC); }
uint64_t gh_regs_sp(const struct gh_regs *r) { return pick(r, AMD64_RSP, ARM64_SP); }
uint64_t gh_regs_fp(const struct gh_regs *r) { return pick(r, AMD64_RBP, ARM64_X29); }
uint64_t gh_regs_lr(const struct gh_regs *r) { return r->arch == GH_ARCH_ARM64 ? pick(r, 0, ARM64_X30) : 0; }
uint64_t gh_regs_g(const struct gh_regs *r) { return pick(r, AMD64_R14, ARM64_X28); }
