/* SPDX-License-Identifier: MIT */
/*
 * The XDP program under BPF_PROG_TEST_RUN on crafted frames: verdicts, the
 * metadata bytes, hash symmetry (and agreement with user space's hash),
 * VLAN/QinQ, IPv6 extension headers, fragments, truncated and malformed
 * headers, each policy map. Then host mode's TC program on the same kind
 * of frames: the ring buffer's records, filters and bypass before the copy,
 * the snap length, a full ring. Needs root (CAP_BPF); skipped without it.
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "weft/abi.h"
#include "weft/flowhash.h"
#include "weft.skel.h"
#include "sweep.skel.h"

#define XDP_DROP 1
#define XDP_PASS 2

static struct weft_bpf *skel;

/* libbpf's words, kept to say what the kernel said when a load fails */
static char load_log[16384];
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN)
		return 0;
	size_t n = strlen(load_log);
	if (n < sizeof(load_log) - 1)
		vsnprintf(load_log + n, sizeof(load_log) - n, fmt, ap);
	return 0;
}
static int ncpu;

/* ---- frames ---- */

struct fr {
	uint8_t b[256];
	size_t n;
};

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* Ethernet (+ tags) + IPv4 + TCP with ports sp->dp */
static struct fr v4(const char *src, const char *dst, uint16_t sp, uint16_t dp, int ntags,
		    uint8_t tcpflags)
{
	struct fr f = { 0 };
	size_t o = 12;
	static const uint16_t tpid[2] = { 0x88a8, 0x8100 };
	for (int i = 0; i < ntags; i++) {
		put16(f.b + o, ntags == 2 ? tpid[i] : 0x8100);
		put16(f.b + o + 2, (uint16_t)(100 * (i + 1)));
		o += 4;
	}
	put16(f.b + o, 0x0800);
	o += 2;
	uint8_t *ip = f.b + o;
	ip[0] = 0x45; put16(ip + 2, 40 + 4); ip[8] = 64; ip[9] = 6;
	inet_pton(AF_INET, src, ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	uint8_t *t = ip + 20;
	put16(t, sp); put16(t + 2, dp);
	t[12] = 0x50; t[13] = tcpflags;
	memcpy(t + 20, "data", 4);
	f.n = o + 44;
	return f;
}

/* Ethernet + IPv6 + hop-by-hop + destination options + TCP */
static struct fr v6ext(uint16_t sp, uint16_t dp)
{
	struct fr f = { 0 };
	put16(f.b + 12, 0x86dd);
	uint8_t *ip = f.b + 14;
	ip[0] = 0x60; put16(ip + 4, 8 + 16 + 20); ip[6] = 0; ip[7] = 64;
	inet_pton(AF_INET6, "fd00::1", ip + 8);
	inet_pton(AF_INET6, "fd00::2", ip + 24);
	uint8_t *h = ip + 40;
	h[0] = 60; h[1] = 0;           /* hop-by-hop, 8 bytes, next: dest opts */
	h[8] = 6; h[9] = 1;            /* dest opts, 16 bytes, next: TCP */
	uint8_t *t = h + 24;
	put16(t, sp); put16(t + 2, dp);
	t[12] = 0x50; t[13] = 0x18;
	f.n = 14 + 40 + 24 + 20;
	return f;
}

/* A counter of skeleton sk, summed over the CPUs. */
static uint64_t counter_of(struct weft_bpf *sk, int c)
{
	uint64_t v[256] = { 0 };
	uint32_t k = (uint32_t)c;
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(sk->maps.counters), &k, v), 0);
	uint64_t s = 0;
	for (int i = 0; i < ncpu; i++)
		s += v[i];
	return s;
}

static uint64_t counter(int c)
{
	return counter_of(skel, c);
}

struct result {
	int verdict;
	struct weft_meta meta;
	bool has_meta;
};

static struct result run(const struct fr *f)
{
	uint8_t out[512];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->b, .data_size_in = (uint32_t)f->n,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
	int fd = bpf_program__fd(skel->progs.weft_xdp);
	assert_int_equal(bpf_prog_test_run_opts(fd, &o), 0);
	struct result r = { .verdict = (int)o.retval };
	/* data_out starts at data_meta: a block of ours is in front */
	if (o.data_size_out == f->n + sizeof(struct weft_meta)) {
		memcpy(&r.meta, out, sizeof(r.meta));
		r.has_meta = r.meta.magic == WEFT_META_MAGIC;
		assert_memory_equal(out + sizeof(struct weft_meta), f->b, f->n);
	}
	return r;
}

static void set_enabled(uint32_t on, uint32_t bypass_action)
{
	struct weft_config_map c = { .enabled = on, .bypass_action = bypass_action };
	uint32_t k = 0;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.cfg_map), &k, &c, 0), 0);
}

static uint32_t user_hash(const char *a, uint16_t pa, const char *b, uint16_t pb, uint16_t v0,
			  uint16_t v1)
{
	uint32_t x[4] = { 0 }, y[4] = { 0 };
	inet_pton(AF_INET, a, x);
	inet_pton(AF_INET, b, y);
	return weft_flow_hash(x, pa, y, pb, v0, v1, 4);
}

/* ---- cases ---- */

static void t_disabled(void **st)
{
	(void)st;
	set_enabled(0, XDP_PASS);
	uint64_t before = counter(WEFT_CNT_PASS_DISABLED);
	struct fr f = v4("10.0.0.1", "10.0.0.2", 40000, 80, 0, 0x18);
	struct result r = run(&f);
	assert_int_equal(r.verdict, XDP_PASS);
	assert_false(r.has_meta);
	assert_int_equal(counter(WEFT_CNT_PASS_DISABLED), before + 1);
	set_enabled(1, XDP_DROP);
}

