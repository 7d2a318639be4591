/* SPDX-License-Identifier: MIT */
/*
 * The AF_XDP path: XDP redirects the interface's TCP packets to one AF_XDP
 * socket per RX queue. The engine copies whatever it must hold
 * (out-of-order data), so every frame goes back to the fill ring as soon
 * as the engine returns: nothing held by reassembly can starve the ring.
 * The reader sleeps on a doorbell (see weft_xdp), not on the sockets.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_xdp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "live_int.h"
#include "weft.skel.h"

#define BATCH 64
#define PREFETCH_AHEAD 3 /* frames asked for before they are fed */
#define MERGE_BATCH 256  /* frames looked at per socket in one merge */
#define TAIL_MS 20       /* the longest a frame waits on a link that goes quiet */

/* The doorbell (see weft_xdp): rung every eighth of an RX ring a CPU hands
 * over, a power of two, so a woken reader finds its ring far from full. */
static uint32_t bell_frames(uint32_t frames)
{
	uint32_t b = 1;
	while (b * 2 <= frames / 8)
		b *= 2;
	return b;
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
		snprintf(err, errlen, "AF_XDP UMEM on %s: %s%s", l->ifname, strerror(-rc),
			 rc == -ENOBUFS || rc == -ENOMEM || rc == -EPERM
				 ? " (the UMEM is locked memory: CAP_IPC_LOCK, or a larger "
				   "RLIMIT_MEMLOCK)" : "");
		return -1;
	}
	struct xsk_socket_config sc = { .rx_size = l->frames, .tx_size = 0,
					.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
					.bind_flags = XDP_USE_NEED_WAKEUP };
	rc = xsk_socket__create(&q->xsk, l->ifname, qid, q->umem, &q->rx, NULL, &sc);
	if (rc) {
		snprintf(err, errlen, "AF_XDP socket on %s queue %u: %s", l->ifname, qid,
			 rc == -EOPNOTSUPP ? "AF_XDP is not supported here"
			 : rc == -EPERM ? "Operation not permitted (AF_XDP needs CAP_NET_RAW)"
					: strerror(-rc));
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

/* XDP, then the doorbells' reader and a socket per RX queue. */
static void xsk_config(const struct weft_live *l, const struct weft_live_opts *o,
		       struct weft_config_map *cfg)
{
	(void)o;
	cfg->bell_frames = bell_frames(l->frames);
}

static int xsk_open(struct weft_live *l, const struct weft_live_opts *o, char *err, size_t errlen)
{
	if (weft_live_attach_xdp(l, bpf_program__fd(l->skel->progs.weft_xdp), o, err, errlen))
		return -1;
	/* the ring buffer's first page is its consumer position, the second
	 * its producer's. Without them (optional) the reader waits on the
	 * sockets, which wake it per batch. */
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	void *c = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, l->ring_fd, 0);
	void *p = mmap(NULL, pg, PROT_READ, MAP_SHARED, l->ring_fd, (off_t)pg);
	if (c == MAP_FAILED || p == MAP_FAILED) {
		weft_live_notice(l, "cannot map the doorbell ring (%s): waking on the sockets",
			    strerror(errno));
		if (c != MAP_FAILED)
			munmap(c, pg);
		if (p != MAP_FAILED)
			munmap(p, pg);
	} else {
		l->bell_cons = c;
		l->bell_prod = p;
	}
	l->nq = o->queues ? o->queues : weft_live_rx_queues(o->ifname);
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

static void xsk_close(struct weft_live *l)
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
	l->nq = 0;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	if (l->bell_cons)
		munmap(l->bell_cons, pg);
	if (l->bell_prod)
		munmap((void *)l->bell_prod, pg);
	l->bell_cons = NULL;
	l->bell_prod = NULL;
}

static void xsk_stats(struct weft_live *l)
{
	l->st.xsk_rx_dropped = l->st.xsk_rx_invalid = 0;
	l->st.xsk_rx_ring_full = l->st.xsk_fill_empty = 0;
	for (uint32_t i = 0; i < l->nq; i++) {
		struct xdp_statistics s;
		socklen_t len = sizeof(s);
		if (!l->q[i].xsk ||
		    getsockopt(xsk_socket__fd(l->q[i].xsk), SOL_XDP, XDP_STATISTICS, &s, &len))
			continue;
		l->st.xsk_rx_dropped += s.rx_dropped;
		l->st.xsk_rx_invalid += s.rx_invalid_descs;
		l->st.xsk_rx_ring_full += s.rx_ring_full;
		l->st.xsk_fill_empty += s.rx_fill_ring_empty_descs;
	}
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
		weft_live_frame_from_meta(l, m, &f);
	} else {
		f.ts_ns = (uint64_t)weft_live_clock_ns(CLOCK_REALTIME);
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
static uint32_t drain_one(struct weft_live *l, struct queue *q, struct weft_engine *e)
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

static uint64_t xsk_drain(struct weft_live *l, struct weft_engine *e)
{
	if (!l->nq)
		return 0;
	return l->nq > 1 ? drain_merged(l, e) : drain_one(l, &l->q[0], e);
}

/* the sockets, then the doorbell */
static uint32_t xsk_pollfds(struct weft_live *l, struct pollfd *pfd)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < l->nq; i++)
		pfd[n++] = (struct pollfd){ .fd = xsk_socket__fd(l->q[i].xsk), .events = POLLIN };
	if (l->bell_cons)
		pfd[n++] = (struct pollfd){ .fd = l->ring_fd, .events = POLLIN };
	return n;
}

/* Once frames came since the last wait, on the doorbell alone (see
 * weft_xdp), which rings every eighth of a ring and at once in a burst,
 * with a timeout for a quiet link's tail; on a link gone quiet, on the
 * sockets too, which wake at the first frame. Bells rung for frames
 * already taken are read first, or the wait would end at once. */
static int xsk_wait(struct weft_live *l, bool took, struct pollfd *pfd, uint32_t npfd)
{
	for (uint32_t i = 0; i < l->nq; i++)
		if (xsk_ring_prod__needs_wakeup(&l->q[i].fill))
			recvfrom(pfd[i].fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
	int r;
	if (l->bell_cons) {
		__atomic_store_n(l->bell_cons, __atomic_load_n(l->bell_prod, __ATOMIC_ACQUIRE),
				 __ATOMIC_RELEASE);
		r = took ? poll(&pfd[npfd - 1], 1, TAIL_MS) : poll(pfd, npfd, 100);
	} else {
		r = poll(pfd, npfd, took ? TAIL_MS : 100);
	}
	return r < 0 && errno != EINTR ? -1 : 0;
}

const struct live_path weft_live_path_xsk = {
	.name = "afxdp",
	.config = xsk_config,
	.open = xsk_open,
	.drain = xsk_drain,
	.pollfds = xsk_pollfds,
	.wait = xsk_wait,
	.stats = xsk_stats,
	.close = xsk_close,
};
