/* The pointer slots of a goroutine's stack, as the garbage collector finds
 * them (mgcmark.go scanstack / scanframeworker, stkframe.go getStackMap):
 *
 *  - per frame, the locals bitmap (FUNCDATA_LocalsPointerMaps) and the
 *    arguments bitmap (FUNCDATA_ArgsPointerMaps) at the frame's stack map
 *    index (PCDATA_StackMapIndex at continpc-1); dead frames (continpc 0)
 *    hold nothing;
 *  - asyncPreempt frames and the frame they interrupted, and a frame
 *    stopped at an arbitrary instruction, word by word (conservative);
 *  - stack objects (FUNCDATA_StackObjects): address-taken locals with their
 *    own pointer mask at moduledata.rodata + gcdataoff, scanned only when a
 *    pointer found so far points into them, repeated to a fixed point;
 *  - the defer chain (fn and link of each record) and g.sched.ctxt.
 *
 * A stackmap is {int32 n; int32 nbit; bytedata[n][(nbit+7)/8]}. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../util/sort.h"
#include "../util/vec.h"
#include "goroutines.h"

#define MAX_STACK_OBJECTS 4096 /* per frame */
#define MAX_MAP_BITS (1u << 24)
#define MAX_DEFERS 100000

struct stkobj {
	uint64_t addr, size, ptrbytes, mask; /* mask: target address of the pointer bitmap */
	uint32_t frame;
	bool gcprog, scanned;
};

struct scan {
	struct gh_goroutines *gs;
	struct gh_goroutine *g;
	struct gh_slot *v;
	size_t n, cap;
	struct stkobj *objs;
	size_t nobjs, capobjs;
	bool nomem;
	uint64_t gofunc, rodata;
};

static void add(struct scan *s, uint64_t addr, uint32_t frame, enum gh_slot_kind kind)
{
	uint64_t val;
	if (!gh_read_u64(s->gs->p->t, addr, &val)) {
		gh_goroutine_warn(s->g, "slot 0x%" PRIx64 " is unreadable", addr);
		return;
	}
	if (kind == GH_SLOT_CONSERVATIVE && !val)
		return;
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 64;
		struct gh_slot *v = realloc(s->v, nc * sizeof(*v));
		if (!v) {
			s->nomem = true;
			return;
		}
		s->v = v;
		s->cap = nc;
	}
	s->v[s->n++] = (struct gh_slot){ addr, val, frame, (uint8_t)kind };
}

static void conservative(struct scan *s, uint64_t from, uint64_t len, uint32_t frame)
{
	for (uint64_t a = from & ~7ull; a < from + len; a += 8)
		add(s, a, frame, GH_SLOT_CONSERVATIVE);
}

/* Bitmap #idx of the stackmap at addr: calls add() for each set bit, word i
 * at base + 8*i.  Returns false (with a warning) if the map is unusable. */
static bool bitmap(struct scan *s, uint64_t map, int32_t idx, uint64_t base, uint64_t *nbits_out, uint32_t frame,
		   enum gh_slot_kind kind, const char *what)
{
	struct gh_target *t = s->gs->p->t;
	int32_t hdr[2];
	if (!gh_read(t, map, hdr, 8)) {
		gh_goroutine_warn(s->g, "frame %u: %s stack map at 0x%" PRIx64 " is unreadable", frame, what, map);
		return false;
	}
	if (hdr[0] <= 0 || hdr[1] < 0 || (uint32_t)hdr[1] > MAX_MAP_BITS) {
		gh_goroutine_warn(s->g, "frame %u: %s stack map has n=%d nbit=%d", frame, what, hdr[0], hdr[1]);
		return false;
	}
	*nbits_out = (uint64_t)hdr[1];
	if (hdr[1] == 0)
		return true;
	if (idx < 0 || idx >= hdr[0]) {
		gh_goroutine_warn(s->g, "frame %u: stack map index %d outside the %s map's %d entries", frame, idx, what, hdr[0]);
		return false;
	}
	uint64_t nbytes = ((uint64_t)hdr[1] + 7) / 8;
	uint8_t small[256], *bits = nbytes <= sizeof(small) ? small : malloc(nbytes);
	if (!bits) {
		s->nomem = true;
		return false;
	}
	bool ok = gh_read(t, map + 8 + (uint64_t)idx * nbytes, bits, nbytes);
	if (!ok)
		gh_goroutine_warn(s->g, "frame %u: %s bitmap %d is unreadable", frame, what, idx);
	for (uint64_t i = 0; ok && i < (uint64_t)hdr[1]; i++)
		if (bits[i / 8] >> (i % 8) & 1)
			add(s, base + 8 * i, frame, kind);
	if (bits != small)
		free(bits);
	return ok;
}

