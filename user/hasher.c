/* SPDX-License-Identifier: MIT */
/*
 * The worker threads. The caller appends entries (a call, a digest's zero
 * bytes, or some bytes with a call and a digest to give them to) to the
 * batch it is filling; a full batch goes to the digest stage, then to the
 * writing stage, then back to the free list. The caller takes a free batch,
 * waiting only when all are in use, which bounds the memory at
 * NBATCH * BATCH bytes. A report line must not wait for a batch to fill (a
 * slow source, a pipe gone quiet): the digest stage takes a batch that has
 * held a call for LINGER_NS itself.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "hasher.h"

#define BATCH (256u << 10)
#define NBATCH 16
#define LINGER_NS 300000000ull /* report lines on disk well within 1 s */
#define TICK_NS 100000000ull

enum { E_CALL, E_DATA_CALL, E_ZEROS };
enum { DIGEST, WRITE, NSTAGE };

struct entry {
	uint32_t kind, len;   /* len: bytes following (E_DATA_CALL) */
	union {
		void (*fn)(void *);
		hasher_data_fn dfn;
	};
	void *arg;
	uint64_t off;         /* E_DATA_CALL: the offset; E_ZEROS: how many */
	struct sha256 *sha;   /* E_DATA_CALL, E_ZEROS: the digest, or NULL */
};

struct batch {
	struct batch *next;
	size_t used;
	uint64_t call_ns;    /* when its first call was queued, or 0 */
	uint8_t buf[BATCH];
};

struct stage {
	pthread_t th;
	pthread_cond_t work;
	struct batch *head, *tail;
	bool running;         /* working on a batch */
	bool on;              /* the thread was started */
};

struct hasher {
	pthread_mutex_t mu;
	pthread_cond_t freed;
	struct stage st[NSTAGE];
	struct batch *free_list, *cur;
	bool stop;            /* no more batches will come */
	bool digest_done;     /* the digest stage has ended */
};

struct stage_arg {
	struct hasher *h;
	int i;
};

