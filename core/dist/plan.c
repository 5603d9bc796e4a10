/* SPDX-License-Identifier: MIT */
/* Plans: the built-in one, and judging a plan hook's answer or a stored plan. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/internal.h"
#include "lib/id.h"
#include "lib/mix.h"
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

struct plan *dist_plan_hold(struct plan *p)
{
    if (p)
        p->refs++;
    return p;
}

void dist_plan_put(struct plan *p)
{
    if (p && --p->refs == 0)
        free(p);
}

void dist_plan_set(struct ditem *it, struct plan *p)
{
    dist_plan_put(it->plan);
    it->plan = p;
}

void dist_plans_free(struct sl_dist *d)
{
    for (size_t i = 0; i < PLANS_KEPT; i++) {
        dist_plan_put(d->plans[i]);
        d->plans[i] = NULL;
    }
}

static uint64_t wave_hash(uint64_t h, const struct plan_wave *w)
{
    uint64_t fill;

    memcpy(&fill, &w->fill, sizeof(fill));
    h = sl_hash(w->audience, strlen(w->audience), h);
    h = sl_mix64(h ^ ((uint64_t)w->size << 32 | w->limit_s));
    h = sl_mix64(h ^ fill);
    return sl_mix64(h ^ ((uint64_t)w->check << 1 | w->review));
}

static bool waves_alike(const struct plan_wave *a, const struct plan_wave *b, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(a[i].audience, b[i].audience) != 0 || a[i].size != b[i].size ||
            a[i].limit_s != b[i].limit_s || a[i].review != b[i].review ||
            a[i].fill != b[i].fill || a[i].check != b[i].check)
            return false;
    return true;
}

/* A plan of waves w[0..n), held for the caller: the one made lately when
 * it is alike (each slot of d->plans keeps the last plan of its hash),
 * else a new one, kept in its slot; NULL when out of memory. */
static struct plan *plan_make(struct sl_dist *d, const struct plan_wave *w, int n)
{
    uint64_t h = (uint64_t)n;

    for (int i = 0; i < n; i++)
        h = wave_hash(h, &w[i]);
    struct plan **slot = &d->plans[h % PLANS_KEPT], *p = *slot;
    if (p && p->hash == h && p->n == n && waves_alike(p->wave, w, n))
        return dist_plan_hold(p);
    if (!(p = malloc(sizeof(*p) + (size_t)n * sizeof(*w))))
        return NULL;
    *p = (struct plan){ .refs = 2, .n = n, .hash = h };     /* the caller's, the slot's */
    memcpy(p->wave, w, (size_t)n * sizeof(*w));
    dist_plan_put(*slot);
    *slot = p;
    return p;
}

int dist_plan_default(struct sl_dist *d, struct ditem *it)
{
    struct plan *p = plan_make(d, default_plan, (int)(sizeof(default_plan) /
                                                      sizeof(default_plan[0])));
    if (!p)
        return -ENOMEM;
    dist_plan_set(it, p);
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
int dist_plan_take(struct sl_dist *d, const struct sl_lua_wave *v, size_t n, struct ditem *it,
                   char *err, size_t errlen)
{
    struct plan_wave plan[MAX_PLAN];

    if (n == 0 || n > MAX_PLAN) {
        snprintf(err, errlen, "plan must return a list of 1 to %d waves", MAX_PLAN);
        return -EINVAL;
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
            return -EINVAL;
        }
        memcpy(plan[i].audience, w->audience, sizeof(plan[i].audience));
        plan[i].size = (uint32_t)w->size;
        plan[i].limit_s = w->limit > 0 ? (uint32_t)w->limit_s : 3600;
        plan[i].review = w->review > 0 && w->review_on;
        plan[i].fill = w->fill > 0 ? w->fill_share : 1.0;
        plan[i].check = w->check > 0 ? (uint32_t)w->check_n : 0;
    }
    struct plan *p = plan_make(d, plan, (int)n);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    dist_plan_set(it, p);
    return 0;
}

/* The same for a plan as the store keeps it (JSON). */
int dist_plan_check(struct sl_dist *d, json_t *v, struct ditem *it, char *err, size_t errlen)
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
    return dist_plan_take(d, waves, n, it, err, errlen);
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
