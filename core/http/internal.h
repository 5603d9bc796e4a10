/* SPDX-License-Identifier: MIT */
/* What the parts of the HTTP front share: the front itself, connections, the parser, rate limits. */
#ifndef SL_HTTP_INTERNAL_H
#define SL_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/util.h>

#include "http/http.h"
#include "lib/conf.h"

struct bufferevent;
struct event;
struct evconnlistener;

#define SL_HTTP_HEAD_MAX (64 * 1024)    /* request line and header fields */
#define SL_HTTP_MAX_HEADERS 100
#define SL_HTTP_MAX_LISTENERS 2         /* TCP, and the UNIX socket if any */
#define SL_HTTP_REFUSING_MAX 64         /* refusals answered at once; past that, closed bare */

/* {====================== parse.c ====================================== */

struct sl_http_field {
    char *name, *value;                 /* into the head's buffer, NUL-terminated */
};

/* A request head, parsed in place: every pointer is into the buffer given
 * to sl_http_parse_head(). */
struct sl_http_head {
    int method;                 /* enum evhttp_cmd_type; 0: a method sluice does not know */
    char *target;               /* the request target as sent */
    int minor;                  /* HTTP/1.minor */
    int nfields;
    struct sl_http_field fields[SL_HTTP_MAX_HEADERS];
    int64_t content_length;     /* -1: none */
    bool chunked;               /* Transfer-Encoding: chunked */
    bool keep_alive;            /* the client may send another request after this one */
    bool expect_continue;       /* Expect: 100-continue */
};

/* Parse buf[0..len), a request head up to and including its blank line
 * (leading blank lines already skipped); writes NULs into buf. 0, or
 * -EINVAL with *why a sentence for the 400. */
int sl_http_parse_head(char *buf, size_t len, struct sl_http_head *out, const char **why);

/* A chunk-size line of a chunked body (extensions ignored), without its
 * line end: 0 with *size, or -EINVAL. */
int sl_http_parse_chunk_size(const char *line, size_t len, uint64_t *size);

/* }===================================================================== */

/* {====================== rate.c ======================================= */

/* Token buckets by token name: each refills at rate a second up to burst. */
struct sl_rate;

int sl_rate_new(struct sl_rate **out);
void sl_rate_free(struct sl_rate *rl);
/* Take one request from name's bucket at monotonic time now: 0 when it
 * may go, else the seconds until it may (> 0). rate 0 never limits. */
double sl_rate_take(struct sl_rate *rl, const char *name, double rate, int burst, double now);

/* }===================================================================== */

/* {====================== conn.c, listen.c ============================= */

/* Why a connection was refused at accept, or cut before its request was whole. */
enum sl_refusal { SL_REFUSED_TOTAL, SL_REFUSED_ADDRESS, SL_REFUSED__COUNT };
enum sl_cut { SL_CUT_HEADER, SL_CUT_BODY, SL_CUT__COUNT };

struct sl_conn;
struct sl_addr_count;

struct sl_conn_stats {
    uint64_t accepted;
    uint64_t refused[SL_REFUSED__COUNT];
    uint64_t cut[SL_CUT__COUNT];
    uint64_t lingered;          /* closes that read the rest of a refused body first */
    uint64_t accept_paused;     /* times accepting paused: out of file descriptors */
    int open;                   /* connections open now, lingering ones included */
    int refusing;               /* refused ones still being answered */
};

/* listen.c: open the listeners the configuration names; stop accepting
 * (and close the connections waiting for a request); free what is left. */
int sl_listen_start(struct sl_http *h);
void sl_listen_stop(struct sl_http *h);
void sl_listen_free(struct sl_http *h);
/* A connection from addr closed: one less held against its address. */
void sl_listen_addr_drop(struct sl_http *h, const unsigned char addr[16]);

/* conn.c: a connection accepted within the caps (0; fd is closed on
 * failure, -ENOMEM); one past a cap, answered at once and closed. */
int sl_conn_accept(struct sl_http *h, evutil_socket_t fd, bool is_unix,
                   const unsigned char addr[16], const char *peer);
void sl_conn_refuse(struct sl_http *h, evutil_socket_t fd, enum sl_refusal why);
/* Close the connections waiting for a request; close all of them
 * (requests with handlers are detached, the others forgotten). */
void sl_conn_close_idle(struct sl_http *h);
void sl_conn_free_all(struct sl_http *h);
/* Send r's answer: status line, the Content-Type (NULL: none), r's output
 * headers and buffer. */
void sl_conn_respond(struct sl_request *r, int status, const char *reason,
                     const char *content_type);

/* }===================================================================== */

/* {====================== http.c (for conn.c) ========================== */

struct route_stats;

struct sl_http {
    struct sl_server *srv;
    struct sl_request *inflight;    /* every request not yet answered */
    int ninflight;
    const struct sl_route *routes;  /* the table main() handed over */
    int nroutes;
    struct route_stats *stats;      /* by route; [nroutes]: matched nothing */
    struct sl_rate *rate;
    uint64_t rate_limited[SL_CONF_ROLES];

    /* listen.c, conn.c */
    struct evconnlistener *listeners[SL_HTTP_MAX_LISTENERS];
    bool listener_is_unix[SL_HTTP_MAX_LISTENERS];
    int nlisteners;
    bool accepting;
    struct event *resume;           /* accepting again after running out of files */
    struct sl_conn *conns;          /* every open connection */
    struct sl_addr_count *addrs;    /* open connections by peer address */
    size_t addrs_cap, addrs_used;
    struct sl_conn_stats cs;
};

/*
 * A request head arrived on c. Make its request and decide what can be
 * decided before the body: the route, the token, the rate, the declared
 * size. 0 with *out when the body should be read and the request run;
 * 1 when the request was answered already (or could not be made). head
 * and text (what head points into, both malloc'd) become the request's,
 * freed with it, whatever the outcome. head NULL: the head was not HTTP,
 * why says how (answered 400).
 */
int sl_http_begin(struct sl_http *h, struct sl_conn *c, struct sl_http_head *head,
                  char *text, const char *why, struct sl_request **out);
/* The body of r is whole (r->req's input buffer): check it, run the handler. */
void sl_http_run(struct sl_request *r);
/* The body of r did not arrive (cut, or the client left): forget r. */
void sl_http_abandon(struct sl_request *r);

/* }===================================================================== */

#endif
