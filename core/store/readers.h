/* SPDX-License-Identifier: MIT */
/* Reader threads: searches and long reads off the event loop, each thread on a connection of its own. */
#ifndef SL_READERS_H
#define SL_READERS_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct sl_commit;
struct sl_store;
struct sl_readers;

/*
 * A read that must not hold the loop: a search, a slice of a job. The
 * caller embeds the op and fills run, done and deadline. run runs on one
 * of the pool's threads with that thread's reader, every statement bound
 * by deadline (sl_mono() seconds, sl_store_deadline; 0: none); done runs on
 * the event loop afterwards with run's result, or with -ESHUTDOWN (run
 * never ran) when the pool stops first. run may touch nothing the loop
 * owns: it works on what the op carries.
 *
 * Each thread runs one op at a time; ops wait in one queue, first come
 * first served, at most queue_max of them.
 *
 * An op that reads the search's indexes sets indexed: its run sees them
 * cover every write answered before it was submitted (commit.h,
 * sl_commit_index_wait, bounded by deadline; its failure is run's).
 */
struct sl_read_op {
    int (*run)(struct sl_read_op *op, struct sl_store *reader);
    void (*done)(struct sl_read_op *op, int rc);
    double deadline;
    bool indexed;
    uint64_t epoch;             /* owned by the pool */
    struct sl_read_op *next;    /* owned by the pool */
    int rc;
};

/* threads connections to the store (as sl_store_open() takes store and
 * dir: the store setting, or SQLite in DIR), opened now (an error is said
 * and returned); done callbacks run on base. commit: the writer's commit
 * thread, which indexed ops wait for (NULL: none, the writer's commits
 * index as they go). */
int sl_readers_new(struct event_base *base, const char *store, const char *dir, int threads,
                   int queue_max, struct sl_commit *commit, struct sl_readers **out);
/* Stop what runs (interrupted: its run returns soon), answer what waits
 * with -ESHUTDOWN; every done has run, on this thread, when it returns. */
void sl_readers_free(struct sl_readers *p);

/* Queue op: 0; -EBUSY when queue_max ops wait already (every thread busy);
 * -ESHUTDOWN once the pool is stopping. */
int sl_readers_submit(struct sl_readers *p, struct sl_read_op *op);

/* For /metrics and /v1/status. */
struct sl_readers_stats {
    int threads, running, waiting;
    uint64_t runs, refused;     /* ops run, and refused as -EBUSY, since start */
};
void sl_readers_stats(struct sl_readers *p, struct sl_readers_stats *out);

#endif
