/* Direct-mapped cache of 64 KiB blocks.  A block that cannot be read whole
 * (it straddles an unmapped page) is read page by page; pages that fail are
 * remembered as faults so they are not asked for again. */
#include <stdlib.h>
#include <string.h>

#include "page_cache.h"

#define BLOCK_SHIFT 16
#define BLOCK_SIZE (1u << BLOCK_SHIFT)
#define PAGE_SIZE_ 4096u
#define PAGES_PER_BLOCK (BLOCK_SIZE / PAGE_SIZE_)
#define NSLOTS 256u /* 16 MiB */

struct slot {
	uint64_t base; /* block address; UINT64_MAX when empty */
	uint8_t valid[PAGES_PER_BLOCK];
	uint8_t *data;
};

struct gh_page_cache {
	gh_read_fn fn;
	void *arg;
	struct slot slots[NSLOTS];
};

struct gh_page_cache *gh_page_cache_new(gh_read_fn fn, void *arg)
{
	struct gh_page_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fn = fn;
	c->arg = arg;
	for (unsigned i = 0; i < NSLOTS; i++)
		c->slots[i].base = UINT64_MAX;
	return c;
}

void gh_page_cache_free(struct gh_page_cache *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < NSLOTS; i++)
		free(c->slots[i].data);
	free(c);
}

static struct slot *load(struct gh_page_cache *c, uint64_t base)
{
	struct slot *s = &c->slots[(base >> BLOCK_SHIFT) % NSLOTS];
	if (s->base == base)
		return s;
	if (!s->data && !(s->data = malloc(BLOCK_SIZE)))
		return NULL;
	s->base = base;
	if (c->fn(c->arg, base, s->data, BLOCK_SIZE)) {
		memset(s->valid, 1, sizeof(s->valid));
		return s;
	}
	for (unsigned p = 0; p < PAGES_PER_BLOCK; p++)
		s->valid[p] = c->fn(c->arg, base + p * PAGE_SIZE_, s->data + p * PAGE_SIZE_, PAGE_SIZE_);
	return s;
}

bool gh_page_cache_read(struct gh_page_cache *c, uint64_t addr, void *buf, size_t len)
{
	uint8_t *out = buf;
	while (len) {
		uint64_t base = addr & ~(uint64_t)(BLOCK_SIZE - 1);
		struct slot *s = load(c, base);
		if (!s)
			return c->fn(c->arg, addr, out, len);
		uint64_t off = addr - base;
		size_t n = BLOCK_SIZE - off < len ? BLOCK_SIZE - off : len;
		for (uint64_t p = off / PAGE_SIZE_; p <= (off + n - 1) / PAGE_SIZE_; p++)
			if (!s->valid[p])
				return false;
		memcpy(out, s->data + off, n);
		out += n;
		addr += n;
		len -= n;
	}
	return true;
}
