/* Transparent huge pages for big tables that are read at random (the object
 * table of a 10M-object heap is 120 MB: with 4 KiB pages nearly every lookup
 * also misses the TLB).  Advisory: without THP it does nothing. */
#ifndef GH_HUGEPAGE_H
#define GH_HUGEPAGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

static inline void gh_advise_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
	const uintptr_t huge = 2u << 20;
	uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1), e = ((uintptr_t)p + n) & ~(huge - 1);
	if (e > a)
		madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
	(void)p;
	(void)n;
#endif
}

#endif
