/* sync.Map, both implementations; see syncmap.h and docs/maps.md. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/sort.h"
#include "../util/vec.h"
#include "syncmap.h"

/* 64-bit hashes consumed 4 bits per level (internal/sync: nChildrenLog2). */
#define TRIE_MAX_DEPTH 17
#define TRIE_MAX_CHILDREN 64

static void warn(struct gh_syncmap_stats *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct gh_syncmap_stats *st, const char *fmt, ...)
{
	if (st->nwarnings < GH_MAP_WARNINGS) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(st->warnings[st->nwarnings], sizeof(st->warnings[0]), fmt, ap);
		va_end(ap);
	}
	st->nwarnings++;
}

bool gh_syncmap_supported(const struct gh_program *p)
{
	const struct gh_layout *L = &p->L;
	return (L->syncMap.read.off >= 0 && L->syncMap.dirty.off >= 0 && L->syncReadOnly.m.off >= 0 &&
		L->syncEntry.p.off >= 0) ||
	       (L->syncMap.trie.off >= 0 && L->trieMap.root.off >= 0 && L->trieIndirect.children.off >= 0 &&
		L->trieEntry.key.off >= 0);
}

static void map_warnings(struct gh_syncmap_stats *st, const struct gh_map_stats *ms)
{
	for (uint32_t i = 0; i < ms->nwarnings && i < GH_MAP_WARNINGS; i++)
		warn(st, "%s", ms->warnings[i]);
}

/* ---- read/dirty ---- */

struct pair {
	uint64_t key, entry;
};
GH_VEC(pairvec, struct pair)
GH_VEC(u64vec, uint64_t)

