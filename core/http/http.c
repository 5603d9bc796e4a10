/* SPDX-License-Identifier: MIT */
/* The HTTP front: connections, routing by the table main() hands over, tokens, bodies, replies. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "http/auth.h"
#include "http/http.h"
#include "http/internal.h"
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

static void conn_metrics(const struct sl_http *h, struct evbuffer *out)
{
    static const char *const refusals[SL_REFUSED__COUNT] = {
        [SL_REFUSED_TOTAL] = "max_connections",
        [SL_REFUSED_ADDRESS] = "max_connections_per_address",
    };
    static const char *const cuts[SL_CUT__COUNT] = {
        [SL_CUT_HEADER] = "header_timeout",
        [SL_CUT_BODY] = "body_timeout",
    };
    const struct sl_conn_stats *cs = &h->cs;

    sl_metric_header(out, "sluice_http_connections", "gauge", "Client connections open.");
    evbuffer_add_printf(out, "sluice_http_connections %d\n", cs->open);
    sl_metric_header(out, "sluice_http_connections_accepted_total", "counter",
                     "Client connections accepted within the caps.");
    evbuffer_add_printf(out, "sluice_http_connections_accepted_total %llu\n",
                        (unsigned long long)cs->accepted);
    sl_metric_header(out, "sluice_http_connections_refused_total", "counter",
                     "Connections answered 503 or 429 and closed at once, by the cap they met.");
    for (int i = 0; i < SL_REFUSED__COUNT; i++)
        evbuffer_add_printf(out, "sluice_http_connections_refused_total{reason=\"%s\"} %llu\n",
                            refusals[i], (unsigned long long)cs->refused[i]);
    sl_metric_header(out, "sluice_http_connections_cut_total", "counter",
                     "Connections closed because a request did not arrive by its deadline.");
    for (int i = 0; i < SL_CUT__COUNT; i++)
        evbuffer_add_printf(out, "sluice_http_connections_cut_total{reason=\"%s\"} %llu\n",
                            cuts[i], (unsigned long long)cs->cut[i]);
    sl_metric_header(out, "sluice_http_lingering_closes_total", "counter",
                     "Closes that read and dropped the rest of a refused body first.");
    evbuffer_add_printf(out, "sluice_http_lingering_closes_total %llu\n",
                        (unsigned long long)cs->lingered);
    sl_metric_header(out, "sluice_http_accept_paused_total", "counter",
                     "Times accepting paused for want of file descriptors.");
    evbuffer_add_printf(out, "sluice_http_accept_paused_total %llu\n",
                        (unsigned long long)cs->accept_paused);
    sl_metric_header(out, "sluice_http_rate_limited_total", "counter",
                     "Requests answered 429: their token was over its role's rate.");
    for (int i = 0; i < SL_CONF_ROLES; i++)
        evbuffer_add_printf(out, "sluice_http_rate_limited_total{role=\"%s\"} %llu\n",
                            sl_role_name(1 << i), (unsigned long long)h->rate_limited[i]);
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
    conn_metrics(h, out);
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
    if (r->uri)
        evhttp_uri_free(r->uri);
    evhttp_request_free(r->req);
    free(r->head);
    free(r->head_text);
    free(r);
}

/* (The connection closes after it when the daemon is draining.) */
static void reply(struct sl_request *r, int status, const char *content_type,
                 struct evbuffer *body)
{
    if (body)
        evbuffer_add_buffer(evhttp_request_get_output_buffer(r->req), body);
    sl_conn_respond(r, status, reason_phrase(status), content_type);
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
        const char *q = r->uri ? evhttp_uri_get_query(r->uri) : NULL;
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

const char *sl_http_header(const struct sl_request *r, const char *name)
{
    const struct sl_http_head *hd = r->head;

    for (int i = 0; hd && i < hd->nfields; i++)
        if (strcasecmp(hd->fields[i].name, name) == 0)
            return hd->fields[i].value;
    return NULL;
}

static bool check_body(struct sl_request *r, const struct sl_route *rt)
{
    const char *ct = sl_http_header(r, "Content-Type");
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

/* A request for the head just read: in the in-flight list, its fields in
 * r->req's input headers (where handlers and auth look), its target
 * parsed. NULL when out of memory. */
static struct sl_request *request_new(struct sl_http *h, struct sl_conn *c)
{
    struct sl_request *r = calloc(1, sizeof(*r));

    if (!r || !(r->req = evhttp_request_new(NULL, NULL))) {
        free(r);
        return NULL;
    }
    r->srv = h->srv;
    r->conn = c;
    r->start = sl_mono();
    r->route = h->nroutes;          /* matched nothing, until it does */
    r->next_inflight = h->inflight;
    if (h->inflight)
        h->inflight->prev_inflight = &r->next_inflight;
    r->prev_inflight = &h->inflight;
    h->inflight = r;
    h->ninflight++;
    return r;
}

/* The token may call one request more, or is told when it may (429). */
static bool within_rate(struct sl_http *h, struct sl_request *r)
{
    int i = __builtin_ctz((unsigned)r->role);
    const struct sl_rate_limit *lim = &h->srv->cfg.rate_limits[i];
    double wait = sl_rate_take(h->rate, r->token_name, lim->rate, lim->burst, sl_mono());
    char secs[32];

    if (wait <= 0)
        return true;
    h->rate_limited[i]++;
    snprintf(secs, sizeof(secs), "%.0f", ceil(wait));
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", secs);
    sl_http_reply_errorf(r, 429, "rate_limited", NULL,
                         "The token '%s' (role %s) may send %g requests a second, %d at once; "
                         "retry in %s s.", r->token_name, sl_role_name(r->role), lim->rate,
                         lim->burst, secs);
    return false;
}

/* Route, token, rate, role: all of it is known from the head, so a request
 * refused here is refused before its body is read. */
static bool admit(struct sl_http *h, struct sl_request *r, const char *path,
                  const struct sl_route **out)
{
    bool path_known = false;
    const struct sl_route *rt = NULL;

    for (int i = 0; path && i < h->nroutes && !rt; i++) {
        int m = match(h->routes[i].pattern, path, r);
        if (m < 0) {
            sl_http_reply_errorf(r, 400, "bad_request", NULL,
                                 "The path has a segment that does not decode to text.");
            return false;
        }
        if (m == 0)
            continue;
        path_known = true;
        if ((int)h->routes[i].method == r->method) {
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
        return false;
    }
    if (h->srv->draining && rt->roles != SL_ROLE_PUBLIC) {
        sl_http_reply_errorf(r, 503, "unavailable", NULL, "The daemon is shutting down.");
        return false;
    }
    if (rt->roles != SL_ROLE_PUBLIC) {
        const char *auth = sl_http_header(r, "Authorization");
        int arc = sl_auth_check(h->srv->auth, auth, &r->token_name, &r->role);
        if (arc == -EKEYEXPIRED) {
            sl_http_reply_errorf(r, 401, "unauthorized", NULL,
                                 "The token '%s' has expired; an admin can make a new one.",
                                 r->token_name);
            return false;
        }
        if (arc < 0) {
            sl_http_reply_errorf(r, 401, "unauthorized", NULL,
                                 "Send a valid token as 'Authorization: Bearer TOKEN'.");
            return false;
        }
        /* Before the role check: a flood of forbidden calls costs its
         * token too. */
        if (!within_rate(h, r))
            return false;
        if (!(r->role & rt->roles) && r->role != SL_ROLE_ADMIN) {
            sl_http_reply_errorf(r, 403, "forbidden", NULL,
                                 "The token '%s' has the role '%s', which may not call %s.",
                                 r->token_name, sl_role_name(r->role), rt->name);
            return false;
        }
    }
    *out = rt;
    return true;
}

int sl_http_begin(struct sl_http *h, struct sl_conn *c, struct sl_http_head *head,
                  char *text, const char *why, struct sl_request **out)
{
    struct sl_request *r = request_new(h, c);
    const struct sl_route *rt = NULL;

    if (!r) {
        free(head);
        free(text);
        return 1;
    }
    /* Kept as parsed, for sl_http_header(): no copy into evhttp's list. */
    r->head = head;
    r->head_text = text;
    if (!head) {
        sl_http_reply_errorf(r, 400, "bad_request", NULL, "%s", why);
        return 1;
    }
    r->method = head->method;
    if (!(r->uri = evhttp_uri_parse_with_flags(head->target, EVHTTP_URI_NONCONFORMANT))) {
        sl_http_reply_errorf(r, 400, "bad_request", NULL, "The request target is not a URI.");
        return 1;
    }
    if (!admit(h, r, evhttp_uri_get_path(r->uri), &rt))
        return 1;
    /* Known from the head: refused at once, and the rest of the body is
     * read and dropped while the client reads the answer. */
    if (head->content_length > 0 && (uint64_t)head->content_length > h->srv->cfg.body_limit) {
        sl_http_reply_errorf(r, 413, "too_large", NULL,
                             "The body is %lld bytes; the limit is %zu.",
                             (long long)head->content_length, h->srv->cfg.body_limit);
        return 1;
    }
    *out = r;
    return 0;
}

void sl_http_run(struct sl_request *r)
{
    const struct sl_route *rt = &r->srv->http->routes[r->route];

    r->start = sl_mono();       /* the latency is the daemon's, not the upload's */
    if (check_body(r, rt))
        rt->fn(r);
}

void sl_http_abandon(struct sl_request *r)
{
    request_free(r);
}

/* }===================================================================== */

/* {====================== The front ==================================== */

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
    if (!h->stats || sl_rate_new(&h->rate) < 0) {
        free(h->stats);
        free(h);
        return -ENOMEM;
    }
    srv->http = h;
    int rc = sl_listen_start(h);
    if (rc < 0) {
        sl_http_free(h);
        srv->http = NULL;
        return rc;
    }
    *out = h;
    return 0;
}

void sl_http_stop_accepting(struct sl_http *h)
{
    sl_listen_stop(h);
}

int sl_http_inflight(const struct sl_http *h)
{
    return h->ninflight;
}

void sl_http_free(struct sl_http *h)
{
    if (!h)
        return;
    sl_conn_free_all(h);
    sl_listen_free(h);
    /* Requests whose handlers never answered (the loop is over). */
    while (h->inflight)
        request_free(h->inflight);
    sl_rate_free(h->rate);
    free(h->stats);
    free(h);
}

/* }===================================================================== */
