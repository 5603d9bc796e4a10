/* SPDX-License-Identifier: MIT */
/* Reports: one per user and item, weighed when they come, judged when people decide. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/id.h"
#include "store/pg.h"

const char *const sl_pg_reports_sql[PG__COUNT] = {
    [PG_REPORT_FACTS]    = "SELECT (SELECT count(*) FROM reports WHERE item = $1 AND \"user\" = $2),"
                           " EXISTS (SELECT 1 FROM served WHERE item = $1 AND \"user\" = $2)::int,"
                           " p.reports, p.upheld, p.dismissed"
                           " FROM (SELECT 1) AS one LEFT JOIN reporters p ON p.\"user\" = $2",
    /* A second report of the user's on the item is refused (no row), and
     * then counts nothing for the reporter either: one statement, so that
     * the refusal is known before anything else is written. */
    [PG_REPORT_ADD]      = "WITH r AS (INSERT INTO reports (item, \"user\", ts_ms, served, weight)"
                           "  VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING \"user\")"
                           " INSERT INTO reporters (\"user\", reports) SELECT \"user\", 1 FROM r"
                           " ON CONFLICT (\"user\") DO UPDATE SET reports = reporters.reports + 1"
                           " RETURNING 1",
    [PG_REPORT_SUM]      = "SELECT count(*), coalesce(sum(weight), 0) FROM reports"
                           " WHERE item = $1 AND judged = 0",
    /* Only served reporters' standing moves: one who never saw the item
     * weighed nothing, and people cannot tell them wrong. */
    [PG_REPORTERS_JUDGE] = "UPDATE reporters SET upheld = upheld + $2, dismissed = dismissed + (1 - $2)"
                           " WHERE \"user\" IN (SELECT \"user\" FROM reports"
                           " WHERE item = $1 AND judged = 0 AND served = 1)",
    [PG_REPORTS_JUDGE]   = "UPDATE reports SET judged = 1 + $2 WHERE item = $1 AND judged = 0",
    [PG_REPORTS_LIST]    = "SELECT r.\"user\", r.ts_ms, r.served, r.weight, r.judged,"
                           " coalesce(p.reports, 0), coalesce(p.upheld, 0), coalesce(p.dismissed, 0)"
                           " FROM reports r LEFT JOIN reporters p ON p.\"user\" = r.\"user\""
                           " WHERE r.item = $1 ORDER BY r.ts_ms, r.\"user\" LIMIT 200",
};

int sl_pg_report_facts(struct sl_pg *s, const char *item, const char *user,
                       struct sl_report_facts *out)
{
    struct pg_params p = { 0 };
    struct pg_rows r;

    par_text(&p, item);
    par_text(&p, user);
    int rc = sl_pg_row(s, PG_REPORT_FACTS, &p, &r);
    if (rc < 0)
        return rc == -ENOENT ? -EIO : rc;
    *out = (struct sl_report_facts){
        .already = col_int(&r, 0) > 0,
        .served = col_int(&r, 1) > 0,
        .reports = col_int(&r, 2),          /* NULL, no reports yet: 0 */
        .upheld = col_int(&r, 3),
        .dismissed = col_int(&r, 4),
    };
    return sl_pg_rows_end(&r);
}

int sl_pg_report_add(struct sl_pg *s, const char *item, const char *user, bool served,
                     double weight, int64_t now_ms)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    char w[32];

    snprintf(w, sizeof(w), "%.17g", weight);
    par_text(&p, item);
    par_text(&p, user);
    par_int(&p, now_ms);
    par_int(&p, served);
    par_text(&p, w);
    int rc = sl_pg_row(s, PG_REPORT_ADD, &p, &r);
    if (rc < 0)
        return rc == -ENOENT ? -EEXIST : rc;
    return sl_pg_rows_end(&r);
}

int sl_pg_report_sum(struct sl_pg *s, const char *item, int64_t *n, double *weight)
{
    struct pg_params p = { 0 };
    struct pg_rows r;

    par_text(&p, item);
    int rc = sl_pg_row(s, PG_REPORT_SUM, &p, &r);
    if (rc < 0)
        return rc == -ENOENT ? -EIO : rc;
    *n = col_int(&r, 0);
    *weight = strtod(col(&r, 1), NULL);
    return sl_pg_rows_end(&r);
}

int sl_pg_reports_judge(struct sl_pg *s, const char *item, bool upheld)
{
    struct pg_params p = { 0 };

    par_text(&p, item);
    par_int(&p, upheld);
    int rc = sl_pg_write(s, PG_REPORTERS_JUDGE, &p, PG_ANY, NULL);
    return rc < 0 ? rc : sl_pg_write(s, PG_REPORTS_JUDGE, &p, PG_ANY, NULL);
}

int sl_pg_reports_get(struct sl_pg *s, const char *item, json_t **out)
{
    static const char *const judged[] = { "pending", "dismissed", "upheld" };
    struct pg_params p = { 0 };
    struct pg_rows r;
    json_error_t jerr;
    int bad = 0;

    par_text(&p, item);
    json_t *list = json_array();
    int rc = list ? sl_pg_rows(s, PG_REPORTS_LIST, &p, &r) : -ENOMEM;
    if (rc == 0) {
        while (!bad && sl_pg_next(&r)) {
            int64_t j = col_int(&r, 4);
            json_t *e = json_pack_ex(&jerr, 0, "{s:s, s:I, s:b, s:f, s:s, s:{s:I, s:I, s:I}}",
                                     "user", col(&r, 0),
                                     "ts_ms", (json_int_t)col_int(&r, 1),
                                     "served", col_int(&r, 2) != 0,
                                     "weight", strtod(col(&r, 3), NULL),
                                     "judged", judged[j >= 0 && j <= 2 ? j : 0],
                                     "reporter", "reports", (json_int_t)col_int(&r, 5),
                                     "upheld", (json_int_t)col_int(&r, 6),
                                     "dismissed", (json_int_t)col_int(&r, 7));
            if (!e || json_array_append_new(list, e) < 0) {
                char what[SL_ID_MAX + 32];
                snprintf(what, sizeof(what), "a report of item %s", item);
                bad = e ? -ENOMEM : row_unreadable(&jerr, what);
            }
        }
        rc = sl_pg_rows_end(&r);
    }
    if (bad || rc < 0) {
        json_decref(list);
        return bad ? bad : rc;
    }
    *out = list;
    return 0;
}
