/* SPDX-License-Identifier: MIT */
/* The HTTP front: connections, routing by the table main() hands over, tokens, bodies, replies. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "http/auth.h"
#include "http/http.h"
#include "lib/clock.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/prom.h"
#include "lib/text.h"
#include "server.h"

/* {====================== Metrics ====================================== */

static const double latency_bounds[] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0
};
#define NLAT ((int)(sizeof(latency_bounds) / sizeof(latency_bounds[0])))
#define MAX_CODES 16

struct route_stats {
    int codes[MAX_CODES];
    uint64_t counts[MAX_CODES];
    uint64_t lat[NLAT + 1];
    double lat_sum;
};

struct sl_http {
    struct sl_server *srv;
    struct evhttp *evh;
    struct sl_request *inflight;    /* every request not yet answered */
    int ninflight;
    struct evhttp_bound_socket *bound[2];  /* TCP, and the UNIX socket if any */
    int nbound;
    const struct sl_route *routes;  /* the table main() handed over */
    int nroutes;
    struct route_stats *stats;      /* by route; [nroutes]: matched nothing */
};

static void stats_record(struct sl_http *h, int route, int code, double seconds)
{
    struct route_stats *s = &h->stats[route];
    int i, b;

    for (i = 0; i < MAX_CODES && s->codes[i] && s->codes[i] != code; i++)
        ;
    if (i < MAX_CODES) {
        s->codes[i] = code;
        s->counts[i]++;
    }
    for (b = 0; b < NLAT && seconds > latency_bounds[b]; b++)
        ;
    s->lat[b]++;
    s->lat_sum += seconds;
}

static const char *route_name(const struct sl_http *h, int route)
{
    return route < h->nroutes ? h->routes[route].name : "unmatched";
}

void sl_http_metrics(const struct sl_http *h, struct evbuffer *out)
{
    char labels[128];

    sl_metric_header(out, "sluice_http_requests_total", "counter",
                     "HTTP requests answered, by route and status code.");
    for (int r = 0; r <= h->nroutes; r++)
        for (int i = 0; i < MAX_CODES && h->stats[r].codes[i]; i++)
            evbuffer_add_printf(out, "sluice_http_requests_total{route=\"%s\",code=\"%d\"} %llu\n",
                                route_name(h, r), h->stats[r].codes[i],
                                (unsigned long long)h->stats[r].counts[i]);
    sl_metric_header(out, "sluice_http_request_duration_seconds", "histogram",
                     "Time from a request's arrival to its answer, by route.");
    for (int r = 0; r <= h->nroutes; r++) {
        snprintf(labels, sizeof(labels), "route=\"%s\"", route_name(h, r));
        sl_metric_hist(out, "sluice_http_request_duration_seconds", labels, latency_bounds,
                       NLAT, h->stats[r].lat, h->stats[r].lat_sum);
    }
    sl_metric_header(out, "sluice_http_inflight", "gauge", "Requests not yet answered.");
    evbuffer_add_printf(out, "sluice_http_inflight %d\n", h->ninflight);
}

/* }===================================================================== */

/* {====================== Replies ====================================== */

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default:  return status < 400 ? "OK" : "Error";
    }
}

static void request_free(struct sl_request *r)
{
    struct sl_http *h = r->srv->http;

    *r->prev_inflight = r->next_inflight;
    if (r->next_inflight)
        r->next_inflight->prev_inflight = r->prev_inflight;
    h->ninflight--;
    for (int i = 0; i < r->nparams; i++)
        free(r->params[i]);
    if (r->query) {
        evhttp_clear_headers(r->query);
        free(r->query);
    }
    free(r);
}

static void reply(struct sl_request *r, int status, const char *content_type,
                 struct evbuffer *body)
{
    struct evkeyvalq *hdr = evhttp_request_get_output_headers(r->req);

    evhttp_add_header(hdr, "Content-Type", content_type);
    if (r->srv->draining)
        evhttp_add_header(hdr, "Connection", "close");
    evhttp_send_reply(r->req, status, reason_phrase(status), body);
    stats_record(r->srv->http, r->route, status, sl_mono() - r->start);
    request_free(r);
}

