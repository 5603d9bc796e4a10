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

/* Policy sets in the store (api/policy_sets.c). At start: run the newest
 * stored set, or store this node's when there is none. */
int sl_cluster_policy_start(struct sl_server *srv);
/* Run the stored set version (files: its JSON) here: 0, or the error
 * (logged; the old set stays). */
int sl_cluster_policy_load(struct sl_server *srv, const char *version, const char *files);
/* After a reload without a request (SIGHUP): store the set for the others. */
int sl_cluster_policy_publish(struct sl_server *srv, const char *by);
/* After a reload on r: store the set this node now runs, then answer r
 * with answer (owned) once it is stored. */
struct sl_request;
void sl_cluster_policy_stored(struct sl_request *r, const char *previous, json_t *answer);

#endif
