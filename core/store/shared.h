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
/* The node is alive, and runs policy set policy: -ENOENT when its row
 * (name, started_ms) is gone or belongs to a newer start of that name. */
int sl_store_node_beat(struct sl_store *s, const char *name, int64_t started_ms,
                       const char *policy);
/* A clean stop: the row goes, so that a restart under the name is not
 * refused. */
int sl_store_node_leave(struct sl_store *s, const char *name, int64_t started_ms);
/* [{name, started_ms, seen_ago_ms, version, policy}], by name. */
int sl_store_nodes_list(struct sl_store *s, json_t **out);
/* A new fence: one per start of a node, which its leases carry. */
int sl_store_fence_next(struct sl_store *s, int64_t *fence);
/* }===================================================================== */

/* {====================== Item leases ================================== */
/*
 * An item in distribution is run by one node, the holder of its lease
 * (item, node, fence, until: the database's clock). Every write about the
 * item's distribution is fenced: sl_store_lease_check() first, in the same
 * transaction, which locks the lease row until the commit, so that the
 * write lands only while the lease is the writer's own. A refused take or
 * check is -ESTALE (sent ahead: from the next sync, like a refusal of
 * store.h): the lease is another's, or gone, and the node drops the item.
 */
/* Take the item's lease, in the transaction taking it into distribution:
 * made, or taken from a holder whose lease ran out; -ESTALE when another
 * node's lease runs. */
int sl_store_lease_take(struct sl_store *s, const char *item, const char *node, int64_t fence,
                        int64_t lease_ms);
/* The lease is (node, fence), locked for the transaction; else -ESTALE. */
int sl_store_lease_check(struct sl_store *s, const char *item, const char *node, int64_t fence);
/* The item leaves distribution (settled, held, taken down): no lease. */
int sl_store_lease_drop(struct sl_store *s, const char *item);
/* Give up the lease if it is still (node, fence): gone, the item is not
 * distributing (the lease goes); else it runs out now, for any node to
 * take over (one this node holds and cannot run). */
int sl_store_lease_give_up(struct sl_store *s, const char *item, const char *node,
                           int64_t fence, bool gone);
/* Renew every lease of (node, fence) for lease_ms from now: *items, the
 * ids renewed (JSON array); a lease missing from it was lost. lease_ms < 0
 * gives them all up (a clean stop): they ran out, for others to take. */
int sl_store_leases_renew(struct sl_store *s, const char *node, int64_t fence, int64_t lease_ms,
                          json_t **items);
/* Take over at most limit leases that ran out, and the leases of this
 * node's earlier starts (node, another fence), skipping those another
 * node is taking at the same moment: *items, the ids now this node's. */
int sl_store_leases_takeover(struct sl_store *s, const char *node, int64_t fence,
                             int64_t lease_ms, int limit, json_t **items);
/* }===================================================================== */

/* {====================== Policy sets ================================== */
/* Store a policy set (files: JSON [{name, data}], as loaded) as the newest,
 * by (an actor); the others load it from the feed. */
int sl_store_policy_put(struct sl_store *s, const char *version, const char *files,
                        int64_t at_ms, const char *by);
/* The set of that version (NULL: the newest): *got its version, *files its
 * JSON, both malloc'd; -ENOENT when none. */
int sl_store_policy_get(struct sl_store *s, const char *version, char **got, char **files);
/* }===================================================================== */

/* {====================== The change feed ============================== */
/*
 * What a node must learn of the others' writes (users, follows, offers,
 * served marks, states, events) is written, in each writing transaction,
 * into the feed with the writer's node (pg_feed.c says how it is read in
 * commit order). A tailer reads it on a connection of its own.
 */
struct sl_store_change {
    int64_t seq;
    const char *node;           /* the writer's node_name; NULL: no node (migrate) */
    const char *kind;           /* user, follow, offers, served, state, report, token,
                                 * hashbank, policy */
    const char *item, *user;    /* NULL when none */
    const char *data;           /* JSON, kind's */
};
struct sl_event_row;
/* The writer's changes are from node name (on every connection it makes). */
int sl_store_node_set(struct sl_store *s, const char *name);
/* The horizon: every change of a transaction older than it is final. */
int sl_store_feed_horizon(struct sl_store *s, uint64_t *h);
/* The changes of transactions in [from, to) in commit order, then their
 * events; a callback's non-zero answer stops the walk and is returned. */
int sl_store_feed_window(struct sl_store *s, uint64_t from, uint64_t to,
                         int (*change)(void *arg, const struct sl_store_change *c),
                         int (*event)(void *arg, const char *node,
                                      const struct sl_event_row *ev),
                         void *arg);
/* Wait for a notification of new changes, at most timeout_ms: 1 when one
 * came, 0 when none, -EIO when the connection is lost (the next horizon
 * connects again). */
int sl_store_feed_wait(struct sl_store *s, int timeout_ms);
/* }===================================================================== */

#endif
