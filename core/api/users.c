/* SPDX-License-Identifier: MIT */
/* POST /v1/users and PUT/DELETE /v1/follows: the audience's raw facts. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/validate.h"
#include "dist/dist.h"
#include "lib/clock.h"
#include "lib/json.h"
#include "lib/text.h"
#include "server.h"
#include "store/commit.h"
#include "store/store.h"

#define MAX_INTERESTS 64

struct user_op {
    struct sl_commit_op op;
    struct sl_request *r;
    char id[SL_ID_MAX + 1];
    char creator[SL_ID_MAX + 1];    /* follows only */
    char *city;                     /* NULL: keep */
    char *interests;                /* JSON array; NULL: keep */
    bool follow;
    bool on;
};

static void user_free(struct user_op *u)
{
    if (!u)
        return;
    free(u->city);
    free(u->interests);
    free(u);
}

static int user_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct user_op *u = (struct user_op *)op;
    if (u->follow)
        return sl_store_follow_set(w, u->id, u->creator, u->on, sl_now_ms());
    return sl_store_user_upsert(w, u->id, u->city, u->interests, sl_now_ms());
}

static void user_done(struct sl_commit_op *op, int rc)
{
    struct user_op *u = (struct user_op *)op;
    struct sl_request *r = u->r;
    json_t *user;

    if (rc == 0 && u->follow)
        sl_dist_follow(r->srv, u->id, u->creator, u->on);
    else if (rc == 0) {
        json_t *interests = u->interests ? json_loads(u->interests, 0, NULL) : NULL;
        sl_dist_user(r->srv, u->id, u->city, interests);
        json_decref(interests);
    }
    if (rc < 0)
        sl_http_reply_store_error(r, rc);
    else if (u->follow)
        sl_http_reply_json(r, 200, json_pack("{s:s, s:s, s:b}", "follower", u->id,
                                             "creator", u->creator, "following", u->on));
    else if ((rc = sl_store_user_get(r->srv->reader, u->id, &user)) == 0)
        sl_http_reply_json(r, 200, user);
    else
        sl_api_read_error(r, rc);
    user_free(u);
}

static void user_drop(struct sl_commit_op *op)
{
    user_free((struct user_op *)op);
}

/* u NULL, or a copy that failed (bad): a 503 for want of memory. */
static void user_submit(struct sl_request *r, struct user_op *u, bool bad)
{
    if (u && bad) {
        user_free(u);
        u = NULL;
    }
    if (u)
        u->r = r;
    sl_api_submit(r, u ? &u->op : NULL, user_apply, user_done, user_drop);
}

static int check_interests(json_t *body, struct sl_error *err)
{
    json_t *arr = json_object_get(body, "interests");
    size_t i;
    json_t *v;

    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr) || json_array_size(arr) > MAX_INTERESTS)
        return sl_error_set(err, 422, "invalid", "interests",
                            "interests must be an array of at most %d ids", MAX_INTERESTS);
    json_array_foreach(arr, i, v)
        if (!json_is_string(v) || !sl_id_valid(json_string_value(v))) {
            char field[32];
            snprintf(field, sizeof(field), "interests[%zu]", i);
            return sl_error_set(err, 422, "invalid", field,
                                "%s must be an id (A-Z a-z 0-9 _ - . : @, at most 128)", field);
        }
    return 0;
}

int sl_user_validate(json_t *body, struct sl_error *err)
{
    static const char *const keys[] = { "id", "city", "interests", NULL };
    const char *s;

    if (sl_json_only_keys(body, keys, err) < 0 ||
        sl_json_get_id(body, "id", true, &s, err) < 0 ||
        sl_json_get_string(body, "city", false, 128, &s, err) < 0 ||
        check_interests(body, err) < 0)
        return -EINVAL;
    return 0;
}

void sl_api_user_post(struct sl_request *r)
{
    struct sl_error err = { 0 };
    json_t *body = sl_http_json_body(r, &err);

    if (!body || sl_user_validate(body, &err) < 0) {
        json_decref(body);
        sl_http_reply_error(r, &err);
        return;
    }
    const char *id = json_string_value(json_object_get(body, "id"));
    const char *city = json_string_value(json_object_get(body, "city"));
    struct user_op *u = calloc(1, sizeof(*u));
    json_t *interests = json_object_get(body, "interests");
    bool bad = false;
    if (u) {
        sl_copy(u->id, sizeof(u->id), id);
        u->city = city ? strdup(city) : NULL;
        u->interests = interests && !json_is_null(interests)
                           ? json_dumps(interests, JSON_COMPACT) : NULL;
        bad = (city && !u->city) || (interests && !json_is_null(interests) && !u->interests);
    }
    json_decref(body);
    user_submit(r, u, bad);
}

static void follow(struct sl_request *r, bool on)
{
    const char *follower = r->params[0], *creator = r->params[1];

    for (int i = 0; i < 2; i++)
        if (!sl_id_valid(r->params[i])) {
            sl_http_reply_errorf(r, 422, "invalid", i ? "creator" : "follower",
                                 "%s must be an id (A-Z a-z 0-9 _ - . : @, at most 128)",
                                 i ? "creator" : "follower");
            return;
        }
    if (strcmp(follower, creator) == 0) {
        sl_http_reply_errorf(r, 422, "invalid", "creator", "A user cannot follow themselves.");
        return;
    }
    struct user_op *u = calloc(1, sizeof(*u));
    if (u) {
        sl_copy(u->id, sizeof(u->id), follower);
        sl_copy(u->creator, sizeof(u->creator), creator);
        u->follow = true;
        u->on = on;
    }
    user_submit(r, u, false);
}

void sl_api_follow_put(struct sl_request *r)
{
    follow(r, true);
}

void sl_api_follow_delete(struct sl_request *r)
{
    follow(r, false);
}
