/* SPDX-License-Identifier: MIT */
/*
 * weft flow list | show ID | evict ID | ignore ID: a running weft's flows.
 * The kernel flow table gives the live counters of every TCP flow the XDP
 * program saw (bypassed and evicted ones too); the conns map names the
 * ones the engine follows by their connection id (flows.jsonl's "id"); the
 * bypass map says which no longer cross; flows.jsonl names the ones that
 * ended while their kernel entry lives on (flow_ended.c). evict and ignore
 * go to the daemon through its command queue.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "cli.h"
#include "weft/abi.h"
#include "weft/flowhash.h"
#include "flow_ended.h"
#include "grow.h"

#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_ACK 0x10

struct row {
	struct weft_flow_key key;
	struct weft_flow flow;
	struct weft_conn_entry conn;
	struct weft_bypass byp;
	bool has_flow, has_conn, has_byp;
	uint64_t ended_id;   /* ended: its id in flows.jsonl, or 0 */
	char ended[16];      /* and its end reason */
};

struct table {
	struct row *rows;
	size_t n, cap;
	uint32_t *idx;       /* open addressing: row index + 1, 0 empty */
	size_t nidx;
};

static uint32_t key_hash(const struct weft_flow_key *k)
{
	return weft_flow_hash(k->addr[0], k->port[0], k->addr[1], k->port[1], k->vlan[0], k->vlan[1],
			      k->family);
}

/* The slot of k's row, or of the empty slot where it would go (nidx > 0). */
static size_t row_slot(const struct table *t, const struct weft_flow_key *k)
{
	size_t h = key_hash(k) & (t->nidx - 1);
	while (t->idx[h] && memcmp(&t->rows[t->idx[h] - 1].key, k, sizeof(*k)))
		h = (h + 1) & (t->nidx - 1);
	return h;
}

static struct row *row_get(struct table *t, const struct weft_flow_key *k)
{
	if ((t->n + 1) * 2 > t->nidx) {
		size_t nn = t->nidx ? t->nidx * 2 : 1024;
		uint32_t *ni = calloc(nn, sizeof(*ni));
		if (!ni)
			return NULL;
		for (size_t i = 0; i < t->n; i++) {
			size_t h = key_hash(&t->rows[i].key) & (nn - 1);
			while (ni[h])
				h = (h + 1) & (nn - 1);
			ni[h] = (uint32_t)i + 1;
		}
		free(t->idx);
		t->idx = ni;
		t->nidx = nn;
	}
	size_t h = row_slot(t, k);
	if (t->idx[h])
		return &t->rows[t->idx[h] - 1];
	if (!weft_grow(&t->rows, &t->cap, t->n, sizeof(*t->rows), 1024))
		return NULL;
	struct row *r = &t->rows[t->n];
	memset(r, 0, sizeof(*r));
	r->key = *k;
	t->idx[h] = (uint32_t)++t->n;
	return r;
}

static struct row *row_find(struct table *t, const struct weft_flow_key *k)
{
	if (!t->nidx)
		return NULL;
	size_t h = row_slot(t, k);
	return t->idx[h] ? &t->rows[t->idx[h] - 1] : NULL;
}

/* A connection flows.jsonl lists: its id on the kernel entry it left (the
 * last line of a tuple wins: the latest connection on it). */
static void mark_ended(const struct ended_conn *e, void *arg)
{
	struct row *r = row_find(arg, &e->key);
	if (r && !r->has_conn) {
		r->ended_id = e->id;
		snprintf(r->ended, sizeof(r->ended), "%s", e->end);
	}
}

/* The id a row shows: followed, bypassed, or ended; 0 when none. */
static uint64_t row_id(const struct row *r)
{
	return r->has_conn ? r->conn.id : r->has_byp && r->byp.id ? r->byp.id : r->ended_id;
}

/* Every entry of one map into the table. which: 0 flows, 1 conns, 2 bypass */
static void load(struct table *t, int fd, int which)
{
	struct weft_flow_key k, next;
	void *prev = NULL;
	union {
		struct weft_flow f;
		struct weft_conn_entry c;
		struct weft_bypass b;
	} v;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &v) != 0)
			continue; /* gone meanwhile */
		struct row *r = row_get(t, &k);
		if (!r)
			return;
		if (which == 0) {
			r->flow = v.f;
			r->has_flow = true;
		} else if (which == 1) {
			r->conn = v.c;
			r->has_conn = true;
		} else {
			r->byp = v.b;
			r->has_byp = true;
		}
	}
}

