/* SPDX-License-Identifier: MIT */
/* The loaded policy set and plugins, reloads, and the review pipeline. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <sluice/plugin.h>

#include "lib/clock.h"
#include "lib/item.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/prom.h"
#include "lib/text.h"
#include "lua/sandbox.h"
#include "policy/plugin.h"
#include "policy/policy.h"
#include "server.h"

struct sl_policy {
    struct sl_lua *lua;         /* the loaded set; swapped whole on reload */
    struct sl_plugins *plugins;
    int64_t loaded_ms;
    uint64_t reloads, reload_failures;
};

/* Hook failures by hook name, for /metrics. */
static const char *const hook_names[] = { "tag", "review", "plan", "wave_done",
                                          "traffic", "groups", "related" };
#define NHOOKS ((int)(sizeof(hook_names) / sizeof(hook_names[0])))
static uint64_t hook_failures[NHOOKS];
static uint64_t verdicts[4];    /* approved, rejected, in_review, of which failed */

void sl_policy_failed(const char *hook, const char *why)
{
    for (int i = 0; i < NHOOKS; i++)
        if (strcmp(hook, hook_names[i]) == 0)
            hook_failures[i]++;
    sl_warn("policy hook %s failed: %s", hook, why);
}

static void lua_print(void *ud, const char *line)
{
    (void)ud;
    sl_info("policy: %s", line);
}

static struct sl_lua *build(const struct sl_config *cfg, char *err, size_t errlen)
{
    struct sl_lua_limits lim = { cfg->lua_memory_limit, cfg->lua_instruction_limit,
                                 (unsigned)cfg->lua_time_limit_ms };
    struct sl_lua *lua = sl_lua_new(&lim);
    if (!lua) {
        snprintf(err, errlen, "cannot create the policy sandbox: %s", strerror(errno));
        return NULL;
    }
    sl_lua_set_log(lua, lua_print, NULL);
    if (sl_lua_load_dir(lua, cfg->policies_dir, err, errlen) < 0) {
        sl_lua_free(lua);
        return NULL;
    }
    return lua;
}

int sl_policy_start(struct sl_server *srv, char *err, size_t errlen)
{
    struct sl_policy *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    int rc = sl_plugins_load(&srv->cfg, &p->plugins, err, errlen);
    if (rc < 0) {
        free(p);
        return rc;
    }
    p->lua = build(&srv->cfg, err, errlen);
    if (!p->lua) {
        sl_plugins_free(p->plugins);
        free(p);
        return -EINVAL;
    }
    p->loaded_ms = sl_now_ms();
    srv->policy = p;
    sl_info("policies %s loaded from %s", sl_lua_version(p->lua), srv->cfg.policies_dir);
    if ((rc = sl_policy_hashbanks_load(srv)) < 0)
        snprintf(err, errlen, "cannot read the stored hash banks: %s", strerror(-rc));
    return rc;
}

void sl_policy_stop(struct sl_server *srv)
{
    struct sl_policy *p = srv->policy;
    if (!p)
        return;
    sl_lua_free(p->lua);
    sl_plugins_free(p->plugins);
    free(p);
    srv->policy = NULL;
}

int sl_policy_reload(struct sl_server *srv, char *err, size_t errlen)
{
    struct sl_policy *p = srv->policy;
    struct sl_lua *next = build(&srv->cfg, err, errlen);

    p->reloads++;
    if (!next || sl_plugins_reload(p->plugins, err, errlen) < 0) {
        sl_lua_free(next);
        p->reload_failures++;
        sl_err("policy reload failed, keeping %s: %s", sl_lua_version(p->lua), err);
        return -EINVAL;
    }
    sl_info("policies reloaded: %s -> %s", sl_lua_version(p->lua), sl_lua_version(next));
    sl_lua_free(p->lua);
    p->lua = next;
    p->loaded_ms = sl_now_ms();
    return 0;
}

