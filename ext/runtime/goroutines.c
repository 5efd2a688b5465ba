/* The goroutine list: runtime.allgs (by symbol, or by a validated scan of
 * the data sections in stripped executables), each live g's identity, state,
 * wait reason, creation site and thread.  Wait reason names come from the
 * binary's own runtime.waitReasonStrings, since releases renumber them. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/sort.h"
#include "../util/strutil.h"
#include "goroutines.h"
#include "locate.h"

#define MAX_ALLGS (1u << 24)   /* more goroutines than any sane program has */
#define MAX_WAIT_REASONS 256   /* waitReason is a uint8 */
#define MAX_WARNINGS 16        /* kept per goroutine; the rest are counted */

const char *gh_slot_kind_name(enum gh_slot_kind k)
{
	switch (k) {
	case GH_SLOT_LOCAL: return "local";
	case GH_SLOT_ARG: return "arg";
	case GH_SLOT_STACK_OBJECT: return "stack-object";
	case GH_SLOT_CONSERVATIVE: return "conservative";
	case GH_SLOT_DEFER: return "defer";
	case GH_SLOT_CONTEXT: return "context";
	}
	return "?";
}

void gh_goroutine_warn(struct gh_goroutine *g, const char *fmt, ...)
{
	if (g->nwarnings++ >= MAX_WARNINGS)
		return;
	va_list ap;
	va_start(ap, fmt);
	gh_append_line(&g->warnings, fmt, ap);
	va_end(ap);
}

const char *gh_goroutines_strdup(struct gh_goroutines *gs, const char *s)
{
	if (gs->nstrs == gs->capstrs) {
		size_t nc = gs->capstrs ? gs->capstrs * 2 : 64;
		char **n = realloc(gs->strs, nc * sizeof(*n));
		if (!n)
			return NULL;
		gs->strs = n;
		gs->capstrs = nc;
	}
	char *d = strdup(s);
	if (d)
		gs->strs[gs->nstrs++] = d;
	return d;
}

void gh_goroutines_free(struct gh_goroutines *gs)
{
	if (!gs)
		return;
	for (size_t i = 0; i < gs->n; i++) {
		struct gh_goroutine *g = &gs->gs[i];
		free(g->frames);
		free(g->slots);
		free(g->locals);
		free(g->waits_on);
		free(g->warnings);
	}
	for (size_t i = 0; i < gs->nstrs; i++)
		free(gs->strs[i]);
	free(gs->strs);
	free(gs->wait_names);
	free(gs->dwfuncs);
	gh_locals_memo_free(gs->lmemo);
	free(gs->by_g);
	free(gs->gs);
	free(gs);
}

/* A plausible runtime.g: readable, its stack bounds ordered and no larger
 * than the runtime's 1 GiB maximum (dead gs may have no stack at all). */
static bool plausible_g(struct gh_program *p, uint64_t g, uint64_t *goid)
{
	const struct gh_layout *L = &p->L;
	uint64_t lo, hi, status;
	if (!g || (g & 7) || !gh_read_field(p, g, &L->g.stack_lo, &lo) || !gh_read_field(p, g, &L->g.stack_hi, &hi) ||
	    !gh_read_field(p, g, &L->g.atomicstatus, &status) || !gh_read_field(p, g, &L->g.goid, goid))
		return false;
	status &= ~(uint64_t)L->c.gScan.v;
	if (status > 16)
		return false;
	if (lo == 0 && hi == 0)
		return status == (uint64_t)L->c.gDead.v;
	return lo < hi && hi - lo <= (1ull << 30) && (lo & 7) == 0;
}

/* A []*g candidate at a: the first element is goroutine 1 started at
 * runtime.main, and every element is a plausible g with a distinct goid
 * (checked on the first 64, which bounds the cost of the scan). */
