/* SPDX-License-Identifier: MIT */
/*
 * The live source: weft's programs attached to an interface through
 * bpf_links (so a killed weft leaves nothing attached), their maps pinned
 * under /sys/fs/bpf/weft/IFACE/ for the control plane, feeding an engine
 * with the programs' metadata (flow hash, packet time) used as it is.
 *
 * Two capture paths. AF_XDP: XDP takes the interface's TCP packets to one
 * AF_XDP socket per RX queue. Ring: TC programs (or XDP on ingress) copy
 * them into a BPF ring buffer. Host mode (the host's own interface) is the
 * ring path with every packet let through. Tap mode (a mirror port) takes
 * the TCP packets for weft: AF_XDP on a NIC whose driver runs XDP, the ring
 * path from TC ingress on a virtual interface (veth), where XDP would split
 * GSO packets into a 256-slot ring that overflows before AF_XDP sees them.
 */
#ifndef WEFT_LIVE_H
#define WEFT_LIVE_H

#include <stdbool.h>
#include <stdint.h>
#include "weft/weft.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where instances pin their maps: /sys/fs/bpf/weft, or where /sys/fs/bpf
 * is no bpffs but one is mounted elsewhere, weft/ in the first such. */
const char *weft_pin_root(void);
#define WEFT_PIN_ROOT weft_pin_root()

struct weft_live_opts {
	const char *ifname;
	uint32_t mode;         /* WEFT_MODE_TAP or WEFT_MODE_HOST */
	uint32_t queues;       /* tap: 0 for every RX queue of the interface */
	bool force;            /* tap mode on an interface with the default route */
	bool skb_mode;         /* XDP in generic mode even where native works */
	bool host_xdp;         /* host: XDP on ingress instead of TC */
	uint32_t frames;       /* tap: UMEM frames per queue (0: 32 MB of them) */
	uint64_t ring_bytes;   /* host: ring buffer size, a power of 2 (0: 64 MB) */
	uint32_t snaplen;      /* ring path: bytes copied of a packet (0: all, to 64 KB) */
	uint32_t path;         /* tap: WEFT_PATH_AFXDP or WEFT_PATH_RING (0: by the interface) */
	uint32_t sweeper;      /* WEFT_SWEEPER_ITER or _USER (0: the iterator where it loads;
				* the environment's WEFT_SWEEPER=kernel|user otherwise) */
	bool debug;            /* libbpf's and the verifier's log on stderr */
	bool legacy_tc;        /* the legacy TC hook (cls_bpf) even where tcx links work */
};

struct weft_live_stats {
	uint64_t frames;           /* handed to the engine */
	uint64_t ring_trunc;       /* host: ring full, headers only (payload a gap) */
	uint64_t ring_lost;        /* host: ring full, nothing copied */
	uint64_t xsk_rx_dropped;   /* XDP_STATISTICS, summed over sockets */
	uint64_t xsk_rx_invalid;
	uint64_t xsk_rx_ring_full;
	uint64_t xsk_fill_empty;
	uint64_t no_meta;          /* frames without our metadata block */
	uint64_t wakeups;          /* tap: waits (on the doorbell or the sockets) the loop woke
				    * from; frames / wakeups is its batch */
	uint64_t sweep_ns_max;     /* the longest slice of an idle sweep (a stall) */
	uint64_t sweep_ns_last;    /* the costliest whole idle sweep, all slices */
	uint32_t queues;
	uint32_t ring_frames;      /* tap: UMEM frames a queue (its RX ring's size) */
	uint32_t frame_size;       /* tap: bytes a UMEM frame (2048, or 4096 past a 1770 MTU) */
	uint32_t mode;             /* WEFT_MODE_* */
	bool native;               /* native XDP (else generic/skb mode) */
	bool xdp;                  /* host: XDP on ingress (else TC) */
	uint32_t path;             /* WEFT_PATH_* */
	uint32_t sweeper;          /* WEFT_SWEEPER_* */
	bool legacy_tc;            /* TC through the legacy hook, not tcx links */
	uint64_t iface_drops;      /* the interface's rx drops since the start */
	char path_why[96];         /* why this path (tap mode's choice) */
	char notice[200];          /* an optional piece the kernel refused, and the fallback */
};

struct weft_live;

/* Attach and open everything; NULL with one line in err on failure, with
 * nothing left behind (no program attached, no pins). */
struct weft_live *weft_live_open(const struct weft_live_opts *o, char *err, size_t errlen);
/* Drain the sockets into e until *stop is set: frames, sweeps every second
 * on packet time. Returns 0, or -1 with err set. */
int weft_live_run(struct weft_live *l, struct weft_engine *e, volatile int *stop, char *err,
		  size_t errlen);
void weft_live_stats(struct weft_live *l, struct weft_live_stats *s);
/* The control plane (policy map, commands, bypass, kernel ACKs, sweeps):
 * put it between the engine and the callbacks in cb before the engine is
 * made with them, then name the engine. The policy map starts as cfg. */
void weft_live_bind(struct weft_live *l, const struct weft_config *cfg, struct weft_callbacks *cb);
void weft_live_set_engine(struct weft_live *l, struct weft_engine *e);
/* fn(arg) once a second from the run loop (the sink's flush). */
void weft_live_on_tick(struct weft_live *l, void (*fn)(void *arg), void *arg);
/* Detach the program and close the sockets; the maps stay (and the
 * control plane works) until weft_live_close. */
void weft_live_detach(struct weft_live *l);
/* Detach, close the sockets and maps, remove the pins. */
void weft_live_close(struct weft_live *l);
/* This handle will not remove the pins, nor legacy TC filters, when
 * closed (after a fork, the process that keeps root removes them, with
 * weft_live_unpin and weft_live_remove_legacy_tc). */
void weft_live_keep_pins(struct weft_live *l);
void weft_live_unpin(const char *ifname);
void weft_live_remove_legacy_tc(const char *ifname);
/* Close the program's and maps' descriptors: the link keeps the program
 * attached and the pins keep the maps, so a process that only drains the
 * sockets needs neither (least privilege). */
void weft_live_drop_bpf(struct weft_live *l);

/* Does the interface carry the host's default route (IPv4 or IPv6)? */
bool weft_iface_has_default_route(const char *ifname);
/* Is it virtual (veth, bridge, tun: no bus behind it)? Tap mode takes the
 * ring path there. */
bool weft_iface_is_virtual(const char *ifname);
/* Is it the host's own: an IPv4 or a non-link-local IPv6 address, or the
 * default route? Then the default mode is host, else tap. */
bool weft_iface_is_hosts(const char *ifname);

#ifdef __cplusplus
}
#endif
#endif
