/* SPDX-License-Identifier: MIT */
/* Sources that feed a weft engine. */
#ifndef WEFT_SOURCE_H
#define WEFT_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "weft/weft.h"

#ifdef __cplusplus
extern "C" {
#endif

enum weft_read_status {
	WEFT_READ_OK = 0,
	WEFT_READ_TRUNCATED = 1, /* everything before a cut last record was read */
	WEFT_READ_ERROR = -1,    /* could not open, not a capture, bad filter */
};

struct weft_read_opts {
	const char *filter;    /* tcpdump expression, or NULL */
	bool progress;         /* a progress line on stderr */
	volatile int *stop;    /* set non-zero to stop early (signals) */
	/* Optional: feeds each frame instead of weft_engine_feed (a sink
	 * that wants the frames too: --pcap) */
	int (*feed)(void *arg, struct weft_engine *e, const struct weft_frame *f);
	void *feed_arg;
};

/* Read a pcap or pcapng file into the engine; "-" is stdin. Pipes and
 * FIFOs (/dev/stdin, <(...)) are read as a stream, regular files mapped. Connections stay open across
 * calls, so several files continue each other. err gets one line. */
enum weft_read_status weft_read_file(struct weft_engine *e, const char *path,
				     const struct weft_read_opts *o, uint64_t *packets,
				     char *err, size_t errlen);

/* Does a filter expression compile? (0, or -1 with err set) */
int weft_filter_check(const char *expr, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
