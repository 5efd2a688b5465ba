/* Segment tables and reads through them. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../util/sort.h"
#include "page_cache.h"
#include "target.h"
#include "target_internal.h"

const char *gh_source_name(enum gh_seg_source s)
{
	switch (s) {
	case GH_SRC_CORE: return "core";
	case GH_SRC_EXE: return "executable";
	case GH_SRC_ZERO: return "executable bss (zero)";
	case GH_SRC_PROC: return "process";
	case GH_SRC_CALLBACK: return "debugger";
	}
	return "?";
}

static int seg_cmp(const void *a, const void *b)
{
	const struct gh_segment *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

void gh_segvec_sort(struct gh_segvec *v)
{
	gh_sort(v->data, v->len, sizeof(*v->data), seg_cmp);
}

struct gh_error *gh_target_add_fallback(struct gh_target *t, const struct gh_segment *seg)
{
	struct gh_segment *s = gh_segvec_push(&t->fallback);
	if (!s)
		return &gh_error_nomem;
	*s = *seg;
	gh_segvec_sort(&t->fallback);
	return NULL;
}

/* Last segment with start <= addr, if it contains addr. */
static const struct gh_segment *find(const struct gh_segvec *v, uint64_t addr)
{
	size_t lo = gh_upper_bound(v->data, v->len, sizeof(*v->data), offsetof(struct gh_segment, start), addr);
	if (lo == 0)
		return NULL;
	const struct gh_segment *s = &v->data[lo - 1];
	return addr < s->end ? s : NULL;
}

const struct gh_segment *gh_segment_at(struct gh_target *t, uint64_t addr)
{
	/* Reads come in runs within one segment (the heap is one or a few):
	 * try the last one before searching.  The memo is a hint that
	 * several threads may read and write: relaxed atomics. */
	size_t last = __atomic_load_n(&t->last, __ATOMIC_RELAXED);
	if (last && last <= t->primary.len) {
		const struct gh_segment *l = &t->primary.data[last - 1];
		if (addr >= l->start && addr < l->end)
			return l;
	}
	const struct gh_segment *s = find(&t->primary, addr);
	if (s) {
		__atomic_store_n(&t->last, (size_t)(s - t->primary.data) + 1, __ATOMIC_RELAXED);
		return s;
	}
	return find(&t->fallback, addr);
}

/* Reads within one segment; n bytes fit in it. */
static bool seg_read(struct gh_target *t, const struct gh_segment *s, uint64_t addr, void *buf, size_t n)
{
	switch (s->src) {
	case GH_SRC_CORE:
	case GH_SRC_EXE:
		memcpy(buf, s->data + (addr - s->start), n);
		return true;
	case GH_SRC_ZERO:
		memset(buf, 0, n);
		return true;
	case GH_SRC_PROC:
		return pread(t->mem_fd, buf, n, (off_t)addr) == (ssize_t)n;
	case GH_SRC_CALLBACK:
		return gh_page_cache_read(t->cache, addr, buf, n);
	}
	return false;
}

bool gh_read(struct gh_target *t, uint64_t addr, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		const struct gh_segment *s = gh_segment_at(t, addr);
		if (!s)
			return false;
		uint64_t avail = s->end - addr;
		size_t n = avail < len ? (size_t)avail : len;
		if (!seg_read(t, s, addr, p, n))
			return false;
		if (addr + n < addr && len > n) /* wrapped past the top */
			return false;
		p += n;
		addr += n;
		len -= n;
	}
	return true;
}

struct gh_error *gh_read_err(struct gh_target *t, uint64_t addr, void *buf, size_t len)
{
	if (gh_read(t, addr, buf, len))
		return NULL;
	/* Name the first byte that fails, for a precise message. */
	uint64_t bad = addr;
	for (size_t i = 0; i < len; i++) {
		uint8_t b;
		if (!gh_read(t, addr + i, &b, 1)) {
			bad = addr + i;
			break;
		}
	}
	return gh_errorf(GH_ERR_FAULT, "cannot read %zu bytes at 0x%llx: address 0x%llx is not in the target's memory",
			 len, (unsigned long long)addr, (unsigned long long)bad);
}

bool gh_read_u64(struct gh_target *t, uint64_t addr, uint64_t *v)
{
	return gh_read(t, addr, v, 8);
}

bool gh_read_u32(struct gh_target *t, uint64_t addr, uint32_t *v)
{
	return gh_read(t, addr, v, 4);
}

const void *gh_view(struct gh_target *t, uint64_t addr, size_t len)
{
	const struct gh_segment *s = gh_segment_at(t, addr);
	if (!s || !s->data || s->end - addr < len)
		return NULL;
	return s->data + (addr - s->start);
}

const void *gh_view_or_read(struct gh_target *t, uint64_t addr, size_t len, void *buf)
{
	const void *v = gh_view(t, addr, len);
	return v ? v : buf && gh_read(t, addr, buf, len) ? buf : NULL;
}

bool gh_target_threadsafe(const struct gh_target *t)
{
	/* Cores and executables are mapped, live processes read with pread;
	 * a callback target reads through the front end (GDB, under its
	 * interpreter's lock) and its page cache. */
	return t->kind != GH_TARGET_CALLBACK && !t->cache;
}

struct gh_error *gh_target_add_thread(struct gh_target *t, int64_t tid, const struct gh_regs *regs)
{
	struct gh_thread *th = gh_threadvec_push(&t->threads);
	if (!th)
		return &gh_error_nomem;
	th->tid = tid;
	th->regs = *regs;
	return NULL;
}

static struct gh_target *target_new(enum gh_target_kind kind)
{
	struct gh_target *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->kind = kind;
	t->fd = -1;
	t->mem_fd = -1;
	return t;
}

struct gh_target *gh_target_alloc(enum gh_target_kind kind)
{
	return target_new(kind);
}

void gh_target_close(struct gh_target *t)
{
	if (!t)
		return;
	if (t->attached)
		gh_target_detach(t);
	if (t->map)
		munmap((void *)t->map, t->map_size);
	if (t->fd >= 0)
		close(t->fd);
	if (t->mem_fd >= 0)
		close(t->mem_fd);
	gh_page_cache_free(t->cache);
	for (size_t i = 0; i < t->files.len; i++)
		free(t->files.data[i].path);
	free(t->files.data);
	free(t->primary.data);
	free(t->fallback.data);
	free(t->threads.data);
	free(t->exe_hint);
	free(t->path);
	free(t);
}

struct gh_error *gh_target_open_none(enum gh_arch arch, struct gh_target **out)
{
	struct gh_target *t = target_new(GH_TARGET_EXE_ONLY);
	if (!t || !(t->path = strdup("(executable only)"))) {
		gh_target_close(t);
		return &gh_error_nomem;
	}
	t->arch = arch;
	*out = t;
	return NULL;
}

struct gh_error *gh_target_open_callback(enum gh_arch arch, gh_read_fn fn, void *arg, struct gh_target **out)
{
	struct gh_target *t = target_new(GH_TARGET_CALLBACK);
	if (!t)
		return &gh_error_nomem;
	t->arch = arch;
	t->cb = fn;
	t->cb_arg = arg;
	t->cache = gh_page_cache_new(fn, arg);
	struct gh_segment *s = gh_segvec_push(&t->primary);
	if (!t->cache || !s || !(t->path = strdup("debugger"))) {
		gh_target_close(t);
		return &gh_error_nomem;
	}
	s->start = 0x1000; /* nothing is ever mapped at page 0 */
	s->end = UINT64_MAX;
	s->src = GH_SRC_CALLBACK;
	s->flags = 4;
	*out = t;
	return NULL;
}
