/* SPDX-License-Identifier: MIT */
/* The plugin loader: ABI checks, options, hooks in order, failures. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <event2/buffer.h>

#include "lib/conf.h"
#include "lib/item.h"
#include "lib/stats.h"
#include "policy/plugin.h"

static char path[4096];

static const char *so(const char *name)
{
    const char *b = getenv("SLUICE_BUILDDIR");
    snprintf(path, sizeof(path), "%s/tests/plugins/.libs/%s.so", b ? b : ".", name);
    return path;
}

static void refuse(const char *name, int expect_rc, const char *want1, const char *want2)
{
    struct sl_plugin p;
    void *h = NULL;
    char err[1024] = "";
    int rc = sl_plugin_open(so(name), &p, &h, err, sizeof(err));
    assert_int_equal(rc, expect_rc);
    assert_null(h);
    assert_non_null(strstr(err, want1));
    if (want2)
        assert_non_null(strstr(err, want2));
}

static void wrong_major_refused(void **state)
{
    (void)state;
    refuse("abi_major2", -EPROTO, "plugin ABI 2.0", "speaks ABI 1.1");
}

static void newer_minor_refused(void **state)
{
    (void)state;
    refuse("abi_minor2", -EPROTO, "plugin ABI 1.2", "speaks ABI 1.1");
}

static void missing_file_refused(void **state)
{
    (void)state;
    refuse("no_such_plugin", -ENOENT, "no_such_plugin", NULL);
}

static void good_plugin_runs(void **state)
{
    struct sl_config cfg;
    struct sl_plugins *ps = NULL;
    char err[1024] = "";
    (void)state;

    sl_config_defaults(&cfg);
    cfg.nplugins = 1;
    cfg.plugins[0].name = strdup("abi_good");
    cfg.plugins[0].path = strdup(so("abi_good"));
    assert_int_equal(sl_plugins_load(&cfg, &ps, err, sizeof(err)), 0);

    json_t *up = json_pack("{s:s, s:s, s:s}", "id", "i1", "creator", "c1",
                           "title", "a plugin-reject title");
    struct sl_item *item = sl_item_new(up);
    json_decref(up);
    assert_non_null(item);
    assert_int_equal(sl_plugins_tag(ps, item, err, sizeof(err)), 0);
    json_t *tag = json_object_get(item->tags, "abi.good");
    assert_non_null(tag);
    assert_string_equal(json_string_value(json_object_get(tag, "source")), "abi_good");
    assert_int_equal(sl_plugins_review(ps, item, err, sizeof(err)), 0);
    assert_int_equal(json_array_size(item->plugin_verdicts), 1);
    json_t *v = json_array_get(item->plugin_verdicts, 0);
    assert_string_equal(json_string_value(json_object_get(v, "verdict")), "reject");
    assert_string_equal(json_string_value(json_object_get(v, "plugin")), "abi_good");

    json_t *desc = sl_plugins_describe(ps);
    assert_int_equal(json_array_size(desc), 1);
    json_decref(desc);
    sl_item_free(item);
    sl_plugins_free(ps);
    sl_config_clear(&cfg);
}

static void load_failure_names_plugin(void **state)
{
    struct sl_config cfg;
    struct sl_plugins *ps = NULL;
    char err[1024] = "";
    (void)state;

    sl_config_defaults(&cfg);
    cfg.nplugins = 2;
    cfg.plugins[0].name = strdup("abi_good");
    cfg.plugins[0].path = strdup(so("abi_good"));
    cfg.plugins[1].name = strdup("abi_major2");
    cfg.plugins[1].path = strdup(so("abi_major2"));
    assert_int_equal(sl_plugins_load(&cfg, &ps, err, sizeof(err)), -EPROTO);
    assert_null(ps);
    assert_non_null(strstr(err, "plugin 'abi_major2'"));
    sl_config_clear(&cfg);
}

/* {====================== ABI 1.1 beside 1.0 ========================== */

