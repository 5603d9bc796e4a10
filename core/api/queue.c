/* SPDX-License-Identifier: MIT */
/* The human review queue: listing, claims with leases and fences, decisions. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/validate.h"
#include "dist/dist.h"
#include "lib/clock.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/text.h"
#include "server.h"
#include "store/commit.h"
#include "store/store.h"

#define CLAIM_MAX 50
#define LIST_MAX 1000
/* A decision's reason, in characters (what docs/http-api.md states); the
 * buffer holds that many of the longest (4 bytes) and the NUL. */
#define REASON_MAX 1000

enum decision { D_APPROVE, D_REJECT, D_ESCALATE, D_RENEW, D_CLAIM };

struct queue_op {
    struct sl_commit_op op;
    struct sl_request *r;
    struct sl_server *srv;          /* r is gone once answered */
    enum decision what;
    char who[SL_ID_MAX + 1];        /* the moderator's token name */
    char item[SL_ID_MAX + 1];
    char queue[SL_ID_MAX + 1];      /* claim: "" for any */
    char reason[4 * REASON_MAX + 1];
    char *tags;                     /* decision tags as stored JSON, or NULL */
    int64_t fence;
    int limit;
    int64_t now_ms, lease_ms;
    /* results */
    json_t *claimed;
    int64_t lease_until_ms;
    char state[32];
    struct sl_dist_standing_move standing;  /* a decision's, for the creator */
};

static void queue_op_free(struct queue_op *q)
{
    if (!q)
        return;
    free(q->tags);
    json_decref(q->claimed);
    free(q);
}

/* {====================== Writer side ================================== */

static int audit(struct sl_store *w, struct queue_op *q, const char *action,
                 const char *from, const char *to, const char *reason)
{
    char actor[SL_ID_MAX + 8];
    snprintf(actor, sizeof(actor), "token:%s", q->who);
    struct sl_audit_rec rec = { q->item, actor, action, from, to, reason, q->now_ms };
    return sl_store_audit_append(w, &rec);
}

static int claim_apply(struct queue_op *q, struct sl_store *w)
{
    size_t i;
    json_t *c;

    json_decref(q->claimed);            /* from a run of a batch rolled back */
    q->claimed = NULL;
    int rc = sl_store_queue_claim(w, q->queue[0] ? q->queue : NULL, q->who, q->limit,
                                  q->now_ms, q->lease_ms, q->srv->cfg.queue_sla,
                                  &q->claimed);
    json_array_foreach(q->claimed, i, c) {
        char reason[64];
        sl_copy(q->item, sizeof(q->item), json_string_value(json_object_get(c, "id")));
        snprintf(reason, sizeof(reason), "fence %lld",
                 (long long)json_integer_value(json_object_get(c, "fence")));
        if (rc == 0)
            rc = audit(w, q, "claim", NULL, NULL, reason);
    }
    return rc;
}

/* The claim behind a decision must be the caller's, current and unexpired. */
static int check_claim(struct queue_op *q, const struct sl_queue_entry *e)
{
    if (strcmp(e->claimed_by, q->who) != 0 || e->fence != q->fence)
        return -ESTALE;
    if (e->lease_until_ms <= q->now_ms)
        return -ETIMEDOUT;
    return 0;
}

