/* SPDX-License-Identifier: MIT */
/* Distribution at start: the audience and every distributing item back from the store in a few passes, read on a thread of their own. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dist/internal.h"
#include "lib/clock.h"
#include "lib/grow.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/mix.h"
#include "lua/sandbox.h"
#include "server.h"
#include "store/store.h"

/*
 * A platform may have hundreds of thousands of items distributing when the
 * daemon stops, and each must be back (its plan, its waves, who was
 * offered and served it) before the first request. After the audience
 * (users, follows), four passes over the store, each one statement: the
 * items, the served marks, their waves, the offers (a record per
 * placement); then the items with no wave running start their next, once
 * every offer is known (before, a wave could offer an item again to one
 * offered it already). The reading is done ahead, on a thread (below).
 *
 * What costs at this scale is reading JSON and looking user ids up (eight
 * million for 200,000 items). The upload is not parsed (its
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
    int rc;
    struct ditem **items;           /* in the order read, NULL for one not resumed */
    size_t nitems, items_cap;
    uint32_t *users;                /* a row's, as the audience knows them */
    size_t users_cap;
    struct sl_aud_key *keys;        /* a row's users, keyed ahead */
    size_t keys_cap;
    struct plan_memo plans[PLAN_CACHE];
};

/* {====================== Items and plans ============================== */

/* The item's plan from its stored text (NULL: the built-in one) of hash h
 * (sl_hash_str()), through the memo. 0 or -ENOMEM. */
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

/* The value of the top-level key of a JSON object's text when it is a
 * string with nothing to unescape, into out; "" when it is absent, NULL
 * when the text must be parsed to tell. */
static const char *top_string(const char *p, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    int depth = 0;

    out[0] = '\0';
    for (; *p; p++) {
        if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            depth--;
        } else if (*p == '"') {
            const char *s = ++p;
            while (*p && *p != '"')
                p += *p == '\\' && p[1] ? 2 : 1;
            if (!*p)
                return NULL;
            /* A key at the top: its name, then ':'. */
            const char *v = p + 1;
            while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r')
                v++;
            if (depth == 1 && *v == ':' && (size_t)(p - s) == klen &&
                memcmp(s, key, klen) == 0) {
                for (v++; *v == ' ' || *v == '\t' || *v == '\n' || *v == '\r'; v++)
                    ;
                const char *e = v + 1;
                if (*v != '"')
                    return NULL;
                while (*e && *e != '"' && *e != '\\')
                    e++;
                if (*e != '"' || (size_t)(e - v - 1) >= cap)
                    return NULL;
                memcpy(out, v + 1, (size_t)(e - v - 1));
                out[e - v - 1] = '\0';
                return out;
            }
        }
    }
    return out;
}

/* The upload's city, into out (cap bytes): NULL when it has none. */
static const char *city_of(const char *upload, char *out, size_t cap)
{
    const char *c = upload ? top_string(upload, "city", out, cap) : "";

    if (!c) {
        json_t *parsed = dist_stored_json(upload);
        c = json_string_value(json_object_get(parsed, "city"));
        if (c && strlen(c) < cap)
            c = memcpy(out, c, strlen(c) + 1);
        else
            c = NULL;
        json_decref(parsed);
    }
    return c && *c ? c : NULL;
}

/* An item back, with its city (city_of()) and its plan's hash (sl_hash_str()). */
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

/* A row's users as the audience knows them, into rg->users: how many
 * (the invalid left out), or -ENOMEM. */
static ssize_t users_of(struct resuming *rg, const struct sl_aud_key *keys, size_t n)
{
    size_t k = 0;

    if (sl_grow(&rg->users, &rg->users_cap, n ? n : 1, sizeof(*rg->users)) < 0)
        return -ENOMEM;
    sl_audience_users_add_keyed(rg->d->aud, keys, n, rg->users);
    for (size_t i = 0; i < n; i++)
        if (rg->users[i] != SL_AUD_NONE)
            rg->users[k++] = rg->users[i];
    return (ssize_t)k;
}

