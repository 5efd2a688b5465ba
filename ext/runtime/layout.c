/* Filling the layout table and describing it. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "layout.h"

struct meta {
	enum gh_layout_kind kind;
	const char *id;
	const char *struct_names; /* for fields: the owning struct's names */
	const char *names;        /* struct names, member path, const or var names */
	size_t off;               /* offsetof the value in struct gh_layout */
};

#define M_FIELD_(sid, fid, path) \
	{ GH_LK_FIELD, #sid "." #fid, NULL, path, offsetof(struct gh_layout, sid.fid) },
#define M_STRUCT_(sid, names)                                                     \
	{ GH_LK_STRUCT, #sid, NULL, names, offsetof(struct gh_layout, sid.size_of) }, \
	GH_FIELDS_##sid(M_FIELD_)
#define M_CONST_(id, names) { GH_LK_CONST, #id, NULL, names, offsetof(struct gh_layout, c.id) },
#define M_VAR_(id, names) { GH_LK_VAR, #id, NULL, names, offsetof(struct gh_layout, v.id) },

static const struct meta metas[] = {
	GH_STRUCTS(M_STRUCT_)
	GH_CONSTS(M_CONST_)
	GH_VARS(M_VAR_)
};
#define NMETA (sizeof(metas) / sizeof(metas[0]))

/* The owning struct's DWARF names for a field entry: the nearest struct
 * entry before it in metas[]. */
static const char *owner_names(size_t i)
{
	while (i-- > 0)
		if (metas[i].kind == GH_LK_STRUCT)
			return metas[i].names;
	return "";
}

static const char *owner_id(size_t i, char *buf, size_t n)
{
	const char *dot = strchr(metas[i].id, '.');
	size_t l = dot ? (size_t)(dot - metas[i].id) : strlen(metas[i].id);
	snprintf(buf, n, "%.*s", (int)l, metas[i].id);
	return buf;
}

/* Sorted, comma-separated copy of an experiment list (order in version strings is not fixed). */
static void norm_experiments(const char *in, char *out, size_t outlen)
{
	char items[16][64];
	size_t n = 0;
	for (const char *p = in; *p && n < 16;) {
		size_t len = strcspn(p, ",");
		if (len && len < 64) {
			memcpy(items[n], p, len);
			items[n++][len] = 0;
		}
		p += len + (p[len] == ',');
	}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(items[j - 1], items[j]) > 0; j--) {
			char t[64];
			memcpy(t, items[j], 64);
			memcpy(items[j], items[j - 1], 64);
			memcpy(items[j - 1], t, 64);
		}
	out[0] = 0;
	for (size_t i = 0; i < n; i++)
		snprintf(out + strlen(out), outlen - strlen(out), "%s%s", i ? "," : "", items[i]);
}

static const struct gh_builtin_layout *find_builtin(enum gh_arch arch, int go_minor, const char *experiments)
{
	char want[256];
	norm_experiments(experiments ? experiments : "", want, sizeof(want));
	for (size_t i = 0; i < gh_nbuiltin_layouts; i++) {
		const struct gh_builtin_layout *b = &gh_builtin_layouts[i];
		if (b->go_minor == go_minor && !strcmp(b->arch, gh_arch_name(arch)) && !strcmp(b->experiments, want))
			return b;
	}
	return NULL;
}

static const struct gh_builtin_entry *builtin_entry(const struct gh_builtin_layout *b, const char *id)
{
	for (size_t i = 0; b && i < b->n; i++)
		if (!strcmp(b->entries[i].id, id))
			return &b->entries[i];
	return NULL;
}

void gh_layout_fill(struct gh_layout *L, enum gh_arch arch, struct gh_dwarf *dw, const struct gh_symbols *syms,
		    uint64_t bias, int go_minor, const char *experiments)
{
	memset(L, 0, sizeof(*L));
	L->from_dwarf = dw != NULL;
	const struct gh_builtin_layout *bt = dw ? NULL : find_builtin(arch, go_minor, experiments);
	if (bt)
		snprintf(L->builtin, sizeof(L->builtin), "go1.%d/%s%s%s", bt->go_minor, bt->arch,
			 *bt->experiments ? "/" : "", bt->experiments);
	L->ptrSize = 8;
	/* heap address space offset: runtime/malloc.go arenaBaseOffset */
	L->arenaBaseOffset = arch == GH_ARCH_AMD64 ? 0xffff800000000000ull : 0;
	char *base = (char *)L;
	for (size_t i = 0; i < NMETA; i++) {
		const struct meta *m = &metas[i];
		void *val = base + m->off;
		switch (m->kind) {
		case GH_LK_STRUCT: {
			uint64_t sz;
			const struct gh_builtin_entry *e = builtin_entry(bt, m->id);
			if (bt)
				*(int64_t *)val = e ? e->value : -1;
			else
				*(int64_t *)val = gh_dwarf_struct_size(dw, m->names, &sz) ? (int64_t)sz : -1;
			break;
		}
		case GH_LK_FIELD: {
			struct gh_field *f = val;
			uint64_t off, sz;
			const struct gh_builtin_entry *e = builtin_entry(bt, m->id);
			f->off = -1;
			if (bt && e) {
				f->off = e->value;
				f->size = (uint32_t)e->size;
			} else if (!bt && gh_dwarf_member(dw, owner_names(i), m->names, &off, &sz)) {
				f->off = (int64_t)off;
				f->size = (uint32_t)sz;
			}
			break;
		}
		case GH_LK_CONST: {
			struct gh_const *c = val;
			const struct gh_builtin_entry *e = builtin_entry(bt, m->id);
			if (bt) {
				c->have = e != NULL;
				c->v = e ? e->value : 0;
			} else {
				c->have = gh_dwarf_constant(dw, m->names, &c->v);
			}
			break;
		}
		case GH_LK_VAR: {
			struct gh_var *v = val;
			/* Symbol table first: it is exact and survives DWARF-less builds. */
			char one[128];
			const char *bar = strchr(m->names, '|');
			snprintf(one, sizeof(one), "%.*s", bar ? (int)(bar - m->names) : (int)strlen(m->names), m->names);
			const struct gh_symbol *s = gh_symbols_find(syms, one);
			uint64_t a;
			if (s) {
				v->have = true;
				v->addr = s->addr + bias;
			} else if (gh_dwarf_variable(dw, m->names, &a)) {
				v->have = true;
				v->addr = a + bias;
			}
			break;
		}
		}
	}
}

static const struct meta *meta_of(const struct gh_layout *L, const void *p)
{
	size_t off = (size_t)((const char *)p - (const char *)L);
	for (size_t i = 0; i < NMETA; i++)
		if (metas[i].off == off)
			return &metas[i];
	return NULL;
}

struct gh_error *gh_layout_require(const struct gh_layout *L, const struct gh_field *f, const char *goversion)
{
	if (f->off >= 0)
		return NULL;
	const struct meta *m = meta_of(L, f);
	char sid[64] = "?";
	if (m)
		owner_id((size_t)(m - metas), sid, sizeof(sid));
	if (!L->from_dwarf && !L->builtin[0])
		return gh_errorf(GH_ERR_MISSING,
				 "runtime layout unavailable: the executable has no DWARF (stripped) and goheap has no built-in layout for %s, so the offset of %s is unknown",
				 goversion, m ? m->id : "?");
	return gh_errorf(GH_ERR_MISSING, "the runtime of %s has no field %s (looked for %s in %s)", goversion,
			 m ? m->id : "?", m ? m->names : "?", m ? owner_names((size_t)(m - metas)) : "?");
}

struct gh_error *gh_layout_require_var(const struct gh_layout *L, const struct gh_var *v, const char *goversion)
{
	if (v->have)
		return NULL;
	const struct meta *m = meta_of(L, v);
	return gh_errorf(GH_ERR_MISSING, "cannot find the runtime variable %s in the executable (%s; no symbol table or DWARF entry)",
			 m ? m->names : "?", goversion);
}

size_t gh_layout_count(void)
{
	return NMETA;
}

size_t gh_layout_entries(const struct gh_layout *L, struct gh_layout_entry *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < NMETA && n < max; i++, n++) {
		out[n].kind = metas[i].kind;
		out[n].id = metas[i].id;
		out[n].names = metas[i].names;
		out[n].value = (const char *)L + metas[i].off;
	}
	return n;
}
