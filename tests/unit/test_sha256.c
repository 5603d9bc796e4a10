/* SPDX-License-Identifier: MIT */
/* SHA-256 against the NIST vectors, padding boundaries and split updates; HMAC-SHA-256 against RFC 4231. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/sha256.h"

static void assert_digest(const void *data, size_t len, const char *want)
{
    char hex[SL_SHA256_HEX_LEN + 1];

    sl_sha256_hex(data, len, hex);
    assert_string_equal(hex, want);
}

/* FIPS 180-4 examples (NIST CSRC "SHA256.pdf", "SHA2_Additional.pdf"). */
static void test_nist_vectors(void **state)
{
    assert_digest("", 0,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_digest("abc", 3,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    assert_digest("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                  "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu", 112,
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_million_a(void **state)
{
    size_t len = 1000000;
    char *a = malloc(len);

    assert_non_null(a);
    memset(a, 'a', len);
    assert_digest(a, len,
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

/* Lengths around the 56-byte point where the length no longer fits the last block. */
static void test_padding_boundaries(void **state)
{
    static const struct { size_t len; const char *hex; } v[] = {
        { 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
        { 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
        { 57, "f13b2d724659eb3bf47f2dd6af1accc87b81f09f59f2b75e5c0bed6589dfe8c6" },
        { 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34" },
        { 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
        { 65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0" },
        { 119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb" },
        { 120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c" },
    };
    char a[120];

    memset(a, 'a', sizeof a);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        assert_digest(a, v[i].len, v[i].hex);
}

static void test_split_updates(void **state)
{
    uint8_t msg[200], whole[SL_SHA256_LEN], part[SL_SHA256_LEN];
    char hex[SL_SHA256_HEX_LEN + 1];
    struct sl_sha256 ctx;

    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7 + 3);
    sl_sha256(msg, sizeof msg, whole);
    sl_hex(whole, sizeof whole, hex);
    assert_string_equal(hex, "2c7e18c942ef065b526a2d4e5546283749cd3ddfb51d8fc71f42717363685f46");

    for (size_t cut = 0; cut <= sizeof msg; cut++) {
        sl_sha256_init(&ctx);
        sl_sha256_update(&ctx, msg, cut);
        sl_sha256_update(&ctx, msg + cut, sizeof msg - cut);
        sl_sha256_final(&ctx, part);
        assert_memory_equal(part, whole, SL_SHA256_LEN);
    }

    sl_sha256_init(&ctx);
    for (size_t i = 0; i < sizeof msg; i++)
        sl_sha256_update(&ctx, msg + i, 1);
    sl_sha256_final(&ctx, part);
    assert_memory_equal(part, whole, SL_SHA256_LEN);
}

static void test_empty_update_takes_null(void **state)
{
    uint8_t out[SL_SHA256_LEN];
    char hex[SL_SHA256_HEX_LEN + 1];

    sl_sha256(NULL, 0, out);
    sl_hex(out, sizeof out, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_hex(void **state)
{
    const uint8_t in[] = { 0x00, 0x0f, 0xa5, 0xff };
    char out[2 * sizeof in + 1];

    memset(out, 'x', sizeof out);
    sl_hex(in, sizeof in, out);
    assert_string_equal(out, "000fa5ff");
    sl_hex(in, 0, out);
    assert_string_equal(out, "");
}

static void test_memeq_const(void **state)
{
    const uint8_t a[] = { 1, 2, 3, 4 }, first[] = { 0, 2, 3, 4 }, last[] = { 1, 2, 3, 5 };

    assert_int_equal(sl_memeq_const(a, a, sizeof a), 0);
    assert_int_not_equal(sl_memeq_const(a, first, sizeof a), 0);
    assert_int_not_equal(sl_memeq_const(a, last, sizeof a), 0);
    assert_int_equal(sl_memeq_const(a, last, sizeof a - 1), 0);
    assert_int_equal(sl_memeq_const(a, first, 0), 0);
}

/* The SHA-NI rounds (where the processor has them) against the portable
 * ones, over every length up to a few blocks, of pseudo-random bytes. */
static void test_both_rounds_agree(void **state)
{
    uint8_t msg[300], fast[SL_SHA256_LEN], slow[SL_SHA256_LEN];
    uint32_t x = 2463534242u;

    for (size_t len = 0; len <= sizeof msg; len++) {
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            msg[i] = (uint8_t)x;
        }
        sl_sha256_portable(false);
        sl_sha256(msg, len, fast);
        sl_sha256_portable(true);
        sl_sha256(msg, len, slow);
        assert_memory_equal(fast, slow, SL_SHA256_LEN);
    }
    sl_sha256_portable(false);
}

static int portable(void **state)
{
    sl_sha256_portable(true);
    return 0;
}

static int native(void **state)
{
    sl_sha256_portable(false);
    return 0;
}

static void assert_hmac(const void *key, size_t klen, const void *data, size_t len,
                        const char *want)
{
    uint8_t mac[SL_SHA256_LEN];
    char hex[SL_SHA256_HEX_LEN + 1];

    sl_hmac_sha256(key, klen, data, len, mac);
    sl_hex(mac, sizeof mac, hex);
    assert_string_equal(hex, want);
}

/* RFC 4231, test cases 1-4, 6 and 7 (5 truncates its output), and a key
 * of exactly one block. */
static void test_hmac_rfc4231(void **state)
{
    uint8_t k20[20], d50[50], k25[25], k131[131], k64[64];
    (void)state;

    memset(k20, 0x0b, sizeof k20);
    assert_hmac(k20, sizeof k20, "Hi There", 8,
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    assert_hmac("Jefe", 4, "what do ya want for nothing?", 28,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(k20, 0xaa, sizeof k20);
    memset(d50, 0xdd, sizeof d50);
    assert_hmac(k20, sizeof k20, d50, sizeof d50,
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    for (size_t i = 0; i < sizeof k25; i++)
        k25[i] = (uint8_t)(i + 1);
    memset(d50, 0xcd, sizeof d50);
    assert_hmac(k25, sizeof k25, d50, sizeof d50,
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
    memset(k131, 0xaa, sizeof k131);
    assert_hmac(k131, sizeof k131, "Test Using Larger Than Block-Size Key - Hash Key First", 54,
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    static const char long_data[] = "This is a test using a larger than block-size key and "
        "a larger than block-size data. The key needs to be hashed before being used by "
        "the HMAC algorithm.";
    assert_hmac(k131, sizeof k131, long_data, sizeof long_data - 1,
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
    memset(k64, 'k', sizeof k64);
    assert_hmac(k64, sizeof k64, "", 0,
        "83026a325aaee70e36cfe607536aa1054104ad1077c36134810d4ccded1ccd3b");
}

/* A keyed state serves many messages; splitting a message changes nothing. */
static void test_hmac_keyed_state_reused(void **state)
{
    struct sl_hmac_sha256 keyed, ctx;
    uint8_t one[SL_SHA256_LEN], split[SL_SHA256_LEN], again[SL_SHA256_LEN];
    (void)state;

    sl_hmac_sha256_key(&keyed, "Jefe", 4);
    sl_hmac_sha256_init(&ctx, &keyed);
    sl_hmac_sha256_update(&ctx, "what do ya want for nothing?", 28);
    sl_hmac_sha256_final(&ctx, one);
    sl_hmac_sha256_init(&ctx, &keyed);
    sl_hmac_sha256_update(&ctx, "what do ya ", 11);
    sl_hmac_sha256_update(&ctx, "want for nothing?", 17);
    sl_hmac_sha256_final(&ctx, split);
    sl_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, again);
    assert_memory_equal(one, split, sizeof one);
    assert_memory_equal(one, again, sizeof one);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nist_vectors),
        cmocka_unit_test(test_million_a),
        cmocka_unit_test(test_padding_boundaries),
        cmocka_unit_test(test_split_updates),
        /* The same vectors through the portable rounds. */
        cmocka_unit_test_setup_teardown(test_nist_vectors, portable, native),
        cmocka_unit_test_setup_teardown(test_million_a, portable, native),
        cmocka_unit_test_setup_teardown(test_padding_boundaries, portable, native),
        cmocka_unit_test(test_both_rounds_agree),
        cmocka_unit_test(test_empty_update_takes_null),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_memeq_const),
        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_hmac_keyed_state_reused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