static bool is_allgs(struct gh_program *p, const uint64_t w[3], const struct gh_func *rtmain)
{
	uint64_t ptr = w[0], len = w[1], cap = w[2];
	if (!ptr || (ptr & 7) || !len || len > cap || cap > MAX_ALLGS)
		return false;
	uint64_t g0, goid, startpc;
	if (!gh_read_u64(p->t, ptr, &g0) || !plausible_g(p, g0, &goid) || goid != 1 ||
	    !gh_read_field(p, g0, &p->L.g.startpc, &startpc) || startpc != rtmain->entry)
		return false;
	uint64_t seen[64];
	size_t n = len < 64 ? (size_t)len : 64;
	for (size_t i = 0; i < n; i++) {
		uint64_t g;
		if (!gh_read_u64(p->t, ptr + 8 * i, &g) || !plausible_g(p, g, &seen[i]))
			return false;
		for (size_t j = 0; j < i; j++)
			if (seen[j] == seen[i])
				return false;
	}
	return true;
}

struct allgs_scan {
	struct gh_program *p;
	struct gh_func rtmain;
	uint64_t hits, addr;
};

static void allgs_candidate(void *arg, uint64_t addr, const uint64_t w[3])
{
	struct allgs_scan *a = arg;
	if (is_allgs(a->p, w, &a->rtmain) && a->hits++ == 0)
		a->addr = addr;
}

/* Without symbols: scan the data sections for the slice header of allgs. */
static struct gh_error *scan_allgs(struct gh_program *p, uint64_t *addr)
{
	struct allgs_scan a = { .p = p };
	if (!gh_pclntab_find_name(&p->pcln, "runtime.main", &a.rtmain))
		return gh_errorf(GH_ERR_MISSING, "runtime.main is not in the function table");
	static const char *const secs[] = { ".bss", ".data", ".noptrbss", ".noptrdata" };
	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++)
		gh_locate_scan_slices(p, secs[i], allgs_candidate, &a);
	uint64_t hits = a.hits;
	*addr = a.addr;
	if (hits == 1)
		return NULL;
	return gh_errorf(GH_ERR_MISSING,
			 hits ? "runtime.allgs is not in the symbol table and %" PRIu64 " data words look like it"
			      : "runtime.allgs is not in the symbol table and no data word looks like it (%" PRIu64 ")",
			 hits);
}

/* A string header {ptr, len} naming short printable text. */
static bool read_go_string(struct gh_program *p, uint64_t hdr, char *buf, size_t n)
{
	uint64_t w[2];
	if (!gh_read(p->t, hdr, w, 16) || w[1] >= n || (w[1] && !w[0]))
		return false;
	if (w[1] && !gh_read(p->t, w[0], buf, (size_t)w[1]))
		return false;
	buf[w[1]] = 0;
	for (size_t i = 0; i < w[1]; i++)
		if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] >= 0x7f)
			return false;
	return true;
}

/* runtime.waitReasonStrings: by symbol, or found in the data sections as
 * the string array whose element 0 is "" and element 1 is "GC assist
 * marking" (waitReasonGCAssistMarking is 1 in every supported release). */
static void load_wait_names(struct gh_goroutines *gs)
{
	struct gh_program *p = gs->p;
	uint64_t at = 0;
	char s[64];
	if (p->L.v.waitReasonStrings.have) {
		at = p->L.v.waitReasonStrings.addr;
		gs->waits_from = "runtime.waitReasonStrings";
	} else {
		static const char *const secs[] = { ".data", ".noptrdata" };
		for (size_t i = 0; i < 2 && !at; i++) {
			const struct gh_exe_section *sec = gh_exe_section(p->exe, secs[i]);
			if (!sec || sec->size > (1ull << 30))
				continue;
			uint64_t start = sec->addr + p->exe->bias;
			for (uint64_t a = start; a + 32 <= start + sec->size; a += 8) {
				uint64_t w[4];
				if (!gh_read(p->t, a, w, 32) || w[0] || w[1] || w[3] != 17)
					continue;
				if (read_go_string(p, a + 16, s, sizeof(s)) && !strcmp(s, "GC assist marking")) {
					at = a;
					gs->waits_from = "runtime.waitReasonStrings, found by a scan of the data sections";
				}
			}
		}
	}
	if (!at) {
		gs->waits_from = "not found: wait reasons are shown by number";
		return;
	}
	gs->wait_names = calloc(MAX_WAIT_REASONS, sizeof(char *));
	if (!gs->wait_names)
		return;
	for (uint32_t i = 0; i < MAX_WAIT_REASONS; i++) {
		if (!read_go_string(p, at + 16ull * i, s, sizeof(s)) || (i > 0 && !*s))
			break;
		gs->wait_names[i] = (char *)gh_goroutines_strdup(gs, s);
		gs->nwait_names = i + 1;
	}
}

