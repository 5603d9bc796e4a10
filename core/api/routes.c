/* SPDX-License-Identifier: MIT */
/* The routing table: every route, who may call it, what body it takes, its handler. */
#include "config.h"

#include <event2/http.h>

#include "api/api.h"

/* The first row whose pattern and method match a request takes it. */
#define ING SL_ROLE_INGEST
#define MOD SL_ROLE_MODERATOR
#define POL SL_ROLE_POLICY
#define ADM SL_ROLE_ADMIN
const struct sl_route sl_api_routes[] = {
    /* method            path                     roles            body            handler                 metrics label */
    { EVHTTP_REQ_GET,    "/healthz",              SL_ROLE_PUBLIC,  SL_BODY_NONE,   sl_api_healthz,         "GET /healthz" },
    { EVHTTP_REQ_GET,    "/metrics",              SL_ROLE_ANY,     SL_BODY_NONE,   sl_api_metrics,         "GET /metrics" },
    { EVHTTP_REQ_GET,    "/console",              SL_ROLE_PUBLIC,  SL_BODY_NONE,   sl_api_console_index,   "GET /console" },
    { EVHTTP_REQ_GET,    "/console/",             SL_ROLE_PUBLIC,  SL_BODY_NONE,   sl_api_console_index,   "GET /console/" },
    { EVHTTP_REQ_GET,    "/console/{}",           SL_ROLE_PUBLIC,  SL_BODY_NONE,   sl_api_console_file,    "GET /console/{file}" },
    { EVHTTP_REQ_GET,    "/v1/stats",             SL_ROLE_ANY,     SL_BODY_NONE,   sl_api_stats,           "GET /v1/stats" },
    { EVHTTP_REQ_GET,    "/v1/console/settings",  SL_ROLE_ANY,     SL_BODY_NONE,   sl_api_console_settings, "GET /v1/console/settings" },
    { EVHTTP_REQ_GET,    "/v1/status",            SL_ROLE_ANY,     SL_BODY_NONE,   sl_api_status,          "GET /v1/status" },
    { EVHTTP_REQ_POST,   "/v1/uploads",           ING | ADM,       SL_BODY_JSON,   sl_api_upload,          "POST /v1/uploads" },
    { EVHTTP_REQ_GET,    "/v1/items/{}",          SL_ROLE_ANY,     SL_BODY_NONE,   sl_api_item_get,        "GET /v1/items/{id}" },
    { EVHTTP_REQ_GET,    "/v1/items",             MOD | POL | ADM, SL_BODY_NONE,   sl_api_search,          "GET /v1/items" },
    { EVHTTP_REQ_POST,   "/v1/bulk",              MOD | ADM,       SL_BODY_JSON,   sl_api_bulk,            "POST /v1/bulk" },
    { EVHTTP_REQ_GET,    "/v1/bulk",              MOD | POL | ADM, SL_BODY_NONE,   sl_api_bulk_list,       "GET /v1/bulk" },
    { EVHTTP_REQ_GET,    "/v1/bulk/{}",           MOD | POL | ADM, SL_BODY_NONE,   sl_api_bulk_get,        "GET /v1/bulk/{id}" },
    { EVHTTP_REQ_POST,   "/v1/bulk/{}/confirm",   MOD | ADM,       SL_BODY_NONE,   sl_api_bulk_confirm,    "POST /v1/bulk/{id}/confirm" },
    { EVHTTP_REQ_POST,   "/v1/bulk/{}/cancel",    MOD | ADM,       SL_BODY_NONE,   sl_api_bulk_cancel,     "POST /v1/bulk/{id}/cancel" },
    { EVHTTP_REQ_GET,    "/v1/creators/{}",       MOD | POL | ADM, SL_BODY_NONE,   sl_api_creator_get,     "GET /v1/creators/{id}" },
    { EVHTTP_REQ_POST,   "/v1/creators/{}/suspend", MOD | ADM,     SL_BODY_JSON,   sl_api_creator_suspend, "POST /v1/creators/{id}/suspend" },
    { EVHTTP_REQ_POST,   "/v1/creators/{}/restore", MOD | ADM,     SL_BODY_JSON,   sl_api_creator_restore, "POST /v1/creators/{id}/restore" },
    { EVHTTP_REQ_POST,   "/v1/creators/{}/takedown", MOD | ADM,    SL_BODY_JSON,   sl_api_creator_takedown, "POST /v1/creators/{id}/takedown" },
    { EVHTTP_REQ_POST,   "/v1/users",             ING | ADM,       SL_BODY_JSON,   sl_api_user_post,       "POST /v1/users" },
    { EVHTTP_REQ_PUT,    "/v1/follows/{}/{}",     ING | ADM,       SL_BODY_NONE,   sl_api_follow_put,      "PUT /v1/follows" },
    { EVHTTP_REQ_DELETE, "/v1/follows/{}/{}",     ING | ADM,       SL_BODY_NONE,   sl_api_follow_delete,   "DELETE /v1/follows" },
    { EVHTTP_REQ_POST,   "/v1/follows",           ING | ADM,       SL_BODY_EVENTS, sl_api_follows_post,    "POST /v1/follows" },
    { EVHTTP_REQ_POST,   "/v1/events",            ING | ADM,       SL_BODY_EVENTS, sl_api_events,          "POST /v1/events" },
    { EVHTTP_REQ_GET,    "/v1/audit",             MOD | POL | ADM, SL_BODY_NONE,   sl_api_audit,           "GET /v1/audit" },
    { EVHTTP_REQ_GET,    "/v1/audit/verify",      MOD | POL | ADM, SL_BODY_NONE,   sl_api_audit_verify,    "GET /v1/audit/verify" },
    { EVHTTP_REQ_GET,    "/v1/audit/head",        MOD | POL | ADM, SL_BODY_NONE,   sl_api_audit_head,      "GET /v1/audit/head" },
    { EVHTTP_REQ_GET,    "/v1/queue",             MOD | ADM,       SL_BODY_NONE,   sl_api_queue,           "GET /v1/queue" },
    { EVHTTP_REQ_POST,   "/v1/queue/claim",       MOD | ADM,       SL_BODY_JSON,   sl_api_queue_claim,     "POST /v1/queue/claim" },
    { EVHTTP_REQ_POST,   "/v1/items/{}/decision", MOD | ADM,       SL_BODY_JSON,   sl_api_decision,        "POST /v1/items/{id}/decision" },
    { EVHTTP_REQ_POST,   "/v1/items/{}/takedown", MOD | ADM,       SL_BODY_JSON,   sl_api_takedown,        "POST /v1/items/{id}/takedown" },
    { EVHTTP_REQ_GET,    "/v1/feed/{}",           ING | ADM,       SL_BODY_NONE,   sl_api_feed,            "GET /v1/feed/{user}" },
    { EVHTTP_REQ_POST,   "/v1/items/{}/renew",    MOD | ADM,       SL_BODY_JSON,   sl_api_renew,           "POST /v1/items/{id}/renew" },
    { EVHTTP_REQ_POST,   "/v1/hashbanks/{}",      MOD | POL | ADM, SL_BODY_JSON,   sl_api_hashbank,        "POST /v1/hashbanks/{bank}" },
    { EVHTTP_REQ_GET,    "/v1/policies",          POL | ADM,       SL_BODY_NONE,   sl_api_policies,        "GET /v1/policies" },
    { EVHTTP_REQ_POST,   "/v1/policies/reload",   POL | ADM,       SL_BODY_NONE,   sl_api_policies_reload, "POST /v1/policies/reload" },
    { EVHTTP_REQ_POST,   "/v1/policies/replay",   POL | ADM,       SL_BODY_JSON,   sl_api_policies_replay, "POST /v1/policies/replay" },
    { EVHTTP_REQ_GET,    "/v1/backup",            ADM,             SL_BODY_NONE,   sl_api_backup,          "GET /v1/backup" },
    { EVHTTP_REQ_POST,   "/v1/policies/check",    POL | ADM,       SL_BODY_JSON,   sl_api_policies_check,  "POST /v1/policies/check" },
    { EVHTTP_REQ_GET,    "/v1/jobs/{}",           POL | ADM,       SL_BODY_NONE,   sl_api_job_get,         "GET /v1/jobs/{id}" },
    { EVHTTP_REQ_DELETE, "/v1/jobs/{}",           POL | ADM,       SL_BODY_NONE,   sl_api_job_delete,      "DELETE /v1/jobs/{id}" },
    { EVHTTP_REQ_POST,   "/v1/tokens",            ADM,             SL_BODY_JSON,   sl_api_token_create,    "POST /v1/tokens" },
    { EVHTTP_REQ_GET,    "/v1/tokens",            ADM,             SL_BODY_NONE,   sl_api_token_list,      "GET /v1/tokens" },
    { EVHTTP_REQ_DELETE, "/v1/tokens/{}",         ADM,             SL_BODY_NONE,   sl_api_token_delete,    "DELETE /v1/tokens" },
    { EVHTTP_REQ_GET,    "/v1/clock",             SL_ROLE_ANY,     SL_BODY_NONE,   sl_api_clock_get,       "GET /v1/clock" },
    { EVHTTP_REQ_POST,   "/v1/clock",             ADM,             SL_BODY_JSON,   sl_api_clock_advance,   "POST /v1/clock" },
};
#undef ING
#undef MOD
#undef POL
#undef ADM

const int sl_api_nroutes = (int)(sizeof(sl_api_routes) / sizeof(sl_api_routes[0]));
