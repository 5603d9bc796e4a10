/* SPDX-License-Identifier: MIT */
/* The PostgreSQL backend's parts: the connection, its statements, their helpers. */
#ifndef SL_PG_H
#define SL_PG_H

/*
 * Private to pg*.c; the rest of sluice sees only store/store.h. Each file
 * below holds one section of store.h (as sqlite*.c do) and the SQL of its
 * statements, prepared once per connection when it opens.
 *
 * The writer runs in libpq's pipeline mode: a write whose answer is only
 * "done" or "refused" is sent and not waited for (sl_pg_write), so that a
 * group commit of a thousand requests costs a few round trips rather than
 * one per statement. Its answer is read at the next drain: a query on the
 * writer, sl_pg_sync(), a transaction's end, or every PG_PIPELINE_MAX
 * statements. A refusal read there (an insert that found its key taken, an
 * update that found no row) is kept for sl_pg_sync() to report; an error
 * aborts PostgreSQL's transaction, and is reported by every call after it
 * until a rollback. Readers run one statement at a time; the loads of
 * everything at start read their rows one by one (single-row mode), so that
 * ten million follows are never in memory at once.
 */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "lib/id.h"
#include "lib/sha256.h"
#include "lib/text.h"
#include "store/backend.h"
#include "store/chain.h"
#include "store/rows.h"

