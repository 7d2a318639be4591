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
	/* The highest ACK among the other end's pure ACKs the kernel kept
	 * before this packet passed: their word, in packet order (ACKs that
	 * crossed the engine saw itself). Valid with WEFT_META_PEER_ACK. */
	uint32_t peer_ack;
	/* The sequence number of the other end's FIN, which the kernel saw
	 * even if its copy was lost: where that stream ends. Valid with
	 * WEFT_META_PEER_FIN. */
	uint32_t peer_fin;
};

#define WEFT_META_MAGIC 0x77656674u /* "weft" */
#define WEFT_META_VERSION 2
#define WEFT_META_IPV6 0x01
#define WEFT_META_FRAG 0x02         /* an IP fragment: user space reassembles */
#define WEFT_META_SYN 0x04
#define WEFT_META_FIN 0x08
#define WEFT_META_RST 0x10
#define WEFT_META_PEER_ACK 0x20     /* peer_ack is set */
#define WEFT_META_PEER_FIN 0x40     /* peer_fin is set */

/* Per-CPU counters, an array indexed by these. */
enum weft_counter {
	WEFT_CNT_PACKETS = 0,   /* every frame the program saw */
	WEFT_CNT_REDIRECT,      /* handed to user space (AF_XDP, or host mode's ring) */
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
	WEFT_CNT_ACK_KEPT,      /* pure ACKs kept in the kernel flow table */
	WEFT_CNT_FLOW_NEW,      /* kernel flow table entries made */
	WEFT_CNT_FLOW_FULL,     /* no entry could be made (table update failed) */
	WEFT_CNT_SWEPT,         /* idle kernel flow and bypass entries swept */
	/* host mode: to_user (WEFT_CNT_REDIRECT) counts the ring buffer's records */
	WEFT_CNT_RING_TRUNC,    /* ring too full for the payload: headers only, so
				 * the engine reports the payload as a gap */
	WEFT_CNT_RING_LOST,     /* not even the headers fitted: lost */
	WEFT_CNT_PULL,          /* headers outside the skb's linear part, pulled in */
	WEFT_CNT_RING_WAKE,     /* records whose submit woke the reader */
	WEFT_CNT_BELL,          /* tap mode: doorbells rung (see bell_frames) */
	WEFT_CNT__MAX
};

/* config map (array, one entry) */
struct weft_config_map {
	uint32_t enabled;       /* 0: pass everything */
	uint32_t bypass_action; /* what a bypassed flow's packets get: XDP_DROP or XDP_PASS;
				 * XDP_DROP is a mirror port's: from TC, what weft
				 * copies or bypasses is dropped after the copy too */
	uint32_t owner_pid;     /* the weft that attached it (tells stale pins apart) */
	uint32_t snaplen;       /* host mode: bytes of a frame copied (0: WEFT_SNAP_MAX) */
	uint32_t wake_bytes;    /* host mode: wake the reader once per this many
				 * bytes written to the ring (a power of two;
				 * 0: whenever it has caught up, the kernel's way) */
	uint32_t bell_frames;   /* tap mode: a doorbell record in the ring each
				 * time a CPU has handed over this many frames
				 * (a power of two; 0: none) */
	uint32_t hw_vlan;       /* TC: count the tag a device keeps outside the frame
				 * (skb->vlan_tci); off where XDP on ingress, which
				 * never sees it, must key the flow alike */
	uint32_t pad;
};

/* Host mode: the TC programs copy each followed packet into a BPF ring
 * buffer as this header and the frame's first caplen bytes (Ethernet on). A
 * record with caplen < wirelen was cut by the snap length or by a full ring:
 * the engine reports the missing payload as a gap. */
struct weft_ring_rec {
	struct weft_meta meta;
	uint32_t caplen;
	uint32_t wirelen;       /* skb->len: a GSO packet before segmentation */
	/* the outer VLAN tag a device with VLAN offload keeps outside the
	 * frame (skb->vlan_tci; proto 0: none): user space puts it back
	 * after the MAC addresses, where the wire had it */
	uint16_t hw_vlan_tci;
	uint16_t hw_vlan_proto;
	uint32_t pad;
};

