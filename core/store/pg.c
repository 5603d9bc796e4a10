/* SPDX-License-Identifier: MIT */
/* The PostgreSQL store: connections, the writer's pipeline, transactions. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "lib/clock.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "store/pg.h"

/* {====================== Statements =================================== */

static const char *const tx_sql[PG__COUNT] = {
    [PG_BEGIN]          = "BEGIN",
    [PG_COMMIT]         = "COMMIT",
    [PG_ROLLBACK]       = "ROLLBACK",
    [PG_SAVEPOINT]      = "SAVEPOINT op",
    [PG_RELEASE]        = "RELEASE SAVEPOINT op",
    [PG_ROLLBACK_TO]    = "ROLLBACK TO SAVEPOINT op",
};

static const char *const *const stmt_tables[] = {
    tx_sql,
    sl_pg_items_sql,
    sl_pg_audit_sql,
    sl_pg_users_sql,
    sl_pg_events_sql,
    sl_pg_queue_sql,
    sl_pg_hashbanks_sql,
    sl_pg_dist_sql,
    sl_pg_stats_sql,
    sl_pg_reports_sql,
    sl_pg_tokens_sql,
    sl_pg_copy_sql,
    sl_pg_search_sql,
    sl_pg_jobs_sql,
    sl_pg_matches_sql,
    sl_pg_creators_sql,
    sl_pg_nodes_sql,
    sl_pg_feed_sql,
};

static const char *stmt_text(int id)
{
    for (size_t t = 0; t < sizeof(stmt_tables) / sizeof(stmt_tables[0]); t++)
        if (stmt_tables[t][id])
            return stmt_tables[t][id];
    return NULL;
}

/* Prepared statements are named by slot. */
static const char *stmt_name(enum pg_stmt id, char buf[16])
{
    snprintf(buf, 16, "sl%d", (int)id);
    return buf;
}

/* }===================================================================== */

static int reconnect(struct sl_pg *s);

/* {====================== Answers ====================================== */

/* A failure of the connection or the server, logged with the statement's
 * beginning so that the log says which. */
static int fail(struct sl_pg *s, enum pg_stmt id, const char *msg)
{
    const char *sql = id < PG__COUNT ? stmt_text(id) : NULL;
    size_t len = strlen(msg);
    while (len && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
        len--;
    sl_err("store: PostgreSQL: %.*s%s%.60s%s", (int)len, msg, sql ? " (in: " : "",
           sql ? sql : "", sql ? (strlen(sql) > 60 ? "...)" : ")") : "");
    (void)s;
    return -EIO;
}

/* 0 for a statement that ran; -EEXIST when a constraint refused it
 * (SQLSTATE class 23); -EILSEQ when a value did not convert (class 22: a
 * stored text that is not the JSON it should be, edited by hand; logged);
 * -ECANCELED for one skipped because an earlier one of the pipeline
 * failed; -ETIMEDOUT for one cancelled (57014: the deadline's
 * statement_timeout or sl_pg_interrupt(); logged when neither asked for
 * it); -EIO otherwise (logged). */
static int answer_rc(struct sl_pg *s, enum pg_stmt id, const PGresult *res)
{
    switch (PQresultStatus(res)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_SINGLE_TUPLE:
        return 0;
    case PGRES_PIPELINE_ABORTED:
        return -ECANCELED;
    default:
        break;
    }
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (state && strncmp(state, "23", 2) == 0)
        return -EEXIST;
    if (state && strcmp(state, "57014") == 0) {
        if (s->deadline == 0 && !atomic_load(&s->interrupted))
            fail(s, id, PQresultErrorMessage(res));
        return -ETIMEDOUT;
    }
    if (state && strncmp(state, "22", 2) == 0) {
        fail(s, id, PQresultErrorMessage(res));
        return -EILSEQ;
    }
    return fail(s, id, PQresultErrorMessage(res));
}

/* What a write's answer means, given what was expected of it. */
static int expected(PGresult *res, enum pg_expect expect, int64_t *out, long sent)
{
    long rows = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res)
                                                       : strtol(PQcmdTuples(res), NULL, 10);
    if (out && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 &&
        !PQgetisnull(res, 0, 0))
        *out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    if (expect == PG_NONE_ELSE_EAGAIN)
        return rows > 0 ? -EAGAIN : 0;
    if (expect == PG_ALL_ELSE_EEXIST)
        return rows == sent ? 0 : -EEXIST;
    if (expect == PG_ANY || rows > 0)
        return 0;
    return expect == PG_ONE_ELSE_EEXIST ? -EEXIST
         : expect == PG_ONE_ELSE_ESTALE ? -ESTALE : -ENOENT;
}

