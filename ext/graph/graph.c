/* Building the object graph in compressed sparse rows.
 *
 * One pass over every object's pointer words, in parts of the object range
 * (one per thread when the target can be read from several at once): each
 * part appends the targets of its objects' words that point into the heap's
 * pages to an edge buffer of its own and counts them per vertex; then the
 * parts' buffers are laid end to end after the roots' rows.  The only
 * per-edge memory is the 4-byte target.  A pointer resolves to the object
 * containing it (interior pointers included); words that point at no live
 * object are squeezed out.  A pointer into a small span resolves from a
 * table of 16 bytes per heap page (pages.c), small enough to stay in the
 * cache: by arithmetic when the span's slots are all objects, through the
 * heap's slot bits when some are free; resolving the others in walk order
 * would miss the cache on every one, so they are resolved in batches
 * sorted by target address.  Edge buffers are mappings of their own: the first
 * part's becomes the edge table, and the second part's pages are moved
 * behind its rows (mremap) rather than copied into fresh ones. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../util/radix.h"
#include "../util/threads.h"
#include "../util/timings.h"
#include "graph_internal.h"

#define POS_BITS 20 /* a batch covers 2^20 edge slots */
#define BATCH (1u << 16) /* and holds up to 2^16 pointers: only those no page resolves */
#define NO_EDGE UINT32_MAX

