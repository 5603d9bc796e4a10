/* SPDX-License-Identifier: MIT */
/* Several nodes on one store: this node's name, its heartbeat, the others. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "api/changes.h"
#include "api/cluster.h"
#include "dist/dist.h"
#include "policy/policy.h"
#include "lib/clock.h"
#include "lib/id.h"
#include "lib/log.h"
#include "lib/prom.h"
#include "lib/text.h"
#include "server.h"
#include "store/commit.h"
#include "store/shared.h"
#include "store/store.h"

/* What the timer sends through the commit thread: the heartbeat with the
 * renewal of this node's leases, the takeover of leases that ran out, and
 * at a clean stop the leaving. */
enum beat_kind { BEAT, TAKEOVER, LEAVE };

struct beat_op {
    struct sl_commit_op op;
    struct sl_cluster *c;
    enum beat_kind kind;
    bool busy;                  /* queued and not done yet */
    uint32_t gen;               /* BEAT: the renewal's number (dist/leases.c) */
    char policy[32];            /* BEAT: the set this node runs */
    json_t *items;              /* BEAT: leases renewed; TAKEOVER: taken over */
};

/* Leases taken over in one go: a node that died with many items hands
 * them to the others a slice a second each. */
#define TAKEOVER_MAX 200

struct sl_cluster {
    struct sl_server *srv;
    char name[SL_ID_MAX + 1];
    int64_t started_ms;         /* with the name, this start of the node */
    bool shared;                /* the store is PostgreSQL: other nodes may run */
    struct event *timer;
    struct beat_op beat, takeover, leave;
    int64_t last_beat_ms;       /* monotonic, ms */
    bool lost;                  /* the row is gone: another start took the name */
    int id_fd;                  /* STATE/node, locked while this node runs; -1 none */
    int others;                 /* other live nodes when this one joined */
    uint64_t horizon;           /* of the change feed, before this node loaded anything */
};

/* {====================== The name ===================================== */

/* node_name, else the host name and listen's port: "web-3:8420". Bytes an
 * id may not hold become '-'. */
static void make_name(const struct sl_config *cfg, char *out, size_t len)
{
    char host[256] = "localhost";
    const char *port = strrchr(cfg->listen, ':');

    if (cfg->node_name) {
        sl_copy(out, len, cfg->node_name);
        return;
    }
    if (gethostname(host, sizeof(host) - 1) < 0 || !*host)
        strcpy(host, "localhost");
    host[sizeof(host) - 1] = '\0';
    snprintf(out, len, "%.100s:%s", host, port ? port + 1 : "0");
    for (char *p = out; *p; p++)
        if (!sl_id_char((unsigned char)*p))
            *p = '-';
    if (out[0] == '.')
        out[0] = '-';
}

const char *sl_cluster_name(const struct sl_server *srv)
{
    return srv->cluster ? srv->cluster->name : "";
}

int sl_cluster_others(const struct sl_server *srv)
{
    return srv->cluster ? srv->cluster->others : 0;
}

/* }===================================================================== */

/* {====================== Joining and leaving =========================== */

static int beat_apply(struct sl_commit_op *op, struct sl_store *w);
static void beat_done(struct sl_commit_op *op, int rc);

/* A node counts as alive while it beat within lease_seconds: its items'
 * leases last as long. */
static int64_t live_ms(const struct sl_server *srv)
{
    return (int64_t)srv->cfg.lease_seconds * 1000;
}

/*
 * STATE/node holds "NAME STARTED_MS" of the last start on this state
 * directory, and is locked (flock) while a node runs on it. Holding the
 * lock, a start knows the row of that name and start is its own dead
 * predecessor's (a kill -9, a crash): it takes the name over at once
 * instead of waiting lease_seconds. Without the lock (another process on
 * this directory) it knows nothing: -1.
 */
