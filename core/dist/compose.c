/* SPDX-License-Identifier: MIT */
/* The mixed feed: one page composed from private and public candidates. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist/compose.h"
#include "lib/mix.h"

void sl_compose_rules_default(struct sl_compose_rules *r)
{
    *r = (struct sl_compose_rules){
        .min_private = 0.30,
        .min_ordinary = 0.70,
        .last_creator = SL_COMPOSE_NO_CREATOR,
    };
}

/* ceil(share * n), forgiving the rounding of products like 0.7 * 10. */
static size_t floor_count(double share, size_t n)
{
    double v = ceil(share * (double)n - 1e-9);
    return v <= 0 ? 0 : (size_t)v;
}

/* The private picks of an L-pick page that bring the user's running share
 * back to target_private: ceil(target * (served + L) - private), 0 to L. */
static size_t topup_count(const struct sl_compose_rules *r, size_t L)
{
    double v = ceil(r->target_private * (r->recent_served + (double)L) -
                    r->recent_private - 1e-9);
    if (!(v > 0))
        return 0;
    return v >= (double)L ? L : (size_t)v;
}

/* The most public picks, up to most, of which `ordinary` can be the floor's
 * share: the largest u with ceil(share * u) <= ordinary. */
static size_t public_fit(double share, size_t ordinary, size_t most)
{
    size_t u = most;
    while (u > 0 && floor_count(share, u) > ordinary)
        u--;
    return u;
}

/* Slots for an open-addressing table of n keys: a power of two, at most half full. */
static size_t table_size(size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap <<= 1;
    return cap;
}

/* A set of item keys, open addressing; `used` marks taken slots. */
struct keyset {
    uint64_t *key;
    bool *used;
    size_t mask;
};

static int keyset_init(struct keyset *s, size_t n)
{
    size_t cap = table_size(n);
    s->key = malloc(cap * sizeof(*s->key));
    s->used = calloc(cap, sizeof(*s->used));
    s->mask = cap - 1;
    return s->key && s->used ? 0 : -ENOMEM;
}

/* true when k was new */
static bool keyset_add(struct keyset *s, uint64_t k)
{
    size_t i = sl_mix64(k) & s->mask;
    while (s->used[i]) {
        if (s->key[i] == k)
            return false;
        i = (i + 1) & s->mask;
    }
    s->used[i] = true;
    s->key[i] = k;
    return true;
}

/* Creator -> dense slot with a count, for the picks of one page. */
struct tally {
    uint32_t *slot_creator;
    uint32_t *slot_index;   /* index + 1 into creator/count; 0 = empty */
    size_t mask;
    uint32_t *creator;
    size_t *count;
    size_t n;
};

static int tally_init(struct tally *t, size_t n)
{
    size_t cap = table_size(n);
    t->slot_creator = malloc(cap * sizeof(*t->slot_creator));
    t->slot_index = calloc(cap, sizeof(*t->slot_index));
    t->mask = cap - 1;
    t->creator = malloc((n + 1) * sizeof(*t->creator));
    t->count = malloc((n + 1) * sizeof(*t->count));
    t->n = 0;
    return t->slot_creator && t->slot_index && t->creator && t->count ? 0 : -ENOMEM;
}

static void tally_free(struct tally *t)
{
    free(t->slot_creator);
    free(t->slot_index);
    free(t->creator);
    free(t->count);
}

/* Dense index of creator c, added with count 0 if new (room is pre-sized). */
static size_t tally_at(struct tally *t, uint32_t c)
{
    size_t i = sl_mix64(c) & t->mask;
    while (t->slot_index[i]) {
        if (t->slot_creator[i] == c)
            return t->slot_index[i] - 1;
        i = (i + 1) & t->mask;
    }
    t->slot_creator[i] = c;
    t->slot_index[i] = (uint32_t)(t->n + 1);
    t->creator[t->n] = c;
    t->count[t->n] = 0;
    return t->n++;
}

static size_t tally_get(const struct tally *t, uint32_t c)
{
    size_t i = sl_mix64(c) & t->mask;
    while (t->slot_index[i]) {
        if (t->slot_creator[i] == c)
            return t->count[t->slot_index[i] - 1];
        i = (i + 1) & t->mask;
    }
    return 0;
}

struct chosen {
    enum sl_compose_pool pool;
    uint32_t index;
    uint32_t creator;
    bool head;
    bool placed;
    double key;             /* ideal position in [0, 1) */
};

/* What every choice on one page shares. */
struct page {
    struct tally tl;        /* picks per creator so far */
    size_t cap;             /* ceil(L/2): most picks one creator can have and still alternate */
    size_t cap_prev;        /* floor(L/2): the same for the creator served just before */
    uint32_t prev;
};

