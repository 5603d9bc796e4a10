/* SPDX-License-Identifier: MIT */
/* Group commit: one thread writes, many requests share each fsync. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "store/commit.h"
#include "store/store.h"

/*
 * The loop thread queues ops and never waits for the disk. The commit thread
 * takes everything queued so far (up to batch_max) as one batch, applies it in
 * one transaction, commits (the fsync), and hands the batch back to the loop
 * through an event, where each op's done callback answers its request. While
 * one batch is being written the next one collects, so under load a batch is
 * whatever arrived during one fsync: throughput rises with concurrency
 * instead of being capped at one fsync per request.
 */
struct sl_commit {
    struct sl_store *writer;
    int batch_max;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;        /* the thread waits here for ops */
    struct sl_commit_op *queue, **queue_tail;
    struct sl_commit_op *finished, **finished_tail;
    int pending;                /* queued + being written + finished, not yet done */
    bool stopping;
    struct event *finished_ev;
    struct sl_commit_stats stats;
};

const double sl_commit_seconds_bounds[11] = {
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0
};

static void record(struct sl_commit *c, int nops, double seconds, bool failed)
{
    struct sl_commit_stats *st = &c->stats;
    int b = 0;

    st->batches++;
    st->ops += nops;
    st->failures += failed;
    while (b < 11 && nops > (1 << b))
        b++;
    st->batch_hist[b]++;
    for (b = 0; b < 11 && seconds > sl_commit_seconds_bounds[b]; b++)
        ;
    st->seconds_hist[b]++;
    st->seconds_sum += seconds;
}

/* Apply and commit one batch; every op's rc is set. */
/* Every op of the batch in the open transaction; false when one was
 * refused (its rc and the ops before it are set, the rest not run). */
static bool apply_all(struct sl_store *w, struct sl_commit_op *batch)
{
    for (struct sl_commit_op *op = batch; op; op = op->next)
        if ((op->rc = op->apply(op, w)) < 0)
            return false;
    return true;
}

/* The same, each op in a savepoint of its own: a refused op (conflict, not
 * found) undoes its own work only; a failure of the database ends the
 * batch. 0, or the failure. */
static int apply_each(struct sl_store *w, struct sl_commit_op *batch)
{
    int rc = 0;

    for (struct sl_commit_op *op = batch; op && rc == 0; op = op->next) {
        if ((rc = sl_store_savepoint(w)) < 0)
            break;
        op->rc = op->apply(op, w);
        rc = op->rc < 0 ? sl_store_rollback_to(w) : sl_store_release(w);
        if (op->rc == -EIO)
            rc = -EIO;
    }
    return rc;
}

static void write_batch(struct sl_commit *c, struct sl_commit_op *batch, int nops)
{
    struct sl_store *w = c->writer;
    double start = sl_mono();
    int rc = sl_store_begin(w);

    /* First as one transaction: almost every batch is accepted whole, and a
     * savepoint around each op made SQLite copy every page the op touched
     * into its statement journal. Only when an op is refused is the batch
     * rolled back and written again op by op. */
    if (rc == 0 && !apply_all(w, batch)) {
        sl_store_rollback(w);
        if ((rc = sl_store_begin(w)) == 0)
            rc = apply_each(w, batch);
    }
    if (rc == 0)
        rc = sl_store_commit(w);
    else
        sl_store_rollback(w);
    if (rc < 0) {
        sl_err("commit: a batch of %d writes failed and was rolled back", nops);
        for (struct sl_commit_op *op = batch; op; op = op->next)
            op->rc = -EIO;
    }
    pthread_mutex_lock(&c->lock);
    record(c, nops, sl_mono() - start, rc < 0);
    pthread_mutex_unlock(&c->lock);
}

static void *commit_thread(void *arg)
{
    struct sl_commit *c = arg;

    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->queue && !c->stopping)
            pthread_cond_wait(&c->wake, &c->lock);
        if (!c->queue)
            break;  /* stopping and nothing left */

        struct sl_commit_op *batch = c->queue, *last = batch;
        int n = 1;
        while (last->next && n < c->batch_max) {
            last = last->next;
            n++;
        }
        c->queue = last->next;
        if (!c->queue)
            c->queue_tail = &c->queue;
        last->next = NULL;
        pthread_mutex_unlock(&c->lock);

        write_batch(c, batch, n);

        pthread_mutex_lock(&c->lock);
        *c->finished_tail = batch;
        c->finished_tail = &last->next;
        event_active(c->finished_ev, EV_READ, 0);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* On the loop: answer every request whose batch is on disk. */
static void on_finished(evutil_socket_t fd, short what, void *arg)
{
    struct sl_commit *c = arg;
    (void)fd;
    (void)what;

    pthread_mutex_lock(&c->lock);
    struct sl_commit_op *op = c->finished;
    c->finished = NULL;
    c->finished_tail = &c->finished;
    pthread_mutex_unlock(&c->lock);

    int n = 0;
    while (op) {
        struct sl_commit_op *next = op->next;
        op->done(op, op->rc);   /* may free op */
        op = next;
        n++;
    }
    pthread_mutex_lock(&c->lock);
    c->pending -= n;
    pthread_mutex_unlock(&c->lock);
}

int sl_commit_new(struct event_base *base, struct sl_store *writer,
                  int batch_max, struct sl_commit **out)
{
    struct sl_commit *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->writer = writer;
    c->batch_max = batch_max > 0 ? batch_max : 1;
    c->queue_tail = &c->queue;
    c->finished_tail = &c->finished;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    c->finished_ev = event_new(base, -1, 0, on_finished, c);
    if (!c->finished_ev || pthread_create(&c->thread, NULL, commit_thread, c) != 0) {
        event_free(c->finished_ev);
        free(c);
        return -ENOMEM;
    }
    *out = c;
    return 0;
}

int sl_commit_submit(struct sl_commit *c, struct sl_commit_op *op)
{
    pthread_mutex_lock(&c->lock);
    if (c->stopping) {
        pthread_mutex_unlock(&c->lock);
        return -ESHUTDOWN;
    }
    op->next = NULL;
    *c->queue_tail = op;
    c->queue_tail = &op->next;
    c->pending++;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

int sl_commit_pending(const struct sl_commit *c)
{
    struct sl_commit *m = (struct sl_commit *)c;
    pthread_mutex_lock(&m->lock);
    int n = m->pending;
    pthread_mutex_unlock(&m->lock);
    return n;
}

void sl_commit_stats(const struct sl_commit *c, struct sl_commit_stats *out)
{
    struct sl_commit *m = (struct sl_commit *)c;
    pthread_mutex_lock(&m->lock);
    *out = m->stats;
    pthread_mutex_unlock(&m->lock);
}

void sl_commit_free(struct sl_commit *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    /* The thread has written everything; run the last done callbacks here,
     * since the loop may no longer be dispatching. */
    on_finished(-1, 0, c);
    event_free(c->finished_ev);
    sl_store_free(c->writer);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
