/* Small string helpers shared by every layer. */
#ifndef GH_STRUTIL_H
#define GH_STRUTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

char *gh_strdup(const char *s);
char *gh_strndup(const char *s, size_t n);
/* Absolute, symlink-free form of a path when it exists, else a copy. */
char *gh_abspath(const char *path);
/* Parses a number the way a user types it: 0x-prefixed hex or decimal. */
bool gh_parse_u64(const char *s, uint64_t *out);
/* Human-readable byte count: "512 B", "4.0 KiB", "1.5 MiB". */
void gh_fmt_bytes(char *buf, size_t n, uint64_t bytes);
/* Appends one formatted line (and a newline) to *text, a growing
 * NUL-terminated string of warnings; keeps *text as it was when out of
 * memory.  Lines are cut at 511 bytes. */
void gh_append_line(char **text, const char *fmt, va_list ap);
/* Human-readable duration: "0.250s", "3m07s", "2h05m"; negative with "-". */
void gh_fmt_duration(char *buf, size_t n, int64_t ns);

#endif