static void t_tcp_meta_and_symmetry(void **st)
{
	(void)st;
	uint64_t fail = counter(WEFT_CNT_REDIRECT_FAIL);
	struct fr a = v4("10.0.0.1", "10.0.0.2", 40000, 80, 0, 0x02);
	struct fr b = v4("10.0.0.2", "10.0.0.1", 80, 40000, 0, 0x12);
	struct result ra = run(&a), rb = run(&b);
	/* no socket on the queue in a test run: the redirect falls back to pass */
	assert_int_equal(ra.verdict, XDP_PASS);
	assert_int_equal(counter(WEFT_CNT_REDIRECT_FAIL), fail + 2);
	assert_true(ra.has_meta && rb.has_meta);
	assert_int_equal(ra.meta.hash, rb.meta.hash);
	assert_int_not_equal(ra.meta.side, rb.meta.side);
	assert_int_equal(ra.meta.hash, user_hash("10.0.0.1", 40000, "10.0.0.2", 80, 0, 0));
	assert_int_equal(ra.meta.l3_off, 14);
	assert_int_equal(ra.meta.l4_off, 34);
	assert_int_equal(ra.meta.nvlan, 0);
	assert_int_equal(ra.meta.version, WEFT_META_VERSION);
	assert_true(ra.meta.flags & WEFT_META_SYN);
	assert_false(ra.meta.flags & (WEFT_META_IPV6 | WEFT_META_FRAG));
	assert_true(ra.meta.ts_ns > 0);
	/* another flow hashes elsewhere */
	struct fr c = v4("10.0.0.1", "10.0.0.2", 40001, 80, 0, 0x18);
	assert_int_not_equal(run(&c).meta.hash, ra.meta.hash);
}

static void t_vlan_qinq(void **st)
{
	(void)st;
	struct fr one = v4("10.0.0.1", "10.0.0.2", 40000, 80, 1, 0x18);
	struct fr two = v4("10.0.0.1", "10.0.0.2", 40000, 80, 2, 0x18);
	struct fr none = v4("10.0.0.1", "10.0.0.2", 40000, 80, 0, 0x18);
	struct result r1 = run(&one), r2 = run(&two), r0 = run(&none);
	assert_int_equal(r1.meta.nvlan, 1);
	assert_int_equal(r1.meta.l3_off, 18);
	assert_int_equal(r2.meta.nvlan, 2);
	assert_int_equal(r2.meta.l3_off, 22);
	assert_int_equal(r2.meta.l4_off, 42);
	/* tags are part of the flow */
	assert_int_not_equal(r1.meta.hash, r0.meta.hash);
	assert_int_equal(r1.meta.hash, user_hash("10.0.0.1", 40000, "10.0.0.2", 80, 100, 0));
	assert_int_equal(r2.meta.hash, user_hash("10.0.0.1", 40000, "10.0.0.2", 80, 100, 200));
}

static void t_ipv6_ext(void **st)
{
	(void)st;
	struct fr a = v6ext(40000, 443), b = v6ext(40000, 443);
	/* the reverse direction: swap addresses and ports */
	uint8_t tmp[16];
	memcpy(tmp, b.b + 22, 16);
	memcpy(b.b + 22, b.b + 38, 16);
	memcpy(b.b + 38, tmp, 16);
	put16(b.b + 78, 443);
	put16(b.b + 80, 40000);
	struct result ra = run(&a), rb = run(&b);
	assert_true(ra.has_meta);
	assert_true(ra.meta.flags & WEFT_META_IPV6);
	assert_int_equal(ra.meta.l4_off, 14 + 40 + 24);
	assert_int_equal(ra.meta.hash, rb.meta.hash);
}

static void t_fragments(void **st)
{
	(void)st;
	uint64_t frags = counter(WEFT_CNT_FRAG);
	struct fr first = v4("10.0.0.1", "10.0.0.2", 40000, 80, 0, 0x18);
	put16(first.b + 14 + 6, 0x2000);  /* MF, offset 0 */
	struct fr later = v4("10.0.0.1", "10.0.0.2", 40000, 80, 0, 0x18);
	put16(later.b + 14 + 6, 0x0003);  /* offset 24, last */
	struct result rf = run(&first), rl = run(&later);
	assert_true(rf.meta.flags & WEFT_META_FRAG);
	assert_true(rl.meta.flags & WEFT_META_FRAG);
	assert_int_equal(rl.meta.l4_off, 0);      /* no TCP header in it */
	assert_int_equal(rf.meta.hash, rl.meta.hash); /* one datagram, one hash */
	assert_int_equal(counter(WEFT_CNT_FRAG), frags + 2);
	/* IPv6 fragment header */
	struct fr f6 = v6ext(1, 2);
	f6.b[14 + 40 + 8] = 44;                   /* dest opts -> fragment header */
	f6.b[14 + 40 + 8 + 1] = 1;
	uint8_t *fh = f6.b + 14 + 40 + 24 - 8;    /* reuse the last 8 option bytes */
	memset(fh, 0, 8);
	fh[0] = 6;
	put16(fh + 2, 0x0011);                    /* offset 16, more */
	f6.b[14 + 40 + 8 + 1] = 0;                /* dest opts back to 8 bytes */
	f6.b[14 + 40 + 8] = 44;
	struct result r6 = run(&f6);
	assert_true(r6.has_meta);
	assert_true(r6.meta.flags & WEFT_META_FRAG);
	assert_int_equal(r6.meta.l4_off, 0);
}

static void t_not_ours(void **st)
{
	(void)st;
	uint64_t nip = counter(WEFT_CNT_PASS_NOT_IP), ntcp = counter(WEFT_CNT_PASS_NOT_TCP);
	struct fr arp = v4("10.0.0.1", "10.0.0.2", 1, 2, 0, 0);
	put16(arp.b + 12, 0x0806);
	struct fr udp = v4("10.0.0.1", "10.0.0.2", 53, 53, 0, 0);
	udp.b[14 + 9] = 17;
	assert_int_equal(run(&arp).verdict, XDP_PASS);
	assert_int_equal(run(&udp).verdict, XDP_PASS);
	assert_int_equal(counter(WEFT_CNT_PASS_NOT_IP), nip + 1);
	assert_int_equal(counter(WEFT_CNT_PASS_NOT_TCP), ntcp + 1);
}

