/* SPDX-License-Identifier: MIT */
/* The daemon's side of the control plane (see control.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "control.h"
#include "weft/flowhash.h"

#define TICK_NS 1000000000ll /* policy and counters: once a second */
/* The kernel's sweeps walk every bucket of a 256K-entry table, full or
 * empty: 4.3 ms each here, 8 ms with a few thousand entries, which at
 * 500 Mbit/s was a tenth of tap mode's CPU when run every 7.5 s. They run
 * every half of the shortest idle timeout, between SWEEP_MIN_NS and
 * SWEEP_MAX_NS: an entry outlives its timeout by at most half (the tables
 * are LRU maps: a full one makes room by itself, so timely sweeps are for
 * tidiness, not room). They run on a thread of their own: in the reader's
 * loop a sweep held the rings for its whole length, as long as an
 * 8192-frame ring lasts at 2 Mpps. */
#define SWEEP_MIN_NS TICK_NS
#define SWEEP_MAX_NS (30 * TICK_NS)

/* Naming a connection in the conns map and removing its name cost a bpf()
 * call each, and the insert an allocation in the kernel: on a link of
 * short connections, a tenth of tap mode's CPU. So names change in
 * batches, at each call of weft_control_tick (every 100 ms): a connection that
 * ends before its batch never costs a call, and the rest cost two calls
 * per batch. The CLI's view of what weft follows is that old at most. */
struct conn_name {
	uint64_t id;
	struct weft_flow_key k;
	struct weft_conn_entry v;
	bool ended;
};

#define USER_SLICE 1024
/* the user-space sweep's slice: keys and values read, keys to delete */
struct sweep_buf {
	struct weft_flow_key keys[USER_SLICE], dead[USER_SLICE];
	struct weft_flow fv[USER_SLICE];
	struct weft_bypass bv[USER_SLICE];
};

struct control {
	struct control_fds fd;
	struct weft_config cfg;
	struct weft_callbacks next; /* the sink's */
	struct weft_engine *e;
	uint32_t gen;
	uint32_t mode;
	int64_t next_tick;
	/* set while a command ends a connection: its bypass reason */
	uint32_t ending_reason;
	uint64_t bypass_written;
	/* the sweeper thread's; lock held for all but the sweeps themselves */
	pthread_t sweeper;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool sweeper_on, sweeper_stop, sweep_now;
	uint64_t sweep_every_ns;
	uint64_t sweep_ns_last;
	/* the kernel's iterators where they load, else the user-space sweep */
	uint32_t sweeper_kind;
	uint64_t swept_user;       /* entries the user-space sweep removed */
	uint64_t sweep_slice_max;  /* its longest slice */
	uint64_t sweep_pass_max;   /* the costliest pass, either sweeper */
	uint64_t sweep_errors;     /* batch lookups the kernel refused */
	struct sweep_buf *sweep_buf; /* the sweeper thread's */
	int64_t mono_to_real;  /* the kernel's clock to packet time */
	/* the next batch: names to add, in id order, and keys to remove */
	struct conn_name *add;
	size_t nadd, add_cap;
	struct weft_flow_key *del;
	size_t ndel, del_cap;
	uint64_t named_upto;   /* ids up to this one went out in a batch */
};

static uint64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

void weft_policy_from_config(struct weft_policy *p, const struct weft_config *c)
{
	uint32_t gen = p->gen, ack = p->ack_offload;
	memset(p, 0, sizeof(*p));
	p->idle_established_ns = c->idle_established_ns;
	p->idle_closing_ns = c->idle_closing_ns;
	p->idle_halfopen_ns = c->idle_halfopen_ns;
	p->memcap = c->memcap;
	p->max_flows = c->max_flows;
	p->buffer_cap = c->buffer_cap;
	p->depth = c->depth;
	p->overlap = (uint32_t)c->overlap;
	p->buffer_policy = (uint32_t)c->buffer_policy;
	p->ack_offload = ack;
	p->gen = gen;
}

void weft_config_from_policy(struct weft_config *c, const struct weft_policy *p)
{
	c->idle_established_ns = p->idle_established_ns;
	c->idle_closing_ns = p->idle_closing_ns;
	c->idle_halfopen_ns = p->idle_halfopen_ns;
	c->memcap = p->memcap;
	c->max_flows = p->max_flows;
	c->buffer_cap = p->buffer_cap;
	c->depth = p->depth;
	c->overlap = p->overlap == WEFT_OVERLAP_LAST ? WEFT_OVERLAP_LAST : WEFT_OVERLAP_FIRST;
	c->buffer_policy = p->buffer_policy == WEFT_BUFFER_END ? WEFT_BUFFER_END : WEFT_BUFFER_GAP;
}

