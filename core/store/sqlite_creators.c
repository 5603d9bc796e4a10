/* SPDX-License-Identifier: MIT */
/* Creators: what is known of one (standing, items per state, reports, their own reports), and suspensions. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/id.h"
#include "lib/text.h"
#include "store/sqlite.h"

const char *const sl_sqlite_creators_sql[ST__COUNT] = {
    [ST_CREATOR_STATES]     = "SELECT state, n FROM creator_states WHERE creator = ? AND n > 0"
                              " ORDER BY state",
    /* Reports against the creator's items: the items, through the search's
     * table of them (read after its pass, creators.c). */
#define CREATOR_ITEMS " FROM item_creators c JOIN items i ON i.seq = c.seq" \
                      " JOIN reports r ON r.item = i.id WHERE c.creator = ?"
    [ST_CREATOR_REPORTS]    = "SELECT count(DISTINCT r.item), count(*),"
                              " coalesce(sum(r.judged = 0), 0), coalesce(sum(r.judged = 2), 0),"
                              " coalesce(sum(r.judged = 1), 0)" CREATOR_ITEMS,
    [ST_CREATOR_REPORTED]   = "SELECT r.item, r.user, r.ts_ms, r.served, r.weight, r.judged"
                              CREATOR_ITEMS " ORDER BY r.ts_ms DESC, r.item, r.user LIMIT 20",
#undef CREATOR_ITEMS
    [ST_REPORTER_STANDING]  = "SELECT reports, upheld, dismissed FROM reporters WHERE user = ?",
    [ST_SUSPENSION_GET]     = "SELECT mode, reason, by, since_ms FROM suspensions"
                              " WHERE creator = ?",
    [ST_SUSPENSION_SET]     = "INSERT INTO suspensions (creator, mode, reason, by, since_ms)"
                              " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (creator) DO UPDATE"
                              " SET mode = ?2, reason = ?3, by = ?4",
    [ST_SUSPENSION_LIFT]    = "DELETE FROM suspensions WHERE creator = ?",
    [ST_SUSPENSIONS_EACH]   = "SELECT creator, mode, reason, by, since_ms FROM suspensions",
};

static const char *const judged_names[] = { "pending", "dismissed", "upheld" };

/* A suspension from a row's columns first to first + 3. */
static void suspension_row(sqlite3_stmt *st, int first, struct sl_suspension *out)
{
    sl_copy(out->mode, sizeof(out->mode), col_text(st, first));
    sl_copy(out->reason, sizeof(out->reason), col_text(st, first + 1));
    sl_copy(out->by, sizeof(out->by), col_text(st, first + 2));
    out->since_ms = sqlite3_column_int64(st, first + 3);
}

int sl_store_suspension_get(struct sl_store *s, const char *creator, struct sl_suspension *out)
{
    sqlite3_stmt *st = stmt_get(s, ST_SUSPENSION_GET);
    bind_text(st, 1, creator);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        suspension_row(st, 0, out);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_fail(s, "suspension");
}

int sl_store_suspensions_each(struct sl_store *s,
                              int (*fn)(void *arg, const char *creator,
                                        const struct sl_suspension *sus),
                              void *arg)
{
    sqlite3_stmt *st = stmt_get(s, ST_SUSPENSIONS_EACH);
    struct sl_suspension sus;
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        suspension_row(st, 1, &sus);
        if (fn(arg, col_text(st, 0), &sus))
            break;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, "suspensions");
}

int sl_store_suspension_set(struct sl_store *s, const char *creator,
                            const struct sl_suspension *sus)
{
    sqlite3_stmt *st = stmt_get(s, ST_SUSPENSION_SET);
    bind_text(st, 1, creator);
    bind_text(st, 2, sus->mode);
    int rc = bind_utf8(st, 3, sus->reason, "a suspension's reason");
    if (rc < 0)
        return rc;
    bind_text(st, 4, sus->by);
    sqlite3_bind_int64(st, 5, sus->since_ms);
    return stmt_done(s, st, "suspend");
}

int sl_store_suspension_lift(struct sl_store *s, const char *creator)
{
    sqlite3_stmt *st = stmt_get(s, ST_SUSPENSION_LIFT);
    bind_text(st, 1, creator);
    int rc = stmt_done(s, st, "lift a suspension");
    return rc < 0 ? rc : sqlite3_changes(s->db) ? 0 : -ENOENT;
}

