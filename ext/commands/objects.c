/* goheap objects: heap objects in address order. */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "../heap/heap.h"
#include "../util/strutil.h"
#include "commands.h"

struct offs {
	uint64_t *v;
	size_t n, cap;
	bool oom;
};

static void collect(void *arg, uint64_t off, uint64_t value)
{
	(void)value;
	struct offs *o = arg;
	if (o->n == o->cap) {
		size_t nc = o->cap ? o->cap * 2 : 64;
		uint64_t *nv = realloc(o->v, nc * sizeof(*nv));
		if (!nv) {
			o->oom = true;
			return;
		}
		o->v = nv;
		o->cap = nc;
	}
	o->v[o->n++] = off;
}

struct gh_error *gh_cmd_objects(struct gh_program *p, int argc, char **argv, struct gh_out *o)
{
	uint64_t min_size = 0, limit = 1000;
	bool pointers = false;
	const char *re_src = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--type") && i + 1 < argc)
			re_src = argv[++i];
		else if (!strcmp(argv[i], "--pointers"))
			pointers = true;
		else if (!strcmp(argv[i], "--min-size") && i + 1 < argc) {
			if (!gh_parse_u64(argv[++i], &min_size))
				return gh_errorf(GH_ERR_USAGE, "--min-size takes a byte count");
		} else if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
			if (!gh_parse_u64(argv[++i], &limit))
				return gh_errorf(GH_ERR_USAGE, "--limit takes a count (0: all)");
		} else
			return gh_errorf(GH_ERR_USAGE, "usage: objects [--type REGEX] [--min-size N] [--limit N] [--pointers]");
	}
	regex_t re;
	if (re_src && regcomp(&re, re_src, REG_EXTENDED | REG_NOSUB))
		return gh_errorf(GH_ERR_USAGE, "--type: invalid regular expression '%s'", re_src);
	struct gh_heap *h;
	struct gh_error *err = gh_cmd_heap(p, &h);
	if (err) {
		if (re_src)
			regfree(&re);
		return err;
	}
	char name[512];
	struct gh_node *r = gh_out_root(o);
	struct gh_node *t = gh_put_table(r, "objects");
	struct offs offs = { 0 };
	uint64_t shown = 0, matched = 0;
	for (uint32_t i = 0; i < h->nobjs; i++) {
		const struct gh_object *ob = &h->objs[i];
		uint64_t size = gh_obj_size(h, ob);
		if (size < min_size)
			continue;
		gh_cmd_type_name(p, h, ob, name, sizeof(name));
		if (re_src && regexec(&re, name, 0, NULL, 0))
			continue;
		matched++;
		if (limit && shown >= limit)
			continue;
		shown++;
		const struct gh_span *s = gh_obj_span(h, ob);
		uint64_t slot_size, slot = gh_obj_slot(h, ob, &slot_size);
		struct gh_node *row = gh_table_row(t);
		gh_put_addr(row, "address", gh_obj_addr(ob));
		gh_put_u64(row, "size", size);
		gh_put_str(row, "type", name);
		gh_put_addr(row, "slot", slot);
		gh_put_u64(row, "slot_size", slot_size);
		gh_put_u64(row, "class", s->sizeclass);
		gh_put_str(row, "flags", gh_obj_garbage(h, ob) ? "garbage"
					 : gh_obj_allocating(h, ob) ? "allocating" : "");
		if (pointers) {
			offs.n = 0;
			if (gh_heap_pointers(h, ob, collect, &offs) && !offs.oom)
				gh_put_u64_list(row, "pointers", offs.v, offs.n);
			else
				gh_put_null(row, "pointers");
			offs.oom = false;
		}
	}
	free(offs.v);
	if (re_src)
		regfree(&re);
	gh_put_u64(r, "matched", matched);
	gh_put_u64(r, "shown", shown);
	if (h->st.bad_spans || h->st.bad_pointer_maps)
		gh_out_warn(o, "%llu corrupt spans skipped, %llu objects with unreadable pointer maps",
			    (unsigned long long)h->st.bad_spans, (unsigned long long)h->st.bad_pointer_maps);
	return NULL;
}
