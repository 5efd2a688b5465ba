/* ELF core files: mapped read-only; PT_LOAD segments become memory,
 * notes give threads (NT_PRSTATUS), mapped files (NT_FILE) and the auxiliary
 * vector (NT_AUXV).  Every offset and size read from the file is checked
 * against the file size: cores are often truncated or damaged. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/strutil.h"
#include "target.h"
#include "target_internal.h"

#ifndef NT_FILE
#define NT_FILE 0x46494c45
#endif

/* struct elf_prstatus: pr_pid at 32, pr_reg at 112 on both 64-bit arches. */
#define PRSTATUS_PID 32
#define PRSTATUS_REG 112

void gh_regs_from_kernel(struct gh_regs *r, enum gh_arch arch, const void *data, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->arch = arch;
	unsigned n = gh_regs_count(arch);
	if (len / 8 < n)
		n = (unsigned)(len / 8);
	memcpy(r->r, data, (size_t)n * 8);
	r->n = n;
}

static bool in_file(const struct gh_target *t, uint64_t off, uint64_t len)
{
	return off <= t->map_size && len <= t->map_size - off;
}

static struct gh_error *parse_nt_file(struct gh_target *t, const uint8_t *d, uint64_t len)
{
	if (len < 16)
		return gh_errorf(GH_ERR_FORMAT, "NT_FILE note too short");
	uint64_t count, page;
	memcpy(&count, d, 8);
	memcpy(&page, d + 8, 8);
	if (count > (len - 16) / 24)
		return gh_errorf(GH_ERR_FORMAT, "NT_FILE note claims %llu files in %llu bytes",
				 (unsigned long long)count, (unsigned long long)len);
	const char *names = (const char *)d + 16 + count * 24;
	const char *end = (const char *)d + len;
	for (uint64_t i = 0; i < count; i++) {
		uint64_t e[3];
		memcpy(e, d + 16 + i * 24, 24);
		size_t nl = strnlen(names, (size_t)(end - names));
		if (names + nl >= end)
			return gh_errorf(GH_ERR_FORMAT, "NT_FILE note names run past the note");
		struct gh_mapped_file *f = gh_filevec_push(&t->files);
		if (!f || !(f->path = gh_strndup(names, nl)))
			return &gh_error_nomem;
		f->start = e[0];
		f->end = e[1];
		f->offset = e[2] * page;
		names += nl + 1;
	}
	t->has_nt_file = true;
	return NULL;
}

static void parse_auxv(struct gh_target *t, const uint8_t *d, uint64_t len)
{
	for (uint64_t off = 0; off + 16 <= len; off += 16) {
		uint64_t k, v;
		memcpy(&k, d + off, 8);
		memcpy(&v, d + off + 8, 8);
		switch (k) {
		case AT_PHDR: t->auxv.phdr = v; break;
		case AT_PHENT: t->auxv.phent = v; break;
		case AT_PHNUM: t->auxv.phnum = v; break;
		case AT_ENTRY: t->auxv.entry = v; break;
		case AT_EXECFN: t->auxv.execfn = v; break;
		case AT_NULL: return;
		}
	}
}

static struct gh_error *parse_notes(struct gh_target *t, uint64_t off, uint64_t size)
{
	if (!in_file(t, off, size))
		return gh_errorf(GH_ERR_FORMAT, "core file is truncated: note segment at offset %llu (%llu bytes) is past its end (%zu bytes)",
				 (unsigned long long)off, (unsigned long long)size, t->map_size);
	const uint8_t *p = t->map + off, *end = p + size;
	while (end - p >= 12) {
		uint32_t namesz, descsz, type;
		memcpy(&namesz, p, 4);
		memcpy(&descsz, p + 4, 4);
		memcpy(&type, p + 8, 4);
		uint64_t nalign = ((uint64_t)namesz + 3) & ~3ull, dalign = ((uint64_t)descsz + 3) & ~3ull;
		if (nalign + dalign > (uint64_t)(end - p - 12))
			return gh_errorf(GH_ERR_FORMAT, "corrupt core note (type %u, %u+%u bytes past the segment)",
					 type, namesz, descsz);
		const char *name = (const char *)p + 12;
		const uint8_t *desc = p + 12 + nalign;
		bool core_owner = namesz >= 4 && !memcmp(name, "CORE", 4);
		if (core_owner && type == NT_PRSTATUS) {
			if (descsz < PRSTATUS_REG + 8)
				return gh_errorf(GH_ERR_FORMAT, "NT_PRSTATUS note too short (%u bytes)", descsz);
			int32_t tid;
			memcpy(&tid, desc + PRSTATUS_PID, 4);
			struct gh_regs r;
			gh_regs_from_kernel(&r, t->arch, desc + PRSTATUS_REG, descsz - PRSTATUS_REG);
			GH_TRY(gh_target_add_thread(t, tid, &r));
		} else if (core_owner && type == NT_FILE) {
			GH_TRY(parse_nt_file(t, desc, descsz));
		} else if (core_owner && type == NT_AUXV) {
			parse_auxv(t, desc, descsz);
		}
		p += 12 + nalign + dalign;
	}
	return NULL;
}

