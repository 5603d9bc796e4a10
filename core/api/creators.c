/* SPDX-License-Identifier: MIT */
/* Creators: what is known of one, suspending them, taking down or restoring everything they uploaded. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/actions.h"
#include "api/api.h"
#include "api/bulkjobs.h"
#include "api/creators.h"
#include "api/search.h"
#include "lib/clock.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/text.h"
#include "policy/policy.h"
#include "server.h"
#include "store/commit.h"
#include "store/readers.h"
#include "store/store.h"

#define REASON_MAX 500          /* characters */
#define RECENT 20
#define SUSPENDED_QUEUE "suspended"

static const char *const modes[] = { "review", "refuse" };

/* {====================== Suspensions in memory ======================== */

/*
 * Where this node is its store's only writer (SQLite), every suspension is
 * kept here too, so that an upload's gate asks no database: a read on the
 * loop cost three system calls and 7,000 instructions an upload. Loaded at
 * start, changed on the loop when a suspension or its lifting is committed
 * (as the store's readers see it then). Nodes sharing a PostgreSQL store
 * ask it each time, since another node may have suspended the creator; so
 * does a node that once ran out of memory here.
 */

/* Into srv->suspended: creator -> [mode, reason]. 0 or -ENOMEM. */
static int remember(json_t *map, const char *creator, const struct sl_suspension *sus)
{
    return json_object_set_new(map, creator, json_pack("[ss]", sus->mode, sus->reason)) < 0
               ? -ENOMEM
               : 0;
}

struct load {
    json_t *map;
    int rc;
};

static int load_one(void *arg, const char *creator, const struct sl_suspension *sus)
{
    struct load *l = arg;
    return (l->rc = remember(l->map, creator, sus)) < 0;
}

int sl_creators_start(struct sl_server *srv)
{
    if (srv->node.shared)
        return 0;
    struct load l = { json_object(), 0 };
    int rc = l.map ? sl_store_suspensions_each(srv->reader, load_one, &l) : -ENOMEM;

    if (rc == 0)
        rc = l.rc;
    if (rc < 0) {
        sl_err("cannot read the creators' suspensions");
        json_decref(l.map);
        return rc;
    }
    srv->suspended = l.map;
    return 0;
}

void sl_creators_free(struct sl_server *srv)
{
    json_decref(srv->suspended);
    srv->suspended = NULL;
}

/* The creator's suspension (mode and reason); -ENOENT when there is none. */
static int suspension_of(struct sl_server *srv, const char *creator, struct sl_suspension *sus)
{
    if (!srv->suspended)
        return sl_store_suspension_get(srv->reader, creator, sus);
    json_t *s = json_object_size(srv->suspended) ? json_object_get(srv->suspended, creator)
                                                 : NULL;
    if (!s)
        return -ENOENT;
    sl_copy(sus->mode, sizeof(sus->mode), json_string_value(json_array_get(s, 0)));
    sl_copy(sus->reason, sizeof(sus->reason), json_string_value(json_array_get(s, 1)));
    return 0;
}

/* A suspension or its lifting committed. */
static void suspended_moved(struct sl_server *srv, const char *creator,
                            const struct sl_suspension *sus)
{
    if (!srv->suspended)
        return;
    if (!sus) {
        json_object_del(srv->suspended, creator);
    } else if (remember(srv->suspended, creator, sus) < 0) {
        sl_warn("out of memory for a suspension: read from the store from now on");
        sl_creators_free(srv);
    }
}

/* }===================================================================== */

/* {====================== Uploads of a suspended creator ================ */

int sl_creator_gate(struct sl_request *r, const char *creator, const char *id,
                    struct sl_creator_hold *hold)
{
    struct sl_suspension sus;
    char hash[65], state[32];
    int rc = suspension_of(r->srv, creator, &sus);

    hold->on = false;
    if (rc == -ENOENT)
        return 0;
    if (rc < 0) {
        sl_http_reply_store_error(r, rc);
        return 1;
    }
    if (strcmp(sus.mode, "refuse") == 0) {
        /* A retry of an upload stored before gets its stored answer. */
        if (id && sl_store_item_peek(r->srv->reader, id, hash, state) == 0)
            return 0;
        sl_http_reply_errorf(r, 403, "creator_suspended", "creator",
                             "Creator '%s' is suspended and their uploads are refused: %s",
                             creator, sus.reason);
        return 1;
    }
    hold->on = true;
    /* Cut on a character, as every stored text is. */
    int n = snprintf(hold->reason, sizeof(hold->reason), "the creator is suspended: ");
    sl_copy(hold->reason + n, sizeof(hold->reason) - (size_t)n, sus.reason);
    return 0;
}

