/* SPDX-License-Identifier: MIT */
/* GET /healthz, /metrics and /v1/status: is it alive, and what is it doing. */
#include "config.h"

#include <errno.h>

#include <event2/buffer.h>

#include "api/api.h"
#include "api/bulkjobs.h"
#include "api/cluster.h"
#include "dist/dist.h"
#include "lib/clock.h"
#include "lib/heap.h"
#include "lib/prom.h"
#include "policy/policy.h"
#include "server.h"
#include "store/commit.h"
#include "store/store.h"

void sl_api_healthz(struct sl_request *r)
{
    if (r->srv->draining)
        sl_http_reply_json(r, 503, json_pack("{s:s}", "status", "stopping"));
    else
        sl_http_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

/* Each queue with items waiting: how many, how old, how many claimed, and
 * how many have waited past the queue's time to decision (queue_sla). */
static void queue_metrics(struct sl_server *srv, struct evbuffer *out)
{
    static const struct {
        const char *name, *key, *help;
        int scale;              /* 0: a count; 1: ms ago, in s; 2: ms, in s */
    } m[] = {
        { "sluice_queue_depth", "depth", "Items waiting for people, by queue.", 0 },
        { "sluice_queue_claimed", "claimed", "Of those, claimed under a live lease.", 0 },
        { "sluice_queue_overdue", "overdue",
          "Of those, waiting longer than their queue's time to decision (queue_sla).", 0 },
        { "sluice_queue_oldest_seconds", "oldest_ms", "How long the oldest has waited.", 1 },
        { "sluice_queue_sla_seconds", "sla_ms", "The queue's time to decision (queue_sla).", 2 },
    };
    int64_t now = sl_now_ms();
    json_t *depths = NULL, *q;
    size_t i;

    if (sl_store_queue_depths(srv->reader, now, srv->cfg.queue_sla, &depths) < 0)
        return;
    for (size_t k = 0; k < sizeof m / sizeof m[0]; k++) {
        sl_metric_header(out, m[k].name, "gauge", m[k].help);
        json_array_foreach(depths, i, q) {
            json_t *v = json_object_get(q, m[k].key);
            const char *name = json_string_value(json_object_get(q, "name"));
            if (json_is_null(v))
                continue;
            long long x = json_integer_value(v);
            if (m[k].scale == 0)
                evbuffer_add_printf(out, "%s{queue=\"%s\"} %lld\n", m[k].name, name, x);
            else
                evbuffer_add_printf(out, "%s{queue=\"%s\"} %.3f\n", m[k].name, name,
                                    (double)(m[k].scale == 1 ? now - x : x) / 1000.0);
        }
    }
    json_decref(depths);
}

void sl_api_metrics(struct sl_request *r)
{
    struct sl_server *srv = r->srv;
    struct evbuffer *out = evbuffer_new();
    struct sl_commit_stats cs;
    static const double batch_bounds[11] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024 };
    json_t *states = NULL;

    sl_http_metrics(srv->http, out);
    sl_policy_metrics(srv, out);
    sl_dist_metrics(srv, out);
    sl_commit_stats(srv->commit, &cs);
    sl_metric_header(out, "sluice_store_commits_total", "counter",
                     "Transactions committed by the group-commit thread.");
    evbuffer_add_printf(out, "sluice_store_commits_total %llu\n",
                        (unsigned long long)cs.batches);
    sl_metric_header(out, "sluice_store_commit_failures_total", "counter",
                     "Transactions that failed and were rolled back.");
    evbuffer_add_printf(out, "sluice_store_commit_failures_total %llu\n",
                        (unsigned long long)cs.failures);
    sl_metric_header(out, "sluice_store_commit_batch_size", "histogram",
                     "Requests acknowledged by one commit.");
    sl_metric_hist(out, "sluice_store_commit_batch_size", NULL, batch_bounds, 11,
                   cs.batch_hist, (double)cs.ops);
    sl_metric_header(out, "sluice_store_commit_seconds", "histogram",
                     "Time to apply and durably commit one batch.");
    sl_metric_hist(out, "sluice_store_commit_seconds", NULL, sl_commit_seconds_bounds, 11,
                   cs.seconds_hist, cs.seconds_sum);
    sl_metric_header(out, "sluice_uploads_total", "counter", "Uploads stored since start.");
    evbuffer_add_printf(out, "sluice_uploads_total %llu\n",
                        (unsigned long long)srv->uploads_total);
    sl_metric_header(out, "sluice_events_total", "counter", "Events stored since start.");
    evbuffer_add_printf(out, "sluice_events_total %llu\n",
                        (unsigned long long)srv->events_total);
    sl_heap_metrics(out);
    if (sl_store_item_states(srv->reader, &states) == 0) {
        const char *state;
        json_t *n;
        sl_metric_header(out, "sluice_items", "gauge", "Items in the store, by state.");
        json_object_foreach(states, state, n)
            evbuffer_add_printf(out, "sluice_items{state=\"%s\"} %lld\n", state,
                                (long long)json_integer_value(n));
        json_decref(states);
    }
    queue_metrics(srv, out);
    sl_api_search_metrics(srv, out);
    sl_bulkjobs_metrics(srv, out);
    sl_cluster_metrics(srv, out);
    sl_http_reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", out);
    evbuffer_free(out);
}

void sl_api_status(struct sl_request *r)
{
    struct sl_server *srv = r->srv;
    json_t *states = NULL, *nodes = NULL;

    if (sl_store_item_states(srv->reader, &states) < 0 || !(nodes = sl_cluster_nodes(srv))) {
        json_decref(states);
        sl_http_reply_store_error(r, -EIO);
        return;
    }
    sl_http_reply_json(r, 200, json_pack("{s:s, s:s, s:o, s:I, s:o, s:I, s:I, s:i, s:i}",
        "version", PACKAGE_VERSION,
        "node", sl_cluster_name(srv),
        "nodes", nodes,
        "uptime_s", (json_int_t)((sl_now_ms() - srv->started_ms) / 1000),
        "items", states,
        "uploads_total", (json_int_t)srv->uploads_total,
        "events_total", (json_int_t)srv->events_total,
        "inflight", sl_http_inflight(srv->http),
        "commit_pending", sl_commit_pending(srv->commit)));
}
