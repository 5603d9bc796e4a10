/* SPDX-License-Identifier: MIT */
/* sluicectl: the daemon's command-line client, for people and scripts. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "ctl/ctl.h"
#include "lib/text.h"

static void usage(FILE *to)
{
    fprintf(to,
        "usage: sluicectl [--url URL] [--token TOKEN | --token-file FILE] [--json]\n"
        "                 COMMAND [ARGS]\n"
        "commands:\n"
        "  status                           the daemon's version, uptime and items\n"
        "  queue [--queue NAME] [--limit N] queue depths and the items waiting for people\n"
        "  review [--queue NAME]            review items at the terminal, one key each\n"
        "  item ID                          an item, its tags, verdict and audit trail\n"
        "  stats                            items, queues and decisions of the last day\n"
        "  token create NAME --role ROLE [--expires DUR]\n"
        "                                   make a token (ingest|moderator|policy|admin)\n"
        "  token revoke NAME                revoke a token\n"
        "  token list                       names, roles and expiry of every token\n"
        "  policy check FILE                compile and run FILE without loading it\n"
        "  policy reload                    load the policy directory again\n"
        "  policy replay DIR [--since DUR]  what the policies in DIR would change\n"
        "  backup FILE [--force]            a consistent copy of the store\n"
        "  audit verify [--head SEQ:HASH]   walk the audit trail's chain (against an anchor)\n"
        "  audit head                       the newest record's SEQ:HASH, to anchor elsewhere\n"
        "  search [FILTERS] [WORDS...] [--limit N] [--cursor C | --all]\n"
        "                                   items newest first; FILTERS: --creator ID,\n"
        "                                   --state S[,S], --tag NAME [--tag-min X], --queue Q,\n"
        "                                   --matched NAME [--match-kind K], --decided-by ACTOR,\n"
        "                                   --since DUR | --since-ms MS, --until-ms MS\n"
        "  bulk takedown|review|restore FILTERS [WORDS...] --reason TEXT [--to-queue Q]\n"
        "       [--dry-run | --yes] [--wait]\n"
        "                                   act on every item found: a dry run, then a job\n"
        "  bulk status|confirm|cancel ID [--wait]   a job; a second moderator confirms\n"
        "  bulk list [--limit N]            the newest jobs\n"
        "  creator ID                       a creator: standing, items, reports, suspension\n"
        "  creator suspend ID --reason TEXT [--mode review|refuse]\n"
        "  creator restore ID --reason TEXT [--no-items] [--wait]\n"
        "  migrate --from SRC --to DST [--audit-key FILE]\n"
        "                                   copy a stopped installation's store, e.g.\n"
        "                                   --from sqlite:STATE --to postgresql://HOST/DB\n"
        "--json prints the daemon's JSON answer; DUR is like 30m, 24h or 7d.\n"
        "environment: SLUICE_URL (default http://127.0.0.1:8420), SLUICE_TOKEN\n"
        "exit status: 0 done, 1 refused or unreachable, 2 usage error\n");
}

/* {====================== Output ======================================= */

/* Report a failure in plain text on stderr and, for scripts, as the
 * contract's error object on stdout; returns status. */
int sl_ctl_fail(const struct client *c, int status, const char *code, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "sluicectl: %s\n", msg);
    if (c->json) {
        json_t *e = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
        json_dumpf(e, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(e);
    }
    return status;
}


/* Text from the daemon is the uploader's: never let it drive the terminal.
 * Control characters (C0, DEL, C1) become '?'; max 0 means no limit. */
void sl_ctl_put_text(FILE *to, const char *s, size_t max, bool lines)
{
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++, n++) {
        if (max && n == max) {
            fprintf(to, " [... %zu more bytes]", strlen((const char *)p));
            return;
        }
        if (*p == '\n' && lines)
            fputs("\n    ", to);
        else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            fputc('?', to), p++;
        else if (*p < 0x20 || *p == 0x7f)
            fputc(*p == '\t' ? ' ' : '?', to);
        else
            fputc(*p, to);
    }
}

/* A span of time, the way a person says it: 45s, 12m, 3h, 2d. */
const char *sl_ctl_span(long long ms, char *buf, size_t len)
{
    long long s = ms / 1000;

    if (s < 0)
        s = 0;
    if (s < 120)
        snprintf(buf, len, "%llds", s);
    else if (s < 2 * 3600)
        snprintf(buf, len, "%lldm", s / 60);
    else if (s < 2 * 86400)
        snprintf(buf, len, "%lldh", s / 3600);
    else
        snprintf(buf, len, "%lldd", s / 86400);
    return buf;
}

