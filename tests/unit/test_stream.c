/* SPDX-License-Identifier: MIT */
/*
 * The stream layer (user/stream.c) on its own: no engine, no connection,
 * no callbacks. A side is a zeroed struct, the settings a struct; each
 * call returns what it did, and the test reads those results: segments
 * held out of order come back in order once a gap is declared before
 * them, bytes that come late fill declared gaps piece by piece, depth trims a gap and ends the side, the overlap policy decides
 * which copy is held, and every byte of memory reported held is reported
 * freed (the list's header when the side drops all it holds).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "engine_int.h"

static uint64_t rng = 0x1234567;

static struct seglist_put hold(struct side *s, const struct stream_cfg *cfg, uint64_t off,
			       const char *data, int64_t *mem)
{
	return weft_stream_hold(s, cfg, off, (const uint8_t *)data, (uint32_t)strlen(data), &rng,
				mem);
}

/* a hole, declared a gap, then what was held after it delivered */
static void t_gap_then_deliver(void **state)
{
	(void)state;
	struct side s = { 0 };
	struct stream_cfg cfg = { .buffer_cap = UINT64_MAX, .resync_hook = true };
	int64_t mem = 0;
	struct stream_deliver out;

	struct seglist_put p = hold(&s, &cfg, 5, "fghij", &mem);
	assert_int_equal(p.held, 5);
	assert_true(mem > 0);
	assert_int_equal(s.buffered, 5);
	assert_null(weft_stream_pop(&s, &out)); /* offsets 0..4 missing */

	struct stream_gap_res r = weft_stream_gap(&s, &cfg, 5);
	assert_false(r.implausible);
	assert_false(r.depth);
	assert_int_equal(r.off, 0);
	assert_int_equal(r.len, 5);
	assert_true(r.mem_gap > 0); /* the gap is recorded for late bytes */
	assert_int_equal(s.next, 5);
	assert_int_equal(s.st.gaps, 1);
	assert_int_equal(s.st.gap_bytes, 5);
	assert_true(s.resync); /* the settings say a hook waits after a gap */

	struct seg *g = weft_stream_pop(&s, &out);
	assert_non_null(g);
	assert_int_equal(out.off, 5);
	assert_int_equal(out.len, 5);
	assert_memory_equal(out.data, "fghij", 5);
	assert_int_equal(s.next, 10);
	mem += weft_stream_release(&s, g);
	assert_int_equal(s.buffered, 0);
	/* the list's own header stays until the side lets everything go */
	mem += weft_stream_drop_held(&s);
	assert_int_equal(mem, 0);
	assert_null(weft_stream_pop(&s, &out));

	size_t gm = weft_gapset_mem(&s.declared);
	assert_int_equal((int64_t)gm, r.mem_gap);
	weft_gapset_free(&s.declared);
}

/* a segment that overlaps what was delivered brings only its new bytes */
static void t_pop_trims_delivered(void **state)
{
	(void)state;
	struct side s = { 0 };
	struct stream_cfg cfg = { .buffer_cap = UINT64_MAX };
	int64_t mem = 0;
	struct stream_deliver out;
	hold(&s, &cfg, 2, "cdef", &mem);
	weft_stream_advance(&s, 4); /* 0..3 delivered in order */
	struct seg *g = weft_stream_pop(&s, &out);
	assert_non_null(g);
	assert_int_equal(out.off, 4);
	assert_int_equal(out.len, 2);
	assert_memory_equal(out.data, "ef", 2);
	mem += weft_stream_release(&s, g);
	/* one wholly behind next brings nothing */
	hold(&s, &cfg, 1, "bc", &mem);
	g = weft_stream_pop(&s, &out);
	assert_non_null(g);
	assert_int_equal(out.len, 0);
	assert_int_equal(s.next, 6);
	mem += weft_stream_release(&s, g);
	mem += weft_stream_drop_held(&s);
	assert_int_equal(mem, 0);
}