static int64_t predecessor(struct sl_cluster *c, const char *state_dir)
{
    char path[4096], name[SL_ID_MAX + 1], buf[SL_ID_MAX + 32];
    long long started;
    ssize_t n;

    snprintf(path, sizeof(path), "%s/node", state_dir);
    c->id_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (c->id_fd < 0 || flock(c->id_fd, LOCK_EX | LOCK_NB) < 0) {
        if (c->id_fd >= 0)
            close(c->id_fd);
        c->id_fd = -1;
        return -1;
    }
    if ((n = pread(c->id_fd, buf, sizeof(buf) - 1, 0)) <= 0)
        return -1;
    buf[n] = '\0';
    if (sscanf(buf, "%128s %lld", name, &started) != 2 || strcmp(name, c->name) != 0)
        return -1;
    return started;
}

static void remember(struct sl_cluster *c)
{
    char buf[SL_ID_MAX + 32];
    int n = snprintf(buf, sizeof(buf), "%s %lld\n", c->name, (long long)c->started_ms);
    if (c->id_fd < 0)
        return;
    if (ftruncate(c->id_fd, 0) < 0 || pwrite(c->id_fd, buf, (size_t)n, 0) != n)
        sl_warn("node %s: cannot note this start in the state directory's node file: %s",
                c->name, strerror(errno));
}

int sl_cluster_join(struct sl_server *srv, struct sl_store *writer)
{
    struct sl_cluster *c = calloc(1, sizeof(*c));
    int64_t ago = 0;
    int rc;

    if (!c)
        return -ENOMEM;
    c->srv = srv;
    c->id_fd = -1;
    c->beat = (struct beat_op){ .op = { .apply = beat_apply, .done = beat_done }, .c = c,
                                .kind = BEAT };
    c->takeover = (struct beat_op){ .op = { .apply = beat_apply, .done = beat_done }, .c = c,
                                    .kind = TAKEOVER };
    c->leave = (struct beat_op){ .op = { .apply = beat_apply, .done = beat_done }, .c = c,
                                 .kind = LEAVE };
    c->started_ms = sl_now_ms();
    c->shared = sl_store_shared(writer);
    make_name(&srv->cfg, c->name, sizeof(c->name));
    srv->cluster = c;
    sl_copy(srv->node.name, sizeof(srv->node.name), c->name);
    srv->node.lease_ms = live_ms(srv);
    if (!c->shared)
        return 0;
    int64_t before = predecessor(c, srv->cfg.state_dir);
    if ((rc = sl_store_begin(writer)) < 0)
        return rc;
    rc = sl_store_node_join(writer, c->name, PACKAGE_VERSION, c->started_ms, before,
                            live_ms(srv), &ago);
    if (rc == 0)
        rc = sl_store_fence_next(writer, &srv->node.fence);
    if (rc == 0)
        rc = sl_store_node_set(writer, c->name);
    if (rc == 0)
        rc = sl_store_commit(writer);
    else
        sl_store_rollback(writer);
    if (rc == -EBUSY)
        sl_err("cannot start: another sluiced named %s runs on this store (seen %.1f s ago); "
               "give each node its own node_name, or, if that node died, start again once "
               "it has not been seen for lease_seconds (%d s)",
               c->name, (double)ago / 1000.0, srv->cfg.lease_seconds);
    else if (rc == 0) {
        json_t *nodes = NULL, *n;
        size_t i;
        srv->node.shared = true;
        remember(c);
        if (sl_store_feed_horizon(writer, &c->horizon) < 0)
            rc = -EIO;
        if (sl_store_nodes_list(writer, &nodes) == 0)
            json_array_foreach(nodes, i, n)
                c->others += strcmp(json_string_value(json_object_get(n, "name")), c->name) &&
                             json_integer_value(json_object_get(n, "seen_ago_ms")) < live_ms(srv);
        json_decref(nodes);
        if (rc < 0)
            return rc;
        sl_info("node %s joined the store's nodes", c->name);
    }
    return rc;
}

