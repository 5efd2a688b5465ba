/* Building the heap: arenas -> in-use spans -> allocated slots.
 *
 * Spans are found through each arena's pageInUse bitmap (set only for the
 * first page of an in-use span) and accepted only if the mspan there is in
 * use and starts at that page: heapArena.spans entries of free pages may be
 * stale.  Slot i is allocated if i < freeindex or its allocBits bit is set
 * (allocation advances freeindex without touching allocBits); in a span not
 * yet swept since the last mark phase, an allocated but unmarked object is
 * garbage unless a finalizer resurrects it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/sort.h"
#include "../util/hugepage.h"
#include "../util/threads.h"
#include "heap.h"

#define MAX_WARNINGS_TEXT 4096
#define MAX_SPECIALS 65536

void gh_heap_warn(struct gh_heap *h, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || h->warnings_len + (size_t)n + 2 > MAX_WARNINGS_TEXT)
		return;
	char *w = realloc(h->warnings, h->warnings_len + (size_t)n + 2);
	if (!w)
		return;
	memcpy(w + h->warnings_len, line, (size_t)n);
	h->warnings_len += (size_t)n;
	w[h->warnings_len++] = '\n';
	w[h->warnings_len] = 0;
	h->warnings = w;
}

void gh_heap_free(struct gh_heap *h)
{
	if (!h)
		return;
	gh_mask_cache_free(h->masks);
	for (uint32_t i = 0; i < h->narena_index; i++)
		free(h->arena_index[i].page_span);
	free(h->arena_index);
	free(h->arena_dense);
	free(h->spans);
	free(h->objs);
	free(h->garbage);
	free(h->allocating);
	free(h->slot_bits);
	free(h->slot_rank);
	free(h->warnings);
	free(h);
}

/* A field from a struct already copied into buf (bufsize bytes). */
static uint64_t fld(const uint8_t *buf, size_t bufsize, const struct gh_field *f)
{
	uint64_t v = 0;
	if (f->off >= 0 && f->size <= 8 && (uint64_t)f->off + f->size <= bufsize)
		memcpy(&v, buf + f->off, f->size);
	return v;
}

static bool bit(const uint8_t *bits, uint64_t i)
{
	return (bits[i / 8] >> (i % 8)) & 1;
}

struct walk {
	struct gh_heap *h;
	struct gh_program *p;
	const struct gh_layout *L;
	uint64_t mheap, sweepgen, page, arena_bytes, l2bits, l1bits;
	int64_t kind_finalizer; /* -1 if unknown */
	size_t cap_spans;
	uint64_t *spans_buf; /* a heapArena's spans array, when the target maps no view of it */
};

static struct gh_error *require(struct walk *w)
{
	const struct gh_layout *L = w->L;
	const char *v = gh_program_version(w->p);
	const struct gh_field *need[] = {
		&L->mheap.sweepgen, &L->mheap.arenas, &L->mheap.allArenas, &L->heapArena.spans,
		&L->heapArena.pageInUse, &L->mspan.startAddr, &L->mspan.npages, &L->mspan.freeindex,
		&L->mspan.nelems, &L->mspan.allocBits, &L->mspan.gcmarkBits, &L->mspan.sweepgen,
		&L->mspan.spanclass, &L->mspan.state, &L->mspan.elemsize, &L->mspan.limit,
		&L->type.size, &L->type.ptrBytes, &L->type.tflag, &L->type.gcdata,
	};
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		GH_TRY(gh_layout_require(L, need[i], v));
	GH_TRY(gh_layout_require_var(L, &L->v.mheap_, v));
	if (!L->c.pageSize.have || !L->c.heapArenaBytes.have || !L->c.arenaL2Bits.have || !L->c.mSpanInUse.have)
		return gh_errorf(GH_ERR_MISSING, "the runtime constants pageSize, heapArenaBytes, arenaL2Bits, mSpanInUse are not all in the DWARF of %s", v);
	if (L->mspan.size_of <= 0 || L->mspan.size_of > 4096 || L->heapArena.size_of <= 0)
		return gh_errorf(GH_ERR_MISSING, "runtime.mspan or runtime.heapArena has no usable size in the DWARF of %s", v);
	return NULL;
}