static bool collect(void *arg, const struct gh_map_entry *e)
{
	struct pairvec *v = arg;
	struct pair *pr = pairvec_push(v);
	if (!pr)
		return false;
	pr->key = e->key;
	pr->entry = e->elem; /* the *entry slot, read below */
	return true;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The map[any]*entry at hdr: its entries as (key address, *entry). */
static struct gh_error *entries_of(struct gh_program *p, struct gh_heap *h, struct gh_types *T, uint64_t hdr,
				   gh_type_id mt, struct pairvec *out, struct gh_syncmap_stats *st)
{
	struct gh_map_stats ms;
	GH_TRY(gh_map_walk(p, h, T, hdr, mt, collect, out, &ms));
	map_warnings(st, &ms);
	st->bytes += ms.bytes;
	for (size_t i = 0; i < out->len; i++) {
		uint64_t ent = 0;
		if (!gh_read_u64(p->t, out->data[i].entry, &ent))
			warn(st, "entry slot 0x%" PRIx64 " is unreadable", out->data[i].entry);
		out->data[i].entry = ent;
	}
	return NULL;
}

static gh_type_id dirty_type(struct gh_heap *h, struct gh_types *T, uint64_t hdr)
{
	gh_type_id id = gh_type_by_name(T, "map[interface {}]*sync.entry");
	const struct gh_object *o;
	if (!id && h && hdr && (o = gh_heap_find(h, hdr)) && gh_obj_addr(o) == hdr && gh_obj_type(o))
		id = gh_obj_type(o);
	return id;
}

static struct gh_error *read_dirty(struct gh_program *p, struct gh_heap *h, struct gh_types *T, uint64_t addr,
				   gh_syncmap_fn fn, void *arg, struct gh_syncmap_stats *st)
{
	const struct gh_layout *L = &p->L;
	uint64_t ro = 0, readm = 0, amended = 0, dirty = 0, expunged = 0, ex_var = 0;
	if (!gh_read_field(p, addr, &L->syncMap.read, &ro) || !gh_read_field(p, addr, &L->syncMap.dirty, &dirty))
		return gh_errorf(GH_ERR_FAULT, "sync.Map 0x%" PRIx64 " is unreadable", addr);
	if (ro && (!gh_read_field(p, ro, &L->syncReadOnly.m, &readm) ||
		   !gh_read_field(p, ro, &L->syncReadOnly.amended, &amended)))
		return gh_errorf(GH_ERR_FAULT, "sync.Map 0x%" PRIx64 ": readOnly 0x%" PRIx64 " is unreadable", addr, ro);
	/* expunged is a *any made at init: its value marks expunged entries. */
	if (L->v.syncExpunged.have && gh_read_u64(p->t, L->v.syncExpunged.addr, &ex_var))
		expunged = ex_var;
	st->amended = amended & 1;
	st->bytes += gh_map_object_bytes(h, ro);
	gh_type_id mt = dirty_type(h, T, readm ? readm : dirty);
	if ((readm || dirty) && !mt)
		return gh_errorf(GH_ERR_MISSING, "sync.Map 0x%" PRIx64 ": no type descriptor for map[interface {}]*sync.entry",
				 addr);
	struct pairvec rv = { 0 }, dv = { 0 };
	struct u64vec ents = { 0 };
	struct gh_error *err = NULL;
	if (readm && (err = entries_of(p, h, T, readm, mt, &rv, st)))
		goto out;
	if (dirty && dirty != readm && (err = entries_of(p, h, T, dirty, mt, &dv, st)))
		goto out;
	st->read_len = rv.len;
	st->dirty_len = dv.len;
	/* dirty, when there is one, holds every entry that is not expunged
	 * (Store copies read into it); else read holds them all. */
	struct pairvec *auth = dirty ? &dv : &rv;
	for (size_t i = 0; i < rv.len + dv.len; i++) {
		uint64_t *slot = u64vec_push(&ents);
		if (!slot) {
			err = &gh_error_nomem;
			goto out;
		}
		*slot = i < rv.len ? rv.data[i].entry : dv.data[i - rv.len].entry;
	}
	gh_sort(ents.data, ents.len, 8, cmp_u64);
	for (size_t i = 0; i < ents.len; i++) {
		if (!ents.data[i] || (i && ents.data[i] == ents.data[i - 1]))
			continue;
		uint64_t v = 0;
		st->bytes += gh_map_object_bytes(h, ents.data[i]);
		if (gh_read_field(p, ents.data[i], &L->syncEntry.p, &v) && v && v != expunged)
			st->bytes += gh_map_object_bytes(h, v); /* the boxed any */
	}
	if (dirty) { /* read entries absent from dirty are the expunged ones */
		struct u64vec dset = { 0 };
		for (size_t i = 0; i < dv.len; i++) {
			uint64_t *slot = u64vec_push(&dset);
			if (!slot) {
				free(dset.data);
				err = &gh_error_nomem;
				goto out;
			}
			*slot = dv.data[i].entry;
		}
		gh_sort(dset.data, dset.len, 8, cmp_u64);
		for (size_t i = 0; i < rv.len; i++)
			if (!bsearch(&rv.data[i].entry, dset.data, dset.len, 8, cmp_u64))
				st->expunged++;
		free(dset.data);
	}
	for (size_t i = 0; i < auth->len; i++) {
		uint64_t v = 0;
		if (!auth->data[i].entry || !gh_read_field(p, auth->data[i].entry, &L->syncEntry.p, &v)) {
			warn(st, "entry 0x%" PRIx64 " is unreadable", auth->data[i].entry);
			continue;
		}
		if (!v) {
			st->deleted++;
			continue;
		}
		if (v == expunged) {
			if (auth == &dv)
				warn(st, "dirty entry 0x%" PRIx64 " is expunged", auth->data[i].entry);
			continue;
		}
		st->len++;
		if (fn && !fn(arg, auth->data[i].key, v))
			break;
	}
out:
	free(rv.data);
	free(dv.data);
	free(ents.data);
	return err;
}

/* ---- HashTrieMap ---- */

struct frame {
	uint64_t node;
	unsigned depth;
};

static struct gh_error *trie(struct gh_program *p, struct gh_heap *h, uint64_t addr, gh_syncmap_fn fn, void *arg,
			     struct gh_syncmap_stats *st)
{
	const struct gh_layout *L = &p->L;
	const char *ver = gh_program_version(p);
	GH_TRY(gh_layout_require(L, &L->trieIndirect.isEntry, ver));
	GH_TRY(gh_layout_require(L, &L->trieEntry.overflow, ver));
	GH_TRY(gh_layout_require(L, &L->trieEntry.value, ver));
	st->trie = true;
	uint64_t m = addr + (uint64_t)L->syncMap.trie.off, root = 0;
	if (!gh_read_field(p, m, &L->trieMap.root, &root))
		return gh_errorf(GH_ERR_FAULT, "sync.Map 0x%" PRIx64 " is unreadable", addr);
	unsigned nchild = L->trieIndirect.children.size / 8;
	if (!nchild || nchild > TRIE_MAX_CHILDREN)
		return gh_errorf(GH_ERR_FORMAT, "HashTrieMap: %u children per node", nchild);
	if (!root)
		return NULL; /* never initialised: empty */
	uint64_t budget = h ? (uint64_t)h->nobjs + 1 : (1u << 24);
	struct frame stack[TRIE_MAX_DEPTH * TRIE_MAX_CHILDREN + 1];
	size_t sp = 0;
	stack[sp++] = (struct frame){ root, 1 };
	bool stop = false;
	while (sp && !stop) {
		struct frame f = stack[--sp];
		if (!budget--) {
			warn(st, "trie walk stopped: more nodes than the heap can hold");
			break;
		}
		st->nodes++;
		st->bytes += gh_map_object_bytes(h, f.node);
		if (f.depth > st->max_depth)
			st->max_depth = f.depth;
		uint64_t kids[TRIE_MAX_CHILDREN];
		if (!gh_read(p->t, f.node + (uint64_t)L->trieIndirect.children.off, kids, nchild * 8)) {
			warn(st, "trie node 0x%" PRIx64 " is unreadable", f.node);
			continue;
		}
		for (unsigned i = 0; i < nchild && !stop; i++) {
			uint8_t is_entry;
			if (!kids[i])
				continue;
			if (!gh_read(p->t, kids[i] + (uint64_t)L->trieIndirect.isEntry.off, &is_entry, 1)) {
				warn(st, "trie node 0x%" PRIx64 " is unreadable", kids[i]);
				continue;
			}
			if (!is_entry) {
				if (f.depth >= TRIE_MAX_DEPTH)
					warn(st, "trie deeper than a 64-bit hash allows at 0x%" PRIx64, kids[i]);
				else
					stack[sp++] = (struct frame){ kids[i], f.depth + 1 };
				continue;
			}
			/* Entries whose hashes collide fully chain through
			 * overflow; Brent's check stops a corrupt cycle. */
			uint64_t e = kids[i], tort = e, power = 1, lam = 0;
			while (e && !stop) {
				if (!budget--) {
					warn(st, "trie walk stopped: more entries than the heap can hold");
					stop = true;
					break;
				}
				st->len++;
				st->bytes += gh_map_object_bytes(h, e);
				if (fn && !fn(arg, e + (uint64_t)L->trieEntry.key.off, e + (uint64_t)L->trieEntry.value.off))
					stop = true;
				uint64_t next = 0;
				if (!gh_read_field(p, e, &L->trieEntry.overflow, &next)) {
					warn(st, "trie entry 0x%" PRIx64 " is unreadable", e);
					break;
				}
				if (next == tort) {
					warn(st, "overflow chain of trie entry 0x%" PRIx64 " is a cycle", tort);
					break;
				}
				if (++lam == power) {
					tort = next;
					power *= 2;
					lam = 0;
				}
				e = next;
			}
		}
	}
	return NULL;
}

struct gh_error *gh_syncmap_walk(struct gh_program *p, struct gh_heap *h, struct gh_types *T, uint64_t addr,
				 gh_syncmap_fn fn, void *arg, struct gh_syncmap_stats *st)
{
	memset(st, 0, sizeof(*st));
	const struct gh_layout *L = &p->L;
	if (!gh_syncmap_supported(p))
		return gh_errorf(GH_ERR_MISSING, "the layout of sync.Map is unknown for %s", gh_program_version(p));
	if (L->syncMap.trie.off >= 0 && L->trieMap.root.off >= 0)
		return trie(p, h, addr, fn, arg, st);
	return read_dirty(p, h, T, addr, fn, arg, st);
}
