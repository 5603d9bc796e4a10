/* SPDX-License-Identifier: MIT */
/* POST /v1/uploads: validate, store durably with an audit record, answer. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "api/api.h"
#include "api/creators.h"
#include "api/uploads.h"
#include "dist/dist.h"
#include "lib/clock.h"
#include "lib/item.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/sha256.h"
#include "lib/text.h"
#include "policy/policy.h"
#include "server.h"
#include "store/commit.h"
#include "store/store.h"

#define MAX_TAGS 256
#define MAX_SIGNALS 256
#define MAX_HASHES 64

static int check_named_numbers(json_t *body, const char *key, size_t max, double lo,
                               double hi, struct sl_error *err)
{
    json_t *obj = json_object_get(body, key);
    const char *name;
    json_t *v;

    if (!obj || json_is_null(obj))
        return 0;
    if (!json_is_object(obj))
        return sl_error_set(err, 422, "invalid", key, "%s must be an object of name: number", key);
    if (json_object_size(obj) > max)
        return sl_error_set(err, 422, "invalid", key, "%s has more than %zu entries", key, max);
    json_object_foreach(obj, name, v) {
        char field[SL_ID_MAX + 40];
        snprintf(field, sizeof(field), "%s.%.*s", key, SL_ID_MAX, name);
        if (!sl_id_valid(name))
            return sl_error_set(err, 422, "invalid", field,
                                "%s names must be ids (A-Z a-z 0-9 _ - . : @, at most 128)", key);
        if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi ||
            !isfinite(json_number_value(v)))
            return sl_error_set(err, 422, "invalid", field, "%s must be a number in [%g, %g]",
                                field, lo, hi);
    }
    return 0;
}

static int check_hashes(json_t *body, struct sl_error *err)
{
    json_t *arr = json_object_get(body, "hashes");
    size_t i;
    json_t *v;

    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr) || json_array_size(arr) > MAX_HASHES)
        return sl_error_set(err, 422, "invalid", "hashes",
                            "hashes must be an array of at most %d hex strings", MAX_HASHES);
    json_array_foreach(arr, i, v) {
        uint64_t h;
        if (sl_hash_parse(json_string_value(v), &h) < 0) {
            char field[32];
            snprintf(field, sizeof(field), "hashes[%zu]", i);
            return sl_error_set(err, 422, "invalid", field,
                                "%s must be a 64-bit hash as 16 hex digits", field);
        }
    }
    return 0;
}

int sl_upload_validate(json_t *body, struct sl_error *err)
{
    static const char *const keys[] = { "id", "creator", "title", "description",
        "transcript", "duration_ms", "city", "thumbnail", "tags", "signals", "hashes", NULL };
    const char *s;
    long long n;

    if (sl_json_only_keys(body, keys, err) < 0 ||
        sl_json_get_id(body, "id", false, &s, err) < 0 ||
        sl_json_get_id(body, "creator", true, &s, err) < 0 ||
        sl_json_get_string(body, "title", true, 1000, &s, err) < 0 ||
        sl_json_get_string(body, "description", false, 10000, &s, err) < 0 ||
        sl_json_get_string(body, "transcript", false, 100000, &s, err) < 0 ||
        sl_json_get_int(body, "duration_ms", false, 0, 86400000, &n, err) < 0 ||
        sl_json_get_string(body, "city", false, 128, &s, err) < 0)
        return -EINVAL;
    if (!*json_string_value(json_object_get(body, "title")))
        return sl_error_set(err, 422, "invalid", "title", "title must not be empty");
    int rc = sl_json_get_string(body, "thumbnail", false, 2048, &s, err);
    if (rc < 0)
        return rc;
    if (rc == 0 && strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
        return sl_error_set(err, 422, "invalid", "thumbnail",
                            "thumbnail must be an http:// or https:// URL");
    if (check_named_numbers(body, "tags", MAX_TAGS, 0.0, 1.0, err) < 0 ||
        check_named_numbers(body, "signals", MAX_SIGNALS, -1e300, 1e300, err) < 0 ||
        check_hashes(body, err) < 0)
        return -EINVAL;
    return 0;
}

/* {====================== The write ==================================== */

