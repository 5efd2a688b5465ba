/* goheap object: the object containing an address, its type and fields. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../heap/heap.h"
#include "../runtime/types.h"
#include "../util/strutil.h"
#include "commands.h"

#define MAX_FIELDS 64
#define MAX_TEXT 64

/* One field's value, as text: numbers, strings as quoted text, pointers
 * with the type of what they point at. */
static void value_text(struct gh_program *p, struct gh_heap *h, struct gh_types *T, uint64_t a,
		       const struct gh_type *t, char *buf, size_t n)
{
	uint64_t w0 = 0, w1 = 0;
	gh_read_u64(p->t, a, &w0);
	switch (t->kind) {
	case GH_KIND_BOOL:
		snprintf(buf, n, "%s", (w0 & 0xff) ? "true" : "false");
		return;
	case GH_KIND_INT: case GH_KIND_INT64: case GH_KIND_UINT: case GH_KIND_UINT64: case GH_KIND_UINTPTR:
	case GH_KIND_INT8: case GH_KIND_INT16: case GH_KIND_INT32: case GH_KIND_UINT8: case GH_KIND_UINT16:
	case GH_KIND_UINT32: {
		uint64_t v = t->size >= 8 ? w0 : w0 & ((1ull << (8 * t->size)) - 1);
		bool is_signed = t->kind >= GH_KIND_INT && t->kind <= GH_KIND_INT64;
		if (is_signed && t->size < 8 && (v >> (8 * t->size - 1)) & 1)
			v |= ~0ull << (8 * t->size);
		snprintf(buf, n, is_signed ? "%" PRId64 : "%" PRIu64, v);
		return;
	}
	case GH_KIND_STRING: {
		gh_read_u64(p->t, a + 8, &w1);
		char text[MAX_TEXT + 1] = "";
		size_t len = w1 < MAX_TEXT ? (size_t)w1 : MAX_TEXT;
		if (w0 && len && !gh_read(p->t, w0, text, len))
			len = 0;
		text[len] = 0;
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)text[i] < 0x20)
				text[i] = '.';
		snprintf(buf, n, "\"%s\"%s (len %" PRIu64 ")", text, w1 > MAX_TEXT ? "..." : "", w1);
		return;
	}
	case GH_KIND_SLICE: {
		uint64_t cap = 0;
		gh_read_u64(p->t, a + 8, &w1);
		gh_read_u64(p->t, a + 16, &cap);
		snprintf(buf, n, "0x%" PRIx64 " (len %" PRIu64 ", cap %" PRIu64 ")", w0, w1, cap);
		return;
	}
	case GH_KIND_INTERFACE: {
		gh_read_u64(p->t, a + 8, &w1);
		if (!w0) {
			snprintf(buf, n, "nil");
			return;
		}
		uint64_t desc = w0, inter;
		if (gh_read_u64(p->t, w0, &inter) && inter == t->addr)
			gh_read_field(p, w0, &p->L.itab.type, &desc);
		gh_type_id id;
		struct gh_error *err = gh_type_at(T, desc, &id);
		if (err) {
			gh_error_free(err);
			snprintf(buf, n, "(bad type word 0x%" PRIx64 ") 0x%" PRIx64, w0, w1);
			return;
		}
		snprintf(buf, n, "%s(0x%" PRIx64 ")", gh_type_get(T, id)->name, w1);
		return;
	}
	case GH_KIND_POINTER: case GH_KIND_MAP: case GH_KIND_CHAN: case GH_KIND_FUNC: case GH_KIND_UNSAFE_POINTER: {
		if (!w0) {
			snprintf(buf, n, "nil");
			return;
		}
		const struct gh_object *o = gh_heap_find(h, w0);
		if (!o) {
			snprintf(buf, n, "0x%" PRIx64 " (not in the heap)", w0);
			return;
		}
		char tn[256];
		gh_cmd_type_name(p, h, o, tn, sizeof(tn));
		uint64_t off = w0 - gh_obj_addr(o);
		if (off)
			snprintf(buf, n, "0x%" PRIx64 " -> +%" PRIu64 " in %s", w0, off, tn);
		else
			snprintf(buf, n, "0x%" PRIx64 " -> %s", w0, tn);
		return;
	}
	default:
		snprintf(buf, n, "0x%" PRIx64, w0);
	}
}

