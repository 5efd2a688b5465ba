/* goheap goroutines / goroutine: the goroutine list, grouped or not, and one
 * goroutine's backtrace, frames, pointer slots and typed locals. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/sort.h"
#include "../heap/heap.h"
#include "../runtime/chans.h"
#include "../runtime/goroutines.h"
#include "../util/strutil.h"
#include "commands.h"

static bool is_waiting(const struct gh_program *p, const struct gh_goroutine *g)
{
	return p->L.c.gWaiting.have && g->status == (uint32_t)p->L.c.gWaiting.v;
}

/* Wait duration: only for waiting goroutines with a waitsince, against the
 * latest runtime timestamp found (so it is a lower bound). */
static bool wait_ns(const struct gh_goroutines *gs, const struct gh_goroutine *g, uint64_t *ns)
{
	if (!is_waiting(gs->p, g) || g->waitsince <= 0 || !gs->now || gs->now < g->waitsince)
		return false;
	*ns = (uint64_t)(gs->now - g->waitsince);
	return true;
}

static void put_site(struct gh_node *n, const char *key, const char *file, int32_t line)
{
	if (file)
		gh_put_strf(n, key, "%s:%d", file, line);
	else
		gh_put_null(n, key);
}

/* ret: the bytes its stack retains, NULL if unknown. */
static void put_summary(struct gh_goroutines *gs, struct gh_goroutine *g, const uint64_t *ret, struct gh_node *n,
			bool table)
{
	gh_put_u64(n, "id", g->goid);
	gh_put_str(n, "status", g->wait);
	uint64_t ns;
	if (wait_ns(gs, g, &ns)) {
		char b[32];
		gh_fmt_duration(b, sizeof(b), (int64_t)ns);
		if (table)
			gh_put_strf(n, "waiting", ">= %s", b);
		else
			gh_put_u64(n, "wait_ns", ns);
	} else if (table)
		gh_put_str(n, "waiting", "");
	else
		gh_put_null(n, "wait_ns");
	gh_put_str(n, "start", g->user_start ? g->user_start : "?");
	if (!table) {
		gh_put_str(n, "start_pc_function", g->start_func ? g->start_func : "?");
		gh_put_addr(n, "startpc", g->startpc);
	}
	gh_put_str(n, "created_by", g->creator_func ? g->creator_func : "?");
	put_site(n, "created_at", g->creator_file, g->creator_line);
	if (table)
		gh_put_bytes(n, "stack", g->stack_hi - g->stack_lo);
	else
		gh_put_u64(n, "stack_bytes", g->stack_hi - g->stack_lo);
	if (ret)
		gh_put_bytes(n, "retained", *ret);
	else
		gh_put_null(n, "retained");
	if (g->tid >= 0)
		gh_put_i64(n, "thread", g->tid);
	else
		gh_put_null(n, "thread");
	gh_put_bool(n, "system", g->system);
	gh_put_addr_list(n, "waits_on", g->waits_on, g->nwaits_on);
	if (!table) {
		gh_put_addr(n, "g", g->g);
		gh_put_u64(n, "status_code", g->status);
		gh_put_u64(n, "wait_reason_code", g->waitreason);
		gh_put_i64(n, "wait_since", g->waitsince);
		gh_put_addr(n, "gopc", g->gopc);
		gh_put_u64(n, "parent_id", g->parent_goid);
		gh_put_addr(n, "stack_lo", g->stack_lo);
		gh_put_addr(n, "stack_hi", g->stack_hi);
		gh_put_addr_or_null(n, "m", g->m);
		gh_put_u64(n, "frames", g->nframes);
	}
}

static void put_warnings(struct gh_out *o, const struct gh_goroutine *g)
{
	const char *w = g->warnings;
	while (w && *w) {
		const char *nl = strchr(w, '\n');
		size_t len = nl ? (size_t)(nl - w) : strlen(w);
		gh_out_warn(o, "goroutine %" PRIu64 ": %.*s", g->goid, (int)len, w);
		w += len + (nl != NULL);
	}
	if (g->nwarnings > 16)
		gh_out_warn(o, "goroutine %" PRIu64 ": %u more warnings", g->goid, g->nwarnings - 16);
}