/* }===================================================================== */

/* {====================== HTTP ========================================= */

static int parse_url(struct client *c)
{
    struct evhttp_uri *u = evhttp_uri_parse(c->url);
    const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;

    if (!u || !evhttp_uri_get_host(u) || !*evhttp_uri_get_host(u) || !scheme ||
        strcmp(scheme, "http") != 0 || evhttp_uri_get_query(u)) {
        if (u)
            evhttp_uri_free(u);
        return -EINVAL;
    }
    const char *host = evhttp_uri_get_host(u);
    c->port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : 80;
    snprintf(c->host_header, sizeof(c->host_header), "%s:%d", host, c->port);
    /* [::1] is written with brackets but connected to without. */
    size_t n = strlen(host);
    if (host[0] == '[' && n > 2 && host[n - 1] == ']')
        snprintf(c->host, sizeof(c->host), "%.*s", (int)(n - 2), host + 1);
    else
        sl_copy(c->host, sizeof(c->host), host);
    const char *path = evhttp_uri_get_path(u);
    sl_copy(c->prefix, sizeof(c->prefix), path ? path : "");
    n = strlen(c->prefix);
    if (n && c->prefix[n - 1] == '/')
        c->prefix[n - 1] = '\0';
    evhttp_uri_free(u);
    return 0;
}

/* Body bytes as they arrive: a 200 answer with a sink goes straight to the
 * file (a backup may be larger than memory), everything else is kept. */
static void on_chunk(struct evhttp_request *req, void *arg)
{
    struct reply *rep = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);

    if (rep->sink_fd >= 0 && evhttp_request_get_response_code(req) == 200) {
        while (evbuffer_get_length(in) > 0 && !rep->sink_failed) {
            size_t before = evbuffer_get_length(in);
            if (evbuffer_write(in, rep->sink_fd) <= 0)
                rep->sink_failed = true;
            rep->sunk += before - evbuffer_get_length(in);
        }
        evbuffer_drain(in, evbuffer_get_length(in));
    } else {
        evbuffer_add_buffer(rep->acc, in);
    }
}

static void on_reply(struct evhttp_request *req, void *arg)
{
    struct reply *rep = arg;

    if (!req || evhttp_request_get_response_code(req) == 0) {
        rep->failed = true;
        return;
    }
    rep->status = evhttp_request_get_response_code(req);
    on_chunk(req, rep);
}

static void on_error(enum evhttp_request_error err, void *arg)
{
    struct reply *rep = arg;

    (void)err;                  /* libevent 2.1 calls a refused connect a timeout too */
    rep->failed = true;
}

/* One request; 0 with rep filled (any status), or EXIT_REFUSED when no
 * answer came (said on stderr). sink_fd >= 0 takes a 200 body. */
int sl_ctl_request(struct client *c, enum evhttp_cmd_type method, const char *path,
                   const char *body, int sink_fd, int timeout, struct reply *rep)
{
    char uri[4096], auth[1024];
    struct event_base *base = event_base_new();
    struct evhttp_connection *conn =
        base ? evhttp_connection_base_new(base, NULL, c->host, (ev_uint16_t)c->port) : NULL;
    struct evhttp_request *req = conn ? evhttp_request_new(on_reply, rep) : NULL;

    memset(rep, 0, sizeof(*rep));
    rep->sink_fd = sink_fd;
    rep->acc = evbuffer_new();
    if (!req || !rep->acc) {
        if (conn)
            evhttp_connection_free(conn);
        if (base)
            event_base_free(base);
        evbuffer_free(rep->acc);
        rep->acc = NULL;
        return sl_ctl_fail(c, EXIT_REFUSED, "local", "out of memory");
    }
    evhttp_request_set_chunked_cb(req, on_chunk);
    evhttp_request_set_error_cb(req, on_error);
    evhttp_connection_set_timeout(conn, timeout);
    struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
    evhttp_add_header(hdr, "Host", c->host_header);
    evhttp_add_header(hdr, "Connection", "close");
    if (c->token) {
        snprintf(auth, sizeof(auth), "Bearer %s", c->token);
        evhttp_add_header(hdr, "Authorization", auth);
    }
    if (body) {
        evhttp_add_header(hdr, "Content-Type", "application/json");
        evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    }
    snprintf(uri, sizeof(uri), "%s%s", c->prefix, path);
    time_t started = time(NULL);
    if (evhttp_make_request(conn, req, method, uri) == 0)
        event_base_dispatch(base);
    else
        rep->failed = true;
    evhttp_connection_free(conn);
    event_base_free(base);

    rep->len = evbuffer_get_length(rep->acc);
    rep->body = malloc(rep->len + 1);
    if (rep->body) {
        evbuffer_remove(rep->acc, rep->body, rep->len);
        rep->body[rep->len] = '\0';
    }
    evbuffer_free(rep->acc);
    rep->acc = NULL;
    if (rep->failed || rep->status == 0 || !rep->body) {
        free(rep->body);
        rep->body = NULL;
        return sl_ctl_fail(c, EXIT_REFUSED, "unreachable", "%s %s",
                    time(NULL) - started >= timeout ? "no answer in time from the daemon at"
                                                    : "cannot reach the daemon at", c->url);
    }
    return 0;
}