static void put_fields(struct gh_program *p, struct gh_heap *h, struct gh_types *T, struct gh_node *obj,
		       uint64_t base, const struct gh_type *t)
{
	struct gh_node *ft = gh_put_table(obj, "fields");
	char val[512];
	if (t->kind != GH_KIND_STRUCT) {
		struct gh_node *row = gh_table_row(ft);
		value_text(p, h, T, base, t, val, sizeof(val));
		gh_put_u64(row, "offset", 0);
		gh_put_str(row, "name", "");
		gh_put_str(row, "type", t->name);
		gh_put_str(row, "value", val);
		return;
	}
	for (uint32_t i = 0; i < t->nfields && i < MAX_FIELDS; i++) {
		const struct gh_type *f = gh_type_get(T, t->fields[i].type);
		if (!f)
			continue;
		struct gh_node *row = gh_table_row(ft);
		gh_put_u64(row, "offset", t->fields[i].offset);
		gh_put_str(row, "name", t->fields[i].name);
		gh_put_str(row, "type", f->name);
		if (f->kind == GH_KIND_STRUCT || f->kind == GH_KIND_ARRAY)
			snprintf(val, sizeof(val), "(%" PRIu64 " bytes)", f->size);
		else
			value_text(p, h, T, base + t->fields[i].offset, f, val, sizeof(val));
		gh_put_str(row, "value", val);
	}
}

struct gh_error *gh_cmd_object(struct gh_program *p, int argc, char **argv, struct gh_out *o)
{
	if (argc < 2)
		return gh_errorf(GH_ERR_USAGE, "usage: object ADDR...");
	struct gh_heap *h;
	GH_TRY(gh_cmd_heap(p, &h));
	struct gh_types *T = NULL;
	struct gh_error *terr = gh_cmd_types(p, &T);
	if (terr) {
		gh_error_free(terr);
		T = NULL;
	}
	struct gh_node *list = gh_put_list(gh_out_root(o), "objects");
	for (int i = 1; i < argc; i++) {
		uint64_t addr;
		if (!gh_parse_u64(argv[i], &addr))
			return gh_errorf(GH_ERR_USAGE, "not an address: '%s'", argv[i]);
		const struct gh_object *ob = gh_heap_find(h, addr);
		if (!ob) {
			const struct gh_segment *s = gh_segment_at(p->t, addr);
			return gh_errorf(GH_ERR_NOT_FOUND, "0x%" PRIx64 " is not in a live heap object (%s)", addr,
					 !s ? "not in the target's memory" : gh_heap_span_of(h, addr) ? "a free slot of a heap span"
					 : "memory outside the Go heap");
		}
		const struct gh_span *s = gh_obj_span(h, ob);
		struct gh_node *n = gh_list_add(list);
		char tn[512];
		gh_cmd_type_name(p, h, ob, tn, sizeof(tn));
		uint64_t slot_size, slot = gh_obj_slot(h, ob, &slot_size);
		gh_put_addr(n, "query", addr);
		gh_put_addr(n, "address", gh_obj_addr(ob));
		gh_put_u64(n, "offset", addr >= gh_obj_addr(ob) ? addr - gh_obj_addr(ob) : 0);
		gh_put_u64(n, "size", gh_obj_size(h, ob));
		gh_put_str(n, "type", tn);
		gh_put_addr(n, "slot", slot);
		gh_put_u64(n, "slot_size", slot_size);
		gh_put_addr(n, "span", s->base);
		gh_put_u64(n, "size_class", s->sizeclass);
		gh_put_str(n, "state", gh_obj_garbage(h, ob) ? "garbage (not yet swept)"
				       : gh_obj_allocating(h, ob) ? "being allocated" : "allocated");
		const struct gh_type *t = T && gh_obj_type(ob) ? gh_type_get(T, gh_obj_type(ob)) : NULL;
		if (t && !gh_obj_is_tiny(h, ob) && t->kind != GH_KIND_MAP && t->kind != GH_KIND_CHAN)
			put_fields(p, h, T, n, gh_obj_addr(ob), t);
	}
	return NULL;
}
