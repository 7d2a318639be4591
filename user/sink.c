/* SPDX-License-Identifier: MIT */
/*
 * The file sink: per-direction files at stream offsets (gap bytes are holes,
 * which read as zeros), a running SHA-256 of each, and the report lines when
 * a connection ends. The reader thread reassembles, names files and copies
 * each chunk once into the workers' queue (hasher.c); the digest thread
 * hashes it, the writing thread writes it, in order, so the three costs
 * share the CPUs there are.
 * Everything below marked "worker" runs on the writing thread only; the
 * reader touches a file's state again only after the workers are joined.
 * Files are plain descriptors with a buffer of our own
 * written with pwrite: stdio's fclose walks a list of every open FILE, which
 * with thousands open cost more than the writes. Files stay open while their
 * connection lives, up to --max-open (by default what RLIMIT_NOFILE allows),
 * so a file is opened once; past it the least recently used is closed.
 * Files are created 0640, exclusively, never through a symlink, and only
 * beneath the output directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "weft/sink.h"
#include "sha256.h"
#include "report.h"
#include "hasher.h"
#include "sink_int.h"

/* A file's write buffer: a run of bytes at one offset, written when it
 * reaches the target (ending on a page of the file) or the next bytes go
 * elsewhere. Larger writes cost the page cache less per byte (32 KB
 * writes took a quarter less system time than 8 KB), so the target is up
 * to 64 KB while few files are open, less as more are, all of them within
 * about BUF_BUDGET: 3,000 busy connections (6,000 files) get 8 KB each.
 * A buffer grows from FILE_BUF_START as its bytes come. */
#define FILE_BUF_MIN (8u << 10)
#define FILE_BUF_START (4u << 10)
#define FILE_BUF_MAX (64u << 10)
#define BUF_BUDGET (48u << 20)
#define PAGE_BYTES 4096u

/* -c's own buffer: stdio's is a page, a write per two or three chunks.
 * Bytes of a chunk this large or more skip it and go out in a write of
 * their own: host mode's 64 KB GSO records are written from where the ring
 * holds them, with no copy. */
#define CHUNK_BUF (256u << 10)
#define CHUNK_DIRECT (16u << 10)

/* What the sink holds counts in the engine's memory account (cap and
 * peak): per direction its state, a digest context (OpenSSL's EVP_MD_CTX
 * and SHA-256 state with malloc's overhead, measured about 300 bytes),
 * the file name and the gap list. Once a connection ends, its end job
 * waits for the worker outside the account, bounded instead by QUEUE_MAX:
 * past it the reader waits for the worker to catch up. */
#define MALLOC_COST 16
#define SHA_COST 320
#define QUEUE_MAX (8u << 20)

static const char *dir_name(enum weft_dir d) { return d == WEFT_C2S ? "c2s" : "s2c"; }

/* ---- errors: counted, the first named with its errno ---- */

static void file_fail(struct weft_sink *s, struct sink_file *f, int err)
{
	if (f->failed)
		return;
	f->failed = true;
	f->err = err ? err : EIO;
	s->errors++;
	if (!s->first_errno) {
		s->first_errno = f->err;
		snprintf(s->first_name, sizeof(s->first_name), "%s", f->name ? f->name : "?");
	}
}

/* ---- the open-file LRU ---- */

static void lru_unlink(struct weft_sink *s, struct sink_file *f)
{
	if (f->oprev) f->oprev->onext = f->onext; else s->ohead = f->onext;
	if (f->onext) f->onext->oprev = f->oprev; else s->otail = f->oprev;
	f->oprev = f->onext = NULL;
}

static void lru_append(struct weft_sink *s, struct sink_file *f)
{
	f->oprev = s->otail;
	f->onext = NULL;
	if (s->otail) s->otail->onext = f; else s->ohead = f;
	s->otail = f;
}

