/* goheap maps, map, syncmap: every map in the heap with what its own
 * structure costs, and the entries of one map or sync.Map. */
#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../graph/graph.h"
#include "../gostructs/maps.h"
#include "../gostructs/syncmap.h"
#include "../gostructs/values.h"
#include "../heap/heap.h"
#include "../util/sort.h"
#include "../util/strutil.h"
#include "../util/timings.h"
#include "commands.h"

#define MAX_NEST 8          /* map[K]map[K]... levels followed */
#define MAX_ROW_WARNINGS 20 /* warnings copied into the output */
/* never-shrunk: at least this many slots, and fewer than 1/SPARSE of them
 * used.  Right after growing, a bucket map is ≥ 6.5/16 full and a swiss
 * table ≥ 7/16: inserts alone cannot leave a map below 1/16, so a map that
 * sparse lost most of its peak entries to deletes (or was sized by a make
 * hint it never used) and still holds the memory. */
#define SPARSE_MIN_SLOTS 64
#define SPARSE 16

/* What a row keeps of its map's walk: not the warnings, which go to the
 * output as the walk ends (640 bytes a map, with 500,000 maps 300 MB). */
struct row_stats {
	uint64_t len, live, capacity, deleted, overflow, bytes;
	uint32_t nwarnings;
	bool swiss, growing;
};

struct row {
	uint64_t addr;
	uint32_t obj;                /* index in the heap's objects */
	const struct gh_type *t;
	struct row_stats st;
	unsigned depth;              /* map nesting of the type: 1 for map[K]V with V not a map */
	uint64_t inner_maps, inner_bytes;
	bool never_shrunk;
};

/* Who holds a map: its owner (the dominator chain from its root, as why
 * labels paths) or, when several roots reach it, each root with a path. */
#define OWNER_TEXT 1024
#define MAX_HOLDERS 16 /* holder paths listed per map */

struct owners {
	struct gh_program *p;
	struct gh_graph *g;
	struct gh_holders *hs;
};

struct holders {
	const struct owners *ow;
	char *text[MAX_HOLDERS];
	size_t n, found;
};

static bool add_holder(void *arg, const struct gh_path *path)
{
	struct holders *hd = arg;
	hd->found++;
	if (hd->n < MAX_HOLDERS && (hd->text[hd->n] = malloc(OWNER_TEXT)))
		gh_cmd_path_text(hd->ow->p, hd->ow->g, path, hd->text[hd->n++], OWNER_TEXT);
	return true;
}

/* Fills the row's owner, holders and the shared/unreachable flags.  A map
 * is shared when the super-root immediately dominates its header (no single
 * root keeps it) and roots of more than one name reach it. */
static struct gh_error *put_owner(const struct owners *ow, const struct row *r, struct gh_node *row, char *flags)
{
	const struct gh_graph *g = ow->g;
	uint32_t v = gh_obj_vertex(g, r->obj);
	struct holders hd = { .ow = ow };
	bool truncated = false;
	char *owner = NULL;
	struct gh_error *err = NULL;
	if (!gh_reachable(g, v)) {
		strcat(flags, "unreachable,");
	} else if (g->idom[v] == 0) {
		err = gh_holders_of(ow->hs, v, add_holder, &hd, &truncated);
		if (!err && hd.found == 1 && !truncated) { /* several words of one variable */
			owner = hd.text[0];
			hd.text[0] = NULL;
			hd.n = 0;
		} else if (!err && (hd.found > 1 || truncated)) {
			strcat(flags, "shared,");
		}
	} else {
		struct gh_path path;
		if (!(err = gh_owner_chain(ow->hs, v, &path))) {
			if ((owner = malloc(OWNER_TEXT)))
				gh_cmd_path_text(ow->p, g, &path, owner, OWNER_TEXT);
			free((void *)path.v);
		}
	}
	if (*flags)
		flags[strlen(flags) - 1] = 0;
	gh_put_str(row, "flags", flags);
	if (owner)
		gh_put_str(row, "owner", owner);
	else
		gh_put_null(row, "owner");
	struct gh_node *l = gh_put_list(row, "holders");
	for (size_t i = 0; i < hd.n; i++)
		gh_list_str(l, hd.text[i]);
	if (truncated || hd.found > hd.n)
		gh_list_str(l, truncated ? "... (search budget exhausted)" : "...");
	free(owner);
	for (size_t i = 0; i < hd.n; i++)
		free(hd.text[i]);
	return err;
}

