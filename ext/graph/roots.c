/* Roots: global variables, found through the module's GC masks.
 *
 * moduledata.gcdatamask / gcbssmask have one bit per word of the data and
 * bss sections: exactly the words the GC scans.  Each such word belongs to
 * a global variable (DWARF names it; stripped binaries get one root per
 * word). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/sort.h"
#include "../runtime/goroutines.h"
#include "graph_internal.h"

struct var {
	uint64_t addr, size;
	const char *name;
};

struct vars {
	struct var *v;
	size_t n, cap;
	uint64_t bias;
};

static void add_var(void *arg, const char *name, uint64_t addr, uint64_t size)
{
	struct vars *vs = arg;
	if (vs->n == vs->cap) {
		size_t nc = vs->cap ? vs->cap * 2 : 1024;
		struct var *nv = realloc(vs->v, nc * sizeof(*nv));
		if (!nv)
			return;
		vs->v = nv;
		vs->cap = nc;
	}
	vs->v[vs->n++] = (struct var){ addr + vs->bias, size ? size : 8, name };
}

static int var_cmp(const void *a, const void *b)
{
	const struct var *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static const struct var *var_at(const struct vars *vs, uint64_t a)
{
	size_t lo = gh_upper_bound(vs->v, vs->n, sizeof(*vs->v), offsetof(struct var, addr), a);
	if (!lo || a >= vs->v[lo - 1].addr + vs->v[lo - 1].size)
		return NULL;
	return &vs->v[lo - 1];
}

/* Pointer words of [start, end) per the mask: calls slot() for each. */
static struct gh_error *mask_words(struct gh_program *p, uint64_t mask_at, uint64_t start, uint64_t end,
				   struct gh_root_builder *b, const struct vars *vs, const char *section)
{
	const struct gh_layout *L = &p->L;
	uint64_t n, bytes;
	if (!gh_read_field(p, mask_at, &L->bitvector.n, &n) || !gh_read_field(p, mask_at, &L->bitvector.bytedata, &bytes))
		return gh_errorf(GH_ERR_FAULT, "cannot read the %s GC mask at 0x%llx", section, (unsigned long long)mask_at);
	n = (uint32_t)n;
	if (n > (end - start) / 8 + 64)
		return gh_errorf(GH_ERR_FORMAT, "the %s GC mask claims %llu words for a %llu-byte section", section,
				 (unsigned long long)n, (unsigned long long)(end - start));
	uint8_t *bits = malloc(n / 8 + 1);
	if (!bits)
		return &gh_error_nomem;
	if (n && !gh_read(p->t, bytes, bits, (n + 7) / 8)) {
		free(bits);
		return gh_errorf(GH_ERR_FAULT, "cannot read the %s GC mask bits at 0x%llx", section, (unsigned long long)bytes);
	}
	struct gh_error *err = NULL;
	for (uint64_t i = 0; i < n && !err; i++) {
		if (!((bits[i / 8] >> (i % 8)) & 1))
			continue;
		uint64_t a = start + 8 * i, val;
		if (!gh_read_u64(p->t, a, &val) || !val)
			continue;
		const struct var *v = var_at(vs, a);
		char name[256];
		if (v)
			snprintf(name, sizeof(name), "%s", v->name);
		else
			snprintf(name, sizeof(name), "%s 0x%llx", section, (unsigned long long)a);
		err = gh_root_edge(b, GH_ROOT_GLOBAL, name, v ? v->addr : a, v ? v->size : 8, a, val);
	}
	free(bits);
	return err;
}

struct gh_error *gh_roots_globals(struct gh_heap *h, struct gh_root_builder *b)
{
	struct gh_program *p = h->p;
	const struct gh_layout *L = &p->L;
	const char *ver = gh_program_version(p);
	const struct gh_field *need[] = { &L->moduledata.data, &L->moduledata.edata, &L->moduledata.bss,
					  &L->moduledata.ebss, &L->moduledata.gcdatamask, &L->moduledata.gcbssmask,
					  &L->bitvector.n, &L->bitvector.bytedata };
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		GH_TRY(gh_layout_require(L, need[i], ver));
	if (!p->moduledata)
		return gh_errorf(GH_ERR_MISSING, "cannot find runtime.firstmoduledata: globals cannot be scanned");
	struct vars vs = { .bias = p->exe->bias };
	gh_dwarf_foreach_variable(p->dw, add_var, &vs);
	gh_sort(vs.v, vs.n, sizeof(*vs.v), var_cmp);
	uint64_t md = p->moduledata, data, edata, bss, ebss;
	struct gh_error *err = NULL;
	if (!gh_read_field(p, md, &L->moduledata.data, &data) || !gh_read_field(p, md, &L->moduledata.edata, &edata) ||
	    !gh_read_field(p, md, &L->moduledata.bss, &bss) || !gh_read_field(p, md, &L->moduledata.ebss, &ebss) ||
	    data > edata || bss > ebss)
		err = gh_errorf(GH_ERR_FORMAT, "runtime.firstmoduledata at 0x%llx has unreadable or inconsistent section bounds",
				(unsigned long long)md);
	if (!err)
		err = mask_words(p, md + (uint64_t)L->moduledata.gcdatamask.off, data, edata, b, &vs, "data");
	if (!err)
		err = mask_words(p, md + (uint64_t)L->moduledata.gcbssmask.off, bss, ebss, b, &vs, "bss");
	free(vs.v);
	return err;
}