static struct gh_span *push_span(struct walk *w)
{
	struct gh_heap *h = w->h;
	if (h->nspans == w->cap_spans) {
		size_t nc = w->cap_spans ? w->cap_spans * 2 : 1024;
		if (nc > UINT32_MAX)
			return NULL;
		struct gh_span *ns = realloc(h->spans, nc * sizeof(*ns));
		if (!ns)
			return NULL;
		h->spans = ns;
		w->cap_spans = nc;
	}
	struct gh_span *s = &h->spans[h->nspans++];
	memset(s, 0, sizeof(*s));
	return s;
}

/* Decodes and checks one mspan; false (with a counted warning) if it is not
 * a plausible in-use span starting at page address pa. */
static bool read_span(struct walk *w, uint64_t ms, uint64_t pa, uint64_t ha, uint64_t page_idx, struct gh_span *s)
{
	const struct gh_layout *L = w->L;
	uint8_t buf[4096];
	size_t n = (size_t)L->mspan.size_of;
	/* Every field from here: the caller's record is on its stack, and a
	 * field this version's layout has no source for (inline_marks before
	 * Go 1.25) must read as none, not as what the stack held. */
	memset(s, 0, sizeof(*s));
	if (!gh_read(w->p->t, ms, buf, n))
		goto bad;
	if (fld(buf, n, &L->mspan.state) != (uint64_t)L->c.mSpanInUse.v)
		return false; /* stale entry: not an error */
	s->mspan = ms;
	s->base = fld(buf, n, &L->mspan.startAddr);
	s->npages = fld(buf, n, &L->mspan.npages);
	s->elemsize = fld(buf, n, &L->mspan.elemsize);
	s->limit = fld(buf, n, &L->mspan.limit);
	uint64_t nelems = fld(buf, n, &L->mspan.nelems);
	uint64_t spc = fld(buf, n, &L->mspan.spanclass);
	s->sizeclass = (uint8_t)(spc >> 1);
	s->noscan = spc & 1;
	s->user_arena = fld(buf, n, &L->mspan.isUserArenaChunk) != 0;
	uint64_t span_bytes = s->npages * w->page;
	if (s->base != pa)
		return false;
	if (!s->npages || s->npages > w->arena_bytes / w->page * 64 || !s->elemsize || nelems == 0 ||
	    s->elemsize > span_bytes || nelems > span_bytes / s->elemsize || s->limit < s->base ||
	    s->limit > s->base + span_bytes || s->elemsize % 8 || s->base + span_bytes > GH_OBJ_ADDR_LIMIT)
		goto bad; /* (objects are 8-aligned below 2^48: struct gh_object) */
	s->nelems = (uint32_t)nelems;
	uint32_t sg = (uint32_t)fld(buf, n, &L->mspan.sweepgen), h = (uint32_t)w->sweepgen;
	s->unswept = sg == h - 2 || sg == h - 1 || sg == h + 1;
	if (L->heapArena.pageUseSpanInlineMarkBits.off >= 0) {
		uint8_t b;
		if (gh_read(w->p->t, ha + (uint64_t)L->heapArena.pageUseSpanInlineMarkBits.off + page_idx / 8, &b, 1))
			s->inline_marks = (b >> (page_idx % 8)) & 1;
	}
	if (s->noscan)
		s->ptrmode = GH_PTR_NONE;
	else if (!w->h->alloc_headers)
		s->ptrmode = GH_PTR_ARENA_BITMAP;
	else if (s->sizeclass == 0) {
		s->ptrmode = GH_PTR_LARGE_TYPE;
		s->largetype = fld(buf, n, &L->mspan.largeType);
	} else if (s->elemsize <= w->h->header_min) {
		s->ptrmode = GH_PTR_SPAN_BITS;
		s->heapbits = s->base + span_bytes - span_bytes / 64;
		if (s->inline_marks)
			s->heapbits -= (uint64_t)L->spanInlineMarkBits.size_of;
	} else {
		s->ptrmode = GH_PTR_HEADER;
	}
	return true;
bad:
	w->h->st.bad_spans++;
	gh_heap_warn(w->h, "skipped implausible span record at 0x%llx for page 0x%llx",
		     (unsigned long long)ms, (unsigned long long)pa);
	return false;
}

