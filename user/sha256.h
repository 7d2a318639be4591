/* SPDX-License-Identifier: MIT */
/* SHA-256 of each stream, for the report: OpenSSL's libcrypto, which uses
 * the CPU's SHA extensions (about 2 GB/s here, ten times a portable C
 * loop: hashing was 96% of weft read's instructions before). */
#ifndef WEFT_SHA256_H
#define WEFT_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
	void *ctx; /* EVP_MD_CTX */
};

void weft_sha256_init(struct sha256 *s);
void weft_sha256_update(struct sha256 *s, const void *data, size_t len);
/* len zero bytes, without a buffer of zeros */
void weft_sha256_zeros(struct sha256 *s, uint64_t len);
/* Also releases the context. */
void weft_sha256_final(struct sha256 *s, uint8_t out[32]);
void weft_sha256_hex(const uint8_t d[32], char out[65]);

#endif
