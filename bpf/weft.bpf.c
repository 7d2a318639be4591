// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft's XDP classifier. Parses Ethernet, up to two VLAN tags, IPv4 or IPv6
 * (extension headers walked) and TCP; computes the symmetric flow hash
 * itself (driver hashes are not there on every path); applies the port and
 * CIDR policies; keeps a kernel flow table (counters, flags, highest ACK per
 * direction) for every TCP flow; drops or passes bypassed flows and pure
 * ACKs of handshaken flows without copying them; writes a weft_meta block in
 * front of the rest and redirects it to the AF_XDP socket of its RX queue.
 * Everything else passes. Every verdict and parse failure is counted per CPU.
 *
 * Host mode runs the same classifier from TC on ingress and egress: a
 * followed packet is copied into a ring buffer and always passes, so the
 * host keeps its traffic.
 *
 * The sweepers of the flow table and the bypass map are another object
 * (sweep.bpf.c): they are iterators, a program type some kernels refuse.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "weft/abi.h"
#include "weft/flowhash.h"
#include "parse.h"
#include "tables.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct weft_config_map);
} cfg_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);   /* port, host order */
	__type(value, __u32); /* WEFT_POLICY_* */
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct weft_cidr_key);
	__type(value, __u32);
} cidrs SEC(".maps");

/* host mode's copies, drained by user space (size set at load) */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 20);
} ring SEC(".maps");

/* written by user space only; here so one skeleton makes and pins them all */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 20);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct weft_flow_key);
	__type(value, struct weft_conn_entry);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 256);
	__type(value, struct weft_cmd);
} cmds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct weft_engine_pub);
} epub SEC(".maps");

static __always_inline int cidr_ignored(const struct pkt *p, int which)
{
	struct weft_cidr_key k = { .prefixlen = 128 };
	if (p->family == 4) {
		k.addr[10] = 0xff;
		k.addr[11] = 0xff;
		__builtin_memcpy(&k.addr[12], &p->addr[which][0], 4);
	} else {
		__builtin_memcpy(k.addr, p->addr[which], 16);
	}
	__u32 *v = bpf_map_lookup_elem(&cidrs, &k);
	return v && *v == WEFT_POLICY_IGNORE;
}

static __always_inline int port_ignored(__u16 port)
{
	__u32 *v = bpf_map_lookup_elem(&ports, &port);
	return v && *v == WEFT_POLICY_IGNORE;
}

/* *slot = x when x is past it modulo 2^32, or when it was never set (bit
 * of *valid): sequence and ACK numbers only move forward. */
static __always_inline void raise_seq(__u32 *slot, __u8 *valid, __u8 bit, __u32 x)
{
	if (!(*valid & bit) || (__s32)(x - *slot) > 0) {
		*slot = x;
		*valid |= bit;
	}
}

/* The kernel flow table's entry for k, made if new, with this packet
 * counted. NULL when the table could not take it (counted). */
