/* SPDX-License-Identifier: MIT */
/* Bulk actions: take down, send to review or restore every item a search finds, as one job, with a dry run and four eyes. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/actions.h"
#include "api/api.h"
#include "api/bulkjobs.h"
#include "api/search.h"
#include "lib/clock.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/text.h"
#include "server.h"
#include "store/commit.h"
#include "store/readers.h"
#include "store/store.h"

#define REASON_MAX 500          /* characters */
#define SLICE 200               /* items a slice acts on, at most */
#define SAMPLE 20               /* items a dry run shows */
#define LIST_DEFAULT 20
#define LIST_MAX 100

/* {====================== The kind ===================================== */

struct bulk_state {
    struct sl_filter f;
    enum sl_action action;
    char queue[SL_ID_MAX + 1];          /* "" for the action's own */
    char reason[4 * REASON_MAX + 64];   /* "job ID: why", each item's audit record */
};

struct bulk_slice {
    int n;
    char ids[SLICE][SL_ID_MAX + 1];
    struct sl_action_do acts[SLICE];
    int rc[SLICE];
};

/* The spec a bulk job keeps: {action, search, reason, queue?}. */
static json_t *bulk_spec(enum sl_action action, const struct sl_filter *f, const char *reason,
                         const char *queue)
{
    json_t *search = sl_filter_to_json(f);
    json_t *spec = search ? json_pack("{s:s, s:o, s:s}", "action", sl_action_name(action),
                                      "search", search, "reason", reason) : NULL;
    if (spec && queue && json_object_set_new(spec, "queue", json_string(queue)) < 0) {
        json_decref(spec);
        return NULL;
    }
    return spec;
}

static int bulk_load(struct sl_bulkjob *job, json_t *spec, void **state, char *err, size_t len)
{
    struct bulk_state *b = calloc(1, sizeof(*b));
    struct sl_error e = { 0 };
    const char *reason = json_string_value(json_object_get(spec, "reason"));
    const char *queue = json_string_value(json_object_get(spec, "queue"));

    if (!b)
        return -ENOMEM;
    if (sl_action_parse(json_string_value(json_object_get(spec, "action")), &b->action) < 0 ||
        !reason || (queue && !sl_id_valid(queue))) {
        snprintf(err, len, "its spec names no action, reason or valid queue");
        free(b);
        return -EINVAL;
    }
    if (sl_filter_json(&b->f, json_object_get(spec, "search"), "search.", &e) < 0) {
        snprintf(err, len, "its search: %s", e.message);
        free(b);
        return -EINVAL;
    }
    sl_copy(b->queue, sizeof(b->queue), queue);
    snprintf(b->reason, sizeof(b->reason), "job %s: %s", sl_bulkjob_id(job), reason);
    *state = b;
    return 0;
}

static void bulk_unload(void *state)
{
    free(state);
}

static int add_id(void *arg, int64_t seq, const char *id)
{
    struct bulk_slice *sl = arg;
    (void)seq;
    sl_copy(sl->ids[sl->n++], sizeof(sl->ids[0]), id);
    return 0;
}

static int bulk_read(const void *state, struct sl_store *reader, int64_t cursor,
                     int64_t seq_max, double deadline, void **slice, int64_t *next,
                     int64_t *examined)
{
    const struct bulk_state *b = state;
    struct sl_search q = b->f.q;
    struct sl_search_end end;
    struct bulk_slice *sl = calloc(1, sizeof(*sl));

    if (!sl)
        return -ENOMEM;
    q.before = cursor;
    q.seq_max = seq_max;
    q.limit = SLICE;
    q.deadline = deadline;
    int rc = sl_store_search(reader, &q, add_id, sl, &end);
    if (rc < 0 || sl->n == 0) {
        free(sl);
        sl = NULL;
    }
    *slice = sl;
    *next = end.next;
    *examined = end.scanned;
    return rc;
}

static int bulk_write(const struct sl_bulkjob *job, const void *state, struct sl_store *w,
                      void *slice, struct sl_bulkjob_counts *c)
{
    const struct bulk_state *b = state;
    struct bulk_slice *sl = slice;
    int64_t now = sl_now_ms();

    c->matched = sl->n;
    for (int i = 0; i < sl->n; i++) {
        struct sl_action_do *a = &sl->acts[i];
        *a = (struct sl_action_do){ .action = b->action, .item = sl->ids[i],
                                    .actor = sl_bulkjob_actor(job), .reason = b->reason,
                                    .queue = b->queue[0] ? b->queue : NULL,
                                    .priority = SL_ACTION_PRIORITY, .now_ms = now };
        /* Exactly the single action, with the job named in its reason. */
        int rc = sl_action_apply(w, a);
        sl->rc[i] = rc;
        if (rc == 0)
            c->acted++;
        else if (rc == SL_ACTION_SKIPPED || rc == -ENOENT)
            c->skipped++;
        else
            return rc;
    }
    return 0;
}

