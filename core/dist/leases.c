/* SPDX-License-Identifier: MIT */
/* Several nodes on one store: the leases that say which node runs an item. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "dist/internal.h"
#include "lib/log.h"
#include "lib/prom.h"
#include "server.h"
#include "store/shared.h"
#include "store/store.h"

/*
 * On a store several nodes share (srv->node.shared), an item in
 * distribution is run by the node holding its lease (store/shared.h): the
 * change taking it into distribution takes the lease in its transaction;
 * every later change about it checks the lease first, in its transaction,
 * and the change that ends its distribution (settled, held for review)
 * drops it. A refused check (-ESTALE) means another node took the item
 * over (this one stalled past lease_seconds) or it was taken down: the item
 * leaves this node's memory, its inbox entries stay. The cluster's timers
 * (api/cluster.c) renew this node's leases and take over those that ran
 * out; both answer here. On SQLite no change has a node: nothing here runs.
 */

/* {====================== Changes fenced ================================= */

static bool is(const char *s, const char *what)
{
    return s && strcmp(s, what) == 0;
}

int dist_lease_before(const struct dist_op *o, struct sl_store *w)
{
    const struct sl_node *n = o->node;

    if (!n)
        return 0;
    if (o->release)
        return sl_store_lease_give_up(w, o->item, n->name, n->fence, o->gone);
    if (o->served)
        return 0;                   /* a fact of a feed, any node's */
    if (is(o->state, "distributing"))
        return sl_store_lease_take(w, o->item, n->name, n->fence, n->lease_ms);
    /* An approved item settled or held at once, a settled one pulled back:
     * out of distribution, so no lease; the state change is conditional
     * on the state it comes from. */
    if (o->state && !is(o->from_state, "distributing"))
        return 0;
    return sl_store_lease_check(w, o->item, n->name, n->fence);
}

int dist_lease_after(const struct dist_op *o, struct sl_store *w)
{
    if (!o->node || o->release || o->served || !o->state || is(o->state, "distributing") ||
        !is(o->from_state, "distributing"))
        return 0;
    return sl_store_lease_drop(w, o->item);
}

void dist_lease_stamp(struct sl_dist *d, const struct dist_op *o)
{
    struct ditem *it;
    if (o->node && is(o->state, "distributing") && (it = dist_item_get(d, o->item)))
        it->lease_gen = d->lease_gen;
}

void dist_lease_lost(struct sl_dist *d, const char *item)
{
    struct ditem *it = dist_item_get(d, item);
    if (!it)
        return;
    sl_warn("distribution: %s: its lease is no longer this node's (taken over, or the item "
            "left distribution): another node runs it now", item);
    d->leases_lost++;
    dist_item_drop(d, it);
}

/* }===================================================================== */

/* {====================== Renewed, taken over =========================== */

/* A lease this node holds and does not run: gone, the item left
 * distribution; else it runs out now, for any node to take over. */
static void give_up(struct sl_dist *d, const char *id, bool gone)
{
    struct dist_op *o = dist_op_new(d, id);
    if (o) {
        o->release = true;
        o->gone = gone;
    }
    dist_op_submit(d, o);
}

uint32_t sl_dist_leases_renewing(struct sl_server *srv)
{
    return srv->dist ? ++D(srv)->lease_gen : 0;
}

void sl_dist_leases_renewed(struct sl_server *srv, uint32_t gen, json_t *items)
{
    struct sl_dist *d = D(srv);
    json_t *held = json_object(), *v;
    size_t i;

    if (!d || !held) {
        json_decref(held);
        return;
    }
    json_array_foreach(items, i, v)
        if (json_object_set(held, json_string_value(v), json_true()) < 0) {
            json_decref(held);
            return;                 /* out of memory: judge at the next renewal */
        }
    for (size_t h = 0; h < d->cap; h++) {
        struct ditem *it = d->items[h];
        /* Taken before this renewal was sent, and not renewed: lost. */
        if (it && it->state == D_RUNNING && (int32_t)(it->lease_gen - gen) < 0 &&
            !json_object_get(held, it->id))
            dist_lease_lost(d, it->id);
    }
    /* Renewed and not run here (a takeover that could not load the item):
     * another node may. One still waiting for its slice is kept. */
    json_array_foreach(items, i, v) {
        struct ditem *it = dist_item_get(d, json_string_value(v));
        if ((!it || it->state != D_RUNNING) &&
            !json_object_get(d->taking, json_string_value(v)))
            give_up(d, json_string_value(v), false);
    }
    json_decref(held);
}

/* The item, whose lease this node has just taken over, as the store holds
 * it: resumed as at start-up; one that is not distributing any more only
 * gives its lease back. */
