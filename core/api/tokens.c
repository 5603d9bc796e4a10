/* SPDX-License-Identifier: MIT */
/* POST /v1/tokens and DELETE /v1/tokens/{name}: an admin makes and revokes tokens. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/api.h"
#include "http/auth.h"
#include "lib/clock.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/sha256.h"
#include "lib/text.h"
#include "server.h"
#include "store/commit.h"
#include "store/store.h"

struct token_op {
    struct sl_commit_op op;
    struct sl_request *r;
    char name[SL_ID_MAX + 1];
    /* The caller, copied: r->token_name lives in the token table, and a
     * token may revoke itself. */
    char actor[SL_ID_MAX + 8];
    int role;
    bool create;
    char token[SL_TOKEN_LEN + 1];
    char hash[SL_SHA256_HEX_LEN + 1];
};

static int token_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct token_op *t = (struct token_op *)op;
    int64_t now = sl_now_ms();
    int rc = t->create ? sl_store_token_insert(w, t->name, sl_role_name(t->role), t->hash, now)
                       : sl_store_token_delete(w, t->name);
    if (rc < 0)
        return rc;
    struct sl_audit_rec rec = {
        .actor = t->actor,
        .action = t->create ? "token_create" : "token_revoke",
        .reason = t->name,
        .ts_ms = now,
    };
    return sl_store_audit_append(w, &rec);
}

static void token_done(struct sl_commit_op *op, int rc)
{
    struct token_op *t = (struct token_op *)op;
    struct sl_request *r = t->r;
    struct sl_auth *a = r->srv->auth;

    if (rc == -EEXIST) {
        sl_http_reply_errorf(r, 409, "conflict", "name", "A token named '%s' exists already.",
                             t->name);
    } else if (rc == -ENOENT) {
        sl_http_reply_errorf(r, 404, "not_found", NULL, "No token is named '%s'.", t->name);
    } else if (rc < 0) {
        sl_http_reply_store_error(r, rc);
    } else if (t->create) {
        sl_auth_add(a, t->name, t->role, t->hash);
        sl_info("auth: token '%s' (%s) created by %s", t->name, sl_role_name(t->role), t->actor);
        sl_http_reply_json(r, 201, json_pack("{s:s, s:s, s:s}", "name", t->name,
                                             "role", sl_role_name(t->role), "token", t->token));
    } else {
        sl_auth_remove(a, t->name);
        sl_info("auth: token '%s' revoked by %s", t->name, t->actor);
        sl_http_reply_json(r, 200, json_pack("{s:s, s:b}", "name", t->name, "revoked", 1));
    }
    free(t);
}

static void token_drop(struct sl_commit_op *op)
{
    free(op);
}

static void token_submit(struct sl_request *r, struct token_op *t)
{
    if (t) {
        t->r = r;
        sl_api_actor(r, t->actor, sizeof(t->actor));
    }
    sl_api_submit(r, t ? &t->op : NULL, token_apply, token_done, token_drop);
}

void sl_api_token_create(struct sl_request *r)
{
    static const char *const keys[] = { "name", "role", NULL };
    struct sl_error err = { 0 };
    const char *name, *role;
    json_t *body = sl_http_json_body(r, &err);

    if (!body || sl_json_only_keys(body, keys, &err) < 0 ||
        sl_json_get_id(body, "name", true, &name, &err) < 0 ||
        sl_json_get_string(body, "role", true, 32, &role, &err) < 0) {
        json_decref(body);
        sl_http_reply_error(r, &err);
        return;
    }
    int role_bit = sl_role_parse(role);
    if (role_bit < 0) {
        json_decref(body);
        sl_http_reply_errorf(r, 422, "invalid", "role",
                             "role must be one of ingest, moderator, policy, admin.");
        return;
    }
    struct token_op *t = calloc(1, sizeof(*t));
    if (!t) {
        json_decref(body);
        token_submit(r, NULL);
        return;
    }
    t->role = role_bit;
    sl_copy(t->name, sizeof(t->name), name);
    json_decref(body);
    t->create = true;
    if (sl_auth_generate(t->token, t->hash) < 0) {
        free(t);
        sl_http_reply_errorf(r, 503, "unavailable", NULL, "No randomness for a token.");
        return;
    }
    token_submit(r, t);
}

void sl_api_token_delete(struct sl_request *r)
{
    if (!sl_id_valid(r->params[0])) {
        sl_http_reply_errorf(r, 404, "not_found", NULL, "No token has that name.");
        return;
    }
    struct token_op *t = calloc(1, sizeof(*t));
    if (t)
        sl_copy(t->name, sizeof(t->name), r->params[0]);
    token_submit(r, t);
}

/* }===================================================================== */
