/* SPDX-License-Identifier: MIT */
/* What several nodes on one store share: who they are, and who runs which item. */
#ifndef SL_STORE_SHARED_H
#define SL_STORE_SHARED_H

/*
 * Only a store several sluiced may share (PostgreSQL) keeps these; on
 * SQLite, which one process owns, each call answers -ENOTSUP and the
 * callers never make it (sl_store_shared()). Like store.h: 0 or a negative
 * errno; writes on the writer inside a transaction, reads on any
 * connection. docs/scale-out.md, "Running several nodes", says how the
 * pieces work together.
 */

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

struct sl_store;

/* Whether several nodes may run on this store (PostgreSQL). */
bool sl_store_shared(const struct sl_store *s);

/* {====================== Nodes ======================================== */
/* Times of liveness (seen, leases) are the database's clock, which every
 * node shares; started_ms is the node's own, and with the name tells one
 * start of a node from the next. */

/* Join as node name: its row (re)made with started_ms and version, unless
 * a node of that name was seen within the last live_ms and is not this
 * node's previous start (started at before_ms; -1 when none is known):
 * then -EBUSY, and *seen_ago_ms says how long ago. */
int sl_store_node_join(struct sl_store *s, const char *name, const char *version,
                       int64_t started_ms, int64_t before_ms, int64_t live_ms,
                       int64_t *seen_ago_ms);
/* The node is alive: -ENOENT when its row (name, started_ms) is gone or
 * belongs to a newer start of that name. */
int sl_store_node_beat(struct sl_store *s, const char *name, int64_t started_ms);
/* A clean stop: the row goes, so that a restart under the name is not
 * refused. */
int sl_store_node_leave(struct sl_store *s, const char *name, int64_t started_ms);
/* [{name, started_ms, seen_ago_ms, version}], by name. */
int sl_store_nodes_list(struct sl_store *s, json_t **out);
/* }===================================================================== */

#endif