static struct gh_error *setup(struct gh_program *p, struct gh_heap **h, struct gh_types **T)
{
	GH_TRY(gh_cmd_heap(p, h));
	GH_TRY(gh_cmd_types(p, T));
	if (!gh_cmd_typing(p))
		return gh_errorf(GH_ERR_MISSING, "heap objects are untyped: maps cannot be found");
	return NULL;
}

static unsigned type_depth(struct gh_types *T, const struct gh_type *t)
{
	unsigned d = 0;
	while (t && t->kind == GH_KIND_MAP && d < MAX_NEST) {
		d++;
		t = gh_type_get(T, t->elem);
	}
	return d;
}

/* Inner maps of a map of maps, all levels: count and bytes. */
struct nest {
	struct gh_program *p;
	struct gh_heap *h;
	struct gh_types *T;
	unsigned level;
	uint64_t maps, bytes;
};

static bool inner(void *arg, const struct gh_map_entry *e)
{
	struct nest *n = arg;
	uint64_t hdr;
	if (!gh_read_u64(n->p->t, e->elem, &hdr) || !hdr)
		return true;
	struct gh_map_stats st;
	const struct gh_type *et = gh_type_get(n->T, e->elem_type);
	bool deeper = et && gh_type_get(n->T, et->elem) && gh_type_get(n->T, et->elem)->kind == GH_KIND_MAP &&
		      n->level + 1 < MAX_NEST;
	n->level++;
	struct gh_error *err = gh_map_walk(n->p, n->h, n->T, hdr, e->elem_type, deeper ? inner : NULL, n, &st);
	n->level--;
	if (err) {
		gh_error_free(err);
		return true;
	}
	n->maps++;
	n->bytes += st.bytes;
	return true;
}

static char sort_key = 'b';

static uint64_t waste(const struct row *r)
{
	/* Bytes of the unused slots: the structure's bytes pro rata. */
	if (!r->st.capacity || r->st.live >= r->st.capacity)
		return 0;
	return (uint64_t)((double)r->st.bytes * (double)(r->st.capacity - r->st.live) / (double)r->st.capacity);
}

