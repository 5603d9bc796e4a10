/* SPDX-License-Identifier: MIT */
/* GET /v1/policies, POST /v1/policies/reload and /v1/policies/check (a job). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/cluster.h"
#include "api/jobs.h"
#include "dist/dist.h"
#include "lib/json.h"
#include "lib/text.h"
#include "lua/sandbox.h"
#include "policy/policy.h"
#include "server.h"

void sl_api_policies(struct sl_request *r)
{
    sl_http_reply_json(r, 200, sl_policy_describe(r->srv));
}

void sl_api_policies_reload(struct sl_request *r)
{
    char err[SL_LUA_ERR_MAX];
    const char *before = sl_policy_version(r->srv);
    char previous[32];

    sl_copy(previous, sizeof(previous), before);
    if (sl_policy_reload(r->srv, err, sizeof(err)) < 0) {
        sl_http_reply_errorf(r, 422, "policy_error", NULL,
                             "Reload refused, still running %s: %s", previous, err);
        return;
    }
    sl_dist_policy_changed(r->srv);
    json_t *answer = json_pack("{s:s, s:s, s:O}", "version", sl_policy_version(r->srv),
                               "previous", previous,
                               "files", sl_lua_files(sl_policy_lua(r->srv)));
    /* Several nodes: stored, the others load it (answered once stored). */
    if (r->srv->node.shared) {
        sl_cluster_policy_stored(r, previous, answer);
        return;
    }
    sl_http_reply_json(r, 200, answer);
}

/* {====================== POST /v1/policies/check ===================== */

/* What a check job needs: copies, so that its thread shares nothing. */
struct check {
    char *name, *source, *dir;
    size_t len;
    struct sl_lua_limits lim;
};

static void check_free(void *arg)
{
    struct check *c = arg;

    free(c->name);
    free(c->source);
    free(c->dir);
    free(c);
}

/* On the job's thread: the script's top level may be hostile. */
static void check_run(struct sl_job *job, void *arg)
{
    struct check *c = arg;
    char err[SL_LUA_ERR_MAX];

    sl_job_progress(job, 0, 1);
    if (sl_lua_check(c->name, c->source, c->len, c->dir, &c->lim, err, sizeof(err)) < 0) {
        struct sl_error e;
        sl_error_set(&e, 422, "policy_error", "source", "%s", err);
        sl_job_answer_error(job, &e);
    } else {
        sl_job_answer(job, 200, json_pack("{s:b, s:s}", "ok", 1, "name", c->name));
    }
    sl_job_progress(job, 1, 1);
}

void sl_api_policies_check(struct sl_request *r)
{
    static const char *const keys[] = { "name", "source", NULL };
    struct sl_error e = { 0 };
    const char *name = "policy.lua", *source;
    json_t *body = sl_http_json_body(r, &e);

    if (!body || sl_json_only_keys(body, keys, &e) < 0 ||
        sl_json_get_string(body, "name", false, 128, &name, &e) < 0 ||
        sl_json_get_string(body, "source", true, 4 << 20, &source, &e) < 0) {
        json_decref(body);
        sl_http_reply_error(r, &e);
        return;
    }
    struct check *c = calloc(1, sizeof(*c));
    size_t len = json_string_length(json_object_get(body, "source"));
    if (c) {
        c->name = strdup(name);
        c->dir = strdup(r->srv->cfg.policies_dir);
        c->source = malloc(len + 1);
        c->len = len;
        c->lim = (struct sl_lua_limits){ r->srv->cfg.lua_memory_limit,
                                         r->srv->cfg.lua_instruction_limit,
                                         (unsigned)r->srv->cfg.lua_time_limit_ms };
    }
    if (c && c->source)
        memcpy(c->source, source, len + 1);
    json_decref(body);
    if (!c || !c->name || !c->dir || !c->source) {
        if (c)
            check_free(c);
        sl_http_reply_errorf(r, 503, "unavailable", NULL, "The daemon is out of memory.");
        return;
    }
    sl_job_start(r, "check", "scripts checked", check_run, c, check_free);
}

/* }===================================================================== */
