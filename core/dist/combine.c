/* SPDX-License-Identifier: MIT */
/* Plugins and Lua together: who decides a plan, a wave, and the traffic settings. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

#include "dist/internal.h"
#include "lib/item.h"
#include "lib/text.h"
#include "lua/sandbox.h"
#include "policy/plugin.h"
#include "policy/policy.h"
#include "server.h"

/*
 * One rule for the three decisions (docs/plugins.md, "Plugins and policies
 * together"): the plugins in their configured order, then the Lua hook.
 * The first plugin that answers anything but SL_DECLINED speaks for the
 * plugins, and the later ones are not asked. The Lua hook is asked next; it
 * sees that answer in item.plugin_decisions, and its own answer replaces
 * the plugin's only when it is more cautious:
 *   - a wave: stop > wait > switch > continue (wait only at a checkpoint);
 *   - a plan: no more waves, none larger, people asked before every wave
 *     the plugin asked them for, and fewer waves, a smaller one or one
 *     more review;
 *   - traffic: the plugin's value of every setting it gives stands, but a
 *     lower report_threshold or report_rate (reports pull an item back
 *     sooner); Lua's values fill the settings no plugin gave.
 * When no plugin answers, the Lua hook decides as it always did. A failure
 * of either side (an error, an answer out of range, a plugin over its time
 * budget) holds the item for people; for traffic the failed answer is
 * dropped and the rest apply.
 */

/* {====================== Waves ======================================== */

/* How far an answer holds an item back. */
static int caution(const char *decision)
{
    return strcmp(decision, "stop") == 0 ? 3 : strcmp(decision, "wait") == 0 ? 2
           : strcmp(decision, "switch") == 0 ? 1 : 0;
}

/* The related interests, worked out once per decision, and only if asked. */
struct related_ctx {
    const struct dist_view *v;
    struct ditem *it;
    json_t *list;
    bool tried;
};

static json_t *related_list(struct related_ctx *rc)
{
    const struct dist_view *v = rc->v;

    if (!rc->tried) {
        rc->tried = true;
        rc->list = dist_related(v->related_lua, rc->it, v->related, v->ud, v->live);
    }
    return rc->list;
}

static size_t related_names(void *ctx, const char **out, size_t max)
{
    json_t *list = related_list(ctx);
    size_t n = 0;

    for (; n < max && n < json_array_size(list); n++)
        out[n] = json_string_value(json_array_get(list, n));
    return n;
}

static int end_code(const char *why)
{
    return strcmp(why, "size") == 0 ? SL_WAVE_END_SIZE
           : strcmp(why, "fill") == 0 ? SL_WAVE_END_FILL
           : strcmp(why, "time") == 0 ? SL_WAVE_END_TIME
           : strcmp(why, "evidence") == 0 ? SL_WAVE_END_EVIDENCE : 0;
}

/* The wave as plugins see it: what Lua's wave and stats hold. */
static void plugin_wave(struct sl_plugin_wave *pw, const struct pool *pools, const struct wave *w,
                        int64_t elapsed_ms, const char *why, struct related_ctx *rc)
{
    const struct pool *p = &pools[dist_source_of(w->audience)];
    const uint64_t *c = w->counts;

    memset(pw, 0, sizeof(*pw));
    pw->pub = (struct sl_wave){
        .n = w->n,
        .ended_by = end_code(why),
        .audience = w->audience,
        .size = w->size,
        .placed = w->placed,
        .present = w->present,
        .checks = w->checks,
        .fill = w->fill,
        .elapsed_ms = elapsed_ms,
        .limit_ms = w->limit_ms,
        .impressions = c[SL_EV_IMPRESSION],
        .plays = c[SL_EV_PLAY],
        .completes = c[SL_EV_COMPLETE],
        .likes = c[SL_EV_LIKE],
        .comments = c[SL_EV_COMMENT],
        .shares = c[SL_EV_SHARE],
        .follows = c[SL_EV_FOLLOW],
        .skips = c[SL_EV_SKIP],
        .dislikes = c[SL_EV_DISLIKE],
        .reports = c[SL_EV_REPORT],
        .engaged = c[SL_EV_LIKE] + c[SL_EV_COMPLETE] + c[SL_EV_SHARE],
        .pool_trials = p->trials,
        .pool_successes = p->successes,
        .pool_rate = p->trials ? (double)p->successes / (double)p->trials : 0.0,
    };
    pw->related = related_names;
    pw->ctx = rc;
}

