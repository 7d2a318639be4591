// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft's XDP classifier. Parses Ethernet, up to two VLAN tags, IPv4 or IPv6
 * (extension headers walked) and TCP; computes the symmetric flow hash
 * itself (driver hashes are not there on every path); applies the port and
 * CIDR policies and the bypass map; writes a weft_meta block in front of the
 * frame and redirects it to the AF_XDP socket of its RX queue. Everything
 * else passes. Every verdict and every parse failure is counted per CPU.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "weft/abi.h"
#include "weft/flowhash.h"
#include "parse.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WEFT_CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

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

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct weft_flow_key);
	__type(value, struct weft_bypass);
} bypass SEC(".maps");

static __always_inline void count(__u32 c)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &c);
	if (v)
		*v += 1;
}

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

SEC("xdp")
int weft_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	struct pkt p = {};

	count(WEFT_CNT_PACKETS);
	struct weft_config_map *cfg = bpf_map_lookup_elem(&cfg_map, &zero);
	if (!cfg || !cfg->enabled) {
		count(WEFT_CNT_PASS_DISABLED);
		return XDP_PASS;
	}
	int rc = parse_frame(data, end, &p);
	if (rc != PARSE_OK) {
		count(rc == PARSE_NOT_IP ? WEFT_CNT_PASS_NOT_IP :
		      rc == PARSE_NOT_TCP ? WEFT_CNT_PASS_NOT_TCP : (__u32)rc);
		return XDP_PASS;
	}
	if (port_ignored(p.port[0]) || port_ignored(p.port[1])) {
		count(WEFT_CNT_FILTER_PORT);
		return XDP_PASS;
	}
	if (cidr_ignored(&p, 0) || cidr_ignored(&p, 1)) {
		count(WEFT_CNT_FILTER_CIDR);
		return XDP_PASS;
	}
	/* canonical order: both directions hash and key alike */
	int side = weft_endpoint_after(p.addr[0], p.port[0], p.addr[1], p.port[1]);
	__u32 hash = weft_flow_hash(p.addr[0], p.port[0], p.addr[1], p.port[1], p.vlan[0],
				    p.vlan[1], p.family);
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
		struct weft_bypass *b = bpf_map_lookup_elem(&bypass, &k);
		if (b) {
			__sync_fetch_and_add(&b->packets, 1);
			__sync_fetch_and_add(&b->bytes, (__u64)(end - data));
			b->last_ns = bpf_ktime_get_ns();
			count(WEFT_CNT_BYPASS);
			return cfg->bypass_action == XDP_DROP ? XDP_DROP : XDP_PASS;
		}
	}

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
	m->ts_ns = bpf_ktime_get_ns();
	m->hash = hash;
	m->l3_off = p.l3_off;
	m->l4_off = p.l4_off;
	m->flags = p.flags;
	m->nvlan = p.nvlan;
	m->side = (__u8)side;
	m->version = WEFT_META_VERSION;
	m->magic = WEFT_META_MAGIC;
	if (p.flags & WEFT_META_FRAG)
		count(WEFT_CNT_FRAG);

	long r = bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
	count(r == XDP_REDIRECT ? WEFT_CNT_REDIRECT : WEFT_CNT_REDIRECT_FAIL);
	return (int)r;
}
