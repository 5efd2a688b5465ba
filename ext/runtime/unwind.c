/* Unwinding a goroutine's stack frame by frame, as the runtime's unwinder
 * does (traceback.go: initAt, resolveInternal, next): the frame size from
 * pclntab's pcsp table, the return address at fp-8 (amd64) or at 0(SP)
 * (arm64, non-leaf), stop at TOPFRAME functions (goexit).
 *
 * Where the walk starts: a parked goroutine from g.sched, one in a system
 * call from g.syscallsp/pc, a running one from its thread's registers.  When
 * that thread is on its signal stack (a crash core: the signal handler was
 * running) the interrupted context is read from the kernel's ucontext above
 * runtime.sigtramp's frame; when it is on g0 (systemstack, a syscall), the
 * goroutine's own context is g.syscallsp or g.sched.  A frame entered at an
 * arbitrary instruction is not at a safe point and is scanned
 * conservatively, as the runtime scans the frame async preemption
 * interrupted. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../util/vec.h"
#include "goroutines.h"

#define MAX_FRAMES 20000  /* deeper than any sane stack: truncate with a warning */
#define MAX_HOPS 4        /* signal stack -> g0 -> goroutine, at most */

/* Signal frames (Linux ABI, as runtime/defs_linux_*.go describe them). */
#define AMD64_UC_RBP (40 + 10 * 8)
#define AMD64_UC_RSP (40 + 15 * 8)
#define AMD64_UC_RIP (40 + 16 * 8)
#define ARM64_SIGINFO 128          /* rt_sigframe: siginfo, then ucontext */
#define ARM64_UC_MCONTEXT 176
#define ARM64_MC_REGS 8            /* regs[31] after fault_address */
#define ARM64_MC_SP 256
#define ARM64_MC_PC 264

struct ctx {
	uint64_t pc, sp, lr;
	bool interrupted; /* at an arbitrary instruction */
	bool syscall;     /* from g.syscallsp/pc: SPWrite is ignored */
};

struct walker {
	struct gh_program *p;
	struct gh_goroutine *g; /* for warnings */
	bool arm64;
	uint64_t lo, hi;        /* the stack being walked */
};

static bool spdelta(const struct gh_pclntab *pc, const struct gh_func *f, uint64_t at, int32_t *d)
{
	struct gh_funcinfo fi;
	return gh_pclntab_funcinfo(pc, f, &fi) && fi.pcsp && gh_pclntab_pcvalue(pc, f, fi.pcsp, at, d) && *d >= 0;
}

static bool is_injected(const char *name)
{
	return !strcmp(name, "runtime.sigpanic") || !strcmp(name, "runtime.asyncPreempt") ||
	       !strcmp(name, "runtime.debugCallV2");
}

/* resolveInternal: fills fr for the function f at pc/sp (lr: known return
 * address, arm64 only).  Returns false with *why when the frame cannot be
 * computed. */
static bool resolve(struct walker *w, const struct gh_func *f, uint64_t pc, uint64_t sp, uint64_t lr, bool innermost,
		    bool syscall, const char *callee, struct gh_frame *fr, const char **why)
{
	const struct gh_pclntab *pt = &w->p->pcln;
	struct gh_funcinfo fi;
	memset(fr, 0, sizeof(*fr));
	fr->pc = pc;
	fr->sp = sp;
	fr->entry = f->entry;
	fr->func = f->name;
	fr->args = f->args;
	if (!gh_pclntab_funcinfo(pt, f, &fi)) {
		*why = "its function record is unreadable";
		return false;
	}
	if (!fi.pcsp) {
		*why = "it has no frame information (not Go code)";
		return false;
	}
	int32_t d;
	if (!spdelta(pt, f, pc, &d)) {
		*why = "its SP-delta table does not cover the PC";
		return false;
	}
	fr->fp = sp + (uint64_t)d + (w->arm64 ? 0 : 8);
	if (fr->fp > w->hi || fr->fp < sp) {
		*why = "its frame ends above the stack";
		return false;
	}
	uint8_t flag = f->flag;
	if (!strcmp(f->name, "runtime.cgocallback") || syscall)
		flag &= (uint8_t)~GH_FUNCFLAG_SPWRITE;
	if (flag & GH_FUNCFLAG_TOPFRAME) {
		fr->lr = 0;
		fr->flags |= GH_FRAME_TOP;
	} else if ((flag & GH_FUNCFLAG_SPWRITE) && !innermost) {
		/* The runtime refuses these above the innermost frame: the SP
		 * they set is not described by pcsp. */
		*why = "it writes SP in a way its tables do not describe (SPWRITE)";
		return false;
	} else if (w->arm64) {
		fr->lr = lr;
		if ((innermost && sp < fr->fp) || lr == 0) {
			if (!gh_read_u64(w->p->t, sp, &fr->lr)) {
				*why = "its saved return address is unreadable";
				return false;
			}
		}
	} else if (!gh_read_u64(w->p->t, fr->fp - 8, &fr->lr)) {
		*why = "its return address is unreadable";
		return false;
	}
	fr->varp = fr->fp - (w->arm64 ? 0 : 8);
	if (fr->varp > sp)
		fr->varp -= 8; /* the saved frame pointer */
	fr->argp = fr->fp + (w->arm64 ? 8 : 0);
	fr->continpc = pc;
	if (callee && !strcmp(callee, "runtime.sigpanic")) {
		/* It trapped: it resumes only at its deferreturn, if any. */
		fr->continpc = fi.deferreturn ? f->entry + fi.deferreturn + 1 : 0;
		if (!fr->continpc)
			fr->flags |= GH_FRAME_DEAD;
	}
	return true;
}

