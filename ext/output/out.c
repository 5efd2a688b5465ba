/* Document model and its two renderers (text, JSON). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../util/strutil.h"
#include "../util/vec.h"
#include "out.h"

enum kind { K_OBJECT, K_LIST, K_STRLIST, K_NUMLIST, K_TABLE, K_STR, K_U64, K_I64, K_ADDR, K_BYTES, K_BOOL, K_NULL };

/* A node is 32 bytes, its children a list: a listing of 500,000 rows of
 * 15 cells is millions of nodes, most of them numbers. */
struct gh_node {
	uint8_t kind;         /* enum kind */
	uint32_t nkids;       /* containers: children */
	const char *key;
	struct gh_node *next; /* the next sibling */
	union {
		char *s;
		uint64_t u;
		int64_t i;
		bool b;
		struct gh_node *first; /* containers: the first child */
	};
};

/* Objects, lists and tables: a node and what appending needs. */
struct gh_container {
	struct gh_node n;
	struct gh_node *last;
	struct gh_out *out;
};

static bool is_container(enum kind k) { return k == K_OBJECT || k == K_LIST || k == K_STRLIST || k == K_NUMLIST || k == K_TABLE; }
static struct gh_container *container(struct gh_node *n) { return (struct gh_container *)n; }

GH_VEC(warnvec, char *)

/* The document's nodes and strings come from chunks freed together: a listing of 500,000 maps is millions of nodes, and a malloc
 * and a free each (with their headers) took more memory and time than the
 * analysis behind them. */
struct chunk {
	struct chunk *next;
	size_t size;
	char data[];
};
#define CHUNK (64u << 10)
#define KEYS 64 /* keys remembered by the pointer the caller passed */

struct gh_out {
	struct gh_node *root;
	bool oom;
	struct warnvec warnings;
	struct chunk *chunks; /* the newest first */
	size_t used;          /* of the newest */
	struct { const char *key, *copy; } keys[KEYS]; /* a key as the caller passed it, and its copy */
};

/* n bytes, 8-aligned, from the document's chunks; NULL when out of memory. */
static void *oalloc(struct gh_out *o, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	if (!o->chunks || o->chunks->size - o->used < n) {
		size_t size = n > CHUNK ? n : CHUNK;
		struct chunk *c = malloc(sizeof(*c) + size);
		if (!c) {
			o->oom = true;
			return NULL;
		}
		c->next = o->chunks;
		c->size = size;
		o->chunks = c;
		o->used = 0;
	}
	void *p = o->chunks->data + o->used;
	o->used += n;
	return p;
}

static char *ostrdup(struct gh_out *o, const char *s, size_t len)
{
	char *r = oalloc(o, len + 1);
	if (r) {
		memcpy(r, s, len);
		r[len] = 0;
	}
	return r;
}

static struct gh_node *node_new(struct gh_out *o, enum kind k, const char *key)
{
	size_t size = is_container(k) ? sizeof(struct gh_container) : sizeof(struct gh_node);
	struct gh_node *n = oalloc(o, size);
	if (!n)
		return NULL;
	memset(n, 0, size);
	n->kind = (uint8_t)k;
	if (is_container(k))
		container(n)->out = o;
	if (key) { /* a table's cells pass the same few keys row after row: each copied once */
		size_t i = (size_t)((uintptr_t)key >> 3) % KEYS;
		if (o->keys[i].key == key && !strcmp(key, o->keys[i].copy)) {
			n->key = o->keys[i].copy;
		} else if ((n->key = ostrdup(o, key, strlen(key)))) {
			o->keys[i].key = key;
			o->keys[i].copy = n->key;
		} else {
			return NULL;
		}
	}
	return n;
}

struct gh_out *gh_out_new(void)
{
	struct gh_out *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->root = node_new(o, K_OBJECT, NULL);
	if (!o->root) {
		gh_out_free(o);
		return NULL;
	}
	return o;
}