static int decide_apply(struct queue_op *q, struct sl_store *w)
{
    struct sl_queue_entry e;
    int rc = sl_store_queue_get(w, q->item, &e);

    if (rc == -ENOENT)
        return sl_store_item_state(w, q->item, q->state) == -ENOENT ? -ENOENT : -ENOLINK;
    if (rc < 0)
        return rc;
    /* Whoever escalated an item may not settle it: that is the point, and
     * it is said before anything about claims (they cannot claim it). */
    if (q->what != D_RENEW && e.escalated_by[0] && strcmp(e.escalated_by, q->who) == 0)
        return -EPERM;
    if ((rc = check_claim(q, &e)) < 0)
        return rc;
    if (q->what == D_RENEW) {
        q->lease_until_ms = q->now_ms + q->lease_ms;
        return sl_store_queue_renew(w, q->item, q->lease_until_ms);
    }
    if (q->tags && (rc = sl_store_item_merge_tags(w, q->item, q->tags, q->now_ms)) < 0)
        return rc;
    if (q->what == D_ESCALATE) {
        sl_copy(q->state, sizeof(q->state), "in_review");
        rc = sl_store_queue_put(w, q->item, "escalated", e.priority, q->reason, q->who,
                                q->now_ms);
        return rc < 0 ? rc : audit(w, q, "escalate", "in_review", "in_review", q->reason);
    }
    sl_copy(q->state, sizeof(q->state), q->what == D_APPROVE ? "approved" : "rejected");
    /* People decided: the item's reports were right (rejected) or not
     * (approved), and their reporters' standing moves with it; so does
     * the creator's, from the state the item really had. */
    char was[32];
    if ((rc = sl_store_item_state(w, q->item, was)) < 0 ||
        (rc = sl_store_queue_remove(w, q->item)) < 0 ||
        (rc = sl_store_item_set_state(w, q->item, q->state, q->now_ms)) < 0 ||
        (rc = sl_store_reports_judge(w, q->item, q->what == D_REJECT)) < 0 ||
        (rc = sl_dist_standing_note(w, q->item, NULL, was, q->state, &q->standing)) < 0)
        return rc;
    return audit(w, q, q->what == D_APPROVE ? "approve" : "reject", "in_review", q->state,
                 q->reason);
}

static int queue_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct queue_op *q = (struct queue_op *)op;

    memset(&q->standing, 0, sizeof(q->standing));   /* a run of a batch rolled back */
    return q->what == D_CLAIM ? claim_apply(q, w) : decide_apply(q, w);
}

/* }===================================================================== */

/* {====================== Loop side ==================================== */

static void claim_done(struct queue_op *q)
{
    struct sl_request *r = q->r;
    size_t i;
    json_t *c, *item;

    /* Hand each claimed item over whole, so a console needs no second trip.
     * The claims are made: an item that cannot be read is said, by its id
     * and an error, not left out. */
    json_array_foreach(q->claimed, i, c) {
        const char *id = json_string_value(json_object_get(c, "id"));
        json_t *audit = NULL;
        item = NULL;
        int rc = sl_store_item_get(r->srv->reader, id, &item);
        if (rc == 0 && (rc = sl_store_audit_list(r->srv->reader, id, 0, 1000, &audit)) == 0)
            json_object_set_new(item, "audit", audit);
        if (rc == 0)
            json_object_set_new(c, "item", item);
        else {
            json_decref(item);
            json_object_set_new(c, "error", json_string(
                "The item cannot be read (see the daemon's log); GET /v1/items/{id} "
                "says why."));
        }
    }
    sl_http_reply_json(r, 200, json_pack("{s:O, s:I}", "items", q->claimed,
                                         "lease_seconds", (json_int_t)(q->lease_ms / 1000)));
}

static void queue_done(struct sl_commit_op *op, int rc)
{
    struct queue_op *q = (struct queue_op *)op;
    struct sl_request *r = q->r;

    switch (rc) {
    case 0:
        if (q->what == D_CLAIM)
            claim_done(q);
        else if (q->what == D_RENEW)
            sl_http_reply_json(r, 200, json_pack("{s:s, s:I, s:I}", "id", q->item,
                               "fence", (json_int_t)q->fence,
                               "lease_until_ms", (json_int_t)q->lease_until_ms));
        else {
            sl_dist_standing_moved(q->srv, &q->standing);
            sl_http_reply_json(r, 200, json_pack("{s:s, s:s}", "id", q->item,
                                                 "state", q->state));
            if (q->what == D_APPROVE)
                sl_dist_approved(q->srv, q->item, NULL);
            else if (q->what == D_REJECT)
                sl_dist_withdrawn(q->srv, q->item);
        }
        break;
    case -ENOENT:
        sl_http_reply_errorf(r, 404, "not_found", NULL, "No item has the id '%s'.", q->item);
        break;
    case -ENOLINK:
        sl_http_reply_errorf(r, 409, "conflict", NULL,
                             "Item '%s' is not waiting for review (it is %s).", q->item,
                             q->state);
        break;
    case -ESTALE:
        sl_http_reply_errorf(r, 409, "conflict", "fence",
                             "Your claim on '%s' is no longer current: it was claimed again "
                             "or decided since. Claim it again to act on it.", q->item);
        break;
    case -ETIMEDOUT:
        sl_http_reply_errorf(r, 409, "lease_expired", "fence",
                             "Your claim on '%s' expired; it went back to the queue.",
                             q->item);
        break;
    case -EPERM:
        sl_http_reply_errorf(r, 403, "forbidden", NULL,
                             "You escalated '%s'; someone else must decide it.", q->item);
        break;
    default:
        sl_http_reply_store_error(r, rc);
    }
    queue_op_free(q);
}

