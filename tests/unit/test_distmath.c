/* SPDX-License-Identifier: MIT */
/* Wilson bounds, the incomplete beta, the wave decision, Gini and the mixed-feed composer. */
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

#include "dist/distmath.h"

/* A small seeded generator, so every "random" case is the same on every run. */
static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
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
    assert_near(sl_dist_wilson_lower(5, 10, 1.96), 0.2365896, 1e-6);
    assert_near(sl_dist_wilson_upper(5, 10, 1.96), 0.7634104, 1e-6);
    assert_near(sl_dist_wilson_lower(81, 263, 1.96), 0.2552876, 1e-6);
    assert_near(sl_dist_wilson_upper(81, 263, 1.96), 0.3662107, 1e-6);
    /* The edges: no successes has lower 0, all successes upper 1. */
    assert_near(sl_dist_wilson_lower(0, 10, 1.96), 0, 0);
    assert_near(sl_dist_wilson_upper(0, 10, 1.96), 0.2775402, 1e-6);
    assert_near(sl_dist_wilson_upper(10, 10, 1.96), 1, 0);
    assert_near(sl_dist_wilson_lower(10, 10, 1.96), 0.7224598, 1e-6);
    /* Nothing seen: anything is possible. */
    assert_near(sl_dist_wilson_lower(0, 0, 1.96), 0, 0);
    assert_near(sl_dist_wilson_upper(0, 0, 1.96), 1, 0);
    /* z = 0 collapses to the observed rate. */
    assert_near(sl_dist_wilson_lower(3, 12, 0), 0.25, 1e-12);
    assert_true(isnan(sl_dist_wilson_lower(11, 10, 1.96)));
    assert_true(isnan(sl_dist_wilson_upper(1, 10, -1)));
}

static void test_wilson_monotone(void **state)
{
    /* More successes raise the bound; more trials at one rate tighten it. */
    double prev = -1;
    for (uint64_t s = 0; s <= 50; s++) {
        double lo = sl_dist_wilson_lower(s, 50, 1.96);
        assert_true(lo > prev);
        assert_true(lo <= (double)s / 50 + 1e-12);
        prev = lo;
    }
    assert_true(sl_dist_wilson_lower(100, 1000, 1.96) > sl_dist_wilson_lower(10, 100, 1.96));
    assert_true(sl_dist_wilson_upper(100, 1000, 1.96) < sl_dist_wilson_upper(10, 100, 1.96));
}

/* ====== The incomplete beta ====== */

static void test_beta_closed_forms(void **state)
{
    for (double x = 0; x <= 1.0001; x += 0.05) {
        double xx = x > 1 ? 1 : x;
        assert_near(sl_dist_beta_cdf(xx, 1, 1), xx, 1e-12);
        assert_near(sl_dist_beta_cdf(xx, 2, 2), 3 * xx * xx - 2 * xx * xx * xx, 1e-12);
        assert_near(sl_dist_beta_cdf(xx, 5, 1), pow(xx, 5), 1e-12);
        assert_near(sl_dist_beta_cdf(xx, 1, 7), 1 - pow(1 - xx, 7), 1e-12);
        assert_near(sl_dist_beta_cdf(xx, 0.5, 0.5), 2 / M_PI * asin(sqrt(xx)), 1e-10);
    }
    assert_near(sl_dist_beta_cdf(0.5, 1000.5, 1000.5), 0.5, 1e-10);
    assert_near(sl_dist_beta_cdf(0.5, 3e5, 3e5), 0.5, 1e-8);
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
        assert_near(sl_dist_beta_cdf(x, a, b), beta_by_quadrature(x, a, b), 1e-7);
    }
}

static void test_beta_symmetry_and_bounds(void **state)
{
    uint64_t s = 7;
    for (int i = 0; i < 500; i++) {
        double a = 0.2 + 300 * unif(&s), b = 0.2 + 300 * unif(&s), x = unif(&s);
        double v = sl_dist_beta_cdf(x, a, b);
        assert_true(v >= 0 && v <= 1);
        assert_near(v, 1 - sl_dist_beta_cdf(1 - x, b, a), 1e-9);
        /* A CDF never decreases. */
        assert_true(sl_dist_beta_cdf(fmin(1, x + 0.01), a, b) >= v - 1e-12);
    }
    /* Where the continued fraction hands over to the normal, they agree. */
    double a = 0.1 * SL_DIST_BETA_NORMAL_ABOVE, b = 0.9 * SL_DIST_BETA_NORMAL_ABOVE;
    double sd = sqrt(a * b) / (a + b) / sqrt(a + b);
    for (int k = -2; k <= 2; k++) {
        double x = 0.1 + k * sd;
        assert_near(sl_dist_beta_cdf(x, a * 0.999, b * 0.999),
                    sl_dist_beta_cdf(x, a * 1.001, b * 1.001), 2e-3);
    }
    assert_true(isnan(sl_dist_beta_cdf(0.5, 0, 1)));
    assert_true(isnan(sl_dist_beta_cdf(0.5, 1, -1)));
    assert_true(isnan(sl_dist_beta_cdf(1.5, 1, 1)));
    assert_true(isnan(sl_dist_beta_cdf(NAN, 1, 1)));
}

