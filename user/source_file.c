/* SPDX-License-Identifier: MIT */
/*
 * Capture files: pcap (micro- or nanosecond, either byte order) and pcapng
 * (sections, interfaces with their own link types and time resolutions,
 * enhanced, simple and obsolete packet blocks), read from a memory map with
 * no copy. libpcap (1.10 here) refuses a pcapng file whose interfaces differ
 * in link type, which real captures do ("any" plus Ethernet); reading the
 * blocks ourselves handles them and saves a copy per packet. Filters still
 * use libpcap's compiler, once per link type, through pcap_offline_filter.
 *
 * Pipes (tcpdump -w - | weft read -, /dev/stdin, <(...)) cannot be mapped:
 * they are read through a window that slides over the stream, refilled when
 * a record runs past its end, so the same parsers serve both.
 *
 * A record cut short at the end is reported, not fatal: what came before it
 * is kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <pcap/pcap.h>
#include "weft/source.h"

#define MAX_RECORD (1u << 20) /* a larger record is corruption, not data */
#define MAX_BLOCK (64u << 20) /* a larger pcapng block too */
#define WINDOW (1u << 20)     /* a stream's read-ahead */
#define MAX_IFACES 256

struct iface {
	uint32_t link;
	uint64_t units;    /* timestamp units per second */
	int64_t offset_s;  /* if_tsoffset */
};

struct filter {
	const char *expr;
	struct { uint32_t link; bool ok; struct bpf_program prog; } c[8];
	int n;
};

struct reader {
	const uint8_t *p;
	size_t len, pos, dropped;
	bool swap;
	const char *path;
	struct weft_engine *e;
	const struct weft_read_opts *o;
	struct filter *flt;
	uint64_t n;
	char *err;
	size_t errlen;
	double next_progress;
	uint64_t last_ts;
	/* a stream: p is a window of cap bytes at stream offset base */
	bool stream, eof;
	int fd;
	uint8_t *win;
	size_t cap;
	uint64_t base;
	int rerr;             /* errno of a failed read */
	uint8_t *nullbuf;     /* the filter's copy of a DLT_NULL frame */
	uint32_t nullcap;
	uint32_t magic;
};

/* At least n bytes at pos? A map has what it has; a stream slides its
 * window (what was read is dropped) and reads on until it has them. */
static bool need(struct reader *r, size_t n)
{
	if (r->len - r->pos >= n)
		return true;
	if (!r->stream || r->eof)
		return false;
	if (r->pos) {
		memmove(r->win, r->win + r->pos, r->len - r->pos);
		r->base += r->pos;
		r->len -= r->pos;
		r->pos = 0;
	}
	if (n > r->cap) {
		uint8_t *nw = realloc(r->win, n);
		if (!nw) {
			r->rerr = ENOMEM;
			r->eof = true;
			return false;
		}
		r->win = nw;
		r->cap = n;
	}
	r->p = r->win;
	while (r->len < n) {
		ssize_t got = read(r->fd, r->win + r->len, r->cap - r->len);
		if (got < 0 && errno == EINTR) {
			if (r->o && r->o->stop && *r->o->stop)
				break;
			continue;
		}
		if (got <= 0) {
			if (got < 0)
				r->rerr = errno;
			r->eof = true;
			break;
		}
		r->len += (size_t)got;
	}
	return r->len - r->pos >= n;
}

static inline uint32_t r32(const struct reader *r, const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return r->swap ? __builtin_bswap32(v) : v;
}

static inline uint16_t r16(const struct reader *r, const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return r->swap ? __builtin_bswap16(v) : v;
}

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* libpcap's compiler takes the DLT_ value, which differs from the link
 * type a file holds for a few old ones (LINKTYPE_RAW is 101 in a file, and
 * DLT_RAW 12 or 14 by platform); the rest are the same number. */
static int link_to_dlt(uint32_t link)
{
	switch (link) {
	case 100: return DLT_ATM_RFC1483;
	case 101: return DLT_RAW;
	case 102: return DLT_SLIP_BSDOS;
	case 103: return DLT_PPP_BSDOS;
	case 106: return DLT_ATM_CLIP;
	default: return (int)link;
	}
}

