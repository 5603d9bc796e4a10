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
 * once a second a store change writes the sums together with the number of
 * the last batch they include (the mark). A busy item costs a write a
 * second rather than one per request. Nothing acknowledged depends on it:
 * the events were durable before their answer, and at start the batches
 * past the mark are added up again.
 *
 * Items are dealt into TALLY_SHARDS shards by their id, each with a mark of
 * its own, written in turn: one change of every touched item's sums was 30
 * to 40 ms of the commit thread under a flood of events, and the requests
 * committed behind it waited; an eighth every 125 ms is a few. At start a
 * batch is added up again for the shards whose mark it is past.
 */
#define TALLY_EVERY_MS 1000
#define TALLY_SHARDS 8

struct tally_entry {
    uint32_t item;                  /* offset of the id in names; 0: a free slot */
    uint32_t hash;                  /* tally_hash() of the id, its low bits */
    int64_t n[SL_EV__COUNT];
};

/* Ids live in one buffer, freed at once: a strdup each, ten thousand items
 * a second freed together, kept malloc busier than the counting. */
struct tally {
    struct tally_entry *slot;
    size_t cap, used;               /* cap: 0 or a power of two */
    char *names;                    /* NUL-ended ids; offset 0 is unused */
    size_t names_len, names_cap;
    int64_t upto;                   /* sent: the last batch it holds */
};

#define TALLY_ID(t, e) ((t)->names + (e)->item)

struct shard {
    /* The mark: SL_COUNTERS_MARK, with several nodes one per node ("NAME"
     * after a colon), each adding up the batches it took (pg_events.c);
     * then "#k" for shard k. The mark without "#" is no longer written: a shard that
     * never wrote its own (a store from before the shards, or a shard
     * never written) counted what that one says. */
    char mark[sizeof(SL_COUNTERS_MARK) + SL_ID_MAX + 8];
    struct tally cur;               /* batches not yet on their way to the store */
    struct tally *writing;          /* the change in flight, or NULL */
    int64_t marked;                 /* the mark in the store */
};

struct sl_counters {
    struct sl_server *srv;
    struct shard shard[TALLY_SHARDS];
    int64_t upto;                   /* the last batch added up */
    unsigned next;                  /* the shard the timer writes next */
    struct event *timer;
};

struct tally_op {
    struct sl_commit_op op;
    struct shard *sh;
    struct tally t;
};

/* FNV-1a. Which shard an item's counts go to is in the store (each
 * shard's mark says what it has counted): this must stay as it is. */
static size_t tally_hash(const char *s)
{
    size_t h = 14695981039346656037u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211u;
    return h;
}

/* The top bits: the low ones place the item in its shard's slots. */
static struct shard *shard_of(struct sl_counters *ev, size_t h)
{
    return &ev->shard[(h >> 32) % TALLY_SHARDS];
}

/* The slot of item (of hash h), or the free one where it would go; the
 * hashes are compared before the ids. */
static struct tally_entry *tally_find_in(const struct tally *t, struct tally_entry *slot,
                                         size_t cap, const char *item, size_t h)
{
    for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1))
        if (!slot[i].item ||
            (slot[i].hash == (uint32_t)h && strcmp(t->names + slot[i].item, item) == 0))
            return &slot[i];
}

static struct tally_entry *tally_find(const struct tally *t, const char *item, size_t h)
{
    return t->cap ? tally_find_in(t, t->slot, t->cap, item, h) : NULL;
}

static void tally_free(struct tally *t)
{
    free(t->slot);
    free(t->names);
    *t = (struct tally){ 0 };
}

/* An empty tally sized like t (up to a point: one burst of a million items
 * must not make every later second allocate for a million). */
#define TALLY_KEEP_SLOTS 65536
static struct tally tally_like(const struct tally *t)
{
    struct tally n = { 0 };
    size_t cap = t->cap < TALLY_KEEP_SLOTS ? t->cap : TALLY_KEEP_SLOTS;
    size_t names = t->names_cap < TALLY_KEEP_SLOTS * 32 ? t->names_cap : TALLY_KEEP_SLOTS * 32;
    if (cap && (n.slot = calloc(cap, sizeof(*n.slot))))
        n.cap = cap;
    if (names && (n.names = malloc(names)))
        n.names_cap = names;
    return n;
}

