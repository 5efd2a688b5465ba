#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* Its message in place: printing err->msg must work for it too (a flexible
 * array member with an initializer: a GCC extension this build relies on). */
struct gh_error gh_error_nomem = { GH_ERR_NOMEM, "out of memory" };

struct gh_error *gh_verrorf(enum gh_error_code code, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		n = 0;
	struct gh_error *e = malloc(sizeof(*e) + (size_t)n + 1);
	if (!e)
		return &gh_error_nomem;
	e->code = code;
	vsnprintf(e->msg, (size_t)n + 1, fmt, ap);
	return e;
}

struct gh_error *gh_errorf(enum gh_error_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct gh_error *e = gh_verrorf(code, fmt, ap);
	va_end(ap);
	return e;
}

struct gh_error *gh_error_wrap(struct gh_error *err, const char *fmt, ...)
{
	if (!err || err == &gh_error_nomem)
		return err;
	char prefix[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	struct gh_error *e = gh_errorf(err->code, "%s: %s", prefix, err->msg);
	gh_error_free(err);
	return e;
}

void gh_error_free(struct gh_error *err)
{
	if (err && err != &gh_error_nomem)
		free(err);
}
