#include "rows.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "threads.h"

#define MIN_SHIFT 10
#define MAX_SHIFT 16        /* a row within its bucket is 16 bits */
#define CHUNK_PAIRS 43680   /* a chunk just under 256 KiB */

struct gh_rows_chunk {
	struct gh_rows_chunk *next; /* the next newer */
	uint32_t n;
	uint32_t val[CHUNK_PAIRS];
	uint16_t row[CHUNK_PAIRS];
};

struct gh_error *gh_rows_init(struct gh_rows *r, uint32_t nrows)
{
	memset(r, 0, sizeof(*r));
	for (r->shift = MIN_SHIFT; r->shift < MAX_SHIFT && (nrows >> r->shift) > 256; r->shift++)
		;
	r->nb = (nrows ? (nrows - 1) >> r->shift : 0) + 1;
	if (!(r->b = calloc(r->nb, sizeof(*r->b))))
		return &gh_error_nomem;
	return NULL;
}

static void free_chunks(struct gh_rows_bucket *bu)
{
	for (struct gh_rows_chunk *c = bu->first, *next; c; c = next) {
		next = c->next;
		munmap(c, sizeof(*c));
	}
	bu->first = bu->last = NULL;
}

void gh_rows_free(struct gh_rows *r)
{
	for (uint32_t b = 0; r->b && b < r->nb; b++)
		free_chunks(&r->b[b]);
	free(r->b);
	memset(r, 0, sizeof(*r));
}

bool gh_rows_grow(struct gh_rows_bucket *bu)
{
	struct gh_rows_chunk *c = mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED)
		return false;
	c->next = NULL;
	c->n = CHUNK_PAIRS; /* full, unless it is still the newest when laid out */
	if (bu->last)
		bu->last->next = c;
	else
		bu->first = c;
	bu->last = c;
	bu->val = c->val;
	bu->row = c->row;
	bu->left = CHUNK_PAIRS;
	return true;
}

/* ---- feeding the rows from another thread ---- */

/* Waits a little for the other thread: it works in blocks of thousands of
 * pairs, so a few loads, then short sleeps. */
static void feed_wait(unsigned *spins)
{
	if (++*spins >= 64)
		gh_thread_pause();
}

static void feed_add_block(struct gh_rows_feed *f, const uint64_t *b, uint32_t n)
{
	for (uint32_t k = 0; k < n; k++)
		if (!gh_rows_add(f->r, (uint32_t)(b[k] >> 32), (uint32_t)b[k])) {
			__atomic_store_n(&f->nomem, true, __ATOMIC_RELAXED); /* read by the maker */
			return;
		}
}

static void *feed_thread(void *arg)
{
	struct gh_rows_feed *f = arg;
	unsigned spins = 0;
	for (;;) {
		/* done before made: once done is seen, made is final. */
		bool done = __atomic_load_n(&f->done, __ATOMIC_ACQUIRE);
		uint64_t taken = f->taken, made = __atomic_load_n(&f->made, __ATOMIC_ACQUIRE);
		if (taken < made || done) { /* a full block, or the last one, fill pairs */
			if (!__atomic_load_n(&f->nomem, __ATOMIC_RELAXED))
				feed_add_block(f, f->blocks + (taken % GH_FEED_BLOCKS) * GH_FEED_BLOCK,
					       taken < made ? GH_FEED_BLOCK : f->fill);
			if (taken == made)
				return NULL;
			__atomic_store_n(&f->taken, taken + 1, __ATOMIC_RELEASE);
			spins = 0;
		} else {
			feed_wait(&spins);
		}
	}
}

struct gh_rows_feed *gh_rows_feed_start(struct gh_rows *r)
{
	if (gh_threads() < 2)
		return NULL;
	struct gh_rows_feed *f = calloc(1, sizeof(*f));
	uint64_t *blocks = malloc((size_t)GH_FEED_BLOCKS * GH_FEED_BLOCK * sizeof(*blocks));
	if (f && blocks) {
		f->blocks = f->cur = blocks;
		f->r = r;
		if (gh_thread_start(&f->th, feed_thread, f))
			return f;
	}
	free(f);
	free(blocks);
	return NULL;
}

/* The current block is full: hands it over and takes the next, waiting
 * while the other thread still has every block. */
bool gh_rows_feed_next(struct gh_rows_feed *f)
{
	uint64_t made = f->made + 1;
	__atomic_store_n(&f->made, made, __ATOMIC_RELEASE);
	unsigned spins = 0;
	while (made - __atomic_load_n(&f->taken, __ATOMIC_ACQUIRE) >= GH_FEED_BLOCKS)
		feed_wait(&spins);
	f->cur = f->blocks + (made % GH_FEED_BLOCKS) * GH_FEED_BLOCK;
	f->fill = 0;
	return !__atomic_load_n(&f->nomem, __ATOMIC_RELAXED);
}

