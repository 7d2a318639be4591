/* SPDX-License-Identifier: MIT */
/*
 * The engine's top two layers (design.md, "Engine layers"): the public
 * feed (decode, defrag, dispatch) and the connections (the table, ends
 * with reasons, eviction by idle sweep, max flows and the memory cap, and
 * the one memory account). Calls go down: to tcp.c for what a packet says,
 * to reasm.c for the bytes. A connection ended inside a callback ends when
 * the public call that made the callback returns (enter/leave).
 */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <time.h>
#include "engine_int.h"
#include "defrag.h"

#define NS 1000000000ull
#define SWEEP_EVERY_NS NS

static const char *const reason_names[WEFT_END__COUNT] = {
	[WEFT_END_NONE] = "none",     [WEFT_END_FIN] = "fin",
	[WEFT_END_RST] = "rst",       [WEFT_END_IDLE] = "idle",
	[WEFT_END_MEMCAP] = "memcap", [WEFT_END_MAX_FLOWS] = "max-flows",
	[WEFT_END_DEPTH] = "depth",   [WEFT_END_BUFFER] = "buffer",
	[WEFT_END_MANUAL] = "manual", [WEFT_END_SHUTDOWN] = "shutdown",
	[WEFT_END_EOF] = "eof",       [WEFT_END_REUSE] = "reuse",
};

const char *weft_end_reason_name(enum weft_end_reason r)
{
	return (unsigned)r < WEFT_END__COUNT ? reason_names[r] : "?";
}

void weft_config_default(struct weft_config *c)
{
	memset(c, 0, sizeof(*c));
	c->idle_established_ns = 300 * NS;
	c->idle_closing_ns = 30 * NS;
	c->idle_halfopen_ns = 30 * NS;
	c->buffer_cap = 16u << 20;
	c->memcap = WEFT_DEFAULT_MEMCAP;
	c->vlan_in_key = true;
	c->frag_max_datagrams = 4096;
	c->frag_timeout_ns = 30 * NS;
}

void weft_mem_add(struct weft_engine *e, int64_t n)
{
	e->st.mem_used += (uint64_t)n;
	if (e->st.mem_used > e->st.mem_peak)
		e->st.mem_peak = e->st.mem_used;
}

/* Fragments held count in the same account: defrag keeps its own total
 * (it knows nothing of the engine) and the engine adds the change. */
static void frag_sync(struct weft_engine *e)
{
	uint64_t m = weft_defrag_mem(e->defrag);
	weft_mem_add(e, (int64_t)(m - e->frag_mem));
	e->frag_mem = m;
}

struct weft_engine *weft_engine_new(const struct weft_config *cfg,
				    const struct weft_callbacks *cb)
{
	struct weft_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	if (cfg)
		e->cfg = *cfg;
	else
		weft_config_default(&e->cfg);
	if (!e->cfg.buffer_cap)
		e->cfg.buffer_cap = UINT64_MAX;
	if (cb)
		e->cb = *cb;
	/* skip-list levels a capture cannot predict */
	e->rng = (uint64_t)(uintptr_t)e ^ ((uint64_t)time(NULL) << 20) ^ 0x9e3779b97f4a7c15ull;
	e->defrag = weft_defrag_new(e->cfg.frag_max_datagrams, e->cfg.frag_timeout_ns, &e->st);
	if (!e->defrag || weft_flow_table_init(e)) {
		weft_defrag_free(e->defrag);
		free(e);
		return NULL;
	}
	return e;
}

void weft_engine_set_config(struct weft_engine *e, const struct weft_config *cfg)
{
	bool vlan = e->cfg.vlan_in_key;
	size_t user = e->cfg.conn_user_size;
	e->cfg = *cfg;
	if (!e->cfg.buffer_cap)
		e->cfg.buffer_cap = UINT64_MAX;
	/* the key and the connection layout cannot change under live flows */
	e->cfg.vlan_in_key = vlan;
	e->cfg.conn_user_size = user;
	weft_defrag_set_limits(e->defrag, cfg->frag_max_datagrams, cfg->frag_timeout_ns);
}

static void conn_free(struct weft_engine *e, struct weft_conn *c)
{
	if (c->end_req) {
		/* evicted before its asked-for end ran: off the pending list */
		struct weft_conn **pp = &e->pending;
		while (*pp && *pp != c)
			pp = &(*pp)->pnext;
		if (*pp)
			*pp = c->pnext;
	}
	weft_flow_remove(e, c);
	weft_lru_remove(e, c);
	weft_side_free(e, &c->side[0]);
	weft_side_free(e, &c->side[1]);
	weft_mem_add(e, -(int64_t)c->alloc - c->user_mem);
	free(c);
}

