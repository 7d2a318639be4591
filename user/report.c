/* SPDX-License-Identifier: MIT */
/*
 * The reports. flows.jsonl gets one line per connection as it ends, written
 * whole in one write, so a crash loses no finished connection and a full
 * disk leaves no half line (a short write is cut back off). report.xml
 * follows the DFXML layout tcpflow writes (a fileobject per direction file)
 * and is well-formed at every moment: its closing tag is written at once,
 * and each record goes in before it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "report.h"
#include "grow.h"

#define XML_TAIL "</dfxml>\n"
#define XML_TAIL_LEN (sizeof(XML_TAIL) - 1)

/* A line being built. */
struct sbuf {
	char *p;
	size_t n, cap;
	bool oom;
};

struct report {
	int jsonl, xml;
	uint64_t jsonl_end, xml_end;  /* xml_end: where the closing tag starts */
	char *dir;
	int errors, first_errno;
	const char *first_file;
	struct sbuf line;
	uint64_t conns;               /* connections handed in */
	uint64_t jsonl_lost, xml_lost; /* ... whose record is not in the file */
};

static void sb_reserve(struct sbuf *b, size_t more)
{
	if (b->n + more + 1 <= b->cap)
		return;
	size_t nc = b->cap ? b->cap : 1024;
	while (nc < b->n + more + 1)
		nc *= 2;
	char *np = realloc(b->p, nc);
	if (!np) {
		b->oom = true;
		return;
	}
	b->p = np;
	b->cap = nc;
}

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	sb_reserve(b, n);
	if (b->oom)
		return;
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

static void sb_str(struct sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb_reserve(b, (size_t)n);
	if (b->oom)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t)n;
}

size_t weft_utf8_seq(const char *p, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)p;
	uint32_t c = s[0], min;
	size_t n;
	if (c < 0x80) {
		*cp = c;
		return c ? 1 : 0;
	}
	if ((c & 0xe0) == 0xc0) { n = 2; c &= 0x1f; min = 0x80; }
	else if ((c & 0xf0) == 0xe0) { n = 3; c &= 0x0f; min = 0x800; }
	else if ((c & 0xf8) == 0xf0) { n = 4; c &= 0x07; min = 0x10000; }
	else return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0; /* overlong, past Unicode, a surrogate */
	*cp = c;
	return n;
}

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD, for bytes that are no character */

/* A JSON string: quotes, backslashes and control bytes escaped (a template
 * may put any of them in a file name), bytes that are not UTF-8 (a path
 * given on the command line may hold any) replaced. */
