/* SPDX-License-Identifier: MIT */
/*
 * Held byte ranges of one stream, sorted by offset, never overlapping: a
 * skip list. Knows nothing of TCP or connections.
 *
 * Why a skip list: a capture can make a side hold N out-of-order segments
 * in any order (1-byte segments behind a hole, sent backwards). A sorted
 * list walked from its head costs O(N) per insert, O(N^2) in all (80k
 * segments took 4.5 s). A skip list finds a place in O(log N) expected,
 * whatever the arrival order, while the bottom level stays the plain
 * sorted list that delivery walks and pops from the front in O(1). Levels
 * come from a per-engine random state a capture cannot steer.
 */
#ifndef WEFT_SEGLIST_H
#define WEFT_SEGLIST_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#define SEG_LEVELS 16   /* p = 1/4: enough for 4^16 segments */
#define SEG_MALLOC_COST 16

struct seg {
	uint64_t off;
	uint32_t len;
	uint8_t nlvl;          /* levels this segment is linked on */
	struct seg *next[];    /* nlvl forward links, then len bytes of data */
};

struct seglist {
	struct seg *hdr;       /* sentinel with SEG_LEVELS links; NULL: empty */
	struct seg *tail;      /* last segment, or NULL */
	uint64_t count;
	uint64_t mem;          /* bytes held, malloc's own cost included */
};

static inline uint8_t *seg_data(struct seg *g) { return (uint8_t *)&g->next[g->nlvl]; }
static inline uint64_t seg_end(const struct seg *g) { return g->off + g->len; }
static inline struct seg *seglist_first(const struct seglist *l)
{
	return l->hdr ? l->hdr->next[0] : NULL;
}

/* A new segment holding a copy of data (not linked); NULL: no memory. */
struct seg *weft_seglist_seg_new(struct seglist *l, uint64_t off, const uint8_t *data, uint32_t len,
			    uint64_t *rng);
/* Link g in its place (it overlaps nothing held). False: no memory for the
 * list's header, g not linked (the caller frees it). */
int weft_seglist_insert(struct seglist *l, struct seg *g);
/* The first segment that ends after pos, or NULL. */
struct seg *weft_seglist_find(const struct seglist *l, uint64_t pos);
/* Unlink the first segment and return it (the caller frees it). */
struct seg *weft_seglist_pop(struct seglist *l);
void weft_seglist_seg_free(struct seglist *l, struct seg *g);
/* Move every offset down by at and free the segments then past limit;
 * returns how many were freed (their bytes are added to *bytes). */
uint64_t weft_seglist_rebase(struct seglist *l, uint64_t at, uint64_t limit, uint64_t *bytes);
void weft_seglist_clear(struct seglist *l);

/* What holding a range did: bytes already held (retransmitted), of them
 * the ones that differed, bytes newly held, and whether memory ran out
 * (the rest of the range is not held: a hole the caller reports). */
struct seglist_put {
	uint64_t retrans, conflicts, held;
	bool nomem;
};
/* Hold [off, off+len): overlapped bytes stay as held (first copy wins) or
 * take the new copy (last_wins), the rest becomes new segments. Returns
 * its results; calls nothing. O(log N) to find the place (O(1) past the
 * tail), then only the segments this range overlaps, each at least one of
 * its bytes. */
struct seglist_put weft_seglist_put(struct seglist *l, uint64_t off, const uint8_t *data,
				    uint32_t len, bool last_wins, uint64_t *rng);

#endif
