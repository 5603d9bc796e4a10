/* SPDX-License-Identifier: MIT */
/* The keyword matcher against a naive search, on UTF-8, Chinese and folding. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "ac.h"

struct hit {
    uint32_t id;
    size_t off, len;
};

struct hits {
    struct hit *v;
    size_t n, cap;
};

static void push(struct hits *h, uint32_t id, size_t off, size_t len)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->v = realloc(h->v, h->cap * sizeof(*h->v));
        assert_non_null(h->v);
    }
    h->v[h->n++] = (struct hit){ id, off, len };
}

static int collect(void *ud, uint32_t id, uint32_t value, size_t off, size_t len)
{
    (void)value;
    push(ud, id, off, len);
    return 0;
}

static int cmp_hit(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;

    if (x->off != y->off)
        return x->off < y->off ? -1 : 1;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* {====== The naive reference ====== */

#define BROKEN UINT32_MAX   /* an invalid byte: equal to nothing */

/* Text as code points with their original byte spans. */
struct cps {
    uint32_t cp[4096];
    size_t off[4096], end[4096];
    size_t n;
};

/* Written from the UTF-8 definition, independently of ac_utf8_decode. */
static void decode_ref(const unsigned char *s, size_t len, struct cps *out)
{
    size_t i = 0;

    out->n = 0;
    while (i < len) {
        unsigned b = s[i];
        size_t need = b < 0x80 ? 1 : b >= 0xC2 && b <= 0xDF ? 2 :
                      b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
        uint32_t v = need == 1 ? b : need == 2 ? (b & 0x1F) : need == 3 ?
                     (b & 0x0F) : (b & 0x07);
        size_t k;
        int ok = need > 0 && i + need <= len;

        for (k = 1; ok && k < need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                ok = 0;
            v = (v << 6) | (s[i + k] & 0x3F);
        }
        if (ok && need == 3 && (v < 0x800 || (v >= 0xD800 && v < 0xE000)))
            ok = 0;
        if (ok && need == 4 && (v < 0x10000 || v > 0x10FFFF))
            ok = 0;
        assert_true(out->n < 4096);
        out->off[out->n] = i;
        if (!ok) {
            out->cp[out->n] = BROKEN;
            out->end[out->n++] = i + 1;
            i++;
            continue;
        }
        out->cp[out->n] = ac_fold(v);
        out->end[out->n++] = i + need;
        i += need;
    }
}

/* For every pattern, every code point position where it matches. */
static void naive(char **pats, const uint32_t *ids, size_t npats,
                  const char *text, size_t len, struct hits *out)
{
    static struct cps t, p;
    size_t i, s, j;

    decode_ref((const unsigned char *)text, len, &t);
    for (i = 0; i < npats; i++) {
        decode_ref((const unsigned char *)pats[i], strlen(pats[i]), &p);
        for (s = 0; s + p.n <= t.n; s++) {
            for (j = 0; j < p.n; j++)
                if (t.cp[s + j] == BROKEN || t.cp[s + j] != p.cp[j])
                    break;
            if (j == p.n)
                push(out, ids[i], t.off[s], t.end[s + p.n - 1] - t.off[s]);
        }
    }
}

/* }====== */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

/* Few symbols, so patterns overlap and nest often; with folding pairs. */
static const uint32_t alphabet[] = {
    'a', 'b', 'A', 'B', 's', 'S', 0x17F /* long s */, 0xE9, 0xC9 /* e acute */,
    0x4E2D, 0x6587 /* Chinese */, 0x1D11E /* 4-byte */, 0x3A3, 0x3C2, 0x3C3 /* sigmas */,
    0x178, 0xFF /* Y diaeresis */, ' ',
};
#define NALPHA (sizeof(alphabet) / sizeof(alphabet[0]))

