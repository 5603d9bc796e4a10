/* SPDX-License-Identifier: MIT */
/* The Hamming set against a comparison with every member: the same hashes, each once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/hamming.h"
#include "lib/mix.h"

struct found {
    uint64_t m[4096];
    unsigned d[4096];
    size_t n;
};

static int note(void *arg, uint64_t member, unsigned distance)
{
    struct found *f = arg;
    assert_true(f->n < 4096);
    f->m[f->n] = member;
    f->d[f->n++] = distance;
    return 0;
}

static int cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Against every member, for queries near members and far from all. */
static void agree(size_t n)
{
    static uint64_t set[60000];
    static struct found got;
    uint64_t rng = n, want[4096];
    static const unsigned dists[] = { 0, 1, 3, 4, 8, 11, 16, 32 };

    for (size_t i = 0; i < n; i++)
        set[i] = sl_splitmix64(&rng);
    set[n - 1] = set[0];                    /* a duplicate: kept once */
    struct sl_hamming *h = sl_hamming_new(set, n);
    assert_non_null(h);
    assert_int_equal(sl_hamming_size(h), n - 1);
    for (int t = 0; t < 300; t++) {
        uint64_t q = sl_splitmix64(&rng);
        if (t % 2 == 0) {                   /* near a member: a few bits flipped */
            q = set[sl_splitmix64(&rng) % (n - 1)];
            for (unsigned k = 0, flips = t % 13; k < flips; k++)
                q ^= 1ULL << (sl_splitmix64(&rng) % 64);
        }
        for (size_t di = 0; di < sizeof(dists) / sizeof(dists[0]); di++) {
            unsigned r = dists[di];
            size_t nw = 0;
            for (size_t i = 0; i < n - 1; i++)
                if ((unsigned)__builtin_popcountll(set[i] ^ q) <= r && nw < 4096)
                    want[nw++] = set[i];
            if (r == 32 && nw >= 4096)
                continue;                   /* too many to list: half the space */
            got.n = 0;
            assert_int_equal(sl_hamming_query(h, q, r, note, &got), 0);
            assert_int_equal(got.n, nw);
            for (size_t i = 0; i < got.n; i++)
                assert_int_equal(got.d[i], __builtin_popcountll(got.m[i] ^ q));
            qsort(want, nw, sizeof(want[0]), cmp);
            qsort(got.m, got.n, sizeof(got.m[0]), cmp);
            assert_memory_equal(want, got.m, nw * sizeof(want[0]));
        }
    }
    got.n = 0;
    assert_int_equal(sl_hamming_query(h, set[0], 33, note, &got), -EINVAL);
    sl_hamming_free(h);
}

static void test_small(void **state)
{
    (void)state;
    agree(100);
}

static void test_large(void **state)
{
    (void)state;
    agree(50000);
}

static int stop(void *arg, uint64_t member, unsigned distance)
{
    (void)member, (void)distance;
    return ++*(int *)arg == 2 ? 7 : 0;
}

/* A callback's nonzero answer ends the query and is its result. */
static void test_stop(void **state)
{
    uint64_t set[5000];
    int calls = 0;
    (void)state;
    for (int i = 0; i < 5000; i++)
        set[i] = (uint64_t)i;               /* all within 13 bits of 0 */
    struct sl_hamming *h = sl_hamming_new(set, 5000);
    assert_non_null(h);
    assert_int_equal(sl_hamming_query(h, 0, 16, stop, &calls), 7);
    assert_int_equal(calls, 2);
    sl_hamming_free(h);
    sl_hamming_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small),
        cmocka_unit_test(test_large),
        cmocka_unit_test(test_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