struct upload_op {
    struct sl_commit_op op;
    struct sl_request *r;
    char id[SL_ID_MAX + 1];
    char actor[SL_ID_MAX + 8];
    char *creator;
    char *upload;               /* canonical JSON */
    char hash[SL_SHA256_HEX_LEN + 1];
    char *tags;                 /* JSON object, after the hooks */
    char *matches;              /* JSON array */
    char *reasons;              /* JSON array */
    char *verdict_json;
    char *answer;               /* the 202's body for a new item */
    size_t answer_len;
    json_t *body;               /* the upload, and its tags after the hooks: */
    json_t *tags_after;         /* what distribution starts from */
    struct sl_outcome verdict;
    struct sl_dist_taken *taken;    /* approved: distribution's first changes */
    struct sl_dist_standing_move standing;  /* the creator's, once stored */
    struct sl_creator_hold hold;    /* the creator is suspended: held for review */
    char state[32];             /* the state answered: new, or as stored */
    bool existed;
};

static int upload_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct upload_op *u = (struct upload_op *)op;
    const struct sl_outcome *v = &u->verdict;
    char stored_hash[SL_SHA256_HEX_LEN + 1];
    int64_t now = sl_now_ms();

    memset(&u->standing, 0, sizeof(u->standing));  /* a run of a batch rolled back */
    int rc = sl_store_item_peek(w, u->id, stored_hash, u->state);
    u->existed = rc == 0;
    if (rc == 0) {
        /* Idempotent retry: same body, same answer; another body is a clash. */
        return strcmp(stored_hash, u->hash) == 0 ? 0 : -EEXIST;
    }
    if (rc != -ENOENT)
        return rc;
    sl_copy(u->state, sizeof(u->state), v->state);
    struct sl_item_row row = {
        .id = u->id, .creator = u->creator, .state = u->state, .upload = u->upload,
        .upload_hash = u->hash, .tags = u->tags, .reasons = u->reasons,
        .matches = u->matches, .verdict = u->verdict_json, .now_ms = now,
    };
    if (u->taken)
        row.state = sl_dist_taken_state(u->taken, &row.plan);
    struct sl_audit_rec arrived = {
        .item = u->id, .actor = u->actor, .action = "upload",
        .to_state = "pending", .ts_ms = now,
    };
    struct sl_audit_rec verdict = {
        .item = u->id, .actor = v->actor, .action = "verdict", .from_state = "pending",
        .to_state = v->state, .reason = v->reason, .ts_ms = now,
    };
    if ((rc = sl_store_item_insert(w, &row)) < 0 ||
        (rc = sl_store_audit_append(w, &arrived)) < 0 ||
        (rc = sl_store_audit_append(w, &verdict)) < 0)
        return rc;
    if (strcmp(v->state, "in_review") == 0)
        rc = sl_store_queue_put(w, u->id, v->queue, v->priority, v->reason, NULL, now);
    if (rc == 0 && u->taken)
        rc = sl_dist_taken_write(u->taken, w);
    if (rc == 0)
        rc = sl_dist_standing_note(w, u->id, u->creator, NULL, u->state, &u->standing);
    return rc;
}

static void upload_free(struct sl_server *srv, struct upload_op *u, bool stored)
{
    if (u->taken)
        sl_dist_taken_done(srv, u->taken, stored);
    free(u->creator);
    free(u->upload);
    free(u->tags);
    free(u->matches);
    free(u->reasons);
    free(u->verdict_json);
    free(u->answer);
    json_decref(u->body);
    json_decref(u->tags_after);
    free(u);
}

