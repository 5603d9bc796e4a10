/* SPDX-License-Identifier: MIT */
/* The shipped seqtest plugin decides as the shipped 30-distribute.lua's wave_done does:
 * on the table of cases, over a grid of statistics, and with its options. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/conf.h"
#include "policy/plugin.h"
#include "../lua/distribute_cases.h"
#include "../lua/util.h"

struct fixture {
    struct sl_lua *lua;
    struct sl_plugins *ps;
    struct sl_config cfg;
    struct sl_item *item;
};

/* One wave to decide, as both sides see it. */
struct probe {
    const char *audience;
    const char *ended_by;
    unsigned present;
    json_t *related;            /* array of names */
    unsigned impressions, engaged;
    double base_rate;
    unsigned base_trials;
};

/* An answer, as "decision[:audience]" and its reason. */
struct said {
    char decision[200];
    char reason[300];
};

static const char *seqtest_path(void)
{
    static char path[4096];
    const char *b = getenv("SLUICE_BUILDDIR");
    snprintf(path, sizeof(path), "%s/plugins/seqtest/.libs/seqtest.so", b ? b : "..");
    return path;
}

static struct sl_plugins *load(struct sl_config *cfg, const char *const *opts, char *err,
                               size_t errlen, int *rc)
{
    struct sl_plugins *ps = NULL;

    sl_config_defaults(cfg);
    cfg->nplugins = 1;
    cfg->plugins[0].name = strdup("seqtest");
    cfg->plugins[0].path = strdup(seqtest_path());
    for (int i = 0; opts && opts[i]; i += 2) {
        cfg->plugins[0].keys[i / 2] = strdup(opts[i]);
        cfg->plugins[0].values[i / 2] = strdup(opts[i + 1]);
        cfg->plugins[0].nopts++;
    }
    *rc = sl_plugins_load(cfg, &ps, err, errlen);
    return ps;
}

/* {====================== Both sides =================================== */

static void lua_says(struct sl_lua *lua, struct sl_item *item, const struct probe *p,
                     struct said *out)
{
    char err[SL_LUA_ERR_MAX];
    json_t *res = NULL;
    json_t *args[2] = {
        json_pack("{s:i, s:s, s:i, s:i, s:i, s:f, s:i, s:i, s:i, s:s, s:O}", "n", 3,
                  "audience", p->audience, "size", p->present, "placed", p->present,
                  "present", p->present, "fill", 0.6, "checks", 0, "elapsed_ms", 60000,
                  "limit_ms", 3600000, "ended_by", p->ended_by, "related", p->related),
        json_pack("{s:i, s:i, s:i, s:i, s:i, s:{s:f, s:i, s:i}}", "impression", p->impressions,
                  "like", p->engaged, "complete", 0, "share", 0, "engaged", p->engaged,
                  "baseline", "rate", p->base_rate, "trials", p->base_trials, "successes",
                  (int)(p->base_rate * p->base_trials)),
    };
    assert_non_null(args[0]);
    assert_non_null(args[1]);
    if (sl_lua_call_json(lua, "wave_done", item, args, 2, &res, err, sizeof(err)) != 0)
        fail_msg("wave_done failed: %s", err);
    const char *d = json_is_string(res) ? json_string_value(res)
                                        : json_string_value(json_object_get(res, "decision"));
    const char *to = json_string_value(json_object_get(res, "audience"));
    const char *why = json_string_value(json_object_get(res, "reason"));
    assert_non_null(d);
    snprintf(out->decision, sizeof(out->decision), "%s%s%s", d,
             strcmp(d, "switch") == 0 ? ":" : "", strcmp(d, "switch") == 0 && to ? to : "");
    snprintf(out->reason, sizeof(out->reason), "%s", why ? why : "");
    json_decref(res);
    json_decref(args[0]);
    json_decref(args[1]);
}

static size_t related_of(void *ctx, const char **out, size_t max)
{
    json_t *list = ctx;
    size_t n = 0;
    for (; n < max && n < json_array_size(list); n++)
        out[n] = json_string_value(json_array_get(list, n));
    return n;
}

static int end_code(const char *why)
{
    return strcmp(why, "size") == 0 ? SL_WAVE_END_SIZE : strcmp(why, "fill") == 0 ? SL_WAVE_END_FILL
           : strcmp(why, "time") == 0 ? SL_WAVE_END_TIME : SL_WAVE_END_EVIDENCE;
}