static int cmp_rows(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	uint64_t kx = sort_key == 'l' ? x->st.len : sort_key == 'w' ? waste(x) : x->st.bytes;
	uint64_t ky = sort_key == 'l' ? y->st.len : sort_key == 'w' ? waste(y) : y->st.bytes;
	if (kx != ky)
		return kx < ky ? 1 : -1;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void put_load(struct gh_node *n, uint64_t live, uint64_t capacity)
{
	if (capacity)
		gh_put_strf(n, "load", "%.1f%%", 100.0 * (double)live / (double)capacity);
	else
		gh_put_str(n, "load", "-");
}

static void copy_warnings(struct gh_out *o, uint64_t addr, const struct gh_map_stats *st, unsigned *budget)
{
	for (uint32_t i = 0; i < st->nwarnings && i < GH_MAP_WARNINGS && *budget; i++, (*budget)--)
		gh_out_warn(o, "map 0x%" PRIx64 ": %s", addr, st->warnings[i]);
	if (st->nwarnings > GH_MAP_WARNINGS && *budget) {
		gh_out_warn(o, "map 0x%" PRIx64 ": %" PRIu32 " more warnings", addr, st->nwarnings - GH_MAP_WARNINGS);
		(*budget)--;
	}
}

struct gh_error *gh_cmd_maps(struct gh_program *p, int argc, char **argv, struct gh_out *o)
{
	uint64_t min_bytes = 0, limit = 0;
	const char *re_src = NULL;
	bool want_owners = true;
	sort_key = 'b';
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-owners")) {
			want_owners = false;
		} else if (!strcmp(argv[i], "--sort") && i + 1 < argc) {
			const char *k = argv[++i];
			if (strcmp(k, "bytes") && strcmp(k, "waste") && strcmp(k, "len"))
				return gh_errorf(GH_ERR_USAGE, "--sort takes bytes, waste or len");
			sort_key = k[0];
		} else if (!strcmp(argv[i], "--min-bytes") && i + 1 < argc) {
			if (!gh_parse_u64(argv[++i], &min_bytes))
				return gh_errorf(GH_ERR_USAGE, "--min-bytes takes a byte count");
		} else if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
			if (!gh_parse_u64(argv[++i], &limit))
				return gh_errorf(GH_ERR_USAGE, "--limit takes a count (0: all)");
		} else if (!strcmp(argv[i], "--type") && i + 1 < argc) {
			re_src = argv[++i];
		} else
			return gh_errorf(GH_ERR_USAGE, "usage: maps [--sort bytes|waste|len] [--min-bytes N] [--type REGEX] [--limit N] [--no-owners]");
	}
	regex_t re;
	if (re_src && regcomp(&re, re_src, REG_EXTENDED | REG_NOSUB))
		return gh_errorf(GH_ERR_USAGE, "--type: invalid regular expression '%s'", re_src);
	/* With owners, the graph first: the heap is then typed beside its
	 * dominators.  A failure is reported where the owners are computed. */
	if (want_owners) {
		struct gh_graph *g;
		gh_error_free(gh_cmd_graph(p, &g));
	}
	struct gh_heap *h;
	struct gh_types *T;
	struct gh_error *err = setup(p, &h, &T);
	struct row *rows = NULL;
	size_t n = 0, cap = 0;
	uint64_t failed = 0, total_bytes = 0, total_len = 0, total_cap = 0;
	unsigned wbudget = MAX_ROW_WARNINGS;
	double t0 = gh_phase_begin();
	for (uint32_t i = 0; !err && i < h->nobjs; i++) {
		const struct gh_object *ob = &h->objs[i];
		const struct gh_type *t = gh_obj_type(ob) ? gh_type_get(T, gh_obj_type(ob)) : NULL;
		if (!t || t->kind != GH_KIND_MAP || gh_obj_garbage(h, ob) || gh_obj_is_tiny(h, ob))
			continue;
		if (re_src && regexec(&re, t->name, 0, NULL, 0))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			struct row *nr = realloc(rows, nc * sizeof(*nr));
			if (!nr) {
				err = &gh_error_nomem;
				break;
			}
			rows = nr;
			cap = nc;
		}
		struct row *r = &rows[n];
		memset(r, 0, sizeof(*r));
		r->addr = gh_obj_addr(ob);
		r->obj = i;
		r->t = t;
		struct gh_map_stats st;
		struct gh_error *e = gh_map_walk(p, h, T, r->addr, gh_obj_type(ob), NULL, NULL, &st);
		if (e) {
			if (wbudget) {
				gh_out_warn(o, "map 0x%" PRIx64 " (%s): %s", r->addr, t->name, e->msg);
				wbudget--;
			}
			gh_error_free(e);
			failed++;
			continue;
		}
		copy_warnings(o, r->addr, &st, &wbudget);
		r->st = (struct row_stats){ .len = st.len, .live = st.live, .capacity = st.capacity, .deleted = st.deleted,
					    .overflow = st.overflow, .bytes = st.bytes, .nwarnings = st.nwarnings,
					    .swiss = st.swiss, .growing = st.growing };
		r->depth = type_depth(T, t);
		if (r->depth > 1) {
			struct nest nn = { p, h, T, 0, 0, 0 };
			e = gh_map_walk(p, h, T, r->addr, gh_obj_type(ob), inner, &nn, &st);
			gh_error_free(e);
			r->inner_maps = nn.maps;
			r->inner_bytes = nn.bytes;
		}
		r->never_shrunk = r->st.capacity >= SPARSE_MIN_SLOTS && r->st.live * SPARSE < r->st.capacity;
		if (r->st.bytes < min_bytes)
			continue;
		total_bytes += r->st.bytes;
		total_len += r->st.live;
		total_cap += r->st.capacity;
		n++;
	}
	if (re_src)
		regfree(&re);
	if (err) {
		free(rows);
		return err;
	}
	gh_sort(rows, n, sizeof(*rows), cmp_rows);
	gh_phase_end("maps: decoded", t0);
	/* Owners need the object graph and its dominators (seconds on a big
	 * heap; --no-owners skips them).  Without a graph the listing stands. */
	struct owners ow = { .p = p };
	if (want_owners && n) {
		err = gh_cmd_graph(p, &ow.g);
		if (!err) {
			t0 = gh_phase_begin();
			err = gh_holders_new(ow.g, &ow.hs);
			gh_phase_end("holders", t0);
		}
		if (err) {
			gh_out_warn(o, "owners not computed: %s", err->msg);
			gh_error_free(err);
			err = NULL;
			ow.g = NULL;
		} else if (ow.g->stack_warning) {
			gh_out_warn(o, "goroutine stacks are not roots: %s", ow.g->stack_warning);
		}
	}
	struct gh_node *root = gh_out_root(o);
	gh_put_u64(root, "maps", n);
	gh_put_bytes(root, "bytes", total_bytes);
	gh_put_u64(root, "entries", total_len);
	gh_put_u64(root, "slots", total_cap);
	if (failed)
		gh_put_u64(root, "undecodable", failed);
	struct gh_node *tab = gh_put_table(root, "table");
	t0 = gh_phase_begin();
	for (size_t i = 0; i < n && (!limit || i < limit); i++) {
		const struct row *r = &rows[i];
		struct gh_node *row = gh_table_row(tab);
		char flags[128] = "";
		if (r->never_shrunk)
			strcat(flags, "never-shrunk,");
		if (r->depth > 1)
			strcat(flags, "nested,");
		if (r->st.growing)
			strcat(flags, "growing,");
		if (r->st.nwarnings)
			strcat(flags, "corrupt,");
		gh_put_addr(row, "address", r->addr);
		gh_put_str(row, "type", r->t->name);
		gh_put_u64(row, "len", r->st.len);
		gh_put_u64(row, "capacity", r->st.capacity);
		gh_put_bytes(row, "bytes", r->st.bytes);
		gh_put_u64(row, "deleted", r->st.deleted);
		gh_put_u64(row, "overflow", r->st.overflow);
		put_load(row, r->st.live, r->st.capacity);
		gh_put_u64(row, "depth", r->depth);
		gh_put_u64(row, "inner_maps", r->inner_maps);
		gh_put_bytes(row, "inner_bytes", r->inner_bytes);
		gh_put_str(row, "kind", r->st.swiss ? "swiss" : "buckets");
		if (ow.hs) {
			err = put_owner(&ow, r, row, flags);
			if (err)
				break;
		} else {
			if (*flags)
				flags[strlen(flags) - 1] = 0;
			gh_put_str(row, "flags", flags);
		}
	}
	gh_phase_end(ow.hs ? "maps: rows, owners" : "maps: rows", t0);
	gh_holders_free(ow.hs);
	free(rows);
	return err;
}

