/* SPDX-License-Identifier: MIT */
/* Bounded copies and UTF-8: cuts on character boundaries, checks, repairs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/text.h"

#define EURO "\xe2\x82\xac"                 /* U+20AC, three bytes */
#define CLEF "\xf0\x9d\x84\x9e"             /* U+1D11E, four bytes */

/* ASCII copies as snprintf(dst, n, "%s", src) did, byte for byte. */
static void test_copy_ascii(void **state)
{
    static const char *const src[] = { "", "a", "abcdefg", "abcdefgh", "abcdefghi" };
    (void)state;
    for (size_t i = 0; i < sizeof(src) / sizeof(src[0]); i++) {
        for (size_t n = 1; n <= 10; n++) {
            char got[12], want[12];
            memset(got, 'x', sizeof(got));
            memset(want, 'x', sizeof(want));
            sl_copy(got, n, src[i]);
            snprintf(want, n, "%s", src[i]);
            assert_memory_equal(got, want, sizeof(got));
        }
    }
    char buf[4] = "xyz";
    sl_copy(buf, 0, "abc");             /* n = 0: nothing written */
    assert_string_equal(buf, "xyz");
    sl_copy(buf, sizeof(buf), NULL);    /* NULL copies as "" */
    assert_string_equal(buf, "");
}

/* A cut never splits a character: the copy is always valid UTF-8 and the
 * longest whole-character prefix that fits. */
static void test_copy_cuts_on_characters(void **state)
{
    static const char *const src[] = {
        "a" EURO EURO EURO, EURO "b" EURO, CLEF CLEF "c", "\xc3\xa9\xc3\xa9\xc3\xa9",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(src) / sizeof(src[0]); i++) {
        size_t len = strlen(src[i]);
        for (size_t n = 1; n <= len + 2; n++) {
            char got[32];
            sl_copy(got, n, src[i]);
            size_t g = strlen(got);
            assert_true(g < n);
            assert_true(sl_utf8_valid(got, g));
            assert_memory_equal(got, src[i], g);
            /* Longest: the next character would not have fitted. */
            if (g < len)
                assert_true(g + sl_utf8_seq((const unsigned char *)src[i] + g, len - g) >= n);
        }
    }
    /* The case of the report: "a" + euros into a byte buffer. */
    char buf[8];
    sl_copy(buf, sizeof(buf), "a" EURO EURO EURO);
    assert_string_equal(buf, "a" EURO EURO);
    /* Bytes that are not UTF-8 are cut where they fall (no runaway back-up). */
    sl_copy(buf, 4, "\x80\x80\x80\x80\x80\x80");
    assert_int_equal(strlen(buf), 3);
}

static void test_valid(void **state)
{
    static const char *const good[] = { "", "plain", EURO, CLEF, "\xc2\x80", "\xef\xbf\xbf",
                                        "\xf4\x8f\xbf\xbf" };
    static const char *const bad[] = {
        "\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80" /* surrogate */,
        "\xf4\x90\x80\x80" /* past U+10FFFF */, "\xf5\x80\x80\x80", "\xe2\x82" /* cut */,
        "a\377b",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(sl_utf8_valid(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(sl_utf8_valid(bad[i], strlen(bad[i])));
    /* len bounds the look: a sequence past it is cut, not read. */
    assert_false(sl_utf8_valid(EURO, 2));
    assert_true(sl_utf8_valid(EURO "x", 3));
}

static void test_cut(void **state)
{
    const char *s = "a" EURO CLEF;          /* 1 + 3 + 4 bytes */
    (void)state;
    assert_int_equal(sl_utf8_cut(s, 8, 8), 8);
    assert_int_equal(sl_utf8_cut(s, 8, 7), 4);
    assert_int_equal(sl_utf8_cut(s, 8, 5), 4);
    assert_int_equal(sl_utf8_cut(s, 8, 4), 4);
    assert_int_equal(sl_utf8_cut(s, 8, 3), 1);
    assert_int_equal(sl_utf8_cut(s, 8, 1), 1);
    assert_int_equal(sl_utf8_cut(s, 8, 0), 0);
}

static void expect_repair(const char *in, int rc, const char *want)
{
    char *out = (char *)"untouched";
    assert_int_equal(sl_utf8_repair(in, &out), rc);
    if (rc == 0) {
        assert_null(out);
        return;
    }
    assert_non_null(out);
    assert_string_equal(out, want);
    assert_true(sl_utf8_valid(out, strlen(out)));
    free(out);
}

static void test_repair(void **state)
{
    (void)state;
    expect_repair("fine " EURO, 0, NULL);
    expect_repair("", 0, NULL);
    /* A character cut at the end (what a byte buffer made of it): left out. */
    expect_repair("a" EURO "\xe2\x82", 1, "a" EURO);
    expect_repair("a\xf0\x9d\x84", 1, "a");
    expect_repair("a\xc3", 1, "a");
    /* Anything else: U+FFFD per byte. */
    expect_repair("a\xff" "b", 1, "a\xef\xbf\xbd" "b");
    expect_repair("\xe2\x82" "x", 1, "\xef\xbf\xbd\xef\xbf\xbd" "x");
    expect_repair("\xed\xa0\x80", 1, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    expect_repair("\x80", 1, "\xef\xbf\xbd");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy_ascii),
        cmocka_unit_test(test_copy_cuts_on_characters),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_repair),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
