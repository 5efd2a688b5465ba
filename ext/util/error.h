/* Errors as values: every fallible function returns a gh_error * (NULL on
 * success).  Nothing in the core prints or aborts; the front end decides how
 * to report.  An error carries a code and a one-line message. */
#ifndef GH_ERROR_H
#define GH_ERROR_H

#include <stdarg.h>

enum gh_error_code {
	GH_ERR_NOMEM = 1,
	GH_ERR_IO,          /* open/read/mmap failed */
	GH_ERR_FORMAT,      /* malformed ELF, DWARF, pclntab, ... */
	GH_ERR_FAULT,       /* target address not readable */
	GH_ERR_UNSUPPORTED, /* Go version or architecture goheap cannot read */
	GH_ERR_MISMATCH,    /* core and executable do not belong together */
	GH_ERR_MISSING,     /* runtime symbol, type or field not found */
	GH_ERR_USAGE,       /* bad command line */
	GH_ERR_NOT_FOUND,   /* lookup found nothing (e.g. no function at a PC) */
};

struct gh_error {
	enum gh_error_code code;
	char msg[];
};

struct gh_error *gh_errorf(enum gh_error_code code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
struct gh_error *gh_verrorf(enum gh_error_code code, const char *fmt, va_list ap);
/* Prefixes an error's message with more context; consumes err. */
struct gh_error *gh_error_wrap(struct gh_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void gh_error_free(struct gh_error *err);

/* The error returned when allocating an error fails: never freed. */
extern struct gh_error gh_error_nomem;

#define GH_TRY(expr)                                   \
	do {                                           \
		struct gh_error *gh_try_err_ = (expr); \
		if (gh_try_err_)                       \
			return gh_try_err_;            \
	} while (0)

#endif