const char *gh_root_kind_name(enum gh_root_kind k)
{
	static const char *const names[] = { "global", "stack", "finalizer", "other", "register" };
	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

/* gh_edge_place's index: the edges of row u as (target << 32 | place),
 * sorted, so that a target's first place is the first of its pairs. */
#define PLACE_SCAN 64 /* rows up to this long are scanned */
struct gh_place_index {
	uint32_t last;   /* the row asked about last */
	uint32_t u;      /* the row indexed, if pairs */
	uint64_t *pairs;
	uint32_t n;
};

void gh_graph_free(struct gh_graph *g)
{
	if (!g)
		return;
	for (uint32_t i = 0; i < g->nroots; i++)
		free(g->roots[i].name);
	free(g->roots);
	free(g->off);
	if (g->adj_map)
		munmap(g->adj_map, g->adj_map_len);
	free(g->reach);
	free(g->idom);
	free(g->retained);
	free(g->stack_warning);
	if (g->place)
		free(g->place->pairs);
	free(g->place);
	free(g);
}

static void index_row(const struct gh_graph *g, struct gh_place_index *x, uint32_t u)
{
	uint32_t n = g->off[u + 1] - g->off[u];
	uint64_t *a = malloc((size_t)n * sizeof(*a)), *tmp = malloc((size_t)n * sizeof(*tmp));
	if (!a || !tmp) {
		free(a);
		free(tmp);
		return; /* scans instead */
	}
	for (uint32_t i = 0; i < n; i++)
		a[i] = (uint64_t)g->adj[g->off[u] + i] << 32 | i;
	gh_radix_sort(&a, &tmp, n, 0);
	free(tmp);
	free(x->pairs);
	x->pairs = a;
	x->n = n;
	x->u = u;
}

uint32_t gh_edge_place(const struct gh_graph *g, uint32_t u, uint32_t v)
{
	uint32_t lo = g->off[u], hi = g->off[u + 1];
	struct gh_place_index *x = g->place;
	if (hi - lo > PLACE_SCAN && x) {
		if (!(x->pairs && x->u == u) && x->last == u)
			index_row(g, x, u);
		x->last = u;
		if (x->pairs && x->u == u) {
			uint64_t key = (uint64_t)v << 32;
			uint32_t a = 0, b = x->n;
			while (a < b) { /* the first pair at or above key */
				uint32_t m = a + (b - a) / 2;
				if (x->pairs[m] < key)
					a = m + 1;
				else
					b = m;
			}
			return a < x->n && x->pairs[a] >> 32 == v ? (uint32_t)x->pairs[a] : UINT32_MAX;
		}
	}
	for (uint32_t e = lo; e < hi; e++)
		if (g->adj[e] == v)
			return e - lo;
	return UINT32_MAX;
}

struct gh_error *gh_root_begin(struct gh_root_builder *b, enum gh_root_kind kind, const char *name, uint64_t addr,
			       uint64_t size)
{
	if (!b->nroots || b->roots[b->nroots - 1].addr != addr || b->roots[b->nroots - 1].kind != kind ||
	    strcmp(b->roots[b->nroots - 1].name, name)) {
		if (b->nroots == b->cap_roots) {
			uint32_t nc = b->cap_roots ? b->cap_roots * 2 : 256;
			struct gh_root *nr = realloc(b->roots, nc * sizeof(*nr));
			if (!nr)
				return &gh_error_nomem;
			b->roots = nr;
			b->cap_roots = nc;
		}
		struct gh_root *r = &b->roots[b->nroots];
		if (!(r->name = strdup(name)))
			return &gh_error_nomem;
		r->kind = kind;
		r->addr = addr;
		r->size = size;
		b->nroots++;
	}
	return NULL;
}

struct gh_error *gh_root_edge(struct gh_root_builder *b, enum gh_root_kind kind, const char *name, uint64_t addr,
			      uint64_t size, uint64_t slot, uint64_t value)
{
	(void)slot;
	const struct gh_object *o = gh_heap_find(b->h, value);
	if (!o)
		return NULL;
	GH_TRY(gh_root_begin(b, kind, name, addr, size));
	if (b->nedges == b->cap_edges) {
		size_t nc = b->cap_edges ? b->cap_edges * 2 : 1024;
		struct gh_root_edge_rec *ne = realloc(b->edges, nc * sizeof(*ne));
		if (!ne)
			return &gh_error_nomem;
		b->edges = ne;
		b->cap_edges = nc;
	}
	b->edges[b->nedges++] = (struct gh_root_edge_rec){ b->nroots - 1, (uint32_t)(o - b->h->objs) };
	return NULL;
}

/* The system's page size (4 KiB on x86-64; 4, 16 or 64 KiB on ARM64). */
static size_t page_size(void)
{
	static size_t ps; /* the parts' threads may ask at once */
	size_t v = __atomic_load_n(&ps, __ATOMIC_RELAXED);
	if (!v) {
		long l = sysconf(_SC_PAGESIZE);
		v = l > 0 ? (size_t)l : 4096;
		__atomic_store_n(&ps, v, __ATOMIC_RELAXED);
	}
	return v;
}
static size_t page_round(uint64_t bytes) { return (size_t)((bytes + page_size() - 1) & ~(uint64_t)(page_size() - 1)); }

/* ThreadSanitizer follows mmap and munmap but not mremap: pages moved to
 * an address would keep the shadow of what was mapped there before, and a
 * thread writing them would be reported racing with one long gone from
 * it.  Under it, pages are copied instead of moved. */
#if defined(__SANITIZE_THREAD__)
#define MOVE_PAGES 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MOVE_PAGES 0
#endif
#endif
#ifndef MOVE_PAGES
#define MOVE_PAGES 1
#endif

/* Resizes a mapping of old bytes (none when p is NULL) to n, both whole
 * pages, keeping its contents; NULL if it cannot be had. */
static void *map_resize(void *p, size_t old, size_t n)
{
	if (p && old == n)
		return p;
	if (p && MOVE_PAGES) {
		void *q = mremap(p, old, n, MREMAP_MAYMOVE);
		return q == MAP_FAILED ? NULL : q;
	}
	void *q = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q == MAP_FAILED)
		return NULL;
	if (p) {
		memcpy(q, p, old < n ? old : n);
		munmap(p, old);
	}
	return q;
}