/* Say why the daemon refused, in its words; returns EXIT_REFUSED. */
int sl_ctl_refused(const struct client *c, const struct reply *rep)
{
    json_t *v = json_loads(rep->body, 0, NULL);
    json_t *e = json_object_get(v, "error");
    const char *field = json_string_value(json_object_get(e, "field"));

    if (json_is_object(e))
        fprintf(stderr, "sluicectl: %d %s: %s%s%s\n", rep->status, str(e, "code"),
                str(e, "message"), field ? " (field: " : "", field ? field : "");
    else
        fprintf(stderr, "sluicectl: the daemon answered %d\n", rep->status);
    if (c->json) {
        if (json_is_object(e))
            json_dumpf(v, stdout, JSON_COMPACT);
        else
            printf("{\"error\":{\"code\":\"http_%d\",\"message\":\"The daemon answered %d.\"}}",
                   rep->status, rep->status);
        fputc('\n', stdout);
    }
    json_decref(v);
    return EXIT_REFUSED;
}

/* Run a request and hand back its JSON on 2xx (printed under --json unless
 * quiet); otherwise report and return the exit status. */
int sl_ctl_call_as(struct client *c, enum evhttp_cmd_type method, const char *path,
                   json_t *body, int timeout, bool quiet, json_t **out)
{
    struct reply rep;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    int rc = sl_ctl_request(c, method, path, text, -1, timeout, &rep);

    *out = NULL;
    free(text);
    if (rc)
        return rc;
    if (rep.status < 200 || rep.status > 299) {
        rc = sl_ctl_refused(c, &rep);
        free(rep.body);
        return rc;
    }
    *out = json_loads(rep.body, 0, NULL);
    if (*out && c->json && !quiet) {
        fputs(rep.body, stdout);
        if (rep.len == 0 || rep.body[rep.len - 1] != '\n')
            fputc('\n', stdout);
    }
    free(rep.body);
    if (!*out)
        return sl_ctl_fail(c, EXIT_REFUSED, "bad_answer", "the daemon's answer is not JSON");
    return 0;
}

int sl_ctl_call(struct client *c, enum evhttp_cmd_type method, const char *path,
                json_t *body, json_t **out)
{
    return sl_ctl_call_as(c, method, path, body, TIMEOUT_S, false, out);
}

/* path + "/" + the id, escaped. */
void sl_ctl_id_path(char *buf, size_t len, const char *fmt, const char *id)
{
    char *esc = evhttp_uriencode(id, -1, 0);
    snprintf(buf, len, fmt, esc ? esc : "");
    free(esc);
}

/* }===================================================================== */

/* {====================== Arguments ==================================== */

