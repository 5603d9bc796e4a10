/* SPDX-License-Identifier: MIT */
/* SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104), for token hashes, policy versions and the audit chain. */
#ifndef SL_SHA256_H
#define SL_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_SHA256_LEN 32
#define SL_SHA256_HEX_LEN 64

struct sl_sha256 {
    uint32_t h[8];
    uint64_t total;         /* bytes hashed so far */
    uint8_t buf[64];
    size_t used;            /* bytes waiting in buf */
};

void sl_sha256_init(struct sl_sha256 *ctx);
void sl_sha256_update(struct sl_sha256 *ctx, const void *data, size_t len);
void sl_sha256_final(struct sl_sha256 *ctx, uint8_t out[SL_SHA256_LEN]);

/* One-shot digest, and as 64 lower-case hex digits plus NUL. */
void sl_sha256(const void *data, size_t len, uint8_t out[SL_SHA256_LEN]);
void sl_sha256_hex(const void *data, size_t len, char out[SL_SHA256_HEX_LEN + 1]);

/*
 * HMAC-SHA-256 with a key of any length. Set up once per key with
 * sl_hmac_sha256_key(); each message then starts from a copy of that state
 * (sl_hmac_sha256_init), so a key costs its two padded blocks only once.
 */
struct sl_hmac_sha256 {
    struct sl_sha256 inner, outer;
};
void sl_hmac_sha256_key(struct sl_hmac_sha256 *keyed, const void *key, size_t len);
void sl_hmac_sha256_init(struct sl_hmac_sha256 *ctx, const struct sl_hmac_sha256 *keyed);
void sl_hmac_sha256_update(struct sl_hmac_sha256 *ctx, const void *data, size_t len);
void sl_hmac_sha256_final(struct sl_hmac_sha256 *ctx, uint8_t out[SL_SHA256_LEN]);
/* One-shot. */
void sl_hmac_sha256(const void *key, size_t klen, const void *data, size_t len,
                    uint8_t out[SL_SHA256_LEN]);

/* Tests: true computes with the portable C rounds even on a processor
 * with SHA instructions, to compare the two. */
void sl_sha256_portable(bool on);

/* Lower-case hex of n bytes into out (2n + 1 bytes). */
void sl_hex(const uint8_t *in, size_t n, char *out);

/* Zero n bytes of a secret, in a way the compiler keeps. */
void sl_memzero(void *p, size_t n);

/* Compare n bytes in time independent of where they differ; 0 when equal. */
int sl_memeq_const(const void *a, const void *b, size_t n);

#endif
