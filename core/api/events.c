/* SPDX-License-Identifier: MIT */
/* POST /v1/events: feedback from viewers, one object or NDJSON, all or nothing. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "api/api.h"
#include "lib/clock.h"
#include "store/commit.h"
#include "dist/dist.h"
#include "api/events.h"
#include "lib/json.h"
#include "lib/log.h"
#include "server.h"
#include "store/store.h"

#define MAX_LINES 100000

_Static_assert(SL_EV__COUNT == SL_STORE_COUNTERS, "the store keeps a counter per event type");

/* One event as validated: its strings point into the op's own arena. */
struct event {
    char *item;
    char *user;
    int type;
    int64_t watch_ms;
    int64_t ts_ms;
};

struct events_op {
    struct sl_commit_op op;
    struct sl_request *r;
    int64_t seq;                /* the stored batch's number */
    size_t n;
    struct event *ev;
    char *arena;                /* item and user strings of all events */
};

/* Validate one event object into e, copying its strings to *arena. */
static int parse_event(json_t *obj, struct event *e, char **arena, int64_t now,
                       struct sl_error *err)
{
    static const char *const keys[] = { "item", "user", "type", "watch_ms", "ts", NULL };
    const char *item, *user, *type;
    long long watch = -1, ts = now;

    if (sl_json_only_keys(obj, keys, err) < 0 ||
        sl_json_get_id(obj, "item", true, &item, err) < 0 ||
        sl_json_get_id(obj, "user", true, &user, err) < 0 ||
        sl_json_get_string(obj, "type", true, 32, &type, err) < 0 ||
        sl_json_get_int(obj, "watch_ms", false, 0, 86400000, &watch, err) < 0 ||
        sl_json_get_int(obj, "ts", false, 0, 32503680000000LL, &ts, err) < 0)
        return -EINVAL;
    e->type = sl_event_type_parse(type);
    if (e->type < 0)
        return sl_error_set(err, 422, "invalid", "type",
                            "type must be one of impression, play, complete, like, comment, "
                            "share, follow, skip, dislike, report");
    size_t li = strlen(item) + 1, lu = strlen(user) + 1;
    e->item = *arena;
    memcpy(*arena, item, li);
    e->user = *arena + li;
    memcpy(*arena + li, user, lu);
    *arena += li + lu;
    e->watch_ms = watch;
    e->ts_ms = ts;
    return 0;
}

/* {====================== Fast path ==================================== */

/*
 * Most event lines are a flat object of plain ids, a type and integers. This
 * scanner accepts exactly those (no escapes, no non-ASCII, no fractions, no
 * duplicate or unknown keys, valid ids and ranges) without building a tree;
 * anything else, valid or not, returns false and takes the strict jansson
 * path, which also words the errors. So the fast path changes what is
 * accepted in no case, only how fast.
 */
static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

/* A plain string: printable ASCII, no backslash or quote; [*s, *e). */
static const char *plain_string(const char *p, const char *end, const char **s, size_t *n)
{
    if (p >= end || *p != '"')
        return NULL;
    const char *q = ++p;
    while (q < end && *q != '"') {
        if (*q == '\\' || (unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
            return NULL;
        q++;
    }
    if (q >= end)
        return NULL;
    *s = p;
    *n = (size_t)(q - p);
    return q + 1;
}

static const char *plain_int(const char *p, const char *end, long long *out)
{
    long long v = 0;
    const char *start = p;
    while (p < end && *p >= '0' && *p <= '9' && p - start < 15)
        v = v * 10 + (*p++ - '0');
    if (p == start || (p < end && ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' ||
                                   *p == 'E')) || (p - start > 1 && *start == '0'))
        return NULL;
    *out = v;
    return p;
}

static bool id_span(const char *s, size_t n, char **arena, char **out)
{
    if (n == 0 || n > SL_ID_MAX)
        return false;
    memcpy(*arena, s, n);
    (*arena)[n] = '\0';
    if (!sl_id_valid(*arena))
        return false;
    *out = *arena;
    *arena += n + 1;
    return true;
}

static bool fast_event(const char *p, const char *end, struct event *e, char **arena,
                       int64_t now)
{
    char *mark = *arena;
    unsigned seen = 0;
    const char *k, *v;
    size_t kn, vn;
    long long num;

    e->watch_ms = -1;
    e->ts_ms = now;
    p = skip_ws(p, end);
    if (p >= end || *p++ != '{')
        return false;
    for (;;) {
        p = skip_ws(p, end);
        if (!(p = plain_string(p, end, &k, &kn)))
            goto no;
        p = skip_ws(p, end);
        if (p >= end || *p++ != ':')
            goto no;
        p = skip_ws(p, end);
        unsigned bit;
        if (kn == 4 && memcmp(k, "item", 4) == 0) {
            bit = 1;
            if (!(p = plain_string(p, end, &v, &vn)) || !id_span(v, vn, arena, &e->item))
                goto no;
        } else if (kn == 4 && memcmp(k, "user", 4) == 0) {
            bit = 2;
            if (!(p = plain_string(p, end, &v, &vn)) || !id_span(v, vn, arena, &e->user))
                goto no;
        } else if (kn == 4 && memcmp(k, "type", 4) == 0) {
            char name[16];
            bit = 4;
            if (!(p = plain_string(p, end, &v, &vn)) || vn >= sizeof(name))
                goto no;
            memcpy(name, v, vn);
            name[vn] = '\0';
            if ((e->type = sl_event_type_parse(name)) < 0)
                goto no;
        } else if (kn == 8 && memcmp(k, "watch_ms", 8) == 0) {
            bit = 8;
            if (!(p = plain_int(p, end, &num)) || num > 86400000)
                goto no;
            e->watch_ms = num;
        } else if (kn == 2 && memcmp(k, "ts", 2) == 0) {
            bit = 16;
            if (!(p = plain_int(p, end, &num)) || num > 32503680000000LL)
                goto no;
            e->ts_ms = num;
        } else {
            goto no;
        }
        if (seen & bit)
            goto no;
        seen |= bit;
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p++ == '}')
            break;
        goto no;
    }
    if ((seen & 7) != 7 || skip_ws(p, end) != end)
        goto no;
    return true;
no:
    *arena = mark;
    return false;
}

