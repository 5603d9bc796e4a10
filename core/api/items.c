/* SPDX-License-Identifier: MIT */
/* GET /v1/items/{id} and GET /v1/audit: what the store knows of an item. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "api/api.h"
#include "dist/dist.h"
#include "lib/event.h"
#include "lib/json.h"
#include "server.h"
#include "store/counters.h"
#include "store/store.h"

#define AUDIT_PAGE_MAX 1000

void sl_api_item_get(struct sl_request *r)
{
    struct sl_store *s = r->srv->reader;
    const char *id = r->params[0];
    json_t *item = NULL, *audit = NULL;
    int64_t counts[SL_EV__COUNT], counted;

    int rc = sl_id_valid(id) ? sl_store_item_get(s, id, &item) : -ENOENT;
    if (rc == -ENOENT) {
        sl_http_reply_errorf(r, 404, "not_found", NULL, "No item has the id '%s'.",
                             sl_id_valid(id) ? id : "(invalid)");
        return;
    }
    if (rc == 0 && (rc = sl_store_counters_get(s, id, counts, &counted)) == 0)
        rc = sl_store_audit_list(s, id, 0, AUDIT_PAGE_MAX, &audit);
    if (rc < 0) {
        json_decref(item);
        sl_api_read_error(r, rc);
        return;
    }
    sl_counters_get(r->srv, id, counted, counts);
    json_t *counters = json_object();
    for (int i = 0; i < SL_EV__COUNT; i++)
        json_object_set_new(counters, sl_event_names[i], json_integer(counts[i]));
    json_object_set_new(item, "counters", counters);
    json_object_set_new(item, "waves", sl_dist_journey(r->srv, id));
    json_object_set_new(item, "audit", audit);
    sl_http_reply_json(r, 200, item);
}

void sl_api_audit(struct sl_request *r)
{
    const char *item = sl_http_query(r, "item");
    const char *after_s = sl_http_query(r, "after");
    const char *limit_s = sl_http_query(r, "limit");
    char *end;
    long long after = after_s ? strtoll(after_s, &end, 10) : 0;
    long long limit = limit_s ? strtoll(limit_s, &end, 10) : 100;
    json_t *list;

    if ((item && !sl_id_valid(item)) || after < 0 || limit < 1 || limit > AUDIT_PAGE_MAX) {
        sl_http_reply_errorf(r, 400, "bad_request", NULL,
                             "Use ?item=ID&after=SEQ&limit=N with 1 <= N <= %d.",
                             AUDIT_PAGE_MAX);
        return;
    }
    int rc = sl_store_audit_list(r->srv->reader, item, after, (int)limit, &list);
    if (rc < 0) {
        sl_api_read_error(r, rc);
        return;
    }
    sl_http_reply_json(r, 200, json_pack("{s:o}", "records", list));
}

void sl_api_audit_verify(struct sl_request *r)
{
    int64_t checked = 0, bad = 0;
    int rc = sl_store_audit_verify(r->srv->reader, &checked, &bad);

    if (rc == -EBADMSG)
        sl_http_reply_json(r, 200, json_pack("{s:b, s:I, s:I, s:s}", "ok", 0,
                           "checked", (json_int_t)checked, "bad_seq", (json_int_t)bad,
                           "message", "the chain breaks here: a record was changed or removed"));
    else if (rc < 0)
        sl_http_reply_store_error(r, rc);
    else
        sl_http_reply_json(r, 200, json_pack("{s:b, s:I}", "ok", 1,
                                             "checked", (json_int_t)checked));
}
