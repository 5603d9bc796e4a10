/* SPDX-License-Identifier: MIT */
/* Wilson bounds, the incomplete beta, the sequential test, Gini. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/mix.h"
#include "lib/stats.h"

/* A small seeded generator, so every "random" case is the same on every run. */
static uint64_t rnd(uint64_t *s)
{
    return sl_splitmix64(s);
}

static double unif(uint64_t *s)
{
    return (double)(rnd(s) >> 11) / 9007199254740992.0;
}

static void assert_near(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("got %.12g, want %.12g (+-%g)", got, want, tol);
}


/* ====== Wilson ====== */

static void test_wilson_known_values(void **state)
{
    /* 5 of 10 and 81 of 263 at 95%, from the closed form worked by hand. */
    assert_near(sl_stats_wilson_lower(5, 10, 1.96), 0.2365896, 1e-6);
    assert_near(sl_stats_wilson_upper(5, 10, 1.96), 0.7634104, 1e-6);
    assert_near(sl_stats_wilson_lower(81, 263, 1.96), 0.2552876, 1e-6);
    assert_near(sl_stats_wilson_upper(81, 263, 1.96), 0.3662107, 1e-6);
    /* The edges: no successes has lower 0, all successes upper 1. */
    assert_near(sl_stats_wilson_lower(0, 10, 1.96), 0, 0);
    assert_near(sl_stats_wilson_upper(0, 10, 1.96), 0.2775402, 1e-6);
    assert_near(sl_stats_wilson_upper(10, 10, 1.96), 1, 0);
    assert_near(sl_stats_wilson_lower(10, 10, 1.96), 0.7224598, 1e-6);
    /* Nothing seen: anything is possible. */
    assert_near(sl_stats_wilson_lower(0, 0, 1.96), 0, 0);
    assert_near(sl_stats_wilson_upper(0, 0, 1.96), 1, 0);
    /* z = 0 collapses to the observed rate. */
    assert_near(sl_stats_wilson_lower(3, 12, 0), 0.25, 1e-12);
    assert_true(isnan(sl_stats_wilson_lower(11, 10, 1.96)));
    assert_true(isnan(sl_stats_wilson_upper(1, 10, -1)));
}

static void test_wilson_monotone(void **state)
{
    /* More successes raise the bound; more trials at one rate tighten it. */
    double prev = -1;
    for (uint64_t s = 0; s <= 50; s++) {
        double lo = sl_stats_wilson_lower(s, 50, 1.96);
        assert_true(lo > prev);
        assert_true(lo <= (double)s / 50 + 1e-12);
        prev = lo;
    }
    assert_true(sl_stats_wilson_lower(100, 1000, 1.96) > sl_stats_wilson_lower(10, 100, 1.96));
    assert_true(sl_stats_wilson_upper(100, 1000, 1.96) < sl_stats_wilson_upper(10, 100, 1.96));
}

/* ====== The incomplete beta ====== */

static void test_beta_closed_forms(void **state)
{
    for (double x = 0; x <= 1.0001; x += 0.05) {
        double xx = x > 1 ? 1 : x;
        assert_near(sl_stats_beta_cdf(xx, 1, 1), xx, 1e-12);
        assert_near(sl_stats_beta_cdf(xx, 2, 2), 3 * xx * xx - 2 * xx * xx * xx, 1e-12);
        assert_near(sl_stats_beta_cdf(xx, 5, 1), pow(xx, 5), 1e-12);
        assert_near(sl_stats_beta_cdf(xx, 1, 7), 1 - pow(1 - xx, 7), 1e-12);
        assert_near(sl_stats_beta_cdf(xx, 0.5, 0.5), 2 / M_PI * asin(sqrt(xx)), 1e-10);
    }
    assert_near(sl_stats_beta_cdf(0.5, 1000.5, 1000.5), 0.5, 1e-10);
    assert_near(sl_stats_beta_cdf(0.5, 3e5, 3e5), 0.5, 1e-8);
}