static void bulk_after(const struct sl_bulkjob *job, const void *state, struct sl_server *srv,
                       void *slice)
{
    struct bulk_slice *sl = slice;
    (void)job, (void)state;
    for (int i = 0; i < sl->n; i++)
        if (sl->rc[i] == 0)
            sl_action_done(srv, &sl->acts[i]);
}

const struct sl_bulkjob_kind sl_bulk_kind = {
    .name = "bulk",
    .load = bulk_load,
    .unload = bulk_unload,
    .read = bulk_read,
    .write = bulk_write,
    .after = bulk_after,
    .free_slice = free,
};

/* }===================================================================== */

/* {====================== Starting one ================================= */

struct start_op {
    struct sl_read_op read;
    struct sl_commit_op write;
    struct sl_request *r;
    struct sl_server *srv;
    enum sl_action action;
    struct sl_filter f;
    char reason[4 * REASON_MAX + 1];
    char queue[SL_ID_MAX + 1];
    char actor[SL_ID_MAX + 8];
    bool dry_run;
    /* the count, on a reader thread */
    struct sl_store *reader;
    double started;
    int64_t seq_max, count;
    bool exact;
    json_t *sample;
    int row_rc;
    /* the job */
    char id[SL_ID_MAX + 1];
    bool confirm;               /* it waits for a second moderator */
};

static void start_free(struct start_op *o)
{
    json_decref(o->sample);
    free(o);
}

static int sample_row(void *arg, int64_t seq, const char *id)
{
    struct start_op *o = arg;
    json_t *row = NULL;
    (void)seq;

    if (json_array_size(o->sample) >= SAMPLE)
        return 0;
    int rc = sl_store_search_row(o->reader, id, &row);
    if (rc == 0 && json_array_append_new(o->sample, row) < 0)
        rc = -ENOMEM;
    if (rc < 0 && rc != -ETIMEDOUT) {
        o->row_rc = rc;
        return 1;
    }
    return 0;
}

/* On a reader thread: how many items the search finds now (the job acts on
 * items stored up to now, seq_max), and the first of them. */
static int count_run(struct sl_read_op *op, struct sl_store *reader)
{
    struct start_op *o = (struct start_op *)op;
    struct sl_search q = o->f.q;
    struct sl_search_end end = { 0 };

    o->reader = reader;
    if (!(o->sample = json_array()))
        return -ENOMEM;
    int rc = sl_store_seq_max(reader, &o->seq_max);
    if (rc < 0)
        return rc;
    o->exact = true;
    if (o->seq_max == 0)
        return 0;
    q.seq_max = o->seq_max;
    q.limit = INT64_MAX;
    q.deadline = o->started + o->srv->cfg.search_timeout_ms / 1000.0;
    if ((rc = sl_store_search(reader, &q, sample_row, o, &end)) < 0)
        return rc;
    if (o->row_rc)
        return o->row_rc;
    o->count = end.found;
    o->exact = !end.partial;
    return 0;
}

