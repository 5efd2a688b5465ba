/* Pointer words of heap objects, by the span's pointer metadata:
 *  - Go 1.20-1.21 (and 1.22 noallocheaders): one bit per heap word in the
 *    arena's bitmap;
 *  - 1.22+: objects <= 512 bytes: one bit per word at the end of the span
 *    (below Green Tea's inline mark bits when the span has them);
 *    bigger objects: the type in the slot's 8-byte header, or the span's
 *    largeType, its pointer mask tiled over the whole slot (as the GC scans
 *    it; tail words are zero).
 * Masks of type descriptors are cached per descriptor. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../util/sort.h"
#include "heap.h"

struct mask {
	uint64_t type;     /* descriptor address; 0 = empty slot */
	uint64_t size, ptrdata;
	uint8_t *bits;     /* ptrdata/8 bits; NULL: unusable */
};

struct gh_mask_cache {
	struct mask *tab;
	size_t cap, n;
};

void gh_mask_cache_free(struct gh_mask_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->cap; i++)
		free(c->tab[i].bits);
	free(c->tab);
	free(c);
}

static size_t hash64(uint64_t x, size_t cap)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return (size_t)x & (cap - 1);
}

static struct mask *slot_for(struct gh_mask_cache *c, uint64_t type)
{
	for (size_t i = hash64(type, c->cap);; i = (i + 1) & (c->cap - 1))
		if (c->tab[i].type == type || c->tab[i].type == 0)
			return &c->tab[i];
}

static bool grow(struct gh_mask_cache *c)
{
	size_t ncap = c->cap ? c->cap * 2 : 256;
	struct mask *old = c->tab;
	size_t ocap = c->cap;
	c->tab = calloc(ncap, sizeof(*c->tab));
	if (!c->tab) {
		c->tab = old;
		return false;
	}
	c->cap = ncap;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].type)
			*slot_for(c, old[i].type) = old[i];
	free(old);
	return true;
}

/* Largest pointer mask goheap reads: a 1 GiB pointerful prefix. */
#define MAX_PTRDATA (1ull << 30)

/* Reads a type's pointer mask. Go 1.24+ types with huge pointer prefixes
 * keep their mask behind a pointer built on first use (TFlagGCMaskOnDemand);
 * before that the runtime hands large objects of GC-program types a
 * runtime-made type whose GCData is a plain bitmap. */
static void load_mask(struct gh_heap *h, struct mask *m)
{
	const struct gh_layout *L = &h->p->L;
	struct gh_program *p = h->p;
	uint64_t tflag = 0, kind = 0, gcdata = 0;
	m->bits = NULL;
	if (!gh_read_field(p, m->type, &L->type.size, &m->size) || !gh_read_field(p, m->type, &L->type.ptrBytes, &m->ptrdata) ||
	    !gh_read_field(p, m->type, &L->type.tflag, &tflag) || !gh_read_field(p, m->type, &L->type.gcdata, &gcdata))
		return;
	gh_read_field(p, m->type, &L->type.kind, &kind);
	if (!m->size || m->ptrdata > m->size || m->ptrdata > MAX_PTRDATA || m->ptrdata % 8)
		return;
	if (L->c.kindGCProg.have && (kind & (uint64_t)L->c.kindGCProg.v))
		return; /* a GC program: never the type of a heap object with a header */
	if (L->c.tflagGCMaskOnDemand.have && (tflag & (uint64_t)L->c.tflagGCMaskOnDemand.v)) {
		uint64_t built;
		if (!gh_read_u64(p->t, gcdata, &built) || !built)
			return; /* mask not built yet by the runtime */
		gcdata = built;
	}
	size_t nbytes = (size_t)((m->ptrdata / 8 + 7) / 8);
	uint8_t *bits = malloc(nbytes ? nbytes : 1);
	if (!bits)
		return;
	if (nbytes && !gh_read(p->t, gcdata, bits, nbytes)) {
		free(bits);
		return;
	}
	m->bits = bits;
}

static const struct mask *mask_of(struct gh_heap *h, uint64_t type)
{
	if (!h->masks && !(h->masks = calloc(1, sizeof(*h->masks))))
		return NULL;
	struct gh_mask_cache *c = h->masks;
	if (h->masks_frozen) {
		struct mask *m = c->cap ? slot_for(c, type) : NULL;
		return m && m->type == type && m->bits ? m : NULL;
	}
	if ((c->n + 1) * 2 > c->cap && !grow(c))
		return NULL;
	struct mask *m = slot_for(c, type);
	if (m->type != type) {
		m->type = type;
		c->n++;
		load_mask(h, m);
	}
	return m->bits ? m : NULL;
}

