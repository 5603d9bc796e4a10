/* SPDX-License-Identifier: MIT */
/* Plans: the built-in one, and judging a plan hook's answer or a stored plan. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/internal.h"
#include "lib/id.h"
#include "lua/sandbox.h"

/* {====================== Plans ======================================== */

/* The built-in plan when policies define none: followers, nearby, then
 * everyone in waves growing about tenfold. */
static const struct plan_wave default_plan[] = {
    { "followers", 1000, 3600, false, 1.0, 0 },
    { "nearby", 100, 3600, false, 1.0, 0 },
    { "everyone", 100, 3600, false, 1.0, 0 },
    { "everyone", 1000, 7200, false, 1.0, 0 },
    { "everyone", 10000, 14400, false, 1.0, 0 },
};

int dist_plan_default(struct ditem *it)
{
    struct plan_wave *plan = malloc(sizeof(default_plan));
    if (!plan)
        return -ENOMEM;
    memcpy(plan, default_plan, sizeof(default_plan));
    free(it->plan);
    it->plan = plan;
    it->nplan = (int)(sizeof(default_plan) / sizeof(default_plan[0]));
    return 0;
}

bool dist_audience_valid(const char *a)
{
    if (!a)
        return false;
    if (strcmp(a, "followers") == 0 || strcmp(a, "nearby") == 0 || strcmp(a, "everyone") == 0)
        return true;
    const char *colon = strchr(a, ':');
    if (!colon || !sl_id_valid(colon + 1))
        return false;
    return (colon - a == 8 && strncmp(a, "interest", 8) == 0) ||
           (colon - a == 5 && strncmp(a, "group", 5) == 0);
}

_Static_assert(sizeof(((struct plan_wave *)0)->audience) ==
               sizeof(((struct sl_lua_wave *)0)->audience), "audiences copy whole");

/* Judge a plan hook's answer, [{audience, size, limit_s, review, fill,
 * check}] as read by the sandbox, and make it the item's plan. */
int dist_plan_take(const struct sl_lua_wave *v, size_t n, struct ditem *it, char *err,
                   size_t errlen)
{
    if (n == 0 || n > MAX_PLAN) {
        snprintf(err, errlen, "plan must return a list of 1 to %d waves", MAX_PLAN);
        return -EINVAL;
    }
    struct plan_wave *plan = calloc(n, sizeof(*plan));
    if (!plan) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const struct sl_lua_wave *w = &v[i];
        if (!dist_audience_valid(w->audience) || !w->size_ok || w->size < 0 ||
            w->size > MAX_WAVE_SIZE || w->limit < 0 ||
            (w->limit > 0 && (w->limit_s < 1 || w->limit_s > 30 * 86400)) || w->review < 0 ||
            w->fill < 0 || (w->fill > 0 && !(w->fill_share > 0 && w->fill_share <= 1)) ||
            w->check < 0 || (w->check > 0 && (w->check_n < 0 || w->check_n > MAX_WAVE_SIZE))) {
            snprintf(err, errlen, "plan wave %zu must be {audience = followers|nearby|everyone|"
                     "interest:NAME|group:NAME, size = 0..%d, limit_s = 1..2592000, "
                     "review = boolean, fill = a share in (0, 1], check = 0..%d}", i + 1,
                     MAX_WAVE_SIZE, MAX_WAVE_SIZE);
            free(plan);
            return -EINVAL;
        }
        memcpy(plan[i].audience, w->audience, sizeof(plan[i].audience));
        plan[i].size = (uint32_t)w->size;
        plan[i].limit_s = w->limit > 0 ? (uint32_t)w->limit_s : 3600;
        plan[i].review = w->review > 0 && w->review_on;
        plan[i].fill = w->fill > 0 ? w->fill_share : 1.0;
        plan[i].check = w->check > 0 ? (uint32_t)w->check_n : 0;
    }
    free(it->plan);
    it->plan = plan;
    it->nplan = (int)n;
    return 0;
}

/* The same for a plan as the store keeps it (JSON). */
int dist_plan_check(json_t *v, struct ditem *it, char *err, size_t errlen)
{
    struct sl_lua_wave waves[MAX_PLAN];
    size_t n = json_is_array(v) && json_array_size(v) <= MAX_PLAN ? json_array_size(v) : 0;

    for (size_t i = 0; i < n; i++) {
        json_t *w = json_array_get(v, i), *x;
        const char *a = json_string_value(json_object_get(w, "audience"));
        struct sl_lua_wave *o = &waves[i];
        memset(o, 0, sizeof(*o));
        if (a && strlen(a) < sizeof(o->audience))
            strcpy(o->audience, a);
        x = json_object_get(w, "size");
        o->size_ok = json_is_integer(x);
        o->size = json_integer_value(x);
        x = json_object_get(w, "limit_s");
        o->limit = !x ? 0 : json_is_integer(x) ? 1 : -1;
        o->limit_s = json_integer_value(x);
        x = json_object_get(w, "review");
        o->review = !x ? 0 : json_is_boolean(x) ? 1 : -1;
        o->review_on = json_is_true(x);
        x = json_object_get(w, "fill");
        o->fill = !x ? 0 : json_is_number(x) ? 1 : -1;
        o->fill_share = json_number_value(x);
        x = json_object_get(w, "check");
        o->check = !x ? 0 : json_is_integer(x) ? 1 : -1;
        o->check_n = json_integer_value(x);
    }
    return dist_plan_take(waves, n, it, err, errlen);
}

enum sl_aud_source dist_source_of(const char *audience)
{
    if (strcmp(audience, "followers") == 0) return SL_AUD_FOLLOWERS;
    if (strcmp(audience, "nearby") == 0) return SL_AUD_NEARBY;
    if (strncmp(audience, "interest:", 9) == 0) return SL_AUD_INTEREST;
    if (strncmp(audience, "group:", 6) == 0) return SL_AUD_GROUP;
    return SL_AUD_EVERYONE;
}

/* }===================================================================== */
