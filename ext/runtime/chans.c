/* Channels (runtime.hchan) and the sudog lists that tie goroutines to them:
 * hchan.recvq / sendq chain sudogs through sudog.next, g.waiting chains a
 * blocked goroutine's sudogs (one per select case) through sudog.waitlink,
 * and each sudog names its goroutine (sudog.g) and channel (sudog.c). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/sort.h"
#include "../util/vec.h"
#include "chans.h"

GH_VEC(addrs, uint64_t)

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Drops repeated entries, keeping first occurrences in order. */
static void dedupe(struct addrs *v)
{
	if (v->len < 2)
		return;
	uint64_t *sorted = malloc(v->len * sizeof(*sorted) + 1);
	uint8_t *used = calloc(v->len + 1, 1);
	if (!sorted || !used) { /* keep the repeats rather than fail */
		free(sorted);
		free(used);
		return;
	}
	memcpy(sorted, v->data, v->len * sizeof(*sorted));
	gh_sort(sorted, v->len, sizeof(*sorted), u64_cmp);
	size_t m = 0;
	for (size_t i = 0; i < v->len; i++) {
		/* The last of equal keys carries the flag. */
		size_t k = gh_upper_bound(sorted, v->len, sizeof(*sorted), 0, v->data[i]) - 1;
		if (!used[k]) {
			used[k] = 1;
			v->data[m++] = v->data[i];
		}
	}
	v->len = m;
	free(sorted);
	free(used);
}

/* The sudogs of the list starting at first, linked through `link`.  A
 * cycle is detected with Brent's algorithm (no memory, found within about
 * twice the list's length) and its repeats dropped.  Returns NULL, or what
 * stopped the walk early; only allocation failure is an error. */
static struct gh_error *walk(struct gh_program *p, uint64_t first, const struct gh_field *link, struct addrs *out,
			     const char **why)
{
	uint64_t s = first, tortoise = first, power = 1, lam = 0;
	*why = NULL;
	while (s) {
		if (s & 7) {
			*why = "a misaligned sudog pointer";
			break;
		}
		if (out->len >= GH_SUDOG_MAX) {
			*why = "more sudogs than goheap follows";
			break;
		}
		uint64_t *slot = addrs_push(out);
		if (!slot)
			return &gh_error_nomem;
		*slot = s;
		uint64_t next;
		if (!gh_read_field(p, s, link, &next)) {
			*why = "an unreadable sudog";
			out->len--;
			break;
		}
		s = next;
		if (s == tortoise) {
			*why = "a cycle";
			dedupe(out);
			break;
		}
		if (++lam == power) {
			tortoise = s;
			power *= 2;
			lam = 0;
		}
	}
	return NULL;
}

static void chan_warn(struct gh_chan *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void chan_warn(struct gh_chan *c, const char *fmt, ...)
{
	if (c->nwarnings++)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->warning, sizeof(c->warning), fmt, ap);
	va_end(ap);
}

static struct gh_error *need_layout(struct gh_program *p)
{
	const struct gh_layout *L = &p->L;
	const char *v = gh_program_version(p);
	const struct gh_field *need[] = { &L->hchan.qcount, &L->hchan.dataqsiz, &L->hchan.elemsize, &L->hchan.closed,
					  &L->hchan.elemtype, &L->hchan.recvq, &L->hchan.sendq, &L->sudog.g,
					  &L->sudog.next, &L->sudog.waitlink, &L->sudog.c, &L->g.waiting };
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		GH_TRY(gh_layout_require(L, need[i], v));
	return NULL;
}

/* One wait queue's sudogs as waiters. */
static struct gh_error *queue(struct gh_goroutines *gs, struct gh_chan *c, const struct gh_field *q, bool send)
{
	struct gh_program *p = gs->p;
	const struct gh_layout *L = &p->L;
	uint64_t first;
	if (!gh_read_field(p, c->addr, q, &first))
		return NULL; /* the hchan was checked readable: cannot happen */
	struct addrs v = { 0 };
	const char *why;
	GH_TRY(walk(p, first, &L->sudog.next, &v, &why));
	if (why)
		chan_warn(c, "its %s queue ends in %s", send ? "send" : "receive", why);
	struct gh_chan_waiter *w = realloc(c->waiters, (c->nwaiters + v.len + 1) * sizeof(*w));
	if (!w) {
		free(v.data);
		return &gh_error_nomem;
	}
	c->waiters = w;
	for (size_t i = 0; i < v.len; i++) {
		struct gh_chan_waiter *x = &c->waiters[c->nwaiters++];
		uint64_t sel = 0;
		*x = (struct gh_chan_waiter){ .sudog = v.data[i], .send = send };
		gh_read_field(p, x->sudog, &L->sudog.g, &x->g);
		if (gh_read_field(p, x->sudog, &L->sudog.isSelect, &sel))
			x->select = sel & 1;
		struct gh_goroutine *g = gh_goroutine_by_g(gs, x->g);
		if (g)
			x->goid = g->goid;
		else
			chan_warn(c, "sudog 0x%" PRIx64 " names g 0x%" PRIx64 ", not a live goroutine", x->sudog, x->g);
	}
	free(v.data);
	return NULL;
}