static int beat_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct beat_op *b = (struct beat_op *)op;
    struct sl_cluster *c = b->c;
    const struct sl_node *n = &c->srv->node;
    int rc;

    /* Applied again after a refusal in its batch: answers afresh. */
    json_decref(b->items);
    b->items = NULL;
    switch (b->kind) {
    case LEAVE:
        /* A clean stop hands its items over now, not lease_seconds on. */
        if ((rc = sl_store_node_leave(w, c->name, c->started_ms)) < 0)
            return rc;
        return sl_store_leases_renew(w, n->name, n->fence, -1, &b->items);
    case TAKEOVER:
        return sl_store_leases_takeover(w, n->name, n->fence, n->lease_ms, TAKEOVER_MAX,
                                        &b->items);
    case BEAT:
    default:
        if ((rc = sl_store_node_beat(w, c->name, c->started_ms, b->policy)) < 0)
            return rc;
        return sl_store_leases_renew(w, n->name, n->fence, n->lease_ms, &b->items);
    }
}

static void beat_done(struct sl_commit_op *op, int rc)
{
    struct beat_op *b = (struct beat_op *)op;
    struct sl_cluster *c = b->c;
    json_t *items = b->items;

    b->busy = false;
    b->items = NULL;
    if (b->kind == TAKEOVER) {
        if (rc == 0)
            sl_dist_leases_taken(c->srv, items);
        json_decref(items);
        return;
    }
    if (rc == 0 && b->kind == BEAT)
        sl_dist_leases_renewed(c->srv, b->gen, items);
    json_decref(items);
    if (b->kind == LEAVE)
        return;
    if (rc == -ENOENT && !c->lost) {
        /* Not seen for lease_seconds (a stalled store, a paused process),
         * and since then another start took the name. */
        sl_err("node %s: another start of this node took its name; this one goes on "
               "unlisted: give each node its own node_name", c->name);
        c->lost = true;
    } else if (rc == 0 && c->lost) {
        c->lost = false;
    } else if (rc < 0 && rc != -ENOENT) {
        sl_warn("node %s: the heartbeat was not written (%s)", c->name, strerror(-rc));
    }
}

static void submit(struct sl_cluster *c, struct beat_op *b)
{
    if (b->busy)
        return;             /* the last one is still on its way */
    b->busy = true;
    if (sl_commit_submit(c->srv->commit, &b->op) < 0)
        b->busy = false;
}

/* Every second: take over what ran out; every lease_seconds / 3: beat and
 * renew. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct sl_cluster *c = arg;
    int64_t now = (int64_t)(sl_mono() * 1000);
    (void)fd;
    (void)what;
    if (now - c->last_beat_ms >= live_ms(c->srv) / 3 && !c->beat.busy) {
        c->last_beat_ms = now;
        c->beat.gen = sl_dist_leases_renewing(c->srv);
        sl_copy(c->beat.policy, sizeof(c->beat.policy), sl_policy_version(c->srv));
        submit(c, &c->beat);
    }
    if (!c->srv->draining)
        submit(c, &c->takeover);
}

int sl_cluster_start(struct sl_server *srv)
{
    struct sl_cluster *c = srv->cluster;
    struct timeval tv = { 1, 0 };

    if (!c || !c->shared)
        return 0;
    /* The reader adds up this node's own event batches (store/counters.c). */
    if (sl_store_node_set(srv->reader, c->name) < 0)
        return -EIO;
    if (sl_cluster_policy_start(srv) < 0) {
        sl_err("cannot start: the stored policy set cannot be run here");
        return -EIO;
    }
    if (sl_changes_start(srv, c->horizon) < 0) {
        sl_err("cannot start the change feed's tailer");
        return -EIO;
    }
    c->last_beat_ms = (int64_t)(sl_mono() * 1000);
    if (!(c->timer = event_new(srv->base, -1, EV_PERSIST, on_tick, c)) ||
        event_add(c->timer, &tv) < 0)
        return -ENOMEM;
    /* This node's earlier start's items, and any that ran out, at once. */
    submit(c, &c->takeover);
    return 0;
}