static json_t *decision_json(const struct sl_plugin_decision *pd)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "plugin", pd->plugin, "hook", "wave_done",
                          "decision", pd->decision, "reason", pd->reason);
    if (j && strcmp(pd->decision, "switch") == 0)
        json_object_set_new(j, "audience", json_string(pd->audience));
    return j;
}

void dist_view_live(struct sl_dist *d, struct dist_view *v)
{
    *v = (struct dist_view){
        .pools = d->pools,
        .related_lua = sl_policy_lua(d->srv),
        .related = dist_audience_related,
        .ud = d,
        .d = d,
        .live = true,
    };
}

/* The item's context as the view has it. */
static void view_context(const struct dist_view *v, struct sl_item *item)
{
    const struct sl_item *c = v->context;

    if (v->d) {
        dist_item_context(v->d, item);
    } else if (c) {
        item->creator_followers = c->creator_followers;
        item->creator_uploads = c->creator_uploads;
        item->creator_rejections = c->creator_rejections;
        item->platform_users = c->platform_users;
        item->platform_active = c->platform_active;
    }
}

int dist_wave_decide(const struct dist_view *v, struct sl_plugins *ps, struct sl_lua *lua,
                     struct ditem *it, json_t *upload, json_t *tags, const struct wave *w,
                     int64_t elapsed_ms, const char *why, struct dist_answer *a, char *err,
                     size_t errlen)
{
    struct related_ctx rel = { v, it, NULL, false };
    bool live = v->live;
    struct sl_plugin_decision pd;
    const char *ld = NULL, *lr = "", *lt = NULL;
    char policy[96], refused[256];
    json_t *res = NULL;
    int prc = SL_DECLINED, lrc = SL_DECLINED, rc = 0;

    memset(a, 0, sizeof(*a));
    memset(&pd, 0, sizeof(pd));
    snprintf(policy, sizeof(policy), "policy:%s", lua ? sl_lua_version(lua) : "");
    sl_copy(a->by, sizeof(a->by), policy);
    struct sl_item *item = dist_hook_item(it, upload, tags);
    if (!item) {
        snprintf(err, errlen, "out of memory");
        if (live)
            sl_policy_failed("wave_done", err);
        return -ENOMEM;
    }
    view_context(v, item);

    if (sl_plugins_have(ps, "wave_done")) {
        struct sl_plugin_wave pw;
        plugin_wave(&pw, v->pools, w, elapsed_ms, why, &rel);
        prc = sl_plugins_wave_done(ps, item, &pw, live, &pd, err, errlen);
        /* What Lua's answers must be, plugins' must be too. */
        if (prc == 0 &&
            dist_wave_answer_check(why, pd.decision, pd.audience, refused, sizeof(refused)) < 0) {
            sl_plugins_refused(ps, pd.plugin, "wave_done", refused, live);
            snprintf(err, errlen, "plugin %s: %s", pd.plugin, refused);
            prc = -EINVAL;
        }
        if (prc < 0) {
            snprintf(a->by, sizeof(a->by), "plugin:%s", pd.plugin);
            rc = prc;
            goto out;
        }
        /* Lua could not see it, short of memory: the rule still holds here. */
        if (prc == 0)
            json_array_append_new(item->plugin_decisions, decision_json(&pd));
    }
    if (lua && sl_lua_has_hook(lua, "wave_done")) {
        lrc = dist_lua_wave_done(v->pools, lua, item, w, elapsed_ms, why, related_list(&rel),
                                 &res, &ld, &lr, &lt, err, errlen);
        if (lrc < 0) {
            if (live)
                sl_policy_failed("wave_done", err);
            rc = lrc;
            goto out;
        }
    }
    if (prc != 0 && lrc != 0) {
        snprintf(err, errlen, "no wave_done hook is loaded");
        if (live)
            sl_policy_failed("wave_done", err);
        rc = -ENOENT;
        goto out;
    }
    if (lrc == 0 && (prc != 0 || caution(ld) > caution(pd.decision))) {
        sl_copy(a->decision, sizeof(a->decision), ld);
        sl_copy(a->audience, sizeof(a->audience), strcmp(ld, "switch") == 0 ? lt : "");
        if (prc == 0)
            snprintf(a->reason, sizeof(a->reason), "%s%s(overruling plugin %s, which said %s)",
                     lr, lr[0] ? " " : "", pd.plugin, pd.decision);
        else
            sl_copy(a->reason, sizeof(a->reason), lr);
    } else {
        sl_copy(a->decision, sizeof(a->decision), pd.decision);
        sl_copy(a->audience, sizeof(a->audience), pd.audience);
        sl_copy(a->reason, sizeof(a->reason), pd.reason);
        snprintf(a->by, sizeof(a->by), "plugin:%s", pd.plugin);
    }
out:
    json_decref(res);
    json_decref(rel.list);
    sl_item_free(item);
    return rc;
}

