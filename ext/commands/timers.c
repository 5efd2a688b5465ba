/* goheap timers: every live timer with its kind, when it fires, period,
 * function, argument, channel, the goroutines it wakes, and what its
 * argument (an AfterFunc closure, a ticker's channel) retains. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../graph/graph.h"
#include "../runtime/chans.h"
#include "../runtime/timers.h"
#include "../util/strutil.h"
#include "commands.h"

#define MAX_POINTS_TO 8

/* The heap object holding the argument: its address, what it retains
 * (dominates) and the objects it points at. */
static void put_arg_object(const struct gh_graph *g, uint64_t arg, struct gh_node *row)
{
	const struct gh_object *ob = g ? gh_heap_find(g->h, arg) : NULL;
	if (!ob) {
		gh_put_null(row, "arg_object");
		gh_put_null(row, "retained");
		gh_put_addr_list(row, "points_to", NULL, 0);
		return;
	}
	uint32_t v = gh_obj_vertex(g, (uint32_t)(ob - g->h->objs));
	uint64_t to[MAX_POINTS_TO];
	size_t n = 0;
	for (uint32_t e = g->off[v]; e < g->off[v + 1] && n < MAX_POINTS_TO; e++) {
		uint64_t a = gh_obj_addr(&g->h->objs[gh_vertex_obj(g, g->adj[e])]);
		size_t k = 0;
		while (k < n && to[k] != a) /* one edge per pointer word: show each object once */
			k++;
		if (k == n)
			to[n++] = a;
	}
	gh_put_addr(row, "arg_object", gh_obj_addr(ob));
	if (gh_reachable(g, v))
		gh_put_bytes(row, "retained", g->retained[v]);
	else
		gh_put_null(row, "retained");
	gh_put_addr_list(row, "points_to", to, n);
}

static void put_name(struct gh_node *row, const char *key, const char *v)
{
	if (v)
		gh_put_str(row, key, v);
	else
		gh_put_null(row, key);
}

/* The goroutines a timer wakes: a sleeper, or those blocked on its channel. */
static struct gh_error *put_goroutines(struct gh_goroutines *gs, const struct gh_timer *t, struct gh_node *row,
				       struct gh_out *o)
{
	uint64_t ids[64];
	size_t n = 0;
	struct gh_goroutine *g = t->g ? gh_goroutine_by_g(gs, t->g) : NULL;
	if (g)
		ids[n++] = g->goid;
	if (t->chan) {
		struct gh_chan c;
		GH_TRY(gh_chan_read(gs, t->chan, &c));
		if (c.nwarnings)
			gh_out_warn(o, "channel 0x%" PRIx64 " of timer 0x%" PRIx64 ": %s", c.addr, t->addr, c.warning);
		for (size_t i = 0; i < c.nwaiters && n < 64; i++)
			if (c.waiters[i].goid && !c.waiters[i].send)
				ids[n++] = c.waiters[i].goid;
		gh_chan_release(&c);
	}
	gh_put_u64_list(row, "goroutines", ids, n);
	return NULL;
}

struct gh_error *gh_cmd_timers(struct gh_program *p, int argc, char **argv, struct gh_out *o)
{
	bool retained = true;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-retained"))
			retained = false;
		else
			return gh_errorf(GH_ERR_USAGE, "usage: timers [--no-retained]");
	}
	struct gh_goroutines *gs;
	GH_TRY(gh_goroutines_load(p, &gs));
	/* The graph before the channels: it types the heap beside the
	 * dominators, where the channels alone would type it first. */
	struct gh_graph *g = NULL;
	struct gh_error *err;
	if (retained && (err = gh_cmd_graph(p, &g))) {
		gh_out_warn(o, "what timers retain is not shown: %s", err->msg);
		gh_error_free(err);
		g = NULL;
	}
	uint64_t *cs;
	size_t ncs;
	GH_TRY(gh_cmd_channels(p, gs, o, &cs, &ncs));
	struct gh_timers *T;
	err = gh_timers_load(gs, cs, ncs, &T);
	free(cs);
	if (err)
		return err;
	const char *w = T->warnings;
	while (w && *w) {
		const char *nl = strchr(w, '\n');
		gh_out_warn(o, "timers: %.*s", (int)(nl ? nl - w : (long)strlen(w)), w);
		w = nl ? nl + 1 : w + strlen(w);
	}
	if (T->nwarnings > 16)
		gh_out_warn(o, "timers: %u more warnings", T->nwarnings - 16);
	struct gh_node *r = gh_out_root(o);
	gh_put_u64(r, "count", T->n);
	gh_put_addr_or_null(r, "allp", T->allp);
	gh_put_u64(r, "ps", T->nps);
	gh_put_str(r, "ps_from", T->ps_from ? T->ps_from : "");
	if (gs->now) {
		gh_put_i64(r, "now", gs->now);
		gh_put_str(r, "now_from", gs->now_from);
	} else
		gh_put_null(r, "now");
	struct gh_node *tab = gh_put_table(r, "timers");
	char b[64];
	for (size_t i = 0; i < T->n && !err; i++) {
		const struct gh_timer *t = &T->t[i];
		struct gh_node *row = gh_table_row(tab);
		gh_put_addr(row, "address", t->addr);
		gh_put_str(row, "kind", t->kind);
		/* now is a lower bound of the capture time: fires_in is an upper bound. */
		int64_t d;
		if (gs->now && !__builtin_sub_overflow(t->when, gs->now, &d)) { /* when is untrusted */
			gh_fmt_duration(b, sizeof(b), d);
			gh_put_str(row, "fires_in", b);
			gh_put_i64(row, "delay_ns", d);
		} else {
			gh_put_null(row, "fires_in");
			gh_put_null(row, "delay_ns");
		}
		gh_put_i64(row, "when", t->when);
		gh_put_i64(row, "period_ns", t->period);
		put_name(row, "function", t->func);
		put_name(row, "calls", t->arg_func);
		gh_put_addr(row, "arg", t->arg);
		gh_put_addr_or_null(row, "chan", t->chan);
		err = put_goroutines(gs, t, row, o);
		if (t->p >= 0)
			gh_put_i64(row, "p", t->p);
		else
			gh_put_null(row, "p");
		gh_put_u64(row, "state", t->state);
		gh_put_bool(row, "stopped", t->stopped);
		if (g)
			put_arg_object(g, t->arg, row);
	}
	gh_timers_free(T);
	return err;
}
