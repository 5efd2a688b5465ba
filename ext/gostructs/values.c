/* Go values as text; see values.h. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "values.h"

#define MAX_DEPTH 3      /* structs inside interfaces inside structs ... */
#define MAX_FIELDS 8     /* struct fields shown before "..." */

struct sb {
	char *buf;
	size_t n, len;
};

static void put(struct sb *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct sb *s, const char *fmt, ...)
{
	if (s->len + 1 >= s->n)
		return;
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(s->buf + s->len, s->n - s->len, fmt, ap);
	va_end(ap);
	if (k > 0)
		s->len = s->len + (size_t)k < s->n ? s->len + (size_t)k : s->n - 1;
}

static bool rd(const struct gh_value_ctx *c, uint64_t a, uint64_t *v)
{
	*v = 0;
	return gh_read_u64(c->p->t, a, v);
}

bool gh_value_map_len(struct gh_program *p, uint64_t hdr, bool swiss, uint64_t *len)
{
	const struct gh_field *f = swiss ? &p->L.swissMap.used : &p->L.hmap.count;
	return f->off >= 0 && gh_read_field(p, hdr, f, len);
}

gh_type_id gh_iface_dynamic_type(const struct gh_value_ctx *c, uint64_t addr, gh_type_id iface_type)
{
	uint64_t w0, inter;
	if (!rd(c, addr, &w0) || !w0)
		return 0;
	/* A non-empty interface holds an itab, whose first word is the
	 * interface's own descriptor; an empty one holds the type itself. */
	const struct gh_type *it = gh_type_get(c->T, iface_type);
	uint64_t desc = w0;
	if (it && rd(c, w0, &inter) && inter == it->addr &&
	    (c->p->L.itab.type.off < 0 || !gh_read_field(c->p, w0, &c->p->L.itab.type, &desc)))
		return 0;
	gh_type_id id;
	struct gh_error *err = gh_type_at(c->T, desc, &id);
	if (err) {
		gh_error_free(err);
		return 0;
	}
	/* Interface type unknown (a debugger's value): no dynamic type is an
	 * interface, so an interface descriptor here is an itab's first word. */
	const struct gh_type *d = gh_type_get(c->T, id);
	if (!it && d && d->kind == GH_KIND_INTERFACE) {
		if (c->p->L.itab.type.off < 0 || !gh_read_field(c->p, w0, &c->p->L.itab.type, &desc))
			return 0;
		if ((err = gh_type_at(c->T, desc, &id))) {
			gh_error_free(err);
			return 0;
		}
	}
	return id;
}

static void string_text(const struct gh_value_ctx *c, struct sb *s, uint64_t data, uint64_t len)
{
	uint8_t text[GH_VALUE_MAX_STRING];
	size_t k = len < sizeof(text) ? (size_t)len : sizeof(text);
	if (k && (!data || !gh_read(c->p->t, data, text, k))) {
		put(s, "<unreadable string 0x%" PRIx64 " len %" PRIu64 ">", data, len);
		return;
	}
	put(s, "\"");
	for (size_t i = 0; i < k; i++) {
		uint8_t ch = text[i];
		if (ch == '"' || ch == '\\')
			put(s, "\\%c", ch);
		else if (ch == '\n')
			put(s, "\\n");
		else if (ch == '\t')
			put(s, "\\t");
		else if (ch < 0x20 || ch == 0x7f)
			put(s, "\\x%02x", ch);
		else
			put(s, "%c", ch); /* UTF-8 passes through; the output layer makes it valid */
	}
	put(s, len > k ? "\"... (len %" PRIu64 ")" : "\"", len);
}

/* elem: the pointer's static element type, named when the target object
 * has no type of its own (the typing pass did not reach it). */
static void pointer_text(const struct gh_value_ctx *c, struct sb *s, uint64_t v, gh_type_id elem)
{
	if (!v) {
		put(s, "nil");
		return;
	}
	put(s, "0x%" PRIx64, v);
	const struct gh_object *o = c->h ? gh_heap_find(c->h, v) : NULL;
	if (!o)
		return;
	const struct gh_type *t = gh_type_get(c->T, gh_obj_type(o) ? gh_obj_type(o) : elem);
	uint64_t off = v - gh_obj_addr(o);
	if (off)
		put(s, " -> +%" PRIu64 " in %s", off, t ? t->name : "object");
	else
		put(s, " -> %s", t ? t->name : "untyped object");
}

static void value(const struct gh_value_ctx *c, struct sb *s, uint64_t a, gh_type_id id, int depth);

