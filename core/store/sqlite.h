/* SPDX-License-Identifier: MIT */
/* The SQLite backend's parts: the connection, its statements, their helpers. */
#ifndef SL_SQLITE_H
#define SL_SQLITE_H

/*
 * Private to sqlite*.c; the rest of sluice sees only store/store.h. Every
 * statement is prepared once, when the store opens; each of the files below
 * holds one section of store.h and the SQL of its statements.
 */

/*
 * The files below implement store.h as it is written; these names make
 * their functions sl_sqlite_*() on a struct sl_sqlite, which store.c calls
 * when the store is SQLite (backend.h). A function added to store.h gets a
 * line here.
 */
#define sl_store sl_sqlite
#define sl_store_open sl_sqlite_open
#define sl_store_free sl_sqlite_free
#define sl_store_created sl_sqlite_created
#define sl_store_begin sl_sqlite_begin
#define sl_store_commit sl_sqlite_commit
#define sl_store_rollback sl_sqlite_rollback
#define sl_store_savepoint sl_sqlite_savepoint
#define sl_store_release sl_sqlite_release
#define sl_store_rollback_to sl_sqlite_rollback_to
#define sl_store_sync sl_sqlite_sync
#define sl_store_index sl_sqlite_index
#define sl_store_index_later sl_sqlite_index_later
#define sl_store_backup sl_sqlite_backup
#define sl_store_bulk sl_sqlite_bulk
#define sl_store_item_insert sl_sqlite_item_insert
#define sl_store_item_peek sl_sqlite_item_peek
#define sl_store_item_get sl_sqlite_item_get
#define sl_store_item_states sl_sqlite_item_states
#define sl_store_item_state sl_sqlite_item_state
#define sl_store_item_set_state sl_sqlite_item_set_state
#define sl_store_item_update sl_sqlite_item_update
#define sl_store_item_merge_tags sl_sqlite_item_merge_tags
#define sl_store_creator_standing sl_sqlite_creator_standing
#define sl_store_creators_each sl_sqlite_creators_each
#define sl_store_audit_key sl_sqlite_audit_key
#define sl_store_audit_append sl_sqlite_audit_append
#define sl_store_audit_list sl_sqlite_audit_list
#define sl_store_audit_head sl_sqlite_audit_head
#define sl_store_audit_hash sl_sqlite_audit_hash
#define sl_store_audit_verify sl_sqlite_audit_verify
#define sl_store_user_upsert sl_sqlite_user_upsert
#define sl_store_user_get sl_sqlite_user_get
#define sl_store_follow_set sl_sqlite_follow_set
#define sl_store_follows_set sl_sqlite_follows_set
#define sl_store_user_seen sl_sqlite_user_seen
#define sl_store_events_insert sl_sqlite_events_insert
#define sl_store_events_since sl_sqlite_events_since
#define sl_store_counters_add sl_sqlite_counters_add
#define sl_store_counters_get sl_sqlite_counters_get
#define sl_store_mark_get sl_sqlite_mark_get
#define sl_store_mark_set sl_sqlite_mark_set
#define sl_store_queue_put sl_sqlite_queue_put
#define sl_store_queue_remove sl_sqlite_queue_remove
#define sl_store_queue_get sl_sqlite_queue_get
#define sl_store_queue_claim sl_sqlite_queue_claim
#define sl_store_queue_renew sl_sqlite_queue_renew
#define sl_store_queue_list sl_sqlite_queue_list
#define sl_store_queue_depths sl_sqlite_queue_depths
#define sl_store_hashbank_set sl_sqlite_hashbank_set
#define sl_store_hashbank_each sl_sqlite_hashbank_each
#define sl_store_wave_put sl_sqlite_wave_put
#define sl_store_waves_get sl_sqlite_waves_get
#define sl_store_waves_each sl_sqlite_waves_each
#define sl_store_offer_wave sl_sqlite_offer_wave
#define sl_store_offers_each sl_sqlite_offers_each
#define sl_store_offer_served sl_sqlite_offer_served
#define sl_store_offers_claim sl_sqlite_offers_claim
#define sl_store_offer_waves_each sl_sqlite_offer_waves_each
#define sl_store_served_each sl_sqlite_served_each
#define sl_store_users_each sl_sqlite_users_each
#define sl_store_follows_each sl_sqlite_follows_each
#define sl_store_items_in_state sl_sqlite_items_in_state
#define sl_store_items_since sl_sqlite_items_since
#define sl_store_report_facts sl_sqlite_report_facts
#define sl_store_report_add sl_sqlite_report_add
#define sl_store_report_sum sl_sqlite_report_sum
#define sl_store_reports_judge sl_sqlite_reports_judge
#define sl_store_report_repeat sl_sqlite_report_repeat
#define sl_store_reports_get sl_sqlite_reports_get
#define sl_store_decision_stats sl_sqlite_decision_stats
#define sl_store_token_insert sl_sqlite_token_insert
#define sl_store_token_delete sl_sqlite_token_delete
#define sl_store_token_each sl_sqlite_token_each
#define sl_store_search sl_sqlite_search
#define sl_store_search_row sl_sqlite_search_row
#define sl_store_seq_max sl_sqlite_seq_max
#define sl_store_deadline sl_sqlite_deadline
#define sl_store_interrupt sl_sqlite_interrupt
#define sl_store_creator_get sl_sqlite_creator_get
#define sl_store_suspension_get sl_sqlite_suspension_get
#define sl_store_suspension_set sl_sqlite_suspension_set
#define sl_store_suspension_lift sl_sqlite_suspension_lift
#define sl_store_suspensions_each sl_sqlite_suspensions_each
#define sl_store_item_hashes sl_sqlite_item_hashes
#define sl_store_item_add_match sl_sqlite_item_add_match
#define sl_store_job_insert sl_sqlite_job_insert
#define sl_store_job_get sl_sqlite_job_get
#define sl_store_job_peek sl_sqlite_job_peek
#define sl_store_jobs_list sl_sqlite_jobs_list
#define sl_store_jobs_each sl_sqlite_jobs_each
#define sl_store_job_state sl_sqlite_job_state
#define sl_store_job_progress sl_sqlite_job_progress
#define sl_store_table_each sl_sqlite_table_each
#define sl_store_table_put sl_sqlite_table_put
#define sl_store_copied sl_sqlite_copied

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>
#include <sqlite3.h>

