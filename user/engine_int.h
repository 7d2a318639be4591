/* SPDX-License-Identifier: MIT */
/* Engine internals shared by its layers: engine.c and flow.c (feed and
 * connections), tcp.c (TCP per direction), reasm.c and seglist.c (bytes). */
#ifndef WEFT_ENGINE_INT_H
#define WEFT_ENGINE_INT_H

#include "weft/weft.h"
#include "decode.h"
#include "gapset.h"
#include "seglist.h"

/* malloc's own cost per block, counted so the memory cap means real memory */
#define ALLOC_OVERHEAD 16
/* Data or ACKs further ahead of the stream than this are implausible (a
 * corrupt or forged sequence number), not a hole to report: TCP's window
 * tops out at 1 GiB and real in-flight data is far less. */
#define MAX_AHEAD (64ull << 20)
/* A side picked up midstream with nothing to tell where it starts floats:
 * its data is held at provisional offsets FLOAT_ORIGIN past a virtual start,
 * so bytes that arrive late but belong before the first one seen still fit,
 * until an ACK or enough data fixes offset 0 (weft_side_anchor). */
#define FLOAT_ORIGIN (1ull << 30)
/* The most payload one packet can claim beyond what was captured: a
 * host capture of a GSO/GRO super-packet (IPv4 total length 0, BIG TCP)
 * carries at most 512 KiB. A record claiming more (a forged wire length)
 * is implausible: its captured bytes count, the claim does not. */
#define MAX_CUT (512u << 10)
/* No single gap is longer than a sequence jump or a cut can justify. */
#define MAX_GAP (MAX_AHEAD + MAX_CUT)
/* Data further ahead than MAX_AHEAD but within this of the stream's
 * 64-bit position is held, not believed, until the receiver's ACK confirms
 * it (a sparse capture of a long transfer: jumps of hundreds of MiB, each
 * ACKed). Beyond it, even an ACK is not enough: TCP's window stops here. */
#define FAR_AHEAD (1ull << 30)
/* Delivered bytes kept, until the receiver ACKs them, to tell a
 * retransmission that differs from them (a conflict over delivered data). */
#define KEEP_MAX (16u << 10)
#define FLOAT_MAX_SEGS 8
#define FLOAT_MAX_BYTES (256u << 10)

/* One direction's reassembly state. Offsets are 64-bit stream offsets; a
 * sequence number maps to the offset nearest the side's 64-bit position
 * (weft_side_ref), so the wrap count survives sparse jumps past 4 GiB. */
struct side {
	bool started;        /* offset 0 is known */
	bool syn;
	bool fin;
	bool done;           /* FIN reached, RST, or ended */
	bool resync;         /* waiting for the message-boundary hook */
	bool floating;       /* midstream, offset 0 not yet fixed (see anchor) */
	bool overflow;       /* buffer cap hit under buffer_policy end */
	uint32_t isn;
	uint32_t next_seq;   /* sequence number of offset next */
	uint64_t next;       /* everything before is delivered or a gap */
	uint64_t fin_off;
	uint64_t hi;         /* highest offset this side is known to have sent */
	uint64_t far;        /* end of data held past MAX_AHEAD, not yet ACKed */
	uint64_t acked;      /* highest offset the peer acknowledged */
	bool ack_valid;
	/* Before this side starts: the latest ACK the peer sent for it, the
	 * byte it expected next. A midstream side starts there rather than at
	 * its first data seen, so a capture that begins out of order loses
	 * nothing (the bytes in between are a hole like any other). */
	bool pre_ack_valid;
	uint32_t pre_ack;
	uint64_t buffered;   /* bytes held */
	struct seglist held; /* out-of-order segments, sorted */
	uint64_t held_mem;   /* held.mem as counted in the engine's account */
	/* keep_unconsumed: delivered, not yet consumed bytes at app_off */
	uint8_t *app;
	size_t app_len, app_cap;
	uint64_t app_off;
	/* delivered bytes [kept_off, kept_off + kept_len) the receiver has
	 * not acknowledged yet (at most KEEP_MAX), to compare retransmissions
	 * with: they are never rewritten, a difference is counted */
	uint8_t *kept;
	uint32_t kept_len, kept_cap;
	uint64_t kept_off;
	struct gapset declared; /* gaps declared, for bytes that come late */
	struct weft_dir_stats st;
};

