/* SPDX-License-Identifier: MIT */
/* The phash index against a linear scan: agreement, times and speed-up. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "index.h"

#define PASSES 3

struct results {
    uint64_t *h;            /* found hashes, query after query */
    size_t n, cap;
    size_t *start;          /* start[i]: first result of query i */
};

static uint64_t rng_state = 1;

static uint64_t rnd64(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void push(struct results *r, uint64_t h)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 1024;
        r->h = realloc(r->h, r->cap * sizeof(*r->h));
        if (!r->h) {
            fprintf(stderr, "bench_phash: out of memory\n");
            exit(1);
        }
    }
    r->h[r->n++] = h;
}

static int on_hit(void *ud, uint64_t hash, unsigned distance, uint64_t banks)
{
    (void)distance;
    (void)banks;
    push(ud, hash);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static long arg(int argc, char **argv, int i, long def, long min, long max)
{
    char *end;
    long v;

    if (argc <= i)
        return def;
    v = strtol(argv[i], &end, 10);
    if (*end || v < min || v > max) {
        fprintf(stderr, "usage: bench_phash [QUERIES [BANK_SIZE [DISTANCE]]]\n"
                "  QUERIES 1..10000000 (1000), BANK_SIZE 1..100000000 (1000000), "
                "DISTANCE 0..%d (8)\n", PH_MAX_DISTANCE);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    size_t nq = (size_t)arg(argc, argv, 1, 1000, 1, 10000000);
    size_t nb = (size_t)arg(argc, argv, 2, 1000000, 1, 100000000);
    unsigned dist = (unsigned)arg(argc, argv, 3, 8, 0, PH_MAX_DISTANCE);
    struct results ri = { 0 }, rl = { 0 };
    uint64_t *bank, *q;
    struct ph_index *ix;
    size_t i, j, k, u;
    int pass;
    double t0, t_build, t_index, t_linear;

    bank = malloc(nb * sizeof(*bank));
    q = malloc(nq * sizeof(*q));
    ri.start = malloc((nq + 1) * sizeof(size_t));
    rl.start = malloc((nq + 1) * sizeof(size_t));
    ix = ph_index_new();
    if (!bank || !q || !ri.start || !rl.start || !ix) {
        fprintf(stderr, "bench_phash: out of memory\n");
        return 1;
    }
    for (i = 0; i < nb; i++)
        bank[i] = rnd64();
    /* a bank holds each hash once; so must the linear scan's array */
    qsort(bank, nb, sizeof(*bank), cmp_u64);
    for (i = u = 0; i < nb; i++)
        if (i == 0 || bank[i] != bank[u - 1])
            bank[u++] = bank[i];
    nb = u;
    for (i = 0; i < nq; i++) {
        if (i % 2 == 0) {           /* near a stored hash */
            unsigned flips = (unsigned)(rnd64() % (dist + 1));

            q[i] = bank[rnd64() % nb];
            while (flips--)
                q[i] ^= UINT64_C(1) << (rnd64() % 64);
        } else {
            q[i] = rnd64();
        }
    }

    t0 = now();
    if (ph_index_update(ix, 0, bank, nb, NULL, 0) != 0) {
        fprintf(stderr, "bench_phash: out of memory building the index\n");
        return 1;
    }
    t_build = now() - t0;

    /* Best of PASSES for each: a shared machine's noise only slows a pass. */
    t_index = t_linear = 1e30;
    for (pass = 0; pass < PASSES; pass++) {
        double t;

        ri.n = rl.n = 0;
        t0 = now();
        for (i = 0; i < nq; i++) {
            ri.start[i] = ri.n;
            ph_index_query(ix, q[i], dist, on_hit, &ri);
        }
        ri.start[nq] = ri.n;
        t = now() - t0;
        t_index = t < t_index ? t : t_index;

        t0 = now();
        for (i = 0; i < nq; i++) {
            rl.start[i] = rl.n;
            for (j = 0; j < nb; j++)
                if ((unsigned)__builtin_popcountll(bank[j] ^ q[i]) <= dist)
                    push(&rl, bank[j]);
        }
        rl.start[nq] = rl.n;
        t = now() - t0;
        t_linear = t < t_linear ? t : t_linear;
    }

    for (i = 0; i < nq; i++) {
        size_t a = ri.start[i], n = ri.start[i + 1] - a;

        if (n != rl.start[i + 1] - rl.start[i])
            goto differ;
        if (n == 0)
            continue;
        qsort(ri.h + a, n, sizeof(uint64_t), cmp_u64);
        qsort(rl.h + rl.start[i], n, sizeof(uint64_t), cmp_u64);
        for (k = 0; k < n; k++)
            if (ri.h[a + k] != rl.h[rl.start[i] + k])
                goto differ;
    }

    printf("bank %zu hashes, %zu queries (half near a stored hash), distance %u\n",
           nb, nq, dist);
    printf("index build   %9.3f s\n", t_build);
    printf("index query   %9.2f us/query  (best of %d passes: %.3f s)\n",
           t_index / nq * 1e6, PASSES, t_index);
    printf("linear scan   %9.2f us/query  (best of %d passes: %.3f s)\n",
           t_linear / nq * 1e6, PASSES, t_linear);
    printf("speed-up      %9.1fx\n", t_index > 0 ? t_linear / t_index : 0.0);
    printf("results agree: %zu matches\n", ri.n);
    ph_index_free(ix);
    free(bank);
    free(q);
    free(ri.h);
    free(rl.h);
    free(ri.start);
    free(rl.start);
    return 0;

differ:
    fprintf(stderr, "bench_phash: index and linear scan differ on query %zu "
            "(%016llx)\n", i, (unsigned long long)q[i]);
    return 1;
}
