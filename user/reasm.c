/* SPDX-License-Identifier: MIT */
/*
 * Per-direction reassembly, the connection side of it. The bytes
 * themselves (holding, overlaps, gaps, depth, late bytes, the position)
 * are the stream layer's (stream.c), which calls nothing and returns what
 * it did; this file turns those results into the caller's callbacks, the
 * engine's counters and its memory account, stopping a delivery when a
 * callback ended the connection (conn_halted). It also owns what exists
 * only for the callbacks: the resync hook and the app buffer of
 * keep_unconsumed. In-order data goes to the callback without a copy;
 * out-of-order data is held until the hole before it fills or is
 * declared a gap (the walks that decide when: flush, ACKed holes, the end,
 * the buffer cap, are still here). Overlaps are resolved once, when a
 * segment is held, by the overlap policy: first copy wins, or last copy
 * wins while the bytes are still held. Differing bytes are counted.
 */
#include <stdlib.h>
#include <string.h>
#include "engine_int.h"

/* The stream layer's settings, from the engine's config as it is now
 * (weft_engine_set_config may change it between packets). */
static struct stream_cfg stream_cfg_of(const struct weft_engine *e)
{
	return (struct stream_cfg){
		.depth = e->cfg.depth,
		.buffer_cap = e->cfg.buffer_cap,
		.overlap_last = e->cfg.overlap == WEFT_OVERLAP_LAST,
		.buffer_end = e->cfg.buffer_policy == WEFT_BUFFER_END,
		.keep_unconsumed = e->cfg.keep_unconsumed,
		.resync_hook = e->cb.on_resync != NULL,
	};
}

static inline struct seg *first(const struct side *s)
{
	return seglist_first(&s->held);
}

static void free_segs(struct weft_engine *e, struct side *s)
{
	weft_mem_add(e, weft_stream_drop_held(s));
}

static void app_drop(struct weft_engine *e, struct side *s)
{
	if (s->app) {
		weft_mem_add(e, -(int64_t)(s->app_cap + ALLOC_OVERHEAD));
		free(s->app);
	}
	s->app = NULL;
	s->app_len = s->app_cap = 0;
}

/* Keep delivered bytes [off, off+len) while the receiver has not ACKed
 * them (stream.c), in the engine's account. */
static void kept_add(struct weft_engine *e, struct side *s, uint64_t off, const uint8_t *data,
		     uint32_t len)
{
	bool nomem = false;
	int64_t mem = weft_stream_kept_add(s, off, data, len, &nomem);
	if (nomem)
		e->st.alloc_failures++;
	if (mem)
		weft_mem_add(e, mem);
}

void weft_side_free(struct weft_engine *e, struct side *s)
{
	weft_mem_add(e, weft_stream_kept_drop(s));
	weft_mem_add(e, -(int64_t)weft_gapset_mem(&s->declared));
	weft_gapset_free(&s->declared);
	free_segs(e, s);
	app_drop(e, s);
}

/* Depth reached: the stream frees what it held, the caller is told it
 * need not follow this side any more. */
static void reach_depth(struct weft_engine *e, struct weft_conn *c, enum weft_dir d)
{
	int64_t mem = 0;
	if (!weft_stream_depth(&c->side[d], &mem))
		return;
	weft_mem_add(e, mem);
	if (e->cb.on_unwanted)
		e->cb.on_unwanted(e->cb.ctx, c, d);
}

/* Hand bytes at stream offset off to the caller. */
static void emit(struct weft_engine *e, struct weft_conn *c, enum weft_dir d, uint64_t off,
		 const uint8_t *data, uint32_t len)
{
	struct side *s = &c->side[d];
	if (s->st.ignored || !len)
		return;
	kept_add(e, s, off, data, len);
	if (s->resync && e->cb.on_resync) {
		ssize_t i = e->cb.on_resync(e->cb.ctx, c, d, data, len);
		if (i < 0 || (size_t)i > len) {
			s->st.skipped += len;
			return;
		}
		s->st.skipped += (uint64_t)i;
		data += i;
		off += (uint64_t)i;
		len -= (uint32_t)i;
		s->resync = false;
		if (!len)
			return;
	}
	e->st.delivered_bytes += len;
	if (!e->cb.on_data)
		return;
	if (!e->cfg.keep_unconsumed) {
		e->cb.on_data(e->cb.ctx, c, d, off, data, len);
		return;
	}
	if (!s->app_len)
		s->app_off = off;
	if (s->app_len + len > s->app_cap) {
		size_t nc = s->app_cap ? s->app_cap : 4096;
		while (nc < s->app_len + len)
			nc *= 2;
		uint8_t *nb = realloc(s->app, nc);
		if (!nb) {
			/* the bytes cannot be kept for the caller: they are a
			 * gap to it, never silently gone */
			e->st.alloc_failures++;
			s->app_len = 0;
			s->st.gaps++;
			s->st.gap_bytes += len;
			e->st.gaps++;
			e->st.gap_bytes += len;
			e->st.delivered_bytes -= len;
			if (e->cb.on_gap)
				e->cb.on_gap(e->cb.ctx, c, d, off, len);
			s->resync = e->cb.on_resync != NULL;
			return;
		}
		weft_mem_add(e, (int64_t)(nc - s->app_cap) + (s->app ? 0 : ALLOC_OVERHEAD));
		s->app = nb;
		s->app_cap = nc;
	}
	memcpy(s->app + s->app_len, data, len);
	s->app_len += len;
	size_t used = e->cb.on_data(e->cb.ctx, c, d, s->app_off, s->app, s->app_len);
	if (used > s->app_len)
		used = s->app_len;
	memmove(s->app, s->app + used, s->app_len - used);
	s->app_len -= used;
	s->app_off += used;
}

