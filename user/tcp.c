/* SPDX-License-Identifier: MIT */
/*
 * TCP per direction: what each packet's flags and numbers say about the
 * two sides of a connection, one small function per kind of news (RST, SYN,
 * ACK, data, FIN). Bytes go down to the reassembly (reasm.c); whether the
 * connection ends goes back up to the connection layer as a return value,
 * never as a call.
 */
#include "engine_int.h"

/* The one ACK update: the receiver of side s says it has every byte
 * before ack. Believed within a sequence jump of what the side was seen
 * sending (data held far ahead included: the ACK confirms it), and only
 * forward. */
static void side_ack(struct side *s, uint32_t ack)
{
	int64_t a = weft_seq_off(s, ack);
	uint64_t top = s->next > s->hi ? s->next : s->hi;
	if (s->far > top)
		top = s->far;
	if (a < 0 || (uint64_t)a > top + MAX_AHEAD || (s->ack_valid && (uint64_t)a <= s->acked))
		return;
	s->acked = (uint64_t)a;
	s->ack_valid = true;
	/* far data the receiver has: the side did send it */
	uint64_t sent = s->far < s->acked ? s->far : s->acked;
	if (sent > s->hi)
		s->hi = sent;
}

/* The source saw the FIN of side s pass at sequence number seq, though
 * the engine may not have: the stream ends there, so an ACK past the data
 * covers the FIN, not one more byte of data. */
static void side_fin_at(struct side *s, uint32_t seq)
{
	if (!s->started || s->floating || s->fin)
		return;
	int64_t f = weft_seq_off(s, seq);
	if (f >= 0 && (uint64_t)f >= s->next && weft_side_near(s, (uint64_t)f)) {
		s->fin = true;
		s->fin_off = (uint64_t)f;
		if (s->fin_off > s->hi)
			s->hi = s->fin_off;
	}
}

void weft_tcp_poll(struct weft_engine *e, struct weft_conn *c, enum weft_dir d)
{
	struct side *s = &c->side[d];
	uint32_t ack, fin;
	if (!s->started || s->floating || s->done)
		return;
	if (e->cb.sent_fin && e->cb.sent_fin(e->cb.ctx, c, d, &fin))
		side_fin_at(s, fin);
	if (e->cb.peer_ack && e->cb.peer_ack(e->cb.ctx, c, d, &ack))
		side_ack(s, ack);
}

static void start_side(struct side *s, uint32_t first_seq)
{
	s->started = true;
	s->next = 0;
	s->next_seq = first_seq;
}

/* A side's first data or FIN without a SYN: it starts where the peer's
 * last ACK said, or floats (see FLOAT_ORIGIN). */
static void start_midstream(struct side *s, uint32_t data_seq)
{
	if (s->pre_ack_valid && (uint32_t)(data_seq - s->pre_ack) <= MAX_AHEAD) {
		start_side(s, s->pre_ack);
	} else {
		start_side(s, data_seq - (uint32_t)FLOAT_ORIGIN);
		s->floating = true;
	}
}

/* Side d has sent nothing yet while its peer opened with a SYN: the peer
 * is in SYN-SENT, and only a SYN (or an RST that acknowledges its SYN)
 * from d means anything to it. */
static bool awaits_syn(const struct weft_conn *c, enum weft_dir d)
{
	const struct side *s = &c->side[d], *p = &c->side[!d];
	return !s->started && !s->syn && !s->pre_ack_valid && p->syn;
}

/* How far past the receiver's last ACK an RST may land and still count,
 * when the capture shows no window: real windows rarely exceed it, and an
 * evasive reset with a guessed sequence number rarely falls inside it. */
#define RST_WINDOW (1ull << 20)

/* Would the receiver of side d accept an RST with these numbers? Within
 * the window of what it acknowledged (RFC 5961's rule, as Suricata and
 * Zeek apply it); in answer to a SYN, only if it acknowledges that SYN
 * (RFC 793's SYN-SENT rule); a side nobody has seen or acknowledged
 * leaves nothing to check against, so its RST counts. */