/* LRU_LINGER: both directions finished, the end held back LINGER_NS of
 * packet time for bytes the capture shows late (see engine.c) */
enum lru_class { LRU_HALFOPEN, LRU_ESTABLISHED, LRU_CLOSING, LRU_LINGER, LRU_CLOSED, LRU__COUNT };

struct flow_key {
	uint8_t family;
	uint8_t nvlan;
	uint16_t vlan[2];
	uint16_t port[2];    /* canonical order: endpoint 0 sorts first */
	uint8_t addr[2][16];
};

struct weft_conn {
	struct weft_conn *hnext;
	struct weft_conn *lprev, *lnext;
	uint8_t lru;
	bool ended;
	/* An end asked for inside a callback (weft_conn_end): the connection
	 * stops here, and ends for real when the engine call that made the
	 * callback returns, so nothing up the stack holds freed memory. */
	uint8_t end_req;     /* enum weft_end_reason, WEFT_END_NONE: none */
	uint8_t linger;      /* the reason it finished (fin, depth), its end held back */
	struct weft_conn *pnext; /* on e->pending while end_req is set */
	uint8_t client;      /* canonical endpoint index of the client */
	uint32_t hash;
	struct flow_key key;
	struct weft_conn_info info;
	/* Last activity on the idle clock (packet time less the clock jumps
	 * believed since, e->shift): info.last_ns says when, this how long
	 * ago for the idle timeouts. */
	uint64_t idle_at;
	struct side side[2]; /* by enum weft_dir */
	size_t alloc;        /* bytes counted for this struct */
	struct weft_engine *eng; /* whose account weft_conn_mem charges */
	int64_t user_mem;    /* caller state counted by weft_conn_mem */
	uint8_t user[];      /* conn_user_size bytes */
};

struct lru_list { struct weft_conn *head, *tail; };

struct weft_engine {
	struct weft_config cfg;
	struct weft_callbacks cb;
	struct weft_stats st;
	struct weft_conn **bucket;
	uint32_t nbuckets;   /* power of two */
	uint64_t nconns;     /* in the table, open and closed */
	struct lru_list lru[LRU__COUNT];
	uint64_t next_id;
	uint64_t now;
	uint64_t jump_pending;  /* a far-future time seen once, not yet believed */
	uint64_t shift;         /* clock jumps believed so far: now - shift is the idle clock */
	uint64_t next_sweep;
	struct defrag *defrag;
	uint64_t frag_mem;   /* defrag's bytes as counted in st.mem_used */
	unsigned busy;       /* public calls in progress (callbacks may nest) */
	uint64_t rng;        /* skip-list levels */
	struct weft_conn *pending; /* ends asked for while busy */
};

/* A connection whose end was asked for inside a callback: processing
 * stops, the end itself (which sets ended) runs when the call returns. */
static inline bool conn_halted(const struct weft_conn *c)
{
	return c->end_req && !c->ended;
}

/* flow.c */
int weft_flow_table_init(struct weft_engine *e);
void weft_flow_table_free(struct weft_engine *e);
void weft_flow_key_make(struct flow_key *k, const struct ip_pkt *ip, uint16_t sport,
		   uint16_t dport, bool vlan_in_key, uint8_t *src_index);
uint32_t weft_flow_key_hash(const struct flow_key *k);
struct weft_conn *weft_flow_lookup(struct weft_engine *e, const struct flow_key *k, uint32_t hash);
void weft_flow_insert(struct weft_engine *e, struct weft_conn *c);
void weft_flow_remove(struct weft_engine *e, struct weft_conn *c);
void weft_lru_touch(struct weft_engine *e, struct weft_conn *c, enum lru_class cls);
void weft_lru_remove(struct weft_engine *e, struct weft_conn *c);

/* stream.c: the byte layer (see its opening). It reads these settings,
 * never the engine's config, and returns what it did instead of calling. */
