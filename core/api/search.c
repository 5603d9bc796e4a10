/* SPDX-License-Identifier: MIT */
/* GET /v1/items: search what was uploaded and decided, off the loop, newest first, with a cursor. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api/api.h"
#include "api/search.h"
#include "lib/clock.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/prom.h"
#include "lib/text.h"
#include "server.h"
#include "store/readers.h"
#include "store/store.h"

#define LIMIT_DEFAULT 50
#define LIMIT_MAX 200

/* {====================== Filters ====================================== */

const char *const sl_search_keys[] = { "creator", "state", "tag", "tag_min", "queue", "matched",
    "match_kind", "decided_by", "since_ms", "until_ms", "q", NULL };

static const char *const known_states[] = { "pending", "approved", "rejected", "in_review",
    "distributing", "settled", "removed", NULL };

static int bad(struct sl_error *err, int status, const char *prefix, const char *name,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The filter's name, then what is wrong with it. */
static int bad(struct sl_error *err, int status, const char *prefix, const char *name,
               const char *fmt, ...)
{
    char field[64], msg[224];
    va_list ap;

    snprintf(field, sizeof(field), "%s%s", prefix, name);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return sl_error_set(err, status, status == 400 ? "bad_request" : "invalid", field,
                        "%s %s", field, msg);
}

static int read_id(const char *v, char *dst, size_t len, int status, const char *prefix,
                   const char *name, struct sl_error *err)
{
    if (!sl_id_valid(v))
        return bad(err, status, prefix, name, "must be an id (1 to 128 of A-Z a-z 0-9 _ - . "
                   ": @)");
    sl_copy(dst, len, v);
    return 0;
}

static int read_states(struct sl_filter *f, const char *v, int status, const char *prefix,
                       struct sl_error *err)
{
    const char *p = v;

    while (*p) {
        size_t n = strcspn(p, ",");
        int k = 0;
        while (known_states[k] && (strlen(known_states[k]) != n ||
                                   strncmp(known_states[k], p, n) != 0))
            k++;
        if (!known_states[k])
            return bad(err, status, prefix, "state", "must be states separated by commas: "
                       "pending, approved, rejected, in_review, distributing, settled, "
                       "removed");
        for (int j = 0; j < f->q.nstates; j++)
            if (strcmp(f->q.states[j], known_states[k]) == 0)
                return bad(err, status, prefix, "state", "names %s twice", known_states[k]);
        if (f->q.nstates == SL_SEARCH_STATES)
            return bad(err, status, prefix, "state", "names too many states");
        sl_copy(f->states[f->q.nstates], sizeof(f->states[0]), known_states[k]);
        f->q.states[f->q.nstates] = f->states[f->q.nstates];
        f->q.nstates++;
        p += n;
        if (*p == ',' && *++p == '\0')
            return bad(err, status, prefix, "state", "ends with a comma");
    }
    if (f->q.nstates == 0)
        return bad(err, status, prefix, "state", "is empty");
    return 0;
}

static int read_int(const char *v, int64_t *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || errno || n < 0)
        return -EINVAL;
    *out = n;
    return 0;
}

/* White space between terms: ASCII's, and the ideographic space (U+3000)
 * of Chinese and Japanese text. The length of the one at p, or 0. */
static size_t space_at(const char *p)
{
    if (*p == ' ' || (*p >= '\t' && *p <= '\r'))
        return 1;
    /* Byte by byte: a string may end within the three. */
    return (unsigned char)p[0] == 0xe3 && (unsigned char)p[1] == 0x80 &&
           (unsigned char)p[2] == 0x80 ? 3 : 0;
}

static size_t chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

/* q into its terms; short reports whether one has fewer than 3 characters. */
static int read_text(struct sl_filter *f, const char *v, int status, const char *prefix,
                     bool *shorter, struct sl_error *err)
{
    char *out = f->text;
    const char *p = v;

    *shorter = false;
    if (!sl_utf8_valid(v, strlen(v)))
        return bad(err, status, prefix, "q", "is not UTF-8");
    if (chars(v, strlen(v)) > SL_SEARCH_Q_MAX)
        return bad(err, status, prefix, "q", "is longer than 500 characters");
    for (;;) {
        size_t sp;
        while ((sp = space_at(p)) > 0)
            p += sp;
        if (!*p)
            break;
        const char *start = p;
        while (*p && !space_at(p))
            p++;
        size_t n = (size_t)(p - start), c = chars(start, n);
        if (f->q.nterms == SL_SEARCH_TERMS)
            return bad(err, status, prefix, "q", "has more than 8 words");
        if (c > SL_SEARCH_TERM_MAX)
            return bad(err, status, prefix, "q", "has a word longer than 100 characters");
        *shorter |= c < 3;
        memcpy(out, start, n);
        out[n] = '\0';
        f->q.terms[f->q.nterms++] = out;
        out += n + 1;
    }
    return 0;
}