static void t_malformed(void **st)
{
	(void)st;
	/* (a frame shorter than Ethernet cannot be test-run: the kernel refuses
	 * it before the program sees it) */
	uint64_t ip4 = counter(WEFT_CNT_ERR_IPV4), ip6 = counter(WEFT_CNT_ERR_IPV6);
	uint64_t tcp = counter(WEFT_CNT_ERR_TCP), vlan = counter(WEFT_CNT_ERR_VLAN);
	struct fr f = v4("10.0.0.1", "10.0.0.2", 1, 2, 0, 0x18);
	f.b[14] = 0x43;                            /* IHL 3 */
	assert_int_equal(run(&f).verdict, XDP_PASS);
	f = v4("10.0.0.1", "10.0.0.2", 1, 2, 0, 0x18);
	f.b[14 + 20 + 12] = 0x30;                  /* data offset 3 */
	assert_int_equal(run(&f).verdict, XDP_PASS);
	f = v4("10.0.0.1", "10.0.0.2", 1, 2, 0, 0x18);
	f.n = 14 + 20 + 10;                        /* TCP header cut */
	assert_int_equal(run(&f).verdict, XDP_PASS);
	f = v4("10.0.0.1", "10.0.0.2", 1, 2, 1, 0x18);
	f.n = 15;                                  /* VLAN tag cut */
	assert_int_equal(run(&f).verdict, XDP_PASS);
	struct fr g = v6ext(1, 2);
	g.n = 14 + 40 + 4;                         /* extension header cut */
	assert_int_equal(run(&g).verdict, XDP_PASS);
	assert_int_equal(counter(WEFT_CNT_ERR_IPV4), ip4 + 1);
	assert_int_equal(counter(WEFT_CNT_ERR_IPV6), ip6 + 1);
	assert_int_equal(counter(WEFT_CNT_ERR_TCP), tcp + 2);
	assert_int_equal(counter(WEFT_CNT_ERR_VLAN), vlan + 1);
}

static void t_port_policy(void **st)
{
	(void)st;
	uint16_t port = 8443;
	uint32_t v = WEFT_POLICY_IGNORE;
	int fd = bpf_map__fd(skel->maps.ports);
	assert_int_equal(bpf_map_update_elem(fd, &port, &v, 0), 0);
	uint64_t before = counter(WEFT_CNT_FILTER_PORT);
	struct fr f = v4("10.0.0.1", "10.0.0.2", 40000, 8443, 0, 0x18);
	struct result r = run(&f);
	assert_int_equal(r.verdict, XDP_PASS);
	assert_false(r.has_meta);
	assert_int_equal(counter(WEFT_CNT_FILTER_PORT), before + 1);
	bpf_map_delete_elem(fd, &port);
	assert_true(run(&f).has_meta);
}

static void t_cidr_policy(void **st)
{
	(void)st;
	int fd = bpf_map__fd(skel->maps.cidrs);
	struct weft_cidr_key k = { .prefixlen = 96 + 16 };
	k.addr[10] = k.addr[11] = 0xff;
	k.addr[12] = 192; k.addr[13] = 168;        /* 192.168.0.0/16 */
	uint32_t v = WEFT_POLICY_IGNORE;
	assert_int_equal(bpf_map_update_elem(fd, &k, &v, 0), 0);
	struct weft_cidr_key k6 = { .prefixlen = 16 };
	k6.addr[0] = 0xfd;                         /* fd00::/16 */
	assert_int_equal(bpf_map_update_elem(fd, &k6, &v, 0), 0);
	uint64_t before = counter(WEFT_CNT_FILTER_CIDR);
	struct fr f = v4("10.0.0.1", "192.168.7.7", 40000, 80, 0, 0x18);
	assert_false(run(&f).has_meta);
	struct fr g = v6ext(1, 2);
	assert_false(run(&g).has_meta);
	struct fr h = v4("10.0.0.1", "10.0.0.2", 40000, 80, 0, 0x18);
	assert_true(run(&h).has_meta);
	assert_int_equal(counter(WEFT_CNT_FILTER_CIDR), before + 2);
	bpf_map_delete_elem(fd, &k);
	bpf_map_delete_elem(fd, &k6);
}

static void t_bypass(void **st)
{
	(void)st;
	struct weft_flow_key k = { .family = 4 };
	uint32_t a = 0, b = 0;
	inet_pton(AF_INET, "10.0.0.1", &a);
	inet_pton(AF_INET, "10.0.0.2", &b);
	/* canonical order, as the program builds it */
	int swap = weft_endpoint_after((uint32_t[4]){ a }, 40000, (uint32_t[4]){ b }, 80);
	k.addr[swap][0] = a;
	k.addr[!swap][0] = b;
	k.port[swap] = 40000;
	k.port[!swap] = 80;
	struct weft_bypass v = { .sides = 3 };
	int fd = bpf_map__fd(skel->maps.bypass);
	assert_int_equal(bpf_map_update_elem(fd, &k, &v, 0), 0);
	uint64_t before = counter(WEFT_CNT_BYPASS);
	struct fr f = v4("10.0.0.1", "10.0.0.2", 40000, 80, 0, 0x18);
	struct fr g = v4("10.0.0.2", "10.0.0.1", 80, 40000, 0, 0x18);
	assert_int_equal(run(&f).verdict, XDP_DROP);
	assert_int_equal(run(&g).verdict, XDP_DROP);  /* both directions */
	assert_int_equal(counter(WEFT_CNT_BYPASS), before + 2);
	assert_int_equal(bpf_map_lookup_elem(fd, &k, &v), 0);
	assert_int_equal(v.packets, 2);
	assert_int_equal(v.bytes, 2 * f.n);
	set_enabled(1, XDP_PASS);
	assert_int_equal(run(&f).verdict, XDP_PASS);
	set_enabled(1, XDP_DROP);
	/* one side only (a direction at its depth): the other still crosses */
	v = (struct weft_bypass){ .sides = (uint8_t)(1u << swap) };
	assert_int_equal(bpf_map_update_elem(fd, &k, &v, 0), 0);
	assert_int_equal(run(&f).verdict, XDP_DROP);
	assert_true(run(&g).has_meta);
	bpf_map_delete_elem(fd, &k);
	assert_true(run(&f).has_meta);
}

