/* SPDX-License-Identifier: MIT */
/* POST /v1/events: feedback from viewers, one object or NDJSON, all or nothing. */
#ifndef SL_EVENTS_H
#define SL_EVENTS_H

#include <stdint.h>

#include "lib/event_type.h"

struct sl_server;

/* Per-item counters: added up on the loop, written once a second. Start
 * adds up the batches stored after the last write; stop sends the last
 * sums to the commit thread (before it stops); free releases the rest. */
int sl_events_start(struct sl_server *srv);
void sl_events_stop(struct sl_server *srv);
void sl_events_free(struct sl_server *srv);
/* Add to counts (indexed by type) what is counted and not yet in the store,
 * whose counters include the batches up to `counted`. */
void sl_events_counts(struct sl_server *srv, const char *item, int64_t counted,
                      int64_t *counts);

#endif