/* ---- one map ---- */

struct show {
	struct gh_value_ctx c;
	struct gh_node *tab;
	uint64_t limit, shown;
	bool keys_only, addresses;
	char buf[1024];
};

static void show_entry(struct show *s, uint64_t key, gh_type_id kt, uint64_t val, gh_type_id vt)
{
	struct gh_node *row = gh_table_row(s->tab);
	gh_value_text(&s->c, key, kt, s->buf, sizeof(s->buf));
	gh_put_str(row, "key", s->buf);
	if (s->addresses) { /* for debuggers, which print the values themselves */
		gh_put_addr(row, "key_addr", key);
		gh_put_addr(row, "value_addr", val);
	}
	if (!s->keys_only) {
		gh_value_text(&s->c, val, vt, s->buf, sizeof(s->buf));
		gh_put_str(row, "value", s->buf);
	}
	s->shown++;
}

static bool show_map_entry(void *arg, const struct gh_map_entry *e)
{
	struct show *s = arg;
	if (s->limit && s->shown >= s->limit)
		return false;
	show_entry(s, e->key, e->key_type, e->elem, e->elem_type);
	return true;
}

static bool show_sync_entry(void *arg, uint64_t key, uint64_t value)
{
	struct show *s = arg;
	if (s->limit && s->shown >= s->limit)
		return false;
	show_entry(s, key, 0, value, 0);
	return true;
}

