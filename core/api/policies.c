/* SPDX-License-Identifier: MIT */
/* GET /v1/policies, POST /v1/policies/reload and /v1/policies/check. */
#include "config.h"

#include "api/api.h"
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
    sl_http_reply_json(r, 200, json_pack("{s:s, s:s, s:O}", "version",
                                         sl_policy_version(r->srv), "previous", previous,
                                         "files", sl_lua_files(sl_policy_lua(r->srv))));
}

void sl_api_policies_check(struct sl_request *r)
{
    static const char *const keys[] = { "name", "source", NULL };
    struct sl_error e = { 0 };
    const char *name = "policy.lua", *source;
    char err[SL_LUA_ERR_MAX];
    json_t *body = sl_http_json_body(r, &e);

    if (!body || sl_json_only_keys(body, keys, &e) < 0 ||
        sl_json_get_string(body, "name", false, 128, &name, &e) < 0 ||
        sl_json_get_string(body, "source", true, 4 << 20, &source, &e) < 0) {
        json_decref(body);
        sl_http_reply_error(r, &e);
        return;
    }
    struct sl_lua_limits lim = { r->srv->cfg.lua_memory_limit,
                                 r->srv->cfg.lua_instruction_limit,
                                 (unsigned)r->srv->cfg.lua_time_limit_ms };
    size_t len = json_string_length(json_object_get(body, "source"));
    if (sl_lua_check(name, source, len, r->srv->cfg.policies_dir, &lim, err,
                     sizeof(err)) < 0)
        sl_http_reply_errorf(r, 422, "policy_error", "source", "%s", err);
    else
        sl_http_reply_json(r, 200, json_pack("{s:b, s:s}", "ok", 1, "name", name));
    json_decref(body);
}
