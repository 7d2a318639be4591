/* SPDX-License-Identifier: MIT */
/*
 * The stream layer: one direction's bytes on their own. It owns the held
 * segments, the declared gaps, the delivered bytes kept for comparison and
 * the position (next); it reads only its settings (struct stream_cfg) and
 * calls nothing. Every function returns what it did (a gap declared, depth
 * reached, a segment now in order, memory held or freed, conflicts) and the
 * connection side (reasm.c) turns that into callbacks, statistics and the
 * engine's memory account, in that order, checking between results whether
 * a callback ended the connection. The layer never sees a connection, an
 * engine or a TCP flag.
 *
 * First step of the split (issue 15): placing new bytes (in order, held,
 * trimmed at depth), overlaps, bytes seen again (late, retransmitted,
 * conflicting), gaps, depth, in-order delivery from the held list (one
 * segment at a time, so the caller can stop between them), the delivered
 * bytes kept for comparison and anchoring a floating start are here. Still driven from
 * reasm.c: the walks that decide when a hole becomes a gap (flush, ACKed
 * holes, the end, the buffer cap), and, as they exist for the callbacks,
 * the app buffer of keep_unconsumed and the resync hook. The side's state
 * (struct side) is still shared with tcp.c (its sequence and ACK fields).
 */
#include <stdlib.h>
#include <string.h>
#include "engine_int.h"

void weft_stream_advance(struct side *s, uint64_t n)
{
	s->next += n;
	s->next_seq += (uint32_t)n;
	s->st.bytes = s->next;
}

/* The held list keeps its own byte count; the change since it was last
 * reported is returned so the caller's account can follow it. */
int64_t weft_stream_held_sync(struct side *s)
{
	int64_t d = (int64_t)(s->held.mem - s->held_mem);
	s->held_mem = s->held.mem;
	return d;
}

int64_t weft_stream_drop_held(struct side *s)
{
	weft_seglist_clear(&s->held);
	s->buffered = 0;
	return weft_stream_held_sync(s);
}

bool weft_stream_depth(struct side *s, int64_t *mem)
{
	if (s->st.depth_reached)
		return false;
	s->st.depth_reached = true;
	s->done = true;
	*mem += weft_stream_drop_held(s);
	return true;
}

struct stream_gap_res weft_stream_gap(struct side *s, const struct stream_cfg *cfg, uint64_t len)
{
	struct stream_gap_res r = { .off = s->next };
	bool acked = s->ack_valid && s->next + len <= s->acked;
	if (len > MAX_GAP && !acked) {
		/* Every caller bounds its gap by MAX_AHEAD (sequence jumps),
		 * MAX_CUT (one packet's missing tail) or the receiver's ACK;
		 * anything longer is a bug or a forged length, and no capture
		 * justifies it: the side stops here rather than claim bytes
		 * nobody can show. */
		r.implausible = true;
		r.mem_freed = weft_stream_drop_held(s);
		s->done = true;
		return r;
	}
	if (cfg->depth && s->next + len > cfg->depth)
		len = cfg->depth > s->next ? cfg->depth - s->next : 0;
	if (!len)
		return r;
	r.len = len;
	/* kept, so bytes that come after all can still fill it */
	size_t had = weft_gapset_mem(&s->declared);
	weft_gapset_add(&s->declared, s->next, len);
	r.mem_gap = (int64_t)weft_gapset_mem(&s->declared) - (int64_t)had;
	s->st.gaps++;
	s->st.gap_bytes += len;
	weft_stream_advance(s, len);
	/* Unconsumed bytes before a gap can no longer join what follows. */
	s->app_len = 0;
	s->resync = cfg->resync_hook;
	if (cfg->depth && s->next >= cfg->depth)
		r.depth = weft_stream_depth(s, &r.mem_freed);
	return r;
}

struct seg *weft_stream_pop(struct side *s, struct stream_deliver *out)
{
	struct seg *g = seglist_first(&s->held);
	if (s->floating || !g || g->off > s->next)
		return NULL;
	g = weft_seglist_pop(&s->held);
	s->buffered -= g->len;
	out->len = 0;
	uint64_t end = seg_end(g);
	if (end > s->next) {
		uint32_t skip = (uint32_t)(s->next - g->off);
		out->off = s->next;
		out->data = seg_data(g) + skip;
		out->len = g->len - skip;
		weft_stream_advance(s, end - s->next);
	}
	return g;
}

