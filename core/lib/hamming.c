/* SPDX-License-Identifier: MIT */
/* A set of 64-bit perceptual hashes, queried by Hamming distance. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hamming.h"

#define QUARTERS 4
#define VALUES 65536u
/* Below this many members a query compares with each: cheaper than the
 * hundreds of probes of the tables. */
#define SMALL 2048

struct sl_hamming {
    uint64_t *member;               /* sorted, distinct */
    size_t n;
    /* For each quarter: the members sorted by it, and where each of its
     * 65,536 values starts (start[v + 1] - start[v] members have it). */
    uint64_t *by[QUARTERS];
    uint32_t *start[QUARTERS];
    /* Every 16-bit mask, fewest bits first; upto[k]: how many have k bits
     * or fewer. */
    uint16_t *masks;
    uint32_t upto[17];
};

static unsigned bits(uint64_t x)
{
    return (unsigned)__builtin_popcountll(x);
}

static unsigned quarter(uint64_t h, int i)
{
    return (unsigned)(h >> (16 * i)) & 0xFFFFu;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void sl_hamming_free(struct sl_hamming *h)
{
    if (!h)
        return;
    for (int i = 0; i < QUARTERS; i++) {
        free(h->by[i]);
        free(h->start[i]);
    }
    free(h->masks);
    free(h->member);
    free(h);
}

/* The tables of a large set: a counting sort of the members by each quarter. */
static int build(struct sl_hamming *h)
{
    if (!(h->masks = malloc(VALUES * sizeof(*h->masks))))
        return -ENOMEM;
    uint32_t at = 0;
    for (unsigned k = 0; k <= 16; k++) {
        for (uint32_t m = 0; m < VALUES; m++)
            if (bits(m) == k)
                h->masks[at++] = (uint16_t)m;
        h->upto[k] = at;
    }
    for (int i = 0; i < QUARTERS; i++) {
        uint32_t *start = h->start[i] = calloc(VALUES + 1, sizeof(*start));
        uint64_t *by = h->by[i] = malloc(h->n * sizeof(*by));
        if (!start || !by)
            return -ENOMEM;
        for (size_t j = 0; j < h->n; j++)
            start[quarter(h->member[j], i) + 1]++;
        for (uint32_t v = 0; v < VALUES; v++)
            start[v + 1] += start[v];
        uint32_t *fill = malloc(VALUES * sizeof(*fill));
        if (!fill)
            return -ENOMEM;
        memcpy(fill, start, VALUES * sizeof(*fill));
        for (size_t j = 0; j < h->n; j++)
            by[fill[quarter(h->member[j], i)]++] = h->member[j];
        free(fill);
    }
    return 0;
}

struct sl_hamming *sl_hamming_new(const uint64_t *hashes, size_t n)
{
    struct sl_hamming *h = calloc(1, sizeof(*h));

    if (!h || !(h->member = malloc((n ? n : 1) * sizeof(*h->member)))) {
        free(h);
        return NULL;
    }
    memcpy(h->member, hashes, n * sizeof(*hashes));
    qsort(h->member, n, sizeof(*h->member), cmp_u64);
    for (size_t j = 0; j < n; j++)
        if (h->n == 0 || h->member[h->n - 1] != h->member[j])
            h->member[h->n++] = h->member[j];
    if (h->n >= SMALL && build(h) < 0) {
        sl_hamming_free(h);
        return NULL;
    }
    return h;
}

size_t sl_hamming_size(const struct sl_hamming *h)
{
    return h->n;
}

int sl_hamming_query(const struct sl_hamming *h, uint64_t q, unsigned distance,
                     int (*fn)(void *arg, uint64_t member, unsigned distance), void *arg)
{
    int rc;

    if (distance > SL_HAMMING_MAX)
        return -EINVAL;
    if (h->n < SMALL) {
        for (size_t j = 0; j < h->n; j++) {
            unsigned d = bits(h->member[j] ^ q);
            if (d <= distance && (rc = fn(arg, h->member[j], d)) != 0)
                return rc;
        }
        return 0;
    }
    /* Some quarter of a member within distance is within distance / 4 of
     * the query's (else the four would differ by more); a member is
     * reported from the first quarter that is, so once. */
    unsigned s = distance / QUARTERS;
    for (int i = 0; i < QUARTERS; i++) {
        unsigned qv = quarter(q, i);
        for (uint32_t k = 0; k < h->upto[s]; k++) {
            unsigned v = qv ^ h->masks[k];
            for (uint32_t j = h->start[i][v]; j < h->start[i][v + 1]; j++) {
                uint64_t m = h->by[i][j];
                bool earlier = false;
                for (int e = 0; e < i && !earlier; e++)
                    earlier = bits((uint64_t)(quarter(m, e) ^ quarter(q, e))) <= s;
                unsigned d = bits(m ^ q);
                if (!earlier && d <= distance && (rc = fn(arg, m, d)) != 0)
                    return rc;
            }
        }
    }
    return 0;
}
