/* SPDX-License-Identifier: MIT */
/* The change feed: a thread tails other nodes' writes; the loop applies them. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "api/changes.h"
#include "api/cluster.h"
#include "dist/dist.h"
#include "http/auth.h"
#include "lib/item.h"
#include "policy/plugin.h"
#include "policy/policy.h"
#include "lib/event.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/prom.h"
#include "server.h"
#include "store/shared.h"
#include "store/store.h"

/*
 * On a store several nodes share, a thread of its own with a connection of
 * its own waits for the feed's notification (or 500 ms: a missed one only
 * delays), reads the window of changes that became final (store/shared.h),
 * keeps those of other nodes, and hands the window to the loop as the
 * commit thread hands its dones (a queue and event_active). The loop
 * applies the rows in order, then the window's events. Rows of this node
 * were applied when made.
 */

#define WAIT_MS 500

struct row {
    char *kind, *item, *user, *data;
};

struct ev {
    char *item, *user;
    int type;
};

struct window {
    struct window *next;
    struct row *rows;
    size_t nrows, rows_cap;
    struct ev *evs;
    size_t nevs, evs_cap;
    bool nomem;
};

struct sl_changes {
    struct sl_server *srv;
    struct sl_store *conn;          /* the tailer's own */
    pthread_t thread;
    bool running;
    atomic_bool stopping;
    uint64_t last_h;                /* the next window starts here */
    pthread_mutex_t lock;
    struct window *queue, **tail;
    struct event *ready;
    /* metrics, on the loop */
    uint64_t windows, rows, events;
    atomic_uint_fast64_t failures;
};

/* {====================== The tailer's thread =========================== */

static void window_free(struct window *w)
{
    for (size_t i = 0; i < w->nrows; i++) {
        free(w->rows[i].kind);
        free(w->rows[i].item);
        free(w->rows[i].user);
        free(w->rows[i].data);
    }
    for (size_t i = 0; i < w->nevs; i++) {
        free(w->evs[i].item);
        free(w->evs[i].user);
    }
    free(w->rows);
    free(w->evs);
    free(w);
}

static char *dup_or_null(struct window *w, const char *s)
{
    char *c = s ? strdup(s) : NULL;
    if (s && !c)
        w->nomem = true;
    return c;
}

struct walk {
    struct window *w;
    const char *me;
};

static int keep_change(void *arg, const struct sl_store_change *c)
{
    struct walk *k = arg;
    struct window *w = k->w;
    if (c->node && strcmp(c->node, k->me) == 0)
        return 0;
    if (sl_grow(&w->rows, &w->rows_cap, w->nrows + 1, sizeof(*w->rows)) < 0) {
        w->nomem = true;
        return -ENOMEM;
    }
    struct row *r = &w->rows[w->nrows++];
    *r = (struct row){ dup_or_null(w, c->kind), dup_or_null(w, c->item),
                       dup_or_null(w, c->user), dup_or_null(w, c->data) };
    return w->nomem ? -ENOMEM : 0;
}

static int keep_event(void *arg, const char *node, const struct sl_event_row *e)
{
    struct walk *k = arg;
    struct window *w = k->w;
    /* Reports are weighed by the node that took them (api/events.c). */
    if ((node && strcmp(node, k->me) == 0) || e->type == SL_EV_REPORT)
        return 0;
    if (sl_grow(&w->evs, &w->evs_cap, w->nevs + 1, sizeof(*w->evs)) < 0) {
        w->nomem = true;
        return -ENOMEM;
    }
    w->evs[w->nevs++] = (struct ev){ dup_or_null(w, e->item), dup_or_null(w, e->user), e->type };
    return w->nomem ? -ENOMEM : 0;
}