/* {states}, and whether the creator has any item. */
static int states(struct sl_store *s, const char *creator, json_t *out)
{
    sqlite3_stmt *st = stmt_get(s, ST_CREATOR_STATES);
    int rc;

    bind_text(st, 1, creator);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *state = col_text(st, 0);
        if (!state || !sl_utf8_valid(state, strlen(state)) ||
            json_object_set_new(out, state, json_integer(sqlite3_column_int64(st, 1))) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : rc == SQLITE_NOMEM ? -ENOMEM : db_fail(s, "creator states");
}

static int reports(struct sl_store *s, const char *creator, json_t **out)
{
    sqlite3_stmt *st = stmt_get(s, ST_CREATOR_REPORTS);
    json_t *recent = json_array();
    int rc;

    bind_text(st, 1, creator);
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        sqlite3_reset(st);
        json_decref(recent);
        return db_fail(s, "creator reports");
    }
    *out = json_pack("{s:I, s:I, s:I, s:I, s:I}",
                     "items", (json_int_t)sqlite3_column_int64(st, 0),
                     "reports", (json_int_t)sqlite3_column_int64(st, 1),
                     "pending", (json_int_t)sqlite3_column_int64(st, 2),
                     "upheld", (json_int_t)sqlite3_column_int64(st, 3),
                     "dismissed", (json_int_t)sqlite3_column_int64(st, 4));
    sqlite3_reset(st);
    if (!*out || !recent) {
        json_decref(recent);
        return -ENOMEM;
    }
    st = stmt_get(s, ST_CREATOR_REPORTED);
    bind_text(st, 1, creator);
    int bad = 0;
    while (!bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int j = sqlite3_column_int(st, 5);
        json_error_t jerr;
        json_t *r = json_pack_ex(&jerr, 0, "{s:s, s:s, s:I, s:b, s:f, s:s}",
                                 "item", col_text(st, 0), "user", col_text(st, 1),
                                 "ts_ms", (json_int_t)sqlite3_column_int64(st, 2),
                                 "served", sqlite3_column_int(st, 3),
                                 "weight", sqlite3_column_double(st, 4),
                                 "judged", judged_names[j >= 0 && j <= 2 ? j : 0]);
        if (!r)
            bad = row_unreadable(&jerr, "a report against the creator's items");
        else if (json_array_append_new(recent, r) < 0)
            bad = -ENOMEM;
    }
    sqlite3_reset(st);
    if (bad || rc != SQLITE_DONE) {
        json_decref(recent);
        json_decref(*out);
        return bad ? bad : db_fail(s, "reports");
    }
    json_object_set_new(*out, "recent", recent);
    return 0;
}

int sl_store_creator_get(struct sl_store *s, const char *creator, json_t **out)
{
    int64_t uploads, rejections;
    struct sl_suspension sus;
    json_t *st = json_object(), *rep = NULL, *reporter = json_null(), *suspension = json_null();
    int rc = st ? sl_store_creator_standing(s, creator, &uploads, &rejections) : -ENOMEM;

    if (rc == 0)
        rc = states(s, creator, st);
    if (rc == 0)
        rc = reports(s, creator, &rep);
    if (rc == 0 && (rc = sl_store_suspension_get(s, creator, &sus)) == 0)
        suspension = json_pack("{s:s, s:s, s:s, s:I}", "mode", sus.mode, "reason", sus.reason,
                               "by", sus.by, "since_ms", (json_int_t)sus.since_ms);
    if (rc == -ENOENT)
        rc = 0;
    bool suspended = !json_is_null(suspension);
    if (rc == 0) {
        sqlite3_stmt *q = stmt_get(s, ST_REPORTER_STANDING);
        bind_text(q, 1, creator);
        int step = sqlite3_step(q);
        if (step == SQLITE_ROW)
            reporter = json_pack("{s:I, s:I, s:I}",
                                 "reports", (json_int_t)sqlite3_column_int64(q, 0),
                                 "upheld", (json_int_t)sqlite3_column_int64(q, 1),
                                 "dismissed", (json_int_t)sqlite3_column_int64(q, 2));
        sqlite3_reset(q);
        if (step != SQLITE_ROW && step != SQLITE_DONE)
            rc = db_fail(s, "reporter standing");
    }
    if (rc == 0 && uploads == 0 && !suspended && json_is_null(reporter))
        rc = -ENOENT;
    if (rc == 0 && !(*out = json_pack("{s:s, s:{s:I, s:I}, s:O, s:O, s:O, s:O}",
                                      "creator", creator,
                                      "standing", "uploads", (json_int_t)uploads,
                                      "rejections", (json_int_t)rejections,
                                      "states", st, "suspension", suspension,
                                      "reports", rep, "reporter", reporter)))
        rc = -ENOMEM;
    json_decref(st);
    json_decref(rep);
    json_decref(reporter);
    json_decref(suspension);
    return rc;
}
