/* SPDX-License-Identifier: MIT */
/*
 * The worker thread. The caller appends entries (a call, or a call with a
 * copy of some bytes) to the batch it is filling; a full batch goes to the
 * thread and the caller takes a free one, waiting only when all are in use,
 * which bounds the memory at NBATCH * BATCH bytes. A report line must not
 * wait for a batch to fill (a slow source, a pipe gone quiet): the thread
 * takes a batch that has held a call for LINGER_NS itself.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "hasher.h"

#define BATCH (256u << 10)
#define NBATCH 8
#define LINGER_NS 300000000ull /* report lines on disk well within 1 s */
#define TICK_NS 100000000ull

enum { E_CALL, E_DATA_CALL };

struct entry {
	uint32_t kind, len;   /* len: bytes following (E_DATA_CALL) */
	union {
		void (*fn)(void *);
		hasher_data_fn dfn;
	};
	void *arg;
	uint64_t off;         /* E_DATA_CALL */
};

struct batch {
	struct batch *next;
	size_t used;
	uint64_t call_ns;    /* when its first call was queued, or 0 */
	uint8_t buf[BATCH];
};

struct hasher {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t work, freed;
	struct batch *full_head, *full_tail, *free_list, *cur;
	bool stop;
	bool running;         /* the thread is working on a batch */
};

static void run_batch(struct batch *b)
{
	size_t p = 0;
	while (p < b->used) {
		struct entry e;
		memcpy(&e, b->buf + p, sizeof(e));
		p += sizeof(e);
		switch (e.kind) {
		case E_DATA_CALL:
			e.dfn(e.arg, e.off, b->buf + p, e.len);
			p += (e.len + 7) & ~7u;
			break;
		default:
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

static void queue_cur(struct hasher *h);

static void *thread_main(void *arg)
{
	struct hasher *h = arg;
	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (!h->full_head && !h->stop) {
			/* a call lingering in the batch being filled: take it */
			if (h->cur->call_ns && now_ns(CLOCK_MONOTONIC) - h->cur->call_ns >= LINGER_NS &&
			    h->free_list) {
				queue_cur(h);
				h->cur = h->free_list;
				h->free_list = h->cur->next;
				continue;
			}
			uint64_t t = now_ns(CLOCK_MONOTONIC) + TICK_NS;
			struct timespec ts = { (time_t)(t / 1000000000ull), (long)(t % 1000000000ull) };
			pthread_cond_timedwait(&h->work, &h->mu, &ts);
		}
		struct batch *b = h->full_head;
		if (!b)
			break; /* stop, and nothing left */
		h->full_head = b->next;
		if (!h->full_head)
			h->full_tail = NULL;
		h->running = true;
		pthread_mutex_unlock(&h->mu);
		run_batch(b);
		b->used = 0;
		b->call_ns = 0;
		pthread_mutex_lock(&h->mu);
		b->next = h->free_list;
		h->free_list = b;
		h->running = false;
		pthread_cond_broadcast(&h->freed);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
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
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->work, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&h->freed, NULL);
	if (!h->cur || pthread_create(&h->th, NULL, thread_main, h) != 0) {
		free(h->cur);
		while (h->free_list) {
			struct batch *b = h->free_list;
			h->free_list = b->next;
			free(b);
		}
		free(h);
		return NULL;
	}
	return h;
}

/* The current batch to the thread's queue (mu held). */
static void queue_cur(struct hasher *h)
{
	h->cur->next = NULL;
	if (h->full_tail) h->full_tail->next = h->cur; else h->full_head = h->cur;
	h->full_tail = h->cur;
}

/* Hand the current batch over and take a free one (mu held). */
static void rotate(struct hasher *h)
{
	queue_cur(h);
	pthread_cond_signal(&h->work);
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

/* The batch being filled is shared with the thread (which may take it
 * by time), so appending holds the lock: uncontended, a few ns. */
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
		      const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t chunk = BATCH - sizeof(struct entry);
	while (len) {
		size_t n = len < chunk ? len : chunk;
		struct entry e = { .kind = E_DATA_CALL, .len = (uint32_t)n, .dfn = fn, .arg = arg,
				   .off = off };
		put(h, &e, p, n);
		p += n;
		off += n;
		len -= n;
	}
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
	while (h->full_head || h->running)
		pthread_cond_wait(&h->freed, &h->mu);
	pthread_mutex_unlock(&h->mu);
}

void weft_hasher_free(struct hasher *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	if (h->cur->used)
		rotate(h);
	h->stop = true;
	pthread_cond_signal(&h->work);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->th, NULL);
	free(h->cur);
	while (h->free_list) {
		struct batch *b = h->free_list;
		h->free_list = b->next;
		free(b);
	}
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->work);
	pthread_cond_destroy(&h->freed);
	free(h);
}
