/* SPDX-License-Identifier: MIT */
/* GET /v1/items/{id}: what the store knows of an item. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "dist/dist.h"
#include "lib/event.h"
#include "lib/json.h"
#include "server.h"
#include "store/counters.h"
#include "store/store.h"

#define AUDIT_PAGE_MAX 1000

/* {====================== GET /v1/items/{id} =========================== */

/* Did the token name upload the item? Its first audit record says who. */
static int uploaded_by(struct sl_store *s, const char *id, const char *name, bool *mine)
{
    json_t *first = NULL;
    if (sl_store_audit_list(s, id, 0, 1, &first) < 0)
        return -EIO;
    json_t *rec = json_array_get(first, 0);
    const char *actor = json_string_value(json_object_get(rec, "actor"));
    const char *action = json_string_value(json_object_get(rec, "action"));
    *mine = actor && action && strcmp(action, "upload") == 0 &&
            strncmp(actor, "token:", 6) == 0 && strcmp(actor + 6, name) == 0;
    json_decref(first);
    return 0;
}

/*
 * What an ingest token sees: the state of its own upload, what the service
 * upstream acts on. Not the upload's text (it sent it; a rejected
 * transcript stays with moderators), not the audit trail, the waves or
 * the matches, and no moderator's name: a tag a moderator set says
 * "moderator" where the others say "token:NAME".
 */
static json_t *ingest_view(json_t *item)
{
    static const char *const keep[] = { "id", "creator", "state", "reasons", "created_ms",
                                        "updated_ms", NULL };
    json_t *v = json_object(), *tags = json_object(), *tag;
    const char *name;

    for (int i = 0; keep[i]; i++)
        json_object_set(v, keep[i], json_object_get(item, keep[i]));
    json_object_foreach(json_object_get(item, "tags"), name, tag) {
        json_t *t = json_deep_copy(tag);
        const char *src = json_string_value(json_object_get(t, "source"));
        if (src && strncmp(src, "token:", 6) == 0)
            json_object_set_new(t, "source", json_string("moderator"));
        json_object_set_new(tags, name, t);
    }
    json_object_set_new(v, "tags", tags);
    json_decref(item);
    return v;
}

void sl_api_item_get(struct sl_request *r)
{
    struct sl_store *s = r->srv->reader;
    const char *id = r->params[0];
    json_t *item = NULL, *audit = NULL;
    int64_t counts[SL_EV__COUNT];
    bool ingest = r->role == SL_ROLE_INGEST, mine = true;

    int rc = sl_id_valid(id) ? sl_store_item_get(s, id, &item) : -ENOENT;
    if (rc == 0 && ingest && uploaded_by(s, id, r->token_name, &mine) < 0)
        rc = -EIO;
    /* Another's item reads as no item: an ingest token cannot probe ids. */
    if (rc == -ENOENT || !mine) {
        json_decref(item);
        sl_http_reply_errorf(r, 404, "not_found", NULL, "No item has the id '%s'.",
                             sl_id_valid(id) ? id : "(invalid)");
        return;
    }
    if (rc == 0 && (rc = sl_counters_read(r->srv, s, id, counts)) == 0 && !ingest)
        rc = sl_store_audit_list(s, id, 0, AUDIT_PAGE_MAX, &audit);
    if (rc < 0) {
        json_decref(item);
        sl_api_read_error(r, rc);
        return;
    }
    json_t *counters = json_object();
    for (int i = 0; i < SL_EV__COUNT; i++)
        json_object_set_new(counters, sl_event_names[i], json_integer(counts[i]));
    if (ingest) {
        item = ingest_view(item);
        json_object_set_new(item, "counters", counters);
        sl_http_reply_json(r, 200, item);
        return;
    }
    json_object_set_new(item, "counters", counters);
    json_object_set_new(item, "waves", sl_dist_journey(r->srv, id));
    json_t *reports = sl_dist_reports(r->srv, id);
    if (!reports) {
        json_decref(item);
        json_decref(audit);
        sl_http_reply_store_error(r, -EIO);
        return;
    }
    json_object_set_new(item, "reports", reports);
    json_object_set_new(item, "audit", audit);
    sl_http_reply_json(r, 200, item);
}

/* }===================================================================== */