static void put_header(struct gh_node *r, const struct gh_goroutines *gs)
{
	gh_put_u64(r, "count", gs->n);
	gh_put_u64(r, "dead", gs->dead);
	if (gs->bad)
		gh_put_u64(r, "bad_entries", gs->bad);
	gh_put_str(r, "allgs_from", gs->allgs_from);
	gh_put_str(r, "wait_reasons_from", gs->waits_from ? gs->waits_from : "");
	if (gs->now) {
		gh_put_i64(r, "now", gs->now);
		gh_put_str(r, "now_from", gs->now_from);
	} else
		gh_put_null(r, "now");
}

/* The key a goroutine is grouped under; stack keys are built in buf. */
static const char *group_key(struct gh_goroutine *g, const char *by, char *buf, size_t n)
{
	if (!strcmp(by, "wait"))
		return g->wait;
	if (!strcmp(by, "start"))
		return g->user_start ? g->user_start : "?";
	if (!strcmp(by, "creator")) {
		if (g->creator_file)
			snprintf(buf, n, "%s at %s:%d", g->creator_func, g->creator_file, g->creator_line);
		else
			snprintf(buf, n, "%s", g->creator_func ? g->creator_func : "?");
		return buf;
	}
	size_t len = 0;
	buf[0] = 0;
	for (size_t i = 0; i < g->nframes && len + 1 < n; i++) {
		int k = snprintf(buf + len, n - len, "%s%s", i ? " <- " : "", g->frames[i].func);
		if (k < 0)
			break;
		len += (size_t)k;
	}
	if (len >= n)
		buf[n - 1] = 0;
	return buf;
}

struct group {
	char *key;
	uint64_t count, retained;
	uint64_t *ids;
};

static int group_cmp(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->key, y->key);
}

static struct gh_error *grouped(struct gh_goroutines *gs, const char *by, uint64_t min_count, const uint64_t *ret,
			       struct gh_out *o)
{
	struct group *gr = calloc(gs->n ? gs->n : 1, sizeof(*gr));
	size_t ng = 0;
	struct gh_error *err = NULL;
	char buf[4096];
	if (!gr)
		return &gh_error_nomem;
	for (size_t i = 0; i < gs->n && !err; i++) {
		const char *k = group_key(&gs->gs[i], by, buf, sizeof(buf));
		size_t j = 0;
		while (j < ng && strcmp(gr[j].key, k))
			j++;
		if (j == ng) {
			gr[ng].key = gh_strdup(k);
			gr[ng].ids = calloc(gs->n, sizeof(uint64_t));
			if (!gr[ng].key || !gr[ng].ids) {
				free(gr[ng].key);
				free(gr[ng].ids);
				err = &gh_error_nomem;
				break;
			}
			ng++;
		}
		gr[j].ids[gr[j].count++] = gs->gs[i].goid;
		gr[j].retained += ret ? ret[i] : 0;
	}
	if (!err) {
		if (ng)
			gh_sort(gr, ng, sizeof(*gr), group_cmp);
		struct gh_node *r = gh_out_root(o);
		put_header(r, gs);
		gh_put_str(r, "group_by", by);
		struct gh_node *t = gh_put_table(r, "groups");
		for (size_t j = 0; j < ng; j++) {
			if (gr[j].count < min_count)
				continue;
			struct gh_node *row = gh_table_row(t);
			gh_put_u64(row, "count", gr[j].count);
			if (ret) /* each goroutine's alone, summed: they are disjoint */
				gh_put_bytes(row, "retained", gr[j].retained);
			else
				gh_put_null(row, "retained");
			gh_put_str(row, by, gr[j].key);
			gh_put_u64_list(row, "ids", gr[j].ids, gr[j].count);
		}
	}
	for (size_t j = 0; j < ng; j++) {
		free(gr[j].key);
		free(gr[j].ids);
	}
	free(gr);
	return err;
}

/* The channels g waits on; a runtime without the channel layout (a
 * stripped executable of a release without built-in tables) says so once. */
static struct gh_error *waits(struct gh_goroutines *gs, struct gh_goroutine *g, struct gh_out *o, bool *warned)
{
	struct gh_error *err = gh_goroutine_waits(gs, g);
	if (err && err->code == GH_ERR_MISSING) {
		if (!*warned)
			gh_out_warn(o, "channels are not shown: %s", err->msg);
		*warned = true;
		gh_error_free(err);
		return NULL;
	}
	return err;
}

/* The bytes each goroutine's stack retains, or NULL (with a warning) when
 * they are not wanted or cannot be computed; *ret is malloc'd. */