static int load_all(const struct instance *in, struct table *t)
{
	const char *names[] = { "flows", "conns", "bypass" };
	for (int i = 0; i < 3; i++) {
		int fd = instance_map(in, names[i]);
		if (fd < 0)
			return 1;
		load(t, fd, i);
		close(fd);
	}
	ended_each(in, mark_ended, t);
	return 0;
}

static int client_end(const struct row *r)
{
	if (r->has_conn)
		return r->conn.client;
	if (r->has_flow && r->flow.client)
		return r->flow.client - 1;
	return 0;
}

static const char *state_of(const struct row *r)
{
	if (!r->has_flow)
		return "unknown";
	uint8_t a = r->flow.flags[0], b = r->flow.flags[1];
	if ((a | b) & TCPF_RST)
		return "reset";
	if ((a & TCPF_FIN) && (b & TCPF_FIN))
		return "closed";
	if ((a | b) & TCPF_FIN)
		return "closing";
	if ((a & TCPF_SYN) && (b & TCPF_SYN))
		return "established";
	if ((a | b) & TCPF_SYN)
		return "syn-sent";
	return "midstream";
}

static const char *bypass_reason(uint32_t r)
{
	switch (r) {
	case WEFT_BYPASS_DEPTH: return "depth";
	case WEFT_BYPASS_IGNORE: return "ignored";
	case WEFT_BYPASS_EVICT: return "evicted";
	default: return "other";
	}
}

static void addr_str(const struct weft_flow_key *k, int end, char *buf, size_t len)
{
	if (k->family == 4)
		inet_ntop(AF_INET, k->addr[end], buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, k->addr[end], buf, (socklen_t)len);
}

static void flags_str(uint8_t f, char *buf)
{
	static const char names[] = "FSRPAUEC";
	int n = 0;
	for (int i = 0; i < 8; i++)
		if (f & (1u << i))
			buf[n++] = names[i];
	buf[n] = 0;
}

static int cmp_rows(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	/* followed ones by id first, then the rest by first seen */
	if (x->has_conn != y->has_conn)
		return x->has_conn ? -1 : 1;
	if (x->has_conn)
		return x->conn.id < y->conn.id ? -1 : x->conn.id > y->conn.id;
	if (!!row_id(x) != !!row_id(y))
		return row_id(x) ? -1 : 1;
	if (row_id(x))
		return row_id(x) < row_id(y) ? -1 : row_id(x) > row_id(y);
	return x->flow.first_ns < y->flow.first_ns ? -1 : x->flow.first_ns > y->flow.first_ns;
}

static void json_row(struct jw *w, const struct row *r, int64_t m2r)
{
	int c = client_end(r), s = !c;
	char a[64], t[40], fl[12];
	jw_obj_start(w, NULL);
	if (row_id(r))
		jw_u64(w, "id", row_id(r));
	else
		jw_null(w, "id");
	jw_bool(w, "followed", r->has_conn);
	if (r->ended_id)
		jw_str(w, "ended", r->ended);
	addr_str(&r->key, c, a, sizeof(a));
	jw_str(w, "src", a);
	jw_u64(w, "sport", r->key.port[c]);
	addr_str(&r->key, s, a, sizeof(a));
	jw_str(w, "dst", a);
	jw_u64(w, "dport", r->key.port[s]);
	jw_arr_start(w, "vlan");
	for (int i = 0; i < 2; i++)
		if (r->key.vlan[i])
			jw_u64(w, NULL, r->key.vlan[i]);
	jw_arr_end(w);
	jw_str(w, "state", state_of(r));
	if (r->has_flow) {
		iso_time((uint64_t)((int64_t)r->flow.first_ns + m2r), t, sizeof(t));
		jw_str(w, "first", t);
		iso_time((uint64_t)((int64_t)r->flow.last_ns + m2r), t, sizeof(t));
		jw_str(w, "last", t);
		uint64_t now = mono_now_ns();
		jw_u64(w, "idle_ms", now > r->flow.last_ns ? (now - r->flow.last_ns) / 1000000 : 0);
		const char *dn[2] = { "c2s", "s2c" };
		int ends[2] = { c, s };
		for (int d = 0; d < 2; d++) {
			int e = ends[d];
			jw_obj_start(w, dn[d]);
			jw_u64(w, "packets", r->flow.packets[e]);
			jw_u64(w, "bytes", r->flow.bytes[e]);
			flags_str(r->flow.flags[e], fl);
			jw_str(w, "flags", fl);
			jw_obj_end(w);
		}
		jw_u64(w, "acks_kept", r->flow.acks_kept);
	}
	if (r->has_byp) {
		jw_obj_start(w, "bypass");
		jw_str(w, "reason", bypass_reason(r->byp.reason));
		jw_arr_start(w, "directions");
		if (r->byp.sides & (1u << c))
			jw_str(w, NULL, "c2s");
		if (r->byp.sides & (1u << s))
			jw_str(w, NULL, "s2c");
		jw_arr_end(w);
		jw_u64(w, "packets", r->byp.packets);
		jw_u64(w, "bytes", r->byp.bytes);
		jw_obj_end(w);
	} else {
		jw_null(w, "bypass");
	}
	jw_obj_end(w);
}

