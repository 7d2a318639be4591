/* SPDX-License-Identifier: MIT */
/* Room for one more element in a growing array. */
#ifndef WEFT_GROW_H
#define WEFT_GROW_H

#include <stdbool.h>
#include <stdlib.h>

/* *pv (an array of *cap elements of size bytes, n of them used) doubled,
 * from first, when full. False: no memory, and the array as it was. */
static inline bool weft_grow(void *pv, size_t *cap, size_t n, size_t size, size_t first)
{
	if (n < *cap)
		return true;
	size_t nc = *cap ? *cap * 2 : first;
	void *nv = realloc(*(void **)pv, nc * size);
	if (!nv)
		return false;
	*(void **)pv = nv;
	*cap = nc;
	return true;
}

#endif
