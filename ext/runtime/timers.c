/* Live timers, from three places: the P timer heaps (every timer the
 * runtime will fire, AfterFunc closures included), the channels' timers
 * (hchan.timer, 1.23+: a channel timer is in a heap only while a goroutine
 * waits on it, so an unwatched Ticker is reachable only through its
 * channel) and sleeping goroutines' g.timer.  A timer found several ways is
 * listed once. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/sort.h"
#include "../util/strutil.h"
#include "locate.h"
#include "timers.h"

#define MAX_WARNINGS 16
#define MAX_BAD_ENTRIES 64 /* a P heap is abandoned after this many foreign entries */

static void warn(struct gh_timers *T, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct gh_timers *T, const char *fmt, ...)
{
	if (T->nwarnings++ >= MAX_WARNINGS)
		return;
	va_list ap;
	va_start(ap, fmt);
	gh_append_line(&T->warnings, fmt, ap);
	va_end(ap);
}

void gh_timers_free(struct gh_timers *T)
{
	if (!T)
		return;
	free(T->t);
	free(T->warnings);
	free(T);
}

static struct gh_error *add(struct gh_timers *T, size_t *cap, uint64_t addr, int32_t pid, uint64_t chan, uint64_t g)
{
	if (T->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct gh_timer *v = realloc(T->t, nc * sizeof(*v));
		if (!v)
			return &gh_error_nomem;
		T->t = v;
		*cap = nc;
	}
	T->t[T->n++] = (struct gh_timer){ .addr = addr, .p = pid, .chan = chan, .g = g };
	return NULL;
}

/* Is the timer at t one of the P at pp's heap?  Up to 1.22 timer.pp is the
 * P; from 1.23 timer.ts points at the P's timers struct, inside the P. */
static bool owned_by(struct gh_program *p, uint64_t t, uint64_t pp)
{
	const struct gh_layout *L = &p->L;
	uint64_t v;
	if (L->timer.pp.off >= 0)
		return gh_read_field(p, t, &L->timer.pp, &v) && v == pp;
	return gh_read_field(p, t, &L->timer.ts, &v) && v >= pp && L->p.size_of > 0 && v < pp + (uint64_t)L->p.size_of;
}

static struct gh_error *p_heap(struct gh_goroutines *gs, struct gh_timers *T, size_t *cap, uint64_t pp)
{
	struct gh_program *p = gs->p;
	const struct gh_layout *L = &p->L;
	uint64_t id = 0, w[3];
	gh_read_field(p, pp, &L->p.id, &id);
	if (!gh_read(p->t, pp + (uint64_t)L->p.timers.off, w, 24) || w[1] > w[2] || (w[1] && !w[0])) {
		warn(T, "P %" PRIu64 " at 0x%" PRIx64 ": its timer heap is not a readable slice", id, pp);
		return NULL;
	}
	if (w[1] > GH_TIMERS_MAX_HEAP) {
		warn(T, "P %" PRIu64 ": %" PRIu64 " timers claimed, the first %u read", id, w[1], GH_TIMERS_MAX_HEAP);
		w[1] = GH_TIMERS_MAX_HEAP;
	}
	/* []timerWhen{timer, when} from 1.23, []*timer before. */
	bool tw = L->timerWhen.size_of > 0 && L->timerWhen.timer.off >= 0;
	uint64_t stride = tw ? (uint64_t)L->timerWhen.size_of : 8, toff = tw ? (uint64_t)L->timerWhen.timer.off : 0;
	uint64_t bad = 0;
	for (uint64_t j = 0; j < w[1] && bad < MAX_BAD_ENTRIES; j++) {
		uint64_t t;
		if (!gh_read_u64(p->t, w[0] + j * stride + toff, &t)) {
			warn(T, "P %" PRIu64 ": timer heap entry %" PRIu64 " is unreadable", id, j);
			break;
		}
		if (!t || (t & 7) || !owned_by(p, t, pp)) {
			if (!bad++)
				warn(T, "P %" PRIu64 ": timer heap entry %" PRIu64 " (0x%" PRIx64 ") is not a timer of this P", id, j, t);
			continue;
		}
		GH_TRY(add(T, cap, t, (int32_t)id, 0, 0));
	}
	if (bad >= MAX_BAD_ENTRIES)
		warn(T, "P %" PRIu64 ": timer heap abandoned after %" PRIu64 " foreign entries", id, bad);
	return NULL;
}

static struct gh_error *from_ps(struct gh_goroutines *gs, struct gh_timers *T, size_t *cap)
{
	struct gh_program *p = gs->p;
	const struct gh_layout *L = &p->L;
	uint64_t allp, w[3];
	if (L->p.timers.off < 0 || L->timer.when.off < 0) {
		T->ps_from = "not read: the P or timer layout is unknown";
		return NULL;
	}
	if (!gh_locate_allp(p, &allp, &T->ps_from)) {
		T->ps_from = "not found: runtime.allp has no symbol and no single .bss word looks like it";
		return NULL;
	}
	if (!gh_read(p->t, allp, w, 24) || w[1] > w[2] || w[1] > (1u << 16) || (w[1] && !w[0])) {
		warn(T, "runtime.allp at 0x%" PRIx64 " is not a sane slice", allp);
		return NULL;
	}
	T->allp = allp;
	for (uint64_t i = 0; i < w[1]; i++) {
		uint64_t pp;
		if (!gh_read_u64(p->t, w[0] + 8 * i, &pp) || !pp || (pp & 7)) {
			warn(T, "allp[%" PRIu64 "] is unreadable or not a P", i);
			continue;
		}
		T->nps++;
		GH_TRY(p_heap(gs, T, cap, pp));
	}
	return NULL;
}