static size_t random_text(char *buf, size_t maxcps, int broken)
{
    static const char *junk[] = { "\xFF", "\x80", "\xC3", "\xE4\xB8", "\xC0\x80",
                                  "\xED\xA0\x80", "\xF4\x90\x80\x80" };
    size_t n = rnd((uint32_t)maxcps + 1), i, len = 0;

    for (i = 0; i < n; i++) {
        if (broken && rnd(30) == 0) {
            const char *j = junk[rnd(sizeof(junk) / sizeof(junk[0]))];

            memcpy(buf + len, j, strlen(j));
            len += strlen(j);
        } else {
            len += put_utf8(buf + len, alphabet[rnd(NALPHA)]);
        }
    }
    buf[len] = '\0';
    return len;
}

static void compare_round(size_t npats, size_t maxpat, size_t ntexts, size_t maxtext)
{
    char **pats = calloc(npats, sizeof(*pats));
    uint32_t *ids = calloc(npats, sizeof(*ids));
    char *text = malloc(maxtext * 4 + 8);
    struct ac *ac = ac_new();
    size_t i, k, kept = 0;

    assert_non_null(pats);
    assert_non_null(ids);
    assert_non_null(text);
    assert_non_null(ac);
    for (i = 0; i < npats; i++) {
        char buf[64 * 4 + 1];
        size_t len;
        uint32_t value = rnd(3);
        int id;

        do
            len = random_text(buf, maxpat, 0);
        while (len == 0);
        id = ac_add(ac, buf, len, value);
        if (id == -EEXIST)
            continue;   /* same folded text and value: one pattern */
        assert_int_equal(id, (int)kept);
        assert_int_equal(ac_value(ac, (uint32_t)id), value);
        pats[kept] = strdup(buf);
        ids[kept] = (uint32_t)id;
        kept++;
    }
    assert_int_equal(ac_count(ac), kept);
    assert_int_equal(ac_compile(ac), 0);
    for (k = 0; k < ntexts; k++) {
        struct hits got = { 0 }, want = { 0 };
        size_t len = random_text(text, maxtext, 1);

        assert_int_equal(ac_scan(ac, text, len, collect, &got), 0);
        naive(pats, ids, kept, text, len, &want);
        assert_int_equal(got.n, want.n);
        if (got.n) {
            qsort(got.v, got.n, sizeof(*got.v), cmp_hit);
            qsort(want.v, want.n, sizeof(*want.v), cmp_hit);
        }
        for (i = 0; i < got.n; i++) {
            assert_int_equal(got.v[i].id, want.v[i].id);
            assert_int_equal(got.v[i].off, want.v[i].off);
            assert_int_equal(got.v[i].len, want.v[i].len);
        }
        free(got.v);
        free(want.v);
    }
    for (i = 0; i < kept; i++)
        free(pats[i]);
    free(pats);
    free(ids);
    free(text);
    ac_free(ac);
}

static void test_random_vs_naive(void **unused)
{
    int round;

    (void)unused;
    for (round = 0; round < 200; round++) {
        rng_state = 0x9E3779B97F4A7C15ull + (uint64_t)round;
        compare_round(1 + rnd(40), 1 + rnd(6), 20, 200);
    }
}

static void test_many_patterns_vs_naive(void **unused)
{
    (void)unused;
    rng_state = 42;
    compare_round(2000, 8, 10, 2000);
}

/* Scan text for the patterns; hits sorted. */
static struct hits scan(const char *const *pats, size_t npats, const char *text)
{
    struct ac *ac = ac_new();
    struct hits h = { 0 };
    size_t i;

    assert_non_null(ac);
    for (i = 0; i < npats; i++)
        assert_int_equal(ac_add(ac, pats[i], strlen(pats[i]), 0), (int)i);
    assert_int_equal(ac_compile(ac), 0);
    assert_int_equal(ac_scan(ac, text, strlen(text), collect, &h), 0);
    ac_free(ac);
    if (h.n)
        qsort(h.v, h.n, sizeof(*h.v), cmp_hit);
    return h;
}

static void expect(const struct hits *h, size_t i, uint32_t id, size_t off, size_t len)
{
    assert_true(i < h->n);
    assert_int_equal(h->v[i].id, id);
    assert_int_equal(h->v[i].off, off);
    assert_int_equal(h->v[i].len, len);
}

