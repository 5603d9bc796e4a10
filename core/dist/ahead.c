/* SPDX-License-Identifier: MIT */
/* The start's reader: the store read on a thread of its own, into chunks of rows distribution takes in. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dist/ahead.h"
#include "dist/internal.h"
#include "lib/grow.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/mix.h"
#include "server.h"
#include "store/store.h"

/*
 * What start reads is read on a thread of its own, over a second
 * connection, and copied into chunks that the loop's thread takes in as
 * they come: the store's work (SQL, pages, the interests' and cities'
 * JSON) and the audience's overlap on two cores (bench/bench_start:
 * 200,000 items from 3.6 s to 2.2). The waves' JSON is the loop side's
 * to parse: through the waves' pass it has little else to do, while the
 * reader walks SQLite's join. At most
 * AHEAD_CHUNKS chunks wait (64 MiB); the reader stops early when the
 * loop's side failed, and the loop's side when the reader did.
 */

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

#define CHUNK_SIZE (256 * 1024)
#define AHEAD_CHUNKS 256

/*
 * Who looks the users of a row up, the reader or the loop's side, is
 * decided row by row: a lookup costs either the same (a cache miss or
 * two), and whichever thread is behind should not take it. While the loop's
 * side has LOOKUP_AHEAD chunks queued, the reader names the users the
 * users' pass sent by number; otherwise it keys them for the loop's side.
 * Either way the same user is found: only who does the work changes. Built
 * with SL_LOOKUP_AHEAD=0, the reader names all it can by number: the
 * AddressSanitizer build of ./quickstart check is, so that the suite's
 * restarts take that way, and the other build's the keyed one.
 */
#ifdef SL_LOOKUP_AHEAD
#define LOOKUP_AHEAD SL_LOOKUP_AHEAD
#else
#define LOOKUP_AHEAD 4
#endif

struct chunk {
    struct chunk *next;
    size_t len, cap;
    size_t taken;                   /* the loop's side: bytes of rows taken in */
    char data[];
};

/* Ids the reader sent (the items, the users), numbered in that order. The
 * later passes walk the items in the same order on SQLite (by
 * items_state), so the item of a row is most often the one found last or
 * the next: sent_find() tries that first, then a hash of the ids. A slot
 * holds the id's hash and place, so that a probe reads one line and
 * compares ids only when their hashes agree. */
struct sent_slot {
    uint32_t hash;
    uint32_t no;                    /* number + 1; 0: free */
    uint32_t at;                    /* offset of its id in ids */
};

