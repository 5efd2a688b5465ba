/* Symbols via libbfd (the multiarch build, so ARM64 files open too). */
#define PACKAGE "goheap"
#define PACKAGE_VERSION "0"
#include <bfd.h>
#include <stdlib.h>
#include <string.h>

#include "../util/sort.h"
#include "symbols.h"

struct gh_symbols {
	bfd *abfd;
	asymbol **raw;
	struct gh_symbol *syms; /* sorted by name; names owned by abfd */
	size_t n;
};

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct gh_symbol *)a)->name, ((const struct gh_symbol *)b)->name);
}

void gh_symbols_free(struct gh_symbols *s)
{
	if (!s)
		return;
	free(s->syms);
	free(s->raw);
	if (s->abfd)
		bfd_close(s->abfd);
	free(s);
}

struct gh_error *gh_symbols_load(const char *path, bool symtab, struct gh_symbols **out)
{
	static int inited;
	if (!inited) {
		bfd_init();
		inited = 1;
	}
	struct gh_symbols *s = calloc(1, sizeof(*s));
	if (!s)
		return &gh_error_nomem;
	*out = s;
	s->abfd = bfd_openr(path, NULL);
	if (!s->abfd)
		return gh_errorf(GH_ERR_IO, "libbfd cannot open %s: %s", path, bfd_errmsg(bfd_get_error()));
	if (!bfd_check_format(s->abfd, bfd_object))
		return gh_errorf(GH_ERR_FORMAT, "libbfd cannot read %s: %s", path, bfd_errmsg(bfd_get_error()));
	long bound = symtab ? bfd_get_symtab_upper_bound(s->abfd) : 0;
	if (bound <= 0)
		return NULL; /* stripped */
	s->raw = malloc((size_t)bound);
	if (!s->raw)
		return &gh_error_nomem;
	long n = bfd_canonicalize_symtab(s->abfd, s->raw);
	if (n < 0)
		return gh_errorf(GH_ERR_FORMAT, "libbfd cannot read the symbols of %s: %s", path,
				 bfd_errmsg(bfd_get_error()));
	s->syms = calloc((size_t)n + 1, sizeof(*s->syms));
	if (!s->syms)
		return &gh_error_nomem;
	for (long i = 0; i < n; i++) {
		asymbol *a = s->raw[i];
		if (!a->name || !*a->name || (a->flags & (BSF_SECTION_SYM | BSF_FILE)) || bfd_is_und_section(a->section))
			continue;
		s->syms[s->n].name = a->name;
		s->syms[s->n].addr = bfd_asymbol_value(a);
		s->n++;
	}
	gh_sort(s->syms, s->n, sizeof(*s->syms), by_name);
	return NULL;
}

size_t gh_symbols_count(const struct gh_symbols *s)
{
	return s ? s->n : 0;
}

const struct gh_symbol *gh_symbols_find(const struct gh_symbols *s, const char *name)
{
	if (!s || !s->n)
		return NULL;
	struct gh_symbol key = { .name = name };
	return bsearch(&key, s->syms, s->n, sizeof(*s->syms), by_name);
}