/* Compile the filter for a link type the first time it is seen. */
static int filter_get(struct reader *r, uint32_t link, struct bpf_program **out)
{
	struct filter *f = r->flt;
	for (int i = 0; i < f->n; i++) {
		if (f->c[i].link == link) {
			*out = f->c[i].ok ? &f->c[i].prog : NULL;
			return 0;
		}
	}
	if (f->n == 8)
		return -1;
	pcap_t *dead = pcap_open_dead(link_to_dlt(link), 262144);
	if (!dead)
		return -1;
	int i = f->n++;
	f->c[i].link = link;
	f->c[i].ok = pcap_compile(dead, &f->c[i].prog, f->expr, 1, PCAP_NETMASK_UNKNOWN) == 0;
	if (!f->c[i].ok)
		snprintf(r->err, r->errlen, "filter '%s': %s", f->expr, pcap_geterr(dead));
	pcap_close(dead);
	if (!f->c[i].ok)
		return -1;
	*out = &f->c[i].prog;
	return 0;
}

/* Pages of the map already read are dropped as the reader moves on, so a
 * large file does not sit in the resident set (the memory cap is about the
 * engine, not the input). */
#define DROP_EVERY (4u << 20)

static void drop_behind(struct reader *r)
{
	size_t upto = r->pos & ~(size_t)(DROP_EVERY - 1);
	if (upto > r->dropped) {
		madvise((void *)(r->p + r->dropped), upto - r->dropped, MADV_DONTNEED);
		r->dropped = upto;
	}
}

/* The first word of a DLT_NULL or DLT_LOOP frame as libpcap's compiler
 * expects it from a handle of its own (pcap_open_dead): this host's
 * AF_INET or AF_INET6, in this host's order for NULL and network order
 * for LOOP. A file holds the capturing host's family in that host's order
 * (NULL), and BSDs number AF_INET6 24, 28 or 30, Windows 23: libpcap
 * allows for both only for a file it opened itself. */
static uint32_t loop_af_word(uint32_t link, const uint8_t *p)
{
	uint32_t raw, af;
	memcpy(&raw, p, 4);
	af = raw <= 0xffff ? raw : __builtin_bswap32(raw); /* families are small */
	if (af == 2)
		af = AF_INET;
	else if (af == 10 || af == 23 || af == 24 || af == 28 || af == 30)
		af = AF_INET6;
	else
		return raw;
	return link == DLT_LOOP ? htonl(af) : af;
}

static int deliver(struct reader *r, uint32_t link, uint64_t ts, const uint8_t *data,
		   uint32_t caplen, uint32_t wirelen)
{
	if (!r->stream && r->pos - r->dropped >= 2 * DROP_EVERY)
		drop_behind(r);
	if (r->flt) {
		struct bpf_program *prog;
		if (filter_get(r, link, &prog) != 0)
			return -1;
		struct pcap_pkthdr h = { .caplen = caplen, .len = wirelen };
		const uint8_t *fd = data;
		uint32_t w;
		if ((link == DLT_NULL || link == DLT_LOOP) && caplen >= 4 &&
		    (w = loop_af_word(link, data), memcmp(&w, data, 4))) {
			/* the filter sees the frame with its family as
			 * libpcap's compiler has it (loop_af_word) */
			if (caplen > r->nullcap) {
				uint8_t *nb = realloc(r->nullbuf, caplen);
				if (!nb)
					return -1;
				r->nullbuf = nb;
				r->nullcap = caplen;
			}
			memcpy(r->nullbuf, data, caplen);
			memcpy(r->nullbuf, &w, 4);
			fd = r->nullbuf;
		}
		if (prog && !pcap_offline_filter(prog, &h, fd))
			return 0;
	}
	struct weft_frame f = { .ts_ns = ts, .data = data, .caplen = caplen,
				.wirelen = wirelen, .link = link };
	r->last_ts = ts;
	if (r->o && r->o->feed)
		r->o->feed(r->o->feed_arg, r->e, &f);
	else
		weft_engine_feed(r->e, &f);
	r->n++;
	if (r->next_progress && (r->n & 0xfff) == 0 && mono_now() >= r->next_progress) {
		if (r->stream)
			fprintf(stderr, "\r%s: %llu MB, %llu packets   ", r->path,
				(unsigned long long)((r->base + r->pos) >> 20),
				(unsigned long long)r->n);
		else
			fprintf(stderr, "\r%s: %.0f%% (%zu of %zu MB), %llu packets   ", r->path,
			100.0 * (double)r->pos / (double)r->len, r->pos >> 20, r->len >> 20,
			(unsigned long long)r->n);
		r->next_progress = mono_now() + 0.5;
	}
	return 0;
}

