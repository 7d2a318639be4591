/* SPDX-License-Identifier: MIT */
/* Helpers every CLI object uses: errors, keywords, units, JSON. */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "weft/sink.h"
#include "weft/weft.h"
#include <sys/resource.h>

bool json_output;
bool pretty_output;
const char *prog_name = "weft";

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

int cli_error(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (json_output) {
		json_one("error", buf);
		fflush(stdout);
	} else {
		fprintf(stderr, "Error: %s\n", buf);
	}
	return 1;
}

void json_one(const char *key, const char *value)
{
	struct jw w;
	jw_init(&w, stdout, pretty_output);
	jw_obj_start(&w, NULL);
	jw_str(&w, key, value);
	jw_obj_end(&w);
	jw_end(&w);
}

bool is_prefix(const char *word, const char *keyword)
{
	size_t n = strlen(word);
	return n && n <= strlen(keyword) && !strncmp(word, keyword, n);
}

int match_keyword(const char *word, const char *const *keywords, int n)
{
	int found = -1;
	for (int i = 0; i < n; i++) {
		if (!strcmp(word, keywords[i]))
			return i;
		if (is_prefix(word, keywords[i]))
			found = found == -1 ? i : -2;
	}
	return found;
}

int parse_size(const char *s, uint64_t *out)
{
	char *end;
	if (!s || !isdigit((unsigned char)*s))
		return -1;
	double v = strtod(s, &end);
	uint64_t mul = 1;
	switch (toupper((unsigned char)*end)) {
	case 0: break;
	case 'K': mul = 1ull << 10; end++; break;
	case 'M': mul = 1ull << 20; end++; break;
	case 'G': mul = 1ull << 30; end++; break;
	case 'T': mul = 1ull << 40; end++; break;
	case 'B': break;
	default: return -1;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return -1;
	*out = (uint64_t)(v * (double)mul);
	return 0;
}

int parse_duration(const char *s, uint64_t *out)
{
	char *end;
	if (!s || !isdigit((unsigned char)*s))
		return -1;
	double v = strtod(s, &end);
	double mul;
	if (!*end || !strcmp(end, "s"))
		mul = 1e9;
	else if (!strcmp(end, "ms"))
		mul = 1e6;
	else if (!strcmp(end, "us"))
		mul = 1e3;
	else if (!strcmp(end, "ns"))
		mul = 1;
	else if (!strcmp(end, "m") || !strcmp(end, "min"))
		mul = 60e9;
	else if (!strcmp(end, "h"))
		mul = 3600e9;
	else
		return -1;
	*out = (uint64_t)(v * mul);
	return 0;
}

void jw_init(struct jw *w, FILE *f, bool pretty)
{
	w->f = f;
	w->pretty = pretty;
	w->depth = 0;
	w->first = true;
}

static void jw_key(struct jw *w, const char *key)
{
	if (!w->first)
		fputc(',', w->f);
	if (w->pretty && w->depth) {
		fputc('\n', w->f);
		for (int i = 0; i < w->depth; i++)
			fputs("    ", w->f);
	} else if (!w->first) {
		fputc(' ', w->f);
	}
	w->first = false;
	if (key) {
		json_string(w->f, key);
		fputs(": ", w->f);
	}
}

static void jw_open(struct jw *w, const char *key, char c)
{
	jw_key(w, key);
	fputc(c, w->f);
	w->depth++;
	w->first = true;
}

static void jw_close(struct jw *w, char c)
{
	w->depth--;
	if (w->pretty && !w->first) {
		fputc('\n', w->f);
		for (int i = 0; i < w->depth; i++)
			fputs("    ", w->f);
	}
	fputc(c, w->f);
	w->first = false;
}

void jw_obj_start(struct jw *w, const char *key) { jw_open(w, key, '{'); }
void jw_obj_end(struct jw *w) { jw_close(w, '}'); }
void jw_arr_start(struct jw *w, const char *key) { jw_open(w, key, '['); }
void jw_arr_end(struct jw *w) { jw_close(w, ']'); }

void jw_str(struct jw *w, const char *key, const char *v)
{
	jw_key(w, key);
	json_string(w->f, v);
}

void jw_u64(struct jw *w, const char *key, uint64_t v)
{
	jw_key(w, key);
	fprintf(w->f, "%llu", (unsigned long long)v);
}

void jw_bool(struct jw *w, const char *key, bool v)
{
	jw_key(w, key);
	fputs(v ? "true" : "false", w->f);
}

void jw_null(struct jw *w, const char *key)
{
	jw_key(w, key);
	fputs("null", w->f);
}

void jw_end(struct jw *w)
{
	fputc('\n', w->f);
}

/* The engine's settings, as options of read and run alike. */
int engine_option(int argc, char **argv, int *ip, struct weft_config *cfg)
{
	int i = *ip;
	const char *a = argv[i];
	const char *v = i + 1 < argc ? argv[i + 1] : NULL;
	uint64_t *size = !strcmp(a, "--memcap") ? &cfg->memcap :
			 !strcmp(a, "--max-flows") ? &cfg->max_flows :
			 !strcmp(a, "--buffer") ? &cfg->buffer_cap :
			 !strcmp(a, "--depth") ? &cfg->depth : NULL;
	uint64_t *dur = !strcmp(a, "--idle") ? &cfg->idle_established_ns :
			!strcmp(a, "--idle-closing") ? &cfg->idle_closing_ns :
			!strcmp(a, "--idle-halfopen") ? &cfg->idle_halfopen_ns : NULL;
	bool pol = !strcmp(a, "--buffer-policy"), ovl = !strcmp(a, "--overlap");
	if (!strcmp(a, "--no-vlan-key")) {
		cfg->vlan_in_key = false;
		return 1;
	}
	if (!size && !dur && !pol && !ovl)
		return 0;
	if (!v)
		return -cli_error("%s needs a value", a);
	bool ok;
	if (size)
		ok = !parse_size(v, size);
	else if (dur)
		ok = !parse_duration(v, dur);
	else if (pol)
		ok = (is_prefix(v, "gap") && (cfg->buffer_policy = WEFT_BUFFER_GAP, 1)) ||
		     (is_prefix(v, "end") && (cfg->buffer_policy = WEFT_BUFFER_END, 1));
	else
		ok = (is_prefix(v, "first") && (cfg->overlap = WEFT_OVERLAP_FIRST, 1)) ||
		     (is_prefix(v, "last") && (cfg->overlap = WEFT_OVERLAP_LAST, 1));
	if (!ok)
		return -cli_error("bad value '%s' for %s", v, a);
	*ip = i + 1;
	return 1;
}

int sink_option(int argc, char **argv, int *ip, struct weft_sink_opts *so)
{
	int i = *ip;
	const char *a = argv[i];
	const char *v = i + 1 < argc ? argv[i + 1] : NULL;
	if (!strcmp(a, "-c")) {
		so->chunks = stdout;
		return 1;
	}
	if (!strcmp(a, "--no-hash")) {
		so->no_hash = true;
		return 1;
	}
	bool dir = !strcmp(a, "-o"), tmpl = !strcmp(a, "-T"), maxo = !strcmp(a, "--max-open");
	if (!dir && !tmpl && !maxo)
		return 0;
	if (!v)
		return -cli_error("%s needs a value", a);
	if (dir) {
		so->dir = v;
	} else if (tmpl) {
		so->name_template = v;
	} else {
		uint64_t n;
		if (parse_size(v, &n) || !n || n > 65536)
			return -cli_error("bad value '%s' for %s", v, a);
		so->max_open = (int)n;
	}
	*ip = i + 1;
	return 1;
}

void sink_options_done(struct weft_sink_opts *so)
{
	if (!so->dir) {
		if (so->chunks)
			so->files = so->report = false;
		so->dir = ".";
	}
}

/* The closing summary of read and run: one line on stderr, or JSON. */
static uint64_t peak_rss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_maxrss;
}