const uint8_t *gh_heap_type_mask(struct gh_heap *h, uint64_t desc, uint64_t *size, uint64_t *ptrdata)
{
	const struct mask *m = desc ? mask_of(h, desc) : NULL;
	if (!m)
		return NULL;
	*size = m->size;
	*ptrdata = m->ptrdata;
	return m->bits;
}

uint64_t gh_span_obj_size(const struct gh_heap *h, const struct gh_span *s)
{
	if (!s->sizeclass)
		return s->limit - s->base;
	return s->elemsize - (s->ptrmode == GH_PTR_HEADER ? h->header_size : 0);
}

uint64_t gh_obj_size(const struct gh_heap *h, const struct gh_object *o)
{
	const struct gh_span *s = gh_obj_span(h, o);
	if (!s->sizeclass)
		return s->limit - s->base;
	return s->elemsize - (s->ptrmode == GH_PTR_HEADER ? h->header_size : 0);
}

uint64_t gh_obj_slot(const struct gh_heap *h, const struct gh_object *o, uint64_t *slot_size)
{
	const struct gh_span *s = gh_obj_span(h, o);
	*slot_size = s->elemsize;
	return gh_obj_addr(o) - (s->ptrmode == GH_PTR_HEADER ? h->header_size : 0);
}

bool gh_span_is_tiny(const struct gh_heap *h, const struct gh_span *s)
{
	return s && s->noscan && s->elemsize == h->tiny_size && s->sizeclass == h->tiny_class;
}

bool gh_obj_is_tiny(const struct gh_heap *h, const struct gh_object *o)
{
	return gh_span_is_tiny(h, gh_obj_span(h, o));
}

const struct gh_span *gh_obj_span(const struct gh_heap *h, const struct gh_object *o)
{
	return gh_heap_span_of(h, gh_obj_addr(o));
}

uint32_t gh_heap_page_span(const struct gh_heap *h, uint64_t addr)
{
	if (!h->narena_index || !h->arena_bytes)
		return UINT32_MAX;
	uint64_t rel = addr - h->arena_base_offset, n = (rel >> h->arena_shift) - h->dense_lo;
	if (n < h->ndense) {
		const uint32_t *ps = h->arena_dense[n];
		return ps ? ps[(rel & (h->arena_bytes - 1)) >> h->page_shift] : UINT32_MAX;
	}
	uint64_t base = addr - ((addr - h->arena_base_offset) & (h->arena_bytes - 1));
	size_t k = gh_upper_bound(h->arena_index, h->narena_index, sizeof(*h->arena_index),
				  offsetof(struct gh_arena_index, base), base);
	if (!k || h->arena_index[k - 1].base != base)
		return UINT32_MAX;
	return h->arena_index[k - 1].page_span[(addr - base) >> h->page_shift];
}

const struct gh_span *gh_heap_span_of(const struct gh_heap *h, uint64_t addr)
{
	uint32_t i = gh_heap_page_span(h, addr);
	if (i == UINT32_MAX)
		return NULL;
	const struct gh_span *s = &h->spans[i];
	return gh_span_covers(s, addr) ? s : NULL;
}

const struct gh_span *gh_heap_span_at(const struct gh_heap *h, const struct gh_span **memo, uint64_t addr)
{
	if (*memo && gh_span_covers(*memo, addr))
		return *memo;
	const struct gh_span *s = gh_heap_span_of(h, addr);
	if (s)
		*memo = s;
	return s;
}

const struct gh_object *gh_heap_find_in(const struct gh_heap *h, uint64_t addr, const struct gh_span **span)
{
	const struct gh_span *s = gh_heap_span_of(h, addr);
	if (span)
		*span = s;
	return s ? gh_span_find(h, s, addr) : NULL;
}