/* the largest copy: a 64 KB GSO super-packet with its headers */
#define WEFT_SNAP_MAX (65536 + 512)

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

/* bypass map value: set by user space, counted by the program. A SYN
 * without ACK (a new connection on the tuple) removes the entry and goes to
 * user space. The kernel sweeper removes entries idle for the policy's
 * timeout. */
struct weft_bypass {
	uint64_t packets;
	uint64_t bytes;
	uint64_t last_ns;   /* bpf_ktime_get_ns() of the last packet */
	uint64_t id;        /* the engine's connection id (0: not one) */
	uint32_t reason;    /* WEFT_BYPASS_* */
	uint8_t sides;      /* bit i: packets sent by canonical end i are bypassed */
	uint8_t pad[3];
};

#define WEFT_BYPASS_DEPTH 1   /* every side reached its depth */
#define WEFT_BYPASS_IGNORE 2  /* weft flow ignore */
#define WEFT_BYPASS_EVICT 3   /* ended (evicted, memcap, ...) while still sending */

/* Kernel flow table (LRU hash keyed by weft_flow_key): updated by the
 * program for every TCP packet, so its counters are live even for flows
 * user space bypassed or evicted. Index [i] is the canonical tuple's end i
 * as sender. Counters are updated without locks from every CPU: exact for
 * a flow that one queue carries, close otherwise. */
struct weft_flow {
	uint64_t first_ns, last_ns;   /* bpf_ktime_get_ns() */
	uint64_t packets[2];
	uint64_t bytes[2];            /* frame bytes */
	uint64_t acks_kept;           /* pure ACKs that did not cross */
	uint32_t ack[2];              /* highest ACK number end i sent */
	uint8_t flags[2];             /* TCP flags end i sent, ORed */
	uint8_t ack_valid;            /* bit i: ack[i] is set */
	uint8_t client;               /* 1 + the SYN sender's end; 0: unknown */
	uint8_t seq_valid;            /* bit i: seq_next[i] is set */
	uint8_t kept_valid;           /* bit i: kept_ack[i] is set */
	uint8_t pad[2];
	uint32_t seq_next[2];         /* the sequence number after all end i sent */
	uint32_t kept_ack[2];         /* the highest ACK of end i's kept pure ACKs */
	uint32_t fin_seq[2];          /* end i's FIN's sequence number (flags[i] has FIN) */
	uint32_t pad2;
};

/* Connections the daemon follows (hash, written by user space as they
 * start and end): lets the CLI name a kernel flow by the engine's id. */
struct weft_conn_entry {
	uint64_t id;
	uint64_t first_ns;            /* packet time, ns since the epoch */
	uint32_t reuse;               /* the cN suffix */
	uint8_t client;               /* the client's end in the canonical key */
	uint8_t midstream;
	uint8_t pad[2];
};

/* Live settings (array, one entry), read by the daemon at least once a
 * second and by the program for every packet (ack_offload). The port and
 * CIDR filters are their own maps. gen changes on every write. */
struct weft_policy {
	uint64_t idle_established_ns;
	uint64_t idle_closing_ns;
	uint64_t idle_halfopen_ns;
	uint64_t memcap;
	uint64_t max_flows;
	uint64_t buffer_cap;
	uint64_t depth;
	uint32_t overlap;             /* enum weft_overlap */
	uint32_t buffer_policy;       /* enum weft_buffer_policy */
	uint32_t ack_offload;         /* pure ACKs of handshaken flows stay in the kernel */
	uint32_t gen;
};

/* When the sweepers remove a table entry: one rule for the kernel's
 * iterator (sweep.bpf.c) and the user-space sweep (control.c). A flow
 * that closed (FIN or RST either way) goes after the closing timeout; one
 * that saw ACKs both ways, or no SYN at all (picked up midstream), after
 * the established one; a handshake under way after the half-open one. 0:
 * never. TCP flag bits as on the wire. */
