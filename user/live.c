/* SPDX-License-Identifier: MIT */
/*
 * The live source: attach weft's programs with bpf_links, pin their maps
 * for the control plane, and drain what they hand over into the engine.
 * Tap mode: XDP and an AF_XDP socket per RX queue. The engine copies
 * whatever it must hold (out-of-order data), so every frame goes back to the
 * fill ring as soon as the engine returns: nothing held by reassembly can
 * starve the ring. Host mode: TC on ingress and egress and one ring buffer,
 * whose records are given back the same way.
 */
#include <dirent.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/xsk.h>
#include "weft/live.h"
#include "weft/abi.h"
#include "weft.skel.h"
#include "control.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif
/* A UMEM frame holds the kernel's headroom (XDP_PACKET_HEADROOM, where our
 * metadata goes) and one frame of the interface. 2 KB, AF_XDP's smallest,
 * holds a 1500-byte MTU's frame with two VLAN tags, so the same 32 MB a
 * queue hold twice the frames of the default 4 KB: what a reader kept away
 * from its CPU can fall behind before the kernel drops. */
#define FRAME_SMALL 2048u
#define FRAME_LARGE 4096u
#define UMEM_BYTES (32u << 20)
#define BATCH 64
#define PREFETCH_AHEAD 3 /* frames asked for before they are fed */
#define MERGE_BATCH 256 /* frames looked at per socket in one merge */
#define SWEEP_SLICE 256 /* idle connections ended between two batches */
#define MAX_QUEUES 64
#define RING_DEFAULT (64ull << 20)
#define RING_WAKE_MAX (1u << 20)

/* The ring's wakeup mark (see ring_copy in weft.bpf.c): a sixteenth of the
 * ring, so a woken reader finds the ring far from full, and at most 1 MB,
 * about a thousand wakeups a second at 10 Gbit/s. */
static uint32_t ring_wake_bytes(uint64_t ring)
{
	uint64_t w = ring / 16;
	return w > RING_WAKE_MAX ? RING_WAKE_MAX : (uint32_t)w;
}

/* Tap mode's doorbell (see weft_xdp): rung every eighth of an RX ring a
 * CPU hands over, a power of two, so a woken reader finds its ring far
 * from full. */
static uint32_t bell_frames(uint32_t frames)
{
	uint32_t b = 1;
	while (b * 2 <= frames / 8)
		b *= 2;
	return b;
}
/* tcx attach types (kernel 6.6), newer than these headers */
#define WEFT_TCX_INGRESS 46
#define WEFT_TCX_EGRESS 47

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
	uint32_t mode;         /* WEFT_MODE_* */
	int link_fd;           /* the XDP link (tap, or host with XDP ingress) */
	int tc_fd[2];          /* host: the ingress and egress links */
	int ring_fd, counters_fd; /* our own copies: kept when the skeleton goes */
	struct ring_buffer *rb;
	/* tap: the doorbells in the same ring, read by moving its consumer
	 * position to the producer's (what they say is only that frames
	 * wait; libbpf's reader would add a descriptor for nothing) */
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
	int64_t mono_to_real;  /* add to bpf_ktime_get_ns() for packet time */
	struct weft_live_stats st;
	/* the control plane's maps and sweeper links: our own descriptors,
	 * kept when the skeleton goes (-U) */
	struct control_fds cfd;
	struct control *ctl;
	bool detached;
	void (*tick)(void *);
	void *tick_arg;
};

static const char *const pinned[] = { "counters", "cfg_map", "ports", "cidrs", "bypass",
				      "flows", "policy", "conns", "cmds", "epub" };

static int64_t clock_ns(clockid_t c)
{
	struct timespec t;
	clock_gettime(c, &t);
	return (int64_t)t.tv_sec * 1000000000ll + t.tv_nsec;
}

bool weft_iface_has_default_route(const char *ifname)
{
	char line[512], dev[64];
	unsigned long dst, mask;
	bool found = false;
	FILE *f = fopen("/proc/net/route", "r");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%63s %lx %*x %*x %*d %*d %*d %lx", dev, &dst, &mask) == 3 &&
			    dst == 0 && mask == 0 && !strcmp(dev, ifname))
				found = true;
		fclose(f);
	}
	f = fopen("/proc/net/ipv6_route", "r");
	if (f) {
		char d[40];
		unsigned plen;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%32s %x %*s %*s %*s %*s %*s %*s %*s %63s", d, &plen, dev) == 3 &&
			    plen == 0 && !strcmp(d, "00000000000000000000000000000000") &&
			    !strcmp(dev, ifname))
				found = true;
		fclose(f);
	}
	return found;
}

bool weft_iface_is_hosts(const char *ifname)
{
	struct ifaddrs *ifa, *i;
	bool mine = false;
	if (getifaddrs(&ifa) == 0) {
		for (i = ifa; i; i = i->ifa_next) {
			if (!i->ifa_addr || !i->ifa_name || strcmp(i->ifa_name, ifname))
				continue;
			if (i->ifa_addr->sa_family == AF_INET)
				mine = true;
			else if (i->ifa_addr->sa_family == AF_INET6 &&
				 !IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr))
				mine = true;
		}
		freeifaddrs(ifa);
	}
	return mine || weft_iface_has_default_route(ifname);
}