static __always_inline struct weft_flow *flow_touch(const struct weft_flow_key *k,
						    const struct pkt *p, int side, __u64 len,
						    __u64 now, int *in_order)
{
	struct weft_flow *f = bpf_map_lookup_elem(&flows, k);
	if (!f) {
		struct weft_flow nf = { .first_ns = now };
		/* two CPUs may race to make it: either copy will do */
		if (bpf_map_update_elem(&flows, k, &nf, BPF_NOEXIST) == 0)
			count(WEFT_CNT_FLOW_NEW);
		f = bpf_map_lookup_elem(&flows, k);
		if (!f) {
			count(WEFT_CNT_FLOW_FULL);
			return NULL;
		}
	}
	f->last_ns = now;
	__u8 fl = p->tcpflags;
	if ((fl & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN &&
	    ((f->flags[0] | f->flags[1]) & (TCPF_FIN | TCPF_RST))) {
		/* a new connection on a closed tuple: forget the old one's
		 * state (the counters stay the tuple's) */
		f->flags[0] = f->flags[1] = 0;
		f->ack_valid = f->seq_valid = f->kept_valid = 0;
		f->client = 0;
	}
	if (side) {
		__sync_fetch_and_add(&f->packets[1], 1);
		__sync_fetch_and_add(&f->bytes[1], len);
		f->flags[1] |= fl;
	} else {
		__sync_fetch_and_add(&f->packets[0], 1);
		__sync_fetch_and_add(&f->bytes[0], len);
		f->flags[0] |= fl;
	}
	if ((fl & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN)
		f->client = (__u8)(side + 1);
	/* Where this end's sending stands: a pure ACK at exactly that point
	 * says nothing but its ACK number. One from further on tells of data
	 * the capture missed, and goes to the engine like data. */
	__u8 bit = side ? 2 : 1;
	__u32 *nxt = side ? &f->seq_next[1] : &f->seq_next[0];
	*in_order = (f->seq_valid & bit) && p->seq == *nxt;
	if (p->payload >= 0)
		raise_seq(nxt, &f->seq_valid, bit, p->seq + (__u32)p->payload +
			  ((fl & TCPF_SYN) ? 1 : 0) + ((fl & TCPF_FIN) ? 1 : 0));
	if (fl & TCPF_ACK)
		raise_seq(side ? &f->ack[1] : &f->ack[0], &f->ack_valid, bit, p->ack);
	if ((fl & TCPF_FIN) && p->payload >= 0) {
		__u32 fs = p->seq + (__u32)p->payload + ((fl & TCPF_SYN) ? 1 : 0);
		if (side)
			f->fin_seq[1] = fs;
		else
			f->fin_seq[0] = fs;
	}
	return f;
}

/* A pure ACK (no payload, no SYN/FIN/RST) of a flow whose handshake the
 * table saw both ways: the engine needs nothing of it but its ACK number,
 * which the table keeps. Midstream flows send theirs across, since the
 * engine places a midstream stream's start by the peer's ACK. */
static __always_inline int pure_ack(const struct pkt *p, const struct weft_flow *f, int in_order)
{
	return p->payload == 0 && in_order &&
	       (p->tcpflags & (TCPF_SYN | TCPF_FIN | TCPF_RST | TCPF_ACK)) == TCPF_ACK &&
	       (f->flags[0] & TCPF_SYN) && (f->flags[1] & TCPF_SYN);
}

/* ---- the classifier both attach points share ---- */

#define CL_PASS 0   /* not ours, or filtered: the host's alone */
#define CL_KEEP 1   /* bypassed, or a pure ACK the flow table keeps */
#define CL_FOLLOW 2 /* hand it to user space with *m */

#define CL_SHORT 3  /* headers past [data, end) while the packet has more */

/* Parse the frame in [data, end) (wire length len), apply the filters and
 * the bypass, update the flow table, and for a packet user space follows
 * fill *m (all but the time) and *hdr_len (the bytes up to the payload).
 * With may_short, headers cut by end in a longer packet give CL_SHORT, for
 * the caller to pull them in and ask again. */
static __always_inline int classify(void *data, void *end, __u64 len, struct weft_meta *m,
				    __u32 *hdr_len, int may_short, __u32 hwtag)
{
	__u32 zero = 0;
	struct pkt p = {};
	if (hwtag) {
		/* the outer tag the device keeps beside the frame (TC) */
		p.vlan[0] = hwtag & 0x0fff;
		p.nvlan = 1;
	}
	int rc = parse_frame(data, end, &p);
	if (may_short && rc != PARSE_OK && rc != PARSE_NOT_IP && rc != PARSE_NOT_TCP &&
	    (__u64)(end - data) < len)
		return CL_SHORT;
	if (rc != PARSE_OK) {
		count(rc == PARSE_NOT_IP ? WEFT_CNT_PASS_NOT_IP :
		      rc == PARSE_NOT_TCP ? WEFT_CNT_PASS_NOT_TCP : (__u32)rc);
		return CL_PASS;
	}
	if (port_ignored(p.port[0]) || port_ignored(p.port[1])) {
		count(WEFT_CNT_FILTER_PORT);
		return CL_PASS;
	}
	if (cidr_ignored(&p, 0) || cidr_ignored(&p, 1)) {
		count(WEFT_CNT_FILTER_CIDR);
		return CL_PASS;
	}
	/* canonical order: both directions hash and key alike */
	int side = weft_endpoint_after(p.addr[0], p.port[0], p.addr[1], p.port[1]);
	__u32 hash = weft_flow_hash(p.addr[0], p.port[0], p.addr[1], p.port[1], p.vlan[0],
				    p.vlan[1], p.family);
	__u32 peer_ack = 0, peer_fin = 0;
	__u8 peer_ack_valid = 0, peer_fin_valid = 0;
	if (!(p.flags & WEFT_META_FRAG)) {
		struct weft_flow_key k = {};
		/* no variable index into the stack: the verifier refuses the
		 * pointer arithmetic the compiler makes of it */
		if (side) {
			__builtin_memcpy(k.addr[0], p.addr[1], 16);
			__builtin_memcpy(k.addr[1], p.addr[0], 16);
			k.port[0] = p.port[1];
			k.port[1] = p.port[0];
		} else {
			__builtin_memcpy(k.addr[0], p.addr[0], 16);
			__builtin_memcpy(k.addr[1], p.addr[1], 16);
			k.port[0] = p.port[0];
			k.port[1] = p.port[1];
		}
		k.vlan[0] = p.vlan[0];
		k.vlan[1] = p.vlan[1];
		k.family = p.family;
		__u64 now = bpf_ktime_get_ns();
		int in_order = 0;
		struct weft_flow *f = flow_touch(&k, &p, side, len, now, &in_order);

		struct weft_bypass *b = bpf_map_lookup_elem(&bypass, &k);
		if (b && (p.tcpflags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN) {
			/* a new connection on the tuple: user space decides */
			bpf_map_delete_elem(&bypass, &k);
			b = NULL;
		}
		if (b && (b->sides & (side ? 2 : 1))) {
			__sync_fetch_and_add(&b->packets, 1);
			__sync_fetch_and_add(&b->bytes, len);
			b->last_ns = now;
			count(WEFT_CNT_BYPASS);
			return CL_KEEP;
		}
		if (f) {
			/* what the other end's kept ACKs said, for the engine */
			__u8 bit = side ? 1 : 2;
			peer_ack_valid = f->kept_valid & bit;
			peer_ack = side ? f->kept_ack[0] : f->kept_ack[1];
			/* and where the other end's FIN put its end */
			peer_fin_valid = (side ? f->flags[0] : f->flags[1]) & TCPF_FIN;
			peer_fin = side ? f->fin_seq[0] : f->fin_seq[1];
		}
		if (f && pure_ack(&p, f, in_order)) {
			struct weft_policy *pol = bpf_map_lookup_elem(&policy, &zero);
			if (pol && pol->ack_offload) {
				raise_seq(side ? &f->kept_ack[1] : &f->kept_ack[0], &f->kept_valid,
					  side ? 2 : 1, p.ack);
				__sync_fetch_and_add(&f->acks_kept, 1);
				count(WEFT_CNT_ACK_KEPT);
				return CL_KEEP;
			}
		}
	}
	m->hash = hash;
	m->l3_off = p.l3_off;
	m->l4_off = p.l4_off;
	m->flags = p.flags;
	m->nvlan = p.nvlan;
	m->side = (__u8)side;
	m->version = WEFT_META_VERSION;
	m->magic = WEFT_META_MAGIC;
	m->peer_ack = peer_ack;
	m->peer_fin = peer_fin;
	if (peer_ack_valid)
		m->flags |= WEFT_META_PEER_ACK;
	if (peer_fin_valid)
		m->flags |= WEFT_META_PEER_FIN;
	if (p.flags & WEFT_META_FRAG)
		count(WEFT_CNT_FRAG);
	*hdr_len = p.hdr_len;
	return CL_FOLLOW;
}

/* Every packet counted; the configuration, or NULL (counted) when weft is
 * disabled and the packet goes on untouched. */
static __always_inline struct weft_config_map *config_if_enabled(void)
{
	__u32 zero = 0;
	count(WEFT_CNT_PACKETS);
	struct weft_config_map *cfg = bpf_map_lookup_elem(&cfg_map, &zero);
	if (!cfg || !cfg->enabled) {
		count(WEFT_CNT_PASS_DISABLED);
		return NULL;
	}
	return cfg;
}

/* ---- tap mode: XDP, redirected to the AF_XDP socket of the RX queue ---- */

SEC("xdp")
int weft_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 hdr_len = 0;
	struct weft_meta mm = {};

	struct weft_config_map *cfg = config_if_enabled();
	if (!cfg)
		return XDP_PASS;
	int v = classify(data, end, (__u64)(end - data), &mm, &hdr_len, 0, 0);
	if (v == CL_PASS)
		return XDP_PASS;
	if (v == CL_KEEP)
		return cfg->bypass_action == XDP_DROP ? XDP_DROP : XDP_PASS;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct weft_meta)) != 0) {
		count(WEFT_CNT_ERR_META);
		return XDP_PASS;
	}
	data = (void *)(long)ctx->data;
	struct weft_meta *m = (void *)(long)ctx->data_meta;
	if ((void *)(m + 1) > data) {
		count(WEFT_CNT_ERR_META);
		return XDP_PASS;
	}
	*m = mm;
	m->ts_ns = bpf_ktime_get_ns();

	long r = bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
	__u64 n = count(r == XDP_REDIRECT ? WEFT_CNT_REDIRECT : WEFT_CNT_REDIRECT_FAIL);
	/* The doorbell. An AF_XDP socket wakes its poller for every batch it
	 * takes in, so a reader that keeps up would wake per packet; one
	 * that naps for a fixed time must nap short, or a burst overflows
	 * its ring meanwhile. So the reader sleeps on the (otherwise unused)
	 * ring buffer, and a record there, every bell_frames frames this CPU
	 * hands over, wakes it: once per that many frames on a busy link,
	 * at once in a burst, and its timeout takes a quiet link's tail. The
	 * submit wakes it only when it has read every record before. */
	if (cfg->bell_frames && n && !(n & (cfg->bell_frames - 1)) &&
	    bpf_ringbuf_output(&ring, &n, sizeof(n), 0) == 0)
		count(WEFT_CNT_BELL);
	return (int)r;
}