static bool stopped(const struct reader *r)
{
	return r->o && r->o->stop && *r->o->stop;
}

/* The next record, as far as a full-size packet goes, asked of memory
 * while this one is worked on: it starts past this payload, where the
 * CPU's own prefetcher does not look, and the engine copies its payload
 * soon (the misses were 40% of the engine's time: 0.24 s, now 0.19 s, on
 * bench-read's capture). A mapped file only: a stream's window may move. */
#define PREFETCH_SPAN 1600

static inline void prefetch_next(const struct reader *r, const uint8_t *next)
{
	if (r->stream || (size_t)(next - r->p) + PREFETCH_SPAN > r->len)
		return;
	for (int k = 0; k < PREFETCH_SPAN; k += 64) {
		__builtin_prefetch(next + k);
		__asm__ volatile("" : : "r"(k)); /* GCC 12 deletes a loop of prefetches alone */
	}
}

static enum weft_read_status read_pcap(struct reader *r)
{
	uint32_t magic = r->magic;
	bool nano = magic == 0xa1b23c4d || magic == 0x4d3cb2a1;
	r->swap = magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1;
	if (!need(r, 24)) {
		snprintf(r->err, r->errlen, "%s: pcap header cut short", r->path);
		return WEFT_READ_ERROR;
	}
	uint32_t link = r32(r, r->p + 20) & 0x0fffffff; /* high bits: FCS flags */
	r->pos = 24;
	while (!stopped(r) && need(r, 1)) {
		if (!need(r, 16))
			goto cut;
		const uint8_t *h = r->p + r->pos;
		uint32_t sec = r32(r, h), frac = r32(r, h + 4);
		uint32_t cap = r32(r, h + 8), wire = r32(r, h + 12);
		if (cap > MAX_RECORD) {
			snprintf(r->err, r->errlen, "%s: corrupt record after %llu packets "
				 "(%u bytes claimed); everything before it was read", r->path,
				 (unsigned long long)r->n, cap);
			return WEFT_READ_TRUNCATED;
		}
		if (!need(r, 16 + (size_t)cap))
			goto cut;
		h = r->p + r->pos;
		prefetch_next(r, h + 16 + cap);
		uint64_t ts = (uint64_t)sec * 1000000000ull + (nano ? frac : (uint64_t)frac * 1000);
		if (deliver(r, link, ts, h + 16, cap, wire < cap ? cap : wire) != 0)
			return WEFT_READ_ERROR;
		r->pos += 16 + cap;
	}
	return WEFT_READ_OK;
cut:
	if (stopped(r))
		return WEFT_READ_OK; /* a signal cut the read, not the file */
	snprintf(r->err, r->errlen, "%s: last record cut short after %llu packets; "
		 "everything before it was read", r->path, (unsigned long long)r->n);
	return WEFT_READ_TRUNCATED;
}

/* Packet time in ns. if_tsresol and if_tsoffset come from the file: a
 * time past 2^64 ns (year 2554) or before 1970 saturates rather than
 * overflow (undefined for the signed offset and the float conversion); the
 * engine's clock guard deals with a silly time like any other. */
static uint64_t ts_ns(const struct iface *i, uint64_t t)
{
	const uint64_t NSEC = 1000000000ull;
	uint64_t ns;
	if (i->units == NSEC) {
		ns = t;
	} else if (i->units == 1000000ull) {
		ns = t > UINT64_MAX / 1000 ? UINT64_MAX : t * 1000;
	} else {
		long double v = (long double)t * 1e9L / (long double)i->units;
		ns = v >= 18446744073709551616.0L ? UINT64_MAX : (uint64_t)v;
	}
	/* the offset's magnitude, computed without negating INT64_MIN */
	bool back = i->offset_s < 0;
	uint64_t mag = back ? (uint64_t)(-(i->offset_s + 1)) + 1 : (uint64_t)i->offset_s;
	uint64_t o = mag > UINT64_MAX / NSEC ? UINT64_MAX : mag * NSEC;
	if (back)
		return ns < o ? 0 : ns - o;
	return ns > UINT64_MAX - o ? UINT64_MAX : ns + o;
}

