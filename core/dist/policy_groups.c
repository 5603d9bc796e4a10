/* SPDX-License-Identifier: MIT */
/* The groups the policies' groups(user) hook names, for group:NAME audiences. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "dist/internal.h"
#include "lib/clock.h"
#include "lib/grow.h"
#include "lib/id.h"
#include "lib/log.h"
#include "lua/sandbox.h"
#include "policy/policy.h"
#include "server.h"

/* {====================== Policy groups ================================ */

/*
 * The groups(user) hook names groups a user belongs to beside the default
 * circles and interests; "group:NAME" audiences find them here. A user's
 * groups are asked for when the user is created or changed, and for every
 * user by a pass that runs a slice of each tick after the policies load or
 * reload; until the pass reaches a user, the user keeps what the previous
 * policies said. A hook that fails leaves that user in no policy group:
 * fewer audiences, never more.
 */
#define PGROUPS_MAX 32              /* groups per user */
#define PGROUPS_SLICE_MS 20         /* of a tick, at most, for the pass */

struct pgroup {
    uint32_t *users;
    size_t n, cap;
};

struct upgroups {
    uint32_t *g;                    /* indices into pgroups */
    size_t n;
};

int dist_pgroup_source(void *ctx, const char *name, struct sl_aud_list *out)
{
    struct sl_dist *d = ctx;
    json_t *i = json_object_get(d->pgroup_index, name);

    if (!sl_id_valid(name))
        return -EINVAL;
    *out = (struct sl_aud_list){ NULL, 0 };
    if (i) {
        const struct pgroup *g = &d->pgroups[json_integer_value(i)];
        *out = (struct sl_aud_list){ g->users, g->n };
    }
    return 0;
}

static int pgroup_intern(struct sl_dist *d, const char *name, uint32_t *out)
{
    json_t *i = json_object_get(d->pgroup_index, name);
    if (i) {
        *out = (uint32_t)json_integer_value(i);
        return 0;
    }
    if (sl_grow((void **)&d->pgroups, &d->pgroups_cap, d->npgroups + 1,
                sizeof(*d->pgroups)) < 0)
        return -ENOMEM;
    if (json_object_set_new(d->pgroup_index, name, json_integer((json_int_t)d->npgroups)) < 0)
        return -ENOMEM;
    *out = (uint32_t)d->npgroups++;
    return 0;
}

/* Put user u in exactly the groups g[0..n) (indices, no repeats). */
static int pgroups_set(struct sl_dist *d, uint32_t u, const uint32_t *g, size_t n)
{
    if (sl_grow((void **)&d->upg, &d->upg_cap, (size_t)u + 1, sizeof(*d->upg)) < 0)
        return -ENOMEM;
    struct upgroups *mine = &d->upg[u];
    uint32_t *keep = n ? malloc(n * sizeof(*keep)) : NULL;
    if (n && !keep)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        struct pgroup *grp = &d->pgroups[g[i]];
        if (sl_grow((void **)&grp->users, &grp->cap, grp->n + 1, sizeof(*grp->users)) < 0) {
            free(keep);
            return -ENOMEM;
        }
    }
    /* Out of the old groups (swap with the last: order means nothing),
     * into the new ones. */
    for (size_t i = 0; i < mine->n; i++) {
        struct pgroup *grp = &d->pgroups[mine->g[i]];
        for (size_t j = 0; j < grp->n; j++)
            if (grp->users[j] == u) {
                grp->users[j] = grp->users[--grp->n];
                break;
            }
    }
    for (size_t i = 0; i < n; i++) {
        struct pgroup *grp = &d->pgroups[g[i]];
        grp->users[grp->n++] = u;
        keep[i] = g[i];
    }
    free(mine->g);
    *mine = (struct upgroups){ keep, n };
    return 0;
}

static int add_default_group(void *ctx, const char *name)
{
    return json_array_append_new(ctx, json_string(name));
}

/* The user as the hook sees it; NULL when out of memory. */
static json_t *hook_user(struct sl_dist *d, uint32_t u)
{
    const char *names[SL_AUD_INTERESTS_MAX];
    size_t n = sl_audience_user_interests(d->aud, u, names, SL_AUD_INTERESTS_MAX);
    const char *city = sl_audience_user_city(d->aud, u);
    json_t *interests = json_array(), *groups = json_array();
    int rc = interests && groups ? 0 : -1;

    for (size_t i = 0; rc == 0 && i < n && i < SL_AUD_INTERESTS_MAX; i++)
        rc = json_array_append_new(interests, json_string(names[i]));
    if (rc == 0)
        rc = sl_audience_groups(d->aud, u, add_default_group, groups);
    if (rc < 0) {
        json_decref(interests);
        json_decref(groups);
        return NULL;
    }
    return json_pack("{s:s, s:o, s:o, s:I, s:I, s:o}", "id", sl_audience_user_id(d->aud, u),
                     "city", city ? json_string(city) : json_null(), "interests", interests,
                     "followers", (json_int_t)sl_audience_followers_count(d->aud, u),
                     "following", (json_int_t)sl_audience_following_count(d->aud, u),
                     "groups", groups);
}