void weft_conn_kernel_key(const struct weft_conn_info *ci, struct weft_flow_key *k, uint8_t *client_end)
{
	uint32_t a[4], b[4];
	memcpy(a, ci->client.addr, 16);
	memcpy(b, ci->server.addr, 16);
	int swap = weft_endpoint_after(a, ci->client.port, b, ci->server.port);
	memset(k, 0, sizeof(*k));
	memcpy(k->addr[swap], a, 16);
	memcpy(k->addr[!swap], b, 16);
	k->port[swap] = ci->client.port;
	k->port[!swap] = ci->server.port;
	k->vlan[0] = ci->vlan[0];
	k->vlan[1] = ci->vlan[1];
	k->family = ci->family;
	*client_end = (uint8_t)swap;
}

/* ---- the callbacks, in front of the sink's ---- */

static void bypass_add(struct control *ctl, const struct weft_conn_info *ci, uint8_t sides,
		       uint32_t reason)
{
	struct weft_flow_key k;
	uint8_t cend;
	weft_conn_kernel_key(ci, &k, &cend);
	struct weft_bypass b;
	if (bpf_map_lookup_elem(ctl->fd.bypass, &k, &b) != 0)
		memset(&b, 0, sizeof(b));
	b.sides |= sides;
	b.id = ci->id;
	if (!b.reason)
		b.reason = reason;
	b.last_ns = mono_ns();
	if (bpf_map_update_elem(ctl->fd.bypass, &k, &b, 0) == 0)
		ctl->bypass_written++;
}

static bool grow(void **v, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return true;
	size_t c = *cap ? *cap * 2 : 256;
	void *p = realloc(*v, c * size);
	if (!p)
		return false;
	*v = p;
	*cap = c;
	return true;
}

/* c's name leaves the conns map in the next batch, or never goes in. */
static void unname(struct control *ctl, uint64_t id, const struct weft_flow_key *k)
{
	if (id > ctl->named_upto) {
		/* still waiting: the batch is in id order */
		size_t lo = 0, hi = ctl->nadd;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (ctl->add[mid].id < id)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < ctl->nadd && ctl->add[lo].id == id)
			ctl->add[lo].ended = true;
		return;
	}
	if (grow((void **)&ctl->del, &ctl->del_cap, ctl->ndel, sizeof(*ctl->del)))
		ctl->del[ctl->ndel++] = *k;
}

/* The batch: removals first, as a tuple's old connection leaves before
 * its new one comes in. A batch call stops at the first entry it cannot
 * take (a key gone, a full map); that one is skipped and the rest go on. */
static void names_flush(struct control *ctl)
{
	size_t done = 0;
	while (done < ctl->ndel) {
		__u32 n = (__u32)(ctl->ndel - done);
		if (bpf_map_delete_batch(ctl->fd.conns, &ctl->del[done], &n, NULL) == 0)
			break;
		if (n == 0 && errno != ENOENT) {
			/* no batch operations: one call each */
			for (; done < ctl->ndel; done++)
				bpf_map_delete_elem(ctl->fd.conns, &ctl->del[done]);
			break;
		}
		done += n + 1;
	}
	ctl->ndel = 0;
	size_t live = 0;
	for (size_t i = 0; i < ctl->nadd; i++) {
		ctl->named_upto = ctl->add[i].id;
		if (!ctl->add[i].ended)
			ctl->add[live++] = ctl->add[i];
	}
	ctl->nadd = 0;
	if (!live)
		return;
	struct weft_flow_key *keys = malloc(live * sizeof(*keys));
	struct weft_conn_entry *vals = malloc(live * sizeof(*vals));
	if (keys && vals) {
		for (size_t i = 0; i < live; i++) {
			keys[i] = ctl->add[i].k;
			vals[i] = ctl->add[i].v;
		}
		done = 0;
		while (done < live) {
			__u32 n = (__u32)(live - done);
			if (bpf_map_update_batch(ctl->fd.conns, &keys[done], &vals[done], &n, NULL) == 0)
				break;
			if (n == 0 && errno != E2BIG && errno != ENOMEM) {
				for (; done < live; done++)
					bpf_map_update_elem(ctl->fd.conns, &keys[done], &vals[done], 0);
				break;
			}
			done += n + 1;
		}
	}
	free(keys);
	free(vals);
}

