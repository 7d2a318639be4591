/* SPDX-License-Identifier: MIT */
/*
 * The stream layer's held-segment list on its own: no TCP, no engine.
 * Segments inserted in any order come out sorted, find lands on the
 * first segment that ends after a position, rebase moves and drops, and
 * the byte count returns to zero when all is freed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "seglist.h"

static struct seg *add(struct seglist *l, uint64_t off, uint32_t len, uint64_t *rng)
{
	uint8_t buf[64];
	for (uint32_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(off + i);
	struct seg *g = weft_seglist_seg_new(l, off, buf, len, rng);
	assert_non_null(g);
	assert_true(weft_seglist_insert(l, g));
	return g;
}

static void check_sorted(const struct seglist *l, uint64_t count)
{
	uint64_t n = 0, end = 0;
	for (struct seg *g = seglist_first(l); g; g = g->next[0]) {
		assert_true(g->off >= end);
		for (uint32_t i = 0; i < g->len; i++)
			assert_int_equal(seg_data(g)[i], (uint8_t)(g->off + i));
		end = seg_end(g);
		if (!g->next[0])
			assert_ptr_equal(l->tail, g);
		n++;
	}
	assert_int_equal(n, count);
	assert_int_equal(l->count, count);
}

static void t_any_order_sorted(void **st)
{
	(void)st;
	struct seglist l = { 0 };
	uint64_t rng = 12345;
	/* a permutation of 5000 slots: 3-byte segments 4 apart */
	enum { N = 5000 };
	for (uint64_t i = 0; i < N; i++)
		add(&l, (i * 2654435761u % N) * 4, 3, &rng);
	check_sorted(&l, N);
	/* find: the first segment that ends after pos */
	assert_int_equal(weft_seglist_find(&l, 0)->off, 0);
	assert_int_equal(weft_seglist_find(&l, 2)->off, 0);
	assert_int_equal(weft_seglist_find(&l, 3)->off, 4);
	assert_int_equal(weft_seglist_find(&l, 4001)->off, 4000);
	assert_null(weft_seglist_find(&l, 4 * N));
	/* pop takes them in order */
	for (uint64_t i = 0; i < 10; i++) {
		struct seg *g = weft_seglist_pop(&l);
		assert_int_equal(g->off, i * 4);
		weft_seglist_seg_free(&l, g);
	}
	check_sorted(&l, N - 10);
	weft_seglist_clear(&l);
	assert_int_equal(l.mem, 0);
	assert_null(seglist_first(&l));
}

static void t_rebase(void **st)
{
	(void)st;
	struct seglist l = { 0 };
	uint64_t rng = 7, bytes = 0;
	add(&l, 1000, 10, &rng);
	add(&l, 1020, 10, &rng);
	add(&l, 900000, 5, &rng); /* far from the new origin */
	uint64_t dropped = weft_seglist_rebase(&l, 1000, 100000, &bytes);
	assert_int_equal(dropped, 1);
	assert_int_equal(bytes, 5);
	assert_int_equal(seglist_first(&l)->off, 0);
	assert_int_equal(l.tail->off, 20);
	/* the levels still work after the rebuild */
	add(&l, 12, 4, &rng);
	assert_int_equal(weft_seglist_find(&l, 11)->off, 12);
	assert_int_equal(l.count, 3);
	weft_seglist_clear(&l);
	assert_int_equal(l.mem, 0);
}

static void t_put_overlaps(void **st)
{
	(void)st;
	for (int last = 0; last < 2; last++) {
		struct seglist l = { 0 };
		uint64_t rng = 3;
		struct seglist_put r = weft_seglist_put(&l, 10, (const uint8_t *)"KLMNO", 5, last, &rng);
		assert_int_equal(r.held, 5);
		/* [8,12) overlaps from the left: 2 new, 2 held, 1 differs */
		r = weft_seglist_put(&l, 8, (const uint8_t *)"IJKx", 4, last, &rng);
		assert_int_equal(r.held, 2);
		assert_int_equal(r.retrans, 2);
		assert_int_equal(r.conflicts, 1);
		/* [13,18) overlaps from the right */
		r = weft_seglist_put(&l, 13, (const uint8_t *)"NOPQR", 5, last, &rng);
		assert_int_equal(r.held, 3);
		assert_int_equal(r.retrans, 2);
		assert_int_equal(r.conflicts, 0);
		char got[11] = { 0 };
		uint64_t pos = 8;
		for (struct seg *g = seglist_first(&l); g; g = g->next[0]) {
			assert_int_equal(g->off, pos); /* contiguous, no overlap */
			memcpy(got + (g->off - 8), seg_data(g), g->len);
			pos = seg_end(g);
		}
		assert_string_equal(got, last ? "IJKxMNOPQR" : "IJKLMNOPQR");
		weft_seglist_clear(&l);
		assert_int_equal(l.mem, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_any_order_sorted),
		cmocka_unit_test(t_rebase),
		cmocka_unit_test(t_put_overlaps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