void sl_http_reply_text(struct sl_request *r, int status, const char *content_type,
                        struct evbuffer *body)
{
    reply(r, status, content_type, body);
}

void sl_http_reply_bytes(struct sl_request *r, int status, const char *content_type,
                         const void *data, size_t len)
{
    /* The request's own output buffer: no allocation, so an answer to a
     * write that is already durable cannot fail for want of memory. */
    evbuffer_add(evhttp_request_get_output_buffer(r->req), data, len);
    reply(r, status, content_type, NULL);
}

void sl_http_reply_json(struct sl_request *r, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
    struct evbuffer *out = evhttp_request_get_output_buffer(r->req);

    json_decref(body);
    if (text && evbuffer_add(out, text, strlen(text)) == 0 && evbuffer_add(out, "\n", 1) == 0) {
        free(text);
        reply(r, status, "application/json", NULL);
        return;
    }
    free(text);
    evbuffer_drain(out, evbuffer_get_length(out));
    static const char oom[] = "{\"error\":{\"code\":\"unavailable\","
                              "\"message\":\"The answer could not be encoded.\"}}\n";
    sl_http_reply_bytes(r, 503, "application/json", oom, sizeof(oom) - 1);
}

void sl_http_reply_error(struct sl_request *r, const struct sl_error *err)
{
    json_t *e = json_pack("{s:s, s:s}", "code", err->code, "message", err->message);
    if (err->field[0])
        json_object_set_new(e, "field", json_string(err->field));
    sl_http_reply_json(r, err->status, json_pack("{s:o}", "error", e));
}

void sl_http_reply_errorf(struct sl_request *r, int status, const char *code,
                          const char *field, const char *fmt, ...)
{
    struct sl_error err = { .status = status, .code = code };
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err.message, sizeof(err.message), fmt, ap);
    va_end(ap);
    sl_copy(err.field, sizeof(err.field), field ? field : "");
    sl_http_reply_error(r, &err);
}

void sl_http_reply_store_error(struct sl_request *r, int rc)
{
    if (rc == -ESHUTDOWN)
        sl_http_reply_errorf(r, 503, "unavailable", NULL, "The daemon is shutting down.");
    else if (rc == -ENOMEM)
        sl_http_reply_errorf(r, 503, "unavailable", NULL,
                             "The daemon is out of memory; nothing was stored.");
    else
        sl_http_reply_errorf(r, 503, "unavailable", NULL,
                             "The store could not complete the write; nothing was stored.");
}

/* }===================================================================== */

/* {====================== Requests ===================================== */

json_t *sl_http_json_body(struct sl_request *r, struct sl_error *err)
{
    return sl_json_parse(r->body, r->body_len, true, err);
}

const char *sl_http_query(struct sl_request *r, const char *key)
{
    if (!r->query) {
        /* Out of memory reads as no parameters, which every caller
         * treats as absent: a default or a clear 400, never a crash. */
        if (!(r->query = calloc(1, sizeof(*r->query))))
            return NULL;
        const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(r->req));
        TAILQ_INIT(r->query);
        if (q && evhttp_parse_query_str(q, r->query) < 0)
            evhttp_clear_headers(r->query);
    }
    return evhttp_find_header(r->query, key);
}

static void params_clear(struct sl_request *r)
{
    for (int i = 0; i < r->nparams; i++)
        free(r->params[i]);
    r->nparams = 0;
}

/* Match path against a pattern, capturing {} segments (percent-decoded).
 * 1 on match, 0 on no match (nothing captured), -EINVAL for a capture that
 * decodes badly. */
