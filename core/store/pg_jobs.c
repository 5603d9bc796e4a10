/* SPDX-License-Identifier: MIT */
/* Jobs: work on many items in slices, each slice's transaction moving its job's row on. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/id.h"
#include "lib/log.h"
#include "lib/text.h"
#include "store/pg.h"

#define JOB_COLUMNS "id, kind, action, spec, state, created_by, confirmed_by, created_ms," \
                    " updated_ms, finished_ms, seq_max, cursor, total, total_exact, examined," \
                    " matched, acted, skipped, error"
#define ENDED "('done', 'cancelled', 'failed')"

const char *const sl_pg_jobs_sql[PG__COUNT] = {
    /* A taken id is a refusal (0 rows), as an item's. */
    [PG_JOB_INSERT]     = "INSERT INTO jobs (id, kind, action, spec, state, created_by,"
                          " created_ms, updated_ms, seq_max, cursor, total, total_exact)"
                          " SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text,"
                          " $7::bigint, $7::bigint, m, m + 1, $9::bigint, $10::integer FROM"
                          " (SELECT CASE WHEN $8::bigint > 0 THEN $8::bigint"
                          " ELSE (SELECT coalesce(max(seq), 0) FROM items) END AS m) AS x"
                          " ON CONFLICT DO NOTHING",
    [PG_JOB_GET]        = "SELECT " JOB_COLUMNS " FROM jobs WHERE id = $1",
    [PG_JOB_PEEK]       = "SELECT state FROM jobs WHERE id = $1",
    [PG_JOBS_LIST]      = "SELECT " JOB_COLUMNS " FROM jobs WHERE ($1::text IS NULL OR kind = $1)"
                          " ORDER BY created_ms DESC, id LIMIT $2",
    [PG_JOBS_EACH]      = "SELECT " JOB_COLUMNS " FROM jobs WHERE state = $1 ORDER BY created_ms",
    /* Whether the job is there, and whether it moved: -ENOENT and -ESTALE
     * apart, in one round trip of the writer. */
    [PG_JOB_STATE]      = "WITH j AS (SELECT 1 FROM jobs WHERE id = $1),"
                          " u AS (UPDATE jobs SET state = $3, updated_ms = $6,"
                          " confirmed_by = CASE WHEN $3 = 'running' AND $4::text IS NOT NULL"
                          " THEN $4 ELSE confirmed_by END,"
                          " error = coalesce($5, error),"
                          " finished_ms = CASE WHEN $3 IN " ENDED " THEN $6 ELSE finished_ms END"
                          " WHERE id = $1 AND (CASE WHEN $2::text IS NULL THEN state NOT IN " ENDED
                          " ELSE state = $2 END) RETURNING 1)"
                          " SELECT (SELECT count(*) FROM j), (SELECT count(*) FROM u)",
    [PG_JOB_PROGRESS]   = "UPDATE jobs SET cursor = $2, examined = examined + $3,"
                          " matched = matched + $4, acted = acted + $5, skipped = skipped + $6,"
                          " updated_ms = $8,"
                          " state = CASE WHEN $7::boolean THEN 'done' ELSE state END,"
                          " finished_ms = CASE WHEN $7::boolean THEN $8 ELSE finished_ms END"
                          " WHERE id = $1 AND state = 'running' RETURNING 1",
};

int sl_pg_job_insert(struct sl_pg *s, const struct sl_job_row *row)
{
    struct pg_params p = { 0 };
    const char *spec;
    char *keep = NULL;
    int rc = text_in(row->spec, "a job's spec", &spec, &keep);

    if (rc < 0)
        return rc;
    par_text(&p, row->id);
    par_text(&p, row->kind);
    par_text(&p, row->action);
    par_text(&p, spec);
    par_text(&p, row->state);
    par_text(&p, row->created_by);
    par_int(&p, row->now_ms);
    par_int(&p, row->seq_max);
    par_int(&p, row->total);
    par_int(&p, row->total_exact);
    rc = sl_pg_write(s, PG_JOB_INSERT, &p, PG_ONE_ELSE_EEXIST, NULL);
    free(keep);
    return rc;
}