/* ---- kernel flow table, pure ACKs, sweepers ---- */

/* IPv4 TCP segment with an ACK number and plen payload bytes */
static uint32_t seg_seq; /* the next seg()'s sequence number */

static struct fr seg(const char *src, const char *dst, uint16_t sp, uint16_t dp, uint8_t flags,
		     uint32_t ack, uint16_t plen)
{
	struct fr f = v4(src, dst, sp, dp, 0, flags);
	uint8_t *ip = f.b + 14, *t = ip + 20;
	put16(t + 4, (uint16_t)(seg_seq >> 16));
	put16(t + 6, (uint16_t)seg_seq);
	seg_seq = 0;
	put16(ip + 2, (uint16_t)(40 + plen));
	put16(t + 8, (uint16_t)(ack >> 16));
	put16(t + 10, (uint16_t)ack);
	memset(t + 20, 'x', plen);
	f.n = 14 + 40 + plen;
	if (f.n < 60) /* Ethernet pads short frames: the IP length tells */
		f.n = 60;
	return f;
}

static struct weft_flow_key key4(const char *a, uint16_t pa, const char *b, uint16_t pb)
{
	struct weft_flow_key k = { .family = 4 };
	uint32_t x = 0, y = 0;
	inet_pton(AF_INET, a, &x);
	inet_pton(AF_INET, b, &y);
	int swap = weft_endpoint_after((uint32_t[4]){ x }, pa, (uint32_t[4]){ y }, pb);
	k.addr[swap][0] = x;
	k.addr[!swap][0] = y;
	k.port[swap] = pa;
	k.port[!swap] = pb;
	return k;
}

static void set_policy(uint32_t ack_offload, uint64_t idle_ns)
{
	struct weft_policy p = { .ack_offload = ack_offload, .idle_established_ns = idle_ns,
				 .idle_closing_ns = idle_ns, .idle_halfopen_ns = idle_ns };
	uint32_t k = 0;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.policy), &k, &p, 0), 0);
}

static void t_flow_table(void **st)
{
	(void)st;
	set_policy(1, 0);
	const char *A = "10.9.0.1", *B = "10.9.0.2";
	struct weft_flow_key k = key4(A, 41000, B, 443);
	int fd = bpf_map__fd(skel->maps.flows);
	bpf_map_delete_elem(fd, &k);
	int ca = k.port[1] == 41000; /* A's end in the canonical key */
	struct fr syn = seg(A, B, 41000, 443, 0x02, 0, 0);
	struct fr synack = seg(B, A, 443, 41000, 0x12, 1001, 0);
	/* an ACK before the handshake completes both ways still crosses */
	struct fr early = seg(A, B, 41000, 443, 0x10, 0xffffffe0u, 0);
	struct result rs = run(&syn);
	assert_true(rs.has_meta);
	assert_false(rs.meta.flags & WEFT_META_PEER_ACK); /* B has said nothing yet */
	assert_true(run(&early).has_meta);
	assert_true(run(&synack).has_meta);
	uint64_t kept = counter(WEFT_CNT_ACK_KEPT);
	/* now pure ACKs stay: dropped (tap), counted, never copied (A's SYN
	 * had sequence number 0, so A's next is 1) */
	seg_seq = 1;
	struct fr ack1 = seg(A, B, 41000, 443, 0x10, 0xfffffff0u, 0);
	seg_seq = 1;
	struct fr ack2 = seg(A, B, 41000, 443, 0x10, 0x10, 0); /* past the wrap: higher */
	seg_seq = 1;
	struct fr ack3 = seg(A, B, 41000, 443, 0x10, 0xffffff00u, 0); /* older: kept lower */
	/* a pure ACK from further on than A was seen sending tells of data the
	 * capture missed: it crosses */
	seg_seq = 500;
	struct fr ahead = seg(A, B, 41000, 443, 0x10, 0x10, 0);
	assert_int_equal(run(&ack1).verdict, XDP_DROP);
	assert_int_equal(run(&ack2).verdict, XDP_DROP);
	assert_int_equal(run(&ack3).verdict, XDP_DROP);
	assert_int_equal(counter(WEFT_CNT_ACK_KEPT), kept + 3);
	assert_true(run(&ahead).has_meta);
	/* data, FIN and RST always cross, ACK flag or not */
	struct fr data = seg(B, A, 443, 41000, 0x18, 1001, 100);
	struct fr fin = seg(A, B, 41000, 443, 0x11, 0x20, 0);
	/* B's data carries A's word so far: its kept ACKs, in packet order */
	struct result rd = run(&data);
	assert_true(rd.has_meta);
	assert_true(rd.meta.flags & WEFT_META_PEER_ACK);
	assert_int_equal(rd.meta.peer_ack, 0x10);
	assert_true(run(&fin).has_meta);
	struct weft_flow v;
	assert_int_equal(bpf_map_lookup_elem(fd, &k, &v), 0);
	assert_int_equal(v.client, 1 + ca);
	assert_int_equal(v.packets[ca], 7);
	assert_int_equal(v.packets[!ca], 2);
	assert_int_equal(v.bytes[!ca], synack.n + data.n);
	assert_int_equal(v.acks_kept, 3);
	assert_int_equal(v.flags[ca], 0x13);
	assert_int_equal(v.flags[!ca], 0x12 | 0x18);
	assert_int_equal(v.ack[ca], 0x20);     /* the FIN's, highest modulo 2^32 */
	assert_int_equal(v.ack[!ca], 1001);
	assert_int_equal(v.ack_valid, 3);
	assert_true(v.last_ns >= v.first_ns && v.first_ns > 0);
	/* with the policy off, pure ACKs cross again */
	set_policy(0, 0);
	assert_true(run(&ack1).has_meta);
	set_policy(1, 0);
	bpf_map_delete_elem(fd, &k);
	/* a midstream flow (no handshake in the table) sends its ACKs across */
	struct fr mid = seg(A, B, 41001, 443, 0x10, 7, 0);
	assert_true(run(&mid).has_meta);
	assert_true(run(&mid).has_meta);
}