static int match(const char *pattern, const char *path, struct sl_request *r)
{
    params_clear(r);
    while (*pattern && *path) {
        if (pattern[0] == '{' && pattern[1] == '}') {
            const char *end = strchr(path, '/');
            size_t len = end ? (size_t)(end - path) : strlen(path);
            if (len == 0 || r->nparams == SL_MAX_PARAMS)
                break;
            char *raw = strndup(path, len);
            size_t dlen = 0;
            char *val = evhttp_uridecode(raw, 0, &dlen);
            free(raw);
            if (!val || strlen(val) != dlen) {
                free(val);      /* a %00 inside an id */
                params_clear(r);
                return -EINVAL;
            }
            r->params[r->nparams++] = val;
            pattern += 2;
            path += len;
            continue;
        }
        if (*pattern != *path)
            break;
        pattern++;
        path++;
    }
    if (*pattern == '\0' && *path == '\0')
        return 1;
    params_clear(r);
    return 0;
}

/* Content-Type is TYPE, optionally followed by parameters. */
static bool media_is(const char *ct, const char *type)
{
    size_t n = strlen(type);
    return ct && strncasecmp(ct, type, n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static bool check_body(struct sl_request *r, const struct sl_route *rt)
{
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(r->req),
                                        "Content-Type");
    struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
    size_t len = evbuffer_get_length(in);

    if (rt->body == SL_BODY_NONE)
        return true;
    if (len > r->srv->cfg.body_limit) {
        sl_http_reply_errorf(r, 413, "too_large", NULL,
                             "The body is %zu bytes; the limit is %zu.", len,
                             r->srv->cfg.body_limit);
        return false;
    }
    r->ndjson = rt->body == SL_BODY_EVENTS && media_is(ct, "application/x-ndjson");
    /* An empty body needs no type; the handler decides if it may be empty. */
    if (len > 0 && !r->ndjson && !media_is(ct, "application/json")) {
        sl_http_reply_errorf(r, 415, "unsupported_media_type", NULL,
                             rt->body == SL_BODY_EVENTS
                                 ? "Send application/json or application/x-ndjson, not %s."
                                 : "Send application/json, not %s.",
                             ct ? ct : "a body without a Content-Type");
        return false;
    }
    r->body = len ? (const char *)evbuffer_pullup(in, -1) : "";
    r->body_len = len;
    return true;
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct sl_http *h = arg;
    struct sl_request *r = calloc(1, sizeof(*r));
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    bool path_known = false;
    const struct sl_route *rt = NULL;

    if (!r) {
        evhttp_send_error(req, 503, "Out of memory");
        return;
    }
    r->req = req;
    r->srv = h->srv;
    r->start = sl_mono();
    r->route = h->nroutes;          /* matched nothing, until it does */
    r->next_inflight = h->inflight;
    if (h->inflight)
        h->inflight->prev_inflight = &r->next_inflight;
    r->prev_inflight = &h->inflight;
    h->inflight = r;
    h->ninflight++;

    for (int i = 0; path && i < h->nroutes && !rt; i++) {
        int m = match(h->routes[i].pattern, path, r);
        if (m < 0) {
            sl_http_reply_errorf(r, 400, "bad_request", NULL,
                                 "The path has a segment that does not decode to text.");
            return;
        }
        if (m == 0)
            continue;
        path_known = true;
        if (h->routes[i].method == method) {
            rt = &h->routes[i];
            r->route = i;
        }
    }
    if (!rt) {
        if (path_known)
            sl_http_reply_errorf(r, 405, "method_not_allowed", NULL,
                                 "This path does not take that method.");
        else
            sl_http_reply_errorf(r, 404, "not_found", NULL, "No such route: %s.",
                                 path ? path : "?");
        return;
    }
    if (h->srv->draining && rt->roles != SL_ROLE_PUBLIC) {
        sl_http_reply_errorf(r, 503, "unavailable", NULL, "The daemon is shutting down.");
        return;
    }
    if (rt->roles != SL_ROLE_PUBLIC) {
        const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req),
                                              "Authorization");
        if (sl_auth_check(h->srv->auth, auth, &r->token_name, &r->role) < 0) {
            sl_http_reply_errorf(r, 401, "unauthorized", NULL,
                                 "Send a valid token as 'Authorization: Bearer TOKEN'.");
            return;
        }
        if (!(r->role & rt->roles) && r->role != SL_ROLE_ADMIN) {
            sl_http_reply_errorf(r, 403, "forbidden", NULL,
                                 "The token '%s' has the role '%s', which may not call %s.",
                                 r->token_name, sl_role_name(r->role), rt->name);
            return;
        }
    }
    if (!check_body(r, rt))
        return;
    rt->fn(r);
}

