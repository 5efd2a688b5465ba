/* The executable: an ELF file mapped read-only, its sections and program
 * headers, and the bytes it supplies for addresses a core does not hold. */
#ifndef GH_EXE_H
#define GH_EXE_H

#include <elf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../target/target.h"
#include "../util/error.h"
#include "../util/vec.h"

struct gh_exe_section {
	const char *name;
	uint64_t addr, size, offset;
	uint32_t type;
	uint64_t flags;
};
GH_VEC(gh_secvec, struct gh_exe_section)

struct gh_exe {
	char *path;
	int fd;
	uint8_t *map; /* private copy-on-write mapping, never written by goheap */
	size_t size;
	Elf *elf;
	enum gh_arch arch;
	unsigned elf_type; /* ET_EXEC or ET_DYN */
	const Elf64_Phdr *phdr;
	size_t phnum;
	struct gh_secvec sections;
	uint64_t bias; /* load address minus link address (PIE) */
	char go_buildid[128]; /* from .note.go.buildid, "" if none */
	/* Set by gh_exe_attach: how many read-only bytes the target and the
	 * executable both hold and agree on (0: nothing to compare). */
	uint64_t match_bytes;
};

struct gh_error *gh_exe_open(const char *path, struct gh_exe **out);
void gh_exe_close(struct gh_exe *e);

const struct gh_exe_section *gh_exe_section(const struct gh_exe *e, const char *name);
/* File bytes of a section (NULL for SHT_NOBITS or if out of the file). */
const uint8_t *gh_exe_section_data(const struct gh_exe *e, const struct gh_exe_section *s);
/* Reads link-time address range [addr, addr+len) from the file's PT_LOAD
 * segments; NULL if not backed by file bytes. */
const uint8_t *gh_exe_file_bytes(const struct gh_exe *e, uint64_t addr, size_t len);

/* Computes the load bias from the target (auxv or mapped files), adds the
 * executable's segments as the target's fallback memory, and checks that
 * the core was produced by this executable: read-only segment bytes present
 * in both must be equal. */
struct gh_error *gh_exe_attach(struct gh_exe *e, struct gh_target *t);

#endif
