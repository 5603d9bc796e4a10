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
 *
 * Ops that may go ahead (sl_commit_submit_ahead: batches of events) queue
 * apart and open every batch; the others follow in the order they came, at
 * most ORDERED_MAX of them a batch. A burst of the distribution's own
 * writes (the waves that thousands of decisions end and start, 30 to 50 us
 * each) was written in batches of up to batch_max, 120 to 200 ms each, and
 * a client's events waited behind two or three of them (ndjson-waves'
 * p99); now they wait for one slice of ORDERED_MAX at most.
 *
 * The search's indexes are brought up to date by this thread too, every
 * INDEX_EVERY seconds in the transaction of the batch then written, rather
 * than in every batch (sl_store_index_later): SQLite's text index writes a
 * segment per pass, and a pass over a quarter second of uploads costs a
 * fraction of one pass per batch. A read that uses them waits for a pass
 * covering every batch committed before it was asked for
 * (sl_commit_index_wait), which it asks to run at once.
 */
#define INDEX_EVERY 0.25
/* How long a read with no deadline of its own waits for a pass. */
#define INDEX_WAIT_MAX 10.0
/* The ops that keep their order, at most this many a batch. */
#define ORDERED_MAX 256

struct sl_commit {
    struct sl_store *writer;
    int batch_max;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;        /* the thread waits here for ops */
    struct sl_commit_op *queue, **queue_tail;   /* in order */
    struct sl_commit_op *ahead, **ahead_tail;   /* ops that may go ahead */
    bool turn;                  /* batches of one: the ordered queue's turn */
    struct sl_commit_op *finished, **finished_tail;
    int pending;                /* queued + being written + finished, not yet done */
    bool stopping;
    struct event *finished_ev;
    struct sl_commit_stats stats;
    /* The search's indexes: batches committed, how many of them the last
     * pass covered, whether a read waits for one (index_done: its waiters). */
    bool index_later;           /* false: every commit indexes (PostgreSQL) */
    bool index_wanted;
    uint64_t committed, indexed;
    uint64_t passes;            /* passes run */
    int index_rc;               /* the last pass's result */
    double index_last;          /* sl_mono() when the last pass ended */
    pthread_cond_t index_done;
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
    /* A write sent ahead (store.h) may be refused only now: which op's it
     * was, the op by op pass finds out. */
    return sl_store_sync(w) == 0;
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
        if (op->rc == 0)
            op->rc = sl_store_sync(w);
        rc = op->rc < 0 ? sl_store_rollback_to(w) : sl_store_release(w);
        if (op->rc == -EIO)
            rc = -EIO;
    }
    return rc;
}

/* One transaction: the batch (may be empty), and the indexes' pass when
 * index is set. 0, or the failure (every op's rc is -EIO then). */
static int write_batch(struct sl_commit *c, struct sl_commit_op *batch, int nops, bool index)
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
    if (rc == 0 && index)
        rc = sl_store_index(w);
    if (rc == 0)
        rc = sl_store_commit(w);
    else
        sl_store_rollback(w);
    if (rc < 0) {
        sl_err("commit: a batch of %d writes%s failed and was rolled back", nops,
               index ? " and the search's indexes" : "");
        for (struct sl_commit_op *op = batch; op; op = op->next)
            op->rc = -EIO;
    }
    if (nops > 0) {
        pthread_mutex_lock(&c->lock);
        record(c, nops, sl_mono() - start, rc < 0);
        pthread_mutex_unlock(&c->lock);
    }
    return rc;
}

/* Under the lock: whether the transaction about to be written runs the
 * indexes' pass: a read waits for one, or batches are not covered and
 * INDEX_EVERY has gone by since the last pass or the thread stops. */
static bool index_due(struct sl_commit *c)
{
    return c->index_later &&
           (c->index_wanted || (c->indexed < c->committed &&
                                (c->stopping || sl_mono() - c->index_last >= INDEX_EVERY)));
}

/* Under the lock: the first max ops of a queue (none if max <= 0), cut
 * off as a list from *first to *last; how many. */
static int take(struct sl_commit_op **queue, struct sl_commit_op ***tail, int max,
                struct sl_commit_op **first, struct sl_commit_op **last)
{
    struct sl_commit_op *op = *queue;
    int n = 0;

    *first = *last = NULL;
    if (!op || max <= 0)
        return 0;
    for (n = 1; op->next && n < max; n++)
        op = op->next;
    *first = *queue;
    *last = op;
    *queue = op->next;
    if (!*queue)
        *tail = queue;
    op->next = NULL;
    return n;
}

/* Under the lock: the places of the next batch kept for the ordered ops
 * while any wait (ORDERED_MAX, or half of a small batch), so that neither
 * queue waits for the other to empty; with batches of one op the two
 * queues take turns. */