struct fill {
	struct gh_graph *g;
	const struct gh_pages *pages;
	uint32_t v;
	uint32_t *buf;  /* this part's edge targets, its vertices' rows end to end */
	uint64_t cap;   /* entries; the mapping is page_round(cap * 4) bytes */
	uint64_t pos;   /* next buf slot */
	uint64_t base;  /* buf slot of batch position 0 */
	uint64_t lo;    /* base of the heap's first span */
	uint64_t *batch, *scratch; /* (target offset / 8, position) words */
	size_t n;
	bool direct;    /* resolve at once: no batch memory */
	bool nomem;
	uint64_t unresolved;
	const struct gh_span *span; /* of the last pointer resolved */
};

static uint32_t resolve(struct fill *f, uint64_t value)
{
	/* Batches come sorted by address: try the span of the last one. */
	const struct gh_span *s = gh_heap_span_at(f->g->h, &f->span, value);
	const struct gh_object *o = s ? gh_span_find(f->g->h, s, value) : NULL;
	if (o)
		return gh_obj_vertex(f->g, (uint32_t)(o - f->g->h->objs));
	if (s) /* in a span, in no object: a free slot */
		f->unresolved++;
	return NO_EDGE;
}

static void flush(struct fill *f)
{
	/* Objects are 8-byte aligned, so target / 8 finds the same object;
	 * sorted by 4 KiB page, the span and object tables are read in order. */
	gh_radix_sort(&f->batch, &f->scratch, f->n, POS_BITS + 9);
	for (size_t i = 0; i < f->n; i++) {
		uint64_t w = f->batch[i];
		f->buf[f->base + (w & ((1u << POS_BITS) - 1))] = resolve(f, f->lo + ((w >> POS_BITS) << 3));
	}
	f->n = 0;
	f->base = f->pos;
}

static void edge(void *arg, uint64_t off, uint64_t value)
{
	(void)off;
	struct fill *f = arg;
	if (!value || f->nomem)
		return;
	uint32_t obj = 0;
	int how = f->pages ? gh_pages_resolve(f->g->h, f->pages, value, &obj) : GH_RESOLVE_SEARCH;
	if (how == GH_RESOLVE_NONE || (how == GH_RESOLVE_SEARCH && gh_heap_page_span(f->g->h, value) == UINT32_MAX))
		return;
	if (!f->direct && f->pos - f->base == 1u << POS_BITS) /* a batch's positions span 2^POS_BITS slots */
		flush(f);
	if (f->pos == f->cap) {
		uint64_t nc = page_round((f->cap + f->cap / 2 + 1024) * sizeof(uint32_t)) / sizeof(uint32_t);
		uint32_t *nb = nc <= UINT32_MAX ? map_resize(f->buf, page_round(f->cap * 4), page_round(nc * 4)) : NULL;
		if (!nb) {
			f->nomem = true;
			return;
		}
		f->buf = nb;
		f->cap = nc;
	}
	f->g->off[f->v + 1]++;
	uint64_t pos = f->pos++;
	if (how != GH_RESOLVE_SEARCH) {
		f->buf[pos] = how == GH_RESOLVE_OBJECT ? gh_obj_vertex(f->g, obj) : NO_EDGE;
		return;
	}
	if (f->direct) {
		f->buf[pos] = resolve(f, value);
		return;
	}
	f->batch[f->n++] = (value - f->lo) >> 3 << POS_BITS | (pos - f->base);
	if (f->n == BATCH)
		flush(f);
}

/* The pass over objects runs in parts, one per thread, each over a range of
 * objects: it writes only its own vertices' counts and its own buffer. */
struct part {
	struct fill f;
	uint32_t lo, hi; /* objects */
};

