/* Executable files, read with libelf over a private mapping. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/strutil.h"
#include "exe.h"

void gh_exe_close(struct gh_exe *e)
{
	if (!e)
		return;
	if (e->elf)
		elf_end(e->elf);
	if (e->map)
		munmap(e->map, e->size);
	if (e->fd >= 0)
		close(e->fd);
	free(e->sections.data);
	free(e->path);
	free(e);
}

static bool in_file(const struct gh_exe *e, uint64_t off, uint64_t len)
{
	return off <= e->size && len <= e->size - off;
}

static void read_go_buildid(struct gh_exe *e)
{
	const struct gh_exe_section *s = gh_exe_section(e, ".note.go.buildid");
	const uint8_t *d = s ? gh_exe_section_data(e, s) : NULL;
	if (!d || s->size < 16)
		return;
	uint32_t namesz, descsz;
	memcpy(&namesz, d, 4);
	memcpy(&descsz, d + 4, 4);
	uint64_t doff = 12 + (((uint64_t)namesz + 3) & ~3ull);
	if (doff + descsz > s->size || descsz >= sizeof(e->go_buildid))
		return;
	memcpy(e->go_buildid, d + doff, descsz);
	e->go_buildid[descsz] = 0;
}

static struct gh_error *load(struct gh_exe *e)
{
	if (e->size < SELFMAG || memcmp(e->map, ELFMAG, SELFMAG))
		return gh_errorf(GH_ERR_FORMAT, "not an ELF file");
	elf_version(EV_CURRENT);
	e->elf = elf_memory((char *)e->map, e->size);
	if (!e->elf || elf_kind(e->elf) != ELF_K_ELF)
		return gh_errorf(GH_ERR_FORMAT, "not a readable ELF file: %s", elf_errmsg(-1));
	if (e->size < sizeof(Elf64_Ehdr) || e->map[EI_CLASS] != ELFCLASS64 || e->map[EI_DATA] != ELFDATA2LSB)
		return gh_errorf(GH_ERR_UNSUPPORTED, "only 64-bit little-endian executables are supported");
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)e->map;
	if (eh->e_type == ET_CORE)
		return gh_errorf(GH_ERR_FORMAT, "this is a core file, not an executable");
	if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN)
		return gh_errorf(GH_ERR_FORMAT, "not an executable (ELF type %u)", eh->e_type);
	e->elf_type = eh->e_type;
	e->arch = gh_arch_from_elf(eh->e_machine);
	if (e->arch == GH_ARCH_UNKNOWN)
		return gh_errorf(GH_ERR_UNSUPPORTED, "executable is for ELF machine %u; goheap reads x86-64 and ARM64",
				 eh->e_machine);
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || !in_file(e, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr)))
		return gh_errorf(GH_ERR_FORMAT, "program headers are corrupt or truncated");
	e->phdr = (const Elf64_Phdr *)(e->map + eh->e_phoff);
	e->phnum = eh->e_phnum;
	size_t shstrndx;
	if (elf_getshdrstrndx(e->elf, &shstrndx))
		return NULL; /* no section headers: segments still work */
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(e->elf, scn));) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			continue;
		const char *name = elf_strptr(e->elf, shstrndx, sh.sh_name);
		struct gh_exe_section *s = gh_secvec_push(&e->sections);
		if (!s)
			return &gh_error_nomem;
		s->name = name ? name : "";
		s->addr = sh.sh_addr;
		s->size = sh.sh_size;
		s->offset = sh.sh_offset;
		s->type = sh.sh_type;
		s->flags = sh.sh_flags;
	}
	read_go_buildid(e);
	return NULL;
}