static void test_beta_prob_above(void **state)
{
    /* Uniform prior, no data: P(rate > 0.3) = 0.7. */
    assert_near(sl_dist_beta_prob_above(0, 0, 1, 1, 0.3), 0.7, 1e-12);
    /* Beta(1,1) + 3 of 3: Beta(4,1), P(> 0.5) = 1 - 0.5^4. */
    assert_near(sl_dist_beta_prob_above(3, 3, 1, 1, 0.5), 1 - 0.0625, 1e-12);
    /* Strong evidence either way. */
    assert_true(sl_dist_beta_prob_above(300, 1000, 1, 1, 0.1) > 0.999999);
    assert_true(sl_dist_beta_prob_above(20, 1000, 1, 1, 0.1) < 1e-6);
    assert_true(isnan(sl_dist_beta_prob_above(5, 4, 1, 1, 0.1)));
    assert_true(isnan(sl_dist_beta_prob_above(1, 4, 0, 1, 0.1)));
    assert_true(isnan(sl_dist_beta_prob_above(1, 4, 1, 1, 1.1)));
}

/* ====== The decision ====== */

static enum sl_dist_verdict verdict(uint64_t s, uint64_t t, double base, enum sl_dist_method m)
{
    struct sl_dist_params p;
    struct sl_dist_sample st = { .trials = t, .successes = s };
    struct sl_dist_decision d;

    sl_dist_params_default(&p);
    p.method = m;
    assert_int_equal(sl_dist_decide(&st, base, &p, &d), 0);
    assert_true(d.lower <= d.upper);
    return d.verdict;
}

static void test_decide_clear_cases(void **state)
{
    for (int m = SL_DIST_BETA; m <= SL_DIST_WILSON; m++) {
        assert_int_equal(verdict(300, 1000, 0.1, m), SL_DIST_CONTINUE);
        assert_int_equal(verdict(10, 1000, 0.1, m), SL_DIST_STOP);
        assert_int_equal(verdict(105, 1000, 0.1, m), SL_DIST_UNDECIDED);
        /* Too early to tell, however extreme it looks. */
        assert_int_equal(verdict(20, 20, 0.1, m), SL_DIST_UNDECIDED);
        assert_int_equal(verdict(0, 99, 0.1, m), SL_DIST_UNDECIDED);
        assert_int_equal(verdict(0, 0, 0.1, m), SL_DIST_UNDECIDED);
    }
}

static void test_decide_reports_probability(void **state)
{
    struct sl_dist_params p;
    struct sl_dist_sample st = { .trials = 200, .successes = 30 };
    struct sl_dist_decision d;

    sl_dist_params_default(&p);
    p.prior_a = 1;
    p.prior_b = 1;
    assert_int_equal(sl_dist_decide(&st, 0.1, &p, &d), 0);
    assert_near(d.prob_above, sl_dist_beta_prob_above(30, 200, 1, 1, 0.1), 1e-12);
    assert_near(d.lower, sl_dist_wilson_lower(30, 200, 1.96), 1e-12);
    /* Baselines of exactly 0 and 1 still give a proper prior. */
    assert_int_equal(sl_dist_decide(&st, 0, &(struct sl_dist_params){
        .method = SL_DIST_BETA, .min_trials = 1, .continue_above = 0.95,
        .stop_below = 0.05, .z = 1.96, .prior_strength = 2 }, &d), 0);
    assert_int_equal(d.verdict, SL_DIST_CONTINUE);
    sl_dist_params_default(&p);
    assert_int_equal(sl_dist_decide(&st, 1, &p, &d), 0);
    assert_int_equal(d.verdict, SL_DIST_STOP);
}