int64_t weft_stream_release(struct side *s, struct seg *g)
{
	weft_seglist_seg_free(&s->held, g);
	return weft_stream_held_sync(s);
}

struct seglist_put weft_stream_hold(struct side *s, const struct stream_cfg *cfg, uint64_t off,
				    const uint8_t *data, uint32_t len, uint64_t *rng, int64_t *mem)
{
	struct seglist_put r = weft_seglist_put(&s->held, off, data, len, cfg->overlap_last, rng);
	*mem += weft_stream_held_sync(s);
	s->buffered += r.held;
	s->st.retrans += r.retrans;
	s->st.conflicts += r.conflicts;
	return r;
}

int64_t weft_stream_kept_drop(struct side *s)
{
	int64_t mem = s->kept ? -(int64_t)(s->kept_cap + ALLOC_OVERHEAD) : 0;
	free(s->kept);
	s->kept = NULL;
	s->kept_len = s->kept_cap = 0;
	return mem;
}

/* Forget the first n kept bytes. */
static void kept_trim(struct side *s, uint32_t n)
{
	memmove(s->kept, s->kept + n, s->kept_len - n);
	s->kept_len -= n;
	s->kept_off += n;
}

/* Only for a side whose receiver's ACKs are seen: without them nothing
 * would ever let the bytes go. Room is made by dropping what was ACKed,
 * else the oldest half: amortized, each byte is moved a few times. */
int64_t weft_stream_kept_add(struct side *s, uint64_t off, const uint8_t *data, uint32_t len,
			     bool *nomem)
{
	if (!s->ack_valid || !len) {
		s->kept_len = 0;
		return 0;
	}
	/* a gap before, or all of it ACKed (the usual case: no copy moves):
	 * start over here */
	if (!s->kept_len || off != s->kept_off + s->kept_len ||
	    s->acked >= s->kept_off + s->kept_len) {
		s->kept_len = 0;
		s->kept_off = off;
	}
	if (len > KEEP_MAX) {
		data += len - KEEP_MAX;
		s->kept_off += s->kept_len + (len - KEEP_MAX);
		s->kept_len = 0;
		len = KEEP_MAX;
	}
	if (s->kept_len + len > KEEP_MAX) {
		uint64_t acked = s->acked > s->kept_off ? s->acked - s->kept_off : 0;
		uint32_t n = acked < s->kept_len ? (uint32_t)acked : s->kept_len;
		if (s->kept_len - n + len > KEEP_MAX / 2 && n < s->kept_len / 2)
			n = s->kept_len / 2;
		if (s->kept_len - n + len > KEEP_MAX)
			n = s->kept_len - (KEEP_MAX - len);
		kept_trim(s, n);
	}
	int64_t mem = 0;
	if (s->kept_len + len > s->kept_cap) {
		uint32_t nc = s->kept_cap ? s->kept_cap : 4096;
		while (nc < s->kept_len + len)
			nc *= 2;
		uint8_t *nb = realloc(s->kept, nc);
		if (!nb) { /* nothing to compare with: conflicts go uncounted */
			*nomem = true;
			s->kept_len = 0;
			return 0;
		}
		mem = (int64_t)(nc - s->kept_cap) + (s->kept ? 0 : ALLOC_OVERHEAD);
		s->kept = nb;
		s->kept_cap = nc;
	}
	memcpy(s->kept + s->kept_len, data, len);
	s->kept_len += len;
	return mem;
}

uint64_t weft_stream_kept_compare(struct side *s, uint64_t off, const uint8_t *data, uint64_t len)
{
	uint64_t lo = off > s->kept_off ? off : s->kept_off;
	uint64_t hi = off + len < s->kept_off + s->kept_len ? off + len : s->kept_off + s->kept_len;
	uint64_t diff = 0;
	for (uint64_t i = lo; i < hi; i++)
		diff += data[i - off] != s->kept[i - s->kept_off];
	s->st.conflicts += diff;
	return diff;
}

static void late_piece(void *arg, uint64_t off, uint64_t len)
{
	struct stream_late *r = arg;
	r->piece[r->n][0] = off;
	r->piece[r->n][1] = len;
	r->n++;
}

/* A fill touches each declared range at most once, and there are at most
 * GAPSET_MAX of them, so the pieces always fit the caller's list. */
