/* SPDX-License-Identifier: MIT */
/*
 * The sink's worker thread: file writes and report lines run beside the
 * reassembly instead of after it. Work goes in order through batches: a
 * stream's bytes are handled in the order they were given, and a call
 * queued after them sees them done. (Named for its first job, the digests,
 * which now run on the reader: see sink.c.)
 */
#ifndef WEFT_HASHER_H
#define WEFT_HASHER_H

#include <stddef.h>
#include <stdint.h>

struct hasher;

struct hasher *weft_hasher_new(void);
/* Run fn(arg, off, data, len) on the thread, in order, with a copy of the
 * len bytes at data (split into pieces, off advancing, when larger than a
 * batch): the sink hashes and writes a stream's bytes there, so the reader
 * thread only reassembles and copies. */
typedef void (*hasher_data_fn)(void *arg, uint64_t off, const uint8_t *data, size_t len);
void weft_hasher_data_call(struct hasher *h, hasher_data_fn fn, void *arg, uint64_t off,
		      const void *data, size_t len);
/* Run fn(arg) on the hashing thread once everything queued before is done. */
void weft_hasher_call(struct hasher *h, void (*fn)(void *arg), void *arg);
/* Hand over what is queued now, however little (a live source's tick: a
 * connection's report line must not wait for a batch to fill). */
void weft_hasher_push(struct hasher *h);
/* Wait until everything queued so far is done (the sink bounds the
 * memory of queued work this way). */
void weft_hasher_sync(struct hasher *h);
/* Finish everything queued, stop the thread. */
void weft_hasher_free(struct hasher *h);

#endif
