/* Shared by the retention commands: naming vertices and labelling edges. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../graph/graph.h"
#include "../graph/labels.h"
#include "../runtime/goroutines.h"
#include "../util/strutil.h"
#include "commands.h"

struct gh_error *gh_cmd_address(const char *arg, uint64_t *addr)
{
	if (!gh_parse_u64(arg, addr))
		return gh_errorf(GH_ERR_USAGE, "not an address: '%s' (in GDB, any expression yielding one)", arg);
	return NULL;
}

void gh_cmd_vertex_name(struct gh_program *p, const struct gh_graph *g, uint32_t v, char *buf, size_t n)
{
	if (v == 0) {
		snprintf(buf, n, "(roots)");
	} else if (!gh_vertex_is_obj(g, v)) {
		const struct gh_root *r = &g->roots[v - 1];
		snprintf(buf, n, "%s (%s)", r->name, gh_root_kind_name(r->kind));
	} else {
		const struct gh_object *o = &g->h->objs[gh_vertex_obj(g, v)];
		char tn[400];
		gh_cmd_type_name(p, g->h, o, tn, sizeof(tn));
		snprintf(buf, n, "%s @0x%" PRIx64, tn, gh_obj_addr(o));
	}
}

#define LABEL_FIRST 64 /* bytes of an object scanned first for a label... */
#define LABEL_WINDOW 4096 /* ...and at most at once */

struct find {
	const struct gh_graph *g;
	uint64_t lo, hi; /* the target object's extent */
	uint64_t off;
	bool found;
};

static void find_ptr(void *arg, uint64_t off, uint64_t value)
{
	struct find *f = arg;
	if (!f->found && value >= f->lo && value < f->hi) {
		f->found = true;
		f->off = off;
	}
}

/* A goroutine root's edge: the frame (function, file:line) and the local
 * whose slot points into [lo, hi). */
static void stack_label(struct gh_program *p, const struct gh_root *r, uint64_t lo, uint64_t hi, char *buf, size_t n)
{
	struct gh_goroutines *gs;
	struct gh_error *err = gh_goroutines_load(p, &gs);
	if (err) {
		gh_error_free(err);
		return;
	}
	for (size_t i = 0; i < gs->n; i++) {
		struct gh_goroutine *g = &gs->gs[i];
		if (g->g != r->addr)
			continue;
		if ((err = gh_goroutine_slots(gs, g)) || (err = gh_goroutine_locals(gs, g))) {
			gh_error_free(err);
			return;
		}
		for (size_t k = 0; k < g->nslots; k++) {
			const struct gh_slot *sl = &g->slots[k];
			if (sl->value < lo || sl->value >= hi)
				continue;
			const struct gh_frame *f = sl->frame < g->nframes ? &g->frames[sl->frame] : NULL;
			const char *local = NULL;
			for (size_t j = 0; j < g->nlocals; j++) {
				const struct gh_local *l = &g->locals[j];
				if (l->frame == sl->frame && sl->addr >= l->addr && sl->addr < l->addr + (l->size ? l->size : 8))
					local = l->name;
			}
			if (f && local)
				snprintf(buf, n, "%s at %s:%d, local %s", f->func ? f->func : "?", f->file ? f->file : "?",
					 f->line, local);
			else if (f)
				snprintf(buf, n, "%s at %s:%d, %s slot +%llu", f->func ? f->func : "?", f->file ? f->file : "?",
					 f->line, gh_slot_kind_name((enum gh_slot_kind)sl->kind),
					 (unsigned long long)(sl->addr - f->sp));
			else
				snprintf(buf, n, "%s", gh_slot_kind_name((enum gh_slot_kind)sl->kind));
			return;
		}
		return;
	}
}

/* The label of the word at a in global root r: its field path by the
 * variable's type. */
static void global_word_label(struct gh_program *p, struct gh_types *T, const struct gh_root *r, uint64_t a, char *buf,
			      size_t n)
{
	gh_type_id id = 0;
	uint64_t desc = T ? gh_types_global_type(T, r->name) : 0;
	if (desc)
		gh_error_free(gh_type_at(T, desc, &id));
	if (id)
		gh_field_path(p, T, r->addr, id, a - r->addr, buf, n);
	else /* no descriptor for its type (an anonymous struct): DWARF names the field */
		gh_dwarf_variable_field_path(p->dw, r->name, a - r->addr, buf, n);
	if (!buf[0] && a != r->addr)
		snprintf(buf, n, "+%" PRIu64, a - r->addr);
}

/* The last global word labelled, kept with the program: the owners of
 * many objects held by one variable (500,000 maps in one slice) all start
 * at the same word, and its label takes DWARF lookups. */
struct global_label {
	uint64_t word; /* 0: none yet */
	char text[400];
};

static struct global_label *global_label(struct gh_program *p)
{
	struct gh_cache_slot *c = &p->cache[GH_CACHE_LABELS];
	if (!c->ptr && (c->ptr = calloc(1, sizeof(struct global_label))))
		c->free = free;
	return c->ptr;
}