void gh_out_free(struct gh_out *o)
{
	if (!o)
		return;
	for (struct chunk *c = o->chunks, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	for (size_t i = 0; i < o->warnings.len; i++)
		free(o->warnings.data[i]);
	free(o->warnings.data);
	free(o);
}

struct gh_node *gh_out_root(struct gh_out *o)
{
	return o->root;
}

void gh_out_warn(struct gh_out *o, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	char **slot = warnvec_push(&o->warnings);
	if (!slot || !(*slot = strdup(buf))) {
		if (slot)
			o->warnings.len--;
		o->oom = true;
	}
}

/* Appends a child to a container; NULL parent (after an earlier failure)
 * is a no-op, and so is a value, which has no room for children. */
static struct gh_node *add(struct gh_node *parent, enum kind k, const char *key)
{
	if (!parent || !is_container((enum kind)parent->kind))
		return NULL;
	struct gh_container *c = container(parent);
	if (parent->nkids == UINT32_MAX) {
		c->out->oom = true;
		return NULL;
	}
	struct gh_node *n = node_new(c->out, k, key);
	if (!n)
		return NULL;
	if (c->last)
		c->last->next = n;
	else
		parent->first = n;
	c->last = n;
	parent->nkids++;
	return n;
}

/* Length of the valid UTF-8 sequence at p (0 if invalid). */
static size_t utf8_len(const unsigned char *p)
{
	size_t n = p[0] < 0x80 ? 1 : (p[0] >> 5) == 6 ? 2 : (p[0] >> 4) == 14 ? 3 : (p[0] >> 3) == 30 ? 4 : 0;
	if (n == 2 && p[0] < 0xc2)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] >> 6) != 2)
			return 0;
	return n;
}

/* Strings may come from the target (file names in a core, Go strings):
 * bytes that are not UTF-8 become "\xNN" so both renderers stay valid. */
static char *clean_utf8(struct gh_out *o, const char *s)
{
	size_t len = strlen(s), bad = 0;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_len((const unsigned char *)s + i);
		bad += !n;
		i += n ? n : 1;
	}
	if (!bad)
		return ostrdup(o, s, len);
	char *r = oalloc(o, len + 3 * bad + 1), *w = r;
	if (!r)
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_len((const unsigned char *)s + i);
		if (n) {
			memcpy(w, s + i, n);
			w += n;
			i += n;
		} else {
			w += sprintf(w, "\\x%02x", (unsigned char)s[i]);
			i++;
		}
	}
	*w = 0;
	return r;
}

void gh_put_str(struct gh_node *n, const char *key, const char *val)
{
	struct gh_node *c = add(n, K_STR, key);
	if (c && !(c->s = clean_utf8(container(n)->out, val ? val : ""))) {
		c->kind = K_NULL;
		container(n)->out->oom = true;
	}
}

void gh_put_strf(struct gh_node *n, const char *key, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	gh_put_str(n, key, buf);
}

void gh_put_u64(struct gh_node *n, const char *key, uint64_t v)
{
	struct gh_node *c = add(n, K_U64, key);
	if (c)
		c->u = v;
}

void gh_put_i64(struct gh_node *n, const char *key, int64_t v)
{
	struct gh_node *c = add(n, K_I64, key);
	if (c)
		c->i = v;
}

void gh_put_addr(struct gh_node *n, const char *key, uint64_t v)
{
	struct gh_node *c = add(n, K_ADDR, key);
	if (c)
		c->u = v;
}

void gh_put_addr_or_null(struct gh_node *n, const char *key, uint64_t v)
{
	if (v)
		gh_put_addr(n, key, v);
	else
		gh_put_null(n, key);
}

void gh_put_bytes(struct gh_node *n, const char *key, uint64_t v)
{
	struct gh_node *c = add(n, K_BYTES, key);
	if (c)
		c->u = v;
}

