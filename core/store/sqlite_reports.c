/* SPDX-License-Identifier: MIT */
/* Reports: one per user and item, weighed when they come, judged when people decide. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/sqlite.h"

const char *const sl_sqlite_reports_sql[ST__COUNT] = {
    [ST_REPORT_FACTS]    = "SELECT (SELECT count(*) FROM reports WHERE item = ?1 AND user = ?2),"
                           " EXISTS (SELECT 1 FROM item_served WHERE seq = " SEQ_OF("?1")
                           " AND user = ?2)",
    [ST_REPORTER_GET]    = "SELECT reports, upheld, dismissed FROM reporters WHERE user = ?",
    [ST_REPORT_ADD]      = "INSERT INTO reports (item, user, ts_ms, served, weight)"
                           " VALUES (?, ?, ?, ?, ?)",
    [ST_REPORTER_ADD]    = "INSERT INTO reporters (user, reports) VALUES (?, 1)"
                           " ON CONFLICT (user) DO UPDATE SET reports = reports + 1",
    [ST_REPORT_SUM]      = "SELECT count(*), coalesce(sum(weight), 0) FROM reports"
                           " WHERE item = ? AND judged = 0",
    /* Only served reporters' standing moves: one who never saw the item
     * weighed nothing, and people cannot tell them wrong. */
    [ST_REPORTERS_JUDGE] = "UPDATE reporters SET upheld = upheld + ?2, dismissed = dismissed + (1 - ?2)"
                           " WHERE user IN (SELECT user FROM reports"
                           " WHERE item = ?1 AND judged = 0 AND served = 1)",
    [ST_REPORTS_JUDGE]   = "UPDATE reports SET judged = 1 + ?2 WHERE item = ?1 AND judged = 0",
    [ST_REPORTS_LIST]    = "SELECT r.user, r.ts_ms, r.served, r.weight, r.judged,"
                           " coalesce(p.reports, 0), coalesce(p.upheld, 0), coalesce(p.dismissed, 0)"
                           " FROM reports r LEFT JOIN reporters p ON p.user = r.user"
                           " WHERE r.item = ? ORDER BY r.ts_ms, r.user LIMIT 200",
    [ST_REPORT_REPEAT]   = "UPDATE reports SET weight = 0"
                           " WHERE item = ? AND user = ? AND judged = 0",
};

int sl_store_report_facts(struct sl_store *s, const char *item, const char *user,
                          struct sl_report_facts *out)
{
    sqlite3_stmt *st = stmt_get(s, ST_REPORT_FACTS);
    bind_text(st, 1, item);
    bind_text(st, 2, user);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return db_fail(s, "report facts");
    }
    *out = (struct sl_report_facts){
        .already = sqlite3_column_int(st, 0) > 0,
        .served = sqlite3_column_int(st, 1) > 0,
    };
    sqlite3_reset(st);
    st = stmt_get(s, ST_REPORTER_GET);
    bind_text(st, 1, user);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->reports = sqlite3_column_int64(st, 0);
        out->upheld = sqlite3_column_int64(st, 1);
        out->dismissed = sqlite3_column_int64(st, 2);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, "reporter");
}

/* One more report in user's record (reporters.reports). */
static int reporter_add(struct sl_store *s, const char *user)
{
    sqlite3_stmt *st = stmt_get(s, ST_REPORTER_ADD);
    bind_text(st, 1, user);
    return stmt_done(s, st, "reporter add");
}

int sl_store_report_add(struct sl_store *s, const char *item, const char *user, bool served,
                        double weight, int64_t now_ms)
{
    sqlite3_stmt *st = stmt_get(s, ST_REPORT_ADD);
    bind_text(st, 1, item);
    bind_text(st, 2, user);
    sqlite3_bind_int64(st, 3, now_ms);
    sqlite3_bind_int(st, 4, served);
    sqlite3_bind_double(st, 5, weight);
    int rc = stmt_done(s, st, "report add");
    return rc < 0 ? rc : reporter_add(s, user);
}

int sl_store_report_repeat(struct sl_store *s, const char *item, const char *user)
{
    sqlite3_stmt *st = stmt_get(s, ST_REPORT_REPEAT);
    bind_text(st, 1, item);
    bind_text(st, 2, user);
    int rc = stmt_done(s, st, "report repeat");
    return rc < 0 ? rc : reporter_add(s, user);
}

int sl_store_report_sum(struct sl_store *s, const char *item, int64_t *n, double *weight)
{
    sqlite3_stmt *st = stmt_get(s, ST_REPORT_SUM);
    bind_text(st, 1, item);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *n = sqlite3_column_int64(st, 0);
        *weight = sqlite3_column_double(st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : db_fail(s, "report sum");
}

int sl_store_reports_judge(struct sl_store *s, const char *item, bool upheld)
{
    sqlite3_stmt *st = stmt_get(s, ST_REPORTERS_JUDGE);
    bind_text(st, 1, item);
    sqlite3_bind_int(st, 2, upheld);
    int rc = stmt_done(s, st, "reporters judge");
    if (rc < 0)
        return rc;
    st = stmt_get(s, ST_REPORTS_JUDGE);
    bind_text(st, 1, item);
    sqlite3_bind_int(st, 2, upheld);
    return stmt_done(s, st, "reports judge");
}

int sl_store_reports_get(struct sl_store *s, const char *item, json_t **out)
{
    static const char *const judged[] = { "pending", "dismissed", "upheld" };
    sqlite3_stmt *st = stmt_get(s, ST_REPORTS_LIST);
    json_t *list = json_array();
    int rc;

    if (!list)
        return -ENOMEM;
    bind_text(st, 1, item);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int j = sqlite3_column_int(st, 4);
        json_t *r = json_pack("{s:s, s:I, s:b, s:f, s:s, s:{s:I, s:I, s:I}}",
                              "user", col_text(st, 0),
                              "ts_ms", (json_int_t)sqlite3_column_int64(st, 1),
                              "served", sqlite3_column_int(st, 2),
                              "weight", sqlite3_column_double(st, 3),
                              "judged", judged[j >= 0 && j <= 2 ? j : 0],
                              "reporter", "reports", (json_int_t)sqlite3_column_int64(st, 5),
                              "upheld", (json_int_t)sqlite3_column_int64(st, 6),
                              "dismissed", (json_int_t)sqlite3_column_int64(st, 7));
        if (!r || json_array_append_new(list, r) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        json_decref(list);
        return rc == SQLITE_NOMEM ? -ENOMEM : db_fail(s, "reports list");
    }
    *out = list;
    return 0;
}
