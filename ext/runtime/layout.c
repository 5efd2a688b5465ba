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

void gh_layout_fill(struct gh_layout *L, enum gh_arch arch, struct gh_dwarf *dw, const struct gh_symbols *syms,
		    uint64_t bias)
{
	memset(L, 0, sizeof(*L));
	L->from_dwarf = dw != NULL;
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
			*(int64_t *)val = gh_dwarf_struct_size(dw, m->names, &sz) ? (int64_t)sz : -1;
			break;
		}
		case GH_LK_FIELD: {
			struct gh_field *f = val;
			uint64_t off, sz;
			if (gh_dwarf_member(dw, owner_names(i), m->names, &off, &sz)) {
				f->off = (int64_t)off;
				f->size = (uint32_t)sz;
			} else {
				f->off = -1;
			}
			break;
		}
		case GH_LK_CONST: {
			struct gh_const *c = val;
			c->have = gh_dwarf_constant(dw, m->names, &c->v);
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
	if (!L->from_dwarf)
		return gh_errorf(GH_ERR_MISSING,
				 "runtime layout unavailable: the executable has no DWARF (stripped), so the offset of %s is unknown (%s)",
				 m ? m->id : "?", goversion);
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
