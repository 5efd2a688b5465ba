/* qsort that accepts an empty (possibly NULL) array: qsort(NULL, 0, ...) is
 * undefined behaviour, and empty tables are normal here (stripped
 * executables have no DWARF variables, a corrupt core may have no spans). */
#ifndef GH_SORT_H
#define GH_SORT_H

#include <stdlib.h>

static inline void gh_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

#endif