static void t_bypass_new_syn(void **st)
{
	(void)st;
	struct weft_flow_key k = key4("10.0.0.1", 40001, "10.0.0.2", 80);
	int fd = bpf_map__fd(skel->maps.bypass);
	struct weft_bypass v = { .id = 9, .reason = WEFT_BYPASS_DEPTH, .sides = 3 };
	assert_int_equal(bpf_map_update_elem(fd, &k, &v, 0), 0);
	struct fr ack = seg("10.0.0.1", "10.0.0.2", 40001, 80, 0x10, 1, 0);
	assert_int_equal(run(&ack).verdict, XDP_DROP);
	/* a SYN starts a new connection on the tuple: it goes to user space
	 * and the entry is gone */
	struct fr syn = seg("10.0.0.1", "10.0.0.2", 40001, 80, 0x02, 0, 0);
	assert_true(run(&syn).has_meta);
	assert_int_not_equal(bpf_map_lookup_elem(fd, &k, &v), 0);
}

/* read an iterator to its end: the sweeper runs over the whole map */
static void run_iter(struct bpf_program *prog, struct bpf_map *map)
{
	union bpf_iter_link_info li = { .map.map_fd = (uint32_t)bpf_map__fd(map) };
	LIBBPF_OPTS(bpf_iter_attach_opts, o, .link_info = &li, .link_info_len = sizeof(li));
	struct bpf_link *l = bpf_program__attach_iter(prog, &o);
	assert_non_null(l);
	int it = bpf_iter_create(bpf_link__fd(l));
	assert_true(it >= 0);
	char buf[64];
	while (read(it, buf, sizeof(buf)) > 0)
		;
	close(it);
	bpf_link__destroy(l);
}

/* The kernel sweepers: their own object on the classifier's maps, as
 * weft loads them. A kernel that refuses iterators (no CAP_PERFMON,
 * lockdown) skips this, saying what it said; weft then sweeps from user
 * space (test_control.sh covers both). */
static void t_sweepers(void **st)
{
	(void)st;
	struct weft_sweep_bpf *sw = weft_sweep_bpf__open();
	assert_non_null(sw);
	assert_int_equal(bpf_map__reuse_fd(sw->maps.flows, bpf_map__fd(skel->maps.flows)), 0);
	assert_int_equal(bpf_map__reuse_fd(sw->maps.bypass, bpf_map__fd(skel->maps.bypass)), 0);
	assert_int_equal(bpf_map__reuse_fd(sw->maps.policy, bpf_map__fd(skel->maps.policy)), 0);
	assert_int_equal(bpf_map__reuse_fd(sw->maps.counters, bpf_map__fd(skel->maps.counters)), 0);
	if (weft_sweep_bpf__load(sw)) {
		int e = errno;
		weft_sweep_bpf__destroy(sw);
		printf("skip t_sweepers: the kernel refused the iterator programs: %s\n", strerror(e));
		skip();
	}
	int ff = bpf_map__fd(skel->maps.flows), bf = bpf_map__fd(skel->maps.bypass);
	struct weft_flow_key old = key4("10.8.0.1", 1000, "10.8.0.2", 80);
	struct weft_flow_key fresh = key4("10.8.0.1", 1001, "10.8.0.2", 80);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	struct weft_flow fo = { .first_ns = 1, .last_ns = now - 5000000000ull };
	struct weft_flow fn = { .first_ns = 1, .last_ns = now };
	struct weft_bypass bo = { .last_ns = now - 5000000000ull }, bn = { .last_ns = now };
	assert_int_equal(bpf_map_update_elem(ff, &old, &fo, 0), 0);
	assert_int_equal(bpf_map_update_elem(ff, &fresh, &fn, 0), 0);
	assert_int_equal(bpf_map_update_elem(bf, &old, &bo, 0), 0);
	assert_int_equal(bpf_map_update_elem(bf, &fresh, &bn, 0), 0);
	set_policy(1, 2000000000ull); /* 2 s */
	uint64_t swept = counter(WEFT_CNT_SWEPT);
	run_iter(sw->progs.sweep_flows, skel->maps.flows);
	run_iter(sw->progs.sweep_bypass, skel->maps.bypass);
	weft_sweep_bpf__destroy(sw);
	struct weft_flow f;
	struct weft_bypass b;
	assert_int_not_equal(bpf_map_lookup_elem(ff, &old, &f), 0);
	assert_int_equal(bpf_map_lookup_elem(ff, &fresh, &f), 0);
	assert_int_not_equal(bpf_map_lookup_elem(bf, &old, &b), 0);
	assert_int_equal(bpf_map_lookup_elem(bf, &fresh, &b), 0);
	assert_true(counter(WEFT_CNT_SWEPT) >= swept + 2);
	set_policy(1, 0);
	bpf_map_delete_elem(ff, &fresh);
	bpf_map_delete_elem(bf, &fresh);
}

static void t_peer_fin(void **st)
{
	(void)st;
	set_policy(1, 0);
	const char *A = "10.9.1.1", *B = "10.9.1.2";
	struct weft_flow_key k = key4(A, 42000, B, 80);
	int fd = bpf_map__fd(skel->maps.flows);
	bpf_map_delete_elem(fd, &k);
	int ca = k.port[1] == 42000;
	seg_seq = 100;
	struct fr syn = seg(A, B, 42000, 80, 0x02, 0, 0);
	seg_seq = 7000;
	struct fr synack = seg(B, A, 80, 42000, 0x12, 101, 0);
	seg_seq = 101;
	struct fr fin = seg(A, B, 42000, 80, 0x19, 7001, 5); /* 5 bytes, then FIN at 106 */
	seg_seq = 7001;
	struct fr data = seg(B, A, 80, 42000, 0x18, 107, 10);
	run(&syn);
	struct result r = run(&synack);
	assert_false(r.meta.flags & WEFT_META_PEER_FIN);
	run(&fin);
	/* B's next packet tells where A's stream ended, whatever became of
	 * the FIN's own copy */
	r = run(&data);
	assert_true(r.has_meta);
	assert_true(r.meta.flags & WEFT_META_PEER_FIN);
	assert_int_equal(r.meta.peer_fin, 106);
	struct weft_flow v;
	assert_int_equal(bpf_map_lookup_elem(fd, &k, &v), 0);
	assert_int_equal(v.fin_seq[ca], 106);
	/* a new connection on the closed tuple starts clean */
	seg_seq = 90000;
	struct fr syn2 = seg(A, B, 42000, 80, 0x02, 0, 0);
	run(&syn2);
	assert_int_equal(bpf_map_lookup_elem(fd, &k, &v), 0);
	assert_int_equal(v.flags[ca], 0x02);
	assert_int_equal(v.flags[!ca], 0);
	assert_int_equal(v.packets[ca], 3); /* the tuple's counters stay */
	seg_seq = 1;
	struct fr synack2 = seg(B, A, 80, 42000, 0x12, 90001, 0);
	assert_false(run(&synack2).meta.flags & WEFT_META_PEER_FIN);
	bpf_map_delete_elem(fd, &k);
}

