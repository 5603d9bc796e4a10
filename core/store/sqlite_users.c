/* SPDX-License-Identifier: MIT */
/* Users and who follows whom. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/id.h"
#include "lib/mix.h"
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

/* The edge alone, its users already there; *changed: a row was added or
 * taken away. */
static int edge_set(struct sl_store *s, const char *follower, const char *creator, bool on,
                    int64_t now_ms, bool *changed)
{
    sqlite3_stmt *st = stmt_get(s, on ? ST_FOLLOW_ADD : ST_FOLLOW_DEL);
    bind_text(st, 1, follower);
    bind_text(st, 2, creator);
    if (on)
        sqlite3_bind_int64(st, 3, now_ms);
    int rc = stmt_done(s, st, "follow");
    *changed = rc == 0 && sqlite3_changes(s->db) > 0;
    return rc;
}

int sl_store_follow_set(struct sl_store *s, const char *follower,
                        const char *creator, bool on, int64_t now_ms)
{
    bool changed;
    /* Users named by a follow exist from then on, with nothing known yet. */
    int rc = sl_store_user_upsert(s, follower, NULL, NULL, now_ms);
    if (rc == 0)
        rc = sl_store_user_upsert(s, creator, NULL, NULL, now_ms);
    if (rc < 0)
        return rc;
    return edge_set(s, follower, creator, on, now_ms, &changed);
}

/* Whether id was already in the set (slots: a power of two, more than the
 * ids put), else put it there. */
static bool seen_before(const char **slots, size_t cap, const char *id)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *c = (const unsigned char *)id; *c; c++)
        h = (h ^ *c) * 0x100000001b3ULL;
    size_t j = (size_t)sl_mix64(h) & (cap - 1);
    while (slots[j] && strcmp(slots[j], id) != 0)
        j = (j + 1) & (cap - 1);
    if (slots[j])
        return true;
    slots[j] = id;
    return false;
}

int sl_store_follows_set(struct sl_store *s, struct sl_follow_row *rows, size_t n,
                         int64_t now_ms)
{
    size_t cap = 16;
    int rc = 0;

    for (size_t i = 0; i < n; i++)
        rows[i].changed = false;
    /* Each user once: the upserts of one batch all write the same now. */
    while (cap < 4 * n)
        cap *= 2;
    const char **users = calloc(cap, sizeof(*users));
    if (!users)
        return -ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!seen_before(users, cap, rows[i].follower))
            rc = sl_store_user_upsert(s, rows[i].follower, NULL, NULL, now_ms);
        if (rc == 0 && !seen_before(users, cap, rows[i].creator))
            rc = sl_store_user_upsert(s, rows[i].creator, NULL, NULL, now_ms);
        if (rc == 0)
            rc = edge_set(s, rows[i].follower, rows[i].creator, rows[i].on, now_ms,
                          &rows[i].changed);
    }
    free(users);
    return rc;
}
