/* SPDX-License-Identifier: MIT */
/* Helpers every CLI object uses: errors, keywords, units, JSON. */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "weft/sink.h"
#include "weft/weft.h"
#include <sys/resource.h>

bool json_output;
bool pretty_output;
bool debug_output;
bool summary_to_stderr;
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

bool asks_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "help"))
			return true;
	return false;
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

/* A number with a unit multiplier, refused when it does not fit in 64 bits
 * (a double past 2^64 cast to an integer is undefined) or when a non-zero
 * value rounds to nothing (--memcap 0.5 must not quietly mean "no cap"). */
static int scaled(double v, double mul, bool whole, uint64_t *out)
{
	double x = v * mul;
	if (!(x >= 0) || x >= 18446744073709551616.0)
		return -1;
	if (whole && x != (double)(uint64_t)x)
		return -1; /* half a byte */
	if (v > 0 && (uint64_t)x == 0)
		return -1;
	*out = (uint64_t)x;
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	char *end;
	if (!s || !isdigit((unsigned char)*s))
		return -1;
	if (!s[strspn(s, "0123456789")]) { /* digits alone: exact to 2^64 - 1 */
		errno = 0;
		unsigned long long u = strtoull(s, &end, 10);
		if (errno)
			return -1;
		*out = u;
		return 0;
	}
	double v = strtod(s, &end);
	double mul = 1;
	switch (toupper((unsigned char)*end)) {
	case 0: break;
	case 'K': mul = 0x1p10; end++; break;
	case 'M': mul = 0x1p20; end++; break;
	case 'G': mul = 0x1p30; end++; break;
	case 'T': mul = 0x1p40; end++; break;
	case 'B': break;
	default: return -1;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return -1;
	return scaled(v, mul, true, out);
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
	return scaled(v, mul, false, out);
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

/*
 * The options read and run share, one table: parsing, `read help` and the
 * man page test all walk it, so an option cannot exist in one and be
 * missing from another. Values never look like options: `-o -q` is a
 * forgotten value, not a directory named -q.
 */
enum opt_kind { O_SIZE, O_DUR, O_BOOL, O_FLAG, O_DIR, O_TMPL, O_MAXOPEN, O_CHUNKS,
		O_OVERLAP, O_BUFPOL, O_JSON, O_PRETTY };

struct cli_opt {
	const char *name, *arg, *help;
	enum opt_kind kind;
	bool sink;    /* offset is into struct weft_sink_opts, else weft_config */
	size_t off;
};

#define CFG(f) false, offsetof(struct weft_config, f)
#define SO(f) true, offsetof(struct weft_sink_opts, f)
static const struct cli_opt opts[] = {
	{ "-o", "DIR", "output directory (default .)", O_DIR, SO(dir) },
	{ "-c", NULL, "print every chunk to stdout after a header: its\n"
	  "tuple (tcpflow's form), id, direction and offset;\n"
	  "without -o no file is written", O_CHUNKS, SO(chunks) },
	{ "-T", "TEMPLATE", "file names (default " WEFT_DEFAULT_TEMPLATE "):\n"
	  "%A %a %B %b addresses and ports, %V %v \"--\" and the\n"
	  "VLAN tags (100 or 100.200), %C %c \"c\" and the count,\n"
	  "%N id, %D c2s|s2c, %T %t start time, %% a %", O_TMPL, SO(name_template) },
	{ "--pcap", NULL, "also one pcap per connection (its c2s name.pcap)",
	  O_FLAG, SO(pcap) },
	{ "--max-open", "N", "files open at once (default: the hard RLIMIT_NOFILE)",
	  O_MAXOPEN, SO(max_open) },
	{ "--no-hash", NULL, "no SHA-256 of the streams (sha256 null)",
	  O_FLAG, SO(no_hash) },
	{ "--force", NULL, "replace the weft output already in DIR", O_FLAG, SO(force) },
	{ "--memcap", "SIZE", "memory for all engine state (e.g. 64M; 0: no cap)", O_SIZE, CFG(memcap) },
	{ "--max-flows", "N", "open connections at most (0: no limit)", O_SIZE, CFG(max_flows) },
	{ "--buffer", "SIZE", "out-of-order bytes held per direction (16M)", O_SIZE, CFG(buffer_cap) },
	{ "--buffer-policy", "gap|end", "what a full buffer does (gap)", O_BUFPOL, CFG(buffer_policy) },
	{ "--depth", "SIZE", "bytes kept per direction (0: all)", O_SIZE, CFG(depth) },
	{ "--idle", "DURATION", "idle timeout of established connections (300s)", O_DUR,
	  CFG(idle_established_ns) },
	{ "--idle-closing", "DURATION", "idle timeout after a FIN (30s)", O_DUR, CFG(idle_closing_ns) },
	{ "--idle-halfopen", "DURATION", "idle timeout with a SYN only (30s)", O_DUR,
	  CFG(idle_halfopen_ns) },
	{ "--overlap", "first|last", "which copy of differing overlapped bytes wins (first)",
	  O_OVERLAP, CFG(overlap) },
	{ "--no-vlan-key", NULL, "leave VLAN tags out of the flow key", O_BOOL, CFG(vlan_in_key) },
	{ "-j", NULL, "summary as JSON (stdout; stderr with -c)", O_JSON, false, 0 },
	{ "-p", NULL, "summary as pretty JSON", O_PRETTY, false, 0 },
};
#undef CFG
#undef SO

void print_options(FILE *f)
{
	for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
		const struct cli_opt *o = &opts[k];
		char head[40];
		snprintf(head, sizeof(head), "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "  %-24s ", head);
		for (const char *p = o->help; *p; p++) {
			fputc(*p, f);
			if (*p == '\n')
				fprintf(f, "  %-24s ", "");
		}
		fputc('\n', f);
	}
}

bool looks_like_option(const char *v)
{
	return v[0] == '-' && v[1] && !isdigit((unsigned char)v[1]);
}

/* The values given so far (one command line a process). */
static const char *given[sizeof(opts) / sizeof(opts[0])];

int cli_option(int argc, char **argv, int *ip, struct weft_config *cfg, struct weft_sink_opts *so)
{
	int i = *ip;
	const char *a = argv[i];
	const struct cli_opt *o = NULL;
	for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]) && !o; k++)
		if (!strcmp(a, opts[k].name) || (opts[k].kind == O_JSON && !strcmp(a, "--json")) ||
		    (opts[k].kind == O_PRETTY && !strcmp(a, "--pretty")))
			o = &opts[k];
	if (!o)
		return 0;
	char *base = o->sink ? (char *)so : (char *)cfg;
	void *field = base + o->off;
	switch (o->kind) {
	case O_FLAG: *(bool *)field = true; return 1;
	case O_BOOL: *(bool *)field = false; return 1;
	case O_CHUNKS: so->chunks = stdout; return 1;
	case O_JSON: json_output = true; return 1;
	case O_PRETTY: json_output = pretty_output = true; return 1;
	default: break;
	}
	const char *v = i + 1 < argc ? argv[i + 1] : NULL;
	if (!v)
		return -cli_error("%s needs a value (%s)", a, o->arg);
	if (looks_like_option(v))
		return -cli_error("%s needs a value (%s), not the option '%s'", a, o->arg, v);
	bool ok = true;
	uint64_t n;
	switch (o->kind) {
	case O_SIZE: ok = !parse_size(v, (uint64_t *)field); break;
	case O_DUR: ok = !parse_duration(v, (uint64_t *)field); break;
	case O_DIR: case O_TMPL: *(const char **)field = v; break;
	case O_MAXOPEN:
		ok = !parse_size(v, &n) && n >= 1 && n <= 1u << 20;
		if (ok)
			*(int *)field = (int)n;
		break;
	case O_OVERLAP:
		ok = (is_prefix(v, "first") && (cfg->overlap = WEFT_OVERLAP_FIRST, 1)) ||
		     (is_prefix(v, "last") && (cfg->overlap = WEFT_OVERLAP_LAST, 1));
		break;
	case O_BUFPOL:
		ok = (is_prefix(v, "gap") && (cfg->buffer_policy = WEFT_BUFFER_GAP, 1)) ||
		     (is_prefix(v, "end") && (cfg->buffer_policy = WEFT_BUFFER_END, 1));
		break;
	default: break;
	}
	if (!ok)
		return -cli_error("bad value '%s' for %s (%s%s)", v, a, o->arg,
				  o->kind == O_MAXOPEN ? ": a whole number from 1 to 1048576" :
				  o->kind == O_SIZE && !strcmp(o->arg, "N") ?
				  ": a whole number below 2^64" :
				  o->kind == O_SIZE ? ": bytes below 2^64, as a whole number "
				  "or with K, M, G or T" :
				  o->kind == O_DUR ? ": a non-zero time below 584 years" : "");
	/* a value given twice: which one was meant? */
	size_t k = (size_t)(o - opts);
	if (given[k])
		return -cli_error("%s given twice ('%s' and '%s')", a, given[k], v);
	given[k] = v;
	*ip = i + 1;
	return 1;
}