/* ---- host mode: TC on ingress and egress, copies into a ring buffer ---- */

/* TCX_NEXT: weft only watches; whatever comes after it decides */
#define TC_NEXT (-1)
/* the packet goes no further (linux/pkt_cls.h) */
#define TC_ACT_SHOT 2
/* headers past the skb's linear part are pulled in up to this */
#define PULL_LEN 192

/* What a copy into the ring takes (a BPF call passes five arguments). */
struct copy_req {
	struct weft_meta m;
	__u32 caplen;  /* bytes of the frame to copy */
	__u32 wirelen; /* the frame's length */
	__u32 wake;    /* the wakeup mark (see below) */
	__u16 hw_vlan_tci, hw_vlan_proto; /* TC: the tag outside the frame (0: none) */
};

/* The copy request lives in a per-CPU scratch slot, not on the stack: the
 * TC program's frame with the classifier's state and ring_copy's own came
 * to 512 bytes, the verifier's limit, with nothing to spare. A program runs
 * to its end on its CPU, so the slot is its own while it runs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct copy_req);
} copy_scratch SEC(".maps");

static __always_inline struct copy_req *copy_req_get(void)
{
	__u32 zero = 0;
	struct copy_req *q = bpf_map_lookup_elem(&copy_scratch, &zero);
	if (q)
		__builtin_memset(q, 0, sizeof(*q));
	return q;
}

/* One record of q->caplen bytes of the frame in ctx, an skb or with xdp an
 * XDP buffer, from a reservation of CAP bytes (a constant: the
 * verifier sizes the reservation by it, checking this subprogram once for
 * each caller's CAP and xdp, so only the one helper of the caller's program
 * type is ever reached; inlined, clang merges the copies and the verifier
 * loses the bound). 0, or -1 when the ring is full. */
