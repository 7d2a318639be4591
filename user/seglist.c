/* SPDX-License-Identifier: MIT */
/* The held-segment skip list (see seglist.h for why). */
#include <stdlib.h>
#include <string.h>
#include "seglist.h"

static size_t seg_size(uint8_t nlvl, uint32_t len)
{
	return sizeof(struct seg) + nlvl * sizeof(struct seg *) + len;
}

/* xorshift64: levels with p = 1/4 each */
static uint8_t random_level(uint64_t *rng)
{
	uint64_t x = *rng ? *rng : 0x9e3779b97f4a7c15ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*rng = x;
	uint8_t lvl = 1;
	while (lvl < SEG_LEVELS && (x & 3) == 0) {
		lvl++;
		x >>= 2;
	}
	return lvl;
}

struct seg *weft_seglist_seg_new(struct seglist *l, uint64_t off, const uint8_t *data, uint32_t len,
			    uint64_t *rng)
{
	uint8_t nlvl = random_level(rng);
	struct seg *g = malloc(seg_size(nlvl, len));
	if (!g)
		return NULL;
	g->off = off;
	g->len = len;
	g->nlvl = nlvl;
	memcpy(seg_data(g), data, len);
	l->mem += seg_size(nlvl, len) + SEG_MALLOC_COST;
	return g;
}

void weft_seglist_seg_free(struct seglist *l, struct seg *g)
{
	l->mem -= seg_size(g->nlvl, g->len) + SEG_MALLOC_COST;
	free(g);
}

/* For each level, the last node (or the header) whose segment ends at or
 * before pos: where a segment starting at pos is linked after. */
static void preds(const struct seglist *l, uint64_t pos, struct seg **up)
{
	struct seg *x = l->hdr;
	for (int i = SEG_LEVELS - 1; i >= 0; i--) {
		while (x->next[i] && seg_end(x->next[i]) <= pos)
			x = x->next[i];
		up[i] = x;
	}
}

int weft_seglist_insert(struct seglist *l, struct seg *g)
{
	if (!l->hdr) {
		l->hdr = calloc(1, seg_size(SEG_LEVELS, 0));
		if (!l->hdr)
			return 0;
		l->hdr->nlvl = SEG_LEVELS;
		l->mem += seg_size(SEG_LEVELS, 0) + SEG_MALLOC_COST;
	}
	struct seg *up[SEG_LEVELS];
	preds(l, g->off, up);
	for (int i = 0; i < g->nlvl; i++) {
		g->next[i] = up[i]->next[i];
		up[i]->next[i] = g;
	}
	if (!g->next[0])
		l->tail = g;
	l->count++;
	return 1;
}

struct seg *weft_seglist_find(const struct seglist *l, uint64_t pos)
{
	if (!l->hdr || !l->tail || seg_end(l->tail) <= pos)
		return NULL; /* beyond everything held: the common case, O(1) */
	struct seg *up[SEG_LEVELS];
	preds(l, pos, up);
	return up[0]->next[0];
}

struct seg *weft_seglist_pop(struct seglist *l)
{
	struct seg *g = seglist_first(l);
	if (!g)
		return NULL;
	/* the first segment is first on every level it is linked on */
	for (int i = 0; i < g->nlvl; i++)
		l->hdr->next[i] = g->next[i];
	if (l->tail == g)
		l->tail = NULL;
	l->count--;
	return g;
}

uint64_t weft_seglist_rebase(struct seglist *l, uint64_t at, uint64_t limit, uint64_t *bytes)
{
	if (!l->hdr)
		return 0;
	uint64_t dropped = 0;
	struct seg *last[SEG_LEVELS];
	for (int i = 0; i < SEG_LEVELS; i++)
		last[i] = l->hdr;
	struct seg *g = l->hdr->next[0];
	l->tail = NULL;
	while (g) {
		struct seg *n = g->next[0];
		g->off -= at;
		if (g->off > limit) {
			dropped++;
			*bytes += g->len;
			l->count--;
			weft_seglist_seg_free(l, g);
		} else {
			for (int i = 0; i < g->nlvl; i++) {
				last[i]->next[i] = g;
				last[i] = g;
			}
			l->tail = g;
		}
		g = n;
	}
	for (int i = 0; i < SEG_LEVELS; i++)
		last[i]->next[i] = NULL;
	return dropped;
}

void weft_seglist_clear(struct seglist *l)
{
	struct seg *g = seglist_first(l);
	while (g) {
		struct seg *n = g->next[0];
		weft_seglist_seg_free(l, g);
		g = n;
	}
	if (l->hdr) {
		l->mem -= seg_size(SEG_LEVELS, 0) + SEG_MALLOC_COST;
		free(l->hdr);
	}
	l->hdr = l->tail = NULL;
	l->count = 0;
}

static uint64_t count_diff(const uint8_t *a, const uint8_t *b, uint64_t n)
{
	uint64_t d = 0;
	for (uint64_t i = 0; i < n; i++)
		d += a[i] != b[i];
	return d;
}

struct seglist_put weft_seglist_put(struct seglist *l, uint64_t off, const uint8_t *data,
				    uint32_t len, bool last_wins, uint64_t *rng)
{
	struct seglist_put r = { 0 };
	uint64_t end = off + len;
	struct seg *cur = weft_seglist_find(l, off);
	uint64_t pos = off;
	while (pos < end) {
		while (cur && seg_end(cur) <= pos)
			cur = cur->next[0];
		if (cur && cur->off <= pos) {
			uint64_t oe = seg_end(cur) < end ? seg_end(cur) : end;
			const uint8_t *mine = data + (pos - off);
			uint8_t *held = seg_data(cur) + (pos - cur->off);
			uint64_t diff = count_diff(mine, held, oe - pos);
			if (diff && last_wins)
				memcpy(held, mine, oe - pos);
			r.conflicts += diff;
			r.retrans += oe - pos;
			pos = oe;
			continue;
		}
		uint64_t pe = cur && cur->off < end ? cur->off : end;
		struct seg *g = weft_seglist_seg_new(l, pos, data + (pos - off), (uint32_t)(pe - pos),
						     rng);
		if (g && !weft_seglist_insert(l, g)) {
			weft_seglist_seg_free(l, g);
			g = NULL;
		}
		if (!g) {
			r.nomem = true;
			break;
		}
		r.held += g->len;
		pos = pe;
	}
	return r;
}