/* }===================================================================== */

/* {====================== Plans ======================================== */

/* A plugin's plan wave as the Lua plan reader gives one, for dist_plan_take. */
static void plan_wave_read(const struct sl_plan_wave *pw, struct sl_lua_wave *lw)
{
    memset(lw, 0, sizeof(*lw));
    memcpy(lw->audience, pw->audience, sizeof(lw->audience));
    lw->size_ok = true;
    lw->size = pw->size;
    lw->limit = pw->limit_s ? 1 : 0;
    lw->limit_s = pw->limit_s;
    lw->review = 1;
    lw->review_on = pw->review != 0;
    lw->fill = pw->fill != 0 ? 1 : 0;       /* a NaN too: refused */
    lw->fill_share = pw->fill;
    lw->check = pw->check ? 1 : 0;
    lw->check_n = pw->check;
}

static json_t *plan_json(const char *plugin, const struct ditem *it)
{
    json_t *waves = json_array();

    for (int i = 0; waves && i < it->plan->n; i++) {
        const struct plan_wave *pw = &it->plan->wave[i];
        json_array_append_new(waves, json_pack("{s:s, s:I, s:I, s:b, s:f, s:I}",
            "audience", pw->audience, "size", (json_int_t)pw->size,
            "limit_s", (json_int_t)pw->limit_s, "review", pw->review, "fill", pw->fill,
            "check", (json_int_t)pw->check));
    }
    return json_pack("{s:s, s:s, s:o*}", "plugin", plugin, "hook", "plan", "waves", waves);
}

/* Is plan pa (the policy's) more cautious than pb (the plugin's)? */
static bool plan_more_cautious(const struct plan *pa, const struct plan *pb)
{
    const struct plan_wave *a = pa->wave, *b = pb->wave;
    bool less = pa->n < pb->n;

    if (pa->n > pb->n)
        return false;
    for (int i = 0; i < pa->n; i++) {
        if (a[i].size > b[i].size || (b[i].review && !a[i].review))
            return false;
        less = less || a[i].size < b[i].size || (a[i].review && !b[i].review);
    }
    return less;
}

int dist_plan_decide(struct sl_dist *d, struct ditem *it, struct sl_item *item, char *actor,
                     size_t actorlen, char *note, size_t notelen, char *err, size_t errlen)
{
    struct sl_plugins *ps = sl_policy_plugins(d->srv);
    struct sl_lua *lua = sl_policy_lua(d->srv);
    struct sl_plan_wave pw[MAX_PLAN];
    struct sl_lua_wave lw[MAX_PLAN];
    struct ditem theirs = { 0 };            /* the policy's plan, when a plugin planned */
    char plugin[64] = "", refused[SL_LUA_ERR_MAX];
    size_t n = 0;
    int prc = SL_DECLINED, rc = 0;

    dist_policy_actor(d, actor, actorlen);
    note[0] = '\0';
    if (!item) {
        snprintf(err, errlen, "out of memory");
        sl_policy_failed("plan", err);
        return -ENOMEM;
    }
    if (sl_plugins_have(ps, "plan")) {
        prc = sl_plugins_plan(ps, item, pw, MAX_PLAN, &n, true, plugin, sizeof(plugin), err,
                              errlen);
        for (size_t i = 0; prc == 0 && i < n; i++)
            plan_wave_read(&pw[i], &lw[i]);
        if (prc == 0 && dist_plan_take(d, lw, n, it, refused, sizeof(refused)) < 0) {
            sl_plugins_refused(ps, plugin, "plan", refused, true);
            snprintf(err, errlen, "plugin %s: %s", plugin, refused);
            prc = -EINVAL;
        }
        if (prc != SL_DECLINED)
            snprintf(actor, actorlen, "plugin:%s", plugin);
        if (prc < 0)
            return prc;
        if (prc == 0)
            json_array_append_new(item->plugin_decisions, plan_json(plugin, it));
    }
    if (!lua || !sl_lua_has_hook(lua, "plan")) {
        if (prc != 0 && (rc = dist_plan_default(d, it)) < 0) {
            snprintf(err, errlen, "out of memory");
            sl_policy_failed("plan", err);
        }
        json_array_clear(item->plugin_decisions);
        return rc;
    }
    rc = sl_lua_plan(lua, item, lw, MAX_PLAN, &n, err, errlen);
    json_array_clear(item->plugin_decisions);
    if (rc == 0)
        rc = dist_plan_take(d, lw, n, prc == 0 ? &theirs : it, err, errlen);
    if (rc < 0) {
        sl_policy_failed("plan", err);
        dist_policy_actor(d, actor, actorlen);
        dist_plan_put(theirs.plan);
        return rc;
    }
    if (prc == 0 && plan_more_cautious(theirs.plan, it->plan)) {
        dist_plan_set(it, theirs.plan);
        snprintf(note, notelen, "the policy's plan, more cautious than plugin %s's", plugin);
        dist_policy_actor(d, actor, actorlen);
    } else if (prc == 0) {
        dist_plan_put(theirs.plan);
        snprintf(note, notelen, "plugin %s's plan", plugin);
    }
    return 0;
}