static bool frees_on_end(enum weft_end_reason r)
{
	/* Evictions free the state; a connection that closed stays a while as
	 * a closed entry so stragglers are not taken for a new connection. */
	return r == WEFT_END_IDLE || r == WEFT_END_MEMCAP || r == WEFT_END_MAX_FLOWS ||
	       r == WEFT_END_SHUTDOWN || r == WEFT_END_EOF;
}

void weft_conn_end_now(struct weft_engine *e, struct weft_conn *c, enum weft_end_reason r)
{
	if (c->ended)
		return;
	/* a connection held back after its FINs ended then, whatever ends
	 * it now (the linger, memcap, a new SYN, the end of input) */
	if (c->linger)
		r = (enum weft_end_reason)c->linger;
	/* the last word on what each receiver got, for the final gaps */
	weft_tcp_poll(e, c, WEFT_C2S);
	weft_tcp_poll(e, c, WEFT_S2C);
	c->ended = true;
	weft_side_finish(e, c, WEFT_C2S);
	weft_side_finish(e, c, WEFT_S2C);
	c->info.end = r;
	e->st.ends[r]++;
	e->st.conns_open--;
	if (e->cb.on_end)
		e->cb.on_end(e->cb.ctx, c, r);
	if (frees_on_end(r))
		conn_free(e, c);
	else
		weft_lru_touch(e, c, LRU_CLOSED);
}

/* With cfg.linger_ns, a connection whose directions both finished is not
 * ended at once: a source that reorders after the tap (RX queues drained in
 * turn, a retransmission hashed to the other queue) can hand over the last
 * data after the FINs, and those bytes fill their gap only while the
 * connection lives. It ends (reason fin) once quiet that long in packet
 * time, at a packet that is not its own (a SYN, bytes past its FINs), or
 * as soon as anything else would end it. */
static uint64_t class_timeout(const struct weft_engine *e, int cls)
{
	switch (cls) {
	case LRU_HALFOPEN: return e->cfg.idle_halfopen_ns;
	case LRU_ESTABLISHED: return e->cfg.idle_established_ns;
	case LRU_LINGER: return e->cfg.linger_ns;
	default: return e->cfg.idle_closing_ns;
	}
}

/* The idle clock: packet time with the clock jumps believed so far taken
 * out, so time a capture skipped (files stitched from several days) is
 * no time idle. */
static uint64_t idle_clock(const struct weft_engine *e, uint64_t t)
{
	return t > e->shift ? t - e->shift : 0;
}

/* A packet (or a source's word) says c was alive: at packet time ts for
 * the report, at believed time now for the idle timeouts. Neither goes
 * back: a packet stamped in the past is still a sign of life. */
static void conn_seen(struct weft_engine *e, struct weft_conn *c, uint64_t ts, uint64_t now)
{
	if (ts > c->info.last_ns)
		c->info.last_ns = ts;
	uint64_t at = idle_clock(e, now);
	if (at > c->idle_at)
		c->idle_at = at;
}

static size_t sweep_some(struct weft_engine *e, uint64_t now, size_t max)
{
	size_t done = 0;
	if (now > e->now)
		e->now = now;
	weft_defrag_expire(e->defrag, e->now);
	frag_sync(e);
	for (int cls = 0; cls < LRU__COUNT; cls++) {
		uint64_t to = class_timeout(e, cls);
		struct weft_conn *c;
		while ((c = e->lru[cls].head) && c->idle_at + to <= idle_clock(e, e->now)) {
			if (done++ == max)
				return max; /* more to do: the caller comes back */
			uint64_t seen;
			if (c->ended) {
				conn_free(e, c);
			} else if (e->cb.last_seen && e->cb.last_seen(e->cb.ctx, c, &seen) &&
				   seen > c->info.last_ns && seen + to > e->now) {
				/* alive where the engine cannot see it: to the back */
				conn_seen(e, c, seen, seen);
				weft_lru_touch(e, c, (enum lru_class)cls);
			} else {
				weft_conn_end_now(e, c, WEFT_END_IDLE);
			}
		}
	}
	e->next_sweep = e->now + SWEEP_EVERY_NS;
	return done;
}

