/* SPDX-License-Identifier: MIT */
/* What people do to one item (take it down, send it to review, restore it): the single routes and bulk jobs both do it here. */
#ifndef SL_API_ACTIONS_H
#define SL_API_ACTIONS_H

#include <stdint.h>

#include "dist/dist.h"

struct sl_server;
struct sl_store;

enum sl_action { SL_ACTION_TAKEDOWN, SL_ACTION_REVIEW, SL_ACTION_RESTORE };

/* The action was not done: the item is already where it would take it, or
 * in a state it does not apply to (nothing was written). */
#define SL_ACTION_SKIPPED 1

/* Queues and priority of the items people's actions send to review. */
#define SL_ACTION_REVIEW_QUEUE "investigation"
#define SL_ACTION_RESTORE_QUEUE "restored"
#define SL_ACTION_PRIORITY 50

struct sl_action_do {
    enum sl_action action;
    const char *item;
    const char *actor;          /* "token:NAME" */
    const char *reason;         /* the audit record's */
    const char *queue;          /* review, restore: the queue; NULL: the default above */
    int priority;               /* review, restore */
    int64_t now_ms;
    char from[32];              /* out: the item's state before */
    struct sl_dist_standing_move standing;  /* out: the creator's, once done */
};

/*
 * On the commit thread, inside the caller's transaction: the action and
 * its audit record (action "takedown", "review" or "restore").
 *   takedown: any state but removed -> removed; out of its queue; its
 *             reports upheld.
 *   review:   approved, distributing, settled or rejected -> in_review, in
 *             the queue (people decide it again).
 *   restore:  removed -> in_review, in the queue: a restored item goes back
 *             to people, never straight to feeds; an approval there sends
 *             it on (sl_dist_approved).
 * 0 done, SL_ACTION_SKIPPED, -ENOENT for no such item, or the store's error.
 */
int sl_action_apply(struct sl_store *w, struct sl_action_do *a);

/* On the loop, once the action is stored: distribution lets go of a taken
 * down item (sl_dist_withdrawn) and holds one sent to review
 * (sl_dist_held); a restored one stays out of feeds until people approve.
 * The creator's standing in memory moves as the store's did. */
void sl_action_done(struct sl_server *srv, const struct sl_action_do *a);

/* "takedown", "review", "restore", and back (-EINVAL). */
const char *sl_action_name(enum sl_action a);
int sl_action_parse(const char *name, enum sl_action *out);

#endif
