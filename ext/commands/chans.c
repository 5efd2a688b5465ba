/* goheap chans: channels with waiters or buffered elements, found from the
 * blocked goroutines' sudogs, every heap object typed as a channel and the
 * timers' channels. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../heap/heap.h"
#include "../runtime/chans.h"
#include "../runtime/timers.h"
#include "../runtime/types.h"
#include "../util/sort.h"
#include "../util/vec.h"
#include "commands.h"

GH_VEC(chanv, uint64_t)

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static struct gh_error *push(struct chanv *v, uint64_t a)
{
	uint64_t *s = chanv_push(v);
	if (!s)
		return &gh_error_nomem;
	*s = a;
	return NULL;
}

struct gh_error *gh_cmd_channels(struct gh_program *p, struct gh_goroutines *gs, struct gh_out *o, uint64_t **out,
				 size_t *n)
{
	struct chanv v = { 0 };
	struct gh_error *err = NULL;
	for (size_t i = 0; i < gs->n && !err; i++) {
		struct gh_goroutine *g = &gs->gs[i];
		err = gh_goroutine_waits(gs, g);
		for (size_t k = 0; !err && k < g->nwaits_on; k++)
			err = push(&v, g->waits_on[k]);
	}
	struct gh_heap *h = NULL;
	struct gh_types *T = NULL;
	struct gh_error *herr = err ? NULL : gh_cmd_heap(p, &h);
	if (!herr && !gh_cmd_typing(p))
		herr = gh_errorf(GH_ERR_MISSING, "heap objects are untyped");
	if (!herr)
		herr = gh_cmd_types(p, &T);
	if (herr) {
		gh_out_warn(o, "channels are found from blocked goroutines and timers only: %s", herr->msg);
		gh_error_free(herr);
		h = NULL;
	}
	for (uint32_t i = 0; h && i < h->nobjs && !err; i++) {
		const struct gh_type *t = gh_obj_type(&h->objs[i]) ? gh_type_get(T, gh_obj_type(&h->objs[i])) : NULL;
		if (t && t->kind == GH_KIND_CHAN && !gh_obj_is_tiny(h, &h->objs[i]))
			err = push(&v, gh_obj_addr(&h->objs[i]));
	}
	if (err) {
		free(v.data);
		return err;
	}
	gh_sort(v.data, v.len, sizeof(*v.data), u64_cmp);
	size_t m = 0;
	for (size_t i = 0; i < v.len; i++)
		if (!m || v.data[m - 1] != v.data[i])
			v.data[m++] = v.data[i];
	*out = v.data;
	*n = m;
	return NULL;
}

void gh_cmd_type_at(struct gh_program *p, uint64_t desc, char *buf, size_t n)
{
	struct gh_types *T;
	gh_type_id id = 0;
	struct gh_error *err = gh_cmd_types(p, &T);
	if (!err)
		err = gh_type_at(T, desc, &id);
	const struct gh_type *t = err ? NULL : gh_type_get(T, id);
	gh_error_free(err);
	snprintf(buf, n, "%s", t ? t->name : "?");
}

static uint64_t count_waiters(const struct gh_chan *c, bool send, uint64_t *ids, uint64_t skip)
{
	uint64_t k = 0;
	for (size_t i = 0; i < c->nwaiters; i++)
		if (c->waiters[i].send == send && c->waiters[i].goid != skip)
			ids[k++] = c->waiters[i].goid;
	return k;
}

void gh_cmd_put_chan(struct gh_program *p, const struct gh_chan *c, uint64_t timer, uint64_t skip, struct gh_node *row)
{
	char tn[512];
	uint64_t *ids = malloc((c->nwaiters + 1) * sizeof(*ids));
	gh_put_addr(row, "address", c->addr);
	gh_cmd_type_at(p, c->elemtype, tn, sizeof(tn));
	gh_put_str(row, "elem_type", tn);
	gh_put_u64(row, "len", c->qcount);
	gh_put_u64(row, "cap", c->dataqsiz);
	gh_put_bool(row, "closed", c->closed);
	if (ids) { /* goroutine ids, without `skip` (the goroutine being shown) */
		gh_put_u64_list(row, skip ? "other_receivers" : "receivers", ids, count_waiters(c, false, ids, skip));
		gh_put_u64_list(row, skip ? "other_senders" : "senders", ids, count_waiters(c, true, ids, skip));
	}
	free(ids);
	gh_put_addr_or_null(row, "timer", timer);
}

