/* Test driver for ext/runtime/types.h: opens a core and prints, one JSON
 * line per query, the decoded type or the error.
 *
 *   types_probe CORE|pid:PID EXE QUERY...
 *     name:T     gh_type_by_name(T)
 *     global:V   gh_types_global_type(V), then gh_type_at()
 *     addr:A     gh_type_at(A) (A in hex)
 *
 * With GH_PROBE_NO_DWARF_NAMES=1 in the environment the program's DWARF is
 * hidden from the type table after it is made, so that names resolve only
 * through the module's typelinks.
 *
 * Exit status 0 when the program opened (query errors are JSON), 1 when
 * not (the error is printed as {"open_error": ...}). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ext/runtime/program.h"
#include "../../ext/runtime/types.h"

static void jstr(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static const char *tname(struct gh_types *T, gh_type_id id)
{
	const struct gh_type *t = gh_type_get(T, id);
	return t ? t->name : "";
}

static void print_type(struct gh_types *T, gh_type_id id)
{
	const struct gh_type *t = gh_type_get(T, id);
	printf("{\"id\": %u, \"addr\": \"0x%llx\", \"name\": ", id, (unsigned long long)t->addr);
	jstr(t->name);
	printf(", \"kind\": \"%s\", \"size\": %llu, \"ptrdata\": %llu, \"direct_iface\": %s", gh_kind_name(t->kind),
	       (unsigned long long)t->size, (unsigned long long)t->ptrdata, t->direct_iface ? "true" : "false");
	if (t->elem) {
		printf(", \"elem\": ");
		jstr(tname(T, t->elem));
	}
	if (t->key) {
		printf(", \"key\": ");
		jstr(tname(T, t->key));
	}
	if (t->kind == GH_KIND_ARRAY)
		printf(", \"len\": %llu", (unsigned long long)t->len);
	if (t->kind == GH_KIND_MAP) {
		printf(", \"map_swiss\": %s, \"map_bucket\": ", t->map_swiss ? "true" : "false");
		jstr(tname(T, t->map_bucket));
		printf(", \"map_bucket_size\": %llu", (unsigned long long)gh_type_get(T, t->map_bucket)->size);
		if (t->map_swiss)
			printf(", \"map_groupsize\": %llu, \"map_slotsize\": %llu, \"map_elemoff\": %llu",
			       (unsigned long long)t->map_groupsize, (unsigned long long)t->map_slotsize,
			       (unsigned long long)t->map_elemoff);
		printf(", \"map_keysoff\": %llu, \"map_keystride\": %llu, \"map_elemsoff\": %llu, \"map_elemstride\": %llu",
		       (unsigned long long)t->map_keysoff, (unsigned long long)t->map_keystride,
		       (unsigned long long)t->map_elemsoff, (unsigned long long)t->map_elemstride);
		if (!t->map_swiss)
			printf(", \"map_keysize\": %u, \"map_valuesize\": %u, \"map_bucketsize\": %u", t->map_keysize,
			       t->map_valuesize, t->map_bucketsize);
	}
	if (t->kind == GH_KIND_STRUCT) {
		printf(", \"fields\": [");
		for (uint32_t i = 0; i < t->nfields; i++) {
			const struct gh_type_field *f = &t->fields[i];
			printf("%s{\"name\": ", i ? ", " : "");
			jstr(f->name);
			printf(", \"offset\": %llu, \"type\": ", (unsigned long long)f->offset);
			jstr(tname(T, f->type));
			printf(", \"size\": %llu, \"embedded\": %s}", (unsigned long long)gh_type_get(T, f->type)->size,
			       f->embedded ? "true" : "false");
		}
		printf("]");
	}
	printf("}");
}

static bool print_err(struct gh_error *err)
{
	printf("\"error\": ");
	jstr(err->msg);
	printf(", \"code\": %d", err->code);
	gh_error_free(err);
	return true;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: types_probe CORE|pid:PID EXE QUERY...\n");
		return 2;
	}
	struct gh_open_opts o = { .core = argv[1], .exe = argv[2] };
	if (!strncmp(argv[1], "pid:", 4)) {
		o.core = NULL;
		o.pid = atoi(argv[1] + 4);
	}
	struct gh_program *p = NULL;
	struct gh_types *T = NULL;
	struct gh_error *err = gh_program_open(&o, &p);
	if (!err)
		err = gh_types_new(p, &T);
	if (err) {
		printf("{\"open_error\": ");
		jstr(err->msg);
		printf(", \"code\": %d}\n", err->code);
		gh_error_free(err);
		gh_program_close(p);
		return 1;
	}
	struct gh_dwarf *dw = p->dw;
	const char *nd = getenv("GH_PROBE_NO_DWARF_NAMES");
	if (nd && !strcmp(nd, "1"))
		p->dw = NULL;
	for (int i = 3; i < argc; i++) {
		const char *q = argv[i];
		printf("{\"query\": ");
		jstr(q);
		printf(", ");
		gh_type_id id = 0;
		bool failed = false;
		if (!strncmp(q, "name:", 5)) {
			id = gh_type_by_name(T, q + 5);
		} else if (!strncmp(q, "global:", 7)) {
			uint64_t a = gh_types_global_type(T, q + 7);
			printf("\"descriptor\": \"0x%llx\", ", (unsigned long long)a);
			if (a && (err = gh_type_at(T, a, &id)))
				failed = print_err(err);
		} else if (!strncmp(q, "addr:", 5)) {
			if ((err = gh_type_at(T, strtoull(q + 5, NULL, 16), &id)))
				failed = print_err(err);
		}
		if (id) {
			printf("\"type\": ");
			print_type(T, id);
		} else if (!failed) {
			printf("\"type\": null");
		}
		printf(", \"count\": %u}\n", gh_types_count(T));
		fflush(stdout);
	}
	gh_types_free(T);
	p->dw = dw;
	gh_program_close(p);
	return 0;
}
