/* SPDX-License-Identifier: MIT */
/*
 * weft-gen: write a pcap of TCP connections whose truth is known byte by
 * byte, and that truth as JSON lines (one per connection).
 *
 * Each connection is a few request/response rounds. Impairments apply to
 * what the capture holds, not to what the endpoints see: a "lost" segment
 * reached the receiver (its ACK covers it) but is missing from the file, so
 * it is a gap whose offset and length are exact. The truth of a direction
 * is its stream with every uncaptured byte zero, the maximal runs of those
 * bytes as gaps, and its SHA-256.
 *
 *   weft-gen -o FILE.pcap -t TRUTH.jsonl [options]   (weft-gen -h lists them)
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include "../../user/sha256.h"

struct opts {
	uint32_t conns, concurrent, min_size, max_size, mss, rounds, snaplen;
	double reorder, dup, overlap, loss, midstream, rst, ipv6, frag, reuse, keepalive, late,
	       fin_data;
	bool vlan, qinq, wrap;
	/* encapsulations: PPPoE, MPLS (up to mpls labels), the PPP link
	 * type, 802.3 with LLC/SNAP; Ethernet padding; IPv6 fragments whose
	 * fragmentable part starts with a destination options header */
	bool pppoe, ppp, llc, pad, dstopts;
	uint32_t mpls;
	/* length lies: lie, an outer length (PPPoE, 802.3) shorter than the
	 * IP length; wire_lie, IP length 0 and a record length of 0xfffffff0 */
	double lie, wire_lie;
	double tunnel;   /* connections carried in IPv4 (4in4, 6in4) */
	double evasive;  /* connections with a spoofed RST the receiver ignores */
	uint64_t seed;
	uint32_t hurt;   /* connections that each hold data behind a hole */
	uint32_t start_ts;
};

static struct opts O = {
	.conns = 20, .concurrent = 4, .min_size = 1000, .max_size = 100000, .mss = 1448,
	.rounds = 2, .seed = 1, .start_ts = 1700000000,
};

/* xorshift64*: reproducible from the seed */
static uint64_t rng_state;
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}
static uint32_t rnd_range(uint32_t lo, uint32_t hi) { return lo + (uint32_t)(rnd() % (hi - lo + 1)); }
static bool chance(double p) { return p > 0 && (double)(rnd() % 1000000) < p * 1e6; }

/* ---- packets ---- */

struct pkt {
	uint8_t *buf;
	uint32_t len;
	uint32_t caplen;
	uint32_t wire;   /* the record's length field */
};

struct pktlist {
	struct pkt *v;
	size_t n, cap, pos;
	uint32_t lies;  /* packets whose layers disagree on their length */
};

static void pl_push(struct pktlist *l, uint8_t *buf, uint32_t len, uint32_t wire)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (!l->v) { perror("realloc"); exit(1); }
	}
	uint32_t cap = O.snaplen && len > O.snaplen ? O.snaplen : len;
	l->v[l->n++] = (struct pkt){ buf, len, cap, wire ? wire : len };
}

struct endpoint_pair {
	bool v6;
	uint8_t caddr[16], saddr[16];
	uint16_t cport, sport;
	uint16_t vlan[2];
	int nvlan;
	int nlabels;       /* MPLS labels, 0: none */
	int pw;            /* MPLS Ethernet pseudowire: 1 with a control word, 2 without */
	bool ppp_ac, ppp_pfc; /* PPP link: FF 03 in front; 1-byte protocol */
	uint16_t session;  /* PPPoE */
	bool tunnel;       /* in IPv4 (proto 4 or 41), the outer packet fragmented */
};

static uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t csum_add(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static void garbage(uint8_t *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		b[i] = (uint8_t)(0xa0 + i); /* never zero: padding that reads as data shows */
}

/* Everything in front of the IP header, for an IP packet of l3len bytes
 * (outer lengths count l3cut bytes less: a lie when not 0). */
static size_t l2_header(uint8_t *b, const struct endpoint_pair *ep, bool v6, uint32_t l3len,
			uint32_t l3cut)
{
	static const uint8_t mac_a[6] = { 2, 0, 0, 0, 0, 1 }, mac_b[6] = { 2, 0, 0, 0, 0, 2 };
	uint16_t ipt = v6 ? 0x86dd : 0x0800;
	/* what the link layer carries: IP, or MPLS (with a pseudowire's
	 * control word and Ethernet header inside) */
	uint32_t mpls_len = ep->nlabels ? 4u * (uint32_t)ep->nlabels + (ep->pw == 1 ? 4 : 0) +
					  (ep->pw ? 14 : 0) : 0;
	uint16_t inner = ep->nlabels ? 0x8847 : ipt;
	size_t o = 0;
	if (O.ppp) {
		if (ep->ppp_ac) { b[o++] = 0xff; b[o++] = 0x03; }
		uint16_t proto = ep->nlabels ? 0x0281 : v6 ? 0x0057 : 0x0021;
		if (!ep->ppp_pfc || proto > 0xff) /* only 00xx compresses */
			b[o++] = proto >> 8;
		b[o++] = proto & 0xff;
	} else {
		memcpy(b, mac_b, 6);
		memcpy(b + 6, mac_a, 6);
		o = 12;
		for (int i = 0; i < ep->nvlan; i++) {
			uint16_t tpid = (ep->nvlan == 2 && i == 0) ? 0x88a8 : 0x8100;
			b[o++] = tpid >> 8; b[o++] = tpid & 0xff;
			b[o++] = ep->vlan[i] >> 8; b[o++] = ep->vlan[i] & 0xff;
		}
		if (O.llc) {
			uint32_t n = 8 + mpls_len + l3len - l3cut; /* 802.3 length */
			b[o++] = (uint8_t)(n >> 8); b[o++] = n & 0xff;
			static const uint8_t snap[6] = { 0xaa, 0xaa, 0x03, 0, 0, 0 };
			memcpy(b + o, snap, 6);
			o += 6;
			b[o++] = inner >> 8; b[o++] = inner & 0xff;
		} else if (O.pppoe) {
			b[o++] = 0x88; b[o++] = 0x64;
			uint32_t n = 2 + mpls_len + l3len - l3cut; /* PPP protocol + payload */
			uint16_t proto = ep->nlabels ? 0x0281 : v6 ? 0x0057 : 0x0021;
			b[o++] = 0x11; b[o++] = 0;
			b[o++] = ep->session >> 8; b[o++] = ep->session & 0xff;
			b[o++] = (uint8_t)(n >> 8); b[o++] = n & 0xff;
			b[o++] = proto >> 8; b[o++] = proto & 0xff;
		} else {
			b[o++] = inner >> 8; b[o++] = inner & 0xff;
		}
	}
	for (int i = 0; i < ep->nlabels; i++) {
		uint32_t label = 16 + (uint32_t)i * 1000 + ep->sport, bos = i + 1 == ep->nlabels;
		uint32_t w = label << 12 | (uint32_t)i << 9 | bos << 8 | 64;
		b[o++] = (uint8_t)(w >> 24); b[o++] = (uint8_t)(w >> 16);
		b[o++] = (uint8_t)(w >> 8); b[o++] = (uint8_t)w;
	}
	if (ep->nlabels && ep->pw) {
		/* inside the pseudowire, MACs that start with the nibble 0 a
		 * control word starts with too (without one) or not (with) */
		static const uint8_t pw_a[6] = { 0x02, 0, 0, 0, 1, 1 }, pw_b[6] = { 0xa2, 0, 0, 0, 1, 2 };
		if (ep->pw == 1) {
			memset(b + o, 0, 4); /* control word: first nibble 0 */
			o += 4;
		}
		memcpy(b + o, ep->pw == 1 ? pw_b : pw_a, 6);
		memcpy(b + o + 6, ep->pw == 1 ? pw_a : pw_b, 6);
		o += 12;
		b[o++] = ipt >> 8; b[o++] = ipt & 0xff;
	}
	return o;
}

static uint16_t ip_id;
static uint32_t emit_cut; /* payload bytes the last emit_tcp's outer length held back */

/* Build one TCP packet (fragmented into several IP packets if asked).
 * Returns how many of the payload bytes the capture holds as data a
 * decoder may believe (a lying outer length or snaplen holds back the
 * rest). */
static uint32_t emit_tcp(struct pktlist *out, const struct endpoint_pair *ep, bool from_client,
			 uint32_t seq, uint32_t ack, uint8_t flags, const uint8_t *data,
			 uint32_t len, bool fragment)
{
	const uint8_t *src = from_client ? ep->caddr : ep->saddr;
	const uint8_t *dst = from_client ? ep->saddr : ep->caddr;
	uint16_t sp = from_client ? ep->cport : ep->sport, dp = from_client ? ep->sport : ep->cport;
	/* IPv6 with --dstopts: a destination options header (PadN) in front
	 * of TCP, so in the fragmentable part of a fragment */
	uint32_t dol = ep->v6 && O.dstopts ? 8 : 0;
	uint32_t tlen = dol + 20 + len;
	uint8_t *l4 = malloc(tlen);
	if (dol) {
		static const uint8_t dopt[8] = { 6, 0, 1, 4, 0, 0, 0, 0 };
		memcpy(l4, dopt, 8);
	}
	uint8_t *tcp = l4 + dol;
	tcp[0] = sp >> 8; tcp[1] = sp & 0xff; tcp[2] = dp >> 8; tcp[3] = dp & 0xff;
	uint32_t s = htonl(seq), a = htonl(ack);
	memcpy(tcp + 4, &s, 4);
	memcpy(tcp + 8, &a, 4);
	tcp[12] = 5 << 4; tcp[13] = flags; tcp[14] = 0xff; tcp[15] = 0xff;
	tcp[16] = tcp[17] = tcp[18] = tcp[19] = 0;
	if (len)
		memcpy(tcp + 20, data, len);
	/* TCP checksum over the pseudo header */
	uint32_t cs = 0;
	int alen = ep->v6 ? 16 : 4;
	cs = csum_add(cs, src, (size_t)alen);
	cs = csum_add(cs, dst, (size_t)alen);
	cs += 6 + 20 + len;
	cs = csum_add(cs, tcp, 20 + len);
	uint16_t c = csum_fold(cs);
	tcp[16] = c >> 8; tcp[17] = c & 0xff;

	/* A tunnel: the IP packet so far (never fragmented itself) is the
	 * payload of an outer IPv4 packet, and that one is fragmented. */
	uint32_t inner_hdr = 0;
	bool ov6 = ep->v6;
	uint8_t oproto = 6;
	if (ep->tunnel) {
		inner_hdr = ep->v6 ? 40 : 20;
		uint8_t *in = malloc(inner_hdr + tlen);
		if (ep->v6) {
			in[0] = 0x60; in[1] = in[2] = in[3] = 0;
			in[4] = (uint8_t)(tlen >> 8); in[5] = tlen & 0xff;
			in[6] = dol ? 60 : 6; in[7] = 64;
			memcpy(in + 8, src, 16);
			memcpy(in + 24, dst, 16);
		} else {
			uint32_t tot = 20 + tlen;
			in[0] = 0x45; in[1] = 0; in[2] = (uint8_t)(tot >> 8); in[3] = tot & 0xff;
			in[4] = in[5] = in[6] = in[7] = 0;
			in[8] = 64; in[9] = 6; in[10] = in[11] = 0;
			memcpy(in + 12, src, 4);
			memcpy(in + 16, dst, 4);
			uint16_t ic = csum_fold(csum_add(0, in, 20));
			in[10] = ic >> 8; in[11] = ic & 0xff;
		}
		memcpy(in + inner_hdr, l4, tlen);
		free(l4);
		l4 = in;
		tlen += inner_hdr;
		oproto = ep->v6 ? 41 : 4;
		ov6 = false;
		static const uint8_t tun_a[4] = { 192, 0, 2, 1 }, tun_b[4] = { 192, 0, 2, 2 };
		src = from_client ? tun_a : tun_b;
		dst = from_client ? tun_b : tun_a;
	}

	/* payload chunks: one, or fragments of 8-byte multiples */
	uint32_t chunk = tlen;
	if (fragment && tlen > 64)
		chunk = ((tlen / 3) + 7) & ~7u;
	uint32_t nfr = (tlen + chunk - 1) / chunk;
	/* Length lies, on whole packets only. over: the IP length claims
	 * bytes past the outer length (trailer bytes in the frame); cut: the
	 * outer length stops short of the payload's end (never on a FIN,
	 * whose place the payload's length gives). wire: IP length 0 and a
	 * record length no link sends. */
	uint32_t over = 0, cut = 0;
	bool wire_lie = false;
	if (nfr == 1 && chance(O.lie)) {
		if (len > 1 && !(flags & 0x01) && (rnd() & 1))
			cut = rnd_range(1, len - 1);
		else
			over = rnd_range(1, 16);
	} else if (nfr == 1 && chance(O.wire_lie)) {
		wire_lie = true;
	}
	if (over || cut || wire_lie)
		out->lies++;
	emit_cut = cut;
	ip_id++;
	uint8_t *frames[64];
	uint32_t flens[64];
	uint32_t hdrlen = 0;
	for (uint32_t i = 0; i < nfr && i < 64; i++) {
		uint32_t off = i * chunk, n = tlen - off < chunk ? tlen - off : chunk;
		bool more = off + n < tlen;
		bool isfrag = nfr > 1;
		uint32_t l3len = (ov6 ? 40 + (isfrag ? 8 : 0) : 20) + n;
		uint8_t *b = malloc(128 + n + over + 64);
		size_t o = l2_header(b, ep, ov6, l3len, cut);
		/* up to the payload */
		hdrlen = (uint32_t)o + l3len - n + inner_hdr + dol + 20;
		uint32_t ipclaim = wire_lie ? 0 : l3len + over;
		if (!ov6) {
			uint8_t *ip = b + o;
			ip[0] = 0x45; ip[1] = 0; ip[2] = (uint8_t)(ipclaim >> 8); ip[3] = ipclaim & 0xff;
			ip[4] = ip_id >> 8; ip[5] = ip_id & 0xff;
			uint16_t fo = (uint16_t)((off / 8) | (more ? 0x2000 : 0));
			ip[6] = fo >> 8; ip[7] = fo & 0xff;
			ip[8] = 64; ip[9] = oproto; ip[10] = ip[11] = 0;
			memcpy(ip + 12, src, 4);
			memcpy(ip + 16, dst, 4);
			uint16_t ic = csum_fold(csum_add(0, ip, 20));
			ip[10] = ic >> 8; ip[11] = ic & 0xff;
			o += 20;
		} else {
			uint8_t *ip = b + o;
			uint32_t pl = wire_lie ? 0 : ipclaim - 40;
			ip[0] = 0x60; ip[1] = ip[2] = ip[3] = 0;
			ip[4] = (uint8_t)(pl >> 8); ip[5] = pl & 0xff;
			ip[6] = isfrag ? 44 : dol ? 60 : 6; ip[7] = 64;
			memcpy(ip + 8, src, 16);
			memcpy(ip + 24, dst, 16);
			o += 40;
			if (isfrag) {
				uint8_t *fh = b + o;
				fh[0] = dol ? 60 : 6; fh[1] = 0;
				uint16_t fo = (uint16_t)(off | (more ? 1 : 0));
				fh[2] = fo >> 8; fh[3] = fo & 0xff;
				uint32_t id = htonl(ip_id);
				memcpy(fh + 4, &id, 4);
				o += 8;
			}
		}
		memcpy(b + o, l4 + off, n);
		o += n;
		/* trailer: the bytes an overlong IP length claims, and Ethernet
		 * padding up to 60 bytes (or a few bytes more, as some NICs
		 * leave) -- never on a packet whose IP length is 0, where only
		 * the frame can say where IP ends */
		garbage(b + o, over);
		o += over;
		if (O.pad && !wire_lie && !O.ppp) {
			uint32_t want = (o < 60 ? 60 : (uint32_t)o) + rnd_range(0, 1) * rnd_range(1, 8);
			garbage(b + o, want - (uint32_t)o);
			o = want;
		}
		frames[i] = b;
		flens[i] = (uint32_t)o;
	}
	free(l4);
	/* fragments leave in reverse order half the time: reassembly must not
	 * depend on arrival order */
	bool rev = nfr > 1 && (rnd() & 1);
	for (uint32_t i = 0; i < nfr; i++) {
		uint32_t k = rev ? nfr - 1 - i : i;
		pl_push(out, frames[k], flens[k], wire_lie ? 0xfffffff0u : 0);
	}
	uint32_t got = len - cut;
	if (O.snaplen)
		got = O.snaplen > hdrlen ? (O.snaplen - hdrlen < got ? O.snaplen - hdrlen : got) : 0;
	return got;
}

/* ---- connections ---- */

struct seg { uint32_t off, len; bool captured; bool fin; uint32_t cut; };

struct dirtruth {
	uint8_t *data;      /* the stream */
	uint32_t len;
	uint8_t *seen;      /* 1 where captured */
	uint32_t isn;
};

struct conn {
	struct endpoint_pair ep;
	struct dirtruth d[2];   /* 0: c2s, 1: s2c */
	bool midstream, rst, hurt, evasive;
	struct pktlist pk;
	struct conn *next;      /* a later connection on the same tuple */
};

static void fill_stream(struct dirtruth *t, uint32_t len, uint64_t tag)
{
	t->data = malloc(len ? len : 1);
	t->seen = calloc(len ? len : 1, 1);
	t->len = len;
	uint64_t x = tag * 0x9e3779b97f4a7c15ull + 1;
	for (uint32_t i = 0; i < len; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		t->data[i] = (uint8_t)(' ' + x % 95); /* printable keeps diffs readable */
	}
}

/* Receiver's cumulative ACK: contiguous bytes received from offset 0. */
struct rcv { uint32_t upto; uint8_t *got; uint32_t len; };

static void rcv_mark(struct rcv *r, uint32_t off, uint32_t len)
{
	memset(r->got + off, 1, len);
	while (r->upto < r->len && r->got[r->upto])
		r->upto++;
}

/* Send one direction's bytes [from, to) in segments, with impairments,
 * each followed by the receiver's ACK. */
static void send_dir(struct conn *c, int d, uint32_t from, uint32_t to, struct rcv *rv,
		     bool fin, uint32_t peer_next_seq, bool protect_first)
{
	struct dirtruth *t = &c->d[d];
	bool client = d == 0;
	uint32_t base = t->isn + 1;
	struct seg segs[4096];
	size_t n = 0;
	for (uint32_t o = from; o < to && n < 4096;) {
		uint32_t l = to - o < O.mss ? to - o : O.mss;
		segs[n++] = (struct seg){ o, l, true, false, 0 };
		o += l;
	}
	if (n && fin && chance(O.fin_data))
		segs[n - 1].fin = true;
	for (size_t i = 0; i < n; i++) {
		bool first = protect_first && i == 0;
		if (!first && chance(O.loss))
			segs[i].captured = false;
	}
	/* network reordering: adjacent swaps (never the protected first) */
	for (size_t i = protect_first ? 1 : 0; i + 1 < n; i++) {
		if (chance(O.reorder)) {
			struct seg tmp = segs[i];
			segs[i] = segs[i + 1];
			segs[i + 1] = tmp;
			i++;
		}
	}
	/* --late: reordered after the tap (two queues, two taps merged): the
	 * receiver has the segment on time and ACKs it, but the capture shows
	 * it after the next 1 to 4 segments and their ACKs, so the ACK that
	 * covers it comes first. Every byte is still in the capture. */
	struct { size_t i; uint32_t wait; } late[8];
	size_t nlate = 0;
	for (size_t i = 0; i < n; i++) {
		struct seg *s = &segs[i];
		uint8_t fl = 0x18 | (s->fin ? 0x01 : 0);
		bool defer = s->captured && !s->fin && i + 1 < n && nlate < 8 &&
			     !(protect_first && i == 0) && chance(O.late);
		if (defer) {
			late[nlate].i = i;
			late[nlate++].wait = (uint32_t)rnd_range(1, 4);
		}
		if (s->captured && !defer) {
			/* each copy's believable bytes are data: a duplicate
			 * fills what a lie held back in the first */
			uint32_t got = emit_tcp(&c->pk, &c->ep, client, base + s->off,
						peer_next_seq, fl, t->data + s->off, s->len,
						chance(O.frag));
			memset(t->seen + s->off, 1, got);
			s->cut = emit_cut;
			if (chance(O.dup)) {
				got = emit_tcp(&c->pk, &c->ep, client, base + s->off, peer_next_seq,
					       fl, t->data + s->off, s->len, false);
				memset(t->seen + s->off, 1, got);
				s->cut = emit_cut < s->cut ? emit_cut : s->cut;
			}
		}
		rcv_mark(rv, s->off, s->len);
		/* an overlapping retransmission of what the receiver already has
		 * (not into what a length lie held back from the one before:
		 * that hole is a gap already, and late bytes filling a gap are
		 * the engine's business, not this shape's) */
		if (s->captured && i > 0 && segs[i - 1].captured &&
		    !segs[i - 1].cut && chance(O.overlap) &&
		    segs[i - 1].off + segs[i - 1].len == s->off) {
			uint32_t a = segs[i - 1].off + segs[i - 1].len / 2;
			uint32_t b = s->off + s->len / 2;
			if (b > a) {
				uint32_t got = emit_tcp(&c->pk, &c->ep, client, base + a,
							peer_next_seq, 0x18, t->data + a, b - a, false);
				memset(t->seen + a, 1, got);
			}
		}
		uint32_t ackv = base + rv->upto + ((s->fin && rv->upto == to) ? 1 : 0);
		emit_tcp(&c->pk, &c->ep, !client, peer_next_seq, ackv, 0x10, NULL, 0, false);
		/* the deferred ones whose time has come, the rest at the end */
		for (size_t k = 0; k < nlate;) {
			if (k < nlate && (--late[k].wait == 0 || i + 1 == n) && !(defer && late[k].i == i)) {
				struct seg *ls = &segs[late[k].i];
				uint32_t got = emit_tcp(&c->pk, &c->ep, client, base + ls->off,
							peer_next_seq, 0x18, t->data + ls->off, ls->len,
							false);
				memset(t->seen + ls->off, 1, got);
				late[k] = late[--nlate];
			} else {
				k++;
			}
		}
		if (rv->upto > 0 && t->seen[rv->upto - 1] && chance(O.keepalive))
			/* a keep-alive: one old byte at next-1 (one the capture
			 * has: a keep-alive must not be what fills a hole) */
			emit_tcp(&c->pk, &c->ep, client, base + rv->upto - 1, peer_next_seq, 0x10,
				 t->data + rv->upto - 1, 1, false);
	}
}

static void make_endpoints(struct endpoint_pair *ep, uint32_t idx)
{
	memset(ep, 0, sizeof(*ep));
	ep->v6 = chance(O.ipv6);
	if (ep->v6) {
		ep->caddr[0] = 0xfd; ep->caddr[1] = 0x01; ep->caddr[15] = (uint8_t)idx;
		ep->caddr[14] = (uint8_t)(idx >> 8); ep->caddr[13] = (uint8_t)(idx >> 16);
		ep->saddr[0] = 0xfd; ep->saddr[1] = 0x02; ep->saddr[15] = (uint8_t)(1 + idx % 7);
	} else {
		ep->caddr[0] = 198; ep->caddr[1] = 18; ep->caddr[2] = (uint8_t)(idx >> 8);
		ep->caddr[3] = (uint8_t)idx;
		ep->saddr[0] = 198; ep->saddr[1] = 19; ep->saddr[2] = 0;
		ep->saddr[3] = (uint8_t)(1 + idx % 7);
	}
	ep->cport = (uint16_t)(10000 + (idx >> 16) * 7 + rnd_range(0, 6));
	static const uint16_t ports[] = { 80, 443, 8080, 25, 21 };
	ep->sport = ports[idx % 5];
	if (O.qinq) {
		ep->nvlan = 2;
		ep->vlan[0] = (uint16_t)(100 + idx % 3);
		ep->vlan[1] = (uint16_t)(200 + idx % 5);
	} else if (O.vlan) {
		ep->nvlan = 1;
		ep->vlan[0] = (uint16_t)(100 + idx % 3);
	}
	if (O.mpls) {
		ep->nlabels = (int)rnd_range(1, O.mpls);
		ep->pw = (int)rnd_range(0, 2);
	}
	if (O.ppp) {
		ep->ppp_ac = rnd() & 1;
		ep->ppp_pfc = rnd() & 1;
	}
	if (O.pppoe)
		ep->session = (uint16_t)(1 + idx);
	ep->tunnel = chance(O.tunnel);
}

static uint32_t pick_isn(void)
{
	if (O.wrap) {
		static const uint32_t back[] = { 1, 2, 5, 10, 34, 700, 1448, 3000 };
		return (uint32_t)(0u - back[rnd() % 8]);
	}
	return (uint32_t)rnd();
}

/* A spoofed RST|ACK from side d in the middle of the connection: its
 * sequence number at least 256 MiB from where that side is (cnext, snext:
 * each side's next byte), so no receiver's window holds it, and the
 * connection goes on as if it never came. */
static void evasive_rst(struct conn *c, int d, uint32_t cnext, uint32_t snext)
{
	uint32_t off = rnd_range(0x10000000u, 0xf0000000u);
	emit_tcp(&c->pk, &c->ep, d == 0, (d == 0 ? cnext : snext) + off, d == 0 ? snext : cnext,
		 0x14, NULL, 0, false);
}

static void build_conn(struct conn *c, uint64_t tag)
{
	c->d[0].isn = pick_isn();
	c->d[1].isn = pick_isn();
	uint32_t total = rnd_range(O.min_size, O.max_size);
	uint32_t rounds = O.rounds ? O.rounds : 1;
	/* requests are small, responses carry most bytes */
	uint32_t creq = total / 10 + 1, sresp = total - total / 10;
	fill_stream(&c->d[0], creq, tag * 2);
	fill_stream(&c->d[1], sresp, tag * 2 + 1);
	struct rcv rv[2];
	for (int d = 0; d < 2; d++) {
		rv[d].upto = 0;
		rv[d].len = c->d[d].len;
		rv[d].got = calloc(c->d[d].len + 1, 1);
	}
	uint32_t cbase = c->d[0].isn + 1, sbase = c->d[1].isn + 1;
	/* --evasive-rst: before the SYN-ACK or after the first round */
	bool rst_early = c->evasive && !c->midstream && (rnd() & 1);
	if (!c->midstream) {
		emit_tcp(&c->pk, &c->ep, true, c->d[0].isn, 0, 0x02, NULL, 0, false);
		if (rst_early) /* acknowledges nothing: ACK = the ISN itself */
			emit_tcp(&c->pk, &c->ep, false, (uint32_t)rnd(), c->d[0].isn, 0x14, NULL, 0,
				 false);
		emit_tcp(&c->pk, &c->ep, false, c->d[1].isn, cbase, 0x12, NULL, 0, false);
		emit_tcp(&c->pk, &c->ep, true, cbase, sbase, 0x10, NULL, 0, false);
	}
	for (uint32_t r = 0; r < rounds; r++) {
		uint32_t c0 = creq * r / rounds, c1 = creq * (r + 1) / rounds;
		uint32_t s0 = sresp * r / rounds, s1 = sresp * (r + 1) / rounds;
		bool last = r + 1 == rounds;
		send_dir(c, 0, c0, c1, &rv[0], false, sbase + rv[1].upto,
			 c->midstream && c0 == 0);
		send_dir(c, 1, s0, s1, &rv[1], last && !c->rst, cbase + rv[0].upto,
			 c->midstream && s0 == 0);
		if (c->evasive && !rst_early && r == 0)
			evasive_rst(c, rnd() & 1, cbase + rv[0].upto, sbase + rv[1].upto);
	}
	uint32_t cend = cbase + c->d[0].len, send = sbase + c->d[1].len;
	if (c->rst) {
		emit_tcp(&c->pk, &c->ep, true, cend, send, 0x14, NULL, 0, false);
	} else {
		/* server FIN (again, if it rode on the last segment), client FIN */
		emit_tcp(&c->pk, &c->ep, false, send, cend, 0x11, NULL, 0, false);
		emit_tcp(&c->pk, &c->ep, true, cend, send + 1, 0x11, NULL, 0, false);
		emit_tcp(&c->pk, &c->ep, false, send + 1, cend + 1, 0x10, NULL, 0, false);
	}
	for (int d = 0; d < 2; d++)
		free(rv[d].got);
}

/* A connection that opens, sends data behind a hole it never fills, and
 * stays: what a memory cap has to cope with. */
static void build_hurt(struct conn *c, uint64_t tag)
{
	c->d[0].isn = (uint32_t)rnd();
	c->d[1].isn = (uint32_t)rnd();
	fill_stream(&c->d[0], 2 * O.mss, tag * 2);
	fill_stream(&c->d[1], 0, tag * 2 + 1);
	uint32_t cb = c->d[0].isn + 1, sb = c->d[1].isn + 1;
	emit_tcp(&c->pk, &c->ep, true, c->d[0].isn, 0, 0x02, NULL, 0, false);
	emit_tcp(&c->pk, &c->ep, false, c->d[1].isn, cb, 0x12, NULL, 0, false);
	emit_tcp(&c->pk, &c->ep, true, cb, sb, 0x10, NULL, 0, false);
	emit_tcp(&c->pk, &c->ep, true, cb + O.mss, sb, 0x18, c->d[0].data + O.mss, O.mss, false);
	memset(c->d[0].seen + O.mss, 1, O.mss);
}

static void truth_dir(FILE *t, const struct dirtruth *d)
{
	struct sha256 h;
	uint8_t dg[32];
	char hex[65];
	weft_sha256_init(&h);
	fprintf(t, "{\"bytes\": %u, \"gaps\": [", d->len);
	int ng = 0;
	for (uint32_t i = 0; i < d->len;) {
		if (d->seen[i]) {
			uint32_t j = i;
			while (j < d->len && d->seen[j])
				j++;
			weft_sha256_update(&h, d->data + i, j - i);
			i = j;
		} else {
			uint32_t j = i;
			while (j < d->len && !d->seen[j])
				j++;
			weft_sha256_zeros(&h, j - i);
			fprintf(t, "%s[%u, %u]", ng++ ? ", " : "", i, j - i);
			i = j;
		}
	}
	weft_sha256_final(&h, dg);
	weft_sha256_hex(dg, hex);
	fprintf(t, "], \"sha256\": \"%s\"}", d->len ? hex : "");
}

static void truth_conn(FILE *t, const struct conn *c)
{
	char ca[64], sa[64];
	inet_ntop(c->ep.v6 ? AF_INET6 : AF_INET, c->ep.caddr, ca, sizeof(ca));
	inet_ntop(c->ep.v6 ? AF_INET6 : AF_INET, c->ep.saddr, sa, sizeof(sa));
	fprintf(t, "{\"src\": \"%s\", \"sport\": %u, \"dst\": \"%s\", \"dport\": %u, \"vlan\": [",
		ca, c->ep.cport, sa, c->ep.sport);
	for (int i = 0; i < c->ep.nvlan; i++)
		fprintf(t, "%s%u", i ? ", " : "", c->ep.vlan[i]);
	fprintf(t, "], \"end\": \"%s\", \"midstream\": %s, \"lies\": %u, \"c2s\": ",
		c->hurt ? "memcap" : c->rst ? "rst" : "fin", c->midstream ? "true" : "false",
		c->pk.lies);
	truth_dir(t, &c->d[0]);
	fputs(", \"s2c\": ", t);
	truth_dir(t, &c->d[1]);
	fputs("}\n", t);
}

static void write_pcap_header(FILE *f)
{
	/* ns pcap; link type Ethernet, or PPP (9) */
	uint32_t h[6] = { 0xa1b23c4d, 0x00040002, 0, 0, 262144, O.ppp ? 9 : 1 };
	uint16_t *v = (uint16_t *)&h[1];
	v[0] = 2; v[1] = 4;
	fwrite(h, 4, 6, f);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: weft-gen -o OUT.pcap -t TRUTH.jsonl [options]\n"
		"  --conns N --concurrent K --size MIN:MAX --rounds R --mss N --seed S\n"
		"  --reorder P --dup P --overlap P --loss P --midstream P --rst P --ipv6 P\n"
		"  --frag P --reuse P --keepalive P --fin-data P   (P: probability 0..1)\n"
		"  --late P (a segment captured after the ACKs that cover it)\n"
		"  --vlan --qinq --wrap --snaplen N --hurt N\n"
		"  --pppoe --mpls MAXLABELS --ppp (link type PPP) --llc (802.3 + LLC/SNAP)\n"
		"  --pad (Ethernet padding) --dstopts (IPv6: destination options before TCP)\n"
		"  --lie P (PPPoE/802.3 length shorter than IP's)  --wire-lie P (IP length 0,\n"
		"  record length 0xfffffff0)  --tunnel P (in IPv4: 4in4, 6in4)\n"
		"  --evasive-rst P (a spoofed RST|ACK outside the window, before the SYN-ACK\n"
		"  or inside the connection; the bytes go on after it)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *out = NULL, *truth = NULL;
	static const struct option lo[] = {
		{ "conns", 1, 0, 'n' }, { "concurrent", 1, 0, 'k' }, { "size", 1, 0, 's' },
		{ "rounds", 1, 0, 'R' }, { "mss", 1, 0, 'm' }, { "seed", 1, 0, 'S' },
		{ "reorder", 1, 0, 1 }, { "dup", 1, 0, 2 }, { "overlap", 1, 0, 3 },
		{ "loss", 1, 0, 4 }, { "midstream", 1, 0, 5 }, { "rst", 1, 0, 6 },
		{ "ipv6", 1, 0, 7 }, { "frag", 1, 0, 8 }, { "reuse", 1, 0, 9 },
		{ "keepalive", 1, 0, 10 }, { "fin-data", 1, 0, 11 }, { "vlan", 0, 0, 12 },
		{ "qinq", 0, 0, 13 }, { "wrap", 0, 0, 14 }, { "snaplen", 1, 0, 15 },
		{ "hurt", 1, 0, 16 }, { "pppoe", 0, 0, 17 }, { "mpls", 1, 0, 18 },
		{ "ppp", 0, 0, 19 }, { "llc", 0, 0, 20 }, { "pad", 0, 0, 21 },
		{ "dstopts", 0, 0, 22 }, { "lie", 1, 0, 23 }, { "wire-lie", 1, 0, 24 },
		{ "tunnel", 1, 0, 25 }, { "late", 1, 0, 26 }, { "evasive-rst", 1, 0, 27 },
		{ 0, 0, 0, 0 },
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "o:t:h", lo, NULL)) != -1) {
		switch (ch) {
		case 'o': out = optarg; break;
		case 't': truth = optarg; break;
		case 'n': O.conns = (uint32_t)atoi(optarg); break;
		case 'k': O.concurrent = (uint32_t)atoi(optarg); break;
		case 's': if (sscanf(optarg, "%u:%u", &O.min_size, &O.max_size) != 2) usage(); break;
		case 'R': O.rounds = (uint32_t)atoi(optarg); break;
		case 'm': O.mss = (uint32_t)atoi(optarg); break;
		case 'S': O.seed = strtoull(optarg, NULL, 0); break;
		case 1: O.reorder = atof(optarg); break;
		case 2: O.dup = atof(optarg); break;
		case 3: O.overlap = atof(optarg); break;
		case 4: O.loss = atof(optarg); break;
		case 5: O.midstream = atof(optarg); break;
		case 6: O.rst = atof(optarg); break;
		case 7: O.ipv6 = atof(optarg); break;
		case 8: O.frag = atof(optarg); break;
		case 9: O.reuse = atof(optarg); break;
		case 10: O.keepalive = atof(optarg); break;
		case 11: O.fin_data = atof(optarg); break;
		case 26: O.late = atof(optarg); break;
		case 27: O.evasive = atof(optarg); break;
		case 12: O.vlan = true; break;
		case 13: O.qinq = true; break;
		case 14: O.wrap = true; break;
		case 15: O.snaplen = (uint32_t)atoi(optarg); break;
		case 16: O.hurt = (uint32_t)atoi(optarg); break;
		case 17: O.pppoe = true; break;
		case 18: O.mpls = (uint32_t)atoi(optarg); break;
		case 19: O.ppp = true; break;
		case 20: O.llc = true; break;
		case 21: O.pad = true; break;
		case 22: O.dstopts = true; break;
		case 23: O.lie = atof(optarg); break;
		case 24: O.wire_lie = atof(optarg); break;
		case 25: O.tunnel = atof(optarg); break;
		default: usage();
		}
	}
	if (!out || !truth || O.min_size > O.max_size || !O.mss || O.mss > 8000 ||
	    (O.snaplen && O.frag > 0))
		usage();
	/* PPP has no Ethernet header to tag or pad; 802.3 lengths stop at
	 * 1500; a lie about lengths needs an outer length to lie against */
	if ((O.ppp && (O.vlan || O.qinq || O.pppoe || O.llc || O.pad)) ||
	    (O.llc && (O.pppoe || O.mss > 1400)) || O.mpls > 8 ||
	    (O.lie > 0 && !O.pppoe && !O.llc))
		usage();
	if (O.min_size < 2)
		O.min_size = 2;
	rng_state = O.seed * 0x2545f4914f6cdd1dull + 88172645463325252ull;
	uint32_t n = O.hurt ? O.hurt : O.conns;
	if (O.hurt)
		O.concurrent = n;
	struct conn *cs = calloc(n, sizeof(*cs));
	for (uint32_t i = 0; i < n; i++) {
		struct conn *c = &cs[i];
		make_endpoints(&c->ep, i);
		if (O.hurt) {
			c->hurt = true;
			build_hurt(c, i);
			continue;
		}
		c->midstream = chance(O.midstream);
		c->rst = chance(O.rst);
		c->evasive = chance(O.evasive);
		build_conn(c, i);
		if (chance(O.reuse)) {
			/* the same tuple again after this one closed: a new connection */
			struct conn *r = calloc(1, sizeof(*r));
			r->ep = c->ep;
			build_conn(r, (uint64_t)i + 1000000);
			c->next = r;
		}
	}
	FILE *f = fopen(out, "wb"), *t = fopen(truth, "w");
	if (!f || !t) { perror("open"); return 1; }
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	write_pcap_header(f);
	/* Interleave K connections at a time, picking a random one for each
	 * packet; a connection's follow-up on the same tuple starts when it is
	 * done. Packet times rise by 1-50 us. */
	uint32_t k = O.concurrent ? O.concurrent : 1;
	struct conn **act = calloc(k, sizeof(*act));
	uint32_t nact = 0, nexti = 0;
	uint64_t ts = (uint64_t)O.start_ts * 1000000000ull;
	for (;;) {
		while (nact < k && nexti < n)
			act[nact++] = &cs[nexti++];
		if (!nact)
			break;
		uint32_t j = (uint32_t)(rnd() % nact);
		struct conn *c = act[j];
		if (c->pk.pos == c->pk.n) {
			truth_conn(t, c);
			if (c->next) {
				act[j] = c->next;
			} else {
				act[j] = act[--nact];
			}
			continue;
		}
		struct pkt *p = &c->pk.v[c->pk.pos++];
		ts += rnd_range(1000, 50000);
		uint32_t rec[4] = { (uint32_t)(ts / 1000000000ull), (uint32_t)(ts % 1000000000ull),
				    p->caplen, p->wire };
		fwrite(rec, 4, 4, f);
		fwrite(p->buf, 1, p->caplen, f);
		free(p->buf);
	}
	fclose(f);
	fclose(t);
	return 0;
}