struct gh_error *gh_chan_read(struct gh_goroutines *gs, uint64_t addr, struct gh_chan *c)
{
	struct gh_program *p = gs->p;
	const struct gh_layout *L = &p->L;
	memset(c, 0, sizeof(*c));
	c->addr = addr;
	GH_TRY(need_layout(p));
	uint64_t closed = 0;
	if ((addr & 7) || !gh_read_field(p, addr, &L->hchan.qcount, &c->qcount) ||
	    !gh_read_field(p, addr, &L->hchan.dataqsiz, &c->dataqsiz) ||
	    !gh_read_field(p, addr, &L->hchan.elemsize, &c->elemsize) ||
	    !gh_read_field(p, addr, &L->hchan.closed, &closed) || !gh_read_field(p, addr, &L->hchan.elemtype, &c->elemtype)) {
		chan_warn(c, "the hchan at 0x%" PRIx64 " is unreadable", addr);
		return NULL;
	}
	gh_read_field(p, addr, &L->hchan.buf, &c->buf);
	gh_read_field(p, addr, &L->hchan.timer, &c->timer); /* absent before 1.23: stays 0 */
	c->closed = closed != 0;
	/* What makechan and the send/receive paths guarantee. */
	if (c->qcount > c->dataqsiz)
		chan_warn(c, "qcount %" PRIu64 " exceeds the buffer size %" PRIu64, c->qcount, c->dataqsiz);
	if (closed > 1)
		chan_warn(c, "closed is %" PRIu64 ", not 0 or 1", closed);
	if (!c->elemtype || (c->elemtype & 7))
		chan_warn(c, "elemtype 0x%" PRIx64 " is not a type descriptor", c->elemtype);
	GH_TRY(queue(gs, c, &L->hchan.recvq, false));
	GH_TRY(queue(gs, c, &L->hchan.sendq, true));
	return NULL;
}

void gh_chan_release(struct gh_chan *c)
{
	free(c->waiters);
	c->waiters = NULL;
	c->nwaiters = 0;
}

struct gh_error *gh_goroutine_waits(struct gh_goroutines *gs, struct gh_goroutine *g)
{
	if (g->waits_read)
		return NULL;
	struct gh_program *p = gs->p;
	const struct gh_layout *L = &p->L;
	GH_TRY(need_layout(p));
	g->waits_read = true;
	uint64_t first;
	if (!gh_read_field(p, g->g, &L->g.waiting, &first) || !first)
		return NULL;
	struct addrs v = { 0 }, cs = { 0 };
	const char *why;
	struct gh_error *err = walk(p, first, &L->sudog.waitlink, &v, &why);
	if (!err && why)
		gh_goroutine_warn(g, "its g.waiting list ends in %s", why);
	for (size_t i = 0; i < v.len && !err; i++) {
		uint64_t sg, c;
		if (!gh_read_field(p, v.data[i], &L->sudog.g, &sg) || !gh_read_field(p, v.data[i], &L->sudog.c, &c))
			continue; /* walk() read the link of each: cannot happen */
		if (sg != g->g) {
			gh_goroutine_warn(g, "sudog 0x%" PRIx64 " of its g.waiting belongs to g 0x%" PRIx64, v.data[i], sg);
			continue;
		}
		if (!c || (c & 7)) {
			gh_goroutine_warn(g, "sudog 0x%" PRIx64 " names channel 0x%" PRIx64, v.data[i], c);
			continue;
		}
		uint64_t *slot = addrs_push(&cs);
		if (!slot)
			err = &gh_error_nomem;
		else
			*slot = c;
	}
	if (!err)
		dedupe(&cs); /* a select may name one channel in several cases */
	free(v.data);
	if (err) {
		free(cs.data);
		return err;
	}
	g->waits_on = cs.data;
	g->nwaits_on = cs.len;
	return NULL;
}
