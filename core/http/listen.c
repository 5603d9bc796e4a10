/* SPDX-License-Identifier: MIT */
/* Listening: the sockets, the connection caps at accept, running out of files. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "http/internal.h"
#include "lib/log.h"
#include "lib/mix.h"
#include "server.h"

#define BACKLOG 511                 /* nginx's; the kernel caps it at somaxconn */
#define FD_RESERVE 128              /* files beyond connections: the store, plugins, logs */
#define ACCEPT_PAUSE_MS 100         /* out of files: try accepting again after this */

/* {====================== Addresses ==================================== */

struct sl_addr_count {
    unsigned char addr[16];
    int n;                  /* 0: a free slot */
};

static size_t addr_slot(const struct sl_http *h, const unsigned char *a)
{
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, a + 8, 8);
    return (size_t)sl_mix64(x ^ sl_mix64(y)) & (h->addrs_cap - 1);
}

static struct sl_addr_count *addr_find(struct sl_http *h, const unsigned char *a)
{
    if (!h->addrs_cap)
        return NULL;
    size_t i = addr_slot(h, a);
    while (h->addrs[i].n && memcmp(h->addrs[i].addr, a, 16) != 0)
        i = (i + 1) & (h->addrs_cap - 1);
    return &h->addrs[i];
}

static int addr_count(struct sl_http *h, const unsigned char *a)
{
    struct sl_addr_count *e = addr_find(h, a);
    return e ? e->n : 0;
}

static int addr_add(struct sl_http *h, const unsigned char *a)
{
    if ((h->addrs_used + 1) * 2 > h->addrs_cap) {
        size_t cap = h->addrs_cap ? h->addrs_cap * 2 : 64;
        struct sl_addr_count *old = h->addrs, *next = calloc(cap, sizeof(*next));
        size_t ocap = h->addrs_cap;
        if (!next)
            return -ENOMEM;
        h->addrs = next;
        h->addrs_cap = cap;
        for (size_t i = 0; i < ocap; i++)
            if (old[i].n)
                *addr_find(h, old[i].addr) = old[i];
        free(old);
    }
    struct sl_addr_count *e = addr_find(h, a);
    if (!e->n) {
        memcpy(e->addr, a, 16);
        h->addrs_used++;
    }
    e->n++;
    return 0;
}

/* Linear probing's deletion: pull later entries of the run back into the
 * hole, so no search stops early at it. */
void sl_listen_addr_drop(struct sl_http *h, const unsigned char a[16])
{
    struct sl_addr_count *e = addr_find(h, a);
    if (!e || !e->n || --e->n > 0)
        return;
    h->addrs_used--;
    size_t hole = (size_t)(e - h->addrs), mask = h->addrs_cap - 1;
    for (size_t i = (hole + 1) & mask; h->addrs[i].n; i = (i + 1) & mask) {
        size_t home = addr_slot(h, h->addrs[i].addr);
        /* Move i into the hole unless its home lies cyclically in (hole, i]. */
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            h->addrs[hole] = h->addrs[i];
            hole = i;
        }
    }
    h->addrs[hole].n = 0;
}

static void addr_key(const struct sockaddr *sa, unsigned char key[16], char *peer, size_t n)
{
    memset(key, 0, 16);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &in->sin_addr, 4);
        evutil_inet_ntop(AF_INET, &in->sin_addr, peer, n);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        memcpy(key, &in6->sin6_addr, 16);
        evutil_inet_ntop(AF_INET6, &in6->sin6_addr, peer, n);
    } else {
        snprintf(peer, n, "unix");
    }
}

/* }===================================================================== */

/* {====================== Accepting ==================================== */

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    struct sl_http *h = arg;
    const struct sl_config *cfg = &h->srv->cfg;
    unsigned char key[16];
    char peer[64];
    bool is_unix = sa->sa_family == AF_UNIX;
    (void)l;
    (void)salen;

    addr_key(sa, key, peer, sizeof(peer));
    if (h->cs.open >= cfg->max_connections) {
        sl_conn_refuse(h, fd, SL_REFUSED_TOTAL);
        return;
    }
    /* The UNIX socket is the local proxy's door: every client behind it
     * shares it, so only the global cap applies there. */
    if (!is_unix && cfg->max_connections_per_address > 0 &&
        addr_count(h, key) >= cfg->max_connections_per_address) {
        sl_conn_refuse(h, fd, SL_REFUSED_ADDRESS);
        return;
    }
    if (!is_unix && addr_add(h, key) < 0) {
        evutil_closesocket(fd);
        return;
    }
    if (sl_conn_accept(h, fd, is_unix, key, peer) < 0 && !is_unix)
        sl_listen_addr_drop(h, key);
}

static void set_listening(struct sl_http *h, bool on)
{
    for (int i = 0; i < h->nlisteners; i++)
        if (on)
            evconnlistener_enable(h->listeners[i]);
        else
            evconnlistener_disable(h->listeners[i]);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    struct sl_http *h = arg;
    (void)fd;
    (void)what;
    if (h->accepting)
        set_listening(h, true);
}

