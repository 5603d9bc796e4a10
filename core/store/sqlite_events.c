/* SPDX-License-Identifier: MIT */
/* Events in packed batches, the per-item counters, named marks. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/chain.h"
#include "store/sqlite.h"

const char *const sl_sqlite_events_sql[ST__COUNT] = {
    [ST_EVENT_INSERT]   = "INSERT INTO event_batches (ts_ms, n, data) VALUES (?, ?, ?)",
    [ST_COUNTER_ADD]    = "INSERT INTO item_counts VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
                          " ?9, ?10, ?11) ON CONFLICT (item) DO UPDATE SET c0 = c0 + ?2,"
                          " c1 = c1 + ?3, c2 = c2 + ?4, c3 = c3 + ?5, c4 = c4 + ?6,"
                          " c5 = c5 + ?7, c6 = c6 + ?8, c7 = c7 + ?9, c8 = c8 + ?10,"
                          " c9 = c9 + ?11",
    /* One statement, so the mark and the counts are of one moment. */
    [ST_COUNTERS_GET]   = "SELECT (SELECT value FROM counters WHERE name = ?2),"
                          " c0, c1, c2, c3, c4, c5, c6, c7, c8, c9 FROM (SELECT 1) LEFT JOIN item_counts ON item = ?1",
    [ST_EVENTS_SINCE]   = "SELECT seq, n, data FROM event_batches WHERE seq > ? ORDER BY seq",
    [ST_MARK_GET]       = "SELECT value FROM counters WHERE name = ?",
    [ST_MARK_SET]       = "INSERT INTO counters (name, value) VALUES (?1, ?2)"
                          " ON CONFLICT (name) DO UPDATE SET value = ?2",
};

/* Packed as chain.h says. */
int sl_store_events_insert(struct sl_store *s, const struct sl_event_row *ev, size_t n,
                           int64_t now_ms, int64_t *seq)
{
    uint8_t *buf;
    size_t len;
    int rc = sl_events_pack(ev, n, &buf, &len);
    if (rc < 0)
        return rc;
    sqlite3_stmt *st = stmt_get(s, ST_EVENT_INSERT);
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)n);
    sqlite3_bind_blob(st, 3, buf, (int)len, SQLITE_STATIC);
    rc = stmt_done(s, st, "events insert");
    free(buf);
    *seq = sqlite3_last_insert_rowid(s->db);
    return rc;
}

int sl_store_events_since(struct sl_store *s, int64_t after,
                          int (*each)(void *arg, int64_t seq, const struct sl_event_row *ev),
                          void *arg)
{
    sqlite3_stmt *st = stmt_get(s, ST_EVENTS_SINCE);
    int rc, stop = 0;

    sqlite3_bind_int64(st, 1, after);
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        stop = sl_events_unpack(sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 2),
                                (size_t)sqlite3_column_bytes(st, 2),
                                sqlite3_column_int64(st, 1), each, arg);
        if (stop < 0) {
            sqlite3_reset(st);
            return stop;
        }
    }
    sqlite3_reset(st);
    return stop || rc == SQLITE_DONE ? 0 : db_fail(s, "events since");
}

int sl_store_counters_add(struct sl_store *s, const char *item,
                          const int64_t n[SL_STORE_COUNTERS])
{
    sqlite3_stmt *st = stmt_get(s, ST_COUNTER_ADD);
    bind_text(st, 1, item);
    for (int k = 0; k < SL_STORE_COUNTERS; k++)
        sqlite3_bind_int64(st, k + 2, n[k]);
    return stmt_done(s, st, "counters add");
}

int sl_store_counters_get(struct sl_store *s, const char *item, const char *mark,
                          int64_t counts[SL_STORE_COUNTERS], int64_t *counted)
{
    sqlite3_stmt *st = stmt_get(s, ST_COUNTERS_GET);
    bind_text(st, 1, item);
    bind_text(st, 2, mark);
    int rc = sqlite3_step(st);
    *counted = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    for (int k = 0; k < SL_STORE_COUNTERS; k++)
        counts[k] = rc == SQLITE_ROW ? sqlite3_column_int64(st, k + 1) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : db_fail(s, "counters get");
}

int sl_store_mark_get(struct sl_store *s, const char *name, int64_t *value)
{
    sqlite3_stmt *st = stmt_get(s, ST_MARK_GET);
    bind_text(st, 1, name);
    int rc = sqlite3_step(st);
    *value = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_fail(s, "mark get");
}

int sl_store_mark_set(struct sl_store *s, const char *name, int64_t value)
{
    sqlite3_stmt *st = stmt_get(s, ST_MARK_SET);
    bind_text(st, 1, name);
    sqlite3_bind_int64(st, 2, value);
    return stmt_done(s, st, "mark set");
}