/* A command's words and flags, in any order; --json is welcome anywhere. */
int sl_ctl_args(struct client *c, int argc, char **argv, unsigned allowed,
                      int min, int max, const char *use, struct args *a)
{
    static const struct {
        const char *name;
        unsigned bit;
        size_t offset;
    } flags[] = {
        { "queue", A_QUEUE, offsetof(struct args, queue) },
        { "limit", A_LIMIT, offsetof(struct args, limit) },
        { "role",  A_ROLE,  offsetof(struct args, role) },
        { "since", A_SINCE, offsetof(struct args, since) },
        { "expires", A_EXPIRES, offsetof(struct args, expires) },
        { "head",  A_HEAD,  offsetof(struct args, head) },
    };
    bool words_only = false;

    memset(a, 0, sizeof(*a));
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (words_only || arg[0] != '-' || arg[1] == '\0') {
            if (a->n == max || a->n == (int)(sizeof(a->pos) / sizeof(a->pos[0])))
                return usage_error(c, "unexpected argument '%s'; use: %s", arg, use);
            a->pos[a->n++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            words_only = true;
            continue;
        }
        if (strcmp(arg, "--json") == 0) {
            c->json = true;
            continue;
        }
        if (strcmp(arg, "--force") == 0 && (allowed & A_FORCE)) {
            a->force = true;
            continue;
        }
        size_t f;
        const char *eq = strchr(arg, '=');
        size_t nlen = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        for (f = 0; f < sizeof(flags) / sizeof(flags[0]); f++)
            if (arg[1] == '-' && (allowed & flags[f].bit) && strlen(flags[f].name) == nlen &&
                strncmp(arg + 2, flags[f].name, nlen) == 0)
                break;
        if (f == sizeof(flags) / sizeof(flags[0]))
            return usage_error(c, "unknown option '%s'; use: %s", arg, use);
        const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!value || !*value)
            return usage_error(c, "--%s needs a value; use: %s", flags[f].name, use);
        *(const char **)((char *)a + flags[f].offset) = value;
    }
    if (a->n < min)
        return usage_error(c, "missing argument; use: %s", use);
    return 0;
}

/* }===================================================================== */

/* {====================== Simple commands ============================== */

static int cmd_status(struct client *c, int argc, char **argv)
{
    struct args a;
    json_t *st, *n;
    const char *state;
    int rc = sl_ctl_args(c, argc, argv, 0, 0, 0, "status", &a);

    if (rc || (rc = sl_ctl_call(c, EVHTTP_REQ_GET, "/v1/status", NULL, &st)) || c->json) {
        if (!rc)
            json_decref(st);
        return rc;
    }
    printf("sluiced %s, up %llds, %lld uploads and %lld events since start\n",
           str(st, "version"), num(st, "uptime_s"), num(st, "uploads_total"),
           num(st, "events_total"));
    printf("items:");
    json_object_foreach(json_object_get(st, "items"), state, n)
        printf(" %s %lld", state, (long long)json_integer_value(n));
    printf("%s\n", json_object_size(json_object_get(st, "items")) ? "" : " none");
    json_decref(st);
    return 0;
}

static void print_tags(json_t *tags)
{
    const char *k;
    json_t *v;

    if (!json_object_size(tags))
        fputs(" none", stdout);
    json_object_foreach(tags, k, v) {
        fputc(' ', stdout);
        sl_ctl_put_text(stdout, k, 0, false);
        printf(" %.2f (", json_number_value(json_object_get(v, "confidence")));
        sl_ctl_put_text(stdout, str(v, "source"), 0, false);
        fputc(')', stdout);
    }
    fputc('\n', stdout);
}

static void print_matches(json_t *matches, const char *indent)
{
    size_t i;
    json_t *m;

    json_array_foreach(matches, i, m) {
        printf("%s%s %s from %s: '", indent, str(m, "kind"), str(m, "name"), str(m, "source"));
        sl_ctl_put_text(stdout, str(m, "detail"), 200, false);
        printf("' score %.2f", json_number_value(json_object_get(m, "score")));
        if (*str(m, "field"))
            printf(" in the %s", str(m, "field"));
        fputc('\n', stdout);
    }
}

static void print_verdict(json_t *v)
{
    if (!json_is_object(v))
        return;
    printf("verdict: %s by %s", str(v, "state"), str(v, "actor"));
    if (strcmp(str(v, "state"), "in_review") == 0)
        printf(" (queue %s, priority %lld)", str(v, "queue"), num(v, "priority"));
    if (*str(v, "reason")) {
        fputs(": ", stdout);
        sl_ctl_put_text(stdout, str(v, "reason"), 500, false);
    }
    fputc('\n', stdout);
}

