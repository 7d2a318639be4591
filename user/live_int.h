/* SPDX-License-Identifier: MIT */
/*
 * The live source's insides, shared by its files:
 *   live.c         open, the run loop (pacing, engine sweeps, control), close
 *   live_attach.c  bpffs, pins, loading the programs, links, the interface
 *   live_xsk.c     the AF_XDP path: XDP redirect, a socket per RX queue
 *   live_ring.c    the ring-buffer path: TC (or XDP) copies into a ring
 * The run loop knows a path only by its operations (struct live_path).
 */
#ifndef WEFT_LIVE_INT_H
#define WEFT_LIVE_INT_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <poll.h>
#include <xdp/xsk.h>
#include "weft/live.h"
#include "weft/abi.h"
#include "control.h"

#define MAX_QUEUES 64

struct weft_live;

/* One capture path: how packets reach user space. */
struct live_path {
	const char *name;
	/* its settings in the programs' configuration, before they run */
	void (*config)(const struct weft_live *l, const struct weft_live_opts *o,
		       struct weft_config_map *cfg);
	/* attach its programs and open its sockets or ring; -1 with err */
	int (*open)(struct weft_live *l, const struct weft_live_opts *o, char *err, size_t errlen);
	/* feed everything waiting into e; returns the frames taken */
	uint64_t (*drain)(struct weft_live *l, struct weft_engine *e);
	/* the descriptors the run loop waits on (at most MAX_QUEUES + 1) */
	uint32_t (*pollfds)(struct weft_live *l, struct pollfd *pfd);
	/* wait for more; took: frames came since the last wait. -1 on error */
	int (*wait)(struct weft_live *l, bool took, struct pollfd *pfd, uint32_t npfd);
	/* refresh l->st's loss counters */
	void (*stats)(struct weft_live *l);
	/* close the sockets or the ring (the links are gone already) */
	void (*close)(struct weft_live *l);
};

extern const struct live_path weft_live_path_xsk;
extern const struct live_path weft_live_path_ring;

struct queue {
	struct xsk_socket *xsk;
	struct xsk_umem *umem;
	struct xsk_ring_cons rx;
	struct xsk_ring_prod fill;
	struct xsk_ring_cons comp;
	void *area;
	size_t area_len;
};

struct weft_live {
	struct weft_bpf *skel;
	struct weft_sweep_bpf *sweep_skel;
	const struct live_path *path;
	uint32_t mode;         /* WEFT_MODE_* */
	int link_fd;           /* the XDP link (tap, or host with XDP ingress) */
	int tc_fd[2];          /* ring path: the ingress and egress tcx links */
	bool tc_legacy[2];     /* ... or cls_bpf filters of the legacy TC hook */
	bool keep_legacy;      /* another process removes those (-U) */
	int ring_fd, counters_fd; /* our own copies: kept when the skeleton goes */
	struct ring_buffer *rb;
	/* AF_XDP path: the doorbells in the same ring, read by moving its
	 * consumer position to the producer's (what they say is only that
	 * frames wait; libbpf's reader would add a descriptor for nothing) */
	unsigned long *bell_cons;
	const unsigned long *bell_prod;
	struct weft_engine *feed; /* the engine the ring's callback feeds */
	int ifindex;
	char ifname[IF_NAMESIZE];
	char pindir[256];
	char madedir[256];     /* made by this open, removed if it fails */
	struct queue q[MAX_QUEUES];
	uint32_t nq;
	uint32_t frames;
	uint32_t frame_size;   /* FRAME_SMALL or FRAME_LARGE, by the MTU */
	uint64_t ring_bytes;
	int64_t mono_to_real;  /* add to bpf_ktime_get_ns() for packet time */
	uint64_t drops[2], drops0[2]; /* the interface's and its peer's, now and at the start */
	int64_t drops_at;      /* when they were read (once a second: rtnetlink) */
	struct weft_live_stats st;
	/* the control plane's maps and sweeper links: our own descriptors,
	 * kept when the skeleton goes (-U) */
	struct control_fds cfd;
	struct control *ctl;
	bool detached;
	void (*tick)(void *);
	void *tick_arg;
};

/* live_attach.c */
void weft_live_notice(struct weft_live *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int weft_live_check_caps(const struct weft_live *l, const struct weft_live_opts *o, char *err,
		    size_t errlen);
int weft_live_ensure_bpffs(char *err, size_t errlen);
int weft_live_check_pins(const char *dir, const char *ifname, char *err, size_t errlen);
void weft_live_unpin_dir(const char *dir);
int weft_live_load(struct weft_live *l, const struct weft_live_opts *o, char *err, size_t errlen);
int weft_live_pin_maps(struct weft_live *l, const char *dir, char *err, size_t errlen);
int weft_live_open_control(struct weft_live *l, const struct weft_live_opts *o, char *err,
		      size_t errlen);
int weft_live_attach_xdp(struct weft_live *l, int prog_fd, const struct weft_live_opts *o, char *err,
		    size_t errlen);
int weft_live_attach_tc(struct weft_live *l, int which, int prog_fd, char *err, size_t errlen);
void weft_live_detach_links(struct weft_live *l);
uint32_t weft_live_rx_queues(const char *ifname);
uint32_t weft_live_frame_size(const char *ifname);
void weft_live_iface_drops(const char *ifname, uint64_t *own, uint64_t *peer_drops);
uint64_t weft_live_kernel_counter(const struct weft_live *l, uint32_t c);
int64_t weft_live_clock_ns(int clock);

/* shared by both paths: a frame as the program described it */
void weft_live_frame_from_meta(const struct weft_live *l, const struct weft_meta *m,
			  struct weft_frame *f);

#endif