static void parse_idb_options(struct reader *r, const uint8_t *o, size_t len, struct iface *i)
{
	size_t q = 0;
	while (q + 4 <= len) {
		uint16_t code = r16(r, o + q), olen = r16(r, o + q + 2);
		if (code == 0 || q + 4 + olen > len)
			break;
		const uint8_t *v = o + q + 4;
		if (code == 9 && olen >= 1) { /* if_tsresol */
			uint8_t res = v[0];
			uint64_t u = 1;
			if (res & 0x80) {
				if ((res & 0x7f) < 64)
					u = 1ull << (res & 0x7f);
			} else {
				for (int k = 0; k < (res & 0x7f) && k < 19; k++)
					u *= 10;
			}
			i->units = u;
		} else if (code == 14 && olen >= 8) { /* if_tsoffset */
			uint64_t off;
			memcpy(&off, v, 8);
			i->offset_s = (int64_t)(r->swap ? __builtin_bswap64(off) : off);
		}
		q += 4 + (((size_t)olen + 3) & ~(size_t)3);
	}
}

static enum weft_read_status read_pcapng(struct reader *r)
{
	struct iface ifs[MAX_IFACES];
	uint32_t nif = 0;
	r->pos = 0;
	while (!stopped(r) && need(r, 1)) {
		if (!need(r, 12))
			goto cut;
		const uint8_t *b = r->p + r->pos;
		uint32_t type;
		memcpy(&type, b, 4);
		if (type == 0x0a0d0d0a) {
			/* a section: its byte-order magic decides the rest */
			uint32_t bom;
			memcpy(&bom, b + 8, 4);
			if (bom == 0x1a2b3c4d)
				r->swap = false;
			else if (bom == 0x4d3c2b1a)
				r->swap = true;
			else
				goto corrupt;
			nif = 0;
		} else {
			type = r32(r, b);
		}
		uint32_t blen = r32(r, b + 4);
		if (blen < 12 || blen % 4 || blen > MAX_BLOCK)
			goto corrupt;
		if (!need(r, blen))
			goto cut;
		b = r->p + r->pos;
		const uint8_t *body = b + 8;
		size_t bl = blen - 12;
		prefetch_next(r, b + blen);
		if (type == 1) { /* interface description */
			if (bl < 8)
				goto corrupt;
			if (nif < MAX_IFACES) {
				struct iface *i = &ifs[nif++];
				i->link = r16(r, body);
				i->units = 1000000;
				i->offset_s = 0;
				parse_idb_options(r, body + 8, bl - 8, i);
			}
		} else if (type == 6 || type == 2) { /* enhanced / obsolete packet */
			if (bl < 20)
				goto corrupt;
			uint32_t id = type == 6 ? r32(r, body) : r16(r, body);
			uint64_t t = (uint64_t)r32(r, body + 4) << 32 | r32(r, body + 8);
			uint32_t cap = r32(r, body + 12), wire = r32(r, body + 16);
			if (id >= nif || cap > bl - 20)
				goto corrupt;
			if (deliver(r, ifs[id].link, ts_ns(&ifs[id], t), body + 20, cap,
				    wire < cap ? cap : wire) != 0)
				return WEFT_READ_ERROR;
		} else if (type == 3) { /* simple packet: interface 0, no time */
			if (bl < 4 || !nif)
				goto corrupt;
			uint32_t wire = r32(r, body);
			uint32_t cap = (uint32_t)(bl - 4) < wire ? (uint32_t)(bl - 4) : wire;
			if (deliver(r, ifs[0].link, r->last_ts, body + 4, cap, wire) != 0)
				return WEFT_READ_ERROR;
		}
		r->pos += blen;
	}
	return WEFT_READ_OK;
cut:
	if (stopped(r))
		return WEFT_READ_OK; /* a signal cut the read, not the file */
	snprintf(r->err, r->errlen, "%s: last block cut short after %llu packets; "
		 "everything before it was read", r->path, (unsigned long long)r->n);
	return WEFT_READ_TRUNCATED;
corrupt:
	snprintf(r->err, r->errlen, "%s: corrupt pcapng block at byte %llu after %llu packets; "
		 "everything before it was read", r->path,
		 (unsigned long long)(r->base + r->pos), (unsigned long long)r->n);
	return WEFT_READ_TRUNCATED;
}

