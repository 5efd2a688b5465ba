/* Typed locals of a goroutine's frames: the function's DWARF variables and
 * parameters whose location at the frame's PC is in the frame (an offset
 * from the CFA, which is the runtime's frame.fp on both architectures: Go's
 * .debug_frame defines CFA as SP + pcsp, plus the return address on amd64),
 * with the runtime type descriptor of their type (DW_AT_go_runtime_type +
 * moduledata.types).  A variable whose words are all dead in the frame's
 * stack map is still listed: DWARF stack locations cover the whole
 * function. */
#include <stddef.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../util/sort.h"
#include "../util/vec.h"
#include "goroutines.h"

struct gh_dwfunc {
	uint64_t lo, hi, die;
};

struct fvec {
	struct gh_dwfunc *v;
	size_t n, cap;
	bool nomem;
};

static void collect(void *arg, uint64_t lo, uint64_t hi, uint64_t die)
{
	struct fvec *f = arg;
	if (f->n == f->cap) {
		size_t nc = f->cap ? f->cap * 2 : 1024;
		struct gh_dwfunc *v = realloc(f->v, nc * sizeof(*v));
		if (!v) {
			f->nomem = true;
			return;
		}
		f->v = v;
		f->cap = nc;
	}
	f->v[f->n++] = (struct gh_dwfunc){ lo, hi, die };
}