/* }===================================================================== */

/* {====================== Traffic ====================================== */

enum tkey { T_PRIVATE, T_ORDINARY, T_HEAD, T_THRESHOLD, T_RATE, T_UNSERVED, T_ACTIVE, T_AWAY,
            T_TARGET, T_CATCHUP, T_CATCHUP_BELOW };

static const struct {
    const char *name;           /* the Lua key */
    double lo, hi;
    double dflt;                /* when no one sets it */
    bool lower_is_cautious;     /* Lua may set it lower than the plugin */
} tkeys[TRAFFIC_KEYS] = {
    [T_PRIVATE]   = { "private", 0, 1, 0.30, false },
    [T_ORDINARY]  = { "ordinary", 0, 1, 0.70, false },
    [T_HEAD]      = { "head", 0, 1, 0.10, false },
    [T_THRESHOLD] = { "report_threshold", 0.01, 1e9, 3, true },
    [T_RATE]      = { "report_rate", 0, 1, 0, true },
    [T_UNSERVED]  = { "unserved_report_weight", 0, 1, 0, false },
    [T_ACTIVE]    = { "active_s", 0, 365 * 86400, 0, false },
    [T_AWAY]      = { "away_s", 0, 365 * 86400, 0, false },
    [T_TARGET]    = { "private_target", 0, 1, 0, false },
    [T_CATCHUP]   = { "catchup_s", 0, 365 * 86400, 0, false },
    [T_CATCHUP_BELOW] = { "catchup_below", 0, 1, 1, false },
};

/* What one side said: a value for each setting it gave. */
struct tanswer {
    double v[TRAFFIC_KEYS];
    bool set[TRAFFIC_KEYS];
};

static const char range_text[] = "private, private_target, catchup_below, ordinary, head, "
    "report_rate and unserved_report_weight must be in [0, 1], report_threshold in [0.01, 1e9], "
    "active_s, away_s and catchup_s 0 to a year";

static bool in_range(int k, double v)
{
    return v >= tkeys[k].lo && v <= tkeys[k].hi;
}

/* The Lua traffic(): true with what it gave; a failure is counted and
 * logged, and it gives nothing. */
static bool lua_traffic(struct sl_lua *lua, struct tanswer *t)
{
    char err[SL_LUA_ERR_MAX];
    json_t *res = NULL;
    bool ok = false;

    memset(t, 0, sizeof(*t));
    if (!lua || !sl_lua_has_hook(lua, "traffic"))
        return false;
    if (sl_lua_call_json(lua, "traffic", NULL, NULL, 0, &res, err, sizeof(err)) < 0 ||
        !json_is_object(res)) {
        sl_policy_failed("traffic", res ? "traffic must return a table" : err);
    } else {
        ok = true;
        for (int k = 0; ok && k < TRAFFIC_KEYS; k++) {
            json_t *v = json_object_get(res, tkeys[k].name);
            if (!v)
                continue;
            ok = json_is_number(v) && in_range(k, json_number_value(v));
            t->v[k] = json_number_value(v);
            t->set[k] = true;
        }
        if (!ok) {
            sl_policy_failed("traffic", range_text);
            memset(t, 0, sizeof(*t));
        }
    }
    json_decref(res);
    return ok;
}

