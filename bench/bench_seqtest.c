/* SPDX-License-Identifier: MIT */
/* bench_seqtest: what one wave decision of the shipped seqtest plugin costs,
 * called directly and through the loader (timed against the budget, its answer
 * checked), next to the shipped Lua wave_done it replaces.
 * Usage: bench_seqtest [SEQTEST.so] [POLICYDIR] [CALLS] */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sluice/plugin.h>

#include "lib/conf.h"
#include "lib/item.h"
#include "lua/sandbox.h"
#include "policy/plugin.h"

#define NWAVES 64

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *const related_names[] = { "dogs" };

static size_t related(void *ctx, const char **out, size_t max)
{
    (void)ctx;
    if (max < 1)
        return 0;
    out[0] = related_names[0];
    return 1;
}

/* Waves of every kind the decider meets: checkpoints and ends, good, poor
 * and undecided items, young and learned pools. */
static void waves(struct sl_plugin_wave *w)
{
    static const char *const audiences[] = { "everyone", "interest:cats", "nearby", "followers" };
    static const int ends[] = { SL_WAVE_END_EVIDENCE, SL_WAVE_END_FILL, SL_WAVE_END_TIME,
                                SL_WAVE_END_SIZE };
    for (int i = 0; i < NWAVES; i++) {
        uint64_t n = 10 + (uint64_t)(i * 37 % 400);
        memset(&w[i], 0, sizeof(w[i]));
        w[i].pub = (struct sl_wave){
            .n = 3, .ended_by = ends[i % 4], .audience = audiences[i / 4 % 4],
            .size = 500, .placed = 500, .present = 400, .fill = 0.6, .elapsed_ms = 600000,
            .limit_ms = 3600000, .impressions = n, .engaged = n * (uint64_t)(i % 7) / 20,
            .pool_trials = i % 2 ? 50000 : 100, .pool_successes = i % 2 ? 5000 : 10,
            .pool_rate = 0.1,
        };
        w[i].related = related;
    }
}

int main(int argc, char **argv)
{
    const char *so = argc > 1 ? argv[1] : "plugins/seqtest/.libs/seqtest.so";
    const char *dir = argc > 2 ? argv[2] : "policies";
    long calls = argc > 3 ? atol(argv[3]) : 1000000;
    struct sl_plugin_wave w[NWAVES];
    struct sl_plugin p;
    struct sl_config cfg;
    struct sl_plugins *ps = NULL;
    void *handle = NULL, *state = NULL;
    char err[1024];
    unsigned long sum = 0;

    json_t *up = json_pack("{s:s, s:s, s:s}", "id", "bench", "creator", "c1", "title", "t");
    struct sl_item *item = up ? sl_item_new(up) : NULL;
    json_decref(up);
    if (!item || sl_plugin_open(so, &p, &handle, err, sizeof(err)) < 0 || !p.wave_done ||
        p.init(sl_plugin_host(), (const struct sl_plugin_option[]){ { NULL, NULL } }, &state) < 0) {
        fprintf(stderr, "bench_seqtest: %s: %s\n", so, item ? err : "out of memory");
        return 1;
    }
    waves(w);
    printf("%s, %ld decisions, %d kinds of wave\n", so, calls, NWAVES);

    /* The hook alone, as a compiled caller would see it. */
    double t0 = now();
    for (long i = 0; i < calls; i++) {
        struct sl_wave_answer a;
        memset(&a, 0, sizeof(a));
        if (p.wave_done(state, item, &w[i % NWAVES].pub, &a) != 0)
            return 1;
        sum += (unsigned long)a.decision;
    }
    double t1 = now();
    printf("hook         %8.1f ns a decision\n", (t1 - t0) * 1e9 / calls);
    p.fini(state);
    dlclose(handle);

    /* Through the loader: timed against the budget, the answer checked. */
    sl_config_defaults(&cfg);
    cfg.nplugins = 1;
    cfg.plugins[0].name = strdup("seqtest");
    cfg.plugins[0].path = strdup(so);
    if (sl_plugins_load(&cfg, &ps, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench_seqtest: %s\n", err);
        return 1;
    }
    t0 = now();
    for (long i = 0; i < calls; i++) {
        struct sl_plugin_decision d;
        if (sl_plugins_wave_done(ps, item, &w[i % NWAVES], false, &d, err, sizeof(err)) != 0)
            return 1;
        sum += d.decision[0];
    }
    t1 = now();
    printf("via loader   %8.1f ns a decision\n", (t1 - t0) * 1e9 / calls);
    sl_plugins_free(ps);
    sl_config_clear(&cfg);

    /* The shipped Lua wave_done on the same waves, its arguments built once. */
    struct sl_lua *lua = sl_lua_new(NULL);
    if (!lua || sl_lua_load_dir(lua, dir, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench_seqtest: %s\n", lua ? err : "no sandbox");
        return 1;
    }
    json_t *args[NWAVES][2];
    static const char *const why[] = { "", "size", "fill", "time", "evidence" };
    for (int i = 0; i < NWAVES; i++) {
        const struct sl_wave *v = &w[i].pub;
        args[i][0] = json_pack("{s:i, s:s, s:i, s:i, s:i, s:f, s:i, s:i, s:i, s:s, s:[s]}",
                               "n", v->n, "audience", v->audience, "size", (int)v->size,
                               "placed", (int)v->placed, "present", (int)v->present,
                               "fill", v->fill, "checks", 0, "elapsed_ms", (int)v->elapsed_ms,
                               "limit_ms", (int)v->limit_ms, "ended_by", why[v->ended_by],
                               "related", "dogs");
        args[i][1] = json_pack("{s:I, s:I, s:{s:f, s:I, s:I}}", "impression",
                               (json_int_t)v->impressions, "engaged", (json_int_t)v->engaged,
                               "baseline", "rate", v->pool_rate, "trials",
                               (json_int_t)v->pool_trials, "successes",
                               (json_int_t)v->pool_successes);
    }
    long lcalls = calls / 20 > 0 ? calls / 20 : 1;
    t0 = now();
    for (long i = 0; i < lcalls; i++) {
        json_t *res = NULL;
        if (sl_lua_call_json(lua, "wave_done", item, args[i % NWAVES], 2, &res, err,
                             sizeof(err)) != 0) {
            fprintf(stderr, "bench_seqtest: wave_done: %s\n", err);
            return 1;
        }
        sum += json_is_string(res);
        json_decref(res);
    }
    t1 = now();
    printf("Lua          %8.1f ns a decision (%s, %ld calls)\n", (t1 - t0) * 1e9 / lcalls,
           sl_lua_version(lua), lcalls);
    for (int i = 0; i < NWAVES; i++) {
        json_decref(args[i][0]);
        json_decref(args[i][1]);
    }
    sl_lua_free(lua);
    sl_item_free(item);
    printf("(checksum %lu)\n", sum);
    return 0;
}
