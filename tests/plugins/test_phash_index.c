/* SPDX-License-Identifier: MIT */
/* The phash index against a linear scan, with banks, duplicates and removals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "index.h"

struct hit {
    uint64_t hash;
    unsigned distance;
    uint64_t banks;
};

struct hits {
    struct hit *v;
    size_t n, cap;
};

static void push(struct hits *h, uint64_t hash, unsigned d, uint64_t banks)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->v = realloc(h->v, h->cap * sizeof(*h->v));
        assert_non_null(h->v);
    }
    h->v[h->n++] = (struct hit){ hash, d, banks };
}

static int collect(void *ud, uint64_t hash, unsigned d, uint64_t banks)
{
    push(ud, hash, d, banks);
    return 0;
}

static int cmp_hit(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;

    return x->hash < y->hash ? -1 : x->hash > y->hash;
}

/* {====== The linear reference ====== */

struct ref {
    uint64_t *h, *banks;
    size_t n, cap;
};

static long ref_find(const struct ref *r, uint64_t h)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        if (r->h[i] == h)
            return (long)i;
    return -1;
}

static void ref_add(struct ref *r, unsigned bank, uint64_t h)
{
    long i = ref_find(r, h);

    if (i >= 0) {
        r->banks[i] |= UINT64_C(1) << bank;
        return;
    }
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 256;
        r->h = realloc(r->h, r->cap * sizeof(*r->h));
        r->banks = realloc(r->banks, r->cap * sizeof(*r->banks));
        assert_non_null(r->h);
        assert_non_null(r->banks);
    }
    r->h[r->n] = h;
    r->banks[r->n++] = UINT64_C(1) << bank;
}

static void ref_remove(struct ref *r, unsigned bank, uint64_t h)
{
    long i = ref_find(r, h);

    if (i < 0)
        return;
    r->banks[i] &= ~(UINT64_C(1) << bank);
    if (r->banks[i] == 0) {
        r->n--;
        r->h[i] = r->h[r->n];
        r->banks[i] = r->banks[r->n];
    }
}

static void ref_query(const struct ref *r, uint64_t q, unsigned d, struct hits *out)
{
    size_t i;

    for (i = 0; i < r->n; i++) {
        unsigned k = 0;
        uint64_t x = r->h[i] ^ q;

        while (x) {         /* popcount by hand: independent of the index */
            x &= x - 1;
            k++;
        }
        if (k <= d)
            push(out, r->h[i], k, r->banks[i]);
    }
}

/* }====== */

static uint64_t rng_state;

