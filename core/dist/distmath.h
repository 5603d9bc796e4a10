/* SPDX-License-Identifier: MIT */
/* Distribution math: confidence bounds, the wave decision, Gini, the mixed-feed composer. */
#ifndef SL_DISTMATH_H
#define SL_DISTMATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Everything here is a pure function of its arguments: no globals, no I/O,
 * safe from any thread. Functions that can fail return 0 or a negative errno
 * and leave their outputs untouched on failure.
 */

/* ====== Bounds on a rate ====== */

/*
 * Wilson score interval for `successes` out of `trials` at normal quantile z
 * (1.96 for 95%). 0 trials gives [0, 1]; successes > trials or z < 0 gives NAN.
 */
double sl_dist_wilson_lower(uint64_t successes, uint64_t trials, double z);
double sl_dist_wilson_upper(uint64_t successes, uint64_t trials, double z);

/*
 * The regularized incomplete beta function I_x(a, b), the CDF of Beta(a, b)
 * at x. Evaluated with the continued fraction (DLMF 8.17.22) by the modified
 * Lentz method, on the side of the mean where it converges quickly (about
 * 50 terms at a + b = 1e3, 3,000 at 1e8); when a + b exceeds
 * SL_DIST_BETA_NORMAL_ABOVE, where the fraction would need more terms than
 * it is allowed and the distribution is normal to within 1e-5, by the
 * normal distribution of the same mean and variance instead.
 * NAN for a <= 0, b <= 0, x outside [0, 1] or NAN arguments.
 */
#define SL_DIST_BETA_NORMAL_ABOVE 1e9
double sl_dist_beta_cdf(double x, double a, double b);

/*
 * P(rate > baseline) when the rate has prior Beta(prior_a, prior_b) and
 * `successes` of `trials` were observed: 1 - I_baseline(a + s, b + t - s).
 * NAN on bad arguments (successes > trials, non-positive prior, baseline
 * outside [0, 1]).
 */
double sl_dist_beta_prob_above(uint64_t successes, uint64_t trials,
                               double prior_a, double prior_b, double baseline);

/* ====== The wave decision ====== */

enum sl_dist_verdict {
    SL_DIST_UNDECIDED = 0,  /* too early or too close to call: keep watching */
    SL_DIST_CONTINUE = 1,   /* confidently better than the baseline */
    SL_DIST_STOP = 2,       /* confidently worse than the baseline */
};

enum sl_dist_method {
    SL_DIST_BETA = 0,       /* Beta-Bernoulli posterior P(rate > baseline) */
    SL_DIST_WILSON = 1,     /* Wilson interval entirely above / below the baseline */
};

struct sl_dist_sample {
    uint64_t trials;        /* e.g. impressions or plays of this item */
    uint64_t successes;     /* e.g. likes or completes among them */
};

struct sl_dist_params {
    enum sl_dist_method method;
    uint64_t min_trials;    /* below this: always UNDECIDED (early noise) */
    double continue_above;  /* BETA: CONTINUE when P(rate > baseline) >= this */
    double stop_below;      /* BETA: STOP when P(rate > baseline) <= this */
    double z;               /* WILSON: normal quantile of the interval */
    double prior_strength;  /* BETA: prior Beta(k*baseline, k*(1-baseline)) ... */
    double prior_a;         /* ... unless prior_a and prior_b are both > 0 */
    double prior_b;
};

struct sl_dist_decision {
    enum sl_dist_verdict verdict;
    double prob_above;      /* BETA: P(rate > baseline); WILSON: NAN */
    double lower, upper;    /* Wilson interval at params->z (both methods) */
};

/* Defaults: BETA, min_trials 100, continue >= 0.95, stop <= 0.05, z 1.96,
 * prior strength 2 (worth two observations, centred on the baseline). */
void sl_dist_params_default(struct sl_dist_params *p);

/*
 * A sequential test of an item's rate against its pool's baseline, meant to
 * be asked after every batch of feedback. Two thresholds with an undecided
 * band between them, plus min_trials, keep early noise from stopping a good
 * item or pushing a bad one; repeated looks still inflate the error rates
 * somewhat, which the wide default band (0.95 / 0.05) absorbs.
 * Returns 0 and fills *out, or -EINVAL (successes > trials, baseline outside
 * [0, 1], stop_below > continue_above, NULL pointers).
 */
int sl_dist_decide(const struct sl_dist_sample *stats, double baseline,
                   const struct sl_dist_params *params, struct sl_dist_decision *out);

/* ====== Concentration ====== */

/*
 * Gini coefficient of non-negative values: 0 when all are equal, (n-1)/n when
 * one holds everything. n == 0 or an all-zero vector gives 0.
 * Returns 0, -EINVAL (negative or NAN value, NULL), or -ENOMEM (it sorts a copy).
 */
int sl_dist_gini(const double *x, size_t n, double *out);

/* ====== The mixed feed ====== */

#define SL_DIST_NO_CREATOR UINT32_MAX

struct sl_dist_cand {
    uint64_t item;          /* any key that identifies the item */
    uint32_t creator;       /* any key that identifies its creator */
    bool head;              /* public list only: creator is in the head */
};

enum sl_dist_pool {
    SL_DIST_PRIVATE = 0,    /* from a creator the user follows */
    SL_DIST_PUBLIC = 1,
};

struct sl_dist_pick {
    enum sl_dist_pool pool;
    uint32_t index;         /* into the candidate array of that pool */
};

struct sl_dist_rules {
    double min_private;     /* share of the output from the private list */
    double min_ordinary;    /* share of the public part from non-head creators */
    uint32_t last_creator;  /* creator of the item served just before, or SL_DIST_NO_CREATOR */
};

struct sl_dist_counts {
    size_t private_n;       /* picks from the private list */
    size_t public_n;        /* picks from the public list ... */
    size_t ordinary_n;      /* ... of which by non-head creators */
    size_t head_n;          /* ... and by head creators */
};

/* min_private 0.30, min_ordinary 0.70, no last creator. */
void sl_dist_rules_default(struct sl_dist_rules *r);

/*
 * Compose one page of the mixed feed from two ranked candidate lists (best
 * first). The output has L = min(limit, distinct candidates) picks and keeps,
 * in this order of precedence:
 *  1. no item twice (an item in both lists counts as private);
 *  2. private picks >= min(distinct private, ceil(min_private * L));
 *  3. ordinary picks >= min(distinct ordinary public, ceil(min_ordinary * public picks));
 *  4. no two picks of one creator adjacent (nor the first after last_creator)
 *     whenever the chosen picks can be so ordered: the order is found
 *     whenever it exists, and the choice avoids piling up one creator
 *     (at most ceil(L/2) each) when other candidates allow;
 *  5. otherwise rank order, with private picks spread evenly through the page.
 * Beyond the floors each pool is taken in rank order; heads fill at most the
 * public slots the ordinary floor leaves. Cost O(limit^2 + candidates).
 * `out` has room for `limit` picks (caller-owned); counts may be NULL.
 * Returns 0, -EINVAL (share outside [0, 1], NULL list with a non-zero
 * length), or -ENOMEM.
 */
int sl_dist_compose(const struct sl_dist_cand *priv, size_t npriv,
                    const struct sl_dist_cand *pub, size_t npub,
                    const struct sl_dist_rules *rules, size_t limit,
                    struct sl_dist_pick *out, size_t *nout,
                    struct sl_dist_counts *counts);

#endif
