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
#include "api/events.h"
#include "dist/dist.h"
#include "lib/clock.h"
#include "lib/event.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/mix.h"
#include "server.h"
#include "store/commit.h"
#include "store/counters.h"
#include "store/store.h"

struct events_op {
    struct sl_commit_op op;
    struct sl_request *r;
    int64_t seq;                /* the stored batch's number */
    struct sl_events b;
};

/* Validate one event object into e, copying its strings to *arena. */
static int parse_event(json_t *obj, struct sl_event *e, char **arena, int64_t now,
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

/* A byte of a plain string: printable ASCII but the quote and the backslash. */
static inline bool plain_byte(unsigned char c)
{
    return (unsigned)(c - 0x20) < 0x5f && c != '"' && c != '\\';
}

/* A plain string: printable ASCII, no backslash or quote; [*s, *e). */
static const char *plain_string(const char *p, const char *end, const char **s, size_t *n)
{
    if (p >= end || *p != '"')
        return NULL;
    const char *q = ++p;
    while (q < end && plain_byte((unsigned char)*q))
        q++;
    if (q >= end || *q != '"')
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

/* A quoted id, scanned once with the id table and copied to the arena: a
 * value that is anything else (escapes, other characters) is left to the
 * strict path. */
static const char *id_value(const char *p, const char *end, char **arena, char **out)
{
    const unsigned char *q;

    if (p >= end || *p != '"')
        return NULL;
    q = (const unsigned char *)++p;
    while (q < (const unsigned char *)end && sl_id_chars[*q])
        q++;
    size_t n = (size_t)((const char *)q - p);
    if (q >= (const unsigned char *)end || *q != '"' || n == 0 || n > SL_ID_MAX || *p == '.')
        return NULL;
    memcpy(*arena, p, n);
    (*arena)[n] = '\0';
    *out = *arena;
    *arena += n + 1;
    return (const char *)q + 1;
}

/* A quoted key: its text up to the next quote, which for the five known
 * keys is all of it (a key with an escaped quote matches none of them). */
static const char *key_of(const char *p, const char *end, const char **k, size_t *n)
{
    if (p >= end || *p != '"')
        return NULL;
    const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
    if (!q)
        return NULL;
    *k = p + 1;
    *n = (size_t)(q - p - 1);
    return q + 1;
}

static bool fast_event(const char *p, const char *end, struct sl_event *e, char **arena,
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
        if (!(p = key_of(p, end, &k, &kn)))
            goto no;
        p = skip_ws(p, end);
        if (p >= end || *p++ != ':')
            goto no;
        p = skip_ws(p, end);
        unsigned bit;
        if (kn == 4 && memcmp(k, "item", 4) == 0) {
            bit = 1;
            if (!(p = id_value(p, end, arena, &e->item)))
                goto no;
        } else if (kn == 4 && memcmp(k, "user", 4) == 0) {
            bit = 2;
            if (!(p = id_value(p, end, arena, &e->user)))
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

/* {====================== The batch ================================== */

void sl_events_clear(struct sl_events *batch)
{
    free(batch->ev);
    free(batch->arena);
    *batch = (struct sl_events){ 0 };
}

/* One event of the body, [p, stop), into out->ev[out->n]. */
static int event_at(const char *p, const char *stop, bool fast, int64_t now,
                    struct sl_events *out, char **arena, struct sl_error *err)
{
    if (fast && fast_event(p, stop, &out->ev[out->n], arena, now))
        return 0;
    json_t *obj = sl_json_parse(p, stop - p, true, err);
    int rc = obj ? parse_event(obj, &out->ev[out->n], arena, now, err) : -EINVAL;
    json_decref(obj);
    return rc;
}

int sl_events_parse(const char *body, size_t len, unsigned flags, int64_t now,
                    struct sl_events *out, struct sl_error *err)
{
    bool ndjson = flags & SL_EVENTS_NDJSON, fast = !(flags & SL_EVENTS_STRICT);
    struct sl_ndjson lines;
    size_t cap = 1;
    int rc = 0;

    *out = (struct sl_events){ 0 };
    if (ndjson && sl_ndjson_begin(&lines, body, len, SL_EVENTS_MAX, "events", &cap, err) < 0)
        return -EINVAL;
    out->ev = calloc(cap, sizeof(*out->ev));
    /* Every id is shorter than the line it came from, so the body's size
     * bounds the arena. */
    out->arena = malloc(len + 2 * cap);
    if (!out->ev || !out->arena) {
        sl_events_clear(out);
        return -ENOMEM;
    }
    char *arena = out->arena;
    if (!ndjson) {
        if ((rc = event_at(body, body + len, fast, now, out, &arena, err)) == 0)
            out->n++;
    } else {
        const char *p, *stop;
        while (rc == 0 && sl_ndjson_next(&lines, &p, &stop))
            if ((rc = event_at(p, stop, fast, now, out, &arena, err)) == 0)
                out->n++;
            else
                sl_ndjson_name_line(err, lines.line);
    }
    if (rc < 0) {
        sl_events_clear(out);
        return -EINVAL;
    }
    if (out->n == 0) {
        sl_events_clear(out);
        return sl_error_set(err, 422, "invalid", NULL, "The batch holds no events.");
    }
    return 0;
}

/* }===================================================================== */

/* {====================== The write ==================================== */

static int events_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct events_op *e = (struct events_op *)op;
    const struct sl_events *b = &e->b;
    int rc;

    struct sl_event_row *rows = malloc(b->n * sizeof(*rows));
    if (!rows)
        return -ENOMEM;
    for (size_t i = 0; i < b->n; i++)
        rows[i] = (struct sl_event_row){ b->ev[i].item, b->ev[i].user, b->ev[i].type,
                                         b->ev[i].watch_ms, b->ev[i].ts_ms };
    rc = sl_store_events_insert(w, rows, b->n, sl_now_ms(), &e->seq);
    free(rows);
    return rc;
}

static void events_free(struct events_op *e)
{
    if (!e)
        return;
    sl_events_clear(&e->b);
    free(e);
}

static void events_drop(struct sl_commit_op *op)
{
    events_free((struct events_op *)op);
}

static void events_done(struct sl_commit_op *op, int rc)
{
    struct events_op *e = (struct events_op *)op;
    const struct sl_events *b = &e->b;

    if (rc < 0) {
        sl_http_reply_store_error(e->r, rc);
    } else {
        struct sl_server *srv = e->r->srv;
        srv->events_total += b->n;
        /* Once per (item, type) run: the events are grouped that way. */
        for (size_t i = 0; i < b->n;) {
            size_t j = i + 1;
            while (j < b->n && b->ev[j].type == b->ev[i].type &&
                   strcmp(b->ev[j].item, b->ev[i].item) == 0)
                j++;
            if (sl_counters_add(srv, b->ev[i].item, b->ev[i].type, (int64_t)(j - i)) < 0)
                sl_err("events: out of memory adding up counters (they are recounted at start)");
            i = j;
        }
        sl_counters_upto(srv, e->seq);
        /* Distribution looks each item up once per run of it. */
        const char **users = b->n > 1 ? malloc(b->n * sizeof(*users)) : NULL;
        int *types = users ? malloc(b->n * sizeof(*types)) : NULL;
        for (size_t i = 0; i < b->n;) {
            size_t j = i + 1;
            if (types) {
                users[0] = b->ev[i].user;
                types[0] = b->ev[i].type;
                for (; j < b->n && strcmp(b->ev[j].item, b->ev[i].item) == 0; j++) {
                    users[j - i] = b->ev[j].user;
                    types[j - i] = b->ev[j].type;
                }
                sl_dist_item_events(srv, b->ev[i].item, users, types, j - i);
            } else {
                sl_dist_event(srv, b->ev[i].item, b->ev[i].user, b->ev[i].type);
            }
            i = j;
        }
        free(users);
        free(types);
        sl_dist_events_done(srv);
        char text[48], *p = sl_json_put_lit(text, "{\"accepted\":");
        p = sl_json_put_int(p, (long long)b->n);
        p = sl_json_put_lit(p, "}\n");
        sl_http_reply_bytes(e->r, 202, "application/json", text, (size_t)(p - text));
    }
    events_free(e);
}

/*
 * Group the batch by (item, type), items in the order they first come, so
 * the counter pass sees runs; within a batch the order of rows carries
 * nothing (each keeps its ts). A sort by item compared strings some ten
 * thousand times a batch of a thousand: this hashes each item once, then
 * places each event by counting. 0 or -ENOMEM.
 */
static int group_events(struct sl_events *b)
{
    size_t n = b->n, cap = 16, ngroups = 0;

    if (n < 2)
        return 0;
    while (cap < 2 * n)
        cap *= 2;
    uint32_t *slots = calloc(cap, sizeof(*slots));      /* event index + 1 of a group's first */
    uint32_t *group_of_slot = malloc(cap * sizeof(*group_of_slot));
    uint32_t *key = malloc(n * sizeof(*key));
    size_t *count = NULL;
    struct sl_event *ev = malloc(n * sizeof(*ev));
    int rc = -ENOMEM;

    if (!slots || !group_of_slot || !key || !ev)
        goto out;
    for (size_t i = 0; i < n; i++) {
        size_t j = (size_t)sl_hash_str(b->ev[i].item) & (cap - 1);
        while (slots[j] && strcmp(b->ev[slots[j] - 1].item, b->ev[i].item) != 0)
            j = (j + 1) & (cap - 1);
        if (!slots[j]) {
            slots[j] = (uint32_t)i + 1;
            group_of_slot[j] = (uint32_t)ngroups++;
        }
        key[i] = group_of_slot[j] * SL_EV__COUNT + (uint32_t)b->ev[i].type;
    }
    size_t nkeys = ngroups * SL_EV__COUNT;
    if (!(count = calloc(nkeys + 1, sizeof(*count))))
        goto out;
    for (size_t i = 0; i < n; i++)
        count[key[i] + 1]++;
    for (size_t k = 1; k <= nkeys; k++)
        count[k] += count[k - 1];
    for (size_t i = 0; i < n; i++)
        ev[count[key[i]]++] = b->ev[i];
    free(b->ev);
    b->ev = ev;
    ev = NULL;
    rc = 0;
out:
    free(slots);
    free(group_of_slot);
    free(key);
    free(count);
    free(ev);
    return rc;
}

void sl_api_events(struct sl_request *r)
{
    struct sl_error err = { 0 };
    struct events_op *e = calloc(1, sizeof(*e));

    if (!e) {
        sl_http_reply_store_error(r, -ENOMEM);
        return;
    }
    int rc = sl_events_parse(r->body, r->body_len, r->ndjson ? SL_EVENTS_NDJSON : 0,
                             sl_now_ms(), &e->b, &err);
    if (rc < 0) {
        events_free(e);
        if (rc == -ENOMEM)
            sl_http_reply_store_error(r, rc);
        else
            sl_http_reply_error(r, &err);
        return;
    }
    if (group_events(&e->b) < 0) {
        events_free(e);
        sl_http_reply_store_error(r, -ENOMEM);
        return;
    }
    e->r = r;
    /* A batch of events only adds its own row: it need not wait for the
     * distribution's writes queued before it. */
    sl_api_submit_ahead(r, &e->op, events_apply, events_done, events_drop);
}

/* }===================================================================== */
