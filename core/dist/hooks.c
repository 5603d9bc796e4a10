/* SPDX-License-Identifier: MIT */
/* Distribution's calls into the Lua policies: wave_done and what it sees, the item's context. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sluice/plugin.h>

#include "dist/internal.h"
#include "lib/id.h"
#include "lib/clock.h"
#include "lib/item.h"
#include "lua/sandbox.h"
#include "policy/policy.h"
#include "server.h"

/* {====================== Waves as hooks see them ====================== */

/* The item as hooks see it: the upload with its stored tags. The parsed
 * forms are used when the caller has them (borrowed), else the texts are. */
struct sl_item *dist_hook_item(const struct ditem *it, json_t *upload, json_t *tags)
{
    json_t *up = upload ? json_incref(upload) : dist_stored_json(it->upload);
    struct sl_item *item = up ? sl_item_new(up) : NULL;
    json_decref(up);
    json_t *tg = !item ? NULL : tags ? json_deep_copy(tags) : dist_stored_json(it->tags);
    if (tg) {
        json_decref(item->tags);
        item->tags = tg;
    } else if (item && (tags || it->tags)) {
        /* Not the tags the item has: hooks would judge another item. */
        sl_item_free(item);
        item = NULL;
    }
    return item;
}

/* The wave's counters as wave_done sees them, with the baseline of its
 * audience's pool; NULL when out of memory (a hook never sees a part of
 * them). */
static json_t *wave_stats(const struct pool *pools, const struct wave *w)
{
    json_t *stats = json_object();
    const struct pool *p = &pools[dist_source_of(w->audience)];
    uint64_t engaged = w->counts[SL_EV_LIKE] + w->counts[SL_EV_COMPLETE] + w->counts[SL_EV_SHARE];
    int rc = stats ? 0 : -1;

    for (int i = 0; rc == 0 && i < SL_EV__COUNT; i++)
        rc = json_object_set_new(stats, sl_event_names[i],
                                 json_integer((json_int_t)w->counts[i]));
    if (rc == 0)
        rc = json_object_set_new(stats, "engaged", json_integer((json_int_t)engaged));
    if (rc == 0)
        rc = json_object_set_new(stats, "baseline", json_pack("{s:f, s:I, s:I}",
            "rate", p->trials ? (double)p->successes / (double)p->trials : 0.0,
            "trials", (json_int_t)p->trials, "successes", (json_int_t)p->successes));
    if (rc < 0) {
        json_decref(stats);
        return NULL;
    }
    return stats;
}

int dist_audience_related(void *ud, const char *interest, json_t *out)
{
    struct sl_dist *d = ud;
    struct sl_aud_related rel[8];
    size_t m = sl_audience_related(d->aud, interest, rel, 8);

    for (size_t j = 0; j < m; j++)
        if (json_array_append_new(out, json_string(rel[j].interest)) < 0)
            return -1;
    return 0;
}

/* Related interests of the item's interests, from lua's related hook if
 * the policies define one, else from fallback. NULL when out of memory. */