static int plugin_says(struct sl_plugins *ps, struct sl_item *item, const struct probe *p,
                       struct said *out, char *err, size_t errlen)
{
    struct sl_plugin_wave w = {
        .pub = {
            .n = 3, .ended_by = end_code(p->ended_by), .audience = p->audience,
            .size = p->present, .placed = p->present, .present = p->present, .fill = 0.6,
            .elapsed_ms = 60000, .limit_ms = 3600000, .impressions = p->impressions,
            .likes = p->engaged, .engaged = p->engaged, .pool_trials = p->base_trials,
            .pool_successes = (uint64_t)(p->base_rate * p->base_trials),
            .pool_rate = p->base_rate,
        },
        .related = related_of,
        .ctx = p->related,
    };
    struct sl_plugin_decision pd;
    int rc = sl_plugins_wave_done(ps, item, &w, false, &pd, err, errlen);
    if (rc != 0)
        return rc;
    bool sw = strcmp(pd.decision, "switch") == 0;
    snprintf(out->decision, sizeof(out->decision), "%s%s%s", pd.decision, sw ? ":" : "",
             sw ? pd.audience : "");
    snprintf(out->reason, sizeof(out->reason), "%s", pd.reason);
    return 0;
}

/* Both sides on one wave: the same decision, the same reason. */
static void same(struct fixture *f, const struct probe *p, const char *what)
{
    struct said lua, plugin;
    char err[512];

    lua_says(f->lua, f->item, p, &lua);
    if (plugin_says(f->ps, f->item, p, &plugin, err, sizeof(err)) != 0)
        fail_msg("%s: the plugin failed: %s", what, err);
    if (strcmp(lua.decision, plugin.decision) != 0 || strcmp(lua.reason, plugin.reason) != 0)
        fail_msg("%s (%s, %s, present %u, %u/%u, pool %.3f of %u): Lua said %s \"%s\", "
                 "seqtest %s \"%s\"", what, p->audience, p->ended_by, p->present, p->engaged,
                 p->impressions, p->base_rate, p->base_trials, lua.decision, lua.reason,
                 plugin.decision, plugin.reason);
}

/* }===================================================================== */

/* The table the policy's own test checks: the same decisions, and the
 * decisions the table wants. */
static void the_table(void **state)
{
    struct fixture *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct decision_case *c = &cases[i];
        struct probe p = { c->audience, c->ended_by, (unsigned)c->present,
                           json_loads(c->related, 0, NULL), (unsigned)c->impression,
                           (unsigned)c->engaged, c->base_rate, (unsigned)c->base_trials };
        struct said plugin;
        char err[512];

        assert_non_null(p.related);
        same(f, &p, c->what);
        assert_int_equal(plugin_says(f->ps, f->item, &p, &plugin, err, sizeof(err)), 0);
        if (strcmp(plugin.decision, c->want) != 0)
            fail_msg("%s: seqtest said %s, the table wants %s", c->what, plugin.decision,
                     c->want);
        json_decref(p.related);
    }
}

/* Every combination of a grid of waves and statistics around the
 * thresholds: the plugin and the policy never differ. */
static void the_grid(void **state)
{
    static const char *const audiences[] = { "followers", "nearby", "everyone",
                                             "interest:cats", "group:circle:7" };
    static const char *const ends[] = { "size", "fill", "time", "evidence" };
    static const char *const related[] = { "[]", "[\"dogs\", \"birds\"]" };
    /* a quarter of 76 is 19: just under min_trials */
    static const unsigned presents[] = { 8, 50, 76, 400 };
    static const unsigned looks[] = { 0, 1, 2, 3, 5, 12, 19, 20, 21, 30, 45, 64, 100, 250, 1000 };
    /* engaged per impression: none, a few, around the pools' rates (1/16
     * and 3/16 give ties to round to three decimals), half, all, and more
     * (likes and completes of one user count twice, at most n) */
    static const double shares[] = { 0, 0.02, 0.05, 0.0625, 0.08, 0.1, 0.14, 0.1875, 0.3, 1.0,
                                      1.5 };
    static const struct { double rate; unsigned trials; } pools[] = {
        { 0.0, 0 }, { 0.10, 199 }, { 0.50, 200 }, { 0.05, 5000 }, { 1.0, 300 },
    };
    struct fixture *f = *state;
    unsigned n = 0;

    for (size_t a = 0; a < sizeof(audiences) / sizeof(*audiences); a++)
    for (size_t e = 0; e < sizeof(ends) / sizeof(*ends); e++)
    for (size_t r = 0; r < sizeof(related) / sizeof(*related); r++)
    for (size_t pr = 0; pr < sizeof(presents) / sizeof(*presents); pr++)
    for (size_t l = 0; l < sizeof(looks) / sizeof(*looks); l++)
    for (size_t k = 0; k < sizeof(shares) / sizeof(*shares); k++)
    for (size_t b = 0; b < sizeof(pools) / sizeof(*pools); b++) {
        struct probe p = { audiences[a], ends[e], presents[pr], json_loads(related[r], 0, NULL),
                           looks[l], (unsigned)(looks[l] * shares[k]), pools[b].rate,
                           pools[b].trials };
        same(f, &p, "grid");
        json_decref(p.related);
        n++;
    }
    print_message("     %u waves, the same decision and reason from both\n", n);
}