/* The latest nanotime the runtime recorded: a lower bound of the time of
 * capture, so wait durations from it are lower bounds too. */
static void load_now(struct gh_goroutines *gs)
{
	struct gh_program *p = gs->p;
	const struct gh_layout *L = &p->L;
	uint64_t v;
	if (L->v.memstats.have && gh_read_field(p, L->v.memstats.addr, &L->mstats.last_gc_nanotime, &v) &&
	    (int64_t)v > gs->now) {
		gs->now = (int64_t)v;
		gs->now_from = "memstats.last_gc_nanotime";
	}
	if (L->v.sched.have && gh_read_field(p, L->v.sched.addr, &L->schedt.lastpoll, &v) && (int64_t)v > gs->now) {
		gs->now = (int64_t)v;
		gs->now_from = "sched.lastpoll";
	}
	for (size_t i = 0; i < gs->n; i++)
		if (gs->gs[i].waitsince > gs->now) {
			gs->now = gs->gs[i].waitsince;
			gs->now_from = "the latest g.waitsince";
		}
}

static const char *status_name(const struct gh_layout *L, uint32_t st)
{
	const struct { const struct gh_const *c; const char *name; } names[] = {
		{ &L->c.gIdle, "idle" }, { &L->c.gRunnable, "runnable" }, { &L->c.gRunning, "running" },
		{ &L->c.gSyscall, "syscall" }, { &L->c.gWaiting, "waiting" }, { &L->c.gDead, "dead" },
		{ &L->c.gCopystack, "copystack" }, { &L->c.gPreempted, "preempted" }, { &L->c.gLeaked, "leaked" },
		{ &L->c.gDeadExtra, "dead" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].c->have && (uint64_t)names[i].c->v == st)
			return names[i].name;
	return NULL;
}

/* The runtime's isSystemGoroutine(gp, false) (traceback.go): started in
 * package runtime, except runtime.main (and corostart, handleAsyncEvent),
 * and the finalizer or cleanup goroutine while it runs user code. */
static bool is_system(struct gh_program *p, uint64_t g, const char *start)
{
	if (!start)
		return false;
	if (!strcmp(start, "runtime.main") || !strcmp(start, "runtime.corostart") ||
	    !strcmp(start, "runtime.handleAsyncEvent"))
		return false;
	const struct gh_layout *L = &p->L;
	if (!strcmp(start, "runtime.runfinq") || !strcmp(start, "runtime.runFinalizers")) {
		uint32_t st;
		if (L->v.fingStatus.have && L->c.fingRunningFinalizer.have && gh_read_u32(p->t, L->v.fingStatus.addr, &st))
			return !(st & (uint32_t)L->c.fingRunningFinalizer.v);
		return true;
	}
	if (!strcmp(start, "runtime.runCleanups")) {
		uint64_t running;
		if (gh_read_field(p, g, &L->gstack.runningCleanups, &running))
			return !(running & 0xff);
		return true;
	}
	return !strncmp(start, "runtime.", 8);
}