/* }===================================================================== */

/* {====================== Listening ==================================== */

static int bind_unix(struct sl_http *h, const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sun.sun_path)) {
        sl_err("unix_socket '%s' is too long", path);
        return -ENAMETOOLONG;
    }
    strcpy(sun.sun_path, path);
    unlink(path);   /* a stale socket from an earlier run */
    struct evconnlistener *l = evconnlistener_new_bind(
        h->srv->base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 128,
        (struct sockaddr *)&sun, sizeof(sun));
    if (!l) {
        sl_err("cannot listen on %s: %s", path, strerror(errno));
        return -errno;
    }
    chmod(path, 0660);
    h->bound[h->nbound] = evhttp_bind_listener(h->evh, l);
    return h->bound[h->nbound++] ? 0 : -EIO;
}

static int bind_tcp(struct sl_http *h, const char *listen)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;

    if (!colon || colon == listen || *end || port < 0 || port > 65535 ||
        (size_t)(colon - listen) >= sizeof(host)) {
        sl_err("listen '%s' is not ADDR:PORT", listen);
        return -EINVAL;
    }
    memcpy(host, listen, colon - listen);
    host[colon - listen] = '\0';
    /* [::1]:8420 */
    char *h6 = host;
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        host[strlen(host) - 1] = '\0';
        h6 = host + 1;
    }
    h->bound[h->nbound] = evhttp_bind_socket_with_handle(h->evh, h6, (ev_uint16_t)port);
    if (!h->bound[h->nbound]) {
        sl_err("cannot listen on %s: %s", listen, strerror(errno));
        return -EADDRINUSE;
    }
    h->nbound++;
    return 0;
}

int sl_http_new(struct sl_server *srv, const struct sl_route *routes, int nroutes,
                struct sl_http **out)
{
    struct sl_http *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->srv = srv;
    h->routes = routes;
    h->nroutes = nroutes;
    h->stats = calloc((size_t)nroutes + 1, sizeof(*h->stats));
    h->evh = h->stats ? evhttp_new(srv->base) : NULL;
    if (!h->evh) {
        free(h->stats);
        free(h);
        return -ENOMEM;
    }
    srv->http = h;
    /* Bodies up to 4x the limit reach the handler, which refuses them with
     * the contract's JSON 413; libevent answers larger ones itself. */
    size_t hard = srv->cfg.body_limit > (SIZE_MAX / 8) ? SIZE_MAX / 2 : srv->cfg.body_limit * 4;
    evhttp_set_max_body_size(h->evh, (ev_ssize_t)hard);
    evhttp_set_max_headers_size(h->evh, 64 * 1024);
    evhttp_set_timeout(h->evh, 60);
    /* Every method reaches the router, which answers the contract's 405. */
    evhttp_set_allowed_methods(h->evh, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                           EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD |
                                           EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                           EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(h->evh, on_request, h);
    int rc = bind_tcp(h, srv->cfg.listen);
    if (rc == 0 && srv->cfg.unix_socket)
        rc = bind_unix(h, srv->cfg.unix_socket);
    if (rc < 0) {
        evhttp_free(h->evh);
        free(h->stats);
        free(h);
        srv->http = NULL;
        return rc;
    }
    *out = h;
    return 0;
}

void sl_http_stop_accepting(struct sl_http *h)
{
    for (int i = 0; i < h->nbound; i++)
        evhttp_del_accept_socket(h->evh, h->bound[i]);
    h->nbound = 0;
}

int sl_http_inflight(const struct sl_http *h)
{
    return h->ninflight;
}

void sl_http_free(struct sl_http *h)
{
    if (!h)
        return;
    evhttp_free(h->evh);
    free(h->stats);
    free(h);
}

/* }===================================================================== */
