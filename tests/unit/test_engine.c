/* SPDX-License-Identifier: MIT */
/*
 * Engine unit tests over constructed segments: every case builds raw IPv4
 * (or IPv6) TCP packets, feeds them with packet times, and checks what the
 * callbacks delivered: bytes at their offsets, gaps, end reasons, counters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>
#include <cmocka.h>
#include "weft/weft.h"

#define NS 1000000000ull

/* ---- what the callbacks saw ---- */

struct side_out {
	uint8_t buf[1 << 16];
	uint64_t len;          /* highest offset written + 1 */
	uint64_t gaps[32][2];
	int ngaps;
	uint64_t delivered;
	/* sparse worlds: where each delivery landed, and its first bytes */
	uint64_t doff[32];
	char dhead[32][9];
	int nd;
};

struct conn_out {
	uint64_t id;
	struct side_out s[2];
	enum weft_end_reason end;
	struct weft_conn_info info;
	struct weft_dir_stats st[2];
};

struct world {
	struct weft_engine *e;
	struct conn_out c[100];
	int nconn;
	uint64_t ts;
	bool keep;          /* test keep_unconsumed: consume only full lines */
	int resync_calls;
	/* a source that keeps pure ACKs (the kernel flow table) */
	bool ack_known[2];
	uint32_t fin[2];    /* the source's answer to sent_fin */
	bool fin_known[2];
	uint32_t ack[2];    /* the receiver's ACK of direction d */
	int ack_asked;
	int unwanted[2];    /* on_unwanted calls per direction */
	/* callbacks that use the API: end the connection from on_data or
	 * on_start with this reason, end connection end_other from on_end */
	enum weft_end_reason end_in_data, end_in_start;
	uint64_t end_other;
	int ignore_in_data; /* 1 + the direction to ignore from on_data */
	bool sparse;        /* streams past the buffer: record deliveries only */
};

static struct weft_conn *find_conn(struct world *w, uint64_t id)
{
	return weft_engine_find(w->e, id);
}

static struct conn_out *out_of(struct world *w, struct weft_conn *c)
{
	uint64_t id = weft_conn_info(c)->id;
	for (int i = 0; i < w->nconn; i++)
		if (w->c[i].id == id)
			return &w->c[i];
	return NULL;
}

static void cb_start(void *ctx, struct weft_conn *c)
{
	struct world *w = ctx;
	assert_true(w->nconn < 100);
	memset(&w->c[w->nconn], 0, sizeof(w->c[0]));
	w->c[w->nconn++].id = weft_conn_info(c)->id;
	if (w->end_in_start)
		weft_conn_end(w->e, c, w->end_in_start);
}

/* Late bytes: inside a gap declared before, below what was delivered;
 * written in place, and the gap list loses them. */
static void cb_late(void *ctx, struct weft_conn *c, enum weft_dir d, uint64_t off,
		    const uint8_t *data, size_t len)
{
	struct world *w = ctx;
	struct side_out *s = &out_of(w, c)->s[d];
	assert_true(off + len <= s->len);
	int inside = 0;
	for (int i = 0; i < s->ngaps; i++) {
		uint64_t a = s->gaps[i][0], b = a + s->gaps[i][1];
		if (off < a || off + len > b)
			continue;
		inside = 1;
		if (off == a) {
			s->gaps[i][0] += len;
			s->gaps[i][1] -= len;
		} else if (off + len == b) {
			s->gaps[i][1] -= len;
		} else { /* the middle: split */
			assert_true(s->ngaps < 32);
			s->gaps[s->ngaps][0] = off + len;
			s->gaps[s->ngaps][1] = b - (off + len);
			s->ngaps++;
			s->gaps[i][1] = off - a;
		}
		if (!s->gaps[i][1]) {
			s->gaps[i][0] = s->gaps[s->ngaps - 1][0];
			s->gaps[i][1] = s->gaps[s->ngaps - 1][1];
			s->ngaps--;
		}
		break;
	}
	assert_true(inside);
	memcpy(s->buf + off, data, len);
}

static size_t cb_data(void *ctx, struct weft_conn *c, enum weft_dir d, uint64_t off,
		      const uint8_t *data, size_t len)
{
	struct world *w = ctx;
	struct side_out *s = &out_of(w, c)->s[d];
	if (w->end_in_data)
		weft_conn_end(w->e, c, w->end_in_data);
	if (w->ignore_in_data)
		weft_conn_ignore(c, (enum weft_dir)(w->ignore_in_data - 1));
	if (w->keep) {
		/* consume whole lines only; the rest must come back next time */
		size_t used = 0;
		for (size_t i = 0; i < len; i++)
			if (data[i] == '\n')
				used = i + 1;
		if (!used)
			return 0;
		assert_true(off + used <= sizeof(s->buf));
		memcpy(s->buf + off, data, used);
		if (off + used > s->len)
			s->len = off + used;
		s->delivered += used;
		return used;
	}
	if (w->sparse) {
		assert_int_equal(off, s->len);
		assert_true(s->nd < 32);
		s->doff[s->nd] = off;
		memcpy(s->dhead[s->nd++], data, len < 8 ? len : 8);
		s->len = off + len;
		s->delivered += len;
		return len;
	}
	assert_true(off + len <= sizeof(s->buf));
	/* every delivery continues exactly where the last one or a gap ended
	 * (or later, by what the resync hook skipped) */
	if (w->resync_calls)
		assert_true(off >= s->len);
	else
		assert_int_equal(off, s->len);
	memcpy(s->buf + off, data, len);
	s->len = off + len;
	s->delivered += len;
	return len;
}

static void cb_gap(void *ctx, struct weft_conn *c, enum weft_dir d, uint64_t off, uint64_t len)
{
	struct world *w = ctx;
	struct side_out *s = &out_of(w, c)->s[d];
	assert_true(s->ngaps < 32);
	s->gaps[s->ngaps][0] = off;
	s->gaps[s->ngaps][1] = len;
	s->ngaps++;
	if (!w->keep)
		assert_int_equal(off, s->len);
	s->len = off + len;
}

static ssize_t cb_resync(void *ctx, struct weft_conn *c, enum weft_dir d, const uint8_t *data,
			 size_t len)
{
	(void)c; (void)d;
	struct world *w = ctx;
	w->resync_calls++;
	/* messages start with "MSG" */
	for (size_t i = 0; i + 3 <= len; i++)
		if (!memcmp(data + i, "MSG", 3))
			return (ssize_t)i;
	return -1;
}

static void cb_end(void *ctx, struct weft_conn *c, enum weft_end_reason r)
{
	struct world *w = ctx;
	struct conn_out *o = out_of(w, c);
	o->end = r;
	o->info = *weft_conn_info(c);
	o->st[0] = *weft_conn_dir(c, WEFT_C2S);
	o->st[1] = *weft_conn_dir(c, WEFT_S2C);
	if (w->end_other) {
		struct weft_conn *x = find_conn(w, w->end_other);
		if (x)
			weft_conn_end(w->e, x, WEFT_END_EOF);
	}
}

static bool cb_peer_ack(void *ctx, struct weft_conn *c, enum weft_dir d, uint32_t *ack)
{
	(void)c;
	struct world *w = ctx;
	w->ack_asked++;
	*ack = w->ack[d];
	return w->ack_known[d];
}

static bool cb_sent_fin(void *ctx, struct weft_conn *c, enum weft_dir d, uint32_t *seq)
{
	(void)c;
	struct world *w = ctx;
	*seq = w->fin[d];
	return w->fin_known[d];
}

static void cb_unwanted(void *ctx, struct weft_conn *c, enum weft_dir d)
{
	(void)c;
	struct world *w = ctx;
	w->unwanted[d]++;
}

static struct world *world_new(struct weft_config *cfg, bool resync)
{
	struct world *w = calloc(1, sizeof(*w));
	struct weft_callbacks cb = { .ctx = w, .on_start = cb_start, .on_data = cb_data,
				     .on_gap = cb_gap, .on_late = cb_late, .on_end = cb_end,
				     .on_resync = resync ? cb_resync : NULL,
				     .on_unwanted = cb_unwanted, .peer_ack = cb_peer_ack,
				     .sent_fin = cb_sent_fin };
	struct weft_config def;
	if (!cfg) {
		weft_config_default(&def);
		cfg = &def;
	}
	w->keep = cfg->keep_unconsumed;
	w->e = weft_engine_new(cfg, &cb);
	w->ts = 1000 * NS;
	assert_non_null(w->e);
	return w;
}

static void world_free(struct world *w)
{
	weft_engine_free(w->e);
	free(w);
}

/* ---- packets ---- */