void gh_cmd_edge_label(struct gh_program *p, const struct gh_graph *g, uint32_t u, uint32_t v, char *buf, size_t n)
{
	buf[0] = 0;
	if (!gh_vertex_is_obj(g, v) || u == 0)
		return;
	const struct gh_object *to = &g->h->objs[gh_vertex_obj(g, v)];
	uint64_t lo = gh_obj_addr(to), hi = lo + gh_obj_size(g->h, to);
	struct gh_types *T = NULL;
	struct gh_error *err = gh_cmd_types(p, &T);
	if (err) {
		gh_error_free(err);
		T = NULL;
	}
	if (!gh_vertex_is_obj(g, u) && g->roots[u - 1].kind == GH_ROOT_STACK) {
		stack_label(p, &g->roots[u - 1], lo, hi, buf, n);
		return;
	}
	if (!gh_vertex_is_obj(g, u)) { /* a global: the word of the variable */
		const struct gh_root *r = &g->roots[u - 1];
		for (uint64_t a = r->addr; a < r->addr + r->size; a += 8) {
			uint64_t w;
			if (!gh_read_u64(p->t, a, &w) || w < lo || w >= hi)
				continue;
			struct global_label *m = global_label(p);
			if (m && m->word == a) {
				snprintf(buf, n, "%s", m->text);
				return;
			}
			global_word_label(p, T, r, a, buf, n);
			if (m) {
				m->word = a;
				snprintf(m->text, sizeof(m->text), "%s", buf);
			}
			return;
		}
		return;
	}
	struct gh_heap *h = g->h;
	const struct gh_object *from = &h->objs[gh_vertex_obj(g, u)];
	struct find f = { g, lo, hi, 0, false };
	uint64_t slot_size, slot = gh_obj_slot(h, from, &slot_size);
	/* If u's k-th edge is its first to v, the word sought is at least k
	 * words in: each of the first k edges is a word before it (a word
	 * into v before it would be an earlier edge to v).  The search starts
	 * there, and goes in windows, stopping at the first: a label for an
	 * element of a big array would otherwise read the array up to it.
	 * The first window is a few words (in an array of pointers the word
	 * is the k-th), the next ones each twice the last. */
	uint32_t place = gh_edge_place(g, u, v);
	uint64_t k = place == UINT32_MAX ? 0 : place;
	for (uint64_t w = k * 8, win = LABEL_FIRST; w < slot_size && !f.found; w += win, win = win < LABEL_WINDOW ? win * 2 : win)
		if (!gh_heap_pointers_in(h, from, w, w + win, find_ptr, &f))
			break;
	if (!f.found)
		return;
	uint64_t base = gh_obj_addr(from), off = slot + f.off - base;
	const struct gh_type *ft = T && gh_obj_type(from) ? gh_type_get(T, gh_obj_type(from)) : NULL;
	if (ft && (ft->kind == GH_KIND_MAP || ft->kind == GH_KIND_CHAN)) {
		/* Map and channel headers: the runtime's own struct fields. */
		const struct gh_layout *L = &p->L;
		const struct { const struct gh_field *f; const char *name; } hdr[] = {
			{ &L->hmap.buckets, ".buckets" }, { &L->hmap.oldbuckets, ".oldbuckets" }, { &L->hmap.extra, ".extra" },
			{ &L->swissMap.dirPtr, ".dirPtr" }, { &L->hchan.buf, ".buf" },
		};
		for (size_t i = 0; i < sizeof(hdr) / sizeof(hdr[0]); i++)
			if (hdr[i].f->off >= 0 && (uint64_t)hdr[i].f->off == off) {
				snprintf(buf, n, "%s", hdr[i].name);
				return;
			}
	} else if (ft && !gh_obj_is_tiny(h, from)) {
		/* An object holding several values of its type is an array:
		 * its first element is [0] too, as the others are [i]. */
		size_t at = ft->size && off < ft->size && gh_obj_size(h, from) / ft->size > 1 ? 3 : 0;
		if (at && n > at)
			memcpy(buf, "[0]", at);
		if (n > at)
			gh_field_path(p, T, base, gh_obj_type(from), off, buf + at, n - at);
	}
	if (!buf[0])
		snprintf(buf, n, "+%" PRIu64, off);
}

void gh_cmd_path_text(struct gh_program *p, const struct gh_graph *g, const struct gh_path *path, char *buf, size_t n)
{
	char label[400];
	size_t at;
	buf[0] = 0;
	if (!path->n || !n)
		return;
	uint32_t first = path->v[0];
	if (gh_vertex_is_obj(g, first)) { /* an object several roots reach: what dominates the rest */
		char name[400];
		gh_cmd_vertex_name(p, g, first, name, sizeof(name));
		snprintf(buf, n, "(several roots) -> %s", name);
	} else {
		snprintf(buf, n, "%s", g->roots[first - 1].name);
	}
	at = strlen(buf);
	for (size_t i = 1; i < path->n && at + 1 < n; i++) {
		const char *sep = " -> ";
		if (!gh_has_edge(g, path->v[i - 1], path->v[i])) {
			snprintf(label, sizeof(label), "..."); /* a dominator chain cut short */
		} else {
			gh_cmd_edge_label(p, g, path->v[i - 1], path->v[i], label, sizeof(label));
			/* A global's field reads as a Go expression (main.holderA.m);
			 * other root labels (a goroutine's frame) go in parentheses. */
			if (i == 1 && !gh_vertex_is_obj(g, first))
				sep = !label[0] || label[0] == '.' || label[0] == '[' ? "" : " ";
		}
		if (!label[0])
			continue;
		bool paren = i == 1 && *sep == ' ' && sep[1] == 0;
		at += (size_t)snprintf(buf + at, n - at, paren ? "%s(%s)" : "%s%s", sep, label);
	}
}