static struct gh_error *retained_of(struct gh_program *p, struct gh_goroutines *gs, bool want, struct gh_out *o,
				    uint64_t **ret)
{
	*ret = NULL;
	if (!want)
		return NULL;
	uint64_t *r = calloc(gs->n + 1, sizeof(*r));
	if (!r)
		return &gh_error_nomem;
	struct gh_error *err = gh_cmd_goroutine_retained(p, gs, r);
	if (err) {
		gh_out_warn(o, "retained bytes are not shown: %s", err->msg);
		gh_error_free(err);
		free(r);
		return NULL;
	}
	*ret = r;
	return NULL;
}

struct gh_error *gh_cmd_goroutines(struct gh_program *p, int argc, char **argv, struct gh_out *o)
{
	const char *by = NULL;
	uint64_t min_count = 0;
	bool want_ret = true;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--group-by") && i + 1 < argc) {
			by = argv[++i];
			if (strcmp(by, "wait") && strcmp(by, "start") && strcmp(by, "creator") && strcmp(by, "stack"))
				return gh_errorf(GH_ERR_USAGE, "--group-by takes wait, start, creator or stack");
		} else if (!strcmp(argv[i], "--min-count") && i + 1 < argc) {
			if (!gh_parse_u64(argv[++i], &min_count))
				return gh_errorf(GH_ERR_USAGE, "--min-count takes a count");
		} else if (!strcmp(argv[i], "--no-retained"))
			want_ret = false;
		else
			return gh_errorf(GH_ERR_USAGE,
					 "usage: goroutines [--group-by wait|start|creator|stack] [--min-count N] [--no-retained]");
	}
	struct gh_goroutines *gs;
	GH_TRY(gh_goroutines_load(p, &gs));
	bool warned = false;
	for (size_t i = 0; i < gs->n; i++) {
		GH_TRY(gh_goroutine_frames(gs, &gs->gs[i]));
		GH_TRY(waits(gs, &gs->gs[i], o, &warned));
	}
	if (gs->bad)
		gh_out_warn(o, "%" PRIu64 " allgs entries are not plausible goroutines and were skipped", gs->bad);
	uint64_t *ret;
	GH_TRY(retained_of(p, gs, want_ret, o, &ret));
	if (by) {
		struct gh_error *err = grouped(gs, by, min_count, ret, o);
		free(ret);
		return err;
	}
	struct gh_node *r = gh_out_root(o);
	put_header(r, gs);
	struct gh_node *t = gh_put_table(r, "goroutines");
	for (size_t i = 0; i < gs->n; i++) {
		put_summary(gs, &gs->gs[i], ret ? &ret[i] : NULL, gh_table_row(t), true);
		if (gs->gs[i].nwarnings)
			gh_out_warn(o, "goroutine %" PRIu64 ": %u warnings (see goroutine %" PRIu64 ")", gs->gs[i].goid,
				    gs->gs[i].nwarnings, gs->gs[i].goid);
	}
	free(ret);
	return NULL;
}

static void put_frames(struct gh_goroutine *g, struct gh_node *n, bool detail)
{
	struct gh_node *t = gh_put_table(n, detail ? "frames" : "backtrace");
	for (size_t i = 0; i < g->nframes; i++) {
		const struct gh_frame *fr = &g->frames[i];
		struct gh_node *row = gh_table_row(t);
		gh_put_u64(row, "frame", i);
		gh_put_str(row, "function", fr->func);
		put_site(row, "location", fr->file, fr->line);
		if (detail) {
			gh_put_addr(row, "pc", fr->pc);
			gh_put_addr(row, "sp", fr->sp);
			gh_put_addr(row, "fp", fr->fp);
			gh_put_addr(row, "entry", fr->entry);
			gh_put_addr(row, "continpc", fr->continpc);
			gh_put_u64(row, "size", fr->fp - fr->sp);
		}
		char fl[96] = "";
		snprintf(fl, sizeof(fl), "%s%s%s%s%s", fr->flags & GH_FRAME_CONSERVATIVE ? "conservative " : "",
			 fr->flags & GH_FRAME_INTERRUPTED ? "interrupted " : "", fr->flags & GH_FRAME_DEAD ? "dead " : "",
			 fr->flags & GH_FRAME_TOP ? "top " : "", fr->flags & GH_FRAME_TRUNCATED ? "truncated " : "");
		size_t l = strlen(fl);
		if (l)
			fl[l - 1] = 0;
		gh_put_str(row, "flags", fl);
	}
}