/* A wave read, into its item's list in order of n (the store's walk has
 * no set order). */
static int add_wave(struct resuming *rg, uint32_t item, const struct wave *wave)
{
    struct ditem *it = running(rg, item);
    struct wave *w;
    int at;

    if (rg->rc)
        return 1;
    if (!it)
        return 0;
    if (!(w = realloc(it->waves, (size_t)(it->nwaves + 1) * sizeof(*w)))) {
        rg->rc = -ENOMEM;
        return 1;
    }
    it->waves = w;
    for (at = it->nwaves; at > 0 && w[at - 1].n > wave->n; at--)
        ;
    memmove(&w[at + 1], &w[at], (size_t)(it->nwaves - at) * sizeof(*w));
    w[at] = *wave;
    it->nwaves++;
    return 0;
}

/* A wave from its stored text: in the form ops.c writes, or any JSON. */
static void wave_parse(struct wave *w, const char *text, size_t len)
{
    if (dist_wave_read(w, text, len) < 0) {
        json_t *j = dist_stored_json(text);
        dist_wave_restore(w, j);
        json_decref(j);
    }
}

/* A feed served the item to these users: offered, and counted when they
 * react. */
static int resume_served(struct resuming *rg, uint32_t item, const struct sl_aud_key *users,
                         size_t n)
{
    struct ditem *it = running(rg, item);
    ssize_t k;

    if (rg->rc)
        return 1;
    if (!it)
        return 0;
    if ((k = users_of(rg, users, n)) < 0) {
        rg->rc = (int)k;
        return 1;
    }
    sl_audience_mark_offered(rg->d->aud, it->h, rg->users, (size_t)k);
    for (ssize_t i = 0; i < k; i++)
        if (dist_react_served(&it->reactions, rg->users[i]) < 0) {
            rg->rc = -ENOMEM;
            return 1;
        }
    return 0;
}

/* A placement: the running wave's users not served yet go back into their
 * inboxes (the served are offered already, and placing skips them); those
 * of ended waves only count as offered. */
static int resume_offers(struct resuming *rg, uint32_t item, int wave, int source,
                         const struct sl_aud_key *users, size_t n)
{
    struct ditem *it = running(rg, item);
    struct wave *w = it ? dist_current(it) : NULL;
    ssize_t k;

    if (rg->rc)
        return 1;
    if (!it)
        return 0;
    if ((k = users_of(rg, users, n)) < 0) {
        rg->rc = (int)k;
        return 1;
    }
    if (w && w->n == wave)
        sl_audience_place(rg->d->aud, it->h, rg->users, (size_t)k, (enum sl_aud_source)source,
                          (uint32_t)wave, NULL);
    else
        sl_audience_mark_offered(rg->d->aud, it->h, rg->users, (size_t)k);
    return 0;
}

/* }===================================================================== */

/* {====================== The audience ================================ */

struct loading {
    struct sl_dist *d;
    uint32_t now_s;
};

/* A user back, with the names of their interests. */
static int load_user(struct loading *ld, const char *id, const char *city,
                     const char *const *names, size_t n, int64_t seen_s)
{
    struct sl_dist *d = ld->d;
    uint32_t u;

    if (sl_audience_user_set(d->aud, id, city, names, n) == 0 &&
        sl_audience_user_find(d->aud, id, &u) == 0) {
        /* A visit the store never heard of (a store from before it kept
         * them) counts from now: away only once the window has passed. */
        sl_audience_touch(d->aud, u, seen_s > 0 ? (uint32_t)seen_s : ld->now_s);
        if (sl_grow(&d->seen_written, &d->seen_written_cap, (size_t)u + 1,
                    sizeof(*d->seen_written)) == 0)
            d->seen_written[u] = seen_s > 0 ? (uint32_t)seen_s : 0;
    }
    return 0;
}

