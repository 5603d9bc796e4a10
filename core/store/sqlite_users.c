/* SPDX-License-Identifier: MIT */
/* Users and who follows whom. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/id.h"
#include "store/sqlite.h"

const char *const sl_sqlite_users_sql[ST__COUNT] = {
    [ST_USER_UPSERT]    = "INSERT INTO users (id, city, interests, created_ms, updated_ms)"
                          " VALUES (?1, ?2, coalesce(?3, '[]'), ?4, ?4)"
                          " ON CONFLICT (id) DO UPDATE SET"
                          " city = coalesce(?2, city),"
                          " interests = coalesce(?3, interests),"
                          " updated_ms = ?4",
    [ST_USER_GET]       = "SELECT id, city, interests FROM users WHERE id = ?",
    [ST_FOLLOW_ADD]     = "INSERT OR IGNORE INTO follows (follower, creator, created_ms)"
                          " VALUES (?, ?, ?)",
    [ST_FOLLOW_DEL]     = "DELETE FROM follows WHERE follower = ? AND creator = ?",
    [ST_USER_SEEN]      = "UPDATE users SET seen_s = max(seen_s, ?2) WHERE id = ?1",
};

int sl_store_user_seen(struct sl_store *s, const char *id, int64_t seen_s)
{
    sqlite3_stmt *st = stmt_get(s, ST_USER_SEEN);
    bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, seen_s);
    return stmt_done(s, st, "user seen");
}

int sl_store_user_upsert(struct sl_store *s, const char *id, const char *city,
                         const char *interests, int64_t now_ms)
{
    sqlite3_stmt *st = stmt_get(s, ST_USER_UPSERT);
    bind_text(st, 1, id);
    bind_text(st, 2, city);
    bind_text(st, 3, interests);
    sqlite3_bind_int64(st, 4, now_ms);
    return stmt_done(s, st, "user upsert");
}

int sl_store_user_get(struct sl_store *s, const char *id, json_t **out)
{
    sqlite3_stmt *st = stmt_get(s, ST_USER_GET);
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    json_error_t jerr;
    if (rc == SQLITE_ROW)
        *out = json_pack_ex(&jerr, 0, "{s:s, s:o, s:o}", "id", col_text(st, 0),
                            "city", col_string_or_null(st, 1),
                            "interests", col_json(st, 2));
    sqlite3_reset(st);
    if (rc == SQLITE_ROW && !*out) {
        char what[SL_ID_MAX + 8];
        snprintf(what, sizeof(what), "user %s", id);
        return row_unreadable(&jerr, what);
    }
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_fail(s, "user get");
}

int sl_store_follow_set(struct sl_store *s, const char *follower,
                        const char *creator, bool on, int64_t now_ms)
{
    /* Users named by a follow exist from then on, with nothing known yet. */
    int rc = sl_store_user_upsert(s, follower, NULL, NULL, now_ms);
    if (rc == 0)
        rc = sl_store_user_upsert(s, creator, NULL, NULL, now_ms);
    if (rc < 0)
        return rc;
    sqlite3_stmt *st = stmt_get(s, on ? ST_FOLLOW_ADD : ST_FOLLOW_DEL);
    bind_text(st, 1, follower);
    bind_text(st, 2, creator);
    if (on)
        sqlite3_bind_int64(st, 3, now_ms);
    return stmt_done(s, st, "follow");
}