/* The first plugin's traffic hook that answers: true with what it gave. */
static bool plugin_traffic(struct sl_plugins *ps, struct tanswer *t, char *plugin,
                           size_t pluginlen)
{
    struct sl_traffic st;
    char err[512];

    memset(t, 0, sizeof(*t));
    if (!sl_plugins_have(ps, "traffic") ||
        sl_plugins_traffic(ps, &st, true, plugin, pluginlen, err, sizeof(err)) != 0)
        return false;
    const double v[TRAFFIC_KEYS] = {
        [T_PRIVATE] = st.private_share, [T_ORDINARY] = st.ordinary_share,
        [T_HEAD] = st.head_share, [T_THRESHOLD] = st.report_threshold,
        [T_RATE] = st.report_rate, [T_UNSERVED] = st.unserved_report_weight,
        [T_ACTIVE] = st.active_s, [T_AWAY] = st.away_s,
        /* policies only: not in the plugin ABI */
        [T_TARGET] = SL_TRAFFIC_UNSET, [T_CATCHUP] = SL_TRAFFIC_UNSET,
        [T_CATCHUP_BELOW] = SL_TRAFFIC_UNSET,
    };
    for (int k = 0; k < TRAFFIC_KEYS; k++) {
        if (v[k] == SL_TRAFFIC_UNSET)
            continue;
        if (!in_range(k, v[k])) {
            sl_plugins_refused(ps, plugin, "traffic", range_text, true);
            memset(t, 0, sizeof(*t));
            return false;
        }
        t->v[k] = v[k];
        t->set[k] = true;
    }
    return true;
}

void sl_dist_policy_changed(struct sl_server *srv)
{
    struct sl_dist *d = D(srv);
    struct sl_lua *lua = sl_policy_lua(srv);
    struct tanswer p, l;
    char plugin[64], by_plugin[72], by_policy[72];
    double v[TRAFFIC_KEYS];

    bool from_plugin = plugin_traffic(sl_policy_plugins(srv), &p, plugin, sizeof(plugin));
    lua_traffic(lua, &l);
    snprintf(by_plugin, sizeof(by_plugin), "plugin:%s", from_plugin ? plugin : "");
    snprintf(by_policy, sizeof(by_policy), "policy:%s", lua ? sl_lua_version(lua) : "");
    for (int k = 0; k < TRAFFIC_KEYS; k++) {
        const char *by = "default";
        v[k] = tkeys[k].dflt;
        if (p.set[k] && !(l.set[k] && tkeys[k].lower_is_cautious && l.v[k] < p.v[k])) {
            v[k] = p.v[k];
            by = by_plugin;
        } else if (l.set[k]) {
            v[k] = l.v[k];
            by = by_policy;
        }
        sl_copy(d->traffic_by[k], sizeof(d->traffic_by[k]), by);
    }
    d->traffic = (struct traffic){
        .min_private = v[T_PRIVATE],
        .min_ordinary = v[T_ORDINARY],
        .head_share = v[T_HEAD],
        .report_threshold = v[T_THRESHOLD],
        .report_rate = v[T_RATE],
        .unserved_report_weight = v[T_UNSERVED],
        .active_s = (uint32_t)v[T_ACTIVE],
        .away_s = (uint32_t)v[T_AWAY],
        .private_target = v[T_TARGET],
        .catchup_s = (uint32_t)v[T_CATCHUP],
        .catchup_below = v[T_CATCHUP_BELOW],
    };
    dist_pgroups_policy_changed(d, lua);
    sl_audience_head_update(d->aud, d->traffic.head_share);
}

json_t *dist_traffic_json(const struct sl_dist *d)
{
    const struct traffic *t = &d->traffic;
    const double v[TRAFFIC_KEYS] = {
        [T_PRIVATE] = t->min_private, [T_ORDINARY] = t->min_ordinary,
        [T_HEAD] = t->head_share, [T_THRESHOLD] = t->report_threshold,
        [T_RATE] = t->report_rate, [T_UNSERVED] = t->unserved_report_weight,
        [T_ACTIVE] = t->active_s, [T_AWAY] = t->away_s,
        [T_TARGET] = t->private_target, [T_CATCHUP] = t->catchup_s,
        [T_CATCHUP_BELOW] = t->catchup_below,
    };
    json_t *out = json_object(), *by = json_object();

    if (!out || !by) {
        json_decref(out);
        json_decref(by);
        return NULL;
    }
    for (int k = 0; k < TRAFFIC_KEYS; k++) {
        bool whole = k == T_ACTIVE || k == T_AWAY || k == T_CATCHUP;
        json_object_set_new(out, tkeys[k].name,
                            whole ? json_integer((json_int_t)v[k]) : json_real(v[k]));
        json_object_set_new(by, tkeys[k].name, json_string(d->traffic_by[k]));
    }
    if (json_object_set_new(out, "set_by", by) < 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* }===================================================================== */