/* Kept for run.c, which chains the two: one table answers both. */
int engine_option(int argc, char **argv, int *i, struct weft_config *cfg)
{
	static struct weft_sink_opts unused;
	const char *a = argv[*i];
	for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
		if (!strcmp(a, opts[k].name) && !opts[k].sink && opts[k].kind != O_JSON &&
		    opts[k].kind != O_PRETTY)
			return cli_option(argc, argv, i, cfg, &unused);
	return 0;
}

int sink_option(int argc, char **argv, int *i, struct weft_sink_opts *so)
{
	static struct weft_config unused;
	const char *a = argv[*i];
	if (!strcmp(a, "--force"))
		return 0; /* run's --force-output; read takes --force itself */
	if (!strcmp(a, "--pcap"))
		return -cli_error("--pcap is weft read's: weft run writes no per-connection pcap");
	return cli_option(argc, argv, i, &unused, so);
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
		/* never into -c's data on stdout */
		jw_init(&w, summary_to_stderr ? stderr : stdout, pretty_output);
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
		jw_u64(&w, "rst_ignored", s->rst_ignored);
		jw_u64(&w, "implausible", s->implausible);
		jw_u64(&w, "bytes_delivered", s->delivered_bytes);
		jw_u64(&w, "gaps", s->gaps);
		jw_u64(&w, "gap_bytes", s->gap_bytes);
		jw_u64(&w, "late_bytes", s->late_bytes);
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
		"%llu connections, %llu bytes, %llu gaps (%llu bytes; %llu bytes came late and "
		"filled gaps), %llu conflicting bytes; peak engine memory %llu KiB, peak RSS %llu KiB\n",
		(unsigned long long)packets, (unsigned long long)s->tcp_packets,
		(unsigned long long)s->malformed, (unsigned long long)s->truncated,
		(unsigned long long)s->len_mismatch,
		(unsigned long long)s->conns, (unsigned long long)s->delivered_bytes,
		(unsigned long long)s->gaps, (unsigned long long)s->gap_bytes,
		(unsigned long long)s->late_bytes,
		(unsigned long long)s->conflicts, (unsigned long long)(s->mem_peak >> 10),
		(unsigned long long)peak_rss_kb());
}

