/* SPDX-License-Identifier: MIT */
/*
 * The gaps one stream has declared, kept so that bytes the capture shows
 * after their hole was declared (reordered after the tap: the ACK that made
 * the hole a gap came before them) can still be handed on at their offset,
 * and the gap made smaller. Knows nothing of TCP or connections.
 *
 * Sorted, never overlapping ranges in an array: gaps are declared in
 * stream order, so an add is an append (or extends the last one), and a
 * fill is a binary search. At most GAPSET_MAX ranges are kept; past that
 * the oldest (lowest) are forgotten, as bytes that late no longer come,
 * and counted.
 */
#ifndef WEFT_GAPSET_H
#define WEFT_GAPSET_H

#include <stddef.h>
#include <stdint.h>

#define GAPSET_MAX 256

struct gapset {
	uint64_t (*v)[2];   /* [offset, length], sorted */
	uint32_t n, cap;
	uint64_t forgotten; /* ranges dropped past GAPSET_MAX */
};

/* Bytes of memory the set holds (for the memory account). */
static inline size_t weft_gapset_mem(const struct gapset *g)
{
	return g->cap ? g->cap * sizeof(*g->v) + 16 : 0;
}

/* A gap [off, off + len) declared at the stream's end (off at or past every
 * range held). 0, or -1 when no memory (the gap is then not fillable). */
int weft_gapset_add(struct gapset *g, uint64_t off, uint64_t len);

/* Bytes [off, off + len) came: for each piece of them inside a declared
 * gap, in order, fn(arg, piece_off, piece_len) is called and the piece
 * leaves the set. Returns the bytes handed to fn. */
uint64_t weft_gapset_fill(struct gapset *g, uint64_t off, uint64_t len,
			  void (*fn)(void *arg, uint64_t off, uint64_t len), void *arg);

/* Every offset moves down by at (a floating start anchored). */
void weft_gapset_rebase(struct gapset *g, uint64_t at);

void weft_gapset_free(struct gapset *g);

#endif