static struct gh_error *walk_arena(struct walk *w, uint64_t ai, uint64_t l2arr)
{
	const struct gh_layout *L = w->L;
	struct gh_target *t = w->p->t;
	uint64_t l2 = w->l1bits ? ai & ((1ull << w->l2bits) - 1) : ai;
	uint64_t ha;
	if (!gh_read_u64(t, l2arr + 8 * l2, &ha) || !ha) {
		gh_heap_warn(w->h, "arena index 0x%llx has no heapArena record", (unsigned long long)ai);
		return NULL;
	}
	uint64_t base = ai * w->arena_bytes + w->L->arenaBaseOffset;
	uint64_t npages = w->arena_bytes / w->page;
	uint8_t inuse[8192 / 8 * 8]; /* pagesPerArena/8; sized for 64 MiB / 8 KiB */
	if (npages / 8 > sizeof(inuse))
		return gh_errorf(GH_ERR_UNSUPPORTED, "arena of %llu pages is larger than goheap expects",
				 (unsigned long long)npages);
	/* The spans array in place when the target maps it (a core); else a
	 * copy (a debugger's memory reads). */
	if (!w->spans_buf && !(w->spans_buf = malloc(npages * 8)))
		return &gh_error_nomem;
	const uint64_t *spans = gh_view_or_read(t, ha + (uint64_t)L->heapArena.spans.off, npages * 8, w->spans_buf);
	if (!gh_read(t, ha + (uint64_t)L->heapArena.pageInUse.off, inuse, npages / 8) || !spans) {
		w->h->st.bad_spans++;
		gh_heap_warn(w->h, "heapArena at 0x%llx is unreadable", (unsigned long long)ha);
		return NULL;
	}
	w->h->st.arenas++;
	for (uint64_t pg = 0; pg < npages; pg++) {
		if (!bit(inuse, pg))
			continue;
		uint64_t ms;
		memcpy(&ms, spans + pg, 8);
		struct gh_span tmp;
		if (!ms || !read_span(w, ms, base + pg * w->page, ha, pg, &tmp))
			continue;
		struct gh_span *s = push_span(w);
		if (!s)
			return &gh_error_nomem;
		*s = tmp;
		/* No skipping over the span's other pages: they carry no pageInUse
		 * bit anyway, and a corrupt npages must show up as an overlap
		 * with the next span rather than hide it. */
	}
	return NULL;
}

static int span_cmp(const void *a, const void *b)
{
	const struct gh_span *x = a, *y = b;
	return x->base < y->base ? -1 : x->base > y->base;
}

