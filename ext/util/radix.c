#include "radix.h"

#include <string.h>

#define DIGIT_BITS 11
#define BUCKETS (1u << DIGIT_BITS)

/* Below this many keys, insertion sort: a radix pass clears and sums
 * BUCKETS counters whatever the number of keys, and batches of a few keys
 * are common (a walk following lists applies what each step proposes). */
#define SMALL 64

static uint64_t *sort(uint64_t *a, uint64_t *tmp, size_t n, unsigned low_bits)
{
	if (n < 2 || low_bits >= 64)
		return a;
	if (n <= SMALL) { /* stable: a key moves only past greater ones */
		for (size_t i = 1; i < n; i++) {
			uint64_t x = a[i];
			size_t j = i;
			for (; j && a[j - 1] >> low_bits > x >> low_bits; j--)
				a[j] = a[j - 1];
			a[j] = x;
		}
		return a;
	}
	uint64_t diff = 0;
	for (size_t i = 1; i < n; i++)
		diff |= a[i] ^ a[0];
	diff &= ~0ull << low_bits;
	if (!diff)
		return a;
	unsigned shift = (unsigned)__builtin_ctzll(diff), top = 64 - (unsigned)__builtin_clzll(diff);
	size_t count[BUCKETS];
	for (; shift < top; shift += DIGIT_BITS) {
		memset(count, 0, sizeof(count));
		for (size_t i = 0; i < n; i++)
			count[(a[i] >> shift) & (BUCKETS - 1)]++;
		size_t sum = 0;
		for (size_t d = 0; d < BUCKETS; d++) {
			size_t c = count[d];
			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			tmp[count[(a[i] >> shift) & (BUCKETS - 1)]++] = a[i];
		uint64_t *s = a;
		a = tmp;
		tmp = s;
	}
	return a;
}

void gh_radix_sort(uint64_t **a, uint64_t **tmp, size_t n, unsigned low_bits)
{
	if (sort(*a, *tmp, n, low_bits) == *tmp) {
		uint64_t *s = *a;
		*a = *tmp;
		*tmp = s;
	}
}