static void *fill_part(void *arg)
{
	struct part *p = arg;
	struct fill *f = &p->f;
	struct gh_graph *g = f->g;
	struct gh_heap *h = g->h;
	f->batch = malloc(sizeof(*f->batch) * BATCH);
	f->scratch = malloc(sizeof(*f->scratch) * BATCH);
	f->direct = !f->batch || !f->scratch;
	/* Span by span: the span is at hand, not looked up per object. */
	const struct gh_span *s = p->lo < p->hi ? gh_obj_span(h, &h->objs[p->lo]) : NULL;
	for (uint32_t i = p->lo; i < p->hi && s && !f->nomem; i++) {
		while (i >= s->first + s->nobjs)
			s++;
		f->v = gh_obj_vertex(g, i);
		gh_span_pointers_in(h, s, &h->objs[i], 0, UINT64_MAX, edge, f);
	}
	if (!f->direct)
		flush(f);
	free(f->batch);
	free(f->scratch);
	f->batch = f->scratch = NULL;
	/* Squeeze out the words that resolved to no object, row by row. */
	uint64_t r = 0, w = 0;
	for (uint32_t i = p->lo; i < p->hi && !f->nomem; i++) {
		uint32_t v = gh_obj_vertex(g, i), words = g->off[v + 1], kept = 0;
		for (uint64_t end = r + words; r < end; r++)
			if (f->buf[r] != NO_EDGE) {
				f->buf[w++] = f->buf[r];
				kept++;
			}
		g->off[v + 1] = kept;
	}
	f->pos = w;
	return NULL;
}

/* How many threads the passes use: one per CPU goheap may use, when the
 * target can be read from several threads and the heap is big enough to be
 * worth it. */
static unsigned nparts(struct gh_heap *h)
{
	return gh_parts(h->nobjs >= (1u << 12) && gh_target_threadsafe(h->p->t));
}

/* Memory an object occupies: its slot (size class, malloc header
 * included), or a large object's whole pages — what releasing it frees,
 * and what the runtime's HeapAlloc counts. */
uint64_t gh_vertex_size(const struct gh_graph *g, uint32_t v)
{
	if (!gh_vertex_is_obj(g, v))
		return 0;
	const struct gh_object *o = &g->h->objs[gh_vertex_obj(g, v)];
	return gh_obj_span(g->h, o)->elemsize; /* a large object's span: its pages */
}

/* The super-root's row (every root) and the roots' rows (their edges into
 * objects): their lengths into off, before its running sums... */
static void count_root_rows(struct gh_graph *g, const struct gh_root_builder *b)
{
	g->off[1] = g->nroots;
	for (size_t i = 0; i < b->nedges; i++)
		g->off[1 + b->edges[i].root + 1]++;
}

/* ...and, after them, their targets into adj. */
static struct gh_error *fill_root_rows(struct gh_graph *g, const struct gh_root_builder *b)
{
	uint32_t *cur = malloc(((size_t)g->nroots + 1) * sizeof(*cur));
	if (!cur)
		return &gh_error_nomem;
	memcpy(cur, g->off, ((size_t)g->nroots + 1) * sizeof(*cur));
	for (uint32_t r = 0; r < g->nroots; r++)
		g->adj[cur[0]++] = 1 + r;
	for (size_t i = 0; i < b->nedges; i++)
		g->adj[cur[1 + b->edges[i].root]++] = gh_obj_vertex(g, b->edges[i].obj);
	free(cur);
	return NULL;
}

/* The edge table: the roots' rows, then each part's rows.  It grows out
 * of part 0's mapping (its pages are in place already), started shift
 * bytes in so that part 1's rows begin on a page: part 1's pages are then
 * moved there whole; further parts are copied.  Takes the parts' buffers. */