static void c_start(void *ctx, struct weft_conn *c)
{
	struct control *ctl = ctx;
	const struct weft_conn_info *ci = weft_conn_info(c);
	if (grow((void **)&ctl->add, &ctl->add_cap, ctl->nadd, sizeof(*ctl->add))) {
		struct conn_name *n = &ctl->add[ctl->nadd++];
		*n = (struct conn_name){ .id = ci->id, .v = { .id = ci->id, .first_ns = ci->first_ns,
							      .reuse = ci->reuse,
							      .midstream = ci->midstream } };
		weft_conn_kernel_key(ci, &n->k, &n->v.client);
	}
	if (ctl->next.on_start)
		ctl->next.on_start(ctl->next.ctx, c);
}

static size_t c_data(void *ctx, struct weft_conn *c, enum weft_dir d, uint64_t off,
		     const uint8_t *data, size_t len)
{
	struct control *ctl = ctx;
	return ctl->next.on_data ? ctl->next.on_data(ctl->next.ctx, c, d, off, data, len) : len;
}

static void c_gap(void *ctx, struct weft_conn *c, enum weft_dir d, uint64_t off, uint64_t len)
{
	struct control *ctl = ctx;
	if (ctl->next.on_gap)
		ctl->next.on_gap(ctl->next.ctx, c, d, off, len);
}

static void c_late(void *ctx, struct weft_conn *c, enum weft_dir d, uint64_t off,
		   const uint8_t *data, size_t len)
{
	struct control *ctl = ctx;
	ctl->next.on_late(ctl->next.ctx, c, d, off, data, len);
}

static ssize_t c_resync(void *ctx, struct weft_conn *c, enum weft_dir d, const uint8_t *data,
			size_t len)
{
	struct control *ctl = ctx;
	return ctl->next.on_resync(ctl->next.ctx, c, d, data, len);
}

static void c_end(void *ctx, struct weft_conn *c, enum weft_end_reason r)
{
	struct control *ctl = ctx;
	const struct weft_conn_info *ci = weft_conn_info(c);
	if (ctl->next.on_end)
		ctl->next.on_end(ctl->next.ctx, c, r);
	struct weft_flow_key k;
	uint8_t cend;
	weft_conn_kernel_key(ci, &k, &cend);
	unname(ctl, ci->id, &k);
	/* Ended while its packets still come: they stop costing anything.
	 * A SYN on the tuple reopens it (the program lets SYNs through). */
	uint32_t why = 0;
	if (ctl->ending_reason)
		why = ctl->ending_reason;
	else if (r == WEFT_END_MEMCAP || r == WEFT_END_MAX_FLOWS || r == WEFT_END_BUFFER ||
		 r == WEFT_END_MANUAL)
		why = WEFT_BYPASS_EVICT;
	else if (r == WEFT_END_DEPTH)
		why = WEFT_BYPASS_DEPTH;
	if (why)
		bypass_add(ctl, ci, 3, why);
}

static void c_unwanted(void *ctx, struct weft_conn *c, enum weft_dir d)
{
	struct control *ctl = ctx;
	const struct weft_conn_info *ci = weft_conn_info(c);
	struct weft_flow_key k;
	uint8_t cend;
	weft_conn_kernel_key(ci, &k, &cend);
	/* the sender of direction d: the client for c2s */
	uint8_t sender = d == WEFT_C2S ? cend : (uint8_t)!cend;
	bypass_add(ctl, ci, (uint8_t)(1u << sender), WEFT_BYPASS_DEPTH);
	if (ctl->next.on_unwanted)
		ctl->next.on_unwanted(ctl->next.ctx, c, d);
}

/* The kernel flow table's entry of c, and the client's end in its key. */
static bool kernel_flow(struct control *ctl, struct weft_conn *c, struct weft_flow *f,
			uint8_t *client_end)
{
	struct weft_flow_key k;
	weft_conn_kernel_key(weft_conn_info(c), &k, client_end);
	return bpf_map_lookup_elem(ctl->fd.flows, &k, f) == 0;
}