void sl_creator_hold(const struct sl_creator_hold *hold, struct sl_outcome *v)
{
    if (!hold->on || strcmp(v->state, "approved") != 0)
        return;
    sl_copy(v->state, sizeof(v->state), "in_review");
    sl_copy(v->queue, sizeof(v->queue), SUSPENDED_QUEUE);
    v->priority = SL_ACTION_PRIORITY;
    sl_copy(v->reason, sizeof(v->reason), hold->reason);
    sl_copy(v->actor, sizeof(v->actor), "system");
}

/* }===================================================================== */

/* {====================== GET /v1/creators/{id} ========================= */

struct page_op {
    struct sl_read_op op;
    struct sl_request *r;
    char creator[SL_ID_MAX + 1];
    double deadline;
    struct sl_store *reader;
    json_t *page, *recent;
    int row_rc;
    struct sl_search_end end;
};

static int recent_row(void *arg, int64_t seq, const char *id)
{
    struct page_op *o = arg;
    json_t *row = NULL;
    (void)seq;

    int rc = sl_store_search_row(o->reader, id, &row);
    if (rc == 0 && json_array_append_new(o->recent, row) < 0)
        rc = -ENOMEM;
    if (rc < 0) {
        o->row_rc = rc;
        return 1;
    }
    return 0;
}

static int page_run(struct sl_read_op *op, struct sl_store *reader)
{
    struct page_op *o = (struct page_op *)op;
    struct sl_search q = { .creator = o->creator, .limit = RECENT, .deadline = o->deadline };

    o->reader = reader;
    int rc = sl_store_creator_get(reader, o->creator, &o->page);
    if (rc < 0)
        return rc;
    if (!(o->recent = json_array()))
        return -ENOMEM;
    if ((rc = sl_store_search(reader, &q, recent_row, o, &o->end)) < 0 && rc != -ETIMEDOUT)
        return rc;
    return o->row_rc;
}

static void page_done(struct sl_read_op *op, int rc)
{
    struct page_op *o = (struct page_op *)op;
    struct sl_request *r = o->r;

    if (rc == -ENOENT)
        sl_http_reply_errorf(r, 404, "not_found", NULL, "Nothing is known of creator '%s': "
                             "no upload, report or suspension.", o->creator);
    else if (rc == -ESHUTDOWN || rc == -ETIMEDOUT)
        sl_http_reply_store_error(r, -ESHUTDOWN == rc ? rc : -EIO);
    else if (rc < 0)
        sl_api_read_error(r, rc);
    else {
        char cursor[24];
        sl_search_cursor(o->end.next, cursor, sizeof(cursor));
        json_object_set(o->page, "recent", o->recent);
        json_object_set_new(o->page, "recent_next", o->end.next ? json_string(cursor)
                                                                : json_null());
        sl_http_reply_json(r, 200, json_incref(o->page));
    }
    json_decref(o->page);
    json_decref(o->recent);
    free(o);
}

void sl_api_creator_get(struct sl_request *r)
{
    if (!sl_id_valid(r->params[0])) {
        sl_http_reply_errorf(r, 404, "not_found", NULL, "No creator has that id.");
        return;
    }
    struct page_op *o = calloc(1, sizeof(*o));
    if (!o) {
        sl_http_reply_store_error(r, -ENOMEM);
        return;
    }
    double bound = r->srv->cfg.search_timeout_ms / 1000.0;
    o->r = r;
    sl_copy(o->creator, sizeof(o->creator), r->params[0]);
    o->deadline = sl_mono() + bound;
    o->op.deadline = o->deadline + (bound / 4 > 0.05 ? bound / 4 : 0.05);
    o->op.run = page_run;
    o->op.done = page_done;
    o->op.indexed = true;
    if (sl_api_read(r, &o->op) < 0)
        free(o);
}

/* }===================================================================== */

/* {====================== Suspend, restore, take down =================== */

struct suspend_op {
    struct sl_commit_op op;
    struct sl_request *r;
    bool lift;                      /* restore: the suspension lifted */
    bool lifted;                    /* ... there was one */
    bool items;                     /* restore: the items too, as a bulk restore */
    char creator[SL_ID_MAX + 1];
    char actor[SL_ID_MAX + 8];
    struct sl_suspension sus;
    char reason[4 * REASON_MAX + 1];
};