int sl_policy_load_set(struct sl_server *srv, const struct sl_lua_sources *src, char *err,
                       size_t errlen)
{
    struct sl_policy *p = srv->policy;
    const struct sl_config *cfg = &srv->cfg;
    struct sl_lua_limits lim = { cfg->lua_memory_limit, cfg->lua_instruction_limit,
                                 (unsigned)cfg->lua_time_limit_ms };
    struct sl_lua *next = sl_lua_new(&lim);

    p->reloads++;
    if (next)
        sl_lua_set_log(next, lua_print, NULL);
    if (!next || sl_lua_load_sources(next, src, err, errlen) < 0) {
        if (!next)
            snprintf(err, errlen, "cannot create the policy sandbox: %s", strerror(errno));
        sl_lua_free(next);
        p->reload_failures++;
        sl_err("policy set from the store refused, keeping %s: %s", sl_lua_version(p->lua),
               err);
        return -EINVAL;
    }
    sl_info("policies from the store: %s -> %s", sl_lua_version(p->lua), sl_lua_version(next));
    sl_lua_free(p->lua);
    p->lua = next;
    p->loaded_ms = sl_now_ms();
    return 0;
}

const char *sl_policy_version(const struct sl_server *srv)
{
    return srv->policy ? sl_lua_version(srv->policy->lua) : "";
}

struct sl_lua *sl_policy_lua(const struct sl_server *srv)
{
    return srv->policy ? srv->policy->lua : NULL;
}

struct sl_plugins *sl_policy_plugins(const struct sl_server *srv)
{
    return srv->policy ? srv->policy->plugins : NULL;
}

/* {====================== Review pipeline ============================== */

static int rank(int verdict)
{
    return verdict == SL_VERDICT_REJECT ? 3 : verdict == SL_VERDICT_REVIEW ? 2 :
           verdict == SL_VERDICT_APPROVE ? 1 : 0;
}

static int verdict_parse(const char *s)
{
    return strcmp(s, "approve") == 0 ? SL_VERDICT_APPROVE :
           strcmp(s, "reject") == 0 ? SL_VERDICT_REJECT : SL_VERDICT_REVIEW;
}

/* Take the candidate if it is stricter than what v holds (reject > review >
 * approve): a plugin's reject cannot be overturned by a policy's approve. */
static void consider(struct sl_outcome *v, int *held, int verdict, const char *queue,
                     int priority, const char *reason, const char *actor)
{
    if (rank(verdict) <= rank(*held))
        return;
    *held = verdict;
    sl_copy(v->state, sizeof(v->state),
            verdict == SL_VERDICT_APPROVE ? "approved" :
            verdict == SL_VERDICT_REJECT ? "rejected" : "in_review");
    sl_copy(v->queue, sizeof(v->queue), queue && *queue ? queue : "default");
    v->priority = priority;
    sl_copy(v->reason, sizeof(v->reason), reason ? reason : "");
    sl_copy(v->actor, sizeof(v->actor), actor);
}

static void fail_to_people(struct sl_outcome *v, int *held, const char *hook,
                           const char *why, const char *actor, bool live)
{
    /* Room for all of why (at most an err buffer): consider() then cuts
     * the whole to the verdict's reason on a character boundary. */
    char reason[SL_LUA_ERR_MAX + 64];
    snprintf(reason, sizeof(reason), "policy_error: %s: %s", hook, why);
    if (live)
        sl_policy_failed(hook, why);
    v->failed = true;
    /* Replace a softer verdict, keep a plugin's reject. */
    if (rank(*held) < rank(SL_VERDICT_REVIEW))
        consider(v, held, SL_VERDICT_REVIEW, "default", 0, reason, actor);
}

/* The pipeline over a given sandbox: the live one, or a candidate being
 * replayed (live = false: nothing is counted or logged as a failure). */
void sl_policy_judge(struct sl_lua *lua, struct sl_plugins *plugins, struct sl_item *item,
                     struct sl_outcome *v, bool live)
{
    char err[SL_LUA_ERR_MAX], actor[160];
    struct sl_review rv;
    int held = SL_VERDICT_NONE;
    size_t i;
    json_t *pv;