static void fill_goroutine(struct gh_goroutines *gs, uint64_t addr, uint64_t goid, struct gh_goroutine *g)
{
	struct gh_program *p = gs->p;
	const struct gh_layout *L = &p->L;
	uint64_t v;
	g->g = addr;
	g->goid = goid;
	g->tid = -1;
	gh_read_field(p, addr, &L->g.atomicstatus, &v);
	g->scan_bit = L->c.gScan.have && (v & (uint64_t)L->c.gScan.v);
	g->status = (uint32_t)(v & ~(uint64_t)(L->c.gScan.have ? L->c.gScan.v : 0));
	gh_read_field(p, addr, &L->g.waitreason, &v);
	g->waitreason = (uint32_t)v;
	gh_read_field(p, addr, &L->g.waitsince, &v);
	g->waitsince = (int64_t)v;
	gh_read_field(p, addr, &L->g.gopc, &g->gopc);
	gh_read_field(p, addr, &L->g.startpc, &g->startpc);
	gh_read_field(p, addr, &L->g.stack_lo, &g->stack_lo);
	gh_read_field(p, addr, &L->g.stack_hi, &g->stack_hi);
	gh_read_field(p, addr, &L->gstack.parentGoid, &g->parent_goid);
	gh_read_field(p, addr, &L->g.m, &g->m);

	struct gh_func f;
	if (gh_pclntab_find(&p->pcln, g->startpc, &f))
		g->start_func = f.name;
	if (gh_pclntab_find(&p->pcln, g->gopc, &f)) {
		g->creator_func = f.name;
		/* gopc is a return address: its call is the instruction before. */
		const char *file;
		int32_t line;
		if (gh_pclntab_fileline(&p->pcln, &f, g->gopc > f.entry ? g->gopc - 1 : g->gopc, &file, &line)) {
			g->creator_file = file;
			g->creator_line = line;
		}
	}
	g->system = is_system(p, addr, g->start_func);

	const char *st = status_name(L, g->status);
	if (L->c.gWaiting.have && g->status == (uint32_t)L->c.gWaiting.v) {
		if (g->waitreason < gs->nwait_names && gs->wait_names[g->waitreason])
			st = *gs->wait_names[g->waitreason] ? gs->wait_names[g->waitreason] : "waiting";
		else {
			char b[48];
			snprintf(b, sizeof(b), "unknown wait reason %u", g->waitreason);
			st = gh_goroutines_strdup(gs, b);
		}
	}
	if (!st) {
		char b[48];
		snprintf(b, sizeof(b), "unknown status %u", g->status);
		st = gh_goroutines_strdup(gs, b);
	}
	g->wait = st ? st : "?";

	/* A goroutine on an M: its thread is m.procid (the kernel tid). */
	if (g->m && gh_read_field(p, g->m, &L->m.procid, &v) && v) {
		g->tid = (int64_t)v;
		bool found = p->t->threads.len == 0;
		for (size_t i = 0; i < p->t->threads.len; i++)
			found |= p->t->threads.data[i].tid == g->tid;
		if (!found)
			gh_goroutine_warn(g, "its M's thread %" PRId64 " is not among the target's threads", g->tid);
	}
}

static struct gh_error *check_layout(struct gh_program *p)
{
	const struct gh_layout *L = &p->L;
	const char *v = gh_program_version(p);
	const struct gh_field *need[] = {
		&L->g.stack_lo, &L->g.stack_hi, &L->g.sched, &L->g.atomicstatus, &L->g.goid, &L->g.waitreason,
		&L->g.gopc, &L->g.startpc, &L->g.m, &L->gobuf.sp, &L->gobuf.pc, &L->m.procid,
	};
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		GH_TRY(gh_layout_require(L, need[i], v));
	if (!L->c.gDead.have || !L->c.gScan.have)
		return gh_errorf(GH_ERR_MISSING, "the goroutine status constants (runtime._Gdead, _Gscan) are unknown for %s", v);
	return NULL;
}