static struct sl_plugins *load_two(struct sl_config *cfg, int budget_ms)
{
    struct sl_plugins *ps = NULL;
    char err[1024] = "";

    sl_config_defaults(cfg);
    cfg->plugin_budget_ms = budget_ms;
    cfg->nplugins = 2;
    cfg->plugins[0].name = strdup("abi10");
    cfg->plugins[0].path = strdup(so("abi10"));
    cfg->plugins[1].name = strdup("dist_probe");
    cfg->plugins[1].path = strdup(so("dist_probe"));
    if (sl_plugins_load(cfg, &ps, err, sizeof(err)) != 0)
        fail_msg("loading abi10 and dist_probe: %s", err);
    return ps;
}

static struct sl_item *titled(const char *title)
{
    json_t *up = json_pack("{s:s, s:s, s:s, s:{s:f, s:f}}", "id", "i1", "creator", "c1",
                           "title", title, "tags", "interest.cats", 0.8, "music", 0.4);
    struct sl_item *item = sl_item_new(up);
    json_decref(up);
    assert_non_null(item);
    return item;
}

static size_t no_related(void *ctx, const char **out, size_t max)
{
    (void)ctx;
    (void)out;
    (void)max;
    return 0;
}

static struct sl_plugin_wave a_wave(int ended_by)
{
    struct sl_plugin_wave w = { .pub = { .n = 1, .ended_by = ended_by, .audience = "everyone",
                                         .size = 10, .placed = 10, .present = 10, .fill = 1 },
                                .related = no_related };
    return w;
}

static json_t *hooks_of(json_t *desc, const char *name)
{
    size_t i;
    json_t *p;
    json_array_foreach(desc, i, p)
        if (strcmp(json_string_value(json_object_get(p, "name")), name) == 0)
            return json_object_get(p, "hooks");
    return NULL;
}

/* A 1.0 plugin, whose descriptor is followed in memory by junk where 1.1's
 * hooks would be, loads beside a 1.1 plugin: only what it declared is
 * read, its tag and review hooks run, and the 1.1 plugin's hooks answer. */
