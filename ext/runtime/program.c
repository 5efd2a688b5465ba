/* Opening a program: target, then executable (found from the target when
 * not given), match check, version check, then symbols, DWARF, layout,
 * pclntab and moduledata.  Each step's failure is a clear error. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "locate.h"
#include "program.h"

void gh_program_close(struct gh_program *p)
{
	if (!p)
		return;
	/* Later slots are built on earlier ones: free in reverse. */
	for (size_t i = sizeof(p->cache) / sizeof(p->cache[0]); i-- > 0;)
		if (p->cache[i].ptr && p->cache[i].free)
			p->cache[i].free(p->cache[i].ptr);
	gh_dwarf_close(p->dw);
	gh_symbols_free(p->syms);
	gh_exe_close(p->exe);
	gh_target_close(p->t);
	free(p);
}

const char *gh_program_version(const struct gh_program *p)
{
	return p->bi.version.raw;
}

bool gh_read_field(struct gh_program *p, uint64_t base, const struct gh_field *f, uint64_t *v)
{
	*v = 0;
	if (f->off < 0 || f->size == 0 || f->size > 8)
		return false;
	return gh_read(p->t, base + (uint64_t)f->off, v, f->size);
}

static struct gh_error *resolve_exe_path(struct gh_target *t, const char *given, const char **path)
{
	if (given) {
		*path = given;
		return NULL;
	}
	if (t->exe_hint) {
		if (access(t->exe_hint, R_OK))
			return gh_errorf(GH_ERR_IO,
					 "the executable the core names, %s, is not readable here: give it with --exe",
					 t->exe_hint);
		*path = t->exe_hint;
		return NULL;
	}
	if (t->kind == GH_TARGET_CORE && !t->has_nt_file)
		return gh_errorf(GH_ERR_USAGE,
				 "the core records no mapped files (no NT_FILE note, as in qemu-user cores): give the executable with --exe");
	return gh_errorf(GH_ERR_USAGE, "cannot tell which executable produced the target: give it with --exe");
}

/* moduledata: the symbol, the 1.26+ .go.module section, or a scan of the
 * data segment for a word equal to pclntab's address, validated. */
static void find_moduledata(struct gh_program *p)
{
	if (p->L.v.firstmoduledata.have) {
		p->moduledata = p->L.v.firstmoduledata.addr;
		p->moduledata_from = "symbol runtime.firstmoduledata";
		return;
	}
	const struct gh_exe_section *s = gh_exe_section(p->exe, ".go.module");
	if (s) {
		p->moduledata = s->addr + p->exe->bias;
		p->moduledata_from = "section .go.module";
		return;
	}
	s = gh_exe_section(p->exe, ".noptrdata");
	if (!s)
		return;
	uint64_t start = s->addr + p->exe->bias, end = start + s->size;
	for (uint64_t a = start; a + 8 <= end; a += 8) {
		uint64_t w;
		if (!gh_read_u64(p->t, a, &w) || w != p->pcln.addr)
			continue;
		/* The next word is funcnametab's data pointer. */
		uint64_t fn;
		if (gh_read_u64(p->t, a + 8, &fn) && fn == p->pcln.addr + p->pcln.funcname_off) {
			p->moduledata = a;
			p->moduledata_from = "scan of .noptrdata for pclntab's address";
			return;
		}
	}
}

static void set_text(struct gh_program *p)
{
	uint64_t text;
	if (p->moduledata && gh_read_field(p, p->moduledata, &p->L.moduledata.text, &text) && text) {
		p->pcln.text = text;
		p->text_from = "moduledata.text";
		return;
	}
	text = gh_pclntab_header_text(&p->pcln);
	if (text) {
		p->pcln.text = text + p->exe->bias;
		p->text_from = "pclntab header";
		return;
	}
	const struct gh_exe_section *s = gh_exe_section(p->exe, ".text");
	if (s) {
		p->pcln.text = s->addr + p->exe->bias;
		p->text_from = "section .text";
	}
}

static struct gh_error *bind(struct gh_program *p, const char *exe_arg)
{
	const char *exe_path = NULL;
	GH_TRY(resolve_exe_path(p->t, exe_arg, &exe_path));
	GH_TRY(gh_exe_open(exe_path, &p->exe));
	/* Version first: an unsupported Go is the clearest thing to say. */
	GH_TRY(gh_buildinfo_read(p->exe, &p->bi));
	GH_TRY(gh_goversion_check(&p->bi.version));
	if (p->t->kind == GH_TARGET_EXE_ONLY)
		p->t->arch = p->exe->arch;
	GH_TRY(gh_exe_attach(p->exe, p->t));
	/* GOHEAP_IGNORE_DEBUG_INFO=1 reads the executable as if it were
	 * stripped: what goheap can tell from a stripped build, checked
	 * against what the same core says with DWARF. */
	const char *ign = getenv("GOHEAP_IGNORE_DEBUG_INFO");
	bool debug_info = !ign || !*ign || !strcmp(ign, "0");
	GH_TRY(gh_symbols_load(p->exe->path, debug_info, &p->syms));
	if (debug_info)
		GH_TRY(gh_dwarf_open(p->exe->elf, &p->dw));
	gh_layout_fill(&p->L, p->t->arch, p->dw, p->syms, p->exe->bias, p->bi.version.minor,
		       p->bi.version.experiments);
	GH_TRY(gh_pclntab_open(p->exe, &p->pcln));
	find_moduledata(p);
	set_text(p);
	gh_locate_runtime_globals(p);
	return NULL;
}

struct gh_error *gh_program_from_target(struct gh_target *t, const char *exe, struct gh_program **out)
{
	struct gh_program *p = calloc(1, sizeof(*p));
	if (!p) {
		gh_target_close(t);
		return &gh_error_nomem;
	}
	p->t = t;
	struct gh_error *err = bind(p, exe);
	if (err) {
		gh_program_close(p);
		return err;
	}
	*out = p;
	return NULL;
}

struct gh_error *gh_program_open(const struct gh_open_opts *o, struct gh_program **out)
{
	struct gh_target *t = NULL;
	if (o->core)
		GH_TRY(gh_target_open_core(o->core, &t));
	else if (o->pid)
		GH_TRY(gh_target_open_pid(o->pid, &t));
	else /* executable alone: bind() takes the architecture from it */
		GH_TRY(gh_target_open_none(GH_ARCH_UNKNOWN, &t));
	return gh_program_from_target(t, o->exe, out);
}