enum what { NOT_A_MAP, A_MAP, A_SYNC_MAP };

/* A heap object starts at a and is at least min bytes. */
static bool object_start(struct gh_heap *h, uint64_t a, uint64_t min)
{
	const struct gh_object *o = a ? gh_heap_find(h, a) : NULL;
	return o && gh_obj_addr(o) == a && gh_obj_size(h, o) >= min;
}

/* Whether the memory at addr has the shape of a non-empty sync.Map: a trie
 * root that is an interior node, or a readOnly whose map is a map header.
 * Shape, not names: it works on stripped executables and on fields. */
static bool looks_like_syncmap(struct gh_program *p, struct gh_heap *h, struct gh_types *T, uint64_t addr)
{
	const struct gh_layout *L = &p->L;
	uint64_t w = 0, m = 0;
	uint8_t is_entry = 1;
	if (!gh_syncmap_supported(p))
		return false;
	if (L->syncMap.trie.off >= 0)
		return gh_read_field(p, addr + (uint64_t)L->syncMap.trie.off, &L->trieMap.root, &w) &&
		       object_start(h, w, (uint64_t)L->trieIndirect.size_of) &&
		       gh_read(p->t, w + (uint64_t)L->trieIndirect.isEntry.off, &is_entry, 1) && !is_entry;
	if (!gh_read_field(p, addr, &L->syncMap.read, &w) || !object_start(h, w, (uint64_t)L->syncReadOnly.size_of) ||
	    !gh_read_field(p, w, &L->syncReadOnly.m, &m))
		return false;
	/* read.m: a map header, typed as a map or not reached by typing */
	const struct gh_object *o = m ? gh_heap_find(h, m) : NULL;
	const struct gh_type *t = o && gh_obj_addr(o) == m ? gh_type_get(T, gh_obj_type(o)) : NULL;
	return !m || (o && gh_obj_addr(o) == m && (!t || t->kind == GH_KIND_MAP));
}

/* What addr designates: a map header (a heap object typed as a map), a
 * variable or field holding a map, or a sync.Map (a global or a struct
 * field of that type). */
static enum what resolve(struct gh_program *p, struct gh_heap *h, struct gh_types *T, uint64_t addr, uint64_t *hdr,
			 gh_type_id *mt)
{
	const struct gh_object *o = gh_heap_find(h, addr);
	const struct gh_type *t = o && gh_obj_type(o) ? gh_type_get(T, gh_obj_type(o)) : NULL;
	if (t && t->kind == GH_KIND_MAP && gh_obj_addr(o) == addr) {
		*hdr = addr;
		*mt = gh_obj_type(o);
		return A_MAP;
	}
	if (t && t->kind == GH_KIND_STRUCT) { /* a field of a typed object */
		uint64_t off = addr - gh_obj_addr(o);
		if (t->size)
			off %= t->size;
		for (uint32_t i = 0; i < t->nfields; i++) {
			const struct gh_type *ft = gh_type_get(T, t->fields[i].type);
			if (!ft || t->fields[i].offset != off)
				continue;
			if (!strcmp(ft->name, "sync.Map"))
				return A_SYNC_MAP;
			if (ft->kind == GH_KIND_MAP && gh_read_u64(p->t, addr, hdr) && *hdr) {
				*mt = t->fields[i].type;
				return A_MAP;
			}
		}
	}
	if (looks_like_syncmap(p, h, T, addr))
		return A_SYNC_MAP;
	/* A word holding a map pointer (a variable's address). */
	uint64_t w;
	const struct gh_object *to;
	if (gh_read_u64(p->t, addr, &w) && w && (to = gh_heap_find(h, w)) && gh_obj_addr(to) == w && gh_obj_type(to) &&
	    gh_type_get(T, gh_obj_type(to))->kind == GH_KIND_MAP) {
		*hdr = w;
		*mt = gh_obj_type(to);
		return A_MAP;
	}
	return NOT_A_MAP;
}