/* An interface ioctl on a socket of the current network namespace (sysfs
 * may be another namespace's under nsenter); 0 on success. */
static int iface_ioctl(const char *ifname, unsigned long req, struct ifreq *ifr)
{
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", ifname);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int rc = ioctl(fd, req, ifr);
	close(fd);
	return rc;
}

/* RX queues, through the ethtool ioctl. */
static uint32_t count_rx_queues(const char *ifname)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr = { .ifr_data = (void *)&ch };
	uint32_t n = 0;
	if (iface_ioctl(ifname, SIOCETHTOOL, &ifr) == 0)
		n = ch.rx_count > ch.combined_count ? ch.rx_count : ch.combined_count;
	return n ? n : 1;
}

/* The UMEM frame for ifname's MTU: the small one when its largest frame,
 * with two VLAN tags, fits behind the kernel's headroom. A frame larger
 * than its UMEM frame is dropped by AF_XDP (and counted in the kernel
 * drops), so an unknown MTU gets the large one. */
static uint32_t frame_size_for(const char *ifname)
{
	struct ifreq ifr = { 0 };
	if (iface_ioctl(ifname, SIOCGIFMTU, &ifr) != 0 || ifr.ifr_mtu <= 0)
		return FRAME_LARGE;
	unsigned frame = (unsigned)ifr.ifr_mtu + 14 + 2 * 4; /* Ethernet, two tags */
	return frame <= FRAME_SMALL - XDP_PACKET_HEADROOM ? FRAME_SMALL : FRAME_LARGE;
}