const struct gh_object *gh_span_find(const struct gh_heap *h, const struct gh_span *s, uint64_t addr)
{
	const struct gh_object *dense = gh_span_dense_find(h, s, addr);
	if (dense || !s->nobjs)
		return dense;
	uint64_t i = (addr - s->base) / s->elemsize;
	if (s->slots != GH_NO_SLOTS)
		return gh_span_slot_object(h, s, i);
	/* No slot bits: a span that lost objects between the walk's two passes
	 * (a live target).  Search its objects. */
	uint64_t want = s->base + i * s->elemsize + (s->ptrmode == GH_PTR_HEADER ? h->header_size : 0);
	/* Slot i is object first+i when every slot below it is allocated; each
	 * free slot below it moves it down by one: search only that window. */
	uint64_t free_slots = s->nelems - s->nobjs;
	uint32_t hi = s->first + (uint32_t)(i < s->nobjs ? i : s->nobjs - 1) + 1;
	uint32_t lo = s->first + (uint32_t)(i > free_slots ? i - free_slots : 0);
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint64_t a = gh_obj_addr(&h->objs[mid]);
		if (a == want)
			return &h->objs[mid];
		if (a < want)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct gh_object *gh_heap_find(const struct gh_heap *h, uint64_t addr)
{
	return gh_heap_find_in(h, addr, NULL);
}

/* Word value at addr, through a view of the slot when there is one. */
static uint64_t word(struct gh_heap *h, const uint8_t *view, uint64_t slot, uint64_t off)
{
	uint64_t v = 0;
	if (view)
		memcpy(&v, view + off, 8);
	else
		gh_read_u64(h->p->t, slot + off, &v);
	return v;
}

/* One bit per word in heapArena.bitmap (Go 1.20-1.21). */
static bool arena_bitmap(struct gh_heap *h, uint64_t slot, uint64_t from, uint64_t size, const uint8_t *view, gh_ptr_fn fn,
			 void *arg)
{
	const struct gh_layout *L = &h->p->L;
	struct gh_target *t = h->p->t;
	uint64_t abytes = (uint64_t)L->c.heapArenaBytes.v, words = abytes / 8;
	uint64_t cur_arena = UINT64_MAX, ha = 0, cached_idx = UINT64_MAX, cached = 0;
	uint64_t l2bits = (uint64_t)L->c.arenaL2Bits.v, l1bits = L->c.arenaL1Bits.have ? (uint64_t)L->c.arenaL1Bits.v : 0;
	for (uint64_t off = from; off < size; off += 8) {
		uint64_t a = slot + off;
		uint64_t ai = (a - L->arenaBaseOffset) / abytes;
		if (ai != cur_arena) {
			uint64_t l1 = l1bits ? ai >> l2bits : 0, l2 = l1bits ? ai & ((1ull << l2bits) - 1) : ai, l2arr;
			if (!gh_read_u64(t, L->v.mheap_.addr + (uint64_t)L->mheap.arenas.off + 8 * l1, &l2arr) ||
			    !gh_read_u64(t, l2arr + 8 * l2, &ha) || !ha)
				return false;
			cur_arena = ai;
			cached_idx = UINT64_MAX;
		}
		uint64_t w = (a / 8) % words, idx = w / 64;
		if (idx != cached_idx) {
			if (!gh_read_u64(t, ha + (uint64_t)L->heapArena.bitmap.off + idx * 8, &cached))
				return false;
			cached_idx = idx;
		}
		if ((cached >> (w % 64)) & 1)
			fn(arg, off, word(h, view, slot, off));
	}
	return true;
}

bool gh_heap_pointers(struct gh_heap *h, const struct gh_object *o, gh_ptr_fn fn, void *arg)
{
	return gh_heap_pointers_in(h, o, 0, UINT64_MAX, fn, arg);
}

bool gh_heap_pointers_in(struct gh_heap *h, const struct gh_object *o, uint64_t from, uint64_t to, gh_ptr_fn fn, void *arg)
{
	return gh_span_pointers_in(h, gh_obj_span(h, o), o, from, to, fn, arg);
}

bool gh_span_pointers_in(struct gh_heap *h, const struct gh_span *s, const struct gh_object *o, uint64_t from, uint64_t to,
			 gh_ptr_fn fn, void *arg)
{
	uint64_t size = s->elemsize, slot = gh_obj_addr(o) - (s->ptrmode == GH_PTR_HEADER ? h->header_size : 0);
	const uint8_t *view = gh_view(h->p->t, slot, size);
	bool ok = true;
	from = (from + 7) & ~7ull;
	if (to < size)
		size = to;
	if (from >= size)
		return true;
	switch (s->ptrmode) {
	case GH_PTR_NONE:
		return true;
	case GH_PTR_ARENA_BITMAP:
		ok = arena_bitmap(h, slot, from, size, view, fn, arg);
		break;
	case GH_PTR_SPAN_BITS: {
		uint64_t first = (slot - s->base) / 8, nwords = size / 8;
		uint8_t buf[4096 / 8 * 8];
		uint64_t b0 = first / 8, b1 = (first + nwords + 7) / 8;
		/* The span's bits in place when the core maps them; else a copy. */
		const uint8_t *bits = gh_view_or_read(h->p->t, s->heapbits + b0, b1 - b0, b1 - b0 <= sizeof(buf) ? buf : NULL);
		if (!bits) {
			ok = false;
			break;
		}
		for (uint64_t k = from / 8; k < nwords; k++) {
			uint64_t wi = first + k - b0 * 8;
			if ((bits[wi / 8] >> (wi % 8)) & 1)
				fn(arg, 8 * k, word(h, view, slot, 8 * k));
		}
		break;
	}
	case GH_PTR_HEADER:
	case GH_PTR_LARGE_TYPE: {
		uint64_t type, data = slot;
		if (s->ptrmode == GH_PTR_HEADER) {
			if (!gh_read_u64(h->p->t, slot, &type)) {
				ok = false;
				break;
			}
			data = slot + h->header_size;
		} else {
			type = s->largetype;
		}
		if (!type)
			return true; /* large object still being zeroed: no pointers yet */
		const struct mask *m = mask_of(h, type);
		if (!m) {
			ok = false;
			break;
		}
		for (uint64_t off = from > data - slot ? from - (data - slot) : 0; data + off < slot + size; off += 8) {
			uint64_t rel = off % m->size;
			if (rel < m->ptrdata && ((m->bits[rel / 64] >> (rel / 8 % 8)) & 1))
				fn(arg, data - slot + off, word(h, view, slot, data - slot + off));
		}
		break;
	}
	}
	if (!ok)
		__atomic_fetch_add(&h->st.bad_pointer_maps, 1, __ATOMIC_RELAXED);
	return ok;
}

void gh_heap_masks_freeze(struct gh_heap *h)
{
	for (uint32_t si = 0; si < h->nspans; si++) {
		const struct gh_span *s = &h->spans[si];
		if (s->ptrmode == GH_PTR_LARGE_TYPE && s->largetype)
			mask_of(h, s->largetype);
		if (s->ptrmode != GH_PTR_HEADER)
			continue;
		for (uint32_t i = s->first; i < s->first + s->nobjs; i++) {
			uint64_t slot_size, type;
			if (gh_read_u64(h->p->t, gh_obj_slot(h, &h->objs[i], &slot_size), &type) && type)
				mask_of(h, type);
		}
	}
	h->masks_frozen = true;
}

void gh_heap_masks_thaw(struct gh_heap *h)
{
	h->masks_frozen = false;
}

/* Maps the core's pages of the pointerful spans into the page tables ahead
 * of the walk (MADV_POPULATE_READ, one call per run of spans), on a thread
 * of its own: a prefetch of a page not yet mapped is dropped, and the walk
 * would take each first touch as a page fault.  Advisory: targets that do
 * not map the core (a live process) and older kernels skip it. */
void *gh_heap_populate(void *arg)
{
#ifdef MADV_POPULATE_READ
	struct gh_heap *h = arg;
	uint64_t lo = 0, hi = 0;
	for (uint32_t i = 0; i <= h->nspans; i++) {
		const struct gh_span *s = i < h->nspans ? &h->spans[i] : NULL;
		if (s && (s->noscan || !s->nobjs))
			continue;
		if (s && s->base == hi) {
			hi = s->base + s->npages * h->page_size;
			continue;
		}
		const uint8_t *v = hi > lo ? gh_view(h->p->t, lo, hi - lo) : NULL;
		if (v) {
			uintptr_t a = (uintptr_t)v & ~(uintptr_t)4095, e = ((uintptr_t)v + (hi - lo) + 4095) & ~(uintptr_t)4095;
			madvise((void *)a, e - a, MADV_POPULATE_READ);
		}
		if (s) {
			lo = s->base;
			hi = s->base + s->npages * h->page_size;
		}
	}
#else
	(void)arg;
#endif
	return NULL;
}
