/* Stable LSD radix sort of 64-bit keys.  Used where millions of lookups
 * are batched and sorted by target address so that they walk the heap's
 * tables in order instead of missing the cache on each one. */
#ifndef GH_RADIX_H
#define GH_RADIX_H

#include <stddef.h>
#include <stdint.h>

/* Sorts (*a)[0..n) by (*a)[i] >> low_bits, stable; *tmp holds n elements
 * of scratch.  Only the bits in which keys differ are sorted on (addresses
 * in one heap share their top bits); low_bits lets a caller skip bits that
 * carry a payload, or that it wants locality rather than order from.  The
 * passes alternate between the two buffers: on return *a is the sorted one
 * (the pointers are swapped when that is the other). */
void gh_radix_sort(uint64_t **a, uint64_t **tmp, size_t n, unsigned low_bits);

#endif