void sl_cluster_stop(struct sl_server *srv, struct sl_store *writer)
{
    struct sl_cluster *c = srv->cluster;
    if (!c || !c->shared)
        return;
    if (c->timer)
        event_del(c->timer);
    sl_changes_stop(srv);
    if (srv->commit) {
        submit(c, &c->leave);
    } else if (writer) {
        /* A start that failed before its commit thread ran. */
        if (sl_store_begin(writer) < 0 || beat_apply(&c->leave.op, writer) < 0 ||
            sl_store_commit(writer) < 0)
            sl_store_rollback(writer);
        json_decref(c->leave.items);
        c->leave.items = NULL;
    }
}

void sl_cluster_free(struct sl_server *srv)
{
    struct sl_cluster *c = srv->cluster;
    if (!c)
        return;
    if (c->timer)
        event_free(c->timer);
    if (c->id_fd >= 0)
        close(c->id_fd);
    free(c);
    srv->cluster = NULL;
}

/* }===================================================================== */

/* {====================== What the others are ========================== */

json_t *sl_cluster_nodes(struct sl_server *srv)
{
    struct sl_cluster *c = srv->cluster;
    json_t *rows = NULL, *row, *out;
    size_t i;

    if (!c)
        return json_array();
    if (!c->shared)
        return json_pack("[{s:s, s:s, s:I, s:f, s:b, s:s}]", "name", c->name,
                         "version", PACKAGE_VERSION, "started_ms", (json_int_t)c->started_ms,
                         "seen_age_s", 0.0, "live", 1, "policy", sl_policy_version(srv));
    if (sl_store_nodes_list(srv->reader, &rows) < 0)
        return NULL;
    if (!(out = json_array())) {
        json_decref(rows);
        return NULL;
    }
    json_array_foreach(rows, i, row) {
        int64_t ago = json_integer_value(json_object_get(row, "seen_ago_ms"));
        json_t *n = json_pack("{s:O, s:O, s:O, s:f, s:b, s:O}", "name",
                              json_object_get(row, "name"),
                              "version", json_object_get(row, "version"),
                              "started_ms", json_object_get(row, "started_ms"),
                              "seen_age_s", (double)(ago < 0 ? 0 : ago) / 1000.0,
                              "live", ago < live_ms(srv), "policy", json_object_get(row, "policy"));
        if (!n || json_array_append_new(out, n) < 0) {
            json_decref(out);
            out = NULL;
            break;
        }
    }
    json_decref(rows);
    return out;
}

void sl_cluster_metrics(struct sl_server *srv, struct evbuffer *out)
{
    json_t *nodes = sl_cluster_nodes(srv), *n;
    size_t i, live = 0;

    if (!nodes)
        return;
    sl_metric_header(out, "sluice_node_seen_age_seconds", "gauge",
                     "Since each node on this store last beat (this node's name: "
                     "sluice_node_info).");
    json_array_foreach(nodes, i, n) {
        evbuffer_add_printf(out, "sluice_node_seen_age_seconds{node=\"%s\"} %.3f\n",
                            json_string_value(json_object_get(n, "name")),
                            json_real_value(json_object_get(n, "seen_age_s")));
        live += json_is_true(json_object_get(n, "live"));
    }
    sl_metric_header(out, "sluice_nodes_live", "gauge",
                     "Nodes on this store seen within lease_seconds.");
    evbuffer_add_printf(out, "sluice_nodes_live %zu\n", live);
    sl_dist_lease_metrics(srv, out);
    sl_changes_metrics(srv, out);
    sl_metric_header(out, "sluice_node_info", "gauge", "This node's name (always 1).");
    evbuffer_add_printf(out, "sluice_node_info{node=\"%s\"} 1\n", srv->cluster->name);
    json_decref(nodes);
}

/* }===================================================================== */
