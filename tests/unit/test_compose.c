/* SPDX-License-Identifier: MIT */
/* The mixed-feed composer: every rule, on chosen and on random pages. */
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

#include "dist/compose.h"
#include "lib/mix.h"

/* A small seeded generator, so every "random" case is the same on every run. */
static uint64_t rnd(uint64_t *s)
{
    return sl_splitmix64(s);
}

static double unif(uint64_t *s)
{
    return (double)(rnd(s) >> 11) / 9007199254740992.0;
}

/* ====== The composer ====== */

#define MAXC 64

struct feed_case {
    struct sl_compose_cand priv[MAXC], pub[MAXC];
    size_t npriv, npub, limit;
    struct sl_compose_rules rules;
};

static size_t ceil_share(double share, size_t n)
{
    double v = ceil(share * (double)n - 1e-9);
    return v <= 0 ? 0 : (size_t)v;
}

static const struct sl_compose_cand *pick_cand(const struct feed_case *fc, struct sl_compose_pick p)
{
    return p.pool == SL_COMPOSE_PRIVATE ? &fc->priv[p.index] : &fc->pub[p.index];
}

static bool any_adjacent(const struct feed_case *fc, const struct sl_compose_pick *out, size_t n)
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
static bool arrangeable(const struct feed_case *fc, const struct sl_compose_pick *out, size_t n)
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

static bool in_list(uint64_t item, const struct sl_compose_cand *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (c[i].item == item)
            return true;
    return false;
}