/* }===================================================================== */

/* {====================== The writer's pipeline ========================= */

static int send_prepared(struct sl_pg *s, enum pg_stmt id, const struct pg_params *p)
{
    char name[16];
    static const struct pg_params none;
    if (!p)
        p = &none;
    if (!PQsendQueryPrepared(s->conn, stmt_name(id, name), p->n, p->v, p->len, p->fmt, 0))
        return fail(s, id, PQerrorMessage(s->conn));
    return 0;
}

/* Read the answers of everything sent ahead. keep: hand over the last
 * statement's result (a query's rows) instead of freeing it. Returns the
 * transaction's error, if it has one; refusals go to s->refused. */
static int drain(struct sl_pg *s, PGresult **keep)
{
    int rc = sl_pg_batch_flush(s);
    if (rc < 0 && !s->failed)
        s->failed = rc;
    if (s->npend == 0)
        return s->failed;
    if (PQpipelineSync(s->conn) != 1) {
        rc = fail(s, PG__COUNT, PQerrorMessage(s->conn));
        s->npend = 0;
        return s->failed = rc;
    }
    for (size_t i = 0; i < s->npend; i++) {
        struct pg_pending *p = &s->pend[i];
        PGresult *res = PQgetResult(s->conn);
        if (!res) {
            rc = fail(s, p->id, PQerrorMessage(s->conn));
            break;
        }
        int r = answer_rc(s, p->id, res);
        if (r == 0) {
            r = expected(res, p->expect, p->out, p->rows);
            if (r < 0 && !s->refused)
                s->refused = r;
            r = 0;
        }
        if (r < 0 && r != -ECANCELED && !s->failed)
            s->failed = r;
        if (keep && i == s->npend - 1 && r == 0)
            *keep = res;
        else
            PQclear(res);
        /* Each statement's answers end with a NULL. */
        while ((res = PQgetResult(s->conn)) != NULL)
            PQclear(res);
    }
    if (rc == 0) {
        PGresult *res = PQgetResult(s->conn);
        if (!res || PQresultStatus(res) != PGRES_PIPELINE_SYNC)
            rc = fail(s, PG__COUNT, res ? PQresultErrorMessage(res) : PQerrorMessage(s->conn));
        PQclear(res);
    }
    s->npend = 0;
    if (rc < 0 && !s->failed)
        s->failed = rc;
    if (s->failed && keep && *keep) {
        PQclear(*keep);
        *keep = NULL;
    }
    return s->failed;
}

int sl_pg_send_ahead(struct sl_pg *s, enum pg_stmt id, const struct pg_params *p,
                     enum pg_expect expect, int64_t *out, long rows)
{
    int rc;
    if (s->failed)
        return s->failed;
    /* The rows kept for a multi-row insert go first, unless this statement
     * touches none of their tables. */
    if (!sl_pg_batch_independent(id) && (rc = sl_pg_batch_flush(s)) < 0)
        return rc;
    if (sl_grow(&s->pend, &s->pend_cap, s->npend + 1, sizeof(*s->pend)) < 0)
        return -ENOMEM;
    if ((rc = send_prepared(s, id, p)) < 0)
        return s->failed = rc;
    s->pend[s->npend++] = (struct pg_pending){ id, expect, out, rows };
    return s->npend >= PG_PIPELINE_MAX ? drain(s, NULL) : 0;
}

static int send_ahead(struct sl_pg *s, enum pg_stmt id, const struct pg_params *p,
                      enum pg_expect expect, int64_t *out)
{
    return sl_pg_send_ahead(s, id, p, expect, out, 0);
}