static void put_slots(struct gh_goroutine *g, struct gh_node *n)
{
	struct gh_node *t = gh_put_table(n, "slots");
	for (size_t i = 0; i < g->nslots; i++) {
		const struct gh_slot *s = &g->slots[i];
		struct gh_node *row = gh_table_row(t);
		gh_put_addr(row, "address", s->addr);
		gh_put_addr(row, "value", s->value);
		if (s->frame == UINT32_MAX) {
			gh_put_null(row, "frame");
			gh_put_str(row, "function", "");
		} else {
			gh_put_u64(row, "frame", s->frame);
			gh_put_str(row, "function", g->frames[s->frame].func);
		}
		gh_put_str(row, "kind", gh_slot_kind_name((enum gh_slot_kind)s->kind));
	}
}

static void put_locals(struct gh_program *p, struct gh_heap *h, struct gh_goroutine *g, struct gh_node *n)
{
	struct gh_node *t = gh_put_table(n, "locals");
	char tn[512];
	for (size_t i = 0; i < g->nlocals; i++) {
		const struct gh_local *l = &g->locals[i];
		struct gh_node *row = gh_table_row(t);
		gh_put_u64(row, "frame", l->frame);
		gh_put_str(row, "function", g->frames[l->frame].func);
		gh_put_str(row, "name", l->name);
		gh_put_str(row, "kind", l->is_param ? "param" : "local");
		gh_put_str(row, "type", l->type_name ? l->type_name : "?");
		gh_put_addr_or_null(row, "type_descriptor", l->type_desc);
		gh_put_addr(row, "address", l->addr);
		uint64_t w = 0;
		size_t nb = l->size && l->size < 8 ? (size_t)l->size : 8;
		if (!gh_read(p->t, l->addr, &w, nb)) {
			gh_put_null(row, "value");
			gh_put_null(row, "object");
			gh_put_str(row, "object_type", "");
			continue;
		}
		gh_put_addr(row, "value", w);
		const struct gh_object *ob = h ? gh_heap_find(h, w) : NULL;
		if (ob) {
			gh_cmd_type_name(p, h, ob, tn, sizeof(tn));
			gh_put_addr(row, "object", gh_obj_addr(ob));
			gh_put_str(row, "object_type", tn);
		} else {
			gh_put_null(row, "object");
			gh_put_str(row, "object_type", "");
		}
	}
}

/* What every goroutine shown shares: the view, the heap (locals), what
 * stacks retain, the channels' timers as (channel, timer) pairs. */
struct view {
	const char *name;
	struct gh_heap *h;
	uint64_t *ret;
	uint64_t *tp;
	size_t ntp;
	bool warned;
};

/* The channels g waits on, each with the other goroutines waiting on it and
 * what g does there (receive, send; both in a select). */
static struct gh_error *put_chans(struct gh_program *p, struct gh_goroutines *gs, struct gh_goroutine *g,
				  const struct view *v, struct gh_node *n, struct gh_out *o)
{
	if (!g->nwaits_on)
		return NULL;
	struct gh_node *t = gh_put_table(n, "channels");
	for (size_t i = 0; i < g->nwaits_on; i++) {
		struct gh_chan c;
		GH_TRY(gh_chan_read(gs, g->waits_on[i], &c));
		if (c.nwarnings)
			gh_out_warn(o, "goroutine %" PRIu64 ": channel 0x%" PRIx64 ": %s", g->goid, c.addr, c.warning);
		bool recv = false, send = false;
		for (size_t k = 0; k < c.nwaiters; k++)
			if (c.waiters[k].g == g->g) {
				recv |= !c.waiters[k].send;
				send |= c.waiters[k].send;
			}
		struct gh_node *row = gh_table_row(t);
		gh_put_str(row, "op", recv && send ? "receive, send" : recv ? "receive" : send ? "send" : "?");
		gh_cmd_put_chan(p, &c, gh_cmd_chan_timer(v->tp, v->ntp, &c), g->goid, row);
		gh_chan_release(&c);
	}
	return NULL;
}