/* bpffs where `ip netns exec` left none, as bpftool does */
static int ensure_bpffs(char *err, size_t errlen)
{
	struct statfs s;
	if (statfs("/sys/fs/bpf", &s) == 0 && s.f_type == BPF_FS_MAGIC)
		return 0;
	mkdir("/sys/fs/bpf", 0700);
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") != 0) {
		snprintf(err, errlen, "cannot mount bpffs on /sys/fs/bpf: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Pins already there: a live weft, or a dead one's leftovers. */
static int check_pins(const char *dir, const char *ifname, char *err, size_t errlen)
{
	char p[300];
	snprintf(p, sizeof(p), "%s/cfg_map", dir);
	if (access(p, F_OK) != 0) {
		DIR *d = opendir(dir);
		struct dirent *e;
		bool empty = true;
		while (d && (e = readdir(d)))
			if (e->d_name[0] != '.')
				empty = false;
		if (d)
			closedir(d);
		if (empty)
			return 0;
	}
	uint32_t pid = 0;
	int fd = bpf_obj_get(p);
	if (fd >= 0) {
		struct weft_config_map c;
		uint32_t k = 0;
		if (bpf_map_lookup_elem(fd, &k, &c) == 0)
			pid = c.owner_pid;
		close(fd);
	}
	char comm[64] = "";
	snprintf(p, sizeof(p), "/proc/%u/comm", pid);
	FILE *f = pid ? fopen(p, "r") : NULL;
	if (f) {
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
	}
	if (pid && !strncmp(comm, "weft", 4))
		snprintf(err, errlen, "another weft (pid %u) is running on %s", pid, ifname);
	else
		snprintf(err, errlen, "%s holds pinned maps of a weft that is gone; "
			 "remove them (rm -r %s) and start again", dir, dir);
	return -1;
}

static void unpin_dir(const char *dir)
{
	char p[300];
	for (size_t i = 0; i < sizeof(pinned) / sizeof(pinned[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, pinned[i]);
		unlink(p);
	}
	rmdir(dir);
	rmdir(WEFT_PIN_ROOT); /* only if no other interface is in use */
}

void weft_live_unpin(const char *ifname)
{
	char dir[256];
	snprintf(dir, sizeof(dir), "%s/%s", WEFT_PIN_ROOT, ifname);
	unpin_dir(dir);
}

void weft_live_drop_bpf(struct weft_live *l)
{
	weft_bpf__destroy(l->skel);
	l->skel = NULL;
}

void weft_live_keep_pins(struct weft_live *l)
{
	l->pindir[0] = 0;
	l->madedir[0] = 0;
}

static int open_queue(struct weft_live *l, uint32_t qid, char *err, size_t errlen)
{
	struct queue *q = &l->q[qid];
	q->area_len = (size_t)l->frames * l->frame_size;
	/* shared: after the fork of -U the worker must see the very pages the
	 * kernel writes into (a private mapping of pinned pages is copied) */
	q->area = mmap(NULL, q->area_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (q->area == MAP_FAILED) {
		q->area = NULL;
		snprintf(err, errlen, "cannot map the UMEM: %s", strerror(errno));
		return -1;
	}
	/* every frame waits in the fill ring; the RX ring is as large */
	struct xsk_umem_config uc = { .fill_size = l->frames, .comp_size = 64,
				      .frame_size = l->frame_size, .frame_headroom = 0 };
	int rc = xsk_umem__create(&q->umem, q->area, q->area_len, &q->fill, &q->comp, &uc);
	if (rc) {
		snprintf(err, errlen, "AF_XDP UMEM on %s: %s", l->ifname, strerror(-rc));
		return -1;
	}
	struct xsk_socket_config sc = { .rx_size = l->frames, .tx_size = 0,
					.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
					.bind_flags = XDP_USE_NEED_WAKEUP };
	rc = xsk_socket__create(&q->xsk, l->ifname, qid, q->umem, &q->rx, NULL, &sc);
	if (rc) {
		snprintf(err, errlen, "AF_XDP socket on %s queue %u: %s", l->ifname, qid,
			 rc == -EOPNOTSUPP ? "AF_XDP is not supported here" : strerror(-rc));
		return -1;
	}
	int xfd = xsk_socket__fd(q->xsk);
	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.xsks), &qid, &xfd, 0) != 0) {
		snprintf(err, errlen, "XSKMAP slot %u: %s", qid, strerror(errno));
		return -1;
	}
	uint32_t idx, n = l->frames;
	if (xsk_ring_prod__reserve(&q->fill, n, &idx) != n) {
		snprintf(err, errlen, "cannot fill the AF_XDP ring");
		return -1;
	}
	for (uint32_t i = 0; i < n; i++)
		*xsk_ring_prod__fill_addr(&q->fill, idx + i) = (uint64_t)i * l->frame_size;
	xsk_ring_prod__submit(&q->fill, n);
	return 0;
}

/* An iterator link over map m running prog: its descriptor, or -1. */
static int iter_link(struct bpf_program *prog, struct bpf_map *m)
{
	union bpf_iter_link_info li = { .map.map_fd = (uint32_t)bpf_map__fd(m) };
	LIBBPF_OPTS(bpf_iter_attach_opts, o, .link_info = &li, .link_info_len = sizeof(li));
	struct bpf_link *link = bpf_program__attach_iter(prog, &o);
	if (!link)
		return -1;
	int fd = fcntl(bpf_link__fd(link), F_DUPFD_CLOEXEC, 3);
	bpf_link__destroy(link); /* our copy keeps the link */
	return fd;
}

static int open_control(struct weft_live *l, char *err, size_t errlen)
{
	struct weft_bpf *k = l->skel;
	struct bpf_map *maps[] = { k->maps.policy, k->maps.conns, k->maps.cmds, k->maps.epub,
				   k->maps.bypass, k->maps.flows };
	int *fds[] = { &l->cfd.policy, &l->cfd.conns, &l->cfd.cmds, &l->cfd.epub, &l->cfd.bypass,
		       &l->cfd.flows };
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		if ((*fds[i] = fcntl(bpf_map__fd(maps[i]), F_DUPFD_CLOEXEC, 3)) < 0)
			goto fail;
	l->cfd.sweep_flows = iter_link(k->progs.sweep_flows, k->maps.flows);
	l->cfd.sweep_bypass = iter_link(k->progs.sweep_bypass, k->maps.bypass);
	if (l->cfd.sweep_flows < 0 || l->cfd.sweep_bypass < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "cannot set up the control maps: %s", strerror(errno));
	return -1;
}

void weft_live_bind(struct weft_live *l, const struct weft_config *cfg, struct weft_callbacks *cb)
{
	control_free(l->ctl);
	l->ctl = control_new(&l->cfd, cfg, l->mode);
	if (l->ctl)
		control_bind(l->ctl, cb);
}

void weft_live_on_tick(struct weft_live *l, void (*fn)(void *arg), void *arg)
{
	l->tick = fn;
	l->tick_arg = arg;
}

void weft_live_set_engine(struct weft_live *l, struct weft_engine *e)
{
	if (l->ctl)
		control_set_engine(l->ctl, e);
}

static void close_queues(struct weft_live *l)
{
	for (uint32_t i = 0; i < MAX_QUEUES; i++) {
		struct queue *q = &l->q[i];
		if (q->xsk)
			xsk_socket__delete(q->xsk);
		if (q->umem)
			xsk_umem__delete(q->umem);
		if (q->area)
			munmap(q->area, q->area_len);
		memset(q, 0, sizeof(*q));
	}
}

/* Close the attach links: nothing new comes in. The links were never
 * pinned, so closing detaches. */
static void unlink_progs(struct weft_live *l)
{
	int *fds[] = { &l->link_fd, &l->tc_fd[0], &l->tc_fd[1] };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

void weft_live_detach(struct weft_live *l)
{
	unlink_progs(l);
	close_queues(l);
	ring_buffer__free(l->rb);
	l->rb = NULL;
	if (l->bell_cons)
		munmap(l->bell_cons, (size_t)sysconf(_SC_PAGESIZE));
	if (l->bell_prod)
		munmap((void *)l->bell_prod, (size_t)sysconf(_SC_PAGESIZE));
	l->bell_cons = NULL;
	l->bell_prod = NULL;
	l->detached = true;
}

static void close_cfd(struct control_fds *c)
{
	int *fds[] = { &c->policy, &c->conns, &c->cmds, &c->epub, &c->bypass, &c->flows,
		       &c->sweep_flows, &c->sweep_bypass };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

void weft_live_close(struct weft_live *l)
{
	if (!l)
		return;
	weft_live_detach(l);
	control_free(l->ctl);
	close_cfd(&l->cfd);
	if (l->ring_fd >= 0)
		close(l->ring_fd);
	if (l->counters_fd >= 0)
		close(l->counters_fd);
	if (l->pindir[0]) {
		unpin_dir(l->pindir);
	} else if (l->madedir[0]) {
		/* failed before it was ours to pin into: leave no empty dirs */
		rmdir(l->madedir);
		rmdir(WEFT_PIN_ROOT);
	}
	weft_bpf__destroy(l->skel);
	free(l);
}

/* An XDP program on the interface with a bpf_link: native first, generic
 * (skb) mode where the driver cannot or skb_mode asks. */
static int attach_xdp(struct weft_live *l, int pfd, const struct weft_live_opts *o, char *err,
		      size_t errlen)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo);
	if (!o->skb_mode) {
		lo.flags = XDP_FLAGS_DRV_MODE;
		l->link_fd = bpf_link_create(pfd, l->ifindex, BPF_XDP, &lo);
		l->st.native = l->link_fd >= 0;
	}
	if (l->link_fd < 0) {
		lo.flags = XDP_FLAGS_SKB_MODE;
		l->link_fd = bpf_link_create(pfd, l->ifindex, BPF_XDP, &lo);
	}
	if (l->link_fd < 0) {
		snprintf(err, errlen, "cannot attach XDP to %s: %s", o->ifname, strerror(errno));
		return -1;
	}
	return 0;
}

/* Tap: XDP, then the doorbells' reader and a socket per RX queue. */
static int attach_tap(struct weft_live *l, const struct weft_live_opts *o, char *err,
		      size_t errlen)
{
	if (attach_xdp(l, bpf_program__fd(l->skel->progs.weft_xdp), o, err, errlen))
		return -1;
	/* the ring buffer's first page is its consumer position, the second
	 * its producer's */
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	void *c = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, l->ring_fd, 0);
	void *p = mmap(NULL, pg, PROT_READ, MAP_SHARED, l->ring_fd, (off_t)pg);
	l->bell_cons = c == MAP_FAILED ? NULL : c;
	l->bell_prod = p == MAP_FAILED ? NULL : p;
	if (!l->bell_cons || !l->bell_prod) {
		snprintf(err, errlen, "cannot map the ring buffer: %s", strerror(errno));
		return -1;
	}
	l->nq = o->queues ? o->queues : count_rx_queues(o->ifname);
	if (l->nq > MAX_QUEUES)
		l->nq = MAX_QUEUES;
	for (uint32_t i = 0; i < l->nq; i++)
		if (open_queue(l, i, err, errlen))
			return -1;
	l->st.queues = l->nq;
	l->st.ring_frames = l->frames;
	l->st.frame_size = l->frame_size;
	return 0;
}