/* Goroutine stacks: one root per live goroutine, with the precise pointer
 * slots of its frames (conservative ones where the runtime scans
 * conservatively). */
struct gh_error *gh_roots_stacks(struct gh_heap *h, struct gh_root_builder *b, char **warning)
{
	struct gh_goroutines *gs;
	struct gh_error *err = gh_goroutines_load(h->p, &gs);
	if (err) {
		/* Without goroutines the globals still give an answer: say so. */
		*warning = strdup(err->msg);
		gh_error_free(err);
		return NULL;
	}
	for (size_t i = 0; i < gs->n; i++) {
		struct gh_goroutine *g = &gs->gs[i];
		GH_TRY(gh_goroutine_slots(gs, g));
		char name[256];
		snprintf(name, sizeof(name), "goroutine %llu [%s] %s", (unsigned long long)g->goid, g->wait ? g->wait : "?",
			 g->user_start ? g->user_start : g->start_func ? g->start_func : "?");
		for (size_t k = 0; k < g->nslots; k++)
			GH_TRY(gh_root_edge(b, GH_ROOT_STACK, name, g->g, 0, g->slots[k].addr, g->slots[k].value));
	}
	return NULL;
}

/* Specials (per span, sorted by offset) and the finalizer queue.
 *  - a finalizer keeps alive what its object points to and its function,
 *    not the object itself (markrootSpans scans the object's contents);
 *  - a weak handle keeps its handle object (the target is not kept);
 *  - a cleanup keeps its function (and, from 1.26, its argument copy);
 *  - a queued finalizer keeps its function and argument until it has run.
 * Kind numbers and payload offsets come from DWARF; lists are bounded. */
#define MAX_SPECIALS_PER_SPAN 65536
#define MAX_FINBLOCKS 1000000

struct scan_ctx {
	struct gh_root_builder *b;
	const char *name;
	uint64_t addr;
	struct gh_error *err;
};

static void scan_word(void *arg, uint64_t off, uint64_t value)
{
	struct scan_ctx *c = arg;
	if (!c->err)
		c->err = gh_root_edge(c->b, GH_ROOT_FINALIZER, c->name, c->addr, 0, off, value);
}

static struct gh_error *word_edge(struct gh_root_builder *b, const char *name, uint64_t root_addr, uint64_t at,
				  const struct gh_field *f)
{
	uint64_t v;
	if (f->off < 0 || !gh_read_field(b->h->p, at, f, &v))
		return NULL;
	return gh_root_edge(b, GH_ROOT_FINALIZER, name, root_addr, 0, at + (uint64_t)f->off, v);
}

static struct gh_error *span_specials(struct gh_heap *h, struct gh_root_builder *b, const struct gh_span *s)
{
	struct gh_program *p = h->p;
	const struct gh_layout *L = &p->L;
	uint64_t sp;
	if (!gh_read_field(p, s->mspan, &L->mspan.specials, &sp))
		return NULL;
	for (int n = 0; sp && n < MAX_SPECIALS_PER_SPAN; n++) {
		uint64_t kind, off, next;
		if (!gh_read_field(p, sp, &L->special.kind, &kind) || !gh_read_field(p, sp, &L->special.offset, &off) ||
		    !gh_read_field(p, sp, &L->special.next, &next))
			break;
		uint64_t target = s->base + off;
		const struct gh_object *o = gh_heap_find(h, target);
		char name[160];
		if (L->c.kindSpecialFinalizer.have && (int64_t)kind == L->c.kindSpecialFinalizer.v) {
			snprintf(name, sizeof(name), "finalizer of 0x%llx", (unsigned long long)target);
			GH_TRY(gh_root_begin(b, GH_ROOT_FINALIZER, name, sp, 0));
			if (o) {
				struct scan_ctx c = { b, name, sp, NULL };
				gh_heap_pointers(h, o, scan_word, &c);
				GH_TRY(c.err);
			}
			GH_TRY(word_edge(b, name, sp, sp, &L->specialfinalizer.fn));
		} else if (L->c.kindSpecialWeakHandle.have && (int64_t)kind == L->c.kindSpecialWeakHandle.v) {
			snprintf(name, sizeof(name), "weak handle of 0x%llx", (unsigned long long)target);
			GH_TRY(gh_root_begin(b, GH_ROOT_FINALIZER, name, sp, 0));
			GH_TRY(word_edge(b, name, sp, sp, &L->specialWeakHandle.handle));
		} else if (L->c.kindSpecialCleanup.have && (int64_t)kind == L->c.kindSpecialCleanup.v) {
			snprintf(name, sizeof(name), "cleanup of 0x%llx", (unsigned long long)target);
			GH_TRY(gh_root_begin(b, GH_ROOT_FINALIZER, name, sp, 0));
			GH_TRY(word_edge(b, name, sp, sp, &L->specialCleanup.fn));
			GH_TRY(word_edge(b, name, sp, sp, &L->specialCleanup.arg));
		}
		sp = next;
	}
	return NULL;
}