static struct gh_error *parse_entry_args(int argc, char **argv, const char *usage, uint64_t *addr, uint64_t *limit,
					 bool *keys_only, const char **name, const char **as, bool *addresses)
{
	*addresses = false;
	*name = NULL;
	*as = NULL;
	bool have = false;
	*limit = 100;
	*keys_only = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
			if (!gh_parse_u64(argv[++i], limit))
				return gh_errorf(GH_ERR_USAGE, "--limit takes a count (0: all)");
		} else if (!strcmp(argv[i], "--keys-only")) {
			*keys_only = true;
		} else if (!strcmp(argv[i], "--addresses")) {
			*addresses = true;
		} else if (!strcmp(argv[i], "--as") && i + 1 < argc) {
			*as = argv[++i];
		} else if (!have && gh_parse_u64(argv[i], addr)) {
			have = true;
		} else if (!have && argv[i][0] != '-') {
			*name = argv[i];
			have = true;
		} else
			return gh_errorf(GH_ERR_USAGE, "usage: %s", usage);
	}
	if (!have)
		return gh_errorf(GH_ERR_USAGE, "usage: %s", usage);
	return NULL;
}

static struct gh_error *show_sync(struct gh_program *p, struct gh_heap *h, struct show *s, uint64_t addr,
				  struct gh_out *o)
{
	struct gh_syncmap_stats st;
	GH_TRY(gh_syncmap_walk(p, h, s->c.T, addr, NULL, NULL, &st));
	struct gh_node *root = gh_out_root(o);
	gh_put_addr(root, "address", addr);
	gh_put_str(root, "type", "sync.Map");
	gh_put_str(root, "implementation", st.trie ? "HashTrieMap" : "read/dirty");
	gh_put_u64(root, "len", st.len);
	gh_put_bytes(root, "bytes", st.bytes);
	if (st.trie) {
		gh_put_u64(root, "nodes", st.nodes);
		gh_put_u64(root, "depth", st.max_depth);
	} else {
		gh_put_bool(root, "amended", st.amended);
		gh_put_u64(root, "read_entries", st.read_len);
		gh_put_u64(root, "dirty_entries", st.dirty_len);
		gh_put_u64(root, "deleted", st.deleted);
		gh_put_u64(root, "expunged", st.expunged);
	}
	gh_put_u64(root, "shown", st.len < s->limit || !s->limit ? st.len : s->limit);
	s->tab = gh_put_table(root, "entries");
	struct gh_syncmap_stats st2;
	GH_TRY(gh_syncmap_walk(p, h, s->c.T, addr, show_sync_entry, s, &st2));
	for (uint32_t i = 0; i < st.nwarnings && i < GH_MAP_WARNINGS; i++)
		gh_out_warn(o, "sync.Map 0x%" PRIx64 ": %s", addr, st.warnings[i]);
	return NULL;
}

