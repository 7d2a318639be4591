/* SPDX-License-Identifier: MIT */
/*
 * A second thread for the per-stream SHA-256 and the report lines, so
 * hashing runs beside the reassembly and file writes instead of after them.
 * Work goes in order through batches: a stream's bytes are hashed in the
 * order they were given, and a call queued after them sees them hashed.
 */
#ifndef WEFT_HASHER_H
#define WEFT_HASHER_H

#include <stddef.h>
#include <stdint.h>
#include "sha256.h"

struct hasher;

struct hasher *hasher_new(void);
void hasher_data(struct hasher *h, struct sha256 *s, const void *data, size_t len);
void hasher_zeros(struct hasher *h, struct sha256 *s, uint64_t len);
/* Run fn(arg) on the hashing thread once everything queued before is done. */
void hasher_call(struct hasher *h, void (*fn)(void *arg), void *arg);
/* Hand over what is queued now, however little (a live source's tick: a
 * connection's report line must not wait for a batch to fill). */
void hasher_push(struct hasher *h);
/* Wait until everything queued so far is done (the sink bounds the
 * memory of queued work this way). */
void hasher_sync(struct hasher *h);
/* Finish everything queued, stop the thread. */
void hasher_free(struct hasher *h);

#endif