static int by_addr(const void *a, const void *b)
{
	const struct gh_timer *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int by_when(const void *a, const void *b)
{
	const struct gh_timer *x = a, *y = b;
	if (x->when != y->when)
		return x->when < y->when ? -1 : 1;
	return by_addr(a, b);
}

static const char *func_at(struct gh_program *p, uint64_t funcval, uint64_t *pc)
{
	struct gh_func f;
	*pc = 0;
	if (!funcval || !gh_read_u64(p->t, funcval, pc) || !gh_pclntab_find(&p->pcln, *pc, &f))
		return NULL;
	return f.name;
}

/* Fills t from the target; false if it cannot be read. */
static bool decode(struct gh_program *p, struct gh_timer *t)
{
	const struct gh_layout *L = &p->L;
	uint64_t when, period, st = 0, arg[2];
	if ((t->addr & 7) || !gh_read_field(p, t->addr, &L->timer.when, &when) ||
	    !gh_read_field(p, t->addr, &L->timer.period, &period) || !gh_read_field(p, t->addr, &L->timer.f, &t->f) ||
	    L->timer.arg.off < 0 || !gh_read(p->t, t->addr + (uint64_t)L->timer.arg.off, arg, 16))
		return false;
	t->when = (int64_t)when;
	t->period = (int64_t)period;
	t->arg_type = arg[0];
	t->arg = arg[1];
	gh_read_field(p, t->addr, &L->timer.seq, &t->seq);
	if (!gh_read_field(p, t->addr, &L->timer.status, &st))
		gh_read_field(p, t->addr, &L->timer.state, &st);
	t->state = (uint32_t)st;
	const struct gh_const *gone[] = { &L->c.timerDeleted, &L->c.timerRemoving, &L->c.timerRemoved };
	for (size_t i = 0; i < 3 && L->timer.status.off >= 0; i++)
		t->stopped |= gone[i]->have && st == (uint64_t)gone[i]->v;
	t->stopped |= L->timer.state.off >= 0 && L->c.timerZombie.have && (st & (uint64_t)L->c.timerZombie.v);
	t->stopped |= t->when == 0; /* 1.23+ stop() clears when */
	t->func = func_at(p, t->f, &t->fn);
	/* The runtime's own callbacks say what a timer is for (time/sleep.go,
	 * time/tick.go, runtime/time.go). */
	const char *f = t->func ? t->func : "";
	uint64_t pc;
	if (!strcmp(f, "time.sendTime")) {
		t->kind = t->period > 0 ? "ticker" : "timer";
		if (!t->chan)
			t->chan = t->arg;
	} else if (!strcmp(f, "time.goFunc")) {
		t->kind = "afterfunc";
		t->arg_func = func_at(p, t->arg, &pc);
	} else if (!strcmp(f, "runtime.goroutineReady")) {
		t->kind = "sleep";
		if (!t->g)
			t->g = t->arg;
	} else {
		t->kind = "other";
	}
	return true;
}

struct gh_error *gh_timers_load(struct gh_goroutines *gs, const uint64_t *chans, size_t nchans, struct gh_timers **out)
{
	struct gh_program *p = gs->p;
	const struct gh_layout *L = &p->L;
	const char *v = gh_program_version(p);
	const struct gh_field *need[] = { &L->timer.when, &L->timer.period, &L->timer.f, &L->timer.arg };
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		GH_TRY(gh_layout_require(L, need[i], v));
	struct gh_timers *T = calloc(1, sizeof(*T));
	if (!T)
		return &gh_error_nomem;
	size_t cap = 0;
	struct gh_error *err = from_ps(gs, T, &cap);
	for (size_t i = 0; i < nchans && !err && L->hchan.timer.off >= 0; i++) {
		uint64_t t;
		if (gh_read_field(p, chans[i], &L->hchan.timer, &t) && t)
			err = add(T, &cap, t, -1, chans[i], 0);
	}
	for (size_t i = 0; i < gs->n && !err && L->g.timer.off >= 0; i++) {
		uint64_t t;
		const struct gh_goroutine *g = &gs->gs[i];
		/* g.timer is kept after a sleep ends: only a sleeping goroutine's is live. */
		if (!strcmp(g->wait, "sleep") && gh_read_field(p, g->g, &L->g.timer, &t) && t)
			err = add(T, &cap, t, -1, 0, g->g);
	}
	if (err) {
		gh_timers_free(T);
		return err;
	}
	/* One record per timer, what each way found kept, then decoded. */
	gh_sort(T->t, T->n, sizeof(*T->t), by_addr);
	size_t m = 0;
	for (size_t i = 0; i < T->n; i++) {
		struct gh_timer *d = m ? &T->t[m - 1] : NULL;
		if (d && d->addr == T->t[i].addr) {
			d->p = d->p >= 0 ? d->p : T->t[i].p;
			d->chan = d->chan ? d->chan : T->t[i].chan;
			d->g = d->g ? d->g : T->t[i].g;
			continue;
		}
		T->t[m++] = T->t[i];
	}
	T->n = 0;
	for (size_t i = 0; i < m; i++) {
		if (decode(p, &T->t[i]))
			T->t[T->n++] = T->t[i];
		else
			warn(T, "the timer at 0x%" PRIx64 " is unreadable", T->t[i].addr);
	}
	gh_sort(T->t, T->n, sizeof(*T->t), by_when);
	*out = T;
	return NULL;
}