/* ---- host mode: TC, the ring buffer ---- */

#define TC_NEXT (-1)
#define TC_ACT_SHOT 2

struct rec {
	struct weft_ring_rec h;
	uint8_t data[4096];
};
static struct rec recs[16];
static int nrecs;

static int on_rec(void *ctx, void *data, size_t size)
{
	(void)ctx;
	assert_true(size >= sizeof(struct weft_ring_rec));
	if (nrecs < 16) {
		memcpy(&recs[nrecs], data, size < sizeof(recs[0]) ? size : sizeof(recs[0]));
		nrecs++;
	}
	return 0;
}

static int on_bell(void *ctx, void *data, size_t size)
{
	(void)ctx, (void)data;
	assert_int_equal(size, sizeof(uint64_t));
	return 0;
}

/* frame of n bytes: an IPv4 TCP packet from A:sp to B:dp with payload */
static size_t big(uint8_t *b, size_t n, uint16_t sp, uint16_t dp)
{
	struct fr f = v4("10.7.0.1", "10.7.0.2", sp, dp, 0, 0x18);
	memcpy(b, f.b, 54);
	for (size_t i = 54; i < n; i++)
		b[i] = (uint8_t)(i * 7);
	put16(b + 14 + 2, (uint16_t)(n - 14));
	return n;
}

/* Run the TC program p on n bytes; its verdict. */
static int run_tc(struct bpf_program *p, const uint8_t *b, size_t n)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = b, .data_size_in = (uint32_t)n, .repeat = 1);
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(p), &o), 0);
	return (int)o.retval;
}

static void drain_ring(struct weft_bpf *k)
{
	nrecs = 0;
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(k->maps.ring), on_rec, NULL, NULL);
	assert_non_null(rb);
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
}

/* The programs loaded afresh with a ring buffer of ring bytes. */
static struct weft_bpf *with_ring(uint32_t ring)
{
	struct weft_bpf *k = weft_bpf__open();
	assert_non_null(k);
	assert_int_equal(bpf_map__set_max_entries(k->maps.ring, ring), 0);
	assert_int_equal(weft_bpf__load(k), 0);
	return k;
}

static void set_snaplen(struct weft_bpf *k, uint32_t snap)
{
	struct weft_config_map c = { .enabled = 1, .bypass_action = XDP_PASS, .snaplen = snap };
	uint32_t z = 0;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(k->maps.cfg_map), &z, &c, 0), 0);
}

/* Host mode's ingress program in: TC, or XDP (which passes every packet
 * as TC does, whatever bypass_action says); its egress is TC's. */
static void host_records(struct bpf_program *in)
{
	struct bpf_program *eg = skel->progs.weft_tc_egress;
	int pass = in == skel->progs.weft_xdp_host ? XDP_PASS : TC_NEXT;
	uint8_t b[3000];
	set_snaplen(skel, 0);
	drain_ring(skel);
	/* both directions, each copied whole with the metadata XDP gives */
	size_t n = big(b, 1200, 5555, 80);
	assert_int_equal(run_tc(eg, b, n), TC_NEXT);
	assert_int_equal(run_tc(in, b, n), pass);
	drain_ring(skel);
	assert_int_equal(nrecs, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(recs[i].h.caplen, n);
		assert_int_equal(recs[i].h.wirelen, n);
		assert_memory_equal(recs[i].data, b, n);
		assert_int_equal(recs[i].h.meta.magic, WEFT_META_MAGIC);
		assert_int_equal(recs[i].h.meta.version, WEFT_META_VERSION);
		assert_int_equal(recs[i].h.meta.l3_off, 14);
		assert_int_equal(recs[i].h.meta.l4_off, 34);
		assert_int_equal(recs[i].h.meta.hash,
				 user_hash("10.7.0.1", 5555, "10.7.0.2", 80, 0, 0));
		assert_true(recs[i].h.meta.ts_ns > 0);
	}
	/* the snap length: the rest is known to be missing */
	set_snaplen(skel, 100);
	assert_int_equal(run_tc(eg, b, n), TC_NEXT);
	assert_int_equal(run_tc(in, b, n), pass);
	drain_ring(skel);
	assert_int_equal(nrecs, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(recs[i].h.caplen, 100);
		assert_int_equal(recs[i].h.wirelen, n);
		assert_memory_equal(recs[i].data, b, 100);
	}
	set_snaplen(skel, 0);
	/* filtered and bypassed flows pass, uncopied: only the lookup */
	uint16_t port = 5556;
	uint32_t ign = WEFT_POLICY_IGNORE;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.ports), &port, &ign, 0), 0);
	n = big(b, 800, 5556, 80);
	assert_int_equal(run_tc(eg, b, n), TC_NEXT);
	assert_int_equal(run_tc(in, b, n), pass);
	bpf_map_delete_elem(bpf_map__fd(skel->maps.ports), &port);
	struct weft_flow_key k = key4("10.7.0.1", 5557, "10.7.0.2", 80);
	struct weft_bypass v = { .sides = 3 };
	/* XDP on host mode's ingress passes bypassed packets even with a tap's
	 * setting; TC with host mode's own (a tap's drops: t_tc_tap) */
	set_enabled(1, in == skel->progs.weft_xdp_host ? XDP_DROP : XDP_PASS);
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.bypass), &k, &v, 0), 0);
	uint64_t byp = counter(WEFT_CNT_BYPASS);
	n = big(b, 800, 5557, 80);
	assert_int_equal(run_tc(in, b, n), pass);
	assert_int_equal(counter(WEFT_CNT_BYPASS), byp + 1);
	bpf_map_delete_elem(bpf_map__fd(skel->maps.bypass), &k);
	/* not TCP: passes, uncopied */
	struct fr u = v4("10.7.0.1", "10.7.0.2", 1, 2, 0, 0);
	u.b[14 + 9] = 17;
	assert_int_equal(run_tc(eg, u.b, u.n), TC_NEXT);
	assert_int_equal(run_tc(in, u.b, u.n), pass);
	drain_ring(skel);
	assert_int_equal(nrecs, 0);
}