static int func_cmp(const void *a, const void *b)
{
	const struct gh_dwfunc *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static const struct gh_dwfunc *func_at(const struct gh_goroutines *gs, uint64_t pc)
{
	size_t lo = gh_upper_bound(gs->dwfuncs, gs->ndwfuncs, sizeof(*gs->dwfuncs), offsetof(struct gh_dwfunc, lo), pc);
	if (!lo || pc >= gs->dwfuncs[lo - 1].hi)
		return NULL;
	return &gs->dwfuncs[lo - 1];
}

/* Each frame PC's locals as DWARF gives them, kept: the same PCs recur
 * from goroutine to goroutine (every worker parked at the same receive),
 * and reading a function's variables and location lists takes microseconds
 * a frame.  An open-addressing table of PCs, each naming a run of records. */
struct pc_locals {
	uint64_t pc1; /* link-time PC + 1; 0: empty */
	uint32_t first, n;
};
GH_VEC(ldvec, struct gh_dwarf_local)
struct gh_locals_memo {
	struct pc_locals *t;
	size_t cap, used;      /* cap a power of two */
	struct ldvec v;        /* the runs of records */
	bool nomem;
};

void gh_locals_memo_free(struct gh_locals_memo *m)
{
	if (!m)
		return;
	free(m->t);
	free(m->v.data);
	free(m);
}

static struct pc_locals *memo_slot(struct gh_locals_memo *m, uint64_t pc)
{
	size_t i = (size_t)((pc + 1) * 0x9e3779b97f4a7c15ull >> 20) & (m->cap - 1);
	while (m->t[i].pc1 && m->t[i].pc1 != pc + 1)
		i = (i + 1) & (m->cap - 1);
	return &m->t[i];
}

/* Room for one more PC; false when out of memory. */
static bool memo_grow(struct gh_locals_memo *m)
{
	if (m->t && 2 * (m->used + 1) <= m->cap)
		return true;
	struct gh_locals_memo old = *m;
	m->cap = old.cap ? old.cap * 2 : 256;
	if (!(m->t = calloc(m->cap, sizeof(*m->t)))) {
		*m = old;
		return false;
	}
	for (size_t i = 0; i < old.cap; i++)
		if (old.t[i].pc1)
			*memo_slot(m, old.t[i].pc1 - 1) = old.t[i];
	free(old.t);
	return true;
}

static void keep(void *arg, const struct gh_dwarf_local *l)
{
	struct gh_locals_memo *m = arg;
	struct gh_dwarf_local *d = m->v.len < UINT32_MAX ? ldvec_append(&m->v, 1) : NULL;
	if (d)
		*d = *l;
	else
		m->nomem = true;
}

/* The locals of function die at link-time PC pc, from the memo (filled
 * on first use); NULL when it cannot be had (the caller reads DWARF). */
static const struct pc_locals *memo_locals(struct gh_goroutines *gs, uint64_t die, uint64_t pc)
{
	if (!gs->lmemo && !(gs->lmemo = calloc(1, sizeof(*gs->lmemo))))
		return NULL;
	struct gh_locals_memo *m = gs->lmemo;
	if (!memo_grow(m))
		return NULL;
	struct pc_locals *e = memo_slot(m, pc);
	if (e->pc1)
		return e;
	size_t first = m->v.len;
	m->nomem = false;
	gh_dwarf_function_locals(gs->p->dw, die, pc, keep, m);
	if (m->nomem) {
		m->v.len = first;
		return NULL;
	}
	*e = (struct pc_locals){ pc + 1, (uint32_t)first, (uint32_t)(m->v.len - first) };
	m->used++;
	return e;
}

struct lvec {
	struct gh_goroutines *gs;
	struct gh_local *v;
	size_t n, cap;
	uint32_t frame;
	uint64_t cfa, types;
	bool nomem;
};

static void take(void *arg, const struct gh_dwarf_local *l)
{
	struct lvec *o = arg;
	if (o->n == o->cap) {
		size_t nc = o->cap ? o->cap * 2 : 32;
		struct gh_local *v = realloc(o->v, nc * sizeof(*v));
		if (!v) {
			o->nomem = true;
			return;
		}
		o->v = v;
		o->cap = nc;
	}
	/* libdw's strings live as long as the DWARF handle, i.e. the program. */
	o->v[o->n++] = (struct gh_local){
		.frame = o->frame,
		.name = l->name,
		.addr = o->cfa + (uint64_t)l->cfa_offset,
		.size = l->size,
		.type_name = l->type_name,
		.type_desc = l->type_off && o->types ? o->types + l->type_off : 0,
		.is_param = l->is_param,
		.pieces = l->pieces,
	};
}

struct gh_error *gh_goroutine_locals(struct gh_goroutines *gs, struct gh_goroutine *g)
{
	if (g->typed)
		return NULL;
	GH_TRY(gh_goroutine_frames(gs, g));
	struct gh_program *p = gs->p;
	g->typed = true;
	if (!p->dw)
		return NULL;
	if (!gs->dwfuncs_built) {
		struct fvec f = { 0 };
		gh_dwarf_foreach_function(p->dw, collect, &f);
		if (f.nomem) {
			free(f.v);
			g->typed = false;
			return &gh_error_nomem;
		}
		if (f.n)
			gh_sort(f.v, f.n, sizeof(*f.v), func_cmp);
		gs->dwfuncs = f.v;
		gs->ndwfuncs = f.n;
		gs->dwfuncs_built = true;
	}
	struct lvec o = { .gs = gs };
	if (p->moduledata)
		gh_read_field(p, p->moduledata, &p->L.moduledata.types, &o.types);
	uint64_t bias = p->exe->bias;
	for (uint32_t i = 0; i < g->nframes && !o.nomem; i++) {
		const struct gh_frame *fr = &g->frames[i];
		/* A return address may already be past the call's range: look
		 * up the call instruction, unless the frame was interrupted. */
		uint64_t pc = fr->pc > fr->entry && !(fr->flags & GH_FRAME_INTERRUPTED) ? fr->pc - 1 : fr->pc;
		const struct gh_dwfunc *df = func_at(gs, pc - bias);
		if (!df)
			continue;
		o.frame = i;
		o.cfa = fr->fp;
		const struct pc_locals *e = memo_locals(gs, df->die, pc - bias);
		if (!e) {
			gh_dwarf_function_locals(p->dw, df->die, pc - bias, take, &o);
			continue;
		}
		for (uint32_t k = 0; k < e->n; k++)
			take(&o, &gs->lmemo->v.data[e->first + k]);
	}
	if (o.nomem) {
		free(o.v);
		return &gh_error_nomem;
	}
	g->locals = gh_shrink(o.v, o.n * sizeof(*o.v));
	g->nlocals = o.n;
	return NULL;
}