/* One slot per statement, grouped by the file that holds its SQL. */
enum pg_stmt {
    /* pg.c */
    PG_BEGIN,
    PG_COMMIT,
    PG_ROLLBACK,
    PG_SAVEPOINT,
    PG_RELEASE,
    PG_ROLLBACK_TO,
    /* pg_items.c */
    PG_ITEM_INSERT,
    PG_ITEMS_INSERT_MANY,
    PG_ITEM_PEEK,
    PG_ITEM_ABSENT,
    PG_ITEM_GET,
    PG_ITEM_STATES,
    PG_ITEM_UPDATE,
    PG_ITEM_STATE,
    PG_ITEM_STATE_LOCK,
    PG_CREATOR_STANDING,
    PG_CREATORS_EACH,
    PG_ITEM_MERGE_TAGS,
    /* pg_audit.c */
    PG_AUDIT_HEAD,
    PG_AUDIT_LOCK,
    PG_AUDIT_HASH,
    PG_AUDIT_INSERT,
    PG_AUDIT_INSERT_MANY,
    PG_AUDIT_LIST_ITEM,
    PG_AUDIT_LIST_ALL,
    PG_AUDIT_WALK,
    /* pg_users.c */
    PG_USER_UPSERT,
    PG_USER_GET,
    PG_FOLLOW_ADD,
    PG_FOLLOW_DEL,
    PG_USER_SEEN,
    PG_USERS_TOUCH_MANY,
    PG_FOLLOWS_ADD_MANY,
    PG_FOLLOWS_DEL_MANY,
    /* pg_events.c */
    PG_EVENT_INSERT,
    PG_COUNTER_ADD,
    PG_COUNTERS_GET,
    PG_EVENTS_SINCE,
    PG_MARK_GET,
    PG_MARK_SET,
    /* pg_queue.c */
    PG_QUEUE_PUT,
    PG_QUEUE_DEL,
    PG_QUEUE_GET,
    PG_QUEUE_GET_LOCK,
    PG_QUEUE_CLAIM,
    PG_QUEUE_RENEW,
    PG_QUEUE_LIST,
    PG_QUEUE_DEPTHS,
    /* pg_hashbanks.c */
    PG_BANK_ADD,
    PG_BANK_DEL,
    PG_BANK_EACH,
    /* pg_dist.c */
    PG_WAVE_PUT,
    PG_WAVES_GET,
    PG_WAVES_IN_STATE,
    PG_OFFER_WAVE,
    PG_OFFER_WAVES_ADD_MANY,
    PG_OFFERS_EACH,
    PG_OFFERS_SERVED_OF,
    PG_OFFER_SERVED,
    PG_SERVED_ADD_MANY,
    PG_OFFER_WAVES_IN_STATE,
    PG_SERVED_IN_STATE,
    PG_USERS_EACH,
    PG_FOLLOWS_EACH,
    PG_ITEMS_IN_STATE,
    /* pg_stats.c */
    PG_ITEMS_SINCE,
    PG_DECISIONS_BY_HOUR,
    PG_DECISIONS_BY_ACTOR,
    /* pg_reports.c */
    PG_REPORT_FACTS,
    PG_REPORT_ADD,
    PG_REPORT_SUM,
    PG_REPORTERS_JUDGE,
    PG_REPORTS_JUDGE,
    PG_REPORTS_LIST,
    PG_REPORT_REPEAT,
    /* pg_tokens.c */
    PG_TOKEN_INSERT,
    PG_TOKEN_DELETE,
    PG_TOKEN_EACH,
    /* pg_copy.c */
    PG_COPIED_FENCES,
    PG_COPIED_BATCHES,
    PG_COPIED_LEASES,
    PG_COPIED_ITEMS,
    PG_COPIED_PARTS,
    /* pg_search.c */
    PG_SEARCH_ROW,
    PG_SEQ_MAX,
    PG_SEQ_AT,
    /* pg_jobs.c */
    PG_JOB_INSERT,
    PG_JOB_GET,
    PG_JOB_PEEK,
    PG_JOBS_LIST,
    PG_JOBS_EACH,
    PG_JOB_STATE,
    PG_JOB_PROGRESS,
    /* pg_matches.c */
    PG_ITEM_HASHES,
    PG_ITEM_ADD_MATCH,
    /* pg_creators.c */
    PG_CREATOR_STATES,
    PG_CREATOR_REPORTS,
    PG_CREATOR_REPORTED,
    PG_REPORTER_STANDING,
    PG_SUSPENSION_GET,
    PG_SUSPENSION_SET,
    PG_SUSPENSION_LIFT,
    PG_SUSPENSIONS_EACH,
    /* pg_nodes.c */
    PG_NODE_JOIN,
    PG_NODE_SEEN,
    PG_NODE_BEAT,
    PG_NODE_LEAVE,
    PG_NODES_LIST,
    PG_FENCE_NEXT,
    PG_LEASE_TAKE,
    PG_LEASE_CHECK,
    PG_LEASE_DROP,
    PG_LEASE_GONE,
    PG_LEASE_EXPIRE,
    PG_LEASES_RENEW,
    PG_LEASES_TAKEOVER,
    /* pg_feed.c */
    PG_NODE_SET,
    PG_FEED_HORIZON,
    PG_FEED_CHANGES,
    PG_FEED_EVENTS,
    PG_OFFERS_CLAIM,
    PG_POLICY_PUT,
    PG_POLICY_GET,
    PG_POLICY_NEWEST,
    PG__COUNT
};

/* Statements sent ahead before the writer drains them anyway: their answers
 * must fit the socket's buffers while nobody reads them. */
#define PG_PIPELINE_MAX 256

/* What a write's answer must hold; one row affected or returned, else the
 * write was refused with -EEXIST or -ENOENT. */
enum pg_expect {
    PG_ANY,
    PG_ONE_ELSE_EEXIST,
    PG_ONE_ELSE_ENOENT,
    PG_ONE_ELSE_ESTALE,         /* a fenced write whose lease is not ours (shared.h) */
    PG_NONE_ELSE_EAGAIN,        /* rows: a speculation was wrong (item_peek) */
    PG_ALL_ELSE_EEXIST,         /* a multi-row insert: every row sent, or -EEXIST */
};

/* A statement sent ahead, its answer not read yet. */
struct pg_pending {
    enum pg_stmt id;
    enum pg_expect expect;
    int64_t *out;               /* set to the first column of its first row, if any */
    long rows;                  /* PG_ALL_ELSE_EEXIST: the rows sent */
};