static bool c_peer_ack(void *ctx, struct weft_conn *c, enum weft_dir d, uint32_t *ack)
{
	struct weft_flow f;
	uint8_t cend;
	if (!kernel_flow(ctx, c, &f, &cend))
		return false;
	/* the receiver of direction d acknowledges it: the server for c2s */
	uint8_t recv = d == WEFT_C2S ? (uint8_t)!cend : cend;
	if (!(f.ack_valid & (1u << recv)))
		return false;
	*ack = f.ack[recv];
	return true;
}

static bool c_sent_fin(void *ctx, struct weft_conn *c, enum weft_dir d, uint32_t *seq)
{
	struct weft_flow f;
	uint8_t cend;
	if (!kernel_flow(ctx, c, &f, &cend))
		return false;
	/* the sender of direction d: the client for c2s */
	uint8_t sender = d == WEFT_C2S ? cend : (uint8_t)!cend;
	if (!(f.flags[sender] & 0x01 /* FIN */))
		return false;
	*seq = f.fin_seq[sender];
	return true;
}

static bool c_last_seen(void *ctx, struct weft_conn *c, uint64_t *ts)
{
	struct control *ctl = ctx;
	struct weft_flow f;
	uint8_t cend;
	if (!kernel_flow(ctl, c, &f, &cend) || !f.last_ns)
		return false;
	*ts = (uint64_t)((int64_t)f.last_ns + ctl->mono_to_real);
	return true;
}

void weft_control_bind(struct control *ctl, struct weft_callbacks *cb)
{
	ctl->next = *cb;
	*cb = (struct weft_callbacks){ .ctx = ctl, .on_start = c_start, .on_data = c_data,
				       .on_gap = c_gap, .on_end = c_end,
				       .on_late = cb->on_late ? c_late : NULL,
				       .on_resync = cb->on_resync ? c_resync : NULL,
				       .on_unwanted = c_unwanted, .peer_ack = c_peer_ack,
				       .sent_fin = c_sent_fin, .last_seen = c_last_seen };
}

/* ---- the kernel sweeps ---- */

/* One pass of an iterator: the program deletes what is idle. */
static void sweep_iter(int link_fd)
{
	if (link_fd < 0)
		return;
	int it = bpf_iter_create(link_fd);
	if (it < 0)
		return;
	char buf[256];
	while (read(it, buf, sizeof(buf)) > 0)
		;
	close(it);
}

/* The user-space sweep, where the kernel refuses iterators: the same rule
 * (abi.h) over the same map, read in slices of USER_SLICE entries with one
 * batched lookup each, the idle ones removed with one batched delete. The
 * kernel holds a bucket's lock for the entries of that bucket only, so the
 * classifier on other CPUs is never held for a slice; and this runs on the
 * sweeper thread, away from the rings. An entry the classifier touched
 * between the lookup and the delete is deleted idle-stale; it comes back
 * with its next packet, as after an LRU eviction. Returns entries removed. */
static uint64_t sweep_user(struct control *ctl, int map_fd, bool flows)
{
	struct weft_policy pol;
	uint32_t zero = 0;
	if (bpf_map_lookup_elem(ctl->fd.policy, &zero, &pol) != 0)
		return 0;
	struct sweep_buf *sb = ctl->sweep_buf;
	if (!sb && !(sb = ctl->sweep_buf = malloc(sizeof(*sb))))
		return 0;
	struct weft_flow_key *keys = sb->keys, *dead = sb->dead;
	struct weft_flow *fv = sb->fv;
	struct weft_bypass *bv = sb->bv;
	uint64_t removed = 0, batch = 0, slice_max = 0;
	bool first = true;
	for (;;) {
		uint32_t n = USER_SLICE;
		uint64_t t0 = mono_ns();
		LIBBPF_OPTS(bpf_map_batch_opts, bo);
		int rc = bpf_map_lookup_batch(map_fd, first ? NULL : &batch, &batch, keys,
					      flows ? (void *)fv : (void *)bv, &n, &bo);
		int e = errno;
		first = false;
		if (rc != 0 && e != ENOENT) {
			ctl->sweep_errors++; /* (no batch operations: kernels before 5.6) */
			break;
		}
		uint64_t now = mono_ns();
		uint32_t nd = 0;
		for (uint32_t i = 0; i < n; i++)
			if (flows ? weft_flow_expired(&fv[i], &pol, now)
				  : weft_bypass_expired(&bv[i], &pol, now))
				dead[nd++] = keys[i];
		if (nd) {
			uint32_t cnt = nd;
			if (bpf_map_delete_batch(map_fd, dead, &cnt, &bo) == 0) {
				removed += cnt;
			} else {
				/* an entry gone meanwhile stops the batch after the cnt
				 * before it: the rest one by one */
				removed += cnt < nd ? cnt : 0;
				for (uint32_t i = cnt < nd ? cnt + 1 : 0; i < nd; i++)
					if (bpf_map_delete_elem(map_fd, &dead[i]) == 0)
						removed++;
			}
		}
		uint64_t took = mono_ns() - t0;
		if (took > slice_max)
			slice_max = took;
		if (rc != 0) /* ENOENT: that was the last slice */
			break;
	}
	pthread_mutex_lock(&ctl->lock);
	if (slice_max > ctl->sweep_slice_max)
		ctl->sweep_slice_max = slice_max;
	pthread_mutex_unlock(&ctl->lock);
	return removed;
}