static int cmd_item(struct client *c, int argc, char **argv)
{
    struct args a;
    json_t *it, *v;
    char path[1024];
    const char *k;
    size_t i;
    int rc = sl_ctl_args(c, argc, argv, 0, 1, 1, "item ID", &a);

    if (rc)
        return rc;
    sl_ctl_id_path(path, sizeof(path), "/v1/items/%s", a.pos[0]);
    if ((rc = sl_ctl_call(c, EVHTTP_REQ_GET, path, NULL, &it)) || c->json) {
        json_decref(it);
        return rc;
    }
    json_t *up = json_object_get(it, "upload");
    sl_ctl_put_text(stdout, str(it, "id"), 0, false);
    fputs("  by ", stdout);
    sl_ctl_put_text(stdout, str(it, "creator"), 0, false);
    printf("  [%s]\n  ", str(it, "state"));
    sl_ctl_put_text(stdout, str(up, "title"), 0, false);
    fputc('\n', stdout);
    fputs("tags:", stdout);
    print_tags(json_object_get(it, "tags"));
    print_matches(json_object_get(it, "matches"), "match: ");
    json_array_foreach(json_object_get(it, "reasons"), i, v) {
        fputs("reason: ", stdout);
        sl_ctl_put_text(stdout, json_string_value(v), 0, false);
        fputc('\n', stdout);
    }
    print_verdict(json_object_get(it, "verdict"));
    fputs("counters:", stdout);
    json_object_foreach(json_object_get(it, "counters"), k, v)
        if (json_integer_value(v))
            printf(" %s=%lld", k, (long long)json_integer_value(v));
    printf("\naudit:\n");
    json_array_foreach(json_object_get(it, "audit"), i, v) {
        json_t *from = json_object_get(v, "from"), *to = json_object_get(v, "to");
        printf("  #%lld %s %s %s -> %s ", num(v, "seq"), str(v, "actor"), str(v, "action"),
               json_is_string(from) ? json_string_value(from) : "-",
               json_is_string(to) ? json_string_value(to) : "-");
        sl_ctl_put_text(stdout, str(v, "reason"), 300, false);
        fputc('\n', stdout);
    }
    json_decref(it);
    return 0;
}

static void print_queues(json_t *queues, long long now)
{
    size_t i;
    json_t *q;

    if (!json_array_size(queues)) {
        printf("no queue has items waiting\n");
        return;
    }
    printf("%-20s %7s %8s %8s  %-8s %s\n", "QUEUE", "DEPTH", "CLAIMED", "PAST SLA", "SLA",
           "OLDEST");
    json_array_foreach(queues, i, q) {
        /* Past the queue's time to decision: "-" when it has none. */
        char past[24] = "-", sla[32] = "-", old[32] = "-";
        if (json_is_integer(json_object_get(q, "sla_ms"))) {
            snprintf(past, sizeof(past), "%lld", num(q, "overdue"));
            sl_ctl_span(num(q, "sla_ms"), sla, sizeof(sla));
        }
        if (json_is_integer(json_object_get(q, "oldest_ms")))
            sl_ctl_span(now - num(q, "oldest_ms"), old, sizeof(old));
        printf("%-20s %7lld %8lld %8s  %-8s %s\n", str(q, "name"), num(q, "depth"),
               num(q, "claimed"), past, sla, old);
    }
}

static int cmd_queue(struct client *c, int argc, char **argv)
{
    struct args a;
    json_t *res, *it;
    char path[1024], b1[32], b2[32];
    size_t i;
    int rc = sl_ctl_args(c, argc, argv, A_QUEUE | A_LIMIT, 0, 0,
                        "queue [--queue NAME] [--limit N]", &a);

    if (rc)
        return rc;
    if (a.limit && (strspn(a.limit, "0123456789") != strlen(a.limit) || strlen(a.limit) > 6 ||
                    atoi(a.limit) < 1))
        return usage_error(c, "--limit must be a positive number, not '%s'", a.limit);
    int n = snprintf(path, sizeof(path), "/v1/queue?limit=%s", a.limit ? a.limit : "50");
    if (a.queue) {
        char *q = evhttp_uriencode(a.queue, -1, 0);
        snprintf(path + n, sizeof(path) - (size_t)n, "&queue=%s", q ? q : "");
        free(q);
    }
    if ((rc = sl_ctl_call(c, EVHTTP_REQ_GET, path, NULL, &res)) || c->json) {
        json_decref(res);
        return rc;
    }
    long long now = num(res, "now_ms");
    print_queues(json_object_get(res, "queues"), now);
    json_t *items = json_object_get(res, "items");
    if (json_array_size(items)) {
        printf("\n%-26s %-14s %4s %7s  %-24s %s\n", "ITEM", "QUEUE", "PRIO", "WAITING",
               "CLAIMED BY", "TITLE / REASON");
        json_array_foreach(items, i, it) {
            json_t *by = json_object_get(it, "claimed_by");
            b2[0] = '\0';
            if (json_is_string(by))
                snprintf(b2, sizeof(b2), "%.12s %s left", json_string_value(by),
                         sl_ctl_span(num(it, "lease_until_ms") - now, b1, sizeof(b1)));
            printf("%-26s %-14s %4lld %7s  %-24s ", str(it, "id"), str(it, "queue"),
                   num(it, "priority"), sl_ctl_span(now - num(it, "enqueued_ms"), b1, sizeof(b1)),
                   *b2 ? b2 : "-");
            sl_ctl_put_text(stdout, str(it, "title"), 60, false);
            fputs(" / ", stdout);
            sl_ctl_put_text(stdout, str(it, "reason"), 80, false);
            fputc('\n', stdout);
        }
    } else if (a.queue) {
        printf("\nnothing waits in the queue %s\n", a.queue);
    }
    json_decref(res);
    return 0;
}