static void test_chinese(void **unused)
{
    static const char *const pats[] = { "赌博", "博彩", "彩票", "色情", "情色" };
    struct hits h = scan(pats, 5, "网上赌博彩票，色情内容");

    (void)unused;
    /* 3 bytes a character; "，" is the full-width comma */
    assert_int_equal(h.n, 4);
    expect(&h, 0, 0, 6, 6);
    expect(&h, 1, 1, 9, 6);
    expect(&h, 2, 2, 12, 6);
    expect(&h, 3, 3, 21, 6);
    free(h.v);
}

static void test_mixed_script_offsets(void **unused)
{
    static const char *const pats[] = { "中", "文", "中文", "abc中" };
    struct hits h = scan(pats, 4, "xABC中文\xE4中");

    (void)unused;
    /* the stray 0xE4 is no character: the last 中 starts one byte later */
    assert_int_equal(h.n, 5);
    expect(&h, 0, 3, 1, 6);
    expect(&h, 1, 0, 4, 3);
    expect(&h, 2, 2, 4, 6);
    expect(&h, 3, 1, 7, 3);
    expect(&h, 4, 0, 11, 3);
    free(h.v);
}

static void test_fold_latin(void **unused)
{
    static const char *const pats[] = { "école", "łódź", "ÿ", "æøå", "straße", "÷" };
    struct hits h = scan(pats, 6, "L'ÉCOLE ŁÓDŹ Ÿ ÆØÅ STRASSE STRAẞE ×");

    (void)unused;
    /* É is 2 bytes in the text as in the pattern: offsets are the text's */
    assert_int_equal(h.n, 5);
    expect(&h, 0, 0, 2, 6);
    expect(&h, 1, 1, 9, 7);
    expect(&h, 2, 2, 17, 2);
    expect(&h, 3, 3, 20, 6);
    /* sharp s has no simple fold to "ss"; capital sharp s folds to it */
    expect(&h, 4, 4, 35, 8);
    free(h.v);
}

static void test_fold_changes_length(void **unused)
{
    static const char *const pats[] = { "sun", "ſ" };
    struct hits h = scan(pats, 2, "ſUN S");

    (void)unused;
    /* long s is 2 bytes but folds to the 1-byte "s" */
    assert_int_equal(h.n, 3);
    expect(&h, 0, 1, 0, 2);
    expect(&h, 1, 0, 0, 4);
    expect(&h, 2, 1, 5, 1);
    free(h.v);
}

static void test_fold_table(void **unused)
{
    uint32_t c;

    (void)unused;
    for (c = 'A'; c <= 'Z'; c++)
        assert_int_equal(ac_fold(c), c + 32);
    for (c = 0xC0; c <= 0xDE; c++)
        assert_int_equal(ac_fold(c), c == 0xD7 ? c : c + 32);
    for (c = 0xDF; c <= 0xFF; c++)
        assert_int_equal(ac_fold(c), c);
    assert_int_equal(ac_fold(0x100), 0x101);    /* A macron */
    assert_int_equal(ac_fold(0x101), 0x101);
    assert_int_equal(ac_fold(0x141), 0x142);    /* L stroke */
    assert_int_equal(ac_fold(0x152), 0x153);    /* OE */
    assert_int_equal(ac_fold(0x160), 0x161);    /* S caron */
    assert_int_equal(ac_fold(0x17D), 0x17E);    /* Z caron */
    assert_int_equal(ac_fold(0x130), 0x130);    /* dotted I: no simple fold */
    assert_int_equal(ac_fold(0x131), 0x131);
    assert_int_equal(ac_fold(0x3A3), 0x3C3);    /* Greek sigma */
    assert_int_equal(ac_fold(0x416), 0x436);    /* Cyrillic zhe */
    assert_int_equal(ac_fold(0xFF21), 0xFF41);  /* full-width A */
    assert_int_equal(ac_fold(0x4E2D), 0x4E2D);
}