static int ring_record(void *ctx, void *data, size_t size);

/* Host: the ring buffer's reader, then TC on egress and on ingress, or
 * with host_xdp XDP on ingress (tcx and XDP links: beside any other TC
 * program, gone with us). */
static int attach_host(struct weft_live *l, const struct weft_live_opts *o, char *err,
		       size_t errlen)
{
	l->rb = ring_buffer__new(l->ring_fd, ring_record, l, NULL);
	if (!l->rb) {
		snprintf(err, errlen, "cannot map the ring buffer: %s", strerror(errno));
		return -1;
	}
	int progs[2] = { o->host_xdp ? -1 : bpf_program__fd(l->skel->progs.weft_tc_ingress),
			 bpf_program__fd(l->skel->progs.weft_tc_egress) };
	int types[2] = { WEFT_TCX_INGRESS, WEFT_TCX_EGRESS };
	if (o->host_xdp) {
		if (attach_xdp(l, bpf_program__fd(l->skel->progs.weft_xdp_host), o, err, errlen))
			return -1;
		l->st.xdp = true;
	}
	for (int i = o->host_xdp ? 1 : 0; i < 2; i++) {
		l->tc_fd[i] = bpf_link_create(progs[i], l->ifindex, types[i], NULL);
		if (l->tc_fd[i] < 0) {
			snprintf(err, errlen, "cannot attach TC %s to %s: %s",
				 i ? "egress" : "ingress", o->ifname,
				 errno == EINVAL ? "this kernel has no tcx links (6.6 or later)"
						 : strerror(errno));
			return -1;
		}
	}
	l->st.queues = 1;
	return 0;
}