#include "lib/log.h"
#include "lib/sha256.h"
#include "lib/text.h"
#include "store/chain.h"
#include "store/rows.h"
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
    ST_CREATORS_EACH,
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
    ST_WAVES_IN_STATE,
    ST_OFFER_WAVE,
    ST_OFFERS_EACH,
    ST_OFFERS_SERVED_OF,
    ST_OFFER_SERVED,
    ST_OFFER_WAVES_IN_STATE,
    ST_SERVED_IN_STATE,
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
    ST_INDEX_CREATORS,
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
    ST_SUSPENSIONS_EACH,
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
    struct sl_chain_key audit_key;  /* sl_store_audit_key; zeroed: none */
    /* sl_store_deadline(): statements stop past this sl_mono() time; 0 none. */
    double deadline;
    struct sl_sqlite_ckpt *ckpt;    /* the writer's checkpoints (sqlite.c); NULL: not started */
    bool ckpt_failed;               /* it could not start: the commit thread checkpoints */
    bool index_later;               /* sl_store_index_later(): commits leave the indexes */
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

/* An item's seq found by its id, as SQL: the key of the tables keyed by
 * it (schema 16: item_waves, item_offers, item_served). */
#define SEQ_OF(p) "(SELECT seq FROM items WHERE id = " p ")"

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

/* {====================== Text in ===================================== */
/* Free text goes in repaired when it is not UTF-8 (rows.h). */
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
/* }===================================================================== */

/* The files, and what each gives the others. Each sl_sqlite_<file>_sql
 * table holds the SQL of that file's slots of enum stmt, NULL elsewhere;
 * sl_store_open() prepares every slot from the one table that fills it. */

/* sqlite.c */
int sl_sqlite_exec(struct sl_store *s, const char *sql);
/* sqlite_schema.c */
int sl_sqlite_migrate(struct sl_store *s);
/* sqlite_vfs.c: the writer's VFS, which gathers a WAL's appends into one
 * write a commit; only for a connection with synchronous = FULL. */
#define SL_SQLITE_VFS "sluice-runs"
int sl_sqlite_vfs_register(void);
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
/* sqlite_copy.c: copying a whole store (backend.h) */
int sl_store_table_each(struct sl_store *s, const char *table,
                        int (*fn)(void *arg, const struct sl_store_row *row), void *arg);
int sl_store_table_put(struct sl_store *s, const char *table, const struct sl_store_row *row);
int sl_store_copied(struct sl_store *s);
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
