/* SPDX-License-Identifier: MIT */
/*
 * The sink's two worker threads: one makes the streams' digests, the other
 * writes the files and the report lines, both beside the reassembly. Work
 * goes in order through batches, each passing the digest thread and then
 * the writing thread: a stream's bytes are hashed and written in the order
 * they were given, and a call queued after them sees them done. Three
 * threads for three costs of about the same size (reassembly, SHA-256,
 * the page cache): on two CPUs the scheduler shares them out, where a
 * fixed split of the work between two threads left one idle a third of
 * the time.
 */
#ifndef WEFT_HASHER_H
#define WEFT_HASHER_H

#include <stddef.h>
#include <stdint.h>
#include "sha256.h"

struct hasher;

struct hasher *weft_hasher_new(void);
/* With a copy of the len bytes at data (split into pieces, off advancing,
 * when larger than a batch): on the digest thread sha (if not NULL) takes
 * them, then on the writing thread fn(arg, off, data, len) runs (if fn is
 * not NULL). */
typedef void (*hasher_data_fn)(void *arg, uint64_t off, const uint8_t *data, size_t len);
void weft_hasher_data_call(struct hasher *h, hasher_data_fn fn, void *arg, uint64_t off,
		      const void *data, size_t len, struct sha256 *sha);
/* n zero bytes into sha, on the digest thread, in order with its bytes. */
void weft_hasher_zeros(struct hasher *h, struct sha256 *sha, uint64_t n);
/* Run fn(arg) on the writing thread once everything queued before is done
 * (digests included). */
void weft_hasher_call(struct hasher *h, void (*fn)(void *arg), void *arg);
/* Hand over what is queued now, however little (a live source's tick: a
 * connection's report line must not wait for a batch to fill). */
void weft_hasher_push(struct hasher *h);
/* Wait until everything queued so far is done (the sink bounds the
 * memory of queued work this way). */
void weft_hasher_sync(struct hasher *h);
/* Finish everything queued, stop the threads. */
void weft_hasher_free(struct hasher *h);

#endif
