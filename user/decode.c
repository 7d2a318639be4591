/* SPDX-License-Identifier: MIT */
/*
 * Frame decoding. Every read is bounds-checked against caplen: this code sees
 * whatever a capture file or a wire holds, and must never read past it.
 */
#include <string.h>
#include "decode.h"
#include "weft/weft.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88a8
#define ETH_P_QINQ1 0x9100
#define ETH_P_QINQ2 0x9200
#define ETH_P_PPPOE_SESS 0x8864
#define ETH_P_MPLS_UC 0x8847
#define ETH_P_MPLS_MC 0x8848
#define ETH_MAX_LEN 1500 /* a "type" up to this is an 802.3 length */
#define MAX_LAYERS 16   /* link headers (tags, labels, ...) walked at most */
#define MAX_LABELS 16   /* MPLS labels in one stack at most */
/* Larger than any frame a link sends: Linux builds GSO packets of up to
 * 512 KiB (BIG TCP), and the file reader refuses records over 1 MiB. */
#define MAX_WIRE (1u << 20)
#define MAX_EXTHDRS 10  /* IPv6 extension headers walked at most */

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static enum decode_status decode_ipv4(const uint8_t *p, uint32_t cap, uint32_t wire,
				      struct ip_pkt *o)
{
	if (cap < 20)
		return DEC_MALFORMED;
	if ((p[0] >> 4) != 4)
		return DEC_MALFORMED;
	uint32_t ihl = (uint32_t)(p[0] & 0x0f) * 4;
	uint32_t tot = rd16(p + 2);
	if (ihl < 20 || cap < ihl)
		return DEC_MALFORMED;
	/* BIG TCP and TSO captures carry tot_len 0: the frame says how long. */
	if (tot == 0)
		tot = wire;
	if (tot > wire) {
		/* a header that claims more than was sent (or than an outer
		 * length allows): the shorter claim is the one to believe */
		tot = wire;
		o->len_mismatch = true;
	}
	if (tot < ihl)
		return DEC_MALFORMED;
	/* Ethernet pads short frames: trust tot_len over what was captured. */
	if (cap > tot)
		cap = tot;
	o->family = 4;
	o->proto = p[9];
	memset(o->src, 0, 16);
	memset(o->dst, 0, 16);
	memcpy(o->src, p + 12, 4);
	memcpy(o->dst, p + 16, 4);
	uint16_t fo = rd16(p + 6);
	o->frag_more = (fo & 0x2000) != 0;
	o->frag_off = (uint32_t)(fo & 0x1fff) * 8;
	o->frag = o->frag_more || o->frag_off != 0;
	o->frag_id = rd16(p + 4);
	o->l4 = p + ihl;
	o->l4_caplen = cap - ihl;
	o->l4_wirelen = tot - ihl;
	return DEC_OK;
}

static bool is_ext_header(uint8_t nh)
{
	return nh == 0 || nh == 43 || nh == 44 || nh == 60 || nh == 51 || nh == 135 ||
	       nh == 139 || nh == 140;
}

/* Walk IPv6 extension headers from p[*off] (of cap bytes present), *nh
 * naming the first. Stops at the upper-layer header, or just past the
 * fragment header of a real fragment: what follows it is the fragmentable
 * part (destination options, routing, ... then TCP), which only the whole
 * datagram has (weft_decode_reassembled walks it). A hop-by-hop jumbo payload
 * option (RFC 2675, BIG TCP) is returned in *jumbo. */
