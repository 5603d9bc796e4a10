/* SPDX-License-Identifier: MIT */
/* Statistics: recent items, decisions by hour and by moderator. */
#include "config.h"

#include <stdint.h>

#include "store/sqlite.h"

const char *const sl_sqlite_stats_sql[ST__COUNT] = {
    [ST_ITEMS_SINCE]    = "SELECT id, state, upload, tags FROM items WHERE created_ms >= ?"
                          " ORDER BY created_ms DESC, id LIMIT ?",
    [ST_DECISIONS_BY_HOUR] = "SELECT ts_ms / 3600000 * 3600000, action, count(*) FROM audit"
                          " WHERE ts_ms >= ? AND action IN ('approve', 'reject', 'escalate', 'verdict')"
                          " GROUP BY 1, 2 ORDER BY 1",
    [ST_DECISIONS_BY_ACTOR] = "SELECT actor, action, count(*), min(ts_ms), max(ts_ms) FROM audit"
                          " WHERE ts_ms >= ? AND action IN ('approve', 'reject', 'escalate')"
                          " GROUP BY 1, 2 ORDER BY 1",
};

int sl_store_items_since(struct sl_store *s, int64_t since_ms, int limit,
                         int (*fn)(void *arg, const char *id, const char *state,
                                   const char *upload, const char *tags),
                         void *arg)
{
    sqlite3_stmt *st = stmt_get(s, ST_ITEMS_SINCE);
    int rc;

    sqlite3_bind_int64(st, 1, since_ms);
    sqlite3_bind_int(st, 2, limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(arg, col_text(st, 0), col_text(st, 1), col_text(st, 2), col_text(st, 3)))
            break;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, "items since");
}

int sl_store_decision_stats(struct sl_store *s, int64_t since_ms, json_t **out)
{
    json_t *hours = json_array(), *people = json_object();
    sqlite3_stmt *st = stmt_get(s, ST_DECISIONS_BY_HOUR);
    int rc;

    sqlite3_bind_int64(st, 1, since_ms);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(hours, json_pack("{s:I, s:s, s:I}",
            "hour_ms", (json_int_t)sqlite3_column_int64(st, 0),
            "action", col_text(st, 1), "count", (json_int_t)sqlite3_column_int64(st, 2)));
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        st = stmt_get(s, ST_DECISIONS_BY_ACTOR);
        sqlite3_bind_int64(st, 1, since_ms);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            json_t *who = json_object_get(people, col_text(st, 0));
            if (!who) {
                who = json_object();
                json_object_set_new(people, col_text(st, 0), who);
            }
            json_object_set_new(who, col_text(st, 1), json_integer(sqlite3_column_int64(st, 2)));
        }
        sqlite3_reset(st);
    }
    if (rc != SQLITE_DONE) {
        json_decref(hours);
        json_decref(people);
        return db_fail(s, "decision stats");
    }
    *out = json_pack("{s:o, s:o}", "decisions_by_hour", hours, "moderators", people);
    return 0;
}
