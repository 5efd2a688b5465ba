/* qsort that accepts an empty (possibly NULL) array: qsort(NULL, 0, ...) is
 * undefined behaviour, and empty tables are normal here (stripped
 * executables have no DWARF variables, a corrupt core may have no spans). */
#ifndef GH_SORT_H
#define GH_SORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline void gh_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

/* Index + 1 of the last element of a sorted array whose uint64_t key (at
 * byte offset key_off in each element) is <= key; 0 if none.  Every
 * "which range holds this address" lookup (segments, spans, variables,
 * functions) is this search followed by a check of the range's end. */
static inline size_t gh_upper_bound(const void *base, size_t n, size_t stride, size_t key_off, uint64_t key)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t k;
		memcpy(&k, (const char *)base + mid * stride + key_off, sizeof(k));
		if (k <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

#endif