struct stream_cfg {
	uint64_t depth;       /* bytes per direction, 0: no limit */
	uint64_t buffer_cap;  /* bytes held before the policy acts */
	bool overlap_last;    /* held bytes take the newer copy */
	bool buffer_end;      /* past the cap the side overflows (else gaps) */
	bool keep_unconsumed; /* undelivered bytes wait in the app buffer */
	bool resync_hook;     /* after a gap, delivery waits for a boundary */
};
/* Declaring a gap: what was declared, and the memory it moved, in the
 * order the account must see it (the gap's record, then what depth freed). */
struct stream_gap_res {
	uint64_t off, len;    /* the gap declared; len 0: none */
	bool implausible;     /* too long to believe: the side stopped instead */
	bool depth;           /* the gap reached depth: the side is done */
	int64_t mem_gap, mem_freed;
};
/* Bytes a held segment brings now it is in order: [off, off+len) at data
 * (len 0: all seen before). */
struct stream_deliver {
	uint64_t off;
	const uint8_t *data;
	uint32_t len;
};
void weft_stream_advance(struct side *s, uint64_t n);
/* the change in held memory since last reported */
int64_t weft_stream_held_sync(struct side *s);
/* drop every held segment; returns the memory change */
int64_t weft_stream_drop_held(struct side *s);
/* depth reached (once: false if it was already); frees what is held,
 * adding the memory change to *mem */
bool weft_stream_depth(struct side *s, int64_t *mem);
/* declare the next len bytes missing (trimmed at depth) */
struct stream_gap_res weft_stream_gap(struct side *s, const struct stream_cfg *cfg, uint64_t len);
/* the first held segment if it is now in order: unlinked, its new bytes
 * in *out; the caller uses them, then weft_stream_release frees it */
struct seg *weft_stream_pop(struct side *s, struct stream_deliver *out);
int64_t weft_stream_release(struct side *s, struct seg *g);
/* hold [off, off+len) out of order (the overlap policy from cfg); the
 * memory change is added to *mem */
struct seglist_put weft_stream_hold(struct side *s, const struct stream_cfg *cfg, uint64_t off,
				    const uint8_t *data, uint32_t len, uint64_t *rng, int64_t *mem);
/* delivered bytes kept until ACKed, to compare retransmissions with:
 * add returns the memory change (*nomem: could not keep them), compare
 * the bytes that differ, drop the memory freed */
int64_t weft_stream_kept_add(struct side *s, uint64_t off, const uint8_t *data, uint32_t len,
			     bool *nomem);
uint64_t weft_stream_kept_compare(struct side *s, uint64_t off, const uint8_t *data, uint64_t len);
int64_t weft_stream_kept_drop(struct side *s);
/* Bytes [off, off+len) below next: the pieces of them inside gaps declared
 * earlier came late and leave the gaps (in order, at most GAPSET_MAX);
 * bytes: all of them; gaps: the change in the number of gaps. */
struct stream_late {
	uint32_t n;
	uint64_t piece[GAPSET_MAX][2]; /* [offset, length] */
	uint64_t bytes;
	int64_t gaps;
	int64_t mem;  /* the change in what the declared gaps hold (a split) */
};
void weft_stream_late(struct side *s, uint64_t off, uint64_t len, struct stream_late *r);
/* [off, off+len), all below next, came again: the late pieces into *late,
 * the rest counted retransmitted; returns the bytes that differ from the
 * delivered ones still kept (conflicts). */
uint64_t weft_stream_below(struct side *s, uint64_t off, const uint8_t *data, uint64_t len,
			   struct stream_late *late);
/* New bytes [off, off+len), none below next: what placing them did.
 * DELIVER: they are in order and next has moved past them; the caller hands
 * [off, off+len) of data on now (no copy was made), then pops what that
 * put in order. HELD: copied out of order (put says how). NONE: nothing
 * (the side is done, past depth, or ignored and only counted). */
