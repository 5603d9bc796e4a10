/* SPDX-License-Identifier: MIT */
/* sluicectl's parts: the HTTP client and output helpers every command uses. */
#ifndef SL_CTL_H
#define SL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <event2/http.h>
#include <jansson.h>

#define EXIT_REFUSED 1          /* the daemon refused, or could not be reached */
#define EXIT_USAGE 2            /* the command line is wrong */

#define TIMEOUT_S 30            /* an ordinary request */
#define SLOW_TIMEOUT_S 600      /* replay and backup work through the whole store */

struct client {
    const char *url;
    const char *token;
    bool json;                  /* --json: the daemon's JSON on stdout */
    char host[256];
    char host_header[300];
    int port;
    char prefix[256];           /* path prefix of the URL, without a trailing / */
};

struct reply {
    int status;                 /* 0 when no answer came */
    struct evbuffer *acc;       /* the body while it arrives, unless it goes to sink_fd */
    int sink_fd;                /* -1, or where a 200 body is written */
    size_t sunk;                /* bytes written to sink_fd */
    bool sink_failed;
    bool failed;                /* no complete answer came */
    char *body;                 /* NUL-terminated; owned by the caller, free() it */
    size_t len;
};

/* Flags a command accepts (sl_ctl_args). */
enum {
    A_QUEUE = 1 << 0,
    A_LIMIT = 1 << 1,
    A_ROLE  = 1 << 2,
    A_SINCE = 1 << 3,
    A_FORCE = 1 << 4,
    A_EXPIRES = 1 << 5,
    A_HEAD = 1 << 6,
};

struct args {
    int n;                      /* words, in pos[] */
    const char *pos[4];
    const char *queue, *limit, *role, *since, *expires, *head;
    bool force;
};

/* Say a failure on stderr and, under --json, as an error object on stdout;
 * returns status. */
int sl_ctl_fail(const struct client *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define usage_error(c, ...) \
    (sl_ctl_fail((c), EXIT_USAGE, "usage", __VA_ARGS__), \
     fputs("sluicectl: 'sluicectl --help' lists the commands\n", stderr), EXIT_USAGE)

/* Text from the daemon, with control characters made harmless. */
void sl_ctl_put_text(FILE *to, const char *s, size_t max, bool lines);
/* "45s", "12m", "3h", "2d" into buf. */
const char *sl_ctl_span(long long ms, char *buf, size_t len);
/* 30s, 15m, 24h, 7d, 2w, or a sum like 1h30m, in ms; -1 when it is none of
 * these (ctl_policy.c). */
long long sl_ctl_duration(const char *s);

/* One request: 0 with rep filled (any status; free rep->body), or
 * EXIT_REFUSED after saying the daemon could not be reached. */
int sl_ctl_request(struct client *c, enum evhttp_cmd_type method, const char *path,
                   const char *body, int sink_fd, int timeout, struct reply *rep);
/* Say why the daemon refused; returns EXIT_REFUSED. */
int sl_ctl_refused(const struct client *c, const struct reply *rep);
/* A JSON request: 0 with *out (the caller's) on 2xx, printed under --json
 * unless quiet; otherwise the exit status, said. */
int sl_ctl_call_as(struct client *c, enum evhttp_cmd_type method, const char *path,
                   json_t *body, int timeout, bool quiet, json_t **out);
int sl_ctl_call(struct client *c, enum evhttp_cmd_type method, const char *path,
                json_t *body, json_t **out);
/* fmt with its one %s replaced by the escaped id. */
void sl_ctl_id_path(char *buf, size_t len, const char *fmt, const char *id);
/* A command's words (min..max) and the flags in allowed, in any order. */
int sl_ctl_args(struct client *c, int argc, char **argv, unsigned allowed,
                int min, int max, const char *use, struct args *a);

/* The commands that live in their own files. */
int sl_ctl_policy(struct client *c, int argc, char **argv);
int sl_ctl_review(struct client *c, int argc, char **argv);
int sl_ctl_audit(struct client *c, int argc, char **argv);
int sl_ctl_token(struct client *c, int argc, char **argv);
int sl_ctl_search(struct client *c, int argc, char **argv);
int sl_ctl_bulk(struct client *c, int argc, char **argv);
int sl_ctl_creator(struct client *c, int argc, char **argv);

static inline const char *str(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

static inline long long num(json_t *obj, const char *key)
{
    return (long long)json_integer_value(json_object_get(obj, key));
}

/* ctl_migrate.c: sluicectl migrate --from sqlite:PATH --to postgresql://... */
int sl_ctl_migrate(struct client *c, int argc, char **argv);

#endif