static struct gh_error *lay_out(struct gh_graph *g, struct part *parts, unsigned n, const struct gh_root_builder *b)
{
	struct fill *f0 = &parts[0].f, *f1 = n > 1 ? &parts[1].f : NULL;
	uint64_t head = g->off[gh_obj_vertex(g, 0)], rows0 = head + f0->pos;
	bool move1 = f1 && f1->pos;
	size_t shift = move1 ? (page_size() - (size_t)(rows0 * 4 % page_size())) % page_size() : 0;
	size_t at1 = shift + (size_t)rows0 * 4, len1 = move1 ? page_round(f1->pos * 4) : 0;
	size_t need = page_round(shift + (g->nedges ? g->nedges : 1) * 4);
	if (move1 && at1 + len1 > need)
		need = at1 + len1;
	size_t len0 = page_round(f0->cap * 4);
	char *m = map_resize(f0->buf, len0, need);
	if (!m)
		return &gh_error_nomem;
	f0->buf = NULL;
	g->adj_map = m;
	g->adj_map_len = need;
	g->adj = (uint32_t *)(m + shift);
	memmove(g->adj + head, m, f0->pos * sizeof(*g->adj));
	if (move1) {
		size_t map1 = page_round(f1->cap * 4);
		if (MOVE_PAGES && mremap(f1->buf, len1, len1, MREMAP_MAYMOVE | MREMAP_FIXED, m + at1) != MAP_FAILED) {
			if (map1 > len1) /* the rest of its mapping */
				munmap((char *)f1->buf + len1, map1 - len1);
		} else { /* copied after all */
			memcpy(m + at1, f1->buf, f1->pos * sizeof(*g->adj));
			munmap(f1->buf, map1);
		}
		f1->buf = NULL;
	}
	for (unsigned i = move1 ? 2 : 1; i < n; i++) {
		if (parts[i].f.pos)
			memcpy(g->adj + g->off[gh_obj_vertex(g, parts[i].lo)], parts[i].f.buf,
			       parts[i].f.pos * sizeof(*g->adj));
		if (parts[i].f.buf)
			munmap(parts[i].f.buf, page_round(parts[i].f.cap * 4));
		parts[i].f.buf = NULL;
	}
	return fill_root_rows(g, b);
}

/* The roots and their edges into b, and the graph's vertex count. */
static struct gh_error *collect_roots(struct gh_heap *h, struct gh_graph *g, struct gh_root_builder *b)
{
	struct gh_error *err = gh_roots_globals(h, b);
	if (!err)
		err = gh_roots_stacks(h, b, &g->stack_warning);
	if (!err)
		err = gh_roots_specials(h, b);
	if (!err)
		err = gh_roots_registers(h, b);
	if (err)
		return err;
	g->roots = b->roots;
	g->nroots = b->nroots;
	b->roots = NULL;
	if ((uint64_t)1 + g->nroots + h->nobjs >= UINT32_MAX)
		return gh_errorf(GH_ERR_UNSUPPORTED, "graph too large");
	g->nv = 1 + g->nroots + h->nobjs;
	return NULL;
}

static void free_builder(struct gh_root_builder *b)
{
	for (uint32_t i = 0; b->roots && i < b->nroots; i++)
		free(b->roots[i].name);
	free(b->roots);
	free(b->edges);
}

struct gh_error *gh_graph_build_roots(struct gh_heap *h, struct gh_graph **out)
{
	struct gh_graph *g = calloc(1, sizeof(*g));
	if (!g)
		return &gh_error_nomem;
	g->h = h;
	g->partial = true;
	struct gh_root_builder b = { .h = h };
	double t0 = gh_phase_begin();
	struct gh_error *err = collect_roots(h, g, &b);
	gh_phase_end("graph: roots", t0);
	if (!err && !(g->off = calloc((size_t)g->nroots + 2, sizeof(*g->off))))
		err = &gh_error_nomem;
	if (err)
		goto fail;
	count_root_rows(g, &b);
	for (uint32_t v = 0; v <= g->nroots; v++)
		g->off[v + 1] += g->off[v];
	g->nedges = g->off[g->nroots + 1];
	g->adj_map_len = page_round((g->nedges ? g->nedges : 1) * 4);
	if (!(g->adj_map = map_resize(NULL, 0, g->adj_map_len))) {
		err = &gh_error_nomem;
		goto fail;
	}
	g->adj = g->adj_map;
	if ((err = fill_root_rows(g, &b)))
		goto fail;
	free(b.edges);
	*out = g;
	return NULL;
fail:
	free_builder(&b);
	gh_graph_free(g);
	return err;
}