static void test_broken_text(void **unused)
{
    static const char *const pats[] = { "abcd", "b", "cd" };
    struct hits h = scan(pats, 3, "ab\xFF" "cd ab\xC3" "cd");

    (void)unused;
    /* an invalid byte, or a truncated sequence, ends any match */
    assert_int_equal(h.n, 4);
    expect(&h, 0, 1, 1, 1);
    expect(&h, 1, 2, 3, 2);
    expect(&h, 2, 1, 7, 1);
    expect(&h, 3, 2, 9, 2);
    free(h.v);
}

static void test_bad_patterns(void **unused)
{
    struct ac *ac = ac_new();
    char long_pat[AC_MAX_PATTERN + 2];

    (void)unused;
    assert_non_null(ac);
    memset(long_pat, 'x', sizeof(long_pat) - 1);
    long_pat[sizeof(long_pat) - 1] = '\0';
    assert_int_equal(ac_add(ac, "", 0, 0), -EINVAL);
    assert_int_equal(ac_add(ac, "\xC3", 1, 0), -EINVAL);          /* truncated */
    assert_int_equal(ac_add(ac, "\xA9", 1, 0), -EINVAL);          /* tail byte */
    assert_int_equal(ac_add(ac, "\xC0\x80", 2, 0), -EINVAL);      /* overlong */
    assert_int_equal(ac_add(ac, "\xED\xA0\x80", 3, 0), -EINVAL);  /* surrogate */
    assert_int_equal(ac_add(ac, "a\0b", 3, 0), -EINVAL);
    assert_int_equal(ac_add(ac, long_pat, AC_MAX_PATTERN + 1, 0), -EINVAL);
    assert_int_equal(ac_add(ac, long_pat, AC_MAX_PATTERN, 0), 0);
    assert_int_equal(ac_add(ac, "Zoë", strlen("Zoë"), 0), 1);
    assert_int_equal(ac_add(ac, "ZOË", strlen("ZOË"), 0), -EEXIST);
    assert_int_equal(ac_add(ac, "ZOË", strlen("ZOË"), 1), 2);
    assert_int_equal(ac_count(ac), 3);
    assert_int_equal(ac_compile(ac), 0);
    assert_int_equal(ac_add(ac, "late", 4, 0), -EBUSY);
    ac_free(ac);
    ac_free(NULL);
}

static int stop_at_second(void *ud, uint32_t id, uint32_t value, size_t off, size_t len)
{
    int *n = ud;

    (void)id;
    (void)value;
    (void)off;
    (void)len;
    return ++*n == 2 ? 7 : 0;
}

static void test_scan_stops(void **unused)
{
    struct ac *ac = ac_new();
    int n = 0;

    (void)unused;
    assert_int_equal(ac_add(ac, "a", 1, 0), 0);
    assert_int_equal(ac_compile(ac), 0);
    assert_int_equal(ac_scan(ac, "aaaa", 4, stop_at_second, &n), 7);
    assert_int_equal(n, 2);
    ac_free(ac);
}

static void test_utf8_check(void **unused)
{
    (void)unused;
    assert_int_equal(ac_utf8_check("abc", 3), 3);
    assert_int_equal(ac_utf8_check("中文", 6), 6);
    assert_int_equal(ac_utf8_check("ab\xE4\xB8", 4), 2);
    assert_int_equal(ac_utf8_check("\xF0\x9D\x84\x9E!", 5), 5);
    assert_int_equal(ac_utf8_check("x\xF5\x80\x80\x80", 5), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_vs_naive),
        cmocka_unit_test(test_many_patterns_vs_naive),
        cmocka_unit_test(test_chinese),
        cmocka_unit_test(test_mixed_script_offsets),
        cmocka_unit_test(test_fold_latin),
        cmocka_unit_test(test_fold_changes_length),
        cmocka_unit_test(test_fold_table),
        cmocka_unit_test(test_broken_text),
        cmocka_unit_test(test_bad_patterns),
        cmocka_unit_test(test_scan_stops),
        cmocka_unit_test(test_utf8_check),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
