/* SPDX-License-Identifier: MIT */
/* SHA-256 through libcrypto's EVP interface (the digest fetched once). */
#include <openssl/evp.h>
#include "sha256.h"

static EVP_MD *md;

void weft_sha256_init(struct sha256 *s)
{
	if (!md)
		md = EVP_MD_fetch(NULL, "SHA256", NULL);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (c && md && EVP_DigestInit_ex(c, md, NULL) == 1) {
		s->ctx = c;
		return;
	}
	EVP_MD_CTX_free(c);
	s->ctx = NULL;
}

void weft_sha256_update(struct sha256 *s, const void *data, size_t len)
{
	if (s->ctx)
		EVP_DigestUpdate(s->ctx, data, len);
}

void weft_sha256_zeros(struct sha256 *s, uint64_t len)
{
	static const uint8_t z[16384];
	while (len) {
		size_t n = len < sizeof(z) ? (size_t)len : sizeof(z);
		weft_sha256_update(s, z, n);
		len -= n;
	}
}

void weft_sha256_final(struct sha256 *s, uint8_t out[32])
{
	unsigned int n = 32;
	if (!s->ctx || EVP_DigestFinal_ex(s->ctx, out, &n) != 1)
		for (int i = 0; i < 32; i++)
			out[i] = 0;
	EVP_MD_CTX_free(s->ctx);
	s->ctx = NULL;
}

void weft_sha256_hex(const uint8_t d[32], char out[65])
{
	static const char hx[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
	out[64] = 0;
}
