/* SPDX-License-Identifier: MIT */
/* A stream's declared gaps, for late bytes (see gapset.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "gapset.h"

/* Room for one more range: 0, or -1 at the bound or with no memory. */
static int grow(struct gapset *g)
{
	if (g->cap >= GAPSET_MAX)
		return -1;
	uint32_t nc = g->cap ? g->cap * 2 : 4;
	if (nc > GAPSET_MAX)
		nc = GAPSET_MAX;
	void *nv = realloc(g->v, nc * sizeof(*g->v));
	if (!nv)
		return -1;
	g->v = nv;
	g->cap = nc;
	return 0;
}

int weft_gapset_add(struct gapset *g, uint64_t off, uint64_t len)
{
	if (!len)
		return 0;
	if (g->n && g->v[g->n - 1][0] + g->v[g->n - 1][1] == off) {
		g->v[g->n - 1][1] += len; /* right after the last: one gap */
		return 0;
	}
	if (g->n == GAPSET_MAX) {
		/* the oldest gap's bytes will not come now: forget it */
		memmove(g->v, g->v + 1, (g->n - 1) * sizeof(*g->v));
		g->n--;
		g->forgotten++;
	}
	if (g->n == g->cap && grow(g) != 0)
		return -1;
	g->v[g->n][0] = off;
	g->v[g->n][1] = len;
	g->n++;
	return 0;
}

/* The first range that ends after off. */
static uint32_t first_after(const struct gapset *g, uint64_t off)
{
	uint32_t lo = 0, hi = g->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (g->v[mid][0] + g->v[mid][1] <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint64_t weft_gapset_fill(struct gapset *g, uint64_t off, uint64_t len,
			  void (*fn)(void *arg, uint64_t off, uint64_t len), void *arg)
{
	uint64_t end = off + len, given = 0;
	uint32_t i = first_after(g, off);
	while (i < g->n && g->v[i][0] < end) {
		uint64_t a = g->v[i][0], b = a + g->v[i][1];
		uint64_t from = off > a ? off : a, to = end < b ? end : b;
		bool last = false;
		/* the set first, then fn: whatever fn does, the set is whole */
		if (from > a && to < b) {
			/* filled in the middle: two gaps; where the set is at its
			 * bound, the upper part is forgotten (its bytes can no
			 * longer come late; the report keeps the gap) */
			if (g->n == g->cap && grow(g) != 0) {
				g->v[i][1] = from - a;
				g->forgotten++;
			} else {
				memmove(&g->v[i + 2], &g->v[i + 1], (g->n - i - 1) * sizeof(*g->v));
				g->v[i][1] = from - a;
				g->v[i + 1][0] = to;
				g->v[i + 1][1] = b - to;
				g->n++;
			}
			last = true;
		} else if (from > a) {
			g->v[i][1] = from - a;
			i++;
		} else if (to < b) {
			g->v[i][0] = to;
			g->v[i][1] = b - to;
			last = true;
		} else {
			memmove(&g->v[i], &g->v[i + 1], (g->n - i - 1) * sizeof(*g->v));
			g->n--;
		}
		fn(arg, from, to - from);
		given += to - from;
		if (last)
			break;
	}
	return given;
}

void weft_gapset_rebase(struct gapset *g, uint64_t at)
{
	for (uint32_t i = 0; i < g->n; i++)
		g->v[i][0] = g->v[i][0] > at ? g->v[i][0] - at : 0;
}

void weft_gapset_free(struct gapset *g)
{
	free(g->v);
	memset(g, 0, sizeof(*g));
}