json_t *dist_related(struct sl_lua *lua, struct ditem *it, dist_related_fn *fallback, void *ud,
                     bool live)
{
    const char *mine[16];
    size_t n = dist_item_interests(it, mine, 16);
    json_t *out = json_array();
    int added = out ? 0 : -1;

    for (size_t i = 0; added == 0 && i < n; i++) {
        json_t *arg = json_string(mine[i]), *res = NULL;
        char err[SL_LUA_ERR_MAX];
        if (!arg) {
            added = -1;
            break;
        }
        int rc = sl_lua_has_hook(lua, "related")
                     ? sl_lua_call_json(lua, "related", NULL, &arg, 1, &res, err, sizeof(err))
                     : SL_DECLINED;
        json_decref(arg);
        if (rc == 0 && json_is_array(res)) {
            size_t j;
            json_t *v;
            json_array_foreach(res, j, v)
                if (added == 0 && json_is_string(v) && sl_id_valid(json_string_value(v)))
                    added = json_array_append(out, v);
        } else {
            if (rc < 0 && live)
                sl_policy_failed("related", err);
            added = fallback(ud, mine[i], out);
        }
        json_decref(res);
    }
    if (added < 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

int dist_wave_answer_check(const char *why, const char *decision, const char *to, char *err,
                           size_t errlen)
{
    bool early = strcmp(why, "evidence") == 0;

    if (strcmp(decision, "wait") == 0 && !early) {
        snprintf(err, errlen, "wait is an answer only at an evidence checkpoint, not at the "
                 "end of a wave (ended_by \"%s\")", why);
        return -EINVAL;
    }
    if (strcmp(decision, "switch") == 0 && !dist_audience_valid(to)) {
        snprintf(err, errlen, "switch needs an audience: followers, nearby, everyone, "
                 "interest:NAME or group:NAME");
        return -EINVAL;
    }
    return 0;
}

int dist_lua_wave_done(const struct pool *pools, struct sl_lua *lua, struct sl_item *item,
                       const struct wave *w, int64_t elapsed_ms, const char *why,
                       json_t *related, json_t **res, const char **decision,
                       const char **reason, const char **to, char *err, size_t errlen)
{
    json_t *args[2] = {
        related ? json_pack("{s:i, s:s, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:s, s:O}", "n", w->n,
                            "audience", w->audience, "size", (json_int_t)w->size,
                            "placed", (json_int_t)w->placed, "present", (json_int_t)w->present,
                            "fill", w->fill, "checks", (json_int_t)w->checks,
                            "elapsed_ms", (json_int_t)elapsed_ms,
                            "limit_ms", (json_int_t)w->limit_ms, "ended_by", why,
                            "related", related)
                : NULL,
        wave_stats(pools, w),
    };
    bool nomem = !item || !args[0] || !args[1];
    *res = NULL;
    int rc = nomem ? -ENOMEM
             : sl_lua_has_hook(lua, "wave_done")
                 ? sl_lua_call_json(lua, "wave_done", item, args, 2, res, err, errlen)
                 : SL_DECLINED;
    json_decref(args[0]);
    json_decref(args[1]);

    json_t *ans = json_is_array(*res) ? json_array_get(*res, 0) : *res;
    if (rc == 0) {
        *decision = json_is_string(ans) ? json_string_value(ans)
                                        : json_string_value(json_object_get(ans, "decision"));
        *reason = json_is_object(ans) && json_is_string(json_object_get(ans, "reason"))
                      ? json_string_value(json_object_get(ans, "reason")) : "";
        *to = json_is_object(ans) ? json_string_value(json_object_get(ans, "audience")) : NULL;
        bool early = strcmp(why, "evidence") == 0;
        if (!*decision || (strcmp(*decision, "continue") != 0 && strcmp(*decision, "stop") != 0 &&
                           strcmp(*decision, "switch") != 0 &&
                           (!early || strcmp(*decision, "wait") != 0)) ||
            dist_wave_answer_check(why, *decision, *to, err, errlen) < 0) {
            snprintf(err, errlen, early ? "wave_done must answer wait, continue, stop, or "
                                          "{decision = \"switch\", audience = ...}"
                                        : "wave_done must answer continue, stop, or "
                                          "{decision = \"switch\", audience = ...} (wait "
                                          "only when wave.ended_by is \"evidence\")");
            rc = -EINVAL;
        }
    } else if (rc == SL_DECLINED) {
        snprintf(err, errlen, "no wave_done hook is loaded");
    } else if (nomem) {
        snprintf(err, errlen, "out of memory");
    }
    if (rc != 0) {
        json_decref(*res);
        *res = NULL;
    }
    return rc;
}

/* }===================================================================== */

/* {====================== The item's context =========================== */

void dist_item_context(struct sl_dist *d, struct sl_item *item)
{
    int64_t uploads = 0, rejections = 0;
    uint32_t c;

    item->creator_followers = sl_audience_user_find(d->aud, item->creator, &c) == 0
                                  ? (long long)sl_audience_followers_count(d->aud, c) : 0;
    item->platform_users = (long long)sl_audience_user_count(d->aud);
    item->platform_active = (long long)dist_active_users(d);
    dist_standing_get(d, item->creator, &uploads, &rejections);
    item->creator_uploads = uploads;
    item->creator_rejections = rejections;
}

void sl_dist_item_context(struct sl_server *srv, struct sl_item *item)
{
    if (srv->dist)
        dist_item_context(D(srv), item);
}

/* }===================================================================== */