/* }===================================================================== */

/* {====================== Per-item counters ============================ */

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

struct sl_events {
    struct sl_server *srv;
    struct tally cur;               /* batches not yet on their way to the store */
    struct tally *writing;          /* the change in flight, or NULL */
    struct event *timer;
};

struct tally_op {
    struct sl_commit_op op;
    struct sl_events *ev;
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
        if (t->names_len + len > t->names_cap) {
            size_t cap = t->names_cap ? t->names_cap : 4096;
            while (cap < t->names_len + len)
                cap *= 2;
            char *names = realloc(t->names, cap);
            if (!names)
                return -ENOMEM;
            t->names = names;
            t->names_cap = cap;
        }
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
    return rc ? rc : sl_store_mark_set(w, TALLY_MARK, o->t.upto);
}

static void tally_done(struct sl_commit_op *op, int rc)
{
    struct tally_op *o = (struct tally_op *)op;
    struct sl_events *ev = o->ev;

    ev->writing = NULL;
    if (rc < 0) {
        /* Not written: the sums go back, to be written with the next. */
        sl_err("events: writing per-item counters failed (%s); retrying", strerror(-rc));
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
static void tally_flush(struct sl_events *ev)
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

int sl_events_start(struct sl_server *srv)
{
    struct sl_events *ev = calloc(1, sizeof(*ev));
    if (!ev)
        return -ENOMEM;
    ev->srv = srv;
    srv->events = ev;
    int rc = sl_store_mark_get(srv->reader, TALLY_MARK, &ev->cur.upto);
    if (rc == 0)
        rc = sl_store_events_since(srv->reader, ev->cur.upto, recount, &ev->cur);
    if (rc < 0)
        return rc;
    if (ev->cur.used)
        sl_info("events: counting %zu items' events again, from after batch %lld",
                ev->cur.used, (long long)ev->cur.upto);
    ev->timer = event_new(srv->base, -1, EV_PERSIST, on_tally_timer, ev);
    struct timeval tv = { TALLY_EVERY_MS / 1000, (TALLY_EVERY_MS % 1000) * 1000 };
    return ev->timer && event_add(ev->timer, &tv) == 0 ? 0 : -ENOMEM;
}

void sl_events_stop(struct sl_server *srv)
{
    struct sl_events *ev = srv->events;
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

void sl_events_free(struct sl_server *srv)
{
    struct sl_events *ev = srv->events;
    if (!ev)
        return;
    tally_free(&ev->cur);
    free(ev);
    srv->events = NULL;
}

void sl_events_counts(struct sl_server *srv, const char *item, int64_t counted,
                      int64_t *counts)
{
    struct sl_events *ev = srv->events;
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

/* }===================================================================== */

static int events_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct events_op *b = (struct events_op *)op;
    int rc;

    struct sl_event_row *rows = malloc(b->n * sizeof(*rows));
    if (!rows)
        return -ENOMEM;
    for (size_t i = 0; i < b->n; i++)
        rows[i] = (struct sl_event_row){ b->ev[i].item, b->ev[i].user, b->ev[i].type,
                                         b->ev[i].watch_ms, b->ev[i].ts_ms };
    rc = sl_store_events_insert(w, rows, b->n, sl_now_ms(), &b->seq);
    free(rows);
    return rc;
}

static void events_free(struct events_op *b)
{
    free(b->ev);
    free(b->arena);
    free(b);
}

static void events_done(struct sl_commit_op *op, int rc)
{
    struct events_op *b = (struct events_op *)op;

    if (rc < 0) {
        sl_http_reply_store_error(b->r, rc);
    } else {
        struct sl_server *srv = b->r->srv;
        struct tally *t = &srv->events->cur;
        srv->events_total += b->n;
        /* Once per (item, type) run: the events are sorted that way. */
        for (size_t i = 0; i < b->n;) {
            size_t j = i + 1;
            while (j < b->n && b->ev[j].type == b->ev[i].type &&
                   strcmp(b->ev[j].item, b->ev[i].item) == 0)
                j++;
            if (tally_one(t, b->ev[i].item, b->ev[i].type, (int64_t)(j - i)) < 0)
                sl_err("events: out of memory adding up counters (they are recounted at start)");
            i = j;
        }
        t->upto = b->seq;
        for (size_t i = 0; i < b->n; i++)
            sl_dist_event(srv, b->ev[i].item, b->ev[i].user, b->ev[i].type);
        sl_dist_events_done(srv);
        struct evbuffer *buf = evbuffer_new();
        evbuffer_add_printf(buf, "{\"accepted\":%zu}\n", b->n);
        sl_http_reply_text(b->r, 202, "application/json", buf);
        evbuffer_free(buf);
    }
    events_free(b);
}

/* Sort by (item, type) so the counter pass sees runs. */
static int by_item_type(const void *a, const void *b)
{
    const struct event *x = a, *y = b;
    int c = strcmp(x->item, y->item);
    return c ? c : x->type - y->type;
}

void sl_api_events(struct sl_request *r)
{
    struct sl_error err = { 0 };
    int64_t now = sl_now_ms();
    const char *p = r->body, *end = r->body + r->body_len;
    size_t cap = 1;

    if (r->ndjson)
        for (const char *q = p; q < end; q++)
            cap += *q == '\n';
    if (cap > MAX_LINES + 1) {
        sl_http_reply_errorf(r, 413, "too_large", NULL,
                             "A batch may hold at most %d events.", MAX_LINES);
        return;
    }
    struct events_op *b = calloc(1, sizeof(*b));
    b->ev = calloc(cap, sizeof(*b->ev));
    /* Every id is shorter than the body it came from, so the body's size
     * bounds the arena. */
    b->arena = malloc(r->body_len + 2 * cap);
    char *arena = b->arena;
    if (!b->ev || !b->arena) {
        events_free(b);
        sl_http_reply_store_error(r, -ENOMEM);
        return;
    }
    size_t line = 0;
    while (p < end || (!r->ndjson && line == 0)) {
        const char *nl = r->ndjson ? memchr(p, '\n', end - p) : NULL;
        const char *stop = nl ? nl : end;
        line++;
        const char *q = p;
        while (q < stop && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (r->ndjson && q == stop) {
            p = stop + 1;
            continue;   /* blank line */
        }
        if (fast_event(p, stop, &b->ev[b->n], &arena, now)) {
            b->n++;
            p = stop + 1;
            if (!r->ndjson)
                break;
            continue;
        }
        json_t *obj = sl_json_parse(p, stop - p, true, &err);
        int rc = obj ? parse_event(obj, &b->ev[b->n], &arena, now, &err) : -EINVAL;
        json_decref(obj);
        if (rc < 0) {
            if (r->ndjson) {
                /* Name the line; keep the field in the sentence. */
                char msg[sizeof(err.message) + sizeof(err.field) + 32];
                snprintf(msg, sizeof(msg), "line %zu: %s%s%s", line, err.field,
                         err.field[0] ? ": " : "", err.message);
                snprintf(err.message, sizeof(err.message), "%.*s",
                         (int)sizeof(err.message) - 1, msg);
                snprintf(err.field, sizeof(err.field), "line %zu", line);
            }
            events_free(b);
            sl_http_reply_error(r, &err);
            return;
        }
        b->n++;
        p = stop + 1;
        if (!r->ndjson)
            break;
    }
    if (b->n == 0) {
        events_free(b);
        sl_http_reply_errorf(r, 422, "invalid", NULL, "The batch holds no events.");
        return;
    }
    /* Within one batch the order of rows carries nothing (each keeps its ts),
     * so sort once and let the counter pass see runs. */
    qsort(b->ev, b->n, sizeof(*b->ev), by_item_type);
    b->r = r;
    b->op.apply = events_apply;
    b->op.done = events_done;
    int rc = sl_commit_submit(r->srv->commit, &b->op);
    if (rc < 0) {
        events_free(b);
        sl_http_reply_store_error(r, rc);
    }
}