static void run_batch(struct batch *b, int stage)
{
	size_t p = 0;
	while (p < b->used) {
		struct entry e;
		memcpy(&e, b->buf + p, sizeof(e));
		p += sizeof(e);
		switch (e.kind) {
		case E_DATA_CALL:
			if (stage == DIGEST && e.sha)
				weft_sha256_update(e.sha, b->buf + p, e.len);
			if (stage == WRITE && e.dfn)
				e.dfn(e.arg, e.off, b->buf + p, e.len);
			p += (e.len + 7) & ~7u;
			break;
		case E_ZEROS:
			if (stage == DIGEST)
				weft_sha256_zeros(e.sha, e.off);
			break;
		default:
			if (stage == WRITE)
				e.fn(e.arg);
		}
	}
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* b to the end of stage i's queue (mu held). */
static void enqueue(struct hasher *h, int i, struct batch *b)
{
	struct stage *st = &h->st[i];
	b->next = NULL;
	if (st->tail) st->tail->next = b; else st->head = b;
	st->tail = b;
	pthread_cond_signal(&st->work);
}

/* Nothing more will reach stage i (mu held). */
static bool stage_ends(const struct hasher *h, int i)
{
	return i == DIGEST ? h->stop : h->digest_done;
}

static void *stage_main(void *arg)
{
	struct hasher *h = ((struct stage_arg *)arg)->h;
	int i = ((struct stage_arg *)arg)->i;
	free(arg);
	struct stage *st = &h->st[i];
	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (!st->head && !stage_ends(h, i)) {
			/* a call lingering in the batch being filled: take it */
			if (i == DIGEST && h->cur && h->cur->call_ns && h->free_list &&
			    now_ns(CLOCK_MONOTONIC) - h->cur->call_ns >= LINGER_NS) {
				enqueue(h, DIGEST, h->cur);
				h->cur = h->free_list;
				h->free_list = h->cur->next;
				continue;
			}
			uint64_t t = now_ns(CLOCK_MONOTONIC) + TICK_NS;
			struct timespec ts = { (time_t)(t / 1000000000ull), (long)(t % 1000000000ull) };
			pthread_cond_timedwait(&st->work, &h->mu, &ts);
		}
		struct batch *b = st->head;
		if (!b)
			break; /* nothing left, and nothing more will come */
		st->head = b->next;
		if (!st->head)
			st->tail = NULL;
		st->running = true;
		pthread_mutex_unlock(&h->mu);
		run_batch(b, i);
		pthread_mutex_lock(&h->mu);
		st->running = false;
		if (i == DIGEST) {
			enqueue(h, WRITE, b);
		} else {
			b->used = 0;
			b->call_ns = 0;
			b->next = h->free_list;
			h->free_list = b;
			pthread_cond_broadcast(&h->freed);
		}
	}
	if (i == DIGEST) {
		h->digest_done = true;
		pthread_cond_signal(&h->st[WRITE].work);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

static void free_batches(struct hasher *h)
{
	free(h->cur);
	while (h->free_list) {
		struct batch *b = h->free_list;
		h->free_list = b->next;
		free(b);
	}
}

static void stop_stages(struct hasher *h)
{
	pthread_mutex_lock(&h->mu);
	h->stop = true;
	if (!h->st[DIGEST].on)
		h->digest_done = true;
	for (int i = 0; i < NSTAGE; i++)
		pthread_cond_signal(&h->st[i].work);
	pthread_mutex_unlock(&h->mu);
	for (int i = 0; i < NSTAGE; i++)
		if (h->st[i].on)
			pthread_join(h->st[i].th, NULL);
}

/* Stop the stages (they finish what is queued) and free everything. */
static void destroy(struct hasher *h)
{
	stop_stages(h);
	free_batches(h);
	pthread_mutex_destroy(&h->mu);
	for (int i = 0; i < NSTAGE; i++)
		pthread_cond_destroy(&h->st[i].work);
	pthread_cond_destroy(&h->freed);
	free(h);
}

struct hasher *weft_hasher_new(void)
{
	struct hasher *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	for (int i = 0; i < NBATCH; i++) {
		struct batch *b = malloc(sizeof(*b));
		if (!b)
			break;
		b->used = 0;
		b->call_ns = 0;
		b->next = h->free_list;
		h->free_list = b;
	}
	h->cur = h->free_list;
	h->free_list = h->cur ? h->cur->next : NULL;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->freed, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	for (int i = 0; i < NSTAGE; i++)
		pthread_cond_init(&h->st[i].work, &ca);
	pthread_condattr_destroy(&ca);
	bool ok = h->cur != NULL;
	for (int i = 0; ok && i < NSTAGE; i++) {
		struct stage_arg *a = malloc(sizeof(*a));
		ok = a && (a->h = h, a->i = i, pthread_create(&h->st[i].th, NULL, stage_main, a) == 0);
		if (ok)
			h->st[i].on = true;
		else
			free(a);
	}
	if (!ok) {
		destroy(h);
		return NULL;
	}
	return h;
}

/* Hand the current batch over and take a free one (mu held). While the
 * caller waits there is no current batch: the one handed over is the
 * stages' now, and the digest stage must not take it again by its age. */
static void rotate(struct hasher *h)
{
	enqueue(h, DIGEST, h->cur);
	h->cur = NULL;
	while (!h->free_list)
		pthread_cond_wait(&h->freed, &h->mu);
	h->cur = h->free_list;
	h->free_list = h->cur->next;
}

void weft_hasher_push(struct hasher *h)
{
	pthread_mutex_lock(&h->mu);
	if (h->cur->used)
		rotate(h);
	pthread_mutex_unlock(&h->mu);
}

/* The batch being filled is shared with the digest stage (which may take
 * it by time), so appending holds the lock: uncontended, a few ns. */
static void put(struct hasher *h, const struct entry *e, const void *data, size_t len)
{
	size_t need = sizeof(*e) + ((len + 7) & ~(size_t)7);
	pthread_mutex_lock(&h->mu);
	if (h->cur->used + need > BATCH)
		rotate(h);
	memcpy(h->cur->buf + h->cur->used, e, sizeof(*e));
	if (len)
		memcpy(h->cur->buf + h->cur->used + sizeof(*e), data, len);
	h->cur->used += need;
	if (e->kind == E_CALL && !h->cur->call_ns)
		h->cur->call_ns = now_ns(CLOCK_MONOTONIC);
	pthread_mutex_unlock(&h->mu);
}

void weft_hasher_data_call(struct hasher *h, hasher_data_fn fn, void *arg, uint64_t off,
		      const void *data, size_t len, struct sha256 *sha)
{
	const uint8_t *p = data;
	size_t chunk = BATCH - sizeof(struct entry);
	while (len) {
		size_t n = len < chunk ? len : chunk;
		struct entry e = { .kind = E_DATA_CALL, .len = (uint32_t)n, .dfn = fn, .arg = arg,
				   .off = off, .sha = sha };
		put(h, &e, p, n);
		p += n;
		off += n;
		len -= n;
	}
}

void weft_hasher_zeros(struct hasher *h, struct sha256 *sha, uint64_t n)
{
	struct entry e = { .kind = E_ZEROS, .off = n, .sha = sha };
	put(h, &e, NULL, 0);
}

void weft_hasher_call(struct hasher *h, void (*fn)(void *), void *arg)
{
	struct entry e = { .kind = E_CALL, .fn = fn, .arg = arg };
	put(h, &e, NULL, 0);
}

void weft_hasher_sync(struct hasher *h)
{
	weft_hasher_push(h);
	pthread_mutex_lock(&h->mu);
	while (h->st[DIGEST].head || h->st[DIGEST].running || h->st[WRITE].head ||
	       h->st[WRITE].running)
		pthread_cond_wait(&h->freed, &h->mu);
	pthread_mutex_unlock(&h->mu);
}

void weft_hasher_free(struct hasher *h)
{
	if (!h)
		return;
	weft_hasher_push(h);
	destroy(h);
}