/* Arena index lists: allArenas/heapArenas and (1.25+) userArenaArenas. */
static struct gh_error *walk_arenas(struct walk *w)
{
	const struct gh_layout *L = w->L;
	struct gh_target *t = w->p->t;
	uint64_t l1arr = w->mheap + (uint64_t)L->mheap.arenas.off;
	const struct gh_field *lists[] = { &L->mheap.allArenas, &L->mheap.userArenaArenas };
	for (size_t li = 0; li < 2; li++) {
		if (lists[li]->off < 0)
			continue;
		uint64_t sl[3];
		if (!gh_read(t, w->mheap + (uint64_t)lists[li]->off, sl, 24))
			return gh_errorf(GH_ERR_FAULT, "cannot read runtime.mheap_'s arena list at 0x%llx",
					 (unsigned long long)(w->mheap + (uint64_t)lists[li]->off));
		uint64_t maxn = 1ull << (w->l1bits + w->l2bits);
		if (sl[1] > sl[2] || sl[1] > maxn)
			return gh_errorf(GH_ERR_FORMAT, "runtime.mheap_'s arena list is corrupt (len %llu, cap %llu)",
					 (unsigned long long)sl[1], (unsigned long long)sl[2]);
		for (uint64_t i = 0; i < sl[1]; i++) {
			uint64_t ai;
			if (!gh_read_u64(t, sl[0] + 8 * i, &ai) || ai >= maxn) {
				gh_heap_warn(w->h, "arena list entry %llu unreadable or out of range", (unsigned long long)i);
				continue;
			}
			uint64_t l1 = w->l1bits ? ai >> w->l2bits : 0, l2arr;
			if (!gh_read_u64(t, l1arr + 8 * l1, &l2arr) || !l2arr)
				return gh_errorf(GH_ERR_FAULT, "cannot read runtime.mheap_.arenas[%llu]", (unsigned long long)l1);
			GH_TRY(walk_arena(w, ai, l2arr));
		}
	}
	gh_sort(w->h->spans, w->h->nspans, sizeof(*w->h->spans), span_cmp);
	/* Overlapping spans mean a corrupt core: keep the first, drop the rest. */
	uint32_t k = 0;
	for (uint32_t i = 0; i < w->h->nspans; i++) {
		struct gh_span *s = &w->h->spans[i];
		if (k && s->base < w->h->spans[k - 1].base + w->h->spans[k - 1].npages * w->page) {
			w->h->st.bad_spans++;
			gh_heap_warn(w->h, "span at 0x%llx overlaps the previous one: skipped", (unsigned long long)s->base);
			continue;
		}
		w->h->spans[k++] = *s;
	}
	w->h->nspans = k;
	w->h->st.spans = k;
	return NULL;
}

/* An object's flag bit; the parts fill neighbouring objects at once, so a
 * word of bits may be shared between threads. */
static void set_flag(uint64_t *bits, uint64_t i)
{
	__atomic_fetch_or(&bits[i / 64], 1ull << (i % 64), __ATOMIC_RELAXED);
}

/* n flag bits from object from down to object to (to < from), as the
 * objects move when a span had fewer objects than counted. */
static void move_flags(uint64_t *bits, uint64_t to, uint64_t from, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		uint64_t b = bits[(from + i) / 64] >> ((from + i) % 64) & 1;
		bits[(to + i) / 64] = (bits[(to + i) / 64] & ~(1ull << ((to + i) % 64))) | b << ((to + i) % 64);
	}
}

/* Bitmap of allocBits (or gcmarkBits) for a span: nelems bits. */
static bool read_bits(struct gh_target *t, uint64_t ms, const struct gh_field *f, uint32_t nelems, uint8_t *out)
{
	uint64_t ptr;
	if (!gh_read_u64(t, ms + (uint64_t)f->off, &ptr) || !ptr)
		return false;
	return gh_read(t, ptr, out, (nelems + 7) / 8);
}

/* Finalizer specials resurrect unmarked objects in unswept spans. */
static void finalizer_slots(struct walk *w, const struct gh_span *s, uint8_t *live)
{
	const struct gh_layout *L = w->L;
	if (w->kind_finalizer < 0 || L->mspan.specials.off < 0 || L->special.offset.off < 0)
		return;
	uint64_t sp;
	if (!gh_read_u64(w->p->t, s->mspan + (uint64_t)L->mspan.specials.off, &sp))
		return;
	for (int n = 0; sp && n < MAX_SPECIALS; n++) {
		uint8_t buf[64];
		size_t sz = L->special.size_of > 0 && L->special.size_of <= 64 ? (size_t)L->special.size_of : 24;
		if (!gh_read(w->p->t, sp, buf, sz))
			return;
		if ((int64_t)fld(buf, sz, &L->special.kind) == w->kind_finalizer) {
			uint64_t i = fld(buf, sz, &L->special.offset) / s->elemsize;
			if (i < s->nelems)
				live[i / 8] |= (uint8_t)(1u << (i % 8));
		}
		sp = fld(buf, sz, &L->special.next);
	}
}

