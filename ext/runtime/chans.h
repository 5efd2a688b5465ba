/* Channels and the goroutines blocked on them: an hchan's buffer counts,
 * element type, closed flag and timer, its receive and send queues (sudog
 * lists), and the channels a goroutine waits on (g.waiting: one sudog per
 * select case, chained by waitlink).  See docs/goroutines.md.
 *
 * Everything is read from an untrusted target: lists are walked with a
 * bound and cycle detection, and implausible fields or broken lists are
 * counted warnings on the channel or the goroutine, never a crash. */
#ifndef GH_CHANS_H
#define GH_CHANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "goroutines.h"

/* Longest sudog list followed (a select has at most 65536 cases; a queue
 * holds one sudog per blocked operation). */
#define GH_SUDOG_MAX (1u << 20)

struct gh_chan_waiter {
	uint64_t sudog, g;
	uint64_t goid;     /* 0: sudog.g is not a live goroutine */
	bool send;         /* in sendq (else recvq) */
	bool select;       /* sudog.isSelect */
};

struct gh_chan {
	uint64_t addr;
	uint64_t qcount, dataqsiz, buf, elemsize;
	uint64_t elemtype;  /* *abi.Type */
	uint64_t timer;     /* hchan.timer (1.23+ timer channels), 0 if none */
	bool closed;
	struct gh_chan_waiter *waiters; /* recvq, then sendq */
	size_t nwaiters;
	char warning[200];  /* the first problem found */
	uint32_t nwarnings;
};

/* Decodes the hchan at addr and its wait queues into c (release with
 * gh_chan_release).  Problems in the target are warnings on c; errors are
 * only a missing layout and allocation failure. */
struct gh_error *gh_chan_read(struct gh_goroutines *gs, uint64_t addr, struct gh_chan *c);
void gh_chan_release(struct gh_chan *c);

/* The distinct channels g is blocked on, in g.waiting's order (a select's
 * cases in lock order), in g->waits_on; computed once per goroutine. */
struct gh_error *gh_goroutine_waits(struct gh_goroutines *gs, struct gh_goroutine *g);

#endif
