/* SPDX-License-Identifier: MIT */
/* A connection's life: reading heads and bodies against their deadlines, answering, lingering. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "http/internal.h"
#include "lib/log.h"
#include "server.h"

#define LINE_MAX_BYTES 4096         /* a chunk-size line */
#define TRAILER_MAX_BYTES 8192      /* the trailer fields of a chunked body */
#define REFUSAL_LINGER_S 1          /* a refused connection's time to read its answer */

/*
 * A connection's life. The deadlines are totals, not idle timers: a client
 * that sends one byte a second still meets the header deadline (nginx's
 * client_header_timeout; its client_body_timeout is an idle timer, which a
 * one-byte-a-second body never trips, so the body's deadline here is whole).
 */
enum phase {
    PH_IDLE,        /* no byte of the next request yet */
    PH_HEAD,        /* a request head is arriving: the header deadline runs */
    PH_BODY,        /* its body is arriving: the body deadline runs */
    PH_HANDLER,     /* the request is with its handler; reading holds at a few KiB */
    PH_WRITING,     /* the answer is going out */
    PH_LINGER,      /* answered, closing: what the client still sends is read and dropped */
};

enum chunk_state { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER };

struct sl_conn {
    struct sl_http *h;
    struct bufferevent *bev;
    struct event *timer;
    enum phase phase;
    bool first;             /* no request yet: the header deadline runs from accept */
    bool is_unix;
    bool refusal;           /* refused at accept: not counted, answered and closed */
    bool close_after;       /* close once the answer is out */
    bool discard;           /* a body is left unread: drop it and linger before closing */
    bool peer_done;         /* the client shut its side after its request */
    unsigned char addr[16]; /* the peer's address (IPv4 as ::ffff:a.b.c.d) */
    char peer[64];          /* for the log */
    /* the request being read */
    struct sl_request *req;
    size_t scan, line_start;    /* of the head: bytes searched, where the last line began */
    bool keep_alive, head_only;
    int64_t body_left;      /* Content-Length bytes, or the current chunk's, still to come */
    bool chunked;
    enum chunk_state chunk;
    uint64_t body_len;      /* body bytes so far (chunked) */
    size_t trailer_len;
    struct sl_conn *next, **prev;
};

/* {====================== Life and death =============================== */

static void arm(struct sl_conn *c, int seconds)
{
    struct timeval tv = { seconds, 0 };
    evtimer_add(c->timer, &tv);
}

/*
 * Reading stays on from accept to close: turning it off while a handler
 * works and on again after the answer cost two epoll_ctl calls a request,
 * as many system calls as reading and writing it. What a client sends
 * meanwhile (pipelined requests) waits in the input buffer, held to
 * READ_HELD bytes by a watermark, so a client still cannot queue work or
 * memory without bound; between requests the buffer may hold a whole head.
 */
#define READ_HELD 4096
#define READ_HEAD (SL_HTTP_HEAD_MAX + 1)

static void read_limit(struct sl_conn *c, size_t high)
{
    bufferevent_setwatermark(c->bev, EV_READ, 0, high);
}

static void conn_free(struct sl_conn *c)
{
    struct sl_http *h = c->h;

    if (c->req) {
        struct sl_request *r = c->req;
        r->conn = NULL;
        c->req = NULL;
        /* A request with its handler is answered into the void; one whose
         * body never came is forgotten. */
        if (c->phase == PH_HEAD || c->phase == PH_BODY)
            sl_http_abandon(r);
    }
    *c->prev = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->refusal) {
        h->cs.refusing--;
    } else {
        h->cs.open--;
        if (!c->is_unix)
            sl_listen_addr_drop(h, c->addr);
    }
    event_free(c->timer);
    bufferevent_free(c->bev);
    free(c);
}

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);
static void on_deadline(evutil_socket_t fd, short what, void *arg);

static struct sl_conn *conn_new(struct sl_http *h, evutil_socket_t fd, bool refusal)
{
    struct sl_conn *c = calloc(1, sizeof(*c));
    struct event_base *base = h->srv->base;