/* Pass over one span's slots: counts objects (objs NULL) or fills at most
 * cap of them.  UINT32_MAX: its allocation bits cannot be read. */
static uint32_t span_objects(struct walk *w, struct gh_span *s, struct gh_object *objs, uint32_t cap)
{
	const struct gh_layout *L = w->L;
	struct gh_target *t = w->p->t;
	uint8_t alloc[1024], mark[1024];
	uint64_t freeindex = 0, fifs;
	gh_read_field(w->p, s->mspan, &L->mspan.freeindex, &freeindex);
	/* Slots in [freeIndexForScan, freeindex) were being allocated. */
	if (!gh_read_field(w->p, s->mspan, &L->mspan.freeIndexForScan, &fifs))
		fifs = freeindex;
	if ((s->nelems + 7) / 8 > sizeof(alloc) || !read_bits(t, s->mspan, &L->mspan.allocBits, s->nelems, alloc))
		return UINT32_MAX;
	bool use_marks = s->unswept;
	if (use_marks) {
		memset(mark, 0, sizeof(mark));
		if (!read_bits(t, s->mspan, &L->mspan.gcmarkBits, s->nelems, mark))
			use_marks = false;
		if (use_marks && s->inline_marks && L->spanInlineMarkBits.marks.off >= 0) {
			uint64_t ib = s->base + s->npages * w->page - (uint64_t)L->spanInlineMarkBits.size_of +
				      (uint64_t)L->spanInlineMarkBits.marks.off;
			uint8_t im[128];
			uint32_t nb = (s->nelems + 7) / 8;
			if (nb <= L->spanInlineMarkBits.marks.size && gh_read(t, ib, im, nb))
				for (uint32_t i = 0; i < nb; i++)
					mark[i] |= im[i];
		}
		if (use_marks)
			finalizer_slots(w, s, mark);
	}
	uint64_t hdr = s->ptrmode == GH_PTR_HEADER ? w->h->header_size : 0;
	uint32_t n = 0;
	for (uint32_t i = 0; i < s->nelems; i++) {
		if (!(i < freeindex || bit(alloc, i)))
			continue;
		if (objs && n == cap)
			break;
		if (objs) {
			objs[n].w = (s->base + i * s->elemsize + hdr) >> 3;
			if (s->slots != GH_NO_SLOTS) /* the span's own words: no other thread writes them */
				w->h->slot_bits[s->slots + i / 64] |= 1ull << (i % 64);
			if (use_marks && !bit(mark, i))
				set_flag(w->h->garbage, s->first + n);
			/* The runtime's own test (mspan.isFree) trusts allocBits from
			 * freeIndexForScan on: only slots it would call free yet lie
			 * below freeindex are caught mid-allocation. */
			if (i >= fifs && i < freeindex && !bit(alloc, i))
				set_flag(w->h->allocating, s->first + n);
		}
		n++;
	}
	return n;
}

/* The two passes over spans run in parts, one per thread, each over a
 * range of spans: counting writes only its spans' counts, filling only its
 * spans' objects (so each thread also takes the page faults of its own part
 * of the object table) and its own totals. */

struct part {
	struct walk *w;
	uint32_t lo, hi; /* spans */
	struct gh_heap_stats st;
	bool shrunk;     /* a span had fewer objects than counted */
};

static void *count_part(void *arg)
{
	struct part *p = arg;
	for (uint32_t i = p->lo; i < p->hi; i++)
		p->w->h->spans[i].nobjs = span_objects(p->w, &p->w->h->spans[i], NULL, 0);
	return NULL;
}

