/* SPDX-License-Identifier: MIT */
/* POST /v1/events: feedback from viewers, one object or NDJSON, all or nothing. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "commit.h"
#include "dist.h"
#include "events.h"
#include "json.h"
#include "log.h"
#include "server.h"
#include "store.h"

#define MAX_LINES 100000

const char *const sl_event_names[SL_EV__COUNT] = {
    [SL_EV_IMPRESSION] = "impression",
    [SL_EV_PLAY]       = "play",
    [SL_EV_COMPLETE]   = "complete",
    [SL_EV_LIKE]       = "like",
    [SL_EV_COMMENT]    = "comment",
    [SL_EV_SHARE]      = "share",
    [SL_EV_FOLLOW]     = "follow",
    [SL_EV_SKIP]       = "skip",
    [SL_EV_DISLIKE]    = "dislike",
    [SL_EV_REPORT]     = "report",
};

int sl_event_type_parse(const char *name)
{
    for (int i = 0; i < SL_EV__COUNT; i++)
        if (strcmp(name, sl_event_names[i]) == 0)
            return i;
    return -EINVAL;
}

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

static int events_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct events_op *b = (struct events_op *)op;
    int rc = 0;

    for (size_t i = 0; i < b->n && rc == 0; i++) {
        struct sl_event_row row = { b->ev[i].item, b->ev[i].user, b->ev[i].type,
                                    b->ev[i].watch_ms, b->ev[i].ts_ms };
        rc = sl_store_event_insert(w, &row);
    }
    /* Counters once per (item, type) run: a batch is usually many events of
     * few items, and the upsert costs more than the count. */
    for (size_t i = 0; i < b->n && rc == 0;) {
        size_t j = i + 1;
        while (j < b->n && b->ev[j].type == b->ev[i].type &&
               strcmp(b->ev[j].item, b->ev[i].item) == 0)
            j++;
        rc = sl_store_counter_add(w, b->ev[i].item, b->ev[i].type, (int64_t)(j - i));
        i = j;
    }
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
        srv->events_total += b->n;
        for (size_t i = 0; i < b->n; i++)
            sl_dist_event(srv, b->ev[i].item, b->ev[i].user, b->ev[i].type);
        sl_dist_events_done(srv);
        sl_http_reply_json(b->r, 202, json_pack("{s:I}", "accepted", (json_int_t)b->n));
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