static struct gh_error *parse_core(struct gh_target *t)
{
	if (t->map_size < 4 || memcmp(t->map, ELFMAG, SELFMAG))
		return gh_errorf(GH_ERR_FORMAT, "not an ELF file");
	if (t->map_size < sizeof(Elf64_Ehdr))
		return gh_errorf(GH_ERR_FORMAT, "truncated ELF header");
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)t->map;
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return gh_errorf(GH_ERR_UNSUPPORTED, "only 64-bit little-endian cores are supported");
	if (eh->e_type != ET_CORE)
		return gh_errorf(GH_ERR_FORMAT, "not a core file (ELF type %u; an executable given as --core?)", eh->e_type);
	t->arch = gh_arch_from_elf(eh->e_machine);
	if (t->arch == GH_ARCH_UNKNOWN)
		return gh_errorf(GH_ERR_UNSUPPORTED, "core is for ELF machine %u; goheap reads x86-64 and ARM64", eh->e_machine);
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || !in_file(t, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr)))
		return gh_errorf(GH_ERR_FORMAT, "core program headers are corrupt or truncated");
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(t->map + eh->e_phoff);
	uint64_t need = 0;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && ph[i].p_filesz) {
			uint64_t e = ph[i].p_offset + ph[i].p_filesz;
			if (e < ph[i].p_offset)
				return gh_errorf(GH_ERR_FORMAT, "core segment %u has an impossible size", i);
			if (e > need)
				need = e;
		}
	}
	if (need > t->map_size)
		return gh_errorf(GH_ERR_FORMAT, "core file is truncated: its segments need %llu bytes, the file has %zu",
				 (unsigned long long)need, t->map_size);
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_NOTE) {
			GH_TRY(parse_notes(t, ph[i].p_offset, ph[i].p_filesz));
		} else if (ph[i].p_type == PT_LOAD && ph[i].p_filesz) {
			if (ph[i].p_vaddr + ph[i].p_filesz < ph[i].p_vaddr)
				return gh_errorf(GH_ERR_FORMAT, "core segment %u wraps the address space", i);
			struct gh_segment *s = gh_segvec_push(&t->primary);
			if (!s)
				return &gh_error_nomem;
			s->start = ph[i].p_vaddr;
			s->end = ph[i].p_vaddr + ph[i].p_filesz;
			s->src = GH_SRC_CORE;
			s->flags = ph[i].p_flags;
			s->data = t->map + ph[i].p_offset;
			s->file_offset = ph[i].p_offset;
		}
	}
	gh_segvec_sort(&t->primary);
	for (size_t i = 1; i < t->primary.len; i++)
		if (t->primary.data[i].start < t->primary.data[i - 1].end)
			return gh_errorf(GH_ERR_FORMAT, "core segments overlap at 0x%llx",
					 (unsigned long long)t->primary.data[i].start);
	if (!t->threads.len)
		return gh_errorf(GH_ERR_FORMAT, "core has no threads (no NT_PRSTATUS notes)");
	/* The executable: the mapped file that holds the entry point. */
	for (size_t i = 0; i < t->files.len && t->auxv.entry; i++) {
		const struct gh_mapped_file *f = &t->files.data[i];
		if (f->start <= t->auxv.entry && t->auxv.entry < f->end)
			return (t->exe_hint = gh_strdup(f->path)) ? NULL : &gh_error_nomem;
	}
	return NULL;
}

struct gh_error *gh_target_open_core(const char *path, struct gh_target **out)
{
	struct gh_target *t = gh_target_alloc(GH_TARGET_CORE);
	if (!t)
		return &gh_error_nomem;
	struct gh_error *err = NULL;
	if (!(t->path = gh_abspath(path))) {
		err = &gh_error_nomem;
		goto fail;
	}
	t->fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (t->fd < 0 || fstat(t->fd, &st)) {
		err = gh_errorf(GH_ERR_IO, "cannot open core %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		err = gh_errorf(GH_ERR_IO, "core %s is not a regular file", path);
		goto fail;
	}
	t->map_size = (size_t)st.st_size;
	if (t->map_size == 0) {
		err = gh_errorf(GH_ERR_FORMAT, "core %s is empty", path);
		goto fail;
	}
	void *m = mmap(NULL, t->map_size, PROT_READ, MAP_PRIVATE, t->fd, 0);
	if (m == MAP_FAILED) {
		err = gh_errorf(GH_ERR_IO, "cannot map core %s: %s", path, strerror(errno));
		goto fail;
	}
	t->map = m;
	if ((err = parse_core(t))) {
		err = gh_error_wrap(err, "%s", path);
		goto fail;
	}
	*out = t;
	return NULL;
fail:
	gh_target_close(t);
	return err;
}
