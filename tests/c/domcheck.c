/* Independent check of goheap's dominators and retained sizes.
 *
 * Reads a graph written by `goheap graph --output FILE` (vertices with
 * goheap's retained sizes, and edges), picks N reachable object vertices
 * with a fixed seed, and for each one removes it, recomputes reachability
 * from the super-root by plain breadth-first search, and checks that the
 * bytes no longer reachable (the vertex and everything only it kept alive)
 * equal goheap's retained size for it.  Shares no code with goheap.
 *
 *   domcheck GRAPH N SEED      prints "checked K, mismatches M" and the first
 *                              mismatches; exit 0 iff M == 0 and K == min(N, reachable objects)
 *   domcheck GRAPH --roots     the same for every root vertex, then a line
 *                              "root V FREED" for each: what removing it frees
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t nv, nroots;
static uint64_t *size, *retained;
static uint8_t *reach;
static uint32_t *off, *adj;

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Bytes reachable from vertex 0 without passing through `cut`. */
static uint64_t reachable_bytes(uint32_t cut, uint8_t *seen, uint32_t *queue)
{
	memset(seen, 0, nv);
	uint32_t qh = 0, qt = 0;
	uint64_t bytes = 0;
	seen[0] = 1;
	queue[qt++] = 0;
	while (qh < qt) {
		uint32_t v = queue[qh++];
		bytes += size[v];
		for (uint32_t e = off[v]; e < off[v + 1]; e++) {
			uint32_t w = adj[e];
			if (w != cut && !seen[w]) {
				seen[w] = 1;
				queue[qt++] = w;
			}
		}
	}
	return bytes;
}

/* Removes v: what that frees (of all reachable bytes), checked against
 * goheap's retained size for v. */
static uint64_t check(uint32_t v, uint64_t all, uint8_t *seen, uint32_t *queue, long *checked, long *bad)
{
	uint64_t freed = all - reachable_bytes(v, seen, queue);
	++*checked;
	if (freed != retained[v]) {
		if (*bad < 5)
			printf("vertex %" PRIu32 "%s: goheap retains %" PRIu64 ", removing it frees %" PRIu64 "\n", v,
			       v <= nroots ? " (a root)" : "", retained[v], freed);
		++*bad;
	}
	return freed;
}

int main(int argc, char **argv)
{
	bool roots = argc == 3 && !strcmp(argv[2], "--roots");
	if (argc != 4 && !roots) {
		fprintf(stderr, "usage: domcheck GRAPH N SEED | domcheck GRAPH --roots\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return 2;
	}
	long want = roots ? 0 : atol(argv[2]);
	if (!roots)
		rng ^= (uint64_t)atoll(argv[3]) * 0x9E3779B97F4A7C15ull;
	char line[256];
	size_t ecap = 1 << 20, ne = 0;
	uint32_t *eu = malloc(ecap * 4), *ev = malloc(ecap * 4);
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#')
			continue;
		if (line[0] == 'V') {
			sscanf(line, "V %" SCNu32 " %" SCNu32, &nv, &nroots);
			size = calloc(nv, 8);
			retained = calloc(nv, 8);
			reach = calloc(nv, 1);
		} else if (line[0] == 'E') {
			if (ne == ecap) {
				ecap *= 2;
				eu = realloc(eu, ecap * 4);
				ev = realloc(ev, ecap * 4);
			}
			sscanf(line, "E %" SCNu32 " %" SCNu32, &eu[ne], &ev[ne]);
			ne++;
		} else {
			uint32_t v, idom;
			uint64_t s, r;
			int re;
			if (sscanf(line, "%" SCNu32 " %" SCNu64 " %" SCNu32 " %" SCNu64 " %d", &v, &s, &idom, &r, &re) == 5 && v < nv) {
				size[v] = s;
				retained[v] = r;
				reach[v] = (uint8_t)re;
			}
		}
	}
	fclose(f);
	off = calloc((size_t)nv + 1, 4);
	adj = malloc((ne + 1) * 4);
	for (size_t i = 0; i < ne; i++)
		off[eu[i] + 1]++;
	for (uint32_t v = 0; v < nv; v++)
		off[v + 1] += off[v];
	uint32_t *cur = malloc((size_t)nv * 4);
	memcpy(cur, off, (size_t)nv * 4);
	for (size_t i = 0; i < ne; i++)
		adj[cur[eu[i]]++] = ev[i];
	uint8_t *seen = malloc(nv);
	uint32_t *queue = malloc((size_t)nv * 4);
	uint64_t all = reachable_bytes(UINT32_MAX, seen, queue);
	uint32_t *cands = malloc((size_t)nv * 4), nc = 0;
	for (uint32_t v = nroots + 1; v < nv; v++)
		if (reach[v])
			cands[nc++] = v;
	long checked = 0, bad = 0;
	for (uint32_t v = 1; roots && v <= nroots; v++)
		printf("root %" PRIu32 " %" PRIu64 "\n", v, check(v, all, seen, queue, &checked, &bad));
	for (long i = 0; i < want && nc; i++) {
		uint32_t k = (uint32_t)(next_rand() % nc), v = cands[k];
		cands[k] = cands[--nc]; /* sample without replacement */
		check(v, all, seen, queue, &checked, &bad);
	}
	printf("checked %ld, mismatches %ld\n", checked, bad);
	return bad == 0 ? 0 : 1;
}