/* symPC: a return address is past its call, so the position is the byte
 * before it; an interrupted frame's PC is the instruction itself. */
static void position(const struct gh_pclntab *pt, const struct gh_func *f, struct gh_frame *fr)
{
	const char *file;
	int32_t line;
	uint64_t sym = fr->pc > f->entry && !(fr->flags & GH_FRAME_INTERRUPTED) ? fr->pc - 1 : fr->pc;
	if (gh_pclntab_fileline(pt, f, sym, &file, &line)) {
		fr->file = file;
		fr->line = line;
	}
}

/* Walks from c, calling emit for each frame; returns the number of frames.
 * Stops (with a warning) on anything the runtime would throw on. */
typedef bool (*emit_fn)(void *arg, const struct gh_frame *fr);

static size_t walk(struct walker *w, struct ctx c, emit_fn emit, void *arg, bool warn)
{
	struct gh_program *p = w->p;
	uint64_t pc = c.pc, sp = c.sp, lr = c.lr;
	if (pc == 0) { /* a call through a nil func: start in the caller */
		if (!gh_read_u64(p->t, sp, &pc))
			return 0;
		if (!w->arm64)
			sp += 8;
		lr = 0;
	}
	const char *callee = NULL;
	bool conservative = c.interrupted;
	size_t n = 0;
	for (;;) {
		struct gh_func f;
		const char *why = NULL;
		struct gh_frame fr;
		if (sp < w->lo || sp >= w->hi) {
			if (warn)
				gh_goroutine_warn(w->g, "frame %zu: SP 0x%" PRIx64 " is outside the stack [0x%" PRIx64 ", 0x%" PRIx64 ")",
						  n, sp, w->lo, w->hi);
			return n;
		}
		if (!gh_pclntab_find(&p->pcln, pc, &f)) {
			if (warn)
				gh_goroutine_warn(w->g, "frame %zu: PC 0x%" PRIx64 " is not in Go code", n, pc);
			return n;
		}
		if (!resolve(w, &f, pc, sp, lr, n == 0, c.syscall && n == 0, callee, &fr, &why)) {
			if (warn)
				gh_goroutine_warn(w->g, "frame %zu (%s at 0x%" PRIx64 "): %s", n, f.name, pc, why);
			return n;
		}
		if (c.interrupted && n == 0)
			fr.flags |= GH_FRAME_INTERRUPTED;
		position(&p->pcln, &f, &fr);
		/* asyncPreempt's frame holds the interrupted registers, and the
		 * frame it interrupted is not at a safe point: both are scanned
		 * word by word (scanframeworker). */
		bool async = !strcmp(f.name, "runtime.asyncPreempt") || !strcmp(f.name, "runtime.debugCallV2");
		if (conservative || async)
			fr.flags |= GH_FRAME_CONSERVATIVE;
		conservative = async;
		if (n == MAX_FRAMES) {
			if (warn)
				gh_goroutine_warn(w->g, "more than %d frames: the walk stops", MAX_FRAMES);
			return n;
		}
		if (!emit(arg, &fr))
			return n;
		n++;
		if (fr.lr == 0)
			return n;
		struct gh_func flr;
		if (!gh_pclntab_find(&p->pcln, fr.lr, &flr)) {
			if (warn)
				gh_goroutine_warn(w->g, "frame %zu (%s): return address 0x%" PRIx64 " is not in Go code", n - 1,
						  f.name, fr.lr);
			return n;
		}
		if (fr.pc == fr.lr && fr.sp == fr.fp) {
			if (warn)
				gh_goroutine_warn(w->g, "frame %zu (%s): the walk is stuck", n - 1, f.name);
			return n;
		}
		callee = f.name;
		pc = fr.lr;
		lr = 0;
		sp = fr.fp;
		/* On LR machines the signal handler pushed the interrupted LR
		 * before faking a call to an injected function. */
		if (w->arm64 && is_injected(f.name)) {
			uint64_t x;
			if (!gh_read_u64(p->t, sp, &x))
				return n;
			sp += 16; /* alignUp(MinFrameSize, StackAlign) */
			struct gh_func fi;
			int32_t d;
			if (!gh_pclntab_find(&p->pcln, pc, &fi))
				pc = x;
			else if (spdelta(&p->pcln, &fi, pc, &d) && d == 0)
				lr = x;
		}
	}
}

