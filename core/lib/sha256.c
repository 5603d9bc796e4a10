/* SPDX-License-Identifier: MIT */
/* SHA-256 as specified in FIPS 180-4, section 6.2; on x86-64 processors
 * with the SHA extensions, their instructions do the rounds. */
#include "lib/sha256.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SHA_NI 1
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void compress_c(uint32_t h[8], const uint8_t block[64])
{
    uint32_t w[64], a, b, c, d, e, f, g, hh;

    for (int t = 0; t < 16; t++)
        w[t] = load_be32(block + 4 * t);
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = ror(w[t - 15], 7) ^ ror(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = ror(w[t - 2], 17) ^ ror(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }

    a = h[0]; b = h[1]; c = h[2]; d = h[3];
    e = h[4]; f = h[5]; g = h[6]; hh = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t t1 = hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t];
        uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g; g = f; f = e; e = d + t1;
        d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
    h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

#ifdef SHA_NI
/*
 * The same compression with SHA-NI (every audit record and upload hashes a
 * few blocks; about four times faster here). The state lives
 * in two registers as the instructions want it, {A,B,E,F} and {C,D,G,H};
 * each sha256rnds2 does two rounds, and sha256msg1/msg2 extend the message
 * schedule four words at a time: W[t] = W[t-16] + s0(W[t-15]) + W[t-7] +
 * s1(W[t-2]).
 */
__attribute__((target("sha,sse4.1,ssse3")))
static void compress_ni(uint32_t h[8], const uint8_t block[64])
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i dcba = _mm_loadu_si128((const __m128i *)&h[0]);
    __m128i hgfe = _mm_loadu_si128((const __m128i *)&h[4]);
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xb1);
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1b);
    __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
    __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xf0);
    __m128i abef0 = abef, cdgh0 = cdgh;
    __m128i w[4];

    for (int i = 0; i < 16; i++) {
        __m128i m;
        if (i < 4) {
            m = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 16 * i)), bswap);
        } else {
            m = _mm_sha256msg1_epu32(w[i % 4], w[(i + 1) % 4]);
            m = _mm_add_epi32(m, _mm_alignr_epi8(w[(i + 3) % 4], w[(i + 2) % 4], 4));
            m = _mm_sha256msg2_epu32(m, w[(i + 3) % 4]);
        }
        w[i % 4] = m;
        __m128i k = _mm_add_epi32(m, _mm_loadu_si128((const __m128i *)&K[4 * i]));
        cdgh = _mm_sha256rnds2_epu32(cdgh, abef, k);
        abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(k, 0x0e));
    }
    abef = _mm_add_epi32(abef, abef0);
    cdgh = _mm_add_epi32(cdgh, cdgh0);
    __m128i feba = _mm_shuffle_epi32(abef, 0x1b);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xb1);
    _mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(feba, dchg, 0xf0));
    _mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(dchg, feba, 8));
}

static bool cpu_has_sha_ni(void)
{
    unsigned a, b, c, d;

    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1))
        return false;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
}
#endif

static bool use_c;          /* tests: the portable rounds even where SHA-NI is */

void sl_sha256_portable(bool on)
{
    use_c = on;
}

static void compress(uint32_t h[8], const uint8_t block[64])
{
#ifdef SHA_NI
    /* -1: not asked yet; both threads may ask, and get the same answer. */
    static atomic_int ni = -1;
    int has = atomic_load_explicit(&ni, memory_order_relaxed);
    if (has < 0) {
        has = cpu_has_sha_ni();
        atomic_store_explicit(&ni, has, memory_order_relaxed);
    }
    if (has && !use_c) {
        compress_ni(h, block);
        return;
    }
#endif
    compress_c(h, block);
}

void sl_sha256_init(struct sl_sha256 *ctx)
{
    static const uint32_t iv[8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    };

    memcpy(ctx->h, iv, sizeof iv);
    ctx->total = 0;
    ctx->used = 0;
}

void sl_sha256_update(struct sl_sha256 *ctx, const void *data, size_t len)
{
    const uint8_t *p = data;

    if (len == 0)           /* data may then be NULL, which memcpy must not see */
        return;
    ctx->total += len;
    if (ctx->used > 0) {
        size_t n = sizeof ctx->buf - ctx->used;

        if (n > len)
            n = len;
        memcpy(ctx->buf + ctx->used, p, n);
        ctx->used += n;
        p += n;
        len -= n;
        if (ctx->used < sizeof ctx->buf)
            return;
        compress(ctx->h, ctx->buf);
        ctx->used = 0;
    }
    for (; len >= 64; p += 64, len -= 64)
        compress(ctx->h, p);
    memcpy(ctx->buf, p, len);
    ctx->used = len;
}