#define C 0 /* client -> server */
#define S 1 /* server -> client */
#define SYN 0x02
#define FIN 0x01
#define RST 0x04
#define ACK 0x10
#define PSH 0x08

struct pk {
	int from;
	uint32_t seq, ack;
	uint8_t flags;
	const char *data;
	uint32_t len;       /* 0: strlen(data) */
	uint16_t cport;     /* 0: 40000 */
	uint16_t vlan;      /* 0: none (Ethernet frame when set) */
	uint32_t cut;       /* bytes of payload missing (snaplen) */
	uint32_t rack;      /* != 0: the frame carries the receiver's ACK (peer_ack) */
	uint32_t rfin;      /* != 0: ... and the receiver's FIN's sequence number */
	uint32_t claim;     /* != 0: the record's wire length, IP total length 0 */
};

static void feed(struct world *w, struct pk p)
{
	uint8_t f[2000];
	uint32_t dl = p.data ? (p.len ? p.len : (uint32_t)strlen(p.data)) : 0;
	uint16_t cport = p.cport ? p.cport : 40000;
	size_t o = 0;
	uint32_t link = WEFT_LINK_RAW;
	if (p.vlan) {
		link = WEFT_LINK_ETHERNET;
		memset(f, 0, 12);
		f[12] = 0x81; f[13] = 0x00;
		f[14] = (uint8_t)(p.vlan >> 8); f[15] = (uint8_t)p.vlan;
		f[16] = 0x08; f[17] = 0x00;
		o = 18;
	}
	uint8_t *ip = f + o;
	uint16_t tot = p.claim ? 0 : (uint16_t)(40 + dl);
	memset(ip, 0, 40);
	ip[0] = 0x45; ip[2] = (uint8_t)(tot >> 8); ip[3] = (uint8_t)tot; ip[8] = 64; ip[9] = 6;
	uint8_t a[4] = { 10, 0, 0, 1 }, b[4] = { 10, 0, 0, 2 };
	memcpy(ip + 12, p.from == C ? a : b, 4);
	memcpy(ip + 16, p.from == C ? b : a, 4);
	uint8_t *t = ip + 20;
	uint16_t sp = p.from == C ? cport : 80, dp = p.from == C ? 80 : cport;
	t[0] = (uint8_t)(sp >> 8); t[1] = (uint8_t)sp; t[2] = (uint8_t)(dp >> 8); t[3] = (uint8_t)dp;
	for (int i = 0; i < 4; i++) {
		t[4 + i] = (uint8_t)(p.seq >> (24 - 8 * i));
		t[8 + i] = (uint8_t)(p.ack >> (24 - 8 * i));
	}
	t[12] = 0x50;
	t[13] = p.flags ? p.flags : ACK;
	if (dl)
		memcpy(t + 20, p.data, dl);
	w->ts += NS / 1000;
	uint32_t wire = (uint32_t)(o + 40 + dl);
	uint32_t caplen = wire - p.cut;
	if (p.claim)
		wire = p.claim;
	struct weft_frame fr = { .ts_ns = w->ts, .data = f, .caplen = caplen,
				 .wirelen = wire, .link = link, .peer_ack_valid = p.rack != 0,
				 .peer_ack = p.rack, .peer_fin_valid = p.rfin != 0,
				 .peer_fin = p.rfin };
	weft_engine_feed(w->e, &fr);
}

/* a handshake with ISNs ci and si */
static void hs(struct world *w, uint32_t ci, uint32_t si)
{
	feed(w, (struct pk){ C, ci, 0, SYN });
	feed(w, (struct pk){ S, si, ci + 1, SYN | ACK });
	feed(w, (struct pk){ C, ci + 1, si + 1, ACK });
}

static void finish(struct world *w)
{
	weft_engine_flush(w->e, WEFT_END_EOF);
}

/* A connection whose FINs both came lingers (for bytes a reordered
 * capture shows late) until the end of input or half a second of quiet:
 * end it, as the end of input would. */
#define settle(w) finish(w)

static void expect_stream(struct side_out *s, const char *want)
{
	assert_int_equal(s->len, strlen(want));
	assert_memory_equal(s->buf, want, strlen(want));
}

/* ---- cases ---- */

static uint64_t stat_of(struct world *w, size_t field_off)
{
	struct weft_stats s;
	weft_engine_stats(w->e, &s);
	uint64_t v;
	memcpy(&v, (const uint8_t *)&s + field_off, sizeof(v));
	return v;
}
#define STAT(w, f) stat_of(w, offsetof(struct weft_stats, f))

static void t_in_order_fin(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	hs(w, 100, 500);
	feed(w, (struct pk){ C, 101, 501, ACK | PSH, "GET / HTTP/1.0\r\n\r\n" });
	feed(w, (struct pk){ S, 501, 119, ACK | PSH, "HTTP/1.0 200 OK\r\n" });
	feed(w, (struct pk){ S, 518, 119, ACK | FIN, "body" }); /* FIN with data */
	feed(w, (struct pk){ C, 119, 523, ACK | FIN });
	settle(w);
	assert_int_equal(w->c[0].end, WEFT_END_FIN);
	expect_stream(&w->c[0].s[C], "GET / HTTP/1.0\r\n\r\n");
	expect_stream(&w->c[0].s[S], "HTTP/1.0 200 OK\r\nbody");
	assert_int_equal(w->c[0].s[S].ngaps, 0);
	world_free(w);
}

static void t_reorder_and_dups(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	hs(w, 1000, 9000);
	feed(w, (struct pk){ C, 1001 + 8, 9001, ACK, "cccc" });
	feed(w, (struct pk){ C, 1001 + 4, 9001, ACK, "bbbb" });
	feed(w, (struct pk){ C, 1001 + 4, 9001, ACK, "bbbb" }); /* duplicate, held */
	feed(w, (struct pk){ C, 1001, 9001, ACK, "aaaa" });
	feed(w, (struct pk){ C, 1001, 9001, ACK, "aaaa" });     /* duplicate, delivered */
	feed(w, (struct pk){ C, 1001 + 12, 9001, ACK, "dd" });
	finish(w);
	expect_stream(&w->c[0].s[C], "aaaabbbbccccdd");
	assert_int_equal(w->c[0].st[C].retrans, 8);
	assert_int_equal(w->c[0].st[C].conflicts, 0);
	world_free(w);
}

static void t_partial_overlaps(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	hs(w, 0, 0);
	/* overlap into held data from the left and from the right */
	feed(w, (struct pk){ C, 1 + 10, 1, ACK, "KLMNO" });      /* [10,15) held */
	feed(w, (struct pk){ C, 1 + 8, 1, ACK, "IJKL" });        /* [8,12) overlaps left */
	feed(w, (struct pk){ C, 1 + 13, 1, ACK, "NOPQR" });      /* [13,18) overlaps right */
	feed(w, (struct pk){ C, 1 + 0, 1, ACK, "ABCDEFGHI" });   /* [0,9) fills, overlaps */
	feed(w, (struct pk){ C, 1 + 16, 1, ACK, "QRST" });       /* in order, overlaps tail */
	finish(w);
	expect_stream(&w->c[0].s[C], "ABCDEFGHIJKLMNOPQRST");
	assert_int_equal(w->c[0].st[C].conflicts, 0);
	world_free(w);
}

static void conflict_case(enum weft_overlap pol, const char *want)
{
	struct weft_config cfg;
	weft_config_default(&cfg);
	cfg.overlap = pol;
	struct world *w = world_new(&cfg, false);
	hs(w, 0, 0);
	feed(w, (struct pk){ C, 1 + 4, 1, ACK, "XXXX" });  /* held */
	feed(w, (struct pk){ C, 1 + 4, 1, ACK, "YYYY" });  /* same range, other bytes */
	feed(w, (struct pk){ C, 1 + 6, 1, ACK, "ZZZZ" });  /* half over it */
	feed(w, (struct pk){ C, 1, 1, ACK, "aaaa" });
	finish(w);
	expect_stream(&w->c[0].s[C], want);
	assert_int_equal(w->c[0].st[C].conflicts, 4 + 2);
	world_free(w);
}

static void t_conflict_first(void **st) { (void)st; conflict_case(WEFT_OVERLAP_FIRST, "aaaaXXXXZZ"); }
static void t_conflict_last(void **st) { (void)st; conflict_case(WEFT_OVERLAP_LAST, "aaaaYYZZZZ"); }