static int suspend_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct suspend_op *s = (struct suspend_op *)op;
    int64_t now = sl_now_ms();
    char why[4 * REASON_MAX + 256];
    int rc;

    s->lifted = false;
    if (s->lift) {
        if ((rc = sl_store_suspension_lift(w, s->creator)) == -ENOENT)
            return 0;       /* nothing to lift: nothing to write */
        if (rc < 0)
            return rc;
        s->lifted = true;
        snprintf(why, sizeof(why), "creator %s: suspension lifted: %s", s->creator, s->reason);
    } else {
        s->sus.since_ms = now;
        if ((rc = sl_store_suspension_set(w, s->creator, &s->sus)) < 0)
            return rc;
        snprintf(why, sizeof(why), "creator %s: suspended, new uploads %s: %s", s->creator,
                 strcmp(s->sus.mode, "refuse") == 0 ? "refused" : "held for review",
                 s->sus.reason);
    }
    struct sl_audit_rec rec = { NULL, s->actor, s->lift ? "unsuspend" : "suspend", NULL, NULL,
                                why, now };
    return sl_store_audit_append(w, &rec);
}

/* The filter of everything the creator uploaded in states: a creator's
 * takedown takes what is out there or on its way (approved, in review,
 * distributing, settled); a restore, what was removed. */
static void creator_filter(struct sl_filter *f, const char *creator, bool removed)
{
    static const char *const live[] = { "approved", "in_review", "distributing", "settled" };

    memset(f, 0, sizeof(*f));
    sl_copy(f->creator, sizeof(f->creator), creator);
    f->q.creator = f->creator;
    if (removed) {
        sl_copy(f->states[0], sizeof(f->states[0]), "removed");
        f->q.nstates = 1;
    } else {
        for (int k = 0; k < 4; k++)
            sl_copy(f->states[k], sizeof(f->states[0]), live[k]);
        f->q.nstates = 4;
    }
    for (int k = 0; k < f->q.nstates; k++)
        f->q.states[k] = f->states[k];
    f->any = true;
}

static void suspend_done(struct sl_commit_op *op, int rc)
{
    struct suspend_op *s = (struct suspend_op *)op;
    struct sl_request *r = s->r;

    if (rc == 0 && (!s->lift || s->lifted))
        suspended_moved(r->srv, s->creator, s->lift ? NULL : &s->sus);
    if (rc < 0) {
        sl_http_reply_store_error(r, rc);
    } else if (s->lift && s->items) {
        /* Then what the creator had removed goes back to people, as a
         * bulk restore (with its four eyes above the limit). */
        struct sl_filter *f = malloc(sizeof(*f));
        if (!f) {
            sl_http_reply_store_error(r, -ENOMEM);
        } else {
            creator_filter(f, s->creator, true);
            sl_bulk_start(r, SL_ACTION_RESTORE, f, s->reason, NULL, false);
            free(f);
        }
    } else if (s->lift) {
        sl_http_reply_json(r, 200, json_pack("{s:s, s:n, s:b}", "creator", s->creator,
                                             "suspension", "lifted", s->lifted));
    } else {
        sl_info("creator %s suspended by %s (%s)", s->creator, s->actor, s->sus.mode);
        sl_http_reply_json(r, 200, json_pack("{s:s, s:{s:s, s:s, s:s, s:I}}",
                                             "creator", s->creator, "suspension",
                                             "mode", s->sus.mode, "reason", s->sus.reason,
                                             "by", s->sus.by,
                                             "since_ms", (json_int_t)s->sus.since_ms));
    }
    free(s);
}

static void suspend_drop(struct sl_commit_op *op)
{
    free(op);
}

/* The body {reason, ...}: keys allowed, reason required; NULL with r
 * answered. */
static json_t *creator_body(struct sl_request *r, const char *const *keys, const char **reason)
{
    struct sl_error err = { 0 };
    json_t *body = sl_http_json_body(r, &err);

    if (!sl_id_valid(r->params[0]))
        sl_error_set(&err, 404, "not_found", NULL, "No creator has that id.");
    if (!body || err.status || sl_json_only_keys(body, keys, &err) < 0 ||
        sl_json_get_string(body, "reason", true, REASON_MAX, reason, &err) < 0 ||
        (!**reason && sl_error_set(&err, 422, "invalid", "reason",
                                   "A reason is needed: it goes into the audit trail.") < 0)) {
        json_decref(body);
        sl_http_reply_error(r, &err);
        return NULL;
    }
    return body;
}

