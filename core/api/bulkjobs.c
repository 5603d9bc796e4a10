/* SPDX-License-Identifier: MIT */
/* Jobs that act on many items in slices (bulk actions, retroactive hash matching): durable, resumed at start. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "api/api.h"
#include "api/bulkjobs.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/prom.h"
#include "lib/sha256.h"
#include "lib/text.h"
#include "server.h"
#include "store/commit.h"
#include "store/readers.h"
#include "store/store.h"

/* A slice that found nothing to look at in time is tried again after a
 * pause, this many times in a row before the job fails; a slice the store
 * failed to write, fewer. */
#define READ_TRIES 20
#define WRITE_TRIES 5
#define PAUSE_MS 1000
#define BUSY_PAUSE_MS 100

static const struct sl_bulkjob_kind *const kinds[] = { &sl_bulk_kind, &sl_retro_kind };
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

struct sl_bulkjob {
    char id[SL_ID_MAX + 1];
    char actor[SL_ID_MAX + 8];
    const struct sl_bulkjob_kind *kind;
    int k;                          /* index in kinds[] */
    void *state;                    /* the kind's */
    int64_t seq_max, cursor;
    bool busy;                      /* a slice is in flight */
    bool ended;                     /* done, cancelled or failed: forgotten once idle */
    int failures;                   /* slices that failed in a row */
    struct event *timer;            /* the next slice */
    struct sl_bulkjobs *all;
    struct sl_bulkjob *next;
};

struct sl_bulkjobs {
    struct sl_server *srv;
    struct sl_bulkjob *jobs;
    bool stopping;
    /* metrics */
    uint64_t slices[NKINDS], acted[NKINDS], skipped[NKINDS], failed[NKINDS];
};

/* One slice: read on a reader thread, then written on the commit thread. */
struct slice_op {
    struct sl_read_op read;
    struct sl_commit_op write;
    struct sl_bulkjob *job;
    int64_t cursor, seq_max;
    double deadline;
    void *slice;
    int64_t next, examined;
    struct sl_bulkjob_counts counts;
};

const char *sl_bulkjob_id(const struct sl_bulkjob *job)
{
    return job->id;
}

const char *sl_bulkjob_actor(const struct sl_bulkjob *job)
{
    return job->actor;
}

int sl_bulkjob_new_id(char *id, size_t len)
{
    uint8_t raw[6];

    if (len < 14 || getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return -EIO;
    id[0] = 'j';
    sl_hex(raw, sizeof(raw), id + 1);
    return 0;
}

/* {====================== Jobs in memory ================================ */

static void job_free(struct sl_bulkjob *job)
{
    struct sl_bulkjob **p = &job->all->jobs;

    while (*p && *p != job)
        p = &(*p)->next;
    if (*p)
        *p = job->next;
    if (job->timer)
        event_free(job->timer);
    if (job->state)
        job->kind->unload(job->state);
    free(job);
}

/* Ended: forgotten now, or once its slice in flight is back. */
static void job_end(struct sl_bulkjob *job)
{
    job->ended = true;
    if (!job->busy)
        job_free(job);
}

static void slice_free(struct slice_op *op)
{
    if (op->slice)
        op->job->kind->free_slice(op->slice);
    free(op);
}

/* {====================== Failing ====================================== */

struct fail_op {
    struct sl_commit_op op;
    char id[SL_ID_MAX + 1];
    char why[256];
};

static int fail_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct fail_op *f = (struct fail_op *)op;
    int rc = sl_store_job_state(w, f->id, "running", "failed", NULL, f->why, sl_now_ms());
    return rc == -ESTALE ? 0 : rc;
}

static void fail_done(struct sl_commit_op *op, int rc)
{
    struct fail_op *f = (struct fail_op *)op;
    if (rc < 0)
        sl_err("bulk job %s: its failure could not be stored either; it runs again at the "
               "next start", f->id);
    free(f);
}

