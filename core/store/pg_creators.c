/* SPDX-License-Identifier: MIT */
/* Creators: what is known of one (standing, items per state, reports, their own reports), and suspensions. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/id.h"
#include "lib/log.h"
#include "lib/text.h"
#include "store/pg.h"

const char *const sl_pg_creators_sql[PG__COUNT] = {
    [PG_CREATOR_STATES]     = "SELECT state, n FROM creator_states WHERE creator = $1 AND n > 0"
                              " ORDER BY state",
    /* Reports against the creator's items: the items, through their index
     * (items_creator), each one's reports by their key (item, user). */
    [PG_CREATOR_REPORTS]    = "SELECT count(DISTINCT r.item), count(*),"
                              " count(*) FILTER (WHERE r.judged = 0),"
                              " count(*) FILTER (WHERE r.judged = 2),"
                              " count(*) FILTER (WHERE r.judged = 1)"
                              " FROM items i JOIN reports r ON r.item = i.id WHERE i.creator = $1",
    [PG_CREATOR_REPORTED]   = "SELECT r.item, r.\"user\", r.ts_ms, r.served, r.weight, r.judged"
                              " FROM items i JOIN reports r ON r.item = i.id WHERE i.creator = $1"
                              " ORDER BY r.ts_ms DESC, r.item, r.\"user\" LIMIT 20",
    [PG_REPORTER_STANDING]  = "SELECT reports, upheld, dismissed FROM reporters WHERE \"user\" = $1",
    [PG_SUSPENSION_GET]     = "SELECT mode, reason, \"by\", since_ms FROM suspensions"
                              " WHERE creator = $1",
    [PG_SUSPENSION_SET]     = "INSERT INTO suspensions (creator, mode, reason, \"by\", since_ms)"
                              " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (creator) DO UPDATE"
                              " SET mode = excluded.mode, reason = excluded.reason,"
                              " \"by\" = excluded.\"by\"",
    /* -ENOENT at once, on the writer too: whoever lifts needs to know. */
    [PG_SUSPENSION_LIFT]    = "DELETE FROM suspensions WHERE creator = $1 RETURNING 1",
    [PG_SUSPENSIONS_EACH]   = "SELECT creator, mode, reason, \"by\", since_ms FROM suspensions",
};

static const char *const judged_names[] = { "pending", "dismissed", "upheld" };

/* A suspension from a row's columns first to first + 3. */
static void suspension_row(const struct pg_rows *r, int first, struct sl_suspension *out)
{
    sl_copy(out->mode, sizeof(out->mode), col(r, first));
    sl_copy(out->reason, sizeof(out->reason), col(r, first + 1));
    sl_copy(out->by, sizeof(out->by), col(r, first + 2));
    out->since_ms = col_int(r, first + 3);
}

int sl_pg_suspension_get(struct sl_pg *s, const char *creator, struct sl_suspension *out)
{
    struct pg_params p = { 0 };
    struct pg_rows r;

    par_text(&p, creator);
    int rc = sl_pg_row(s, PG_SUSPENSION_GET, &p, &r);
    if (rc < 0)
        return rc;
    suspension_row(&r, 0, out);
    return sl_pg_rows_end(&r);
}

int sl_pg_suspensions_each(struct sl_pg *s,
                           int (*fn)(void *arg, const char *creator,
                                     const struct sl_suspension *sus),
                           void *arg)
{
    struct sl_suspension sus;
    struct pg_rows r;
    int rc = sl_pg_stream(s, PG_SUSPENSIONS_EACH, NULL, &r);

    if (rc < 0)
        return rc;
    while (sl_pg_next(&r)) {
        suspension_row(&r, 1, &sus);
        if (fn(arg, col(&r, 0), &sus))
            break;
    }
    return sl_pg_rows_end(&r);
}

int sl_pg_suspension_set(struct sl_pg *s, const char *creator, const struct sl_suspension *sus)
{
    struct pg_params p = { 0 };
    const char *reason;
    char *keep = NULL;
    int rc = text_in(sus->reason, "a suspension's reason", &reason, &keep);

    if (rc < 0)
        return rc;
    par_text(&p, creator);
    par_text(&p, sus->mode);
    par_text(&p, reason);
    par_text(&p, sus->by);
    par_int(&p, sus->since_ms);
    rc = sl_pg_write(s, PG_SUSPENSION_SET, &p, PG_ANY, NULL);
    free(keep);
    return rc;
}

int sl_pg_suspension_lift(struct sl_pg *s, const char *creator)
{
    struct pg_params p = { 0 };
    struct pg_rows r;

    par_text(&p, creator);
    int rc = sl_pg_row(s, PG_SUSPENSION_LIFT, &p, &r);
    return rc < 0 ? rc : sl_pg_rows_end(&r);
}