struct sl_pg {
    PGconn *conn;
    bool writer;
    bool created;
    bool pipeline;              /* the writer, once open */
    bool in_tx;                 /* between begin and commit or rollback */
    bool in_savepoint;          /* between savepoint and release or rollback_to */
    struct pg_pending *pend;    /* sent ahead, in order */
    size_t npend, pend_cap;
    int refused;                /* the first refusal sl_pg_sync() has not reported */
    int failed;                 /* the transaction's error, until a rollback */
    /* Head of the audit chain as this connection has written it; saved at
     * BEGIN and at each SAVEPOINT so that a rollback puts it back. */
    int64_t audit_seq;
    char audit_hash[SL_SHA256_HEX_LEN + 1];
    int64_t tx_seq, sp_seq;
    /* The head above was read under the chain's lock (pg_audit.c) in this
     * transaction. sp_locked: it had been at the savepoint. */
    bool audit_locked, sp_locked;
    char tx_hash[SL_SHA256_HEX_LEN + 1], sp_hash[SL_SHA256_HEX_LEN + 1];
    struct sl_chain_key audit_key;  /* sl_store_audit_key; zeroed: none */
    struct pg_batch *batch;     /* PG_BATCH__COUNT of them, on the writer */
    /* A copy into this store (pg_copy.c): the table its insert is prepared for. */
    char copy_table[64];
    int copy_n;
    /* Several nodes (shared.h): the node this connection writes for, and
     * whether it listens to the change feed. */
    char node[SL_ID_MAX + 1];
    bool listening;
    /* sl_pg_deadline(): statements stop past this sl_mono() time (the
     * session's statement_timeout, and a check before each); 0 none. */
    double deadline;
    bool timeout_set;           /* statement_timeout is not the default */
    /* sl_pg_interrupt(), from any thread: cancel what runs now (cancel,
     * made on this thread at each connect), and stop the search that
     * runs (interrupted, cleared when a search begins). */
    pthread_mutex_t cancel_lock;
    PGcancel *cancel;
    atomic_bool interrupted;
};

/* {====================== Parameters =================================== */
/* A statement's parameters, as text (integers printed here) or bytes. */
#define PG_MAX_PARAMS SL_STORE_ROW_MAX

struct pg_params {
    int n;
    const char *v[PG_MAX_PARAMS];
    int len[PG_MAX_PARAMS];
    int fmt[PG_MAX_PARAMS];     /* 0 text, 1 binary */
    char num[PG_MAX_PARAMS][24];
};

/* NULL is SQL's NULL. */
static inline void par_text(struct pg_params *p, const char *v)
{
    p->v[p->n] = v;
    p->len[p->n] = 0;
    p->fmt[p->n++] = 0;
}

static inline void par_int(struct pg_params *p, int64_t v)
{
    snprintf(p->num[p->n], sizeof(p->num[0]), "%lld", (long long)v);
    par_text(p, p->num[p->n]);
}

static inline void par_bytes(struct pg_params *p, const void *v, size_t len)
{
    p->v[p->n] = v;
    p->len[p->n] = (int)len;
    p->fmt[p->n++] = 1;
}
/* }===================================================================== */

/* {====================== Batches ====================================== */
/* Rows of one kind of insert kept on the writer to go as one statement of
 * arrays (pg_batch.c): a thousand uploads' audit records cost the server
 * one INSERT, not a thousand. */
enum pg_batch_kind {
    PG_BATCH_ITEMS,
    PG_BATCH_AUDIT,
    PG_BATCH_OFFERS,            /* placements of waves (offer_waves) */
    PG_BATCH_SERVED,            /* served marks (served) */
    PG_BATCH__COUNT
};

#define PG_BATCH_MAX 1000       /* rows kept before they go anyway */
#define PG_BATCH_BYTES (8 << 20) /* or bytes: uploads may be a MiB each */

struct pg_batch {
    int rows;
    size_t bytes;
    char *col[PG_MAX_PARAMS];   /* each column's array literal, open: "{a,b" */
    size_t len[PG_MAX_PARAMS], cap[PG_MAX_PARAMS];
};
/* }===================================================================== */

/* {====================== Rows ========================================= */
/* The rows of one query, read one at a time:
 *     struct pg_rows r;
 *     if ((rc = sl_pg_rows(s, PG_X, &p, &r)) == 0) {
 *         while (sl_pg_next(&r)) ... col(&r, 0) ...
 *         rc = sl_pg_rows_end(&r);
 *     }
 */