#define WEFT_TCP_FIN 0x01
#define WEFT_TCP_SYN 0x02
#define WEFT_TCP_RST 0x04
#define WEFT_TCP_ACK 0x10
static inline uint64_t weft_flow_timeout(const struct weft_flow *f, const struct weft_policy *pol)
{
	uint8_t both = f->flags[0] | f->flags[1];
	if (both & (WEFT_TCP_FIN | WEFT_TCP_RST))
		return pol->idle_closing_ns;
	if ((f->flags[0] & f->flags[1] & WEFT_TCP_ACK) || !(both & WEFT_TCP_SYN))
		return pol->idle_established_ns;
	return pol->idle_halfopen_ns;
}

/* Is a flow entry idle past its timeout at now (bpf_ktime_get_ns, that is
 * CLOCK_MONOTONIC)? Bypass entries go, as Suricata's bypassed flows do,
 * after the established timeout. */
static inline int weft_flow_expired(const struct weft_flow *f, const struct weft_policy *pol,
				    uint64_t now)
{
	uint64_t to = weft_flow_timeout(f, pol);
	return to && f->last_ns + to < now;
}

static inline int weft_bypass_expired(const struct weft_bypass *b, const struct weft_policy *pol,
				      uint64_t now)
{
	return pol->idle_established_ns && b->last_ns + pol->idle_established_ns < now;
}

/* Commands for the daemon (a queue map: the CLI pushes, the daemon pops). */
struct weft_cmd {
	uint32_t op;                  /* WEFT_CMD_* */
	uint32_t pad;
	uint64_t id;                  /* connection id */
};

#define WEFT_CMD_EVICT 1
#define WEFT_CMD_IGNORE 2
#define WEFT_CMD_DETACH 3

/* The daemon's own counters (array, one entry), published once a second. */
#define WEFT_PUB_ENDS 16
struct weft_engine_pub {
	uint64_t updated_ns;          /* CLOCK_REALTIME of the last write */
	uint64_t frames;              /* taken from the AF_XDP rings */
	uint64_t xsk_dropped, xsk_ring_full, xsk_fill_empty, xsk_invalid;
	uint64_t conns, conns_open;
	uint64_t delivered_bytes, gap_bytes, gaps;
	uint64_t mem_used, mem_peak;
	uint64_t malformed, late_packets;
	uint64_t ends[WEFT_PUB_ENDS]; /* by enum weft_end_reason */
	uint64_t bypass_written;      /* entries the daemon put in the bypass map */
	uint64_t sweep_ns_last;       /* cost of the last kernel-map sweep */
	uint64_t engine_sweep_ns_max; /* the longest slice of an idle sweep */
	uint64_t engine_sweep_ns_last; /* the costliest whole idle sweep */
	uint32_t queues;
	uint32_t native;              /* XDP attached in native mode (else generic) */
	uint32_t mode;                /* WEFT_MODE_* */
	uint32_t xdp_ingress;         /* host: XDP on ingress, not TC */
	uint32_t sweeper;             /* WEFT_SWEEPER_*: who sweeps the kernel tables */
	uint32_t path;                /* WEFT_PATH_*: how packets reach user space */
	uint64_t swept_user;          /* entries the user-space sweep removed */
	uint64_t sweep_ns_max;        /* the longest slice of a user-space sweep */
	uint64_t iface_drops;         /* the interface's rx drops since the start */
	uint64_t sweep_pass_ns_max;   /* the costliest pass of the kernel-table sweep */
};

#define WEFT_SWEEPER_NONE 0
#define WEFT_SWEEPER_ITER 1           /* BPF map iterators, in the kernel */
#define WEFT_SWEEPER_USER 2           /* batched lookups and deletes from user space */

#define WEFT_PATH_AFXDP 1             /* XDP redirect to AF_XDP sockets */
#define WEFT_PATH_RING 2              /* a copy into a BPF ring buffer (TC or XDP) */

#define WEFT_MODE_TAP 1
#define WEFT_MODE_HOST 2

#endif