/* Options from sluice.conf move the thresholds; bad ones stop the load. */
static void options(void **state)
{
    struct sl_config cfg;
    struct sl_plugins *ps;
    struct said s;
    char err[1024];
    int rc;
    (void)state;
    struct sl_item *item = make_item("{\"id\":\"i1\",\"creator\":\"c1\",\"title\":\"t\"}");
    struct probe p = { "everyone", "evidence", 50, json_array(), 30, 0, 0.1, 0 };

    /* min_trials 50: 30 looks of nobody liking it are not enough yet. */
    static const char *const later[] = { "min_trials", "50", NULL };
    ps = load(&cfg, later, err, sizeof(err), &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(plugin_says(ps, item, &p, &s, err, sizeof(err)), 0);
    assert_string_equal(s.decision, "wait");
    sl_plugins_free(ps);
    sl_config_clear(&cfg);

    /* The defaults stop it. */
    ps = load(&cfg, NULL, err, sizeof(err), &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(plugin_says(ps, item, &p, &s, err, sizeof(err)), 0);
    assert_string_equal(s.decision, "stop");
    sl_plugins_free(ps);
    sl_config_clear(&cfg);

    /* A young pool's prior: baseline_prior 0.01 makes 1 in 30 good enough. */
    p.engaged = 1;
    p.ended_by = "fill";
    static const char *const prior[] = { "baseline_prior", "0.01", NULL };
    ps = load(&cfg, prior, err, sizeof(err), &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(plugin_says(ps, item, &p, &s, err, sizeof(err)), 0);
    assert_string_equal(s.decision, "continue");
    sl_plugins_free(ps);
    sl_config_clear(&cfg);

    /* The Beta test: 10 of 30 against 0.1 is surely better. */
    p.engaged = 10;
    static const char *const beta[] = { "method", "beta", "continue_above", "0.99",
                                        "stop_below", "0.01", "prior_strength", "4", NULL };
    ps = load(&cfg, beta, err, sizeof(err), &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(plugin_says(ps, item, &p, &s, err, sizeof(err)), 0);
    assert_string_equal(s.decision, "continue");
    sl_plugins_free(ps);
    sl_config_clear(&cfg);

    static const char *const bad[][5] = {
        { "zz", "1", NULL },
        { "z", "eleven", NULL },
        { "z", "11", NULL },
        { "min_trials", "2.5", NULL },
        { "method", "bayes", NULL },
        { "baseline_prior", "1.5", NULL },
        { "stop_below", "0.6", "continue_above", "0.4", NULL },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ps = load(&cfg, bad[i], err, sizeof(err), &rc);
        if (rc != -EINVAL || ps)
            fail_msg("%s = %s: loaded (%d)", bad[i][0], bad[i][1], rc);
        assert_non_null(strstr(err, "plugin 'seqtest'"));
        sl_config_clear(&cfg);
    }
    json_decref(p.related);
    sl_item_free(item);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char err[1024];
    int rc;

    if (!f)
        return -1;
    f->lua = sl_lua_new(NULL);
    if (!f->lua || sl_lua_load_dir(f->lua, SL_TEST_TOP_SRCDIR "/policies", err, sizeof(err)) < 0) {
        print_error("cannot load the shipped policies: %s\n", f->lua ? err : "no sandbox");
        return -1;
    }
    f->ps = load(&f->cfg, NULL, err, sizeof(err), &rc);
    if (rc != 0) {
        print_error("cannot load seqtest: %s\n", err);
        return -1;
    }
    f->item = make_item("{\"id\":\"i1\",\"creator\":\"c1\",\"title\":\"t\"}");
    *state = f;
    return f->item ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    sl_item_free(f->item);
    sl_plugins_free(f->ps);
    sl_config_clear(&f->cfg);
    sl_lua_free(f->lua);
    free(f);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_table),
        cmocka_unit_test(the_grid),
        cmocka_unit_test(options),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