    if (!c)
        return NULL;
    c->h = h;
    c->refusal = refusal;
    c->first = true;
    c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->timer = c->bev ? evtimer_new(base, on_deadline, c) : NULL;
    if (!c->timer) {
        if (c->bev)
            bufferevent_free(c->bev);   /* closes fd */
        else
            evutil_closesocket(fd);
        free(c);
        return NULL;
    }
    /* A stalled answer (the client reads nothing) ends after the idle timeout. */
    struct timeval wt = { h->srv->cfg.idle_timeout_seconds, 0 };
    bufferevent_set_timeouts(c->bev, NULL, &wt);
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    /* Writing is on only while an answer waits for the socket (see
     * sl_conn_respond): queuing output then schedules nothing. */
    bufferevent_disable(c->bev, EV_WRITE);
    bufferevent_setwatermark(c->bev, EV_READ, 0, READ_HEAD);
    c->next = h->conns;
    if (h->conns)
        h->conns->prev = &c->next;
    c->prev = &h->conns;
    h->conns = c;
    if (refusal)
        h->cs.refusing++;
    else
        h->cs.open++;
    return c;
}

/* Cut a client too slow to send its request: a best-effort 408, then close. */
static void cut(struct sl_conn *c, enum sl_cut why)
{
    static const char *const msg[SL_CUT__COUNT] = {
        [SL_CUT_HEADER] = "The request head did not arrive in time.",
        [SL_CUT_BODY] = "The request body did not arrive in time.",
    };
    char buf[512];
    int n = snprintf(buf, sizeof(buf),
                     "{\"error\":{\"code\":\"timeout\",\"message\":\"%s\"}}\n", msg[why]);
    int m = snprintf(buf + n + 1, sizeof(buf) - (size_t)n - 1,
                     "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
                     "Content-Length: %d\r\nConnection: close\r\n\r\n", n);
    evutil_socket_t fd = bufferevent_getfd(c->bev);

    c->h->cs.cut[why]++;
    sl_debug("http: %s: cut: %s", c->peer, msg[why]);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0 &&
        send(fd, buf + n + 1, (size_t)m, MSG_DONTWAIT | MSG_NOSIGNAL) == m)
        (void)!send(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
    conn_free(c);
}

/* Answered and closing with input left: stop writing, read and drop
 * until the client closes or the time is up, so that the client still
 * sending reads its answer instead of a reset. */