/* first copy wins unless the settings say last */
static void t_overlap_policy(void **state)
{
	(void)state;
	for (int last = 0; last < 2; last++) {
		struct side s = { 0 };
		struct stream_cfg cfg = { .buffer_cap = UINT64_MAX, .overlap_last = last };
		int64_t mem = 0;
		struct stream_deliver out;
		hold(&s, &cfg, 10, "abcd", &mem);
		struct seglist_put p = hold(&s, &cfg, 12, "XYef", &mem);
		assert_int_equal(p.retrans, 2);
		assert_int_equal(p.conflicts, 2);
		assert_int_equal(p.held, 2);
		assert_int_equal(s.st.conflicts, 2);
		struct stream_gap_res r = weft_stream_gap(&s, &cfg, 10);
		assert_int_equal(r.len, 10);
		char got[8] = { 0 };
		size_t n = 0;
		struct seg *g;
		while ((g = weft_stream_pop(&s, &out))) {
			memcpy(got + n, out.data, out.len);
			n += out.len;
			mem += weft_stream_release(&s, g);
		}
		assert_int_equal(n, 6);
		assert_string_equal(got, last ? "abXYef" : "abcdef");
		mem += weft_stream_drop_held(&s);
		assert_int_equal(mem, 0);
		weft_gapset_free(&s.declared);
	}
}

/* depth trims a gap, ends the side and frees what it held, once */
static void t_depth(void **state)
{
	(void)state;
	struct side s = { 0 };
	struct stream_cfg cfg = { .buffer_cap = UINT64_MAX, .depth = 8 };
	int64_t mem = 0;
	hold(&s, &cfg, 20, "zz", &mem);
	struct stream_gap_res r = weft_stream_gap(&s, &cfg, 20);
	assert_int_equal(r.off, 0);
	assert_int_equal(r.len, 8);
	assert_true(r.depth);
	assert_true(s.done);
	assert_true(s.st.depth_reached);
	assert_int_equal(r.mem_freed, -mem); /* the held segment went */
	assert_int_equal(s.buffered, 0);
	int64_t again = 0;
	assert_false(weft_stream_depth(&s, &again));
	assert_int_equal(again, 0);
	/* nothing is left to declare past depth */
	r = weft_stream_gap(&s, &cfg, 4);
	assert_int_equal(r.len, 0);
	weft_gapset_free(&s.declared);
}

/* a gap no capture can justify stops the side instead */
static void t_implausible_gap(void **state)
{
	(void)state;
	struct side s = { 0 };
	struct stream_cfg cfg = { .buffer_cap = UINT64_MAX };
	int64_t mem = 0;
	hold(&s, &cfg, 3, "x", &mem);
	struct stream_gap_res r = weft_stream_gap(&s, &cfg, MAX_GAP + 1);
	assert_true(r.implausible);
	assert_int_equal(r.len, 0);
	assert_true(s.done);
	assert_int_equal(s.next, 0);
	assert_int_equal(r.mem_freed, -mem);
	assert_int_equal(s.st.gaps, 0);
}

/* delivered bytes kept while unACKed: a differing retransmission counts */
static void t_kept(void **state)
{
	(void)state;
	struct side s = { 0 };
	bool nomem = false;
	/* no ACKs seen: nothing is kept, nothing is held */
	assert_int_equal(weft_stream_kept_add(&s, 0, (const uint8_t *)"hello", 5, &nomem), 0);
	assert_null(s.kept);
	s.ack_valid = true;
	int64_t mem = weft_stream_kept_add(&s, 0, (const uint8_t *)"hello", 5, &nomem);
	assert_false(nomem);
	assert_true(mem > 0);
	assert_int_equal(weft_stream_kept_compare(&s, 1, (const uint8_t *)"eLLo!", 5), 2);
	assert_int_equal(s.st.conflicts, 2);
	mem += weft_stream_kept_drop(&s);
	assert_int_equal(mem, 0);
}

/* bytes that come after their hole was declared a gap are reported as
 * late pieces, and the gap shrinks (split in two when filled inside) */
static void t_late(void **state)
{
	(void)state;
	struct side s = { 0 };
	struct stream_cfg cfg = { .buffer_cap = UINT64_MAX };
	struct stream_late r;
	weft_stream_late(&s, 0, 4, &r); /* no gap declared: nothing is late */
	assert_int_equal(r.n, 0);
	assert_int_equal(r.bytes, 0);
	weft_stream_gap(&s, &cfg, 10);         /* [0,10) */
	weft_stream_advance(&s, 5);            /* [10,15) delivered */
	weft_stream_gap(&s, &cfg, 5);          /* [15,20) */
	assert_int_equal(s.st.gaps, 2);
	assert_int_equal(s.st.gap_bytes, 15);
	/* [8,17): the end of the first gap, delivered bytes, the start of
	 * the second */
	weft_stream_late(&s, 8, 9, &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.piece[0][0], 8);
	assert_int_equal(r.piece[0][1], 2);
	assert_int_equal(r.piece[1][0], 15);
	assert_int_equal(r.piece[1][1], 2);
	assert_int_equal(r.bytes, 4);
	assert_int_equal(r.gaps, 0);
	assert_int_equal(s.st.late, 4);
	assert_int_equal(s.st.gap_bytes, 11);
	/* inside [0,8): two gaps where there was one */
	weft_stream_late(&s, 3, 2, &r);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.gaps, 1);
	assert_int_equal(s.st.gaps, 3);
	/* all of [17,20): one gap fewer */
	weft_stream_late(&s, 17, 3, &r);
	assert_int_equal(r.gaps, -1);
	assert_int_equal(s.st.gaps, 2);
	assert_int_equal(s.st.late, 9);
	weft_gapset_free(&s.declared);
}