static void file_flush(struct weft_sink *s, struct sink_file *f)
{
	size_t done = 0;
	while (done < f->blen && !f->failed) {
		ssize_t w = pwrite(f->fd, f->buf + done, f->blen - done, (off_t)(f->boff + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			file_fail(s, f, w < 0 ? errno : ENOSPC);
		else
			done += (size_t)w;
	}
	f->boff += f->blen;
	f->blen = 0;
}

static void file_close(struct weft_sink *s, struct sink_file *f)
{
	if (f->fd < 0)
		return;
	file_flush(s, f);
	lru_unlink(s, f);
	if (close(f->fd) != 0)
		file_fail(s, f, errno);
	f->fd = -1;
	s->buf_total -= f->bcap;
	free(f->buf);
	f->buf = NULL;
	f->bcap = 0;
	s->nopen--;
}

/* Open name beneath dirfd: each directory of a template's path is made if
 * missing and entered without following a symlink, so no name leads out
 * of the output directory. */
static int open_beneath(int dirfd, const char *name, int flags)
{
	const char *slash = strchr(name, '/');
	if (!slash)
		return openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, 0640);
	char comp[NAME_MAX + 1];
	size_t n = (size_t)(slash - name);
	if (n > NAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(comp, name, n);
	comp[n] = 0;
	if (mkdirat(dirfd, comp, 0750) != 0 && errno != EEXIST)
		return -1;
	int sub = openat(dirfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return -1;
	int fd = open_beneath(sub, slash + 1, flags);
	int e = errno;
	close(sub);
	errno = e;
	return fd;
}

/* Make room under --max-open, then open a file that has its name. */
static bool file_open(struct weft_sink *s, struct sink_file *f, bool create)
{
	while (s->nopen >= s->o.max_open && s->ohead)
		file_close(s, s->ohead);
	f->fd = open_beneath(s->dirfd, f->name, O_WRONLY | (create ? O_CREAT | O_EXCL : 0));
	if (f->fd < 0)
		return false;
	s->nopen++;
	lru_append(s, f);
	return true;
}

/* The size of a buffer made now: as large as every open file's could be
 * within the budget. A buffer made larger when fewer were open shrinks
 * when the budget is full, so later files are not left to write segment by
 * segment (3,000 connections opened at once made 130,000 writes of one
 * segment each). */
static size_t buf_target(const struct weft_sink *s)
{
	/* the files the reader has begun, when more than are open here:
	 * this thread is behind it, and sized by the files it has met so
	 * far, the first few took the whole budget (3,000 connections
	 * opened at once: a third of the writes were single segments) */
	size_t n = __atomic_load_n(&s->dirs_live, __ATOMIC_RELAXED);
	if (n < (size_t)s->nopen)
		n = (size_t)s->nopen;
	size_t cap = FILE_BUF_MAX;
	while (cap > FILE_BUF_MIN && n * cap > s->buf_budget)
		cap >>= 1;
	return cap;
}

/* n bytes at offset off of an open file, written now. */
static void file_pwrite(struct weft_sink *s, struct sink_file *f, uint64_t off, const void *p,
			size_t n)
{
	const uint8_t *q = p;
	while (n && !f->failed) {
		ssize_t w = pwrite(f->fd, q, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			file_fail(s, f, w < 0 ? errno : ENOSPC);
			break;
		}
		q += w;
		off += (uint64_t)w;
		n -= (size_t)w;
	}
}

/* f's buffer made able to hold want bytes (at most the target): it grows
 * by doubling as bytes come, so the budget counts what files hold, not
 * what they might. False: no room within the budget. */
static bool buf_grow(struct weft_sink *s, struct sink_file *f, size_t want)
{
	if (want <= f->bcap)
		return true;
	size_t nc = f->bcap ? f->bcap : FILE_BUF_START;
	while (nc < want)
		nc *= 2;
	if (s->buf_total - f->bcap + nc > s->buf_budget)
		return false;
	uint8_t *nb = realloc(f->buf, nc);
	if (!nb)
		return false;
	s->buf_total += nc - f->bcap;
	f->buf = nb;
	f->bcap = nc;
	return true;
}

/* n bytes at offset off of a file: through its buffer while they follow
 * on; in one pwrite of their own when they are large and nothing is held. */
static void file_write(struct weft_sink *s, struct sink_file *f, uint64_t off, const void *p,
		       size_t n)
{
	if (f->failed)
		return;
	if (off + n > f->hi)
		f->hi = off + n;
	if (s->otail != f) {
		lru_unlink(s, f);
		lru_append(s, f);
	}
	size_t tgt = buf_target(s);
	if (f->blen && off != f->boff + f->blen)
		file_flush(s, f);
	/* more files open than when it grew, and the budget full: a smaller
	 * buffer, so that there is room for theirs too */
	if (f->bcap > tgt && s->buf_total + FILE_BUF_MIN > s->buf_budget) {
		file_flush(s, f);
		s->buf_total -= f->bcap;
		free(f->buf);
		f->buf = NULL;
		f->bcap = 0;
	}
	if (!f->blen)
		f->boff = off;
	if (!f->blen && n >= tgt) {
		file_pwrite(s, f, off, p, n);
		f->boff = off + n;
		return;
	}
	/* Filled to the end of a page of the file, then written: each page
	 * is written whole, in one call (a page written in two calls is
	 * looked up and marked again in the page cache), and the writes are
	 * the target's size, not whatever whole segments fitted in it. */
	const uint8_t *q = p;
	while (n && !f->failed) {
		size_t fill = tgt - (size_t)(f->boff & (PAGE_BYTES - 1));
		if (f->blen >= fill) { /* the target shrank */
			file_flush(s, f);
			continue;
		}
		size_t k = fill - f->blen < n ? fill - f->blen : n;
		if (!buf_grow(s, f, f->blen + k)) {
			/* the buffers together stay within the budget: past
			 * it, what is held and these bytes go now (thousands
			 * of files each holding a segment, where a buffer
			 * each would be most of the memory) */
			file_flush(s, f);
			file_pwrite(s, f, f->boff, q, n);
			f->boff += n;
			return;
		}
		memcpy(f->buf + f->blen, q, k);
		f->blen += k;
		q += k;
		n -= k;
		if (f->blen == fill)
			file_flush(s, f);
	}
}

/* ---- names: the template, and a counter per name ---- */

static uint64_t name_hash(const char *p)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	return h ? h : 1;
}

/* The next free count of a name (its form with %C%c empty), or 0. */
static uint32_t *name_slot(struct weft_sink *s, const char *key)
{
	if (s->nnames * 2 >= s->names_cap) {
		size_t nc = s->names_cap ? s->names_cap * 2 : 1024;
		struct name_count *nv = calloc(nc, sizeof(*nv));
		if (!nv)
			return NULL;
		for (size_t i = 0; i < s->names_cap; i++) {
			if (!s->names[i].h)
				continue;
			size_t j = s->names[i].h & (nc - 1);
			while (nv[j].h)
				j = (j + 1) & (nc - 1);
			nv[j] = s->names[i];
		}
		free(s->names);
		s->names = nv;
		s->names_cap = nc;
	}
	uint64_t h = name_hash(key);
	size_t j = h & (s->names_cap - 1);
	while (s->names[j].h && s->names[j].h != h)
		j = (j + 1) & (s->names_cap - 1);
	if (!s->names[j].h) {
		s->names[j].h = h;
		s->nnames++;
	}
	return &s->names[j].next;
}

/* A connection's count, chosen once for its files: past every earlier
 * connection that gave either direction the same name (the per-name
 * counter: one look-up, never a probe of the directory). */
static uint32_t conn_count(struct weft_sink *s, struct weft_conn *c, struct sink_conn *sc)
{
	if (sc->counted)
		return sc->count;
	char key[2][PATH_MAX];
	uint32_t *slot[2];
	const struct weft_conn_info *ci = weft_conn_info(c);
	uint32_t n = sc->count;
	for (int d = 0; d < 2; d++) {
		weft_format_name(s->o.name_template, ci, (enum weft_dir)d, UINT32_MAX, key[d],
				 sizeof(key[d]));
		slot[d] = name_slot(s, key[d]);
		if (slot[d] && *slot[d] > n)
			n = *slot[d];
	}
	for (int d = 0; d < 2; d++)
		if (slot[d])
			*slot[d] = n + 1;
	sc->count = n;
	sc->counted = true;
	return n;
}

/* Name a direction's file (or the pcap: d < 0) on the reader thread: the
 * count comes from the per-name counter, so the name is new to this run. */
static bool file_name(struct weft_sink *s, struct weft_conn *c, struct sink_conn *sc, int d,
		      struct sink_file *f)
{
	char name[PATH_MAX];
	uint32_t n = conn_count(s, c, sc);
	weft_format_name(s->o.name_template, weft_conn_info(c), d < 0 ? WEFT_C2S : (enum weft_dir)d,
			 n, name, sizeof(name) - 8);
	if (d < 0)
		strcat(name, ".pcap");
	f->s = s;
	f->fd = -1;
	f->named = true;
	f->name = strdup(name);
	f->unnamed = !f->name;
	if (f->name && d >= 0) {
		f->name_cost = (uint32_t)(strlen(name) + 1 + MALLOC_COST);
		weft_conn_mem(c, f->name_cost);
	}
	return f->name != NULL;
}

/* Reader: a direction's file has its name (made now if not yet), unless
 * none could be made. Reads only the reader's own flags: the worker owns
 * the name from then on (and "failed", set when a write fails). */
static bool dir_named(struct weft_sink *s, struct weft_conn *c, struct sink_conn *sc, int d,
		      struct sink_dir *sd)
{
	if (!sd->f.named)
		file_name(s, c, sc, d, &sd->f);
	return !sd->f.unnamed;
}

/* ---- the journal: every file made, listed as it is made ----
 * flows.jsonl lists a connection's files when it ends; a run killed before
 * (SIGKILL, a crash) or whose report lines did not fit on the disk leaves
 * files it lists nowhere. JOURNAL names them, one line each, written as
 * each file is made, so --force can remove them; a run that ends with its
 * report whole removes it. */
#define JOURNAL ".weft-files"

static void journal_add(struct weft_sink *s, const char *name)
{
	if (s->journal < 0)
		return;
	char line[PATH_MAX + 1];
	int n = snprintf(line, sizeof(line), "%s\n", name);
	if (n > 0 && (size_t)n < sizeof(line) && write(s->journal, line, (size_t)n) != n)
		s->journal_lost = true;
}

/* Worker: the file open, created at its first bytes (a name taken on disk,
 * by an earlier run or a planted symlink, moves on to NAMEc1, c2, ...),
 * reopened only if --max-open closed it. */
static bool file_ready(struct weft_sink *s, struct sink_file *f)
{
	if (f->fd >= 0)
		return true;
	if (f->failed || s->dirfd < 0 || !f->name)
		return false;
	if (f->created) {
		if (!file_open(s, f, false)) {
			file_fail(s, f, errno);
			return false;
		}
		return true;
	}
	char *base = f->name;
	for (uint32_t k = 1; !file_open(s, f, true); k++) {
		if (errno != EEXIST) {
			file_fail(s, f, errno);
			break;
		}
		char next[PATH_MAX];
		snprintf(next, sizeof(next), "%sc%u", base, k);
		if (f->name != base)
			free(f->name);
		f->name = strdup(next);
		if (!f->name) {
			f->name = base;
			file_fail(s, f, ENOMEM);
			return false;
		}
	}
	if (f->name != base)
		free(base);
	if (f->fd < 0)
		return false; /* failed: never made, never listed */
	f->created = true;
	journal_add(s, f->name);
	return true;
}

/* ---- opening: the directory, --force, the report ---- */

/* path and its missing parents made, each one made remembered (in order)
 * so that a run that fails can take them away again, and only them. */
static int mkdir_p(struct weft_sink *s, const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1;; p++) {
		bool last = !*p;
		if (!last && (*p != '/' || p[-1] == '/'))
			continue;
		*p = 0;
		if (mkdir(buf, 0750) == 0) {
			if (s->nmade < MADE_MAX)
				s->made[s->nmade++] = strdup(buf);
		} else if (errno != EEXIST) {
			return -1;
		}
		if (last)
			return 0;
		*p = '/';
	}
}

/* The directories mkdir_p made, the last made first (each only if empty). */
static void remove_made_dirs(struct weft_sink *s)
{
	while (s->nmade) {
		char *d = s->made[--s->nmade];
		if (d)
			rmdir(d);
		free(d);
	}
}

/* Remove name beneath dirfd, entering its directories without following
 * a symlink: flows.jsonl sits in a directory others may write to, so the
 * names it lists must not lead out of it. */
static void unlink_beneath(int dirfd, const char *name)
{
	const char *slash = strchr(name, '/');
	if (!slash) {
		unlinkat(dirfd, name, 0);
		return;
	}
	char comp[NAME_MAX + 1];
	size_t n = (size_t)(slash - name);
	if (!n || n > NAME_MAX)
		return;
	memcpy(comp, name, n);
	comp[n] = 0;
	int sub = openat(dirfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return;
	unlink_beneath(sub, slash + 1);
	close(sub);
	unlinkat(dirfd, comp, AT_REMOVEDIR); /* when it is empty now */
}

/* A name weft could have made beneath DIR: relative, no '.' or '..' part
 * (what --force reads is in a directory others may write to). */
static bool safe_rel(const char *name)
{
	if (!*name || *name == '/')
		return false;
	for (const char *p = name; *p; ) {
		size_t n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p)
			p++;
	}
	return true;
}

/* Each line of the file name in dirfd to fn (without its newline). */
static void each_line(int dirfd, const char *name, void (*fn)(int dirfd, char *line))
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while (f && (n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[n - 1] = 0;
		fn(dirfd, line);
	}
	free(line);
	if (f)
		fclose(f);
	else if (fd >= 0)
		close(fd);
}

/* A flows.jsonl line: every "file": "NAME" and "pcap": "NAME" in it. */
static void remove_listed(int dirfd, char *line)
{
	for (char *p = line; (p = strstr(p, "\": \"")); ) {
		bool is_file = p - line >= 5 && (!strncmp(p - 5, "\"file", 5) ||
						 !strncmp(p - 5, "\"pcap", 5));
		p += 4;
		if (!is_file)
			continue;
		char name[PATH_MAX];
		size_t n = 0;
		for (; *p && *p != '"' && n + 1 < sizeof(name); p++) {
			if (*p == '\\' && p[1])
				p++; /* escapes of names weft made: \" and \\ */
			name[n++] = *p;
		}
		name[n] = 0;
		if (safe_rel(name))
			unlink_beneath(dirfd, name);
	}
}

/* A journal line: a name. */
static void remove_journaled(int dirfd, char *line)
{
	if (safe_rel(line))
		unlink_beneath(dirfd, line);
}

/* --force: remove what the earlier run's flows.jsonl lists (its stream
 * files and pcaps), what its journal lists (a run that ended before its
 * report listed them), and its reports, so no old file sits beside new
 * ones. */
static void remove_old_output(int dirfd)
{
	each_line(dirfd, "flows.jsonl", remove_listed);
	each_line(dirfd, JOURNAL, remove_journaled);
	unlinkat(dirfd, JOURNAL, 0);
	unlinkat(dirfd, "flows.jsonl", 0);
	unlinkat(dirfd, "report.xml", 0);
}

static void sink_free(struct weft_sink *s)
{
	while (s->nmade)
		free(s->made[--s->nmade]);
	weft_sink_frags_free(s);
	if (s->journal >= 0)
		close(s->journal);
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->cbuf);
	free(s->names);
	free(s);
}