static void test_decide_refuses_bad_input(void **state)
{
    struct sl_dist_params p;
    struct sl_dist_sample st = { .trials = 10, .successes = 11 };
    struct sl_dist_decision d = { .verdict = SL_DIST_CONTINUE };

    sl_dist_params_default(&p);
    assert_int_equal(sl_dist_decide(&st, 0.1, &p, &d), -EINVAL);
    assert_int_equal(d.verdict, SL_DIST_CONTINUE);        /* untouched */
    st.successes = 1;
    assert_int_equal(sl_dist_decide(&st, 1.5, &p, &d), -EINVAL);
    assert_int_equal(sl_dist_decide(&st, NAN, &p, &d), -EINVAL);
    p.stop_below = 0.9;
    p.continue_above = 0.1;
    assert_int_equal(sl_dist_decide(&st, 0.1, &p, &d), -EINVAL);
    sl_dist_params_default(&p);
    p.prior_strength = 0;
    assert_int_equal(sl_dist_decide(&st, 0.1, &p, &d), -EINVAL);
    p.method = (enum sl_dist_method)7;
    assert_int_equal(sl_dist_decide(&st, 0.1, &p, &d), -EINVAL);
    assert_int_equal(sl_dist_decide(NULL, 0.1, &p, &d), -EINVAL);
}

/*
 * The sequential test over simulated items, looking after every 100
 * impressions up to 1,000: items no better than the pool are seldom pushed,
 * good ones are almost always continued and bad ones stopped.
 */
static void simulate(double rate, double base, int items, int *cont, int *stop)
{
    struct sl_dist_params p;
    uint64_t s = 42;

    sl_dist_params_default(&p);
    *cont = *stop = 0;
    for (int i = 0; i < items; i++) {
        struct sl_dist_sample st = { 0 };
        for (int look = 1; look <= 10; look++) {
            struct sl_dist_decision d;
            for (int k = 0; k < 100; k++) {
                st.trials++;
                st.successes += unif(&s) < rate;
            }
            assert_int_equal(sl_dist_decide(&st, base, &p, &d), 0);
            if (d.verdict == SL_DIST_CONTINUE) {
                (*cont)++;
                break;
            }
            if (d.verdict == SL_DIST_STOP) {
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
        assert_int_equal(sl_dist_gini(x, (size_t)n, &g), 0);
        assert_near(g, 0, 1e-12);
        /* One has everything: (n - 1) / n, wherever it sits. */
        for (int i = 0; i < n; i++)
            x[i] = i == n / 2 ? 42 : 0;
        assert_int_equal(sl_dist_gini(x, (size_t)n, &g), 0);
        assert_near(g, (n - 1.0) / n, 1e-12);
    }
    double ramp[] = { 5, 1, 4, 2, 3 };
    assert_int_equal(sl_dist_gini(ramp, 5, &g), 0);
    assert_near(g, 4.0 / 15, 1e-12);
    /* Scale does not matter. */
    for (int i = 0; i < 5; i++)
        ramp[i] *= 1000;
    assert_int_equal(sl_dist_gini(ramp, 5, &g), 0);
    assert_near(g, 4.0 / 15, 1e-12);
    double zeros[] = { 0, 0, 0 };
    assert_int_equal(sl_dist_gini(zeros, 3, &g), 0);
    assert_near(g, 0, 0);
    assert_int_equal(sl_dist_gini(NULL, 0, &g), 0);
    assert_near(g, 0, 0);
    double bad[] = { 1, -1 };
    g = 0.5;
    assert_int_equal(sl_dist_gini(bad, 2, &g), -EINVAL);
    assert_near(g, 0.5, 0);
    bad[1] = NAN;
    assert_int_equal(sl_dist_gini(bad, 2, &g), -EINVAL);
}

/* ====== The composer ====== */

#define MAXC 64

struct feed_case {
    struct sl_dist_cand priv[MAXC], pub[MAXC];
    size_t npriv, npub, limit;
    struct sl_dist_rules rules;
};

static size_t ceil_share(double share, size_t n)
{
    double v = ceil(share * (double)n - 1e-9);
    return v <= 0 ? 0 : (size_t)v;
}

static const struct sl_dist_cand *pick_cand(const struct feed_case *fc, struct sl_dist_pick p)
{
    return p.pool == SL_DIST_PRIVATE ? &fc->priv[p.index] : &fc->pub[p.index];
}

static bool any_adjacent(const struct feed_case *fc, const struct sl_dist_pick *out, size_t n)
{
    uint32_t prev = fc->rules.last_creator;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = pick_cand(fc, out[i])->creator;
        if (c == prev)
            return true;
        prev = c;
    }
    return false;
}

/* Could these picks be ordered with no creator twice in a row (nor first = last_creator)? */
static bool arrangeable(const struct feed_case *fc, const struct sl_dist_pick *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t c = pick_cand(fc, out[i])->creator;
        size_t cnt = 0;
        for (size_t j = 0; j < n; j++)
            cnt += pick_cand(fc, out[j])->creator == c;
        if (cnt > (n + 1) / 2 || (c == fc->rules.last_creator && cnt > n / 2))
            return false;
    }
    return true;
}

