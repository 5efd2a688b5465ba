/* goheap info: what the target is and how goheap reads it. */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

static void put_version(struct gh_program *p, struct gh_node *r)
{
	struct gh_node *g = gh_put_object(r, "go");
	gh_put_str(g, "version", p->bi.version.raw);
	gh_put_strf(g, "release", "go1.%d", p->bi.version.minor);
	gh_put_str(g, "experiments", p->bi.version.experiments);
	gh_put_str(g, "goexperiment_setting", p->bi.goexperiment);
	gh_put_str(g, "goarch", p->bi.goarch);
	gh_put_str(g, "main_package", p->bi.main_path);
}

static void put_target(struct gh_program *p, struct gh_node *r)
{
	struct gh_node *t = gh_put_object(r, "target");
	static const char *kinds[] = { "core", "live process", "debugger", "executable only" };
	gh_put_str(t, "kind", kinds[p->t->kind]);
	gh_put_str(t, "path", p->t->path);
	if (p->t->pid)
		gh_put_i64(t, "pid", p->t->pid);
	gh_put_str(t, "arch", gh_arch_name(p->t->arch));

	struct gh_node *e = gh_put_object(r, "executable");
	gh_put_str(e, "path", p->exe->path);
	gh_put_str(e, "go_build_id", p->exe->go_buildid);
	gh_put_bool(e, "pie", p->exe->elf_type == ET_DYN);
	gh_put_addr(e, "load_bias", p->exe->bias);
	gh_put_bool(e, "matches_target", true);
	gh_put_str(e, "match_evidence",
		   p->t->kind == GH_TARGET_EXE_ONLY ? "no target: the executable alone"
		   : p->exe->match_bytes ? "read-only segment bytes present in both are equal"
					 : "unverified: the target holds no read-only executable pages");
	gh_put_u64(e, "match_bytes_compared", p->exe->match_bytes);
	gh_put_u64(e, "symbols", gh_symbols_count(p->syms));
	gh_put_bool(e, "dwarf", p->dw != NULL);
	gh_put_str(e, "dwarf_producer", gh_dwarf_producer(p->dw));
}

static void put_pcln(struct gh_program *p, struct gh_node *r)
{
	struct gh_node *n = gh_put_object(r, "pclntab");
	gh_put_addr(n, "address", p->pcln.addr);
	gh_put_u64(n, "functions", p->pcln.nfunc);
	gh_put_u64(n, "files", p->pcln.nfiles);
	gh_put_addr(n, "text", p->pcln.text);
	gh_put_str(n, "text_from", p->text_from ? p->text_from : "unknown");
	if (p->moduledata) {
		gh_put_addr(n, "moduledata", p->moduledata);
		gh_put_str(n, "moduledata_from", p->moduledata_from);
	} else {
		gh_put_null(n, "moduledata");
	}
}

static void put_threads(struct gh_program *p, struct gh_node *r)
{
	struct gh_node *t = gh_put_table(r, "threads");
	for (size_t i = 0; i < p->t->threads.len; i++) {
		const struct gh_thread *th = &p->t->threads.data[i];
		struct gh_node *row = gh_table_row(t);
		uint64_t pc = gh_regs_pc(&th->regs);
		gh_put_i64(row, "tid", th->tid);
		gh_put_addr(row, "pc", pc);
		gh_put_addr(row, "sp", gh_regs_sp(&th->regs));
		struct gh_func f;
		if (gh_pclntab_find(&p->pcln, pc, &f)) {
			gh_put_strf(row, "function", "%s+0x%llx", f.name, (unsigned long long)(pc - f.entry));
			const char *file;
			int32_t line;
			if (gh_pclntab_fileline(&p->pcln, &f, pc, &file, &line))
				gh_put_strf(row, "location", "%s:%d", file, line);
			else
				gh_put_null(row, "location");
		} else {
			gh_put_str(row, "function", "(not Go code)");
			gh_put_null(row, "location");
		}
	}
}

static const char *file_at(struct gh_program *p, uint64_t addr)
{
	for (size_t i = 0; i < p->t->files.len; i++)
		if (p->t->files.data[i].start <= addr && addr < p->t->files.data[i].end)
			return p->t->files.data[i].path;
	return "";
}

static void put_row(struct gh_program *p, struct gh_node *t, uint64_t start, uint64_t end, unsigned flags,
		    enum gh_seg_source src)
{
	struct gh_node *row = gh_table_row(t);
	gh_put_addr(row, "start", start);
	gh_put_addr(row, "end", end);
	gh_put_bytes(row, "size", end - start);
	gh_put_strf(row, "perms", "%c%c%c", flags & PF_R ? 'r' : '-', flags & PF_W ? 'w' : '-', flags & PF_X ? 'x' : '-');
	gh_put_str(row, "source", gh_source_name(src));
	gh_put_str(row, "file", file_at(p, start));
}