static enum decode_status ext_walk(const uint8_t *p, uint32_t cap, uint8_t *nh,
				   uint32_t *off, struct ip_pkt *o, uint64_t *jumbo)
{
	for (int i = 0; i < MAX_EXTHDRS && is_ext_header(*nh); i++) {
		if (cap < *off + 8)
			return DEC_MALFORMED;
		const uint8_t *h = p + *off;
		uint32_t hlen;
		if (*nh == 44) { /* fragment header: fixed 8 bytes */
			if (!o)
				return DEC_MALFORMED; /* one inside a reassembled one */
			uint16_t fo = rd16(h + 2);
			o->frag_off = (uint32_t)(fo & 0xfff8);
			o->frag_more = fo & 1;
			o->frag_id = rd32(h + 4);
			/* An atomic fragment (offset 0, no more) is a whole packet. */
			o->frag = o->frag_off != 0 || o->frag_more;
			hlen = 8;
		} else if (*nh == 51) { /* AH counts in 4-byte units */
			hlen = ((uint32_t)h[1] + 2) * 4;
		} else {
			hlen = ((uint32_t)h[1] + 1) * 8;
		}
		if (*nh == 0 && jumbo) {
			for (uint32_t q = 2; q + 6 <= hlen && *off + q + 6 <= cap;) {
				uint8_t t = h[q];
				if (t == 0) { q++; continue; }
				if (t == 0xc2 && h[q + 1] == 4) {
					*jumbo = rd32(h + q + 2);
					break;
				}
				q += 2u + h[q + 1];
			}
		}
		bool fragment = *nh == 44 && o->frag;
		*nh = h[0];
		*off += hlen;
		if (cap < *off)
			return DEC_MALFORMED;
		if (fragment)
			return DEC_OK;
	}
	if (is_ext_header(*nh))
		return DEC_MALFORMED; /* chain too long: refuse rather than guess */
	return DEC_OK;
}

static enum decode_status decode_ipv6(const uint8_t *p, uint32_t cap, uint32_t wire,
				      struct ip_pkt *o)
{
	if (cap < 40 || (p[0] >> 4) != 6)
		return DEC_MALFORMED;
	uint64_t plen = rd16(p + 4);
	uint8_t nh = p[6];
	o->family = 6;
	memcpy(o->src, p + 8, 16);
	memcpy(o->dst, p + 24, 16);
	o->frag = false;
	o->frag_more = false;
	o->frag_off = 0;
	o->frag_id = 0;
	uint32_t off = 40;
	uint64_t jumbo = UINT64_MAX;
	enum decode_status st = ext_walk(p, cap, &nh, &off, o, plen == 0 ? &jumbo : NULL);
	if (st != DEC_OK)
		return st;
	if (jumbo != UINT64_MAX)
		plen = jumbo;
	else if (plen == 0)
		plen = wire > 40 ? wire - 40 : 0; /* TSO captures */
	uint64_t tot = 40 + plen;
	if (tot > wire) {
		tot = wire; /* claims more than was sent: believe the shorter */
		o->len_mismatch = true;
	}
	if (tot < off)
		return DEC_MALFORMED;
	if (cap > tot)
		cap = (uint32_t)tot;
	o->proto = nh;
	o->l4 = p + off;
	o->l4_caplen = cap - off;
	o->l4_wirelen = (uint32_t)tot - off;
	return DEC_OK;
}

static enum decode_status decode_ip(const uint8_t *p, uint32_t cap, uint32_t wire,
				    struct ip_pkt *o);

enum decode_status weft_decode_reassembled(struct ip_pkt *o)
{
	if (o->family == 6) {
		uint32_t off = 0;
		uint8_t nh = o->proto;
		enum decode_status st = ext_walk(o->l4, o->l4_caplen, &nh, &off, NULL, NULL);
		if (st != DEC_OK)
			return st;
		o->proto = nh;
		o->l4 += off;
		o->l4_caplen -= off;
		o->l4_wirelen -= off;
	}
	/* A tunnel whose outer packet was the one fragmented (6in4 over a
	 * small MTU): the inner packet is whole now. An inner fragment would
	 * need reassembly again, from a buffer defrag is about to free: not
	 * followed. */
	if (o->proto == 4 || o->proto == 41) {
		enum decode_status st = decode_ip(o->l4, o->l4_caplen, o->l4_wirelen, o);
		if (st != DEC_OK)
			return st;
		if (o->frag)
			return DEC_MALFORMED;
	}
	return DEC_OK;
}

static enum decode_status decode_ip1(const uint8_t *p, uint32_t cap, uint32_t wire,
				     struct ip_pkt *o)
{
	if (cap < 1)
		return DEC_MALFORMED;
	switch (p[0] >> 4) {
	case 4: return decode_ipv4(p, cap, wire, o);
	case 6: return decode_ipv6(p, cap, wire, o);
	default: return DEC_NOT_IP;
	}
}