static void delivered_conflict_case(enum weft_overlap pol)
{
	struct weft_config cfg;
	weft_config_default(&cfg);
	cfg.overlap = pol;
	struct world *w = world_new(&cfg, false);
	hs(w, 0, 0);
	feed(w, (struct pk){ C, 1, 1, ACK, "aaaa" });
	feed(w, (struct pk){ C, 5, 1, ACK, "bbbb" });
	/* over delivered bytes: 2 differ, 4 are the same; across the end,
	 * 2 new bytes follow */
	feed(w, (struct pk){ C, 3, 1, ACK, "XXbbbbcc" });
	/* an exact copy: no conflict */
	feed(w, (struct pk){ C, 1, 1, ACK, "aaaa" });
	finish(w);
	/* delivered bytes are never rewritten, whatever the policy */
	expect_stream(&w->c[0].s[C], "aaaabbbbcc");
	assert_int_equal(w->c[0].st[C].conflicts, 2);
	assert_int_equal(w->c[0].st[C].retrans, 6 + 4);
	assert_int_equal(STAT(w, conflicts), 2);
	world_free(w);
}

static void t_conflict_delivered(void **st)
{
	(void)st;
	delivered_conflict_case(WEFT_OVERLAP_FIRST);
	delivered_conflict_case(WEFT_OVERLAP_LAST);
}

static void wrap_case(uint32_t back)
{
	struct world *w = world_new(NULL, false);
	uint32_t isn = (uint32_t)(0u - back);
	hs(w, isn, 7);
	char msg[64];
	for (int i = 0; i < 64; i++)
		msg[i] = (char)('A' + i % 26);
	/* 4 segments of 16 bytes across the wrap, the 2nd and 3rd swapped */
	feed(w, (struct pk){ C, isn + 1, 8, ACK, msg, 16 });
	feed(w, (struct pk){ C, isn + 1 + 32, 8, ACK, msg + 32, 16 });
	feed(w, (struct pk){ C, isn + 1 + 16, 8, ACK, msg + 16, 16 });
	feed(w, (struct pk){ C, isn + 1 + 48, 8, ACK | FIN, msg + 48, 16 });
	feed(w, (struct pk){ S, 8, isn + 66, ACK | FIN });
	settle(w);
	assert_int_equal(w->c[0].end, WEFT_END_FIN);
	assert_int_equal(w->c[0].s[C].len, 64);
	assert_memory_equal(w->c[0].s[C].buf, msg, 64);
	world_free(w);
}

static void t_wrap(void **st)
{
	(void)st;
	static const uint32_t backs[] = { 1, 2, 5, 10, 34 };
	for (size_t i = 0; i < 5; i++)
		wrap_case(backs[i]);
}

static void t_midstream(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	/* no handshake: the server answers first, its port says it is one */
	feed(w, (struct pk){ S, 5000, 777, ACK, "response" });
	feed(w, (struct pk){ C, 777, 5008, ACK, "next request" });
	finish(w);
	assert_true(w->c[0].info.midstream);
	assert_int_equal(w->c[0].info.client.port, 40000);
	expect_stream(&w->c[0].s[S], "response");
	expect_stream(&w->c[0].s[C], "next request");
	world_free(w);
}

static void t_midstream_reordered_start(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	/* the capture opens with the second segment: the first still counts */
	feed(w, (struct pk){ S, 5004, 0, ACK, "EFGH" });
	feed(w, (struct pk){ S, 5000, 0, ACK, "ABCD" });
	feed(w, (struct pk){ C, 1, 5008, ACK });
	finish(w);
	expect_stream(&w->c[0].s[S], "ABCDEFGH");
	assert_int_equal(w->c[0].s[S].ngaps, 0);
	world_free(w);
}

static void t_midstream_float_at_origin(void **st)
{
	(void)st;
	/* found by the fuzzer: a segment that lands exactly on a floating
	 * side's provisional origin must not be delivered before offset 0 is
	 * fixed */
	struct world *w = world_new(NULL, false);
	feed(w, (struct pk){ C, 3758150345u, 1, ACK, "second" });
	feed(w, (struct pk){ C, 3758150345u - (1u << 30), 1, ACK, "first" });
	finish(w);
	/* delivered once, in order; the other, 1 GiB away, is implausible */
	expect_stream(&w->c[0].s[C], "first");
	assert_int_equal(w->c[0].s[C].ngaps, 0);
	struct weft_stats s;
	weft_engine_stats(w->e, &s);
	assert_int_equal(s.implausible, 1);
	world_free(w);
}

static void t_keepalive(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	hs(w, 10, 20);
	feed(w, (struct pk){ C, 11, 21, ACK, "hello" });
	feed(w, (struct pk){ C, 15, 21, ACK, "o" });   /* keep-alive: next-1, one byte */
	feed(w, (struct pk){ C, 15, 21, ACK });        /* zero-length keep-alive */
	feed(w, (struct pk){ C, 16, 21, ACK, " world" });
	finish(w);
	expect_stream(&w->c[0].s[C], "hello world");
	assert_int_equal(w->c[0].s[C].ngaps, 0);
	world_free(w);
}

static void t_data_after_fin(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	hs(w, 10, 20);
	feed(w, (struct pk){ C, 11, 21, ACK | FIN, "bye" });
	feed(w, (struct pk){ C, 15, 21, ACK, "late" });  /* after the FIN: not stream */
	feed(w, (struct pk){ S, 21, 15, ACK | FIN });
	settle(w);
	assert_int_equal(w->c[0].end, WEFT_END_FIN);
	expect_stream(&w->c[0].s[C], "bye");
	world_free(w);
}

static void t_rst(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	hs(w, 10, 20);
	feed(w, (struct pk){ C, 11, 21, ACK, "abc" });
	feed(w, (struct pk){ S, 21, 14, RST | ACK });
	assert_int_equal(w->c[0].end, WEFT_END_RST);
	assert_true(w->c[0].st[S].rst);
	expect_stream(&w->c[0].s[C], "abc");
	world_free(w);
}

static void t_port_reuse(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	hs(w, 10, 20);
	feed(w, (struct pk){ C, 11, 21, ACK | FIN, "one" });
	feed(w, (struct pk){ S, 21, 15, ACK | FIN });
	feed(w, (struct pk){ C, 15, 22, ACK });
	hs(w, 90000, 70000);                        /* same 4-tuple, new ISNs */
	feed(w, (struct pk){ C, 90001, 70001, ACK | FIN, "two" });
	feed(w, (struct pk){ S, 70001, 90005, ACK | FIN });
	settle(w);
	assert_int_equal(w->nconn, 2);
	assert_int_equal(w->c[0].end, WEFT_END_FIN);
	assert_int_equal(w->c[1].end, WEFT_END_FIN);
	assert_int_equal(w->c[1].info.reuse, 1);
	expect_stream(&w->c[0].s[C], "one");
	expect_stream(&w->c[1].s[C], "two");
	world_free(w);
}

static void t_late_syn(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	/* two RX queues drained in turn: the SYN-ACK and data before the SYN */
	feed(w, (struct pk){ S, 500, 101, SYN | ACK });
	feed(w, (struct pk){ C, 100, 0, SYN });
	feed(w, (struct pk){ C, 101, 501, ACK, "hello" });
	feed(w, (struct pk){ S, 501, 106, ACK | FIN, "bye" });
	feed(w, (struct pk){ C, 106, 505, ACK | FIN });
	settle(w);
	assert_int_equal(w->nconn, 1);
	assert_int_equal(w->c[0].end, WEFT_END_FIN);
	assert_int_equal(w->c[0].info.client.port, 40000);
	expect_stream(&w->c[0].s[C], "hello");
	expect_stream(&w->c[0].s[S], "bye");
	world_free(w);
}

static void t_gap_acked(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	hs(w, 0, 0);
	feed(w, (struct pk){ C, 1, 1, ACK, "AAAA" });
	/* "BBBB" at 4 is lost by the capture; the server acknowledges it */
	feed(w, (struct pk){ C, 9, 1, ACK, "CCCC" });
	feed(w, (struct pk){ S, 1, 13, ACK });
	feed(w, (struct pk){ C, 13, 1, ACK, "DDDD" });  /* the sender moves on */
	assert_int_equal(w->c[0].s[C].ngaps, 1);       /* declared now, not at the end */
	assert_int_equal(w->c[0].s[C].gaps[0][0], 4);
	assert_int_equal(w->c[0].s[C].gaps[0][1], 4);
	finish(w);
	assert_int_equal(w->c[0].s[C].len, 16);
	assert_memory_equal(w->c[0].s[C].buf + 8, "CCCCDDDD", 8);
	world_free(w);
}

/* The receiver's pure ACK never reaches the engine (kept in the kernel):
 * the sender's next packet carries its word (weft_frame.peer_ack), and the
 * gap is the one the ACK itself would have shown. At the end, the source
 * answers peer_ack. */