/* Declare the next len bytes of side d missing (the stream layer decides
 * what is declared), then report it: the callback first, then the account
 * and the counters, then depth, in the order they always came. */
void weft_side_gap(struct weft_engine *e, struct weft_conn *c, enum weft_dir d, uint64_t len)
{
	struct side *s = &c->side[d];
	struct stream_cfg cfg = stream_cfg_of(e);
	struct stream_gap_res r = weft_stream_gap(s, &cfg, len);
	if (r.implausible) {
		e->st.implausible++;
		weft_mem_add(e, r.mem_freed);
		return;
	}
	if (!r.len)
		return;
	if (!s->st.ignored && e->cb.on_gap)
		e->cb.on_gap(e->cb.ctx, c, d, r.off, r.len);
	weft_mem_add(e, r.mem_gap);
	e->st.gaps++;
	e->st.gap_bytes += r.len;
	if (r.depth) {
		weft_mem_add(e, r.mem_freed);
		if (e->cb.on_unwanted)
			e->cb.on_unwanted(e->cb.ctx, c, d);
	}
}

/* Deliver held segments that now start at or before next. */
void weft_side_flush(struct weft_engine *e, struct weft_conn *c, enum weft_dir d)
{
	struct side *s = &c->side[d];
	if (s->floating)
		return; /* offsets are provisional: nothing is in order yet */
	struct stream_deliver out;
	struct seg *g;
	while ((g = weft_stream_pop(s, &out))) {
		emit(e, c, d, out.off, out.data, out.len);
		weft_mem_add(e, weft_stream_release(s, g));
		if (s->done || conn_halted(c))
			return; /* the rest is the end's to flush */
	}
	uint64_t depth = e->cfg.depth;
	if (depth && s->next >= depth)
		reach_depth(e, c, d);
	if (s->fin && s->next >= s->fin_off)
		s->done = true;
}

/* Late pieces the stream layer found (bytes at off, data, that came
 * after their hole was declared a gap): each is counted and handed on,
 * unless a callback has ended the connection meanwhile. */
static void report_late(struct weft_engine *e, struct weft_conn *c, enum weft_dir d,
			uint64_t off, const uint8_t *data, const struct stream_late *r)
{
	struct side *s = &c->side[d];
	for (uint32_t i = 0; i < r->n; i++) {
		uint64_t at = r->piece[i][0], n = r->piece[i][1];
		e->st.late_bytes += n;
		e->st.gap_bytes -= n;
		if (!s->st.ignored && !conn_halted(c) && e->cb.on_late)
			e->cb.on_late(e->cb.ctx, c, d, at, data + (at - off), (size_t)n);
	}
	e->st.gaps += (uint64_t)r->gaps;
	weft_mem_add(e, r->mem);
}