static bool in_list(uint64_t item, const struct sl_dist_cand *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (c[i].item == item)
            return true;
    return false;
}

/* Every rule of sl_dist_compose() on one input; returns the picks made. */
static size_t check_compose(const struct feed_case *fc, struct sl_dist_pick *out)
{
    struct sl_dist_counts cnt;
    size_t n = 12345;

    assert_int_equal(sl_dist_compose(fc->priv, fc->npriv, fc->pub, fc->npub, &fc->rules,
                                      fc->limit, out, &n, &cnt), 0);

    /* Distinct candidates, as the header defines them. */
    size_t dp = 0, du = 0, dord = 0;
    for (size_t i = 0; i < fc->npriv; i++)
        dp += !in_list(fc->priv[i].item, fc->priv, i);
    for (size_t i = 0; i < fc->npub; i++)
        if (!in_list(fc->pub[i].item, fc->pub, i) &&
            !in_list(fc->pub[i].item, fc->priv, fc->npriv)) {
            du++;
            dord += !fc->pub[i].head;
        }
    size_t want = fc->limit < dp + du ? fc->limit : dp + du;
    assert_int_equal(n, want);

    size_t np = 0, nu = 0, nord = 0, nhead = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(out[i].index < (out[i].pool == SL_DIST_PRIVATE ? fc->npriv : fc->npub));
        const struct sl_dist_cand *c = pick_cand(fc, out[i]);
        /* No item twice. */
        for (size_t j = 0; j < i; j++)
            assert_true(pick_cand(fc, out[j])->item != c->item);
        if (out[i].pool == SL_DIST_PRIVATE) {
            np++;
        } else {
            /* An item in both lists is served as private. */
            assert_false(in_list(c->item, fc->priv, fc->npriv));
            nu++;
            if (c->head)
                nhead++;
            else
                nord++;
        }
    }
    assert_int_equal(cnt.private_n, np);
    assert_int_equal(cnt.public_n, nu);
    assert_int_equal(cnt.ordinary_n, nord);
    assert_int_equal(cnt.head_n, nhead);

    /* The private floor when private candidates exist. */
    size_t pf = ceil_share(fc->rules.min_private, n);
    assert_true(np >= (pf < dp ? pf : dp));
    /* The ordinary floor of the public part when ordinary candidates exist. */
    size_t of = ceil_share(fc->rules.min_ordinary, nu);
    assert_true(nord >= (of < dord ? of : dord));

    /* No creator twice in a row whenever these picks allow it. */
    if (arrangeable(fc, out, n))
        assert_false(any_adjacent(fc, out, n));
    return n;
}

static struct sl_dist_cand cand(uint64_t item, uint32_t creator, bool head)
{
    return (struct sl_dist_cand){ .item = item, .creator = creator, .head = head };
}

static void test_compose_default_shares(void **state)
{
    struct feed_case fc = { .npriv = 10, .npub = 30, .limit = 10 };
    struct sl_dist_pick out[MAXC];
    struct sl_dist_counts cnt;
    size_t n;

    sl_dist_rules_default(&fc.rules);
    for (uint32_t i = 0; i < 10; i++)
        fc.priv[i] = cand(1000 + i, 100 + i, false);
    /* Heads rank first in the public list, as they would by popularity. */
    for (uint32_t i = 0; i < 30; i++)
        fc.pub[i] = cand(2000 + i, 200 + i, i < 15);
    assert_int_equal(check_compose(&fc, out), 10);
    assert_int_equal(sl_dist_compose(fc.priv, 10, fc.pub, 30, &fc.rules, 10, out, &n, &cnt), 0);
    assert_int_equal(cnt.private_n, 3);
    assert_int_equal(cnt.public_n, 7);
    assert_int_equal(cnt.ordinary_n, 5);           /* ceil(0.7 * 7) */
    assert_int_equal(cnt.head_n, 2);
    /* Private picks are the best three, spread out rather than bunched. */
    size_t first = n, last = 0;
    for (size_t i = 0; i < n; i++)
        if (out[i].pool == SL_DIST_PRIVATE) {
            assert_true(out[i].index < 3);
            first = i < first ? i : first;
            last = i;
        }
    assert_true(first <= 2 && last >= 7);
    /* The heads taken are the best-ranked ones. */
    for (size_t i = 0; i < n; i++)
        if (out[i].pool == SL_DIST_PUBLIC && fc.pub[out[i].index].head)
            assert_true(out[i].index < 2);
}