/* {states} */
static int states(struct sl_pg *s, const char *creator, json_t *out)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    int bad = 0;

    par_text(&p, creator);
    int rc = sl_pg_rows(s, PG_CREATOR_STATES, &p, &r);
    if (rc < 0)
        return rc;
    while (!bad && sl_pg_next(&r)) {
        const char *state = col(&r, 0);
        if (!state || !sl_utf8_valid(state, strlen(state)) ||
            json_object_set_new(out, state, json_integer(col_int(&r, 1))) < 0)
            bad = -ENOMEM;
    }
    rc = sl_pg_rows_end(&r);
    return bad ? bad : rc;
}

static int reports(struct sl_pg *s, const char *creator, json_t **out)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    json_t *recent = json_array();
    int rc, bad = 0;

    par_text(&p, creator);
    if (!recent)
        return -ENOMEM;
    if ((rc = sl_pg_row(s, PG_CREATOR_REPORTS, &p, &r)) < 0) {
        json_decref(recent);
        return rc;
    }
    *out = json_pack("{s:I, s:I, s:I, s:I, s:I}",
                     "items", (json_int_t)col_int(&r, 0),
                     "reports", (json_int_t)col_int(&r, 1),
                     "pending", (json_int_t)col_int(&r, 2),
                     "upheld", (json_int_t)col_int(&r, 3),
                     "dismissed", (json_int_t)col_int(&r, 4));
    rc = sl_pg_rows_end(&r);
    if (rc < 0 || !*out) {
        json_decref(recent);
        json_decref(*out);
        return rc < 0 ? rc : -ENOMEM;
    }
    if ((rc = sl_pg_rows(s, PG_CREATOR_REPORTED, &p, &r)) < 0) {
        json_decref(recent);
        json_decref(*out);
        return rc;
    }
    while (!bad && sl_pg_next(&r)) {
        int64_t j = col_int(&r, 5);
        json_error_t jerr;
        json_t *o = json_pack_ex(&jerr, 0, "{s:s, s:s, s:I, s:b, s:f, s:s}",
                                 "item", col(&r, 0), "user", col(&r, 1),
                                 "ts_ms", (json_int_t)col_int(&r, 2),
                                 "served", (int)col_int(&r, 3),
                                 "weight", col(&r, 4) ? strtod(col(&r, 4), NULL) : 0.0,
                                 "judged", judged_names[j >= 0 && j <= 2 ? j : 0]);
        if (!o)
            bad = row_unreadable(&jerr, "a report against the creator's items");
        else if (json_array_append_new(recent, o) < 0)
            bad = -ENOMEM;
    }
    rc = sl_pg_rows_end(&r);
    if (bad || rc < 0) {
        json_decref(recent);
        json_decref(*out);
        return bad ? bad : rc;
    }
    json_object_set_new(*out, "recent", recent);
    return 0;
}

/* The creator's own reports, as a reporter; null when there are none. */
static int reporter(struct sl_pg *s, const char *creator, json_t **out)
{
    struct pg_params p = { 0 };
    struct pg_rows r;

    par_text(&p, creator);
    *out = json_null();
    int rc = sl_pg_row(s, PG_REPORTER_STANDING, &p, &r);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    *out = json_pack("{s:I, s:I, s:I}",
                     "reports", (json_int_t)col_int(&r, 0),
                     "upheld", (json_int_t)col_int(&r, 1),
                     "dismissed", (json_int_t)col_int(&r, 2));
    rc = sl_pg_rows_end(&r);
    if (rc == 0 && !*out)
        rc = -ENOMEM;
    return rc;
}

int sl_pg_creator_get(struct sl_pg *s, const char *creator, json_t **out)
{
    int64_t uploads, rejections;
    struct sl_suspension sus;
    json_t *st = json_object(), *rep = NULL, *rpt = NULL, *suspension = json_null();
    int rc = st ? sl_pg_creator_standing(s, creator, &uploads, &rejections) : -ENOMEM;

    if (rc == 0)
        rc = states(s, creator, st);
    if (rc == 0)
        rc = reports(s, creator, &rep);
    if (rc == 0 && (rc = sl_pg_suspension_get(s, creator, &sus)) == 0)
        suspension = json_pack("{s:s, s:s, s:s, s:I}", "mode", sus.mode, "reason", sus.reason,
                               "by", sus.by, "since_ms", (json_int_t)sus.since_ms);
    if (rc == -ENOENT)
        rc = 0;
    bool suspended = !json_is_null(suspension);
    if (rc == 0)
        rc = reporter(s, creator, &rpt);
    if (rc == 0 && uploads == 0 && !suspended && json_is_null(rpt))
        rc = -ENOENT;
    if (rc == 0 && !(*out = json_pack("{s:s, s:{s:I, s:I}, s:O, s:O, s:O, s:O}",
                                      "creator", creator,
                                      "standing", "uploads", (json_int_t)uploads,
                                      "rejections", (json_int_t)rejections,
                                      "states", st, "suspension", suspension,
                                      "reports", rep, "reporter", rpt)))
        rc = -ENOMEM;
    json_decref(st);
    json_decref(rep);
    json_decref(rpt);
    json_decref(suspension);
    return rc;
}