void gh_put_bool(struct gh_node *n, const char *key, bool v)
{
	struct gh_node *c = add(n, K_BOOL, key);
	if (c)
		c->b = v;
}

void gh_put_null(struct gh_node *n, const char *key)
{
	add(n, K_NULL, key);
}

struct gh_node *gh_put_object(struct gh_node *n, const char *key)
{
	return add(n, K_OBJECT, key);
}

struct gh_node *gh_put_list(struct gh_node *n, const char *key)
{
	return add(n, K_LIST, key);
}

struct gh_node *gh_list_add(struct gh_node *list)
{
	return add(list, K_OBJECT, NULL);
}

void gh_list_str(struct gh_node *list, const char *val)
{
	if (list && list->kind == K_LIST)
		list->kind = K_STRLIST;
	gh_put_str(list, NULL, val);
}

void gh_put_u64_list(struct gh_node *n, const char *key, const uint64_t *v, size_t count)
{
	struct gh_node *l = add(n, K_NUMLIST, key);
	for (size_t i = 0; l && i < count; i++)
		gh_put_u64(l, NULL, v[i]);
}

void gh_put_addr_list(struct gh_node *n, const char *key, const uint64_t *v, size_t count)
{
	struct gh_node *l = add(n, K_NUMLIST, key);
	for (size_t i = 0; l && i < count; i++)
		gh_put_addr(l, NULL, v[i]);
}

struct gh_node *gh_put_table(struct gh_node *n, const char *key)
{
	return add(n, K_TABLE, key);
}

struct gh_node *gh_table_row(struct gh_node *table)
{
	return add(table, K_OBJECT, NULL);
}

/* ---- JSON ---- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\t': fputs("\\t", f); break;
		case '\r': fputs("\\r", f); break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

/* Decimal and hexadecimal digits of v at the end of buf (24 bytes);
 * returns where they start.  printf's parsing of its format was most of
 * rendering a big table's numbers. */
static char *u64_digits(char *end, uint64_t v)
{
	*--end = 0;
	do
		*--end = (char)('0' + v % 10);
	while (v /= 10);
	return end;
}

static char *hex_digits(char *end, uint64_t v)
{
	*--end = 0;
	do
		*--end = "0123456789abcdef"[v & 15];
	while (v >>= 4);
	*--end = 'x';
	*--end = '0';
	return end;
}

static void json_node(FILE *f, const struct gh_node *n, int depth)
{
	char num[24];
	switch ((enum kind)n->kind) {
	case K_STR: json_str(f, n->s); break;
	case K_U64:
	case K_BYTES: fputs(u64_digits(num + sizeof(num), n->u), f); break;
	case K_I64:
		if (n->i < 0)
			fputc('-', f);
		fputs(u64_digits(num + sizeof(num), n->i < 0 ? -(uint64_t)n->i : (uint64_t)n->i), f);
		break;
	case K_ADDR:
		fputc('"', f);
		fputs(hex_digits(num + sizeof(num), n->u), f);
		fputc('"', f);
		break;
	case K_BOOL: fputs(n->b ? "true" : "false", f); break;
	case K_NULL: fputs("null", f); break;
	case K_OBJECT:
		fputc('{', f);
		for (const struct gh_node *k = n->first; k; k = k->next) {
			if (k != n->first)
				fputc(',', f);
			fprintf(f, "\n%*s", 2 * (depth + 1), "");
			json_str(f, k->key ? k->key : "");
			fputs(": ", f);
			json_node(f, k, depth + 1);
		}
		if (n->nkids)
			fprintf(f, "\n%*s", 2 * depth, "");
		fputc('}', f);
		break;
	case K_NUMLIST:
		fputc('[', f);
		for (const struct gh_node *k = n->first; k; k = k->next) {
			fputs(k != n->first ? ", " : "", f);
			json_node(f, k, depth + 1); /* numbers or addresses */
		}
		fputc(']', f);
		break;
	case K_LIST:
	case K_STRLIST:
	case K_TABLE:
		fputc('[', f);
		for (const struct gh_node *k = n->first; k; k = k->next) {
			if (k != n->first)
				fputc(',', f);
			fprintf(f, "\n%*s", 2 * (depth + 1), "");
			json_node(f, k, depth + 1);
		}
		if (n->nkids)
			fprintf(f, "\n%*s", 2 * depth, "");
		fputc(']', f);
		break;
	}
}

