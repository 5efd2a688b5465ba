/* goheap histogram: count and bytes per type. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/sort.h"
#include "../heap/heap.h"
#include "../util/strutil.h"
#include "commands.h"

struct row {
	char *name;
	uint64_t count, bytes;
};

static int by_bytes(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return strcmp(x->name, y->name);
}

static int by_count(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->name, y->name);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->name, ((const struct row *)b)->name);
}

struct gh_error *gh_cmd_histogram(struct gh_program *p, int argc, char **argv, struct gh_out *o)
{
	uint64_t top = 30;
	int (*cmp)(const void *, const void *) = by_bytes;
	const char *re_src = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--top") && i + 1 < argc) {
			if (!gh_parse_u64(argv[++i], &top))
				return gh_errorf(GH_ERR_USAGE, "--top takes a count (0: all)");
		} else if (!strcmp(argv[i], "--sort") && i + 1 < argc) {
			i++;
			if (!strcmp(argv[i], "bytes"))
				cmp = by_bytes;
			else if (!strcmp(argv[i], "count"))
				cmp = by_count;
			else
				return gh_errorf(GH_ERR_USAGE, "--sort takes bytes or count");
		} else if (!strcmp(argv[i], "--type") && i + 1 < argc) {
			re_src = argv[++i];
		} else
			return gh_errorf(GH_ERR_USAGE, "usage: histogram [--top N] [--sort bytes|count] [--type REGEX]");
	}
	regex_t re;
	if (re_src && regcomp(&re, re_src, REG_EXTENDED | REG_NOSUB))
		return gh_errorf(GH_ERR_USAGE, "--type: invalid regular expression '%s'", re_src);
	struct gh_heap *h;
	struct gh_error *err = gh_cmd_heap(p, &h);
	if (err)
		goto out_re;
	/* Group by display name: sort (name, size) pairs, then merge runs. */
	struct row *rows = calloc(h->nobjs ? h->nobjs : 1, sizeof(*rows));
	if (!rows) {
		err = &gh_error_nomem;
		goto out_re;
	}
	size_t n = 0;
	char name[512];
	uint64_t total_count = 0, total_bytes = 0;
	for (uint32_t i = 0; i < h->nobjs; i++) {
		const struct gh_object *ob = &h->objs[i];
		if (gh_obj_garbage(h, ob))
			continue;
		gh_cmd_type_name(p, h, ob, name, sizeof(name));
		if (re_src && regexec(&re, name, 0, NULL, 0))
			continue;
		if (!(rows[n].name = strdup(name))) {
			err = &gh_error_nomem;
			goto out_rows;
		}
		rows[n].count = 1;
		rows[n].bytes = gh_obj_size(h, ob);
		total_count++;
		total_bytes += rows[n].bytes;
		n++;
	}
	gh_sort(rows, n, sizeof(*rows), by_name);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && !strcmp(rows[m - 1].name, rows[i].name)) {
			rows[m - 1].count++;
			rows[m - 1].bytes += rows[i].bytes;
			free(rows[i].name);
			rows[i].name = NULL;
		} else {
			rows[m++] = rows[i];
			if (m - 1 != i)
				rows[i].name = NULL;
		}
	}
	gh_sort(rows, m, sizeof(*rows), cmp);
	struct gh_node *r = gh_out_root(o);
	struct gh_node *t = gh_put_table(r, "types");
	for (size_t i = 0; i < m && (!top || i < top); i++) {
		struct gh_node *row = gh_table_row(t);
		gh_put_u64(row, "count", rows[i].count);
		gh_put_bytes(row, "bytes", rows[i].bytes);
		gh_put_u64(row, "average", rows[i].bytes / rows[i].count);
		gh_put_str(row, "type", rows[i].name);
	}
	gh_put_u64(r, "distinct_types", m);
	gh_put_u64(r, "objects", total_count);
	gh_put_bytes(r, "bytes", total_bytes);
	n = m;
out_rows:
	for (size_t i = 0; i < n; i++)
		free(rows[i].name);
	free(rows);
out_re:
	if (re_src)
		regfree(&re);
	return err;
}