/* IP, and IP carried in IP (6in4, 4in4, 6in6, 4in6: proto 4 and 41), the
 * tunnel headers peeled off up to a small depth; the flow is the inner one. */
static enum decode_status decode_ip(const uint8_t *p, uint32_t cap, uint32_t wire,
				    struct ip_pkt *o)
{
	enum decode_status st = decode_ip1(p, cap, wire, o);
	for (int depth = 0; depth < 3 && st == DEC_OK && !o->frag &&
			    (o->proto == 4 || o->proto == 41); depth++)
		st = decode_ip1(o->l4, o->l4_caplen, o->l4_wirelen, o);
	return st;
}

/*
 * The link layers, table-driven. A cursor walks the frame; each layer
 * consumes its header and names what follows: an ethertype, or one of the
 * internal types below for what carries no ethertype of its own. Layers
 * with a length field (PPPoE, 802.3) limit what follows: the bytes after
 * that length are padding, never payload.
 */
struct cur {
	const uint8_t *p;
	uint32_t cap;  /* bytes present */
	uint32_t wire; /* bytes sent (>= cap) */
};

#define T_ETHER 0x10000u /* an Ethernet header (MPLS pseudowire payload) */
#define T_BY_NIBBLE 0x10001u /* IPv4 or IPv6, as the version nibble says */
#define T_NONE 0xffffffffu /* nothing this decoder knows */
#define T_LLC 0x10002u /* LLC with no 802.3 length in front (Linux cooked) */

/* Linux cooked captures name 802.2 LLC frames by protocol 4 (ETH_P_802_2)
 * and give no length; other small values are not ethertypes either. */
static uint32_t sll_type(uint16_t proto)
{
	if (proto == 4)
		return T_LLC;
	return proto <= ETH_MAX_LEN ? T_NONE : proto;
}

static bool cur_skip(struct cur *c, uint32_t n)
{
	if (c->cap < n)
		return false;
	c->p += n;
	c->cap -= n;
	c->wire -= n; /* wire >= cap >= n */
	return true;
}

/* An outer header says len bytes follow. Fewer on the wire: the rest is
 * padding (Ethernet pads to 60 bytes), dropped. More: the header claims
 * what was never sent; the frame's length stands and the lie is counted. */
static void cur_limit(struct cur *c, uint32_t len, struct ip_pkt *o)
{
	if (len > c->wire) {
		o->len_mismatch = true;
		return;
	}
	c->wire = len;
	if (c->cap > len)
		c->cap = len;
}

/* PPP protocol numbers as the ethertypes of what they carry. */
static const struct { uint16_t ppp, type; } ppp_protos[] = {
	{ 0x0021, ETH_P_IP }, { 0x0057, ETH_P_IPV6 },
	{ 0x0281, ETH_P_MPLS_UC }, { 0x0283, ETH_P_MPLS_MC },
};

/* A PPP protocol field: two bytes, or one when compressed (RFC 1661 6.5:
 * an odd first byte is the protocol's low byte). */
static enum decode_status ppp_proto(struct cur *c, uint32_t *type)
{
	if (c->cap < 1)
		return DEC_MALFORMED;
	uint16_t proto = c->p[0];
	if (!(proto & 1)) {
		if (c->cap < 2)
			return DEC_MALFORMED;
		proto = rd16(c->p);
		cur_skip(c, 2);
	} else {
		cur_skip(c, 1);
	}
	for (size_t i = 0; i < sizeof(ppp_protos) / sizeof(ppp_protos[0]); i++) {
		if (ppp_protos[i].ppp == proto) {
			*type = ppp_protos[i].type;
			return DEC_OK;
		}
	}
	return DEC_NOT_IP; /* LCP, IPCP, ... */
}

static enum decode_status l_vlan(struct cur *c, struct ip_pkt *o, uint32_t *type)
{
	if (c->cap < 4)
		return DEC_MALFORMED;
	if (o->nvlan < 2)
		o->vlan[o->nvlan++] = rd16(c->p) & 0x0fff;
	*type = rd16(c->p + 2);
	cur_skip(c, 4);
	return DEC_OK;
}

