/* SPDX-License-Identifier: MIT */
/* Per-item event counters: added up on the loop, written behind once a second. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "lib/event.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "server.h"
#include "store/commit.h"
#include "store/counters.h"
#include "store/store.h"

_Static_assert(SL_EV__COUNT == SL_STORE_COUNTERS, "the store keeps a counter per event type");

/*
 * An item's counters are a sum over its stored events, so they need not be
 * written with each batch: the loop adds up the batches as they commit, and
 * once a second one store change writes the sums together with the number
 * of the last batch they include (the mark). A busy item costs a write a
 * second rather than one per request. Nothing acknowledged depends on it:
 * the events were durable before their answer, and at start the batches
 * past the mark are added up again.
 */
#define TALLY_EVERY_MS 1000
#define TALLY_MARK "events_counted"

struct tally_entry {
    uint32_t item;                  /* offset of the id in names; 0: a free slot */
    int64_t n[SL_EV__COUNT];
};

/* Ids live in one buffer, freed at once: a strdup each, ten thousand items
 * a second freed together, kept malloc busier than the counting. */
struct tally {
    struct tally_entry *slot;
    size_t cap, used;               /* cap: 0 or a power of two */
    char *names;                    /* NUL-ended ids; offset 0 is unused */
    size_t names_len, names_cap;
    int64_t upto;                   /* the last batch added up here */
};

#define TALLY_ID(t, e) ((t)->names + (e)->item)

struct sl_counters {
    /* The mark: TALLY_MARK; with several nodes, one per node ("NAME" after
     * a colon), each adding up the batches it took (pg_events.c). */
    char mark[sizeof(TALLY_MARK) + SL_ID_MAX + 1];
    struct sl_server *srv;
    struct tally cur;               /* batches not yet on their way to the store */
    struct tally *writing;          /* the change in flight, or NULL */
    struct event *timer;
};

struct tally_op {
    struct sl_commit_op op;
    struct sl_counters *ev;
    struct tally t;
};

static size_t tally_hash(const char *s)
{
    size_t h = 14695981039346656037u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211u;
    return h;
}

static struct tally_entry *tally_find_in(const struct tally *t, struct tally_entry *slot,
                                         size_t cap, const char *item)
{
    for (size_t i = tally_hash(item) & (cap - 1);; i = (i + 1) & (cap - 1))
        if (!slot[i].item || strcmp(t->names + slot[i].item, item) == 0)
            return &slot[i];
}

static struct tally_entry *tally_find(const struct tally *t, const char *item)
{
    return t->cap ? tally_find_in(t, t->slot, t->cap, item) : NULL;
}

static void tally_free(struct tally *t)
{
    free(t->slot);
    free(t->names);
    *t = (struct tally){ 0 };
}

/* An empty tally sized like t (up to a point: one burst of a million items
 * must not make every later second allocate for a million), continuing
 * from t's last batch. */
#define TALLY_KEEP_SLOTS 65536
static struct tally tally_like(const struct tally *t)
{
    struct tally n = { .upto = t->upto };
    size_t cap = t->cap < TALLY_KEEP_SLOTS ? t->cap : TALLY_KEEP_SLOTS;
    size_t names = t->names_cap < TALLY_KEEP_SLOTS * 32 ? t->names_cap : TALLY_KEEP_SLOTS * 32;
    if (cap && (n.slot = calloc(cap, sizeof(*n.slot))))
        n.cap = cap;
    if (names && (n.names = malloc(names)))
        n.names_cap = names;
    return n;
}

static int tally_add(struct tally *t, const char *item, const int64_t *n)
{
    if ((t->used + 1) * 4 > t->cap * 3) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        struct tally_entry *slot = calloc(cap, sizeof(*slot));
        if (!slot)
            return -ENOMEM;
        for (size_t i = 0; i < t->cap; i++)
            if (t->slot[i].item)
                *tally_find_in(t, slot, cap, TALLY_ID(t, &t->slot[i])) = t->slot[i];
        free(t->slot);
        t->slot = slot;
        t->cap = cap;
    }
    struct tally_entry *e = tally_find(t, item);
    if (!e->item) {
        size_t len = strlen(item) + 1;
        if (t->names_len == 0)
            t->names_len = 1;           /* offset 0 marks a free slot */
        if (sl_grow(&t->names, &t->names_cap, t->names_len + len, 1) < 0)
            return -ENOMEM;
        memcpy(t->names + t->names_len, item, len);
        e->item = (uint32_t)t->names_len;
        t->names_len += len;
        t->used++;
    }
    for (int k = 0; k < SL_EV__COUNT; k++)
        e->n[k] += n[k];
    return 0;
}

static int tally_one(struct tally *t, const char *item, int type, int64_t n)
{
    int64_t v[SL_EV__COUNT] = { 0 };
    v[type] = n;
    return tally_add(t, item, v);
}