static void add_object(struct scan *s, const struct stkobj *o)
{
	if (s->nobjs == s->capobjs) {
		size_t nc = s->capobjs ? s->capobjs * 2 : 16;
		struct stkobj *v = realloc(s->objs, nc * sizeof(*v));
		if (!v) {
			s->nomem = true;
			return;
		}
		s->objs = v;
		s->capobjs = nc;
	}
	s->objs[s->nobjs++] = *o;
}

/* FUNCDATA_StackObjects: uintptr count, then {int32 off, size, ptrdata
 * (negative: a GC program, up to 1.23), uint32 gcdataoff} records. */
static void stack_objects(struct scan *s, const struct gh_func *f, const struct gh_frame *fr, uint32_t fi)
{
	struct gh_program *p = s->gs->p;
	uint32_t off;
	if (!fr->varp || !gh_pclntab_funcdata(&p->pcln, f, GH_FUNCDATA_STACK_OBJECTS, &off))
		return;
	uint64_t at = s->gofunc + off, count;
	if (!gh_read_u64(p->t, at, &count) || count > MAX_STACK_OBJECTS) {
		gh_goroutine_warn(s->g, "frame %u: stack object table at 0x%" PRIx64 " is unreadable or absurd", fi, at);
		return;
	}
	for (uint64_t i = 0; i < count; i++) {
		int32_t r[4];
		if (!gh_read(p->t, at + 8 + 16 * i, r, 16)) {
			gh_goroutine_warn(s->g, "frame %u: stack object record %" PRIu64 " is unreadable", fi, i);
			return;
		}
		uint64_t base = r[0] < 0 ? fr->varp : fr->argp;
		uint64_t addr = base + (uint64_t)(int64_t)r[0];
		if (addr < fr->sp || r[1] < 0) /* not allocated in the frame yet */
			continue;
		struct stkobj o = { addr, (uint64_t)r[1], (uint64_t)(r[2] < 0 ? -(int64_t)r[2] : r[2]),
				    s->rodata + (uint32_t)r[3], fi, r[2] < 0, false };
		if (o.ptrbytes > o.size)
			o.ptrbytes = o.size;
		add_object(s, &o);
	}
}

