/* Check of ext/util/rows.h against a plain counting sort.
 *
 * Makes NPAIRS (row, value) pairs with a fixed seed, rows skewed so that
 * some rows get many values and some none, values rising in the order the
 * pairs are made; gathers them with gh_rows into room for ROOM rows and lays
 * out the first NROWS (every pair's row is below NROWS); then compares every
 * row's offsets and values, in order, with what a counting sort written
 * here computes.  With GATHERINGS g > 1 the pairs, in the order they are
 * made, are cut into g runs, each gathered apart, and the g laid out
 * together (gh_rows_lay_out_n), which must give the same rows.  With
 * GATHERINGS "feed" the pairs go through gh_rows_feed (gathered on another
 * thread when goheap may use two).  Shares no code with goheap but the
 * functions under test.
 *
 *   rows_check ROOM NROWS NPAIRS SEED [GATHERINGS|feed]
 *       prints "rows R pairs P buckets B ok" or the first differences; exit 0 iff ok
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ext/util/rows.h"

static uint64_t rng;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

int main(int argc, char **argv)
{
	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: rows_check ROOM NROWS NPAIRS SEED [GATHERINGS]\n");
		return 2;
	}
	bool fed = argc == 6 && !strcmp(argv[5], "feed");
	unsigned ng = argc == 6 && !fed ? (unsigned)strtoul(argv[5], NULL, 0) : 1;
	if (ng < 1 || ng > 8) {
		fprintf(stderr, "bad arguments\n");
		return 2;
	}
	uint32_t room = (uint32_t)strtoul(argv[1], NULL, 0), nrows = (uint32_t)strtoul(argv[2], NULL, 0);
	uint32_t npairs = (uint32_t)strtoul(argv[3], NULL, 0);
	rng = strtoull(argv[4], NULL, 0) | 1;
	if (nrows > room || (npairs && !nrows)) {
		fprintf(stderr, "bad arguments\n");
		return 2;
	}
	uint32_t *row = malloc(((size_t)npairs + 1) * sizeof(*row));
	uint32_t *want_off = calloc((size_t)nrows + 2, sizeof(*want_off));
	uint32_t *want = malloc(((size_t)npairs + 1) * sizeof(*want));
	if (!row || !want_off || !want)
		return 2;
	for (uint32_t k = 0; k < npairs; k++) {
		uint64_t r = next_rand();
		/* A quarter of the pairs into the first 1/64 of the rows. */
		uint32_t span = (r & 3) ? nrows : (nrows + 63) / 64;
		row[k] = (uint32_t)((r >> 8) % span);
		want_off[row[k] + 2]++;
	}
	for (uint32_t i = 0; i < nrows; i++)
		want_off[i + 2] += want_off[i + 1];
	for (uint32_t k = 0; k < npairs; k++)
		want[want_off[row[k] + 1]++] = k; /* value k: the order pairs were made in */

	struct gh_rows rows[8];
	struct gh_error *err = NULL;
	for (unsigned i = 0; i < ng && !err; i++)
		err = gh_rows_init(&rows[i], room);
	struct gh_rows_feed *feed = fed && !err ? gh_rows_feed_start(&rows[0]) : NULL;
	if (fed && feed) {
		for (uint32_t k = 0; k < npairs && !err; k++)
			if (!gh_rows_feed_add(feed, row[k], k))
				err = &gh_error_nomem;
		struct gh_error *ferr = gh_rows_feed_finish(feed);
		if (!err)
			err = ferr;
		ng = 0; /* done: no runs below */
	}
	for (unsigned i = 0; i < ng && !err; i++) /* run i: pairs [npairs * i / ng, npairs * (i + 1) / ng) */
		for (uint32_t k = (uint32_t)((uint64_t)npairs * i / ng); k < (uint64_t)npairs * (i + 1) / ng && !err; k++)
			if (!gh_rows_add(&rows[i], row[k], k))
				err = &gh_error_nomem;
	uint32_t *off = NULL, *vals = NULL;
	uint32_t nb = rows[0].nb;
	if (!ng)
		ng = 1;
	if (!err)
		err = ng == 1 ? gh_rows_lay_out(&rows[0], nrows, &off, &vals) : gh_rows_lay_out_n(rows, ng, nrows, &off, &vals);
	for (unsigned i = 0; i < ng; i++)
		gh_rows_free(&rows[i]);
	if (err) {
		printf("error: %s\n", err->msg);
		return 1;
	}
	unsigned bad = 0;
	for (uint32_t i = 0; i <= nrows && bad < 10; i++)
		if (off[i] != want_off[i]) {
			printf("row %" PRIu32 " starts at %" PRIu32 ", want %" PRIu32 "\n", i, off[i], want_off[i]);
			bad++;
		}
	for (uint32_t e = 0; e < npairs && bad < 10; e++)
		if (vals[e] != want[e]) {
			printf("value %" PRIu32 " is %" PRIu32 ", want %" PRIu32 "\n", e, vals[e], want[e]);
			bad++;
		}
	if (!bad)
		printf("rows %" PRIu32 " pairs %" PRIu32 " buckets %" PRIu32 " ok\n", nrows, npairs, nb);
	free(row);
	free(want_off);
	free(want);
	free(off);
	free(vals);
	return bad ? 1 : 0;
}