static void t_gap_acked_by_source(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	hs(w, 0, 0);
	feed(w, (struct pk){ C, 1, 1, ACK, "AAAA" });
	feed(w, (struct pk){ C, 9, 1, ACK, "CCCC" });   /* "BBBB" lost */
	assert_int_equal(w->c[0].s[C].ngaps, 0);        /* nothing known yet */
	feed(w, (struct pk){ C, 13, 1, ACK, "DDDD", .rack = 13 }); /* the server got all 12 */
	assert_int_equal(w->c[0].s[C].ngaps, 1);        /* declared now, not at the end */
	assert_int_equal(w->c[0].s[C].gaps[0][0], 4);
	assert_int_equal(w->c[0].s[C].gaps[0][1], 4);
	assert_int_equal(w->c[0].s[C].len, 16);         /* and what followed delivered */
	/* at the end, the source's ACK past the last byte seen: a tail lost */
	w->ack_known[C] = true;
	w->ack[C] = 21;
	finish(w);
	assert_int_equal(w->c[0].end, WEFT_END_EOF);
	assert_int_equal(w->c[0].s[C].ngaps, 2);
	assert_int_equal(w->c[0].s[C].gaps[1][0], 16);
	assert_int_equal(w->c[0].s[C].gaps[1][1], 4);
	assert_true(w->ack_asked > 0);
	world_free(w);
}

/* Both FINs, a hole in the first closer's data, and no last ACK (a source
 * that keeps pure ACKs): the peer's FIN acknowledges everything, so the
 * hole is a gap and the connection ends with fin, not later. */
static void t_gap_acked_by_fin(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	hs(w, 0, 0);
	feed(w, (struct pk){ S, 1, 1, ACK, "AAAA" });
	feed(w, (struct pk){ S, 9, 1, FIN | ACK, "CCCC" });   /* "BBBB" lost */
	feed(w, (struct pk){ C, 1, 14, FIN | ACK });          /* acks the FIN */
	settle(w);
	assert_int_equal(w->c[0].end, WEFT_END_FIN);
	assert_int_equal(w->c[0].s[S].ngaps, 1);
	assert_int_equal(w->c[0].s[S].gaps[0][0], 4);
	assert_int_equal(w->c[0].s[S].gaps[0][1], 4);
	assert_int_equal(w->c[0].s[S].len, 12);
	world_free(w);
}

/* The server's last data and its FIN never reach the engine (a full ring),
 * but the kernel saw the FIN pass: the client's FIN, which acknowledges it,
 * carries its sequence number. The gap ends at the FIN, not a byte past. */
static void t_lost_fin_by_source(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	hs(w, 0, 0);
	feed(w, (struct pk){ S, 1, 1, ACK, "AAAA" });
	/* "BBBB" and the FIN (sequence number 9) lost */
	feed(w, (struct pk){ C, 1, 10, FIN | ACK, .rfin = 9 });
	finish(w);
	assert_int_equal(w->c[0].s[S].ngaps, 1);
	assert_int_equal(w->c[0].s[S].gaps[0][0], 4);
	assert_int_equal(w->c[0].s[S].gaps[0][1], 4);
	assert_int_equal(w->c[0].s[S].len, 8);
	world_free(w);
	/* the client's FIN lost too: the source answers at the end */
	w = world_new(NULL, false);
	hs(w, 0, 0);
	feed(w, (struct pk){ S, 1, 1, ACK, "AAAA" });
	w->ack_known[S] = true;
	w->ack[S] = 10;
	w->fin_known[S] = true;
	w->fin[S] = 9;
	finish(w);
	assert_int_equal(w->c[0].s[S].ngaps, 1);
	assert_int_equal(w->c[0].s[S].gaps[0][1], 4);
	assert_int_equal(w->c[0].s[S].len, 8);
	world_free(w);
}

static void t_gap_tail_at_end(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	hs(w, 0, 0);
	feed(w, (struct pk){ S, 1, 1, ACK, "0123456789" });
	/* the last 10 bytes are lost; the client ACKs them, then resets */
	feed(w, (struct pk){ C, 1, 21, ACK });
	feed(w, (struct pk){ C, 1, 21, RST | ACK });
	assert_int_equal(w->c[0].end, WEFT_END_RST);
	assert_int_equal(w->c[0].s[S].ngaps, 1);
	assert_int_equal(w->c[0].s[S].gaps[0][0], 10);
	assert_int_equal(w->c[0].s[S].gaps[0][1], 10);
	world_free(w);
}

static void t_snaplen_cut(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	hs(w, 0, 0);
	feed(w, (struct pk){ C, 1, 1, ACK, "ABCDEFGHIJ", .cut = 4 });
	feed(w, (struct pk){ C, 11, 1, ACK, "KLMN" });
	finish(w);
	/* the cut tail is a gap, not zeros passed off as data */
	assert_int_equal(w->c[0].s[C].ngaps, 1);
	assert_int_equal(w->c[0].s[C].gaps[0][0], 6);
	assert_int_equal(w->c[0].s[C].gaps[0][1], 4);
	assert_memory_equal(w->c[0].s[C].buf, "ABCDEF", 6);
	assert_memory_equal(w->c[0].s[C].buf + 10, "KLMN", 4);
	world_free(w);
}

static void t_idle(void **st)
{
	(void)st;
	struct weft_config cfg;
	weft_config_default(&cfg);
	cfg.idle_established_ns = 5 * NS;
	struct world *w = world_new(&cfg, false);
	hs(w, 0, 0);
	feed(w, (struct pk){ C, 1, 1, ACK, "x" });
	w->ts += 10 * NS;
	feed(w, (struct pk){ C, 1, 1, ACK, "y", .cport = 40001 }); /* time moves on */
	assert_int_equal(w->c[0].end, WEFT_END_IDLE);
	world_free(w);
}

static void t_max_flows(void **st)
{
	(void)st;
	struct weft_config cfg;
	weft_config_default(&cfg);
	cfg.max_flows = 2;
	struct world *w = world_new(&cfg, false);
	for (uint16_t i = 0; i < 3; i++)
		feed(w, (struct pk){ C, 1, 1, ACK, "x", .cport = (uint16_t)(41000 + i) });
	assert_int_equal(w->c[0].end, WEFT_END_MAX_FLOWS);
	assert_int_equal(w->c[1].end, WEFT_END_NONE);
	world_free(w);
}

static void t_memcap(void **st)
{
	(void)st;
	struct weft_config cfg;
	weft_config_default(&cfg);
	cfg.memcap = 64 << 10;
	struct world *w = world_new(&cfg, false);
	char big[1000];
	memset(big, 'z', sizeof(big));
	/* each connection holds 1000 bytes behind a hole */
	for (uint16_t i = 0; i < 90; i++) {
		feed(w, (struct pk){ C, 100, 1, SYN, .cport = (uint16_t)(42000 + i) });
		feed(w, (struct pk){ C, 2000, 1, ACK, big, 1000, .cport = (uint16_t)(42000 + i) });
	}
	struct weft_stats s;
	weft_engine_stats(w->e, &s);
	assert_true(s.mem_peak <= (64 << 10) + 2048);
	assert_true(s.ends[WEFT_END_MEMCAP] > 0);
	assert_int_equal(w->c[0].end, WEFT_END_MEMCAP); /* the oldest went first */
	world_free(w);
}

static void t_buffer_cap(void **st)
{
	(void)st;
	struct weft_config cfg;
	weft_config_default(&cfg);
	cfg.buffer_cap = 8;
	struct world *w = world_new(&cfg, false);
	hs(w, 0, 0);
	feed(w, (struct pk){ C, 5, 1, ACK, "EEEE" });
	feed(w, (struct pk){ C, 9, 1, ACK, "FFFFFFFF" });  /* 12 held > 8: give up the hole */
	assert_int_equal(w->c[0].s[C].ngaps, 1);
	assert_int_equal(w->c[0].s[C].gaps[0][0], 0);
	assert_int_equal(w->c[0].s[C].gaps[0][1], 4);
	world_free(w);

	cfg.buffer_policy = WEFT_BUFFER_END;
	w = world_new(&cfg, false);
	hs(w, 0, 0);
	feed(w, (struct pk){ C, 5, 1, ACK, "EEEE" });
	feed(w, (struct pk){ C, 9, 1, ACK, "FFFFFFFF" });
	assert_int_equal(w->c[0].end, WEFT_END_BUFFER);
	world_free(w);
}

/* Bytes a reordered capture shows after the ACK that declared their gap,
 * and after both FINs: they fill the gap in place, the connection waits
 * for them (it lingers after its FINs), and the final gap list is empty. */
