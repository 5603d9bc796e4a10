/* SPDX-License-Identifier: MIT */
/* The shipped 30-distribute.lua: its wave decisions over made-up statistics, its plans by platform size. */
#include <string.h>

#include "distribute_cases.h"
#include "util.h"

/* {====================== Decisions ==================================== */

static void test_wave_decisions(void **state)
{
    struct sl_lua *sl = *state;
    struct sl_item *item = make_item("{\"id\":\"i1\",\"creator\":\"c1\",\"title\":\"t\"}");
    char err[ERRLEN];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct decision_case *c = &cases[i];
        json_t *args[2], *res = NULL;
        json_error_t jerr;

        args[0] = json_pack("{s:i, s:s, s:i, s:i, s:i, s:f, s:i, s:i, s:i, s:s, s:o}",
                            "n", 3, "audience", c->audience, "size", c->present,
                            "placed", c->present, "present", c->present, "fill", 0.6,
                            "checks", 0, "elapsed_ms", 60000, "limit_ms", 3600000,
                            "ended_by", c->ended_by, "related",
                            json_loads(c->related, 0, &jerr));
        /* The engaged are likes here; the policy reads stats.engaged. */
        args[1] = json_pack("{s:i, s:i, s:i, s:i, s:i, s:{s:f, s:i, s:i}}",
                            "impression", c->impression, "like", c->engaged,
                            "complete", 0, "share", 0, "engaged", c->engaged,
                            "baseline", "rate", c->base_rate, "trials", c->base_trials,
                            "successes", (int)(c->base_rate * c->base_trials));
        assert_non_null(args[0]);
        assert_non_null(args[1]);
        int rc = sl_lua_call_json(sl, "wave_done", item, args, 2, &res, err, ERRLEN);
        if (rc != 0)
            fail_msg("%s: wave_done failed: %s", c->what, err);
        const char *got = json_is_string(res) ? json_string_value(res)
                                              : json_string_value(json_object_get(res, "decision"));
        char full[160];
        snprintf(full, sizeof full, "%s%s%s", got ? got : "?",
                 got && strcmp(got, "switch") == 0 ? ":" : "",
                 got && strcmp(got, "switch") == 0
                     ? json_string_value(json_object_get(res, "audience")) : "");
        if (strcmp(full, c->want) != 0)
            fail_msg("%s: got %s, want %s", c->what, full, c->want);
        /* Every decision but wait says why. */
        if (strcmp(full, "wait") != 0 &&
            !json_string_length(json_object_get(res, "reason")))
            fail_msg("%s: no reason given", c->what);
        json_decref(res);
        json_decref(args[0]);
        json_decref(args[1]);
    }
    sl_item_free(item);
}

/* }===================================================================== */

/* {====================== Plans ======================================== */

struct plan_case {
    long long active, followers;
    long long followers_size, nearby, first;    /* what the plan must say */
    long long public_total;                     /* the public waves together */
};

static const struct plan_case plans[] = {
    /* A small platform: the first public wave is the least one can judge,
     * and a good item may reach everyone (2,000 at least). */
    { 600, 0, 1, 20, 50, 2000 },
    /* Some thousands. */
    { 5000, 40, 40, 20, 50, 2000 },
    /* A hundred thousand users, 60,000 of them around: 30% of those. */
    { 60000, 3000, 3000, 60, 120, 18000 },
    /* Millions: the first wave stops at 2,000, the reach at 30%. */
    { 3000000, 5000000, 100000, 500, 2000, 900000 },
};

static void test_plans_scale_with_the_platform(void **state)
{
    struct sl_lua *sl = *state;
    char err[ERRLEN];

    for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++) {
        const struct plan_case *c = &plans[i];
        struct sl_item *item = make_item("{\"id\":\"i1\",\"creator\":\"c1\",\"title\":\"t\"}");
        struct sl_lua_wave w[32];
        size_t n = 0;

        item->platform_active = item->platform_users = c->active;
        item->creator_followers = c->followers;
        assert_int_equal(sl_lua_plan(sl, item, w, 32, &n, err, ERRLEN), 0);
        assert_true(n >= 3);
        assert_string_equal(w[0].audience, "followers");
        assert_int_equal(w[0].size, c->followers_size);
        assert_string_equal(w[1].audience, "nearby");
        assert_int_equal(w[1].size, c->nearby);
        assert_string_equal(w[2].audience, "everyone");
        assert_int_equal(w[2].size, c->first);
        long long total = 0, last = 0;
        for (size_t k = 2; k < n; k++) {
            assert_true(w[k].fill == 1 && w[k].fill_share > 0 && w[k].fill_share <= 1);
            assert_true(w[k].check == 1 && w[k].check_n > 0);
            assert_true(w[k].limit == 1 && w[k].limit_s >= 60);
            /* Each grows on the last but the last, which fills up to the reach. */
            if (k + 1 < n)
                assert_true(w[k].size > last);
            last = w[k].size;
            total += w[k].size;
        }
        if (total != c->public_total)
            fail_msg("active %lld: public waves total %lld, want %lld", c->active, total,
                     c->public_total);
        sl_item_free(item);
    }
}

/* An item tagged with an interest goes to its group first, then everyone. */
static void test_plan_interest_first(void **state)
{
    struct sl_lua *sl = *state;
    struct sl_item *item = make_item("{\"id\":\"i1\",\"creator\":\"c1\",\"title\":\"t\","
                                     "\"tags\":{\"interest.cats\":0.9,\"interest.dogs\":0.3}}");
    struct sl_lua_wave w[32];
    size_t n = 0;
    char err[ERRLEN];

    item->platform_active = 60000;
    assert_int_equal(sl_lua_plan(sl, item, w, 32, &n, err, ERRLEN), 0);
    assert_true(n >= 5);
    assert_string_equal(w[2].audience, "interest:cats");
    assert_string_equal(w[3].audience, "interest:cats");
    assert_string_equal(w[4].audience, "everyone");
    sl_item_free(item);
}

/* }===================================================================== */

static int setup(void **state)
{
    char err[ERRLEN];
    struct sl_lua *sl = sl_lua_new(NULL);
    if (!sl || sl_lua_load_dir(sl, SL_TEST_TOP_SRCDIR "/policies", err, ERRLEN) < 0) {
        print_error("cannot load the shipped policies: %s\n", err);
        sl_lua_free(sl);
        return -1;
    }
    *state = sl;
    return 0;
}

static int teardown(void **state)
{
    sl_lua_free(*state);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wave_decisions),
        cmocka_unit_test(test_plans_scale_with_the_platform),
        cmocka_unit_test(test_plan_interest_first),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