static void iface_text(const struct gh_value_ctx *c, struct sb *s, uint64_t a, gh_type_id id, int depth)
{
	uint64_t w0, w1;
	if (!rd(c, a, &w0) || !rd(c, a + 8, &w1)) {
		put(s, "<unreadable 0x%" PRIx64 ">", a);
		return;
	}
	if (!w0) {
		put(s, "nil");
		return;
	}
	gh_type_id dyn = gh_iface_dynamic_type(c, a, id);
	const struct gh_type *d = gh_type_get(c->T, dyn);
	if (!d) {
		put(s, "<bad type word 0x%" PRIx64 "> 0x%" PRIx64, w0, w1);
		return;
	}
	put(s, "%s(", d->name);
	if (d->direct_iface) /* the data word is the value (pointer-shaped types) */
		value(c, s, a + 8, dyn, depth + 1);
	else if (!w1)
		put(s, "nil");
	else
		value(c, s, w1, dyn, depth + 1);
	put(s, ")");
}

static void value(const struct gh_value_ctx *c, struct sb *s, uint64_t a, gh_type_id id, int depth)
{
	if (!id) {
		iface_text(c, s, a, 0, depth);
		return;
	}
	const struct gh_type *t = gh_type_get(c->T, id);
	uint64_t w0 = 0, w1 = 0, w2 = 0;
	if (!t) {
		put(s, "<no type>");
		return;
	}
	if (t->size && t->size <= 8 && !gh_read(c->p->t, a, &w0, t->size)) {
		put(s, "<unreadable 0x%" PRIx64 ">", a);
		return;
	}
	switch (t->kind) {
	case GH_KIND_BOOL:
		put(s, "%s", (w0 & 0xff) ? "true" : "false");
		return;
	case GH_KIND_INT: case GH_KIND_INT8: case GH_KIND_INT16: case GH_KIND_INT32: case GH_KIND_INT64: {
		int64_t v = (int64_t)w0;
		if (t->size < 8 && t->size && ((w0 >> (8 * t->size - 1)) & 1))
			v = (int64_t)(w0 | (~0ull << (8 * t->size)));
		put(s, "%" PRId64, v);
		return;
	}
	case GH_KIND_UINT: case GH_KIND_UINT8: case GH_KIND_UINT16: case GH_KIND_UINT32: case GH_KIND_UINT64:
		put(s, "%" PRIu64, w0);
		return;
	case GH_KIND_UINTPTR:
		put(s, "0x%" PRIx64, w0);
		return;
	case GH_KIND_FLOAT32: {
		float f;
		uint32_t u = (uint32_t)w0;
		memcpy(&f, &u, 4);
		put(s, "%g", (double)f);
		return;
	}
	case GH_KIND_FLOAT64: {
		double d;
		memcpy(&d, &w0, 8);
		put(s, "%g", d);
		return;
	}
	case GH_KIND_STRING:
		if (!rd(c, a, &w0) || !rd(c, a + 8, &w1))
			put(s, "<unreadable 0x%" PRIx64 ">", a);
		else
			string_text(c, s, w0, w1);
		return;
	case GH_KIND_SLICE:
		if (!rd(c, a, &w0) || !rd(c, a + 8, &w1) || !rd(c, a + 16, &w2)) {
			put(s, "<unreadable 0x%" PRIx64 ">", a);
			return;
		}
		put(s, "len %" PRIu64 " cap %" PRIu64 " ", w1, w2);
		pointer_text(c, s, w0, 0);
		return;
	case GH_KIND_INTERFACE:
		iface_text(c, s, a, id, depth);
		return;
	case GH_KIND_MAP: case GH_KIND_CHAN: {
		uint64_t len;
		pointer_text(c, s, w0, id); /* headers are typed as the map or chan type */
		if (!w0)
			return;
		if (t->kind == GH_KIND_MAP && gh_value_map_len(c->p, w0, t->map_swiss, &len))
			put(s, " (len %" PRIu64 ")", len);
		else if (t->kind == GH_KIND_CHAN && c->p->L.hchan.qcount.off >= 0 &&
			 gh_read_field(c->p, w0, &c->p->L.hchan.qcount, &len))
			put(s, " (len %" PRIu64 ")", len);
		return;
	}
	case GH_KIND_POINTER: case GH_KIND_UNSAFE_POINTER:
		pointer_text(c, s, w0, t->kind == GH_KIND_POINTER ? t->elem : 0);
		return;
	case GH_KIND_FUNC:
		put(s, w0 ? "func 0x%" PRIx64 : "nil func", w0);
		return;
	case GH_KIND_STRUCT:
		if (depth >= MAX_DEPTH) {
			put(s, "{...}");
			return;
		}
		put(s, "{");
		for (uint32_t i = 0; i < t->nfields; i++) {
			if (i == MAX_FIELDS) {
				put(s, ", ...");
				break;
			}
			put(s, "%s%s: ", i ? ", " : "", t->fields[i].name);
			value(c, s, a + t->fields[i].offset, t->fields[i].type, depth + 1);
		}
		put(s, "}");
		return;
	default: /* arrays, complex numbers */
		put(s, "%s @0x%" PRIx64, t->name, a);
		return;
	}
}

void gh_value_text(const struct gh_value_ctx *c, uint64_t addr, gh_type_id type, char *buf, size_t n)
{
	struct sb s = { buf, n, 0 };
	if (!n)
		return;
	buf[0] = 0;
	value(c, &s, addr, type, 0);
}
