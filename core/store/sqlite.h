/* SPDX-License-Identifier: MIT */
/* The SQLite backend's parts: the connection, its statements, their helpers. */
#ifndef SL_SQLITE_H
#define SL_SQLITE_H

/*
 * Private to sqlite*.c; the rest of sluice sees only store/store.h. Every
 * statement is prepared once, when the store opens; each of the files below
 * holds one section of store.h and the SQL of its statements.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>
#include <sqlite3.h>

#include "lib/log.h"
#include "lib/sha256.h"
#include "lib/text.h"
#include "store/store.h"

/* One slot per statement, grouped by the file that holds its SQL. */
enum stmt {
    /* sqlite.c */
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    /* sqlite_items.c */
    ST_ITEM_INSERT,
    ST_ITEM_PEEK,
    ST_ITEM_GET,
    ST_ITEM_STATES,
    ST_ITEM_SET_STATE,
    ST_ITEM_STATE,
    ST_CREATOR_STANDING,
    ST_ITEM_MERGE_TAGS,
    /* sqlite_audit.c */
    ST_AUDIT_HEAD,
    ST_AUDIT_HASH,
    ST_AUDIT_INSERT,
    ST_AUDIT_LIST_ITEM,
    ST_AUDIT_LIST_ALL,
    ST_AUDIT_WALK,
    /* sqlite_users.c */
    ST_USER_UPSERT,
    ST_USER_GET,
    ST_FOLLOW_ADD,
    ST_FOLLOW_DEL,
    ST_USER_SEEN,
    /* sqlite_events.c */
    ST_EVENT_INSERT,
    ST_COUNTER_ADD,
    ST_COUNTERS_GET,
    ST_EVENTS_SINCE,
    ST_MARK_GET,
    ST_MARK_SET,
    /* sqlite_queue.c */
    ST_QUEUE_PUT,
    ST_QUEUE_DEL,
    ST_QUEUE_GET,
    ST_QUEUE_AVAILABLE,
    ST_QUEUE_CLAIM,
    ST_QUEUE_RENEW,
    ST_QUEUE_LIST,
    ST_QUEUE_DEPTHS,
    ST_FENCE_NEXT,
    /* sqlite_hashbanks.c */
    ST_BANK_ADD,
    ST_BANK_DEL,
    ST_BANK_EACH,
    /* sqlite_dist.c */
    ST_WAVE_PUT,
    ST_WAVES_GET,
    ST_OFFER_ADD,
    ST_OFFERS_EACH,
    ST_OFFER_SERVED,
    ST_USERS_EACH,
    ST_FOLLOWS_EACH,
    ST_ITEMS_IN_STATE,
    /* sqlite_stats.c */
    ST_ITEMS_SINCE,
    ST_DECISIONS_BY_HOUR,
    ST_DECISIONS_BY_ACTOR,
    /* sqlite_reports.c */
    ST_REPORT_FACTS,
    ST_REPORTER_GET,
    ST_REPORT_ADD,
    ST_REPORTER_ADD,
    ST_REPORT_SUM,
    ST_REPORTERS_JUDGE,
    ST_REPORTS_JUDGE,
    ST_REPORTS_LIST,
    ST_REPORT_REPEAT,
    /* sqlite_tokens.c */
    ST_TOKEN_INSERT,
    ST_TOKEN_DELETE,
    ST_TOKEN_EACH,
    /* sqlite_search.c */
    ST_SEARCH_ROW,
    ST_SEQ_MAX,
    ST_SEQ_AT,
    ST_INDEX_TEXT,
    ST_INDEX_TAGS,
    ST_INDEX_DECIDERS,
    ST_INDEX_MARKS,
    /* sqlite_jobs.c */
    ST_JOB_INSERT,
    ST_JOB_GET,
    ST_JOB_PEEK,
    ST_JOBS_LIST,
    ST_JOBS_EACH,
    ST_JOB_STATE,
    ST_JOB_PROGRESS,
    /* sqlite_matches.c */
    ST_ITEM_HASHES,
    ST_ITEM_ADD_MATCH,
    /* sqlite_creators.c */
    ST_CREATOR_STATES,
    ST_CREATOR_REPORTS,
    ST_CREATOR_REPORTED,
    ST_REPORTER_STANDING,
    ST_SUSPENSION_GET,
    ST_SUSPENSION_SET,
    ST_SUSPENSION_LIFT,
    ST__COUNT
};

struct sl_store {
    sqlite3 *db;
    bool writer;
    bool created;
    sqlite3_stmt *stmt[ST__COUNT];
    /* Head of the audit chain as this connection has written it; saved at
     * BEGIN and at each SAVEPOINT so that a rollback puts it back. */
    int64_t audit_seq;
    char audit_hash[SL_SHA256_HEX_LEN + 1];
    int64_t tx_seq, sp_seq;
    char tx_hash[SL_SHA256_HEX_LEN + 1], sp_hash[SL_SHA256_HEX_LEN + 1];
    /* The audit key's HMAC state (sl_store_audit_key), when keyed, and the
     * first record it keys. */
    bool audit_keyed;
    int64_t audit_keyed_from;
    struct sl_hmac_sha256 audit_mac;
    /* sl_store_deadline(): statements stop past this sl_mono() time; 0 none. */
    double deadline;
};

