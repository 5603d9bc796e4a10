/* SPDX-License-Identifier: MIT */
/* POST/GET /v1/tokens and DELETE /v1/tokens/{name}: an admin makes, lists and revokes tokens. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/validate.h"
#include "http/auth.h"
#include "lib/clock.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/sha256.h"
#include "lib/text.h"
#include "server.h"
#include "store/commit.h"
#include "store/store.h"

/* Ten years: longer is "never", which is said by leaving expires_in_s out. */
#define EXPIRES_MAX_S 315360000LL

struct token_op {
    struct sl_commit_op op;
    struct sl_request *r;
    char name[SL_ID_MAX + 1];
    /* The caller, copied: r->token_name lives in the token table, and a
     * token may revoke itself. */
    char actor[SL_ID_MAX + 8];
    int role;
    bool create;
    int64_t expires_ms;         /* create: 0 never */
    char token[SL_TOKEN_LEN + 1];
    char hash[SL_SHA256_HEX_LEN + 1];
};

/* {====================== Writer side ================================== */

/* What revoking a token would leave: there is always an admin token that
 * does not expire, or nobody could ever make tokens again. */
struct revoke_scan {
    const char *name;
    bool found, lasting_admin;  /* the token, and whether it is a lasting admin */
    int lasting_admins;         /* admin tokens that never expire, it included */
};

static int revoke_scan_one(void *arg, const char *name, const char *role,
                           const char *hash_hex, int64_t created_ms, int64_t expires_ms)
{
    struct revoke_scan *rs = arg;
    bool lasting = strcmp(role, "admin") == 0 && expires_ms == 0;
    (void)hash_hex;
    (void)created_ms;

    rs->lasting_admins += lasting;
    if (strcmp(name, rs->name) == 0) {
        rs->found = true;
        rs->lasting_admin = lasting;
    }
    return 0;
}

static int token_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct token_op *t = (struct token_op *)op;
    int64_t now = sl_now_ms();
    int rc;

    if (t->create) {
        rc = sl_store_token_insert(w, t->name, sl_role_name(t->role), t->hash, now,
                                   t->expires_ms);
    } else {
        /* Counted in the transaction that deletes: two admins revoking the
         * last two lasting admin tokens at once cannot both succeed. */
        struct revoke_scan rs = { .name = t->name };
        if ((rc = sl_store_token_each(w, revoke_scan_one, &rs)) < 0)
            return rc;
        if (!rs.found)
            return -ENOENT;
        if (rs.lasting_admin && rs.lasting_admins <= 1)
            return -EBUSY;
        rc = sl_store_token_delete(w, t->name);
    }
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

/* }===================================================================== */

/* {====================== Loop side ==================================== */

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
    } else if (rc == -EBUSY) {
        sl_http_reply_errorf(r, 409, "conflict", NULL,
                             "'%s' is the last admin token that does not expire; revoking it "
                             "would lock every admin out. Make another admin token first.",
                             t->name);
    } else if (rc < 0) {
        sl_http_reply_store_error(r, rc);
    } else if (t->create) {
        if (sl_auth_add(a, t->name, t->role, t->hash, t->expires_ms) < 0)
            sl_err("auth: no memory to load token '%s'; it works after a restart", t->name);
        sl_info("auth: token '%s' (%s) created by %s", t->name, sl_role_name(t->role), t->actor);
        sl_http_reply_json(r, 201, json_pack("{s:s, s:s, s:s, s:o}", "name", t->name,
                                             "role", sl_role_name(t->role), "token", t->token,
                                             "expires_ms", t->expires_ms
                                             ? json_integer(t->expires_ms) : json_null()));
    } else {
        sl_auth_remove(a, t->name);
        sl_info("auth: token '%s' revoked by %s", t->name, t->actor);
        sl_http_reply_json(r, 200, json_pack("{s:s, s:b}", "name", t->name, "revoked", 1));
    }
    sl_memzero(t->token, sizeof(t->token));
    free(t);
}

static void token_drop(struct sl_commit_op *op)
{
    sl_memzero(((struct token_op *)op)->token, sizeof(((struct token_op *)op)->token));
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

int sl_token_validate(json_t *body, int *role, long long *expires_in_s, struct sl_error *err)
{
    static const char *const keys[] = { "name", "role", "expires_in_s", NULL };
    const char *name, *word;

    *expires_in_s = 0;
    if (sl_json_only_keys(body, keys, err) < 0 ||
        sl_json_get_id(body, "name", true, &name, err) < 0 ||
        sl_json_get_string(body, "role", true, 32, &word, err) < 0 ||
        sl_json_get_int(body, "expires_in_s", false, 1, EXPIRES_MAX_S, expires_in_s, err) < 0)
        return -EINVAL;
    if ((*role = sl_role_parse(word)) < 0)
        return sl_error_set(err, 422, "invalid", "role",
                            "role must be one of ingest, moderator, policy, admin.");
    return 0;
}

void sl_api_token_create(struct sl_request *r)
{
    struct sl_error err = { 0 };
    long long expires_in_s;
    int role_bit;
    json_t *body = sl_http_json_body(r, &err);

    if (!body || sl_token_validate(body, &role_bit, &expires_in_s, &err) < 0) {
        json_decref(body);
        sl_http_reply_error(r, &err);
        return;
    }
    const char *name = json_string_value(json_object_get(body, "name"));
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
    t->expires_ms = expires_in_s ? sl_now_ms() + expires_in_s * 1000 : 0;
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

struct token_list {
    json_t *list;
    int64_t now;
    int rc;
};

static int list_one(void *arg, const char *name, const char *role, const char *hash_hex,
                    int64_t created_ms, int64_t expires_ms)
{
    struct token_list *tl = arg;
    (void)hash_hex;
    json_t *t = json_pack("{s:s, s:s, s:I, s:o, s:b}", "name", name, "role", role,
                          "created_ms", (json_int_t)created_ms,
                          "expires_ms", expires_ms ? json_integer(expires_ms) : json_null(),
                          "expired", expires_ms && tl->now >= expires_ms);
    if (!t || json_array_append_new(tl->list, t) < 0) {
        tl->rc = -ENOMEM;
        return 1;
    }
    return 0;
}

/* GET /v1/tokens: names, roles and expiry; never a token or its hash. */
void sl_api_token_list(struct sl_request *r)
{
    struct token_list tl = { json_array(), sl_now_ms(), 0 };
    int rc = tl.list ? sl_store_token_each(r->srv->reader, list_one, &tl) : -ENOMEM;

    if (rc == 0)
        rc = tl.rc;
    if (rc < 0) {
        json_decref(tl.list);
        sl_api_read_error(r, rc);
        return;
    }
    sl_http_reply_json(r, 200, json_pack("{s:o, s:I}", "tokens", tl.list,
                                         "now_ms", (json_int_t)tl.now));
}

/* }===================================================================== */