static __noinline int ring_copy(void *ctx, const struct copy_req *q, const __u32 CAP, const int xdp)
{
	__u64 cap = CAP, n = q->caplen;
	__u32 wake = q->wake;
	struct weft_ring_rec *r = bpf_ringbuf_reserve(&ring, sizeof(*r) + cap, 0);
	if (!r)
		return -1;
	/* By default a submit wakes the reader whenever it has caught up, which
	 * for a reader that keeps up is every record: an irq_work, a self-IPI
	 * (a VM exit under a hypervisor) and a context switch per packet. Here
	 * only a record that crosses a multiple of wake bytes of the ring wakes
	 * it, as a packet socket wakes once per block. The reader polls with a
	 * timeout for the tail a quiet link leaves below the mark; a crossing
	 * missed because another CPU reserved between our reserve and query
	 * only moves the wakeup to the next mark. */
	__u64 flags = 0;
	if (wake) {
		__u64 end = bpf_ringbuf_query(&ring, BPF_RB_PROD_POS);
		__u64 start = end - (sizeof(*r) + cap + BPF_RINGBUF_HDR_SZ);
		flags = ((start ^ end) & ~((__u64)wake - 1)) ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	}
	/* n = min(n, cap) in one register: compiled from C, the test lands
	 * on a copy and the verifier never learns the bound */
	asm volatile("if %[n] <= %[c] goto +1\n\t%[n] = %[c]" : [n] "+r"(n) : [c] "r"(cap));
	r->meta = q->m;
	r->caplen = (__u32)n;
	r->wirelen = q->wirelen;
	r->hw_vlan_tci = q->hw_vlan_tci;
	r->hw_vlan_proto = q->hw_vlan_proto;
	r->pad = 0;
	if (n < 1 || (xdp ? bpf_xdp_load_bytes(ctx, 0, r + 1, n) : bpf_skb_load_bytes(ctx, 0, r + 1, n))) {
		bpf_ringbuf_discard(r, 0);
		return -1;
	}
	bpf_ringbuf_submit(r, flags);
	if (flags == BPF_RB_FORCE_WAKEUP)
		count(WEFT_CNT_RING_WAKE);
	return 0;
}