int sl_pg_prepare_ahead(struct sl_pg *s, const char *name, const char *sql, int nparams)
{
    if (!s->pipeline)
        return -EINVAL;
    if (s->failed)
        return s->failed;
    if (sl_grow(&s->pend, &s->pend_cap, s->npend + 1, sizeof(*s->pend)) < 0)
        return -ENOMEM;
    if (!PQsendPrepare(s->conn, name, sql, nparams, NULL))
        return s->failed = fail(s, PG__COUNT, PQerrorMessage(s->conn));
    s->pend[s->npend++] = (struct pg_pending){ PG__COUNT, PG_ANY, NULL, 0 };
    return 0;
}

int sl_pg_write_named(struct sl_pg *s, const char *name, const struct pg_params *p)
{
    if (!s->pipeline)
        return -EINVAL;
    if (s->failed)
        return s->failed;
    if (sl_grow(&s->pend, &s->pend_cap, s->npend + 1, sizeof(*s->pend)) < 0)
        return -ENOMEM;
    if (!PQsendQueryPrepared(s->conn, name, p->n, p->v, p->len, p->fmt, 0))
        return s->failed = fail(s, PG__COUNT, PQerrorMessage(s->conn));
    s->pend[s->npend++] = (struct pg_pending){ PG__COUNT, PG_ANY, NULL, 0 };
    return s->npend >= PG_PIPELINE_MAX ? drain(s, NULL) : 0;
}

/* }===================================================================== */

/* {====================== Statements run =============================== */

/* One statement run at once (readers, and the writer before its pipeline):
 * its result, or NULL with *rc set. */
static PGresult *run_now(struct sl_pg *s, enum pg_stmt id, const struct pg_params *p, int *rc)
{
    char name[16];
    static const struct pg_params none;
    if (!p)
        p = &none;
    if ((*rc = reconnect(s)) < 0)
        return NULL;
    PGresult *res = PQexecPrepared(s->conn, stmt_name(id, name), p->n, p->v, p->len, p->fmt, 0);
    *rc = res ? answer_rc(s, id, res) : fail(s, id, PQerrorMessage(s->conn));
    if (*rc < 0) {
        PQclear(res);
        return NULL;
    }
    return res;
}

int sl_pg_write(struct sl_pg *s, enum pg_stmt id, const struct pg_params *p,
                enum pg_expect expect, int64_t *out)
{
    if (s->pipeline)
        return send_ahead(s, id, p, expect, out);
    int rc;
    PGresult *res = run_now(s, id, p, &rc);
    if (res)
        rc = expected(res, expect, out, 0);
    PQclear(res);
    return rc;
}

int sl_pg_rows(struct sl_pg *s, enum pg_stmt id, const struct pg_params *p,
               struct pg_rows *r)
{
    int rc = 0;
    *r = (struct pg_rows){ .s = s, .id = id, .row = -1 };
    if (!s->pipeline) {
        r->res = run_now(s, id, p, &rc);
    } else {
        /* On the writer: the answer comes whole, after what was sent before.
         * The rows kept for multi-row inserts go first even when the query
         * does not read their tables: drain() would send them after it, and
         * the answer it keeps is the last statement's. */
        if ((rc = sl_pg_batch_flush(s)) == 0 && (rc = send_ahead(s, id, p, PG_ANY, NULL)) == 0)
            rc = drain(s, &r->res);
        if (rc == 0 && !r->res)
            rc = fail(s, id, "no answer");
    }
    if (rc < 0)
        return rc;
    r->nrows = PQntuples(r->res);
    return 0;
}

int sl_pg_stream(struct sl_pg *s, enum pg_stmt id, const struct pg_params *p,
                 struct pg_rows *r)
{
    if (s->pipeline)
        return sl_pg_rows(s, id, p, r);
    *r = (struct pg_rows){ .s = s, .id = id, .row = -1 };
    int rc = reconnect(s);
    if (rc == 0)
        rc = send_prepared(s, id, p);
    if (rc < 0)
        return rc;
    if (!PQsetSingleRowMode(s->conn)) {
        /* The rows would come whole, and be read as none: refuse. */
        PGresult *res;
        while ((res = PQgetResult(s->conn)) != NULL)
            PQclear(res);
        return fail(s, id, "cannot read the rows one by one");
    }
    r->streaming = true;
    return 0;
}