/*
 * Take `want` of the ranked candidates c[idx[0..n)], first in rank order
 * within the per-creator caps, then, if short, the best of the rest
 * regardless. Heads are taken at most `head_max` times. Returns the number
 * taken; out[] stays in rank order.
 */
static size_t choose(struct page *pg, const struct sl_compose_cand *c, const uint32_t *idx,
                     size_t n, bool *taken, size_t want, size_t head_max,
                     enum sl_compose_pool pool, struct chosen *out)
{
    size_t got = 0, heads = 0;

    for (int pass = 0; pass < 2 && got < want; pass++)
        for (size_t k = 0; k < n && got < want; k++) {
            const struct sl_compose_cand *x = &c[idx[k]];
            bool head = pool == SL_COMPOSE_PUBLIC && x->head;
            if (taken[k] || (head && heads >= head_max))
                continue;
            size_t most = x->creator == pg->prev ? pg->cap_prev : pg->cap;
            if (pass == 0 && tally_get(&pg->tl, x->creator) >= most)
                continue;
            taken[k] = true;
            pg->tl.count[tally_at(&pg->tl, x->creator)]++;
            heads += head;
            out[got++] = (struct chosen){ .pool = pool, .index = idx[k],
                                          .creator = x->creator, .head = head };
        }
    /* Rank order within the pool, whichever pass took an item. */
    for (size_t i = 1; i < got; i++)
        for (size_t j = i; j > 0 && out[j - 1].index > out[j].index; j--) {
            struct chosen tmp = out[j];
            out[j] = out[j - 1];
            out[j - 1] = tmp;
        }
    return got;
}

/*
 * Can the remaining picks (r of them, counts in tl) be ordered with no two of
 * a creator adjacent and the first not by `prev`, after taking one by y?
 * Arrangeable iff every creator has at most ceil(r/2) and prev at most
 * floor(r/2): a creator with ceil(r/2) of an odd r must come first.
 */
static bool fits_after(const struct tally *tl, size_t r, uint32_t y,
                       size_t top1, uint32_t top1_creator, size_t top2)
{
    size_t left = r - 1;
    size_t cy = tally_get(tl, y) - 1;
    size_t other = top1_creator == y ? top2 : top1;
    size_t most = cy > other ? cy : other;
    return most <= (left + 1) / 2 && cy <= left / 2;
}

int sl_compose_page(const struct sl_compose_cand *priv, size_t npriv,
                    const struct sl_compose_cand *pub, size_t npub,
                    const struct sl_compose_rules *rules, size_t limit,
                    struct sl_compose_pick *out, size_t *nout,
                    struct sl_compose_counts *counts)
{
    if (!rules || !nout || (npriv && !priv) || (npub && !pub) || (limit && !out) ||
        !(rules->min_private >= 0 && rules->min_private <= 1) ||
        !(rules->min_ordinary >= 0 && rules->min_ordinary <= 1) ||
        !(rules->target_private >= 0 && rules->target_private <= 1) ||
        !(rules->recent_private >= 0 && rules->recent_served < INFINITY &&
          rules->recent_private <= rules->recent_served))
        return -EINVAL;

    size_t total = npriv + npub;
    int rc = -ENOMEM;
    struct keyset seen = { 0 };
    struct page pg = { 0 };
    uint32_t *pidx = malloc((npriv + 1) * sizeof(*pidx));
    uint32_t *uidx = malloc((npub + 1) * sizeof(*uidx));
    bool *taken = calloc(total + 1, sizeof(*taken));
    size_t room = limit < total ? limit : total;
    struct chosen *ch = malloc((2 * room + 1) * sizeof(*ch));

    if (!pidx || !uidx || !taken || !ch || keyset_init(&seen, total) < 0 ||
        tally_init(&pg.tl, room) < 0)
        goto done;

    /* 1. Distinct candidates; an item in both lists stays private. */
    size_t np_avail = 0, nu_avail = 0, ord_avail = 0;
    for (size_t i = 0; i < npriv; i++)
        if (keyset_add(&seen, priv[i].item))
            pidx[np_avail++] = (uint32_t)i;
    for (size_t i = 0; i < npub; i++)
        if (keyset_add(&seen, pub[i].item)) {
            uidx[nu_avail++] = (uint32_t)i;
            ord_avail += !pub[i].head;
        }