struct pg_rows {
    struct sl_pg *s;
    enum pg_stmt id;
    PGresult *res;              /* the current row's result */
    int row, nrows;
    bool streaming;             /* single-row mode (readers) */
    bool done;
    int rc;
};

static inline const char *col(const struct pg_rows *r, int c)
{
    return PQgetisnull(r->res, r->row, c) ? NULL : PQgetvalue(r->res, r->row, c);
}

static inline int64_t col_int(const struct pg_rows *r, int c)
{
    const char *v = col(r, c);
    return v ? strtoll(v, NULL, 10) : 0;
}

/* A JSON column: null when SQL NULL, NULL when its text does not parse
 * (json_pack_ex then refuses the row: rows.h, row_unreadable). */
static inline json_t *col_json(const struct pg_rows *r, int c)
{
    const char *text = col(r, c);
    return text ? json_loads(text, JSON_DECODE_ANY, NULL) : json_null();
}

/* A text column as a JSON string: null when SQL NULL, NULL when it is not
 * UTF-8 (a database in SQL_ASCII keeps any bytes). */
static inline json_t *col_string_or_null(const struct pg_rows *r, int c)
{
    const char *text = col(r, c);
    return text ? json_string(text) : json_null();
}

/* A nullable integer column as JSON. */
static inline json_t *col_int_or_null(const struct pg_rows *r, int c)
{
    return col(r, c) ? json_integer(col_int(r, c)) : json_null();
}
/* }===================================================================== */

/* pg.c */
/* A write: run now on a reader, sent ahead on the writer (store.h). */
int sl_pg_write(struct sl_pg *s, enum pg_stmt id, const struct pg_params *p,
                enum pg_expect expect, int64_t *out);
/* A query; its rows come from sl_pg_next() until it answers false; then
 * sl_pg_rows_end() gives 0 or the error, and frees what is left. The rows
 * arrive whole, so the caller may query again while it walks them. */
int sl_pg_rows(struct sl_pg *s, enum pg_stmt id, const struct pg_params *p,
               struct pg_rows *r);
/* The same, a row at a time on a reader: for the loads of everything at
 * start, whose callbacks never query the store while the walk lasts (the
 * connection is busy until sl_pg_rows_end()). */
int sl_pg_stream(struct sl_pg *s, enum pg_stmt id, const struct pg_params *p,
                 struct pg_rows *r);
bool sl_pg_next(struct pg_rows *r);
int sl_pg_rows_end(struct pg_rows *r);
/* The end of a one-row read packed into *out (json_pack_ex with jerr):
 * sl_pg_rows_end()'s error drops *out; a row that could not be packed is
 * named ("KIND ID") and refused as rows.h's row_unreadable() says. */
int sl_pg_row_packed(struct pg_rows *r, json_t **out, const json_error_t *jerr,
                     const char *kind, const char *id);
/* Every row of statement id made a JSON value by row() (NULL: out of
 * memory), as a JSON array in *out: 0, or the error (*out untouched). */
int sl_pg_list(struct sl_pg *s, enum pg_stmt id, const struct pg_params *p,
               json_t *(*row)(const struct pg_rows *r), json_t **out);
/* The first column of every row of statement id, as a JSON array of
 * strings in *out: 0, or the error (*out untouched). */
int sl_pg_ids(struct sl_pg *s, enum pg_stmt id, const struct pg_params *p, json_t **out);
/* A query of at most one row: 0 with it in r (end with sl_pg_rows_end()),
 * -ENOENT when there is none, or the error. */
int sl_pg_row(struct sl_pg *s, enum pg_stmt id, const struct pg_params *p,
              struct pg_rows *r);
/* On the writer, sent ahead like a write: preparing a statement of SQL
 * text under name, and running one so prepared (pg_copy.c). */
int sl_pg_prepare_ahead(struct sl_pg *s, const char *name, const char *sql, int nparams);
int sl_pg_write_named(struct sl_pg *s, const char *name, const struct pg_params *p);
/* Run SQL text (no parameters, any number of statements) on a connection
 * outside pipeline mode: 0 or -EIO (logged). */
