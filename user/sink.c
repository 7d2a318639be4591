/* SPDX-License-Identifier: MIT */
/*
 * The file sink: per-direction files at stream offsets (gap bytes are holes,
 * which read as zeros), a running SHA-256 of each, and the report lines when
 * a connection ends. Open files are bounded (an LRU of FILE streams), so a
 * capture with a million connections needs no more descriptors than a small
 * one. Files are created 0640, exclusively, never through a symlink.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "weft/sink.h"
#include "sha256.h"
#include "report.h"
#include "hasher.h"

struct sink_dir {
	struct sha256 sha;
	char *name;           /* relative to the output directory */
	FILE *f;
	struct sink_dir *oprev, *onext; /* open-file LRU */
	uint64_t pos;         /* where the stream's next byte goes */
	uint64_t len;         /* stream length so far */
	struct report_gaps gaps;
	bool failed;
};

/* What the sink holds counts in the engine's memory account (cap and
 * peak): per direction its state, a digest context (OpenSSL's EVP_MD_CTX
 * and SHA-256 state with malloc's overhead, measured about 300 bytes),
 * the file name and the gap list. Once a connection ends, its report job
 * waits for the hashing thread outside the account, bounded instead by
 * QUEUE_MAX: past it the sink waits for the thread to catch up. */
#define MALLOC_COST 16
#define SHA_COST 320
#define QUEUE_MAX (8u << 20)

struct sink_conn {
	struct sink_dir *d[2];
	uint32_t count;       /* the %c of both files */
};

struct weft_sink {
	struct weft_sink_opts o;
	int dirfd;
	struct report *rep;   /* written by the hashing thread only */
	struct hasher *hs;    /* NULL when there is no report to hash for */
	struct sink_dir *ohead, *otail;
	int nopen;
	int errors;
	uint64_t queued;      /* bytes of end jobs queued (atomic: the
			       * hashing thread releases them) */
	char *cbuf;           /* -c: chunks waiting to go out, or NULL */
	size_t clen;
	bool chunks_gone;     /* -c's reader went away */
};

/* -c's own buffer: stdio's is a page, a write per two or three chunks.
 * Bytes of a chunk this large or more skip it and go out in a write of
 * their own, as stdio does with a large fwrite: host mode's 64 KB GSO
 * records are written from where the ring holds them, with no copy. */
#define CHUNK_BUF (256u << 10)
#define CHUNK_DIRECT (16u << 10)

static const char *dir_name(enum weft_dir d) { return d == WEFT_C2S ? "c2s" : "s2c"; }

static void fmt_addr(const struct weft_conn_info *ci, const uint8_t *a, char *b, size_t n)
{
	if (ci->family == 4)
		snprintf(b, n, "%03u.%03u.%03u.%03u", a[0], a[1], a[2], a[3]);
	else
		weft_addr_str(6, a, b, n);
}

void weft_format_name(const char *t, const struct weft_conn_info *ci, enum weft_dir d,
		      uint32_t count, char *out, size_t len)
{
	const struct weft_endpoint *A = d == WEFT_C2S ? &ci->client : &ci->server;
	const struct weft_endpoint *B = d == WEFT_C2S ? &ci->server : &ci->client;
	size_t o = 0;
	char tmp[64];
	for (; *t && o + 1 < len; t++) {
		if (*t != '%' || !t[1]) {
			out[o++] = *t;
			continue;
		}
		tmp[0] = 0;
		switch (*++t) {
		case 'A': fmt_addr(ci, A->addr, tmp, sizeof(tmp)); break;
		case 'a': snprintf(tmp, sizeof(tmp), "%05u", A->port); break;
		case 'B': fmt_addr(ci, B->addr, tmp, sizeof(tmp)); break;
		case 'b': snprintf(tmp, sizeof(tmp), "%05u", B->port); break;
		case 'V': if (ci->nvlan) strcpy(tmp, "--"); break;
		case 'v': if (ci->nvlan) snprintf(tmp, sizeof(tmp), "%u", ci->vlan[0]); break;
		case 'C': if (count) strcpy(tmp, "c"); break;
		case 'c': if (count) snprintf(tmp, sizeof(tmp), "%u", count); break;
		case 'N': snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)ci->id); break;
		case 'T': report_time(ci->first_ns, tmp, sizeof(tmp)); break;
		case 't': snprintf(tmp, sizeof(tmp), "%llu",
				   (unsigned long long)(ci->first_ns / 1000000000ull)); break;
		case '%': strcpy(tmp, "%"); break;
		default: snprintf(tmp, sizeof(tmp), "%%%c", *t); break;
		}
		for (char *p = tmp; *p && o + 1 < len; p++)
			out[o++] = *p == '/' ? '_' : *p;
	}
	out[o] = 0;
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0750) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0750) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