struct sent_ids {
    char *ids;                      /* each NUL-ended, one after the other */
    size_t len, cap;
    uint32_t *at;                   /* number -> offset of its id in ids */
    size_t n, at_cap;
    struct sent_slot *slot;         /* by the id's hash */
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
    struct named *named;            /* an offer's users */
    uint32_t *nos;                  /* their numbers */
    size_t named_cap, nos_cap;
    struct sent_ids sent;           /* the items */
    struct sent_ids users;          /* the users, numbered up to USER_SENT */
    uint32_t served_item;           /* the item of the served marks gathered */
    char *served;                   /* their users, named as a row holds them */
    size_t served_len, served_cap, served_n;
    uint32_t waves_item;            /* the item of the waves gathered */
    char *waves;                    /* their texts, as put_str() writes them */
    size_t waves_len, waves_cap, waves_n;
    bool halted;                    /* its copy of stop, taken at each flush */
    bool ahead;                     /* the loop's side is LOOKUP_AHEAD chunks behind */
    /* The loop's alone. */
    struct chunk *taking;           /* rows of it are still to be taken in */
    uint32_t *user_index;           /* a user row's number -> the audience's index */
    size_t users_taken, user_index_cap;
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
    a->ahead = a->queued + 1 > LOOKUP_AHEAD;  /* queued >= LOOKUP_AHEAD, 0 or not */
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

#define NOT_SENT UINT32_MAX

static void sent_slot_put(struct sent_ids *si, struct sent_slot sl)
{
    uint32_t i = sl.hash & si->mask;

    while (si->slot[i].no)
        i = (i + 1) & si->mask;
    si->slot[i] = sl;
}

/* id sent as the next number: 0 or -ENOMEM. The hash is kept under half
 * full. */
static int sent_add(struct sent_ids *si, const char *id)
{
    size_t len = strlen(id) + 1;

    if (si->n >= NOT_SENT - 1 || si->len + len > UINT32_MAX ||
        sl_grow(&si->ids, &si->cap, si->len + len, 1) < 0 ||
        sl_grow(&si->at, &si->at_cap, si->n + 1, sizeof(*si->at)) < 0)
        return -ENOMEM;
    if (2 * (si->n + 1) > (size_t)si->mask) {
        struct sent_slot *old = si->slot;
        uint32_t old_mask = si->mask, mask = old ? 2 * old_mask + 1 : 1023;
        if (!(si->slot = calloc((size_t)mask + 1, sizeof(*si->slot)))) {
            si->slot = old;
            return -ENOMEM;
        }
        si->mask = mask;
        for (uint32_t i = 0; old && i <= old_mask; i++)
            if (old[i].no)
                sent_slot_put(si, old[i]);
        free(old);
    }
    memcpy(si->ids + si->len, id, len);
    si->at[si->n] = (uint32_t)si->len;
    sent_slot_put(si, (struct sent_slot){ (uint32_t)sl_hash_str(id), (uint32_t)++si->n,
                                          (uint32_t)si->len });
    si->len += len;
    return 0;
}

/* The number of id of hash h, NOT_SENT when it was not sent. */
static uint32_t sent_lookup(const struct sent_ids *si, const char *id, uint32_t h)
{
    if (!si->slot)
        return NOT_SENT;
    for (uint32_t i = h & si->mask; si->slot[i].no; i = (i + 1) & si->mask)
        if (si->slot[i].hash == h && strcmp(si->ids + si->slot[i].at, id) == 0)
            return si->slot[i].no - 1;
    return NOT_SENT;
}

/* The numbers of ids[0..n) into no[] (NOT_SENT for one not sent), of a
 * table with slots. The slots of a run, then the ids in them, are asked
 * for before any is compared, so that the cache misses overlap: a start
 * looks millions of users up (the audience's lookups do the same). */
#define LOOKUP_RUN 16

static void sent_lookup_all(const struct sent_ids *si, const char *const *ids, size_t n,
                            uint32_t *no)
{
    uint32_t h[LOOKUP_RUN];

    for (size_t base = 0; base < n; base += LOOKUP_RUN) {
        size_t m = n - base < LOOKUP_RUN ? n - base : LOOKUP_RUN;
        for (size_t i = 0; i < m; i++) {
            h[i] = (uint32_t)sl_hash_str(ids[base + i]);
            __builtin_prefetch(&si->slot[h[i] & si->mask]);
        }
        for (size_t i = 0; i < m; i++) {
            const struct sent_slot *sl = &si->slot[h[i] & si->mask];
            if (sl->no && sl->hash == h[i])
                __builtin_prefetch(si->ids + sl->at);
        }
        for (size_t i = 0; i < m; i++)
            no[base + i] = sent_lookup(si, ids[base + i], h[i]);
    }
}

/* sent_lookup() of an item of the passes that walk the items in order. */
static uint32_t sent_find(struct sent_ids *si, const char *id)
{
    for (uint32_t k = si->last; k < si->n && k <= si->last + 1; k++)
        if (strcmp(si->ids + si->at[k], id) == 0)
            return si->last = k;
    uint32_t k = sent_lookup(si, id, (uint32_t)sl_hash_str(id));
    if (k != NOT_SENT)
        si->last = k;
    return k;
}

static void sent_free(struct sent_ids *si)
{
    free(si->ids);
    free(si->at);
    free(si->slot);
}

/* A user as a row names them: by number when the users' pass sent them
 * (no, else NOT_SENT), by key otherwise. */
struct named {
    uint32_t no;
    struct sl_aud_key key;
};

/* The numbers a row names users ids[0..n) by, into no[]: NOT_SENT for
 * those left keyed, all of them while the loop's side is not behind. */
static void number_users(struct dist_ahead *a, const char *const *ids, size_t n, uint32_t *no)
{
    if (a->ahead && a->users.slot) {
        sent_lookup_all(&a->users, ids, n, no);
        return;
    }
    for (size_t i = 0; i < n; i++)
        no[i] = NOT_SENT;
}

/* How a row names user id, numbered no by number_users(), into *u: false
 * for an invalid id. */
static bool name_user(struct dist_ahead *a, const char *id, uint32_t no, struct named *u)
{
    return (u->no = no) != NOT_SENT || sl_audience_key(a->aud, id, &u->key);
}

static size_t named_size(const struct named *u)
{
    return u->no != NOT_SENT ? sizeof(uint32_t) : key_size(&u->key);
}

static char *put_named(char *p, const struct named *u)
{
    return u->no != NOT_SENT ? put_sent_user(p, u->no) : put_key(p, &u->key);
}

/* A user row, numbered as sent; one the audience would refuse is left out,
 * as taking it in would change nothing. 0, or 1 to stop. */
static int user_row(struct dist_ahead *a, const char *id, const char *city,
                    const char *const *names, size_t n, int64_t seen_s)
{
    size_t size = 1 + str_size(id) + str_size(city) + sizeof(uint32_t) + sizeof(seen_s);

    if (!sl_audience_user_ok(id, city, names, n))
        return 0;
    /* The numbers are the rows' places: past USER_SENT, none is kept. */
    if (a->users.n < USER_SENT - 1 && sent_add(&a->users, id) < 0) {
        a->rc = -ENOMEM;
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        size += str_size(names[i]);
    char *p = ahead_room(a, size);
    if (!p)
        return 1;
    *p++ = ROW_USER;
    p = put_u32(put_str(put_str(p, id), city), (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        p = put_str(p, names[i]);
    memcpy(p, &seen_s, sizeof(seen_s));
    return 0;
}

static int ahead_user(void *arg, const char *id, const char *city, const char *interests,
                      int64_t seen_s)
{
    json_t *list = interests ? json_loads(interests, 0, NULL) : NULL;
    const char *names[SL_AUD_INTERESTS_MAX];
    int rc = user_row(arg, id, city, names, dist_interest_names(list, names), seen_s);

    json_decref(list);
    return rc;
}

static int ahead_follow(void *arg, const char *follower, const char *creator)
{
    struct dist_ahead *a = arg;
    const char *ids[2] = { follower, creator };
    uint32_t no[2];
    struct named f, c;

    /* A self-follow (in a store written by hand: the API refuses one) or
     * users that are not ids: the audience would refuse the follow, and
     * taking it in would have made its users first. */
    if (strcmp(follower, creator) == 0)
        return 0;
    number_users(a, ids, 2, no);
    if (!name_user(a, follower, no[0], &f) || !name_user(a, creator, no[1], &c))
        return 0;
    char *p = ahead_room(a, 1 + named_size(&f) + named_size(&c));
    if (!p)
        return 1;
    *p++ = ROW_FOLLOW;
    put_named(put_named(p, &f), &c);
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

/* What was gathered of one item, as one row: its kind, the item, how
 * many, then len bytes of them. 0, or 1 to stop. */
static int gathered_row(struct dist_ahead *a, enum row_kind kind, uint32_t item, size_t n,
                        const void *data, size_t len)
{
    char *p = ahead_room(a, 1 + 2 * sizeof(uint32_t) + len);

    if (!p)
        return 1;
    *p++ = (char)kind;
    p = put_u32(put_u32(p, item), (uint32_t)n);
    memcpy(p, data, len);
    return 0;
}

/* The waves gathered, as one row: 0, or 1 to stop. */
static int waves_flush(struct dist_ahead *a)
{
    if (!a->waves_n)
        return 0;
    if (gathered_row(a, ROW_WAVES, a->waves_item, a->waves_n, a->waves, a->waves_len))
        return 1;
    a->waves_len = a->waves_n = 0;
    return 0;
}

static int ahead_wave(void *arg, const char *item, int n, const char *text, size_t len)
{
    struct dist_ahead *a = arg;
    uint32_t k = sent_find(&a->sent, item);

    (void)n;
    (void)len;      /* JSON text: NUL-ended, and no NUL inside */
    if (k == NOT_SENT)
        return 0;
    if (k != a->waves_item && waves_flush(a))
        return 1;
    a->waves_item = k;
    if (sl_grow(&a->waves, &a->waves_cap, a->waves_len + str_size(text), 1) < 0) {
        a->rc = -ENOMEM;
        return 1;
    }
    a->waves_len = (size_t)(put_str(a->waves + a->waves_len, text) - a->waves);
    a->waves_n++;
    return 0;
}

/* The served marks gathered, as one row: 0, or 1 to stop. */
static int served_flush(struct dist_ahead *a)
{
    if (!a->served_n)
        return 0;
    if (gathered_row(a, ROW_SERVED, a->served_item, a->served_n, a->served, a->served_len))
        return 1;
    a->served_len = a->served_n = 0;
    return 0;
}

static int ahead_served(void *arg, const char *item, const char *user)
{
    struct dist_ahead *a = arg;
    uint32_t k = sent_find(&a->sent, item), no;
    struct named u;

    if (k == NOT_SENT)
        return 0;
    number_users(a, &user, 1, &no);
    if (!name_user(a, user, no, &u))
        return 0;
    if ((k != a->served_item || a->served_n == UINT32_MAX) && served_flush(a))
        return 1;
    a->served_item = k;
    if (sl_grow(&a->served, &a->served_cap, a->served_len + named_size(&u), 1) < 0) {
        a->rc = -ENOMEM;
        return 1;
    }
    a->served_len = (size_t)(put_named(a->served + a->served_len, &u) - a->served);
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
    if (sl_grow(&a->named, &a->named_cap, n ? n : 1, sizeof(*a->named)) < 0 ||
        sl_grow(&a->nos, &a->nos_cap, n ? n : 1, sizeof(*a->nos)) < 0) {
        a->rc = -ENOMEM;
        return 1;
    }
    number_users(a, users, n, a->nos);
    for (size_t i = 0; i < n; i++)
        if (name_user(a, users[i], a->nos[i], &a->named[valid]))
            size += named_size(&a->named[valid++]);
    char *p = ahead_room(a, size);
    if (!p)
        return 1;
    *p++ = ROW_OFFERS;
    p = put_u32(put_u32(put_u32(put_u32(p, k), (uint32_t)wave), (uint32_t)source),
                (uint32_t)valid);
    for (size_t i = 0; i < valid; i++)
        p = put_named(p, &a->named[i]);
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
        (rc = sl_store_waves_each(s, "distributing", ahead_wave, a)) == 0 &&
        waves_flush(a) == 0)
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
    a->ahead = LOOKUP_AHEAD == 0;
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
    free(a->named);
    free(a->nos);
    free(a->served);
    free(a->waves);
    free(a->user_index);
    sent_free(&a->sent);
    sent_free(&a->users);
    sl_store_free(a->conn);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a);
}

/* The chunk whose rows are next, NULL when the reader is finished. */
static struct chunk *next_chunk(struct dist_ahead *a)
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

bool dist_ahead_rows(struct dist_ahead *a, const char **p, const char **end)
{
    struct chunk *c = next_chunk(a);

    if (!c)
        return false;
    *p = c->data + c->taken;
    *end = c->data + c->len;
    return true;
}

void dist_ahead_took(struct dist_ahead *a, const char *p)
{
    a->taking->taken = (size_t)(p - a->taking->data);
}

int dist_ahead_rc(struct dist_ahead *a)
{
    pthread_mutex_lock(&a->mu);
    int rc = a->rc;
    pthread_mutex_unlock(&a->mu);
    return rc;
}

int dist_ahead_user_taken(struct dist_ahead *a, uint32_t u)
{
    if (sl_grow(&a->user_index, &a->user_index_cap, a->users_taken + 1,
                sizeof(*a->user_index)) < 0)
        return -ENOMEM;
    a->user_index[a->users_taken++] = u;
    return 0;
}

uint32_t dist_ahead_user(const struct dist_ahead *a, uint32_t no)
{
    return no < a->users_taken ? a->user_index[no] : SL_AUD_NONE;
}