/* ---- text ---- */

/* s into buf (len bytes), cut to fit. */
static void copy_text(char *buf, size_t len, const char *s)
{
	size_t l = strlen(s);
	if (l >= len)
		l = len - 1;
	memcpy(buf, s, l);
	buf[l] = 0;
}

static void scalar_text(char *buf, size_t len, const struct gh_node *n)
{
	char num[24];
	switch ((enum kind)n->kind) {
	case K_STR: copy_text(buf, len, n->s); break;
	case K_U64: copy_text(buf, len, u64_digits(num + sizeof(num), n->u)); break;
	case K_I64: snprintf(buf, len, "%" PRId64, n->i); break;
	case K_ADDR: copy_text(buf, len, hex_digits(num + sizeof(num), n->u)); break;
	case K_BYTES: gh_fmt_bytes(buf, len, n->u); break;
	case K_BOOL: copy_text(buf, len, n->b ? "yes" : "no"); break;
	case K_NULL: copy_text(buf, len, "-"); break;
	case K_NUMLIST: {
		size_t at = 0;
		buf[0] = 0;
		for (const struct gh_node *k = n->first; k && at + 24 < len; k = k->next) {
			if (k != n->first)
				buf[at++] = ' ';
			scalar_text(buf + at, len - at, k);
			at += strlen(buf + at);
		}
		if (!n->nkids)
			snprintf(buf, len, "-");
		break;
	}
	case K_LIST: /* an empty list (gh_list_str makes a list of strings); lists of objects have no cell form */
		snprintf(buf, len, n->nkids ? "?" : "-");
		break;
	case K_STRLIST: {
		size_t at = 0;
		buf[0] = 0;
		for (const struct gh_node *k = n->first; k && at + 1 < len; k = k->next)
			at += (size_t)snprintf(buf + at, len - at, "%s%s", k != n->first ? ", " : "", k->s);
		if (!n->nkids)
			snprintf(buf, len, "-");
		break;
	}
	default: snprintf(buf, len, "?"); break;
	}
}

static void label(FILE *f, const char *key)
{
	for (const char *p = key ? key : ""; *p; p++)
		fputc(*p == '_' ? ' ' : *p, f);
}

static bool right_aligned(const struct gh_node *n)
{
	return n->kind == K_U64 || n->kind == K_I64 || n->kind == K_BYTES;
}

static void spaces(FILE *f, size_t n)
{
	static const char sp[] = "                                                                ";
	for (; n > sizeof(sp) - 1; n -= sizeof(sp) - 1)
		fwrite(sp, 1, sizeof(sp) - 1, f);
	fwrite(sp, 1, n, f);
}

/* s in a column w wide: numbers to the right, the rest to the left (the
 * last column's text unpadded). */
static void cell(FILE *f, const char *s, size_t w, bool right, bool last)
{
	size_t l = strlen(s), pad = l < w ? w - l : 0;
	if (right)
		spaces(f, pad);
	fputs(s, f);
	if (!right && !last)
		spaces(f, pad);
}