static void t_late_bytes(void **st)
{
	(void)st;
	struct weft_config cfg;
	weft_config_default(&cfg);
	cfg.linger_ns = 500000000ull;
	struct world *w = world_new(&cfg, false);
	hs(w, 0, 0);
	feed(w, (struct pk){ S, 1, 1, ACK, "AAAA" });
	feed(w, (struct pk){ S, 9, 1, ACK, "CCCC" });        /* "BBBB" comes late */
	feed(w, (struct pk){ C, 1, 13, ACK });               /* acks past the hole */
	feed(w, (struct pk){ S, 13, 1, ACK, "DDDD" });       /* the sender moved on */
	assert_int_equal(w->c[0].s[S].ngaps, 1);            /* declared */
	feed(w, (struct pk){ S, 17, 1, FIN | ACK });
	feed(w, (struct pk){ C, 1, 18, FIN | ACK });
	assert_int_equal(w->c[0].end, WEFT_END_NONE);        /* lingers */
	feed(w, (struct pk){ S, 5, 1, ACK, "BBBB" });        /* after both FINs */
	settle(w);
	assert_int_equal(w->c[0].end, WEFT_END_FIN);
	expect_stream(&w->c[0].s[S], "AAAABBBBCCCCDDDD");
	assert_int_equal(w->c[0].s[S].ngaps, 0);
	assert_int_equal(w->c[0].st[S].late, 4);
	assert_int_equal(w->c[0].st[S].gap_bytes, 0);
	struct weft_stats ws;
	weft_engine_stats(w->e, &ws);
	assert_int_equal(ws.late_bytes, 4);
	assert_int_equal(ws.gap_bytes, 0);
	world_free(w);
}

/* A connection lingering after its FINs ends (fin) once half a second of
 * packet time has passed without it. */
static void t_linger_ends(void **st)
{
	(void)st;
	struct weft_config cfg;
	weft_config_default(&cfg);
	cfg.linger_ns = 500000000ull;
	struct world *w = world_new(&cfg, false);
	hs(w, 0, 0);
	feed(w, (struct pk){ C, 1, 1, FIN | ACK, "x" });
	feed(w, (struct pk){ S, 1, 3, FIN | ACK });
	assert_int_equal(w->c[0].end, WEFT_END_NONE);
	weft_engine_sweep(w->e, w->ts + 400000000ull);
	assert_int_equal(w->c[0].end, WEFT_END_NONE);
	weft_engine_sweep(w->e, w->ts + 600000000ull);
	assert_int_equal(w->c[0].end, WEFT_END_FIN);
	world_free(w);
	/* and at once at a packet that is not its own: the next connection's */
	w = world_new(&cfg, false);
	hs(w, 0, 0);
	feed(w, (struct pk){ C, 1, 1, FIN | ACK, "x" });
	feed(w, (struct pk){ S, 1, 3, FIN | ACK });
	assert_int_equal(w->c[0].end, WEFT_END_NONE);
	hs(w, 5000, 9000);
	assert_int_equal(w->c[0].end, WEFT_END_FIN);
	assert_int_equal(w->nconn, 2);
	world_free(w);
}

static void t_depth(void **st)
{
	(void)st;
	struct weft_config cfg;
	weft_config_default(&cfg);
	cfg.depth = 6;
	struct world *w = world_new(&cfg, false);
	hs(w, 0, 0);
	feed(w, (struct pk){ C, 1, 1, ACK, "abcd" });
	feed(w, (struct pk){ C, 5, 1, ACK, "efgh" });
	feed(w, (struct pk){ S, 1, 9, ACK, "0123456789" });
	assert_int_equal(w->c[0].end, WEFT_END_DEPTH);
	expect_stream(&w->c[0].s[C], "abcdef");
	expect_stream(&w->c[0].s[S], "012345");
	assert_true(w->c[0].st[C].depth_reached);
	/* each side said once that it wants no more (the bypass cue) */
	assert_int_equal(w->unwanted[C], 1);
	assert_int_equal(w->unwanted[S], 1);
	world_free(w);
}

static void t_manual_and_shutdown(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	hs(w, 0, 0);
	feed(w, (struct pk){ C, 1, 1, ACK, "x", .cport = 40001 });
	struct weft_conn *c = weft_engine_find(w->e, 1);
	assert_non_null(c);
	weft_conn_end(w->e, c, WEFT_END_MANUAL);
	weft_engine_flush(w->e, WEFT_END_SHUTDOWN);
	assert_int_equal(w->c[0].end, WEFT_END_MANUAL);
	assert_int_equal(w->c[1].end, WEFT_END_SHUTDOWN);
	world_free(w);
}

static void t_ignore(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	hs(w, 0, 0);
	weft_conn_ignore(weft_engine_find(w->e, 1), WEFT_S2C);
	feed(w, (struct pk){ S, 1, 1, ACK, "secret" });
	feed(w, (struct pk){ C, 1, 7, ACK, "ok" });
	finish(w);
	assert_int_equal(w->c[0].s[S].delivered, 0);
	assert_true(w->c[0].st[S].ignored);
	expect_stream(&w->c[0].s[C], "ok");
	world_free(w);
}

static void t_keep_unconsumed(void **st)
{
	(void)st;
	struct weft_config cfg;
	weft_config_default(&cfg);
	cfg.keep_unconsumed = true;
	struct world *w = world_new(&cfg, false);
	hs(w, 0, 0);
	feed(w, (struct pk){ C, 1, 1, ACK, "line one\nline t" });
	assert_int_equal(w->c[0].s[C].delivered, 9);
	feed(w, (struct pk){ C, 16, 1, ACK, "wo\n" });
	assert_int_equal(w->c[0].s[C].delivered, 18);
	assert_memory_equal(w->c[0].s[C].buf, "line one\nline two\n", 18);
	world_free(w);
}

static void t_resync_after_gap(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, true);
	hs(w, 0, 0);
	feed(w, (struct pk){ C, 1, 1, ACK, "MSG1 ab" });
	/* 5 bytes lost: "cdMSG" -- the next message start is lost with them */
	feed(w, (struct pk){ C, 13, 1, ACK, "2 efMSG3 x" });
	feed(w, (struct pk){ S, 1, 23, ACK, "r" });      /* the peer moves on */
	finish(w);
	assert_int_equal(w->c[0].s[C].ngaps, 1);
	assert_true(w->resync_calls >= 1);
	/* after the gap, delivery resumes at "MSG3" */
	assert_memory_equal(w->c[0].s[C].buf + 16, "MSG3 x", 6);
	assert_int_equal(w->c[0].st[C].skipped, 4);
	world_free(w);
}

static void t_vlan_key(void **st)
{
	(void)st;
	/* the same packets seen at two probes with other tags */
	for (int in_key = 0; in_key < 2; in_key++) {
		struct weft_config cfg;
		weft_config_default(&cfg);
		cfg.vlan_in_key = in_key;
		struct world *w = world_new(&cfg, false);
		feed(w, (struct pk){ C, 1, 1, ACK, "abcd", .vlan = 10 });
		feed(w, (struct pk){ C, 1, 1, ACK, "abcd", .vlan = 20 });
		feed(w, (struct pk){ C, 5, 1, ACK, "efgh", .vlan = 20 });
		feed(w, (struct pk){ C, 5, 1, ACK, "efgh", .vlan = 10 });
		finish(w);
		assert_int_equal(w->nconn, in_key ? 2 : 1);
		expect_stream(&w->c[0].s[C], "abcdefgh");
		if (!in_key)
			assert_int_equal(w->c[0].st[C].retrans, 8);
		world_free(w);
	}
}

static void t_malformed(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	uint8_t junk[64];
	for (int i = 0; i < 64; i++)
		junk[i] = (uint8_t)(i * 37);
	for (uint32_t n = 0; n <= 64; n++) {
		struct weft_frame f = { .ts_ns = 1, .data = junk, .caplen = n, .wirelen = n,
					.link = WEFT_LINK_ETHERNET };
		weft_engine_feed(w->e, &f);
		f.link = WEFT_LINK_RAW;
		weft_engine_feed(w->e, &f);
	}
	struct weft_stats s;
	weft_engine_stats(w->e, &s);
	assert_true(s.malformed + s.non_tcp == 130);
	world_free(w);
}

static uint64_t total_gap(const struct side_out *s)
{
	uint64_t n = 0;
	for (int i = 0; i < s->ngaps; i++)
		n += s->gaps[i][1];
	return n;
}