int sl_filter_read(struct sl_filter *f, const char *(*get)(void *ctx, const char *name),
                   void *ctx, int status, const char *prefix, struct sl_error *err)
{
    const char *v;
    bool shorter = false;

    memset(f, 0, sizeof(*f));
    if ((v = get(ctx, "creator"))) {
        if (read_id(v, f->creator, sizeof(f->creator), status, prefix, "creator", err) < 0)
            return -EINVAL;
        f->q.creator = f->creator;
    }
    if ((v = get(ctx, "state")) && read_states(f, v, status, prefix, err) < 0)
        return -EINVAL;
    if ((v = get(ctx, "tag"))) {
        if (read_id(v, f->tag, sizeof(f->tag), status, prefix, "tag", err) < 0)
            return -EINVAL;
        f->q.tag = f->tag;
    }
    if ((v = get(ctx, "tag_min"))) {
        char *end;
        double m = strtod(v, &end);
        if (!*v || *end || !isfinite(m) || m < 0 || m > 1)
            return bad(err, status, prefix, "tag_min", "must be a number from 0 to 1");
        if (!f->q.tag)
            return bad(err, status, prefix, "tag_min", "needs tag: the confidence of "
                       "which tag?");
        f->q.tag_min = m;
    }
    if ((v = get(ctx, "queue"))) {
        if (read_id(v, f->queue, sizeof(f->queue), status, prefix, "queue", err) < 0)
            return -EINVAL;
        f->q.queue = f->queue;
    }
    if ((v = get(ctx, "matched"))) {
        if (read_id(v, f->matched, sizeof(f->matched), status, prefix, "matched", err) < 0)
            return -EINVAL;
        f->q.matched = f->matched;
    }
    if ((v = get(ctx, "match_kind"))) {
        if (read_id(v, f->kind, sizeof(f->kind), status, prefix, "match_kind", err) < 0)
            return -EINVAL;
        if (!f->q.matched)
            return bad(err, status, prefix, "match_kind", "needs matched: what list or "
                       "bank?");
        f->q.match_kind = f->kind;
    }
    if ((v = get(ctx, "decided_by"))) {
        /* An actor as the audit names it; a bare name is a token's. */
        bool kind = strncmp(v, "token:", 6) == 0 || strncmp(v, "policy:", 7) == 0 ||
                    strncmp(v, "plugin:", 7) == 0;
        if (!sl_id_valid(v) || (kind && !sl_id_valid(strchr(v, ':') + 1)))
            return bad(err, status, prefix, "decided_by", "must be token:NAME, "
                       "policy:VERSION, plugin:NAME or a token's NAME");
        snprintf(f->decided_by, sizeof(f->decided_by), "%s%s", kind ? "" : "token:", v);
        f->q.decided_by = f->decided_by;
    }
    f->any = f->q.creator || f->q.nstates || f->q.tag || f->q.queue || f->q.matched ||
             f->q.decided_by;
    if ((v = get(ctx, "since_ms")) && read_int(v, &f->q.since_ms) < 0)
        return bad(err, status, prefix, "since_ms", "must be milliseconds since the "
                   "epoch");
    if ((v = get(ctx, "until_ms")) && read_int(v, &f->q.until_ms) < 0)
        return bad(err, status, prefix, "until_ms", "must be milliseconds since the "
                   "epoch");
    if (f->q.since_ms && f->q.until_ms && f->q.since_ms >= f->q.until_ms)
        return bad(err, status, prefix, "until_ms", "must be later than since_ms");
    if ((v = get(ctx, "q")) && read_text(f, v, status, prefix, &shorter, err) < 0)
        return -EINVAL;
    /* A word of one or two characters is no index's: it is checked on the
     * items something else finds, never on everything stored. */
    bool longer = false;
    for (int t = 0; t < f->q.nterms; t++)
        longer |= chars(f->q.terms[t], strlen(f->q.terms[t])) >= 3;
    if (shorter && !longer && !f->any && !f->q.since_ms && !f->q.until_ms)
        return bad(err, status, prefix, "q", "has only words of 1 or 2 characters: the text "
                   "index finds 3 and more, so add a longer word or another filter (creator, "
                   "state, tag, queue, matched, decided_by, a time range)");
    f->any |= f->q.nterms > 0;
    return 0;
}

