/* SPDX-License-Identifier: MIT */
/* Statistics: recent items, decisions by hour and by moderator. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "lib/text.h"
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
    int rc = SQLITE_DONE;

    json_error_t jerr;
    int bad = hours && people ? 0 : -ENOMEM;

    sqlite3_bind_int64(st, 1, since_ms);
    while (!bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *h = json_pack_ex(&jerr, 0, "{s:I, s:s, s:I}",
            "hour_ms", (json_int_t)sqlite3_column_int64(st, 0),
            "action", col_text(st, 1), "count", (json_int_t)sqlite3_column_int64(st, 2));
        if (!h || json_array_append_new(hours, h) < 0)
            bad = h ? -ENOMEM : row_unreadable(&jerr, "an audit record's action");
    }
    sqlite3_reset(st);
    if (!bad && rc == SQLITE_DONE) {
        st = stmt_get(s, ST_DECISIONS_BY_ACTOR);
        sqlite3_bind_int64(st, 1, since_ms);
        while (!bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *actor = col_text(st, 0), *action = col_text(st, 1);
            if (!actor || !action || !sl_utf8_valid(actor, strlen(actor)) ||
                !sl_utf8_valid(action, strlen(action))) {
                sl_err("store: the decisions of an actor cannot be counted: an audit "
                       "record's actor or action is not UTF-8 (edited by hand?)");
                bad = -EILSEQ;
                break;
            }
            json_t *who = json_object_get(people, actor);
            if (!who && json_object_set_new(people, actor, who = json_object()) < 0)
                bad = -ENOMEM;
            else if (json_object_set_new(who, action,
                                         json_integer(sqlite3_column_int64(st, 2))) < 0)
                bad = -ENOMEM;
        }
        sqlite3_reset(st);
    }
    if (bad || rc != SQLITE_DONE) {
        json_decref(hours);
        json_decref(people);
        return bad ? bad : db_fail(s, "decision stats");
    }
    *out = json_pack("{s:o, s:o}", "decisions_by_hour", hours, "moderators", people);
    return *out ? 0 : -ENOMEM;
}