/* Simpson's rule on the density: an independent route to the same numbers. */
static double beta_by_quadrature(double x, double a, double b)
{
    int n = 200000;
    double h = x / n, sum = 0, lb = lgamma(a) + lgamma(b) - lgamma(a + b);
    for (int i = 0; i <= n; i++) {
        double t = i * h;
        double f = t <= 0 || t >= 1 ? 0 : exp((a - 1) * log(t) + (b - 1) * log1p(-t) - lb);
        sum += f * (i == 0 || i == n ? 1 : i % 2 ? 4 : 2);
    }
    return sum * h / 3;
}

static void test_beta_against_quadrature(void **state)
{
    static const double cases[][3] = {
        { 0.2, 3.5, 7.2 }, { 0.35, 3.5, 7.2 }, { 0.6, 3.5, 7.2 },
        { 0.1, 12, 90 }, { 0.15, 12, 90 }, { 0.5, 30, 20 }, { 0.7, 30, 20 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double x = cases[i][0], a = cases[i][1], b = cases[i][2];
        assert_near(sl_stats_beta_cdf(x, a, b), beta_by_quadrature(x, a, b), 1e-7);
    }
}

static void test_beta_symmetry_and_bounds(void **state)
{
    uint64_t s = 7;
    for (int i = 0; i < 500; i++) {
        double a = 0.2 + 300 * unif(&s), b = 0.2 + 300 * unif(&s), x = unif(&s);
        double v = sl_stats_beta_cdf(x, a, b);
        assert_true(v >= 0 && v <= 1);
        assert_near(v, 1 - sl_stats_beta_cdf(1 - x, b, a), 1e-9);
        /* A CDF never decreases. */
        assert_true(sl_stats_beta_cdf(fmin(1, x + 0.01), a, b) >= v - 1e-12);
    }
    /* Where the continued fraction hands over to the normal, they agree. */
    double a = 0.1 * SL_STATS_BETA_NORMAL_ABOVE, b = 0.9 * SL_STATS_BETA_NORMAL_ABOVE;
    double sd = sqrt(a * b) / (a + b) / sqrt(a + b);
    for (int k = -2; k <= 2; k++) {
        double x = 0.1 + k * sd;
        assert_near(sl_stats_beta_cdf(x, a * 0.999, b * 0.999),
                    sl_stats_beta_cdf(x, a * 1.001, b * 1.001), 2e-3);
    }
    assert_true(isnan(sl_stats_beta_cdf(0.5, 0, 1)));
    assert_true(isnan(sl_stats_beta_cdf(0.5, 1, -1)));
    assert_true(isnan(sl_stats_beta_cdf(1.5, 1, 1)));
    assert_true(isnan(sl_stats_beta_cdf(NAN, 1, 1)));
}

static void test_beta_prob_above(void **state)
{
    /* Uniform prior, no data: P(rate > 0.3) = 0.7. */
    assert_near(sl_stats_beta_prob_above(0, 0, 1, 1, 0.3), 0.7, 1e-12);
    /* Beta(1,1) + 3 of 3: Beta(4,1), P(> 0.5) = 1 - 0.5^4. */
    assert_near(sl_stats_beta_prob_above(3, 3, 1, 1, 0.5), 1 - 0.0625, 1e-12);
    /* Strong evidence either way. */
    assert_true(sl_stats_beta_prob_above(300, 1000, 1, 1, 0.1) > 0.999999);
    assert_true(sl_stats_beta_prob_above(20, 1000, 1, 1, 0.1) < 1e-6);
    assert_true(isnan(sl_stats_beta_prob_above(5, 4, 1, 1, 0.1)));
    assert_true(isnan(sl_stats_beta_prob_above(1, 4, 0, 1, 0.1)));
    assert_true(isnan(sl_stats_beta_prob_above(1, 4, 1, 1, 1.1)));
}

/* ====== The decision ====== */

static enum sl_stats_verdict verdict(uint64_t s, uint64_t t, double base, enum sl_stats_method m)
{
    struct sl_stats_params p;
    struct sl_stats_sample st = { .trials = t, .successes = s };
    struct sl_stats_decision d;

    sl_stats_params_default(&p);
    p.method = m;
    assert_int_equal(sl_stats_decide(&st, base, &p, &d), 0);
    assert_true(d.lower <= d.upper);
    return d.verdict;
}

static void test_decide_clear_cases(void **state)
{
    for (int m = SL_STATS_BETA; m <= SL_STATS_WILSON; m++) {
        assert_int_equal(verdict(300, 1000, 0.1, m), SL_STATS_CONTINUE);
        assert_int_equal(verdict(10, 1000, 0.1, m), SL_STATS_STOP);
        assert_int_equal(verdict(105, 1000, 0.1, m), SL_STATS_UNDECIDED);
        /* Too early to tell, however extreme it looks. */
        assert_int_equal(verdict(20, 20, 0.1, m), SL_STATS_UNDECIDED);
        assert_int_equal(verdict(0, 99, 0.1, m), SL_STATS_UNDECIDED);
        assert_int_equal(verdict(0, 0, 0.1, m), SL_STATS_UNDECIDED);
    }
}

static void test_decide_reports_probability(void **state)
{
    struct sl_stats_params p;
    struct sl_stats_sample st = { .trials = 200, .successes = 30 };
    struct sl_stats_decision d;

    sl_stats_params_default(&p);
    p.prior_a = 1;
    p.prior_b = 1;
    assert_int_equal(sl_stats_decide(&st, 0.1, &p, &d), 0);
    assert_near(d.prob_above, sl_stats_beta_prob_above(30, 200, 1, 1, 0.1), 1e-12);
    assert_near(d.lower, sl_stats_wilson_lower(30, 200, 1.96), 1e-12);
    /* Baselines of exactly 0 and 1 still give a proper prior. */
    assert_int_equal(sl_stats_decide(&st, 0, &(struct sl_stats_params){
        .method = SL_STATS_BETA, .min_trials = 1, .continue_above = 0.95,
        .stop_below = 0.05, .z = 1.96, .prior_strength = 2 }, &d), 0);
    assert_int_equal(d.verdict, SL_STATS_CONTINUE);
    sl_stats_params_default(&p);
    assert_int_equal(sl_stats_decide(&st, 1, &p, &d), 0);
    assert_int_equal(d.verdict, SL_STATS_STOP);
}

static void test_decide_refuses_bad_input(void **state)
{
    struct sl_stats_params p;
    struct sl_stats_sample st = { .trials = 10, .successes = 11 };
    struct sl_stats_decision d = { .verdict = SL_STATS_CONTINUE };

    sl_stats_params_default(&p);
    assert_int_equal(sl_stats_decide(&st, 0.1, &p, &d), -EINVAL);
    assert_int_equal(d.verdict, SL_STATS_CONTINUE);        /* untouched */
    st.successes = 1;
    assert_int_equal(sl_stats_decide(&st, 1.5, &p, &d), -EINVAL);
    assert_int_equal(sl_stats_decide(&st, NAN, &p, &d), -EINVAL);
    p.stop_below = 0.9;
    p.continue_above = 0.1;
    assert_int_equal(sl_stats_decide(&st, 0.1, &p, &d), -EINVAL);
    sl_stats_params_default(&p);
    p.prior_strength = 0;
    assert_int_equal(sl_stats_decide(&st, 0.1, &p, &d), -EINVAL);
    p.method = (enum sl_stats_method)7;
    assert_int_equal(sl_stats_decide(&st, 0.1, &p, &d), -EINVAL);
    assert_int_equal(sl_stats_decide(NULL, 0.1, &p, &d), -EINVAL);
}

/*
 * The sequential test over simulated items, looking after every 100
 * impressions up to 1,000: items no better than the pool are seldom pushed,
 * good ones are almost always continued and bad ones stopped.
 */
static void simulate(double rate, double base, int items, int *cont, int *stop)
{
    struct sl_stats_params p;
    uint64_t s = 42;

    sl_stats_params_default(&p);
    *cont = *stop = 0;
    for (int i = 0; i < items; i++) {
        struct sl_stats_sample st = { 0 };
        for (int look = 1; look <= 10; look++) {
            struct sl_stats_decision d;
            for (int k = 0; k < 100; k++) {
                st.trials++;
                st.successes += unif(&s) < rate;
            }
            assert_int_equal(sl_stats_decide(&st, base, &p, &d), 0);
            if (d.verdict == SL_STATS_CONTINUE) {
                (*cont)++;
                break;
            }
            if (d.verdict == SL_STATS_STOP) {
                (*stop)++;
                break;
            }
        }
    }
}

static void test_decide_sequential_behaviour(void **state)
{
    int cont, stop;

    simulate(0.10, 0.10, 400, &cont, &stop);
    assert_true(cont <= 400 * 0.20);
    assert_true(stop <= 400 * 0.20);
    /* 30% better than the pool: seldom stopped. */
    simulate(0.13, 0.10, 400, &cont, &stop);
    assert_true(cont >= 400 * 0.90);
    assert_true(stop <= 400 * 0.02);
    simulate(0.18, 0.10, 400, &cont, &stop);
    assert_true(cont >= 400 * 0.95);
    assert_int_equal(stop, 0);
    simulate(0.04, 0.10, 400, &cont, &stop);
    assert_true(stop >= 400 * 0.95);
    assert_int_equal(cont, 0);
}

/* ====== Gini ====== */

static void test_gini_known_values(void **state)
{
    double g, x[10];

    for (int n = 1; n <= 10; n++) {
        for (int i = 0; i < n; i++)
            x[i] = 7;
        assert_int_equal(sl_stats_gini(x, (size_t)n, &g), 0);
        assert_near(g, 0, 1e-12);
        /* One has everything: (n - 1) / n, wherever it sits. */
        for (int i = 0; i < n; i++)
            x[i] = i == n / 2 ? 42 : 0;
        assert_int_equal(sl_stats_gini(x, (size_t)n, &g), 0);
        assert_near(g, (n - 1.0) / n, 1e-12);
    }
    double ramp[] = { 5, 1, 4, 2, 3 };
    assert_int_equal(sl_stats_gini(ramp, 5, &g), 0);
    assert_near(g, 4.0 / 15, 1e-12);
    /* Scale does not matter. */
    for (int i = 0; i < 5; i++)
        ramp[i] *= 1000;
    assert_int_equal(sl_stats_gini(ramp, 5, &g), 0);
    assert_near(g, 4.0 / 15, 1e-12);
    double zeros[] = { 0, 0, 0 };
    assert_int_equal(sl_stats_gini(zeros, 3, &g), 0);
    assert_near(g, 0, 0);
    assert_int_equal(sl_stats_gini(NULL, 0, &g), 0);
    assert_near(g, 0, 0);
    double bad[] = { 1, -1 };
    g = 0.5;
    assert_int_equal(sl_stats_gini(bad, 2, &g), -EINVAL);
    assert_near(g, 0.5, 0);
    bad[1] = NAN;
    assert_int_equal(sl_stats_gini(bad, 2, &g), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wilson_known_values),
        cmocka_unit_test(test_wilson_monotone),
        cmocka_unit_test(test_beta_closed_forms),
        cmocka_unit_test(test_beta_against_quadrature),
        cmocka_unit_test(test_beta_symmetry_and_bounds),
        cmocka_unit_test(test_beta_prob_above),
        cmocka_unit_test(test_decide_clear_cases),
        cmocka_unit_test(test_decide_reports_probability),
        cmocka_unit_test(test_decide_refuses_bad_input),
        cmocka_unit_test(test_decide_sequential_behaviour),
        cmocka_unit_test(test_gini_known_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