/* bytes seen again below next: a late piece, conflicts with the kept
 * delivered bytes, the rest retransmitted */
static void t_below(void **state)
{
	(void)state;
	struct side s = { .ack_valid = true };
	struct stream_cfg cfg = { .buffer_cap = UINT64_MAX };
	struct stream_late r;
	bool nomem = false;
	weft_stream_gap(&s, &cfg, 4);                          /* [0,4) */
	int64_t mem = weft_stream_kept_add(&s, 4, (const uint8_t *)"abcd", 4, &nomem);
	weft_stream_advance(&s, 4);                            /* [4,8) delivered */
	assert_int_equal(weft_stream_below(&s, 2, (const uint8_t *)"zzabXd", 6, &r), 1);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.piece[0][0], 2);
	assert_int_equal(r.piece[0][1], 2);
	assert_int_equal(s.st.late, 2);
	assert_int_equal(s.st.retrans, 4);
	assert_int_equal(s.st.conflicts, 1);
	mem += weft_stream_kept_drop(&s);
	assert_int_equal(mem, 0);
	weft_gapset_free(&s.declared);
}

/* new bytes: in order they are handed back to deliver (no copy), out of
 * order held, past depth or on an ignored side nothing */
static void t_place(void **state)
{
	(void)state;
	struct side s = { 0 };
	struct stream_cfg cfg = { .buffer_cap = UINT64_MAX, .depth = 10 };
	const uint8_t *in = (const uint8_t *)"0123456789abcdef";
	struct stream_place_res p = weft_stream_place(&s, &cfg, 0, in, 4, &rng);
	assert_int_equal(p.what, STREAM_DELIVER);
	assert_ptr_equal(p.data, in);
	assert_int_equal(p.off, 0);
	assert_int_equal(p.len, 4);
	assert_int_equal(s.next, 4);
	int64_t mem = 0;
	p = weft_stream_place(&s, &cfg, 6, in + 6, 8, &rng); /* trimmed at depth */
	assert_int_equal(p.what, STREAM_HELD);
	assert_int_equal(p.put.held, 4);
	mem += p.mem;
	/* in order but overlapping what is held: held too, then popped */
	p = weft_stream_place(&s, &cfg, 4, in + 4, 4, &rng);
	assert_int_equal(p.what, STREAM_HELD);
	assert_int_equal(p.put.held, 2);
	assert_int_equal(p.put.retrans, 2);
	mem += p.mem;
	struct stream_deliver out;
	struct seg *g;
	uint64_t n = 0;
	while ((g = weft_stream_pop(&s, &out))) {
		assert_memory_equal(out.data, in + out.off, out.len);
		n += out.len;
		mem += weft_stream_release(&s, g);
	}
	assert_int_equal(n, 6);
	assert_int_equal(s.next, 10);
	p = weft_stream_place(&s, &cfg, 10, in + 10, 2, &rng);
	assert_int_equal(p.what, STREAM_NONE);
	mem += weft_stream_drop_held(&s);
	assert_int_equal(mem, 0);

	/* ignored: counted along, nothing held or handed back */
	struct side t2 = { 0 };
	t2.st.ignored = true;
	cfg.depth = 0;
	p = weft_stream_place(&t2, &cfg, 0, in, 3, &rng);
	assert_int_equal(p.what, STREAM_NONE);
	assert_int_equal(t2.next, 3);
	p = weft_stream_place(&t2, &cfg, 5, in, 3, &rng);
	assert_int_equal(p.what, STREAM_NONE);
	assert_int_equal(t2.buffered, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_gap_then_deliver),
		cmocka_unit_test(t_pop_trims_delivered),
		cmocka_unit_test(t_overlap_policy),
		cmocka_unit_test(t_depth),
		cmocka_unit_test(t_implausible_gap),
		cmocka_unit_test(t_kept),
		cmocka_unit_test(t_late),
		cmocka_unit_test(t_below),
		cmocka_unit_test(t_place),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
