/* SPDX-License-Identifier: MIT */
/* sluicectl: the daemon's command-line client, for people and scripts. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#define EXIT_REFUSED 1
#define EXIT_USAGE 2

struct client {
    const char *url;
    const char *token;
    bool json;
    char host[256];
    int port;
    char prefix[256];           /* path prefix of the URL, without a trailing / */
};

struct reply {
    int status;
    char *body;
    size_t len;
    bool done;
};

static void usage(FILE *to)
{
    fprintf(to,
        "usage: sluicectl [--url URL] [--token TOKEN] [--json] COMMAND [ARGS]\n"
        "commands:\n"
        "  status                          the daemon's version, uptime and items\n"
        "  token create NAME --role ROLE   make a token (ingest|moderator|policy|admin)\n"
        "  token revoke NAME               revoke a token\n"
        "  item ID                         an item, its tags, counters and audit trail\n"
        "environment: SLUICE_URL (default http://127.0.0.1:8420), SLUICE_TOKEN\n"
        "exit status: 0 done, 1 refused or unreachable, 2 usage error\n");
}

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("sluicectl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n", stderr);
    usage(stderr);
    return EXIT_USAGE;
}

/* {====================== HTTP ========================================= */

static int parse_url(struct client *c)
{
    struct evhttp_uri *u = evhttp_uri_parse(c->url);
    if (!u || !evhttp_uri_get_host(u) ||
        strcmp(evhttp_uri_get_scheme(u) ? evhttp_uri_get_scheme(u) : "", "http") != 0) {
        if (u)
            evhttp_uri_free(u);
        return -EINVAL;
    }
    snprintf(c->host, sizeof(c->host), "%s", evhttp_uri_get_host(u));
    c->port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : 80;
    const char *path = evhttp_uri_get_path(u);
    snprintf(c->prefix, sizeof(c->prefix), "%s", path ? path : "");
    size_t n = strlen(c->prefix);
    if (n && c->prefix[n - 1] == '/')
        c->prefix[n - 1] = '\0';
    evhttp_uri_free(u);
    return 0;
}

static void on_reply(struct evhttp_request *req, void *arg)
{
    struct reply *rep = arg;
    rep->done = true;
    if (!req)
        return;
    rep->status = evhttp_request_get_response_code(req);
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    rep->len = evbuffer_get_length(in);
    rep->body = malloc(rep->len + 1);
    evbuffer_remove(in, rep->body, rep->len);
    rep->body[rep->len] = '\0';
}

/* One request; 0 with rep filled (any status), or -EIO when unreachable. */
static int request(struct client *c, enum evhttp_cmd_type method, const char *path,
                   const char *content_type, const char *body, struct reply *rep)
{
    char uri[1024], auth[512];
    struct event_base *base = event_base_new();
    struct evhttp_connection *conn =
        evhttp_connection_base_new(base, NULL, c->host, (ev_uint16_t)c->port);
    struct evhttp_request *req = evhttp_request_new(on_reply, rep);

    memset(rep, 0, sizeof(*rep));
    evhttp_connection_set_timeout(conn, 30);
    struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
    evhttp_add_header(hdr, "Host", c->host);
    evhttp_add_header(hdr, "Connection", "close");
    if (c->token) {
        snprintf(auth, sizeof(auth), "Bearer %s", c->token);
        evhttp_add_header(hdr, "Authorization", auth);
    }
    if (body) {
        evhttp_add_header(hdr, "Content-Type", content_type);
        evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    }
    snprintf(uri, sizeof(uri), "%s%s", c->prefix, path);
    if (evhttp_make_request(conn, req, method, uri) == 0)
        event_base_dispatch(base);
    evhttp_connection_free(conn);
    event_base_free(base);
    if (!rep->body) {
        fprintf(stderr, "sluicectl: cannot reach the daemon at %s\n", c->url);
        return -EIO;
    }
    return 0;
}

/* Print a refusal the way the daemon worded it; returns EXIT_REFUSED. */
static int refused(struct client *c, const struct reply *rep)
{
    json_t *v = json_loads(rep->body, 0, NULL);
    json_t *e = json_object_get(v, "error");
    const char *field = json_string_value(json_object_get(e, "field"));
    if (c->json)
        fputs(rep->body, stdout);
    else if (e)
        fprintf(stderr, "sluicectl: %d %s: %s%s%s\n", rep->status,
                json_string_value(json_object_get(e, "code")),
                json_string_value(json_object_get(e, "message")),
                field ? " field: " : "", field ? field : "");
    else
        fprintf(stderr, "sluicectl: the daemon answered %d\n", rep->status);
    json_decref(v);
    return EXIT_REFUSED;
}

/* Run a request and hand back its JSON on 2xx; otherwise report and return
 * the exit status. */
static int call(struct client *c, enum evhttp_cmd_type method, const char *path,
                json_t *body, json_t **out)
{
    struct reply rep;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    int rc = request(c, method, path, "application/json", text, &rep);

    free(text);
    if (rc < 0)
        return EXIT_REFUSED;
    if (rep.status < 200 || rep.status > 299) {
        rc = refused(c, &rep);
        free(rep.body);
        return rc;
    }
    *out = json_loads(rep.body, 0, NULL);
    if (c->json)
        fputs(rep.body, stdout);
    free(rep.body);
    if (!*out) {
        fprintf(stderr, "sluicectl: the daemon's answer is not JSON\n");
        return EXIT_REFUSED;
    }
    return 0;
}

