/* SPDX-License-Identifier: MIT */
/* What people do to one item (take it down, send it to review, restore it): the single routes and bulk jobs both do it here. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "api/actions.h"
#include "dist/dist.h"
#include "lib/text.h"
#include "server.h"
#include "store/shared.h"
#include "store/store.h"

static const char *const names[] = { "takedown", "review", "restore" };

const char *sl_action_name(enum sl_action a)
{
    return names[a];
}

int sl_action_parse(const char *name, enum sl_action *out)
{
    for (int i = 0; i < 3; i++)
        if (name && strcmp(name, names[i]) == 0) {
            *out = (enum sl_action)i;
            return 0;
        }
    return -EINVAL;
}

/* The states people may send back to review: what feeds show or may show,
 * and what was rejected (people may want it looked at again). */
static bool reviewable(const char *state)
{
    return strcmp(state, "approved") == 0 || strcmp(state, "distributing") == 0 ||
           strcmp(state, "settled") == 0 || strcmp(state, "rejected") == 0;
}

int sl_action_apply(struct sl_store *w, struct sl_action_do *a)
{
    int rc = sl_store_item_state(w, a->item, a->from);
    const char *to = a->action == SL_ACTION_TAKEDOWN ? "removed" : "in_review";

    memset(&a->standing, 0, sizeof(a->standing));
    if (rc < 0)
        return rc;
    switch (a->action) {
    case SL_ACTION_TAKEDOWN:
        if (strcmp(a->from, "removed") == 0)
            return SL_ACTION_SKIPPED;
        /* Taking it down upholds whatever reports it had. */
        if ((rc = sl_store_item_set_state(w, a->item, to, a->now_ms)) < 0 ||
            (rc = sl_store_queue_remove(w, a->item)) < 0 ||
            (rc = sl_store_reports_judge(w, a->item, true)) < 0)
            return rc;
        break;
    case SL_ACTION_REVIEW:
    case SL_ACTION_RESTORE:
        if (a->action == SL_ACTION_REVIEW ? !reviewable(a->from)
                                          : strcmp(a->from, "removed") != 0)
            return SL_ACTION_SKIPPED;
        const char *queue = a->queue ? a->queue : a->action == SL_ACTION_REVIEW
                                                      ? SL_ACTION_REVIEW_QUEUE
                                                      : SL_ACTION_RESTORE_QUEUE;
        if ((rc = sl_store_item_set_state(w, a->item, to, a->now_ms)) < 0 ||
            (rc = sl_store_queue_put(w, a->item, queue, a->priority, a->reason, NULL,
                                     a->now_ms)) < 0)
            return rc;
        break;
    }
    /* Several nodes: the node running it learns at its next fenced write
     * (store/shared.h) that it is out of distribution. */
    if (sl_store_shared(w) && strcmp(a->from, "distributing") == 0 &&
        (rc = sl_store_lease_drop(w, a->item)) < 0)
        return rc;
    struct sl_audit_rec rec = { a->item, a->actor, names[a->action], a->from, to, a->reason,
                                a->now_ms };
    if ((rc = sl_dist_standing_note(w, a->item, NULL, a->from, to, &a->standing)) < 0)
        return rc;
    return sl_store_audit_append(w, &rec);
}

void sl_action_done(struct sl_server *srv, const struct sl_action_do *a)
{
    sl_dist_standing_moved(srv, &a->standing);
    if (a->action == SL_ACTION_TAKEDOWN)
        sl_dist_withdrawn(srv, a->item);
    else if (a->action == SL_ACTION_REVIEW)
        sl_dist_held(srv, a->item, a->actor, a->reason);
}
