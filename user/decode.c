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
#define PPP_IP 0x0021
#define PPP_IPV6 0x0057
#define MAX_TAGS 8      /* tags skipped at most; the first two are kept */
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
	if (tot > wire)
		tot = wire; /* a header that claims more than was sent */
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

static enum decode_status decode_ipv6(const uint8_t *p, uint32_t cap, uint32_t wire,
				      struct ip_pkt *o)
{
	if (cap < 40 || (p[0] >> 4) != 6)
		return DEC_MALFORMED;
	uint32_t plen = rd16(p + 4);
	uint8_t nh = p[6];
	o->family = 6;
	memcpy(o->src, p + 8, 16);
	memcpy(o->dst, p + 24, 16);
	o->frag = false;
	o->frag_more = false;
	o->frag_off = 0;
	o->frag_id = 0;
	uint32_t off = 40;
	bool jumbo = false;
	for (int i = 0; i < MAX_EXTHDRS && is_ext_header(nh); i++) {
		if (cap < off + 8)
			return DEC_MALFORMED;
		const uint8_t *h = p + off;
		uint32_t hlen;
		if (nh == 44) { /* fragment header: fixed 8 bytes */
			uint16_t fo = rd16(h + 2);
			o->frag_off = (uint32_t)(fo & 0xfff8);
			o->frag_more = fo & 1;
			o->frag_id = rd32(h + 4);
			/* An atomic fragment (offset 0, no more) is a whole packet. */
			o->frag = o->frag_off != 0 || o->frag_more;
			hlen = 8;
		} else if (nh == 51) { /* AH counts in 4-byte units */
			hlen = ((uint32_t)h[1] + 2) * 4;
		} else {
			hlen = ((uint32_t)h[1] + 1) * 8;
		}
		if (nh == 0 && plen == 0) {
			/* Hop-by-hop jumbo payload option (RFC 2675, BIG TCP). */
			for (uint32_t q = 2; q + 6 <= hlen && off + q + 6 <= cap;) {
				uint8_t t = h[q];
				if (t == 0) { q++; continue; }
				if (t == 0xc2 && h[q + 1] == 4) {
					plen = rd32(h + q + 2);
					jumbo = true;
					break;
				}
				q += 2u + h[q + 1];
			}
		}
		nh = h[0];
		off += hlen;
		if (cap < off)
			return DEC_MALFORMED;
	}
	if (is_ext_header(nh))
		return DEC_MALFORMED; /* chain too long: refuse rather than guess */
	if (plen == 0 && !jumbo)
		plen = wire > 40 ? wire - 40 : 0; /* TSO captures */
	uint64_t tot = 40 + (uint64_t)plen;
	if (tot > wire)
		tot = wire;
	if (tot < off)
		return DEC_MALFORMED;
	if (cap > tot)
		cap = tot;
	o->proto = nh;
	o->l4 = p + off;
	o->l4_caplen = cap - off;
	o->l4_wirelen = (uint32_t)tot - off;
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

/* From an ethertype at p[-2..-1] onwards: tags, PPPoE, then IP. */
static enum decode_status decode_ethertype(uint16_t type, const uint8_t *p, uint32_t cap,
					   uint32_t wire, struct ip_pkt *o)
{
	for (int i = 0; i < MAX_TAGS; i++) {
		if (type != ETH_P_8021Q && type != ETH_P_8021AD && type != ETH_P_QINQ1 &&
		    type != ETH_P_QINQ2)
			break;
		if (cap < 4)
			return DEC_MALFORMED;
		if (o->nvlan < 2)
			o->vlan[o->nvlan++] = rd16(p) & 0x0fff;
		type = rd16(p + 2);
		p += 4; cap -= 4; wire = wire > 4 ? wire - 4 : 0;
	}
	if (type == ETH_P_PPPOE_SESS) {
		if (cap < 8)
			return DEC_MALFORMED;
		uint16_t proto = rd16(p + 6);
		p += 8; cap -= 8; wire = wire > 8 ? wire - 8 : 0;
		if (proto == PPP_IP)
			type = ETH_P_IP;
		else if (proto == PPP_IPV6)
			type = ETH_P_IPV6;
		else
			return DEC_NOT_IP;
	}
	if (type == ETH_P_IP || type == ETH_P_IPV6)
		return decode_ip(p, cap, wire, o);
	return DEC_NOT_IP;
}

enum decode_status decode_frame(uint32_t link, const uint8_t *p, uint32_t cap,
				uint32_t wire, struct ip_pkt *o)
{
	o->nvlan = 0;
	o->vlan[0] = o->vlan[1] = 0;
	if (wire < cap)
		wire = cap;
	switch (link) {
	case WEFT_LINK_ETHERNET:
		if (cap < 14)
			return DEC_MALFORMED;
		return decode_ethertype(rd16(p + 12), p + 14, cap - 14, wire - 14, o);
	case WEFT_LINK_RAW:
	case WEFT_LINK_RAW_DLT12:
		return decode_ip(p, cap, wire, o);
	case WEFT_LINK_IPV4:
	case WEFT_LINK_IPV6:
		return decode_ip(p, cap, wire, o);
	case WEFT_LINK_NULL:
	case WEFT_LINK_LOOP: {
		/* A 4-byte address family in the writer's byte order (NULL) or
		 * network order (LOOP); the IP version nibble decides anyway. */
		if (cap < 4)
			return DEC_MALFORMED;
		return decode_ip(p + 4, cap - 4, wire - 4, o);
	}
	case WEFT_LINK_SLL:
		if (cap < 16)
			return DEC_MALFORMED;
		return decode_ethertype(rd16(p + 14), p + 16, cap - 16, wire - 16, o);
	case WEFT_LINK_SLL2:
		if (cap < 20)
			return DEC_MALFORMED;
		return decode_ethertype(rd16(p), p + 20, cap - 20, wire - 20, o);
	default:
		return DEC_UNKNOWN_LINK;
	}
}

enum decode_status decode_tcp(const uint8_t *l4, uint32_t cap, uint32_t wire,
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