static void test_compose_one_pool_only(void **state)
{
    struct feed_case fc = { .npub = 5, .limit = 10 };
    struct sl_dist_pick out[MAXC];

    sl_dist_rules_default(&fc.rules);
    for (uint32_t i = 0; i < 5; i++)
        fc.pub[i] = cand(i, i, i % 2);
    assert_int_equal(check_compose(&fc, out), 5);   /* fewer than limit: all of them */

    fc = (struct feed_case){ .npriv = 4, .limit = 3 };
    sl_dist_rules_default(&fc.rules);
    for (uint32_t i = 0; i < 4; i++)
        fc.priv[i] = cand(i, i, false);
    assert_int_equal(check_compose(&fc, out), 3);

    fc = (struct feed_case){ .limit = 3 };
    sl_dist_rules_default(&fc.rules);
    assert_int_equal(check_compose(&fc, out), 0);
    fc.npub = 2;
    fc.pub[0] = cand(1, 1, true);
    fc.pub[1] = cand(2, 2, true);
    fc.limit = 0;
    assert_int_equal(check_compose(&fc, out), 0);
}

static void test_compose_duplicates_served_once(void **state)
{
    struct feed_case fc = { .npriv = 3, .npub = 4, .limit = 10 };
    struct sl_dist_pick out[MAXC];

    sl_dist_rules_default(&fc.rules);
    fc.priv[0] = cand(1, 10, false);
    fc.priv[1] = cand(1, 10, false);       /* twice in one list */
    fc.priv[2] = cand(2, 11, false);
    fc.pub[0] = cand(2, 11, false);         /* also followed */
    fc.pub[1] = cand(3, 12, false);
    fc.pub[2] = cand(3, 12, false);
    fc.pub[3] = cand(4, 13, true);
    assert_int_equal(check_compose(&fc, out), 4);
}

static void test_compose_avoids_runs(void **state)
{
    struct feed_case fc = { .npub = 6, .limit = 4 };
    struct sl_dist_pick out[MAXC];

    /* Rank order would take three of creator 7; the cap keeps it to two. */
    sl_dist_rules_default(&fc.rules);
    fc.pub[0] = cand(1, 7, false);
    fc.pub[1] = cand(2, 7, false);
    fc.pub[2] = cand(3, 7, false);
    fc.pub[3] = cand(4, 8, false);
    fc.pub[4] = cand(5, 9, false);
    fc.pub[5] = cand(6, 7, false);
    assert_int_equal(check_compose(&fc, out), 4);
    assert_false(any_adjacent(&fc, out, 4));
    size_t sevens = 0;
    for (size_t i = 0; i < 4; i++)
        sevens += fc.pub[out[i].index].creator == 7;
    assert_int_equal(sevens, 2);

    /* The previous page ended with creator 7: this one must not start with it. */
    fc.rules.last_creator = 7;
    assert_int_equal(check_compose(&fc, out), 4);
    assert_false(any_adjacent(&fc, out, 4));
    /* With three slots after a 7, two 7s could not alternate: take one. */
    fc.limit = 3;
    assert_int_equal(check_compose(&fc, out), 3);
    assert_false(any_adjacent(&fc, out, 3));

    /* Private items of one creator between public ones of another. */
    fc = (struct feed_case){ .npriv = 5, .npub = 5, .limit = 6 };
    sl_dist_rules_default(&fc.rules);
    fc.rules.min_private = 0.5;
    for (uint32_t i = 0; i < 5; i++) {
        fc.priv[i] = cand(100 + i, 1, false);
        fc.pub[i] = cand(200 + i, 2, false);
    }
    assert_int_equal(check_compose(&fc, out), 6);
    assert_false(any_adjacent(&fc, out, 6));

    /* Unavoidable: a single creator. Still served, never twice the same item. */
    fc = (struct feed_case){ .npub = 3, .limit = 3 };
    sl_dist_rules_default(&fc.rules);
    for (uint32_t i = 0; i < 3; i++)
        fc.pub[i] = cand(i, 5, false);
    assert_int_equal(check_compose(&fc, out), 3);
}

