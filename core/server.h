/* SPDX-License-Identifier: MIT */
/* The daemon's one context, shared by the loop's modules. */
#ifndef SL_SERVER_H
#define SL_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/conf.h"
#include "lib/id.h"

struct event_base;
struct evhttp;
struct sl_store;
struct sl_commit;
struct sl_auth;
struct sl_http;
struct sl_policy;
struct sl_dist;
struct sl_counters;
struct sl_jobs;
struct sl_readers;
struct sl_bulkjobs;
struct sl_cluster;
struct sl_changes;
struct json_t;

/* This node among the nodes of one store (api/cluster.c sets it at start;
 * read-only after, on any thread). */
struct sl_node {
    char name[SL_ID_MAX + 1];
    bool shared;                /* PostgreSQL: distribution's writes are fenced by leases */
    int64_t fence;              /* this start's fence, which its leases carry */
    int64_t lease_ms;           /* lease_seconds */
};

struct sl_server {
    struct event_base *base;
    struct sl_config cfg;
    struct sl_store *reader;    /* the loop's read connection */
    struct sl_commit *commit;   /* owns the writer connection */
    struct sl_auth *auth;
    struct sl_http *http;
    struct sl_policy *policy;   /* loaded policies and plugins (policy.c) */
    struct sl_dist *dist;       /* the audience and running waves (dist.c) */
    struct sl_counters *counters; /* per-item counters not yet written (store/counters.c) */
    struct sl_jobs *jobs;       /* policy checks and replays on their threads (api/jobs.c) */
    struct sl_readers *readers; /* reader threads: searches, jobs' reads (store/readers.c) */
    struct sl_bulkjobs *bulkjobs; /* bulk jobs running (api/bulkjobs.c) */
    struct sl_cluster *cluster; /* this node among those on one store (api/cluster.c) */
    struct sl_node node;
    struct sl_changes *changes; /* other nodes' writes, tailed (api/changes.c) */
    struct json_t *suspended;   /* suspensions, where this node writes alone (api/creators.c) */
    int64_t started_ms;
    bool draining;              /* SIGTERM: finish what is in flight, take nothing new */
    uint64_t uploads_total;
    uint64_t events_total;
};

#endif