static void queue_drop(struct sl_commit_op *op)
{
    queue_op_free((struct queue_op *)op);
}

/* q NULL (out of memory): a 503. */
static void submit(struct sl_request *r, struct queue_op *q)
{
    if (q) {
        q->r = r;
        q->srv = r->srv;
        q->now_ms = sl_now_ms();
        q->lease_ms = (int64_t)r->srv->cfg.claim_lease_seconds * 1000;
        sl_copy(q->who, sizeof(q->who), r->token_name);
    }
    sl_api_submit(r, q ? &q->op : NULL, queue_apply, queue_done, queue_drop);
}

void sl_api_queue(struct sl_request *r)
{
    const char *queue = sl_http_query(r, "queue");
    const char *limit_s = sl_http_query(r, "limit");
    char *end = NULL;
    long limit = limit_s ? strtol(limit_s, &end, 10) : 100;
    json_t *depths = NULL, *items = NULL;

    if ((queue && !sl_id_valid(queue)) || (limit_s && *end) || limit < 1 || limit > LIST_MAX) {
        sl_http_reply_errorf(r, 400, "bad_request", NULL,
                             "Use ?queue=NAME&limit=N with 1 <= N <= %d.", LIST_MAX);
        return;
    }
    int64_t now = sl_now_ms();
    const char *sla = r->srv->cfg.queue_sla;
    int rc;
    if ((rc = sl_store_queue_depths(r->srv->reader, now, sla, &depths)) < 0 ||
        (rc = sl_store_queue_list(r->srv->reader, queue, (int)limit, now, sla, &items)) < 0) {
        json_decref(depths);
        sl_api_read_error(r, rc);
        return;
    }
    sl_http_reply_json(r, 200, json_pack("{s:o, s:o, s:I}", "queues", depths, "items", items,
                                         "now_ms", (json_int_t)now));
}

void sl_api_queue_claim(struct sl_request *r)
{
    static const char *const keys[] = { "queue", "limit", NULL };
    struct sl_error err = { 0 };
    const char *queue = NULL;
    long long limit = 1;
    json_t *body = r->body_len ? sl_http_json_body(r, &err) : json_object();

    if (!body || sl_json_only_keys(body, keys, &err) < 0 ||
        sl_json_get_id(body, "queue", false, &queue, &err) < 0 ||
        sl_json_get_int(body, "limit", false, 1, CLAIM_MAX, &limit, &err) < 0) {
        json_decref(body);
        sl_http_reply_error(r, &err);
        return;
    }
    struct queue_op *q = calloc(1, sizeof(*q));
    if (q) {
        q->what = D_CLAIM;
        q->limit = (int)limit;
        sl_copy(q->queue, sizeof(q->queue), queue ? queue : "");
    }
    json_decref(body);
    submit(r, q);
}

/* Decision tags {name: confidence} become {name: {confidence, source}}. */
static int decision_tags(json_t *body, const char *who, char **out, struct sl_error *err)
{
    json_t *tags = json_object_get(body, "tags");
    const char *name;
    json_t *v;

    *out = NULL;
    if (!tags || json_is_null(tags))
        return 0;
    if (!json_is_object(tags) || json_object_size(tags) > 256)
        return sl_error_set(err, 422, "invalid", "tags",
                            "tags must be an object of at most 256 name: confidence");
    json_t *stored = json_object();
    if (!stored)
        return sl_error_set(err, 503, "unavailable", NULL, "The daemon is out of memory.");
    json_object_foreach(tags, name, v) {
        double c = json_number_value(v);
        if (!sl_id_valid(name) || !json_is_number(v) || c < 0 || c > 1) {
            json_decref(stored);
            return sl_error_set(err, 422, "invalid", "tags",
                                "every tag must be an id with a confidence in [0, 1]");
        }
        char source[SL_ID_MAX + 8];
        snprintf(source, sizeof(source), "token:%s", who);
        if (json_object_set_new(stored, name, json_pack("{s:f, s:s}", "confidence", c,
                                                        "source", source)) < 0) {
            json_decref(stored);
            return sl_error_set(err, 503, "unavailable", NULL, "The daemon is out of memory.");
        }
    }
    *out = json_dumps(stored, JSON_COMPACT);
    json_decref(stored);
    if (!*out)
        return sl_error_set(err, 503, "unavailable", NULL, "The daemon is out of memory.");
    return 0;
}