int weft_filter_check(const char *expr, char *err, size_t errlen)
{
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 262144);
	struct bpf_program prog;
	if (!dead)
		return -1;
	int rc = pcap_compile(dead, &prog, expr, 1, PCAP_NETMASK_UNKNOWN);
	if (rc != 0)
		snprintf(err, errlen, "filter '%s': %s", expr, pcap_geterr(dead));
	else
		pcap_freecode(&prog);
	pcap_close(dead);
	return rc == 0 ? 0 : -1;
}

enum weft_read_status weft_read_file(struct weft_engine *e, const char *path,
				     const struct weft_read_opts *o, uint64_t *packets,
				     char *err, size_t errlen)
{
	bool is_stdin = !strcmp(path, "-");
	int fd = is_stdin ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	/* (a FIFO's open waits for its writer: a stop may come first) */
	if (fd < 0 && errno == EINTR && o && o->stop && *o->stop)
		return WEFT_READ_OK; /* nothing read: the caller says it was cut */
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return WEFT_READ_ERROR;
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0 || S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "%s: %s", path, S_ISDIR(sb.st_mode) ? "is a directory" :
			 strerror(errno));
		if (!is_stdin)
			close(fd);
		return WEFT_READ_ERROR;
	}
	struct filter flt = { .expr = o ? o->filter : NULL };
	struct reader r = { .path = is_stdin ? "stdin" : path, .e = e, .o = o, .fd = fd,
			    .flt = flt.expr && *flt.expr ? &flt : NULL,
			    .err = err, .errlen = errlen };
	const uint8_t *map = NULL;
	size_t maplen = 0;
	if (S_ISREG(sb.st_mode) && sb.st_size >= 4) {
		maplen = (size_t)sb.st_size;
		map = mmap(NULL, maplen, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			snprintf(err, errlen, "%s: %s", r.path, strerror(errno));
			if (!is_stdin)
				close(fd);
			return WEFT_READ_ERROR;
		}
		madvise((void *)map, maplen, MADV_SEQUENTIAL);
		r.p = map;
		r.len = maplen;
	} else {
		/* a pipe, a FIFO, a device, or a file too short to map */
		r.stream = true;
		r.cap = WINDOW;
		r.win = malloc(r.cap);
		if (!r.win) {
			snprintf(err, errlen, "out of memory");
			if (!is_stdin)
				close(fd);
			return WEFT_READ_ERROR;
		}
		r.p = r.win;
	}
	if (o && o->progress)
		r.next_progress = mono_now() + 0.5;
	enum weft_read_status st;
	if (need(&r, 4))
		memcpy(&r.magic, r.p, 4);
	uint32_t magic = r.magic;
	if (magic == 0xa1b2c3d4 || magic == 0xd4c3b2a1 || magic == 0xa1b23c4d ||
	    magic == 0x4d3cb2a1) {
		st = read_pcap(&r);
	} else if (magic == 0x0a0d0d0a) {
		st = read_pcapng(&r);
	} else if (stopped(&r)) {
		st = WEFT_READ_OK; /* stopped before the file's first bytes came */
	} else if (r.rerr) {
		snprintf(err, errlen, "%s: %s", r.path, strerror(r.rerr));
		st = WEFT_READ_ERROR;
	} else {
		snprintf(err, errlen, "%s: not a pcap or pcapng capture file", r.path);
		st = WEFT_READ_ERROR;
	}
	if (st == WEFT_READ_TRUNCATED && r.rerr)
		snprintf(err, errlen, "%s: %s after %llu packets; everything before was read",
			 r.path, strerror(r.rerr), (unsigned long long)r.n);
	if (r.next_progress)
		fprintf(stderr, "\r%s: %llu packets%40s\n", r.path, (unsigned long long)r.n, "");
	for (int i = 0; i < flt.n; i++)
		if (flt.c[i].ok)
			pcap_freecode(&flt.c[i].prog);
	if (map)
		munmap((void *)map, maplen);
	free(r.win);
	free(r.nullbuf);
	if (!is_stdin)
		close(fd);
	if (packets)
		*packets += r.n;
	return st;
}
