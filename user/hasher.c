/* SPDX-License-Identifier: MIT */
/*
 * The hashing thread. The caller appends entries (bytes for a digest, a run
 * of zeros, a call) to the batch it is filling; a full batch goes to the
 * thread and the caller takes a free one, waiting only when all are in use,
 * which bounds the memory at NBATCH * BATCH bytes.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "hasher.h"

#define BATCH (256u << 10)
#define NBATCH 8

enum { E_DATA, E_ZEROS, E_CALL };

struct entry {
	uint32_t kind, len;   /* len: bytes following (E_DATA) */
	union {
		struct sha256 *s;
		void (*fn)(void *);
	};
	union {
		uint64_t zeros;
		void *arg;
	};
};

struct batch {
	struct batch *next;
	size_t used;
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
		case E_DATA:
			sha256_update(e.s, b->buf + p, e.len);
			p += (e.len + 7) & ~7u;
			break;
		case E_ZEROS:
			sha256_zeros(e.s, e.zeros);
			break;
		default:
			e.fn(e.arg);
		}
	}
}

static void *thread_main(void *arg)
{
	struct hasher *h = arg;
	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (!h->full_head && !h->stop)
			pthread_cond_wait(&h->work, &h->mu);
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
		pthread_mutex_lock(&h->mu);
		b->next = h->free_list;
		h->free_list = b;
		h->running = false;
		pthread_cond_broadcast(&h->freed);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

struct hasher *hasher_new(void)
{
	struct hasher *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	for (int i = 0; i < NBATCH; i++) {
		struct batch *b = malloc(sizeof(*b));
		if (!b)
			break;
		b->used = 0;
		b->next = h->free_list;
		h->free_list = b;
	}
	h->cur = h->free_list;
	h->free_list = h->cur ? h->cur->next : NULL;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->work, NULL);
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

/* Hand the current batch over and take a free one. */
static void rotate(struct hasher *h)
{
	pthread_mutex_lock(&h->mu);
	h->cur->next = NULL;
	if (h->full_tail) h->full_tail->next = h->cur; else h->full_head = h->cur;
	h->full_tail = h->cur;
	pthread_cond_signal(&h->work);
	while (!h->free_list)
		pthread_cond_wait(&h->freed, &h->mu);
	h->cur = h->free_list;
	h->free_list = h->cur->next;
	pthread_mutex_unlock(&h->mu);
}

void hasher_push(struct hasher *h)
{
	if (h->cur->used)
		rotate(h);
}

static void put(struct hasher *h, const struct entry *e, const void *data, size_t len)
{
	size_t need = sizeof(*e) + ((len + 7) & ~(size_t)7);
	if (h->cur->used + need > BATCH)
		rotate(h);
	memcpy(h->cur->buf + h->cur->used, e, sizeof(*e));
	if (len)
		memcpy(h->cur->buf + h->cur->used + sizeof(*e), data, len);
	h->cur->used += need;
}

void hasher_data(struct hasher *h, struct sha256 *s, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t chunk = BATCH - sizeof(struct entry);
	while (len) {
		size_t n = len < chunk ? len : chunk;
		struct entry e = { .kind = E_DATA, .len = (uint32_t)n, .s = s };
		put(h, &e, p, n);
		p += n;
		len -= n;
	}
}

void hasher_zeros(struct hasher *h, struct sha256 *s, uint64_t len)
{
	struct entry e = { .kind = E_ZEROS, .s = s, .zeros = len };
	put(h, &e, NULL, 0);
}

void hasher_call(struct hasher *h, void (*fn)(void *), void *arg)
{
	struct entry e = { .kind = E_CALL, .fn = fn, .arg = arg };
	put(h, &e, NULL, 0);
}

void hasher_sync(struct hasher *h)
{
	hasher_push(h);
	pthread_mutex_lock(&h->mu);
	while (h->full_head || h->running)
		pthread_cond_wait(&h->freed, &h->mu);
	pthread_mutex_unlock(&h->mu);
}

void hasher_free(struct hasher *h)
{
	if (!h)
		return;
	if (h->cur->used)
		rotate(h);
	pthread_mutex_lock(&h->mu);
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