int sl_pg_exec(struct sl_pg *s, const char *sql);
/* A query of SQL text made at run time (a search), with n text parameters
 * ($1...; NULL is SQL's NULL): its rows whole, as sl_pg_rows() gives them,
 * on a reader or on the writer. */
int sl_pg_query(struct sl_pg *s, const char *sql, int n, const char *const *values,
                struct pg_rows *r);
/* -ETIMEDOUT when the connection's deadline has passed or a search was
 * interrupted (sl_pg_interrupt): what a search checks before a statement. */
int sl_pg_due(struct sl_pg *s);
/* Sent ahead on the writer, ahead of the batches (below). */
int sl_pg_send_ahead(struct sl_pg *s, enum pg_stmt id, const struct pg_params *p,
                     enum pg_expect expect, int64_t *out, long rows);
/* pg_batch.c */
/* Keep a row for kind's insert (the writer); 0 or -ENOMEM. */
int sl_pg_batch_add(struct sl_pg *s, enum pg_batch_kind kind, const struct pg_params *p);
/* Append v (NULL: SQL NULL) to the literal of a text[] parameter in *buf
 * (*len used, *cap allocated, as sl_grow keeps them): quoted, its quotes
 * and backslashes escaped, after '{' when first, else after ','.
 * sl_pg_array_close() ends it. 0 or -ENOMEM. */
int sl_pg_array_add(char **buf, size_t *len, size_t *cap, bool first, const char *v);
/* End the literal of *buf: "}" and a NUL ("{}" when nothing was added);
 * *len goes back to 0 for the next one. 0 or -ENOMEM. */
int sl_pg_array_close(char **buf, size_t *len, size_t *cap);
/* Send every row kept, kind by kind, as one statement each. */
int sl_pg_batch_flush(struct sl_pg *s);
/* Forget the rows kept (a rollback). */
void sl_pg_batch_discard(struct sl_pg *s);
void sl_pg_batch_free(struct sl_pg *s);
/* Whether statement id may go before rows kept: it touches none of the
 * tables the batches write (items, audit, offer_waves, served). */
bool sl_pg_batch_independent(enum pg_stmt id);
/* pg_schema.c */
int sl_pg_migrate(struct sl_pg *s);
/* pg_audit.c */
int sl_pg_audit_load_head(struct sl_pg *s);

/* Each file's SQL, by slot (NULL elsewhere), as in sqlite.h. */
extern const char *const sl_pg_items_sql[PG__COUNT];
extern const char *const sl_pg_audit_sql[PG__COUNT];
extern const char *const sl_pg_users_sql[PG__COUNT];
extern const char *const sl_pg_events_sql[PG__COUNT];
extern const char *const sl_pg_queue_sql[PG__COUNT];
extern const char *const sl_pg_hashbanks_sql[PG__COUNT];
extern const char *const sl_pg_dist_sql[PG__COUNT];
extern const char *const sl_pg_stats_sql[PG__COUNT];
extern const char *const sl_pg_reports_sql[PG__COUNT];
extern const char *const sl_pg_tokens_sql[PG__COUNT];
extern const char *const sl_pg_copy_sql[PG__COUNT];
extern const char *const sl_pg_search_sql[PG__COUNT];
extern const char *const sl_pg_jobs_sql[PG__COUNT];
extern const char *const sl_pg_matches_sql[PG__COUNT];
extern const char *const sl_pg_creators_sql[PG__COUNT];
extern const char *const sl_pg_nodes_sql[PG__COUNT];
extern const char *const sl_pg_feed_sql[PG__COUNT];

/* Every function of store.h, as sl_pg_*(struct sl_pg *, ...). */
SL_STORE_FUNCS(SL_PG_DECLARE)
SL_STORE_TX_FUNCS(SL_PG_DECLARE_TX)
SL_SHARED_FUNCS(SL_PG_DECLARE)
SL_BACKEND_DECLARE_REST(sl_pg, struct sl_pg)

#endif