struct gh_error *gh_graph_build(struct gh_heap *h, struct gh_graph **out)
{
	struct gh_graph *g = calloc(1, sizeof(*g));
	if (!g)
		return &gh_error_nomem;
	g->h = h;
	if ((g->place = calloc(1, sizeof(*g->place)))) /* without it, gh_edge_place scans */
		g->place->last = UINT32_MAX;
	struct gh_root_builder b = { .h = h };
	double t0 = gh_phase_begin();
	struct gh_error *err = collect_roots(h, g, &b);
	gh_phase_end("graph: roots", t0);
	if (err)
		goto fail_b;
	t0 = gh_phase_begin();
	g->off = calloc((size_t)g->nv + 1, sizeof(*g->off));
	if (!g->off) {
		err = &gh_error_nomem;
		goto fail_b;
	}
	/* Counts: super-root -> roots, roots -> objects, objects -> objects. */
	count_root_rows(g, &b);
	/* Parts of about equal scanned bytes: a span's pointer words are about
	 * its bytes over 8. */
	unsigned n = nparts(h);
	struct part parts[GH_MAX_PARTS];
	memset(parts, 0, sizeof(parts));
	struct gh_pages pages = { 0 };
	bool have_pages = gh_pages_make(h, &pages);
	uint64_t scan = 0, at = 0;
	for (uint32_t si = 0; si < h->nspans; si++)
		if (!h->spans[si].noscan)
			scan += (uint64_t)h->spans[si].nobjs * h->spans[si].elemsize;
	for (unsigned i = 0, si = 0; i < n; i++) {
		parts[i].f = (struct fill){ .g = g, .pages = have_pages ? &pages : NULL,
					    .lo = h->nspans ? h->spans[0].base : 0 };
		parts[i].lo = i ? parts[i - 1].hi : 0;
		while (si < h->nspans && (i == n - 1 || at < scan * (i + 1) / n)) {
			if (!h->spans[si].noscan)
				at += (uint64_t)h->spans[si].nobjs * h->spans[si].elemsize;
			si++;
		}
		parts[i].hi = si < h->nspans ? h->spans[si].first : h->nobjs;
		if (parts[i].hi < parts[i].lo)
			parts[i].hi = parts[i].lo;
	}
	parts[n - 1].hi = h->nobjs;
	if (n > 1)
		gh_heap_masks_freeze(h);
	gh_run_parts(parts, sizeof(parts[0]), n, fill_part);
	if (n > 1)
		gh_heap_masks_thaw(h);
	gh_pages_free(&pages);
	for (unsigned i = 0; i < n; i++) {
		g->unresolved_pointers += parts[i].f.unresolved;
		if (parts[i].f.nomem && !err)
			err = &gh_error_nomem;
	}
	if (err)
		goto fail_parts;
	for (uint32_t v = 0; v < g->nv; v++)
		g->off[v + 1] += g->off[v];
	g->nedges = g->off[g->nv];
	if (g->nedges >= UINT32_MAX) {
		err = gh_errorf(GH_ERR_UNSUPPORTED, "graph has %llu edges; goheap handles up to 2^32",
				(unsigned long long)g->nedges);
		goto fail_parts;
	}
	if ((err = lay_out(g, parts, n, &b)))
		goto fail_parts;
	gh_phase_end("graph: edges", t0);
	free(b.edges);
	*out = g;
	return NULL;
fail_parts:
	for (unsigned i = 0; i < GH_MAX_PARTS; i++)
		if (parts[i].f.buf)
			munmap(parts[i].f.buf, page_round(parts[i].f.cap * 4));
fail_b:
	gh_heap_masks_thaw(h);
	free_builder(&b);
	gh_graph_free(g);
	return err;
}