bool sl_pg_next(struct pg_rows *r)
{
    if (r->done)
        return false;
    if (!r->streaming) {
        if (++r->row < r->nrows)
            return true;
        r->done = true;
        return false;
    }
    PQclear(r->res);
    r->res = PQgetResult(r->s->conn);
    r->row = 0;
    if (r->res && PQresultStatus(r->res) == PGRES_SINGLE_TUPLE)
        return true;
    if (!r->res)
        r->rc = fail(r->s, r->id, PQerrorMessage(r->s->conn));
    else
        r->rc = answer_rc(r->s, r->id, r->res);
    PQclear(r->res);
    r->res = NULL;
    r->done = true;
    /* The statement's answers end with a NULL; read up to it. */
    PGresult *res;
    while ((res = PQgetResult(r->s->conn)) != NULL)
        PQclear(res);
    return false;
}

int sl_pg_rows_end(struct pg_rows *r)
{
    if (r->streaming && !r->done) {
        /* Stopped early: read the rest, so the connection is free again. */
        while (sl_pg_next(r))
            ;
    }
    PQclear(r->res);
    r->res = NULL;
    return r->rc;
}

int sl_pg_row_packed(struct pg_rows *r, json_t **out, const json_error_t *jerr,
                     const char *kind, const char *id)
{
    int rc = sl_pg_rows_end(r);
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
        return rc;
    }
    if (!*out) {
        char what[SL_ID_MAX + 16];
        snprintf(what, sizeof(what), "%s %s", kind, id);
        return row_unreadable(jerr, what);
    }
    return 0;
}

int sl_pg_list(struct sl_pg *s, enum pg_stmt id, const struct pg_params *p,
               json_t *(*row)(const struct pg_rows *r), json_t **out)
{
    struct pg_rows r;
    json_t *list = json_array();
    int rc = list ? sl_pg_rows(s, id, p, &r) : -ENOMEM;
    if (rc < 0) {
        json_decref(list);
        return rc;
    }
    while (rc == 0 && sl_pg_next(&r))
        if (json_array_append_new(list, row(&r)) < 0)
            rc = -ENOMEM;
    int end = sl_pg_rows_end(&r);     /* frees the rows not read */
    if (rc == 0)
        rc = end;
    if (rc < 0) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return 0;
}

static json_t *first_column(const struct pg_rows *r)
{
    return json_string(col(r, 0));
}

int sl_pg_ids(struct sl_pg *s, enum pg_stmt id, const struct pg_params *p, json_t **out)
{
    return sl_pg_list(s, id, p, first_column, out);
}

int sl_pg_row(struct sl_pg *s, enum pg_stmt id, const struct pg_params *p,
              struct pg_rows *r)
{
    int rc = sl_pg_rows(s, id, p, r);
    if (rc < 0)
        return rc;
    if (sl_pg_next(r))
        return 0;
    rc = sl_pg_rows_end(r);
    return rc < 0 ? rc : -ENOENT;
}