/* }===================================================================== */

/* {====================== Reading ahead ============================== */

/*
 * What start reads is read on a thread of its own, over a second
 * connection, and copied into chunks that the loop's thread takes in as
 * they come: the store's work (SQL, pages, the interests', cities' and
 * waves' JSON) and the audience's overlap on two cores (bench/bench_start:
 * 200,000 items from 3.6 s to 2.2). The served marks are read before the
 * waves: while the loop's side looks their users up, the reader parses
 * waves, and each side has work when the other is slowest. At most
 * AHEAD_CHUNKS chunks wait (64 MiB); the reader stops early when the
 * loop's side failed, and the loop's side when the reader did.
 *
 * A row in a chunk: its kind (a byte), then its fields; a string is its
 * length (UINT32_MAX for none) and its bytes with a NUL; a number 4 or 8
 * bytes; a wave its struct, parsed by the reader. ROW_END ends the
 * audience. The users of served marks and offers are keyed by the reader
 * (their length, hash, bytes and NUL; an invalid id is left out): eight
 * million of them looked up at a 200,000-item start, the hashing is the
 * reader's. So are a follow's two (the follower a string and its hash, the
 * creator a key; a follow naming an invalid id is left out, as the
 * audience refuses it). After the items' pass, a row names its item by
 * its number, its place in that pass (struct sent_items); an item that
 * pass did not read is not resumed, and its rows are left out. An item's
 * served marks come in one row.
 */

#define CHUNK_SIZE (256 * 1024)
#define AHEAD_CHUNKS 256

enum row_kind { ROW_USER, ROW_FOLLOW, ROW_END, ROW_ITEM, ROW_WAVE, ROW_SERVED, ROW_OFFERS };

struct chunk {
    struct chunk *next;
    size_t len, cap;
    size_t taken;                   /* the loop's side: bytes of rows taken in */
    char data[];
};

/* The items the reader sent, numbered in that order. The later passes walk
 * the items in the same order on SQLite (by items_state), so the item of
 * a row is most often the one found last or the next: that is tried
 * first, then a hash of the ids. */
struct sent_items {
    char *ids;                      /* each NUL-ended, one after the other */
    size_t len, cap;
    uint32_t *at;                   /* number -> offset of its id in ids */
    size_t n, at_cap;
    uint32_t *slot;                 /* number + 1 by the id's hash; 0: free */
    uint32_t mask;
    uint32_t last;                  /* the number found last */
};

struct dist_ahead {
    struct sl_store *conn;          /* the reader's own */
    const struct sl_audience *aud;  /* its seed keys users (sl_audience_key) */
    bool items;                     /* the items' passes too, after the audience */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct chunk *head, *tail;      /* full chunks, oldest first */
    struct chunk *spare;            /* taken in, for the reader to fill again */
    size_t queued;
    bool done;                      /* the reader is finished */
    bool stop;                      /* the loop's side is: read no more */
    int rc;                         /* the reader's */
    /* The reader's alone. */
    struct chunk *filling;          /* not queued yet */
    struct chunk *next;             /* a spare, to fill next */
    struct sl_aud_key *keys;        /* an offer's users */
    size_t keys_cap;
    struct sent_items sent;
    uint32_t served_item;           /* the item of the served marks gathered */
    char *served;                   /* their users, keyed as a row holds them */
    size_t served_len, served_cap, served_n;
    bool halted;                    /* its copy of stop, taken at each flush */
    /* The loop's alone. */
    struct chunk *taking;           /* rows of it are still to be taken in */
};