static struct gh_error *finalizer_queue(struct gh_heap *h, struct gh_root_builder *b)
{
	struct gh_program *p = h->p;
	const struct gh_layout *L = &p->L;
	uint64_t blk;
	if (!L->v.allfin.have || L->finblock.fin.off < 0 || L->finalizer.size_of <= 0 ||
	    !gh_read_u64(p->t, L->v.allfin.addr, &blk))
		return NULL;
	uint64_t stride = (uint64_t)L->finalizer.size_of;
	for (uint64_t nb = 0; blk && nb < MAX_FINBLOCKS; nb++) {
		uint64_t cnt, next;
		if (!gh_read_field(p, blk, &L->finblock.cnt, &cnt) || !gh_read_field(p, blk, &L->finblock.alllink, &next))
			break;
		uint64_t cap = ((uint64_t)L->finblock.size_of - (uint64_t)L->finblock.fin.off) / stride;
		for (uint64_t i = 0; i < cnt && i < cap; i++) {
			uint64_t e = blk + (uint64_t)L->finblock.fin.off + i * stride;
			const struct gh_field *fs[] = { &L->finalizer.fn, &L->finalizer.arg, &L->finalizer.fint, &L->finalizer.ot };
			for (size_t k = 0; k < 4; k++)
				GH_TRY(word_edge(b, "finalizer queue", L->v.allfin.addr, e, fs[k]));
		}
		blk = next;
	}
	return NULL;
}

struct gh_error *gh_roots_specials(struct gh_heap *h, struct gh_root_builder *b)
{
	if (h->p->L.mspan.specials.off < 0 || h->p->L.special.kind.off < 0)
		return NULL;
	for (uint32_t i = 0; i < h->nspans; i++)
		GH_TRY(span_specials(h, b, &h->spans[i]));
	return finalizer_queue(h, b);
}

/* Registers of the threads running a goroutine: such a thread, stopped
 * when the core was taken, may hold the only pointer to an object in one
 * (the runtime, stopping the world, never needs to scan them).  Idle
 * threads keep stale values from goroutines they ran before: not roots.
 * Conservative: any register value inside a live object is an edge. */
struct gh_error *gh_roots_registers(struct gh_heap *h, struct gh_root_builder *b)
{
	struct gh_goroutines *gs;
	struct gh_error *err = gh_goroutines_load(h->p, &gs);
	if (err) { /* the stacks' warning already says why */
		gh_error_free(err);
		return NULL;
	}
	const struct gh_threadvec *ts = &h->p->t->threads;
	for (size_t i = 0; i < ts->len; i++) {
		const struct gh_thread *th = &ts->data[i];
		const struct gh_goroutine *g = NULL;
		for (size_t k = 0; k < gs->n && !g; k++)
			if (gs->gs[k].m && gs->gs[k].tid == th->tid)
				g = &gs->gs[k];
		if (!g)
			continue;
		for (unsigned r = 0; r < th->regs.n && r < GH_MAX_REGS; r++) {
			uint64_t v = th->regs.r[r];
			if (!v || !gh_heap_find(h, v))
				continue;
			char name[128];
			snprintf(name, sizeof(name), "thread %lld (goroutine %llu) %s", (long long)th->tid,
				 (unsigned long long)g->goid, gh_reg_name(th->regs.arch, r));
			GH_TRY(gh_root_edge(b, GH_ROOT_REGISTER, name, 0, 0, 0, v));
		}
	}
	return NULL;
}
