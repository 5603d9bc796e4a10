/* SPDX-License-Identifier: MIT */
/* Statistics: recent items, decisions by hour and by moderator. */
#include "config.h"

#include <errno.h>
#include <stdint.h>

#include "store/pg.h"

const char *const sl_pg_stats_sql[PG__COUNT] = {
    [PG_ITEMS_SINCE]    = "SELECT id, state, upload, tags FROM items WHERE created_ms >= $1"
                          " ORDER BY created_ms DESC, id LIMIT $2",
    [PG_DECISIONS_BY_HOUR] = "SELECT ts_ms / 3600000 * 3600000, action, count(*) FROM audit"
                          " WHERE ts_ms >= $1 AND action IN ('approve', 'reject', 'escalate', 'verdict')"
                          " GROUP BY 1, 2 ORDER BY 1, 2",
    [PG_DECISIONS_BY_ACTOR] = "SELECT actor, action, count(*), min(ts_ms), max(ts_ms) FROM audit"
                          " WHERE ts_ms >= $1 AND action IN ('approve', 'reject', 'escalate')"
                          " GROUP BY 1, 2 ORDER BY 1, 2",
};

int sl_pg_items_since(struct sl_pg *s, int64_t since_ms, int limit,
                      int (*fn)(void *arg, const char *id, const char *state,
                                const char *upload, const char *tags),
                      void *arg)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    par_int(&p, since_ms);
    par_int(&p, limit);
    int rc = sl_pg_rows(s, PG_ITEMS_SINCE, &p, &r);
    if (rc < 0)
        return rc;
    while (sl_pg_next(&r))
        if (fn(arg, col(&r, 0), col(&r, 1), col(&r, 2), col(&r, 3)))
            break;
    return sl_pg_rows_end(&r);
}

int sl_pg_decision_stats(struct sl_pg *s, int64_t since_ms, json_t **out)
{
    json_t *hours = json_array(), *people = json_object();
    struct pg_params p = { 0 };
    struct pg_rows r;
    int rc = hours && people ? 0 : -ENOMEM;

    par_int(&p, since_ms);
    if (rc == 0 && (rc = sl_pg_rows(s, PG_DECISIONS_BY_HOUR, &p, &r)) == 0) {
        while (sl_pg_next(&r))
            json_array_append_new(hours, json_pack("{s:I, s:s, s:I}",
                "hour_ms", (json_int_t)col_int(&r, 0),
                "action", col(&r, 1), "count", (json_int_t)col_int(&r, 2)));
        rc = sl_pg_rows_end(&r);
    }
    if (rc == 0 && (rc = sl_pg_rows(s, PG_DECISIONS_BY_ACTOR, &p, &r)) == 0) {
        while (sl_pg_next(&r)) {
            json_t *who = json_object_get(people, col(&r, 0));
            if (!who) {
                who = json_object();
                json_object_set_new(people, col(&r, 0), who);
            }
            json_object_set_new(who, col(&r, 1), json_integer(col_int(&r, 2)));
        }
        rc = sl_pg_rows_end(&r);
    }
    if (rc < 0) {
        json_decref(hours);
        json_decref(people);
        return rc;
    }
    *out = json_pack("{s:o, s:o}", "decisions_by_hour", hours, "moderators", people);
    return *out ? 0 : -ENOMEM;
}