static void human_row(const struct row *r)
{
	int c = client_end(r), s = !c;
	char a[64], b[64], ep1[80], ep2[80], id[24], byp[32];
	addr_str(&r->key, c, a, sizeof(a));
	addr_str(&r->key, s, b, sizeof(b));
	snprintf(ep1, sizeof(ep1), r->key.family == 6 ? "[%s]:%u" : "%s:%u", a, r->key.port[c]);
	snprintf(ep2, sizeof(ep2), r->key.family == 6 ? "[%s]:%u" : "%s:%u", b, r->key.port[s]);
	uint64_t bid = row_id(r);
	if (bid)
		snprintf(id, sizeof(id), "%llu", (unsigned long long)bid);
	else
		snprintf(id, sizeof(id), "-");
	if (r->has_byp)
		snprintf(byp, sizeof(byp), "%s", bypass_reason(r->byp.reason));
	else
		snprintf(byp, sizeof(byp), "-");
	uint64_t now = mono_now_ns();
	double idle = r->has_flow && now > r->flow.last_ns ? (double)(now - r->flow.last_ns) / 1e9 : 0;
	printf("%-7s %-24s %-24s %-11s %8llu/%-8llu %10llu/%-10llu %7llu %-8s %6.1fs\n", id, ep1, ep2,
	       state_of(r), (unsigned long long)r->flow.packets[c], (unsigned long long)r->flow.packets[s],
	       (unsigned long long)r->flow.bytes[c], (unsigned long long)r->flow.bytes[s],
	       (unsigned long long)r->flow.acks_kept, byp, idle);
}

static int list(const struct instance *in)
{
	struct table t = { 0 };
	if (load_all(in, &t))
		return 1;
	qsort(t.rows, t.n, sizeof(*t.rows), cmp_rows);
	int64_t m2r = mono_to_real_ns();
	if (json_output) {
		struct jw w;
		jw_init(&w, stdout, pretty_output);
		jw_arr_start(&w, NULL);
		for (size_t i = 0; i < t.n; i++)
			json_row(&w, &t.rows[i], m2r);
		jw_arr_end(&w);
		jw_end(&w);
	} else {
		printf("%-7s %-24s %-24s %-11s %17s %21s %7s %-8s %7s\n", "ID", "CLIENT", "SERVER", "STATE",
		       "PACKETS C>S/S>C", "BYTES C>S/S>C", "ACKS", "BYPASS", "IDLE");
		for (size_t i = 0; i < t.n; i++)
			human_row(&t.rows[i]);
	}
	free(t.rows);
	free(t.idx);
	return 0;
}

static int parse_id(const char *s, uint64_t *id)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end || !v)
		return cli_error("a flow id is a number from 'weft flow list', not '%s'", s);
	*id = v;
	return 0;
}

static struct row *find_id(struct table *t, uint64_t id)
{
	for (size_t i = 0; i < t->n; i++)
		if (row_id(&t->rows[i]) == id)
			return &t->rows[i];
	return NULL;
}

