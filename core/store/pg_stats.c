/* SPDX-License-Identifier: MIT */
/* Statistics: recent items, decisions by hour and by moderator. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "lib/log.h"
#include "lib/text.h"
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
    json_error_t jerr;
    int rc = hours && people ? 0 : -ENOMEM, bad = 0;

    par_int(&p, since_ms);
    if (rc == 0 && (rc = sl_pg_rows(s, PG_DECISIONS_BY_HOUR, &p, &r)) == 0) {
        while (!bad && sl_pg_next(&r)) {
            json_t *h = json_pack_ex(&jerr, 0, "{s:I, s:s, s:I}",
                "hour_ms", (json_int_t)col_int(&r, 0),
                "action", col(&r, 1), "count", (json_int_t)col_int(&r, 2));
            if (!h || json_array_append_new(hours, h) < 0)
                bad = h ? -ENOMEM : row_unreadable(&jerr, "an audit record's action");
        }
        rc = sl_pg_rows_end(&r);
    }
    if (rc == 0 && !bad && (rc = sl_pg_rows(s, PG_DECISIONS_BY_ACTOR, &p, &r)) == 0) {
        while (!bad && sl_pg_next(&r)) {
            const char *actor = col(&r, 0), *action = col(&r, 1);
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
            else if (json_object_set_new(who, action, json_integer(col_int(&r, 2))) < 0)
                bad = -ENOMEM;
        }
        rc = sl_pg_rows_end(&r);
    }
    if (bad || rc < 0) {
        json_decref(hours);
        json_decref(people);
        return bad ? bad : rc;
    }
    *out = json_pack("{s:o, s:o}", "decisions_by_hour", hours, "moderators", people);
    return *out ? 0 : -ENOMEM;
}
