/* SPDX-License-Identifier: MIT */
/* Creators' standing in memory: uploads and rejections, loaded at start, moved by committed changes. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dist/internal.h"
#include "lib/log.h"
#include "lib/mix.h"
#include "lib/text.h"
#include "store/store.h"

/*
 * What the store's creators table holds (uploads: items the creator has;
 * rejections: those of them in state rejected), kept here so that an
 * upload, a plan and a wave decision read it without a store read. Loaded
 * whole at start, then moved on the loop by every change the store has
 * committed: a new item (api/uploads.c), a decision of people
 * (api/queue.c), what people do to an item, one or in bulk (api/actions.c:
 * takedown, review, restore). Distribution's own changes
 * never make an item rejected or take one out of that state. Exact after
 * a restart (the store's counts are kept in the same transactions as the
 * items); between two, exact for what this process committed.
 *
 * Open addressing, linear probing, at most half full. When memory runs
 * out for a new creator the table can no longer be trusted: from then on
 * the standing is read from the store, as it was before.
 */

struct creator {
    int64_t uploads, rejections;
    char id[];
};

struct slot {
    uint64_t hash;
    struct creator *c;          /* NULL: free */
};

struct standing {
    struct slot *slots;
    size_t cap;                 /* a power of two, or 0 */
    size_t n;
    bool lost;                  /* memory ran out once: read the store */
};

/* The slot of id: its creator's, or the free one where it would go. */
static struct slot *find(const struct standing *st, const char *id, uint64_t h)
{
    size_t mask = st->cap - 1;

    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct slot *s = &st->slots[i];
        if (!s->c || (s->hash == h && strcmp(s->c->id, id) == 0))
            return s;
    }
}

static int grow(struct standing *st)
{
    size_t cap = st->cap ? st->cap * 2 : 1024;
    struct slot *old = st->slots, *slots = calloc(cap, sizeof(*slots));

    if (!slots)
        return -ENOMEM;
    st->slots = slots;
    for (size_t i = 0; i < st->cap; i++)
        if (old[i].c)
            *find(&(struct standing){ slots, cap, 0, false }, old[i].c->id, old[i].hash) =
                old[i];
    st->cap = cap;
    free(old);
    return 0;
}

/* The creator's entry, made (at zero) if new; NULL when out of memory. */
static struct creator *entry(struct standing *st, const char *id)
{
    uint64_t h = sl_hash_str(id);
    struct slot *s;

    if (st->cap) {
        s = find(st, id, h);
        if (s->c)
            return s->c;
    }
    if ((st->n + 1) * 2 > st->cap && grow(st) < 0)
        return NULL;
    size_t len = strlen(id);
    struct creator *c = calloc(1, sizeof(*c) + len + 1);
    if (!c)
        return NULL;
    memcpy(c->id, id, len + 1);
    s = find(st, id, h);
    s->hash = h;
    s->c = c;
    st->n++;
    return c;
}

static int load_one(void *arg, const char *creator, int64_t uploads, int64_t rejections)
{
    struct standing *st = arg;
    struct creator *c = creator ? entry(st, creator) : NULL;

    if (!c) {
        st->lost = true;
        return 1;
    }
    c->uploads = uploads;
    c->rejections = rejections;
    return 0;
}

static void standing_free(struct standing *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->cap; i++)
        free(st->slots[i].c);
    free(st->slots);
    free(st);
}

int dist_standing_load(struct sl_dist *d)
{
    struct standing *st = calloc(1, sizeof(*st));
    int rc = st ? sl_store_creators_each(d->srv->reader, load_one, st) : -ENOMEM;

    if (rc == 0 && st->lost)
        rc = -ENOMEM;
    if (rc < 0) {
        standing_free(st);
        return rc;
    }
    standing_free(d->standing);
    d->standing = st;
    return 0;
}

void dist_standing_free(struct sl_dist *d)
{
    standing_free(d->standing);
    d->standing = NULL;
}

size_t dist_standing_creators(const struct sl_dist *d)
{
    return d->standing ? d->standing->n : 0;
}

void dist_standing_get(struct sl_dist *d, const char *creator, int64_t *uploads,
                       int64_t *rejections)
{
    struct standing *st = d->standing;
    const struct slot *s;

    *uploads = *rejections = 0;
    if (!creator)
        return;
    if (!st || st->lost) {
        sl_store_creator_standing(d->srv->reader, creator, uploads, rejections);
        return;
    }
    if (st->cap && (s = find(st, creator, sl_hash_str(creator)))->c) {
        *uploads = s->c->uploads;
        *rejections = s->c->rejections;
    }
}

/* {====================== Moves ======================================== */

static int rejected(const char *state)
{
    return state && strcmp(state, "rejected") == 0;
}

int sl_dist_standing_note(struct sl_store *w, const char *item, const char *creator,
                          const char *from, const char *to, struct sl_dist_standing_move *m)
{
    json_t *stored = NULL;
    int rc = 0;

    memset(m, 0, sizeof(*m));
    m->uploads = from ? 0 : 1;
    m->rejections = rejected(to) - rejected(from);
    if (!m->uploads && !m->rejections)
        return 0;
    if (!creator) {
        if ((rc = sl_store_item_get(w, item, &stored)) < 0)
            return rc;
        creator = json_string_value(json_object_get(stored, "creator"));
    }
    if (creator)
        sl_copy(m->creator, sizeof(m->creator), creator);
    else
        rc = -EILSEQ;
    json_decref(stored);
    return rc;
}

void sl_dist_standing_moved(struct sl_server *srv, const struct sl_dist_standing_move *m)
{
    struct sl_dist *d = srv->dist;
    struct standing *st = d ? d->standing : NULL;
    struct creator *c;

    if (!m->creator[0] || !st || st->lost)
        return;
    if (!(c = entry(st, m->creator))) {
        st->lost = true;
        sl_warn("creators' standing: out of memory; read from the store from now on");
        return;
    }
    c->uploads += m->uploads;
    c->rejections += m->rejections;
}

/* Several nodes: a change another node committed, read from the change
 * feed (api/changes.c): a new item of creator in state to (from NULL), or
 * one moved from one state to another. Its own were moved when made. */
void sl_dist_standing_changed(struct sl_server *srv, const char *creator, const char *from,
                              const char *to)
{
    struct sl_dist_standing_move m = { .uploads = from ? 0 : 1,
                                       .rejections = rejected(to) - rejected(from) };

    if (!creator || (!m.uploads && !m.rejections))
        return;
    sl_copy(m.creator, sizeof(m.creator), creator);
    sl_dist_standing_moved(srv, &m);
}

/* }===================================================================== */
