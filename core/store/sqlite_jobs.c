/* SPDX-License-Identifier: MIT */
/* Jobs: work on many items in slices, each slice's transaction moving its job's row on. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/id.h"
#include "store/sqlite.h"

#define JOB_COLUMNS "id, kind, action, spec, state, created_by, confirmed_by, created_ms," \
                    " updated_ms, finished_ms, seq_max, cursor, total, total_exact, examined," \
                    " matched, acted, skipped, error"
#define ENDED "('done', 'cancelled', 'failed')"

const char *const sl_sqlite_jobs_sql[ST__COUNT] = {
    [ST_JOB_INSERT]     = "INSERT INTO jobs (id, kind, action, spec, state, created_by,"
                          " created_ms, updated_ms, seq_max, cursor, total, total_exact)"
                          " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, m, m + 1, ?9, ?10 FROM"
                          " (SELECT CASE WHEN ?8 > 0 THEN ?8"
                          " ELSE (SELECT coalesce(max(seq), 0) FROM items) END AS m)",
    [ST_JOB_GET]        = "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?",
    [ST_JOB_PEEK]       = "SELECT state FROM jobs WHERE id = ?",
    [ST_JOBS_LIST]      = "SELECT " JOB_COLUMNS " FROM jobs WHERE (?1 IS NULL OR kind = ?1)"
                          " ORDER BY created_ms DESC, id LIMIT ?2",
    [ST_JOBS_EACH]      = "SELECT " JOB_COLUMNS " FROM jobs WHERE state = ? ORDER BY created_ms",
    [ST_JOB_STATE]      = "UPDATE jobs SET state = ?3, updated_ms = ?6,"
                          " confirmed_by = CASE WHEN ?3 = 'running' AND ?4 IS NOT NULL THEN ?4"
                          " ELSE confirmed_by END,"
                          " error = coalesce(?5, error),"
                          " finished_ms = CASE WHEN ?3 IN " ENDED " THEN ?6 ELSE finished_ms END"
                          " WHERE id = ?1 AND (CASE WHEN ?2 IS NULL THEN state NOT IN " ENDED
                          " ELSE state = ?2 END)",
    [ST_JOB_PROGRESS]   = "UPDATE jobs SET cursor = ?2, examined = examined + ?3,"
                          " matched = matched + ?4, acted = acted + ?5, skipped = skipped + ?6,"
                          " updated_ms = ?8,"
                          " state = CASE WHEN ?7 THEN 'done' ELSE state END,"
                          " finished_ms = CASE WHEN ?7 THEN ?8 ELSE finished_ms END"
                          " WHERE id = ?1 AND state = 'running'",
};

int sl_store_job_insert(struct sl_store *s, const struct sl_job_row *row)
{
    sqlite3_stmt *st = stmt_get(s, ST_JOB_INSERT);
    bind_text(st, 1, row->id);
    bind_text(st, 2, row->kind);
    bind_text(st, 3, row->action);
    int rc = bind_utf8(st, 4, row->spec, "a job's spec");
    if (rc < 0)
        return rc;
    bind_text(st, 5, row->state);
    bind_text(st, 6, row->created_by);
    sqlite3_bind_int64(st, 7, row->now_ms);
    sqlite3_bind_int64(st, 8, row->seq_max);
    sqlite3_bind_int64(st, 9, row->total);
    sqlite3_bind_int(st, 10, row->total_exact);
    return stmt_done(s, st, "job insert");
}

/* The row st is on, as JSON (NULL with -EILSEQ/-ENOMEM in *rc). */
static json_t *job_json(sqlite3_stmt *st, bool with_spec, int *rc)
{
    json_error_t jerr;
    json_t *j = json_pack_ex(&jerr, 0, "{s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:I, s:o,"
                             " s:I, s:I, s:I, s:b, s:I, s:I, s:I, s:I, s:o}",
                             "id", col_text(st, 0),
                             "kind", col_text(st, 1),
                             "action", col_text(st, 2),
                             "state", col_text(st, 4),
                             "created_by", col_text(st, 5),
                             "confirmed_by", col_string_or_null(st, 6),
                             "created_ms", (json_int_t)sqlite3_column_int64(st, 7),
                             "updated_ms", (json_int_t)sqlite3_column_int64(st, 8),
                             "finished_ms", sqlite3_column_type(st, 9) == SQLITE_NULL
                                 ? json_null() : json_integer(sqlite3_column_int64(st, 9)),
                             "seq_max", (json_int_t)sqlite3_column_int64(st, 10),
                             "cursor", (json_int_t)sqlite3_column_int64(st, 11),
                             "total", (json_int_t)sqlite3_column_int64(st, 12),
                             "total_exact", sqlite3_column_int(st, 13),
                             "examined", (json_int_t)sqlite3_column_int64(st, 14),
                             "matched", (json_int_t)sqlite3_column_int64(st, 15),
                             "acted", (json_int_t)sqlite3_column_int64(st, 16),
                             "skipped", (json_int_t)sqlite3_column_int64(st, 17),
                             "error", col_string_or_null(st, 18));
    if (j && with_spec) {
        json_t *spec = col_json(st, 3);
        if (!spec || json_object_set_new(j, "spec", spec) < 0) {
            sl_err("store: job %s cannot be read: its spec does not parse (edited by hand?)",
                   col_text(st, 0));
            json_decref(j);
            *rc = spec ? -ENOMEM : -EILSEQ;
            return NULL;
        }
    }
    if (!j) {
        char what[SL_ID_MAX + 8];
        snprintf(what, sizeof(what), "job %s", col_text(st, 0) ? col_text(st, 0) : "?");
        *rc = row_unreadable(&jerr, what);
    }
    return j;
}