struct weft_live *weft_live_open(const struct weft_live_opts *o, char *err, size_t errlen)
{
	struct weft_live *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->link_fd = l->tc_fd[0] = l->tc_fd[1] = l->ring_fd = l->counters_fd = -1;
	l->cfd = (struct control_fds){ -1, -1, -1, -1, -1, -1, -1, -1 };
	l->mode = o->mode == WEFT_MODE_HOST ? WEFT_MODE_HOST : WEFT_MODE_TAP;
	l->st.mode = l->mode;
	if (o->host_xdp && l->mode != WEFT_MODE_HOST) {
		snprintf(err, errlen, "ingress xdp is for host mode (tap mode is XDP already)");
		free(l);
		return NULL;
	}
	snprintf(l->ifname, sizeof(l->ifname), "%s", o->ifname);
	l->ifindex = (int)if_nametoindex(o->ifname);
	l->frame_size = frame_size_for(o->ifname);
	l->frames = o->frames ? o->frames : UMEM_BYTES / l->frame_size;
	uint64_t ring = o->ring_bytes ? o->ring_bytes : RING_DEFAULT;
	if (!l->ifindex) {
		snprintf(err, errlen, "interface %s not found", o->ifname);
		goto fail;
	}
	if (geteuid() != 0) {
		snprintf(err, errlen, "weft run needs root (CAP_BPF, CAP_NET_ADMIN)");
		goto fail;
	}
	if (l->mode == WEFT_MODE_HOST && (ring < 4096 || ring > (1ull << 31) || (ring & (ring - 1)))) {
		snprintf(err, errlen, "the ring buffer must be a power of 2 from 4K to 2G");
		goto fail;
	}
	if (ensure_bpffs(err, errlen))
		goto fail;
	char dir[256];
	snprintf(dir, sizeof(dir), "%s/%s", WEFT_PIN_ROOT, o->ifname);
	mkdir(WEFT_PIN_ROOT, 0700);
	if (mkdir(dir, 0700) == 0)
		snprintf(l->madedir, sizeof(l->madedir), "%s", dir);
	else if (errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	if (check_pins(dir, o->ifname, err, errlen))
		goto fail; /* not ours: leave it as it is */
	/* (after the pins: another weft is named as such, not as a program).
	 * Host mode's tcx links sit beside other programs; XDP has one slot. */
	__u32 other = 0;
	if ((l->mode == WEFT_MODE_TAP || o->host_xdp) && bpf_xdp_query_id(l->ifindex, 0, &other) == 0 && other) {
		snprintf(err, errlen, "another XDP program (id %u) is attached to %s", other,
			 o->ifname);
		goto fail;
	}
	snprintf(l->pindir, sizeof(l->pindir), "%s", dir);

	libbpf_set_print(NULL);
	l->skel = weft_bpf__open();
	/* only this mode's programs go through the verifier: it is most of
	 * the start-up time. Tap mode writes only doorbells to the ring: a
	 * page will do. */
	if (!l->skel || bpf_program__set_autoload(l->skel->progs.weft_xdp, l->mode == WEFT_MODE_TAP) ||
	    bpf_program__set_autoload(l->skel->progs.weft_tc_ingress,
				      l->mode == WEFT_MODE_HOST && !o->host_xdp) ||
	    bpf_program__set_autoload(l->skel->progs.weft_xdp_host,
				      l->mode == WEFT_MODE_HOST && o->host_xdp) ||
	    bpf_program__set_autoload(l->skel->progs.weft_tc_egress, l->mode == WEFT_MODE_HOST) ||
	    bpf_map__set_max_entries(l->skel->maps.ring,
						 l->mode == WEFT_MODE_HOST ? (uint32_t)ring : 4096) ||
	    weft_bpf__load(l->skel)) {
		snprintf(err, errlen, "cannot load the BPF programs: %s", strerror(errno));
		goto fail;
	}
	/* bypassed flows: dropped on a mirror, always passed on the host's own */
	struct weft_config_map cfg = { .enabled = 1,
				       .bypass_action = l->mode == WEFT_MODE_HOST ? XDP_PASS : XDP_DROP,
				       .owner_pid = (uint32_t)getpid(), .snaplen = o->snaplen,
				       .wake_bytes = l->mode == WEFT_MODE_HOST ? ring_wake_bytes(ring) : 0,
				       .bell_frames = l->mode == WEFT_MODE_TAP ? bell_frames(l->frames) : 0 };
	uint32_t zero = 0;
	bpf_map_update_elem(bpf_map__fd(l->skel->maps.cfg_map), &zero, &cfg, 0);
	/* the ring (records, or tap mode's doorbells), and host mode's
	 * counters its stats read (a tap worker does without: least
	 * privilege) */
	l->ring_fd = fcntl(bpf_map__fd(l->skel->maps.ring), F_DUPFD_CLOEXEC, 3);
	if (l->mode == WEFT_MODE_HOST)
		l->counters_fd = fcntl(bpf_map__fd(l->skel->maps.counters), F_DUPFD_CLOEXEC, 3);
	if (l->ring_fd < 0 || (l->mode == WEFT_MODE_HOST && l->counters_fd < 0)) {
		snprintf(err, errlen, "cannot keep the maps: %s", strerror(errno));
		goto fail;
	}
	char p[300];
	for (size_t i = 0; i < sizeof(pinned) / sizeof(pinned[0]); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(l->skel->obj, pinned[i]);
		snprintf(p, sizeof(p), "%s/%s", dir, pinned[i]);
		if (!m || bpf_map__pin(m, p) != 0) {
			snprintf(err, errlen, "cannot pin %s: %s", p, strerror(errno));
			goto fail;
		}
	}
	if (open_control(l, err, errlen))
		goto fail;
	if ((l->mode == WEFT_MODE_HOST ? attach_host : attach_tap)(l, o, err, errlen))
		goto fail;
	l->mono_to_real = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
	return l;
fail:
	weft_live_close(l);
	return NULL;
}

static void xsk_stats(struct weft_live *l)
{
	l->st.xsk_rx_dropped = l->st.xsk_rx_invalid = 0;
	l->st.xsk_rx_ring_full = l->st.xsk_fill_empty = 0;
	for (uint32_t i = 0; i < l->nq; i++) {
		struct xdp_statistics s;
		socklen_t len = sizeof(s);
		if (getsockopt(xsk_socket__fd(l->q[i].xsk), SOL_XDP, XDP_STATISTICS, &s, &len))
			continue;
		l->st.xsk_rx_dropped += s.rx_dropped;
		l->st.xsk_rx_invalid += s.rx_invalid_descs;
		l->st.xsk_rx_ring_full += s.rx_ring_full;
		l->st.xsk_fill_empty += s.rx_fill_ring_empty_descs;
	}
}

/* A kernel counter summed over CPUs. */
static uint64_t kernel_counter(struct weft_live *l, uint32_t c)
{
	int n = libbpf_num_possible_cpus();
	uint64_t v[n > 0 ? n : 1], sum = 0;
	if (n <= 0 || l->counters_fd < 0 || bpf_map_lookup_elem(l->counters_fd, &c, v))
		return 0;
	for (int i = 0; i < n; i++)
		sum += v[i];
	return sum;
}

static void source_stats(struct weft_live *l)
{
	if (l->mode == WEFT_MODE_TAP) {
		xsk_stats(l);
	} else {
		l->st.ring_trunc = kernel_counter(l, WEFT_CNT_RING_TRUNC);
		l->st.ring_lost = kernel_counter(l, WEFT_CNT_RING_LOST);
	}
}

void weft_live_stats(struct weft_live *l, struct weft_live_stats *s)
{
	source_stats(l);
	*s = l->st;
}

static void live_pub(struct weft_live *l, struct weft_engine_pub *p)
{
	source_stats(l);
	p->frames = l->st.frames;
	p->xsk_dropped = l->st.xsk_rx_dropped;
	p->xsk_ring_full = l->st.xsk_rx_ring_full;
	p->xsk_fill_empty = l->st.xsk_fill_empty;
	p->xsk_invalid = l->st.xsk_rx_invalid;
	p->queues = l->st.queues;
	p->native = l->st.native;
	p->xdp_ingress = l->st.xdp;
	p->engine_sweep_ns_max = l->st.sweep_ns_max;
	p->engine_sweep_ns_last = l->st.sweep_ns_last;
}

/* A frame as the program described it: time, flow hash, the peer's kept
 * ACK. */
static void frame_from_meta(struct weft_live *l, const struct weft_meta *m, struct weft_frame *f)
{
	f->ts_ns = (uint64_t)((int64_t)m->ts_ns + l->mono_to_real);
	/* fragments carry an address-pair hash: let the engine hash the
	 * reassembled datagram itself */
	f->hash = (m->flags & WEFT_META_FRAG) ? 0 : m->hash;
	f->peer_ack_valid = (m->flags & WEFT_META_PEER_ACK) != 0;
	f->peer_ack = m->peer_ack;
	f->peer_fin_valid = (m->flags & WEFT_META_PEER_FIN) != 0;
	f->peer_fin = m->peer_fin;
}

/* One ring buffer record (host mode): the frame follows its header. */
static int ring_record(void *ctx, void *data, size_t size)
{
	struct weft_live *l = ctx;
	const struct weft_ring_rec *r = data;
	if (size < sizeof(*r) || r->caplen > size - sizeof(*r) || r->meta.magic != WEFT_META_MAGIC ||
	    r->meta.version != WEFT_META_VERSION) {
		l->st.no_meta++;
		return 0;
	}
	struct weft_frame f = { .data = (const uint8_t *)(r + 1), .caplen = r->caplen,
				.wirelen = r->wirelen < r->caplen ? r->caplen : r->wirelen,
				.link = WEFT_LINK_ETHERNET };
	frame_from_meta(l, &r->meta, &f);
	weft_engine_feed(l->feed, &f);
	l->st.frames++;
	return 0;
}

/* A frame's metadata, where the program put it: in the headroom right
 * before the frame; NULL if it is not there. */
static const struct weft_meta *frame_meta(const struct weft_live *l, const struct xdp_desc *d,
					  const uint8_t *pkt)
{
	const struct weft_meta *m = (const void *)(pkt - sizeof(*m));
	/* the frame size is a power of two: a mask, not a division per frame */
	if ((xsk_umem__add_offset_to_addr(d->addr) & (l->frame_size - 1)) >= sizeof(*m) &&
	    m->magic == WEFT_META_MAGIC && m->version == WEFT_META_VERSION)
		return m;
	return NULL;
}

static uint8_t *frame_data(struct queue *q, const struct xdp_desc *d)
{
	return xsk_umem__get_data(q->area, xsk_umem__add_offset_to_addr(d->addr));
}

/* The engine takes the frame at rx index i. */
static void feed_frame(struct weft_live *l, struct queue *q, uint32_t i, struct weft_engine *e)
{
	const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->rx, i);
	uint8_t *pkt = frame_data(q, d);
	struct weft_frame f = { .data = pkt, .caplen = d->len, .wirelen = d->len,
				.link = WEFT_LINK_ETHERNET };
	const struct weft_meta *m = frame_meta(l, d, pkt);
	if (m) {
		frame_from_meta(l, m, &f);
	} else {
		f.ts_ns = (uint64_t)clock_ns(CLOCK_REALTIME);
		l->st.no_meta++;
	}
	weft_engine_feed(e, &f);
}

