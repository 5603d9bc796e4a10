/* SPDX-License-Identifier: MIT */
/* bare-server: the reference for bench/run, a one-thread evhttp server that answers 204 to everything. */

/*
 * It pays what any evhttp server pays (accept, HTTP parsing, reading the
 * whole body, one reply) and nothing else, so sluiced's figures can be given
 * as a ratio to it, measured in the same run on the same machine.
 */

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

/* Same default as sluiced's body_limit, so both refuse the same bodies. */
#define BODY_LIMIT (1024 * 1024)

static void usage(FILE *out)
{
    fprintf(out,
        "usage: bare-server --listen ADDR:PORT\n"
        "Answers 204 No Content to every request, after reading its body.\n"
        "ADDR is an IPv4 address or a bracketed IPv6 one ([::1]:8421).\n");
}

/* Splits "127.0.0.1:8421" or "[::1]:8421" in place; 0 or -EINVAL. */
static int split_listen(char *spec, char **host, unsigned short *port)
{
    char *colon, *end;
    long value;

    if (spec[0] == '[') {
        char *close = strchr(spec, ']');

        if (close == NULL || close[1] != ':')
            return -EINVAL;
        *close = '\0';
        *host = spec + 1;
        colon = close + 1;
    } else {
        colon = strrchr(spec, ':');
        if (colon == NULL)
            return -EINVAL;
        *colon = '\0';
        *host = spec;
    }
    if (**host == '\0' || colon[1] == '\0')
        return -EINVAL;
    errno = 0;
    value = strtol(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || value < 1 || value > 65535)
        return -EINVAL;
    *port = (unsigned short)value;
    return 0;
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct evbuffer *body = evhttp_request_get_input_buffer(req);

    /*
     * evhttp has read the whole body before calling us; draining it is
     * the least a real handler does with it.
     */
    evbuffer_drain(body, evbuffer_get_length(body));
    evhttp_send_reply(req, 204, "No Content", NULL);
}

static void on_signal(evutil_socket_t sig, short events, void *arg)
{
    event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
    char *listen_spec = NULL, *host = NULL;
    unsigned short port = 0;
    struct event_base *base = NULL;
    struct evhttp *http = NULL;
    struct event *sigterm = NULL, *sigint = NULL;
    int status = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen_spec = argv[++i];
        } else if (strncmp(argv[i], "--listen=", 9) == 0) {
            listen_spec = argv[i] + 9;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "bare-server: unknown or incomplete argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (listen_spec == NULL) {
        fprintf(stderr, "bare-server: --listen ADDR:PORT is required\n");
        usage(stderr);
        return 2;
    }
    if (split_listen(listen_spec, &host, &port) < 0) {
        fprintf(stderr, "bare-server: --listen wants ADDR:PORT with a port in 1..65535\n");
        return 2;
    }

    /* A client that goes away mid-reply must not kill the reference. */
    signal(SIGPIPE, SIG_IGN);

    base = event_base_new();
    if (base == NULL) {
        fprintf(stderr, "bare-server: cannot create the event base\n");
        goto out;
    }
    http = evhttp_new(base);
    if (http == NULL) {
        fprintf(stderr, "bare-server: cannot create the HTTP server\n");
        goto out;
    }
    evhttp_set_max_body_size(http, BODY_LIMIT);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                               EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(http, on_request, NULL);
    if (evhttp_bind_socket(http, host, port) != 0) {
        fprintf(stderr, "bare-server: cannot listen on %s port %u: %s\n",
                host, port, strerror(errno));
        goto out;
    }

    sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    sigint = evsignal_new(base, SIGINT, on_signal, base);
    if (sigterm == NULL || sigint == NULL ||
        evsignal_add(sigterm, NULL) != 0 || evsignal_add(sigint, NULL) != 0) {
        fprintf(stderr, "bare-server: cannot install signal handlers\n");
        goto out;
    }

    printf("bare-server: listening on %s port %u\n", host, port);
    fflush(stdout);
    if (event_base_dispatch(base) < 0) {
        fprintf(stderr, "bare-server: event loop failed\n");
        goto out;
    }
    status = 0;
out:
    if (sigterm != NULL)
        event_free(sigterm);
    if (sigint != NULL)
        event_free(sigint);
    if (http != NULL)
        evhttp_free(http);
    if (base != NULL)
        event_base_free(base);
    return status;
}