static int cmd_stats(struct client *c, int argc, char **argv)
{
    struct args a;
    json_t *st, *v, *m;
    const char *k, *who;
    size_t i;
    int rc = sl_ctl_args(c, argc, argv, 0, 0, 0, "stats", &a);

    if (rc || (rc = sl_ctl_call(c, EVHTTP_REQ_GET, "/v1/stats", NULL, &st)) || c->json) {
        if (!rc)
            json_decref(st);
        return rc;
    }
    fputs("items:", stdout);
    json_object_foreach(json_object_get(st, "items"), k, v)
        printf(" %s %lld", k, (long long)json_integer_value(v));
    printf("%s\n\n", json_object_size(json_object_get(st, "items")) ? "" : " none");
    print_queues(json_object_get(st, "queues"), num(st, "now_ms"));

    /* The day's decisions by action; the hourly detail stays in --json. */
    json_t *totals = json_object();
    json_array_foreach(json_object_get(st, "decisions_by_hour"), i, v) {
        const char *action = str(v, "action");
        json_object_set_new(totals, action, json_integer(num(totals, action) + num(v, "count")));
    }
    fputs("\ndecisions in the last 24 hours:", stdout);
    json_object_foreach(totals, k, v)
        printf(" %s %lld", k, (long long)json_integer_value(v));
    printf("%s\n", json_object_size(totals) ? "" : " none");
    json_decref(totals);
    if (json_object_size(json_object_get(st, "moderators")))
        printf("\n%-30s %8s %8s %8s\n", "MODERATOR", "APPROVE", "REJECT", "ESCALATE");
    json_object_foreach(json_object_get(st, "moderators"), who, m)
        printf("%-30s %8lld %8lld %8lld\n", who, num(m, "approve"), num(m, "reject"),
               num(m, "escalate"));
    json_decref(st);
    return 0;
}

/* }===================================================================== */

/* {====================== Backup ======================================= */

