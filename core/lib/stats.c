/* SPDX-License-Identifier: MIT */
/* Statistics of feedback: bounds on a rate, the sequential test, Gini. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/stats.h"

/* {====================== Bounds on a rate ============================= */

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

double sl_stats_wilson_lower(uint64_t successes, uint64_t trials, double z)
{
    return wilson(successes, trials, z, -1);
}

double sl_stats_wilson_upper(uint64_t successes, uint64_t trials, double z)
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

/* One step of Lentz's method, for the term of numerator num: the factor
 * the fraction takes. */
static double lentz_step(double num, double *c, double *d)
{
    *d = 1.0 + num * *d;
    *c = 1.0 + num / *c;
    if (fabs(*d) < CF_TINY)
        *d = CF_TINY;
    if (fabs(*c) < CF_TINY)
        *c = CF_TINY;
    *d = 1.0 / *d;
    return *d * *c;
}

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
        f *= lentz_step(m * (b - m) * x / ((a + m2 - 1) * (a + m2)), &c, &d);
        /* Odd step: d(2m+1). */
        double delta = lentz_step(-(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1)), &c, &d);
        f *= delta;
        if (fabs(delta - 1.0) < CF_EPS)
            break;
    }
    return f;
}

double sl_stats_beta_cdf(double x, double a, double b)
{
    if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1) || isinf(a) || isinf(b))
        return NAN;
    if (x == 0)
        return 0;
    if (x == 1)
        return 1;
    if (a + b > SL_STATS_BETA_NORMAL_ABOVE) {
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

double sl_stats_beta_prob_above(uint64_t successes, uint64_t trials,
                               double prior_a, double prior_b, double baseline)
{
    if (successes > trials || !(prior_a > 0) || !(prior_b > 0) ||
        !(baseline >= 0) || !(baseline <= 1))
        return NAN;
    double p = 1.0 - sl_stats_beta_cdf(baseline, prior_a + (double)successes,
                                      prior_b + (double)(trials - successes));
    return p < 0 ? 0 : p > 1 ? 1 : p;
}

/* }===================================================================== */

/* {====================== The wave decision ============================ */

void sl_stats_params_default(struct sl_stats_params *p)
{
    *p = (struct sl_stats_params){
        .method = SL_STATS_BETA,
        .min_trials = 100,
        .continue_above = 0.95,
        .stop_below = 0.05,
        .z = 1.96,
        .prior_strength = 2.0,
    };
}

/* Beta parameters must stay positive even for a baseline of exactly 0 or 1. */
#define PRIOR_FLOOR 1e-3

int sl_stats_decide(const struct sl_stats_sample *stats, double baseline,
                   const struct sl_stats_params *params, struct sl_stats_decision *out)
{
    if (!stats || !params || !out || stats->successes > stats->trials ||
        !(baseline >= 0) || !(baseline <= 1) || !(params->z >= 0) ||
        !(params->stop_below <= params->continue_above) ||
        (params->method != SL_STATS_BETA && params->method != SL_STATS_WILSON))
        return -EINVAL;

    struct sl_stats_decision d = {
        .verdict = SL_STATS_UNDECIDED,
        .prob_above = NAN,
        .lower = sl_stats_wilson_lower(stats->successes, stats->trials, params->z),
        .upper = sl_stats_wilson_upper(stats->successes, stats->trials, params->z),
    };

    if (params->method == SL_STATS_BETA) {
        double a = params->prior_a, b = params->prior_b;
        if (!(a > 0 && b > 0)) {
            if (!(params->prior_strength > 0))
                return -EINVAL;
            a = fmax(params->prior_strength * baseline, PRIOR_FLOOR);
            b = fmax(params->prior_strength * (1 - baseline), PRIOR_FLOOR);
        }
        d.prob_above = sl_stats_beta_prob_above(stats->successes, stats->trials, a, b, baseline);
        if (isnan(d.prob_above))
            return -EINVAL;
        if (stats->trials >= params->min_trials) {
            if (d.prob_above >= params->continue_above)
                d.verdict = SL_STATS_CONTINUE;
            else if (d.prob_above <= params->stop_below)
                d.verdict = SL_STATS_STOP;
        }
    } else if (stats->trials >= params->min_trials && stats->trials > 0) {
        if (d.lower > baseline)
            d.verdict = SL_STATS_CONTINUE;
        else if (d.upper < baseline)
            d.verdict = SL_STATS_STOP;
    }
    *out = d;
    return 0;
}

/* }===================================================================== */

/* {====================== Concentration ================================ */

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

int sl_stats_gini(const double *x, size_t n, double *out)
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

/* }===================================================================== */
