/* SPDX-License-Identifier: MIT */
/* Bearer tokens: made here, kept as SHA-256 hashes, checked in constant time. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "api/api.h"
#include "http/auth.h"
#include "lib/clock.h"
#include "store/commit.h"
#include "lib/json.h"
#include "lib/log.h"
#include "server.h"
#include "lib/sha256.h"
#include "store/store.h"
#include "lib/text.h"

struct token {
    char *name;
    int role;
    uint8_t hash[SL_SHA256_LEN];
};

struct sl_auth {
    struct token *tokens;
    size_t n, cap;
};

static const char *const role_names[] = { "ingest", "moderator", "policy", "admin" };

int sl_role_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, role_names[i]) == 0)
            return 1 << i;
    return -EINVAL;
}

const char *sl_role_name(int role)
{
    for (int i = 0; i < 4; i++)
        if (role == 1 << i)
            return role_names[i];
    return "none";
}

static int unhex(const char *hex, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -EINVAL;
        out[i] = (uint8_t)v;
    }
    return 0;
}

int sl_auth_add(struct sl_auth *a, const char *name, int role, const char *hash_hex)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 8;
        struct token *t = realloc(a->tokens, cap * sizeof(*t));
        if (!t)
            return -ENOMEM;
        a->tokens = t;
        a->cap = cap;
    }
    struct token *t = &a->tokens[a->n];
    if (strlen(hash_hex) != SL_SHA256_HEX_LEN || unhex(hash_hex, t->hash, SL_SHA256_LEN) < 0)
        return -EINVAL;
    t->name = strdup(name);
    t->role = role;
    if (!t->name)
        return -ENOMEM;
    a->n++;
    return 0;
}

void sl_auth_remove(struct sl_auth *a, const char *name)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->tokens[i].name, name) == 0) {
            free(a->tokens[i].name);
            a->tokens[i] = a->tokens[--a->n];
            return;
        }
}

static int load_one(void *arg, const char *name, const char *role, const char *hash_hex)
{
    int r = sl_role_parse(role);
    if (r < 0 || sl_auth_add(arg, name, r, hash_hex) < 0)
        sl_warn("auth: token '%s' in the store is malformed and was skipped", name);
    return 0;
}

int sl_auth_new(struct sl_store *reader, struct sl_auth **out)
{
    struct sl_auth *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    int rc = sl_store_token_each(reader, load_one, a);
    if (rc < 0) {
        sl_auth_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void sl_auth_free(struct sl_auth *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        free(a->tokens[i].name);
    free(a->tokens);
    free(a);
}

int sl_auth_check(struct sl_auth *a, const char *header, const char **name, int *role)
{
    uint8_t hash[SL_SHA256_LEN];
    struct token *found = NULL;

    if (!header || strncasecmp(header, "Bearer ", 7) != 0)
        return -EACCES;
    const char *tok = header + 7;
    while (*tok == ' ')
        tok++;
    sl_sha256(tok, strlen(tok), hash);
    /* Compare against every token without stopping early, so the time taken
     * says nothing about which token came close. */
    for (size_t i = 0; i < a->n; i++)
        if (sl_memeq_const(a->tokens[i].hash, hash, SL_SHA256_LEN) == 0)
            found = &a->tokens[i];
    if (!found)
        return -EACCES;
    *name = found->name;
    *role = found->role;
    return 0;
}

int sl_auth_generate(char token[SL_TOKEN_LEN + 1], char hash_hex[65])
{
    uint8_t raw[24];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return -EIO;
    memcpy(token, "sl_", 3);
    sl_hex(raw, sizeof(raw), token + 3);
    sl_sha256_hex(token, SL_TOKEN_LEN, hash_hex);
    return 0;
}

/* {====================== Token routes ================================= */

struct token_op {
    struct sl_commit_op op;
    struct sl_request *r;
    char name[SL_ID_MAX + 1];
    char actor[SL_ID_MAX + 8];  /* copied: the caller's token may be revoked meanwhile */
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
        sl_info("auth: token '%s' (%s) created by '%s'", t->name, sl_role_name(t->role),
                r->token_name);
        sl_http_reply_json(r, 201, json_pack("{s:s, s:s, s:s}", "name", t->name,
                                             "role", sl_role_name(t->role), "token", t->token));
    } else {
        sl_auth_remove(a, t->name);
        sl_info("auth: token '%s' revoked by '%s'", t->name, r->token_name);
        sl_http_reply_json(r, 200, json_pack("{s:s, s:b}", "name", t->name, "revoked", 1));
    }
    free(t);
}

static void token_submit(struct sl_request *r, struct token_op *t)
{
    t->op.apply = token_apply;
    t->op.done = token_done;
    t->r = r;
    snprintf(t->actor, sizeof(t->actor), "token:%s", r->token_name);
    int rc = sl_commit_submit(r->srv->commit, &t->op);
    if (rc < 0) {
        free(t);
        sl_http_reply_store_error(r, rc);
    }
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
    struct token_op *t = calloc(1, sizeof(*t));
    t->role = sl_role_parse(role);
    if (t->role < 0) {
        free(t);
        json_decref(body);
        sl_http_reply_errorf(r, 422, "invalid", "role",
                             "role must be one of ingest, moderator, policy, admin.");
        return;
    }
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
    sl_copy(t->name, sizeof(t->name), r->params[0]);
    token_submit(r, t);
}

/* }===================================================================== */