/* Frames [idx, idx + n) of q's RX ring go straight back to its fill ring
 * (the engine copied what it keeps), and leave the RX ring. */
static void give_back(struct weft_live *l, struct queue *q, uint32_t idx, uint32_t n)
{
	uint32_t fidx;
	if (!n)
		return;
	while (xsk_ring_prod__reserve(&q->fill, n, &fidx) != n)
		; /* the ring has room: we only give back what we took */
	for (uint32_t i = 0; i < n; i++)
		*xsk_ring_prod__fill_addr(&q->fill, fidx + i) =
			xsk_umem__extract_addr(xsk_ring_cons__rx_desc(&q->rx, idx + i)->addr);
	xsk_ring_prod__submit(&q->fill, n);
	xsk_ring_cons__release(&q->rx, n);
	l->st.frames += n;
}

/* Ask for the frame at rx index i, metadata and all, while the ones before
 * it are fed: the kernel wrote it on another CPU, and reading it cold was
 * most of what -c cost (a third fewer CPU seconds with this). */
static void prefetch_frame(struct queue *q, uint32_t i)
{
	const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->rx, i);
	const char *p = (const char *)frame_data(q, d) - sizeof(struct weft_meta);
	for (uint32_t o = 0; o < d->len + sizeof(struct weft_meta); o += 64)
		__builtin_prefetch(p + o);
}