void weft_engine_sweep(struct weft_engine *e, uint64_t now)
{
	weft_engine_sweep_some(e, now, SIZE_MAX);
}

static void enter(struct weft_engine *e);
static void leave(struct weft_engine *e);

size_t weft_engine_sweep_some(struct weft_engine *e, uint64_t now, size_t max)
{
	enter(e);
	size_t n = sweep_some(e, now, max);
	leave(e);
	return n;
}

/* The open connection idle the longest, over every class. */
static struct weft_conn *oldest_open(struct weft_engine *e)
{
	struct weft_conn *best = NULL;
	for (int cls = 0; cls < LRU_CLOSED; cls++) {
		struct weft_conn *c = e->lru[cls].head;
		if (c && (!best || c->idle_at < best->idle_at))
			best = c;
	}
	return best;
}

static void enforce_memcap(struct weft_engine *e)
{
	while (e->cfg.memcap && e->st.mem_used > e->cfg.memcap) {
		/* fragments first, oldest first: a flood of datagrams that
		 * never complete must not cost a connection its stream */
		if (weft_defrag_evict_oldest(e->defrag)) {
			frag_sync(e);
			continue;
		}
		frag_sync(e);
		struct weft_conn *c = e->lru[LRU_CLOSED].head;
		if (c) {
			conn_free(e, c);
			continue;
		}
		c = oldest_open(e);
		if (!c)
			break;
		weft_conn_end_now(e, c, WEFT_END_MEMCAP);
	}
}

/* Is this packet a lingering connection's own: no SYN, nothing past the
 * FIN of its direction (a late byte, a retransmission, a last ACK)? */
static bool linger_own(const struct weft_conn *c, enum weft_dir d, const struct tcp_seg *t,
		       bool syn_only)
{
	const struct side *s = &c->side[d];
	if (syn_only || (t->flags & TCP_SYN) || !s->started)
		return false;
	int64_t off = weft_seq_off(s, t->seq);
	return off >= 0 && (uint64_t)off + t->wirelen <= s->fin_off + 1;
}

static enum lru_class conn_class(const struct weft_conn *c)
{
	if (c->ended)
		return LRU_CLOSED;
	if (c->linger)
		return LRU_LINGER;
	return weft_tcp_class(c);
}