struct json_get {
    json_t *obj;
    char text[SL_SEARCH_STATES * 16 + 32];
};

static const char *json_get(void *ctx, const char *name)
{
    struct json_get *g = ctx;
    json_t *v = json_object_get(g->obj, name);
    size_t i;
    json_t *s;

    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        snprintf(g->text, sizeof(g->text), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(g->text, sizeof(g->text), "%.17g", json_real_value(v));
    else if (json_is_array(v) && strcmp(name, "state") == 0) {
        char *p = g->text, *end = g->text + sizeof(g->text);
        *p = '\0';
        json_array_foreach(v, i, s) {
            const char *st = json_string_value(s);
            int n = snprintf(p, (size_t)(end - p), "%s%s", i ? "," : "", st ? st : "?");
            if (n < 0 || n >= end - p)
                return "?";
            p += n;
        }
    } else
        return v && !json_is_null(v) ? "" : NULL;
    return g->text;
}

int sl_filter_json(struct sl_filter *f, json_t *obj, const char *prefix, struct sl_error *err)
{
    struct json_get g = { .obj = obj };
    char field[64];

    if (!json_is_object(obj)) {
        snprintf(field, sizeof(field), "%.*s", (int)strcspn(prefix, "."), prefix);
        return sl_error_set(err, 422, "invalid", field, "%s must be an object of filters",
                            field);
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        int k = 0;
        while (sl_search_keys[k] && strcmp(sl_search_keys[k], key) != 0)
            k++;
        if (!sl_search_keys[k]) {
            snprintf(field, sizeof(field), "%s%.40s", prefix, key);
            return sl_error_set(err, 422, "invalid", field, "%s is not a filter (they are "
                                "creator, state, tag, tag_min, queue, matched, match_kind, "
                                "decided_by, since_ms, until_ms, q)", field);
        }
    }
    /* A value of the wrong type reads as "", which each filter refuses. */
    for (int k = 0; sl_search_keys[k]; k++) {
        const char *s = json_get(&g, sl_search_keys[k]);
        json_t *val = json_object_get(obj, sl_search_keys[k]);
        if (s && !*s && !json_is_string(val))
            return bad(err, 422, prefix, sl_search_keys[k], "has the wrong type");
    }
    return sl_filter_read(f, json_get, &g, 422, prefix, err);
}

json_t *sl_filter_to_json(const struct sl_filter *f)
{
    const struct sl_search *q = &f->q;
    json_t *o = json_object(), *states = NULL;
    char text[sizeof(f->text)], *p = text;

    if (!o)
        return NULL;
    if (q->creator)
        json_object_set_new(o, "creator", json_string(q->creator));
    if (q->nstates && (states = json_array())) {
        for (int k = 0; k < q->nstates; k++)
            json_array_append_new(states, json_string(q->states[k]));
        json_object_set_new(o, "state", states);
    }
    if (q->tag) {
        json_object_set_new(o, "tag", json_string(q->tag));
        json_object_set_new(o, "tag_min", json_real(q->tag_min));
    }
    if (q->queue)
        json_object_set_new(o, "queue", json_string(q->queue));
    if (q->matched)
        json_object_set_new(o, "matched", json_string(q->matched));
    if (q->match_kind)
        json_object_set_new(o, "match_kind", json_string(q->match_kind));
    if (q->decided_by)
        json_object_set_new(o, "decided_by", json_string(q->decided_by));
    if (q->since_ms)
        json_object_set_new(o, "since_ms", json_integer(q->since_ms));
    if (q->until_ms)
        json_object_set_new(o, "until_ms", json_integer(q->until_ms));
    if (q->nterms) {
        for (int t = 0; t < q->nterms; t++)
            p += sprintf(p, "%s%s", t ? " " : "", q->terms[t]);
        json_object_set_new(o, "q", json_string(text));
    }
    return o;
}

void sl_search_cursor(int64_t next, char *buf, size_t len)
{
    snprintf(buf, len, "c%" PRIx64, (uint64_t)next);
}

int sl_search_cursor_parse(const char *text, int64_t *next)
{
    char *end;
    size_t n = strlen(text);

    if (n < 2 || n > 17 || text[0] != 'c' || strspn(text + 1, "0123456789abcdef") != n - 1)
        return -EINVAL;
    unsigned long long v = strtoull(text + 1, &end, 16);
    if (*end || v == 0 || v > INT64_MAX)
        return -EINVAL;
    *next = (int64_t)v;
    return 0;
}

/* }===================================================================== */

/* {====================== GET /v1/items ================================= */

/* Outcomes, for /metrics (the loop alone counts). */
enum outcome { O_OK, O_PARTIAL, O_TIMEOUT, O_BUSY, O_ERROR, O__COUNT };
static const char *const outcome_names[O__COUNT] = { "ok", "partial", "timeout", "busy",
                                                     "error" };
static const double seconds_bounds[10] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                           0.25, 0.5, 1.0 };
static struct {
    uint64_t outcomes[O__COUNT];
    uint64_t hist[11];
    double sum;
} figures;

