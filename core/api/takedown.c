/* SPDX-License-Identifier: MIT */
/* POST /v1/items/{id}/takedown: a moderator removes an item from every feed and queue. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/actions.h"
#include "api/api.h"
#include "lib/clock.h"
#include "lib/id.h"
#include "lib/json.h"
#include "lib/text.h"
#include "server.h"
#include "store/commit.h"
#include "store/store.h"

/* A takedown's reason, in characters (docs/http-api.md); the buffer holds
 * that many of the longest (4 bytes) and the NUL. */
#define REASON_MAX 500

/* The takedown as the commit thread runs it; the request waits for it. */
struct takedown_op {
    struct sl_commit_op op;
    struct sl_request *r;
    char item[SL_ID_MAX + 1];
    char actor[SL_ID_MAX + 8];
    char reason[4 * REASON_MAX + 1];
    struct sl_action_do act;
};

/* Read and change the state in one transaction: a second takedown finds
 * the item removed and writes nothing (its answer's previous is "removed"). */
static int takedown_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct takedown_op *t = (struct takedown_op *)op;

    t->act = (struct sl_action_do){ .action = SL_ACTION_TAKEDOWN, .item = t->item,
                                    .actor = t->actor, .reason = t->reason,
                                    .now_ms = sl_now_ms() };
    int rc = sl_action_apply(w, &t->act);
    return rc == SL_ACTION_SKIPPED ? 0 : rc;
}

static void takedown_done(struct sl_commit_op *op, int rc)
{
    struct takedown_op *t = (struct takedown_op *)op;

    if (rc == -ENOENT)
        sl_http_reply_errorf(t->r, 404, "not_found", NULL, "No item has the id '%s'.", t->item);
    else if (rc < 0)
        sl_http_reply_store_error(t->r, rc);
    else {
        /* Distribution lets go only of what the store has removed. */
        sl_action_done(t->r->srv, &t->act);
        sl_http_reply_json(t->r, 200, json_pack("{s:s, s:s, s:s}", "id", t->item,
                                                "state", "removed", "previous", t->act.from));
    }
    free(t);
}

static void takedown_drop(struct sl_commit_op *op)
{
    free(op);
}

void sl_api_takedown(struct sl_request *r)
{
    static const char *const keys[] = { "reason", NULL };
    struct sl_error err = { 0 };
    const char *reason = "taken down";
    json_t *body = r->body_len ? sl_http_json_body(r, &err) : json_object();

    if (!body && !err.status) {
        sl_http_reply_store_error(r, -ENOMEM);
        return;
    }
    if (!body || sl_json_only_keys(body, keys, &err) < 0 ||
        sl_json_get_string(body, "reason", false, REASON_MAX, &reason, &err) < 0 ||
        (!sl_id_valid(r->params[0]) &&
         sl_error_set(&err, 404, "not_found", NULL, "No item has that id.") < 0)) {
        json_decref(body);
        sl_http_reply_error(r, &err);
        return;
    }
    struct takedown_op *t = calloc(1, sizeof(*t));
    if (t) {
        sl_copy(t->item, sizeof(t->item), r->params[0]);
        sl_api_actor(r, t->actor, sizeof(t->actor));
        sl_copy(t->reason, sizeof(t->reason), reason);
        t->r = r;
    }
    json_decref(body);
    sl_api_submit(r, t ? &t->op : NULL, takedown_apply, takedown_done, takedown_drop);
}