struct weft_sink *weft_sink_open(const struct weft_sink_opts *o, char *err, size_t errlen)
{
	struct weft_sink *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->o = *o;
	s->dirfd = -1;
	if (!s->o.name_template)
		s->o.name_template = WEFT_DEFAULT_TEMPLATE;
	if (s->o.max_open <= 0)
		s->o.max_open = 128;
	/* chunks into a pipe or a file go out in large writes of our own (the
	 * live loop flushes them every second), after whatever stdio holds; a
	 * terminal gets each through stdio as it comes */
	if (o->chunks && !isatty(fileno(o->chunks))) {
		fflush(o->chunks);
		if (!(s->cbuf = malloc(CHUNK_BUF))) {
			snprintf(err, errlen, "out of memory");
			free(s);
			return NULL;
		}
	}
	if (o->dir && (o->files || o->report)) {
		if (mkdir_p(o->dir) != 0) {
			snprintf(err, errlen, "%s: %s", o->dir, strerror(errno));
			free(s);
			return NULL;
		}
		s->dirfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (s->dirfd < 0) {
			snprintf(err, errlen, "%s: %s", o->dir, strerror(errno));
			free(s);
			return NULL;
		}
		if (!o->force && faccessat(s->dirfd, "flows.jsonl", F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
			snprintf(err, errlen, "%s already holds weft output (flows.jsonl); "
				 "choose another directory or pass --force", o->dir);
			close(s->dirfd);
			free(s);
			return NULL;
		}
		if (o->report) {
			s->rep = report_open(s->dirfd, o->dir, o->command_line, err, errlen);
			s->hs = s->rep ? hasher_new() : NULL;
			if (!s->hs) {
				if (s->rep)
					report_close(s->rep);
				else
					snprintf(err, errlen, "%s: cannot create the report", o->dir);
				close(s->dirfd);
				free(s);
				return NULL;
			}
		}
	}
	return s;
}

static void lru_unlink(struct weft_sink *s, struct sink_dir *sd)
{
	if (sd->oprev) sd->oprev->onext = sd->onext; else s->ohead = sd->onext;
	if (sd->onext) sd->onext->oprev = sd->oprev; else s->otail = sd->oprev;
	sd->oprev = sd->onext = NULL;
}

static void file_close(struct weft_sink *s, struct sink_dir *sd)
{
	if (!sd->f)
		return;
	lru_unlink(s, sd);
	if (fclose(sd->f) != 0 && !sd->failed) {
		sd->failed = true;
		s->errors++;
	}
	sd->f = NULL;
	s->nopen--;
}

/* Open (or reopen) a direction's file; the first open creates it. */
static FILE *file_get(struct weft_sink *s, struct weft_conn *c, struct sink_conn *sc,
		      enum weft_dir d, struct sink_dir *sd)
{
	if (sd->f) {
		if (s->otail != sd) {
			lru_unlink(s, sd);
			sd->oprev = s->otail;
			if (s->otail) s->otail->onext = sd; else s->ohead = sd;
			s->otail = sd;
		}
		return sd->f;
	}
	if (sd->failed || s->dirfd < 0 || !s->o.files)
		return NULL;
	while (s->nopen >= s->o.max_open && s->ohead)
		file_close(s, s->ohead);
	int fd;
	if (!sd->name) {
		char name[NAME_MAX + 1];
		for (;;) {
			weft_format_name(s->o.name_template, weft_conn_info(c), d, sc->count,
					 name, sizeof(name));
			fd = openat(s->dirfd, name,
				    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
			if (fd >= 0 || errno != EEXIST || sc->count > 100000)
				break;
			/* the name is taken (an earlier connection on this tuple):
			 * both files of this one move on to the next count */
			sc->count++;
		}
		if (fd >= 0 && (sd->name = strdup(name)))
			weft_conn_mem(c, (int64_t)(strlen(name) + 1 + MALLOC_COST));
	} else {
		fd = openat(s->dirfd, sd->name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		fprintf(stderr, "weft: cannot write %s/…: %s\n", s->o.dir, strerror(errno));
		sd->failed = true;
		s->errors++;
		return NULL;
	}
	sd->f = fdopen(fd, "w");
	if (!sd->f) {
		close(fd);
		sd->failed = true;
		s->errors++;
		return NULL;
	}
	setvbuf(sd->f, NULL, _IOFBF, 32768);
	if (sd->pos && fseeko(sd->f, (off_t)sd->pos, SEEK_SET) != 0) {
		sd->failed = true;
		s->errors++;
	}
	sd->oprev = s->otail;
	if (s->otail) s->otail->onext = sd; else s->ohead = sd;
	s->otail = sd;
	s->nopen++;
	return sd->f;
}

/* The streams' digests are made: a report, and no --no-hash. */
static bool hashing(const struct weft_sink *s)
{
	return s->hs && !s->o.no_hash;
}

static struct sink_dir *dir_state(struct weft_sink *s, struct weft_conn *c,
				  struct sink_conn *sc, enum weft_dir d)
{
	if (!sc->d[d]) {
		sc->d[d] = calloc(1, sizeof(struct sink_dir));
		if (!sc->d[d]) {
			s->errors++; /* the direction is lost: never silently */
			return NULL;
		}
		if (hashing(s))
			sha256_init(&sc->d[d]->sha);
		weft_conn_mem(c, sizeof(struct sink_dir) + MALLOC_COST +
				 (hashing(s) ? SHA_COST : 0));
	}
	return sc->d[d];
}

/* Bytes a direction's state holds (as counted in the account). */
static uint64_t dir_cost(const struct weft_sink *s, const struct sink_dir *sd)
{
	return sizeof(*sd) + MALLOC_COST + (hashing(s) ? SHA_COST : 0) +
	       (sd->name ? strlen(sd->name) + 1 + MALLOC_COST : 0) +
	       (sd->gaps.cap ? sd->gaps.cap * sizeof(*sd->gaps.v) + MALLOC_COST : 0);
}

/* v in decimal, its last digit just before end; returns its first. */
static char *put_u64(char *end, uint64_t v)
{
	do
		*--end = (char)('0' + v % 10);
	while (v /= 10);
	return end;
}

/* n bytes to the chunks' descriptor, past stdio (which holds nothing:
 * see weft_sink_open). A reader that went away ends -c's output, not the
 * reassembly. */
static void chunks_write(struct weft_sink *s, const char *p, size_t n)
{
	int fd = fileno(s->o.chunks);
	while (n && !s->chunks_gone) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			s->chunks_gone = true;
			break;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void chunks_flush(struct weft_sink *s)
{
	if (s->cbuf) {
		chunks_write(s, s->cbuf, s->clen);
		s->clen = 0;
	} else
		fflush(s->o.chunks);
}

/* Bytes for -c, in order: gathered in the sink's buffer; 16 KB or more
 * written on their own after what it holds; through stdio when there is
 * no buffer (a terminal). */
static void chunk_put(struct weft_sink *s, const void *p, size_t n)
{
	if (!s->cbuf) {
		fwrite(p, 1, n, s->o.chunks);
		return;
	}
	if (s->clen + n > CHUNK_BUF || n >= CHUNK_DIRECT)
		chunks_flush(s);
	if (n >= CHUNK_DIRECT) {
		chunks_write(s, p, n);
		return;
	}
	memcpy(s->cbuf + s->clen, p, n);
	s->clen += n;
}

/* One chunk for -c: "-- conn ID DIR offset OFF, LEN bytes --", the bytes,
 * a newline. Built by hand: printf's formatting was a tenth of a live run's
 * CPU at a chunk per packet. */
static void chunk_out(struct weft_sink *s, uint64_t id, enum weft_dir d, uint64_t off,
		      const void *data, size_t len)
{
	char b[128], num[24], *p = b;
#define PUT(str, n) (memcpy(p, (str), (n)), p += (n))
#define PUT_NUM(v) do { char *q = put_u64(num + sizeof(num), (v)); \
			PUT(q, (size_t)(num + sizeof(num) - q)); } while (0)
	PUT("-- conn ", 8);
	PUT_NUM(id);
	PUT(d == WEFT_C2S ? " c2s offset " : " s2c offset ", 12);
	PUT_NUM(off);
	PUT(", ", 2);
	PUT_NUM(len);
	PUT(" bytes --\n", 10);
#undef PUT_NUM
#undef PUT
	chunk_put(s, b, (size_t)(p - b));
	chunk_put(s, data, len);
	chunk_put(s, "\n", 1);
}

static size_t on_data(void *ctx, struct weft_conn *c, enum weft_dir d, uint64_t off,
		      const uint8_t *data, size_t len)
{
	struct weft_sink *s = ctx;
	struct sink_conn *sc = weft_conn_user(c);
	struct sink_dir *sd = dir_state(s, c, sc, d);
	if (!sd)
		return len;
	if (hashing(s))
		hasher_data(s->hs, &sd->sha, data, len);
	sd->len = off + len;
	FILE *f = file_get(s, c, sc, d, sd);
	if (f) {
		if (sd->pos != off && fseeko(f, (off_t)off, SEEK_SET) != 0)
			sd->failed = true;
		if (fwrite(data, 1, len, f) != len && !sd->failed) {
			sd->failed = true;
			s->errors++;
		}
		sd->pos = off + len;
	}
	if (s->o.chunks)
		chunk_out(s, weft_conn_info(c)->id, d, off, data, len);
	return len;
}

static void on_gap(void *ctx, struct weft_conn *c, enum weft_dir d, uint64_t off, uint64_t len)
{
	struct weft_sink *s = ctx;
	struct sink_conn *sc = weft_conn_user(c);
	struct sink_dir *sd = dir_state(s, c, sc, d);
	if (!sd)
		return;
	if (hashing(s))
		hasher_zeros(s->hs, &sd->sha, len);
	sd->len = off + len;
	size_t had = sd->gaps.cap, ng = sd->gaps.n;
	uint64_t last = ng ? sd->gaps.v[ng - 1][1] : 0;
	report_gap_add(&sd->gaps, off, len);
	if (sd->gaps.n == ng && (!ng || sd->gaps.v[ng - 1][1] == last))
		s->errors++; /* no memory to list it: the report says it failed */
	if (sd->gaps.cap != had)
		weft_conn_mem(c, (int64_t)((sd->gaps.cap - had) * sizeof(*sd->gaps.v)) +
				 (had ? 0 : MALLOC_COST));
	if (s->o.chunks) {
		char b[128];
		int n = snprintf(b, sizeof(b), "-- conn %llu %s gap at offset %llu, %llu bytes --\n",
				 (unsigned long long)weft_conn_info(c)->id, dir_name(d),
				 (unsigned long long)off, (unsigned long long)len);
		chunk_put(s, b, (size_t)n);
	}
}

/* What a connection's report line needs, handed to the hashing thread,
 * which finishes the digests (after every byte queued before) and writes. */
struct end_job {
	uint64_t *queued;     /* the sink's count, released when written */
	uint64_t cost;
	struct report *rep;
	struct weft_conn_info info;
	enum weft_end_reason why;
	bool hash;
	struct weft_dir_stats st[2];
	struct sink_dir *d[2];
};

static void sink_dir_free(struct sink_dir *sd)
{
	free(sd->name);
	free(sd->gaps.v);
	free(sd);
}

static void finish_job(void *arg)
{
	struct end_job *j = arg;
	struct report_dir rd[2];
	uint8_t dg[32];
	memset(rd, 0, sizeof(rd));
	for (int d = 0; d < 2; d++) {
		rd[d].st = &j->st[d];
		struct sink_dir *sd = j->d[d];
		if (!sd)
			continue;
		if (j->hash) {
			sha256_final(&sd->sha, dg);
			sha256_hex(dg, rd[d].sha256);
		}
		rd[d].file = sd->name;
		rd[d].gaps = &sd->gaps;
	}
	report_conn(j->rep, &j->info, j->why, rd);
	for (int d = 0; d < 2; d++)
		if (j->d[d])
			sink_dir_free(j->d[d]);
	__atomic_sub_fetch(j->queued, j->cost, __ATOMIC_RELAXED);
	free(j);
}

static void on_end(void *ctx, struct weft_conn *c, enum weft_end_reason r)
{
	struct weft_sink *s = ctx;
	struct sink_conn *sc = weft_conn_user(c);
	for (int d = 0; d < 2; d++) {
		struct sink_dir *sd = sc->d[d];
		if (!sd)
			continue;
		/* a trailing gap: the file still has the stream's length */
		if (sd->len > sd->pos) {
			FILE *f = file_get(s, c, sc, (enum weft_dir)d, sd);
			if (f && (fflush(f) != 0 || ftruncate(fileno(f), (off_t)sd->len) != 0)) {
				sd->failed = true;
				s->errors++;
			}
			sd->pos = sd->len;
		}
		file_close(s, sd);
	}
	uint64_t moved = 0;
	for (int d = 0; d < 2; d++)
		if (sc->d[d])
			moved += dir_cost(s, sc->d[d]);
	struct end_job *j = s->hs ? calloc(1, sizeof(*j)) : NULL;
	if (j) {
		j->rep = s->rep;
		j->queued = &s->queued;
		j->cost = sizeof(*j) + MALLOC_COST;
		for (int d = 0; d < 2; d++)
			if (sc->d[d])
				j->cost += dir_cost(s, sc->d[d]);
		j->info = *weft_conn_info(c);
		j->why = r;
		j->hash = hashing(s);
		for (int d = 0; d < 2; d++) {
			j->st[d] = *weft_conn_dir(c, (enum weft_dir)d);
			j->d[d] = sc->d[d];
		}
		/* the connection's account releases this when it is freed;
		 * the queue holds it until the hashing thread writes it */
		if (__atomic_add_fetch(&s->queued, j->cost, __ATOMIC_RELAXED) > QUEUE_MAX)
			hasher_sync(s->hs);
		hasher_call(s->hs, finish_job, j);
	} else {
		if (s->hs)
			s->errors++; /* no memory for its report line: said, not lost */
		for (int d = 0; d < 2; d++)
			if (sc->d[d]) {
				if (hashing(s))
					sha256_final(&sc->d[d]->sha, (uint8_t[32]){ 0 });
				sink_dir_free(sc->d[d]);
			}
	}
	/* the state went to the report job (bounded by QUEUE_MAX) or was
	 * freed: the connection, which may stay a while as a closed entry,
	 * no longer holds it */
	weft_conn_mem(c, -(int64_t)moved);
	sc->d[0] = sc->d[1] = NULL;
}

static void on_start(void *ctx, struct weft_conn *c)
{
	(void)ctx;
	struct sink_conn *sc = weft_conn_user(c);
	sc->count = weft_conn_info(c)->reuse;
}

void weft_sink_bind(struct weft_sink *s, struct weft_config *cfg, struct weft_callbacks *cb)
{
	cfg->conn_user_size = sizeof(struct sink_conn);
	memset(cb, 0, sizeof(*cb));
	cb->ctx = s;
	cb->on_start = on_start;
	cb->on_data = on_data;
	cb->on_gap = on_gap;
	cb->on_end = on_end;
}

int weft_sink_close(struct weft_sink *s)
{
	if (!s)
		return 0;
	while (s->ohead)
		file_close(s, s->ohead);
	hasher_free(s->hs); /* every queued report line is written */
	int errors = s->errors;
	if (s->rep)
		errors += report_close(s->rep);
	if (s->dirfd >= 0)
		close(s->dirfd);
	if (s->o.chunks)
		chunks_flush(s);
	free(s->cbuf);
	free(s);
	return errors;
}

void weft_sink_flush(struct weft_sink *s)
{
	if (s->hs)
		hasher_push(s->hs);
	if (s->o.chunks)
		chunks_flush(s);
}