static void text_table(FILE *f, const struct gh_node *t, int ind)
{
	/* Columns are the keys of the first row, in order. */
	if (!t->nkids) {
		fprintf(f, "%*s(none)\n", ind, "");
		return;
	}
	const struct gh_node *first = t->first;
	size_t ncol = first->nkids;
	size_t *w = calloc(ncol ? ncol : 1, sizeof(*w));
	if (!w)
		return;
	char buf[4096];
	size_t c = 0;
	for (const struct gh_node *k = first->first; k; k = k->next)
		w[c++] = strlen(k->key ? k->key : "");
	for (const struct gh_node *row = first; row; row = row->next) {
		c = 0;
		for (const struct gh_node *k = row->first; k && c < ncol; k = k->next, c++) {
			scalar_text(buf, sizeof(buf), k);
			size_t l = strlen(buf);
			if (l > w[c])
				w[c] = l;
		}
	}
	spaces(f, (size_t)ind);
	c = 0;
	for (const struct gh_node *k = first->first; k; k = k->next, c++) {
		cell(f, k->key ? k->key : "", w[c], right_aligned(k), c + 1 == ncol);
		if (c + 1 < ncol)
			fputs("  ", f);
	}
	fputc('\n', f);
	for (const struct gh_node *row = first; row; row = row->next) {
		spaces(f, (size_t)ind);
		c = 0;
		for (const struct gh_node *k = row->first; k && c < ncol; k = k->next, c++) {
			scalar_text(buf, sizeof(buf), k);
			cell(f, buf, w[c], right_aligned(k), c + 1 == ncol);
			if (c + 1 < ncol)
				fputs("  ", f);
		}
		fputc('\n', f);
	}
	free(w);
}

static void text_object(FILE *f, const struct gh_node *n, int ind);

static void text_child(FILE *f, const struct gh_node *k, int ind)
{
	char buf[4096];
	switch ((enum kind)k->kind) {
	case K_OBJECT:
		fprintf(f, "%*s", ind, "");
		label(f, k->key);
		fputs(":\n", f);
		text_object(f, k, ind + 2);
		break;
	case K_TABLE:
		fprintf(f, "%*s", ind, "");
		label(f, k->key);
		fprintf(f, " (%zu):\n", (size_t)k->nkids);
		text_table(f, k, ind + 2);
		break;
	case K_STRLIST:
		fprintf(f, "%*s", ind, "");
		label(f, k->key);
		fputs(": ", f);
		for (const struct gh_node *e = k->first; e; e = e->next)
			fprintf(f, "%s%s", e != k->first ? ", " : "", e->s);
		fputc('\n', f);
		break;
	case K_LIST:
		fprintf(f, "%*s", ind, "");
		label(f, k->key);
		fputs(":\n", f);
		for (const struct gh_node *e = k->first; e; e = e->next) {
			fprintf(f, "%*s-\n", ind + 2, "");
			text_object(f, e, ind + 4);
		}
		break;
	default:
		scalar_text(buf, sizeof(buf), k);
		fprintf(f, "%*s", ind, "");
		label(f, k->key);
		fprintf(f, ": %s\n", buf);
	}
}

static void text_object(FILE *f, const struct gh_node *n, int ind)
{
	for (const struct gh_node *k = n->first; k; k = k->next)
		text_child(f, k, ind);
}

struct gh_error *gh_out_render(struct gh_out *o, enum gh_format fmt, FILE *f)
{
	if (o->oom)
		return gh_errorf(GH_ERR_NOMEM, "out of memory while building output");
	if (fmt == GH_JSON) {
		if (o->warnings.len) {
			struct gh_node *w = add(o->root, K_LIST, "warnings");
			for (size_t i = 0; i < o->warnings.len; i++)
				gh_list_str(w, o->warnings.data[i]);
			if (w && !w->nkids)
				w->kind = K_STRLIST;
			if (o->oom)
				return gh_errorf(GH_ERR_NOMEM, "out of memory while building output");
		}
		json_node(f, o->root, 0);
		fputc('\n', f);
	} else {
		text_object(f, o->root, 0);
		for (size_t i = 0; i < o->warnings.len; i++)
			fprintf(f, "warning: %s\n", o->warnings.data[i]);
	}
	if (fflush(f) || ferror(f))
		return gh_errorf(GH_ERR_IO, "writing output failed");
	return NULL;
}
