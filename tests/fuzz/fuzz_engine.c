/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target over decode, defrag, flow table, reassembly and the
 * report: the input is a run of frames, each a link type byte, a 16-bit
 * length and that many bytes, fed with rising packet times into an engine
 * with small caps (so eviction paths run too) and callbacks that check the
 * engine's own promises: data and gaps arrive in stream order.
 */
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include "weft/weft.h"

static const uint32_t links[] = { WEFT_LINK_ETHERNET, WEFT_LINK_RAW, WEFT_LINK_IPV4,
				  WEFT_LINK_IPV6, WEFT_LINK_SLL, WEFT_LINK_SLL2,
				  WEFT_LINK_NULL, WEFT_LINK_LOOP, WEFT_LINK_PPP };
#define NLINKS (sizeof(links) / sizeof(links[0]))

struct pos { uint64_t next[2]; };
static bool resync_on;

static size_t on_data(void *ctx, struct weft_conn *c, enum weft_dir d, uint64_t off,
		      const uint8_t *data, size_t len)
{
	(void)ctx; (void)data;
	struct pos *p = weft_conn_user(c);
	if (off < p->next[d]) {
		fprintf(stderr, "data at %llu, stream at %llu\n", (unsigned long long)off,
			(unsigned long long)p->next[d]);
		abort(); /* bytes delivered twice or backwards */
	}
	p->next[d] = off + len;
	return len;
}

static void on_gap(void *ctx, struct weft_conn *c, enum weft_dir d, uint64_t off, uint64_t len)
{
	(void)ctx;
	struct pos *p = weft_conn_user(c);
	/* bytes the resync hook skipped advance the stream unseen */
	if ((resync_on ? off < p->next[d] : off != p->next[d]) || !len) {
		fprintf(stderr, "gap at %llu len %llu, stream at %llu\n", (unsigned long long)off,
			(unsigned long long)len, (unsigned long long)p->next[d]);
		abort(); /* a gap must start where the stream stands */
	}
	p->next[d] = off + len;
}

static ssize_t on_resync(void *ctx, struct weft_conn *c, enum weft_dir d, const uint8_t *data,
			 size_t len)
{
	(void)ctx; (void)c; (void)d;
	return len && data[0] == 'G' ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
	struct weft_config cfg;
	weft_config_default(&cfg);
	cfg.memcap = 256 << 10;
	cfg.buffer_cap = 4096;
	cfg.max_flows = 16;
	cfg.idle_established_ns = 2000000000ull;
	cfg.frag_max_datagrams = 8;
	cfg.conn_user_size = sizeof(struct pos);
	if (n && (in[0] & 1))
		cfg.overlap = WEFT_OVERLAP_LAST;
	if (n && (in[0] & 2))
		cfg.depth = 100;
	if (n && (in[0] & 4))
		cfg.keep_unconsumed = true;
	resync_on = n && (in[0] & 8);
	struct weft_callbacks cb = { .on_data = on_data, .on_gap = on_gap,
				     .on_resync = (n && (in[0] & 8)) ? on_resync : NULL };
	struct weft_engine *e = weft_engine_new(&cfg, &cb);
	uint64_t ts = 1;
	size_t i = n ? 1 : 0;
	while (i + 3 <= n) {
		uint32_t link = links[in[i] % NLINKS];
		uint32_t len = (uint32_t)in[i + 1] << 8 | in[i + 2];
		i += 3;
		if (len > n - i)
			len = (uint32_t)(n - i);
		/* copy so ASan sees reads past the frame, not into the next one */
		uint8_t *buf = malloc(len ? len : 1);
		memcpy(buf, in + i, len);
		ts += (uint64_t)(in[i - 3] >> 3) * 100000000ull;
		struct weft_frame f = { .ts_ns = ts, .data = buf, .caplen = len,
					.wirelen = len + (in[i - 3] & 0x80 ? 10 : 0), .link = link };
		weft_engine_feed(e, &f);
		free(buf);
		i += len;
	}
	weft_engine_flush(e, WEFT_END_EOF);
	weft_engine_free(e);
	return 0;
}