/* Ask the groups hook about user u and put the user where it says. */
void dist_ask_groups(struct sl_dist *d, struct sl_lua *lua, uint32_t u)
{
    char err[SL_LUA_ERR_MAX];
    uint32_t g[PGROUPS_MAX];
    size_t n = 0, i;
    json_t *arg = hook_user(d, u), *res = NULL, *v;
    bool nomem = !arg;

    int rc = nomem ? -ENOMEM
             : sl_lua_call_json(lua, "groups", NULL, &arg, 1, &res, err, sizeof(err));
    json_decref(arg);
    if (rc == 0 && json_is_object(res) && json_object_size(res) == 0) {
        json_decref(res);           /* {} is an empty list */
        if (!(res = json_array())) {
            nomem = true;
            rc = -ENOMEM;
        }
    }
    if (rc == 0 && (!json_is_array(res) || json_array_size(res) > PGROUPS_MAX)) {
        snprintf(err, sizeof(err), "groups must return a list of at most %d names",
                 PGROUPS_MAX);
        rc = -EINVAL;
    }
    json_array_foreach(rc == 0 ? res : NULL, i, v) {
        uint32_t x;
        if (!json_is_string(v) || !sl_id_valid(json_string_value(v))) {
            snprintf(err, sizeof(err), "group %zu is not a name of 1 to %d of "
                     "A-Z a-z 0-9 _ . : @ -", i + 1, SL_ID_MAX);
            rc = -EINVAL;
            break;
        }
        if ((rc = pgroup_intern(d, json_string_value(v), &x)) < 0) {
            nomem = true;
            break;
        }
        bool seen = false;
        for (size_t j = 0; j < n; j++)
            seen |= g[j] == x;
        if (!seen)
            g[n++] = x;
    }
    json_decref(res);
    /* Short of memory the user keeps the groups it has: not the hook's fault. */
    if (nomem || pgroups_set(d, u, rc < 0 ? NULL : g, rc < 0 ? 0 : n) < 0) {
        sl_err("distribution: out of memory placing user %s in its groups; it keeps "
               "those it had", sl_audience_user_id(d->aud, u));
        return;
    }
    if (rc < 0) {
        char why[SL_LUA_ERR_MAX + 160];
        snprintf(why, sizeof(why), "user %s: %s", sl_audience_user_id(d->aud, u), err);
        sl_policy_failed("groups", why);
    }
}

/* After the policies load: a pass over every user, or no policy groups. */
void dist_pgroups_policy_changed(struct sl_dist *d, struct sl_lua *lua)
{
    if (lua && sl_lua_has_hook(lua, "groups")) {
        d->pgroups_next = 0;
        return;
    }
    d->pgroups_next = SL_AUD_NONE;
    for (size_t u = 0; u < d->upg_cap; u++)
        if (d->upg[u].n)
            pgroups_set(d, (uint32_t)u, NULL, 0);
}

/* A slice of the pass, from the tick. */
void dist_pgroups_step(struct sl_dist *d)
{
    struct sl_lua *lua = sl_policy_lua(d->srv);
    int64_t t0 = sl_now_ms();
    size_t users = sl_audience_user_count(d->aud);

    if (d->pgroups_next == SL_AUD_NONE)
        return;
    if (!lua || !sl_lua_has_hook(lua, "groups")) {
        d->pgroups_next = SL_AUD_NONE;
        return;
    }
    while (d->pgroups_next < users && sl_now_ms() - t0 < PGROUPS_SLICE_MS)
        dist_ask_groups(d, lua, d->pgroups_next++);
    if (d->pgroups_next >= users)
        d->pgroups_next = SL_AUD_NONE;
}

void dist_pgroups_free(struct sl_dist *d)
{
    for (size_t i = 0; i < d->npgroups; i++)
        free(d->pgroups[i].users);
    free(d->pgroups);
    for (size_t u = 0; u < d->upg_cap; u++)
        free(d->upg[u].g);
    free(d->upg);
    json_decref(d->pgroup_index);
}

/* }===================================================================== */