static void t_bare_fin_midstream(void **st)
{
	(void)st;
	/* tcpflow/test1.pcap: one FIN|ACK of a connection picked up midstream
	 * is a direction of zero bytes, not a 1 GiB gap of a floating origin */
	struct world *w = world_new(NULL, false);
	feed(w, (struct pk){ C, 5000, 7000, FIN | ACK });
	feed(w, (struct pk){ C, 6000, 8000, FIN | ACK, .cport = 40001 });
	feed(w, (struct pk){ S, 8000, 5990, ACK, .cport = 40001 }); /* 10 unseen */
	finish(w);
	assert_int_equal(w->c[0].st[C].bytes, 0);
	assert_int_equal(w->c[0].s[C].ngaps, 0);
	/* the peer's ACK 10 below the FIN: exactly those 10 bytes are missing */
	assert_int_equal(w->c[1].st[C].bytes, 10);
	assert_int_equal(total_gap(&w->c[1].s[C]), 10);
	world_free(w);
}

static void t_forged_lengths(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	hs(w, 0, 0);
	/* a record claiming 0xfffffff0 bytes on the wire, IP total length 0 */
	feed(w, (struct pk){ C, 1, 1, ACK | PSH, "abcd", .claim = 0xfffffff0u });
	feed(w, (struct pk){ C, 1, 1, ACK | PSH, "abcd", .claim = 0xfffffff0u });
	/* a FIN 1 GiB past the stream */
	feed(w, (struct pk){ C, 1u + (1u << 30), 1, FIN | ACK });
	feed(w, (struct pk){ C, 5, 1, ACK | PSH, "ef" });
	finish(w);
	expect_stream(&w->c[0].s[C], "abcdef");
	assert_int_equal(w->c[0].s[C].ngaps, 0);
	struct weft_stats s;
	weft_engine_stats(w->e, &s);
	/* the FIN: implausible; the two records: lengths that disagree,
	 * believed only as far as every layer agrees */
	assert_true(s.implausible >= 1);
	assert_true(s.implausible + s.len_mismatch >= 3);
	assert_true(s.gap_bytes == 0);
	world_free(w);
}

static void t_time_back(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	hs(w, 100, 500);
	feed(w, (struct pk){ C, 101, 501, ACK | PSH, "ab" });
	w->ts -= 600 * NS; /* one record stamped 10 minutes in the past */
	feed(w, (struct pk){ C, 103, 501, ACK | PSH, "cd" });
	w->ts += 602 * NS; /* another connection's packet runs the sweep */
	feed(w, (struct pk){ C, 1, 1, ACK | PSH, "x", .cport = 40001 });
	feed(w, (struct pk){ C, 105, 501, ACK | PSH, "ef" });
	finish(w);
	assert_int_equal(w->nconn, 2);
	assert_int_equal(w->c[0].end, WEFT_END_EOF);
	expect_stream(&w->c[0].s[C], "abcdef");
	assert_true(w->c[0].info.last_ns >= w->c[0].info.first_ns);
	world_free(w);
}


static void t_rst_outside_window(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	hs(w, 100, 500);
	feed(w, (struct pk){ C, 101, 501, ACK | PSH, "abc" });
	feed(w, (struct pk){ S, 501, 104, ACK | PSH, "xyz" });
	/* spoofed resets: far ahead, inside bytes already delivered, one
	 * short of the receiver's next byte */
	feed(w, (struct pk){ S, 501 + (1u << 30), 104, RST | ACK });
	feed(w, (struct pk){ S, 502, 104, RST | ACK });
	feed(w, (struct pk){ C, 103, 504, RST });
	/* a FIN inside delivered bytes does not end the direction either */
	feed(w, (struct pk){ S, 502, 104, FIN | ACK });
	feed(w, (struct pk){ C, 104, 504, ACK | PSH, "def" });
	feed(w, (struct pk){ S, 504, 107, ACK | FIN, "uvw" });
	feed(w, (struct pk){ C, 107, 508, ACK | FIN });
	assert_int_equal(w->nconn, 1);
	assert_int_equal(w->c[0].end, WEFT_END_FIN);
	assert_false(w->c[0].st[S].rst);
	expect_stream(&w->c[0].s[C], "abcdef");
	expect_stream(&w->c[0].s[S], "xyzuvw");
	assert_int_equal(STAT(w, rst_ignored), 3);
	world_free(w);
}

static void t_rst_inside_window(void **st)
{
	(void)st;
	/* at the next byte, or ahead of it within the window: it counts */
	static const uint32_t ahead[] = { 0, 4000 };
	for (int i = 0; i < 2; i++) {
		struct world *w = world_new(NULL, false);
		hs(w, 100, 500);
		feed(w, (struct pk){ C, 101, 501, ACK | PSH, "abc" });
		feed(w, (struct pk){ S, 501 + ahead[i], 104, RST | ACK });
		assert_int_equal(w->c[0].end, WEFT_END_RST);
		assert_int_equal(STAT(w, rst_ignored), 0);
		world_free(w);
	}
}

static void t_rst_before_synack(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	/* an RST|ACK acknowledging nothing (ACK = the ISN) and a FIN with seq 0
	 * before the SYN-ACK: the client in SYN-SENT accepts neither */
	feed(w, (struct pk){ C, 100, 0, SYN });
	feed(w, (struct pk){ S, 12345, 100, RST | ACK });
	feed(w, (struct pk){ S, 0, 0, FIN });
	feed(w, (struct pk){ S, 500, 101, SYN | ACK });
	feed(w, (struct pk){ C, 101, 501, ACK | PSH, "request" });
	feed(w, (struct pk){ S, 501, 108, ACK | FIN, "response" });
	feed(w, (struct pk){ C, 108, 510, ACK | FIN });
	assert_int_equal(w->nconn, 1);
	assert_int_equal(w->c[0].end, WEFT_END_FIN);
	expect_stream(&w->c[0].s[C], "request");
	expect_stream(&w->c[0].s[S], "response");
	assert_int_equal(STAT(w, rst_ignored), 1);
	world_free(w);
}

static void t_no_deaf_tuple(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	/* an RST|ACK that acknowledges the SYN ends the attempt (RFC 793),
	 * but the handshake and bytes that follow are a connection, not a
	 * blackout */
	feed(w, (struct pk){ C, 100, 0, SYN });
	feed(w, (struct pk){ S, 0, 101, RST | ACK });
	feed(w, (struct pk){ S, 0, 0, FIN }); /* as in a Windows evasion capture */
	feed(w, (struct pk){ S, 500, 101, SYN | ACK });
	feed(w, (struct pk){ C, 101, 501, ACK | PSH, "request" });
	feed(w, (struct pk){ S, 501, 108, ACK | PSH, "response" });
	feed(w, (struct pk){ S, 501, 108, ACK | PSH, "response" }); /* seen again */
	/* the server's real RST ends it; its old bytes and bytes in flight
	 * are stragglers; bytes in another sequence space are a new
	 * connection picked up midstream */
	feed(w, (struct pk){ S, 509, 108, RST | ACK });
	feed(w, (struct pk){ C, 101, 509, ACK | PSH, "request" });
	feed(w, (struct pk){ C, 108, 509, ACK | PSH, "in flight" });
	feed(w, (struct pk){ C, 0x80000000u, 7000, ACK | PSH, "more" });
	finish(w);
	assert_int_equal(w->nconn, 3);
	assert_int_equal(w->c[0].end, WEFT_END_RST);
	assert_int_equal(w->c[1].end, WEFT_END_RST);
	expect_stream(&w->c[1].s[C], "request");
	expect_stream(&w->c[1].s[S], "response");
	assert_int_equal(w->c[1].info.client.port, 40000);
	assert_true(w->c[2].info.midstream);
	assert_int_equal(w->c[2].info.client.port, 40000);
	expect_stream(&w->c[2].s[C], "more");
	assert_int_equal(STAT(w, late_packets), 3);
	world_free(w);
}

static void t_split_handshake(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	/* SYN, SYN back (no ACK), SYN-ACK from the client, ACK: one connection,
	 * the first SYN's sender the client */
	feed(w, (struct pk){ C, 100, 0, SYN });
	feed(w, (struct pk){ S, 500, 0, SYN });
	feed(w, (struct pk){ C, 100, 501, SYN | ACK });
	feed(w, (struct pk){ S, 501, 101, ACK });
	feed(w, (struct pk){ C, 101, 501, ACK | PSH, "request" });
	feed(w, (struct pk){ S, 501, 108, ACK | FIN, "response" });
	feed(w, (struct pk){ C, 108, 510, ACK | FIN });
	assert_int_equal(w->nconn, 1);
	assert_int_equal(w->c[0].end, WEFT_END_FIN);
	assert_int_equal(w->c[0].info.client.port, 40000);
	assert_int_equal(w->c[0].info.reuse, 0);
	assert_false(w->c[0].info.midstream);
	expect_stream(&w->c[0].s[C], "request");
	expect_stream(&w->c[0].s[S], "response");
	assert_int_equal(w->c[0].s[C].ngaps + w->c[0].s[S].ngaps, 0);
	world_free(w);
}

