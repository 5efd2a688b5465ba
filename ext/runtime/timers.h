/* Live runtime timers: those in each P's timer heap (p.timers: []*timer up
 * to Go 1.22, a timers struct with a []timerWhen heap from 1.23), those of
 * channels (hchan.timer: a 1.23+ Ticker or Timer nobody waits on is in no
 * heap) and the time.Sleep timers of sleeping goroutines (g.timer).  Each
 * with its kind, when, period, function and argument.  See
 * docs/goroutines.md. */
#ifndef GH_TIMERS_H
#define GH_TIMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "goroutines.h"

/* Longest P timer heap read (entries beyond are counted, not read). */
#define GH_TIMERS_MAX_HEAP (1u << 24)

struct gh_timer {
	uint64_t addr;        /* runtime.timer */
	int64_t when, period; /* nanotime of the next firing; 0 period: one-shot */
	uint64_t f, fn;       /* the func value (funcval) and its code */
	const char *func;     /* function at fn (pclntab), NULL if none */
	uint64_t arg_type, arg; /* the arg interface's type and data words */
	const char *arg_func; /* AfterFunc: the function arg's funcval calls */
	uint64_t seq;
	uint32_t state;       /* timer.status (up to 1.22) or timer.state (1.23+) */
	bool stopped;         /* deleted (up to 1.22), a zombie or when 0 (1.23+): will not fire */
	const char *kind;     /* ticker, timer, afterfunc, sleep, other */
	int32_t p;            /* id of the P whose heap holds it, -1 if none */
	uint64_t chan;        /* its channel: sendTime's argument, or the hchan whose timer it is */
	uint64_t g;           /* sleep: the goroutine (goroutineReady's argument) */
};

struct gh_timers {
	struct gh_timer *t;   /* by when */
	size_t n;
	uint64_t allp;        /* runtime.allp, 0 if not found */
	uint64_t nps;         /* Ps whose heaps were read */
	const char *ps_from;  /* how the Ps were found, or why not */
	char *warnings;       /* one per line, the first 16 */
	uint32_t nwarnings;
};

/* Every timer found from the Ps, from the channels at chans[nchans]
 * (hchan.timer) and from sleeping goroutines.  Problems in the target are
 * counted warnings; errors are a missing layout and allocation failure. */
struct gh_error *gh_timers_load(struct gh_goroutines *gs, const uint64_t *chans, size_t nchans,
				struct gh_timers **out);
void gh_timers_free(struct gh_timers *t);

#endif