static int create_apply(struct sl_commit_op *cop, struct sl_store *w)
{
    struct start_op *o = (struct start_op *)((char *)cop - offsetof(struct start_op, write));
    json_t *spec = bulk_spec(o->action, &o->f, o->reason, o->queue[0] ? o->queue : NULL);
    char *text = spec ? json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *search = spec ? json_dumps(json_object_get(spec, "search"),
                                     JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char why[4 * REASON_MAX + 4096];
    int64_t now = sl_now_ms();
    int rc = -ENOMEM;

    if (text && search) {
        struct sl_job_row row = { .id = o->id, .kind = "bulk",
                                  .action = sl_action_name(o->action), .spec = text,
                                  .state = o->confirm ? "awaiting_confirmation" : "running",
                                  .created_by = o->actor, .seq_max = o->seq_max,
                                  .total = o->count, .total_exact = o->exact, .now_ms = now };
        snprintf(why, sizeof(why), "job %s: %s of %s%lld items found by %s: %s", o->id,
                 sl_action_name(o->action), o->exact ? "" : "at least ", (long long)o->count,
                 search, o->reason);
        struct sl_audit_rec rec = { NULL, o->actor, "bulk", NULL, NULL, why, now };
        if ((rc = sl_store_job_insert(w, &row)) == 0)
            rc = sl_store_audit_append(w, &rec);
    }
    json_decref(spec);
    free(text);
    free(search);
    return rc;
}

/* A job as its routes show it: the spec's long lists as their sizes. */
static json_t *job_view(json_t *job)
{
    json_t *spec = json_object_get(job, "spec");
    json_t *hashes = json_object_get(spec, "hashes");

    if (json_is_array(hashes)) {
        json_object_set_new(spec, "hashes_count", json_integer((json_int_t)json_array_size(hashes)));
        json_object_del(spec, "hashes");
    }
    return job;
}

/* Answer r with job id as stored now. */
static void reply_job(struct sl_request *r, int status, const char *id)
{
    json_t *job = NULL;
    int rc = sl_store_job_get(r->srv->reader, id, &job);
    if (rc < 0)
        sl_api_read_error(r, rc);
    else
        sl_http_reply_json(r, status, job_view(job));
}

static void create_done(struct sl_commit_op *cop, int rc)
{
    struct start_op *o = (struct start_op *)((char *)cop - offsetof(struct start_op, write));

    if (rc < 0) {
        sl_http_reply_store_error(o->r, rc);
    } else {
        sl_info("bulk job %s: %s of %lld items by %s%s", o->id, sl_action_name(o->action),
                (long long)o->count, o->actor, o->confirm ? ", waiting for confirmation" : "");
        if (!o->confirm && sl_bulkjob_run(o->srv, o->id) < 0)
            sl_err("bulk job %s could not start; it starts at the next start", o->id);
        reply_job(o->r, 202, o->id);
    }
    start_free(o);
}

static void create_drop(struct sl_commit_op *cop)
{
    start_free((struct start_op *)((char *)cop - offsetof(struct start_op, write)));
}

static void count_done(struct sl_read_op *op, int rc)
{
    struct start_op *o = (struct start_op *)op;
    struct sl_request *r = o->r;
    int above = o->srv->cfg.bulk_confirm_above;

    if (rc == -ETIMEDOUT) {
        sl_http_reply_errorf(r, 503, "unavailable", NULL,
                             "The search found no item to look at within search_timeout_ms "
                             "(%d ms): narrow it with another filter.",
                             o->srv->cfg.search_timeout_ms);
    } else if (rc == -ESHUTDOWN) {
        sl_http_reply_store_error(r, rc);
    } else if (rc < 0) {
        sl_api_read_error(r, rc);
    } else {
        o->confirm = !o->exact || o->count > above;
        if (o->dry_run) {
            json_t *search = sl_filter_to_json(&o->f);
            sl_http_reply_json(r, 200, json_pack("{s:b, s:s, s:o, s:I, s:b, s:O, s:b, s:i}",
                                                 "dry_run", 1,
                                                 "action", sl_action_name(o->action),
                                                 "search", search ? search : json_object(),
                                                 "count", (json_int_t)o->count,
                                                 "exact", o->exact,
                                                 "sample", o->sample,
                                                 "needs_confirmation", o->confirm,
                                                 "confirm_above", above));
        } else if (sl_bulkjob_new_id(o->id, sizeof(o->id)) < 0) {
            sl_http_reply_errorf(r, 503, "unavailable", NULL, "No randomness for a job id.");
        } else {
            sl_api_submit(r, &o->write, create_apply, create_done, create_drop);
            return;
        }
    }
    start_free(o);
}

void sl_bulk_start(struct sl_request *r, enum sl_action action, const struct sl_filter *f,
                   const char *reason, const char *queue, bool dry_run)
{
    struct start_op *o = calloc(1, sizeof(*o));

    if (!o) {
        sl_http_reply_store_error(r, -ENOMEM);
        return;
    }
    o->r = r;
    o->srv = r->srv;
    o->action = action;
    o->f = *f;
    /* The filter's pointers point into it: moved with it. */
    struct sl_search *q = &o->f.q;
    if (q->creator)
        q->creator = o->f.creator;
    if (q->tag)
        q->tag = o->f.tag;
    if (q->queue)
        q->queue = o->f.queue;
    if (q->matched)
        q->matched = o->f.matched;
    if (q->match_kind)
        q->match_kind = o->f.kind;
    if (q->decided_by)
        q->decided_by = o->f.decided_by;
    for (int k = 0; k < q->nstates; k++)
        q->states[k] = o->f.states[k];
    for (int t = 0; t < q->nterms; t++)
        q->terms[t] = o->f.text + (f->q.terms[t] - f->text);
    sl_copy(o->reason, sizeof(o->reason), reason);
    sl_copy(o->queue, sizeof(o->queue), queue);
    sl_api_actor(r, o->actor, sizeof(o->actor));
    o->dry_run = dry_run;
    o->started = sl_mono();
    double bound = r->srv->cfg.search_timeout_ms / 1000.0;
    o->read.deadline = o->started + bound + (bound / 4 > 0.05 ? bound / 4 : 0.05);
    o->read.run = count_run;
    o->read.done = count_done;
    o->read.indexed = true;
    if (sl_api_read(r, &o->read) < 0)
        start_free(o);
}

/* }===================================================================== */

/* {====================== Routes ======================================== */

/* POST /v1/bulk {action, search, reason, dry_run?, queue?} */
void sl_api_bulk(struct sl_request *r)
{
    static const char *const keys[] = { "action", "search", "reason", "dry_run", "queue", NULL };
    struct sl_error err = { 0 };
    const char *action_name, *reason = "", *queue = NULL;
    enum sl_action action = SL_ACTION_TAKEDOWN;
    struct sl_filter *f = calloc(1, sizeof(*f));
    json_t *body = sl_http_json_body(r, &err);
    json_t *dry = json_object_get(body, "dry_run");

    if (!f) {
        json_decref(body);
        sl_http_reply_store_error(r, -ENOMEM);
        return;
    }
    if (!body || sl_json_only_keys(body, keys, &err) < 0 ||
        sl_json_get_string(body, "action", true, 16, &action_name, &err) < 0 ||
        (sl_action_parse(action_name, &action) < 0 &&
         sl_error_set(&err, 422, "invalid", "action",
                      "action must be takedown, review or restore") < 0) ||
        sl_json_get_string(body, "reason", !json_is_true(dry), REASON_MAX, &reason, &err) < 0 ||
        (!json_is_true(dry) && !*reason &&
         sl_error_set(&err, 422, "invalid", "reason",
                      "A bulk action needs a reason: every item's audit record carries it.") < 0) ||
        sl_json_get_id(body, "queue", false, &queue, &err) < 0 ||
        (queue && action == SL_ACTION_TAKEDOWN &&
         sl_error_set(&err, 422, "invalid", "queue",
                      "queue is for review and restore: a takedown sends nothing to people") < 0) ||
        (dry && !json_is_boolean(dry) &&
         sl_error_set(&err, 422, "invalid", "dry_run", "dry_run must be true or false") < 0) ||
        (!json_object_get(body, "search") &&
         sl_error_set(&err, 422, "invalid", "search", "search is required: the filters of "
                      "the items to act on") < 0) ||
        sl_filter_json(f, json_object_get(body, "search"), "search.", &err) < 0 ||
        (!f->any && !f->q.since_ms && !f->q.until_ms &&
         sl_error_set(&err, 422, "invalid", "search", "search has no filter: a bulk action on "
                      "every item stored is not one this route takes") < 0)) {
        json_decref(body);
        free(f);
        sl_http_reply_error(r, &err);
        return;
    }
    sl_bulk_start(r, action, f, reason, queue, json_is_true(dry));
    json_decref(body);
    free(f);
}

void sl_api_bulk_get(struct sl_request *r)
{
    if (!sl_id_valid(r->params[0])) {
        sl_http_reply_errorf(r, 404, "not_found", NULL, "No job has that id.");
        return;
    }
    json_t *job = NULL;
    int rc = sl_store_job_get(r->srv->reader, r->params[0], &job);
    if (rc == -ENOENT)
        sl_http_reply_errorf(r, 404, "not_found", NULL, "No job has the id '%s'.",
                             r->params[0]);
    else if (rc < 0)
        sl_api_read_error(r, rc);
    else
        sl_http_reply_json(r, 200, job_view(job));
}

void sl_api_bulk_list(struct sl_request *r)
{
    const char *v = sl_http_query(r, "limit"), *kind = sl_http_query(r, "kind");
    char *end = NULL;
    long limit = v ? strtol(v, &end, 10) : LIST_DEFAULT;
    json_t *jobs = NULL;

    if ((v && (*end || limit < 1 || limit > LIST_MAX)) ||
        (kind && strcmp(kind, "bulk") != 0 && strcmp(kind, "retro") != 0)) {
        sl_http_reply_errorf(r, 400, "bad_request", NULL,
                             "Use ?limit=N (1 to %d) and ?kind=bulk|retro.", LIST_MAX);
        return;
    }
    int rc = sl_store_jobs_list(r->srv->reader, kind, (int)limit, &jobs);
    char you[SL_ID_MAX + 8];
    sl_api_actor(r, you, sizeof(you));
    if (rc < 0)
        sl_api_read_error(r, rc);
    else
        sl_http_reply_json(r, 200, json_pack("{s:o, s:s}", "jobs", jobs, "you", you));
}

/* Confirm and cancel, on the commit thread. */
struct move_op {
    struct sl_commit_op op;
    struct sl_request *r;
    bool confirm;
    char id[SL_ID_MAX + 1];
    char actor[SL_ID_MAX + 8];
    char state[32];
};

static int move_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct move_op *m = (struct move_op *)op;
    json_t *job = NULL;
    int64_t now = sl_now_ms();
    char why[256];
    int rc = sl_store_job_get(w, m->id, &job);

    if (rc < 0)
        return rc;
    sl_copy(m->state, sizeof(m->state), json_string_value(json_object_get(job, "state")));
    bool same = strcmp(json_string_value(json_object_get(job, "created_by")), m->actor) == 0;
    json_decref(job);
    if (m->confirm && same)
        return -EPERM;          /* four eyes: the one who asked may not confirm */
    rc = sl_store_job_state(w, m->id, m->confirm ? "awaiting_confirmation" : NULL,
                            m->confirm ? "running" : "cancelled", m->actor, NULL, now);
    if (rc < 0)
        return rc;
    snprintf(why, sizeof(why), "job %s: %s", m->id, m->confirm ? "confirmed" : "cancelled");
    struct sl_audit_rec rec = { NULL, m->actor, m->confirm ? "bulk_confirm" : "bulk_cancel",
                                NULL, NULL, why, now };
    return sl_store_audit_append(w, &rec);
}