void sl_sha256_final(struct sl_sha256 *ctx, uint8_t out[SL_SHA256_LEN])
{
    uint64_t bits = ctx->total * 8;

    /* Padding: 0x80, zeros up to 56 mod 64, then the bit length big-endian. */
    ctx->buf[ctx->used++] = 0x80;
    if (ctx->used > 56) {
        memset(ctx->buf + ctx->used, 0, sizeof ctx->buf - ctx->used);
        compress(ctx->h, ctx->buf);
        ctx->used = 0;
    }
    memset(ctx->buf + ctx->used, 0, 56 - ctx->used);
    store_be32(ctx->buf + 56, (uint32_t)(bits >> 32));
    store_be32(ctx->buf + 60, (uint32_t)bits);
    compress(ctx->h, ctx->buf);

    for (int i = 0; i < 8; i++)
        store_be32(out + 4 * i, ctx->h[i]);
}

void sl_sha256(const void *data, size_t len, uint8_t out[SL_SHA256_LEN])
{
    struct sl_sha256 ctx;

    sl_sha256_init(&ctx);
    sl_sha256_update(&ctx, data, len);
    sl_sha256_final(&ctx, out);
}

void sl_sha256_hex(const void *data, size_t len, char out[SL_SHA256_HEX_LEN + 1])
{
    uint8_t digest[SL_SHA256_LEN];

    sl_sha256(data, len, digest);
    sl_hex(digest, sizeof digest, out);
}

/* {====================== HMAC ========================================= */

void sl_hmac_sha256_key(struct sl_hmac_sha256 *keyed, const void *key, size_t len)
{
    uint8_t block[64] = { 0 }, pad[64];

    /* A key longer than a block is its digest (RFC 2104, section 2). */
    if (len > sizeof block)
        sl_sha256(key, len, block);
    else if (len > 0)
        memcpy(block, key, len);
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = block[i] ^ 0x36;
    sl_sha256_init(&keyed->inner);
    sl_sha256_update(&keyed->inner, pad, sizeof pad);
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = block[i] ^ 0x5c;
    sl_sha256_init(&keyed->outer);
    sl_sha256_update(&keyed->outer, pad, sizeof pad);
    sl_memzero(block, sizeof block);
    sl_memzero(pad, sizeof pad);
}

void sl_hmac_sha256_init(struct sl_hmac_sha256 *ctx, const struct sl_hmac_sha256 *keyed)
{
    *ctx = *keyed;
}

void sl_hmac_sha256_update(struct sl_hmac_sha256 *ctx, const void *data, size_t len)
{
    sl_sha256_update(&ctx->inner, data, len);
}

void sl_hmac_sha256_final(struct sl_hmac_sha256 *ctx, uint8_t out[SL_SHA256_LEN])
{
    uint8_t inner[SL_SHA256_LEN];

    sl_sha256_final(&ctx->inner, inner);
    sl_sha256_update(&ctx->outer, inner, sizeof inner);
    sl_sha256_final(&ctx->outer, out);
}

void sl_hmac_sha256(const void *key, size_t klen, const void *data, size_t len,
                    uint8_t out[SL_SHA256_LEN])
{
    struct sl_hmac_sha256 keyed, ctx;

    sl_hmac_sha256_key(&keyed, key, klen);
    sl_hmac_sha256_init(&ctx, &keyed);
    sl_hmac_sha256_update(&ctx, data, len);
    sl_hmac_sha256_final(&ctx, out);
    sl_memzero(&keyed, sizeof keyed);
    sl_memzero(&ctx, sizeof ctx);
}

/* }===================================================================== */

void sl_memzero(void *p, size_t n)
{
    /* Through a volatile pointer, so the compiler keeps stores it would
     * otherwise find dead. */
    volatile uint8_t *v = p;
    for (size_t i = 0; i < n; i++)
        v[i] = 0;
}

void sl_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

int sl_memeq_const(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t diff = 0;

    /* No early exit: the time taken must not tell where a guess went wrong. */
    for (size_t i = 0; i < n; i++)
        diff |= x[i] ^ y[i];
    return diff != 0;
}