/* show ID of a connection gone from the kernel too: flows.jsonl's word */
struct ended_find {
	uint64_t id;
	struct ended_conn e;
	bool found;
};

static void find_ended(const struct ended_conn *e, void *arg)
{
	struct ended_find *f = arg;
	if (e->id == f->id) {
		f->e = *e;
		f->found = true;
	}
}

static int show(const struct instance *in, uint64_t id)
{
	struct table t = { 0 };
	if (load_all(in, &t))
		return 1;
	struct row *r = find_id(&t, id);
	int rc = 0;
	struct ended_find ef = { .id = id };
	if (!r && (ended_each(in, find_ended, &ef), ef.found)) {
		if (json_output) {
			struct jw w;
			jw_init(&w, stdout, pretty_output);
			jw_obj_start(&w, NULL);
			jw_u64(&w, "id", id);
			jw_bool(&w, "followed", false);
			jw_str(&w, "ended", ef.e.end);
			jw_str(&w, "src", ef.e.src);
			jw_u64(&w, "sport", ef.e.sport);
			jw_str(&w, "dst", ef.e.dst);
			jw_u64(&w, "dport", ef.e.dport);
			jw_str(&w, "state", "gone");
			jw_obj_end(&w);
			jw_end(&w);
		} else {
			printf("flow %llu  %s port %u -> %s port %u\n  ended (%s), written to "
			       "flows.jsonl; the kernel flow table no longer holds it\n",
			       (unsigned long long)id, ef.e.src, ef.e.sport, ef.e.dst, ef.e.dport, ef.e.end);
		}
	} else if (!r) {
		rc = cli_error("no flow %llu on %s", (unsigned long long)id, in->dev);
	} else if (json_output) {
		struct jw w;
		jw_init(&w, stdout, pretty_output);
		json_row(&w, r, mono_to_real_ns());
		jw_end(&w);
	} else {
		int c = client_end(r), s = !c;
		char a[64], b[64], tm[40], f1[12], f2[12];
		addr_str(&r->key, c, a, sizeof(a));
		addr_str(&r->key, s, b, sizeof(b));
		printf("flow %llu  %s port %u -> %s port %u", (unsigned long long)id, a, r->key.port[c], b,
		       r->key.port[s]);
		if (r->key.vlan[0])
			printf("  vlan %u", r->key.vlan[0]);
		if (r->key.vlan[1])
			printf(".%u", r->key.vlan[1]);
		printf("\n  state %s, %s by the engine", state_of(r), r->has_conn ? "followed" : "not followed");
		if (r->ended_id)
			printf(" (ended: %s, in flows.jsonl)", r->ended);
		printf("\n");
		if (r->has_flow) {
			int64_t m2r = mono_to_real_ns();
			iso_time((uint64_t)((int64_t)r->flow.first_ns + m2r), tm, sizeof(tm));
			printf("  first %s\n", tm);
			iso_time((uint64_t)((int64_t)r->flow.last_ns + m2r), tm, sizeof(tm));
			printf("  last  %s\n", tm);
			flags_str(r->flow.flags[c], f1);
			flags_str(r->flow.flags[s], f2);
			printf("  c2s   packets %llu  bytes %llu  flags %s\n",
			       (unsigned long long)r->flow.packets[c], (unsigned long long)r->flow.bytes[c], f1);
			printf("  s2c   packets %llu  bytes %llu  flags %s\n",
			       (unsigned long long)r->flow.packets[s], (unsigned long long)r->flow.bytes[s], f2);
			printf("  pure ACKs kept in the kernel %llu\n", (unsigned long long)r->flow.acks_kept);
		}
		if (r->has_byp)
			printf("  bypassed (%s): %llu packets, %llu bytes not copied\n",
			       bypass_reason(r->byp.reason), (unsigned long long)r->byp.packets,
			       (unsigned long long)r->byp.bytes);
	}
	free(t.rows);
	free(t.idx);
	return rc;
}

