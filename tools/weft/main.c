/* SPDX-License-Identifier: MIT */
/*
 * weft [OPTIONS] OBJECT COMMAND [ARGS]: the command line, in bpftool's
 * manners. Objects match by unique prefix; -j/-p print JSON.
 */
#include <stdio.h>
#include <string.h>
#include "cli.h"

#define WEFT_VERSION "0.1.0"

struct object {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static int do_help(int argc, char **argv);
static int do_version(int argc, char **argv);

static const struct object objects[] = {
	{ "read", do_read, "read FILE... [-o DIR] [filter EXPR] [OPTIONS]   reassemble capture files" },
	{ "run", do_run, "run dev IFACE [-o DIR] [mode tap] [queues N]     live daemon (XDP + AF_XDP)" },
	{ "prog", do_prog, "prog show | detach dev IFACE                   what is attached" },
	{ "flow", do_flow, "flow list | show ID | evict ID | ignore ID     live flows" },
	{ "policy", do_policy, "policy show | set KEY VALUE ...                live settings" },
	{ "stats", do_stats, "stats [dev IFACE]                              counters" },
	{ "help", do_help, "help                                           this text" },
	{ "version", do_version, "version                                        print the version" },
};
#define NOBJ (sizeof(objects) / sizeof(objects[0]))

static const struct object *find_object(const char *word);

static int do_help(int argc, char **argv)
{
	/* help OBJECT: that object's own help, as OBJECT help gives it */
	if (argc >= 1) {
		const struct object *o = find_object(argv[0]);
		if (!o)
			return 1;
		if (o->fn != do_help) {
			char *h[] = { "help", NULL };
			return o->fn(1, h);
		}
	}
	printf("Usage: %s [OPTIONS] OBJECT { COMMAND | help }\n\n", prog_name);
	for (size_t i = 0; i < NOBJ; i++)
		printf("       %s %s\n", prog_name, objects[i].summary);
	printf("\nOPTIONS: -j, --json (JSON), -p, --pretty (pretty JSON),\n"
	       "         -d, --debug (libbpf's and the verifier's log),\n"
	       "         -h, --help (this text), -V, --version (the version)\n"
	       "'%s help OBJECT' is '%s OBJECT help'.\n", prog_name, prog_name);
	printf(
	       "Keywords may be abbreviated to any unique prefix.\n");
	return 0;
}

static int do_version(int argc, char **argv)
{
	(void)argc; (void)argv;
	if (json_output) {
		json_one("version", WEFT_VERSION);
	} else {
		printf("%s v%s\n", prog_name, WEFT_VERSION);
	}
	return 0;
}

/* The object a word names (a unique prefix), or NULL with an error said. */
static const struct object *find_object(const char *word)
{
	const struct object *match = NULL;
	for (size_t k = 0; k < NOBJ; k++) {
		if (!is_prefix(word, objects[k].name))
			continue;
		if (!strcmp(word, objects[k].name))
			return &objects[k];
		if (match) {
			cli_error("'%s' is ambiguous (try '%s help')", word, prog_name);
			return NULL;
		}
		match = &objects[k];
	}
	if (!match)
		cli_error("unknown object '%s' (try '%s help')", word, prog_name);
	return match;
}

int main(int argc, char **argv)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *o = argv[i];
		if (!strcmp(o, "-j") || !strcmp(o, "--json"))
			json_output = true;
		else if (!strcmp(o, "-p") || !strcmp(o, "--pretty"))
			json_output = pretty_output = true;
		else if (!strcmp(o, "-d") || !strcmp(o, "--debug"))
			debug_output = true;
		else if (!strcmp(o, "-h") || !strcmp(o, "--help"))
			return do_help(0, NULL);
		else if (!strcmp(o, "-V") || !strcmp(o, "--version"))
			return do_version(0, NULL);
		else
			return cli_error("unknown option '%s' (try '%s help')", o, prog_name);
	}
	if (i >= argc)
		return do_help(0, NULL);
	const struct object *match = find_object(argv[i]);
	if (!match)
		return 1;
	return match->fn(argc - i - 1, argv + i + 1);
}
