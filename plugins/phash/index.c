/* SPDX-License-Identifier: MIT */
/* Multi-index hashing: 64-bit hashes within a Hamming distance, across banks. */
#include "index.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * Every distinct hash is stored once in each of four tables, bucketed by one
 * of its four 16-bit chunks. If popcount(h ^ q) <= r with r = 4s + a
 * (0 <= a < 4), then one of chunks 0..a differs in at most s bits or one of
 * the others in at most s - 1 (otherwise the distance would be at least
 * (a+1)(s+1) + (3-a)s = r + 1). So a query probes, per chunk, the buckets
 * of every value within that chunk's radius, and checks the full distance
 * of the few hashes there. At r = 8 that is 137 + 3 * 17 buckets, about
 * 0.3% of a large bank. A hash is reported only from the first chunk whose
 * radius it is within, so each is reported once.
 *
 * On a large bank the probes are cache misses, not arithmetic, so a query
 * first prefetches every bucket header, then every bucket's entries, and
 * only then reads them: the misses overlap instead of queueing.
 */
#define CHUNKS 4
#define CHUNK_BITS 16
#define NBUCKETS (1u << CHUNK_BITS)
#define MAX_RADIUS (PH_MAX_DISTANCE / CHUNKS)
#define NFLIPS 2517     /* 16-bit values of popcount <= 4: 1+16+120+560+1820 */
/* Most probes of one query: chunk 0 at radius 4, the others at 3. */
#define MAX_PROBES (NFLIPS + (CHUNKS - 1) * 697)

/* 16 bytes, so that a query's probes touch few cache lines. */
struct bucket {
    uint64_t *h;
    uint32_t n, cap;
};

struct ph_index {
    struct bucket *tab[CHUNKS];             /* NBUCKETS each */
    uint64_t **banks;                       /* banks[b][k]: mask of tab[0][b].h[k] */
    size_t size;                            /* distinct hashes */
    size_t bank_size[PH_MAX_BANKS];
    uint16_t flips[NFLIPS];                 /* sorted by popcount */
    uint32_t nflips[MAX_RADIUS + 1];        /* flips of popcount <= r */
};

static unsigned chunk(uint64_t h, int i)
{
    return (unsigned)(h >> (CHUNK_BITS * i)) & (NBUCKETS - 1);
}

static unsigned popcount64(uint64_t x)
{
    return (unsigned)__builtin_popcountll(x);
}

struct ph_index *ph_index_new(void)
{
    struct ph_index *ix = calloc(1, sizeof(*ix));
    unsigned p, v, n = 0;
    int i;

    if (!ix)
        return NULL;
    for (i = 0; i < CHUNKS; i++) {
        ix->tab[i] = calloc(NBUCKETS, sizeof(struct bucket));
        if (!ix->tab[i]) {
            ph_index_free(ix);
            return NULL;
        }
    }
    ix->banks = calloc(NBUCKETS, sizeof(*ix->banks));
    if (!ix->banks) {
        ph_index_free(ix);
        return NULL;
    }
    for (p = 0; p <= MAX_RADIUS; p++) {
        for (v = 0; v < NBUCKETS; v++)
            if (popcount64(v) == p)
                ix->flips[n++] = (uint16_t)v;
        ix->nflips[p] = n;
    }
    return ix;
}

void ph_index_free(struct ph_index *ix)
{
    unsigned b;
    int i;

    if (!ix)
        return;
    for (i = 0; i < CHUNKS; i++) {
        if (!ix->tab[i])
            continue;
        for (b = 0; b < NBUCKETS; b++)
            free(ix->tab[i][b].h);
        free(ix->tab[i]);
    }
    if (ix->banks)
        for (b = 0; b < NBUCKETS; b++)
            free(ix->banks[b]);
    free(ix->banks);
    free(ix);
}

size_t ph_index_size(const struct ph_index *ix)
{
    return ix->size;
}

size_t ph_index_bank_size(const struct ph_index *ix, unsigned bank)
{
    return bank < PH_MAX_BANKS ? ix->bank_size[bank] : 0;
}

static long find(const struct bucket *b, uint64_t h)
{
    uint32_t i;

    for (i = 0; i < b->n; i++)
        if (b->h[i] == h)
            return (long)i;
    return -1;
}

/* Room for one more entry; grows capacity only, so failing changes nothing.
 * banks, for chunk 0, is the bucket's parallel array of masks. */
