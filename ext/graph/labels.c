/* Edge labels, computed when a path is printed: the field path, array index
 * or map key through which a holder points at a target.  The holder's type
 * says what is at the offset of the pointer word; a map bucket or group
 * names the entry by its key. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "labels.h"

#define MAX_DEPTH 16

static void key_text(struct gh_program *p, struct gh_types *T, uint64_t a, gh_type_id kid, char *buf, size_t n)
{
	const struct gh_type *k = gh_type_get(T, kid);
	uint64_t w0 = 0, w1 = 0;
	gh_read_u64(p->t, a, &w0);
	if (!k) {
		snprintf(buf, n, "?");
		return;
	}
	if (k->kind == GH_KIND_INTERFACE) {
		/* An interface key: its dynamic type says how to print it (the data
		 * word holds the value itself for pointer-shaped types). */
		uint64_t desc = w0, inter;
		gh_type_id dyn;
		gh_read_u64(p->t, a + 8, &w1);
		if (w0 && gh_read_u64(p->t, w0, &inter) && inter == k->addr)
			gh_read_field(p, w0, &p->L.itab.type, &desc);
		struct gh_error *err = desc ? gh_type_at(T, desc, &dyn) : NULL;
		if (!desc || err) {
			gh_error_free(err);
			snprintf(buf, n, desc ? "<bad interface key>" : "nil");
			return;
		}
		const struct gh_type *d = gh_type_get(T, dyn);
		if (d->direct_iface)
			snprintf(buf, n, "(%s)0x%llx", d->name, (unsigned long long)w1);
		else if (d->kind == GH_KIND_INTERFACE)
			snprintf(buf, n, "<%s key>", d->name);
		else
			key_text(p, T, w1, dyn, buf, n);
		return;
	}
	if (k->kind == GH_KIND_STRING) {
		gh_read_u64(p->t, a + 8, &w1);
		char s[65] = "";
		size_t len = w1 < 64 ? (size_t)w1 : 64;
		if (!w0 || !gh_read(p->t, w0, s, len))
			len = 0;
		s[len] = 0;
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == '"')
				s[i] = '.';
		snprintf(buf, n, "\"%s%s\"", s, w1 > 64 ? "..." : "");
	} else if (k->kind >= GH_KIND_INT && k->kind <= GH_KIND_UINTPTR) {
		uint64_t v = k->size >= 8 ? w0 : w0 & ((1ull << (8 * k->size)) - 1);
		if (k->kind <= GH_KIND_INT64 && k->size < 8 && (v >> (8 * k->size - 1)) & 1)
			v |= ~0ull << (8 * k->size);
		snprintf(buf, n, k->kind <= GH_KIND_INT64 ? "%" PRId64 : "%" PRIu64, v);
	} else {
		snprintf(buf, n, "<%s key>", k->name);
	}
}

/* Struct-of-arrays buckets and groups: "keys"/"elems" arrays (bucket maps)
 * or "slots" of {key, elem} (swiss groups) — the runtime's own layouts. */
static bool map_entry(struct gh_program *p, struct gh_types *T, uint64_t base, const struct gh_type *t, uint64_t off,
		      char *buf, size_t n)
{
	const struct gh_type_field *keys = NULL, *elems = NULL, *slots = NULL, *key = NULL, *value = NULL;
	for (uint32_t i = 0; i < t->nfields; i++) {
		if (!strcmp(t->fields[i].name, "key"))
			key = &t->fields[i];
		else if (!strcmp(t->fields[i].name, "value"))
			value = &t->fields[i];
		else if (!strcmp(t->fields[i].name, "keys"))
			keys = &t->fields[i];
		else if (!strcmp(t->fields[i].name, "elems"))
			elems = &t->fields[i];
		else if (!strcmp(t->fields[i].name, "slots"))
			slots = &t->fields[i];
	}
	char k[128];
	/* internal/sync.HashTrieMap's entry[K,V] (sync.Map from Go 1.24). */
	if (key && value && strstr(t->name, "entry[")) {
		const struct gh_type *vt = gh_type_get(T, value->type);
		if (!vt || off < value->offset || off >= value->offset + vt->size)
			return false;
		key_text(p, T, base + key->offset, key->type, k, sizeof(k));
		snprintf(buf, n, "map value [%s]", k);
		return true;
	}
	if (keys && elems) {
		const struct gh_type *ka = gh_type_get(T, keys->type), *ea = gh_type_get(T, elems->type);
		const struct gh_type *kt = ka ? gh_type_get(T, ka->elem) : NULL, *et = ea ? gh_type_get(T, ea->elem) : NULL;
		if (!kt || !et || !kt->size || !et->size)
			return false;
		uint64_t i;
		const char *what;
		if (off >= elems->offset && off < elems->offset + ea->size) {
			i = (off - elems->offset) / et->size;
			what = "value";
		} else if (off >= keys->offset && off < keys->offset + ka->size) {
			i = (off - keys->offset) / kt->size;
			what = "key";
		} else {
			return false;
		}
		key_text(p, T, base + keys->offset + i * kt->size, ka->elem, k, sizeof(k));
		snprintf(buf, n, "map %s [%s]", what, k);
		return true;
	}
	if (slots) {
		const struct gh_type *sa = gh_type_get(T, slots->type);
		const struct gh_type *st = sa ? gh_type_get(T, sa->elem) : NULL;
		if (!st || !st->size || st->kind != GH_KIND_STRUCT || st->nfields < 2 || off < slots->offset)
			return false;
		uint64_t i = (off - slots->offset) / st->size, in = (off - slots->offset) % st->size;
		key_text(p, T, base + slots->offset + i * st->size + st->fields[0].offset, st->fields[0].type, k, sizeof(k));
		snprintf(buf, n, "map %s [%s]", in >= st->fields[1].offset ? "value" : "key", k);
		return true;
	}
	return false;
}

void gh_field_path(struct gh_program *p, struct gh_types *T, uint64_t base, gh_type_id id, uint64_t off, char *buf,
		   size_t n)
{
	size_t at = 0;
	buf[0] = 0;
	for (int depth = 0; depth < MAX_DEPTH && at + 1 < n; depth++) {
		const struct gh_type *t = gh_type_get(T, id);
		if (!t || !t->size)
			return;
		if (off >= t->size) { /* an object holding several values of its type */
			at += (size_t)snprintf(buf + at, n - at, "[%" PRIu64 "]", off / t->size);
			base += off / t->size * t->size;
			off %= t->size;
			continue;
		}
		if (t->kind == GH_KIND_STRUCT && map_entry(p, T, base, t, off, buf + at, n - at))
			return;
		if (t->kind == GH_KIND_STRUCT) {
			const struct gh_type_field *f = NULL;
			for (uint32_t i = 0; i < t->nfields; i++) {
				const struct gh_type *ft = gh_type_get(T, t->fields[i].type);
				if (ft && off >= t->fields[i].offset && off < t->fields[i].offset + ft->size)
					f = &t->fields[i];
			}
			if (!f)
				return;
			at += (size_t)snprintf(buf + at, n - at, ".%s", f->name);
			base += f->offset;
			off -= f->offset;
			id = f->type;
		} else if (t->kind == GH_KIND_ARRAY) {
			const struct gh_type *e = gh_type_get(T, t->elem);
			if (!e || !e->size)
				return;
			at += (size_t)snprintf(buf + at, n - at, "[%" PRIu64 "]", off / e->size);
			base += off / e->size * e->size;
			off %= e->size;
			id = t->elem;
		} else {
			return; /* a pointer, slice, string, interface... word: the path ends here */
		}
	}
}
