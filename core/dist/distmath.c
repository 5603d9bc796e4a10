/* SPDX-License-Identifier: MIT */
/* Distribution math: confidence bounds, the wave decision, Gini, the mixed-feed composer. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist/distmath.h"

/* ====== Bounds on a rate ====== */

static double wilson(uint64_t s, uint64_t n, double z, int sign)
{
    if (s > n || !(z >= 0))
        return NAN;
    if (n == 0)
        return sign < 0 ? 0.0 : 1.0;
    double nn = (double)n, p = (double)s / nn, z2 = z * z;
    double centre = p + z2 / (2 * nn);
    double margin = z * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
    double v = (centre + sign * margin) / (1 + z2 / nn);
    /* Rounding can push the bound a hair outside [0, 1] at s = 0 or s = n. */
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

double sl_dist_wilson_lower(uint64_t successes, uint64_t trials, double z)
{
    return wilson(successes, trials, z, -1);
}

double sl_dist_wilson_upper(uint64_t successes, uint64_t trials, double z)
{
    return wilson(successes, trials, z, +1);
}

/*
 * The continued fraction for I_x(a, b) / front, where
 * front = x^a (1-x)^b / (a B(a, b)): 1 / (1 + d1 / (1 + d2 / (1 + ...))) with
 * d(2m+1) = -(a+m)(a+b+m) x / ((a+2m)(a+2m+1)) and
 * d(2m)   =  m(b-m) x / ((a+2m-1)(a+2m)).
 * It converges fast for x < (a+1)/(a+b+2); the caller flips otherwise.
 */
#define CF_TINY 1e-300
#define CF_EPS 1e-15
#define CF_MAX_TERMS 20000

static double beta_cf(double x, double a, double b)
{
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1);

    if (fabs(d) < CF_TINY)
        d = CF_TINY;
    d = 1.0 / d;
    double f = d;
    for (int m = 1; m <= CF_MAX_TERMS; m++) {
        double m2 = 2.0 * m;
        /* Even step: d(2m). */
        double num = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
        d = 1.0 + num * d;
        c = 1.0 + num / c;
        if (fabs(d) < CF_TINY)
            d = CF_TINY;
        if (fabs(c) < CF_TINY)
            c = CF_TINY;
        d = 1.0 / d;
        f *= d * c;
        /* Odd step: d(2m+1). */
        num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
        d = 1.0 + num * d;
        c = 1.0 + num / c;
        if (fabs(d) < CF_TINY)
            d = CF_TINY;
        if (fabs(c) < CF_TINY)
            c = CF_TINY;
        d = 1.0 / d;
        double delta = d * c;
        f *= delta;
        if (fabs(delta - 1.0) < CF_EPS)
            break;
    }
    return f;
}

double sl_dist_beta_cdf(double x, double a, double b)
{
    if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1) || isinf(a) || isinf(b))
        return NAN;
    if (x == 0)
        return 0;
    if (x == 1)
        return 1;
    if (a + b > SL_DIST_BETA_NORMAL_ABOVE) {
        double n = a + b, mean = a / n;
        double sd = sqrt(a * b / (n * n * (n + 1)));
        return 0.5 * erfc((mean - x) / (sd * 1.4142135623730951));
    }
    double lfront = a * log(x) + b * log1p(-x) + lgamma(a + b) - lgamma(a) - lgamma(b);
    if (x < (a + 1) / (a + b + 2))
        return exp(lfront) * beta_cf(x, a, b) / a;
    /* I_x(a, b) = 1 - I_{1-x}(b, a); the front factor is symmetric. */
    return 1.0 - exp(lfront) * beta_cf(1 - x, b, a) / b;
}

double sl_dist_beta_prob_above(uint64_t successes, uint64_t trials,
                               double prior_a, double prior_b, double baseline)
{
    if (successes > trials || !(prior_a > 0) || !(prior_b > 0) ||
        !(baseline >= 0) || !(baseline <= 1))
        return NAN;
    double p = 1.0 - sl_dist_beta_cdf(baseline, prior_a + (double)successes,
                                      prior_b + (double)(trials - successes));
    return p < 0 ? 0 : p > 1 ? 1 : p;
}

/* ====== The wave decision ====== */

void sl_dist_params_default(struct sl_dist_params *p)
{
    *p = (struct sl_dist_params){
        .method = SL_DIST_BETA,
        .min_trials = 100,
        .continue_above = 0.95,
        .stop_below = 0.05,
        .z = 1.96,
        .prior_strength = 2.0,
    };
}

/* Beta parameters must stay positive even for a baseline of exactly 0 or 1. */
#define PRIOR_FLOOR 1e-3

int sl_dist_decide(const struct sl_dist_sample *stats, double baseline,
                   const struct sl_dist_params *params, struct sl_dist_decision *out)
{
    if (!stats || !params || !out || stats->successes > stats->trials ||
        !(baseline >= 0) || !(baseline <= 1) || !(params->z >= 0) ||
        !(params->stop_below <= params->continue_above) ||
        (params->method != SL_DIST_BETA && params->method != SL_DIST_WILSON))
        return -EINVAL;

    struct sl_dist_decision d = {
        .verdict = SL_DIST_UNDECIDED,
        .prob_above = NAN,
        .lower = sl_dist_wilson_lower(stats->successes, stats->trials, params->z),
        .upper = sl_dist_wilson_upper(stats->successes, stats->trials, params->z),
    };

    if (params->method == SL_DIST_BETA) {
        double a = params->prior_a, b = params->prior_b;
        if (!(a > 0 && b > 0)) {
            if (!(params->prior_strength > 0))
                return -EINVAL;
            a = fmax(params->prior_strength * baseline, PRIOR_FLOOR);
            b = fmax(params->prior_strength * (1 - baseline), PRIOR_FLOOR);
        }
        d.prob_above = sl_dist_beta_prob_above(stats->successes, stats->trials, a, b, baseline);
        if (isnan(d.prob_above))
            return -EINVAL;
        if (stats->trials >= params->min_trials) {
            if (d.prob_above >= params->continue_above)
                d.verdict = SL_DIST_CONTINUE;
            else if (d.prob_above <= params->stop_below)
                d.verdict = SL_DIST_STOP;
        }
    } else if (stats->trials >= params->min_trials && stats->trials > 0) {
        if (d.lower > baseline)
            d.verdict = SL_DIST_CONTINUE;
        else if (d.upper < baseline)
            d.verdict = SL_DIST_STOP;
    }
    *out = d;
    return 0;
}