/* {====================== Statement helpers ============================ */
/* Inline in each file: every query goes through them, and as static
 * functions they add no names the linker sees beside another backend's. */

static inline int db_fail(struct sl_store *s, const char *what)
{
    sl_err("store: %s: %s", what, sqlite3_errmsg(s->db));
    return -EIO;
}

/* Reset a statement and bind nothing: the one way every query starts. */
static inline sqlite3_stmt *stmt_get(struct sl_store *s, enum stmt id)
{
    sqlite3_stmt *st = s->stmt[id];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

/* Run a statement that returns no rows. */
static inline int stmt_done(struct sl_store *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc == SQLITE_CONSTRAINT)
        return -EEXIST;
    return db_fail(s, what);
}

static inline void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static inline const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/* A JSON column: null when SQL NULL, NULL when its text does not parse
 * (json_pack then refuses the row: see row_unreadable). */
static inline json_t *col_json(sqlite3_stmt *st, int i)
{
    const char *text = col_text(st, i);
    return text ? json_loads(text, JSON_DECODE_ANY, NULL) : json_null();
}

/* A text column as a JSON string: null when SQL NULL, NULL when it is not
 * UTF-8. */
static inline json_t *col_string_or_null(sqlite3_stmt *st, int i)
{
    const char *text = col_text(st, i);
    return text ? json_string(text) : json_null();
}

/* }===================================================================== */

/* {====================== Text in, rows out ============================= */
/*
 * No row may be stored that a listing cannot show. Free text (reasons,
 * actors) goes in through bind_utf8: text that is not UTF-8 (a caller's
 * bug: a cut character, a plugin's bytes) is stored repaired (sl_utf8_repair)
 * and the repair is logged. A row read back that still cannot become JSON
 * (written by an older sluiced, or edited by hand) is never left out of a
 * listing in silence: row_unreadable logs where it is and the listing
 * fails with -EILSEQ.
 */

/* Text to store, valid: *keep is NULL or the repaired copy to free(). */
static inline int text_in(const char *v, const char *what, const char **out, char **keep)
{
    int rc = v ? sl_utf8_repair(v, keep) : 0;

    *out = rc == 1 ? *keep : v;
    if (rc == 1)
        sl_warn("store: %s was not valid UTF-8 (a cut character or stray bytes); "
                "stored with those bytes repaired", what);
    return rc < 0 ? rc : 0;
}

static inline int bind_utf8(sqlite3_stmt *st, int i, const char *v, const char *what)
{
    const char *text;
    char *keep = NULL;
    int rc = text_in(v, what, &text, &keep);

    if (rc < 0)
        return rc;
    if (text)
        sqlite3_bind_text(st, i, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
    free(keep);
    return 0;
}

/* json_pack_ex refused a row: say which and why; -EILSEQ (-ENOMEM when
 * it was memory). what is "audit record 12" or the like. */
static inline int row_unreadable(const json_error_t *jerr, const char *what)
{
    if (json_error_code(jerr) == json_error_out_of_memory)
        return -ENOMEM;
    sl_err("store: %s cannot be listed: %s (written by an older sluiced, or edited "
           "by hand?)", what, json_error_code(jerr) == json_error_null_value
           ? "a JSON column does not parse" : jerr->text);
    return -EILSEQ;
}
/* }===================================================================== */

/* The files, and what each gives the others. Each sl_sqlite_<file>_sql
 * table holds the SQL of that file's slots of enum stmt, NULL elsewhere;
 * sl_store_open() prepares every slot from the one table that fills it. */

/* sqlite.c */
int sl_sqlite_exec(struct sl_store *s, const char *sql);
/* sqlite_schema.c */
int sl_sqlite_migrate(struct sl_store *s);
/* sqlite_items.c */
extern const char *const sl_sqlite_items_sql[ST__COUNT];
/* sqlite_audit.c */
extern const char *const sl_sqlite_audit_sql[ST__COUNT];
int sl_sqlite_audit_load_head(struct sl_store *s);
/* sqlite_users.c */
extern const char *const sl_sqlite_users_sql[ST__COUNT];
/* sqlite_events.c */
extern const char *const sl_sqlite_events_sql[ST__COUNT];
/* sqlite_queue.c */
extern const char *const sl_sqlite_queue_sql[ST__COUNT];
/* sqlite_hashbanks.c */
extern const char *const sl_sqlite_hashbanks_sql[ST__COUNT];
/* sqlite_dist.c */
extern const char *const sl_sqlite_dist_sql[ST__COUNT];
/* sqlite_stats.c */
extern const char *const sl_sqlite_stats_sql[ST__COUNT];
/* sqlite_reports.c */
extern const char *const sl_sqlite_reports_sql[ST__COUNT];
/* sqlite_tokens.c */
extern const char *const sl_sqlite_tokens_sql[ST__COUNT];
/* sqlite_search.c */
extern const char *const sl_sqlite_search_sql[ST__COUNT];
/* The search's indexes of what the open transaction stored (at commit). */
int sl_sqlite_index_new(struct sl_store *s);
/* sqlite_jobs.c */
extern const char *const sl_sqlite_jobs_sql[ST__COUNT];
/* sqlite_matches.c */
extern const char *const sl_sqlite_matches_sql[ST__COUNT];
/* sqlite_creators.c */
extern const char *const sl_sqlite_creators_sql[ST__COUNT];

#endif