void print_summary(const struct weft_stats *s, uint64_t packets, bool quiet)
{
	if (json_output) {
		struct jw w;
		jw_init(&w, stdout, pretty_output);
		jw_obj_start(&w, NULL);
		jw_u64(&w, "packets", packets);
		jw_u64(&w, "tcp_packets", s->tcp_packets);
		jw_u64(&w, "non_tcp", s->non_tcp);
		jw_u64(&w, "malformed", s->malformed);
		jw_u64(&w, "truncated", s->truncated);
		jw_u64(&w, "unknown_link", s->unknown_link);
		jw_u64(&w, "length_mismatch", s->len_mismatch);
		jw_u64(&w, "fragments", s->frags);
		jw_u64(&w, "fragment_datagrams", s->frag_datagrams);
		jw_u64(&w, "fragments_dropped", s->frag_dropped);
		jw_u64(&w, "connections", s->conns);
		jw_u64(&w, "max_open_connections", s->conns_max_open);
		jw_u64(&w, "late_packets", s->late_packets);
		jw_u64(&w, "bytes_delivered", s->delivered_bytes);
		jw_u64(&w, "gaps", s->gaps);
		jw_u64(&w, "gap_bytes", s->gap_bytes);
		jw_u64(&w, "conflicts", s->conflicts);
		jw_obj_start(&w, "ends");
		for (int r = 1; r < WEFT_END__COUNT; r++)
			jw_u64(&w, weft_end_reason_name((enum weft_end_reason)r), s->ends[r]);
		jw_obj_end(&w);
		jw_u64(&w, "engine_mem_peak", s->mem_peak);
		jw_u64(&w, "peak_rss", peak_rss_kb() * 1024);
		jw_obj_end(&w);
		jw_end(&w);
		return;
	}
	if (quiet)
		return;
	fprintf(stderr,
		"weft: %llu packets (%llu TCP, %llu malformed, %llu cut by snaplen, "
		"%llu with lengths that disagree), "
		"%llu connections, %llu bytes, %llu gaps (%llu bytes), %llu conflicting "
		"bytes; peak engine memory %llu KiB, peak RSS %llu KiB\n",
		(unsigned long long)packets, (unsigned long long)s->tcp_packets,
		(unsigned long long)s->malformed, (unsigned long long)s->truncated,
		(unsigned long long)s->len_mismatch,
		(unsigned long long)s->conns, (unsigned long long)s->delivered_bytes,
		(unsigned long long)s->gaps, (unsigned long long)s->gap_bytes,
		(unsigned long long)s->conflicts, (unsigned long long)(s->mem_peak >> 10),
		(unsigned long long)peak_rss_kb());
}