int sl_pg_exec(struct sl_pg *s, const char *sql)
{
    PGresult *res = PQexec(s->conn, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = fail(s, PG__COUNT, res ? PQresultErrorMessage(res) : PQerrorMessage(s->conn));
    PQclear(res);
    return rc;
}

int sl_pg_query(struct sl_pg *s, const char *sql, int n, const char *const *values,
                struct pg_rows *r)
{
    int rc;
    *r = (struct pg_rows){ .s = s, .id = PG__COUNT, .row = -1 };
    if (!s->pipeline) {
        if ((rc = reconnect(s)) < 0)
            return rc;
        r->res = PQexecParams(s->conn, sql, n, NULL, values, NULL, NULL, 0);
        rc = r->res ? answer_rc(s, PG__COUNT, r->res) : fail(s, PG__COUNT, PQerrorMessage(s->conn));
        if (rc < 0) {
            PQclear(r->res);
            r->res = NULL;
        }
    } else {
        /* On the writer, after what was sent before (as sl_pg_rows). */
        if (s->failed)
            return s->failed;
        if ((rc = sl_pg_batch_flush(s)) < 0)
            return rc;
        if (sl_grow(&s->pend, &s->pend_cap, s->npend + 1, sizeof(*s->pend)) < 0)
            return -ENOMEM;
        if (!PQsendQueryParams(s->conn, sql, n, NULL, values, NULL, NULL, 0))
            return s->failed = fail(s, PG__COUNT, PQerrorMessage(s->conn));
        s->pend[s->npend++] = (struct pg_pending){ PG__COUNT, PG_ANY, NULL, 0 };
        rc = drain(s, &r->res);
        if (rc == 0 && !r->res)
            rc = fail(s, PG__COUNT, "no answer");
    }
    if (rc < 0)
        return rc;
    r->nrows = PQntuples(r->res);
    return 0;
}

/* }===================================================================== */

/* {====================== Time bound ==================================== */

int sl_pg_due(struct sl_pg *s)
{
    if (atomic_load(&s->interrupted) || (s->deadline > 0 && sl_mono() > s->deadline))
        return -ETIMEDOUT;
    return 0;
}

/* A reader's statements are bounded by the server too (statement_timeout:
 * a statement stops where it is, however long one row takes), and before
 * each by sl_pg_due(); the writer's pipeline takes no SET between its
 * statements, and has the check only. */
void sl_pg_deadline(struct sl_pg *s, double deadline)
{
    char set[64];

    s->deadline = deadline;
    if (s->pipeline || PQstatus(s->conn) != CONNECTION_OK)
        return;
    if (deadline > 0) {
        double ms = (deadline - sl_mono()) * 1000;
        snprintf(set, sizeof(set), "SET statement_timeout = %ld",
                 ms < 1 ? 1L : ms > 2e9 ? 2000000000L : (long)ms + 1);
        if (sl_pg_exec(s, set) == 0)
            s->timeout_set = true;
    } else if (s->timeout_set && sl_pg_exec(s, "RESET statement_timeout") == 0) {
        s->timeout_set = false;
    }
}

void sl_pg_interrupt(struct sl_pg *s)
{
    char err[256];

    atomic_store(&s->interrupted, true);
    pthread_mutex_lock(&s->cancel_lock);
    if (s->cancel && !PQcancel(s->cancel, err, sizeof(err)))
        sl_warn("store: PostgreSQL: cannot cancel a statement: %s", err);
    pthread_mutex_unlock(&s->cancel_lock);
}

/* The cancel request of the connection as it is now (after each connect). */
static void cancel_renew(struct sl_pg *s)
{
    PGcancel *c = PQgetCancel(s->conn);
    pthread_mutex_lock(&s->cancel_lock);
    PQfreeCancel(s->cancel);
    s->cancel = c;
    pthread_mutex_unlock(&s->cancel_lock);
}

/* }===================================================================== */

/* {====================== Open and close ================================ */

/* The server's notices (a NOTICE from DDL, a WARNING) go to our log. */
static void on_notice(void *arg, const char *msg)
{
    size_t len = strlen(msg);
    (void)arg;
    while (len && msg[len - 1] == '\n')
        len--;
    sl_info("store: PostgreSQL: %.*s", (int)len, msg);
}

/* What a fresh connection needs before its first statement: session
 * settings, the schema (writer), every statement prepared, the audit head
 * (writer), then the writer's pipeline. */
static int set_up(struct sl_pg *s)
{
    PQsetNoticeProcessor(s->conn, on_notice, NULL);
    s->timeout_set = false;
    cancel_renew(s);
    if (PQsetClientEncoding(s->conn, "UTF8") != 0)
        return fail(s, PG__COUNT, PQerrorMessage(s->conn));
    /* Every answer is acknowledged only once durable, whatever the server's
     * default; the reader may not write, whatever a caller asks; times and
     * text compare the same on every server. */
    if (sl_pg_exec(s, "SET synchronous_commit = on; SET client_min_messages = warning;"
                      " SET TIME ZONE 'UTC'") < 0 ||
        (!s->writer && sl_pg_exec(s, "SET default_transaction_read_only = on;"
                                     " SET default_transaction_isolation = 'repeatable read'") < 0) ||
        (s->writer && sl_pg_migrate(s) < 0))
        return -EIO;
    for (int i = 0; i < PG__COUNT; i++) {
        char name[16];
        const char *sql = stmt_text(i);
        if (!sql) {
            sl_err("store: PostgreSQL: statement %d: no file gives its SQL", i);
            return -EIO;
        }
        PGresult *res = PQprepare(s->conn, stmt_name(i, name), sql, 0, NULL);
        int rc = res ? answer_rc(s, i, res) : fail(s, i, PQerrorMessage(s->conn));
        PQclear(res);
        if (rc < 0)
            return -EIO;
    }
    s->listening = false;
    if (s->node[0]) {
        char sql[SL_ID_MAX + 64];
        snprintf(sql, sizeof(sql), "SELECT set_config('sluice.node', '%s', false)", s->node);
        if (sl_pg_exec(s, sql) < 0)     /* an id: no quote in it */
            return -EIO;
    }
    if (s->writer) {
        if (sl_pg_audit_load_head(s) < 0)
            return -EIO;
        if (PQenterPipelineMode(s->conn) != 1)
            return fail(s, PG__COUNT, PQerrorMessage(s->conn));
        s->pipeline = true;
    }
    return 0;
}

/* A connection the server dropped (a restart, a failover) is made again at
 * the next transaction (writer) or query (reader), rather than failing every
 * request until sluiced restarts. What was in flight has failed already. */
static int reconnect(struct sl_pg *s)
{
    if (PQstatus(s->conn) == CONNECTION_OK)
        return 0;
    sl_warn("store: the connection to PostgreSQL was lost; connecting again");
    s->pipeline = false;
    s->npend = 0;
    sl_pg_batch_discard(s);
    s->failed = s->refused = 0;
    PQreset(s->conn);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        sl_err("store: cannot connect to PostgreSQL again: %s", PQerrorMessage(s->conn));
        return -EIO;
    }
    return set_up(s) < 0 ? -EIO : 0;
}