static void t_tc_records(void **st)
{
	(void)st;
	host_records(skel->progs.weft_tc_ingress);
}

/* Tap mode's ring path (a virtual mirror port): TC ingress copies what it
 * follows and then drops it, drops bypassed packets uncopied, and lets
 * what is not TCP, or filtered, go on. */
static void t_tc_tap(void **st)
{
	(void)st;
	struct bpf_program *in = skel->progs.weft_tc_ingress;
	uint8_t b[3000];
	set_snaplen(skel, 0);
	set_enabled(1, XDP_DROP);
	drain_ring(skel);
	size_t n = big(b, 1400, 5655, 80);
	assert_int_equal(run_tc(in, b, n), TC_ACT_SHOT);
	drain_ring(skel);
	assert_int_equal(nrecs, 1);
	assert_int_equal(recs[0].h.caplen, n);
	assert_memory_equal(recs[0].data, b, n);
	/* bypassed: dropped, not copied */
	struct weft_flow_key k = key4("10.7.0.1", 5657, "10.7.0.2", 80);
	struct weft_bypass v = { .sides = 3 };
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.bypass), &k, &v, 0), 0);
	n = big(b, 800, 5657, 80);
	assert_int_equal(run_tc(in, b, n), TC_ACT_SHOT);
	bpf_map_delete_elem(bpf_map__fd(skel->maps.bypass), &k);
	/* a filtered port and a datagram: the host's, untouched */
	uint16_t port = 5656;
	uint32_t ign = WEFT_POLICY_IGNORE;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.ports), &port, &ign, 0), 0);
	n = big(b, 800, 5656, 80);
	assert_int_equal(run_tc(in, b, n), TC_NEXT);
	bpf_map_delete_elem(bpf_map__fd(skel->maps.ports), &port);
	struct fr u = v4("10.7.0.1", "10.7.0.2", 1, 2, 0, 0);
	u.b[14 + 9] = 17;
	assert_int_equal(run_tc(in, u.b, u.n), TC_NEXT);
	drain_ring(skel);
	assert_int_equal(nrecs, 0);
}

static void t_xdp_host_records(void **st)
{
	(void)st;
	host_records(skel->progs.weft_xdp_host);
}


/* Wakeups in batches: with a mark of wake_bytes, only the records that
 * cross a multiple of it wake the reader (and are counted), so a reader
 * that keeps up is not woken once per packet; with 0, the kernel's way. */
static void t_tc_wake(void **st)
{
	(void)st;
	struct weft_bpf *k = with_ring(65536);
	struct weft_config_map c = { .enabled = 1, .bypass_action = XDP_PASS, .wake_bytes = 4096 };
	uint32_t z = 0;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(k->maps.cfg_map), &z, &c, 0), 0);
	nrecs = 0;
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(k->maps.ring), on_rec, NULL, NULL);
	assert_non_null(rb);
	int ep = ring_buffer__epoll_fd(rb);
	struct epoll_event ev;
	uint8_t b[1200];
	size_t n = big(b, 1200, 6001, 80);
	/* a record is header (8) + weft_ring_rec + the 1600-byte size class */
	uint64_t rec = 8 + sizeof(struct weft_ring_rec) + 1600, end = 0, want = 0;
	/* below the first mark: the data waits, the reader sleeps on */
	assert_int_equal(run_tc(k->progs.weft_tc_ingress, b, n), TC_NEXT);
	end += rec;
	assert_int_equal(epoll_wait(ep, &ev, 1, 0), 0);
	/* up to and across it: one wakeup, then the reader finds both */
	while (end / 4096 == 0) {
		assert_int_equal(run_tc(k->progs.weft_tc_ingress, b, n), TC_NEXT);
		end += rec;
	}
	assert_int_equal(epoll_wait(ep, &ev, 1, 0), 1);
	assert_int_equal(ring_buffer__consume(rb), (int)(end / rec));
	/* twenty more: one wakeup per mark crossed, none in between */
	uint64_t w0 = counter_of(k, WEFT_CNT_RING_WAKE);
	assert_int_equal(w0, 1);
	for (int i = 0; i < 20; i++) {
		want += (end + rec) / 4096 - end / 4096;
		end += rec;
		assert_int_equal(run_tc(k->progs.weft_tc_egress, b, n), TC_NEXT);
	}
	uint64_t w = counter_of(k, WEFT_CNT_RING_WAKE);
	assert_true(want >= 7 && want < 20);
	assert_int_equal(w - w0, want);
	ring_buffer__consume(rb);
	/* mark 0: every record submitted as the kernel does by default */
	c.wake_bytes = 0;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(k->maps.cfg_map), &z, &c, 0), 0);
	assert_int_equal(run_tc(k->progs.weft_tc_egress, b, n), TC_NEXT);
	assert_int_equal(epoll_wait(ep, &ev, 1, 0), 1);
	ring_buffer__free(rb);
	weft_bpf__destroy(k);
}

/* Tap mode's doorbell: a record in the ring every bell_frames frames a CPU
 * hands over, which wakes a reader that has read the ones before; none
 * with 0. (The runs are pinned to one CPU: the count is each CPU's.) */
