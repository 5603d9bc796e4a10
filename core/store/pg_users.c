/* SPDX-License-Identifier: MIT */
/* Users and who follows whom. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/id.h"
#include "store/pg.h"

const char *const sl_pg_users_sql[PG__COUNT] = {
    [PG_USER_UPSERT]    = "INSERT INTO users (id, city, interests, created_ms, updated_ms)"
                          " VALUES ($1, $2, coalesce($3, '[]'), $4, $4)"
                          " ON CONFLICT (id) DO UPDATE SET"
                          " city = coalesce($2, users.city),"
                          " interests = coalesce($3, users.interests),"
                          " updated_ms = $4",
    [PG_USER_GET]       = "SELECT id, city, interests FROM users WHERE id = $1",
    [PG_FOLLOW_ADD]     = "INSERT INTO follows (follower, creator, created_ms)"
                          " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    [PG_FOLLOW_DEL]     = "DELETE FROM follows WHERE follower = $1 AND creator = $2",
    [PG_USER_SEEN]      = "UPDATE users SET seen_s = greatest(seen_s, $2) WHERE id = $1",
};

int sl_pg_user_seen(struct sl_pg *s, const char *id, int64_t seen_s)
{
    struct pg_params p = { 0 };
    par_text(&p, id);
    par_int(&p, seen_s);
    return sl_pg_write(s, PG_USER_SEEN, &p, PG_ANY, NULL);
}

int sl_pg_user_upsert(struct sl_pg *s, const char *id, const char *city, const char *interests,
                      int64_t now_ms)
{
    struct pg_params p = { 0 };
    par_text(&p, id);
    par_text(&p, city);
    par_text(&p, interests);
    par_int(&p, now_ms);
    return sl_pg_write(s, PG_USER_UPSERT, &p, PG_ANY, NULL);
}

int sl_pg_user_get(struct sl_pg *s, const char *id, json_t **out)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    par_text(&p, id);
    int rc = sl_pg_row(s, PG_USER_GET, &p, &r);
    if (rc < 0)
        return rc;
    json_error_t jerr;
    *out = json_pack_ex(&jerr, 0, "{s:s, s:o, s:o}", "id", col(&r, 0),
                        "city", col_string_or_null(&r, 1),
                        "interests", col_json(&r, 2));
    return sl_pg_row_packed(&r, out, &jerr, "user", id);
}

int sl_pg_follow_set(struct sl_pg *s, const char *follower, const char *creator, bool on,
                     int64_t now_ms)
{
    /* Users named by a follow exist from then on, with nothing known yet. */
    int rc = sl_pg_user_upsert(s, follower, NULL, NULL, now_ms);
    if (rc == 0)
        rc = sl_pg_user_upsert(s, creator, NULL, NULL, now_ms);
    if (rc < 0)
        return rc;
    struct pg_params p = { 0 };
    par_text(&p, follower);
    par_text(&p, creator);
    if (on)
        par_int(&p, now_ms);
    return sl_pg_write(s, on ? PG_FOLLOW_ADD : PG_FOLLOW_DEL, &p, PG_ANY, NULL);
}
