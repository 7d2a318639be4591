/* SPDX-License-Identifier: MIT */
/* Shared by the weft CLI's objects: bpftool's manners (prefix keywords,
 * -j/-p JSON, "Error: ..." lines). */
#ifndef WEFT_CLI_H
#define WEFT_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

extern bool json_output;
extern bool pretty_output;
extern bool debug_output; /* -d: libbpf's and the verifier's log */
/* -c writes the streams to stdout: the JSON summary goes to stderr */
extern bool summary_to_stderr;
extern const char *prog_name;

/* One line on stderr (or {"error": ...} on stdout with -j). Returns 1. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Does word abbreviate keyword (a non-empty prefix of it)? */
bool is_prefix(const char *word, const char *keyword);
/* A verb's arguments (argv[1] on) hold the word help: the object's help. */
bool asks_help(int argc, char **argv);
/* word among n keywords by unique prefix (an exact match wins): its index,
 * -1 when none matches, -2 when several do. */
int match_keyword(const char *word, const char *const *keywords, int n);

/* "64M", "512k", "1G", "1000" -> bytes; -1 on error */
int parse_size(const char *s, uint64_t *out);
/* "5s", "250ms", "2m", "1h", "30" (seconds) -> ns; -1 on error */
int parse_duration(const char *s, uint64_t *out);

/* A small JSON writer: values and keys, commas and indentation handled. */
struct jw {
	FILE *f;
	bool pretty;
	int depth;
	bool first;
};
void jw_init(struct jw *w, FILE *f, bool pretty);
void jw_obj_start(struct jw *w, const char *key);
void jw_obj_end(struct jw *w);
void jw_arr_start(struct jw *w, const char *key);
void jw_arr_end(struct jw *w);
void jw_str(struct jw *w, const char *key, const char *v);
void jw_u64(struct jw *w, const char *key, uint64_t v);
void jw_bool(struct jw *w, const char *key, bool v);
void jw_end(struct jw *w); /* final newline */
/* {"key": "value"} on stdout, with -p's indentation */
void json_one(const char *key, const char *value);

struct weft_config;
/* An engine option at argv[*i] (and its value): 1 consumed (i moved past
 * the value), 0 not an engine option, -1 error already printed. */
int engine_option(int argc, char **argv, int *i, struct weft_config *cfg);

struct weft_sink_opts;
/* Any option of read and run's shared table (engine, output, -j/-p) at
 * argv[*i]: 1 consumed, 0 not one of them, -1 error printed. */
int cli_option(int argc, char **argv, int *i, struct weft_config *cfg, struct weft_sink_opts *so);
/* The shared table as help lines. */
void print_options(FILE *f);
/* "-q", "--x": yes; "-", "-5": no */
bool looks_like_option(const char *v);
/* An output option of read and run at argv[*i]: -o DIR, -c, -T TEMPLATE,
 * --max-open N. Returns as engine_option does. */
int sink_option(int argc, char **argv, int *i, struct weft_sink_opts *so);
/* After the options: -c without -o prints the streams and writes no file
 * (as tcpflow -c); no -o is the current directory. */
void sink_options_done(struct weft_sink_opts *so);

struct weft_stats;
void print_summary(const struct weft_stats *s, uint64_t packets, bool quiet);

int do_read(int argc, char **argv);
int do_run(int argc, char **argv);
int do_prog(int argc, char **argv);
int do_stats(int argc, char **argv);
int do_flow(int argc, char **argv);
int do_policy(int argc, char **argv);

/* instance.c: a running weft, found by its pins under /sys/fs/bpf/weft */
struct instance {
	char dev[64];
	uint32_t pid;
	bool alive;
};
/* "dev IFACE" at argv[*i]: 1 consumed, 0 not it, -1 error printed */
int dev_option(int argc, char **argv, int *i, const char **dev);
/* The instance on dev, or the only one when dev is NULL: 0, or 1 with the
 * error printed (none, several, not running when must_run). */
int instance_find(const char *dev, struct instance *in, bool must_run);
/* A pinned map of in: a descriptor, or -1 with the error printed. */
int instance_map(const struct instance *in, const char *name);
/* Every instance: count; calls fn for each. */
int instance_each(void (*fn)(const struct instance *in, void *arg), void *arg);
/* CLOCK_REALTIME - CLOCK_MONOTONIC: the kernel's ktime to wall time */
int64_t mono_to_real_ns(void);
uint64_t mono_now_ns(void);
/* "2023-11-14T22:13:20.002334Z" */
void iso_time(uint64_t real_ns, char *buf, size_t len);
void jw_null(struct jw *w, const char *key);
/* "5s", "64M" for human output */
void fmt_duration(uint64_t ns, char *buf, size_t len);
void fmt_size(uint64_t bytes, char *buf, size_t len);

#endif
