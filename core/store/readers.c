/* SPDX-License-Identifier: MIT */
/* Reader threads: searches and long reads off the event loop, each thread on a connection of its own. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include <event2/event.h>

#include "lib/log.h"
#include "store/commit.h"
#include "store/readers.h"
#include "store/store.h"

/*
 * The same hand-over as the commit thread's (commit.c): the loop queues an
 * op and never waits; a thread takes it, runs it on its own connection (a
 * connection is used by one thread at a time, and the loop's reader is the
 * loop's), puts it on the finished list and wakes the loop through an
 * event, where each op's done answers.
 */
struct slot {
    struct sl_readers *pool;
    pthread_t thread;
    bool started;
    struct sl_store *store;
    bool busy;                  /* running an op: stopping interrupts it */
};

struct sl_readers {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct sl_read_op *queue, **queue_tail;
    struct sl_read_op *finished, **finished_tail;
    int waiting, running, queue_max;
    bool stopping;
    uint64_t runs, refused;
    struct sl_commit *commit;
    struct event *finished_ev;
    struct slot *slots;
    int nslots;
};

static void finish(struct sl_readers *p, struct sl_read_op *op)
{
    op->next = NULL;
    *p->finished_tail = op;
    p->finished_tail = &op->next;
    event_active(p->finished_ev, EV_READ, 0);
}

static void *reader_thread(void *arg)
{
    struct slot *t = arg;
    struct sl_readers *p = t->pool;

    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->queue && !p->stopping)
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->stopping)
            break;
        struct sl_read_op *op = p->queue;
        p->queue = op->next;
        if (!p->queue)
            p->queue_tail = &p->queue;
        p->waiting--;
        p->running++;
        t->busy = true;
        pthread_mutex_unlock(&p->lock);

        op->rc = op->indexed && p->commit ?
                 sl_commit_index_wait(p->commit, op->epoch, op->deadline) : 0;
        if (op->rc == 0) {
            sl_store_deadline(t->store, op->deadline);
            op->rc = op->run(op, t->store);
            sl_store_deadline(t->store, 0);
        }

        pthread_mutex_lock(&p->lock);
        t->busy = false;
        p->running--;
        p->runs++;
        finish(p, op);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* On the loop: answer every op that ran. */
static void on_finished(evutil_socket_t fd, short what, void *arg)
{
    struct sl_readers *p = arg;
    (void)fd;
    (void)what;

    pthread_mutex_lock(&p->lock);
    struct sl_read_op *op = p->finished;
    p->finished = NULL;
    p->finished_tail = &p->finished;
    pthread_mutex_unlock(&p->lock);
    while (op) {
        struct sl_read_op *next = op->next;
        op->done(op, op->rc);   /* may free op */
        op = next;
    }
}

int sl_readers_new(struct event_base *base, const char *store, const char *dir, int threads,
                   int queue_max, struct sl_commit *commit, struct sl_readers **out)
{
    struct sl_readers *p = calloc(1, sizeof(*p));
    int rc = -ENOMEM;

    if (!p)
        return -ENOMEM;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->queue_tail = &p->queue;
    p->finished_tail = &p->finished;
    p->queue_max = queue_max;
    p->commit = commit;
    p->finished_ev = event_new(base, -1, 0, on_finished, p);
    p->slots = calloc(threads > 0 ? (size_t)threads : 1, sizeof(*p->slots));
    if (!p->finished_ev || !p->slots)
        goto fail;
    for (p->nslots = 0; p->nslots < threads; p->nslots++) {
        struct slot *t = &p->slots[p->nslots];
        t->pool = p;
        if ((rc = sl_store_open(store, dir, false, &t->store)) < 0)
            goto fail;
        if (pthread_create(&t->thread, NULL, reader_thread, t) != 0) {
            sl_store_free(t->store);
            t->store = NULL;
            rc = -EAGAIN;
            goto fail;
        }
        t->started = true;
    }
    *out = p;
    return 0;
fail:
    sl_err("readers: cannot start %d reader threads", threads);
    sl_readers_free(p);
    return rc;
}

int sl_readers_submit(struct sl_readers *p, struct sl_read_op *op)
{
    int rc = 0;

    pthread_mutex_lock(&p->lock);
    if (p->stopping)
        rc = -ESHUTDOWN;
    else if (p->running + p->waiting >= p->nslots + p->queue_max) {
        p->refused++;
        rc = -EBUSY;
    } else {
        op->next = NULL;
        if (op->indexed && p->commit)
            op->epoch = sl_commit_epoch(p->commit);
        *p->queue_tail = op;
        p->queue_tail = &op->next;
        p->waiting++;
        pthread_cond_signal(&p->wake);
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void sl_readers_stats(struct sl_readers *p, struct sl_readers_stats *out)
{
    pthread_mutex_lock(&p->lock);
    *out = (struct sl_readers_stats){ .threads = p->nslots, .running = p->running,
                                      .waiting = p->waiting, .runs = p->runs,
                                      .refused = p->refused };
    pthread_mutex_unlock(&p->lock);
}

void sl_readers_free(struct sl_readers *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    for (int i = 0; i < p->nslots; i++)
        if (p->slots[i].busy)
            sl_store_interrupt(p->slots[i].store);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nslots; i++)
        if (p->slots[i].started)
            pthread_join(p->slots[i].thread, NULL);
    /* What never ran is answered as the pool stopping. */
    for (struct sl_read_op *op = p->queue, *next; op; op = next) {
        next = op->next;
        op->rc = -ESHUTDOWN;
        finish(p, op);
    }
    p->queue = NULL;
    if (p->finished_ev) {
        on_finished(-1, 0, p);
        event_free(p->finished_ev);
    }
    for (int i = 0; i < p->nslots; i++)
        sl_store_free(p->slots[i].store);
    free(p->slots);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