static bool rst_in_window(const struct weft_conn *c, enum weft_dir d, const struct tcp_seg *t)
{
	const struct side *s = &c->side[d], *p = &c->side[!d];
	if (!s->started) {
		if (s->pre_ack_valid)
			return (uint32_t)(t->seq - s->pre_ack) <= RST_WINDOW;
		if (awaits_syn(c, d))
			return (t->flags & TCP_ACK) && t->ack == p->isn + 1;
		return true;
	}
	int64_t off = weft_seq_off(s, t->seq);
	if (s->floating) /* provisional offsets: near what it was seen sending */
		return off + (int64_t)RST_WINDOW >= (int64_t)s->hi &&
		       off <= (int64_t)(s->hi + RST_WINDOW);
	if (s->ack_valid && off == (int64_t)s->acked)
		return true; /* exactly the byte the receiver said it expects */
	/* below what the sender was seen sending: stale or forged (a tap sees
	 * what reaches the receiver); far above: not a sequence number this
	 * sender could use */
	uint64_t top = s->ack_valid && s->acked > s->next ? s->acked : s->next;
	if (s->hi > top)
		top = s->hi;
	return off >= (int64_t)s->next && (uint64_t)off <= top + RST_WINDOW;
}

static enum weft_end_reason on_rst(struct weft_engine *e, struct weft_conn *c, enum weft_dir d,
				   const struct tcp_seg *t)
{
	struct side *s = &c->side[d];
	if (!rst_in_window(c, d, t)) {
		e->st.rst_ignored++; /* the receiver would drop it: so does the engine */
		return WEFT_END_NONE;
	}
	/* a RST's sequence number tells how far this side had sent */
	if (s->started) {
		int64_t off = weft_seq_off(s, t->seq);
		if (off > 0 && (uint64_t)off > s->hi)
			s->hi = (uint64_t)off;
	}
	s->st.rst = true;
	return WEFT_END_RST;
}

/* Returns the sequence number of the SYN's first data byte. */
static uint32_t on_syn(struct weft_engine *e, struct weft_conn *c, enum weft_dir d,
		       const struct tcp_seg *t)
{
	struct side *s = &c->side[d];
	if (!s->syn) {
		s->syn = true;
		s->isn = t->seq;
		if (!s->started)
			start_side(s, t->seq + 1);
		else if (s->floating) /* a late SYN says where the stream starts */
			weft_side_anchor(e, c, d, (uint64_t)weft_seq_off(s, t->seq + 1));
	}
	return t->seq + 1;
}

/* An ACK from side d: news about the peer's stream. */
static void on_ack(struct weft_engine *e, struct weft_conn *c, enum weft_dir d,
		   const struct tcp_seg *t)
{
	struct side *p = &c->side[!d];
	if (p->floating) {
		/* the peer says where it is: offset 0 is there, or at the
		 * lowest byte held if that is lower; with nothing held, the
		 * lowest thing seen is where its FIN or sequence number was: an
		 * ACK far below it does not make a gap longer than a jump */
		int64_t a = weft_seq_off(p, t->ack);
		struct seg *g = seglist_first(&p->held);
		uint64_t low = g ? g->off : p->hi;
		weft_side_anchor(e, c, !d, a >= 0 && (uint64_t)a < low &&
					   low - (uint64_t)a <= MAX_AHEAD ? (uint64_t)a : low);
	}
	if (p->started) {
		side_ack(p, t->ack);
	} else if (!p->syn) {
		p->pre_ack = t->ack;
		p->pre_ack_valid = true;
	}
	/* This side acknowledged the peer's FIN: it has every byte before it,
	 * so holes the peer left are gaps now. Its data went past the capture;
	 * nothing else is coming (the peer's own last ACK, which would say so
	 * too, may be kept from the engine by a source that keeps pure ACKs). */
	if (p->started && p->fin && !p->done && !p->floating && p->ack_valid &&
	    p->acked > p->fin_off)
		weft_side_check_acked(e, c, !d, false, p->fin_off);
	/* Data from this side while it acknowledges past a hole of the other:
	 * the peer has moved on (a new request after a response), so that hole
	 * will not fill. Declare it now, before this side's bytes, so a reader
	 * of both directions sees the events in the order they happened. A
	 * pure ACK waits for the other side's next packet instead, since a
	 * capture can show an ACK before the data it covers. */
	if (t->wirelen && p->started && !p->done && !p->floating) {
		int64_t a = weft_seq_off(p, t->ack);
		if (a > 0)
			weft_side_check_acked(e, c, !d, false, (uint64_t)a);
	}
}