static void pause_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void *tail(void *arg)
{
    struct sl_changes *t = arg;
    struct walk k = { NULL, t->srv->node.name };

    while (!atomic_load(&t->stopping)) {
        uint64_t h;
        if (sl_store_feed_wait(t->conn, WAIT_MS) < 0)
            pause_ms(WAIT_MS);          /* the horizon's query connects again */
        if (atomic_load(&t->stopping))
            break;
        if (sl_store_feed_horizon(t->conn, &h) < 0 || h <= t->last_h) {
            continue;
        }
        if (!(k.w = calloc(1, sizeof(*k.w)))) {
            pause_ms(WAIT_MS);
            continue;
        }
        int rc = sl_store_feed_window(t->conn, t->last_h, h, keep_change, keep_event, &k);
        if (rc < 0) {
            /* Read again from the same place: nothing is skipped. */
            atomic_fetch_add(&t->failures, 1);
            sl_warn("changes: reading the window of other nodes' changes failed (%s); "
                    "trying again", strerror(-rc));
            window_free(k.w);
            pause_ms(WAIT_MS);
            continue;
        }
        t->last_h = h;
        if (k.w->nrows == 0 && k.w->nevs == 0) {
            window_free(k.w);
            continue;
        }
        pthread_mutex_lock(&t->lock);
        *t->tail = k.w;
        t->tail = &k.w->next;
        pthread_mutex_unlock(&t->lock);
        event_active(t->ready, EV_READ, 0);
    }
    return NULL;
}

/* }===================================================================== */

/* {====================== Applied on the loop =========================== */

static void apply_row(struct sl_server *srv, const struct row *r)
{
    json_t *data = r->data ? json_loads(r->data, JSON_DECODE_ANY, NULL) : NULL;
    const char *k = r->kind ? r->kind : "";

    if (strcmp(k, "user") == 0 && r->user) {
        json_t *city = json_object_get(data, "city");
        sl_dist_user(srv, r->user, json_string_value(city),
                     json_is_array(json_object_get(data, "interests"))
                         ? json_object_get(data, "interests") : NULL);
    } else if (strcmp(k, "follow") == 0 && r->user && json_is_array(data)) {
        const char *creator = json_string_value(json_array_get(data, 0));
        if (creator)
            sl_dist_follow(srv, r->user, creator, json_integer_value(json_array_get(data, 1)));
    } else if (strcmp(k, "offers") == 0 && r->item && json_is_object(data)) {
        sl_dist_remote_offers(srv, r->item, data);
    } else if (strcmp(k, "served") == 0 && r->user && json_is_array(data)) {
        sl_dist_remote_served(srv, r->user, data);
    } else if (strcmp(k, "state") == 0 && r->item && json_is_array(data)) {
        const char *from = json_string_value(json_array_get(data, 0));
        const char *to = json_string_value(json_array_get(data, 1));
        /* Schema 14 names the creator, whose standing moves with it. */
        if (from && to)
            sl_dist_standing_changed(srv, json_string_value(json_array_get(data, 2)), from, to);
        sl_dist_remote_state(srv, r->item, from, to);
    } else if (strcmp(k, "item") == 0 && r->item && json_is_array(data)) {
        /* An upload another node stored: its creator's standing. */
        sl_dist_standing_changed(srv, json_string_value(json_array_get(data, 0)), NULL,
                                 json_string_value(json_array_get(data, 1)));
    } else if (strcmp(k, "report") == 0 && r->item) {
        sl_dist_remote_report(srv, r->item);
    } else if (strcmp(k, "policy") == 0 && json_is_string(data)) {
        const char *version = json_string_value(data);
        char *got = NULL, *files = NULL;
        if (strcmp(version, sl_policy_version(srv)) != 0 &&
            sl_store_policy_get(srv->reader, version, &got, &files) == 0)
            sl_cluster_policy_load(srv, got, files);
        free(got);
        free(files);
    } else if (strcmp(k, "token") == 0 && r->user) {
        /* Made (or edited) elsewhere: in the cache here; null: revoked. */
        const char *role_name = json_string_value(json_object_get(data, "role"));
        const char *hash = json_string_value(json_object_get(data, "hash"));
        int role = role_name ? sl_role_parse(role_name) : -EINVAL;
        if (role >= 0 && hash)
            sl_auth_add(srv->auth, r->user, role, hash,
                        json_integer_value(json_object_get(data, "expires_ms")));
        else
            sl_auth_remove(srv->auth, r->user);
    } else if (strcmp(k, "hashbank") == 0 && json_is_array(data)) {
        const char *bank = json_string_value(json_array_get(data, 0));
        const char *hex = json_string_value(json_array_get(data, 1));
        uint64_t h;
        if (bank && hex && sl_hash_parse(hex, &h) == 0) {
            bool on = json_integer_value(json_array_get(data, 2)) != 0;
            sl_plugins_hashbank(sl_policy_plugins(srv), bank, on ? &h : NULL, on,
                                on ? NULL : &h, !on);
        }
    } else {
        sl_warn("changes: a change of kind '%s' is unknown to this node: skipped", k);
    }
    json_decref(data);
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
    struct sl_changes *t = arg;
    struct window *w;
    (void)fd;
    (void)what;

    pthread_mutex_lock(&t->lock);
    w = t->queue;
    t->queue = NULL;
    t->tail = &t->queue;
    pthread_mutex_unlock(&t->lock);
    while (w) {
        struct window *next = w->next;
        for (size_t i = 0; i < w->nrows; i++)
            apply_row(t->srv, &w->rows[i]);
        for (size_t i = 0; i < w->nevs; i++)
            if (w->evs[i].item && w->evs[i].user)
                sl_dist_event(t->srv, w->evs[i].item, w->evs[i].user, w->evs[i].type);
        if (w->nevs)
            sl_dist_events_done(t->srv);
        t->windows++;
        t->rows += w->nrows;
        t->events += w->nevs;
        window_free(w);
        w = next;
    }
}