/* POST /v1/creators/{id}/suspend {reason, mode?} */
void sl_api_creator_suspend(struct sl_request *r)
{
    static const char *const keys[] = { "reason", "mode", NULL };
    const char *reason, *mode = modes[r->srv->cfg.creator_suspend];
    struct sl_error err = { 0 };
    json_t *body = creator_body(r, keys, &reason);

    if (!body)
        return;
    if (sl_json_get_string(body, "mode", false, 16, &mode, &err) < 0 ||
        (strcmp(mode, "review") != 0 && strcmp(mode, "refuse") != 0 &&
         sl_error_set(&err, 422, "invalid", "mode", "mode must be review (new uploads wait "
                      "for people) or refuse") < 0)) {
        json_decref(body);
        sl_http_reply_error(r, &err);
        return;
    }
    struct suspend_op *s = calloc(1, sizeof(*s));
    if (s) {
        s->r = r;
        sl_copy(s->creator, sizeof(s->creator), r->params[0]);
        sl_api_actor(r, s->actor, sizeof(s->actor));
        sl_copy(s->sus.mode, sizeof(s->sus.mode), mode);
        sl_copy(s->sus.reason, sizeof(s->sus.reason), reason);
        sl_copy(s->sus.by, sizeof(s->sus.by), s->actor);
    }
    json_decref(body);
    sl_api_submit(r, s ? &s->op : NULL, suspend_apply, suspend_done, suspend_drop);
}

/* POST /v1/creators/{id}/restore {reason, items?, dry_run?} */
void sl_api_creator_restore(struct sl_request *r)
{
    static const char *const keys[] = { "reason", "items", "dry_run", NULL };
    const char *reason;
    struct sl_error err = { 0 };
    json_t *body = creator_body(r, keys, &reason);

    if (!body)
        return;
    json_t *items = json_object_get(body, "items"), *dry = json_object_get(body, "dry_run");
    if ((items && !json_is_boolean(items) &&
         sl_error_set(&err, 422, "invalid", "items", "items must be true or false") < 0) ||
        (dry && !json_is_boolean(dry) &&
         sl_error_set(&err, 422, "invalid", "dry_run", "dry_run must be true or false") < 0) ||
        (json_is_true(dry) && json_is_false(items) &&
         sl_error_set(&err, 422, "invalid", "dry_run", "A dry run counts the items a "
                      "restore would send back: with items false there is none.") < 0)) {
        json_decref(body);
        sl_http_reply_error(r, &err);
        return;
    }
    if (json_is_true(dry)) {
        /* A dry run changes nothing, the suspension included. */
        struct sl_filter *f = malloc(sizeof(*f));
        if (f) {
            creator_filter(f, r->params[0], true);
            sl_bulk_start(r, SL_ACTION_RESTORE, f, reason, NULL, true);
            free(f);
        } else {
            sl_http_reply_store_error(r, -ENOMEM);
        }
        json_decref(body);
        return;
    }
    struct suspend_op *s = calloc(1, sizeof(*s));
    if (s) {
        s->r = r;
        s->lift = true;
        s->items = !json_is_false(items);
        sl_copy(s->creator, sizeof(s->creator), r->params[0]);
        sl_copy(s->reason, sizeof(s->reason), reason);
        sl_api_actor(r, s->actor, sizeof(s->actor));
    }
    json_decref(body);
    sl_api_submit(r, s ? &s->op : NULL, suspend_apply, suspend_done, suspend_drop);
}

/* POST /v1/creators/{id}/takedown {reason, dry_run?} */
void sl_api_creator_takedown(struct sl_request *r)
{
    static const char *const keys[] = { "reason", "dry_run", NULL };
    const char *reason;
    struct sl_error err = { 0 };
    json_t *body = creator_body(r, keys, &reason);

    if (!body)
        return;
    json_t *dry = json_object_get(body, "dry_run");
    struct sl_filter *f = malloc(sizeof(*f));
    if (dry && !json_is_boolean(dry))
        sl_error_set(&err, 422, "invalid", "dry_run", "dry_run must be true or false");
    if (err.status)
        sl_http_reply_error(r, &err);
    else if (!f)
        sl_http_reply_store_error(r, -ENOMEM);
    else {
        creator_filter(f, r->params[0], false);
        sl_bulk_start(r, SL_ACTION_TAKEDOWN, f, reason, NULL, json_is_true(dry));
    }
    free(f);
    json_decref(body);
}

/* }===================================================================== */