/* One table, by either sweeper. Either pays for every bucket (the
 * iterator 4.3 ms for an empty 256K table here); finding that there is no
 * first key costs 0.13 ms, so an empty table, as the bypass map mostly is,
 * is not walked. */
static void sweep_map(struct control *ctl, int link_fd, int map_fd, bool flows)
{
	struct weft_flow_key k;
	if (bpf_map_get_next_key(map_fd, NULL, &k) != 0 && errno == ENOENT)
		return;
	if (ctl->sweeper_kind == WEFT_SWEEPER_ITER) {
		sweep_iter(link_fd);
		return;
	}
	uint64_t n = sweep_user(ctl, map_fd, flows);
	pthread_mutex_lock(&ctl->lock);
	ctl->swept_user += n;
	pthread_mutex_unlock(&ctl->lock);
}

static int64_t sweep_interval(const struct weft_config *c)
{
	uint64_t t[] = { c->idle_established_ns, c->idle_closing_ns, c->idle_halfopen_ns };
	int64_t every = SWEEP_MAX_NS;
	for (int i = 0; i < 3; i++)
		if (t[i] && (int64_t)(t[i] / 2) < every)
			every = (int64_t)(t[i] / 2);
	return every < SWEEP_MIN_NS ? SWEEP_MIN_NS : every;
}

/* The sweeper: both tables every sweep_every_ns, or at once when the
 * policy changed. Niced, as what it does can wait a little. */