struct frames_out {
	struct gh_frame *v;
	size_t n, cap;
	bool nomem;
};

static bool emit_store(void *arg, const struct gh_frame *fr)
{
	struct frames_out *o = arg;
	if (o->n == o->cap) {
		size_t nc = o->cap ? o->cap * 2 : 16;
		struct gh_frame *v = realloc(o->v, nc * sizeof(*v));
		if (!v) {
			o->nomem = true;
			return false;
		}
		o->v = v;
		o->cap = nc;
	}
	o->v[o->n++] = *fr;
	return true;
}

struct sigfind {
	struct gh_frame sigtramp;
	bool found;
};

static bool emit_find_sigtramp(void *arg, const struct gh_frame *fr)
{
	struct sigfind *s = arg;
	/* sigtramp (or cgoSigtramp) is the TOPFRAME function the kernel enters. */
	if ((fr->flags & GH_FRAME_TOP) && strstr(fr->func, "igtramp")) {
		s->sigtramp = *fr;
		s->found = true;
		return false;
	}
	return true;
}

/* The context the signal interrupted: the kernel's ucontext sits at
 * sigtramp's frame pointer (amd64: after the return address the kernel
 * pushed; arm64: after the siginfo). */
static bool signal_context(struct walker *w, uint64_t fp, struct ctx *c)
{
	struct gh_target *t = w->p->t;
	if (w->arm64) {
		uint64_t mc = fp + ARM64_SIGINFO + ARM64_UC_MCONTEXT;
		return gh_read_u64(t, mc + ARM64_MC_PC, &c->pc) && gh_read_u64(t, mc + ARM64_MC_SP, &c->sp) &&
		       gh_read_u64(t, mc + ARM64_MC_REGS + 30 * 8, &c->lr);
	}
	c->lr = 0;
	return gh_read_u64(t, fp + AMD64_UC_RIP, &c->pc) && gh_read_u64(t, fp + AMD64_UC_RSP, &c->sp);
}

static bool stack_of(struct gh_program *p, uint64_t g, uint64_t *lo, uint64_t *hi)
{
	return g && gh_read_field(p, g, &p->L.g.stack_lo, lo) && gh_read_field(p, g, &p->L.g.stack_hi, hi) && *lo < *hi;
}

/* The goroutine's saved context: g.syscallsp/pc while in a system call,
 * else g.sched. */
static struct ctx saved_context(struct gh_program *p, struct gh_goroutine *g)
{
	const struct gh_layout *L = &p->L;
	struct ctx c = { 0 };
	uint64_t ssp = 0, sched = g->g + (uint64_t)L->g.sched.off;
	gh_read_field(p, g->g, &L->g.syscallsp, &ssp);
	if (ssp) {
		c.sp = ssp;
		gh_read_field(p, g->g, &L->g.syscallpc, &c.pc);
		c.syscall = true;
		return c;
	}
	gh_read_field(p, sched, &L->gobuf.sp, &c.sp);
	gh_read_field(p, sched, &L->gobuf.pc, &c.pc);
	gh_read_field(p, sched, &L->gobuf.lr, &c.lr); /* absent on amd64 builds? then 0 */
	return c;
}

/* Where a running goroutine's walk starts: its thread's registers, through
 * a signal frame or the g0 stack when the thread is not on the goroutine's
 * own stack. */