/* PPPoE session (RFC 2516): ver/type, code, session id, then the length of
 * the PPP frame, protocol field included. */
static enum decode_status l_pppoe(struct cur *c, struct ip_pkt *o, uint32_t *type)
{
	if (c->cap < 6)
		return DEC_MALFORMED;
	uint32_t len = rd16(c->p + 4);
	cur_skip(c, 6);
	cur_limit(c, len, o);
	return ppp_proto(c, type);
}

static bool known_type(uint32_t type);

/* MPLS (RFC 3032): 4-byte labels up to the bottom-of-stack bit. What
 * follows has no type field. IPv4 and IPv6 say so in their first nibble.
 * Otherwise an Ethernet pseudowire (RFC 4448) is the one guess left: with
 * a control word (RFC 4385: first nibble 0, what Suricata assumes) or
 * without (what Wireshark assumes); whichever puts an ethertype this
 * decoder knows where Ethernet's would be. */
static enum decode_status l_mpls(struct cur *c, struct ip_pkt *o, uint32_t *type)
{
	(void)o;
	for (int i = 0;; i++) {
		if (i == MAX_LABELS || c->cap < 4)
			return DEC_MALFORMED;
		bool bottom = c->p[2] & 1;
		cur_skip(c, 4);
		if (bottom)
			break;
	}
	if (c->cap < 1)
		return DEC_MALFORMED;
	uint8_t nibble = c->p[0] >> 4;
	if (nibble == 4 || nibble == 6) {
		*type = T_BY_NIBBLE;
		return DEC_OK;
	}
	if (nibble == 0 && c->cap >= 4 + 14 && known_type(rd16(c->p + 4 + 12))) {
		cur_skip(c, 4); /* the control word */
		*type = T_ETHER;
		return DEC_OK;
	}
	if (c->cap >= 14 && known_type(rd16(c->p + 12))) {
		*type = T_ETHER;
		return DEC_OK;
	}
	return DEC_NOT_IP;
}

static enum decode_status l_ether(struct cur *c, struct ip_pkt *o, uint32_t *type)
{
	(void)o;
	if (c->cap < 14)
		return DEC_MALFORMED;
	*type = rd16(c->p + 12);
	cur_skip(c, 14);
	return DEC_OK;
}

/* LLC. IP rides in SNAP (RFC 1042: AA AA 03, OUI 0 or 802.1H's 00 00 F8,
 * then an ethertype). */
static enum decode_status l_llc(struct cur *c, struct ip_pkt *o, uint32_t *type)
{
	(void)o;
	if (c->cap < 3)
		return DEC_MALFORMED;
	if (c->p[0] != 0xaa || c->p[1] != 0xaa || c->p[2] != 0x03)
		return DEC_NOT_IP; /* STP, NetBIOS, ... */
	if (c->cap < 8)
		return DEC_MALFORMED;
	if (c->p[3] != 0 || c->p[4] != 0 || (c->p[5] != 0 && c->p[5] != 0xf8))
		return DEC_NOT_IP;
	*type = rd16(c->p + 6);
	cur_skip(c, 8);
	return DEC_OK;
}

/* An 802.3 length (a "type" of 1500 or less): what follows is LLC. */
static enum decode_status l_8023(struct cur *c, struct ip_pkt *o, uint32_t *type)
{
	cur_limit(c, *type, o);
	return l_llc(c, o, type);
}

static const struct {
	uint32_t type;
	enum decode_status (*fn)(struct cur *, struct ip_pkt *, uint32_t *);
} layers[] = {
	{ ETH_P_8021Q, l_vlan }, { ETH_P_8021AD, l_vlan }, { ETH_P_QINQ1, l_vlan },
	{ ETH_P_QINQ2, l_vlan }, { ETH_P_PPPOE_SESS, l_pppoe }, { ETH_P_MPLS_UC, l_mpls },
	{ ETH_P_MPLS_MC, l_mpls }, { T_ETHER, l_ether }, { T_LLC, l_llc },
};