/* ====== Concentration ====== */

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

int sl_dist_gini(const double *x, size_t n, double *out)
{
    if (!out || (n > 0 && !x))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!(x[i] >= 0) || isinf(x[i]))
            return -EINVAL;
    if (n < 2) {
        *out = 0;
        return 0;
    }
    double *v = malloc(n * sizeof(*v));
    if (!v)
        return -ENOMEM;
    memcpy(v, x, n * sizeof(*v));
    qsort(v, n, sizeof(*v), cmp_double);

    /* G = sum_i (2i - n - 1) x_(i) / (n sum x), i = 1..n ascending. */
    double num = 0, sum = 0, nn = (double)n;
    for (size_t i = 0; i < n; i++) {
        num += (2.0 * (double)(i + 1) - nn - 1.0) * v[i];
        sum += v[i];
    }
    free(v);
    *out = sum > 0 ? num / (nn * sum) : 0;
    if (*out < 0)       /* rounding on near-equal values */
        *out = 0;
    return 0;
}

/* ====== The mixed feed ====== */

void sl_dist_rules_default(struct sl_dist_rules *r)
{
    *r = (struct sl_dist_rules){
        .min_private = 0.30,
        .min_ordinary = 0.70,
        .last_creator = SL_DIST_NO_CREATOR,
    };
}

/* ceil(share * n), forgiving the rounding of products like 0.7 * 10. */
static size_t floor_count(double share, size_t n)
{
    double v = ceil(share * (double)n - 1e-9);
    return v <= 0 ? 0 : (size_t)v;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
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
    size_t i = mix64(k) & s->mask;
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
    size_t i = mix64(c) & t->mask;
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
    size_t i = mix64(c) & t->mask;
    while (t->slot_index[i]) {
        if (t->slot_creator[i] == c)
            return t->count[t->slot_index[i] - 1];
        i = (i + 1) & t->mask;
    }
    return 0;
}

struct chosen {
    enum sl_dist_pool pool;
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
static size_t choose(struct page *pg, const struct sl_dist_cand *c, const uint32_t *idx,
                     size_t n, bool *taken, size_t want, size_t head_max,
                     enum sl_dist_pool pool, struct chosen *out)
{
    size_t got = 0, heads = 0;

    for (int pass = 0; pass < 2 && got < want; pass++)
        for (size_t k = 0; k < n && got < want; k++) {
            const struct sl_dist_cand *x = &c[idx[k]];
            bool head = pool == SL_DIST_PUBLIC && x->head;
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

int sl_dist_compose(const struct sl_dist_cand *priv, size_t npriv,
                    const struct sl_dist_cand *pub, size_t npub,
                    const struct sl_dist_rules *rules, size_t limit,
                    struct sl_dist_pick *out, size_t *nout,
                    struct sl_dist_counts *counts)
{
    if (!rules || !nout || (npriv && !priv) || (npub && !pub) || (limit && !out) ||
        !(rules->min_private >= 0 && rules->min_private <= 1) ||
        !(rules->min_ordinary >= 0 && rules->min_ordinary <= 1))
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
    if (want_p > np_avail)
        want_p = np_avail;
    if (L - want_p > nu_avail)
        want_p = L - nu_avail;
    size_t want_u = L - want_p;
    size_t want_o = floor_count(rules->min_ordinary, want_u);
    if (want_o > ord_avail)
        want_o = ord_avail;
    size_t head_max = want_u - want_o;
    pg.cap = (L + 1) / 2;
    pg.cap_prev = L / 2;
    pg.prev = rules->last_creator;

    /* 3. Choose, the pool with less slack first: its picks are more forced. */
    struct chosen *cp, *cu;
    size_t got_p, got_u;
    if (np_avail - want_p <= nu_avail - want_u) {
        cp = ch;
        got_p = choose(&pg, priv, pidx, np_avail, taken, want_p, 0, SL_DIST_PRIVATE, cp);
        cu = ch + got_p;
        got_u = choose(&pg, pub, uidx, nu_avail, taken + npriv, want_u, head_max,
                       SL_DIST_PUBLIC, cu);
    } else {
        cu = ch;
        got_u = choose(&pg, pub, uidx, nu_avail, taken + npriv, want_u, head_max,
                       SL_DIST_PUBLIC, cu);
        cp = ch + got_u;
        got_p = choose(&pg, priv, pidx, np_avail, taken, want_p, 0, SL_DIST_PRIVATE, cp);
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
    struct sl_dist_counts cnt = { 0 };
    for (size_t pos = 0; pos < L; pos++) {
        size_t top1 = 0, top2 = 0;
        uint32_t top1_creator = SL_DIST_NO_CREATOR;
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
            if (ideal[m].creator == prev && prev != SL_DIST_NO_CREATOR)
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
        out[pos] = (struct sl_dist_pick){ .pool = c->pool, .index = c->index };
        if (c->pool == SL_DIST_PRIVATE) {
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
