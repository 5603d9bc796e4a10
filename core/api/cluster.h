/* SPDX-License-Identifier: MIT */
/* Several nodes on one store: this node's name, its heartbeat, the others. */
#ifndef SL_API_CLUSTER_H
#define SL_API_CLUSTER_H

#include <stdbool.h>
#include <jansson.h>

struct sl_server;
struct sl_store;
struct evbuffer;

/*
 * Every node has a name (node_name, or host name ":" listen's port). On a
 * store several nodes share (PostgreSQL, store/shared.h) the node joins
 * the `nodes` table at start, refusing to start while another live node
 * has its name, beats every lease_seconds / 3 through the commit thread,
 * and leaves at a clean stop. On SQLite nothing of this touches the store:
 * the node is the only one, and its name is only shown.
 */

/* Before the commit thread starts, on its writer: 0, -EBUSY when a live
 * node has this name (logged), or the store's error. */
int sl_cluster_join(struct sl_server *srv, struct sl_store *writer);
/* Once the commit thread runs: the heartbeat. */
int sl_cluster_start(struct sl_server *srv);
/* Before the commit thread stops: leave, stop the heartbeat. writer: the
 * writer when the commit thread never started (a failed start), else NULL. */
void sl_cluster_stop(struct sl_server *srv, struct sl_store *writer);
void sl_cluster_free(struct sl_server *srv);

/* This node's name. */
const char *sl_cluster_name(const struct sl_server *srv);
/* Other nodes that were live when this one joined (0 on SQLite). */
int sl_cluster_others(const struct sl_server *srv);
/* /v1/status's "nodes": [{name, version, started_ms, seen_age_s, live}];
 * NULL when the store fails. */
json_t *sl_cluster_nodes(struct sl_server *srv);
void sl_cluster_metrics(struct sl_server *srv, struct evbuffer *out);

#endif