/* }===================================================================== */

/* {====================== Start and stop =============================== */

int sl_changes_start(struct sl_server *srv, uint64_t horizon)
{
    struct sl_changes *t;
    int rc;

    if (!srv->node.shared)
        return 0;
    if (!(t = calloc(1, sizeof(*t))))
        return -ENOMEM;
    t->srv = srv;
    t->last_h = horizon;
    t->tail = &t->queue;
    pthread_mutex_init(&t->lock, NULL);
    srv->changes = t;
    if ((rc = sl_store_open(srv->cfg.store, srv->cfg.state_dir, false, &t->conn)) < 0)
        return rc;
    if (!(t->ready = event_new(srv->base, -1, 0, on_ready, t)))
        return -ENOMEM;
    if (pthread_create(&t->thread, NULL, tail, t) != 0)
        return -EAGAIN;
    t->running = true;
    return 0;
}

void sl_changes_stop(struct sl_server *srv)
{
    struct sl_changes *t = srv->changes;
    if (!t)
        return;
    atomic_store(&t->stopping, true);
    if (t->running)
        pthread_join(t->thread, NULL);
    t->running = false;
    for (struct window *w = t->queue, *next; w; w = next) {
        next = w->next;
        window_free(w);
    }
    t->queue = NULL;
    if (t->ready)
        event_free(t->ready);
    sl_store_free(t->conn);
    pthread_mutex_destroy(&t->lock);
    free(t);
    srv->changes = NULL;
}

void sl_changes_metrics(struct sl_server *srv, struct evbuffer *out)
{
    struct sl_changes *t = srv->changes;
    if (!t)
        return;
    sl_metric_header(out, "sluice_changes_applied_total", "counter",
                     "Other nodes' changes applied here from the change feed, by what.");
    evbuffer_add_printf(out, "sluice_changes_applied_total{what=\"row\"} %llu\n",
                        (unsigned long long)t->rows);
    evbuffer_add_printf(out, "sluice_changes_applied_total{what=\"event\"} %llu\n",
                        (unsigned long long)t->events);
    sl_metric_header(out, "sluice_changes_read_failures_total", "counter",
                     "Windows of the change feed that could not be read (read again).");
    evbuffer_add_printf(out, "sluice_changes_read_failures_total %llu\n",
                        (unsigned long long)atomic_load(&t->failures));
}

/* }===================================================================== */
