/* SPDX-License-Identifier: MIT */
/* Group commit: one thread writes, many requests share each fsync. */
#ifndef SL_COMMIT_H
#define SL_COMMIT_H

#include <stdint.h>

struct event_base;
struct sl_store;
struct sl_commit;

/*
 * A write a request wants durable. The request embeds it and fills in apply
 * and done. apply runs on the commit thread inside a transaction with the
 * rest of its batch; done runs on the event loop after the transaction has
 * committed (rc is apply's result) or failed (rc is -EIO and nothing of the
 * batch is stored).
 *
 * A failed apply undoes only its own changes: when an op of a batch fails,
 * the batch is rolled back and applied again, each op in a savepoint of its
 * own. So apply may run twice, and what it sets outside the store (its
 * answer in the op) must be set afresh on every run.
 */
struct sl_commit_op {
    int (*apply)(struct sl_commit_op *op, struct sl_store *writer);
    void (*done)(struct sl_commit_op *op, int rc);
    int rc;
    struct sl_commit_op *next;  /* owned by the commit queue */
};

/* Take ownership of writer; done callbacks run on base. */
int sl_commit_new(struct event_base *base, struct sl_store *writer,
                  int batch_max, struct sl_commit **out);
/* Finish every queued op (their done callbacks still run on the loop before
 * this returns), stop the thread, free the writer store. */
void sl_commit_free(struct sl_commit *c);

/* Queue op; 0, or -ESHUTDOWN once sl_commit_free has begun. */
int sl_commit_submit(struct sl_commit *c, struct sl_commit_op *op);
/* The same for an op whose apply only adds rows that no other op reads or
 * changes (a batch of events): it may be written before ops queued
 * earlier with sl_commit_submit (commit.c), in the order of such ops. */
int sl_commit_submit_ahead(struct sl_commit *c, struct sl_commit_op *op);

/*
 * The search's indexes (store.h, sl_store_index_later): the thread brings
 * them up to date a few times a second, not in every batch. A read that
 * uses them takes the epoch (batches committed so far) when it is asked
 * for, on the loop, so that it covers every write answered before; then,
 * on its own thread, waits until a pass covers that epoch (asking for one
 * at once): 0, -ETIMEDOUT past deadline (sl_mono() seconds; 0: 10 s from
 * now), or the failure of the pass it waited for. Always 0 at once when
 * the store keeps its indexes in every write.
 */
uint64_t sl_commit_epoch(struct sl_commit *c);
int sl_commit_index_wait(struct sl_commit *c, uint64_t epoch, double deadline);

/* Ops waiting or being written right now. */
int sl_commit_pending(const struct sl_commit *c);

/* For /metrics: totals since start. */
struct sl_commit_stats {
    uint64_t batches;
    uint64_t ops;
    uint64_t failures;
    uint64_t batch_hist[12];    /* ops per batch: 1,2,4,...,1024,+Inf */
    uint64_t seconds_hist[12];  /* commit time buckets, see commit.c */
    double seconds_sum;
};
extern const double sl_commit_seconds_bounds[11];
void sl_commit_stats(const struct sl_commit *c, struct sl_commit_stats *out);

#endif