/* The decision's word, or -1. */
static int decision_parse(const char *decision)
{
    return strcmp(decision, "approve") == 0    ? D_APPROVE
           : strcmp(decision, "reject") == 0   ? D_REJECT
           : strcmp(decision, "escalate") == 0 ? D_ESCALATE
                                               : -1;
}

int sl_decision_validate(json_t *body, const char *who, char **tags, struct sl_error *err)
{
    static const char *const keys[] = { "decision", "reason", "fence", "tags", NULL };
    const char *decision, *reason = NULL;
    long long fence;

    *tags = NULL;
    if (sl_json_only_keys(body, keys, err) < 0 ||
        sl_json_get_string(body, "decision", true, 16, &decision, err) < 0 ||
        sl_json_get_string(body, "reason", false, REASON_MAX, &reason, err) < 0 ||
        sl_json_get_int(body, "fence", true, 1, INT64_MAX, &fence, err) < 0 ||
        decision_tags(body, who, tags, err) < 0)
        return -EINVAL;
    int what = decision_parse(decision);
    if (what < 0)
        sl_error_set(err, 422, "invalid", "decision",
                     "decision must be approve, reject or escalate");
    else if (what != D_APPROVE && (!reason || !*reason))
        sl_error_set(err, 422, "invalid", "reason", "A %s needs a reason.", decision);
    else
        return 0;
    free(*tags);
    *tags = NULL;
    return -EINVAL;
}

void sl_api_decision(struct sl_request *r)
{
    struct sl_error err = { 0 };
    json_t *body = sl_http_json_body(r, &err);
    struct queue_op *q = calloc(1, sizeof(*q));

    if (!q) {
        json_decref(body);
        submit(r, NULL);
        return;
    }
    if (!body || sl_decision_validate(body, r->token_name, &q->tags, &err) < 0)
        goto refuse;
    q->what = decision_parse(json_string_value(json_object_get(body, "decision")));
    if (!sl_id_valid(r->params[0])) {
        sl_error_set(&err, 404, "not_found", NULL, "No item has that id.");
        goto refuse;
    }
    sl_copy(q->item, sizeof(q->item), r->params[0]);
    sl_copy(q->reason, sizeof(q->reason), json_string_value(json_object_get(body, "reason")));
    q->fence = json_integer_value(json_object_get(body, "fence"));
    json_decref(body);
    submit(r, q);
    return;
refuse:
    json_decref(body);
    queue_op_free(q);
    sl_http_reply_error(r, &err);
}

void sl_api_renew(struct sl_request *r)
{
    static const char *const keys[] = { "fence", NULL };
    struct sl_error err = { 0 };
    long long fence;
    json_t *body = sl_http_json_body(r, &err);

    if (!body || sl_json_only_keys(body, keys, &err) < 0 ||
        sl_json_get_int(body, "fence", true, 1, INT64_MAX, &fence, &err) < 0 ||
        (!sl_id_valid(r->params[0]) &&
         sl_error_set(&err, 404, "not_found", NULL, "No item has that id.") < 0)) {
        json_decref(body);
        sl_http_reply_error(r, &err);
        return;
    }
    json_decref(body);
    struct queue_op *q = calloc(1, sizeof(*q));
    if (q) {
        q->what = D_RENEW;
        q->fence = fence;
        sl_copy(q->item, sizeof(q->item), r->params[0]);
    }
    submit(r, q);
}

/* }===================================================================== */
