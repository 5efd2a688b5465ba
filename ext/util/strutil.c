#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"

char *gh_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

char *gh_strndup(const char *s, size_t n)
{
	char *r = malloc(n + 1);
	if (!r)
		return NULL;
	memcpy(r, s, n);
	r[n] = 0;
	return r;
}

char *gh_abspath(const char *path)
{
	char *r = realpath(path, NULL);
	return r ? r : gh_strdup(path);
}

bool gh_parse_u64(const char *s, uint64_t *out)
{
	if (!s || !*s)
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || *s == '-')
		return false;
	*out = v;
	return true;
}

void gh_fmt_bytes(char *buf, size_t n, uint64_t bytes)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, n, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, n, "%.1f %s", v, units[u]);
}

void gh_fmt_duration(char *b, size_t n, int64_t ns)
{
	const char *sign = ns < 0 ? "-" : "";
	uint64_t a = ns < 0 ? -(uint64_t)ns : (uint64_t)ns, s = a / 1000000000ull;
	if (s >= 3600)
		snprintf(b, n, "%s%" PRIu64 "h%02" PRIu64 "m", sign, s / 3600, s / 60 % 60);
	else if (s >= 60)
		snprintf(b, n, "%s%" PRIu64 "m%02" PRIu64 "s", sign, s / 60, s % 60);
	else
		snprintf(b, n, "%s%.3fs", sign, (double)a / 1e9);
}

void gh_append_line(char **text, const char *fmt, va_list ap)
{
	char line[512];
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	size_t add = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	size_t old = *text ? strlen(*text) : 0;
	char *w = realloc(*text, old + add + 2);
	if (!w)
		return;
	memcpy(w + old, line, add);
	memcpy(w + old + add, "\n", 2);
	*text = w;
}