/* Is id still followed? 1 yes, 0 no, -1 error */
static int followed(int conns, uint64_t id)
{
	struct weft_flow_key k, next;
	void *prev = NULL;
	struct weft_conn_entry v;
	while (bpf_map_get_next_key(conns, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(conns, &k, &v) == 0 && v.id == id)
			return 1;
	}
	return 0;
}

static int command(const struct instance *in, uint32_t op, uint64_t id)
{
	int conns = instance_map(in, "conns");
	if (conns < 0)
		return 1;
	if (!followed(conns, id)) {
		close(conns);
		return cli_error("weft on %s follows no connection %llu (see weft flow list)", in->dev,
				 (unsigned long long)id);
	}
	int q = instance_map(in, "cmds");
	if (q < 0)
		return 1;
	struct weft_cmd c = { .op = op, .id = id };
	if (bpf_map_update_elem(q, NULL, &c, 0) != 0)
		return cli_error("the command queue of %s is full; try again", in->dev);
	close(q);
	/* done when the daemon has ended it (it polls every 100 ms) */
	int done = 0;
	for (int i = 0; i < 50 && !done; i++) {
		usleep(100000);
		done = !followed(conns, id);
	}
	close(conns);
	if (!done)
		return cli_error("weft on %s did not end connection %llu within 5 s", in->dev,
				 (unsigned long long)id);
	const char *what = op == WEFT_CMD_IGNORE ? "ignored" : "evicted";
	if (json_output) {
		struct jw w;
		jw_init(&w, stdout, pretty_output);
		jw_obj_start(&w, NULL);
		jw_u64(&w, "id", id);
		jw_str(&w, "result", what);
		jw_obj_end(&w);
		jw_end(&w);
	} else {
		printf("flow %llu %s: written out with end reason manual%s\n", (unsigned long long)id, what,
		       op == WEFT_CMD_IGNORE ? "; its packets are bypassed in the kernel" : "");
	}
	return 0;
}

static void flow_help(void)
{
	fprintf(stdout,
		"Usage: %s flow list [dev IFACE]\n"
		"       %s flow show ID [dev IFACE]\n"
		"       %s flow evict ID [dev IFACE]\n"
		"       %s flow ignore ID [dev IFACE]\n\n"
		"list    every TCP flow in the kernel flow table, with live counters (bypassed\n"
		"        and evicted ones too); ID is flows.jsonl's id of what weft follows,\n"
		"        and of what it has ended while the kernel entry lives on\n"
		"show    one flow, by any id flows.jsonl lists\n"
		"evict   end the connection now (end reason manual, everything held written);\n"
		"        packets that still come are bypassed until it idles out\n"
		"ignore  the same, recorded as ignored: the kernel stops copying its packets\n"
		"dev is needed only when several weft instances run.\n",
		prog_name, prog_name, prog_name, prog_name);
}

int do_flow(int argc, char **argv)
{
	if (argc < 1 || is_prefix(argv[0], "help")) {
		flow_help();
		return argc < 1 ? 1 : 0;
	}
	static const char *const cmds[] = { "list", "show", "evict", "ignore" };
	int c = match_keyword(argv[0], cmds, 4);
	if (c == -2)
		return cli_error("'%s' is ambiguous (try '%s flow help')", argv[0], prog_name);
	if (c < 0)
		return cli_error("unknown command '%s' (try '%s flow help')", argv[0], prog_name);
	if (asks_help(argc, argv)) {
		flow_help();
		return 0;
	}
	const char *dev = NULL;
	uint64_t id = 0;
	bool have_id = false;
	for (int i = 1; i < argc; i++) {
		int rc = dev_option(argc, argv, &i, &dev);
		if (rc < 0)
			return 1;
		if (rc)
			continue;
		if (c == 0 || have_id)
			return cli_error("unknown argument '%s' (try '%s flow help')", argv[i], prog_name);
		if (parse_id(argv[i], &id))
			return 1;
		have_id = true;
	}
	if (c && !have_id)
		return cli_error("flow %s needs an ID (see weft flow list)", cmds[c]);
	struct instance in;
	if (instance_find(dev, &in, c >= 2))
		return 1;
	switch (c) {
	case 0: return list(&in);
	case 1: return show(&in, id);
	case 2: return command(&in, WEFT_CMD_EVICT, id);
	default: return command(&in, WEFT_CMD_IGNORE, id);
	}
}