void weft_stream_late(struct side *s, uint64_t off, uint64_t len, struct stream_late *r)
{
	r->n = 0;
	r->bytes = 0;
	r->gaps = 0;
	r->mem = 0;
	if (!s->declared.n)
		return;
	uint32_t before = s->declared.n;
	size_t had = weft_gapset_mem(&s->declared);
	r->bytes = weft_gapset_fill(&s->declared, off, len, late_piece, r);
	r->mem = (int64_t)weft_gapset_mem(&s->declared) - (int64_t)had;
	/* a gap filled whole is one fewer, one filled in the middle two */
	r->gaps = (int64_t)s->declared.n - (int64_t)before;
	s->st.gaps += (uint32_t)r->gaps;
	s->st.late += r->bytes;
	s->st.gap_bytes -= r->bytes;
}

struct stream_anchor_res weft_stream_anchor(struct side *s, uint64_t at)
{
	struct stream_anchor_res r = { 0 };
	struct seg *g = seglist_first(&s->held);
	if (!s->floating)
		return r;
	if (g && g->off < at)
		at = g->off;
	s->floating = false;
	/* held bytes implausibly far from where the stream now starts (a
	 * garbage sequence number) are dropped, as they would have been had
	 * offset 0 been known when they came */
	uint64_t bytes = 0;
	r.implausible = weft_seglist_rebase(&s->held, at, MAX_AHEAD, &bytes);
	weft_gapset_rebase(&s->declared, at);
	s->buffered -= bytes;
	r.mem = weft_stream_held_sync(s);
	s->next_seq += (uint32_t)at;
	s->next = 0;
	s->hi = s->hi > at ? s->hi - at : 0;
	s->acked = s->acked > at ? s->acked - at : 0;
	s->fin_off = s->fin_off > at ? s->fin_off - at : 0;
	if (s->fin && s->fin_off > MAX_AHEAD) {
		/* a FIN implausibly far from the start, like the bytes above */
		s->fin = false;
		s->fin_off = 0;
		r.implausible++;
	}
	if (s->hi > MAX_AHEAD + MAX_CUT)
		s->hi = MAX_AHEAD + MAX_CUT;
	return r;
}

/* Bytes seen again: compared with what was delivered (a difference is a
 * conflict, the delivered bytes stay as they were whatever the overlap
 * policy: the reader has them already), the pieces inside declared gaps
 * are late, the rest retransmitted. */
uint64_t weft_stream_below(struct side *s, uint64_t off, const uint8_t *data, uint64_t len,
			   struct stream_late *late)
{
	uint64_t diff = s->kept_len ? weft_stream_kept_compare(s, off, data, len) : 0;
	weft_stream_late(s, off, len, late);
	s->st.retrans += len - late->bytes;
	return diff;
}

struct stream_place_res weft_stream_place(struct side *s, const struct stream_cfg *cfg,
					  uint64_t off, const uint8_t *data, uint32_t len,
					  uint64_t *rng)
{
	struct stream_place_res r = { .what = STREAM_NONE };
	uint64_t end = off + len;
	if (s->done)
		return r;
	if (s->floating) {
		/* nothing is in order before offset 0 is fixed: all is held,
		 * until there is enough to fix it at the lowest byte */
		r.what = STREAM_HELD;
		r.put = weft_stream_hold(s, cfg, off, data, len, rng, &r.mem);
		r.anchor = seglist_first(&s->held) &&
			   (s->held.count >= FLOAT_MAX_SEGS || s->buffered >= FLOAT_MAX_BYTES);
		return r;
	}
	if (cfg->depth) {
		if (off >= cfg->depth)
			return r; /* held data before it will reach depth first */
		if (end > cfg->depth) {
			len = (uint32_t)(cfg->depth - off);
			end = cfg->depth;
		}
	}
	struct seg *g = seglist_first(&s->held);
	if (s->st.ignored) {
		/* no buffering: the side is followed only for its counters.
		 * What it held before it was ignored (weft_conn_ignore only
		 * marks, as it may be called from inside a delivery) goes now. */
		if (g)
			r.mem = weft_stream_drop_held(s);
		if (off == s->next)
			weft_stream_advance(s, len);
		return r;
	}
	if (off == s->next && (!g || end <= g->off)) {
		weft_stream_advance(s, len);
		r.what = STREAM_DELIVER;
		r.off = off;
		r.data = data;
		r.len = len;
		return r;
	}
	r.what = STREAM_HELD;
	r.put = weft_stream_hold(s, cfg, off, data, len, rng, &r.mem);
	return r;
}