struct gh_error *gh_cmd_chan_timers(struct gh_goroutines *gs, const uint64_t *chans, size_t n, struct gh_out *o,
				    uint64_t **pairs, size_t *npairs)
{
	struct gh_timers *T;
	*pairs = NULL;
	*npairs = 0;
	struct gh_error *err = gh_timers_load(gs, chans, n, &T);
	if (err) {
		gh_out_warn(o, "channels' timers are not shown: %s", err->msg);
		gh_error_free(err);
		return NULL;
	}
	uint64_t *v = malloc((2 * T->n + 1) * sizeof(*v));
	size_t m = 0;
	for (size_t i = 0; v && i < T->n; i++)
		if (T->t[i].chan) {
			v[2 * m] = T->t[i].chan;
			v[2 * m++ + 1] = T->t[i].addr;
		}
	gh_timers_free(T);
	if (!v)
		return &gh_error_nomem;
	gh_sort(v, m, 2 * sizeof(*v), u64_cmp);
	*pairs = v;
	*npairs = m;
	return NULL;
}

uint64_t gh_cmd_chan_timer(const uint64_t *pairs, size_t n, const struct gh_chan *c)
{
	if (c->timer)
		return c->timer;
	size_t k = gh_upper_bound(pairs, n, 2 * sizeof(*pairs), 0, c->addr);
	return k && pairs[2 * (k - 1)] == c->addr ? pairs[2 * (k - 1) + 1] : 0;
}

struct gh_error *gh_cmd_chans(struct gh_program *p, int argc, char **argv, struct gh_out *o)
{
	bool all = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--all"))
			all = true;
		else
			return gh_errorf(GH_ERR_USAGE, "usage: chans [--all]");
	}
	struct gh_goroutines *gs;
	GH_TRY(gh_goroutines_load(p, &gs));
	uint64_t *cs, *tp;
	size_t n, ntp;
	GH_TRY(gh_cmd_channels(p, gs, o, &cs, &n));
	struct gh_error *err = gh_cmd_chan_timers(gs, cs, n, o, &tp, &ntp);
	/* The timers' channels join the list (a ticker's, untyped in a stripped executable). */
	struct chanv v = { cs, n, n };
	for (size_t i = 0; i < ntp && !err; i++)
		err = push(&v, tp[2 * i]);
	if (!err)
		gh_sort(v.data, v.len, sizeof(*v.data), u64_cmp);
	struct gh_node *r = gh_out_root(o);
	struct gh_node *t = gh_put_table(r, "channels");
	uint64_t shown = 0, found = 0;
	for (size_t i = 0; i < v.len && !err; i++) {
		if (i && v.data[i] == v.data[i - 1])
			continue;
		found++;
		struct gh_chan c;
		if ((err = gh_chan_read(gs, v.data[i], &c)))
			break;
		if (c.nwarnings)
			gh_out_warn(o, "channel 0x%" PRIx64 ": %s (%u problems)", c.addr, c.warning, c.nwarnings);
		if (all || c.nwaiters || c.qcount) {
			gh_cmd_put_chan(p, &c, gh_cmd_chan_timer(tp, ntp, &c), 0, gh_table_row(t));
			shown++;
		}
		gh_chan_release(&c);
	}
	gh_put_u64(r, "found", found);
	gh_put_u64(r, "shown", shown);
	free(tp);
	free(v.data);
	return err;
}
