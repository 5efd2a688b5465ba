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
			bu->count = 0;
			for (struct gh_rows_chunk *c = bu->first; c; c = c->next)
				bu->count += c->n;
			if (b < nb) {
				if (!i)
					start[b] = (uint32_t)total;
				total += bu->count;
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