static void linger(struct sl_conn *c)
{
    c->phase = PH_LINGER;
    c->h->cs.lingered += !c->refusal;
    shutdown(bufferevent_getfd(c->bev), SHUT_WR);
    evbuffer_drain(bufferevent_get_input(c->bev), evbuffer_get_length(bufferevent_get_input(c->bev)));
    bufferevent_disable(c->bev, EV_WRITE);
    bufferevent_enable(c->bev, EV_READ);
    arm(c, c->refusal ? REFUSAL_LINGER_S : c->h->srv->cfg.body_timeout_seconds);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct sl_conn *c = arg;
    (void)fd;
    (void)what;

    switch (c->phase) {
    case PH_IDLE:
        if (c->first)
            cut(c, SL_CUT_HEADER);
        else
            conn_free(c);       /* kept alive long enough */
        return;
    case PH_HEAD:
        cut(c, SL_CUT_HEADER);
        return;
    case PH_BODY:
        cut(c, SL_CUT_BODY);
        return;
    case PH_LINGER:
        conn_free(c);
        return;
    case PH_HANDLER:
    case PH_WRITING:
        return;                 /* never armed there */
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct sl_conn *c = arg;

    /* A client that sent its request and shut its side still reads the
     * answer, while its handler works or as it goes out; the connection
     * closes after it. */
    if ((c->phase == PH_HANDLER || c->phase == PH_WRITING) && (what & BEV_EVENT_READING) &&
        (what & BEV_EVENT_EOF)) {
        bufferevent_disable(bev, EV_READ);
        c->peer_done = true;
        return;
    }
    /* EOF, a reset, or an answer the client stopped reading (the write
     * timeout): nothing more can be said on this connection. */
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        conn_free(c);
}

/* }===================================================================== */

/* {====================== Reading a request ============================ */

static int read_body(struct sl_conn *c);

/* A head that is not HTTP: answer 400 and close (at once, when even the
 * answer cannot be made). -1: nothing more to read. */
static int bad_head(struct sl_conn *c, const char *why)
{
    c->keep_alive = false;
    c->discard = true;
    sl_http_begin(c->h, c, NULL, NULL, why, NULL);
    if (c->phase != PH_WRITING)
        conn_free(c);
    return -1;
}

/* Find the blank line that ends the head, from where the last call
 * stopped: each byte is searched once, however slowly it came. */
static ssize_t head_end(struct sl_conn *c, struct evbuffer *in)
{
    struct evbuffer_ptr p;
    size_t len = evbuffer_get_length(in);

    if (evbuffer_ptr_set(in, &p, c->scan, EVBUFFER_PTR_SET) < 0)
        return -1;
    for (;;) {
        p = evbuffer_search(in, "\n", 1, &p);
        if (p.pos < 0) {
            c->scan = len;
            return -1;
        }
        size_t at = (size_t)p.pos, line = at - c->line_start;
        char cr = 0;
        if (line == 1) {
            struct evbuffer_ptr q;
            evbuffer_ptr_set(in, &q, c->line_start, EVBUFFER_PTR_SET);
            evbuffer_copyout_from(in, &q, &cr, 1);
        }
        c->line_start = at + 1;
        c->scan = at + 1;
        if (line == 0 || (line == 1 && cr == '\r'))
            return (ssize_t)(at + 1);
        if (evbuffer_ptr_set(in, &p, 1, EVBUFFER_PTR_ADD) < 0) {
            c->scan = len;
            return -1;
        }
    }
}

static int read_head(struct sl_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    const struct sl_config *cfg = &c->h->srv->cfg;
    unsigned char b;

    /* Blank lines before a request line are ignored (RFC 9112 2.2). */
    while (c->phase == PH_IDLE && evbuffer_copyout(in, &b, 1) == 1 && (b == '\r' || b == '\n'))
        evbuffer_drain(in, 1);
    if (evbuffer_get_length(in) == 0)
        return 0;
    if (c->phase == PH_IDLE) {
        c->phase = PH_HEAD;
        c->scan = c->line_start = 0;
        if (!c->first)
            arm(c, cfg->header_timeout_seconds);
    }
    ssize_t n = head_end(c, in);
    if (n > SL_HTTP_HEAD_MAX || (n < 0 && evbuffer_get_length(in) > SL_HTTP_HEAD_MAX))
        return bad_head(c, "The request head is larger than 64 KiB.");
    if (n < 0)
        return 0;
    char *buf = malloc((size_t)n + 1);
    struct sl_http_head *hd = malloc(sizeof(*hd));
    const char *why = "The daemon is out of memory.";
    if (!buf || !hd || evbuffer_remove(in, buf, (size_t)n) != n ||
        sl_http_parse_head(buf, (size_t)n, hd, &why) < 0) {
        free(buf);
        free(hd);
        return bad_head(c, why);
    }
    c->first = false;
    c->keep_alive = hd->keep_alive;
    c->head_only = hd->method == EVHTTP_REQ_HEAD;
    c->chunked = hd->chunked;
    c->chunk = CH_SIZE;
    c->body_left = hd->chunked ? 0 : hd->content_length > 0 ? hd->content_length : 0;
    c->body_len = c->trailer_len = 0;
    bool expect = hd->expect_continue && hd->minor == 1;
    struct sl_request *r = NULL;
    int rc = sl_http_begin(c->h, c, hd, buf, NULL, &r);
    if (rc != 0) {
        if (c->phase == PH_WRITING)
            return 1;           /* answered already */
        conn_free(c);           /* could not even be answered */
        return -1;
    }
    c->req = r;
    if (!c->chunked && c->body_left == 0)
        return read_body(c);
    c->phase = PH_BODY;
    arm(c, cfg->body_timeout_seconds);
    if (expect && evbuffer_get_length(in) == 0) {
        bufferevent_write(c->bev, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        bufferevent_enable(c->bev, EV_WRITE);
    }
    return 1;
}

/* One line of a chunked body's framing into buf: its length, -EAGAIN for
 * more input, -EINVAL when longer than max. */
static ssize_t take_line(struct evbuffer *in, char *buf, size_t max)
{
    size_t eol = 0;
    struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol, EVBUFFER_EOL_CRLF);

    if (p.pos < 0)
        return evbuffer_get_length(in) > max ? -EINVAL : -EAGAIN;
    if ((size_t)p.pos >= max)
        return -EINVAL;
    evbuffer_remove(in, buf, (size_t)p.pos);
    evbuffer_drain(in, eol);
    buf[p.pos] = '\0';
    return p.pos;
}

/* Move the body into the request; 1 when it is whole and the handler has
 * it, 0 for more input, -1 when the request was answered (refused). */
static int read_chunked(struct sl_conn *c, struct evbuffer *in, struct evbuffer *body)
{
    size_t limit = c->h->srv->cfg.body_limit;
    char line[LINE_MAX_BYTES];

    for (;;) {
        if (c->chunk == CH_DATA) {
            size_t n = evbuffer_get_length(in);
            if (n == 0)
                return 0;
            if (n > (uint64_t)c->body_left)
                n = (size_t)c->body_left;
            evbuffer_remove_buffer(in, body, n);
            c->body_left -= (int64_t)n;
            if (c->body_left == 0)
                c->chunk = CH_DATA_END;
            continue;
        }
        ssize_t len = take_line(in, line, sizeof(line));
        if (len == -EAGAIN)
            return 0;
        uint64_t size = 0;
        if (len < 0 || (c->chunk == CH_DATA_END && len != 0) ||
            (c->chunk == CH_SIZE && sl_http_parse_chunk_size(line, (size_t)len, &size) < 0) ||
            (c->chunk == CH_TRAILER && (c->trailer_len += (size_t)len + 2) > TRAILER_MAX_BYTES)) {
            c->discard = true;
            sl_http_reply_errorf(c->req, 400, "bad_request", NULL,
                                 "The chunked body is malformed.");
            return -1;
        }
        switch (c->chunk) {
        case CH_SIZE:
            if (size > limit - c->body_len) {
                c->discard = true;
                sl_http_reply_errorf(c->req, 413, "too_large", NULL,
                                     "The body is over %zu bytes, the limit.", limit);
                return -1;
            }
            c->body_len += size;
            c->body_left = (int64_t)size;
            c->chunk = size ? CH_DATA : CH_TRAILER;
            break;
        case CH_DATA_END:
            c->chunk = CH_SIZE;
            break;
        case CH_TRAILER:
            if (len == 0)
                return 1;
            break;
        case CH_DATA:
            break;
        }
    }
}

static int read_body(struct sl_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    struct evbuffer *body = evhttp_request_get_input_buffer(c->req->req);

    if (c->chunked) {
        int rc = read_chunked(c, in, body);
        if (rc <= 0)
            return rc;
    } else if (c->body_left > 0) {
        size_t n = evbuffer_get_length(in);
        if (n > (uint64_t)c->body_left)
            n = (size_t)c->body_left;
        evbuffer_remove_buffer(in, body, n);
        c->body_left -= (int64_t)n;
        if (c->body_left > 0)
            return 0;
    }
    /* Whole: while the handler works, pipelined requests wait, at most
     * READ_HELD bytes of them read, so a client cannot queue work or
     * memory without bound. */
    evtimer_del(c->timer);
    c->phase = PH_HANDLER;
    read_limit(c, READ_HELD);
    sl_http_run(c->req);
    return 1;
}

static void process(struct sl_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);

    for (;;) {
        int rc;
        switch (c->phase) {
        case PH_IDLE:
        case PH_HEAD:
            rc = read_head(c);
            break;
        case PH_BODY:
            rc = read_body(c);
            break;
        case PH_WRITING:
        case PH_LINGER:
            if (c->discard || c->phase == PH_LINGER)
                evbuffer_drain(in, evbuffer_get_length(in));
            return;
        case PH_HANDLER:
        default:
            return;
        }
        if (rc <= 0)
            return;
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    process(arg);
}

/* }===================================================================== */

/* {====================== Answering ==================================== */

static const char *http_date(void)
{
    static char buf[64];
    static time_t last;
    time_t now = time(NULL);
    struct tm tm;

    if (now != last && gmtime_r(&now, &tm)) {
        strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        last = now;
    }
    return buf;
}

/* The answer is out and the connection stays: wait for the next request,
 * which may be here already. The caller processes what is buffered: the
 * loop's on_write at once; sl_conn_respond, which may run inside
 * process() or long after (a commit's answer), through a deferred read
 * callback, never by calling process() from within itself. */
static void written(struct sl_conn *c)
{
    c->phase = PH_IDLE;
    arm(c, c->h->srv->cfg.idle_timeout_seconds);
    bufferevent_disable(c->bev, EV_WRITE);
    read_limit(c, READ_HEAD);
    bufferevent_enable(c->bev, EV_READ);
}

/* Write what out holds to the socket now; true when all of it went.
 * (A bufferevent keeps the start of its output frozen but while it
 * writes itself; so does this.) */
static bool write_now(struct sl_conn *c, struct evbuffer *out)
{
    evbuffer_unfreeze(out, 1);
    int n = evbuffer_write(out, bufferevent_getfd(c->bev));
    evbuffer_freeze(out, 1);
    return n >= 0 && evbuffer_get_length(out) == 0;
}

/* An answer's head, written in one piece: what does not fit in the
 * buffer goes out first. */
struct head {
    struct evbuffer *out;
    size_t n;
    char b[1024];
};

static void head_put(struct head *hd, const char *s, size_t len)
{
    if (hd->n + len > sizeof(hd->b)) {
        evbuffer_add(hd->out, hd->b, hd->n);
        hd->n = 0;
        if (len > sizeof(hd->b)) {
            evbuffer_add(hd->out, s, len);
            return;
        }
    }
    memcpy(hd->b + hd->n, s, len);
    hd->n += len;
}

static void head_str(struct head *hd, const char *s)
{
    head_put(hd, s, strlen(s));
}

/* Decimal, for the status and the length: no printf on every answer. */
static void head_num(struct head *hd, unsigned long long v)
{
    char tmp[24];
    int n = sizeof(tmp);

    do
        tmp[--n] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    head_put(hd, tmp + n, sizeof(tmp) - (size_t)n);
}

void sl_conn_respond(struct sl_request *r, int status, const char *reason,
                     const char *content_type)
{
    struct sl_conn *c = r->conn;
    if (!c)
        return;                 /* the client is gone */
    struct evbuffer *in = bufferevent_get_input(c->bev);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct evbuffer *body = evhttp_request_get_output_buffer(r->req);
    struct evkeyvalq *hdr = evhttp_request_get_output_headers(r->req);
    struct evkeyval *kv;
    size_t len = evbuffer_get_length(body);

    r->conn = NULL;
    c->req = NULL;
    if (c->phase == PH_HEAD || c->phase == PH_BODY) {
        /* Answered before the body was whole: a body already here is
         * skipped and the connection goes on; otherwise it closes after
         * reading and dropping the rest (lingering). */
        evtimer_del(c->timer);
        if (!c->discard && !c->chunked && (uint64_t)c->body_left <= evbuffer_get_length(in)) {
            evbuffer_drain(in, (size_t)c->body_left);
            c->body_left = 0;
        } else {
            c->discard = true;
        }
    }
    const char *conn_hdr = evhttp_find_header(hdr, "Connection");
    if (c->discard || !c->keep_alive || c->peer_done || c->h->srv->draining ||
        (conn_hdr && strcasecmp(conn_hdr, "close") == 0))
        c->close_after = true;
    struct head hd;
    hd.out = out;
    hd.n = 0;
    head_str(&hd, "HTTP/1.1 ");
    head_num(&hd, (unsigned)status);
    head_str(&hd, " ");
    head_str(&hd, reason);
    head_str(&hd, "\r\nDate: ");
    head_str(&hd, http_date());
    head_str(&hd, "\r\n");
    if (content_type) {
        head_str(&hd, "Content-Type: ");
        head_str(&hd, content_type);
        head_str(&hd, "\r\n");
    }
    TAILQ_FOREACH(kv, hdr, next) {
        if (strcasecmp(kv->key, "Content-Length") == 0 || strcasecmp(kv->key, "Connection") == 0 ||
            (content_type && strcasecmp(kv->key, "Content-Type") == 0))
            continue;
        head_str(&hd, kv->key);
        head_str(&hd, ": ");
        head_str(&hd, kv->value);
        head_str(&hd, "\r\n");
    }
    if (status != 204 && status != 304) {
        head_str(&hd, "Content-Length: ");
        head_num(&hd, len);
        head_str(&hd, "\r\n");
    }
    head_str(&hd, c->close_after ? "Connection: close\r\n\r\n" : "\r\n");
    evbuffer_add(out, hd.b, hd.n);
    if (c->head_only)
        evbuffer_drain(body, len);
    else
        evbuffer_add_buffer(out, body);
    c->phase = PH_WRITING;
    if (c->discard)
        bufferevent_enable(c->bev, EV_READ);    /* dropped as it comes */
    /* Most answers fit in the socket's buffer at once: written here, with
     * no round through the event loop and no epoll_ctl to watch for the
     * socket being writable. What does not fit goes out as it can. A
     * closing connection takes the loop's road (on_write frees it). */
    if (!c->close_after && write_now(c, out)) {
        written(c);
        /* A request pipelined behind this one is read already: no new
         * byte will call on_read for it. */
        if (evbuffer_get_length(in) > 0)
            bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
        return;
    }
    bufferevent_enable(c->bev, EV_WRITE);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct sl_conn *c = arg;
    (void)bev;

    bufferevent_disable(c->bev, EV_WRITE);
    if (c->phase != PH_WRITING)
        return;                 /* a 100 Continue went out */
    if (c->close_after) {
        if (c->discard || c->refusal ||
            evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
            linger(c);
        else
            conn_free(c);
        return;
    }
    written(c);
    process(c);
}

/* }===================================================================== */

/* {====================== Opening and closing ======================== */

int sl_conn_accept(struct sl_http *h, evutil_socket_t fd, bool is_unix,
                   const unsigned char addr[16], const char *peer)
{
    struct sl_conn *c = conn_new(h, fd, false);

    if (!c)
        return -ENOMEM;
    h->cs.accepted++;
    c->is_unix = is_unix;
    memcpy(c->addr, addr, 16);
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    if (!is_unix) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    c->phase = PH_IDLE;
    arm(c, h->srv->cfg.header_timeout_seconds);
    bufferevent_enable(c->bev, EV_READ);
    return 0;
}

/* Answer a connection over a cap at once, as JSON, and close it. */
void sl_conn_refuse(struct sl_http *h, evutil_socket_t fd, enum sl_refusal why)
{
    char body[256];
    int n = why == SL_REFUSED_TOTAL
        ? snprintf(body, sizeof(body), "{\"error\":{\"code\":\"unavailable\",\"message\":"
                   "\"The daemon has %d connections open, its limit.\"}}\n",
                   h->srv->cfg.max_connections)
        : snprintf(body, sizeof(body), "{\"error\":{\"code\":\"too_many_connections\","
                   "\"message\":\"This address has %d connections open, the limit.\"}}\n",
                   h->srv->cfg.max_connections_per_address);
    struct sl_conn *c = h->cs.refusing < SL_HTTP_REFUSING_MAX ? conn_new(h, fd, true) : NULL;

    h->cs.refused[why]++;
    if (!c) {
        evutil_closesocket(fd);
        return;
    }
    snprintf(c->peer, sizeof(c->peer), "refused");
    c->phase = PH_WRITING;
    c->close_after = true;
    evbuffer_add_printf(bufferevent_get_output(c->bev),
                        "HTTP/1.1 %s\r\nContent-Type: application/json\r\n%s"
                        "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                        why == SL_REFUSED_TOTAL ? "503 Service Unavailable"
                                                : "429 Too Many Requests",
                        why == SL_REFUSED_TOTAL ? "" : "Retry-After: 1\r\n", n, body);
    bufferevent_enable(c->bev, EV_WRITE);
}

void sl_conn_close_idle(struct sl_http *h)
{
    /* Connections waiting for a request get none; the others finish the
     * request they carry, and close after its answer. */
    for (struct sl_conn *c = h->conns, *next; c; c = next) {
        next = c->next;
        if (c->phase == PH_IDLE)
            conn_free(c);
    }
}

void sl_conn_free_all(struct sl_http *h)
{
    while (h->conns)
        conn_free(h->conns);
}

/* }===================================================================== */