struct search_op {
    struct sl_read_op op;
    struct sl_request *r;
    struct sl_filter f;
    struct sl_store *reader;        /* while run runs */
    json_t *items;
    struct sl_search_end end;
    int row_rc;
    int64_t cut;                    /* a row not read in time: the next page starts at it */
    double started;
};

static void count(enum outcome o, double seconds)
{
    int b = 0;
    figures.outcomes[o]++;
    while (b < 10 && seconds > seconds_bounds[b])
        b++;
    figures.hist[b]++;
    figures.sum += seconds;
}

/* On the reader thread: each item found becomes its row. */
static int collect(void *arg, int64_t seq, const char *id)
{
    struct search_op *o = arg;
    json_t *row = NULL;
    int rc = sl_store_search_row(o->reader, id, &row);

    if (rc == -ETIMEDOUT) {
        o->cut = seq + 1;       /* its row next time */
        return 1;
    }
    if (rc == 0 && json_array_append_new(o->items, row) < 0)
        rc = -ENOMEM;
    if (rc < 0) {
        o->row_rc = rc;
        return 1;
    }
    return 0;
}

static int search_run(struct sl_read_op *op, struct sl_store *reader)
{
    struct search_op *o = (struct search_op *)op;

    o->reader = reader;
    if (!(o->items = json_array()))
        return -ENOMEM;
    int rc = sl_store_search(reader, &o->f.q, collect, o, &o->end);
    if (rc == 0 && o->row_rc)
        rc = o->row_rc;
    if (rc == 0 && o->cut) {
        o->end.partial = true;
        o->end.next = o->cut;
    }
    return rc;
}

static void search_free(struct search_op *o)
{
    json_decref(o->items);
    free(o);
}

static void search_done(struct sl_read_op *op, int rc)
{
    struct search_op *o = (struct search_op *)op;
    struct sl_request *r = o->r;
    double took = sl_mono() - o->started;
    char cursor[24];

    if (rc == 0) {
        count(o->end.partial ? O_PARTIAL : O_OK, took);
        sl_search_cursor(o->end.next, cursor, sizeof(cursor));
        json_t *body = json_pack("{s:O, s:s?, s:b, s:I, s:I}", "items", o->items,
                                 "next", o->end.next ? cursor : NULL,
                                 "partial", o->end.partial,
                                 "scanned", (json_int_t)o->end.scanned,
                                 "took_ms", (json_int_t)(took * 1000));
        sl_http_reply_json(r, 200, body);
    } else if (rc == -ETIMEDOUT) {
        count(O_TIMEOUT, took);
        sl_http_reply_errorf(r, 503, "unavailable", NULL,
                             "The search found no item to look at within search_timeout_ms "
                             "(%d ms): narrow it with another filter or a longer word.",
                             r->srv->cfg.search_timeout_ms);
    } else if (rc == -ESHUTDOWN) {
        count(O_ERROR, took);
        sl_http_reply_store_error(r, rc);
    } else {
        count(O_ERROR, took);
        sl_api_read_error(r, rc);
    }
    search_free(o);
}

static const char *query_get(void *ctx, const char *name)
{
    return sl_http_query(ctx, name);
}

/* Every parameter a known one, each given once: a misspelt filter must not
 * widen a search in silence. */