static int tally_add(struct tally *t, const char *item, size_t h, const int64_t *n)
{
    if ((t->used + 1) * 4 > t->cap * 3) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        struct tally_entry *slot = calloc(cap, sizeof(*slot));
        if (!slot)
            return -ENOMEM;
        for (size_t i = 0; i < t->cap; i++)
            if (t->slot[i].item)
                *tally_find_in(t, slot, cap, TALLY_ID(t, &t->slot[i]), t->slot[i].hash) =
                    t->slot[i];
        free(t->slot);
        t->slot = slot;
        t->cap = cap;
    }
    struct tally_entry *e = tally_find(t, item, h);
    if (!e->item) {
        size_t len = strlen(item) + 1;
        if (t->names_len == 0)
            t->names_len = 1;           /* offset 0 marks a free slot */
        if (sl_grow(&t->names, &t->names_cap, t->names_len + len, 1) < 0)
            return -ENOMEM;
        memcpy(t->names + t->names_len, item, len);
        e->item = (uint32_t)t->names_len;
        e->hash = (uint32_t)h;
        t->names_len += len;
        t->used++;
    }
    for (int k = 0; k < SL_EV__COUNT; k++)
        e->n[k] += n[k];
    return 0;
}

static int tally_one(struct tally *t, const char *item, size_t h, int type, int64_t n)
{
    int64_t v[SL_EV__COUNT] = { 0 };
    v[type] = n;
    return tally_add(t, item, h, v);
}

static int tally_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct tally_op *o = (struct tally_op *)op;
    int rc = 0;

    for (size_t i = 0; i < o->t.cap && rc == 0; i++)
        if (o->t.slot[i].item)
            rc = sl_store_counters_add(w, TALLY_ID(&o->t, &o->t.slot[i]), o->t.slot[i].n);
    return rc ? rc : sl_store_mark_set(w, o->sh->mark, o->t.upto);
}

static void tally_done(struct sl_commit_op *op, int rc)
{
    struct tally_op *o = (struct tally_op *)op;
    struct shard *sh = o->sh;

    if (sh->writing == &o->t)
        sh->writing = NULL;
    if (rc == 0 && o->t.upto > sh->marked)
        sh->marked = o->t.upto;
    if (rc < 0) {
        /* Not written: the sums go back, to be written with the next. */
        sl_err("counters: writing per-item counters failed (%s); retrying", strerror(-rc));
        for (size_t i = 0; i < o->t.cap; i++)
            if (o->t.slot[i].item)
                tally_add(&sh->cur, TALLY_ID(&o->t, &o->t.slot[i]), o->t.slot[i].hash,
                          o->t.slot[i].n);
    }
    tally_free(&o->t);
    free(o);
}

/* Send what a shard added up to the store, with the mark of every batch
 * added up so far, unless its last change is still on its way. A shard
 * with nothing added up moves its mark too: the next start reads the
 * batches past the lowest. The last change (at stop) goes behind one on
 * its way (the commit thread keeps their order): a clean stop leaves every
 * shard's mark at the same batch, which a copy of the store counts on
 * (copy.c). */
static void tally_flush(struct sl_counters *ev, struct shard *sh, bool last)
{
    bool behind = sh->cur.used > 0 || sh->marked < ev->upto;
    if (sh->writing ? !last : !behind)
        return;
    struct tally_op *o = calloc(1, sizeof(*o));
    if (!o)
        return;
    o->sh = sh;
    o->t = sh->cur;
    o->t.upto = ev->upto;
    sh->cur = tally_like(&o->t);
    o->op.apply = tally_apply;
    o->op.done = tally_done;
    sh->writing = &o->t;
    if (sl_commit_submit(ev->srv->commit, &o->op) < 0) {
        sh->writing = NULL;
        tally_free(&sh->cur);
        sh->cur = o->t;
        free(o);
    }
}

static void on_tally_timer(evutil_socket_t fd, short what, void *arg)
{
    struct sl_counters *ev = arg;
    (void)fd;
    (void)what;
    tally_flush(ev, &ev->shard[ev->next++ % TALLY_SHARDS], false);
}