/* }===================================================================== */

/* {====================== Commands ===================================== */

static int cmd_status(struct client *c, int argc, char **argv)
{
    json_t *st;
    const char *state;
    json_t *n;
    (void)argv;

    if (argc != 0)
        return usage_error("status takes no arguments");
    int rc = call(c, EVHTTP_REQ_GET, "/v1/status", NULL, &st);
    if (rc || c->json) {
        json_decref(st);
        return rc;
    }
    printf("sluiced %s, up %llds, %lld uploads and %lld events since start\n",
           json_string_value(json_object_get(st, "version")),
           (long long)json_integer_value(json_object_get(st, "uptime_s")),
           (long long)json_integer_value(json_object_get(st, "uploads_total")),
           (long long)json_integer_value(json_object_get(st, "events_total")));
    printf("items:");
    json_object_foreach(json_object_get(st, "items"), state, n)
        printf(" %s %lld", state, (long long)json_integer_value(n));
    printf("\n");
    json_decref(st);
    return 0;
}

static int cmd_token(struct client *c, int argc, char **argv)
{
    json_t *res;
    char path[512];

    if (argc == 4 && strcmp(argv[0], "create") == 0 && strcmp(argv[2], "--role") == 0) {
        json_t *body = json_pack("{s:s, s:s}", "name", argv[1], "role", argv[3]);
        int rc = call(c, EVHTTP_REQ_POST, "/v1/tokens", body, &res);
        json_decref(body);
        if (rc == 0 && !c->json)
            printf("%s\n", json_string_value(json_object_get(res, "token")));
        if (rc == 0)
            json_decref(res);
        return rc;
    }
    if (argc == 2 && strcmp(argv[0], "revoke") == 0) {
        char *name = evhttp_uriencode(argv[1], -1, 0);
        snprintf(path, sizeof(path), "/v1/tokens/%s", name);
        free(name);
        int rc = call(c, EVHTTP_REQ_DELETE, path, NULL, &res);
        if (rc == 0 && !c->json)
            printf("revoked %s\n", argv[1]);
        if (rc == 0)
            json_decref(res);
        return rc;
    }
    return usage_error("use: token create NAME --role ROLE | token revoke NAME");
}

static int cmd_item(struct client *c, int argc, char **argv)
{
    json_t *it;
    char path[512];
    const char *k;
    json_t *v;
    size_t i;

    if (argc != 1)
        return usage_error("use: item ID");
    char *id = evhttp_uriencode(argv[0], -1, 0);
    snprintf(path, sizeof(path), "/v1/items/%s", id);
    free(id);
    int rc = call(c, EVHTTP_REQ_GET, path, NULL, &it);
    if (rc || c->json) {
        json_decref(it);
        return rc;
    }
    json_t *up = json_object_get(it, "upload");
    printf("%s  by %s  [%s]\n  %s\n", json_string_value(json_object_get(it, "id")),
           json_string_value(json_object_get(it, "creator")),
           json_string_value(json_object_get(it, "state")),
           json_string_value(json_object_get(up, "title")));
    printf("tags:");
    json_object_foreach(json_object_get(it, "tags"), k, v)
        printf(" %s=%.2f(%s)", k, json_number_value(json_object_get(v, "confidence")),
               json_string_value(json_object_get(v, "source")));
    printf("\ncounters:");
    json_object_foreach(json_object_get(it, "counters"), k, v)
        if (json_integer_value(v))
            printf(" %s=%lld", k, (long long)json_integer_value(v));
    printf("\naudit:\n");
    json_array_foreach(json_object_get(it, "audit"), i, v) {
        json_t *from = json_object_get(v, "from"), *to = json_object_get(v, "to");
        printf("  #%lld %s %s %s -> %s %s\n",
               (long long)json_integer_value(json_object_get(v, "seq")),
               json_string_value(json_object_get(v, "actor")),
               json_string_value(json_object_get(v, "action")),
               json_is_string(from) ? json_string_value(from) : "-",
               json_is_string(to) ? json_string_value(to) : "-",
               json_string_value(json_object_get(v, "reason")));
    }
    json_decref(it);
    return 0;
}

static const struct command {
    const char *name;
    int (*fn)(struct client *c, int argc, char **argv);
} commands[] = {
    { "status", cmd_status },
    { "token",  cmd_token },
    { "item",   cmd_item },
};

/* }===================================================================== */

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "url",     required_argument, NULL, 'u' },
        { "token",   required_argument, NULL, 't' },
        { "json",    no_argument,       NULL, 'j' },
        { "help",    no_argument,       NULL, 'h' },
        { "version", no_argument,       NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    struct client c = { 0 };
    int o;

    c.url = getenv("SLUICE_URL") ? getenv("SLUICE_URL") : "http://127.0.0.1:8420";
    c.token = getenv("SLUICE_TOKEN");
    /* Options stop at the command, so its own flags (--role) reach it. */
    while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (o) {
        case 'u': c.url = optarg; break;
        case 't': c.token = optarg; break;
        case 'j': c.json = true; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("sluicectl %s\n", PACKAGE_VERSION); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc)
        return usage_error("no command given");
    if (parse_url(&c) < 0)
        return usage_error("--url must look like http://HOST:PORT, not '%s'", c.url);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[optind], commands[i].name) == 0)
            return commands[i].fn(&c, argc - optind - 1, argv + optind + 1);
    return usage_error("unknown command '%s'", argv[optind]);
}