static void job_fail(struct sl_bulkjob *job, const char *why)
{
    struct fail_op *f = calloc(1, sizeof(*f));

    sl_err("bulk job %s (%s) failed: %s", job->id, job->kind->name, why);
    job->all->failed[job->k]++;
    if (f && !job->all->stopping) {
        sl_copy(f->id, sizeof(f->id), job->id);
        sl_copy(f->why, sizeof(f->why), why);
        f->op.apply = fail_apply;
        f->op.done = fail_done;
        if (sl_commit_submit(job->all->srv->commit, &f->op) < 0)
            free(f);
    } else {
        free(f);
    }
    job_end(job);
}

/* }===================================================================== */

/* {====================== A slice ======================================= */

static void step(struct sl_bulkjob *job);

static void schedule(struct sl_bulkjob *job, int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(job->timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    step(arg);
}

static int slice_read(struct sl_read_op *rop, struct sl_store *reader)
{
    struct slice_op *op = (struct slice_op *)rop;
    const struct sl_bulkjob *job = op->job;

    return job->kind->read(job->state, reader, op->cursor, op->seq_max, op->deadline,
                           &op->slice, &op->next, &op->examined);
}

static int slice_write(struct sl_commit_op *cop, struct sl_store *w)
{
    struct slice_op *op = (struct slice_op *)((char *)cop - offsetof(struct slice_op, write));
    struct sl_bulkjob *job = op->job;
    char state[32];
    int rc = sl_store_job_peek(w, job->id, state);

    if (rc < 0)
        return rc;
    if (strcmp(state, "running") != 0)
        return -ECANCELED;      /* cancelled since: the items are left as they are */
    op->counts = (struct sl_bulkjob_counts){ 0 };
    if (op->slice && (rc = job->kind->write(job, job->state, w, op->slice, &op->counts)) < 0)
        return rc;
    struct sl_job_slice p = { .cursor = op->next, .examined = op->examined,
                              .matched = op->counts.matched, .acted = op->counts.acted,
                              .skipped = op->counts.skipped, .finished = op->next == 0 };
    return sl_store_job_progress(w, job->id, &p, sl_now_ms());
}

static void slice_written(struct sl_commit_op *cop, int rc)
{
    struct slice_op *op = (struct slice_op *)((char *)cop - offsetof(struct slice_op, write));
    struct sl_bulkjob *job = op->job;
    struct sl_bulkjobs *all = job->all;

    job->busy = false;
    if (rc == 0) {
        all->slices[job->k]++;
        all->acted[job->k] += (uint64_t)op->counts.acted;
        all->skipped[job->k] += (uint64_t)op->counts.skipped;
        job->failures = 0;
        job->cursor = op->next;
        /* The engines learn of what is stored; at a stop they are gone
         * already, and learn it from the store at the next start. */
        if (op->slice && !all->stopping)
            job->kind->after(job, job->state, all->srv, op->slice);
        if (op->next == 0) {
            sl_info("bulk job %s (%s) done", job->id, job->kind->name);
            job->ended = true;
        }
    } else if (rc == -ECANCELED || rc == -ESTALE) {
        job->ended = true;
    } else if (!all->stopping && ++job->failures >= WRITE_TRIES) {
        slice_free(op);
        job_fail(job, "the store could not write its slices (see the log)");
        return;
    }
    slice_free(op);
    if (job->ended)
        job_free(job);
    else if (!all->stopping)
        schedule(job, rc == 0 ? 0 : PAUSE_MS);
}

static void slice_read_done(struct sl_read_op *rop, int rc)
{
    struct slice_op *op = (struct slice_op *)rop;
    struct sl_bulkjob *job = op->job;
    struct sl_bulkjobs *all = job->all;

    job->busy = false;
    if (all->stopping || rc == -ESHUTDOWN || job->ended) {
        slice_free(op);
        if (job->ended)
            job_free(job);
        return;
    }
    if (rc == -ETIMEDOUT) {
        slice_free(op);
        if (++job->failures >= READ_TRIES)
            job_fail(job, "its slices found nothing to look at within search_timeout_ms, "
                     "again and again");
        else
            schedule(job, PAUSE_MS);
        return;
    }
    if (rc < 0) {
        slice_free(op);
        job_fail(job, rc == -EILSEQ ? "a stored record cannot be read (the log names it)"
                                    : "the store could not be read (see the log)");
        return;
    }
    op->write.apply = slice_write;
    op->write.done = slice_written;
    if (sl_commit_submit(all->srv->commit, &op->write) < 0) {
        slice_free(op);
        return;
    }
    job->busy = true;
}

static void step(struct sl_bulkjob *job)
{
    struct sl_bulkjobs *all = job->all;
    struct sl_server *srv = all->srv;

    if (job->ended && !job->busy) {
        job_free(job);
        return;
    }
    /* A stopping daemon finishes the slice in flight and takes no more. */
    if (all->stopping || srv->draining || job->busy)
        return;
    struct slice_op *op = calloc(1, sizeof(*op));
    if (!op) {
        schedule(job, PAUSE_MS);
        return;
    }
    double bound = srv->cfg.search_timeout_ms / 1000.0;
    op->job = job;
    op->cursor = job->cursor;
    op->seq_max = job->seq_max;
    op->deadline = sl_mono() + bound;
    op->read.deadline = op->deadline + (bound / 4 > 0.05 ? bound / 4 : 0.05);
    op->read.run = slice_read;
    op->read.done = slice_read_done;
    op->read.indexed = true;
    int rc = sl_readers_submit(srv->readers, &op->read);
    if (rc < 0) {
        free(op);
        if (rc == -EBUSY)
            schedule(job, BUSY_PAUSE_MS);     /* searches first; the job waits its turn */
        return;
    }
    job->busy = true;
}

/* }===================================================================== */

/* {====================== Starting and stopping ========================= */

static struct sl_bulkjob *find(struct sl_bulkjobs *all, const char *id)
{
    for (struct sl_bulkjob *j = all->jobs; j; j = j->next)
        if (strcmp(j->id, id) == 0)
            return j;
    return NULL;
}

/* A job row the store has as running: into memory and on. */
static int adopt(struct sl_bulkjobs *all, json_t *row)
{
    const char *id = json_string_value(json_object_get(row, "id"));
    const char *kind = json_string_value(json_object_get(row, "kind"));
    char err[256] = "";
    int k = 0;

    if (!id || find(all, id))
        return 0;
    while (k < (int)NKINDS && strcmp(kinds[k]->name, kind ? kind : "") != 0)
        k++;
    struct sl_bulkjob *job = calloc(1, sizeof(*job));
    if (!job)
        return -ENOMEM;
    sl_copy(job->id, sizeof(job->id), id);
    sl_copy(job->actor, sizeof(job->actor),
            json_string_value(json_object_get(row, "created_by")));
    job->all = all;
    job->seq_max = json_integer_value(json_object_get(row, "seq_max"));
    job->cursor = json_integer_value(json_object_get(row, "cursor"));
    job->timer = evtimer_new(all->srv->base, on_timer, job);
    job->next = all->jobs;
    all->jobs = job;
    if (k == (int)NKINDS) {
        job->kind = kinds[0];
        snprintf(err, sizeof(err), "this sluiced knows no job of kind '%s'", kind ? kind : "");
    } else {
        job->kind = kinds[k];
        job->k = k;
        if (!job->timer)
            snprintf(err, sizeof(err), "out of memory");
        else if (job->kind->load(job, json_object_get(row, "spec"), &job->state, err,
                                 sizeof(err)) < 0 && !err[0])
            snprintf(err, sizeof(err), "its spec cannot be read");
    }
    if (err[0]) {
        job_fail(job, err);
        return 0;
    }
    sl_info("bulk job %s (%s %s) runs from item %lld down", job->id, job->kind->name,
            json_string_value(json_object_get(row, "action")), (long long)job->cursor - 1);
    schedule(job, 0);
    return 0;
}

int sl_bulkjob_run(struct sl_server *srv, const char *id)
{
    json_t *row = NULL;
    int rc = sl_store_job_get(srv->reader, id, &row);

    if (rc == 0 && strcmp(json_string_value(json_object_get(row, "state")), "running") == 0)
        rc = adopt(srv->bulkjobs, row);
    json_decref(row);
    return rc;
}

void sl_bulkjob_cancelled(struct sl_server *srv, const char *id)
{
    struct sl_bulkjob *job = srv->bulkjobs ? find(srv->bulkjobs, id) : NULL;
    if (job)
        job_end(job);
}

static int resume(void *arg, json_t *row)
{
    return adopt(arg, row) < 0;
}

int sl_bulkjobs_start(struct sl_server *srv)
{
    struct sl_bulkjobs *all = calloc(1, sizeof(*all));

    if (!all)
        return -ENOMEM;
    all->srv = srv;
    srv->bulkjobs = all;
    return sl_store_jobs_each(srv->reader, "running", resume, all);
}

void sl_bulkjobs_stop(struct sl_server *srv)
{
    struct sl_bulkjobs *all = srv->bulkjobs;
    if (!all)
        return;
    all->stopping = true;
    for (struct sl_bulkjob *j = all->jobs; j; j = j->next)
        evtimer_del(j->timer);
}

void sl_bulkjobs_free(struct sl_server *srv)
{
    struct sl_bulkjobs *all = srv->bulkjobs;
    if (!all)
        return;
    while (all->jobs)
        job_free(all->jobs);
    free(all);
    srv->bulkjobs = NULL;
}

void sl_bulkjobs_metrics(struct sl_server *srv, struct evbuffer *out)
{
    struct sl_bulkjobs *all = srv->bulkjobs;
    int running = 0;

    if (!all)
        return;
    for (struct sl_bulkjob *j = all->jobs; j; j = j->next)
        running += !j->ended;
    sl_metric_header(out, "sluice_bulk_jobs_running", "gauge",
                     "Bulk jobs (bulk actions, retroactive hash matching) running now.");
    evbuffer_add_printf(out, "sluice_bulk_jobs_running %d\n", running);
    sl_metric_header(out, "sluice_bulk_items_total", "counter",
                     "Items bulk jobs acted on, or found and left as they were, by kind.");
    for (size_t k = 0; k < NKINDS; k++) {
        evbuffer_add_printf(out, "sluice_bulk_items_total{kind=\"%s\",outcome=\"acted\"} %llu\n",
                            kinds[k]->name, (unsigned long long)all->acted[k]);
        evbuffer_add_printf(out, "sluice_bulk_items_total{kind=\"%s\",outcome=\"skipped\"} "
                            "%llu\n", kinds[k]->name, (unsigned long long)all->skipped[k]);
    }
    sl_metric_header(out, "sluice_bulk_slices_total", "counter",
                     "Slices of bulk jobs written, by kind.");
    for (size_t k = 0; k < NKINDS; k++)
        evbuffer_add_printf(out, "sluice_bulk_slices_total{kind=\"%s\"} %llu\n", kinds[k]->name,
                            (unsigned long long)all->slices[k]);
    sl_metric_header(out, "sluice_bulk_jobs_failed_total", "counter",
                     "Bulk jobs that failed (the log says why), by kind.");
    for (size_t k = 0; k < NKINDS; k++)
        evbuffer_add_printf(out, "sluice_bulk_jobs_failed_total{kind=\"%s\"} %llu\n",
                            kinds[k]->name, (unsigned long long)all->failed[k]);
}

/* }===================================================================== */