static void sb_json(struct sbuf *b, const char *s)
{
	sb_put(b, "\"", 1);
	while (*s) {
		unsigned char c = (unsigned char)*s;
		char e[8];
		uint32_t cp;
		size_t n = weft_utf8_seq(s, &cp);
		if (c == '"' || c == '\\') {
			e[0] = '\\';
			e[1] = (char)c;
			sb_put(b, e, 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(e, sizeof(e), "\\u%04x", c);
			sb_put(b, e, 6);
		} else if (!n) {
			sb_str(b, REPLACEMENT);
		} else {
			sb_put(b, s, n);
			s += n;
			continue;
		}
		s++;
	}
	sb_put(b, "\"", 1);
}

/* XML 1.0 text: markup escaped; what it cannot hold at all (control bytes
 * but tab, newline and return, U+FFFE and U+FFFF, bytes that are not
 * UTF-8) replaced, so report.xml stays well-formed whatever a path holds. */
static void sb_xml(struct sbuf *b, const char *s)
{
	while (s && *s) {
		uint32_t cp;
		size_t n = weft_utf8_seq(s, &cp);
		switch (*s) {
		case '<': sb_str(b, "&lt;"); break;
		case '>': sb_str(b, "&gt;"); break;
		case '&': sb_str(b, "&amp;"); break;
		case '\'': sb_str(b, "&apos;"); break;
		case '"': sb_str(b, "&quot;"); break;
		default:
			if (!n || (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') ||
			    cp == 0xfffe || cp == 0xffff) {
				sb_str(b, REPLACEMENT);
				break;
			}
			sb_put(b, s, n);
			s += n;
			continue;
		}
		s++;
	}
}

void weft_report_time(uint64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;
	gmtime_r(&t, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%06lluZ", (unsigned long long)(ns % 1000000000ull / 1000));
}

void weft_report_gap_add(struct report_gaps *g, uint64_t off, uint64_t len)
{
	/* a gap right after the last one extends it */
	if (g->n && g->v[g->n - 1][0] + g->v[g->n - 1][1] == off) {
		g->v[g->n - 1][1] += len;
		return;
	}
	if (!weft_grow(&g->v, &g->cap, g->n, sizeof(*g->v), 4))
		return;
	g->v[g->n][0] = off;
	g->v[g->n][1] = len;
	g->n++;
}

/* Late bytes filled [off, off + len) of the gaps: what they cover goes,
 * a gap they fill in the middle becomes two. The list stays sorted. */
void weft_report_gap_sub(struct report_gaps *g, uint64_t off, uint64_t len)
{
	uint64_t end = off + len;
	for (size_t i = 0; i < g->n; i++) {
		uint64_t a = g->v[i][0], b = a + g->v[i][1];
		if (b <= off || a >= end)
			continue;
		if (a < off && b > end) { /* a hole in the middle: split */
			if (!weft_grow(&g->v, &g->cap, g->n, sizeof(*g->v), 4))
				return; /* the gap stays whole: never less reported */
			memmove(&g->v[i + 2], &g->v[i + 1], (g->n - i - 1) * sizeof(*g->v));
			g->v[i][1] = off - a;
			g->v[i + 1][0] = end;
			g->v[i + 1][1] = b - end;
			g->n++;
			return;
		}
		if (a < off) {
			g->v[i][1] = off - a;
		} else if (b > end) {
			g->v[i][0] = end;
			g->v[i][1] = b - end;
		} else { /* all of it */
			memmove(&g->v[i], &g->v[i + 1], (g->n - i - 1) * sizeof(*g->v));
			g->n--;
			i--;
		}
	}
}

static void fail(struct report *r, const char *file, int err)
{
	if (!r->errors++) {
		r->first_errno = err ? err : EIO;
		r->first_file = file;
	}
}

/* All of n bytes at off, or -1 (errno set). */
static int pwrite_all(int fd, const char *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (!w)
				errno = ENOSPC;
			return -1;
		}
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* A record at the end of flows.jsonl, whole or not at all. */
static void jsonl_put(struct report *r, const struct sbuf *b)
{
	if (b->oom) {
		fail(r, "flows.jsonl", ENOMEM);
		return;
	}
	if (pwrite_all(r->jsonl, b->p, b->n, r->jsonl_end) != 0) {
		fail(r, "flows.jsonl", errno);
		if (ftruncate(r->jsonl, (off_t)r->jsonl_end) != 0)
			fail(r, "flows.jsonl", errno);
		return;
	}
	r->jsonl_end += b->n;
}

/* A record before report.xml's closing tag, which is put back if the
 * record does not fit: the file stays a whole document. */
static void xml_put(struct report *r, struct sbuf *b)
{
	sb_str(b, XML_TAIL);
	if (b->oom) {
		fail(r, "report.xml", ENOMEM);
		return;
	}
	if (pwrite_all(r->xml, b->p, b->n, r->xml_end) != 0) {
		fail(r, "report.xml", errno);
		/* the tail's bytes were there before: rewriting them takes no space */
		if (pwrite_all(r->xml, XML_TAIL, XML_TAIL_LEN, r->xml_end) != 0 ||
		    ftruncate(r->xml, (off_t)(r->xml_end + XML_TAIL_LEN)) != 0)
			fail(r, "report.xml", errno);
		return;
	}
	r->xml_end += b->n - XML_TAIL_LEN;
}

static int create(int dirfd, const char *name)
{
	return openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
}

struct report *weft_report_open(int dirfd, const char *dir, const char *cmdline, char *err,
			   size_t errlen)
{
	struct report *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->jsonl = create(dirfd, "flows.jsonl");
	r->xml = r->jsonl >= 0 ? create(dirfd, "report.xml") : -1;
	if (r->jsonl < 0 || r->xml < 0) {
		snprintf(err, errlen, "%s/%s: %s", dir, r->jsonl < 0 ? "flows.jsonl" : "report.xml",
			 strerror(errno));
		int e = errno;
		if (r->jsonl >= 0) {
			close(r->jsonl);
			unlinkat(dirfd, "flows.jsonl", 0); /* a failed start leaves nothing */
		}
		errno = e;
		free(r);
		return NULL;
	}
	r->dir = strdup(dir);
	struct sbuf b = { 0 };
	sb_str(&b, "<?xml version='1.0' encoding='UTF-8'?>\n"
	       "<dfxml xmloutputversion='1.0'>\n"
	       "  <metadata xmlns='http://afflib.org/tcpflow/' "
	       "xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance' "
	       "xmlns:dc='http://purl.org/dc/elements/1.1/'>\n"
	       "    <dc:type>Feature Extraction</dc:type>\n"
	       "  </metadata>\n"
	       "  <creator version='1.0'>\n"
	       "    <program>weft</program>\n"
	       "    <version>0.1</version>\n"
	       "    <execution_environment>\n"
	       "      <command_line>");
	sb_xml(&b, cmdline);
	sb_str(&b, "</command_line>\n    </execution_environment>\n  </creator>\n");
	xml_put(r, &b);
	free(b.p);
	return r;
}

void weft_report_community_id(const struct weft_conn_info *ci, uint16_t seed, char out[40])
{
	/* seed, addresses, protocol, a zero byte, ports: the smaller endpoint
	 * (address, then port) first, all in network order */
	size_t alen = ci->family == 6 ? 16 : 4;
	const struct weft_endpoint *a = &ci->client, *b = &ci->server;
	int c = memcmp(a->addr, b->addr, alen);
	if (c > 0 || (c == 0 && a->port > b->port)) {
		a = &ci->server;
		b = &ci->client;
	}
	uint8_t m[2 + 32 + 2 + 4], *p = m;
	*p++ = (uint8_t)(seed >> 8);
	*p++ = (uint8_t)seed;
	memcpy(p, a->addr, alen);
	p += alen;
	memcpy(p, b->addr, alen);
	p += alen;
	*p++ = 6; /* TCP */
	*p++ = 0;
	*p++ = (uint8_t)(a->port >> 8);
	*p++ = (uint8_t)a->port;
	*p++ = (uint8_t)(b->port >> 8);
	*p++ = (uint8_t)b->port;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	strcpy(out, "1:");
	if (!EVP_Digest(m, (size_t)(p - m), md, &mdlen, EVP_sha1(), NULL))
		return;
	EVP_EncodeBlock((unsigned char *)out + 2, md, (int)mdlen);
}

static void json_dir(struct sbuf *b, const struct report_dir *d)
{
	const struct weft_dir_stats *st = d->st;
	sb_str(b, "{\"file\": ");
	if (d->file)
		sb_json(b, d->file);
	else
		sb_str(b, "null");
	sb_printf(b, ", \"bytes\": %llu, \"packets\": %llu, \"gaps\": [",
		  (unsigned long long)st->bytes, (unsigned long long)st->packets);
	for (size_t i = 0; d->gaps && i < d->gaps->n; i++)
		sb_printf(b, "%s[%llu, %llu]", i ? ", " : "", (unsigned long long)d->gaps->v[i][0],
			  (unsigned long long)d->gaps->v[i][1]);
	sb_printf(b, "], \"conflicts\": %llu, \"late\": %llu, \"sha256\": ",
		  (unsigned long long)st->conflicts, (unsigned long long)d->late);
	/* a file cut short has no digest that would match it */
	if (d->file && d->sha256[0] && !d->err)
		sb_printf(b, "\"%s\"", d->sha256);
	else
		sb_str(b, "null");
	if (d->err) {
		sb_str(b, ", \"incomplete\": true, \"error\": ");
		sb_json(b, strerror(d->err));
	}
	sb_put(b, "}", 1);
}

static void xml_dir(struct report *r, struct sbuf *b, const struct weft_conn_info *ci,
		    enum weft_dir dir, const struct report_dir *d)
{
	if (!d->file)
		return;
	char a[64], bb[64], t0[40], t1[40];
	const struct weft_endpoint *src = dir == WEFT_C2S ? &ci->client : &ci->server;
	const struct weft_endpoint *dst = dir == WEFT_C2S ? &ci->server : &ci->client;
	weft_addr_str(ci->family, src->addr, a, sizeof(a));
	weft_addr_str(ci->family, dst->addr, bb, sizeof(bb));
	weft_report_time(ci->first_ns, t0, sizeof(t0));
	weft_report_time(ci->last_ns, t1, sizeof(t1));
	sb_str(b, "  <fileobject>\n    <filename>");
	sb_xml(b, r->dir);
	sb_put(b, "/", 1);
	sb_xml(b, d->file);
	sb_printf(b, "</filename>\n    <filesize>%llu</filesize>\n",
		  (unsigned long long)d->st->bytes);
	sb_printf(b, "    <tcpflow startime='%s' endtime='%s' family='%d' src_ipn='%s' "
		  "dst_ipn='%s' srcport='%u' dstport='%u' packets='%llu' connection_id='%llu' "
		  "gaps='%u' gap_bytes='%llu' conflicts='%llu' end='%s' len='%llu'%s />\n",
		  t0, t1, ci->family == 6 ? 10 : 2, a, bb, src->port, dst->port,
		  (unsigned long long)d->st->packets, (unsigned long long)ci->id, d->st->gaps,
		  (unsigned long long)d->st->gap_bytes, (unsigned long long)d->st->conflicts,
		  weft_end_reason_name(ci->end), (unsigned long long)d->st->bytes,
		  d->err ? " incomplete='1'" : "");
	if (d->sha256[0] && !d->err)
		sb_printf(b, "    <hashdigest type='SHA256'>%s</hashdigest>\n", d->sha256);
	sb_str(b, "  </fileobject>\n");
}

void weft_report_conn(struct report *r, const struct weft_conn_info *ci, enum weft_end_reason why,
		 const struct report_dir d[2], const char *pcap, const char *pcap_err)
{
	char src[64], dst[64], t0[40], t1[40], cid[40];
	weft_addr_str(ci->family, ci->client.addr, src, sizeof(src));
	weft_addr_str(ci->family, ci->server.addr, dst, sizeof(dst));
	weft_report_time(ci->first_ns, t0, sizeof(t0));
	weft_report_time(ci->last_ns, t1, sizeof(t1));
	weft_report_community_id(ci, 0, cid);
	struct sbuf *b = &r->line;
	b->n = 0;
	b->oom = false;
	sb_printf(b, "{\"id\": %llu, \"src\": \"%s\", \"sport\": %u, \"dst\": \"%s\", "
		  "\"dport\": %u, \"vlan\": [", (unsigned long long)ci->id, src,
		  ci->client.port, dst, ci->server.port);
	for (int i = 0; i < ci->nvlan; i++)
		sb_printf(b, "%s%u", i ? ", " : "", ci->vlan[i]);
	sb_printf(b, "], \"first\": \"%s\", \"last\": \"%s\", \"end\": \"%s\", "
		  "\"community_id\": \"%s\", ", t0, t1, weft_end_reason_name(why), cid);
	if (pcap || pcap_err) {
		sb_str(b, "\"pcap\": ");
		if (pcap)
			sb_json(b, pcap);
		else
			sb_str(b, "null"); /* it could not be made */
		sb_str(b, ", ");
		if (pcap_err) { /* written in part: listed (--force removes it), said */
			sb_str(b, "\"pcap_incomplete\": true, \"pcap_error\": ");
			sb_json(b, pcap_err);
			sb_str(b, ", ");
		}
	}
	sb_str(b, "\"c2s\": ");
	json_dir(b, &d[0]);
	sb_str(b, ", \"s2c\": ");
	json_dir(b, &d[1]);
	sb_str(b, "}\n");
	r->conns++;
	int had = r->errors;
	jsonl_put(r, b);
	r->jsonl_lost += r->errors != had;
	b->n = 0;
	b->oom = false;
	xml_dir(r, b, ci, WEFT_C2S, &d[0]);
	xml_dir(r, b, ci, WEFT_S2C, &d[1]);
	had = r->errors;
	if (b->n)
		xml_put(r, b);
	r->xml_lost += r->errors != had;
}

int weft_report_close(struct report *r, char *err, size_t errlen)
{
	if (close(r->xml) != 0)
		fail(r, "report.xml", errno);
	if (close(r->jsonl) != 0)
		fail(r, "flows.jsonl", errno);
	int errors = r->errors;
	/* what the reports lack, said: a connection missing from them is
	 * otherwise silent */
	if (errors && err && (r->jsonl_lost || r->xml_lost))
		snprintf(err, errlen, "the report lacks connections: flows.jsonl %llu of %llu, "
			 "report.xml %llu of %llu (the first error: %s: %s)",
			 (unsigned long long)r->jsonl_lost, (unsigned long long)r->conns,
			 (unsigned long long)r->xml_lost, (unsigned long long)r->conns,
			 r->first_file, strerror(r->first_errno));
	else if (errors && err)
		snprintf(err, errlen, "%s: %s", r->first_file, strerror(r->first_errno));
	free(r->line.p);
	free(r->dir);
	free(r);
	return errors;
}
