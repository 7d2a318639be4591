/* SPDX-License-Identifier: MIT */
/*
 * The declared-gap set (user/gapset.c) on its own: bytes that come late
 * fill the gaps they fall in, in pieces, in order, whatever their range
 * (inside one gap, across several, over data between them, past the
 * end); the set stays sorted and bounded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "gapset.h"

struct got {
	uint64_t v[16][2];
	int n;
};

static void take(void *arg, uint64_t off, uint64_t len)
{
	struct got *g = arg;
	assert_true(g->n < 16);
	g->v[g->n][0] = off;
	g->v[g->n][1] = len;
	g->n++;
}

static void expect_set(const struct gapset *g, int n, ...)
{
	va_list ap;
	va_start(ap, n);
	assert_int_equal(g->n, n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(g->v[i][0], va_arg(ap, int));
		assert_int_equal(g->v[i][1], va_arg(ap, int));
	}
	va_end(ap);
}

static void t_add_merges(void **st)
{
	(void)st;
	struct gapset g = { 0 };
	assert_int_equal(weft_gapset_add(&g, 100, 50), 0);
	assert_int_equal(weft_gapset_add(&g, 150, 10), 0); /* right after: one gap */
	assert_int_equal(weft_gapset_add(&g, 300, 20), 0);
	assert_int_equal(weft_gapset_add(&g, 400, 0), 0);  /* nothing */
	expect_set(&g, 2, 100, 60, 300, 20);
	weft_gapset_free(&g);
}

static void t_fill_pieces(void **st)
{
	(void)st;
	struct gapset g = { 0 };
	weft_gapset_add(&g, 100, 100);
	weft_gapset_add(&g, 300, 100);
	weft_gapset_add(&g, 500, 100);
	struct got got = { 0 };
	/* the middle of the first: split in two */
	assert_int_equal(weft_gapset_fill(&g, 120, 30, take, &got), 30);
	expect_set(&g, 4, 100, 20, 150, 50, 300, 100, 500, 100);
	/* over data between gaps: only the gaps' bytes, in order */
	got.n = 0;
	assert_int_equal(weft_gapset_fill(&g, 180, 200, take, &got), 20 + 80);
	assert_int_equal(got.n, 2);
	assert_int_equal(got.v[0][0], 180);
	assert_int_equal(got.v[0][1], 20);
	assert_int_equal(got.v[1][0], 300);
	assert_int_equal(got.v[1][1], 80);
	expect_set(&g, 4, 100, 20, 150, 30, 380, 20, 500, 100);
	/* a whole gap and the head of the next */
	got.n = 0;
	assert_int_equal(weft_gapset_fill(&g, 380, 150, take, &got), 20 + 30);
	expect_set(&g, 3, 100, 20, 150, 30, 530, 70);
	/* bytes in no gap: nothing */
	got.n = 0;
	assert_int_equal(weft_gapset_fill(&g, 200, 100, take, &got), 0);
	assert_int_equal(weft_gapset_fill(&g, 1000, 100, take, &got), 0);
	assert_int_equal(weft_gapset_fill(&g, 0, 100, take, &got), 0);
	assert_int_equal(got.n, 0);
	/* everything */
	assert_int_equal(weft_gapset_fill(&g, 0, 10000, take, &got), 20 + 30 + 70);
	assert_int_equal(g.n, 0);
	weft_gapset_free(&g);
}

static void t_bounded(void **st)
{
	(void)st;
	struct gapset g = { 0 };
	for (int i = 0; i < GAPSET_MAX + 10; i++)
		assert_int_equal(weft_gapset_add(&g, (uint64_t)i * 10, 5), 0);
	assert_int_equal(g.n, GAPSET_MAX);
	assert_int_equal(g.forgotten, 10);
	assert_int_equal(g.v[0][0], 100); /* the oldest went */
	/* a split at the bound keeps the lower part, counts the rest */
	struct got got = { 0 };
	assert_int_equal(weft_gapset_fill(&g, 101, 2, take, &got), 2);
	assert_int_equal(g.n, GAPSET_MAX);
	assert_int_equal(g.v[0][1], 1);
	assert_int_equal(g.forgotten, 11);
	weft_gapset_free(&g);
}

static void t_rebase(void **st)
{
	(void)st;
	struct gapset g = { 0 };
	weft_gapset_add(&g, 1000, 10);
	weft_gapset_add(&g, 2000, 10);
	weft_gapset_rebase(&g, 1000);
	expect_set(&g, 2, 0, 10, 1000, 10);
	weft_gapset_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_add_merges),
		cmocka_unit_test(t_fill_pieces),
		cmocka_unit_test(t_bounded),
		cmocka_unit_test(t_rebase),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
