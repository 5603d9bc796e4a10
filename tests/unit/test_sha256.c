/* SPDX-License-Identifier: MIT */
/* SHA-256 against the NIST vectors, padding boundaries and split updates. */
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
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