static int check_params(struct sl_request *r, struct sl_error *err)
{
    static const char *const more[] = { "limit", "cursor", NULL };
    struct evkeyval *kv;

    sl_http_query(r, "limit");      /* parses the query string */
    if (!r->query)
        return sl_error_set(err, 503, "unavailable", NULL, "The daemon is out of memory.");
    TAILQ_FOREACH(kv, r->query, next) {
        bool known = false;
        for (int k = 0; sl_search_keys[k] && !known; k++)
            known = strcmp(kv->key, sl_search_keys[k]) == 0;
        for (int k = 0; more[k] && !known; k++)
            known = strcmp(kv->key, more[k]) == 0;
        if (!known)
            return sl_error_set(err, 400, "bad_request", kv->key, "'%.60s' is not a filter of "
                                "a search (creator, state, tag, tag_min, queue, matched, "
                                "match_kind, decided_by, since_ms, until_ms, q; limit, "
                                "cursor).", kv->key);
        for (struct evkeyval *o = TAILQ_NEXT(kv, next); o; o = TAILQ_NEXT(o, next))
            if (strcmp(o->key, kv->key) == 0)
                return sl_error_set(err, 400, "bad_request", kv->key, "%s is given twice "
                                    "(several states go in one, separated by commas).",
                                    kv->key);
    }
    return 0;
}

void sl_api_search(struct sl_request *r)
{
    struct sl_error err = { 0 };
    const char *v;
    int64_t limit = LIMIT_DEFAULT, before = 0;
    struct search_op *o = calloc(1, sizeof(*o));

    if (!o) {
        sl_http_reply_store_error(r, -ENOMEM);
        return;
    }
    if (check_params(r, &err) < 0 ||
        sl_filter_read(&o->f, query_get, r, 400, "", &err) < 0 ||
        ((v = sl_http_query(r, "limit")) && (read_int(v, &limit) < 0 || limit < 1 ||
                                               limit > LIMIT_MAX) &&
         sl_error_set(&err, 400, "bad_request", "limit", "limit must be from 1 to %d.",
                      LIMIT_MAX) < 0) ||
        ((v = sl_http_query(r, "cursor")) && sl_search_cursor_parse(v, &before) < 0 &&
         sl_error_set(&err, 400, "bad_request", "cursor", "cursor must be the 'next' of an "
                      "earlier answer.") < 0)) {
        free(o);
        sl_http_reply_error(r, &err);
        return;
    }
    double timeout = r->srv->cfg.search_timeout_ms / 1000.0;
    o->r = r;
    o->started = sl_mono();
    o->f.q.limit = limit;
    o->f.q.before = before;
    /* The scan stops at the deadline and answers what it found; the bound
     * on every statement, a little later, stops one step that runs long. */
    o->f.q.deadline = o->started + timeout;
    o->op.deadline = o->f.q.deadline + (timeout / 4 > 0.05 ? timeout / 4 : 0.05);
    o->op.run = search_run;
    o->op.done = search_done;
    o->op.indexed = true;
    int rc = sl_readers_submit(r->srv->readers, &o->op);
    if (rc == -EBUSY) {
        count(O_BUSY, 0);
        evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", "1");
        sl_http_reply_errorf(r, 429, "too_many_searches", NULL,
                             "Every search thread is busy and %d searches wait already "
                             "(search_workers, search_queue): try again in a moment.",
                             r->srv->cfg.search_queue);
    } else if (rc < 0) {
        sl_http_reply_store_error(r, rc);
    }
    if (rc < 0)
        search_free(o);
}

void sl_api_search_metrics(struct sl_server *srv, struct evbuffer *out)
{
    struct sl_readers_stats st;

    sl_metric_header(out, "sluice_searches_total", "counter",
                     "Searches (GET /v1/items) by outcome: ok, partial (the time bound "
                     "ended the page), timeout, busy (refused, 429), error.");
    for (int o = 0; o < O__COUNT; o++)
        evbuffer_add_printf(out, "sluice_searches_total{outcome=\"%s\"} %llu\n",
                            outcome_names[o], (unsigned long long)figures.outcomes[o]);
    sl_metric_header(out, "sluice_search_seconds", "histogram",
                     "Time from a search's arrival to its answer.");
    sl_metric_hist(out, "sluice_search_seconds", NULL, seconds_bounds, 10, figures.hist,
                   figures.sum);
    if (!srv->readers)
        return;
    sl_readers_stats(srv->readers, &st);
    sl_metric_header(out, "sluice_readers_busy", "gauge",
                     "Reader threads running a search or a job's slice now.");
    evbuffer_add_printf(out, "sluice_readers_busy %d\n", st.running);
    sl_metric_header(out, "sluice_readers_waiting", "gauge",
                     "Searches and job slices waiting for a reader thread.");
    evbuffer_add_printf(out, "sluice_readers_waiting %d\n", st.waiting);
}

/* }===================================================================== */