static void upload_drop(struct sl_commit_op *op)
{
    struct upload_op *u = (struct upload_op *)op;
    upload_free(u->r->srv, u, false);
}

static void upload_done(struct sl_commit_op *op, int rc)
{
    struct upload_op *u = (struct upload_op *)op;
    struct sl_request *r = u->r;
    struct sl_server *srv = r->srv;   /* r is gone once answered */
    json_t *stored = NULL;

    if (rc == -EEXIST) {
        sl_http_reply_errorf(r, 409, "conflict", "id",
                             "An item with id '%s' exists with a different body.", u->id);
    } else if (rc < 0) {
        sl_http_reply_store_error(r, rc);
    } else if (u->existed) {
        /* A retry answers with what is stored now, not what was sent. */
        if (sl_store_item_get(r->srv->reader, u->id, &stored) < 0) {
            sl_http_reply_store_error(r, -EIO);
        } else {
            sl_http_reply_json(r, 202, json_pack("{s:s, s:O, s:O, s:O}", "id", u->id,
                               "state", json_object_get(stored, "state"),
                               "tags", json_object_get(stored, "tags"),
                               "reasons", json_object_get(stored, "reasons")));
            json_decref(stored);
        }
    } else {
        r->srv->uploads_total++;
        sl_dist_standing_moved(srv, &u->standing);
        if (strcmp(u->state, "approved") == 0 && !u->taken)
            sl_dist_approved(r->srv, u->id, &(struct sl_dist_item){
                                 .upload = u->upload, .tags = u->tags,
                                 .upload_json = u->body, .tags_json = u->tags_after });
        sl_http_reply_bytes(r, 202, "application/json", u->answer, u->answer_len);
    }
    upload_free(srv, u, rc == 0 && !u->existed);
}

/* Most uploads match nothing and have no reasons: "[]" without jansson's
 * dump machinery, which costs several thousand instructions even then. */
static char *dump_array(json_t *a)
{
    return json_array_size(a) ? json_dumps(a, JSON_COMPACT) : strdup("[]");
}

/* The automatic verdict as stored, keys in order. */
static char *verdict_text(const struct sl_outcome *v)
{
    char buf[128 + SL_JSON_QUOTED_MAX(sizeof v->state + sizeof v->actor + sizeof v->queue +
                                      sizeof v->reason)];
    char *p = buf;

    p = sl_json_put_string(sl_json_put_lit(p, "{\"actor\":"), v->actor);
    p = sl_json_put_lit(p, v->failed ? ",\"failed\":true" : ",\"failed\":false");
    p = sl_json_put_int(sl_json_put_lit(p, ",\"priority\":"), v->priority);
    p = sl_json_put_string(sl_json_put_lit(p, ",\"queue\":"), v->queue);
    p = sl_json_put_string(sl_json_put_lit(p, ",\"reason\":"), v->reason);
    p = sl_json_put_string(sl_json_put_lit(p, ",\"state\":"), v->state);
    p = sl_json_put_lit(p, "}");
    return strndup(buf, (size_t)(p - buf));
}

/*
 * A new item's answer, {id, state, tags, reasons}, spliced once from the
 * texts made for the store (parsing them back only to print them again
 * cost a fifth of an upload's time). The id and the verdict's state need
 * no escaping. 0 or -ENOMEM.
 */
static int answer_text(struct upload_op *u)
{
    const char *const parts[] = { "{\"id\":\"", u->id, "\",\"state\":\"", u->verdict.state,
                                  "\",\"tags\":", u->tags, ",\"reasons\":", u->reasons,
                                  "}\n" };
    size_t lens[sizeof parts / sizeof parts[0]], len = 0;

    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        len += lens[i] = strlen(parts[i]);
    if (!(u->answer = malloc(len)))
        return -ENOMEM;
    u->answer_len = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        memcpy(u->answer + u->answer_len, parts[i], lens[i]);
        u->answer_len += lens[i];
    }
    return 0;
}

