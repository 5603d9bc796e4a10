/* SPDX-License-Identifier: MIT */
/* Statistics of feedback: bounds on a rate, the sequential test, Gini. */
#ifndef SL_STATS_H
#define SL_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Everything here is a pure function of its arguments: no globals, no I/O,
 * safe from any thread. Functions that can fail return 0 or a negative errno
 * and leave their outputs untouched on failure.
 */

/* {====================== Bounds on a rate ============================= */

/*
 * Wilson score interval for `successes` out of `trials` at normal quantile z
 * (1.96 for 95%). 0 trials gives [0, 1]; successes > trials or z < 0 gives NAN.
 */
double sl_stats_wilson_lower(uint64_t successes, uint64_t trials, double z);
double sl_stats_wilson_upper(uint64_t successes, uint64_t trials, double z);

/*
 * The regularized incomplete beta function I_x(a, b), the CDF of Beta(a, b)
 * at x. Evaluated with the continued fraction (DLMF 8.17.22) by the modified
 * Lentz method, on the side of the mean where it converges quickly (about
 * 50 terms at a + b = 1e3, 3,000 at 1e8); when a + b exceeds
 * SL_STATS_BETA_NORMAL_ABOVE, where the fraction would need more terms than
 * it is allowed and the distribution is normal to within 1e-5, by the
 * normal distribution of the same mean and variance instead.
 * NAN for a <= 0, b <= 0, x outside [0, 1] or NAN arguments.
 */
#define SL_STATS_BETA_NORMAL_ABOVE 1e9
double sl_stats_beta_cdf(double x, double a, double b);

/*
 * P(rate > baseline) when the rate has prior Beta(prior_a, prior_b) and
 * `successes` of `trials` were observed: 1 - I_baseline(a + s, b + t - s).
 * NAN on bad arguments (successes > trials, non-positive prior, baseline
 * outside [0, 1]).
 */
double sl_stats_beta_prob_above(uint64_t successes, uint64_t trials,
                               double prior_a, double prior_b, double baseline);

/* }===================================================================== */

/* {====================== The wave decision ============================ */

enum sl_stats_verdict {
    SL_STATS_UNDECIDED = 0,  /* too early or too close to call: keep watching */
    SL_STATS_CONTINUE = 1,   /* confidently better than the baseline */
    SL_STATS_STOP = 2,       /* confidently worse than the baseline */
};

enum sl_stats_method {
    SL_STATS_BETA = 0,       /* Beta-Bernoulli posterior P(rate > baseline) */
    SL_STATS_WILSON = 1,     /* Wilson interval entirely above / below the baseline */
};

struct sl_stats_sample {
    uint64_t trials;        /* e.g. impressions or plays of this item */
    uint64_t successes;     /* e.g. likes or completes among them */
};

struct sl_stats_params {
    enum sl_stats_method method;
    uint64_t min_trials;    /* below this: always UNDECIDED (early noise) */
    double continue_above;  /* BETA: CONTINUE when P(rate > baseline) >= this */
    double stop_below;      /* BETA: STOP when P(rate > baseline) <= this */
    double z;               /* WILSON: normal quantile of the interval */
    double prior_strength;  /* BETA: prior Beta(k*baseline, k*(1-baseline)) ... */
    double prior_a;         /* ... unless prior_a and prior_b are both > 0 */
    double prior_b;
};

struct sl_stats_decision {
    enum sl_stats_verdict verdict;
    double prob_above;      /* BETA: P(rate > baseline); WILSON: NAN */
    double lower, upper;    /* Wilson interval at params->z (both methods) */
};

/* Defaults: BETA, min_trials 100, continue >= 0.95, stop <= 0.05, z 1.96,
 * prior strength 2 (worth two observations, centred on the baseline). */
void sl_stats_params_default(struct sl_stats_params *p);

/*
 * A sequential test of an item's rate against its pool's baseline, meant to
 * be asked after every batch of feedback. Two thresholds with an undecided
 * band between them, plus min_trials, keep early noise from stopping a good
 * item or pushing a bad one; repeated looks still inflate the error rates
 * somewhat, which the wide default band (0.95 / 0.05) absorbs.
 * Returns 0 and fills *out, or -EINVAL (successes > trials, baseline outside
 * [0, 1], stop_below > continue_above, NULL pointers).
 */
int sl_stats_decide(const struct sl_stats_sample *stats, double baseline,
                   const struct sl_stats_params *params, struct sl_stats_decision *out);

/* }===================================================================== */

/* {====================== Concentration ================================ */

/*
 * Gini coefficient of non-negative values: 0 when all are equal, (n-1)/n when
 * one holds everything. n == 0 or an all-zero vector gives 0.
 * Returns 0, -EINVAL (negative or NAN value, NULL), or -ENOMEM (it sorts a copy).
 */
int sl_stats_gini(const double *x, size_t n, double *out);

/* }===================================================================== */

#endif
