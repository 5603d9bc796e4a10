/* SPDX-License-Identifier: MIT */
/* bench_hooks: what one policy hook call costs in the sandbox, with the
 * shipped policies: tag(item), review(item) and plan(item), the three an
 * approved upload meets. Usage: bench_hooks [POLICYDIR] [CALLS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sluice/plugin.h>

#include "lib/item.h"
#include "lua/sandbox.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct sl_item *sample(void)
{
    json_t *up = json_pack("{s:s, s:s, s:s, s:{s:f, s:f, s:f, s:f, s:f}}",
                           "id", "bench", "creator", "c1", "title", "a day at the beach",
                           "signals", "face.age", 31.0, "emotion.joy", 0.8,
                           "emotion.sadness", 0.2, "scene.outdoor", 0.9, "music.bpm", 120.0);
    struct sl_item *item = sl_item_new(up);
    json_decref(up);
    return item;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "policies";
    long calls = argc > 2 ? atol(argv[2]) : 100000;
    char err[SL_LUA_ERR_MAX];
    struct sl_lua *lua = sl_lua_new(NULL);

    if (!lua || sl_lua_load_dir(lua, dir, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench_hooks: %s\n", lua ? err : "no sandbox");
        return 1;
    }
    const char *hooks[] = { "tag", "review" };
    printf("policies %s (%s), %ld calls each\n", dir, sl_lua_version(lua), calls);
    for (int h = 0; h < 2; h++) {
        double t0 = now();
        for (long i = 0; i < calls; i++) {
            struct sl_item *item = sample();
            struct sl_review rv;
            int rc = h == 0 ? sl_lua_tag(lua, item, err, sizeof(err))
                            : sl_lua_review(lua, item, &rv, err, sizeof(err));
            sl_item_free(item);
            if (rc < 0) {
                fprintf(stderr, "bench_hooks: %s: %s\n", hooks[h], err);
                return 1;
            }
        }
        double t1 = now();
        /* The item's construction is part of every real call; measure it
         * alone so the hook's own share shows too. */
        for (long i = 0; i < calls; i++)
            sl_item_free(sample());
        double t2 = now();
        printf("%-7s %8.2f us a call (%.2f us without building the item)\n", hooks[h],
               (t1 - t0) * 1e6 / calls, ((t1 - t0) - (t2 - t1)) * 1e6 / calls);
    }
    /* plan(item) on an item its tag hook has run on, as on an upload; the
     * platform's size as bench/run's full pipeline sees it. */
    double spent = 0;
    for (long i = 0; i < calls; i++) {
        struct sl_item *item = sample();
        struct sl_lua_wave waves[16];
        size_t n = 0;
        item->creator_followers = 500;
        item->platform_users = item->platform_active = 600;
        int rc = sl_lua_tag(lua, item, err, sizeof(err));
        double t0 = now();
        if (rc == 0)
            rc = sl_lua_plan(lua, item, waves, 16, &n, err, sizeof(err));
        spent += now() - t0;
        sl_item_free(item);
        if (rc < 0 || n == 0) {
            fprintf(stderr, "bench_hooks: plan: %s\n", rc < 0 ? err : "no waves");
            return 1;
        }
    }
    printf("%-7s %8.2f us a call (the item built and tagged before)\n", "plan",
           spent * 1e6 / calls);
    printf("memory  %zu bytes in the sandbox\n", sl_lua_memory(lua));
    sl_lua_free(lua);
    return 0;
}