static bool known_type(uint32_t type)
{
	if (type == ETH_P_IP || type == ETH_P_IPV6)
		return true;
	for (size_t i = 0; i < sizeof(layers) / sizeof(layers[0]); i++)
		if (layers[i].type == type)
			return true;
	return false;
}

/* From a type onwards: layers until IP, or something that is not. */
static enum decode_status decode_layers(uint32_t type, struct cur *c, struct ip_pkt *o)
{
	for (int n = 0; n < MAX_LAYERS; n++) {
		if (type == ETH_P_IP || type == ETH_P_IPV6 || type == T_BY_NIBBLE)
			return decode_ip(c->p, c->cap, c->wire, o);
		enum decode_status (*fn)(struct cur *, struct ip_pkt *, uint32_t *) = NULL;
		if (type <= ETH_MAX_LEN)
			fn = l_8023;
		for (size_t i = 0; !fn && i < sizeof(layers) / sizeof(layers[0]); i++)
			if (layers[i].type == type)
				fn = layers[i].fn;
		if (!fn)
			return DEC_NOT_IP;
		enum decode_status st = fn(c, o, &type);
		if (st != DEC_OK)
			return st;
	}
	return DEC_NOT_IP; /* more layers than any real frame: refuse */
}

enum decode_status weft_decode_frame(uint32_t link, const uint8_t *p, uint32_t cap,
				uint32_t wire, struct ip_pkt *o)
{
	o->nvlan = 0;
	o->vlan[0] = o->vlan[1] = 0;
	o->len_mismatch = false;
	if (wire < cap)
		wire = cap;
	if (wire > MAX_WIRE) {
		/* No link sends this (Linux's largest GSO packet is 512 KiB):
		 * a record's length field gone wrong. Believe what is here. */
		wire = cap;
		o->len_mismatch = true;
	}
	struct cur c = { p, cap, wire };
	uint32_t type;
	switch (link) {
	case WEFT_LINK_ETHERNET:
		return decode_layers(T_ETHER, &c, o);
	case WEFT_LINK_RAW:
	case WEFT_LINK_RAW_DLT12:
	case WEFT_LINK_IPV4:
	case WEFT_LINK_IPV6:
		return decode_ip(p, cap, wire, o);
	case WEFT_LINK_NULL:
	case WEFT_LINK_LOOP:
		/* A 4-byte address family in the writer's byte order (NULL) or
		 * network order (LOOP); the IP version nibble decides anyway. */
		if (!cur_skip(&c, 4))
			return DEC_MALFORMED;
		return decode_ip(c.p, c.cap, c.wire, o);
	case WEFT_LINK_PPP: {
		/* HDLC address and control (FF 03) when the writer kept them */
		if (c.cap >= 2 && p[0] == 0xff && p[1] == 0x03)
			cur_skip(&c, 2);
		enum decode_status st = ppp_proto(&c, &type);
		return st == DEC_OK ? decode_layers(type, &c, o) : st;
	}
	case WEFT_LINK_SLL:
		if (cap < 16)
			return DEC_MALFORMED;
		type = sll_type(rd16(p + 14));
		cur_skip(&c, 16);
		return decode_layers(type, &c, o);
	case WEFT_LINK_SLL2:
		if (cap < 20)
			return DEC_MALFORMED;
		type = sll_type(rd16(p));
		cur_skip(&c, 20);
		return decode_layers(type, &c, o);
	default:
		return DEC_UNKNOWN_LINK;
	}
}

enum decode_status weft_decode_tcp(const uint8_t *l4, uint32_t cap, uint32_t wire,
			      struct tcp_seg *t)
{
	if (cap < 20)
		return DEC_MALFORMED;
	uint32_t doff = (uint32_t)(l4[12] >> 4) * 4;
	if (doff < 20 || cap < doff || wire < doff)
		return DEC_MALFORMED;
	t->sport = rd16(l4);
	t->dport = rd16(l4 + 2);
	t->seq = rd32(l4 + 4);
	t->ack = rd32(l4 + 8);
	t->flags = l4[13];
	t->data = l4 + doff;
	t->caplen = cap - doff;
	t->wirelen = wire - doff;
	return DEC_OK;
}
