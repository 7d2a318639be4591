/* SPDX-License-Identifier: MIT */
/*
 * The reports. flows.jsonl gets one line per connection as it ends, flushed
 * at once, so a crash loses no finished connection. report.xml follows the
 * DFXML layout tcpflow writes (a fileobject per direction file) for tools
 * that already read it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "report.h"

struct report {
	FILE *jsonl;
	FILE *xml;
	char *dir;
	int errors;
};

void report_time(uint64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;
	gmtime_r(&t, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%06lluZ", (unsigned long long)(ns % 1000000000ull / 1000));
}

void report_gap_add(struct report_gaps *g, uint64_t off, uint64_t len)
{
	/* a gap right after the last one extends it */
	if (g->n && g->v[g->n - 1][0] + g->v[g->n - 1][1] == off) {
		g->v[g->n - 1][1] += len;
		return;
	}
	if (g->n == g->cap) {
		size_t nc = g->cap ? g->cap * 2 : 4;
		void *nv = realloc(g->v, nc * sizeof(*g->v));
		if (!nv)
			return;
		g->v = nv;
		g->cap = nc;
	}
	g->v[g->n][0] = off;
	g->v[g->n][1] = len;
	g->n++;
}

static FILE *create(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, "w");
	if (!f)
		close(fd);
	return f;
}

static void xml_escape(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '\'': fputs("&apos;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

struct report *report_open(int dirfd, const char *dir, const char *cmdline, char *err,
			   size_t errlen)
{
	struct report *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->jsonl = create(dirfd, "flows.jsonl");
	r->xml = create(dirfd, "report.xml");
	if (!r->jsonl || !r->xml) {
		snprintf(err, errlen, "%s: cannot create the report files", dir);
		if (r->jsonl) fclose(r->jsonl);
		if (r->xml) fclose(r->xml);
		free(r);
		return NULL;
	}
	r->dir = strdup(dir);
	fputs("<?xml version='1.0' encoding='UTF-8'?>\n"
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
	      "      <command_line>", r->xml);
	xml_escape(r->xml, cmdline);
	fputs("</command_line>\n    </execution_environment>\n  </creator>\n", r->xml);
	return r;
}

static void json_dir(FILE *f, const struct report_dir *d)
{
	const struct weft_dir_stats *st = d->st;
	fputs("{\"file\": ", f);
	if (d->file)
		fprintf(f, "\"%s\"", d->file);
	else
		fputs("null", f);
	fprintf(f, ", \"bytes\": %llu, \"packets\": %llu, \"gaps\": [",
		(unsigned long long)st->bytes, (unsigned long long)st->packets);
	for (size_t i = 0; d->gaps && i < d->gaps->n; i++)
		fprintf(f, "%s[%llu, %llu]", i ? ", " : "", (unsigned long long)d->gaps->v[i][0],
			(unsigned long long)d->gaps->v[i][1]);
	fputs("], \"sha256\": ", f);
	if (d->file && d->sha256[0])
		fprintf(f, "\"%s\"", d->sha256);
	else
		fputs("null", f);
	fputc('}', f);
}

static void xml_dir(struct report *r, const struct weft_conn_info *ci, enum weft_dir dir,
		    const struct report_dir *d)
{
	if (!d->file)
		return;
	char a[64], b[64], t0[40], t1[40];
	const struct weft_endpoint *src = dir == WEFT_C2S ? &ci->client : &ci->server;
	const struct weft_endpoint *dst = dir == WEFT_C2S ? &ci->server : &ci->client;
	weft_addr_str(ci->family, src->addr, a, sizeof(a));
	weft_addr_str(ci->family, dst->addr, b, sizeof(b));
	report_time(ci->first_ns, t0, sizeof(t0));
	report_time(ci->last_ns, t1, sizeof(t1));
	FILE *f = r->xml;
	fputs("  <fileobject>\n    <filename>", f);
	xml_escape(f, r->dir);
	fputc('/', f);
	xml_escape(f, d->file);
	fprintf(f, "</filename>\n    <filesize>%llu</filesize>\n",
		(unsigned long long)d->st->bytes);
	fprintf(f, "    <tcpflow startime='%s' endtime='%s' family='%d' src_ipn='%s' "
		"dst_ipn='%s' srcport='%u' dstport='%u' packets='%llu' connection_id='%llu' "
		"gaps='%u' gap_bytes='%llu' conflicts='%llu' end='%s' len='%llu' />\n",
		t0, t1, ci->family == 6 ? 10 : 2, a, b, src->port, dst->port,
		(unsigned long long)d->st->packets, (unsigned long long)ci->id, d->st->gaps,
		(unsigned long long)d->st->gap_bytes, (unsigned long long)d->st->conflicts,
		weft_end_reason_name(ci->end), (unsigned long long)d->st->bytes);
	if (d->sha256[0])
		fprintf(f, "    <hashdigest type='SHA256'>%s</hashdigest>\n", d->sha256);
	fputs("  </fileobject>\n", f);
}

void report_conn(struct report *r, const struct weft_conn_info *ci, enum weft_end_reason why,
		 const struct report_dir d[2])
{
	char src[64], dst[64], t0[40], t1[40];
	weft_addr_str(ci->family, ci->client.addr, src, sizeof(src));
	weft_addr_str(ci->family, ci->server.addr, dst, sizeof(dst));
	report_time(ci->first_ns, t0, sizeof(t0));
	report_time(ci->last_ns, t1, sizeof(t1));
	FILE *f = r->jsonl;
	fprintf(f, "{\"id\": %llu, \"src\": \"%s\", \"sport\": %u, \"dst\": \"%s\", "
		"\"dport\": %u, \"vlan\": [", (unsigned long long)ci->id, src,
		ci->client.port, dst, ci->server.port);
	for (int i = 0; i < ci->nvlan; i++)
		fprintf(f, "%s%u", i ? ", " : "", ci->vlan[i]);
	fprintf(f, "], \"first\": \"%s\", \"last\": \"%s\", \"end\": \"%s\", \"c2s\": ", t0, t1,
		weft_end_reason_name(why));
	json_dir(f, &d[0]);
	fputs(", \"s2c\": ", f);
	json_dir(f, &d[1]);
	fputs("}\n", f);
	if (fflush(f) != 0)
		r->errors++;
	xml_dir(r, ci, WEFT_C2S, &d[0]);
	xml_dir(r, ci, WEFT_S2C, &d[1]);
}

int report_close(struct report *r)
{
	fputs("</dfxml>\n", r->xml);
	int errors = r->errors;
	if (fclose(r->xml) != 0)
		errors++;
	if (fclose(r->jsonl) != 0)
		errors++;
	free(r->dir);
	free(r);
	return errors;
}
