/* SPDX-License-Identifier: MIT */
/*
 * The symmetric flow hash, shared by the XDP program and the engine so a
 * frame's metadata hash and the engine's own agree. Both directions of a
 * connection hash alike because the endpoints are put in canonical order
 * (lower address, then lower port, first) before mixing. VLAN tags are part
 * of the flow: the same tuple on two VLANs is two flows.
 *
 * Plain C with fixed-size loops, no libc: it compiles for BPF as well.
 */
#ifndef WEFT_FLOWHASH_H
#define WEFT_FLOWHASH_H

#ifndef __bpf__
#include <stdint.h>
#endif

static inline __attribute__((always_inline)) uint32_t weft_rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

static inline __attribute__((always_inline)) uint32_t weft_mix(uint32_t h, uint32_t k)
{
	k *= 0xcc9e2d51u;
	k = weft_rotl32(k, 15);
	k *= 0x1b873593u;
	h ^= k;
	h = weft_rotl32(h, 13);
	return h * 5 + 0xe6546b64u;
}

static inline __attribute__((always_inline)) uint32_t weft_fmix(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* 1 when endpoint (a, pa) sorts after (b, pb): addresses compared as four
 * big-endian-agnostic words (any fixed order works, it only has to be the
 * same on both sides), then ports. */
static inline __attribute__((always_inline)) int weft_endpoint_after(const uint32_t a[4], uint16_t pa,
				      const uint32_t b[4], uint16_t pb)
{
	for (int i = 0; i < 4; i++) {
		if (a[i] != b[i])
			return a[i] > b[i];
	}
	return pa > pb;
}

/* Addresses as four 32-bit words (IPv4 in word 0, the rest zero); ports in
 * host order; vlans 0 when absent. */
static inline __attribute__((always_inline)) uint32_t weft_flow_hash(const uint32_t src[4], uint16_t sport,
				      const uint32_t dst[4], uint16_t dport,
				      uint16_t vlan0, uint16_t vlan1, uint8_t family)
{
	const uint32_t *lo = src, *hi = dst;
	uint16_t plo = sport, phi = dport;
	if (weft_endpoint_after(src, sport, dst, dport)) {
		lo = dst; hi = src;
		plo = dport; phi = sport;
	}
	uint32_t h = 0x77656674u ^ family; /* "weft" */
	for (int i = 0; i < 4; i++)
		h = weft_mix(h, lo[i]);
	for (int i = 0; i < 4; i++)
		h = weft_mix(h, hi[i]);
	h = weft_mix(h, (uint32_t)plo << 16 | phi);
	h = weft_mix(h, (uint32_t)vlan0 << 16 | vlan1);
	return weft_fmix(h ^ 40);
}

#endif