static void test_compose_refuses_bad_input(void **state)
{
    struct sl_dist_cand c = cand(1, 1, false);
    struct sl_dist_rules r;
    struct sl_dist_pick out[4];
    size_t n = 99;

    sl_dist_rules_default(&r);
    r.min_private = 1.5;
    assert_int_equal(sl_dist_compose(&c, 1, NULL, 0, &r, 4, out, &n, NULL), -EINVAL);
    r.min_private = 0.3;
    r.min_ordinary = -0.1;
    assert_int_equal(sl_dist_compose(&c, 1, NULL, 0, &r, 4, out, &n, NULL), -EINVAL);
    r.min_ordinary = NAN;
    assert_int_equal(sl_dist_compose(&c, 1, NULL, 0, &r, 4, out, &n, NULL), -EINVAL);
    sl_dist_rules_default(&r);
    assert_int_equal(sl_dist_compose(NULL, 1, NULL, 0, &r, 4, out, &n, NULL), -EINVAL);
    assert_int_equal(sl_dist_compose(&c, 1, NULL, 0, &r, 4, NULL, &n, NULL), -EINVAL);
    assert_int_equal(n, 99);
    assert_int_equal(sl_dist_compose(&c, 1, NULL, 0, &r, 4, out, &n, NULL), 0);
    assert_int_equal(n, 1);
}

/*
 * Random inputs: few creators (so runs threaten), items shared between the
 * lists, every kind of share. Each item has one creator and heads are a
 * property of creators, as in life. check_compose() asserts each rule.
 */
static void test_compose_properties(void **state)
{
    static const double shares[] = { 0, 0.1, 0.3, 0.5, 0.7, 0.9, 1 };
    struct sl_dist_pick out[MAXC];
    uint64_t s = 2024;
    size_t clean = 0, served = 0;

    for (int iter = 0; iter < 20000; iter++) {
        struct feed_case fc = { 0 };
        uint32_t creators = 1 + (uint32_t)(rnd(&s) % 12);
        uint64_t items = 5 + rnd(&s) % 60, salt = rnd(&s);
        uint32_t head_every = 2 + (uint32_t)(rnd(&s) % 4);
        fc.npriv = rnd(&s) % 16;
        fc.npub = rnd(&s) % 40;
        fc.limit = rnd(&s) % 25;
        fc.rules.min_private = rnd(&s) % 2 ? shares[rnd(&s) % 7] : unif(&s);
        fc.rules.min_ordinary = rnd(&s) % 2 ? shares[rnd(&s) % 7] : unif(&s);
        fc.rules.last_creator = rnd(&s) % 3 ? SL_DIST_NO_CREATOR
                                            : (uint32_t)(rnd(&s) % creators);
        for (size_t i = 0; i < fc.npriv + fc.npub; i++) {
            uint64_t it = rnd(&s) % items;
            uint32_t c = (uint32_t)((it * 0x9e3779b97f4a7c15ULL ^ salt) % creators);
            if (i < fc.npriv)
                fc.priv[i] = cand(it, c, false);
            else
                fc.pub[i - fc.npriv] = cand(it, c, c % head_every == 0);
        }
        size_t n = check_compose(&fc, out);
        served += n;

        /*
         * When no creator has more distinct candidates than floor(L/2), any
         * choice can be ordered: then there must be no run at all.
         */
        size_t per[12] = { 0 };
        for (uint64_t it = 0; it < items; it++)
            if (in_list(it, fc.priv, fc.npriv) || in_list(it, fc.pub, fc.npub))
                per[(it * 0x9e3779b97f4a7c15ULL ^ salt) % creators]++;
        bool spread = true;
        for (uint32_t c = 0; c < creators; c++)
            spread = spread && per[c] <= n / 2;
        if (spread) {
            assert_false(any_adjacent(&fc, out, n));
            clean++;
        }
    }
    /* The strong case was exercised, not skipped. */
    assert_true(clean > 1000);
    assert_true(served > 50000);
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
        cmocka_unit_test(test_compose_default_shares),
        cmocka_unit_test(test_compose_one_pool_only),
        cmocka_unit_test(test_compose_duplicates_served_once),
        cmocka_unit_test(test_compose_avoids_runs),
        cmocka_unit_test(test_compose_refuses_bad_input),
        cmocka_unit_test(test_compose_properties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
