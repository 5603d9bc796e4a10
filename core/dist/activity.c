/* SPDX-License-Identifier: MIT */
/* Who is around: users seen reading and reacting, written behind, and what picks make of it. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "dist/internal.h"
#include "lib/clock.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "store/commit.h"
#include "store/store.h"

/* {====================== Activity ===================================== */

/*
 * A user is seen when they read a feed, send an event, are created or
 * changed, or follow someone. The audience keeps the last time in memory
 * (picks read it); the store learns it once a minute, the users seen since
 * the last write, so that a restart still knows who has been away.
 */
#define SEEN_WRITE_MAX 50000        /* users a write carries; the rest wait a minute */
#define SEEN_GRAIN_S 3600

void dist_seen(struct sl_dist *d, uint32_t user, int64_t now_ms)
{
    sl_audience_touch(d->aud, user, (uint32_t)(now_ms / 1000));
}

/* Users seen within the policy's active window (a day when it sets none),
 * counted once a minute for hooks to know the platform's size: a count is
 * a pass over every user. */
void dist_count_active(struct sl_dist *d)
{
    int64_t now = sl_now_ms();
    int64_t since = now / 1000 - (d->traffic.active_s ? d->traffic.active_s : 86400);
    d->active_users = sl_audience_active_count(d->aud, since > 0 ? (uint32_t)since : 0);
    d->active_counted_ms = now;
    d->active_counted_users = sl_audience_user_count(d->aud);
}

size_t dist_active_users(struct sl_dist *d)
{
    size_t users = sl_audience_user_count(d->aud);
    /* A minute old, or the platform grew by a tenth since: count again. */
    if (sl_now_ms() - d->active_counted_ms >= SEEN_EVERY_MS ||
        users > d->active_counted_users + d->active_counted_users / 10)
        dist_count_active(d);
    return d->active_users;
}

/* Before a wave is placed: the policy's windows, as of now. */
void dist_activity_apply(struct sl_dist *d, int64_t now_ms)
{
    int64_t now_s = now_ms / 1000;
    int64_t since = d->traffic.active_s ? now_s - d->traffic.active_s : 0;
    int64_t away = d->traffic.away_s ? now_s - d->traffic.away_s : 0;

    sl_audience_set_activity(d->aud, since > 0 ? (uint32_t)since : 0,
                             away > 0 ? (uint32_t)away : 0);
}

struct seen_op {
    struct sl_commit_op op;
    size_t n;
    char **ids;
    int64_t *when;
};

static void seen_free(struct seen_op *o)
{
    for (size_t i = 0; o && i < o->n; i++)
        free(o->ids[i]);
    if (o) {
        free(o->ids);
        free(o->when);
    }
    free(o);
}

static int seen_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct seen_op *o = (struct seen_op *)op;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < o->n; i++)
        rc = sl_store_user_seen(w, o->ids[i], o->when[i]);
    return rc;
}

static void seen_done(struct sl_commit_op *op, int rc)
{
    if (rc < 0)
        sl_err("distribution: writing when users were last seen failed: %s; a restart "
               "may think them away sooner", strerror(-rc));
    seen_free((struct seen_op *)op);
}

/* Hand the store the users whose last visit moved on by SEEN_GRAIN_S since
 * it was last written (all of them at stop, however recent): an hour's
 * precision is plenty for telling who has been away for days, and a user
 * who reads all day costs a write an hour. A write that cannot be made is
 * tried again the next minute. */
void dist_seen_write(struct sl_dist *d, bool all)
{
    size_t users = sl_audience_user_count(d->aud), n = 0;
    uint32_t grain = all ? 1 : SEEN_GRAIN_S;

    if (sl_grow(&d->seen_written, &d->seen_written_cap, users, sizeof(*d->seen_written)) < 0)
        return;
    for (uint32_t u = 0; u < users && n < SEEN_WRITE_MAX; u++)
        n += sl_audience_last_active(d->aud, u) >= (uint64_t)d->seen_written[u] + grain;
    if (n == 0)
        return;
    struct seen_op *o = calloc(1, sizeof(*o));
    if (o && (!(o->ids = calloc(n, sizeof(*o->ids))) || !(o->when = calloc(n, sizeof(*o->when))))) {
        seen_free(o);
        o = NULL;
    }
    for (uint32_t u = 0; o && u < users && o->n < n; u++) {
        uint32_t t = sl_audience_last_active(d->aud, u);
        if (t < (uint64_t)d->seen_written[u] + grain)
            continue;
        if (!(o->ids[o->n] = strdup(sl_audience_user_id(d->aud, u)))) {
            seen_free(o);
            return;
        }
        o->when[o->n++] = t;
        /* Marked as written now: a write that fails is logged and waits
         * for the user's next visit (a restart meanwhile thinks them a
         * little longer away). */
        d->seen_written[u] = t;
    }
    if (!o)
        return;
    o->op.apply = seen_apply;
    o->op.done = seen_done;
    if (sl_commit_submit(d->srv->commit, &o->op) < 0)
        seen_free(o);
}

/* }===================================================================== */