static void abi10_beside_abi11(void **state)
{
    struct sl_config cfg;
    char err[1024] = "";
    (void)state;
    struct sl_plugins *ps = load_two(&cfg, 1000);

    json_t *desc = sl_plugins_describe(ps);
    json_t *want10 = json_pack("[s, s]", "tag", "review");
    json_t *want11 = json_pack("[s, s, s]", "plan", "wave_done", "traffic");
    assert_true(json_equal(hooks_of(desc, "abi10"), want10));
    assert_true(json_equal(hooks_of(desc, "dist_probe"), want11));
    json_decref(want10);
    json_decref(want11);
    json_decref(desc);

    struct sl_item *item = titled("abi10-reject p-cont");
    assert_int_equal(sl_plugins_tag(ps, item, err, sizeof(err)), 0);
    assert_non_null(json_object_get(item->tags, "abi10.ran"));
    assert_int_equal(sl_plugins_review(ps, item, err, sizeof(err)), 0);
    assert_int_equal(json_array_size(item->plugin_verdicts), 1);

    assert_true(sl_plugins_have(ps, "wave_done"));
    assert_true(sl_plugins_have(ps, "plan"));
    struct sl_plugin_wave w = a_wave(SL_WAVE_END_SIZE);
    struct sl_plugin_decision pd;
    assert_int_equal(sl_plugins_wave_done(ps, item, &w, true, &pd, err, sizeof(err)), 0);
    assert_string_equal(pd.plugin, "dist_probe");
    assert_string_equal(pd.decision, "continue");
    assert_string_equal(pd.reason, "the probe says continue");
    sl_item_free(item);

    /* The plan, and a title the probe has no opinion on. */
    struct sl_plan_wave pw[SL_PLAN_MAX];
    size_t n = 0;
    char who[64];
    item = titled("p-plan");
    assert_int_equal(sl_plugins_plan(ps, item, pw, SL_PLAN_MAX, &n, true, who, sizeof(who), err,
                                     sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_string_equal(who, "dist_probe");
    assert_string_equal(pw[1].audience, "everyone");
    assert_int_equal(pw[1].size, 3);
    assert_int_equal(sl_plugins_wave_done(ps, item, &w, true, &pd, err, sizeof(err)),
                     SL_DECLINED);
    sl_item_free(item);

    struct sl_traffic t;
    assert_int_equal(sl_plugins_traffic(ps, &t, true, who, sizeof(who), err, sizeof(err)), 0);
    assert_true(t.private_share == 0.45 && t.report_rate == 0.001);
    assert_true(t.ordinary_share == SL_TRAFFIC_UNSET && t.away_s == SL_TRAFFIC_UNSET);
    sl_plugins_free(ps);
    sl_config_clear(&cfg);
}

/* Answers out of shape, errors and a call over the budget are refused,
 * each named and counted for the plugin; a replay's are not counted. */
static void bad_answers_refused(void **state)
{
    static const struct {
        const char *title;
        const char *why;
    } cases[] = {
        { "p-garbage", "decision 42" },
        { "p-noreason", "without a reason" },
        { "p-error", "wave_done failed: Input/output error" },
        { "p-unterminated", "terminating NUL" },
        { "p-sleep", "blocked on the way), over plugin_budget_ms (100 ms)" },
        { "p-spin", "over plugin_budget_ms (100 ms)" },
    };
    struct sl_config cfg;
    char err[1024];
    (void)state;
    struct sl_plugins *ps = load_two(&cfg, 100);
    struct sl_plugin_wave w = a_wave(SL_WAVE_END_TIME);
    struct sl_plugin_decision pd;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_item *item = titled(cases[i].title);
        err[0] = '\0';
        assert_int_equal(sl_plugins_wave_done(ps, item, &w, true, &pd, err, sizeof(err)), -EIO);
        assert_string_equal(pd.plugin, "dist_probe");
        if (!strstr(err, "plugin dist_probe: ") || !strstr(err, cases[i].why))
            fail_msg("%s: err \"%s\" does not say \"%s\"", cases[i].title, err, cases[i].why);
        sl_item_free(item);
    }
    /* Not live: refused just the same, counted nowhere. */
    struct sl_item *item = titled("p-garbage");
    assert_int_equal(sl_plugins_wave_done(ps, item, &w, false, &pd, err, sizeof(err)), -EIO);
    sl_item_free(item);
    /* The engine's own refusal counts for the plugin too. */
    sl_plugins_refused(ps, "dist_probe", "wave_done", "a wait at an end", true);

    struct sl_plan_wave pw[SL_PLAN_MAX];
    size_t n = 0;
    char who[64];
    item = titled("p-plan-zero");
    assert_int_equal(sl_plugins_plan(ps, item, pw, SL_PLAN_MAX, &n, true, who, sizeof(who), err,
                                     sizeof(err)), -EIO);
    assert_non_null(strstr(err, "plan answered 0 waves"));
    sl_item_free(item);

    struct evbuffer *out = evbuffer_new();
    sl_plugins_metrics(ps, out);
    evbuffer_add(out, "", 1);
    const char *text = (const char *)evbuffer_pullup(out, -1);
    assert_non_null(strstr(text, "sluice_plugin_failures_total{plugin=\"dist_probe\","
                                 "hook=\"wave_done\"} 7\n"));
    assert_non_null(strstr(text, "sluice_plugin_failures_total{plugin=\"dist_probe\","
                                 "hook=\"plan\"} 1\n"));
    assert_null(strstr(text, "plugin=\"abi10\""));
    evbuffer_free(out);
    sl_plugins_free(ps);
    sl_config_clear(&cfg);
}

/* The host's sequential test is lib/stats' own, parameters checked. */
static void host_sequential_is_lib_stats(void **state)
{
    const struct sl_host_api *host = sl_plugin_host();
    struct sl_seq_params p = SL_SEQ_PARAMS_INIT;
    struct sl_stats_params sp;
    struct sl_stats_sample sample = { .trials = 120, .successes = 30 };
    struct sl_stats_decision d;
    double lo, hi, prob;
    (void)state;

    sl_stats_params_default(&sp);
    assert_int_equal(sl_stats_decide(&sample, 0.1, &sp, &d), 0);
    int v = host->sequential(&p, 30, 120, 0.1, &lo, &hi, &prob);
    assert_int_equal(v, (int)d.verdict);
    assert_true(lo == d.lower && hi == d.upper && prob == d.prob_above);
    assert_int_equal(v, SL_SEQ_CONTINUE);

    p.method = SL_SEQ_WILSON;
    p.z = 1.64;
    p.min_trials = 20;
    sp.method = SL_STATS_WILSON;
    sp.z = 1.64;
    sp.min_trials = 20;
    sample = (struct sl_stats_sample){ .trials = 30, .successes = 0 };
    assert_int_equal(sl_stats_decide(&sample, 0.1, &sp, &d), 0);
    assert_int_equal(host->sequential(&p, 0, 30, 0.1, NULL, &hi, &prob), SL_SEQ_STOP);
    assert_true(hi == d.upper && prob != prob);

    assert_int_equal(host->sequential(&p, 31, 30, 0.1, NULL, NULL, NULL), -EINVAL);
    assert_int_equal(host->sequential(&p, 1, 30, 1.5, NULL, NULL, NULL), -EINVAL);
    p.z = -1;
    assert_int_equal(host->sequential(&p, 1, 30, 0.1, NULL, NULL, NULL), -EINVAL);
    p = (struct sl_seq_params)SL_SEQ_PARAMS_INIT;
    p.struct_size = 4;
    assert_int_equal(host->sequential(&p, 1, 30, 0.1, NULL, NULL, NULL), -EINVAL);
    assert_int_equal(host->sequential(NULL, 1, 30, 0.1, NULL, NULL, NULL), -EINVAL);
}

/* The item's tags and counts as host functions give them. */
static void host_item_functions(void **state)
{
    const struct sl_host_api *host = sl_plugin_host();
    struct sl_item *item = titled("t");
    double c = -1;
    int64_t v = -1;
    void *cursor = NULL;
    const char *name;
    int seen = 0;
    (void)state;

    item->creator_followers = 1234;
    item->platform_active = 77;
    assert_int_equal(host->item_tag_get(item, "interest.cats", &c), 0);
    assert_true(c > 0.79 && c < 0.81);
    assert_int_equal(host->item_tag_get(item, "nope", &c), -ENOENT);
    while ((name = host->item_tag_next(item, &cursor, &c)))
        seen += strcmp(name, "interest.cats") == 0 ? 1 : strcmp(name, "music") == 0 ? 10 : 100;
    assert_int_equal(seen, 11);
    assert_int_equal(host->item_count(item, "creator.followers", &v), 0);
    assert_int_equal(v, 1234);
    assert_int_equal(host->item_count(item, "platform.active", &v), 0);
    assert_int_equal(v, 77);
    assert_int_equal(host->item_count(item, "creator.height", &v), -ENOENT);
    sl_item_free(item);
}

/* }===================================================================== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wrong_major_refused),
        cmocka_unit_test(newer_minor_refused),
        cmocka_unit_test(missing_file_refused),
        cmocka_unit_test(good_plugin_runs),
        cmocka_unit_test(load_failure_names_plugin),
        cmocka_unit_test(abi10_beside_abi11),
        cmocka_unit_test(bad_answers_refused),
        cmocka_unit_test(host_sequential_is_lib_stats),
        cmocka_unit_test(host_item_functions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