int sl_store_job_get(struct sl_store *s, const char *id, json_t **out)
{
    sqlite3_stmt *st = stmt_get(s, ST_JOB_GET);
    int rc = 0;

    bind_text(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        *out = job_json(st, true, &rc);
    sqlite3_reset(st);
    if (step != SQLITE_ROW)
        return step == SQLITE_DONE ? -ENOENT : db_fail(s, "job get");
    return rc;
}

int sl_store_job_peek(struct sl_store *s, const char *id, char *state)
{
    sqlite3_stmt *st = stmt_get(s, ST_JOB_PEEK);
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        sl_copy(state, 32, col_text(st, 0));
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_fail(s, "job peek");
}

/* Every row of st as a job, to fn or into a list. */
static int each_row(struct sl_store *s, sqlite3_stmt *st, bool with_spec,
                    int (*fn)(void *arg, json_t *job), void *arg, json_t *list)
{
    int rc = 0, step;

    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *j = job_json(st, with_spec, &rc);
        if (!j)
            break;
        if (list)
            rc = json_array_append_new(list, j) < 0 ? -ENOMEM : 0;
        else {
            int stop = fn(arg, j);
            json_decref(j);
            if (stop)
                break;
        }
        if (rc < 0)
            break;
    }
    sqlite3_reset(st);
    if (rc == 0 && step != SQLITE_ROW && step != SQLITE_DONE)
        rc = db_fail(s, "jobs");
    return rc;
}

int sl_store_jobs_list(struct sl_store *s, const char *kind, int limit, json_t **out)
{
    sqlite3_stmt *st = stmt_get(s, ST_JOBS_LIST);
    json_t *list = json_array();

    if (!list)
        return -ENOMEM;
    bind_text(st, 1, kind);
    sqlite3_bind_int(st, 2, limit);
    int rc = each_row(s, st, false, NULL, NULL, list);
    if (rc < 0) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return 0;
}

int sl_store_jobs_each(struct sl_store *s, const char *state,
                       int (*fn)(void *arg, json_t *job), void *arg)
{
    sqlite3_stmt *st = stmt_get(s, ST_JOBS_EACH);
    bind_text(st, 1, state);
    return each_row(s, st, true, fn, arg, NULL);
}

int sl_store_job_state(struct sl_store *s, const char *id, const char *from, const char *to,
                       const char *by, const char *error, int64_t now_ms)
{
    sqlite3_stmt *st = stmt_get(s, ST_JOB_STATE);
    bind_text(st, 1, id);
    bind_text(st, 2, from);
    bind_text(st, 3, to);
    bind_text(st, 4, by);
    int rc = bind_utf8(st, 5, error, "a job's error");
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 6, now_ms);
    if ((rc = stmt_done(s, st, "job state")) < 0)
        return rc;
    if (sqlite3_changes(s->db))
        return 0;
    char state[32];
    return sl_store_job_peek(s, id, state) == -ENOENT ? -ENOENT : -ESTALE;
}

int sl_store_job_progress(struct sl_store *s, const char *id, const struct sl_job_slice *p,
                          int64_t now_ms)
{
    sqlite3_stmt *st = stmt_get(s, ST_JOB_PROGRESS);
    bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, p->cursor);
    sqlite3_bind_int64(st, 3, p->examined);
    sqlite3_bind_int64(st, 4, p->matched);
    sqlite3_bind_int64(st, 5, p->acted);
    sqlite3_bind_int64(st, 6, p->skipped);
    sqlite3_bind_int(st, 7, p->finished);
    sqlite3_bind_int64(st, 8, now_ms);
    int rc = stmt_done(s, st, "job progress");
    return rc < 0 ? rc : sqlite3_changes(s->db) ? 0 : -ESTALE;
}