static struct weft_conn *conn_new(struct weft_engine *e, const struct flow_key *k,
				  uint32_t hash, uint8_t src_index, const struct ip_pkt *ip,
				  const struct tcp_seg *t, uint64_t ts, uint64_t now, uint32_t reuse)
{
	while (e->cfg.max_flows && e->st.conns_open >= e->cfg.max_flows) {
		struct weft_conn *v = oldest_open(e);
		if (!v)
			break;
		weft_conn_end_now(e, v, WEFT_END_MAX_FLOWS);
	}
	size_t sz = sizeof(struct weft_conn) + e->cfg.conn_user_size;
	struct weft_conn *c = calloc(1, sz);
	if (!c) {
		e->st.alloc_failures++;
		return NULL;
	}
	c->eng = e;
	c->alloc = sz + ALLOC_OVERHEAD;
	weft_mem_add(e, (int64_t)c->alloc);
	c->lru = LRU__COUNT;
	c->hash = hash;
	c->key = *k;
	/* Client: the SYN sender; SYN+ACK comes from the server; midstream, the
	 * sender unless its port is well known and the other is not. */
	bool sender_is_client;
	if ((t->flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
		sender_is_client = true;
	} else if (t->flags & TCP_SYN) {
		sender_is_client = false;
	} else {
		c->info.midstream = true;
		sender_is_client = !(t->sport < 1024 && t->dport >= 1024);
	}
	c->client = sender_is_client ? src_index : !src_index;
	c->info.id = ++e->next_id;
	c->info.family = ip->family;
	c->info.nvlan = ip->nvlan;
	c->info.vlan[0] = ip->vlan[0];
	c->info.vlan[1] = ip->vlan[1];
	c->info.reuse = reuse;
	memcpy(c->info.client.addr, k->addr[c->client], 16);
	c->info.client.port = k->port[c->client];
	memcpy(c->info.server.addr, k->addr[!c->client], 16);
	c->info.server.port = k->port[!c->client];
	c->info.first_ns = c->info.last_ns = ts;
	c->idle_at = idle_clock(e, now);
	weft_flow_insert(e, c);
	e->st.conns++;
	e->st.conns_open++;
	if (e->st.conns_open > e->st.conns_max_open)
		e->st.conns_max_open = e->st.conns_open;
	weft_lru_touch(e, c, conn_class(c));
	if (e->cb.on_start)
		e->cb.on_start(e->cb.ctx, c);
	return c;
}

/* The engine's clock follows packet time, but one packet stamped years
 * ahead (it happens: corrupt records, clock steps) must not idle out every
 * connection. A jump of more than an hour is believed when the next packet
 * confirms it; until then the packet counts at the current time. A jump
 * believed is a new epoch, not idle time: the idle clock (e->shift) skips
 * it, so a connection alive on both sides of it (captures stitched from
 * several days) goes on as one. Time that goes back is kept as it is (the
 * clock never goes back). */
#define JUMP_NS (3600ull * NS)
static uint64_t packet_time(struct weft_engine *e, uint64_t ts)
{
	if (ts <= e->now + JUMP_NS || !e->now) {
		e->jump_pending = 0;
		if (ts > e->now)
			e->now = ts;
		return ts < e->now ? ts : e->now;
	}
	if (e->jump_pending && ts + JUMP_NS >= e->jump_pending &&
	    ts <= e->jump_pending + JUMP_NS) {
		/* the first packet past the jump counted at the old time: the
		 * idle clock resumes there */
		e->shift += e->jump_pending - e->now;
		e->jump_pending = 0;
		e->now = ts;
		return ts;
	}
	e->jump_pending = ts;
	e->st.time_jumps++;
	return e->now;
}

static int feed(struct weft_engine *e, const struct weft_frame *f)
{
	struct ip_pkt ip, whole;
	struct tcp_seg t;
	e->st.frames++;
	e->st.bytes += f->wirelen;
	uint64_t ts = packet_time(e, f->ts_ns);
	if (!e->cfg.external_sweep && e->now >= e->next_sweep)
		weft_engine_sweep(e, e->now);

	enum decode_status st = weft_decode_frame(f->link, f->data, f->caplen, f->wirelen, &ip);
	if (ip.len_mismatch)
		e->st.len_mismatch++;
	if (st == DEC_UNKNOWN_LINK) {
		e->st.unknown_link++;
		return -1;
	}
	if (st == DEC_MALFORMED) {
		e->st.malformed++;
		return -1;
	}
	if (st != DEC_OK) {
		e->st.non_tcp++;
		return -1;
	}
	if (ip.frag) {
		int done = weft_defrag_add(e->defrag, e->now, &ip, &whole);
		frag_sync(e);
		if (!done) {
			enforce_memcap(e);
			return 0;
		}
		ip = whole;
	}
	if (ip.proto != 6) {
		e->st.non_tcp++;
		return -1;
	}
	if (weft_decode_tcp(ip.l4, ip.l4_caplen, ip.l4_wirelen, &t) != DEC_OK) {
		e->st.malformed++;
		return -1;
	}
	e->st.tcp_packets++;

	struct flow_key k;
	uint8_t src_index;
	weft_flow_key_make(&k, &ip, t.sport, t.dport, e->cfg.vlan_in_key, &src_index);
	uint32_t hash = (f->hash && e->cfg.vlan_in_key) ? f->hash : weft_flow_key_hash(&k);
	struct weft_conn *c = weft_flow_lookup(e, &k, hash);
	bool syn_only = (t.flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN;
	uint32_t reuse = 0;
	if (c) {
		enum weft_dir d = src_index == c->client ? WEFT_C2S : WEFT_S2C;
		if (c->linger && !c->ended && !linger_own(c, d, &t, syn_only))
			weft_conn_end_now(e, c, WEFT_END_FIN); /* another connection's */
		if (c->ended && !syn_only && !weft_tcp_after_end(c, d, &t)) {
			e->st.late_packets++;
			conn_seen(e, c, ts, ts);
			weft_lru_touch(e, c, LRU_CLOSED);
			return 0;
		}
		if (c->ended || (syn_only && weft_tcp_new_syn(c, d, &t))) {
			/* a new connection on this 4-tuple */
			reuse = c->info.reuse + 1;
			if (!c->ended)
				weft_conn_end_now(e, c, WEFT_END_REUSE);
			conn_free(e, c);
			c = NULL;
		}
	}
	if (!c) {
		if (t.flags & TCP_RST) {
			e->st.late_packets++; /* nothing to follow */
			return 0;
		}
		/* a connection's first packet gives its start its own time,
		 * believed or not (the first packet past a clock jump) */
		c = conn_new(e, &k, hash, src_index, &ip, &t, f->ts_ns, ts, reuse);
		if (!c)
			return -1;
	}
	if (conn_halted(c))
		return 0; /* its on_start ended it */
	enum weft_dir d = src_index == c->client ? WEFT_C2S : WEFT_S2C;
	t.peer_ack_valid = f->peer_ack_valid;
	t.peer_ack = f->peer_ack;
	t.peer_fin_valid = f->peer_fin_valid;
	t.peer_fin = f->peer_fin;
	conn_seen(e, c, ts, ts);
	enum weft_end_reason r = weft_tcp_packet(e, c, d, &t);
	if (r == WEFT_END_FIN && e->cfg.linger_ns && !c->ended && !conn_halted(c)) {
		c->linger = (uint8_t)r; /* the end waits for late bytes (linger_ns) */
		weft_lru_touch(e, c, LRU_LINGER);
	} else if (r != WEFT_END_NONE)
		weft_conn_end_now(e, c, r);
	else if (!c->ended && !conn_halted(c))
		weft_lru_touch(e, c, conn_class(c));
	enforce_memcap(e);
	return 0;
}

static void flush_all(struct weft_engine *e, enum weft_end_reason r)
{
	for (int cls = 0; cls < LRU__COUNT; cls++) {
		struct weft_conn *c;
		while ((c = e->lru[cls].head)) {
			if (c->ended)
				conn_free(e, c);
			else
				weft_conn_end_now(e, c, r);
		}
	}
}

int weft_engine_feed(struct weft_engine *e, const struct weft_frame *f)
{
	enter(e);
	int r = feed(e, f);
	leave(e);
	return r;
}

void weft_engine_flush(struct weft_engine *e, enum weft_end_reason r)
{
	enter(e);
	flush_all(e, r);
	leave(e);
}

void weft_engine_stats(const struct weft_engine *e, struct weft_stats *s)
{
	*s = e->st;
}

void weft_engine_free(struct weft_engine *e)
{
	if (!e)
		return;
	for (int cls = 0; cls < LRU__COUNT; cls++)
		while (e->lru[cls].head)
			conn_free(e, e->lru[cls].head);
	weft_flow_table_free(e);
	weft_defrag_free(e->defrag);
	free(e);
}

const struct weft_conn_info *weft_conn_info(const struct weft_conn *c) { return &c->info; }

const struct weft_dir_stats *weft_conn_dir(const struct weft_conn *c, enum weft_dir d)
{
	return &c->side[d].st;
}

void *weft_conn_user(struct weft_conn *c) { return c->user; }

void weft_conn_mem(struct weft_conn *c, int64_t n)
{
	c->user_mem += n;
	weft_mem_add(c->eng, n);
}

void weft_conn_ignore(struct weft_conn *c, enum weft_dir d)
{
	c->side[d].st.ignored = true;
}

/* Entry and exit of every public call that can make callbacks. Ends asked
 * for inside them run on the way out, when nothing holds the connection. */
static void enter(struct weft_engine *e)
{
	e->busy++;
}

static void leave(struct weft_engine *e)
{
	if (e->busy > 1) {
		e->busy--;
		return;
	}
	/* still busy while the ends run: their on_end may ask for more */
	struct weft_conn *c;
	while ((c = e->pending)) {
		e->pending = c->pnext;
		enum weft_end_reason r = (enum weft_end_reason)c->end_req;
		c->end_req = WEFT_END_NONE;
		weft_conn_end_now(e, c, r);
	}
	e->busy--;
}

void weft_conn_end(struct weft_engine *e, struct weft_conn *c, enum weft_end_reason r)
{
	if (c->ended || c->end_req)
		return;
	if ((unsigned)r >= WEFT_END__COUNT || r == WEFT_END_NONE)
		r = WEFT_END_MANUAL;
	if (!e->busy) {
		weft_conn_end_now(e, c, r);
		return;
	}
	c->end_req = (uint8_t)r;
	c->pnext = e->pending;
	e->pending = c;
}

struct weft_conn *weft_engine_find(struct weft_engine *e, uint64_t id)
{
	for (int cls = 0; cls < LRU_CLOSED; cls++)
		for (struct weft_conn *c = e->lru[cls].head; c; c = c->lnext)
			if (c->info.id == id)
				return c;
	return NULL;
}

void weft_addr_str(uint8_t family, const uint8_t addr[16], char *buf, size_t len)
{
	inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, buf, (socklen_t)len);
}