static void t_sparse_past_4gib(void **st)
{
	(void)st;
	/* A transfer of 5.6 GiB captured sparsely: one 8-byte segment every
	 * 380 MiB, each ACKed by the receiver. Every segment lands at its
	 * 64-bit offset, the holes between are gaps of exact length, and the
	 * stream is as long as the last byte. */
	const uint64_t jump = 380ull << 20;
	const int n = 16;
	struct world *w = world_new(NULL, false);
	w->sparse = true;
	uint32_t isn = 0xf0000000u;
	hs(w, isn, 7);
	char msg[9];
	for (int k = 0; k < n; k++) {
		uint64_t off = (uint64_t)k * jump;
		snprintf(msg, sizeof(msg), "seg%05d", k);
		feed(w, (struct pk){ C, isn + 1 + (uint32_t)off, 8, ACK | PSH, msg });
		feed(w, (struct pk){ S, 8, isn + 1 + (uint32_t)(off + 8), ACK });
	}
	uint64_t end = (uint64_t)(n - 1) * jump + 8;
	feed(w, (struct pk){ C, isn + 1 + (uint32_t)end, 8, ACK | FIN });
	feed(w, (struct pk){ S, 8, isn + 2 + (uint32_t)end, ACK | FIN });
	assert_int_equal(w->nconn, 1);
	assert_int_equal(w->c[0].end, WEFT_END_FIN);
	struct side_out *o = &w->c[0].s[C];
	assert_int_equal(o->nd, n);
	assert_int_equal(o->ngaps, n - 1);
	for (int k = 0; k < n; k++) {
		snprintf(msg, sizeof(msg), "seg%05d", k);
		assert_int_equal(o->doff[k], (uint64_t)k * jump);
		assert_string_equal(o->dhead[k], msg);
		if (k) {
			assert_int_equal(o->gaps[k - 1][0], (uint64_t)(k - 1) * jump + 8);
			assert_int_equal(o->gaps[k - 1][1], jump - 8);
		}
	}
	assert_int_equal(w->c[0].st[C].bytes, end);
	assert_int_equal(w->c[0].st[C].gap_bytes, (uint64_t)(n - 1) * (jump - 8));
	assert_int_equal(STAT(w, implausible), 0);
	world_free(w);
}

static void t_far_unconfirmed(void **st)
{
	(void)st;
	/* 200 MiB ahead with no ACK to confirm it: not believed, no gap */
	struct world *w = world_new(NULL, false);
	hs(w, 100, 500);
	feed(w, (struct pk){ C, 101, 501, ACK | PSH, "abc" });
	feed(w, (struct pk){ C, 104 + (200u << 20), 501, ACK | PSH, "forged" });
	feed(w, (struct pk){ C, 104, 501, ACK | PSH, "def" });
	finish(w);
	expect_stream(&w->c[0].s[C], "abcdef");
	assert_int_equal(w->c[0].s[C].ngaps, 0);
	assert_int_equal(STAT(w, implausible), 1);
	world_free(w);
}

static void t_clock_jump(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	hs(w, 100, 500);
	feed(w, (struct pk){ C, 1000, 1, ACK | PSH, "x", .cport = 40001 }); /* another, midstream */
	feed(w, (struct pk){ C, 101, 501, ACK | PSH, "ab" });
	/* captures stitched from several days: three days later, the first
	 * packet and the one that confirms the jump, then the other
	 * connection: none of them idled out across the jump */
	w->ts += 3 * 86400 * NS;
	uint64_t after = w->ts;
	feed(w, (struct pk){ C, 103, 501, ACK | PSH, "cd" });
	feed(w, (struct pk){ S, 501, 105, ACK | PSH, "xy" });
	feed(w, (struct pk){ C, 1001, 1, ACK | PSH, "z", .cport = 40001 });
	feed(w, (struct pk){ C, 105, 503, ACK | PSH, "ef" });
	/* and the idle timeout still holds in the new epoch */
	w->ts += 301 * NS;
	feed(w, (struct pk){ C, 1, 1, ACK | PSH, "q", .cport = 40002 });
	assert_int_equal(w->nconn, 3);
	assert_int_equal(w->c[0].end, WEFT_END_IDLE);
	assert_int_equal(w->c[1].end, WEFT_END_IDLE);
	expect_stream(&w->c[0].s[C], "abcdef");
	expect_stream(&w->c[0].s[S], "xy");
	expect_stream(&w->c[1].s[C], "xz");
	assert_true(w->c[0].info.last_ns > after);
	assert_int_equal(STAT(w, time_jumps), 1);
	finish(w);
	world_free(w);
}

static void end_in_data_case(bool keep, enum weft_end_reason r)
{
	struct weft_config cfg;
	weft_config_default(&cfg);
	cfg.keep_unconsumed = keep;
	struct world *w = world_new(&cfg, false);
	hs(w, 0, 0);
	feed(w, (struct pk){ C, 5, 1, ACK, "efg\n" });  /* held */
	feed(w, (struct pk){ C, 9, 1, ACK, "ijk\n" });  /* held */
	w->end_in_data = r;
	/* fills the hole: on_data ends the connection while side_flush walks
	 * the held segments (a heap use-after-free when it freed at once) */
	feed(w, (struct pk){ C, 1, 1, ACK, "abc\n" });
	assert_int_equal(w->c[0].end, r);
	/* the end flushed what was held, as an end outside a callback does */
	expect_stream(&w->c[0].s[C], "abc\nefg\nijk\n");
	feed(w, (struct pk){ C, 13, 1, ACK, "more" });
	finish(w);
	assert_int_equal(w->nconn, r == WEFT_END_MANUAL ? 1 : 2);
	world_free(w);
}

static void t_end_in_callback(void **st)
{
	(void)st;
	end_in_data_case(false, WEFT_END_EOF);
	end_in_data_case(true, WEFT_END_EOF);
	end_in_data_case(false, WEFT_END_MANUAL);
	end_in_data_case(true, WEFT_END_MEMCAP);
	/* ended from on_start: nothing of it is delivered */
	struct world *w = world_new(NULL, false);
	w->end_in_start = WEFT_END_IDLE;
	feed(w, (struct pk){ C, 1, 1, ACK, "abcd" });
	assert_int_equal(w->c[0].end, WEFT_END_IDLE);
	assert_int_equal(w->c[0].s[C].delivered, 0);
	world_free(w);
	/* an idle sweep: the first's on_end ends the second, which the same
	 * sweep would also end (and free) */
	w = world_new(NULL, false);
	feed(w, (struct pk){ C, 1, 1, ACK, "a" });
	feed(w, (struct pk){ C, 1, 1, ACK, "b", .cport = 40001 });
	w->end_other = 2;
	weft_engine_sweep(w->e, w->ts + 400 * NS);
	assert_int_equal(w->c[0].end, WEFT_END_IDLE);
	assert_true(w->c[1].end == WEFT_END_EOF || w->c[1].end == WEFT_END_IDLE);
	struct weft_stats s;
	weft_engine_stats(w->e, &s);
	assert_int_equal(s.conns_open, 0);
	world_free(w);
	/* ignore from on_data: the rest of that side is counted, not delivered */
	w = world_new(NULL, false);
	hs(w, 0, 0);
	feed(w, (struct pk){ C, 5, 1, ACK, "efgh" });
	w->ignore_in_data = 1 + C;
	feed(w, (struct pk){ C, 1, 1, ACK, "abcd" });
	feed(w, (struct pk){ C, 9, 1, ACK, "ijkl" });
	finish(w);
	assert_int_equal(w->c[0].s[C].delivered, 4);
	assert_int_equal(w->c[0].st[C].bytes, 12);
	world_free(w);
	/* an ignored side's held bytes are freed by its next packet */
	w = world_new(NULL, false);
	hs(w, 0, 0);
	struct weft_stats s0;
	weft_engine_stats(w->e, &s0);
	feed(w, (struct pk){ C, 5, 1, ACK, "efgh" });
	feed(w, (struct pk){ C, 13, 1, ACK, "mnop" });
	weft_engine_stats(w->e, &s);
	assert_true(s.mem_used > s0.mem_used);
	weft_conn_ignore(weft_engine_find(w->e, 1), C);
	feed(w, (struct pk){ C, 17, 1, ACK, "qrst" });
	weft_engine_stats(w->e, &s);
	assert_true(s.mem_used < s0.mem_used + 200); /* the list header stays */
	world_free(w);
}