struct gh_error *gh_exe_open(const char *path, struct gh_exe **out)
{
	struct gh_exe *e = calloc(1, sizeof(*e));
	if (!e)
		return &gh_error_nomem;
	e->fd = -1;
	struct gh_error *err = NULL;
	if (!(e->path = gh_abspath(path))) {
		err = &gh_error_nomem;
		goto fail;
	}
	struct stat st;
	e->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (e->fd < 0 || fstat(e->fd, &st)) {
		err = gh_errorf(GH_ERR_IO, "cannot open executable %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		err = gh_errorf(GH_ERR_IO, "executable %s is not a regular, non-empty file", path);
		goto fail;
	}
	e->size = (size_t)st.st_size;
	void *m = mmap(NULL, e->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, e->fd, 0);
	if (m == MAP_FAILED) {
		err = gh_errorf(GH_ERR_IO, "cannot map executable %s: %s", path, strerror(errno));
		goto fail;
	}
	e->map = m;
	if ((err = load(e))) {
		err = gh_error_wrap(err, "executable %s", path);
		goto fail;
	}
	*out = e;
	return NULL;
fail:
	gh_exe_close(e);
	return err;
}

const struct gh_exe_section *gh_exe_section(const struct gh_exe *e, const char *name)
{
	for (size_t i = 0; i < e->sections.len; i++)
		if (!strcmp(e->sections.data[i].name, name))
			return &e->sections.data[i];
	return NULL;
}

const uint8_t *gh_exe_section_data(const struct gh_exe *e, const struct gh_exe_section *s)
{
	if (s->type == SHT_NOBITS || !in_file(e, s->offset, s->size))
		return NULL;
	return e->map + s->offset;
}

const uint8_t *gh_exe_file_bytes(const struct gh_exe *e, uint64_t addr, size_t len)
{
	for (size_t i = 0; i < e->phnum; i++) {
		const Elf64_Phdr *p = &e->phdr[i];
		if (p->p_type != PT_LOAD || addr < p->p_vaddr || addr - p->p_vaddr > p->p_filesz ||
		    len > p->p_filesz - (addr - p->p_vaddr))
			continue;
		uint64_t off = p->p_offset + (addr - p->p_vaddr);
		return in_file(e, off, len) ? e->map + off : NULL;
	}
	return NULL;
}

/* PIE executables load at a bias: find it from AT_PHDR, else from the
 * mapping of the executable's first page. */
static uint64_t compute_bias(const struct gh_exe *e, const struct gh_target *t)
{
	if (e->elf_type != ET_DYN)
		return 0;
	for (size_t i = 0; i < e->phnum; i++)
		if (e->phdr[i].p_type == PT_PHDR && t->auxv.phdr)
			return t->auxv.phdr - e->phdr[i].p_vaddr;
	if (t->auxv.entry) {
		const Elf64_Ehdr *eh = (const Elf64_Ehdr *)e->map;
		return t->auxv.entry - eh->e_entry;
	}
	return 0;
}

/* Granularity of the loader's mappings (4 KiB pages on both arches here). */
#define PAGE 4096u

struct gh_error *gh_exe_attach(struct gh_exe *e, struct gh_target *t)
{
	if (e->arch != t->arch)
		return gh_errorf(GH_ERR_MISMATCH, "executable %s is %s but the target is %s", e->path,
				 gh_arch_name(e->arch), gh_arch_name(t->arch));
	e->bias = compute_bias(e, t);
	uint64_t compared = 0;
	for (size_t i = 0; i < e->phnum; i++) {
		const Elf64_Phdr *p = &e->phdr[i];
		if (p->p_type != PT_LOAD || !p->p_memsz)
			continue;
		if (!in_file(e, p->p_offset, p->p_filesz))
			return gh_errorf(GH_ERR_FORMAT, "executable %s is truncated (segment %zu past the end of the file)",
					 e->path, i);
		uint64_t start = p->p_vaddr + e->bias;
		/* The kernel maps whole pages: a read-only segment's last page
		 * shows the file's following bytes, a writable one's is zeroed
		 * up to the page end (bss). */
		uint64_t file_end = start + p->p_filesz, mem_end = start + p->p_memsz;
		uint64_t page_end_file = (file_end + PAGE - 1) & ~(uint64_t)(PAGE - 1);
		uint64_t page_end_mem = (mem_end + PAGE - 1) & ~(uint64_t)(PAGE - 1);
		if (!(p->p_flags & PF_W) && page_end_file > file_end) {
			uint64_t avail = e->size - (p->p_offset + p->p_filesz);
			file_end = page_end_file - file_end <= avail ? page_end_file : file_end + avail;
		}
		if (file_end > start) {
			struct gh_segment s = { .start = start, .end = file_end, .src = GH_SRC_EXE,
						.flags = p->p_flags, .data = e->map + p->p_offset,
						.file_offset = p->p_offset };
			GH_TRY(gh_target_add_fallback(t, &s));
		}
		uint64_t zero_end = (p->p_flags & PF_W) ? page_end_mem : mem_end;
		if (zero_end > file_end) {
			struct gh_segment s = { .start = file_end, .end = zero_end,
						.src = GH_SRC_ZERO, .flags = p->p_flags };
			GH_TRY(gh_target_add_fallback(t, &s));
		}
		/* Read-only segments never change at run time: where the target
		 * holds their bytes too, they must be the executable's. */
		if ((p->p_flags & PF_W) || t->kind == GH_TARGET_CALLBACK)
			continue;
		for (uint64_t off = 0; off < p->p_filesz; off += 4096) {
			uint64_t n = p->p_filesz - off < 4096 ? p->p_filesz - off : 4096;
			const struct gh_segment *cs = gh_segment_at(t, start + off);
			if (!cs || cs->src == GH_SRC_EXE || cs->src == GH_SRC_ZERO || cs->end - (start + off) < n)
				continue;
			uint8_t buf[4096];
			if (!gh_read(t, start + off, buf, n))
				continue;
			if (memcmp(buf, e->map + p->p_offset + off, n))
				return gh_errorf(GH_ERR_MISMATCH,
						 "the core was not produced by executable %s: its bytes at 0x%llx differ from the executable's (wrong binary, or a rebuilt one?)",
						 e->path, (unsigned long long)(start + off));
			compared += n;
		}
	}
	e->match_bytes = compared;
	return NULL;
}