/* The reader's chunk to the queue; waits while the queue is full. */
static void ahead_flush(struct dist_ahead *a)
{
    struct chunk *c = a->filling;

    a->filling = NULL;
    if (!c)
        return;
    pthread_mutex_lock(&a->mu);
    while (a->queued >= AHEAD_CHUNKS && !a->stop)
        pthread_cond_wait(&a->cv, &a->mu);
    a->halted = a->stop;
    if (!a->next && (a->next = a->spare))
        a->spare = a->spare->next;
    if (a->stop) {
        free(c);
    } else {
        if (a->tail)
            a->tail->next = c;
        else
            a->head = c;
        a->tail = c;
        a->queued++;
        pthread_cond_broadcast(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
}

/* Room for a row of size bytes; NULL when out of memory or stopped. */
static char *ahead_room(struct dist_ahead *a, size_t size)
{
    struct chunk *c = a->filling;

    if (c && c->cap - c->len < size)
        ahead_flush(a);
    if (a->halted)
        return NULL;
    if (!a->filling) {
        /* A chunk taken in is filled again: fresh memory costs the
         * reader a page fault a page. */
        size_t cap = size > CHUNK_SIZE ? size : CHUNK_SIZE;
        if (cap == CHUNK_SIZE && a->next) {
            a->filling = a->next;
            a->next = NULL;
        } else if (!(a->filling = malloc(sizeof(*c) + cap))) {
            a->rc = -ENOMEM;
            return NULL;
        }
        *a->filling = (struct chunk){ .cap = cap };
    }
    c = a->filling;
    c->len += size;
    return c->data + c->len - size;
}

static size_t str_size(const char *s)
{
    return 4 + (s ? strlen(s) + 1 : 0);
}

static char *put_u32(char *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
    return p + sizeof(v);
}

static char *put_str(char *p, const char *s)
{
    if (!s)
        return put_u32(p, UINT32_MAX);
    size_t len = strlen(s);
    p = put_u32(p, (uint32_t)len);
    memcpy(p, s, len + 1);
    return p + len + 1;
}

static size_t key_size(const struct sl_aud_key *k)
{
    return 2 * sizeof(uint32_t) + k->len + 1;
}

static char *put_key(char *p, const struct sl_aud_key *k)
{
    p = put_u32(put_u32(p, k->len), k->hash);
    memcpy(p, k->id, k->len + 1);
    return p + k->len + 1;
}

static uint32_t get_u32(const char **p)
{
    uint32_t v;
    memcpy(&v, *p, sizeof(v));
    *p += sizeof(v);
    return v;
}

static const char *get_str(const char **p)
{
    uint32_t len = get_u32(p);
    const char *s = *p;
    if (len == UINT32_MAX)
        return NULL;
    *p += len + 1;
    return s;
}

static struct sl_aud_key get_key(const char **p)
{
    struct sl_aud_key k;
    k.len = get_u32(p);
    k.hash = get_u32(p);
    k.id = *p;
    *p += k.len + 1;
    return k;
}

#define NOT_SENT UINT32_MAX

static void sent_slot_put(struct sent_items *si, uint32_t k)
{
    uint32_t i = (uint32_t)sl_hash_str(si->ids + si->at[k]) & si->mask;

    while (si->slot[i])
        i = (i + 1) & si->mask;
    si->slot[i] = k + 1;
}

/* id sent as the next number: 0 or -ENOMEM. The hash is kept under half
 * full. */
static int sent_add(struct sent_items *si, const char *id)
{
    size_t len = strlen(id) + 1;

    if (si->n >= NOT_SENT - 1 || si->len + len > UINT32_MAX ||
        sl_grow(&si->ids, &si->cap, si->len + len, 1) < 0 ||
        sl_grow(&si->at, &si->at_cap, si->n + 1, sizeof(*si->at)) < 0)
        return -ENOMEM;
    if (2 * (si->n + 1) > (size_t)si->mask) {
        uint32_t mask = si->mask ? 2 * si->mask + 1 : 1023;
        uint32_t *slot = calloc((size_t)mask + 1, sizeof(*slot));
        if (!slot)
            return -ENOMEM;
        free(si->slot);
        si->slot = slot;
        si->mask = mask;
        for (uint32_t k = 0; k < si->n; k++)
            sent_slot_put(si, k);
    }
    memcpy(si->ids + si->len, id, len);
    si->at[si->n] = (uint32_t)si->len;
    si->len += len;
    sent_slot_put(si, (uint32_t)si->n++);
    return 0;
}

/* The number of item id, NOT_SENT when the items' pass did not send it. */
static uint32_t sent_find(struct sent_items *si, const char *id)
{
    for (uint32_t k = si->last; k < si->n && k <= si->last + 1; k++)
        if (strcmp(si->ids + si->at[k], id) == 0)
            return si->last = k;
    if (!si->slot)
        return NOT_SENT;
    for (uint32_t i = (uint32_t)sl_hash_str(id) & si->mask; si->slot[i]; i = (i + 1) & si->mask)
        if (strcmp(si->ids + si->at[si->slot[i] - 1], id) == 0)
            return si->last = si->slot[i] - 1;
    return NOT_SENT;
}

static void sent_free(struct sent_items *si)
{
    free(si->ids);
    free(si->at);
    free(si->slot);
}

static int ahead_user(void *arg, const char *id, const char *city, const char *interests,
                      int64_t seen_s)
{
    json_t *list = interests ? json_loads(interests, 0, NULL) : NULL;
    const char *names[SL_AUD_INTERESTS_MAX];
    size_t n = dist_interest_names(list, names), size = 1 + str_size(id) + str_size(city) +
                                                        sizeof(uint32_t) + sizeof(seen_s);

    for (size_t i = 0; i < n; i++)
        size += str_size(names[i]);
    char *p = ahead_room(arg, size);
    if (p) {
        *p++ = ROW_USER;
        p = put_u32(put_str(put_str(p, id), city), (uint32_t)n);
        for (size_t i = 0; i < n; i++)
            p = put_str(p, names[i]);
        memcpy(p, &seen_s, sizeof(seen_s));
    }
    json_decref(list);
    return p ? 0 : 1;
}

static int ahead_follow(void *arg, const char *follower, const char *creator)
{
    struct dist_ahead *a = arg;
    struct sl_aud_key f, c;

    if (!sl_audience_key(a->aud, follower, &f) || !sl_audience_key(a->aud, creator, &c))
        return 0;       /* not ids: the audience would refuse the follow */
    char *p = ahead_room(a, 1 + str_size(follower) + sizeof(uint32_t) + key_size(&c));
    if (!p)
        return 1;
    *p++ = ROW_FOLLOW;
    put_key(put_u32(put_str(p, follower), f.hash), &c);
    return 0;
}

static int ahead_item(void *arg, const char *id, const char *creator, const char *upload,
                      const char *tags, const char *plan)
{
    struct dist_ahead *a = arg;
    char buf[256];
    const char *city = city_of(upload, buf, sizeof(buf));
    uint64_t h = plan ? sl_hash_str(plan) : 0;

    if (sent_add(&a->sent, id) < 0) {
        a->rc = -ENOMEM;
        return 1;
    }
    char *p = ahead_room(a, 1 + str_size(id) + str_size(creator) + str_size(city) +
                                str_size(upload) + str_size(tags) + str_size(plan) + sizeof(h));
    if (!p)
        return 1;
    *p++ = ROW_ITEM;
    p = put_str(put_str(put_str(put_str(put_str(put_str(p, id), creator), city), upload),
                        tags), plan);
    memcpy(p, &h, sizeof(h));
    return 0;
}

static int ahead_wave(void *arg, const char *item, int n, const char *text, size_t len)
{
    struct dist_ahead *a = arg;
    uint32_t k = sent_find(&a->sent, item);
    struct wave w;

    (void)n;
    if (k == NOT_SENT)
        return 0;
    char *p = ahead_room(a, 1 + sizeof(k) + sizeof(w));
    if (!p)
        return 1;
    *p++ = ROW_WAVE;
    p = put_u32(p, k);
    wave_parse(&w, text, len);
    memcpy(p, &w, sizeof(w));
    return 0;
}

/* The served marks gathered, as one row: 0, or 1 to stop. */
static int served_flush(struct dist_ahead *a)
{
    if (!a->served_n)
        return 0;
    char *p = ahead_room(a, 1 + 2 * sizeof(uint32_t) + a->served_len);
    if (!p)
        return 1;
    *p++ = ROW_SERVED;
    p = put_u32(put_u32(p, a->served_item), (uint32_t)a->served_n);
    memcpy(p, a->served, a->served_len);
    a->served_len = a->served_n = 0;
    return 0;
}

static int ahead_served(void *arg, const char *item, const char *user)
{
    struct dist_ahead *a = arg;
    uint32_t k = sent_find(&a->sent, item);
    struct sl_aud_key key;

    if (k == NOT_SENT || !sl_audience_key(a->aud, user, &key))
        return 0;
    if ((k != a->served_item || a->served_n == UINT32_MAX) && served_flush(a))
        return 1;
    a->served_item = k;
    if (sl_grow(&a->served, &a->served_cap, a->served_len + key_size(&key), 1) < 0) {
        a->rc = -ENOMEM;
        return 1;
    }
    put_key(a->served + a->served_len, &key);
    a->served_len += key_size(&key);
    a->served_n++;
    return 0;
}

static int ahead_offers(void *arg, const char *item, int wave, int source,
                        const char *const *users, size_t n)
{
    struct dist_ahead *a = arg;
    uint32_t k = sent_find(&a->sent, item);
    size_t size = 1 + 4 * sizeof(uint32_t), valid = 0;

    if (k == NOT_SENT)
        return 0;
    if (sl_grow(&a->keys, &a->keys_cap, n ? n : 1, sizeof(*a->keys)) < 0) {
        a->rc = -ENOMEM;
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        if (sl_audience_key(a->aud, users[i], &a->keys[valid]))
            size += key_size(&a->keys[valid++]);
    char *p = ahead_room(a, size);
    if (!p)
        return 1;
    *p++ = ROW_OFFERS;
    p = put_u32(put_u32(put_u32(put_u32(p, k), (uint32_t)wave), (uint32_t)source),
                (uint32_t)valid);
    for (size_t i = 0; i < valid; i++)
        p = put_key(p, &a->keys[i]);
    return 0;
}

/* The reader: the audience's passes, ROW_END, the items' passes. */
static void *ahead_main(void *arg)
{
    struct dist_ahead *a = arg;
    struct sl_store *s = a->conn;
    char *end = NULL;
    int rc;

    sl_store_bulk(s, true);
    if ((rc = sl_store_users_each(s, ahead_user, a)) == 0 &&
        (rc = sl_store_follows_each(s, ahead_follow, a)) == 0 && (end = ahead_room(a, 1)))
        *end = ROW_END;
    if (end && a->items &&
        (rc = sl_store_items_in_state(s, "distributing", ahead_item, a)) == 0 &&
        (rc = sl_store_served_each(s, "distributing", ahead_served, a)) == 0 &&
        served_flush(a) == 0 &&
        (rc = sl_store_waves_each(s, "distributing", ahead_wave, a)) == 0)
        rc = sl_store_offer_waves_each(s, "distributing", ahead_offers, a);
    sl_store_bulk(s, false);
    ahead_flush(a);
    pthread_mutex_lock(&a->mu);
    if (!a->rc)
        a->rc = rc;
    a->done = true;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

int dist_ahead_start(struct sl_dist *d, bool items, struct dist_ahead **out)
{
    struct sl_server *srv = d->srv;
    struct dist_ahead *a = calloc(1, sizeof(*a));
    int rc;

    if (!a)
        return -ENOMEM;
    if ((rc = sl_store_open(srv->cfg.store, srv->cfg.state_dir, false, &a->conn)) < 0) {
        free(a);
        return rc;
    }
    a->items = items;
    a->aud = d->aud;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    if ((rc = pthread_create(&a->thread, NULL, ahead_main, a)) != 0) {
        sl_err("distribution: cannot start the thread that reads the store at start: %s",
               strerror(rc));
        pthread_mutex_destroy(&a->mu);
        pthread_cond_destroy(&a->cv);
        sl_store_free(a->conn);
        free(a);
        return -rc;
    }
    *out = a;
    return 0;
}

void dist_ahead_end(struct dist_ahead *a)
{
    struct chunk *c;

    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    free(a->taking);
    while ((c = a->head)) {
        a->head = c->next;
        free(c);
    }
    while ((c = a->spare)) {
        a->spare = c->next;
        free(c);
    }
    free(a->filling);
    free(a->next);
    free(a->keys);
    free(a->served);
    sent_free(&a->sent);
    sl_store_free(a->conn);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a);
}

/* The chunk whose rows are next, NULL when the reader is finished. */
static struct chunk *ahead_next(struct dist_ahead *a)
{
    struct chunk *c = a->taking;

    if (c && c->taken < c->len)
        return c;
    pthread_mutex_lock(&a->mu);
    if (c && c->cap == CHUNK_SIZE) {
        c->next = a->spare;
        a->spare = c;
    } else {
        free(c);
    }
    while (!a->head && !a->done)
        pthread_cond_wait(&a->cv, &a->mu);
    if ((c = a->head)) {
        if (!(a->head = c->next))
            a->tail = NULL;
        a->queued--;
        pthread_cond_broadcast(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    return a->taking = c;
}

/* A row of the passes after the items' (the item its number) into rg. */
static int take_item_row(enum row_kind kind, const char **p, struct resuming *rg)
{
    uint32_t item = get_u32(p);

    if (kind == ROW_WAVE) {
        struct wave w;
        memcpy(&w, *p, sizeof(w));
        *p += sizeof(w);
        return add_wave(rg, item, &w);
    }
    int wave = kind == ROW_OFFERS ? (int)get_u32(p) : 0;
    int source = kind == ROW_OFFERS ? (int)get_u32(p) : 0;
    size_t n = get_u32(p);
    if (sl_grow(&rg->keys, &rg->keys_cap, n ? n : 1, sizeof(*rg->keys)) < 0) {
        rg->rc = -ENOMEM;
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        rg->keys[i] = get_key(p);
    return kind == ROW_SERVED ? resume_served(rg, item, rg->keys, n)
                              : resume_offers(rg, item, wave, source, rg->keys, n);
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
    if (kind >= ROW_WAVE)
        return take_item_row(kind, p, rg);
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
    case ROW_FOLLOW: {
        struct sl_aud_key f = { first, (uint32_t)strlen(first), get_u32(p) };
        struct sl_aud_key c = get_key(p);
        sl_audience_follow_keyed(lo->d->aud, &f, &c);
        return 0;
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
    struct chunk *c;
    bool end = false;
    int rc;

    while ((c = ahead_next(a))) {
        const char *p = c->data + c->taken;
        int stop = 0;
        while (!stop && p < c->data + c->len)
            stop = take_row(&p, lo, rg, &end);
        c->taken = (size_t)(p - c->data);
        if (stop)
            break;
    }
    pthread_mutex_lock(&a->mu);
    rc = end || c ? 0 : a->rc;
    pthread_mutex_unlock(&a->mu);
    return rg && rg->rc ? rg->rc : rc;
}

/* }===================================================================== */

int dist_load_audience(struct sl_dist *d, struct dist_ahead *a)
{
    struct loading ld = { d, (uint32_t)(sl_now_ms() / 1000) };
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