int sl_pg_open(const char *store, const char *dir, bool writer, struct sl_pg **out)
{
    /* The setting is the whole connection string; libpq expands it, and
     * what it says wins over the defaults before it. */
    static const char *const keys[] = {
        "connect_timeout", "fallback_application_name", "dbname", NULL
    };
    const char *values[] = { "10", "sluiced", store, NULL };
    (void)dir;

    struct sl_pg *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->writer = writer;
    pthread_mutex_init(&s->cancel_lock, NULL);
    s->conn = PQconnectdbParams(keys, values, 1);
    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
        /* libpq's message names the host or socket, never the password. */
        sl_err("store: cannot connect to PostgreSQL (store = ...): %s",
               s->conn ? PQerrorMessage(s->conn) : "out of memory");
        sl_pg_free(s);
        return -EIO;
    }
    if (set_up(s) < 0) {
        sl_pg_free(s);
        return -EIO;
    }
    if (writer)
        sl_info("store: PostgreSQL %d.%d, database %s on %s", PQserverVersion(s->conn) / 10000,
                PQserverVersion(s->conn) % 10000, PQdb(s->conn),
                PQhost(s->conn) && *PQhost(s->conn) ? PQhost(s->conn) : "the default socket");
    *out = s;
    return 0;
}

void sl_pg_free(struct sl_pg *s)
{
    if (!s)
        return;
    if (s->conn && s->pipeline && PQstatus(s->conn) == CONNECTION_OK) {
        sl_pg_batch_discard(s);     /* never committed: nothing to send */
        drain(s, NULL);
        PQexitPipelineMode(s->conn);
    }
    PQfreeCancel(s->cancel);
    pthread_mutex_destroy(&s->cancel_lock);
    PQfinish(s->conn);
    sl_pg_batch_free(s);
    free(s->pend);
    free(s);
}

bool sl_pg_created(const struct sl_pg *s)
{
    return s->created;
}

/* }===================================================================== */

/* {====================== Transactions ================================= */

int sl_pg_begin(struct sl_pg *s)
{
    if (reconnect(s) < 0)
        return -EIO;
    s->tx_seq = s->audit_seq;
    memcpy(s->tx_hash, s->audit_hash, sizeof(s->tx_hash));
    s->failed = s->refused = 0;
    s->in_tx = true;
    s->in_savepoint = false;
    s->audit_locked = false;
    int rc = sl_pg_write(s, PG_BEGIN, NULL, PG_ANY, NULL);
    /* A writer's transaction takes the chain's lock first (pg_audit.c). */
    return rc == 0 && s->writer ? sl_pg_write(s, PG_AUDIT_LOCK, NULL, PG_ANY, NULL) : rc;
}