/* A FIN from side s at stream offset fin_off. */
static void on_fin(struct weft_engine *e, struct side *s, uint64_t fin_off)
{
	if (s->fin)
		return;
	if (!s->floating && (fin_off < s->next || !weft_side_near(s, fin_off))) {
		/* outside any window the receiver could have: a forged or
		 * corrupt FIN must neither cut the stream short of bytes the
		 * receiver already has nor stretch it */
		e->st.implausible++;
		return;
	}
	s->fin = true;
	s->st.fin = true;
	s->fin_off = fin_off;
	if (s->fin_off > s->hi)
		s->hi = s->fin_off;
}

/* The segment's bytes (and FIN) on a started side. */
static enum weft_end_reason on_data(struct weft_engine *e, struct weft_conn *c, enum weft_dir d,
				    const struct tcp_seg *t, uint32_t data_seq)
{
	struct side *s = &c->side[d];
	int64_t off = weft_seq_off(s, data_seq);
	const uint8_t *data = t->data;
	uint32_t cap = t->caplen, wire = t->wirelen;
	if (wire > cap && wire - cap > MAX_CUT) {
		/* a length no packet has: keep the bytes, not the claim */
		e->st.implausible++;
		wire = cap;
	}
	if (off < 0) { /* starts before offset 0: keep what follows it */
		uint64_t cut = (uint64_t)-off;
		cap = cut < cap ? cap - (uint32_t)cut : 0;
		wire = cut < wire ? wire - (uint32_t)cut : 0;
		data += t->caplen - cap;
		off = 0;
	}
	if (cap < wire) {
		/* snaplen cut the payload: the rest was sent but is not here,
		 * so it is a gap, never zeros passed off as data */
		e->st.truncated++;
		if ((uint64_t)off + wire > s->hi && weft_side_near(s, (uint64_t)off))
			s->hi = (uint64_t)off + wire;
	}
	weft_side_data(e, c, d, (uint64_t)off, data, cap);
	if (s->overflow)
		return WEFT_END_BUFFER;
	if (cap < wire && !conn_halted(c) && s->next == (uint64_t)off + cap)
		weft_side_gap(e, c, d, wire - cap);
	if (conn_halted(c))
		return WEFT_END_NONE;
	if (!(t->flags & TCP_FIN) && (uint64_t)off > s->hi && !wire &&
	    weft_side_near(s, (uint64_t)off))
		s->hi = (uint64_t)off; /* a pure ACK's seq: sent up to here */
	if (t->flags & TCP_FIN)
		on_fin(e, s, (uint64_t)off + wire);
	/* The sender's own packet: once it sends from at or beyond all the
	 * peer acknowledged, an acknowledged hole behind it is lost. Before
	 * that, the ACK may be one the capture shows ahead of the data it
	 * covers, and the data may still come. */
	if ((uint64_t)off >= s->acked)
		weft_side_check_acked(e, c, d, false, (uint64_t)off);
	weft_side_flush(e, c, d);
	return WEFT_END_NONE;
}