void weft_side_data(struct weft_engine *e, struct weft_conn *c, enum weft_dir d, uint64_t off,
	       const uint8_t *data, uint32_t len)
{
	struct side *s = &c->side[d];
	uint64_t end = off + len;
	/* far ahead: held until an ACK confirms it, and not yet proof that
	 * the side sent that much */
	bool far = !s->floating && !weft_side_near(s, off);
	if (far && off > weft_side_ref(s) + FAR_AHEAD) {
		/* past any window: a corrupt or forged sequence number */
		if (len && !s->done)
			e->st.implausible++;
		return;
	}
	if (far && end > s->far)
		s->far = end;
	else if (!far && end > s->hi)
		s->hi = end;
	if (!len)
		return;
	if (!s->floating && off < s->next) {
		uint64_t below = (end < s->next ? end : s->next) - off;
		struct stream_late r;
		e->st.conflicts += weft_stream_below(s, off, data, below, &r);
		report_late(e, c, d, off, data, &r);
		if (end <= s->next)
			return;
		data += s->next - off;
		len = (uint32_t)(end - s->next);
		off = s->next;
	}
	/* the stream layer places what is new: in order (handed on now,
	 * without a copy), held, or nothing */
	bool floating = s->floating;
	struct stream_cfg cfg = stream_cfg_of(e);
	struct stream_place_res p = weft_stream_place(s, &cfg, off, data, len, &e->rng);
	weft_mem_add(e, p.mem);
	if (p.what == STREAM_HELD) {
		e->st.conflicts += p.put.conflicts;
		/* not held: the hole stays and becomes a gap like any other */
		if (p.put.nomem)
			e->st.alloc_failures++;
	}
	if (floating) {
		if (p.anchor)
			weft_side_anchor(e, c, d, first(s)->off);
		return;
	}
	if (p.what == STREAM_NONE)
		return;
	if (p.what == STREAM_DELIVER) {
		emit(e, c, d, p.off, p.data, p.len);
		weft_side_flush(e, c, d);
		return;
	}
	weft_side_flush(e, c, d);
	cfg = stream_cfg_of(e); /* a callback may have changed the config */
	while (s->buffered > cfg.buffer_cap && first(s) && !s->done && !conn_halted(c)) {
		if (cfg.buffer_end) {
			s->overflow = true; /* the TCP layer ends it (buffer) */
			return;
		}
		weft_side_gap(e, c, d, first(s)->off - s->next);
		weft_side_flush(e, c, d);
	}
}

/* Holes the peer has acknowledged can never be filled: declare them. While
 * the connection lives, only up to cap (the caller's evidence that the
 * sender is past the hole) and what this side is known to have sent, so
 * an ACK of a FIN we did not see is not taken for a byte of data. At the end
 * (final), up to the ACK itself, less one when that one byte past the known
 * data is most likely an unseen FIN; never for a side seen sending nothing
 * (an ACK of data nobody sent is a bogus ACK, not a loss). */
void weft_side_check_acked(struct weft_engine *e, struct weft_conn *c, enum weft_dir d, bool final,
		      uint64_t cap)
{
	struct side *s = &c->side[d];
	if (!s->ack_valid || s->done || s->floating || s->acked <= s->next)
		return;
	uint64_t limit = s->acked < s->hi ? s->acked : s->hi;
	if (limit > cap)
		limit = cap;
	if (final && !s->fin && s->hi && s->acked > s->hi + 1 && s->acked - s->hi <= MAX_AHEAD)
		limit = s->acked;
	if (s->fin && limit > s->fin_off)
		limit = s->fin_off;
	while (!s->done && s->next < limit && !conn_halted(c)) {
		uint64_t to = limit;
		if (first(s) && first(s)->off < to)
			to = first(s)->off;
		if (to > s->next)
			weft_side_gap(e, c, d, to - s->next);
		weft_side_flush(e, c, d);
	}
}

/* Fix a floating side's offset 0 at provisional offset at (at most its
 * lowest held byte): every held offset moves down by it, then whatever is
 * now in order is delivered. */
void weft_side_anchor(struct weft_engine *e, struct weft_conn *c, enum weft_dir d, uint64_t at)
{
	struct side *s = &c->side[d];
	if (!s->floating)
		return;
	struct stream_anchor_res r = weft_stream_anchor(s, at);
	e->st.implausible += r.implausible;
	weft_mem_add(e, r.mem);
	weft_side_flush(e, c, d);
}

/* The connection ends: nothing more can come, every hole is a gap. */
void weft_side_finish(struct weft_engine *e, struct weft_conn *c, enum weft_dir d)
{
	struct side *s = &c->side[d];
	/* A floating side with nothing held (a bare FIN of a connection
	 * picked up midstream) pins its origin at the last thing it was seen
	 * sending: a direction of zero bytes, not FLOAT_ORIGIN of phantom gap. */
	if (s->floating)
		weft_side_anchor(e, c, d, first(s) ? first(s)->off : s->hi);
	weft_side_check_acked(e, c, d, true, UINT64_MAX);
	while (!s->done && first(s)) {
		if (first(s)->off > s->next)
			weft_side_gap(e, c, d, first(s)->off - s->next);
		weft_side_flush(e, c, d);
	}
	if (!s->done && s->fin && s->next < s->fin_off)
		weft_side_gap(e, c, d, s->fin_off - s->next);
	s->done = true;
	weft_side_free(e, s);
}