static int reserve(struct bucket *b, uint64_t **banks)
{
    uint32_t cap;
    uint64_t *p;

    if (b->n < b->cap)
        return 0;
    cap = b->cap ? b->cap * 2 : 4;
    p = realloc(b->h, cap * sizeof(*p));
    if (!p)
        return -ENOMEM;
    b->h = p;
    if (banks) {
        p = realloc(*banks, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;     /* h merely has spare room now */
        *banks = p;
    }
    b->cap = cap;
    return 0;
}

static int insert_new(struct ph_index *ix, uint64_t h, uint64_t mask)
{
    struct bucket *b[CHUNKS];
    uint64_t **banks = &ix->banks[chunk(h, 0)];
    int i;

    for (i = 0; i < CHUNKS; i++) {
        b[i] = &ix->tab[i][chunk(h, i)];
        if (reserve(b[i], i == 0 ? banks : NULL) < 0)
            return -ENOMEM;
    }
    for (i = 0; i < CHUNKS; i++)
        b[i]->h[b[i]->n] = h;
    (*banks)[b[0]->n] = mask;
    for (i = 0; i < CHUNKS; i++)
        b[i]->n++;
    ix->size++;
    return 0;
}

static void remove_all(struct ph_index *ix, uint64_t h)
{
    int i;

    for (i = 0; i < CHUNKS; i++) {
        struct bucket *b = &ix->tab[i][chunk(h, i)];
        uint64_t **banks = i == 0 ? &ix->banks[chunk(h, 0)] : NULL;
        long k = find(b, h);

        if (k < 0)
            continue;   /* cannot happen: every table holds every hash */
        b->n--;
        b->h[k] = b->h[b->n];
        if (banks)
            (*banks)[k] = (*banks)[b->n];
        if (b->n == 0) {
            /* an emptied bucket gives its memory back */
            free(b->h);
            b->h = NULL;
            b->cap = 0;
            if (banks) {
                free(*banks);
                *banks = NULL;
            }
        }
    }
    ix->size--;
}

static void clear_bit(struct ph_index *ix, uint64_t h, unsigned bank)
{
    unsigned c0 = chunk(h, 0);
    long k = find(&ix->tab[0][c0], h);
    uint64_t bit = UINT64_C(1) << bank;

    if (k < 0 || !(ix->banks[c0][k] & bit))
        return;
    ix->banks[c0][k] &= ~bit;
    ix->bank_size[bank]--;
    if (ix->banks[c0][k] == 0)
        remove_all(ix, h);
}

int ph_index_update(struct ph_index *ix, unsigned bank,
                    const uint64_t *add, size_t nadd,
                    const uint64_t *del, size_t ndel)
{
    uint64_t bit, *done = NULL;
    size_t i, ndone = 0;

    if (bank >= PH_MAX_BANKS)
        return -EINVAL;
    bit = UINT64_C(1) << bank;
    if (nadd) {
        /* what this call added, to undo it if memory runs out midway */
        done = malloc(nadd * sizeof(*done));
        if (!done)
            return -ENOMEM;
    }
    for (i = 0; i < nadd; i++) {
        unsigned c0 = chunk(add[i], 0);
        long k = find(&ix->tab[0][c0], add[i]);

        if (k >= 0) {
            if (ix->banks[c0][k] & bit)
                continue;
            ix->banks[c0][k] |= bit;
        } else if (insert_new(ix, add[i], bit) < 0) {
            while (ndone > 0)
                clear_bit(ix, done[--ndone], bank);
            free(done);
            return -ENOMEM;
        }
        ix->bank_size[bank]++;
        done[ndone++] = add[i];
    }
    free(done);
    for (i = 0; i < ndel; i++)
        clear_bit(ix, del[i], bank);
    return 0;
}

int ph_index_query(const struct ph_index *ix, uint64_t q, unsigned distance,
                   ph_hit_fn fn, void *ud)
{
    uint16_t probe[MAX_PROBES];     /* bucket numbers, chunk by chunk */
    int rad[CHUNKS], s, a, i, j, rc;
    size_t np = 0, p, first[CHUNKS + 1];
    unsigned qc, f, nf, d;
    uint32_t k;

    if (distance > PH_MAX_DISTANCE)
        return -EINVAL;
    if (ix->size == 0)
        return 0;
    s = (int)distance / CHUNKS;
    a = (int)distance % CHUNKS;
    for (i = 0; i < CHUNKS; i++)
        rad[i] = i <= a ? s : s - 1;

    for (i = 0; i < CHUNKS; i++) {
        first[i] = np;
        if (rad[i] < 0)
            continue;
        qc = chunk(q, i);
        nf = ix->nflips[rad[i]];
        for (f = 0; f < nf; f++) {
            probe[np] = (uint16_t)(qc ^ ix->flips[f]);
            __builtin_prefetch(&ix->tab[i][probe[np]]);
            np++;
        }
    }
    first[CHUNKS] = np;
    for (i = 0; i < CHUNKS; i++) {
        for (p = first[i]; p < first[i + 1]; p++) {
            const struct bucket *b = &ix->tab[i][probe[p]];

            if (b->n)
                __builtin_prefetch(b->h);
        }
    }

    for (i = 0; i < CHUNKS; i++) {
        for (p = first[i]; p < first[i + 1]; p++) {
            const struct bucket *b = &ix->tab[i][probe[p]];

            for (k = 0; k < b->n; k++) {
                uint64_t x = b->h[k] ^ q, banks;
                unsigned c0;

                d = popcount64(x);
                if (d > distance)
                    continue;
                for (j = 0; j < i; j++)
                    if ((int)popcount64(chunk(x, j)) <= rad[j])
                        break;
                if (j < i)
                    continue;   /* chunk j's probe reports it */
                c0 = chunk(b->h[k], 0);
                banks = ix->banks[c0][i == 0 ? (long)k
                                             : find(&ix->tab[0][c0], b->h[k])];
                rc = fn(ud, b->h[k], d, banks);
                if (rc)
                    return rc;
            }
        }
    }
    return 0;
}
