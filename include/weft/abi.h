/* SPDX-License-Identifier: MIT */
/*
 * The ABI between the XDP program and user space: the metadata block in
 * front of every frame handed over, the counters, and the policy maps' keys
 * and values. Plain fixed-size types only; included by BPF and C alike.
 */
#ifndef WEFT_ABI_H
#define WEFT_ABI_H

#ifndef __bpf__
#include <stdint.h>
#endif

/* In front of each frame (bpf_xdp_adjust_meta), 8-byte aligned. */
struct weft_meta {
	uint64_t ts_ns;     /* bpf_ktime_get_ns(): monotonic, converted by user space */
	uint32_t hash;      /* weft_flow_hash(); for fragments an address-pair hash */
	uint16_t l3_off;    /* from the start of the frame */
	uint16_t l4_off;    /* 0 for a fragment that is not the first */
	uint8_t flags;      /* WEFT_META_* */
	uint8_t nvlan;
	uint8_t side;       /* 1 when the sender is the canonical tuple's second end */
	uint8_t version;    /* WEFT_META_VERSION */
	uint32_t magic;     /* WEFT_META_MAGIC: the block is ours */
};

#define WEFT_META_MAGIC 0x77656674u /* "weft" */
#define WEFT_META_VERSION 1
#define WEFT_META_IPV6 0x01
#define WEFT_META_FRAG 0x02         /* an IP fragment: user space reassembles */
#define WEFT_META_SYN 0x04
#define WEFT_META_FIN 0x08
#define WEFT_META_RST 0x10

/* Per-CPU counters, an array indexed by these. */
enum weft_counter {
	WEFT_CNT_PACKETS = 0,   /* every frame the program saw */
	WEFT_CNT_REDIRECT,      /* handed to user space */
	WEFT_CNT_REDIRECT_FAIL, /* no socket on that queue: passed instead */
	WEFT_CNT_PASS_NOT_IP,
	WEFT_CNT_PASS_NOT_TCP,
	WEFT_CNT_PASS_DISABLED,
	WEFT_CNT_FRAG,          /* fragments handed over */
	WEFT_CNT_BYPASS,        /* packets of bypassed flows (not copied) */
	WEFT_CNT_FILTER_PORT,   /* dropped from the copy by a port policy */
	WEFT_CNT_FILTER_CIDR,   /* dropped from the copy by a CIDR policy */
	WEFT_CNT_ERR_ETH,       /* frame shorter than its headers say: */
	WEFT_CNT_ERR_VLAN,
	WEFT_CNT_ERR_IPV4,
	WEFT_CNT_ERR_IPV6,
	WEFT_CNT_ERR_TCP,
	WEFT_CNT_ERR_META,      /* bpf_xdp_adjust_meta refused */
	WEFT_CNT__MAX
};

/* config map (array, one entry) */
struct weft_config_map {
	uint32_t enabled;       /* 0: pass everything */
	uint32_t bypass_action; /* what a bypassed flow's packets get: XDP_DROP or XDP_PASS */
	uint32_t owner_pid;     /* the weft that attached it (tells stale pins apart) */
	uint32_t pad;
};

/* Policy verdicts in the port and CIDR maps. */
#define WEFT_POLICY_IGNORE 1  /* not copied to user space (passed in the kernel) */

/* CIDR LPM trie key: prefix length in bits, then the address (IPv4 mapped
 * as ::ffff:a.b.c.d so one trie serves both families). */
struct weft_cidr_key {
	uint32_t prefixlen;
	uint8_t addr[16];
};

/* A flow as the kernel keys it (canonical order, VLANs included). */
struct weft_flow_key {
	uint32_t addr[2][4];
	uint16_t port[2];
	uint16_t vlan[2];
	uint8_t family;
	uint8_t pad[3];
};

/* bypass map value: set by user space, counted by the program */
struct weft_bypass {
	uint64_t packets;
	uint64_t bytes;
	uint64_t last_ns;
};

#endif
