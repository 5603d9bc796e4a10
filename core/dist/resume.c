/* SPDX-License-Identifier: MIT */
/* Distribution at start: the audience and every distributing item back from the rows the reader thread (ahead.c) reads. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dist/ahead.h"
#include "dist/internal.h"
#include "lib/clock.h"
#include "lib/grow.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lua/sandbox.h"

/*
 * A platform may have hundreds of thousands of items distributing when the
 * daemon stops, and each must be back (its plan, its waves, who was
 * offered and served it) before the first request. After the audience
 * (users, follows), four passes over the store, each one statement: the
 * items, the served marks, their waves, the offers (a record per
 * placement); then the items with no wave running start their next, once
 * every offer is known (before, a wave could offer an item again to one
 * offered it already). The reading is done ahead, on a thread (ahead.c).
 *
 * What costs at this scale is reading JSON and looking user ids up (eight
 * million for 200,000 items; the reader takes those on while it is ahead,
 * ahead.h). The upload is not parsed (its
 * creator is a column, its city is read off the text), tags only when
 * there are some, waves by dist_wave_read() (the form ops.c writes), and a
 * plan once per distinct text: a policy's plans differ by little (the
 * creator's followers, an interest), so most items share one.
 */

#define PLAN_CACHE 256              /* a power of two */

struct plan_memo {
    char *text;                     /* NULL: a free slot */
    uint64_t hash;
    struct plan *plan;              /* held */
    int next, reviewed;
};

struct resuming {
    struct sl_dist *d;
    struct dist_ahead *a;
    int rc;
    struct ditem **items;           /* in the order read, NULL for one not resumed */
    size_t nitems, items_cap;
    uint32_t *users;                /* a row's, as the audience knows them */
    size_t users_cap, numbered;     /* numbered: those the reader numbered */
    struct sl_aud_key *keys;        /* a row's others, keyed ahead */
    size_t keys_cap, keyed;
    struct plan_memo plans[PLAN_CACHE];
};

/* {====================== Items and plans ============================== */

/* The item's plan from its stored text (NULL: the built-in one) of hash h
 * (the reader's), through the memo. 0 or -ENOMEM. */
static int plan_of(struct resuming *rg, struct ditem *it, const char *text, uint64_t h)
{
    struct plan_memo *m = &rg->plans[h & (PLAN_CACHE - 1)];
    char err[SL_LUA_ERR_MAX];

    if (text && m->text && m->hash == h && strcmp(m->text, text) == 0) {
        dist_plan_set(it, dist_plan_hold(m->plan));
        it->next = m->next;
        it->reviewed = m->reviewed;
        return 0;
    }
    json_t *plan = dist_stored_json(text);
    if (dist_plan_check(rg->d, json_object_get(plan, "waves"), it, err, sizeof(err)) < 0 &&
        dist_plan_default(rg->d, it) < 0) {
        json_decref(plan);
        return -ENOMEM;
    }
    it->next = (int)json_integer_value(json_object_get(plan, "next"));
    it->reviewed = (int)json_integer_value(json_object_get(plan, "reviewed"));
    json_decref(plan);
    char *key = text ? strdup(text) : NULL;
    if (key) {
        free(m->text);
        dist_plan_put(m->plan);
        *m = (struct plan_memo){ key, h, dist_plan_hold(it->plan), it->next, it->reviewed };
    }
    return 0;                       /* no memo this time: nothing is wrong */
}

/* An item back, with its city and its plan's hash, as the reader found them. */
static int resume_item(struct resuming *rg, const char *id, const char *creator,
                       const char *city, const char *upload, const char *tags,
                       const char *plan, uint64_t plan_hash)
{
    struct sl_dist *d = rg->d;
    json_t *tg = NULL;

    if (rg->rc)
        return 1;
    if (sl_grow(&rg->items, &rg->items_cap, rg->nitems + 1, sizeof(*rg->items)) < 0) {
        rg->rc = -ENOMEM;
        return 1;
    }
    /* An item without interests has "{}" for tags: nothing to read. */
    if (tags && strcmp(tags, "{}") != 0)
        tg = dist_stored_json(tags);
    struct ditem *it = dist_adopt(d, id, creator, city, tg, upload ? upload : "{}",
                                  tags ? tags : "{}");
    json_decref(tg);
    if (it && plan_of(rg, it, plan, plan_hash) < 0) {
        sl_err("distribution: out of memory resuming item %s", id);
        dist_item_drop(d, it);
        rg->rc = -ENOMEM;
        return 1;
    }
    if (it)
        it->state = D_RUNNING;
    rg->items[rg->nitems++] = it;
    return 0;
}

/* }===================================================================== */

/* {====================== Waves and offers ============================= */

/* The running item of a row, by its place among the items read (the
 * reader's number for it); NULL when it is not resumed. */
static struct ditem *running(struct resuming *rg, uint32_t item)
{
    struct ditem *it = item < rg->nitems ? rg->items[item] : NULL;
    return it && it->state == D_RUNNING ? it : NULL;
}

/* A row's n users, *p past them: those the reader numbered into rg->users
 * as the audience knows them, the keyed into rg->keys. 0 or -ENOMEM. */
