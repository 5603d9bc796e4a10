/* SPDX-License-Identifier: MIT */
/* The audience's related interests: co-engagement pairs, counted with bounded memory. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audience/internal.h"
#include "lib/grow.h"
#include "lib/mix.h"

static uint32_t pair_bucket(const struct sl_audience *a, uint32_t x, uint32_t y)
{
    return (uint32_t)sl_mix64(((uint64_t)x << 32 | y) ^ a->conf.seed) & a->bucket_mask;
}

/* Rebuild the bucket and per-x chains over pairs[0..npairs). */
static void pairs_relink(struct sl_audience *a)
{
    memset(a->buckets, 0, ((size_t)a->bucket_mask + 1) * sizeof(*a->buckets));
    for (uint32_t i = 0; i < a->nints; i++)
        a->ints[i].pairs = 0;
    for (uint32_t i = 0; i < a->npairs; i++) {
        struct pair *p = &a->pairs[i];
        uint32_t b = pair_bucket(a, p->x, p->y);
        p->hnext = a->buckets[b];
        a->buckets[b] = i + 1;
        p->xnext = a->ints[p->x].pairs;
        a->ints[p->x].pairs = i + 1;
    }
}

/* Halve every count and drop pairs that reach 0: bounded memory, fading tastes. */
static void pairs_decay(struct sl_audience *a)
{
    uint32_t w = 0;
    for (uint32_t i = 0; i < a->npairs; i++) {
        struct pair p = a->pairs[i];
        p.count >>= 1;
        if (p.count)
            a->pairs[w++] = p;
    }
    a->npairs = w;
    for (uint32_t i = 0; i < a->nints; i++) {
        a->ints[i].e >>= 1;
        a->ints[i].u >>= 1;
    }
    pairs_relink(a);
}

static struct pair *pair_find(const struct sl_audience *a, uint32_t x, uint32_t y)
{
    for (uint32_t i = a->buckets[pair_bucket(a, x, y)]; i; i = a->pairs[i - 1].hnext)
        if (a->pairs[i - 1].x == x && a->pairs[i - 1].y == y)
            return &a->pairs[i - 1];
    return NULL;
}

/* Count (x, y) once; may decay first to make room. */
static int pair_bump(struct sl_audience *a, uint32_t x, uint32_t y)
{
    struct pair *p = pair_find(a, x, y);

    if (p) {
        p->count++;
        return 0;
    }
    while (a->npairs >= a->conf.related_max_pairs)
        pairs_decay(a);
    if (sl_grow((void **)&a->pairs, &a->pairs_cap, (size_t)a->npairs + 1, sizeof(*a->pairs)) < 0)
        return -ENOMEM;
    uint32_t b = pair_bucket(a, x, y);
    a->pairs[a->npairs] = (struct pair){
        .x = x, .y = y, .count = 1, .hnext = a->buckets[b], .xnext = a->ints[x].pairs,
    };
    a->npairs++;
    a->buckets[b] = a->npairs;
    a->ints[x].pairs = a->npairs;
    return 0;
}

int sl_audience_engage(struct sl_audience *a, uint32_t user,
                       const char *const *interests, size_t n)
{
    uint32_t xs[SL_AUD_INTERESTS_MAX];
    size_t nx = 0, len;
    int rc;

    if (!a || user >= a->nusers || n > SL_AUD_INTERESTS_MAX || (n && !interests))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!id_ok(interests[i], &len))
            return -EINVAL;
    if (!a->buckets) {
        uint32_t cap = 16;
        while (cap < a->conf.related_max_pairs)
            cap <<= 1;
        if (!(a->buckets = calloc(cap, sizeof(*a->buckets))))
            return -ENOMEM;
        a->bucket_mask = cap - 1;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t x;
        if ((rc = aud_interest_intern(a, interests[i], strlen(interests[i]), &x)) < 0)
            return rc;
        if (!has_u32(xs, nx, x))
            xs[nx++] = x;
    }
    const struct user *u = &a->users[user];
    uint32_t ys[SL_AUD_INTERESTS_MAX];
    size_t ny = u->nints;
    memcpy(ys, user_ints(u), ny * sizeof(*ys));

    /* Keep counts far from wrapping: halve everything in good time. */
    for (size_t i = 0; i < nx; i++)
        if (a->ints[xs[i]].e >= UINT32_MAX / 2)
            pairs_decay(a);
    for (size_t i = 0; i < ny; i++)
        if (a->ints[ys[i]].u >= UINT32_MAX / 2)
            pairs_decay(a);
    for (size_t i = 0; i < nx; i++)
        for (size_t j = 0; j < ny; j++)
            if (xs[i] != ys[j] && (rc = pair_bump(a, xs[i], ys[j])) < 0)
                return rc;
    for (size_t i = 0; i < nx; i++)
        a->ints[xs[i]].e++;
    for (size_t i = 0; i < ny; i++)
        a->ints[ys[i]].u++;
    return 0;
}

static bool related_before(const struct sl_aud_related *p, const struct sl_aud_related *q)
{
    if (p->score != q->score)
        return p->score > q->score;
    if (p->count != q->count)
        return p->count > q->count;
    return strcmp(p->interest, q->interest) < 0;
}

size_t sl_audience_related(const struct sl_audience *a, const char *interest,
                           struct sl_aud_related *out, size_t max)
{
    size_t got = 0;

    if (!a || !interest || !out || max == 0 || !a->buckets)
        return 0;
    uint32_t x = aud_name_lookup(a, &a->int_map, interest);
    if (x == SL_AUD_NONE)
        return 0;
    uint32_t min = a->conf.related_min_count ? a->conf.related_min_count : 1;
    for (uint32_t i = a->ints[x].pairs; i; i = a->pairs[i - 1].xnext) {
        const struct pair *p = &a->pairs[i - 1];
        if (p->count < min)
            continue;
        double denom = (double)a->ints[x].e + (double)a->ints[p->y].u - (double)p->count;
        struct sl_aud_related r = {
            .interest = a->ints[p->y].named.name,
            .score = denom > 0 ? (double)p->count / denom : 1.0,
            .count = p->count,
        };
        /* Keep the best max, sorted: insertion from the end. */
        size_t k = got < max ? got++ : max;
        while (k > 0 && related_before(&r, &out[k - 1])) {
            if (k < max)
                out[k] = out[k - 1];
            k--;
        }
        if (k < max)
            out[k] = r;
    }
    return got;
}

size_t sl_audience_related_pairs(const struct sl_audience *a)
{
    return a ? a->npairs : 0;
}