static void scan_frame(struct scan *s, uint32_t fi)
{
	struct gh_program *p = s->gs->p;
	const struct gh_frame *fr = &s->g->frames[fi];
	bool arm64 = p->t->arch == GH_ARCH_ARM64;
	struct gh_func f;
	if (!gh_pclntab_find(&p->pcln, fr->entry, &f))
		return;
	if (fr->flags & GH_FRAME_CONSERVATIVE) {
		uint64_t size = fr->varp > fr->sp ? fr->varp - fr->sp : 0;
		/* On LR machines, also the word the signal handler pushed
		 * below an injected call (the interrupted LR). */
		if (arm64 && size && (!strcmp(f.name, "runtime.asyncPreempt") || !strcmp(f.name, "runtime.debugCallV2") ||
				      !strcmp(f.name, "runtime.sigpanic")))
			size += 16;
		conservative(s, fr->sp, size, fi);
		if (fr->args > 0)
			conservative(s, fr->argp, (uint64_t)fr->args, fi);
		return;
	}
	if (!fr->continpc)
		return; /* a dead frame */
	uint64_t target = fr->continpc;
	int32_t idx = -1;
	if (target != fr->entry && !gh_pclntab_pcdata(&p->pcln, &f, GH_PCDATA_STACKMAP_INDEX, target - 1, &idx))
		idx = -1;
	if (idx == -1)
		idx = 0; /* the prologue: the entry map */
	uint64_t size = fr->varp - fr->sp, minsize = arm64 ? 16 : 0;
	uint32_t off;
	uint64_t nbits;
	if (size > minsize) {
		if (!gh_pclntab_funcdata(&p->pcln, &f, GH_FUNCDATA_LOCALS_POINTER_MAPS, &off)) {
			/* The runtime throws "missing stackmap" here. */
			gh_goroutine_warn(s->g, "frame %u (%s): no locals stack map; scanned conservatively", fi, fr->func);
			conservative(s, fr->sp, size, fi);
		} else {
			uint64_t map = s->gofunc + off;
			int32_t nbit;
			if (gh_read(p->t, map + 4, &nbit, 4) && nbit > 0 && (uint32_t)nbit <= MAX_MAP_BITS)
				bitmap(s, map, idx, fr->varp - 8 * (uint64_t)nbit, &nbits, fi, GH_SLOT_LOCAL, "locals");
			else
				bitmap(s, map, idx, fr->varp, &nbits, fi, GH_SLOT_LOCAL, "locals");
		}
	}
	if (fr->args == GH_ARGS_SIZE_UNKNOWN) {
		/* reflect.makeFuncStub / methodValueCall: the map is behind the
		 * methodValue they were called with; not followed. */
		gh_goroutine_warn(s->g, "frame %u (%s): arguments of unknown size are not scanned", fi, fr->func);
	} else if (fr->args >= 8) {
		if (!gh_pclntab_funcdata(&p->pcln, &f, GH_FUNCDATA_ARGS_POINTER_MAPS, &off)) {
			gh_goroutine_warn(s->g, "frame %u (%s): no arguments stack map; scanned conservatively", fi, fr->func);
			conservative(s, fr->argp, (uint64_t)fr->args, fi);
		} else {
			bitmap(s, s->gofunc + off, idx, fr->argp, &nbits, fi, GH_SLOT_ARG, "arguments");
		}
	}
	stack_objects(s, &f, fr, fi);
}

static int slot_cmp(const void *a, const void *b)
{
	const struct gh_slot *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->kind - y->kind;
}

/* scanstack's stack objects: an object is scanned once some pointer found
 * so far points into it, then its own pointers may reach more objects. */
static void reach_objects(struct scan *s, uint64_t panic_ptr)
{
	const struct gh_goroutine *g = s->g;
	bool changed = true;
	/* Each pass scans at least one more object, or stops. */
	for (size_t pass = 0; changed && pass <= s->nobjs; pass++) {
		changed = false;
		for (size_t i = 0; i < s->nobjs; i++) {
			struct stkobj *o = &s->objs[i];
			if (o->scanned)
				continue;
			bool hit = panic_ptr >= o->addr && panic_ptr < o->addr + o->size;
			for (size_t k = 0; !hit && k < s->n; k++) {
				uint64_t v = s->v[k].value;
				hit = v >= g->stack_lo && v < g->stack_hi && v >= o->addr && v < o->addr + o->size;
			}
			if (!hit)
				continue;
			o->scanned = changed = true;
			if (o->gcprog) {
				gh_goroutine_warn(s->g, "stack object at 0x%" PRIx64 " has a GC program; scanned conservatively", o->addr);
				for (uint64_t a = o->addr; a < o->addr + o->ptrbytes; a += 8)
					add(s, a, o->frame, GH_SLOT_STACK_OBJECT);
				continue;
			}
			uint64_t words = o->ptrbytes / 8;
			uint8_t bits[512];
			for (uint64_t w0 = 0; w0 < words; w0 += 8 * sizeof(bits)) {
				uint64_t nw = words - w0 < 8 * sizeof(bits) ? words - w0 : 8 * sizeof(bits);
				if (!gh_read(s->gs->p->t, o->mask + w0 / 8, bits, (nw + 7) / 8)) {
					gh_goroutine_warn(s->g, "stack object at 0x%" PRIx64 ": its pointer mask is unreadable", o->addr);
					break;
				}
				for (uint64_t i2 = 0; i2 < nw; i2++)
					if (bits[i2 / 8] >> (i2 % 8) & 1)
						add(s, o->addr + 8 * (w0 + i2), o->frame, GH_SLOT_STACK_OBJECT);
			}
		}
	}
}