struct gh_error *gh_rows_feed_finish(struct gh_rows_feed *f)
{
	__atomic_store_n(&f->done, true, __ATOMIC_RELEASE);
	pthread_join(f->th, NULL);
	bool nomem = __atomic_load_n(&f->nomem, __ATOMIC_RELAXED);
	free(f->blocks);
	free(f);
	return nomem ? &gh_error_nomem : NULL;
}

/* Lays out buckets lo..hi-1, each with a counter per row; a bucket's
 * pairs are those of r[0], then r[1], ... */
struct part {
	struct gh_rows *r;
	unsigned nr;
	uint32_t nrows;
	const uint32_t *start; /* per bucket, its first pair in vals */
	uint32_t *off, *vals;
	uint32_t *cnt;         /* a bucket's rows + 1 */
	uint32_t lo, hi;
};

static void *lay_part(void *arg)
{
	struct part *p = arg;
	unsigned shift = p->r[0].shift;
	for (uint32_t b = p->lo; b < p->hi; b++) {
		uint32_t size = 1u << shift, base = b << shift;
		uint32_t rows = p->nrows - base < size ? p->nrows - base : size;
		memset(p->cnt, 0, ((size_t)rows + 1) * sizeof(*p->cnt));
		for (unsigned i = 0; i < p->nr; i++)
			for (struct gh_rows_chunk *c = p->r[i].b[b].first; c; c = c->next)
				for (uint32_t k = 0; k < c->n; k++)
					p->cnt[c->row[k] + 1]++;
		uint32_t at = p->start[b];
		for (uint32_t k = 0; k < rows; k++) {
			p->off[base + k] = at;
			at += p->cnt[k + 1];
			p->cnt[k] = p->off[base + k]; /* row k's next slot */
		}
		for (unsigned i = 0; i < p->nr; i++) {
			for (struct gh_rows_chunk *c = p->r[i].b[b].first; c; c = c->next)
				for (uint32_t k = 0; k < c->n; k++)
					p->vals[p->cnt[c->row[k]]++] = c->val[k];
			free_chunks(&p->r[i].b[b]);
		}
	}
	return NULL;
}

struct gh_error *gh_rows_lay_out(struct gh_rows *r, uint32_t nrows, uint32_t **off, uint32_t **vals)
{
	return gh_rows_lay_out_n(r, 1, nrows, off, vals);
}

struct gh_error *gh_rows_lay_out_n(struct gh_rows *r, unsigned nr, uint32_t nrows, uint32_t **off, uint32_t **vals)
{
	*off = *vals = NULL;
	for (unsigned i = 1; i < nr; i++)
		if (r[i].shift != r[0].shift || r[i].nb != r[0].nb)
			return gh_errorf(GH_ERR_USAGE, "rows laid out together were made for different room");
	uint32_t nb = nrows ? ((nrows - 1) >> r[0].shift) + 1 : 0;
	if (nb > r[0].nb)
		return gh_errorf(GH_ERR_USAGE, "rows laid out beyond the room given");
	uint32_t *start = malloc(((size_t)nb + 1) * sizeof(*start));
	if (!start)
		return &gh_error_nomem;
	uint64_t total = 0;
	for (uint32_t b = 0; b < r[0].nb; b++) {
		for (unsigned i = 0; i < nr; i++) {
			struct gh_rows_bucket *bu = &r[i].b[b];
			if (bu->last)
				bu->last->n = CHUNK_PAIRS - bu->left;
			if (b < nb) {
				if (!i)
					start[b] = (uint32_t)total;
				for (struct gh_rows_chunk *c = bu->first; c; c = c->next)
					total += c->n;
			}
		}
	}
	struct gh_error *err = &gh_error_nomem;
	struct part parts[GH_MAX_PARTS];
	unsigned n = gh_parts(total >= (1u << 12));
	if (total >= UINT32_MAX) {
		err = gh_errorf(GH_ERR_UNSUPPORTED, "more than 2^32 rows' values");
		goto out;
	}
	start[nb] = (uint32_t)total;
	if (!(*off = malloc(((size_t)nrows + 1) * sizeof(**off))) || !(*vals = malloc((total + 1) * sizeof(**vals))))
		goto out;
	(*off)[nrows] = (uint32_t)total;
	for (unsigned k = 0; k < n; k++)
		if (!(parts[k].cnt = malloc(((1u << r[0].shift) + 1) * sizeof(uint32_t)))) {
			n = k;
			break;
		}
	if (!n)
		goto out;
	for (unsigned k = 0, b = 0; k < n; k++) { /* parts of about equal pair counts */
		parts[k] = (struct part){ r, nr, nrows, start, *off, *vals, parts[k].cnt, b, 0 };
		while (b < nb && (k == n - 1 || start[b] < total * (k + 1) / n))
			b++;
		parts[k].hi = b;
	}
	gh_run_parts(parts, sizeof(parts[0]), n, lay_part);
	for (unsigned k = 0; k < n; k++)
		free(parts[k].cnt);
	err = NULL;
out:
	free(start);
	if (err) {
		free(*off);
		free(*vals);
		*off = *vals = NULL;
	}
	return err;
}