/* Every rule of sl_compose_page() on one input; returns the picks made. */
static size_t check_compose(const struct feed_case *fc, struct sl_compose_pick *out)
{
    struct sl_compose_counts cnt;
    size_t n = 12345;

    assert_int_equal(sl_compose_page(fc->priv, fc->npriv, fc->pub, fc->npub, &fc->rules,
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
        assert_true(out[i].index < (out[i].pool == SL_COMPOSE_PRIVATE ? fc->npriv : fc->npub));
        const struct sl_compose_cand *c = pick_cand(fc, out[i]);
        /* No item twice. */
        for (size_t j = 0; j < i; j++)
            assert_true(pick_cand(fc, out[j])->item != c->item);
        if (out[i].pool == SL_COMPOSE_PRIVATE) {
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

    /* The private floor when private candidates exist: the page's share, or
     * what brings the user's running share back to the target if more. */
    size_t pf = ceil_share(fc->rules.min_private, n);
    double owed = ceil(fc->rules.target_private * (fc->rules.recent_served + (double)n) -
                       fc->rules.recent_private - 1e-9);
    if (owed > (double)pf)
        pf = owed >= (double)n ? n : (size_t)owed;
    assert_true(np >= (pf < dp ? pf : dp));
    /* The ordinary floor of the public part when ordinary candidates exist. */
    size_t of = ceil_share(fc->rules.min_ordinary, nu);
    assert_true(nord >= (of < dord ? of : dord));

    /* No creator twice in a row whenever these picks allow it. */
    if (arrangeable(fc, out, n))
        assert_false(any_adjacent(fc, out, n));
    return n;
}

static struct sl_compose_cand cand(uint64_t item, uint32_t creator, bool head)
{
    return (struct sl_compose_cand){ .item = item, .creator = creator, .head = head };
}

/* fc's npriv followed items and npub public ones, each by a creator of its
 * own, the first `heads` public ones by heads (ranked first, as popularity
 * would). */
static void fill(struct feed_case *fc, uint32_t heads)
{
    for (uint32_t i = 0; i < fc->npriv; i++)
        fc->priv[i] = cand(1000 + i, 100 + i, false);
    for (uint32_t i = 0; i < fc->npub; i++)
        fc->pub[i] = cand(2000 + i, 200 + i, i < heads);
}

static void test_compose_default_shares(void **state)
{
    struct feed_case fc = { .npriv = 10, .npub = 30, .limit = 10 };
    struct sl_compose_pick out[MAXC];
    struct sl_compose_counts cnt;
    size_t n;

    sl_compose_rules_default(&fc.rules);
    fill(&fc, 15);
    assert_int_equal(check_compose(&fc, out), 10);
    assert_int_equal(sl_compose_page(fc.priv, 10, fc.pub, 30, &fc.rules, 10, out, &n, &cnt), 0);
    assert_int_equal(cnt.private_n, 3);
    assert_int_equal(cnt.public_n, 7);
    assert_int_equal(cnt.ordinary_n, 5);           /* ceil(0.7 * 7) */
    assert_int_equal(cnt.head_n, 2);
    /* Private picks are the best three, spread out rather than bunched. */
    size_t first = n, last = 0;
    for (size_t i = 0; i < n; i++)
        if (out[i].pool == SL_COMPOSE_PRIVATE) {
            assert_true(out[i].index < 3);
            first = i < first ? i : first;
            last = i;
        }
    assert_true(first <= 2 && last >= 7);
    /* The heads taken are the best-ranked ones. */
    for (size_t i = 0; i < n; i++)
        if (out[i].pool == SL_COMPOSE_PUBLIC && fc.pub[out[i].index].head)
            assert_true(out[i].index < 2);
}

/* Few ordinary candidates: heads keep to their share of the public part,
 * and the slots left go to followed creators while there are any. */
static void test_compose_few_ordinary(void **state)
{
    struct feed_case fc = { .npriv = 10, .npub = 12, .limit = 10 };
    struct sl_compose_pick out[MAXC];
    struct sl_compose_counts cnt;
    size_t n;

    sl_compose_rules_default(&fc.rules);
    fill(&fc, 10);                      /* 10 heads, 2 ordinary */
    assert_int_equal(check_compose(&fc, out), 10);
    assert_int_equal(sl_compose_page(fc.priv, 10, fc.pub, 12, &fc.rules, 10, out, &n, &cnt), 0);
    /* 2 ordinary carry 2 public picks at 0.7 (3 would need 3): 8 private. */
    assert_int_equal(cnt.private_n, 8);
    assert_int_equal(cnt.ordinary_n, 2);
    assert_int_equal(cnt.head_n, 0);

    /* Only 4 followed items: all of them, then heads fill the page. */
    fc.npriv = 4;
    assert_int_equal(check_compose(&fc, out), 10);
    assert_int_equal(sl_compose_page(fc.priv, 4, fc.pub, 12, &fc.rules, 10, out, &n, &cnt), 0);
    assert_int_equal(cnt.private_n, 4);
    assert_int_equal(cnt.ordinary_n, 2);
    assert_int_equal(cnt.head_n, 4);

    /* Enough ordinary candidates: the private floor only, as before. */
    for (uint32_t i = 0; i < 12; i++)
        fc.pub[i].head = i < 3;
    fc.npriv = 10;
    assert_int_equal(sl_compose_page(fc.priv, 10, fc.pub, 12, &fc.rules, 10, out, &n, &cnt), 0);
    assert_int_equal(cnt.private_n, 3);
    assert_int_equal(cnt.ordinary_n + cnt.head_n, 7);
    assert_true(cnt.ordinary_n >= 5);
}

/* The top-up: a user whose recent pages were short of followed items gets
 * what brings them back to the target, up to every private candidate. */
static void test_compose_private_topup(void **state)
{
    struct feed_case fc = { .npriv = 12, .npub = 30, .limit = 10 };
    struct sl_compose_pick out[MAXC];
    struct sl_compose_counts cnt;
    size_t n;

    sl_compose_rules_default(&fc.rules);
    fill(&fc, 0);
    fc.rules.target_private = 0.4;

    /* No history: 0.4 of this page (above the 0.3 floor). */
    assert_int_equal(check_compose(&fc, out), 10);
    assert_int_equal(sl_compose_page(fc.priv, 12, fc.pub, 30, &fc.rules, 10, out, &n, &cnt), 0);
    assert_int_equal(cnt.private_n, 4);

    /* 4 of the last 40 from followed creators: 0.4 * 50 - 4 = 16 owed,
     * more than the page: all of it private. */
    fc.rules.recent_served = 40;
    fc.rules.recent_private = 4;
    assert_int_equal(check_compose(&fc, out), 10);
    assert_int_equal(sl_compose_page(fc.priv, 12, fc.pub, 30, &fc.rules, 10, out, &n, &cnt), 0);
    assert_int_equal(cnt.private_n, 10);
    assert_int_equal(cnt.public_n, 0);

    /* Partly short: 0.4 * 50 - 14 = 6 owed. */
    fc.rules.recent_private = 14;
    assert_int_equal(sl_compose_page(fc.priv, 12, fc.pub, 30, &fc.rules, 10, out, &n, &cnt), 0);
    assert_int_equal(cnt.private_n, 6);

    /* Above the target: the page's floor only. */
    fc.rules.recent_private = 30;
    assert_int_equal(sl_compose_page(fc.priv, 12, fc.pub, 30, &fc.rules, 10, out, &n, &cnt), 0);
    assert_int_equal(cnt.private_n, 3);

    /* Owed more than there is: every private candidate, public fills the page. */
    fc.rules.recent_private = 0;
    fc.npriv = 3;
    assert_int_equal(check_compose(&fc, out), 10);
    assert_int_equal(sl_compose_page(fc.priv, 3, fc.pub, 30, &fc.rules, 10, out, &n, &cnt), 0);
    assert_int_equal(cnt.private_n, 3);
    assert_int_equal(cnt.public_n, 7);

    /* No target: history is ignored. */
    fc.npriv = 12;
    fc.rules.target_private = 0;
    assert_int_equal(sl_compose_page(fc.priv, 12, fc.pub, 30, &fc.rules, 10, out, &n, &cnt), 0);
    assert_int_equal(cnt.private_n, 3);
}

static void test_compose_one_pool_only(void **state)
{
    struct feed_case fc = { .npub = 5, .limit = 10 };
    struct sl_compose_pick out[MAXC];

    sl_compose_rules_default(&fc.rules);
    for (uint32_t i = 0; i < 5; i++)
        fc.pub[i] = cand(i, i, i % 2);
    assert_int_equal(check_compose(&fc, out), 5);   /* fewer than limit: all of them */

    fc = (struct feed_case){ .npriv = 4, .limit = 3 };
    sl_compose_rules_default(&fc.rules);
    for (uint32_t i = 0; i < 4; i++)
        fc.priv[i] = cand(i, i, false);
    assert_int_equal(check_compose(&fc, out), 3);

    fc = (struct feed_case){ .limit = 3 };
    sl_compose_rules_default(&fc.rules);
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
    struct sl_compose_pick out[MAXC];

    sl_compose_rules_default(&fc.rules);
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
    struct sl_compose_pick out[MAXC];

    /* Rank order would take three of creator 7; the cap keeps it to two. */
    sl_compose_rules_default(&fc.rules);
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
    sl_compose_rules_default(&fc.rules);
    fc.rules.min_private = 0.5;
    for (uint32_t i = 0; i < 5; i++) {
        fc.priv[i] = cand(100 + i, 1, false);
        fc.pub[i] = cand(200 + i, 2, false);
    }
    assert_int_equal(check_compose(&fc, out), 6);
    assert_false(any_adjacent(&fc, out, 6));

    /* Unavoidable: a single creator. Still served, never twice the same item. */
    fc = (struct feed_case){ .npub = 3, .limit = 3 };
    sl_compose_rules_default(&fc.rules);
    for (uint32_t i = 0; i < 3; i++)
        fc.pub[i] = cand(i, 5, false);
    assert_int_equal(check_compose(&fc, out), 3);
}

static void test_compose_refuses_bad_input(void **state)
{
    struct sl_compose_cand c = cand(1, 1, false);
    struct sl_compose_rules r;
    struct sl_compose_pick out[4];
    size_t n = 99;

    sl_compose_rules_default(&r);
    r.min_private = 1.5;
    assert_int_equal(sl_compose_page(&c, 1, NULL, 0, &r, 4, out, &n, NULL), -EINVAL);
    r.min_private = 0.3;
    r.min_ordinary = -0.1;
    assert_int_equal(sl_compose_page(&c, 1, NULL, 0, &r, 4, out, &n, NULL), -EINVAL);
    r.min_ordinary = NAN;
    assert_int_equal(sl_compose_page(&c, 1, NULL, 0, &r, 4, out, &n, NULL), -EINVAL);
    sl_compose_rules_default(&r);
    r.target_private = 1.2;
    assert_int_equal(sl_compose_page(&c, 1, NULL, 0, &r, 4, out, &n, NULL), -EINVAL);
    r.target_private = 0.4;
    r.recent_private = 5;
    r.recent_served = 4;        /* more private than served */
    assert_int_equal(sl_compose_page(&c, 1, NULL, 0, &r, 4, out, &n, NULL), -EINVAL);
    r.recent_private = -1;
    assert_int_equal(sl_compose_page(&c, 1, NULL, 0, &r, 4, out, &n, NULL), -EINVAL);
    r.recent_private = NAN;
    assert_int_equal(sl_compose_page(&c, 1, NULL, 0, &r, 4, out, &n, NULL), -EINVAL);
    r.recent_private = 1;
    r.recent_served = INFINITY;
    assert_int_equal(sl_compose_page(&c, 1, NULL, 0, &r, 4, out, &n, NULL), -EINVAL);
    sl_compose_rules_default(&r);
    assert_int_equal(sl_compose_page(NULL, 1, NULL, 0, &r, 4, out, &n, NULL), -EINVAL);
    assert_int_equal(sl_compose_page(&c, 1, NULL, 0, &r, 4, NULL, &n, NULL), -EINVAL);
    assert_int_equal(n, 99);
    assert_int_equal(sl_compose_page(&c, 1, NULL, 0, &r, 4, out, &n, NULL), 0);
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
    struct sl_compose_pick out[MAXC];
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
        fc.rules.last_creator = rnd(&s) % 3 ? SL_COMPOSE_NO_CREATOR
                                            : (uint32_t)(rnd(&s) % creators);
        if (rnd(&s) % 2) {
            fc.rules.target_private = unif(&s);
            fc.rules.recent_served = (double)(rnd(&s) % 80) * unif(&s);
            fc.rules.recent_private = fc.rules.recent_served * unif(&s);
        }
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
        cmocka_unit_test(test_compose_default_shares),
        cmocka_unit_test(test_compose_few_ordinary),
        cmocka_unit_test(test_compose_private_topup),
        cmocka_unit_test(test_compose_one_pool_only),
        cmocka_unit_test(test_compose_duplicates_served_once),
        cmocka_unit_test(test_compose_avoids_runs),
        cmocka_unit_test(test_compose_refuses_bad_input),
        cmocka_unit_test(test_compose_properties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