static void move_done(struct sl_commit_op *op, int rc)
{
    struct move_op *m = (struct move_op *)op;
    struct sl_request *r = m->r;

    if (rc == -ENOENT)
        sl_http_reply_errorf(r, 404, "not_found", NULL, "No job has the id '%s'.", m->id);
    else if (rc == -EPERM)
        sl_http_reply_errorf(r, 403, "forbidden", NULL,
                             "You asked for job %s: another moderator must confirm it.", m->id);
    else if (rc == -ESTALE)
        sl_http_reply_errorf(r, 409, "conflict", NULL, "Job %s is %s: it cannot be %s.", m->id,
                             m->state, m->confirm ? "confirmed" : "cancelled");
    else if (rc < 0)
        sl_http_reply_store_error(r, rc);
    else {
        if (m->confirm && sl_bulkjob_run(r->srv, m->id) < 0)
            sl_err("bulk job %s could not start; it starts at the next start", m->id);
        else if (!m->confirm)
            sl_bulkjob_cancelled(r->srv, m->id);
        sl_info("bulk job %s %s by %s", m->id, m->confirm ? "confirmed" : "cancelled",
                m->actor);
        reply_job(r, 200, m->id);
    }
    free(m);
}

static void move_drop(struct sl_commit_op *op)
{
    free(op);
}

static void move(struct sl_request *r, bool confirm)
{
    if (!sl_id_valid(r->params[0])) {
        sl_http_reply_errorf(r, 404, "not_found", NULL, "No job has that id.");
        return;
    }
    struct move_op *m = calloc(1, sizeof(*m));
    if (m) {
        m->r = r;
        m->confirm = confirm;
        sl_copy(m->id, sizeof(m->id), r->params[0]);
        sl_api_actor(r, m->actor, sizeof(m->actor));
    }
    sl_api_submit(r, m ? &m->op : NULL, move_apply, move_done, move_drop);
}

void sl_api_bulk_confirm(struct sl_request *r)
{
    move(r, true);
}

void sl_api_bulk_cancel(struct sl_request *r)
{
    move(r, false);
}

/* }===================================================================== */
