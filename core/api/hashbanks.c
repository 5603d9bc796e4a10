/* SPDX-License-Identifier: MIT */
/* Hash banks: durable sets of known-bad perceptual hashes, fed to plugins. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "lib/clock.h"
#include "store/commit.h"
#include "api/hashbanks.h"
#include "lib/json.h"
#include "lib/log.h"
#include "policy/plugin.h"
#include "policy/policy.h"
#include "server.h"
#include "store/store.h"
#include "lib/text.h"

#define BANK_CHANGE_MAX 100000

struct bank_op {
    struct sl_commit_op op;
    struct sl_request *r;
    char bank[SL_ID_MAX + 1];
    uint64_t *add, *remove;
    size_t nadd, nremove;
};

static void bank_op_free(struct bank_op *b)
{
    free(b->add);
    free(b->remove);
    free(b);
}

static int bank_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct bank_op *b = (struct bank_op *)op;
    int64_t now = sl_now_ms();
    char hex[17];
    int rc = 0;

    for (size_t i = 0; i < b->nadd && rc == 0; i++) {
        snprintf(hex, sizeof(hex), "%016" PRIx64, b->add[i]);
        rc = sl_store_hashbank_set(w, b->bank, hex, true, now);
    }
    for (size_t i = 0; i < b->nremove && rc == 0; i++) {
        snprintf(hex, sizeof(hex), "%016" PRIx64, b->remove[i]);
        rc = sl_store_hashbank_set(w, b->bank, hex, false, now);
    }
    return rc;
}

static void bank_done(struct sl_commit_op *op, int rc)
{
    struct bank_op *b = (struct bank_op *)op;

    if (rc < 0) {
        sl_http_reply_store_error(b->r, rc);
    } else {
        /* Durable first, then in the index: the next upload sees it. */
        sl_plugins_hashbank(sl_policy_plugins(b->r->srv), b->bank, b->add, b->nadd,
                            b->remove, b->nremove);
        sl_http_reply_json(b->r, 200, json_pack("{s:s, s:I, s:I}", "bank", b->bank,
                                                "added", (json_int_t)b->nadd,
                                                "removed", (json_int_t)b->nremove));
    }
    bank_op_free(b);
}

int sl_hash_parse(const char *hex, uint64_t *out)
{
    char *end;
    if (!hex || strlen(hex) != 16 || strspn(hex, "0123456789abcdefABCDEF") != 16)
        return -EINVAL;
    *out = strtoull(hex, &end, 16);
    return 0;
}

static int parse_list(json_t *body, const char *key, uint64_t **out, size_t *n,
                      struct sl_error *err)
{
    json_t *arr = json_object_get(body, key);
    size_t i;
    json_t *v;

    *out = NULL;
    *n = 0;
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr) || json_array_size(arr) > BANK_CHANGE_MAX)
        return sl_error_set(err, 422, "invalid", key,
                            "%s must be an array of at most %d hashes", key, BANK_CHANGE_MAX);
    *out = calloc(json_array_size(arr) + 1, sizeof(**out));
    json_array_foreach(arr, i, v)
        if (sl_hash_parse(json_string_value(v), &(*out)[(*n)++]) < 0) {
            char field[48];
            snprintf(field, sizeof(field), "%s[%zu]", key, i);
            return sl_error_set(err, 422, "invalid", field,
                                "%s must be a 64-bit hash as 16 hex digits", field);
        }
    return 0;
}

void sl_api_hashbank(struct sl_request *r)
{
    static const char *const keys[] = { "add", "remove", NULL };
    struct sl_error err = { 0 };
    json_t *body = sl_http_json_body(r, &err);
    struct bank_op *b = calloc(1, sizeof(*b));

    if (!sl_id_valid(r->params[0]))
        sl_error_set(&err, 422, "invalid", "bank",
                     "A bank name must be an id (A-Z a-z 0-9 _ - . : @, at most 128).");
    if (!body || err.status || sl_json_only_keys(body, keys, &err) < 0 ||
        parse_list(body, "add", &b->add, &b->nadd, &err) < 0 ||
        parse_list(body, "remove", &b->remove, &b->nremove, &err) < 0) {
        json_decref(body);
        bank_op_free(b);
        sl_http_reply_error(r, &err);
        return;
    }
    json_decref(body);
    sl_copy(b->bank, sizeof(b->bank), r->params[0]);
    b->r = r;
    b->op.apply = bank_apply;
    b->op.done = bank_done;
    int rc = sl_commit_submit(r->srv->commit, &b->op);
    if (rc < 0) {
        bank_op_free(b);
        sl_http_reply_store_error(r, rc);
    }
}

/* {====================== Replay at start ============================== */

struct replay {
    struct sl_plugins *plugins;
    char bank[SL_ID_MAX + 1];
    uint64_t *hashes;
    size_t n, cap;
    size_t total;
};

static void flush(struct replay *rp)
{
    if (rp->n)
        sl_plugins_hashbank(rp->plugins, rp->bank, rp->hashes, rp->n, NULL, 0);
    rp->total += rp->n;
    rp->n = 0;
}

static int replay_one(void *arg, const char *bank, const char *hex)
{
    struct replay *rp = arg;
    uint64_t h;

    if (strcmp(bank, rp->bank) != 0 || rp->n == rp->cap) {
        flush(rp);
        sl_copy(rp->bank, sizeof(rp->bank), bank);
    }
    if (sl_hash_parse(hex, &h) == 0)
        rp->hashes[rp->n++] = h;
    return 0;
}

int sl_hashbanks_replay(struct sl_server *srv)
{
    struct replay rp = { .plugins = sl_policy_plugins(srv), .cap = 65536 };
    rp.hashes = malloc(rp.cap * sizeof(*rp.hashes));
    if (!rp.hashes)
        return -ENOMEM;
    int rc = sl_store_hashbank_each(srv->reader, replay_one, &rp);
    flush(&rp);
    free(rp.hashes);
    if (rp.total)
        sl_info("hash banks: %zu hashes handed to plugins", rp.total);
    return rc;
}

/* }===================================================================== */
