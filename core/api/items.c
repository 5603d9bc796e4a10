/* SPDX-License-Identifier: MIT */
/* GET /v1/items/{id}: what the store knows of an item. */
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