static struct ctx running_context(struct walker *w, struct gh_goroutine *g)
{
	struct gh_program *p = w->p;
	const struct gh_layout *L = &p->L;
	const struct gh_thread *th = NULL;
	for (size_t i = 0; i < p->t->threads.len; i++)
		if (p->t->threads.data[i].tid == g->tid)
			th = &p->t->threads.data[i];
	if (!th) {
		gh_goroutine_warn(g, "running, but no registers for its thread: frames from its saved context may be stale");
		return saved_context(p, g);
	}
	struct ctx c = { gh_regs_pc(&th->regs), gh_regs_sp(&th->regs), w->arm64 ? gh_regs_lr(&th->regs) : 0, true, false };
	for (int hop = 0; hop < MAX_HOPS; hop++) {
		if (c.sp >= g->stack_lo && c.sp < g->stack_hi)
			return c;
		uint64_t gsig = 0, g0 = 0, lo, hi;
		gh_read_field(p, g->m, &L->m.gsignal, &gsig);
		gh_read_field(p, g->m, &L->m.g0, &g0);
		if (stack_of(p, gsig, &lo, &hi) && c.sp >= lo && c.sp < hi) {
			struct walker sw = { p, g, w->arm64, lo, hi };
			struct sigfind s = { .found = false };
			walk(&sw, c, emit_find_sigtramp, &s, false);
			if (!s.found || !signal_context(w, s.sigtramp.fp, &c)) {
				gh_goroutine_warn(g, "its thread is in a signal handler whose interrupted context cannot be found; using the saved context");
				return saved_context(p, g);
			}
			c.interrupted = true;
			continue;
		}
		if (stack_of(p, g0, &lo, &hi) && c.sp >= lo && c.sp < hi) {
			/* On g0 (systemstack, a system call, morestack) the
			 * goroutine's context was saved when it switched. */
			struct ctx s = saved_context(p, g);
			return s;
		}
		break;
	}
	gh_goroutine_warn(g, "its thread's SP 0x%" PRIx64 " is on no stack of its M; using the saved context", c.sp);
	return saved_context(p, g);
}

static bool is_wrapper(struct gh_goroutines *gs, const struct gh_frame *fr)
{
	struct gh_func f;
	return gh_pclntab_find(&gs->p->pcln, fr->entry, &f) && gs->wrapper_funcid && f.funcid == gs->wrapper_funcid;
}

struct gh_error *gh_goroutine_frames(struct gh_goroutines *gs, struct gh_goroutine *g)
{
	if (g->walked)
		return NULL;
	struct gh_program *p = gs->p;
	const struct gh_layout *L = &p->L;
	struct walker w = { p, g, p->t->arch == GH_ARCH_ARM64, g->stack_lo, g->stack_hi };
	g->walked = true;
	if (!(g->stack_lo < g->stack_hi && g->stack_hi - g->stack_lo <= (1ull << 30))) {
		gh_goroutine_warn(g, "its stack bounds [0x%" PRIx64 ", 0x%" PRIx64 ") are implausible", g->stack_lo, g->stack_hi);
		return NULL;
	}
	if (L->c.gCopystack.have && g->status == (uint32_t)L->c.gCopystack.v)
		gh_goroutine_warn(g, "its stack is being copied: frames may be unreliable");
	struct ctx c;
	if (L->c.gRunning.have && g->status == (uint32_t)L->c.gRunning.v && g->m)
		c = running_context(&w, g);
	else
		c = saved_context(p, g);
	struct frames_out o = { 0 };
	walk(&w, c, emit_store, &o, true);
	if (o.nomem) {
		free(o.v);
		return &gh_error_nomem;
	}
	g->frames = o.v = gh_shrink(o.v, o.n * sizeof(*o.v));
	g->nframes = o.n;
	if (o.n && !(o.v[o.n - 1].flags & GH_FRAME_TOP)) {
		o.v[o.n - 1].flags |= GH_FRAME_TRUNCATED;
		if (!g->nwarnings)
			gh_goroutine_warn(g, "the walk ended before runtime.goexit (frame %zu, %s)", o.n - 1, o.v[o.n - 1].func);
	}
	/* What the user calls the start function: the outermost frame the
	 * runtime's own traceback shows at its default level (showfuncinfo):
	 * not compiler-generated (the go statement's closure) and not an
	 * unexported runtime function.  Runtime goroutines show none: their
	 * start PC's function is used. */
	for (size_t i = o.n; i-- > 0;) {
		const char *fn = o.v[i].func;
		bool runtime_internal = !strncmp(fn, "runtime.", 8) && !(fn[8] >= 'A' && fn[8] <= 'Z');
		if (o.v[i].flags & GH_FRAME_TOP || is_wrapper(gs, &o.v[i]) || runtime_internal || !strchr(fn, '.'))
			continue;
		g->user_start = fn;
		break;
	}
	if (!g->user_start)
		g->user_start = g->start_func;
	return NULL;
}