static void take_over(struct sl_dist *d, const char *id)
{
    json_t *stored = NULL;
    struct ditem *it = dist_item_get(d, id);
    size_t flags = JSON_COMPACT | JSON_SORT_KEYS;

    if (it && it->state == D_RUNNING) {
        it->lease_gen = d->lease_gen;   /* this start's own lease, taken back */
        return;
    }
    if (it)
        dist_item_drop(d, it);          /* held here once, and approved elsewhere since */
    if (sl_store_item_get(d->srv->reader, id, &stored) < 0) {
        sl_err("distribution: %s: taken over, and the store cannot say what it is; its "
               "lease runs out and another node (or this one) tries again", id);
        return;
    }
    if (!is(json_string_value(json_object_get(stored, "state")), "distributing")) {
        give_up(d, id, true);
        json_decref(stored);
        return;
    }
    json_t *plan = json_object_get(stored, "plan");
    char *upload = json_dumps(json_object_get(stored, "upload"), flags);
    char *tags = json_dumps(json_object_get(stored, "tags"), flags);
    char *plan_text = plan && !json_is_null(plan) ? json_dumps(plan, flags) : NULL;
    if (!upload || !tags || (plan && !json_is_null(plan) && !plan_text) ||
        dist_resume(d, id, upload, tags, plan_text) < 0)
        sl_err("distribution: out of memory taking %s over; its lease runs out and it is "
               "tried again", id);
    else if ((it = dist_item_get(d, id))) {
        it->lease_gen = d->lease_gen;
        d->leases_taken_over++;
        sl_info("distribution: %s taken over (its lease had run out)", id);
    }
    free(upload);
    free(tags);
    free(plan_text);
    json_decref(stored);
}

/*
 * Taking an item over reads it from the store on the loop (its row, its
 * waves, its placements: a round trip to PostgreSQL each), and a dead
 * node's items come TAKEOVER_MAX (api/cluster.c) a second: about 0.2 ms an
 * item on a PostgreSQL of the same machine, so resumed all at once they
 * could hold the loop 40 ms. So they wait in a list and are resumed
 * TAKEOVER_SLICE at a time (0.6 to 1.1 ms a slice there), the loop's
 * sockets looked at between slices (take_more, a timer of no delay, as the
 * waves' lap does). A renewal keeps the leases of those waiting.
 */
#define TAKEOVER_SLICE 4

static void take_slice(struct sl_dist *d)
{
    static const struct timeval at_once = { 0, 0 };
    void *first;

    /* jansson keeps an object's keys in the order they were set. */
    for (int k = 0; k < TAKEOVER_SLICE && (first = json_object_iter(d->taking)); k++) {
        char *id = strdup(json_object_iter_key(first));
        json_object_del(d->taking, json_object_iter_key(first));
        if (id)
            take_over(d, id);       /* else its lease runs out; tried again then */
        free(id);
    }
    if (json_object_size(d->taking) == 0)
        return;
    d->takeover_yields++;
    if (event_add(d->take_more, &at_once) < 0)
        sl_err("distribution: cannot schedule the rest of the items taken over; the next "
               "takeover goes on with them");
}

static void on_take_more(evutil_socket_t fd, short what, void *arg)
{
    struct sl_dist *d = arg;

    (void)fd;
    (void)what;
    if (!d->srv->draining)
        take_slice(d);
}

void sl_dist_leases_taken(struct sl_server *srv, json_t *items)
{
    struct sl_dist *d = D(srv);
    size_t i;
    json_t *v;

    if (!d)
        return;
    if (!d->taking)
        d->taking = json_object();
    if (!d->take_more)
        d->take_more = evtimer_new(srv->base, on_take_more, d);
    json_array_foreach(items, i, v) {
        const char *id = json_string_value(v);
        /* Set again, an id keeps its place. Out of memory: at once. */
        if (id && (!d->taking || !d->take_more ||
                   json_object_set(d->taking, id, json_true()) < 0))
            take_over(d, id);
    }
    if (d->take_more && !evtimer_pending(d->take_more, NULL) && !srv->draining)
        take_slice(d);
}

void dist_leases_free(struct sl_dist *d)
{
    if (d->take_more)
        event_free(d->take_more);
    json_decref(d->taking);
}

void sl_dist_lease_metrics(struct sl_server *srv, struct evbuffer *out)
{
    struct sl_dist *d = D(srv);
    size_t held = 0;

    if (!d || !srv->node.shared)
        return;
    for (size_t h = 0; h < d->cap; h++)
        held += d->items[h] && d->items[h]->state == D_RUNNING;
    sl_metric_header(out, "sluice_dist_leases", "gauge",
                     "Items in distribution this node runs (holds the lease of).");
    evbuffer_add_printf(out, "sluice_dist_leases %zu\n", held);
    sl_metric_header(out, "sluice_dist_leases_lost_total", "counter",
                     "Items dropped because their lease was found another node's.");
    evbuffer_add_printf(out, "sluice_dist_leases_lost_total %llu\n",
                        (unsigned long long)d->leases_lost);
    sl_metric_header(out, "sluice_dist_leases_taken_over_total", "counter",
                     "Items taken over from a node whose lease ran out (or this node's "
                     "earlier start).");
    evbuffer_add_printf(out, "sluice_dist_leases_taken_over_total %llu\n",
                        (unsigned long long)d->leases_taken_over);
    sl_metric_header(out, "sluice_dist_takeover_yields_total", "counter",
                     "Times resuming the items taken over stopped for the loop, to go on.");
    evbuffer_add_printf(out, "sluice_dist_takeover_yields_total %llu\n",
                        (unsigned long long)d->takeover_yields);
}

/* }===================================================================== */
