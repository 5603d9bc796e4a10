/* SPDX-License-Identifier: MIT */
/* Jobs that act on many items in slices (bulk actions, retroactive hash matching): durable, resumed at start. */
#ifndef SL_API_BULKJOBS_H
#define SL_API_BULKJOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "api/actions.h"
#include "lib/id.h"

struct sl_server;
struct sl_store;

/*
 * A job walks the items stored before it began, newest first, a slice at a
 * time: its kind reads the next slice on a reader thread (store/readers.h:
 * never on the loop), writes it on the commit thread in one transaction
 * with the job's progress (never one transaction holding the writer for
 * the whole job: a slice is a few hundred items), then tells the engines on
 * the loop. One slice of a job is in flight at a time. A job that is
 * running when the daemon stops goes on from its stored cursor at the next
 * start; a cancel takes effect at the next slice.
 *
 * The mechanism knows no kind: a kind is the table below, and the store's
 * jobs table (store.h, "Jobs") keeps any kind's spec as JSON. Other long
 * work on stored items can be a kind of its own.
 */
struct sl_bulkjob;

/* What a slice wrote, for the job's counts (set afresh on every run of
 * write: a batch may be applied twice). */
struct sl_bulkjob_counts {
    int64_t matched, acted, skipped;
};

struct sl_bulkjob_kind {
    const char *name;                       /* the jobs table's kind */
    /* On the loop: the job's spec (borrowed) into the kind's state, owned
     * by the job; -EINVAL with err says why the job cannot run. */
    int (*load)(struct sl_bulkjob *job, json_t *spec, void **state, char *err, size_t len);
    void (*unload)(void *state);
    /* On a reader thread: the next slice, of items with seq < cursor and
     * seq <= seq_max, before deadline (sl_mono() seconds): *slice (the
     * kind's; NULL when nothing was found), *next (the cursor after it; 0:
     * no item is left), *examined (items looked at). state is only read. */
    int (*read)(const void *state, struct sl_store *reader, int64_t cursor, int64_t seq_max,
                double deadline, void **slice, int64_t *next, int64_t *examined);
    /* On the commit thread, in the slice's transaction. */
    int (*write)(const struct sl_bulkjob *job, const void *state, struct sl_store *w,
                 void *slice, struct sl_bulkjob_counts *c);
    /* On the loop, once the slice is stored. */
    void (*after)(const struct sl_bulkjob *job, const void *state, struct sl_server *srv,
                  void *slice);
    void (*free_slice)(void *slice);
};

/* What a kind may read of its job. */
const char *sl_bulkjob_id(const struct sl_bulkjob *job);
const char *sl_bulkjob_actor(const struct sl_bulkjob *job);     /* who started it */

/* At start, after distribution: every running job goes on. */
int sl_bulkjobs_start(struct sl_server *srv);
/* Slices in flight are let go (their jobs go on at the next start). */
void sl_bulkjobs_stop(struct sl_server *srv);
/* Once the commit thread has stopped. */
void sl_bulkjobs_free(struct sl_server *srv);

/* A job the store has as running (just made, or confirmed) starts here:
 * its row is read on the loop's reader. */
int sl_bulkjob_run(struct sl_server *srv, const char *id);
/* A job cancelled in the store: its slice in flight is its last. */
void sl_bulkjob_cancelled(struct sl_server *srv, const char *id);

/* "j" and 12 hex digits; id gets at least 14 bytes. */
int sl_bulkjob_new_id(char *id, size_t len);

/* /metrics: jobs running now, items acted on by kind. */
struct evbuffer;
void sl_bulkjobs_metrics(struct sl_server *srv, struct evbuffer *out);

/* {====================== bulk.c ====================================== */

/* The kind of POST /v1/bulk: an action on every item a search finds. */
extern const struct sl_bulkjob_kind sl_bulk_kind;

/* A bulk action asked for by r (POST /v1/bulk, a creator's takedown or
 * restore): counted on a reader thread, then answered as a dry run (200
 * {count, exact, sample, needs_confirmation}) or made a job (202), which
 * waits for a second moderator's confirmation when it acts on more than
 * bulk_confirm_above items (or on a count cut short by the time bound).
 * f, reason and queue (NULL: the action's) are copied; r is answered. */
struct sl_request;
struct sl_filter;
void sl_bulk_start(struct sl_request *r, enum sl_action action, const struct sl_filter *f,
                   const char *reason, const char *queue, bool dry_run);

/* }===================================================================== */

/* retro.c: matching a hash bank's new hashes against stored items. */
extern const struct sl_bulkjob_kind sl_retro_kind;

#endif