static struct gh_error *load(struct gh_program *p, struct gh_goroutines *gs)
{
	const struct gh_layout *L = &p->L;
	GH_TRY(check_layout(p));
	if (p->t->kind == GH_TARGET_EXE_ONLY)
		return gh_errorf(GH_ERR_MISSING, "goroutines need a core or a live process, not only the executable");
	uint64_t at = 0;
	if (L->v.allgs.have) {
		at = L->v.allgs.addr;
		gs->allgs_from = "symbol runtime.allgs";
	} else {
		GH_TRY(scan_allgs(p, &at));
		gs->allgs_from = "scan of the data sections for a validated []*g";
	}
	uint64_t w[3];
	if (!gh_read(p->t, at, w, 24))
		return gh_errorf(GH_ERR_FAULT, "runtime.allgs at 0x%" PRIx64 " is unreadable", at);
	if (w[1] > w[2] || w[1] > MAX_ALLGS || (w[1] && !w[0]))
		return gh_errorf(GH_ERR_FORMAT, "runtime.allgs at 0x%" PRIx64 " is not a sane slice (len %" PRIu64 ", cap %" PRIu64 ")",
				 at, w[1], w[2]);
	gs->allgs = w[0];
	gs->allglen = w[1];
	load_wait_names(gs);
	size_t cap = 0;
	for (uint64_t i = 0; i < gs->allglen; i++) {
		uint64_t g, goid, st;
		if (!gh_read_u64(p->t, gs->allgs + 8 * i, &g))
			return gh_errorf(GH_ERR_FAULT, "allgs[%" PRIu64 "] at 0x%" PRIx64 " is unreadable", i, gs->allgs + 8 * i);
		if (!plausible_g(p, g, &goid)) {
			gs->bad++; /* a garbage entry: skipped and counted */
			continue;
		}
		gh_read_field(p, g, &L->g.atomicstatus, &st);
		st &= ~(uint64_t)L->c.gScan.v;
		if (st == (uint64_t)L->c.gDead.v || (L->c.gDeadExtra.have && st == (uint64_t)L->c.gDeadExtra.v)) {
			gs->dead++;
			continue;
		}
		if (gs->n == cap) { /* grown as found: allglen may be corrupt */
			size_t nc = cap ? cap * 2 : 64;
			struct gh_goroutine *v = realloc(gs->gs, nc * sizeof(*v));
			if (!v)
				return &gh_error_nomem;
			gs->gs = v;
			cap = nc;
		}
		memset(&gs->gs[gs->n], 0, sizeof(gs->gs[0]));
		fill_goroutine(gs, g, goid, &gs->gs[gs->n++]);
	}
	load_now(gs);
	return NULL;
}

static void goroutines_free_v(void *v) { gh_goroutines_free(v); }

struct gh_error *gh_goroutines_load(struct gh_program *p, struct gh_goroutines **out)
{
	if (p->cache[GH_CACHE_GOROUTINES].ptr) {
		*out = p->cache[GH_CACHE_GOROUTINES].ptr;
		return NULL;
	}
	struct gh_goroutines *gs = calloc(1, sizeof(*gs));
	if (!gs)
		return &gh_error_nomem;
	gs->p = p;
	struct gh_error *err = load(p, gs);
	if (err) {
		gh_goroutines_free(gs);
		return err;
	}
	/* The largest funcID is FuncIDWrapper, the last of the enum in every
	 * release: autogenerated code such as the go statement's closures. */
	struct gh_func f;
	for (uint64_t i = 0; i < p->pcln.nfunc; i++)
		if (gh_pclntab_func_at(&p->pcln, i, &f) && f.funcid > gs->wrapper_funcid)
			gs->wrapper_funcid = f.funcid;
	p->cache[GH_CACHE_GOROUTINES] = (struct gh_cache_slot){ gs, goroutines_free_v };
	*out = gs;
	return NULL;
}

struct gh_goroutine *gh_goroutine_by_id(struct gh_goroutines *gs, uint64_t goid)
{
	for (size_t i = 0; i < gs->n; i++)
		if (gs->gs[i].goid == goid)
			return &gs->gs[i];
	return NULL;
}

static int pair_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

struct gh_goroutine *gh_goroutine_by_g(struct gh_goroutines *gs, uint64_t addr)
{
	/* Blocked goroutines are looked up once per waiter: index them. */
	if (!gs->by_g && gs->n && (gs->by_g = malloc(gs->n * 2 * sizeof(uint64_t)))) {
		for (size_t i = 0; i < gs->n; i++) {
			gs->by_g[2 * i] = gs->gs[i].g;
			gs->by_g[2 * i + 1] = i;
		}
		gh_sort(gs->by_g, gs->n, 2 * sizeof(uint64_t), pair_cmp);
	}
	if (!gs->by_g) { /* none, or no memory for the index */
		for (size_t i = 0; i < gs->n; i++)
			if (gs->gs[i].g == addr)
				return &gs->gs[i];
		return NULL;
	}
	size_t lo = gh_upper_bound(gs->by_g, gs->n, 2 * sizeof(uint64_t), 0, addr);
	return lo && gs->by_g[2 * (lo - 1)] == addr ? &gs->gs[gs->by_g[2 * (lo - 1) + 1]] : NULL;
}