static int ordered_share(struct sl_commit *c)
{
    if (!c->queue || !c->ahead)
        return 0;
    if (c->batch_max == 1)
        return (c->turn = !c->turn);
    return c->batch_max / 2 < ORDERED_MAX ? c->batch_max / 2 : ORDERED_MAX;
}

static void *commit_thread(void *arg)
{
    struct sl_commit *c = arg;

    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->queue && !c->ahead && !c->stopping && !c->index_wanted)
            pthread_cond_wait(&c->wake, &c->lock);
        bool index = index_due(c);
        if (!c->queue && !c->ahead && !index)
            break;  /* stopping, nothing left, the indexes whole */

        struct sl_commit_op *batch = NULL, *last = NULL;
        int n = take(&c->ahead, &c->ahead_tail, c->batch_max - ordered_share(c), &batch, &last);
        int max = c->batch_max - n < ORDERED_MAX ? c->batch_max - n : ORDERED_MAX;
        struct sl_commit_op *more, *more_last;
        int m = take(&c->queue, &c->queue_tail, max, &more, &more_last);
        if (m > 0) {
            if (last)
                last->next = more;
            else
                batch = more;
            last = more_last;
            n += m;
        }
        c->index_wanted = false;
        pthread_mutex_unlock(&c->lock);

        int rc = write_batch(c, batch, n, index);

        pthread_mutex_lock(&c->lock);
        c->committed++;
        if (index || !c->index_later) {
            /* A pass covers every batch committed before it, its own too. */
            if (rc == 0)
                c->indexed = c->committed;
            c->index_rc = rc;
            c->index_last = sl_mono();
            c->passes++;
            pthread_cond_broadcast(&c->index_done);
        }
        if (batch) {
            *c->finished_tail = batch;
            c->finished_tail = &last->next;
            event_active(c->finished_ev, EV_READ, 0);
        }
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
    c->ahead_tail = &c->ahead;
    c->finished_tail = &c->finished;
    c->index_later = sl_store_index_later(writer) == 0;
    c->index_last = sl_mono();
    /* What an earlier run stored may not be indexed (a kill -9 between
     * passes): counted as a batch no pass has covered yet. */
    c->committed = c->index_later;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    pthread_condattr_t mono;
    pthread_condattr_init(&mono);
    pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);     /* sl_mono()'s */
    pthread_cond_init(&c->index_done, &mono);
    pthread_condattr_destroy(&mono);
    c->finished_ev = event_new(base, -1, 0, on_finished, c);
    if (!c->finished_ev || pthread_create(&c->thread, NULL, commit_thread, c) != 0) {
        event_free(c->finished_ev);
        pthread_cond_destroy(&c->index_done);
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return -ENOMEM;
    }
    *out = c;
    return 0;
}

static int submit(struct sl_commit *c, struct sl_commit_op *op, bool ahead)
{
    pthread_mutex_lock(&c->lock);
    if (c->stopping) {
        pthread_mutex_unlock(&c->lock);
        return -ESHUTDOWN;
    }
    op->next = NULL;
    if (ahead) {
        *c->ahead_tail = op;
        c->ahead_tail = &op->next;
    } else {
        *c->queue_tail = op;
        c->queue_tail = &op->next;
    }
    c->pending++;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

int sl_commit_submit(struct sl_commit *c, struct sl_commit_op *op)
{
    return submit(c, op, false);
}

int sl_commit_submit_ahead(struct sl_commit *c, struct sl_commit_op *op)
{
    return submit(c, op, true);
}

uint64_t sl_commit_epoch(struct sl_commit *c)
{
    pthread_mutex_lock(&c->lock);
    uint64_t e = c->committed;
    pthread_mutex_unlock(&c->lock);
    return e;
}

int sl_commit_index_wait(struct sl_commit *c, uint64_t epoch, double deadline)
{
    if (deadline <= 0)
        deadline = sl_mono() + INDEX_WAIT_MAX;
    struct timespec until = { .tv_sec = (time_t)deadline,
                              .tv_nsec = (long)((deadline - (double)(time_t)deadline) * 1e9) };
    int rc = 0;

    pthread_mutex_lock(&c->lock);
    while (c->indexed < epoch) {
        c->index_wanted = true;
        pthread_cond_signal(&c->wake);
        uint64_t passes = c->passes;
        int w = pthread_cond_timedwait(&c->index_done, &c->lock, &until);
        if (c->indexed >= epoch)
            break;
        if (w == ETIMEDOUT) {
            /* The read answers as one that ran out of time; say why here. */
            sl_warn("commit: a read waited past its time bound for a pass of the search's "
                    "indexes (the commit thread is behind: %d writes wait)", c->pending);
            rc = -ETIMEDOUT;
            break;
        }
        if (c->passes != passes && c->index_rc < 0) {
            rc = c->index_rc;   /* the pass asked for failed */
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
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
    pthread_cond_destroy(&c->index_done);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
