/* Growable arrays by macro: GH_VEC(name, T) declares struct name with
 * data/len/cap and a name_push() returning a pointer to the new slot (NULL
 * when out of memory).  Growth is geometric; free with free(v.data). */
#ifndef GH_VEC_H
#define GH_VEC_H

#include <stdlib.h>
#include <string.h>

#define GH_VEC(name, T)                                                        \
	struct name {                                                          \
		T *data;                                                       \
		size_t len, cap;                                               \
	};                                                                     \
	static inline __attribute__((unused)) T *name##_push(struct name *v)  \
	{                                                                      \
		if (v->len == v->cap) {                                        \
			size_t ncap = v->cap ? v->cap * 2 : 16;                \
			T *nd = realloc(v->data, ncap * sizeof(T));            \
			if (!nd)                                               \
				return NULL;                                   \
			v->data = nd;                                          \
			v->cap = ncap;                                         \
		}                                                              \
		T *slot = &v->data[v->len++];                                  \
		memset(slot, 0, sizeof(*slot));                                \
		return slot;                                                   \
	}

#endif