/* Out of file descriptors: a listener left on would wake the loop for the
 * same pending connection forever. Pause, like nginx, and try again soon. */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
    struct sl_http *h = arg;
    int err = EVUTIL_SOCKET_ERROR();
    (void)l;

    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };
        if (h->cs.accept_paused++ % 100 == 0)
            sl_warn("http: cannot accept: %s; pausing %d ms (raise the open-file limit or "
                    "lower max_connections)", strerror(err), ACCEPT_PAUSE_MS);
        set_listening(h, false);
        evtimer_add(h->resume, &tv);
    } else if (err != EAGAIN && err != EINTR && err != ECONNABORTED) {
        sl_warn("http: accept failed: %s", strerror(err));
    }
}

static int add_listener(struct sl_http *h, const struct sockaddr *sa, int len, bool is_unix,
                        const char *name)
{
    struct evconnlistener *l = evconnlistener_new_bind(
        h->srv->base, on_accept, h,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | (is_unix ? 0 : LEV_OPT_REUSEABLE),
        BACKLOG, sa, len);
    if (!l) {
        sl_err("cannot listen on %s: %s", name, strerror(errno));
        return errno == EADDRINUSE ? -EADDRINUSE : -EIO;
    }
    evconnlistener_set_error_cb(l, on_accept_error);
    h->listener_is_unix[h->nlisteners] = is_unix;
    h->listeners[h->nlisteners++] = l;
    return 0;
}

static int listen_unix(struct sl_http *h, const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sun.sun_path)) {
        sl_err("unix_socket '%s' is too long", path);
        return -ENAMETOOLONG;
    }
    strcpy(sun.sun_path, path);
    unlink(path);   /* a stale socket from an earlier run */
    int rc = add_listener(h, (struct sockaddr *)&sun, sizeof(sun), true, path);
    if (rc == 0)
        chmod(path, 0660);
    return rc;
}

static int listen_tcp(struct sl_http *h, const char *listen)
{
    char host[256], port[16];
    const char *colon = strrchr(listen, ':');
    char *end;
    long pn = colon ? strtol(colon + 1, &end, 10) : -1;

    if (!colon || colon == listen || *end || colon[1] == '\0' || pn < 0 || pn > 65535 ||
        (size_t)(colon - listen) >= sizeof(host)) {
        sl_err("listen '%s' is not ADDR:PORT", listen);
        return -EINVAL;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    snprintf(port, sizeof(port), "%ld", pn);
    char *name = host;              /* [::1]:8420 */
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        host[strlen(host) - 1] = '\0';
        name = host + 1;
    }
    struct evutil_addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                     .ai_protocol = IPPROTO_TCP, .ai_flags = EVUTIL_AI_PASSIVE };
    struct evutil_addrinfo *ai = NULL;
    int gai = evutil_getaddrinfo(name, port, &hints, &ai);
    if (gai != 0 || !ai) {
        sl_err("cannot listen on %s: %s", listen, evutil_gai_strerror(gai));
        return -EINVAL;
    }
    int rc = add_listener(h, ai->ai_addr, (int)ai->ai_addrlen, false, listen);
    evutil_freeaddrinfo(ai);
    return rc;
}

/* Each connection is a file; ask for enough of them (systemd's unit asks
 * LimitNOFILE=65536; a shell's default is often 1024). */
static void fd_budget(const struct sl_config *cfg)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)cfg->max_connections + SL_HTTP_REFUSING_MAX + FD_RESERVE;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < need)
        sl_warn("max_connections is %d but the open-file limit is %llu: past about %llu "
                "connections, accepting pauses (raise LimitNOFILE or ulimit -n)",
                cfg->max_connections, (unsigned long long)rl.rlim_cur,
                (unsigned long long)(rl.rlim_cur > FD_RESERVE + SL_HTTP_REFUSING_MAX
                                         ? rl.rlim_cur - FD_RESERVE - SL_HTTP_REFUSING_MAX
                                         : 0));
}

int sl_listen_start(struct sl_http *h)
{
    const struct sl_config *cfg = &h->srv->cfg;

    fd_budget(cfg);
    if (!(h->resume = evtimer_new(h->srv->base, on_resume, h)))
        return -ENOMEM;
    int rc = listen_tcp(h, cfg->listen);
    if (rc == 0 && cfg->unix_socket)
        rc = listen_unix(h, cfg->unix_socket);
    h->accepting = rc == 0;
    return rc;
}

void sl_listen_stop(struct sl_http *h)
{
    h->accepting = false;
    for (int i = 0; i < h->nlisteners; i++)
        evconnlistener_free(h->listeners[i]);
    h->nlisteners = 0;
    sl_conn_close_idle(h);
}

void sl_listen_free(struct sl_http *h)
{
    for (int i = 0; i < h->nlisteners; i++)
        evconnlistener_free(h->listeners[i]);
    h->nlisteners = 0;
    if (h->resume)
        event_free(h->resume);
    h->resume = NULL;
    free(h->addrs);
    h->addrs = NULL;
    h->addrs_cap = h->addrs_used = 0;
}

/* }===================================================================== */
