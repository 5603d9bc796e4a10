/* SPDX-License-Identifier: MIT */
/* Per-item event counters: added up on the loop, written behind once a second. */
#ifndef SL_COUNTERS_H
#define SL_COUNTERS_H

#include <stdint.h>

struct sl_server;
struct sl_store;

/* The name of the counters' marks in the store (the last event batch each
 * has added up): this, then "#k" for each of the eight shards; with
 * several nodes each node's, ":NODE" before the "#k". */
#define SL_COUNTERS_MARK "events_counted"

/*
 * Start adds up the event batches stored after the counters' last write
 * (the mark) and starts the once-a-second writer; stop sends the last sums
 * to the commit thread (before it stops); free releases the rest. All on
 * the loop's thread.
 */
int sl_counters_start(struct sl_server *srv);
void sl_counters_stop(struct sl_server *srv);
void sl_counters_free(struct sl_server *srv);

/* After batch number `batch` (sl_store_events_insert) committed: add n
 * events of type to item, for each (item, type) of the batch, then say the
 * batch is counted. A failed add (-ENOMEM) loses nothing stored: the batch
 * is counted again at the next start. */
int sl_counters_add(struct sl_server *srv, const char *item, int type, int64_t n);
void sl_counters_upto(struct sl_server *srv, int64_t batch);

/* The item's counters (indexed by type), as read from the store s (the
 * loop's reader) together with what is counted and not yet written there.
 * 0, or the store's error. */
int sl_counters_read(struct sl_server *srv, struct sl_store *s, const char *item,
                     int64_t *counts);

#endif
