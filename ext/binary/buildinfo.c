#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buildinfo.h"

static const char magic[] = "\xff Go buildinf:";

static bool uvarint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;
	for (int shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

bool gh_goversion_parse(const char *s, struct gh_goversion *v)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->raw, sizeof(v->raw), "%s", s);
	const char *go = strstr(s, "go1.");
	if (!go)
		return false;
	v->devel = !strncmp(s, "devel", 5);
	v->major = 1;
	char *end;
	v->minor = (int)strtol(go + 4, &end, 10);
	if (end == go + 4)
		return false;
	if (*end == '.')
		v->patch = (int)strtol(end + 1, &end, 10);
	const char *x = strstr(end, "X:");
	if (x) {
		size_t n = strcspn(x + 2, " ");
		if (n >= sizeof(v->experiments))
			n = sizeof(v->experiments) - 1;
		memcpy(v->experiments, x + 2, n);
		v->experiments[n] = 0;
	}
	return true;
}

struct gh_error *gh_goversion_check(const struct gh_goversion *v)
{
	if (v->major != 1 || v->minor < GH_GO_MIN_MINOR || v->minor > GH_GO_MAX_MINOR)
		return gh_errorf(GH_ERR_UNSUPPORTED, "unsupported Go version %s: goheap reads Go 1.%d through 1.%d",
				 v->raw, GH_GO_MIN_MINOR, GH_GO_MAX_MINOR);
	return NULL;
}

static void setting(const char *modinfo, const char *key, char *out, size_t outlen)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "build\t%s=", key);
	const char *p = strstr(modinfo, pat);
	if (!p)
		return;
	p += strlen(pat);
	size_t n = strcspn(p, "\n");
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, p, n);
	out[n] = 0;
}

static const uint8_t *find_blob(const struct gh_exe *e, size_t *len)
{
	const struct gh_exe_section *s = gh_exe_section(e, ".go.buildinfo");
	if (s) {
		const uint8_t *d = gh_exe_section_data(e, s);
		if (d && s->size >= 32 && !memcmp(d, magic, 14)) {
			*len = s->size;
			return d;
		}
	}
	/* Section headers gone: the blob opens the first writable segment's
	 * data, 16-byte aligned. */
	for (size_t i = 0; i < e->phnum; i++) {
		const Elf64_Phdr *p = &e->phdr[i];
		if (p->p_type != PT_LOAD || !(p->p_flags & PF_W) || p->p_offset > e->size)
			continue;
		uint64_t n = p->p_filesz < e->size - p->p_offset ? p->p_filesz : e->size - p->p_offset;
		for (uint64_t off = 0; off + 32 <= n; off += 16)
			if (!memcmp(e->map + p->p_offset + off, magic, 14)) {
				*len = n - off;
				return e->map + p->p_offset + off;
			}
		break;
	}
	return NULL;
}

struct gh_error *gh_buildinfo_read(const struct gh_exe *e, struct gh_buildinfo *bi)
{
	memset(bi, 0, sizeof(*bi));
	size_t len;
	const uint8_t *d = find_blob(e, &len);
	if (!d)
		return gh_errorf(GH_ERR_UNSUPPORTED, "%s is not a Go executable (no Go build information)", e->path);
	if (!(d[15] & 2))
		return gh_errorf(GH_ERR_UNSUPPORTED,
				 "%s was built by a Go older than 1.18 (old build information format); goheap reads Go 1.%d through 1.%d",
				 e->path, GH_GO_MIN_MINOR, GH_GO_MAX_MINOR);
	const uint8_t *p = d + 32, *end = d + len;
	uint64_t n;
	if (!uvarint(&p, end, &n) || n >= sizeof(bi->version.raw) || n > (uint64_t)(end - p))
		return gh_errorf(GH_ERR_FORMAT, "corrupt Go build information in %s", e->path);
	char ver[128];
	memcpy(ver, p, n);
	ver[n] = 0;
	p += n;
	if (!gh_goversion_parse(ver, &bi->version))
		return gh_errorf(GH_ERR_UNSUPPORTED, "unrecognised Go version string \"%s\" in %s", ver, e->path);
	if (uvarint(&p, end, &n) && n <= (uint64_t)(end - p)) {
		char *mod = malloc(n + 1);
		if (!mod)
			return &gh_error_nomem;
		memcpy(mod, p, n);
		mod[n] = 0;
		setting(mod, "GOARCH", bi->goarch, sizeof(bi->goarch));
		setting(mod, "GOEXPERIMENT", bi->goexperiment, sizeof(bi->goexperiment));
		setting(mod, "CGO_ENABLED", bi->cgo, sizeof(bi->cgo));
		const char *path = strstr(mod, "path\t");
		if (path) {
			path += 5;
			size_t pl = strcspn(path, "\n");
			if (pl >= sizeof(bi->main_path))
				pl = sizeof(bi->main_path) - 1;
			memcpy(bi->main_path, path, pl);
			bi->main_path[pl] = 0;
		}
		free(mod);
	}
	return NULL;
}