static int take_users(struct resuming *rg, const char **p, size_t n)
{
    if (sl_grow(&rg->users, &rg->users_cap, n ? n : 1, sizeof(*rg->users)) < 0 ||
        sl_grow(&rg->keys, &rg->keys_cap, n ? n : 1, sizeof(*rg->keys)) < 0)
        return -ENOMEM;
    rg->numbered = rg->keyed = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t no;
        if (get_user(p, &no, &rg->keys[rg->keyed]))
            rg->users[rg->numbered++] = dist_ahead_user(rg->a, no);
        else
            rg->keyed++;
    }
    return 0;
}

/* The users take_users() took, all as the audience knows them, into
 * rg->users: how many (those it refuses left out). */
static size_t users_of(struct resuming *rg)
{
    size_t n = rg->numbered + rg->keyed, k = 0;

    sl_audience_users_add_keyed(rg->d->aud, rg->keys, rg->keyed, rg->users + rg->numbered);
    for (size_t i = 0; i < n; i++)
        if (rg->users[i] != SL_AUD_NONE)
            rg->users[k++] = rg->users[i];
    return k;
}

/* A wave from its stored text: in the form ops.c writes, or any JSON. */
static void wave_parse(struct wave_read *r, const char *text, size_t len)
{
    if (dist_wave_read(r, text, len) < 0) {
        json_t *j = dist_stored_json(text);
        dist_wave_restore(r, j);
        json_decref(j);
    }
}

/* An item's n waves, their texts from p on, into its list in order of n:
 * allocated once when they come in one row (the store's walk has no set
 * order; a later row of the same item is merged in). */
static int add_waves(struct resuming *rg, uint32_t item, const char *p, size_t n)
{
    struct ditem *it = running(rg, item);
    struct wave *w;

    if (rg->rc)
        return 1;
    if (!it || !n)
        return 0;
    if (!(w = realloc(it->waves, ((size_t)it->nwaves + n) * sizeof(*w)))) {
        rg->rc = -ENOMEM;
        return 1;
    }
    it->waves = w;
    for (size_t i = 0; i < n; i++) {
        struct wave_read r;
        struct wave wave;
        int at;
        size_t len;
        const char *text = get_str_len(&p, &len);
        wave_parse(&r, text ? text : "", len);
        if (dist_wave_adopt(&wave, &r) < 0) {
            rg->rc = -ENOMEM;
            return 1;
        }
        for (at = it->nwaves; at > 0 && w[at - 1].n > wave.n; at--)
            ;
        memmove(&w[at + 1], &w[at], (size_t)(it->nwaves - at) * sizeof(*w));
        w[at] = wave;
        it->nwaves++;
    }
    return 0;
}

/* A feed served the item to the users taken: offered, and counted when
 * they react. */
static int resume_served(struct resuming *rg, uint32_t item)
{
    struct ditem *it = running(rg, item);

    if (rg->rc)
        return 1;
    if (!it)
        return 0;
    size_t k = users_of(rg);
    sl_audience_mark_offered(rg->d->aud, it->h, rg->users, k);
    for (size_t i = 0; i < k; i++)
        if (dist_react_served(&it->reactions, rg->users[i]) < 0) {
            rg->rc = -ENOMEM;
            return 1;
        }
    return 0;
}

/* A placement of the users taken: the running wave's not served yet go
 * back into their inboxes (the served are offered already, and placing
 * skips them); those of ended waves only count as offered. */
static int resume_offers(struct resuming *rg, uint32_t item, int wave, int source)
{
    struct ditem *it = running(rg, item);
    struct wave *w = it ? dist_current(it) : NULL;

    if (rg->rc)
        return 1;
    if (!it)
        return 0;
    size_t k = users_of(rg);
    if (w && w->n == wave)
        sl_audience_place(rg->d->aud, it->h, rg->users, k, (enum sl_aud_source)source,
                          (uint32_t)wave, NULL);
    else
        sl_audience_mark_offered(rg->d->aud, it->h, rg->users, k);
    return 0;
}

/* }===================================================================== */

/* {====================== The audience ================================ */

struct loading {
    struct sl_dist *d;
    struct dist_ahead *a;
    uint32_t now_s;
    int rc;
};

/* A user back, with the names of their interests; their index is kept for
 * the rows that name them by number. */
static int load_user(struct loading *ld, const char *id, const char *city,
                     const char *const *names, size_t n, int64_t seen_s)
{
    struct sl_dist *d = ld->d;
    uint32_t u = SL_AUD_NONE;

    if (sl_audience_user_set(d->aud, id, city, names, n, &u) == 0) {
        /* A visit the store never heard of (a store from before it kept
         * them) counts from now: away only once the window has passed. */
        sl_audience_touch(d->aud, u, seen_s > 0 ? (uint32_t)seen_s : ld->now_s);
        if (sl_grow(&d->seen_written, &d->seen_written_cap, (size_t)u + 1,
                    sizeof(*d->seen_written)) == 0)
            d->seen_written[u] = seen_s > 0 ? (uint32_t)seen_s : 0;
    }
    if (dist_ahead_user_taken(ld->a, u) < 0) {
        ld->rc = -ENOMEM;
        return 1;
    }
    return 0;
}