/* An IPv4 fragment of datagram id from 10.9.0.1: len payload bytes at
 * byte offset off (a multiple of 8), more fragments to follow. */
static void feed_frag(struct world *w, uint16_t id, uint16_t off, uint16_t len)
{
	uint8_t f[1600];
	uint16_t tot = (uint16_t)(20 + len);
	memset(f, 0x5a, sizeof(f));
	memset(f, 0, 20);
	f[0] = 0x45; f[2] = (uint8_t)(tot >> 8); f[3] = (uint8_t)tot;
	f[4] = (uint8_t)(id >> 8); f[5] = (uint8_t)id;
	uint16_t fo = (uint16_t)(0x2000 | (off / 8)); /* MF */
	f[6] = (uint8_t)(fo >> 8); f[7] = (uint8_t)fo;
	f[8] = 64; f[9] = 6;
	f[12] = 10; f[13] = 9; f[15] = 1; f[16] = 10; f[17] = 9; f[19] = 2;
	w->ts += NS / 1000;
	struct weft_frame fr = { .ts_ns = w->ts, .data = f, .caplen = tot, .wirelen = tot,
				 .link = WEFT_LINK_RAW };
	weft_engine_feed(w->e, &fr);
}

static void t_frag_flood_memcap(void **st)
{
	(void)st;
	struct weft_config cfg;
	weft_config_default(&cfg);
	cfg.memcap = 256 << 10;
	struct world *w = world_new(&cfg, false);
	/* datagrams that never complete, each with a fragment far out so its
	 * buffer grows to 64 KiB: far more than the cap */
	for (uint16_t i = 0; i < 200; i++) {
		feed_frag(w, i, 0, 8);
		feed_frag(w, i, 60000, 8);
	}
	struct weft_stats s;
	weft_engine_stats(w->e, &s);
	assert_true(s.frag_evicted > 0);
	/* fragments count in the account and its peak, within the cap */
	assert_true(s.mem_peak > 64 << 10);
	assert_true(s.mem_peak <= (256 << 10) + (70 << 10));
	/* a normal connection after the flood keeps its stream whole */
	hs(w, 0, 0);
	for (uint32_t i = 0; i < 20; i++)
		feed(w, (struct pk){ C, 1 + 4 * i, 1, ACK | PSH, "abcd" });
	feed(w, (struct pk){ C, 81, 1, FIN | ACK });
	feed(w, (struct pk){ S, 1, 82, FIN | ACK });
	settle(w);
	assert_int_equal(w->nconn, 1);
	assert_int_equal(w->c[0].end, WEFT_END_FIN);
	assert_int_equal(w->c[0].s[C].len, 80);
	weft_engine_stats(w->e, &s);
	assert_int_equal(s.ends[WEFT_END_MEMCAP], 0);
	world_free(w);
}

static void t_frag_expire_by_time(void **st)
{
	(void)st;
	struct world *w = world_new(NULL, false);
	struct weft_stats s0, s;
	weft_engine_stats(w->e, &s0);
	feed_frag(w, 7, 0, 8);
	weft_engine_stats(w->e, &s);
	assert_true(s.mem_used > s0.mem_used);
	/* no other fragment comes: time alone ages it out */
	weft_engine_sweep(w->e, w->ts + 31 * NS);
	weft_engine_stats(w->e, &s);
	assert_int_equal(s.frag_expired, 1);
	assert_int_equal(s.mem_used, s0.mem_used);
	world_free(w);
}

/* CPU seconds (not wall: the machine may be busy) to hold n 1-byte segments, each behind a hole, all before one
 * segment far ahead: a list walked from its head pays O(n) for each. */
static double hold_time(uint32_t n)
{
	struct world *w = world_new(NULL, false);
	weft_engine_free(w->e);
	struct weft_config cfg;
	weft_config_default(&cfg);
	w->e = weft_engine_new(&cfg, NULL); /* no callbacks: only the holding */
	hs(w, 0, 0);
	feed(w, (struct pk){ C, 1 + 4 * n, 1, ACK, "z" });
	struct timespec a, b;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
	for (uint32_t i = 0; i < n; i++)
		feed(w, (struct pk){ C, 3 + 2 * i, 1, ACK, "x" });
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
	struct weft_stats s;
	weft_engine_stats(w->e, &s);
	assert_true(s.mem_used > (uint64_t)n * 20); /* they are held */
	world_free(w);
	return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

static void t_hold_scaling(void **st)
{
	(void)st;
	/* O(N log N): four times the segments in at most six times the time
	 * (sizes past the caches, so both pay the same per-miss cost;
	 * the best of three) */
	double t1 = 1e9, t4 = 1e9;
	for (int i = 0; i < 3; i++) {
		double a = hold_time(40000), b = hold_time(160000);
		t1 = a < t1 ? a : t1;
		t4 = b < t4 ? b : t4;
	}
	print_message("40k segments %.3f s, 160k %.3f s (CPU)\n", t1, t4);
	assert_true(t4 <= 6 * (t1 > 0.002 ? t1 : 0.002));
}

static void t_mem_returns(void **st)
{
	(void)st;
	/* every byte counted comes back: held segments, the skip list,
	 * unconsumed bytes, fragments, caller state (weft_conn_mem) */
	struct weft_config cfg;
	weft_config_default(&cfg);
	cfg.keep_unconsumed = true;
	struct world *w = world_new(&cfg, false);
	struct weft_stats s0, s;
	weft_engine_stats(w->e, &s0);
	hs(w, 0, 0);
	feed(w, (struct pk){ C, 1, 1, ACK, "no newline yet" });
	feed(w, (struct pk){ C, 40, 1, ACK, "held\n" });
	feed(w, (struct pk){ C, 30, 1, ACK, "held too" });
	feed_frag(w, 9, 0, 8);
	weft_conn_mem(weft_engine_find(w->e, 1), 1000);
	weft_engine_stats(w->e, &s);
	assert_true(s.mem_used > s0.mem_used + 1000);
	finish(w);
	weft_engine_sweep(w->e, w->ts + 60 * NS);
	weft_engine_stats(w->e, &s);
	assert_int_equal(s.mem_used, s0.mem_used);
	world_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_in_order_fin),
		cmocka_unit_test(t_reorder_and_dups),
		cmocka_unit_test(t_partial_overlaps),
		cmocka_unit_test(t_conflict_first),
		cmocka_unit_test(t_conflict_last),
		cmocka_unit_test(t_conflict_delivered),
		cmocka_unit_test(t_wrap),
		cmocka_unit_test(t_midstream),
		cmocka_unit_test(t_midstream_reordered_start),
		cmocka_unit_test(t_midstream_float_at_origin),
		cmocka_unit_test(t_keepalive),
		cmocka_unit_test(t_data_after_fin),
		cmocka_unit_test(t_rst),
		cmocka_unit_test(t_rst_outside_window),
		cmocka_unit_test(t_rst_inside_window),
		cmocka_unit_test(t_rst_before_synack),
		cmocka_unit_test(t_no_deaf_tuple),
		cmocka_unit_test(t_split_handshake),
		cmocka_unit_test(t_sparse_past_4gib),
		cmocka_unit_test(t_far_unconfirmed),
		cmocka_unit_test(t_port_reuse),
		cmocka_unit_test(t_late_syn),
		cmocka_unit_test(t_gap_acked),
		cmocka_unit_test(t_gap_acked_by_source),
		cmocka_unit_test(t_gap_acked_by_fin),
		cmocka_unit_test(t_gap_tail_at_end),
		cmocka_unit_test(t_lost_fin_by_source),
		cmocka_unit_test(t_snaplen_cut),
		cmocka_unit_test(t_idle),
		cmocka_unit_test(t_max_flows),
		cmocka_unit_test(t_memcap),
		cmocka_unit_test(t_buffer_cap),
		cmocka_unit_test(t_late_bytes),
		cmocka_unit_test(t_linger_ends),
		cmocka_unit_test(t_depth),
		cmocka_unit_test(t_manual_and_shutdown),
		cmocka_unit_test(t_ignore),
		cmocka_unit_test(t_keep_unconsumed),
		cmocka_unit_test(t_resync_after_gap),
		cmocka_unit_test(t_vlan_key),
		cmocka_unit_test(t_malformed),
		cmocka_unit_test(t_bare_fin_midstream),
		cmocka_unit_test(t_forged_lengths),
		cmocka_unit_test(t_time_back),
		cmocka_unit_test(t_clock_jump),
		cmocka_unit_test(t_end_in_callback),
		cmocka_unit_test(t_frag_flood_memcap),
		cmocka_unit_test(t_frag_expire_by_time),
		cmocka_unit_test(t_hold_scaling),
		cmocka_unit_test(t_mem_returns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