static struct gh_error *one(struct gh_program *p, struct gh_goroutines *gs, struct gh_goroutine *g, struct view *v,
			    struct gh_node *n, struct gh_out *o)
{
	GH_TRY(gh_goroutine_frames(gs, g));
	if (!strcmp(v->name, "slots"))
		GH_TRY(gh_goroutine_slots(gs, g));
	if (!strcmp(v->name, "locals"))
		GH_TRY(gh_goroutine_locals(gs, g));
	put_summary(gs, g, v->ret ? &v->ret[g - gs->gs] : NULL, n, false);
	GH_TRY(put_chans(p, gs, g, v, n, o));
	if (!strcmp(v->name, "bt"))
		put_frames(g, n, false);
	else if (!strcmp(v->name, "frames"))
		put_frames(g, n, true);
	else if (!strcmp(v->name, "slots"))
		put_slots(g, n);
	else
		put_locals(p, v->h, g, n);
	put_warnings(o, g);
	return NULL;
}

/* The channels the goroutines shown wait on, then their timers. */
static struct gh_error *chan_timers(struct gh_goroutines *gs, struct gh_goroutine *only, struct view *v,
				    struct gh_out *o)
{
	size_t n = 0, k = 0;
	for (size_t i = 0; i < gs->n; i++) {
		struct gh_goroutine *g = only ? only : &gs->gs[i];
		GH_TRY(waits(gs, g, o, &v->warned));
		n += g->nwaits_on;
		if (only)
			break;
	}
	if (!n)
		return NULL;
	uint64_t *cs = malloc(n * sizeof(*cs));
	if (!cs)
		return &gh_error_nomem;
	for (size_t i = 0; i < gs->n; i++) {
		struct gh_goroutine *g = only ? only : &gs->gs[i];
		for (size_t j = 0; j < g->nwaits_on; j++)
			cs[k++] = g->waits_on[j];
		if (only)
			break;
	}
	struct gh_error *err = gh_cmd_chan_timers(gs, cs, n, o, &v->tp, &v->ntp);
	free(cs);
	return err;
}

struct gh_error *gh_cmd_goroutine(struct gh_program *p, int argc, char **argv, struct gh_out *o)
{
	const char *usage = "usage: goroutine ID|all [bt|frames|slots|locals] [--no-retained]";
	bool want_ret = true;
	if (argc > 1 && !strcmp(argv[argc - 1], "--no-retained")) {
		want_ret = false;
		argc--;
	}
	if (argc < 2 || argc > 3)
		return gh_errorf(GH_ERR_USAGE, "%s", usage);
	struct view v = { .name = argc == 3 ? argv[2] : "bt" };
	if (strcmp(v.name, "bt") && strcmp(v.name, "frames") && strcmp(v.name, "slots") && strcmp(v.name, "locals"))
		return gh_errorf(GH_ERR_USAGE, "%s", usage);
	bool all = !strcmp(argv[1], "all");
	uint64_t id = 0;
	if (!all && !gh_parse_u64(argv[1], &id))
		return gh_errorf(GH_ERR_USAGE, "goroutine: '%s' is not a goroutine id", argv[1]);
	struct gh_goroutines *gs;
	GH_TRY(gh_goroutines_load(p, &gs));
	struct gh_goroutine *g = all ? NULL : gh_goroutine_by_id(gs, id);
	if (!all && !g)
		return gh_errorf(GH_ERR_NOT_FOUND, "no live goroutine %" PRIu64 " (%zu goroutines; see 'goroutines')", id, gs->n);
	if (!strcmp(v.name, "locals")) {
		/* Values are shown with the heap object they point at, if any.
		 * With retained sizes, the graph first: the heap is then typed
		 * beside its dominators (a failure is reported with the sizes). */
		if (want_ret) {
			struct gh_graph *gr;
			gh_error_free(gh_cmd_graph(p, &gr));
		}
		struct gh_error *err = gh_cmd_heap(p, &v.h);
		if (err) {
			gh_out_warn(o, "heap objects are not shown: %s", err->msg);
			gh_error_free(err);
			v.h = NULL;
		}
		if (!p->dw)
			gh_out_warn(o, "the executable has no DWARF: no typed locals");
	}
	GH_TRY(retained_of(p, gs, want_ret, o, &v.ret));
	struct gh_error *err = chan_timers(gs, g, &v, o);
	if (!err && !all) {
		err = one(p, gs, g, &v, gh_out_root(o), o);
	} else if (!err) {
		struct gh_node *r = gh_out_root(o);
		put_header(r, gs);
		struct gh_node *list = gh_put_list(r, "goroutines");
		for (size_t i = 0; i < gs->n && !err; i++)
			err = one(p, gs, &gs->gs[i], &v, gh_list_add(list), o);
	}
	free(v.ret);
	free(v.tp);
	return err;
}
