/* SPDX-License-Identifier: MIT */
/* The HTTP front: connections, routing by a table of handlers, tokens, bodies, replies. */
#ifndef SL_HTTP_H
#define SL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <event2/http.h>
#include <jansson.h>

#include "http/auth.h"
#include "lib/error.h"

struct evhttp_request;
struct evhttp_uri;
struct evbuffer;
struct evkeyvalq;
struct sl_conn;
struct sl_http_head;
struct sl_server;

#define SL_MAX_PARAMS 3

/*
 * One request in the hands of a handler. Owned by the HTTP module; a handler
 * must end it exactly once with sl_http_reply_*(), now or later (after a
 * commit), which frees it.
 */
struct sl_request {
    struct evhttp_request *req;     /* its headers and buffers: the request's and the answer's */
    struct sl_server *srv;
    struct sl_conn *conn;           /* NULL once the client is gone */
    int method;                     /* enum evhttp_cmd_type; 0: one sluice does not know */
    struct evhttp_uri *uri;         /* the request target */
    int route;                      /* index in the routing table */
    char *params[SL_MAX_PARAMS];    /* decoded {name} segments of the path */
    int nparams;
    const char *token_name;         /* who is calling; NULL for public routes */
    int role;
    const char *body;               /* the whole body, contiguous; not NUL-terminated */
    size_t body_len;
    bool ndjson;                    /* Content-Type: application/x-ndjson */
    double start;                   /* monotonic seconds, for latency */
    struct evkeyvalq *query;        /* parsed on first sl_http_query() */
    struct sl_http_head *head;      /* the request head as parsed (the front's; see
                                       sl_http_header) */
    char *head_text;                /* the text head's fields point into */
    struct sl_request *next_inflight, **prev_inflight;
};

typedef void (*sl_handler)(struct sl_request *r);

/* What a route's body must be before its handler runs. */
enum sl_body {
    SL_BODY_NONE,       /* a body, if any, is ignored */
    SL_BODY_JSON,       /* application/json */
    SL_BODY_EVENTS,     /* application/json or application/x-ndjson (events, follows) */
};

/* One row of the routing table: the front knows no handler but through it. */
struct sl_route {
    enum evhttp_cmd_type method;
    const char *pattern;        /* segments; "{}" captures one (sl_request.params) */
    int roles;                  /* who may call; SL_ROLE_PUBLIC: anyone */
    enum sl_body body;
    sl_handler fn;
    const char *name;           /* the metrics label */
};

struct sl_http;

/* Listen as srv->cfg says and route by routes[0..nroutes) (borrowed: it
 * must outlive the front; the first match of path and method wins). */
int sl_http_new(struct sl_server *srv, const struct sl_route *routes, int nroutes,
                struct sl_http **out);
void sl_http_free(struct sl_http *h);
/* Stop accepting connections; requests in flight still get answers. */
void sl_http_stop_accepting(struct sl_http *h);
/* Requests received and not yet answered. */
int sl_http_inflight(const struct sl_http *h);
/* Per-route counters and latency histograms in Prometheus text. */
void sl_http_metrics(const struct sl_http *h, struct evbuffer *out);

/* Answer with a JSON body (stolen) and free r. */
void sl_http_reply_json(struct sl_request *r, int status, json_t *body);
/* Answer with the contract's error body and free r. */
void sl_http_reply_error(struct sl_request *r, const struct sl_error *err);
void sl_http_reply_errorf(struct sl_request *r, int status, const char *code,
                          const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Answer with len bytes of data (copied) as content_type and free r;
 * allocates nothing, so it cannot fail. */
void sl_http_reply_bytes(struct sl_request *r, int status, const char *content_type,
                         const void *data, size_t len);
/* Answer with a text body (copied) and free r. */
void sl_http_reply_text(struct sl_request *r, int status, const char *content_type,
                        struct evbuffer *body);
/* Answer 503: the daemon is stopping (-ESHUTDOWN), out of memory (-ENOMEM),
 * or the store failed (anything else); nothing was stored. */
void sl_http_reply_store_error(struct sl_request *r, int rc);

/* The body as one strict JSON object; NULL with err set. */
json_t *sl_http_json_body(struct sl_request *r, struct sl_error *err);
/* A query-string parameter, or NULL; the string lives as long as r. */
const char *sl_http_query(struct sl_request *r, const char *key);
/* A request header field (the first of that name, any case), or NULL; the
 * string lives as long as r. The request's evhttp input headers are
 * empty: the front parses the head itself and keeps it here. */
const char *sl_http_header(const struct sl_request *r, const char *name);

#endif
