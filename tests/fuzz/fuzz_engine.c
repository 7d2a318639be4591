/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target over decode, defrag, flow table, reassembly and the
 * report: the input is a run of frames, each a link type byte, a 16-bit
 * length and that many bytes, fed with rising packet times into an engine
 * with small caps (so eviction paths run too) and callbacks that check the
 * engine's own promises: data and gaps arrive in stream order.
 *
 * With bit 5 of the first byte the rest of the input is a capture file
 * instead (pcap or pcapng, block options and all), read through
 * weft_read_file from a memory file: the file reader's parsing (if_tsresol,
 * if_tsoffset, block lengths) is fuzzed too.
 *
 * With bit 4 of the first byte the callbacks also use the API the header
 * allows them: end a connection (any reason, valid or not), ignore a side,
 * end another connection from on_end, consume part of the bytes with
 * keep_unconsumed; and between frames the caller ends and ignores
 * connections by id. Which and when is chosen by the bytes delivered.
 */
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include "weft/weft.h"
#include "weft/source.h"

static const uint32_t links[] = { WEFT_LINK_ETHERNET, WEFT_LINK_RAW, WEFT_LINK_IPV4,
				  WEFT_LINK_IPV6, WEFT_LINK_SLL, WEFT_LINK_SLL2,
				  WEFT_LINK_NULL, WEFT_LINK_LOOP, WEFT_LINK_PPP };
#define NLINKS (sizeof(links) / sizeof(links[0]))

struct pos { uint64_t next[2]; };
static bool resync_on, api_on, keep_on;
static struct weft_engine *eng;

/* Use the API from inside a callback, as the bytes say. */
static void poke(struct weft_conn *c, uint8_t a, uint8_t b)
{
	switch (a & 0x1f) {
	case 1:
		weft_conn_end(eng, c, (enum weft_end_reason)(b % (WEFT_END__COUNT + 2)));
		break;
	case 2:
		weft_conn_ignore(c, (enum weft_dir)(b & 1));
		break;
	case 3: {
		struct weft_conn *o = weft_engine_find(eng, weft_conn_info(c)->id - 1 - (b & 3));
		if (o)
			weft_conn_end(eng, o, WEFT_END_EOF);
		break;
	}
	}
}

static size_t on_data(void *ctx, struct weft_conn *c, enum weft_dir d, uint64_t off,
		      const uint8_t *data, size_t len)
{
	(void)ctx;
	struct pos *p = weft_conn_user(c);
	size_t used = len;
	if (api_on && len) {
		poke(c, data[len - 1], data[0]);
		if (keep_on)
			used = data[0] % (len + 2); /* more than len is clamped */
	}
	if (off < p->next[d]) {
		fprintf(stderr, "data at %llu, stream at %llu\n", (unsigned long long)off,
			(unsigned long long)p->next[d]);
		abort(); /* bytes delivered twice or backwards */
	}
	p->next[d] = off + (keep_on ? (used < len ? used : len) : len);
	return used;
}

static void on_gap(void *ctx, struct weft_conn *c, enum weft_dir d, uint64_t off, uint64_t len)
{
	(void)ctx;
	struct pos *p = weft_conn_user(c);
	/* bytes the resync hook skipped advance the stream unseen, and so do
	 * unconsumed bytes a gap cuts off */
	bool loose = resync_on || (api_on && keep_on);
	if ((loose ? off < p->next[d] : off != p->next[d]) || !len) {
		fprintf(stderr, "gap at %llu len %llu, stream at %llu\n", (unsigned long long)off,
			(unsigned long long)len, (unsigned long long)p->next[d]);
		abort(); /* a gap must start where the stream stands */
	}
	p->next[d] = off + len;
	if (api_on)
		poke(c, (uint8_t)(off + len), (uint8_t)len);
}

/* Late bytes: inside the stream already passed, never past it. */
static void on_late(void *ctx, struct weft_conn *c, enum weft_dir d, uint64_t off,
		    const uint8_t *data, size_t len)
{
	(void)ctx;
	(void)data;
	struct pos *p = weft_conn_user(c);
	if (!len || off + len > p->next[d]) {
		fprintf(stderr, "late at %llu len %zu, stream at %llu\n", (unsigned long long)off,
			len, (unsigned long long)p->next[d]);
		abort();
	}
	if (api_on)
		poke(c, (uint8_t)off, (uint8_t)len);
}

static void on_start(void *ctx, struct weft_conn *c)
{
	(void)ctx;
	if (api_on && weft_conn_info(c)->id % 11 == 3)
		weft_conn_end(eng, c, WEFT_END_MANUAL);
}

static void on_end(void *ctx, struct weft_conn *c, enum weft_end_reason r)
{
	(void)ctx;
	if (api_on)
		poke(c, (uint8_t)(3 + 32 * r), (uint8_t)weft_conn_info(c)->id);
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
	api_on = n && (in[0] & 16);
	keep_on = cfg.keep_unconsumed;
	struct weft_callbacks cb = { .on_data = on_data, .on_gap = on_gap, .on_late = on_late,
				     .on_resync = (n && (in[0] & 8)) ? on_resync : NULL,
				     .on_start = on_start, .on_end = on_end };
	struct weft_engine *e = weft_engine_new(&cfg, &cb);
	eng = e;
	if (n && (in[0] & 32)) {
		/* a capture file: the reader's own parsing */
		int fd = memfd_create("cap", 0);
		if (fd >= 0 && write(fd, in + 1, n - 1) == (ssize_t)(n - 1)) {
			char path[64], err[256];
			uint64_t packets = 0;
			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			weft_read_file(e, path, NULL, &packets, err, sizeof(err));
		}
		if (fd >= 0)
			close(fd);
		weft_engine_flush(e, WEFT_END_EOF);
		weft_engine_free(e);
		return 0;
	}
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
		if (api_on && len % 13 == 5) {
			/* the caller, between frames (a live control request) */
			struct weft_conn *c = weft_engine_find(e, len % 5 + 1);
			if (c && (len & 64))
				weft_conn_ignore(c, (enum weft_dir)(len >> 7 & 1));
			else if (c)
				weft_conn_end(e, c, WEFT_END_MANUAL);
		}
		i += len;
	}
	weft_engine_flush(e, WEFT_END_EOF);
	weft_engine_free(e);
	return 0;
}
