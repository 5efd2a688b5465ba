/* Growable arrays by macro: GH_VEC(name, T) declares struct name with
 * data/len/cap, a name_push() returning a pointer to the new (zeroed) slot
 * and a name_append(v, n) returning the first of n new slots, left for the
 * caller to fill (NULL when out of memory).  Growth is geometric; free
 * with free(v.data). */
#ifndef GH_VEC_H
#define GH_VEC_H

#include <stdlib.h>
#include <string.h>

#define GH_VEC(name, T)                                                        \
	struct name {                                                          \
		T *data;                                                       \
		size_t len, cap;                                               \
	};                                                                     \
	static inline __attribute__((unused)) T *name##_append(struct name *v, size_t n) \
	{                                                                      \
		if (v->len + n > v->cap) {                                     \
			size_t ncap = v->cap ? v->cap : 16;                    \
			while (ncap < v->len + n)                              \
				ncap *= 2;                                     \
			T *nd = realloc(v->data, ncap * sizeof(T));            \
			if (!nd)                                               \
				return NULL;                                   \
			v->data = nd;                                          \
			v->cap = ncap;                                         \
		}                                                              \
		v->len += n;                                                   \
		return v->data + v->len - n;                                   \
	}                                                                      \
	static inline __attribute__((unused)) T *name##_push(struct name *v)  \
	{                                                                      \
		T *slot = name##_append(v, 1);                                 \
		if (slot)                                                      \
			memset(slot, 0, sizeof(*slot));                        \
		return slot;                                                   \
	}

/* An array grown geometrically, cut to the bytes it holds once complete:
 * a list kept per goroutine would otherwise keep up to half again its size
 * (50,000 goroutines' frames, slots and locals: about 110 MB of slack). */
static inline __attribute__((unused)) void *gh_shrink(void *p, size_t bytes)
{
	if (!bytes) {
		free(p);
		return NULL;
	}
	void *q = realloc(p, bytes);
	return q ? q : p;
}

#endif