/* Size classes: a record takes the smallest that holds it, so a pure ACK
 * does not reserve room for a 64 KB GSO packet. */
static __always_inline int ring_copy_sized(void *ctx, const struct copy_req *q, const int xdp)
{
	__u32 caplen = q->caplen;
	if (caplen <= 256)
		return ring_copy(ctx, q, 256, xdp);
	if (caplen <= 1600)
		return ring_copy(ctx, q, 1600, xdp);
	if (caplen <= 4096)
		return ring_copy(ctx, q, 4096, xdp);
	if (caplen <= 9216)
		return ring_copy(ctx, q, 9216, xdp);
	if (caplen <= 16384 + 512)
		return ring_copy(ctx, q, 16384 + 512, xdp);
	if (caplen <= 32768 + 512)
		return ring_copy(ctx, q, 32768 + 512, xdp);
	return ring_copy(ctx, q, WEFT_SNAP_MAX, xdp);
}

/* A followed packet of len bytes (hdr_len of them headers), described by
 * the classifier in q->m, into the ring up to the snap length; the packet
 * itself always goes on. */
static __always_inline void host_copy(void *ctx, const struct weft_config_map *cfg,
				      struct copy_req *q, __u32 len, __u32 hdr_len, const int xdp)
{
	__u32 snap = cfg->snaplen && cfg->snaplen < WEFT_SNAP_MAX ? cfg->snaplen : WEFT_SNAP_MAX;
	q->caplen = len < snap ? len : snap;
	q->wirelen = len;
	q->wake = cfg->wake_bytes;
	q->m.ts_ns = bpf_ktime_get_ns();
	if (ring_copy_sized(ctx, q, xdp) == 0) {
		count(WEFT_CNT_REDIRECT);
		return;
	}
	/* The ring is full. The headers alone say which bytes went missing,
	 * so the engine can report them as a gap rather than lose them
	 * without a word; and they wake the reader whatever the mark (a mark
	 * of 1 is crossed by every record): it is behind, or asleep. */
	if (hdr_len && hdr_len < q->caplen) {
		q->caplen = hdr_len;
		q->wake = 1;
		if (ring_copy(ctx, q, 256, xdp) == 0) {
			count(WEFT_CNT_REDIRECT);
			count(WEFT_CNT_RING_TRUNC);
			return;
		}
	}
	count(WEFT_CNT_RING_LOST);
}