static void *fill_part(void *arg)
{
	struct part *p = arg;
	struct gh_heap *h = p->w->h;
	struct gh_heap_stats *st = &p->st;
	for (uint32_t i = p->lo; i < p->hi; i++) {
		struct gh_span *s = &h->spans[i];
		/* Recount: a core can change nothing between passes, but never
		 * trust that blindly (enumerate closes the gaps). */
		uint32_t n = s->nobjs ? span_objects(p->w, s, h->objs + s->first, s->nobjs) : 0;
		if (n == UINT32_MAX)
			n = 0;
		p->shrunk |= n < s->nobjs;
		s->nobjs = n;
		uint64_t sz = gh_span_obj_size(h, s);
		for (uint32_t k = 0; k < n; k++) {
			const struct gh_object *o = &h->objs[s->first + k];
			st->objects++;
			st->bytes += sz;
			st->slot_bytes += s->sizeclass ? s->elemsize : s->npages * p->w->page;
			st->by_class_objects[s->sizeclass]++;
			st->by_class_bytes[s->sizeclass] += s->sizeclass ? s->elemsize : sz;
			if (gh_obj_garbage(h, o)) {
				st->garbage_objects++;
				st->garbage_bytes += sz;
				s->garbage++;
			}
			if (gh_obj_allocating(h, o))
				st->allocating_objects++;
			if (!s->sizeclass) {
				st->large_objects++;
				st->large_bytes += sz;
			}
			if (s->noscan && s->elemsize == h->tiny_size && s->sizeclass == h->tiny_class)
				st->tiny_blocks++;
		}
	}
	return NULL;
}

static void add_stats(struct gh_heap_stats *to, const struct gh_heap_stats *from)
{
	to->objects += from->objects;
	to->bytes += from->bytes;
	to->slot_bytes += from->slot_bytes;
	to->garbage_objects += from->garbage_objects;
	to->garbage_bytes += from->garbage_bytes;
	to->allocating_objects += from->allocating_objects;
	to->large_objects += from->large_objects;
	to->large_bytes += from->large_bytes;
	to->tiny_blocks += from->tiny_blocks;
	for (int c = 0; c < 256; c++) {
		to->by_class_objects[c] += from->by_class_objects[c];
		to->by_class_bytes[c] += from->by_class_bytes[c];
	}
}