    memset(v, 0, sizeof(*v));
    snprintf(actor, sizeof(actor), "policy:%s", sl_lua_version(lua));
    if (sl_plugins_tag(plugins, item, err, sizeof(err)) < 0)
        fail_to_people(v, &held, "tag", err, actor, live);
    else if (sl_lua_tag(lua, item, err, sizeof(err)) < 0)
        fail_to_people(v, &held, "tag", err, actor, live);

    if (sl_plugins_review(plugins, item, err, sizeof(err)) < 0)
        fail_to_people(v, &held, "review", err, actor, live);
    json_array_foreach(item->plugin_verdicts, i, pv) {
        char who[160];
        snprintf(who, sizeof(who), "plugin:%s",
                 json_string_value(json_object_get(pv, "plugin")));
        consider(v, &held, verdict_parse(json_string_value(json_object_get(pv, "verdict"))),
                 json_string_value(json_object_get(pv, "queue")),
                 (int)json_integer_value(json_object_get(pv, "priority")),
                 json_string_value(json_object_get(pv, "reason")), who);
    }
    int rc = sl_lua_review(lua, item, &rv, err, sizeof(err));
    if (rc == SL_DECLINED)
        fail_to_people(v, &held, "review", "no review hook is loaded", actor, live);
    else if (rc < 0)
        fail_to_people(v, &held, "review", err, actor, live);
    else
        consider(v, &held, rv.verdict, rv.queue, rv.priority, rv.reason, actor);
    if (live) {
        verdicts[held == SL_VERDICT_APPROVE ? 0 : held == SL_VERDICT_REJECT ? 1 : 2]++;
        verdicts[3] += v->failed;
    }
}

void sl_policy_review(struct sl_server *srv, struct sl_item *item, struct sl_outcome *v)
{
    sl_policy_judge(srv->policy->lua, srv->policy->plugins, item, v, true);
}

/* }===================================================================== */

json_t *sl_policy_describe(const struct sl_server *srv)
{
    struct sl_policy *p = srv->policy;
    json_t *hooks = json_array();

    for (int i = 0; i < NHOOKS; i++)
        if (sl_lua_has_hook(p->lua, hook_names[i]))
            json_array_append_new(hooks, json_string(hook_names[i]));
    return json_pack("{s:s, s:s, s:O, s:o, s:o, s:I}",
                     "version", sl_lua_version(p->lua),
                     "directory", srv->cfg.policies_dir,
                     "files", sl_lua_files(p->lua),
                     "hooks", hooks,
                     "plugins", sl_plugins_describe(p->plugins),
                     "loaded_ms", (json_int_t)p->loaded_ms);
}

void sl_policy_metrics(const struct sl_server *srv, struct evbuffer *out)
{
    struct sl_policy *p = srv->policy;
    static const char *const names[] = { "approved", "rejected", "in_review" };

    sl_metric_header(out, "sluice_policy_failures_total", "counter",
                     "Hook calls that failed, ran over budget, or were missing; their "
                     "items went to people.");
    for (int i = 0; i < NHOOKS; i++)
        evbuffer_add_printf(out, "sluice_policy_failures_total{hook=\"%s\"} %llu\n",
                            hook_names[i], (unsigned long long)hook_failures[i]);
    sl_metric_header(out, "sluice_verdicts_total", "counter",
                     "Automatic verdicts on uploads, by resulting state.");
    for (int i = 0; i < 3; i++)
        evbuffer_add_printf(out, "sluice_verdicts_total{state=\"%s\"} %llu\n", names[i],
                            (unsigned long long)verdicts[i]);
    sl_metric_header(out, "sluice_policy_reloads_total", "counter",
                     "Policy reloads, and those refused (old set kept).");
    evbuffer_add_printf(out, "sluice_policy_reloads_total{result=\"ok\"} %llu\n"
                             "sluice_policy_reloads_total{result=\"refused\"} %llu\n",
                        (unsigned long long)(p->reloads - p->reload_failures),
                        (unsigned long long)p->reload_failures);
    sl_metric_header(out, "sluice_policy_memory_bytes", "gauge",
                     "Bytes held by the policy sandbox.");
    evbuffer_add_printf(out, "sluice_policy_memory_bytes %zu\n", sl_lua_memory(p->lua));
    sl_plugins_metrics(p->plugins, out);
}