/* skb->data and data_end, each read straight from the context: clang
 * would otherwise fold the two reads into one through a computed offset,
 * which the verifier refuses for a context pointer. */
static __always_inline void skb_bounds(struct __sk_buff *skb, void **data, void **end)
{
	long d, e;
	asm volatile("%0 = *(u32 *)(%1 + 76)" : "=r"(d) : "r"(skb));
	asm volatile("%0 = *(u32 *)(%1 + 80)" : "=r"(e) : "r"(skb));
	*data = (void *)d;
	*end = (void *)e;
}
_Static_assert(__builtin_offsetof(struct __sk_buff, data) == 76, "skb->data");
_Static_assert(__builtin_offsetof(struct __sk_buff, data_end) == 80, "skb->data_end");

static __always_inline int weft_tc(struct __sk_buff *skb)
{
	__u32 hdr_len = 0;
	struct weft_config_map *cfg = config_if_enabled();
	if (!cfg)
		return TC_NEXT;
	struct copy_req *q = copy_req_get();
	if (!q)
		return TC_NEXT;
	__u32 len = skb->len;
	void *data, *end;
	skb_bounds(skb, &data, &end);
	/* A device with VLAN offload (a veth, most NICs) took the outer tag
	 * out of the frame into the skb: the classifier counts it, and the
	 * record carries it for user space to put back. */
	if (skb->vlan_present && cfg->hw_vlan) {
		q->hw_vlan_tci = (__u16)skb->vlan_tci;
		q->hw_vlan_proto = (__u16)bpf_ntohs((__be16)skb->vlan_proto);
	}
	int v = classify(data, end, len, &q->m, &hdr_len, 1,
			 q->hw_vlan_proto ? 0x10000 | q->hw_vlan_tci : 0);
	if (v == CL_SHORT) {
		/* rare: locally made and veth skbs have their headers linear */
		bpf_skb_pull_data(skb, len < PULL_LEN ? len : PULL_LEN);
		count(WEFT_CNT_PULL);
		skb_bounds(skb, &data, &end);
		v = classify(data, end, len, &q->m, &hdr_len, 0,
			     q->hw_vlan_proto ? 0x10000 | q->hw_vlan_tci : 0);
	}
	if (v == CL_FOLLOW)
		host_copy(skb, cfg, q, len, hdr_len, 0);
	/* On a mirror port (tap mode's ring path) the packets weft follows or
	 * bypasses are weft's, as XDP's redirect and drop make them on the
	 * AF_XDP path: the stack never sees them. The host's own interface
	 * keeps every packet. */
	if (v != CL_PASS && cfg->bypass_action == XDP_DROP)
		return TC_ACT_SHOT;
	return TC_NEXT;
}

SEC("tc")
int weft_tc_ingress(struct __sk_buff *skb)
{
	return weft_tc(skb);
}

SEC("tc")
int weft_tc_egress(struct __sk_buff *skb)
{
	return weft_tc(skb);
}

/* Host mode's other ingress: XDP, which copies the same way and passes
 * every packet. Where a driver runs it before any skb exists it may cost
 * less than TC; on a veth, native XDP turns off the peer's segmentation
 * offloads (bench-host.sh measures what that costs). */
SEC("xdp")
int weft_xdp_host(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 hdr_len = 0;
	struct weft_config_map *cfg = config_if_enabled();
	if (!cfg)
		return XDP_PASS;
	struct copy_req *q = copy_req_get();
	if (!q)
		return XDP_PASS;
	/* headers beyond the first buffer are not parsed: a driver's first
	 * buffer holds far more than any header here */
	__u32 len = (__u32)bpf_xdp_get_buff_len(ctx);
	if (classify(data, end, len, &q->m, &hdr_len, 0, 0) == CL_FOLLOW)
		host_copy(ctx, cfg, q, len, hdr_len, 1);
	return XDP_PASS;
}