/* Primary segments as they are; executable segments for the parts the
 * target does not hold.  Both tables are sorted by start. */
static void put_mappings(struct gh_program *p, struct gh_node *r)
{
	struct gh_node *t = gh_put_table(r, "mappings");
	const struct gh_segvec *pri = &p->t->primary, *fb = &p->t->fallback;
	size_t i = 0, j = 0;
	uint64_t fb_cursor = fb->len ? fb->data[0].start : 0;
	while (i < pri->len || j < fb->len) {
		const struct gh_segment *ps = i < pri->len ? &pri->data[i] : NULL;
		const struct gh_segment *fs = j < fb->len ? &fb->data[j] : NULL;
		if (fs && fb_cursor < fs->start)
			fb_cursor = fs->start;
		if (fs && fb_cursor >= fs->end) {
			j++;
			continue;
		}
		if (ps && (!fs || ps->start <= fb_cursor)) {
			put_row(p, t, ps->start, ps->end, ps->flags, ps->src);
			if (fs && ps->end > fb_cursor)
				fb_cursor = ps->end;
			i++;
			continue;
		}
		uint64_t end = fs->end;
		if (ps && ps->start < end)
			end = ps->start;
		put_row(p, t, fb_cursor, end, fs->flags, fs->src);
		fb_cursor = end;
	}
}

static void put_layout(struct gh_program *p, struct gh_node *r, struct gh_out *o)
{
	struct gh_node *l = gh_put_object(r, "runtime_layout");
	if (p->L.from_dwarf)
		gh_put_str(l, "source", "DWARF");
	else if (p->L.builtin[0])
		gh_put_strf(l, "source", "built-in table %s (no DWARF: stripped executable)", p->L.builtin);
	else
		gh_put_str(l, "source", "unavailable (no DWARF, and no built-in table for this release)");
	gh_put_addr(l, "arenaBaseOffset", p->L.arenaBaseOffset);
	if (p->L.v.mheap_.have) {
		gh_put_addr(l, "mheap", p->L.v.mheap_.addr);
		gh_put_str(l, "mheap_from", p->mheap_from ? p->mheap_from : "?");
	} else {
		gh_put_null(l, "mheap");
	}
	if (!p->L.from_dwarf && !p->L.builtin[0])
		return;
	size_t max = gh_layout_count();
	struct gh_layout_entry *ents = calloc(max, sizeof(*ents));
	if (!ents) {
		gh_out_warn(o, "out of memory listing the runtime layout");
		return;
	}
	size_t n = gh_layout_entries(&p->L, ents, max);
	struct gh_node *t = gh_put_table(l, "entries");
	for (size_t i = 0; i < n; i++) {
		struct gh_node *row = gh_table_row(t);
		static const char *kinds[] = { "struct", "field", "const", "var" };
		gh_put_str(row, "kind", kinds[ents[i].kind]);
		gh_put_str(row, "name", ents[i].id);
		switch (ents[i].kind) {
		case GH_LK_STRUCT: {
			int64_t sz = *(const int64_t *)ents[i].value;
			if (sz < 0) {
				gh_put_null(row, "value");
				gh_put_null(row, "size");
			} else {
				gh_put_null(row, "value");
				gh_put_i64(row, "size", sz);
			}
			break;
		}
		case GH_LK_FIELD: {
			const struct gh_field *f = ents[i].value;
			if (f->off < 0) {
				gh_put_null(row, "value");
				gh_put_null(row, "size");
			} else {
				gh_put_strf(row, "value", "+%lld", (long long)f->off);
				gh_put_i64(row, "size", f->size);
			}
			break;
		}
		case GH_LK_CONST: {
			const struct gh_const *c = ents[i].value;
			if (c->have)
				gh_put_strf(row, "value", "%lld", (long long)c->v);
			else
				gh_put_null(row, "value");
			gh_put_null(row, "size");
			break;
		}
		case GH_LK_VAR: {
			const struct gh_var *v = ents[i].value;
			if (v->have)
				gh_put_strf(row, "value", "0x%llx", (unsigned long long)v->addr);
			else
				gh_put_null(row, "value");
			gh_put_null(row, "size");
			break;
		}
		}
		gh_put_str(row, "looked_up_as", ents[i].names);
	}
	free(ents);
}

struct gh_error *gh_cmd_info(struct gh_program *p, int argc, char **argv, struct gh_out *o)
{
	(void)argv;
	if (argc > 1)
		return gh_errorf(GH_ERR_USAGE, "usage: info (takes no arguments)");
	struct gh_node *r = gh_out_root(o);
	put_version(p, r);
	put_target(p, r);
	put_pcln(p, r);
	put_threads(p, r);
	put_mappings(p, r);
	put_layout(p, r, o);
	return NULL;
}