/* What RLIMIT_NOFILE allows, the soft limit raised to the hard one first
 * (as tcpflow does), less a margin for the capture, reports and stdio. */
static int default_max_open(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 128;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max == RLIM_INFINITY ? 1u << 20 : rl.rlim_max;
		struct rlimit nl = { want, rl.rlim_max };
		if (setrlimit(RLIMIT_NOFILE, &nl) == 0)
			rl.rlim_cur = want;
	}
	rlim_t n = rl.rlim_cur == RLIM_INFINITY ? 1u << 20 : rl.rlim_cur;
	n = n > 64 + 16 ? n - 64 : 16;
	return n > 1u << 20 ? 1 << 20 : (int)n;
}

struct weft_sink *weft_sink_open(const struct weft_sink_opts *o, char *err, size_t errlen)
{
	struct weft_sink *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->o = *o;
	s->dirfd = -1;
	s->journal = -1;
	if (!s->o.name_template)
		s->o.name_template = WEFT_DEFAULT_TEMPLATE;
	if (weft_template_check(s->o.name_template, err, errlen) != 0) {
		free(s);
		return NULL;
	}
	if (s->o.max_open <= 0)
		s->o.max_open = default_max_open();
	/* chunks into a pipe or a file go out in large writes of our own (the
	 * live loop flushes them every second), after whatever stdio holds; a
	 * terminal gets each through stdio as it comes. A reader that goes
	 * away is an EPIPE to handle, not a signal that kills the report. */
	if (o->chunks) {
		signal(SIGPIPE, SIG_IGN);
		if (!isatty(fileno(o->chunks))) {
			fflush(o->chunks);
			if (!(s->cbuf = malloc(CHUNK_BUF))) {
				snprintf(err, errlen, "out of memory");
				sink_free(s);
				return NULL;
			}
		}
	}
	if (o->dir && (o->files || o->report)) {
		if (mkdir_p(s, o->dir) != 0) {
			snprintf(err, errlen, "%s: %s", o->dir, strerror(errno));
			remove_made_dirs(s);
			sink_free(s);
			return NULL;
		}
		s->dirfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (s->dirfd < 0) {
			snprintf(err, errlen, "%s: %s", o->dir, strerror(errno));
			remove_made_dirs(s);
			sink_free(s);
			return NULL;
		}
		if (faccessat(s->dirfd, "flows.jsonl", F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
			if (!o->force) {
				snprintf(err, errlen, "%s already holds weft output (flows.jsonl); "
					 "choose another directory or pass --force", o->dir);
				sink_free(s);
				return NULL;
			}
			remove_old_output(s->dirfd);
		}

		if (o->report &&
		    !(s->rep = weft_report_open(s->dirfd, o->dir, o->command_line, err, errlen))) {
			remove_made_dirs(s);
			sink_free(s);
			return NULL;
		}
		if (!(s->hs = weft_hasher_new())) {
			if (s->rep)
				weft_report_close(s->rep, NULL, 0);
			snprintf(err, errlen, "cannot start the writing thread");
			remove_made_dirs(s);
			sink_free(s);
			return NULL;
		}
		/* last: a start refused above leaves no journal behind */
		if (o->files)
			s->journal = openat(s->dirfd, JOURNAL, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND |
					    O_NOFOLLOW | O_CLOEXEC, 0640);
	}
	return s;
}

/* The streams' digests are made: a report, and no --no-hash. */
static bool hashing(const struct weft_sink *s)
{
	return s->rep && !s->o.no_hash;
}

/* Files are written (by the worker). */
static bool writing(const struct weft_sink *s)
{
	return s->hs && s->o.files;
}

static struct sink_dir *dir_state(struct weft_sink *s, struct weft_conn *c, struct sink_conn *sc,
				  enum weft_dir d)
{
	if (!sc->d[d]) {
		sc->d[d] = calloc(1, sizeof(struct sink_dir));
		if (!sc->d[d]) {
			s->errors++; /* the direction is lost: never silently */
			return NULL;
		}
		sc->d[d]->f.fd = -1;
		sc->d[d]->f.s = s;
		__atomic_add_fetch(&s->dirs_live, 1, __ATOMIC_RELAXED);
		sc->d[d]->hash = hashing(s);
		if (sc->d[d]->hash)
			weft_sha256_init(&sc->d[d]->sha);
		weft_conn_mem(c, sizeof(struct sink_dir) + MALLOC_COST +
				 (sc->d[d]->hash ? SHA_COST : 0));
	}
	return sc->d[d];
}

/* Bytes a direction's state holds, as counted in the account. */
static uint64_t dir_cost(const struct sink_dir *sd)
{
	return sizeof(*sd) + MALLOC_COST + (sd->hash ? SHA_COST : 0) +
	       sd->f.name_cost +
	       (sd->gaps.cap ? sd->gaps.cap * sizeof(*sd->gaps.v) + MALLOC_COST : 0);
}

/* The gap list grew or shrank its array from had slots: the account too. */
static void gaps_account(struct weft_conn *c, const struct sink_dir *sd, size_t had)
{
	if (sd->gaps.cap != had)
		weft_conn_mem(c, (int64_t)((sd->gaps.cap - had) * sizeof(*sd->gaps.v)) +
				 (had ? 0 : MALLOC_COST));
}

/* ---- -c ---- */

/* v in decimal, its last digit just before end; returns its first. */
static char *put_u64(char *end, uint64_t v)
{
	do
		*--end = (char)('0' + v % 10);
	while (v /= 10);
	return end;
}

/* n bytes to the chunks' descriptor, past stdio (which holds nothing:
 * see weft_sink_open). A reader that went away ends -c's output and asks
 * the source to stop: what was read is still reported. */
static void chunks_write(struct weft_sink *s, const char *p, size_t n)
{
	int fd = fileno(s->o.chunks);
	while (n && !s->chunks_gone) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			s->chunks_gone = true;
			if (s->o.stop)
				*s->o.stop = SIGPIPE;
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
	} else if (fflush(s->o.chunks) != 0 && !s->chunks_gone) {
		s->chunks_gone = true;
		if (s->o.stop)
			*s->o.stop = SIGPIPE;
	}
}