static uint64_t rnd64(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t flip(uint64_t h, unsigned bits)
{
    while (bits--)
        h ^= UINT64_C(1) << (rnd64() % 64);
    return h;
}

static void compare(const struct ph_index *ix, const struct ref *ref, uint64_t q,
                    unsigned d)
{
    struct hits got = { 0 }, want = { 0 };
    size_t i;

    assert_int_equal(ph_index_query(ix, q, d, collect, &got), 0);
    ref_query(ref, q, d, &want);
    if (got.n)
        qsort(got.v, got.n, sizeof(*got.v), cmp_hit);
    if (want.n)
        qsort(want.v, want.n, sizeof(*want.v), cmp_hit);
    if (got.n != want.n)
        fail_msg("query %016llx at %u: %zu hits, linear scan %zu",
                 (unsigned long long)q, d, got.n, want.n);
    for (i = 0; i < got.n; i++) {
        assert_true(got.v[i].hash == want.v[i].hash);
        assert_int_equal(got.v[i].distance, want.v[i].distance);
        assert_true(got.v[i].banks == want.v[i].banks);
    }
    free(got.v);
    free(want.v);
}

/*
 * Hashes in clusters around a few centres, so that queries near a centre
 * find many hashes at every distance, in every chunk combination.
 */
static void test_random_banks_vs_linear(void **unused)
{
    struct ph_index *ix = ph_index_new();
    struct ref ref = { 0 };
    uint64_t centres[24], batch[300], del[100];
    unsigned round, i, d, bank;

    (void)unused;
    assert_non_null(ix);
    rng_state = 7;
    for (i = 0; i < 24; i++)
        centres[i] = rnd64();
    for (round = 0; round < 40; round++) {
        size_t nb = 1 + rnd64() % 300, nd = rnd64() % 100;

        bank = (unsigned)(rnd64() % 5);
        for (i = 0; i < nb; i++) {
            /* some exact repeats, within a batch and across banks */
            batch[i] = i > 0 && rnd64() % 10 == 0 ? batch[rnd64() % i]
                                                  : flip(centres[rnd64() % 24],
                                                         (unsigned)(rnd64() % 14));
        }
        for (i = 0; i < nd; i++)
            del[i] = rnd64() % 3 ? batch[rnd64() % nb] : flip(centres[0], 3);
        /* adds first, then removals, as the index documents */
        assert_int_equal(ph_index_update(ix, bank, batch, nb, del, nd), 0);
        for (i = 0; i < nb; i++)
            ref_add(&ref, bank, batch[i]);
        for (i = 0; i < nd; i++)
            ref_remove(&ref, bank, del[i]);
        assert_int_equal(ph_index_size(ix), ref.n);

        for (d = 0; d <= 10; d++) {
            for (i = 0; i < 6; i++) {
                compare(ix, &ref, flip(centres[rnd64() % 24], (unsigned)(rnd64() % 12)), d);
                compare(ix, &ref, ref.n ? ref.h[rnd64() % ref.n] : 0, d);
            }
            compare(ix, &ref, rnd64(), d);
        }
        compare(ix, &ref, centres[round % 24], PH_MAX_DISTANCE);
    }
    /* emptying every bank leaves nothing to find */
    for (bank = 0; bank < 5; bank++) {
        size_t n = ref.n;
        uint64_t *all = malloc((n + 1) * sizeof(*all));

        assert_non_null(all);
        memcpy(all, ref.h, n * sizeof(*all));
        assert_int_equal(ph_index_update(ix, bank, NULL, 0, all, n), 0);
        for (i = 0; i < n; i++)
            ref_remove(&ref, bank, all[i]);
        free(all);
    }
    assert_int_equal(ph_index_size(ix), 0);
    compare(ix, &ref, centres[0], 16);
    free(ref.h);
    free(ref.banks);
    ph_index_free(ix);
}

static void test_bank_sizes_and_duplicates(void **unused)
{
    struct ph_index *ix = ph_index_new();
    const uint64_t a = 0x0123456789abcdefull, b = 0xfedcba9876543210ull;
    const uint64_t adds[] = { a, a, b, a };
    struct hits got = { 0 };

    (void)unused;
    assert_int_equal(ph_index_update(ix, 3, adds, 4, NULL, 0), 0);
    assert_int_equal(ph_index_update(ix, 9, &a, 1, NULL, 0), 0);
    assert_int_equal(ph_index_size(ix), 2);
    assert_int_equal(ph_index_bank_size(ix, 3), 2);
    assert_int_equal(ph_index_bank_size(ix, 9), 1);

    assert_int_equal(ph_index_query(ix, a ^ 0x11, 2, collect, &got), 0);
    assert_int_equal(got.n, 1);     /* once, though in two banks */
    assert_true(got.v[0].hash == a);
    assert_int_equal(got.v[0].distance, 2);
    assert_true(got.v[0].banks == ((UINT64_C(1) << 3) | (UINT64_C(1) << 9)));

    /* in add and remove at once: removed; absent removals are no error */
    assert_int_equal(ph_index_update(ix, 3, &b, 1, &b, 1), 0);
    assert_int_equal(ph_index_bank_size(ix, 3), 1);
    assert_int_equal(ph_index_size(ix), 1);
    assert_int_equal(ph_index_update(ix, 3, NULL, 0, &b, 1), 0);
    assert_int_equal(ph_index_bank_size(ix, 3), 1);
    /* a leaves bank 9 but stays in bank 3 */
    assert_int_equal(ph_index_update(ix, 9, NULL, 0, &a, 1), 0);
    assert_int_equal(ph_index_bank_size(ix, 9), 0);
    assert_int_equal(ph_index_size(ix), 1);

    got.n = 0;
    assert_int_equal(ph_index_query(ix, a, 0, collect, &got), 0);
    assert_int_equal(got.n, 1);
    assert_true(got.v[0].banks == (UINT64_C(1) << 3));
    got.n = 0;
    assert_int_equal(ph_index_query(ix, a ^ 0x7, 2, collect, &got), 0);
    assert_int_equal(got.n, 0);     /* distance 3 > 2 */

    assert_int_equal(ph_index_update(ix, PH_MAX_BANKS, &a, 1, NULL, 0), -EINVAL);
    assert_int_equal(ph_index_query(ix, a, PH_MAX_DISTANCE + 1, collect, &got), -EINVAL);
    assert_int_equal(ph_index_size(ix), 1);
    free(got.v);
    ph_index_free(ix);
    ph_index_free(NULL);
}

/* Every distance, and hashes differing in exactly the chunk a probe skips. */
static void test_chunk_boundaries(void **unused)
{
    struct ph_index *ix = ph_index_new();
    struct ref ref = { 0 };
    uint64_t base = 0, hs[64 * 3];
    unsigned i, d, n = 0;

    (void)unused;
    rng_state = 99;
    base = rnd64();
    for (i = 0; i < 64; i++) {
        hs[n++] = base ^ (UINT64_C(1) << i);
        hs[n++] = base ^ (UINT64_C(0xFFFF) << (i / 16 * 16)) ^ (UINT64_C(1) << i);
        hs[n++] = flip(base, 1 + i % 16);
    }
    assert_int_equal(ph_index_update(ix, 0, hs, n, NULL, 0), 0);
    for (i = 0; i < n; i++)
        ref_add(&ref, 0, hs[i]);
    for (d = 0; d <= PH_MAX_DISTANCE; d++) {
        compare(ix, &ref, base, d);
        compare(ix, &ref, ~base, d);
        compare(ix, &ref, hs[d * 7 % n], d);
    }
    free(ref.h);
    free(ref.banks);
    ph_index_free(ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_banks_vs_linear),
        cmocka_unit_test(test_bank_sizes_and_duplicates),
        cmocka_unit_test(test_chunk_boundaries),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