static void t_xdp_bell(void **st)
{
	(void)st;
	cpu_set_t was, one;
	assert_int_equal(sched_getaffinity(0, sizeof(was), &was), 0);
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	struct weft_bpf *k = with_ring(4096);
	struct weft_config_map c = { .enabled = 1, .bypass_action = XDP_DROP, .bell_frames = 4 };
	uint32_t z = 0;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(k->maps.cfg_map), &z, &c, 0), 0);
	nrecs = 0;
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(k->maps.ring), on_bell, NULL, NULL);
	assert_non_null(rb);
	int ep = ring_buffer__epoll_fd(rb);
	struct epoll_event ev;
	uint8_t b[600];
	size_t n = big(b, 600, 6100, 80);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = b, .data_size_in = (uint32_t)n, .repeat = 1);
	int fd = bpf_program__fd(k->progs.weft_xdp);
	/* three frames: no bell, the reader sleeps on */
	for (int i = 0; i < 3; i++)
		assert_int_equal(bpf_prog_test_run_opts(fd, &o), 0);
	assert_int_equal(epoll_wait(ep, &ev, 1, 0), 0);
	/* the fourth rings it */
	assert_int_equal(bpf_prog_test_run_opts(fd, &o), 0);
	assert_int_equal(epoll_wait(ep, &ev, 1, 0), 1);
	assert_int_equal(ring_buffer__consume(rb), 1);
	assert_int_equal(counter_of(k, WEFT_CNT_BELL), 1);
	/* eight more: two bells */
	for (int i = 0; i < 8; i++)
		assert_int_equal(bpf_prog_test_run_opts(fd, &o), 0);
	assert_int_equal(ring_buffer__consume(rb), 2);
	assert_int_equal(counter_of(k, WEFT_CNT_BELL), 3);
	assert_int_equal(counter_of(k, WEFT_CNT_REDIRECT_FAIL), 12);
	/* none with 0 */
	c.bell_frames = 0;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(k->maps.cfg_map), &z, &c, 0), 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(bpf_prog_test_run_opts(fd, &o), 0);
	assert_int_equal(ring_buffer__consume(rb), 0);
	assert_int_equal(epoll_wait(ep, &ev, 1, 0), 0);
	ring_buffer__free(rb);
	weft_bpf__destroy(k);
	sched_setaffinity(0, sizeof(was), &was);
}

/* A ring too small: the headers alone when the packet does not fit (the
 * engine makes the rest a gap), nothing when not even they do; counted. */
static void ring_full(int xdp)
{
	struct weft_bpf *k = with_ring(4096);
	struct bpf_program *p = xdp ? k->progs.weft_xdp_host : k->progs.weft_tc_egress;
	int pass = xdp ? XDP_PASS : TC_NEXT;
	set_snaplen(k, 0);
	uint8_t b[3000];
	size_t n = big(b, 3000, 6000, 80); /* a 4 KB record: never fits */
	for (int i = 0; i < 3; i++)
		assert_int_equal(run_tc(p, b, n), pass);
	drain_ring(k);
	assert_int_equal(nrecs, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(recs[i].h.caplen, 54); /* Ethernet + IPv4 + TCP */
		assert_int_equal(recs[i].h.wirelen, n);
		assert_memory_equal(recs[i].data, b, 54);
	}
	/* unread, 1.6 KB records fill it; then headers only; then nothing */
	n = big(b, 1500, 6000, 80);
	int i;
	for (i = 0; i < 20; i++)
		assert_int_equal(run_tc(p, b, n), pass);
	uint64_t trunc = counter_of(k, WEFT_CNT_RING_TRUNC), lost = counter_of(k, WEFT_CNT_RING_LOST);
	assert_true(trunc > 3 && lost > 0);
	drain_ring(k);
	assert_int_equal(nrecs, 2 + (int)(trunc - 3));
	assert_int_equal(recs[0].h.caplen, 1500);
	assert_int_equal(recs[2].h.caplen, 54);
	assert_int_equal(recs[2].h.wirelen, 1500);
	weft_bpf__destroy(k);
}

static void t_tc_ring_full(void **st)
{
	(void)st;
	ring_full(0);
}

static void t_xdp_host_ring_full(void **st)
{
	(void)st;
	ring_full(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_disabled),
		cmocka_unit_test(t_tcp_meta_and_symmetry),
		cmocka_unit_test(t_vlan_qinq),
		cmocka_unit_test(t_ipv6_ext),
		cmocka_unit_test(t_fragments),
		cmocka_unit_test(t_not_ours),
		cmocka_unit_test(t_malformed),
		cmocka_unit_test(t_port_policy),
		cmocka_unit_test(t_cidr_policy),
		cmocka_unit_test(t_bypass),
		cmocka_unit_test(t_flow_table),
		cmocka_unit_test(t_bypass_new_syn),
		cmocka_unit_test(t_sweepers),
		cmocka_unit_test(t_peer_fin),
		cmocka_unit_test(t_tc_records),
		cmocka_unit_test(t_tc_ring_full),
		cmocka_unit_test(t_tc_tap),
		cmocka_unit_test(t_xdp_host_records),
		cmocka_unit_test(t_xdp_host_ring_full),
		cmocka_unit_test(t_tc_wake),
		cmocka_unit_test(t_xdp_bell),
	};
	if (geteuid() != 0) {
		printf("bpf: skipped: not root (BPF_PROG_TEST_RUN needs CAP_BPF)\n");
		printf("bpf: 0 passed, 0 failed, %zu skipped\n", sizeof(tests) / sizeof(tests[0]));
		return 0;
	}
	libbpf_set_print(libbpf_log);
	skel = weft_bpf__open_and_load();
	if (!skel) {
		int e = errno;
		fputs(load_log, stdout);
		printf("FAIL bpf: the kernel refused the classifier: %s (its log above)\n", strerror(e));
		return 1;
	}
	ncpu = libbpf_num_possible_cpus();
	set_enabled(1, XDP_DROP);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	weft_bpf__destroy(skel);
	return rc;
}