static struct gh_error *enumerate(struct walk *w)
{
	struct gh_heap *h = w->h;
	unsigned n = gh_parts(h->nspans >= 64 && gh_target_threadsafe(w->p->t));
	struct part parts[GH_MAX_PARTS];
	memset(parts, 0, sizeof(parts));
	for (unsigned i = 0; i < n; i++)
		parts[i] = (struct part){ .w = w, .lo = (uint32_t)((uint64_t)h->nspans * i / n),
					  .hi = (uint32_t)((uint64_t)h->nspans * (i + 1) / n) };
	gh_run_parts(parts, sizeof(parts[0]), n, count_part);
	uint64_t total = 0, words = 0;
	for (uint32_t i = 0; i < h->nspans; i++) {
		struct gh_span *s = &h->spans[i];
		if (s->nobjs == UINT32_MAX) {
			s->nobjs = 0;
			h->st.bad_spans++;
			gh_heap_warn(h, "allocation bits of span 0x%llx unreadable: span skipped", (unsigned long long)s->base);
		}
		s->first = (uint32_t)(total < UINT32_MAX ? total : UINT32_MAX);
		total += s->nobjs;
		s->slots = GH_NO_SLOTS;
		if (s->nobjs && s->nobjs < s->nelems) {
			s->slots = (uint32_t)(words < UINT32_MAX ? words : UINT32_MAX);
			words += (s->nelems + 63) / 64;
		}
	}
	if (total > UINT32_MAX - 1 || words > UINT32_MAX - 1)
		return gh_errorf(GH_ERR_UNSUPPORTED, "heap has %llu objects; goheap handles up to 2^32",
				 (unsigned long long)total);
	h->slot_bits = calloc(words ? words : 1, sizeof(*h->slot_bits));
	h->slot_rank = malloc((words ? words : 1) * sizeof(*h->slot_rank));
	if (!h->slot_bits || !h->slot_rank)
		return gh_errorf(GH_ERR_NOMEM, "cannot allocate the slot bits of %llu spans", (unsigned long long)h->nspans);
	h->objs = malloc((total ? total : 1) * sizeof(*h->objs));
	if (!h->objs)
		return gh_errorf(GH_ERR_NOMEM, "cannot allocate %llu object records", (unsigned long long)total);
	gh_advise_huge(h->objs, total * sizeof(*h->objs));
	/* The flags' bit sets: zero pages until an object sets one. */
	h->garbage = calloc(total / 64 + 1, sizeof(uint64_t));
	h->allocating = calloc(total / 64 + 1, sizeof(uint64_t));
	if (!h->garbage || !h->allocating)
		return gh_errorf(GH_ERR_NOMEM, "cannot allocate the flags of %llu objects", (unsigned long long)total);
	/* Parts of about equal object counts for filling, now known. */
	for (unsigned i = 1, si = 0; i < n; i++) {
		while (si < h->nspans && h->spans[si].first < total * i / n)
			si++;
		parts[i - 1].hi = parts[i].lo = si;
		parts[i].hi = h->nspans;
	}
	gh_run_parts(parts, sizeof(parts[0]), n, fill_part);
	bool shrunk = false;
	for (unsigned i = 0; i < n; i++) {
		add_stats(&h->st, &parts[i].st);
		shrunk |= parts[i].shrunk;
	}
	uint32_t at = (uint32_t)total;
	if (shrunk) {
		at = 0;
		for (uint32_t i = 0; i < h->nspans; i++) {
			struct gh_span *s = &h->spans[i];
			if (s->first != at) {
				memmove(h->objs + at, h->objs + s->first, s->nobjs * sizeof(*h->objs));
				move_flags(h->garbage, at, s->first, s->nobjs);
				move_flags(h->allocating, at, s->first, s->nobjs);
			}
			s->first = at;
			at += s->nobjs;
		}
	}
	h->nobjs = at;
	/* Each word's rank: the index of the object at its first set bit. */
	for (uint32_t i = 0; i < h->nspans; i++) {
		const struct gh_span *s = &h->spans[i];
		uint32_t r = s->first;
		for (uint32_t k = 0; s->slots != GH_NO_SLOTS && k < (s->nelems + 63) / 64; k++) {
			h->slot_rank[s->slots + k] = r;
			r += (uint32_t)__builtin_popcountll(h->slot_bits[s->slots + k]);
		}
	}
	return NULL;
}

/* The page -> span index behind gh_heap_span_of: lookups happen for every
 * pointer word, so they must not be a binary search over all spans. */
static struct gh_error *index_pages(struct gh_heap *h)
{
	uint64_t pages = h->arena_bytes / h->page_size;
	for (uint32_t i = 0; i < h->nspans; i++) {
		const struct gh_span *s = &h->spans[i];
		for (uint64_t pg = 0; pg < s->npages; pg++) {
			uint64_t a = s->base + pg * h->page_size;
			uint64_t base = a - (a - h->arena_base_offset) % h->arena_bytes;
			uint32_t k = h->narena_index;
			if (!k || h->arena_index[k - 1].base != base) {
				/* Spans are sorted, so arenas come in order. */
				struct gh_arena_index *na = realloc(h->arena_index, (k + 1) * sizeof(*na));
				if (!na)
					return &gh_error_nomem;
				h->arena_index = na;
				na[k].base = base;
				if (!(na[k].page_span = malloc(pages * sizeof(uint32_t))))
					return &gh_error_nomem;
				memset(na[k].page_span, 0xff, pages * sizeof(uint32_t));
				h->narena_index = ++k;
			}
			h->arena_index[k - 1].page_span[(a - base) / h->page_size] = i;
		}
	}
	if (!h->narena_index)
		return NULL;
	/* Arena numbers, relative to arenaBaseOffset as the runtime numbers them. */
	uint64_t lo = (h->arena_index[0].base - h->arena_base_offset) >> h->arena_shift;
	uint64_t hi = (h->arena_index[h->narena_index - 1].base - h->arena_base_offset) >> h->arena_shift;
	if (hi - lo >= 1u << 16) /* scattered arenas: the sorted index alone */
		return NULL;
	if (!(h->arena_dense = calloc(hi - lo + 1, sizeof(*h->arena_dense))))
		return &gh_error_nomem;
	for (uint32_t k = 0; k < h->narena_index; k++)
		h->arena_dense[((h->arena_index[k].base - h->arena_base_offset) >> h->arena_shift) - lo] =
			h->arena_index[k].page_span;
	h->dense_lo = lo;
	h->ndense = hi - lo + 1;
	return NULL;
}