/* The row r is on, as JSON (NULL with -EILSEQ/-ENOMEM in *rc). */
static json_t *job_json(const struct pg_rows *r, bool with_spec, int *rc)
{
    json_error_t jerr;
    json_t *j = json_pack_ex(&jerr, 0, "{s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:I, s:o,"
                             " s:I, s:I, s:I, s:b, s:I, s:I, s:I, s:I, s:o}",
                             "id", col(r, 0),
                             "kind", col(r, 1),
                             "action", col(r, 2),
                             "state", col(r, 4),
                             "created_by", col(r, 5),
                             "confirmed_by", col_string_or_null(r, 6),
                             "created_ms", (json_int_t)col_int(r, 7),
                             "updated_ms", (json_int_t)col_int(r, 8),
                             "finished_ms", col_int_or_null(r, 9),
                             "seq_max", (json_int_t)col_int(r, 10),
                             "cursor", (json_int_t)col_int(r, 11),
                             "total", (json_int_t)col_int(r, 12),
                             "total_exact", (int)col_int(r, 13),
                             "examined", (json_int_t)col_int(r, 14),
                             "matched", (json_int_t)col_int(r, 15),
                             "acted", (json_int_t)col_int(r, 16),
                             "skipped", (json_int_t)col_int(r, 17),
                             "error", col_string_or_null(r, 18));
    if (j && with_spec) {
        json_t *spec = col_json(r, 3);
        if (!spec || json_object_set_new(j, "spec", spec) < 0) {
            sl_err("store: job %s cannot be read: its spec does not parse (edited by hand?)",
                   json_string_value(json_object_get(j, "id")));
            json_decref(j);
            *rc = spec ? -ENOMEM : -EILSEQ;
            return NULL;
        }
    }
    if (!j) {
        char what[SL_ID_MAX + 8];
        snprintf(what, sizeof(what), "job %s", col(r, 0) ? col(r, 0) : "?");
        *rc = row_unreadable(&jerr, what);
    }
    return j;
}

int sl_pg_job_get(struct sl_pg *s, const char *id, json_t **out)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    int rc, bad = 0;

    par_text(&p, id);
    if ((rc = sl_pg_row(s, PG_JOB_GET, &p, &r)) < 0)
        return rc;
    *out = job_json(&r, true, &bad);
    rc = sl_pg_rows_end(&r);
    if (bad || rc < 0) {
        json_decref(*out);
        return bad ? bad : rc;
    }
    return 0;
}

int sl_pg_job_peek(struct sl_pg *s, const char *id, char *state)
{
    struct pg_params p = { 0 };
    struct pg_rows r;

    par_text(&p, id);
    int rc = sl_pg_row(s, PG_JOB_PEEK, &p, &r);
    if (rc < 0)
        return rc;
    sl_copy(state, 32, col(&r, 0));
    return sl_pg_rows_end(&r);
}

/* Every row of a query of jobs, to fn or into a list. */
static int each_row(struct sl_pg *s, enum pg_stmt id, const struct pg_params *p, bool with_spec,
                    int (*fn)(void *arg, json_t *job), void *arg, json_t *list)
{
    struct pg_rows r;
    int rc = sl_pg_rows(s, id, p, &r), bad = 0;

    if (rc < 0)
        return rc;
    while (!bad && sl_pg_next(&r)) {
        json_t *j = job_json(&r, with_spec, &bad);
        if (!j)
            break;
        if (list) {
            bad = json_array_append_new(list, j) < 0 ? -ENOMEM : 0;
        } else {
            int stop = fn(arg, j);
            json_decref(j);
            if (stop)
                break;
        }
    }
    rc = sl_pg_rows_end(&r);
    return bad ? bad : rc;
}

int sl_pg_jobs_list(struct sl_pg *s, const char *kind, int limit, json_t **out)
{
    struct pg_params p = { 0 };
    json_t *list = json_array();

    if (!list)
        return -ENOMEM;
    par_text(&p, kind);
    par_int(&p, limit);
    int rc = each_row(s, PG_JOBS_LIST, &p, false, NULL, NULL, list);
    if (rc < 0) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return 0;
}

int sl_pg_jobs_each(struct sl_pg *s, const char *state, int (*fn)(void *arg, json_t *job),
                    void *arg)
{
    struct pg_params p = { 0 };
    par_text(&p, state);
    return each_row(s, PG_JOBS_EACH, &p, true, fn, arg, NULL);
}

int sl_pg_job_state(struct sl_pg *s, const char *id, const char *from, const char *to,
                    const char *by, const char *error, int64_t now_ms)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    const char *why;
    char *keep = NULL;
    int rc = text_in(error, "a job's error", &why, &keep);

    if (rc < 0)
        return rc;
    par_text(&p, id);
    par_text(&p, from);
    par_text(&p, to);
    par_text(&p, by);
    par_text(&p, why);
    par_int(&p, now_ms);
    rc = sl_pg_row(s, PG_JOB_STATE, &p, &r);
    free(keep);
    if (rc < 0)
        return rc;
    bool there = col_int(&r, 0) > 0, moved = col_int(&r, 1) > 0;
    if ((rc = sl_pg_rows_end(&r)) < 0)
        return rc;
    return moved ? 0 : there ? -ESTALE : -ENOENT;
}

int sl_pg_job_progress(struct sl_pg *s, const char *id, const struct sl_job_slice *sl,
                       int64_t now_ms)
{
    struct pg_params p = { 0 };
    struct pg_rows r;

    par_text(&p, id);
    par_int(&p, sl->cursor);
    par_int(&p, sl->examined);
    par_int(&p, sl->matched);
    par_int(&p, sl->acted);
    par_int(&p, sl->skipped);
    par_text(&p, sl->finished ? "true" : "false");
    par_int(&p, now_ms);
    int rc = sl_pg_row(s, PG_JOB_PROGRESS, &p, &r);
    if (rc == -ENOENT)
        return -ESTALE;
    if (rc < 0)
        return rc;
    return sl_pg_rows_end(&r);
}