static int cmd_backup(struct client *c, int argc, char **argv)
{
    static const char magic[16] = "SQLite format 3";     /* with its NUL */
    struct args a;
    struct reply rep;
    struct stat st;
    char tmp[4096], head[16];
    int rc = sl_ctl_args(c, argc, argv, A_FORCE, 1, 1, "backup FILE [--force]", &a);

    if (rc)
        return rc;
    const char *file = a.pos[0];
    if (lstat(file, &st) == 0 && (!a.force || !S_ISREG(st.st_mode)))
        return sl_ctl_fail(c, EXIT_USAGE, "usage", S_ISREG(st.st_mode)
                    ? "%s exists; --force replaces it" : "%s exists and is not a file", file);
    snprintf(tmp, sizeof(tmp), "%s.tmp", file);
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return sl_ctl_fail(c, EXIT_USAGE, "usage", "cannot write %s: %s", tmp, strerror(errno));
    rc = sl_ctl_request(c, EVHTTP_REQ_GET, "/v1/backup", NULL, fd, SLOW_TIMEOUT_S, &rep);
    if (rc == 0 && rep.status != 200)
        rc = sl_ctl_refused(c, &rep);
    if (rc == 0 && (rep.sink_failed || fsync(fd) < 0))
        rc = sl_ctl_fail(c, EXIT_REFUSED, "local", "cannot write %s: %s", tmp, strerror(errno));
    if (rc == 0 && (pread(fd, head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
                    memcmp(head, magic, sizeof(magic)) != 0))
        rc = sl_ctl_fail(c, EXIT_REFUSED, "bad_answer",
                  "the daemon sent %zu bytes that are not an SQLite database", rep.sunk);
    close(fd);
    free(rep.body);
    if (rc == 0 && rename(tmp, file) < 0)
        rc = sl_ctl_fail(c, EXIT_REFUSED, "local", "cannot rename %s to %s: %s", tmp, file,
                  strerror(errno));
    if (rc) {
        unlink(tmp);
        return rc;
    }
    if (c->json) {
        json_t *out = json_pack("{s:s, s:I}", "file", file, "bytes", (json_int_t)rep.sunk);
        json_dumpf(out, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(out);
    } else {
        printf("wrote %s: %zu bytes, a consistent copy of the store\n", file, rep.sunk);
    }
    return 0;
}

/* }===================================================================== */

static const struct command {
    const char *name;
    int (*fn)(struct client *c, int argc, char **argv);
} commands[] = {
    { "status", cmd_status },       /* GET /v1/status */
    { "token",  sl_ctl_token },     /* POST, GET /v1/tokens, DELETE /v1/tokens/NAME */
    { "item",   cmd_item },         /* GET /v1/items/ID */
    { "queue",  cmd_queue },        /* GET /v1/queue */
    { "review", sl_ctl_review },       /* claim, decision, renew */
    { "stats",  cmd_stats },        /* GET /v1/stats */
    { "policy", sl_ctl_policy },       /* check, reload, replay */
    { "backup", cmd_backup },       /* GET /v1/backup */
    { "audit",  sl_ctl_audit },     /* GET /v1/audit/verify, /v1/audit/head */
    { "search", sl_ctl_search },    /* GET /v1/items */
    { "bulk",   sl_ctl_bulk },      /* POST, GET /v1/bulk, confirm, cancel */
    { "creator", sl_ctl_creator },  /* GET /v1/creators/ID, suspend, restore */
    { "migrate", sl_ctl_migrate },  /* the store itself, not the daemon */
};

/* The first line of FILE, without surrounding blanks. */
static int read_token_file(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");

    if (!f)
        return -errno;
    if (!fgets(buf, (int)len, f))
        buf[0] = '\0';
    fclose(f);
    size_t n = strlen(buf);
    while (n && isspace((unsigned char)buf[n - 1]))
        buf[--n] = '\0';
    return n ? 0 : -ENODATA;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "url",        required_argument, NULL, 'u' },
        { "token",      required_argument, NULL, 't' },
        { "token-file", required_argument, NULL, 'T' },
        { "json",       no_argument,       NULL, 'j' },
        { "help",       no_argument,       NULL, 'h' },
        { "version",    no_argument,       NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    static char token[1024];
    struct client c = { 0 };
    const char *token_file = NULL;
    int o;

    c.url = getenv("SLUICE_URL") && *getenv("SLUICE_URL") ? getenv("SLUICE_URL")
                                                           : "http://127.0.0.1:8420";
    c.token = getenv("SLUICE_TOKEN");
    opterr = 0;
    /* Options stop at the command, so its own flags (--role) reach it. */
    while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (o) {
        case 'u': c.url = optarg; break;
        case 't': c.token = optarg; token_file = NULL; break;
        case 'T': token_file = optarg; break;
        case 'j': c.json = true; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("sluicectl %s\n", PACKAGE_VERSION); return 0;
        default:
            return usage_error(&c, "unknown option or missing value: '%s'", argv[optind - 1]);
        }
    }
    if (token_file) {
        int rc = read_token_file(token_file, token, sizeof(token));
        if (rc < 0)
            return usage_error(&c, "cannot read a token from %s: %s", token_file,
                               rc == -ENODATA ? "it is empty" : strerror(-rc));
        c.token = token;
    }
    if (optind >= argc)
        return usage_error(&c, "no command given");
    if (parse_url(&c) < 0)
        return usage_error(&c, "--url must look like http://HOST:PORT, not '%s'", c.url);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[optind], commands[i].name) == 0)
            return commands[i].fn(&c, argc - optind - 1, argv + optind + 1);
    return usage_error(&c, "unknown command '%s'", argv[optind]);
}

