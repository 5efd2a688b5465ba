/* Block cache in front of a slow reader (GDB's memory reads cost microseconds
 * per call; large blocks reach the speed of the core file). */
#ifndef GH_PAGE_CACHE_H
#define GH_PAGE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "target.h"

struct gh_page_cache;

struct gh_page_cache *gh_page_cache_new(gh_read_fn fn, void *arg);
void gh_page_cache_free(struct gh_page_cache *c);
bool gh_page_cache_read(struct gh_page_cache *c, uint64_t addr, void *buf, size_t len);

#endif