static int tally_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct tally_op *o = (struct tally_op *)op;
    int rc = 0;

    for (size_t i = 0; i < o->t.cap && rc == 0; i++)
        if (o->t.slot[i].item)
            rc = sl_store_counters_add(w, TALLY_ID(&o->t, &o->t.slot[i]), o->t.slot[i].n);
    return rc ? rc : sl_store_mark_set(w, o->ev->mark, o->t.upto);
}

static void tally_done(struct sl_commit_op *op, int rc)
{
    struct tally_op *o = (struct tally_op *)op;
    struct sl_counters *ev = o->ev;

    ev->writing = NULL;
    if (rc < 0) {
        /* Not written: the sums go back, to be written with the next. */
        sl_err("counters: writing per-item counters failed (%s); retrying", strerror(-rc));
        for (size_t i = 0; i < o->t.cap; i++)
            if (o->t.slot[i].item)
                tally_add(&ev->cur, TALLY_ID(&o->t, &o->t.slot[i]), o->t.slot[i].n);
        if (ev->cur.upto < o->t.upto)
            ev->cur.upto = o->t.upto;
    }
    tally_free(&o->t);
    free(o);
}

/* Send what is added up to the store, unless a change is still on its way. */
static void tally_flush(struct sl_counters *ev)
{
    if (ev->writing || ev->cur.used == 0)
        return;
    struct tally_op *o = calloc(1, sizeof(*o));
    if (!o)
        return;
    o->ev = ev;
    o->t = ev->cur;
    ev->cur = tally_like(&o->t);
    o->op.apply = tally_apply;
    o->op.done = tally_done;
    ev->writing = &o->t;
    if (sl_commit_submit(ev->srv->commit, &o->op) < 0) {
        ev->writing = NULL;
        ev->cur = o->t;
        free(o);
    }
}

static void on_tally_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tally_flush(arg);
}

static int recount(void *arg, int64_t seq, const struct sl_event_row *row)
{
    struct tally *t = arg;
    t->upto = seq;
    return row->type >= 0 && row->type < SL_EV__COUNT
               ? tally_one(t, row->item, row->type, 1) : 0;
}

int sl_counters_start(struct sl_server *srv)
{
    struct sl_counters *ev = calloc(1, sizeof(*ev));
    if (!ev)
        return -ENOMEM;
    ev->srv = srv;
    srv->counters = ev;
    if (srv->node.shared)
        snprintf(ev->mark, sizeof(ev->mark), "%s:%s", TALLY_MARK, srv->node.name);
    else
        snprintf(ev->mark, sizeof(ev->mark), "%s", TALLY_MARK);
    int rc = sl_store_mark_get(srv->reader, ev->mark, &ev->cur.upto);
    if (rc == -ENOENT && srv->node.shared)
        rc = 0;                 /* no batch of this node's was ever added up */
    if (rc == 0)
        rc = sl_store_events_since(srv->reader, ev->cur.upto, recount, &ev->cur);
    if (rc < 0)
        return rc;
    if (ev->cur.used)
        sl_info("counters: adding up %zu items' events again, from after batch %lld",
                ev->cur.used, (long long)ev->cur.upto);
    ev->timer = event_new(srv->base, -1, EV_PERSIST, on_tally_timer, ev);
    struct timeval tv = { TALLY_EVERY_MS / 1000, (TALLY_EVERY_MS % 1000) * 1000 };
    return ev->timer && event_add(ev->timer, &tv) == 0 ? 0 : -ENOMEM;
}

void sl_counters_stop(struct sl_server *srv)
{
    struct sl_counters *ev = srv->counters;
    if (!ev)
        return;
    if (ev->timer)
        event_free(ev->timer);
    ev->timer = NULL;
    /* The last sums go with the commit thread's last batch; a change still
     * in flight is answered (and freed) by the commit thread's shutdown. */
    if (srv->commit)
        tally_flush(ev);
}

void sl_counters_free(struct sl_server *srv)
{
    struct sl_counters *ev = srv->counters;
    if (!ev)
        return;
    tally_free(&ev->cur);
    free(ev);
    srv->counters = NULL;
}

void sl_counters_get(struct sl_server *srv, const char *item, int64_t counted,
                      int64_t *counts)
{
    struct sl_counters *ev = srv->counters;
    const struct tally *in[2] = { ev ? &ev->cur : NULL, ev ? ev->writing : NULL };

    for (int i = 0; i < 2; i++) {
        const struct tally_entry *e = in[i] ? tally_find(in[i], item) : NULL;
        /* A change in flight may be in the store already: the mark says. */
        if (!e || !e->item || (i == 1 && in[i]->upto <= counted))
            continue;
        for (int k = 0; k < SL_EV__COUNT; k++)
            counts[k] += e->n[k];
    }
}

int sl_counters_add(struct sl_server *srv, const char *item, int type, int64_t n)
{
    return tally_one(&srv->counters->cur, item, type, n);
}

void sl_counters_upto(struct sl_server *srv, int64_t batch)
{
    srv->counters->cur.upto = batch;
}