static struct gh_error *entries_cmd(struct gh_program *p, int argc, char **argv, struct gh_out *o, bool sync_only)
{
	const char *usage = sync_only ? "syncmap ADDR|EXPR|NAME [--limit N] [--keys-only] [--addresses]"
				      : "map ADDR|EXPR|NAME [--limit N] [--keys-only] [--addresses] [--as MAPTYPE]";
	uint64_t addr, limit;
	bool keys_only;
	const char *var, *as;
	bool addresses;
	GH_TRY(parse_entry_args(argc, argv, usage, &addr, &limit, &keys_only, &var, &as, &addresses));
	if (var) { /* a global variable by its Go name (DWARF) */
		if (!p->dw || !gh_dwarf_variable(p->dw, var, &addr))
			return gh_errorf(GH_ERR_NOT_FOUND, "no global variable '%s'%s", var,
					 p->dw ? "" : " (the executable has no DWARF: give an address)");
		addr += p->exe->bias;
		const char *tn = gh_dwarf_variable_type_name(p->dw, var);
		sync_only = sync_only || (tn && !strcmp(tn, "sync.Map"));
	}
	struct gh_heap *h;
	struct gh_types *T;
	GH_TRY(setup(p, &h, &T));
	struct show s = { .c = { p, h, T }, .limit = limit, .keys_only = keys_only, .addresses = addresses };
	uint64_t hdr = 0;
	gh_type_id mt = 0;
	enum what w = NOT_A_MAP;
	if (as && !sync_only) { /* a header the typing pass did not reach (stripped executables) */
		const struct gh_type *at = gh_type_get(T, mt = gh_type_by_name(T, as));
		if (!at || at->kind != GH_KIND_MAP)
			return gh_errorf(GH_ERR_NOT_FOUND, "--as: no map type named '%s' in the program", as);
		hdr = addr;
		w = A_MAP;
	} else {
		w = resolve(p, h, T, addr, &hdr, &mt);
	}
	if (sync_only || w == A_SYNC_MAP)
		return show_sync(p, h, &s, addr, o);
	if (w == NOT_A_MAP)
		return gh_errorf(GH_ERR_NOT_FOUND, "0x%" PRIx64 " is neither a map header, a variable holding a map, nor a "
				 "sync.Map (use syncmap for a sync.Map goheap cannot recognise)", addr);
	struct gh_node *root = gh_out_root(o);
	struct gh_map_stats st;
	GH_TRY(gh_map_walk(p, h, T, hdr, mt, NULL, NULL, &st));
	gh_put_addr(root, "address", hdr);
	gh_put_str(root, "type", gh_type_get(T, mt)->name);
	gh_put_str(root, "kind", st.swiss ? "swiss" : "buckets");
	gh_put_u64(root, "len", st.len);
	gh_put_u64(root, "capacity", st.capacity);
	gh_put_u64(root, "deleted", st.deleted);
	gh_put_u64(root, "empty", st.empty);
	gh_put_bytes(root, "bytes", st.bytes);
	if (st.indirect_bytes)
		gh_put_bytes(root, "indirect_bytes", st.indirect_bytes);
	put_load(root, st.live, st.capacity);
	if (st.swiss) {
		gh_put_u64(root, "directory", st.dir_len);
		gh_put_u64(root, "tables", st.tables);
		gh_put_u64(root, "groups", st.buckets);
	} else {
		gh_put_u64(root, "B", st.B);
		gh_put_u64(root, "buckets", st.buckets);
		gh_put_u64(root, "overflow", st.overflow);
		gh_put_bool(root, "growing", st.growing);
		if (st.growing) {
			gh_put_u64(root, "old_buckets", st.old_buckets);
			gh_put_u64(root, "nevacuate", st.nevacuate);
		}
	}
	gh_put_u64(root, "shown", st.live < limit || !limit ? st.live : limit);
	s.tab = gh_put_table(root, "entries");
	struct gh_map_stats st2;
	GH_TRY(gh_map_walk(p, h, T, hdr, mt, show_map_entry, &s, &st2));
	unsigned budget = MAX_ROW_WARNINGS;
	copy_warnings(o, hdr, &st, &budget);
	return NULL;
}

struct gh_error *gh_cmd_map(struct gh_program *p, int argc, char **argv, struct gh_out *o)
{
	return entries_cmd(p, argc, argv, o, false);
}

struct gh_error *gh_cmd_syncmap(struct gh_program *p, int argc, char **argv, struct gh_out *o)
{
	return entries_cmd(p, argc, argv, o, true);
}