/* The search's indexes are kept by triggers of each write (pg_schema.c). */
int sl_pg_index_later(struct sl_pg *s)
{
    (void)s;
    return -ENOTSUP;
}

int sl_pg_index(struct sl_pg *s)
{
    (void)s;
    return 0;
}

int sl_pg_sync(struct sl_pg *s)
{
    int rc = s->pipeline ? drain(s, NULL) : s->failed;
    if (rc == 0) {
        rc = s->refused;
        s->refused = 0;
    }
    return rc;
}

int sl_pg_commit(struct sl_pg *s)
{
    /* A refusal nobody asked about keeps the transaction from committing:
     * its caller never learnt that part of its work was not done. */
    int rc = sl_pg_sync(s);
    PGresult *res = NULL;
    if (rc == 0 && (rc = send_ahead(s, PG_COMMIT, NULL, PG_ANY, NULL)) == 0)
        rc = drain(s, &res);
    /* PostgreSQL answers COMMIT of a failed transaction with ROLLBACK. */
    if (rc == 0 && (!res || strcmp(PQcmdStatus(res), "COMMIT") != 0))
        rc = fail(s, PG_COMMIT, "the transaction was rolled back");
    PQclear(res);
    if (rc < 0)
        sl_pg_rollback(s);
    s->in_tx = s->in_savepoint = false;
    s->audit_locked = false;
    return rc;
}

int sl_pg_rollback(struct sl_pg *s)
{
    s->audit_locked = false;
    s->audit_seq = s->tx_seq;
    memcpy(s->audit_hash, s->tx_hash, sizeof(s->audit_hash));
    s->in_tx = s->in_savepoint = false;
    sl_pg_batch_discard(s);
    drain(s, NULL);
    s->failed = s->refused = 0;
    if (PQstatus(s->conn) != CONNECTION_OK)
        return -EIO;
    PGTransactionStatusType ts = PQtransactionStatus(s->conn);
    if (ts != PQTRANS_INTRANS && ts != PQTRANS_INERROR)
        return 0;
    int rc = sl_pg_write(s, PG_ROLLBACK, NULL, PG_ANY, NULL);
    if (rc == 0 && s->pipeline)
        rc = drain(s, NULL);
    s->failed = s->refused = 0;
    return rc;
}

int sl_pg_savepoint(struct sl_pg *s)
{
    s->sp_seq = s->audit_seq;
    s->sp_locked = s->audit_locked;
    memcpy(s->sp_hash, s->audit_hash, sizeof(s->sp_hash));
    s->in_savepoint = true;
    return sl_pg_write(s, PG_SAVEPOINT, NULL, PG_ANY, NULL);
}

int sl_pg_release(struct sl_pg *s)
{
    s->in_savepoint = false;
    return sl_pg_write(s, PG_RELEASE, NULL, PG_ANY, NULL);
}

int sl_pg_rollback_to(struct sl_pg *s)
{
    s->audit_seq = s->sp_seq;
    /* A head read inside the savepoint is read again at the next append. */
    s->audit_locked = s->sp_locked;
    memcpy(s->audit_hash, s->sp_hash, sizeof(s->audit_hash));
    s->in_savepoint = false;
    /* The savepoint undoes the error too: what follows it runs again. */
    sl_pg_batch_discard(s);
    drain(s, NULL);
    s->failed = s->refused = 0;
    int rc = sl_pg_write(s, PG_ROLLBACK_TO, NULL, PG_ANY, NULL);
    if (rc == 0)
        rc = sl_pg_write(s, PG_RELEASE, NULL, PG_ANY, NULL);
    if (rc == 0)
        rc = sl_pg_sync(s);
    return rc;
}

int sl_pg_bulk(struct sl_pg *s, bool on)
{
    (void)s;
    (void)on;
    return 0;
}

int sl_pg_backup(struct sl_pg *s, const char *path)
{
    (void)s;
    (void)path;
    return -ENOTSUP;
}

/* }===================================================================== */