static void *sweeper(void *arg)
{
	struct control *ctl = arg;
	setpriority(PRIO_PROCESS, 0, 10); /* this thread only, on Linux */
	pthread_mutex_lock(&ctl->lock);
	while (!ctl->sweeper_stop) {
		uint64_t t0 = mono_ns();
		pthread_mutex_unlock(&ctl->lock);
		sweep_map(ctl, ctl->fd.sweep_flows, ctl->fd.flows, true);
		sweep_map(ctl, ctl->fd.sweep_bypass, ctl->fd.bypass, false);
		uint64_t took = mono_ns() - t0;
		pthread_mutex_lock(&ctl->lock);
		ctl->sweep_ns_last = took;
		if (took > ctl->sweep_pass_max)
			ctl->sweep_pass_max = took;
		ctl->sweep_now = false;
		uint64_t at = t0 + ctl->sweep_every_ns;
		struct timespec ts = { .tv_sec = (time_t)(at / 1000000000ull),
				       .tv_nsec = (long)(at % 1000000000ull) };
		while (!ctl->sweeper_stop && !ctl->sweep_now &&
		       pthread_cond_timedwait(&ctl->wake, &ctl->lock, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&ctl->lock);
	return NULL;
}

/* ---- lifetime and the tick ---- */

struct control *weft_control_new(const struct control_fds *fds, const struct weft_config *cfg,
			    uint32_t mode)
{
	struct control *ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return NULL;
	ctl->fd = *fds;
	ctl->cfg = *cfg;
	ctl->sweeper_kind = fds->sweep_flows >= 0 && fds->sweep_bypass >= 0 ? WEFT_SWEEPER_ITER
									     : WEFT_SWEEPER_USER;
	ctl->mode = mode;
	struct timespec r;
	clock_gettime(CLOCK_REALTIME, &r);
	ctl->mono_to_real = (int64_t)r.tv_sec * 1000000000ll + r.tv_nsec - (int64_t)mono_ns();
	/* the policy starts as the command line set it */
	struct weft_policy p = { .ack_offload = 1, .gen = 1 };
	weft_policy_from_config(&p, cfg);
	uint32_t zero = 0;
	bpf_map_update_elem(ctl->fd.policy, &zero, &p, 0);
	ctl->gen = p.gen;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ctl->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&ctl->lock, NULL);
	ctl->sweep_every_ns = (uint64_t)sweep_interval(&ctl->cfg);
	ctl->sweeper_on = pthread_create(&ctl->sweeper, NULL, sweeper, ctl) == 0;
	return ctl;
}

void weft_control_free(struct control *ctl)
{
	if (!ctl)
		return;
	if (ctl->sweeper_on) {
		pthread_mutex_lock(&ctl->lock);
		ctl->sweeper_stop = true;
		pthread_cond_signal(&ctl->wake);
		pthread_mutex_unlock(&ctl->lock);
		pthread_join(ctl->sweeper, NULL);
	}
	pthread_cond_destroy(&ctl->wake);
	pthread_mutex_destroy(&ctl->lock);
	free(ctl->add);
	free(ctl->del);
	free(ctl->sweep_buf);
	free(ctl);
}

void weft_control_set_engine(struct control *ctl, struct weft_engine *e)
{
	ctl->e = e;
}

static void commands(struct control *ctl, volatile int *stop)
{
	struct weft_cmd cmd;
	while (bpf_map_lookup_and_delete_elem(ctl->fd.cmds, NULL, &cmd) == 0) {
		if (cmd.op == WEFT_CMD_DETACH) {
			*stop = 1;
			continue;
		}
		struct weft_conn *c = ctl->e ? weft_engine_find(ctl->e, cmd.id) : NULL;
		if (!c)
			continue; /* ended meanwhile: the CLI sees it gone */
		ctl->ending_reason = cmd.op == WEFT_CMD_IGNORE ? WEFT_BYPASS_IGNORE : WEFT_BYPASS_EVICT;
		weft_conn_end(ctl->e, c, WEFT_END_MANUAL);
		ctl->ending_reason = 0;
	}
}

static void reread_policy(struct control *ctl)
{
	struct weft_policy p;
	uint32_t zero = 0;
	if (bpf_map_lookup_elem(ctl->fd.policy, &zero, &p) != 0 || p.gen == ctl->gen)
		return;
	ctl->gen = p.gen;
	weft_config_from_policy(&ctl->cfg, &p);
	/* new timeouts: a sweep now, and a new interval */
	pthread_mutex_lock(&ctl->lock);
	ctl->sweep_every_ns = (uint64_t)sweep_interval(&ctl->cfg);
	ctl->sweep_now = true;
	pthread_cond_signal(&ctl->wake);
	pthread_mutex_unlock(&ctl->lock);
	if (ctl->e)
		weft_engine_set_config(ctl->e, &ctl->cfg);
}

static void publish(struct control *ctl, const struct weft_engine_pub *live)
{
	struct weft_engine_pub p = *live;
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	p.updated_ns = (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
	if (ctl->e) {
		struct weft_stats s;
		weft_engine_stats(ctl->e, &s);
		p.conns = s.conns;
		p.conns_open = s.conns_open;
		p.delivered_bytes = s.delivered_bytes;
		p.gap_bytes = s.gap_bytes;
		p.gaps = s.gaps;
		p.mem_used = s.mem_used;
		p.mem_peak = s.mem_peak;
		p.malformed = s.malformed;
		p.late_packets = s.late_packets;
		for (int i = 0; i < WEFT_END__COUNT && i < WEFT_PUB_ENDS; i++)
			p.ends[i] = s.ends[i];
	}
	p.bypass_written = ctl->bypass_written;
	pthread_mutex_lock(&ctl->lock);
	p.sweep_ns_last = ctl->sweep_ns_last;
	p.swept_user = ctl->swept_user;
	p.sweep_ns_max = ctl->sweep_slice_max;
	p.sweep_pass_ns_max = ctl->sweep_pass_max;
	pthread_mutex_unlock(&ctl->lock);
	p.sweeper = ctl->sweeper_kind;
	p.mode = ctl->mode;
	uint32_t zero = 0;
	bpf_map_update_elem(ctl->fd.epub, &zero, &p, 0);
}

void weft_control_tick(struct control *ctl, int64_t mono_now, const struct weft_engine_pub *live,
		  volatile int *stop)
{
	commands(ctl, stop);
	names_flush(ctl);
	if (mono_now < ctl->next_tick)
		return;
	ctl->next_tick = mono_now + TICK_NS;
	reread_policy(ctl);
	publish(ctl, live);
}