/* Run the hooks and keep what they produced as the JSON the store holds. */
static int review(struct sl_request *r, json_t *body, struct upload_op *u,
                  struct sl_item **view)
{
    struct sl_item *item = *view = sl_item_new(body);
    if (!item)
        return -ENOMEM;
    sl_dist_item_context(r->srv, item);
    sl_dist_seen(r->srv, item->creator);
    sl_policy_review(r->srv, item, &u->verdict);
    sl_creator_hold(&u->hold, &u->verdict);

    /* The verdict's reason leads the item's reasons, once. */
    json_t *reasons = json_copy(item->reasons);
    if (u->verdict.reason[0]) {
        bool seen = false;
        size_t i;
        json_t *v;
        json_array_foreach(reasons, i, v)
            seen |= strcmp(json_string_value(v), u->verdict.reason) == 0;
        if (!seen)
            json_array_insert_new(reasons, 0, json_string(u->verdict.reason));
    }
    /* Confidences to the precision of every answer, so that the stored
     * tags read back as they were first answered. */
    u->tags = sl_json_sorted(item->tags, 12);
    u->matches = dump_array(item->matches);
    u->reasons = dump_array(reasons);
    u->verdict_json = verdict_text(&u->verdict);
    json_decref(reasons);
    u->tags_after = json_incref(item->tags);
    return u->tags && u->matches && u->reasons && u->verdict_json ? 0 : -ENOMEM;
}

void sl_api_upload(struct sl_request *r)
{
    struct sl_error err = { 0 };
    json_t *body = sl_http_json_body(r, &err);

    if (!body || sl_upload_validate(body, &err) < 0) {
        json_decref(body);
        sl_http_reply_error(r, &err);
        return;
    }
    struct upload_op *u = calloc(1, sizeof(*u));
    if (!u) {
        json_decref(body);
        sl_api_submit(r, NULL, upload_apply, upload_done, upload_drop);
        return;
    }
    const char *id = json_string_value(json_object_get(body, "id"));
    if (sl_creator_gate(r, json_string_value(json_object_get(body, "creator")), id,
                        &u->hold)) {
        free(u);
        json_decref(body);
        return;
    }
    if (id) {
        sl_copy(u->id, sizeof(u->id), id);
    } else {
        uint8_t raw[12];
        if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
            free(u);
            json_decref(body);
            sl_http_reply_errorf(r, 503, "unavailable", NULL, "No randomness for an id.");
            return;
        }
        u->id[0] = 'u';
        sl_hex(raw, sizeof(raw), u->id + 1);
        json_object_set_new(body, "id", json_string(u->id));
    }
    sl_api_actor(r, u->actor, sizeof(u->actor));
    u->creator = strdup(json_string_value(json_object_get(body, "creator")));
    u->upload = sl_json_canonical(body);
    struct sl_item *view = NULL;
    int rc = review(r, body, u, &view);
    u->body = body;
    if (rc < 0 || !u->creator || !u->upload) {
        sl_item_free(view);
        upload_free(r->srv, u, false);
        sl_http_reply_store_error(r, -ENOMEM);
        return;
    }
    sl_sha256_hex(u->upload, strlen(u->upload), u->hash);
    if (answer_text(u) < 0) {
        sl_item_free(view);
        upload_free(r->srv, u, false);
        sl_http_reply_store_error(r, -ENOMEM);
        return;
    }
    u->r = r;
    if (strcmp(u->verdict.state, "approved") == 0)
        u->taken = sl_dist_take(r->srv, u->id, &(struct sl_dist_item){
                                    .upload = u->upload, .tags = u->tags,
                                    .upload_json = body, .tags_json = u->tags_after,
                                    .view = view });
    sl_item_free(view);
    sl_api_submit(r, &u->op, upload_apply, upload_done, upload_drop);
}

/* }===================================================================== */
