/* Rows built from (row, value) pairs that arrive in any row order: a
 * relation reversed as it is met (the edges into each vertex, gathered
 * while the edges are walked from their sources), laid out at the end as
 * compressed rows, each row's values in the order they were added.
 *
 * Pairs go to buckets of consecutive rows (1 Ki to 64 Ki rows: about 256
 * buckets up to 16 M rows), in chunks mapped and unmapped whole: appending touches a
 * few cache lines per bucket, laying a bucket out keeps its row counters
 * (up to 256 KiB) in cache, and a bucket's memory is returned as soon as its
 * rows are laid out.  6 bytes a pair while gathering, 4 once laid out; no
 * pass reading or writing a per-row array at random. */
#ifndef GH_ROWS_H
#define GH_ROWS_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "threads.h"

struct gh_rows_chunk;

struct gh_rows_bucket {
	uint32_t *val;               /* the newest chunk's next slots */
	uint16_t *row;
	uint32_t left;               /* room left in the newest chunk */
	struct gh_rows_chunk *first; /* oldest chunk first */
	struct gh_rows_chunk *last;
};

struct gh_rows {
	struct gh_rows_bucket *b;
	uint32_t nb;
	unsigned shift; /* a bucket holds 1 << shift rows */
};

/* Room for rows 0..nrows-1. */
struct gh_error *gh_rows_init(struct gh_rows *r, uint32_t nrows);
/* Frees what is left (after gh_rows_lay_out, nothing but the buckets). */
void gh_rows_free(struct gh_rows *r);

bool gh_rows_grow(struct gh_rows_bucket *bu);

/* Adds value to row (below init's nrows).  False when out of memory. */
static inline bool gh_rows_add(struct gh_rows *r, uint32_t row, uint32_t value)
{
	struct gh_rows_bucket *bu = &r->b[row >> r->shift];
	if (!bu->left && !gh_rows_grow(bu))
		return false;
	bu->left--;
	*bu->val++ = value;
	*bu->row++ = (uint16_t)(row & ((1u << r->shift) - 1));
	return true;
}

/* A gathering done on another thread while this one makes the pairs: the
 * maker only appends each pair to a block, the other thread adds the full
 * blocks' pairs to the rows, in order.  For a maker whose own work leaves a
 * CPU idle (the dominators' search): the scattered appends to the buckets
 * move off it. */
#define GH_FEED_BLOCK 8192 /* pairs */
#define GH_FEED_BLOCKS 64
struct gh_rows_feed {
	uint64_t *cur;      /* the block being filled: row << 32 | value */
	uint32_t fill;      /* its pairs */
	uint64_t made;      /* blocks handed over (the other thread reads it) */
	uint64_t taken;     /* blocks added to the rows (this thread reads it) */
	bool done, nomem;
	uint64_t *blocks;   /* GH_FEED_BLOCKS blocks, used in turn */
	struct gh_rows *r;
	pthread_t th;       /* the thread adding the blocks */
};

/* Starts a feed into r on a thread of its own: NULL (and nothing started)
 * when goheap may use one thread only or the thread or memory cannot be
 * had; the caller then adds to r itself. */
struct gh_rows_feed *gh_rows_feed_start(struct gh_rows *r);
bool gh_rows_feed_next(struct gh_rows_feed *f);
/* Appends a pair.  False when out of memory (it may also show at finish). */
static inline bool gh_rows_feed_add(struct gh_rows_feed *f, uint32_t row, uint32_t value)
{
	f->cur[f->fill++] = (uint64_t)row << 32 | value;
	return f->fill < GH_FEED_BLOCK || gh_rows_feed_next(f);
}
/* Hands over the last pairs, waits until all are in the rows and frees the
 * feed; an error if some could not be added. */
struct gh_error *gh_rows_feed_finish(struct gh_rows_feed *f);

/* Lays rows 0..nrows-1 out (nrows at most init's; rows above hold no
 * pair): row k's values are (*vals)[(*off)[k] .. (*off)[k + 1]), with
 * off nrows + 1 entries.  Buckets are laid out on several threads; their
 * chunks are unmapped as they go.  The caller frees *off and *vals. */
struct gh_error *gh_rows_lay_out(struct gh_rows *r, uint32_t nrows, uint32_t **off, uint32_t **vals);
/* The same for nr gatherings made with the same init (one per thread, say),
 * laid out as one: each row's values from r[0] first, then r[1], ... */
struct gh_error *gh_rows_lay_out_n(struct gh_rows *r, unsigned nr, uint32_t nrows, uint32_t **off, uint32_t **vals);

#endif
