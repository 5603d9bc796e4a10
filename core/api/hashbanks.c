/* SPDX-License-Identifier: MIT */
/* Hash banks: durable sets of known-bad perceptual hashes, fed to plugins. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/retro.h"
#include "api/validate.h"
#include "lib/clock.h"
#include "lib/item.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/text.h"
#include "policy/plugin.h"
#include "policy/policy.h"
#include "server.h"
#include "store/commit.h"
#include "store/store.h"

#define BANK_CHANGE_MAX 100000

struct bank_op {
    struct sl_commit_op op;
    struct sl_request *r;
    char bank[SL_ID_MAX + 1];
    uint64_t *add, *remove;
    size_t nadd, nremove;
    const char *then;           /* what follows a stored item's match (retro.h) */
    int retro_days;             /* how far back the new hashes are matched */
};

static void bank_op_free(struct sl_commit_op *op)
{
    struct bank_op *b = (struct bank_op *)op;

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
        /* Then the items stored before: answered once that job is made. */
        sl_retro_start(b->r, b->bank, b->add, b->nadd, b->nremove, b->then, b->retro_days);
    }
    bank_op_free(op);
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
    if (!(*out = calloc(json_array_size(arr) + 1, sizeof(**out))))
        return sl_error_set(err, 503, "unavailable", NULL, "The daemon is out of memory.");
    json_array_foreach(arr, i, v)
        if (sl_hash_parse(json_string_value(v), &(*out)[(*n)++]) < 0) {
            char field[48];
            snprintf(field, sizeof(field), "%s[%zu]", key, i);
            return sl_error_set(err, 422, "invalid", field,
                                "%s must be a 64-bit hash as 16 hex digits", field);
        }
    return 0;
}

int sl_hashbank_validate(json_t *body, uint64_t **add, size_t *nadd, uint64_t **remove,
                         size_t *nremove, struct sl_error *err)
{
    /* then and retro_days are the handler's to read (retro.h). */
    static const char *const keys[] = { "add", "remove", "then", "retro_days", NULL };

    *add = *remove = NULL;
    *nadd = *nremove = 0;
    if (sl_json_only_keys(body, keys, err) < 0 ||
        parse_list(body, "add", add, nadd, err) < 0 ||
        parse_list(body, "remove", remove, nremove, err) < 0) {
        free(*add);
        free(*remove);
        *add = *remove = NULL;
        *nadd = *nremove = 0;
        return -EINVAL;
    }
    return 0;
}

void sl_api_hashbank(struct sl_request *r)
{
    struct sl_error err = { 0 };
    const char *then = NULL;
    long long days = r->srv->cfg.hashbank_retro_days;
    json_t *body = sl_http_json_body(r, &err);
    struct bank_op *b = calloc(1, sizeof(*b));

    if (!b) {
        json_decref(body);
        sl_api_submit(r, NULL, bank_apply, bank_done, bank_op_free);
        return;
    }
    if (!sl_id_valid(r->params[0]))
        sl_error_set(&err, 422, "invalid", "bank",
                     "A bank name must be an id (A-Z a-z 0-9 _ - . : @, at most 128).");
    if (!body || err.status ||
        sl_hashbank_validate(body, &b->add, &b->nadd, &b->remove, &b->nremove, &err) < 0 ||
        sl_json_get_string(body, "then", false, 16, &then, &err) < 0 ||
        sl_json_get_int(body, "retro_days", false, 0, 3650, &days, &err) < 0 ||
        sl_retro_then(&r->srv->cfg, r->params[0], then, &b->then, &err) < 0) {
        json_decref(body);
        bank_op_free(&b->op);
        sl_http_reply_error(r, &err);
        return;
    }
    json_decref(body);
    sl_copy(b->bank, sizeof(b->bank), r->params[0]);
    b->retro_days = (int)days;
    b->r = r;
    sl_api_submit(r, &b->op, bank_apply, bank_done, bank_op_free);
}
