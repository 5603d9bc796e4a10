/* SPDX-License-Identifier: MIT */
/* POST /v1/follows: many edges of the follow graph at once (an import, a sync), all or nothing. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "dist/dist.h"
#include "lib/clock.h"
#include "lib/json.h"
#include "server.h"
#include "store/commit.h"
#include "store/store.h"

#define FOLLOWS_MAX 100000      /* lines of one request */

/*
 * Each line does what PUT (or, with "op": "unfollow", DELETE)
 * /v1/follows/{follower}/{creator} does, in the order of the lines: users
 * named are created, the edge is stored, the audience learns it. The whole
 * body is checked before anything is written, and written as one op of the
 * group commit.
 */
struct follows_op {
    struct sl_commit_op op;
    struct sl_request *r;
    struct sl_follow_row *rows;
    size_t n;
    char *arena;                /* the rows' ids */
};

static void follows_free(struct follows_op *f)
{
    if (!f)
        return;
    free(f->rows);
    free(f->arena);
    free(f);
}

/* {====================== The body ==================================== */

/* One line's object into row, its ids copied to *arena. */
static int parse_edge(json_t *obj, struct sl_follow_row *row, char **arena,
                      struct sl_error *err)
{
    static const char *const keys[] = { "follower", "creator", "op", NULL };
    const char *follower, *creator, *op = "follow";

    if (sl_json_only_keys(obj, keys, err) < 0 ||
        sl_json_get_id(obj, "follower", true, &follower, err) < 0 ||
        sl_json_get_id(obj, "creator", true, &creator, err) < 0 ||
        sl_json_get_string(obj, "op", false, 32, &op, err) < 0)
        return -EINVAL;
    if (strcmp(op, "follow") != 0 && strcmp(op, "unfollow") != 0)
        return sl_error_set(err, 422, "invalid", "op", "op must be follow or unfollow.");
    if (strcmp(follower, creator) == 0)
        return sl_error_set(err, 422, "invalid", "creator", "A user cannot follow themselves.");
    size_t lf = strlen(follower) + 1, lc = strlen(creator) + 1;
    row->follower = memcpy(*arena, follower, lf);
    row->creator = memcpy(*arena + lf, creator, lc);
    *arena += lf + lc;
    row->on = op[0] == 'f';
    return 0;
}

static int parse_line(const char *p, const char *stop, struct follows_op *f, char **arena,
                      struct sl_error *err)
{
    json_t *obj = sl_json_parse(p, (size_t)(stop - p), true, err);
    int rc = obj ? parse_edge(obj, &f->rows[f->n], arena, err) : -EINVAL;

    json_decref(obj);
    if (rc == 0)
        f->n++;
    return rc;
}

/* The body, NDJSON or one object, into f: 0; -EINVAL with err set (naming
 * the line of an NDJSON body); -ENOMEM. */
static int parse_body(const char *body, size_t len, bool ndjson, struct follows_op *f,
                      struct sl_error *err)
{
    struct sl_ndjson lines;
    size_t cap = 1;
    int rc = 0;

    if (ndjson && sl_ndjson_begin(&lines, body, len, FOLLOWS_MAX, "follows", &cap, err) < 0)
        return -EINVAL;
    f->rows = calloc(cap, sizeof(*f->rows));
    /* Every id is shorter than the line it came from. */
    f->arena = malloc(len + 2 * cap);
    if (!f->rows || !f->arena)
        return -ENOMEM;
    char *arena = f->arena;
    if (!ndjson) {
        rc = parse_line(body, body + len, f, &arena, err);
    } else {
        const char *p, *stop;
        while (rc == 0 && sl_ndjson_next(&lines, &p, &stop))
            if ((rc = parse_line(p, stop, f, &arena, err)) < 0)
                sl_ndjson_name_line(err, lines.line);
    }
    if (rc == 0 && f->n == 0)
        rc = sl_error_set(err, 422, "invalid", NULL, "The batch holds no follows.");
    return rc;
}

/* }===================================================================== */

/* {====================== The write ==================================== */

static int follows_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct follows_op *f = (struct follows_op *)op;
    return sl_store_follows_set(w, f->rows, f->n, sl_now_ms());
}

static void follows_done(struct sl_commit_op *op, int rc)
{
    struct follows_op *f = (struct follows_op *)op;
    struct sl_request *r = f->r;
    size_t followed = 0, unfollowed = 0;

    if (rc < 0) {
        sl_http_reply_store_error(r, rc);
        follows_free(f);
        return;
    }
    for (size_t i = 0; i < f->n; i++) {
        const struct sl_follow_row *e = &f->rows[i];
        sl_dist_follow(r->srv, e->follower, e->creator, e->on);
        followed += e->changed && e->on;
        unfollowed += e->changed && !e->on;
    }
    char text[96];
    int len = snprintf(text, sizeof(text), "{\"followed\":%zu,\"unfollowed\":%zu,\"unchanged\":%zu}\n",
                       followed, unfollowed, f->n - followed - unfollowed);
    sl_http_reply_bytes(r, 200, "application/json", text, (size_t)len);
    follows_free(f);
}

static void follows_drop(struct sl_commit_op *op)
{
    follows_free((struct follows_op *)op);
}

void sl_api_follows_post(struct sl_request *r)
{
    struct sl_error err = { 0 };
    struct follows_op *f = calloc(1, sizeof(*f));
    int rc = f ? parse_body(r->body, r->body_len, r->ndjson, f, &err) : -ENOMEM;

    if (rc < 0) {
        follows_free(f);
        if (rc == -ENOMEM)
            sl_http_reply_store_error(r, rc);
        else
            sl_http_reply_error(r, &err);
        return;
    }
    f->r = r;
    sl_api_submit(r, &f->op, follows_apply, follows_done, follows_drop);
}

/* }===================================================================== */
