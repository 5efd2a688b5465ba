/* Go version and build settings from the executable's .go.buildinfo blob
 * (kept by -s -w).  The version string carries non-default experiments:
 * "go1.24.4 X:noswissmap" (≤1.25) or "go1.26.0-X:nogreenteagc" (1.26+). */
#ifndef GH_BUILDINFO_H
#define GH_BUILDINFO_H

#include <stdbool.h>

#include "../util/error.h"
#include "exe.h"

struct gh_goversion {
	char raw[128];        /* as written by the linker */
	int major, minor, patch;
	bool devel;
	char experiments[256]; /* comma-separated, "" when default */
};

struct gh_buildinfo {
	struct gh_goversion version;
	char goarch[16];
	char main_path[256];   /* the main package's import path */
	char goexperiment[256]; /* build setting, may be "" */
	char cgo[8];           /* CGO_ENABLED setting, may be "" */
};

struct gh_error *gh_buildinfo_read(const struct gh_exe *e, struct gh_buildinfo *bi);
/* Parses "go1.22.12 X:noallocheaders", "devel go1.27-abcd ...", ... */
bool gh_goversion_parse(const char *s, struct gh_goversion *v);
/* Go releases goheap reads. */
#define GH_GO_MIN_MINOR 20
#define GH_GO_MAX_MINOR 27
struct gh_error *gh_goversion_check(const struct gh_goversion *v);

#endif