static void chunk_put(struct weft_sink *s, const void *p, size_t n)
{
	if (s->chunks_gone)
		return;
	if (!s->cbuf) {
		if (fwrite(p, 1, n, s->o.chunks) != n) {
			s->chunks_gone = true;
			if (s->o.stop)
				*s->o.stop = SIGPIPE;
		}
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

/* A direction's tuple as tcpflow -c prints it: SRC.PORT-DST.PORT with the
 * zero-padded addresses of its file names (and the VLAN tags). */
static const char *chunk_tag(const struct weft_conn_info *ci, struct sink_dir *sd,
			     enum weft_dir d)
{
	if (!sd->tag) {
		char t[200];
		weft_format_name("%A.%a-%B.%b%V%v", ci, d, 0, t, sizeof(t));
		sd->tag = strdup(t);
	}
	return sd->tag ? sd->tag : "?";
}

/* One chunk for -c:
 *   "-- SRC.PORT-DST.PORT conn ID DIR offset OFF, LEN bytes --", the bytes,
 * a newline. Built by hand: printf's formatting was a tenth of a live run's
 * CPU at a chunk per packet. */
static void chunk_out(struct weft_sink *s, const struct weft_conn_info *ci, struct sink_dir *sd,
		      enum weft_dir d, uint64_t off, const void *data, size_t len)
{
	char b[320], num[24], *p = b;
	const char *tag = chunk_tag(ci, sd, d);
	size_t tl = strlen(tag);
#define PUT(str, n) (memcpy(p, (str), (n)), p += (n))
#define PUT_NUM(v) do { char *q = put_u64(num + sizeof(num), (v)); \
			PUT(q, (size_t)(num + sizeof(num) - q)); } while (0)
	PUT("-- ", 3);
	PUT(tag, tl < 200 ? tl : 200);
	PUT(" conn ", 6);
	PUT_NUM(ci->id);
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

/* ---- the engine's callbacks ---- */

/* Worker: a direction's bytes, written at their offset (late ones too). */
static void dir_data(void *arg, uint64_t off, const uint8_t *data, size_t len)
{
	struct sink_dir *sd = arg;
	struct weft_sink *s = sd->f.s;
	if (sd->f.name && file_ready(s, &sd->f))
		file_write(s, &sd->f, off, data, len);
}

static size_t on_data(void *ctx, struct weft_conn *c, enum weft_dir d, uint64_t off,
		      const uint8_t *data, size_t len)
{
	struct weft_sink *s = ctx;
	struct sink_conn *sc = weft_conn_user(c);
	struct sink_dir *sd = dir_state(s, c, sc, d);
	if (!sd)
		return len;
	const struct weft_conn_info *ci = weft_conn_info(c);
	if (off + len > sd->len)
		sd->len = off + len;
	/* the digest on the digest thread, the write on the writing thread
	 * (hasher.h); without them (no report) there is no digest either */
	bool w = writing(s) && dir_named(s, c, sc, d, sd);
	struct sha256 *sha = sd->hash && s->hs ? &sd->sha : NULL;
	if (w || sha)
		weft_hasher_data_call(s->hs, w ? dir_data : NULL, sd, off, data, len, sha);
	if (s->o.chunks)
		chunk_out(s, ci, sd, d, off, data, len);
	return len;
}

static void on_gap(void *ctx, struct weft_conn *c, enum weft_dir d, uint64_t off, uint64_t len)
{
	struct weft_sink *s = ctx;
	struct sink_conn *sc = weft_conn_user(c);
	struct sink_dir *sd = dir_state(s, c, sc, d);
	if (!sd)
		return;
	if (sd->hash && s->hs)
		weft_hasher_zeros(s->hs, &sd->sha, len);
	if (off + len > sd->len)
		sd->len = off + len;
	size_t had = sd->gaps.cap;
	weft_report_gap_add(&sd->gaps, off, len);
	gaps_account(c, sd, had);
	if (s->o.chunks) {
		char b[320];
		int n = snprintf(b, sizeof(b), "-- %s conn %llu %s gap at offset %llu, %llu bytes --\n",
				 chunk_tag(weft_conn_info(c), sd, d),
				 (unsigned long long)weft_conn_info(c)->id, dir_name(d),
				 (unsigned long long)off, (unsigned long long)len);
		chunk_put(s, b, (size_t)n);
	}
}

/* Bytes the engine had declared a gap came after all: written at their
 * offset, the gap list less by them, and the digest, made in stream order
 * until now, made again from the file when the direction ends. */
static void on_late(void *ctx, struct weft_conn *c, enum weft_dir d, uint64_t off,
		    const uint8_t *data, size_t len)
{
	struct weft_sink *s = ctx;
	struct sink_conn *sc = weft_conn_user(c);
	struct sink_dir *sd = dir_state(s, c, sc, d);
	if (!sd)
		return;
	sd->late += len;
	size_t had = sd->gaps.cap;
	weft_report_gap_sub(&sd->gaps, off, len);
	gaps_account(c, sd, had);
	sd->rehash = sd->hash;
	/* (the direction may have had nothing but gaps so far: no file yet) */
	if (writing(s) && dir_named(s, c, sc, d, sd))
		weft_hasher_data_call(s->hs, dir_data, sd, off, data, len, NULL); /* in place */
	if (s->o.chunks) {
		const struct weft_conn_info *ci = weft_conn_info(c);
		char b[320];
		int n = snprintf(b, sizeof(b), "-- %s conn %llu %s offset %llu, %zu bytes (late) --\n",
				 chunk_tag(ci, sd, d), (unsigned long long)ci->id, dir_name(d),
				 (unsigned long long)off, len);
		chunk_put(s, b, (size_t)n);
		chunk_put(s, data, len);
		chunk_put(s, "\n", 1);
	}
}

/* Worker: the digest of a finished file, read back (a direction with late
 * bytes: its stream order is not its arrival order). False: unreadable. */
static bool file_digest(struct weft_sink *s, struct sink_file *f, uint64_t len, uint8_t dg[32])
{
	if (!f->name || f->failed)
		return false;
	int fd = openat(s->dirfd, f->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct sha256 h;
	weft_sha256_init(&h);
	static __thread uint8_t buf[1 << 16];
	uint64_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, buf, sizeof(buf), (off_t)done);
		if (n <= 0)
			break;
		weft_sha256_update(&h, buf, (size_t)n);
		done += (uint64_t)n;
	}
	close(fd);
	weft_sha256_final(&h, dg);
	return done == len;
}

/* What a connection's end needs, handed to the worker, which finishes the
 * files and digests (after every byte queued before) and writes the line. */
struct end_job {
	struct weft_sink *s;
	uint64_t cost;        /* what it holds, in the sink's queued count */
	struct weft_conn_info info;
	enum weft_end_reason why;
	struct weft_dir_stats st[2];
	struct sink_dir *d[2];
	struct sink_file *pcap;
};

static void sink_dir_free(struct sink_dir *sd)
{
	free(sd->f.name);
	free(sd->f.buf);
	free(sd->tag);
	free(sd->gaps.v);
	free(sd);
}

/* Worker: a file's last word on disk: its buffer, a trailing gap's length
 * (len), the packet time t of its last bytes as the mtime (as tcpflow). */
static void file_finish(struct weft_sink *s, struct sink_file *f, uint64_t len, uint64_t t)
{
	if (f->name && !f->failed && file_ready(s, f)) {
		file_flush(s, f);
		if (len > f->hi && ftruncate(f->fd, (off_t)len) != 0)
			file_fail(s, f, errno);
		struct timespec ts[2] = {
			{ .tv_nsec = UTIME_OMIT },
			{ .tv_sec = (time_t)(t / 1000000000ull), .tv_nsec = (long)(t % 1000000000ull) },
		};
		futimens(f->fd, ts);
	}
	file_close(s, f); /* failed or not: off the open list before it is freed */
}

static void finish_job(void *arg)
{
	struct end_job *j = arg;
	struct weft_sink *s = j->s;
	struct report_dir rd[2];
	uint8_t dg[32];
	memset(rd, 0, sizeof(rd));
	for (int d = 0; d < 2; d++) {
		rd[d].st = &j->st[d];
		struct sink_dir *sd = j->d[d];
		if (!sd)
			continue;
		file_finish(s, &sd->f, sd->len, j->st[d].last_ns ? j->st[d].last_ns : j->info.last_ns);
		if (sd->hash) {
			weft_sha256_final(&sd->sha, dg);
			if (!sd->rehash || file_digest(s, &sd->f, sd->len, dg))
				weft_sha256_hex(dg, rd[d].sha256);
		}
		rd[d].file = sd->f.name;
		rd[d].gaps = &sd->gaps;
		rd[d].late = sd->late;
		rd[d].err = sd->f.err;
	}
	const char *pcap = NULL, *pcap_err = NULL;
	char why[96];
	if (j->pcap) {
		file_finish(s, j->pcap, 0, j->pcap->last_ns);
		/* a pcap that was never made is not listed; one written in part is */
		pcap = j->pcap->created ? j->pcap->name : NULL;
		if (j->pcap->failed) {
			pcap_err = strerror(j->pcap->err);
		} else if (j->pcap->other_link) {
			snprintf(why, sizeof(why), "%llu frames of another link type left out",
				 (unsigned long long)j->pcap->other_link);
			pcap_err = why;
		}
	}
	if (s->rep)
		weft_report_conn(s->rep, &j->info, j->why, rd, pcap, pcap_err);
	for (int d = 0; d < 2; d++)
		if (j->d[d])
			sink_dir_free(j->d[d]);
	if (j->pcap) {
		free(j->pcap->name);
		free(j->pcap->buf);
		free(j->pcap);
	}
	__atomic_sub_fetch(&s->queued, j->cost, __ATOMIC_RELAXED);
	free(j);
}

static void on_end(void *ctx, struct weft_conn *c, enum weft_end_reason r)
{
	struct weft_sink *s = ctx;
	struct sink_conn *sc = weft_conn_user(c);
	for (int d = 0; d < 2; d++) {
		struct sink_dir *sd = sc->d[d];
		/* a direction that is all gap still gets its file, of its length */
		if (sd && writing(s) && sd->len)
			dir_named(s, c, sc, d, sd);
	}
	uint64_t moved = 0;
	for (int d = 0; d < 2; d++)
		if (sc->d[d]) {
			moved += dir_cost(sc->d[d]);
			__atomic_sub_fetch(&s->dirs_live, 1, __ATOMIC_RELAXED);
		}
	struct end_job *j = s->hs ? calloc(1, sizeof(*j)) : NULL;
	if (j) {
		j->s = s;
		j->cost = moved + sizeof(*j) + MALLOC_COST;
		j->info = *weft_conn_info(c);
		j->why = r;
		j->pcap = sc->pcap;
		for (int d = 0; d < 2; d++) {
			j->st[d] = *weft_conn_dir(c, (enum weft_dir)d);
			j->d[d] = sc->d[d];
		}
		if (s->rep)
			s->reported++;
		/* the connection's account lets this go below; the queue
		 * holds it until the worker is done with it */
		if (__atomic_add_fetch(&s->queued, j->cost, __ATOMIC_RELAXED) > QUEUE_MAX)
			weft_hasher_sync(s->hs);
		weft_hasher_call(s->hs, finish_job, j);
	} else if (!s->hs) {
		/* -c alone: nothing was queued for them */
		for (int d = 0; d < 2; d++)
			if (sc->d[d])
				sink_dir_free(sc->d[d]);
	}
	else
		s->errors++; /* no memory for its report line: said, not lost */
	/* the state went to the end job (bounded by QUEUE_MAX) or was freed:
	 * the connection, which may stay a while as a closed entry, no longer
	 * holds it */
	weft_conn_mem(c, -(int64_t)moved);
	sc->d[0] = sc->d[1] = NULL;
	sc->pcap = NULL;
}

static void on_start(void *ctx, struct weft_conn *c)
{
	(void)ctx;
	struct sink_conn *sc = weft_conn_user(c);
	sc->count = weft_conn_info(c)->reuse;
}

void weft_sink_bind(struct weft_sink *s, struct weft_config *cfg, struct weft_callbacks *cb)
{
	/* The write buffers come out of the memory cap: a quarter of it at
	 * most, BUF_BUDGET at most; the engine gets the rest. */
	s->buf_budget = BUF_BUDGET;
	if (cfg->memcap) {
		if (s->buf_budget > cfg->memcap / 4)
			s->buf_budget = cfg->memcap / 4;
		cfg->memcap -= s->buf_budget;
	}
	cfg->conn_user_size = sizeof(struct sink_conn);
	memset(cb, 0, sizeof(*cb));
	cb->ctx = s;
	cb->on_start = on_start;
	cb->on_data = on_data;
	cb->on_gap = on_gap;
	cb->on_late = on_late;
	cb->on_end = on_end;
}

int weft_sink_close_err(struct weft_sink *s, bool discard, char *err, size_t errlen)
{
	if (!s)
		return 0;
	err[0] = 0;
	weft_hasher_free(s->hs); /* every queued write and report line is done */
	while (s->ohead)
		file_close(s, s->ohead);
	int errors = s->errors;
	char rerr[512] = "";
	if (s->rep)
		errors += weft_report_close(s->rep, rerr, sizeof(rerr));
	/* the report is whole: it lists every file the journal does */
	if (s->journal >= 0 && !errors && !s->journal_lost)
		unlinkat(s->dirfd, JOURNAL, 0);
	if (s->dirfd >= 0 && discard && !s->reported && !s->errors) {
		unlinkat(s->dirfd, JOURNAL, 0);
		unlinkat(s->dirfd, "flows.jsonl", 0);
		unlinkat(s->dirfd, "report.xml", 0);
		remove_made_dirs(s);
	}
	if (s->o.chunks)
		chunks_flush(s);
	if (errors && s->first_errno)
		snprintf(err, errlen, "%d write error%s in %s, the first: %s: %s%s%s", errors,
			 errors == 1 ? "" : "s", s->o.dir, s->first_name, strerror(s->first_errno),
			 rerr[0] ? "; " : "", rerr);
	else if (errors)
		snprintf(err, errlen, "%d write error%s in %s: %s", errors, errors == 1 ? "" : "s",
			 s->o.dir, rerr[0] ? rerr : "?");
	sink_free(s);
	return errors;
}

int weft_sink_close(struct weft_sink *s)
{
	char err[PATH_MAX + 256];
	int n = weft_sink_close_err(s, false, err, sizeof(err));
	if (n)
		fprintf(stderr, "Error: %s\n", err);
	return n;
}

void weft_sink_flush(struct weft_sink *s)
{
	if (s->hs)
		weft_hasher_push(s->hs);
	if (s->o.chunks)
		chunks_flush(s);
}

/* ---- --pcap: each connection's frames in a capture of its own ---- */

/* Worker: pcap bytes at their offset. */
static void pcap_data(void *arg, uint64_t off, const uint8_t *data, size_t len)
{
	struct sink_file *f = arg;
	if (file_ready(f->s, f))
		file_write(f->s, f, off, data, len);
}

void weft_sink_pcap_frame(struct weft_sink *s, struct weft_conn *c, const struct weft_frame *fr)
{
	struct sink_conn *sc = weft_conn_user(c);
	if (!s->hs)
		return;
	if (!sc->pcap) {
		if (!(sc->pcap = calloc(1, sizeof(*sc->pcap))))
			return;
		if (!file_name(s, c, sc, -1, sc->pcap)) {
			free(sc->pcap);
			sc->pcap = NULL;
			return;
		}
		/* pcap, nanosecond stamps, this frame's link type */
		uint32_t h[6] = { 0xa1b23c4d, 2 | 4u << 16, 0, 0, 262144, fr->link };
		weft_hasher_data_call(s->hs, pcap_data, sc->pcap, 0, h, sizeof(h), NULL);
		sc->pcap->pos = sizeof(h);
		sc->pcap->link = fr->link;
	}
	struct sink_file *f = sc->pcap;
	if (fr->link != f->link) {
		/* one link type a pcap: a frame of another (a pcapng of
		 * several interfaces) is left out, and the line says so */
		f->other_link++;
		return;
	}
	uint32_t rec[4] = { (uint32_t)(fr->ts_ns / 1000000000ull),
			    (uint32_t)(fr->ts_ns % 1000000000ull), fr->caplen, fr->wirelen };
	weft_hasher_data_call(s->hs, pcap_data, f, f->pos, rec, sizeof(rec), NULL);
	weft_hasher_data_call(s->hs, pcap_data, f, f->pos + sizeof(rec), fr->data,
			      fr->caplen, NULL);
	f->pos += sizeof(rec) + fr->caplen;
	f->last_ns = fr->ts_ns;
}