enum stream_place { STREAM_NONE, STREAM_DELIVER, STREAM_HELD };
struct stream_place_res {
	enum stream_place what;
	uint64_t off;
	const uint8_t *data;
	uint32_t len;
	struct seglist_put put;
	int64_t mem;          /* the change to the memory account */
	bool anchor;          /* a floating side holds enough to fix its start */
};
struct stream_place_res weft_stream_place(struct side *s, const struct stream_cfg *cfg,
					  uint64_t off, const uint8_t *data, uint32_t len,
					  uint64_t *rng);
/* Fix a floating side's offset 0 at provisional offset at (at most its
 * lowest held byte): offsets move down by it; what is then implausibly
 * far (held bytes, a FIN) is dropped and counted. Nothing is delivered:
 * the caller flushes. */
struct stream_anchor_res {
	uint64_t implausible;
	int64_t mem;
};
struct stream_anchor_res weft_stream_anchor(struct side *s, uint64_t at);

/* reasm.c: the connection side of the stream layer, which turns its
 * results into callbacks, statistics and the engine's account */
void weft_side_data(struct weft_engine *e, struct weft_conn *c, enum weft_dir d,
	       uint64_t off, const uint8_t *data, uint32_t len);
void weft_side_flush(struct weft_engine *e, struct weft_conn *c, enum weft_dir d);
void weft_side_check_acked(struct weft_engine *e, struct weft_conn *c, enum weft_dir d, bool final,
		      uint64_t cap);
void weft_side_finish(struct weft_engine *e, struct weft_conn *c, enum weft_dir d);
void weft_side_gap(struct weft_engine *e, struct weft_conn *c, enum weft_dir d, uint64_t len);
void weft_side_free(struct weft_engine *e, struct side *s);
void weft_side_anchor(struct weft_engine *e, struct weft_conn *c, enum weft_dir d, uint64_t at);

/* The side's 64-bit position: the furthest offset believed (delivered,
 * sent or acknowledged). Sequence numbers are read as the offset within
 * 2^31 of it, so a stream keeps its wrap count however sparse the capture. */
static inline uint64_t weft_side_ref(const struct side *s)
{
	uint64_t r = s->next > s->hi ? s->next : s->hi;
	return s->ack_valid && s->acked > r ? s->acked : r;
}

/* Offset of sequence number seq on side s (which must have started). */
static inline int64_t weft_seq_off(const struct side *s, uint32_t seq)
{
	uint64_t ref = weft_side_ref(s);
	uint32_t ref_seq = s->next_seq + (uint32_t)(ref - s->next);
	return (int64_t)ref + (int32_t)(seq - ref_seq);
}

/* Is offset off close enough to what the receiver has or acknowledged to
 * be believed without more (data, a FIN, a sequence number)? */
static inline bool weft_side_near(const struct side *s, uint64_t off)
{
	uint64_t base = s->ack_valid && s->acked > s->next ? s->acked : s->next;
	return off <= base + MAX_AHEAD;
}

/* tcp.c: one packet's news for both sides of c; returns the reason c ends
 * with, or WEFT_END_NONE (the connection layer ends it, never tcp.c). */
enum weft_end_reason weft_tcp_packet(struct weft_engine *e, struct weft_conn *c,
				     enum weft_dir d, const struct tcp_seg *t);
/* A SYN alone (no ACK, no RST) from side d of c: does it start a new
 * connection on the tuple (another ISN), rather than belong to c? */
bool weft_tcp_new_syn(const struct weft_conn *c, enum weft_dir d, const struct tcp_seg *t);
/* A packet from side d on c, which has ended: does it start a new
 * connection (bytes far from c's sequence space, another SYN) rather than
 * straggle after c (a retransmission, bytes in flight, an ACK, an RST)? */
bool weft_tcp_after_end(const struct weft_conn *c, enum weft_dir d, const struct tcp_seg *t);
/* The idle class an open connection's TCP state puts it in. */
enum lru_class weft_tcp_class(const struct weft_conn *c);
/* Ask the source what it knows of direction d's ACK and FIN (at the end). */
void weft_tcp_poll(struct weft_engine *e, struct weft_conn *c, enum weft_dir d);

/* engine.c */
void weft_mem_add(struct weft_engine *e, int64_t n);
void weft_conn_end_now(struct weft_engine *e, struct weft_conn *c, enum weft_end_reason r);

#endif