enum weft_end_reason weft_tcp_packet(struct weft_engine *e, struct weft_conn *c,
				     enum weft_dir d, const struct tcp_seg *t)
{
	struct side *s = &c->side[d];
	s->st.packets++;
	s->st.last_ns = c->info.last_ns; /* conn_seen: this packet's, or later */
	if (t->flags & TCP_RST)
		return on_rst(e, c, d, t);
	if (t->peer_ack_valid && s->started && !s->floating)
		side_ack(s, t->peer_ack); /* the receiver's pure ACKs, kept by the source */
	if (t->peer_fin_valid)
		side_fin_at(&c->side[!d], t->peer_fin);
	uint32_t data_seq = (t->flags & TCP_SYN) ? on_syn(e, c, d, t) : t->seq;
	if (!s->started && !t->wirelen && (t->flags & TCP_FIN) && awaits_syn(c, d)) {
		/* a bare FIN where the receiver waits for a SYN-ACK: it has no
		 * window to put it in (an evasion's FIN with seq 0) */
		e->st.implausible++;
	} else if (!s->started && (t->wirelen || (t->flags & TCP_FIN))) {
		start_midstream(s, data_seq);
	}
	if (t->flags & TCP_ACK)
		on_ack(e, c, d, t);
	if (s->started && !conn_halted(c)) {
		enum weft_end_reason r = on_data(e, c, d, t, data_seq);
		if (r != WEFT_END_NONE)
			return r;
	}
	if (conn_halted(c))
		return WEFT_END_NONE; /* a callback ended it: the end runs as the call returns */
	const struct side *a = &c->side[0], *b = &c->side[1];
	if (a->done && b->done)
		return a->st.depth_reached || b->st.depth_reached ? WEFT_END_DEPTH : WEFT_END_FIN;
	return WEFT_END_NONE;
}

bool weft_tcp_new_syn(const struct weft_conn *c, enum weft_dir d, const struct tcp_seg *t)
{
	const struct side *s = &c->side[d];
	if (s->syn && s->isn == t->seq)
		return false; /* its own SYN again */
	if (!s->syn && s->started && !c->ended) {
		/* a SYN that starts where this side's bytes start (or just
		 * before) is this connection's own, arriving late (capture or
		 * queue reordering), not a new one */
		int64_t at = weft_seq_off(s, t->seq + 1);
		if (at > -(int64_t)MAX_AHEAD && at <= (int64_t)(s->hi + MAX_AHEAD))
			return false;
	}
	if (!s->started && s->pre_ack_valid && (uint32_t)(s->pre_ack - (t->seq + 1)) <= MAX_AHEAD)
		return false; /* the peer already acknowledged this SYN */
	if (!s->started && !s->syn && c->side[!d].syn)
		return false; /* the answer to the peer's SYN: a split handshake
			       * (or simultaneous open), one connection */
	/* a connection that has seen nothing yet takes the SYN as its own */
	return s->started || c->side[!d].started;
}

bool weft_tcp_after_end(const struct weft_conn *c, enum weft_dir d, const struct tcp_seg *t)
{
	const struct side *s = &c->side[d];
	if (t->flags & TCP_RST)
		return false; /* nothing follows an RST */
	if (t->flags & TCP_SYN)
		return !(s->syn && s->isn == t->seq); /* its own SYN again: a straggler */
	if (!t->wirelen)
		return false; /* an ACK or bare FIN: no bytes to follow */
	if (s->st.depth_reached || s->st.ignored || c->info.end == WEFT_END_MANUAL)
		return false; /* not wanted: the rest of it is no new connection */
	if (!s->started)
		return true; /* a side that never sent: this is new */
	/* bytes in the side's own sequence space, near where it stopped, are
	 * retransmissions or were in flight when it ended: its receiver has
	 * no connection to take them into (tcpflow keeps them in the old
	 * file, tshark in the old stream). Bytes elsewhere are another
	 * connection, its SYN unseen: picked up midstream. */
	uint64_t end = s->fin ? s->fin_off : s->next;
	int64_t at = weft_seq_off(s, t->seq);
	return at + (int64_t)t->wirelen + (int64_t)MAX_AHEAD < (int64_t)end ||
	       at > (int64_t)(end + MAX_AHEAD);
}

enum lru_class weft_tcp_class(const struct weft_conn *c)
{
	const struct side *a = &c->side[0], *b = &c->side[1];
	if (a->fin || b->fin || a->st.rst || b->st.rst)
		return LRU_CLOSING;
	if (!c->info.midstream && !b->started)
		return LRU_HALFOPEN; /* a SYN, no answer yet */
	return LRU_ESTABLISHED;
}