/* A follow back, its two users as the rows name them. */
static int load_follow(struct loading *ld, const char **p)
{
    struct sl_aud_key k;
    uint32_t u[2], no;

    for (int i = 0; i < 2; i++)
        if (get_user(p, &no, &k))
            u[i] = dist_ahead_user(ld->a, no);
        else
            sl_audience_users_add_keyed(ld->d->aud, &k, 1, &u[i]);
    if (u[0] != SL_AUD_NONE && u[1] != SL_AUD_NONE)
        sl_audience_follow_users(ld->d->aud, u[0], u[1]);
    return 0;
}

/* }===================================================================== */

/* {====================== Taking the rows in ========================= */

/* A row of the passes after the items' (the item its number) into rg. */
static int take_item_row(enum row_kind kind, const char **p, struct resuming *rg)
{
    uint32_t item = get_u32(p);

    if (kind == ROW_WAVES) {
        size_t n = get_u32(p);
        const char *waves = *p;
        for (size_t i = 0; i < n; i++)
            get_str(p);
        return add_waves(rg, item, waves, n);
    }
    int wave = kind == ROW_OFFERS ? (int)get_u32(p) : 0;
    int source = kind == ROW_OFFERS ? (int)get_u32(p) : 0;
    if (take_users(rg, p, get_u32(p)) < 0) {
        rg->rc = -ENOMEM;
        return 1;
    }
    return kind == ROW_SERVED ? resume_served(rg, item)
                              : resume_offers(rg, item, wave, source);
}

/* One row into distribution (lo for the audience's, rg for the items');
 * *p past it. Non-zero to stop; ROW_END stops with 0 in *end. */
static int take_row(const char **p, struct loading *lo, struct resuming *rg, bool *end)
{
    enum row_kind kind = (enum row_kind)*(*p)++;

    if (kind == ROW_END) {
        *end = true;
        return 1;
    }
    if (kind >= ROW_WAVES)
        return take_item_row(kind, p, rg);
    if (kind == ROW_FOLLOW)
        return load_follow(lo, p);
    const char *first = get_str(p);
    switch (kind) {
    case ROW_USER: {
        const char *city = get_str(p), *names[SL_AUD_INTERESTS_MAX];
        size_t n = get_u32(p);
        int64_t seen_s;
        for (size_t i = 0; i < n; i++)
            names[i] = get_str(p);
        memcpy(&seen_s, *p, sizeof(seen_s));
        *p += sizeof(seen_s);
        return load_user(lo, first, city, names, n, seen_s);
    }
    case ROW_ITEM: {
        const char *creator = get_str(p), *city = get_str(p), *upload = get_str(p);
        const char *tags = get_str(p), *plan = get_str(p);
        uint64_t h;
        memcpy(&h, *p, sizeof(h));
        *p += sizeof(h);
        return resume_item(rg, first, creator, city, upload, tags, plan, h);
    }
    default:
        return 1;
    }
}

/* The rows read ahead, up to ROW_END or the last: 0, or the first failure
 * of either side. */
static int take_rows(struct dist_ahead *a, struct loading *lo, struct resuming *rg)
{
    const char *p, *lim;
    bool end = false, stopped = false;

    while (!stopped && dist_ahead_rows(a, &p, &lim)) {
        while (!stopped && p < lim)
            stopped = take_row(&p, lo, rg, &end) != 0;
        dist_ahead_took(a, p);
    }
    int rc = end || stopped ? 0 : dist_ahead_rc(a);
    if (lo && lo->rc)
        return lo->rc;
    return rg && rg->rc ? rg->rc : rc;
}

/* }===================================================================== */

int dist_load_audience(struct sl_dist *d, struct dist_ahead *a)
{
    struct loading ld = { d, a, (uint32_t)(sl_now_ms() / 1000), 0 };
    int rc;

    sl_audience_bulk_begin(d->aud);
    rc = take_rows(a, &ld, NULL);
    sl_audience_bulk_end(d->aud);
    return rc;
}

int dist_resume_all(struct sl_dist *d, struct dist_ahead *a)
{
    struct resuming *rg = calloc(1, sizeof(*rg));
    double t0 = sl_mono();
    int rc;

    if (!rg)
        return -ENOMEM;
    rg->d = d;
    rg->a = a;
    rc = take_rows(a, NULL, rg);
    size_t resumed = 0;
    for (size_t i = 0; rc == 0 && i < rg->nitems; i++) {
        struct ditem *it = rg->items[i];
        if (!it)
            continue;
        resumed++;
        if (!dist_current(it))
            dist_begin_next_wave(d, it, NULL);
    }
    if (rc == 0)
        sl_info("distribution: %zu distributing items resumed in %lld ms", resumed,
                (long long)((sl_mono() - t0) * 1000));
    for (size_t i = 0; i < PLAN_CACHE; i++) {
        free(rg->plans[i].text);
        dist_plan_put(rg->plans[i].plan);
    }
    free(rg->items);
    free(rg->users);
    free(rg->keys);
    free(rg);
    return rc;
}