    /* 2. How many of each: the floors, then whatever the other pool lacks. */
    size_t L = limit < np_avail + nu_avail ? limit : np_avail + nu_avail;
    size_t want_p = floor_count(rules->min_private, L);
    size_t owed = topup_count(rules, L);
    if (want_p < owed)
        want_p = owed;
    if (want_p > np_avail)
        want_p = np_avail;
    if (L - want_p > nu_avail)
        want_p = L - nu_avail;
    size_t want_u = L - want_p;
    size_t want_o = floor_count(rules->min_ordinary, want_u);
    if (want_o > ord_avail) {
        /* Too few ordinary candidates to keep their share of the public
         * part: the slots heads would fill beyond their share go to
         * followed creators first, and to heads only when those run out
         * too (a page is never short while candidates remain). */
        size_t more = want_u - public_fit(rules->min_ordinary, ord_avail, want_u);
        if (more > np_avail - want_p)
            more = np_avail - want_p;
        want_p += more;
        want_u -= more;
        want_o = floor_count(rules->min_ordinary, want_u);
        if (want_o > ord_avail)
            want_o = ord_avail;
    }
    size_t head_max = want_u - want_o;
    pg.cap = (L + 1) / 2;
    pg.cap_prev = L / 2;
    pg.prev = rules->last_creator;

    /* 3. Choose, the pool with less slack first: its picks are more forced. */
    struct chosen *cp, *cu;
    size_t got_p, got_u;
    if (np_avail - want_p <= nu_avail - want_u) {
        cp = ch;
        got_p = choose(&pg, priv, pidx, np_avail, taken, want_p, 0, SL_COMPOSE_PRIVATE, cp);
        cu = ch + got_p;
        got_u = choose(&pg, pub, uidx, nu_avail, taken + npriv, want_u, head_max,
                       SL_COMPOSE_PUBLIC, cu);
    } else {
        cu = ch;
        got_u = choose(&pg, pub, uidx, nu_avail, taken + npriv, want_u, head_max,
                       SL_COMPOSE_PUBLIC, cu);
        cp = ch + got_u;
        got_p = choose(&pg, priv, pidx, np_avail, taken, want_p, 0, SL_COMPOSE_PRIVATE, cp);
    }

    /* 4. Ideal order: each pool spread evenly over the page, rank kept. */
    struct chosen *ideal = ch + L;
    size_t i = 0, j = 0, k = 0;
    for (size_t m = 0; m < got_p; m++)
        cp[m].key = (m + 0.5) / (double)got_p;
    for (size_t m = 0; m < got_u; m++)
        cu[m].key = (m + 0.5) / (double)got_u;
    while (i < got_p || j < got_u)
        if (j >= got_u || (i < got_p && cp[i].key <= cu[j].key))
            ideal[k++] = cp[i++];
        else
            ideal[k++] = cu[j++];

    /* 5. Place: the first in ideal order that keeps the rest arrangeable. */
    uint32_t prev = rules->last_creator;
    struct sl_compose_counts cnt = { 0 };
    for (size_t pos = 0; pos < L; pos++) {
        size_t top1 = 0, top2 = 0;
        uint32_t top1_creator = SL_COMPOSE_NO_CREATOR;
        for (size_t t = 0; t < pg.tl.n; t++) {
            size_t ct = pg.tl.count[t];
            if (ct > top1) {
                top2 = top1;
                top1 = ct;
                top1_creator = pg.tl.creator[t];
            } else if (ct > top2) {
                top2 = ct;
            }
        }
        size_t r = L - pos, pick = L, other = L, any = L;
        for (size_t m = 0; m < L && pick == L; m++) {
            if (ideal[m].placed)
                continue;
            if (any == L)
                any = m;
            if (ideal[m].creator == prev && prev != SL_COMPOSE_NO_CREATOR)
                continue;
            if (other == L)
                other = m;
            if (fits_after(&pg.tl, r, ideal[m].creator, top1, top1_creator, top2))
                pick = m;
        }
        /* Not arrangeable any more: at least avoid this one adjacency. */
        if (pick == L)
            pick = other != L ? other : any;
        struct chosen *c = &ideal[pick];
        c->placed = true;
        pg.tl.count[tally_at(&pg.tl, c->creator)]--;
        prev = c->creator;
        out[pos] = (struct sl_compose_pick){ .pool = c->pool, .index = c->index };
        if (c->pool == SL_COMPOSE_PRIVATE) {
            cnt.private_n++;
        } else {
            cnt.public_n++;
            if (c->head)
                cnt.head_n++;
            else
                cnt.ordinary_n++;
        }
    }
    *nout = L;
    if (counts)
        *counts = cnt;
    rc = 0;
done:
    free(pidx);
    free(uidx);
    free(taken);
    free(ch);
    free(seen.key);
    free(seen.used);
    tally_free(&pg.tl);
    return rc;
}
