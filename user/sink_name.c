/* SPDX-License-Identifier: MIT */
/*
 * File names from a template (tcpflow's escapes, plus %N and %D), and the
 * check that refuses a template before anything is written: a typo must
 * not become a thousand odd names, two directions one file, or a path out
 * of the output directory.
 */
#include <stdio.h>
#include <string.h>
#include "weft/sink.h"
#include "report.h"

static void fmt_addr(const struct weft_conn_info *ci, const uint8_t *a, char *b, size_t n)
{
	if (ci->family == 4)
		snprintf(b, n, "%03u.%03u.%03u.%03u", a[0], a[1], a[2], a[3]);
	else
		weft_addr_str(6, a, b, n);
}

/* count UINT32_MAX: the name's key, with the count left out (the per-name
 * counter's index). A template without %c gets "c<count>" at its end when
 * the count is not 0, so names stay distinct whatever the template. */
void weft_format_name(const char *t, const struct weft_conn_info *ci, enum weft_dir d,
		      uint32_t count, char *out, size_t len)
{
	const struct weft_endpoint *A = d == WEFT_C2S ? &ci->client : &ci->server;
	const struct weft_endpoint *B = d == WEFT_C2S ? &ci->server : &ci->client;
	bool key = count == UINT32_MAX, has_c = false;
	size_t o = 0;
	char tmp[64];
	if (!len)
		return;
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
		/* every tag, outer first: 100, or 100.200 for QinQ */
		case 'v':
			if (ci->nvlan == 1)
				snprintf(tmp, sizeof(tmp), "%u", ci->vlan[0]);
			else if (ci->nvlan >= 2)
				snprintf(tmp, sizeof(tmp), "%u.%u", ci->vlan[0], ci->vlan[1]);
			break;
		case 'C': if (count && !key) strcpy(tmp, "c"); break;
		case 'c':
			has_c = true;
			if (count && !key)
				snprintf(tmp, sizeof(tmp), "%u", count);
			break;
		case 'N': snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)ci->id); break;
		case 'D': strcpy(tmp, d == WEFT_C2S ? "c2s" : "s2c"); break;
		case 'T': weft_report_time(ci->first_ns, tmp, sizeof(tmp)); break;
		case 't': snprintf(tmp, sizeof(tmp), "%llu",
				   (unsigned long long)(ci->first_ns / 1000000000ull)); break;
		case '%': strcpy(tmp, "%"); break;
		default: break; /* refused by weft_template_check */
		}
		for (char *p = tmp; *p && o + 1 < len; p++)
			out[o++] = *p == '/' ? '_' : *p;
	}
	if (!has_c && count && !key && o + 1 < len) {
		int n = snprintf(out + o, len - o, "c%u", count);
		if (n > 0)
			o += (size_t)n < len - o ? (size_t)n : len - o - 1;
	}
	out[o] = 0;
}

int weft_template_check(const char *t, char *err, size_t errlen)
{
	bool A = false, a = false, B = false, b = false, D = false;
	/* per path component: its literal text (escapes that may be empty
	 * left out), and whether something always non-empty is in it */
	char lit[256];
	size_t nlit = 0;
	bool solid = false, named = false; /* named: an escape never empty */
	bool top = true;
	if (!*t) {
		snprintf(err, errlen, "empty file name template");
		return -1;
	}
	if (*t == '/') {
		snprintf(err, errlen, "template '%s': file names stay inside the output "
			 "directory (no leading /)", t);
		return -1;
	}
	for (const char *p = t;; p++) {
		if (!*p || *p == '/') {
			lit[nlit < sizeof(lit) ? nlit : sizeof(lit) - 1] = 0;
			if (!solid || (!named && (!strcmp(lit, ".") || !strcmp(lit, "..")))) {
				snprintf(err, errlen, "template '%s': every part of the path needs a "
					 "name of its own (no empty, '.' or '..' part)", t);
				return -1;
			}
			/* the names of weft's own files (the reports, the journal) */
			if (top && !named && (!strcmp(lit, "flows.jsonl") || !strcmp(lit, "report.xml") ||
					      !strcmp(lit, ".weft-files"))) {
				snprintf(err, errlen, "template '%s': %s is weft's own file, not a "
					 "stream's name", t, lit);
				return -1;
			}
			if (!*p)
				break;
			nlit = 0;
			solid = named = top = false;
			continue;
		}
		uint32_t cp;
		size_t n = weft_utf8_seq(p, &cp);
		if (!n || cp == 0xfffe || cp == 0xffff) {
			snprintf(err, errlen, "the template is not UTF-8 text (byte %zu): names "
				 "must be characters the reports can hold", (size_t)(p - t) + 1);
			return -1;
		}
		if (n > 1) {
			for (size_t i = 0; i < n && nlit < sizeof(lit); i++)
				lit[nlit++] = p[i];
			p += n - 1;
			solid = true;
			continue;
		}
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(err, errlen, "template '%s': control characters make names no "
				 "tool can show (report.xml cannot even hold them)", t);
			return -1;
		}
		if (*p != '%') {
			if (nlit < sizeof(lit))
				lit[nlit++] = *p;
			solid = true;
			continue;
		}
		char e = *++p;
		switch (e) {
		case 'A': A = true; solid = named = true; break;
		case 'a': a = true; solid = named = true; break;
		case 'B': B = true; solid = named = true; break;
		case 'b': b = true; solid = named = true; break;
		case 'D': D = true; solid = named = true; break;
		case 'N': case 'T': case 't': solid = named = true; break;
		case '%': solid = true; if (nlit < sizeof(lit)) lit[nlit++] = '%'; break;
		case 'V': case 'v': case 'C': case 'c': break;
		default:
			if (!e)
				snprintf(err, errlen, "template '%s' ends in a lone %%", t);
			else
				snprintf(err, errlen, "template '%s': unknown escape %%%c (known: "
					 "%%A %%a %%B %%b %%V %%v %%C %%c %%N %%D %%T %%t %%%%)", t, e);
			return -1;
		}
	}
	if (!D && !(A && a) && !(B && b)) {
		snprintf(err, errlen, "template '%s' names both directions alike: it needs %%D, "
			 "or an address with its port (%%A and %%a, or %%B and %%b)", t);
		return -1;
	}
	return 0;
}