/* One socket: a batch in ring order. Returns frames taken. */
static uint32_t drain(struct weft_live *l, struct queue *q, struct weft_engine *e)
{
	uint32_t idx = 0, n = xsk_ring_cons__peek(&q->rx, BATCH, &idx);
	for (uint32_t i = 0; i < n && i < PREFETCH_AHEAD; i++)
		prefetch_frame(q, idx + i);
	for (uint32_t i = 0; i < n; i++) {
		if (i + PREFETCH_AHEAD < n)
			prefetch_frame(q, idx + i + PREFETCH_AHEAD);
		feed_frame(l, q, idx + i, e);
	}
	give_back(l, q, idx, n);
	return n;
}

/* The program's timestamp of the frame at rx index i (0 without one). */
static uint64_t frame_ts(const struct weft_live *l, struct queue *q, uint32_t i)
{
	const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->rx, i);
	const struct weft_meta *m = frame_meta(l, d, frame_data(q, d));
	return m ? m->ts_ns : 0;
}

/* Several sockets: the frames waiting in all of them, fed in the order the
 * program stamped them. A flow's packets can come on more than one queue
 * (each direction is hashed on its own, and a retransmission's new hash
 * can move one), and a batch per queue in turn would hand the engine a
 * FIN, or the ACK that makes a hole a gap, before data it follows. The
 * merge stops when a queue with more waiting than it took runs out: its
 * next frames may be older than the others' rest, which wait for the next
 * call. Returns frames taken. */
static uint64_t drain_merged(struct weft_live *l, struct weft_engine *e)
{
	uint32_t idx[MAX_QUEUES], n[MAX_QUEUES], at[MAX_QUEUES];
	uint64_t ts[MAX_QUEUES], got = 0;
	for (uint32_t i = 0; i < l->nq; i++) {
		n[i] = xsk_ring_cons__peek(&l->q[i].rx, MERGE_BATCH, &idx[i]);
		at[i] = 0;
		for (uint32_t j = 0; j < n[i] && j < PREFETCH_AHEAD; j++)
			prefetch_frame(&l->q[i], idx[i] + j);
		ts[i] = n[i] ? frame_ts(l, &l->q[i], idx[i]) : 0;
	}
	for (;;) {
		int best = -1;
		for (uint32_t i = 0; i < l->nq; i++)
			if (at[i] < n[i] && (best < 0 || ts[i] < ts[best]))
				best = (int)i;
		if (best < 0)
			break;
		struct queue *q = &l->q[best];
		if (at[best] + PREFETCH_AHEAD < n[best])
			prefetch_frame(q, idx[best] + at[best] + PREFETCH_AHEAD);
		feed_frame(l, q, idx[best] + at[best], e);
		got++;
		if (++at[best] < n[best])
			ts[best] = frame_ts(l, q, idx[best] + at[best]);
		else if (n[best] == MERGE_BATCH)
			break; /* a full batch: more may wait there, older than the rest */
	}
	for (uint32_t i = 0; i < l->nq; i++) {
		xsk_ring_cons__cancel(&l->q[i].rx, n[i] - at[i]);
		give_back(l, &l->q[i], idx[i], at[i]);
	}
	return got;
}