struct gh_error *gh_heap_build(struct gh_program *p, struct gh_heap **out)
{
	struct gh_heap *h = calloc(1, sizeof(*h));
	if (!h)
		return &gh_error_nomem;
	struct walk w = { .h = h, .p = p, .L = &p->L, .kind_finalizer = -1 };
	struct gh_error *err = require(&w);
	if (err)
		goto fail;
	const struct gh_layout *L = &p->L;
	h->p = p;
	h->alloc_headers = L->heapArena.bitmap.off < 0;
	h->header_size = L->c.mallocHeaderSize.have ? (uint64_t)L->c.mallocHeaderSize.v : 8;
	h->header_min = L->c.minSizeForMallocHeader.have ? (uint64_t)L->c.minSizeForMallocHeader.v : 512;
	h->tiny_size = L->c.maxTinySize.have ? (uint64_t)L->c.maxTinySize.v : 16;
	h->tiny_class = L->c.tinySizeClass.have ? (uint8_t)L->c.tinySizeClass.v : 2;
	if (L->c.kindSpecialFinalizer.have)
		w.kind_finalizer = L->c.kindSpecialFinalizer.v;
	w.mheap = L->v.mheap_.addr;
	w.page = (uint64_t)L->c.pageSize.v;
	w.arena_bytes = (uint64_t)L->c.heapArenaBytes.v;
	w.l2bits = (uint64_t)L->c.arenaL2Bits.v;
	w.l1bits = L->c.arenaL1Bits.have ? (uint64_t)L->c.arenaL1Bits.v : 0;
	if (w.page == 0 || (w.page & (w.page - 1)) || w.arena_bytes < w.page || (w.arena_bytes & (w.arena_bytes - 1)) ||
	    w.l2bits > 30 || w.l1bits > 8) {
		err = gh_errorf(GH_ERR_FORMAT, "implausible heap constants (page %llu, arena %llu)",
				(unsigned long long)w.page, (unsigned long long)w.arena_bytes);
		goto fail;
	}
	uint32_t sg;
	if (!gh_read_u32(p->t, w.mheap + (uint64_t)L->mheap.sweepgen.off, &sg)) {
		err = gh_errorf(GH_ERR_FAULT, "cannot read runtime.mheap_ at 0x%llx", (unsigned long long)w.mheap);
		goto fail;
	}
	w.sweepgen = sg;
	h->page_size = w.page;
	h->arena_base_offset = L->arenaBaseOffset;
	h->arena_bytes = w.arena_bytes;
	h->page_shift = (uint8_t)__builtin_ctzll(w.page);
	h->arena_shift = (uint8_t)__builtin_ctzll(w.arena_bytes);
	err = walk_arenas(&w);
	free(w.spans_buf);
	if (err || (err = index_pages(h)) || (err = enumerate(&w)))
		goto fail;
	*out = h;
	return NULL;
fail:
	gh_heap_free(h);
	return err;
}