/* At start: a batch past a shard's mark is added up again for its items. */
static int recount(void *arg, int64_t seq, const struct sl_event_row *row)
{
    struct sl_counters *ev = arg;
    size_t h = tally_hash(row->item);
    struct shard *sh = shard_of(ev, h);

    if (seq > ev->upto)
        ev->upto = seq;
    return seq > sh->marked && row->type >= 0 && row->type < SL_EV__COUNT
               ? tally_one(&sh->cur, row->item, h, row->type, 1) : 0;
}

/* The mark of shard (or, -1, the one from before the shards). */
static void mark_name(const struct sl_server *srv, int shard, char *out, size_t len)
{
    int n = srv->node.shared ? snprintf(out, len, "%s:%s", SL_COUNTERS_MARK, srv->node.name)
                             : snprintf(out, len, "%s", SL_COUNTERS_MARK);
    if (shard >= 0 && n > 0 && (size_t)n < len)
        snprintf(out + n, len - (size_t)n, "#%d", shard);
}

int sl_counters_start(struct sl_server *srv)
{
    struct sl_counters *ev = calloc(1, sizeof(*ev));
    if (!ev)
        return -ENOMEM;
    ev->srv = srv;
    srv->counters = ev;

    char old[sizeof(ev->shard[0].mark)];
    int64_t before = 0, from = INT64_MAX;
    mark_name(srv, -1, old, sizeof(old));
    int rc = sl_store_mark_get(srv->reader, old, &before);
    if (rc == -ENOENT && srv->node.shared)
        rc = 0;                 /* no batch of this node's was ever added up */
    for (int k = 0; rc == 0 && k < TALLY_SHARDS; k++) {
        struct shard *sh = &ev->shard[k];
        mark_name(srv, k, sh->mark, sizeof(sh->mark));
        if ((rc = sl_store_mark_get(srv->reader, sh->mark, &sh->marked)) == -ENOENT) {
            sh->marked = before;
            rc = 0;
        }
        if (sh->marked < from)
            from = sh->marked;
        if (sh->marked > ev->upto)
            ev->upto = sh->marked;
    }
    if (rc == 0)
        rc = sl_store_events_since(srv->reader, from, recount, ev);
    if (rc < 0)
        return rc;
    size_t again = 0;
    for (int k = 0; k < TALLY_SHARDS; k++)
        again += ev->shard[k].cur.used;
    if (again)
        sl_info("counters: adding up %zu items' events again, from after batch %lld",
                again, (long long)from);
    ev->timer = event_new(srv->base, -1, EV_PERSIST, on_tally_timer, ev);
    int every = TALLY_EVERY_MS / TALLY_SHARDS;
    struct timeval tv = { every / 1000, (every % 1000) * 1000 };
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
    for (int k = 0; srv->commit && k < TALLY_SHARDS; k++)
        tally_flush(ev, &ev->shard[k], true);
}

void sl_counters_free(struct sl_server *srv)
{
    struct sl_counters *ev = srv->counters;
    if (!ev)
        return;
    for (int k = 0; k < TALLY_SHARDS; k++)
        tally_free(&ev->shard[k].cur);
    free(ev);
    srv->counters = NULL;
}

int sl_counters_read(struct sl_server *srv, struct sl_store *s, const char *item,
                     int64_t *counts)
{
    struct sl_counters *ev = srv->counters;
    size_t h = tally_hash(item);
    struct shard *sh = ev ? shard_of(ev, h) : NULL;
    int64_t counted;
    int rc = sl_store_counters_get(s, item, sh ? sh->mark : SL_COUNTERS_MARK, counts,
                                   &counted);
    if (rc < 0 || !sh)
        return rc;
    const struct tally *in[2] = { &sh->cur, sh->writing };

    for (int i = 0; i < 2; i++) {
        const struct tally_entry *e = in[i] ? tally_find(in[i], item, h) : NULL;
        /* A change in flight may be in the store already: the mark says. */
        if (!e || !e->item || (i == 1 && in[i]->upto <= counted))
            continue;
        for (int k = 0; k < SL_EV__COUNT; k++)
            counts[k] += e->n[k];
    }
    return 0;
}

int sl_counters_add(struct sl_server *srv, const char *item, int type, int64_t n)
{
    size_t h = tally_hash(item);
    return tally_one(&shard_of(srv->counters, h)->cur, item, h, type, n);
}

void sl_counters_upto(struct sl_server *srv, int64_t batch)
{
    srv->counters->upto = batch;
}