/* Everything waiting: the sockets' frames, or the ring buffer's records. */
static uint64_t drain_all(struct weft_live *l, struct weft_engine *e)
{
	if (l->rb) {
		l->feed = e;
		int n = ring_buffer__consume(l->rb);
		return n > 0 ? (uint64_t)n : 0;
	}
	return l->nq > 1 ? drain_merged(l, e) : drain(l, &l->q[0], e);
}

/* Wait for frames. Tap mode: once frames came since the last wait, on
 * the doorbell alone (see weft_xdp), which rings every eighth of a ring
 * and at once in a burst, with a timeout for a quiet link's tail; on a
 * link gone quiet, on the sockets too, which wake at the first frame.
 * Bells rung for frames already taken are read first, or the wait would
 * end at once. Host mode: on the ring buffer, marked the same way. */
#define TAIL_MS 20  /* the longest a frame waits on a link that goes quiet */
static int pace_wait(struct weft_live *l, bool took, struct pollfd *pfd, uint32_t npfd)
{
	for (uint32_t i = 0; !l->rb && i < l->nq; i++)
		if (xsk_ring_prod__needs_wakeup(&l->q[i].fill))
			recvfrom(pfd[i].fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
	l->st.wakeups++;
	int r;
	if (l->bell_cons) {
		__atomic_store_n(l->bell_cons, __atomic_load_n(l->bell_prod, __ATOMIC_ACQUIRE),
				 __ATOMIC_RELEASE);
		r = took ? poll(&pfd[npfd - 1], 1, TAIL_MS) : poll(pfd, npfd, 100);
	} else {
		r = poll(pfd, npfd, 100);
	}
	return r < 0 && errno != EINTR ? -1 : 0;
}

int weft_live_run(struct weft_live *l, struct weft_engine *e, volatile int *stop, char *err,
		  size_t errlen)
{
	/* tap: the sockets, then the doorbell; host: the ring */
	struct pollfd pfd[MAX_QUEUES + 1];
	uint32_t npfd = 0;
	if (l->rb)
		pfd[npfd++] = (struct pollfd){ .fd = ring_buffer__epoll_fd(l->rb), .events = POLLIN };
	for (uint32_t i = 0; !l->rb && i < l->nq; i++)
		pfd[npfd++] = (struct pollfd){ .fd = xsk_socket__fd(l->q[i].xsk), .events = POLLIN };
	if (l->bell_cons)
		pfd[npfd++] = (struct pollfd){ .fd = l->ring_fd, .events = POLLIN };
	bool took = false;
	int64_t next_sweep = clock_ns(CLOCK_MONOTONIC) + 1000000000ll;
	int64_t next_ctl = 0, sweep_at = 0, sweep_cost = 0;
	bool sweeping = false;
	while (!*stop) {
		uint64_t got = drain_all(l, e);
		took = took || got;
		if (!got && !sweeping) {
			if (pace_wait(l, took, pfd, npfd) != 0) {
				snprintf(err, errlen, "poll: %s", strerror(errno));
				return -1;
			}
			took = false;
		}
		int64_t now = clock_ns(CLOCK_MONOTONIC);
		if (!sweeping && now >= next_sweep) {
			/* idle time passes on a quiet link too: packet time is
			 * the wall clock's here, from the same clock the program
			 * stamps with */
			sweeping = true;
			sweep_at = now + l->mono_to_real;
			sweep_cost = 0;
			next_sweep = now + 1000000000ll;
		}
		if (sweeping) {
			/* a slice between batches: the rings never wait long */
			size_t n = weft_engine_sweep_some(e, (uint64_t)sweep_at, SWEEP_SLICE);
			int64_t t = clock_ns(CLOCK_MONOTONIC) - now;
			sweep_cost += t;
			if ((uint64_t)t > l->st.sweep_ns_max)
				l->st.sweep_ns_max = (uint64_t)t;
			if (n < SWEEP_SLICE) {
				sweeping = false;
				if ((uint64_t)sweep_cost > l->st.sweep_ns_last)
					l->st.sweep_ns_last = (uint64_t)sweep_cost;
				if (l->tick)
					l->tick(l->tick_arg);
			}
			now = clock_ns(CLOCK_MONOTONIC);
		}
		if (l->ctl && now >= next_ctl) {
			/* commands within 100 ms; policy and sweeps each second */
			struct weft_engine_pub p = { 0 };
			live_pub(l, &p);
			control_tick(l->ctl, now, &p, stop);
			next_ctl = now + 100000000ll;
		}
	}
	/* Stopped: detach, then take what the rings still hold, so a stop
	 * loses nothing the kernel already handed over. */
	unlink_progs(l);
	while (drain_all(l, e))
		;
	return 0;
}