/* The defer chain: each record's fn and link are roots (scanstack), and a
 * heap-allocated record is kept by the word that links to it. */
static void defers(struct scan *s)
{
	struct gh_program *p = s->gs->p;
	const struct gh_layout *L = &p->L;
	if (L->gstack.defer_.off < 0 || L->deferRec.fn.off < 0 || L->deferRec.link.off < 0)
		return;
	uint64_t at = s->g->g + (uint64_t)L->gstack.defer_.off, d;
	for (uint64_t i = 0; gh_read_u64(p->t, at, &d) && d; i++) {
		if (i == MAX_DEFERS) {
			gh_goroutine_warn(s->g, "more than %d defer records (a cycle?)", MAX_DEFERS);
			return;
		}
		uint64_t fn = 0;
		if (gh_read_field(p, d, &L->deferRec.fn, &fn) && fn)
			add(s, d + (uint64_t)L->deferRec.fn.off, UINT32_MAX, GH_SLOT_DEFER);
		at = d + (uint64_t)L->deferRec.link.off;
		uint64_t next;
		if (gh_read_u64(p->t, at, &next) && next)
			add(s, at, UINT32_MAX, GH_SLOT_DEFER);
	}
}

struct gh_error *gh_goroutine_slots(struct gh_goroutines *gs, struct gh_goroutine *g)
{
	if (g->scanned)
		return NULL;
	GH_TRY(gh_goroutine_frames(gs, g));
	struct gh_program *p = gs->p;
	const struct gh_layout *L = &p->L;
	struct scan s = { .gs = gs, .g = g };
	if (!p->moduledata || !gh_read_field(p, p->moduledata, &L->funcdata.gofunc, &s.gofunc) ||
	    !gh_read_field(p, p->moduledata, &L->funcdata.rodata, &s.rodata))
		return gh_errorf(GH_ERR_MISSING, "moduledata.gofunc/rodata are unknown for %s: no stack maps",
				 gh_program_version(p));
	g->scanned = true;
	for (uint32_t i = 0; i < g->nframes && !s.nomem; i++)
		scan_frame(&s, i);
	uint64_t ctxt = 0, panic_ptr = 0;
	if (gh_read_field(p, g->g + (uint64_t)L->g.sched.off, &L->gobuf.ctxt, &ctxt) && ctxt)
		add(&s, g->g + (uint64_t)L->g.sched.off + (uint64_t)L->gobuf.ctxt.off, UINT32_MAX, GH_SLOT_CONTEXT);
	defers(&s);
	gh_read_field(p, g->g, &L->gstack.panic_, &panic_ptr);
	reach_objects(&s, panic_ptr);
	free(s.objs);
	if (s.nomem) {
		free(s.v);
		return &gh_error_nomem;
	}
	if (s.n)
		gh_sort(s.v, s.n, sizeof(*s.v), slot_cmp);
	g->slots = gh_shrink(s.v, s.n * sizeof(*s.v));
	g->nslots = s.n;
	return NULL;
}
