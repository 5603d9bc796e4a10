/* SPDX-License-Identifier: MIT */
/* The embedded store: SQLite in WAL mode, every statement prepared once. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "lib/log.h"
#include "lib/sha256.h"
#include "lib/text.h"
#include "store/sqlite.h"

/* {====================== Statements =================================== */

static const char *const stmt_sql[ST__COUNT] = {
    [ST_BEGIN]          = "BEGIN IMMEDIATE",
    [ST_COMMIT]         = "COMMIT",
    [ST_ROLLBACK]       = "ROLLBACK",
    [ST_SAVEPOINT]      = "SAVEPOINT op",
    [ST_RELEASE]        = "RELEASE op",
    [ST_ROLLBACK_TO]    = "ROLLBACK TO op",
    [ST_ITEM_INSERT]    = "INSERT INTO items (id, creator, state, upload, upload_hash,"
                          " tags, reasons, created_ms, updated_ms, matches, verdict, plan)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_ITEM_PEEK]      = "SELECT upload_hash, state FROM items WHERE id = ?",
    [ST_ITEM_GET]       = "SELECT id, creator, state, upload, tags, reasons,"
                          " created_ms, updated_ms, matches, verdict FROM items WHERE id = ?",
    [ST_ITEM_STATES]    = "SELECT state, n FROM item_states WHERE n > 0",
    [ST_AUDIT_HEAD]     = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
    [ST_AUDIT_INSERT]   = "INSERT INTO audit (seq, item, actor, action, from_state,"
                          " to_state, reason, ts_ms, prev, hash)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_AUDIT_LIST_ITEM] = "SELECT seq, item, actor, action, from_state, to_state,"
                          " reason, ts_ms, hash FROM audit"
                          " WHERE item = ? AND seq > ? ORDER BY seq LIMIT ?",
    [ST_AUDIT_LIST_ALL] = "SELECT seq, item, actor, action, from_state, to_state,"
                          " reason, ts_ms, hash FROM audit"
                          " WHERE seq > ? ORDER BY seq LIMIT ?",
    [ST_AUDIT_WALK]     = "SELECT seq, item, actor, action, from_state, to_state,"
                          " reason, ts_ms, prev, hash FROM audit ORDER BY seq",
    [ST_USER_UPSERT]    = "INSERT INTO users (id, city, interests, created_ms, updated_ms)"
                          " VALUES (?1, ?2, coalesce(?3, '[]'), ?4, ?4)"
                          " ON CONFLICT (id) DO UPDATE SET"
                          " city = coalesce(?2, city),"
                          " interests = coalesce(?3, interests),"
                          " updated_ms = ?4",
    [ST_USER_GET]       = "SELECT id, city, interests FROM users WHERE id = ?",
    [ST_FOLLOW_ADD]     = "INSERT OR IGNORE INTO follows (follower, creator, created_ms)"
                          " VALUES (?, ?, ?)",
    [ST_FOLLOW_DEL]     = "DELETE FROM follows WHERE follower = ? AND creator = ?",
    [ST_EVENT_INSERT]   = "INSERT INTO event_batches (ts_ms, n, data) VALUES (?, ?, ?)",
    [ST_COUNTER_ADD]    = "INSERT INTO item_counts VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
                          " ?9, ?10, ?11) ON CONFLICT (item) DO UPDATE SET c0 = c0 + ?2,"
                          " c1 = c1 + ?3, c2 = c2 + ?4, c3 = c3 + ?5, c4 = c4 + ?6,"
                          " c5 = c5 + ?7, c6 = c6 + ?8, c7 = c7 + ?9, c8 = c8 + ?10,"
                          " c9 = c9 + ?11",
    /* One statement, so the mark and the counts are of one moment. */
    [ST_COUNTERS_GET]   = "SELECT (SELECT value FROM counters WHERE name = 'events_counted'),"
                          " c0, c1, c2, c3, c4, c5, c6, c7, c8, c9 FROM (SELECT 1) LEFT JOIN item_counts ON item = ?",
    [ST_EVENTS_SINCE]   = "SELECT seq, n, data FROM event_batches WHERE seq > ? ORDER BY seq",
    [ST_MARK_GET]       = "SELECT value FROM counters WHERE name = ?",
    [ST_MARK_SET]       = "INSERT INTO counters (name, value) VALUES (?1, ?2)"
                          " ON CONFLICT (name) DO UPDATE SET value = ?2",
    [ST_TOKEN_INSERT]   = "INSERT INTO tokens (name, role, hash, created_ms) VALUES (?, ?, ?, ?)",
    [ST_TOKEN_DELETE]   = "DELETE FROM tokens WHERE name = ?",
    [ST_TOKEN_EACH]     = "SELECT name, role, hash FROM tokens ORDER BY name",
    [ST_ITEM_SET_STATE] = "UPDATE items SET state = coalesce(?2, state),"
                          " plan = coalesce(?3, plan), updated_ms = CASE WHEN ?2 IS NULL"
                          " THEN updated_ms ELSE ?4 END WHERE id = ?1",
    [ST_ITEM_STATE]     = "SELECT state FROM items WHERE id = ?",
    [ST_CREATOR_STANDING] = "SELECT uploads, rejections FROM creators WHERE creator = ?",
    [ST_QUEUE_PUT]      = "INSERT OR REPLACE INTO queue (item, queue, priority, reason,"
                          " enqueued_ms, escalated_by) VALUES (?, ?, ?, ?, ?, ?)",
    [ST_QUEUE_DEL]      = "DELETE FROM queue WHERE item = ?",
    [ST_QUEUE_GET]      = "SELECT queue, priority, claimed_by, lease_until_ms, fence,"
                          " escalated_by FROM queue WHERE item = ?",
    /* Waiting: never claimed, or the claim's lease has run out. */
    [ST_QUEUE_AVAILABLE] = "SELECT item FROM queue"
                          " WHERE (?1 IS NULL OR queue = ?1)"
                          " AND (claimed_by IS NULL OR lease_until_ms <= ?2)"
                          " AND (escalated_by IS NULL OR escalated_by != ?3)"
                          " ORDER BY priority DESC, enqueued_ms, item LIMIT ?4",
    [ST_QUEUE_CLAIM]    = "UPDATE queue SET claimed_by = ?2, lease_until_ms = ?3, fence = ?4"
                          " WHERE item = ?1",
    [ST_QUEUE_RENEW]    = "UPDATE queue SET lease_until_ms = ?2 WHERE item = ?1",
    [ST_QUEUE_LIST]     = "SELECT q.item, q.queue, q.priority, q.reason, q.enqueued_ms,"
                          " CASE WHEN q.lease_until_ms > ?2 THEN q.claimed_by END,"
                          " CASE WHEN q.lease_until_ms > ?2 THEN q.lease_until_ms END,"
                          " q.escalated_by, i.creator, json_extract(i.upload, '$.title')"
                          " FROM queue q JOIN items i ON i.id = q.item"
                          " WHERE (?1 IS NULL OR q.queue = ?1)"
                          " ORDER BY q.priority DESC, q.enqueued_ms, q.item LIMIT ?3",
    [ST_QUEUE_DEPTHS]   = "SELECT queue, count(*), min(enqueued_ms),"
                          " coalesce(sum(claimed_by IS NOT NULL AND lease_until_ms > ?1), 0)"
                          " FROM queue GROUP BY queue ORDER BY queue",
    [ST_FENCE_NEXT]     = "UPDATE counters SET value = value + 1 WHERE name = 'fence'"
                          " RETURNING value",
    [ST_BANK_ADD]       = "INSERT OR IGNORE INTO hashbanks (bank, hash, added_ms) VALUES (?, ?, ?)",
    [ST_BANK_DEL]       = "DELETE FROM hashbanks WHERE bank = ? AND hash = ?",
    [ST_BANK_EACH]      = "SELECT bank, hash FROM hashbanks ORDER BY bank",
    [ST_WAVE_PUT]       = "INSERT OR REPLACE INTO waves (item, n, wave) VALUES (?, ?, ?)",
    [ST_WAVES_GET]      = "SELECT wave FROM waves WHERE item = ? ORDER BY n",
    [ST_OFFER_ADD]      = "INSERT OR IGNORE INTO offers (item, user, wave, source) VALUES (?, ?, ?, ?)",
    [ST_OFFERS_EACH]    = "SELECT user, wave, source, served FROM offers WHERE item = ?",
    [ST_OFFER_SERVED]   = "UPDATE offers SET served = 1 WHERE item = ? AND user = ?",
    [ST_USERS_EACH]     = "SELECT id, city, interests FROM users",
    [ST_FOLLOWS_EACH]   = "SELECT follower, creator FROM follows",
    [ST_ITEMS_IN_STATE] = "SELECT id, creator, upload, tags, plan FROM items WHERE state = ?"
                          " ORDER BY created_ms",
    [ST_ITEMS_SINCE]    = "SELECT id, state, upload, tags FROM items WHERE created_ms >= ?"
                          " ORDER BY created_ms DESC, id LIMIT ?",
    [ST_DECISIONS_BY_HOUR] = "SELECT ts_ms / 3600000 * 3600000, action, count(*) FROM audit"
                          " WHERE ts_ms >= ? AND action IN ('approve', 'reject', 'escalate', 'verdict')"
                          " GROUP BY 1, 2 ORDER BY 1",
    [ST_DECISIONS_BY_ACTOR] = "SELECT actor, action, count(*), min(ts_ms), max(ts_ms) FROM audit"
                          " WHERE ts_ms >= ? AND action IN ('approve', 'reject', 'escalate')"
                          " GROUP BY 1, 2 ORDER BY 1",
    [ST_ITEM_MERGE_TAGS] = "UPDATE items SET tags = json_patch(tags, ?2), updated_ms = ?3"
                          " WHERE id = ?1",
};

/* }===================================================================== */

/* {====================== Open and close ================================ */

int sl_sqlite_exec(struct sl_store *s, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        sl_err("store: %s", msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return -EIO;
    }
    return 0;
}

static int load_audit_head(struct sl_store *s)
{
    sqlite3_stmt *st = stmt_get(s, ST_AUDIT_HEAD);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        s->audit_seq = sqlite3_column_int64(st, 0);
        sl_copy(s->audit_hash, sizeof(s->audit_hash), col_text(st, 1));
    } else if (rc == SQLITE_DONE) {
        s->audit_seq = 0;
        memset(s->audit_hash, '0', SL_SHA256_HEX_LEN);
        s->audit_hash[SL_SHA256_HEX_LEN] = '\0';
    } else {
        sqlite3_reset(st);
        return db_fail(s, "audit head");
    }
    sqlite3_reset(st);
    return 0;
}

/* Before SQLite's first use: its allocation statistics take a global mutex
 * on every malloc, shared by the loop's reader and the commit thread, for
 * figures nobody reads. */
static void sqlite_configure(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int sl_store_open(const char *dir, bool writer, struct sl_store **out)
{
    static pthread_once_t configured = PTHREAD_ONCE_INIT;
    pthread_once(&configured, sqlite_configure);

    char path[4096];
    struct sl_store *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->writer = writer;
    snprintf(path, sizeof(path), "%s/sluice.db", dir);
    int flags = writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
    if (sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        sl_err("store: cannot open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        sl_store_free(s);
        return -EIO;
    }
    sqlite3_busy_timeout(s->db, 5000);
    /* WAL lets the loop's reader run while the commit thread writes;
     * synchronous=FULL makes every COMMIT durable before it returns, which
     * is what an acknowledgement promises. */
    if ((writer && sl_sqlite_exec(s, "PRAGMA journal_mode = WAL") < 0) ||
        sl_sqlite_exec(s, "PRAGMA synchronous = FULL") < 0 ||
        sl_sqlite_exec(s, "PRAGMA foreign_keys = ON") < 0 ||
        /* The writer's cache is small on purpose: a commit after any b-tree
         * split walks its whole page hash (SQLite renumbers split pages
         * through a page number past 1 GiB, and then truncates the cache
         * to the database size): with 64 MiB cached that walk was a tenth
         * of the commit thread. Its work is appends and a few hot pages. */
        sl_sqlite_exec(s, writer ? "PRAGMA cache_size = -8192" : "PRAGMA cache_size = -65536") < 0 ||
        /* Each request's savepoint journals the pages it first touches;
         * in a temporary file that was a write per page, several per
         * upload, inside the transaction everyone waits on. */
        sl_sqlite_exec(s, "PRAGMA temp_store = MEMORY") < 0 ||
        /* Fold the WAL into the database every 32 MiB rather than 4: each
         * checkpoint syncs the main file inside some request's commit. */
        (writer && sl_sqlite_exec(s, "PRAGMA wal_autocheckpoint = 8192") < 0) ||
        (writer && sl_sqlite_migrate(s) < 0)) {
        sl_store_free(s);
        return -EIO;
    }
    for (int i = 0; i < ST__COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &s->stmt[i], NULL) != SQLITE_OK) {
            sl_err("store: cannot prepare statement %d: %s", i, sqlite3_errmsg(s->db));
            sl_store_free(s);
            return -EIO;
        }
    }
    if (writer && load_audit_head(s) < 0) {
        sl_store_free(s);
        return -EIO;
    }
    *out = s;
    return 0;
}

void sl_store_free(struct sl_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    if (s->db) {
        /* Fold the WAL back into the main file on a clean stop, so that a
         * backup of sluice.db alone is complete. */
        if (s->writer)
            sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        sqlite3_close(s->db);
    }
    free(s);
}

bool sl_store_created(const struct sl_store *s)
{
    return s->created;
}

/* }===================================================================== */

/* {====================== Transactions ================================= */

int sl_store_begin(struct sl_store *s)
{
    s->tx_seq = s->audit_seq;
    memcpy(s->tx_hash, s->audit_hash, sizeof(s->tx_hash));
    return stmt_done(s, stmt_get(s, ST_BEGIN), "begin");
}

int sl_store_commit(struct sl_store *s)
{
    int rc = stmt_done(s, stmt_get(s, ST_COMMIT), "commit");
    if (rc < 0)
        sl_store_rollback(s);
    return rc;
}

int sl_store_rollback(struct sl_store *s)
{
    s->audit_seq = s->tx_seq;
    memcpy(s->audit_hash, s->tx_hash, sizeof(s->audit_hash));
    if (sqlite3_get_autocommit(s->db))
        return 0;   /* SQLite already rolled back (e.g. after an I/O error) */
    return stmt_done(s, stmt_get(s, ST_ROLLBACK), "rollback");
}

int sl_store_savepoint(struct sl_store *s)
{
    s->sp_seq = s->audit_seq;
    memcpy(s->sp_hash, s->audit_hash, sizeof(s->sp_hash));
    return stmt_done(s, stmt_get(s, ST_SAVEPOINT), "savepoint");
}

int sl_store_release(struct sl_store *s)
{
    return stmt_done(s, stmt_get(s, ST_RELEASE), "release");
}

int sl_store_rollback_to(struct sl_store *s)
{
    s->audit_seq = s->sp_seq;
    memcpy(s->audit_hash, s->sp_hash, sizeof(s->audit_hash));
    int rc = stmt_done(s, stmt_get(s, ST_ROLLBACK_TO), "rollback to");
    return rc < 0 ? rc : sl_store_release(s);
}

int sl_store_backup(struct sl_store *s, const char *path)
{
    sqlite3 *dst;
    if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        sl_err("store: backup: cannot open %s: %s", path, sqlite3_errmsg(dst));
        sqlite3_close(dst);
        return -EIO;
    }
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", s->db, "main");
    int rc = b ? sqlite3_backup_step(b, -1) : SQLITE_ERROR;
    if (b)
        sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE)
        sl_err("store: backup to %s failed: %s", path, sqlite3_errmsg(dst));
    sqlite3_close(dst);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

/* }===================================================================== */

/* {====================== Items ======================================== */

int sl_store_item_insert(struct sl_store *s, const struct sl_item_row *row)
{
    sqlite3_stmt *st = stmt_get(s, ST_ITEM_INSERT);
    bind_text(st, 1, row->id);
    bind_text(st, 2, row->creator);
    bind_text(st, 3, row->state);
    bind_text(st, 4, row->upload);
    bind_text(st, 5, row->upload_hash);
    bind_text(st, 6, row->tags ? row->tags : "{}");
    bind_text(st, 7, row->reasons ? row->reasons : "[]");
    sqlite3_bind_int64(st, 8, row->now_ms);
    sqlite3_bind_int64(st, 9, row->now_ms);
    bind_text(st, 10, row->matches ? row->matches : "[]");
    bind_text(st, 11, row->verdict);
    bind_text(st, 12, row->plan);
    return stmt_done(s, st, "item insert");
}

int sl_store_item_peek(struct sl_store *s, const char *id, char *hash, char *state)
{
    sqlite3_stmt *st = stmt_get(s, ST_ITEM_PEEK);
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        sl_copy(hash, SL_SHA256_HEX_LEN + 1, col_text(st, 0));
        sl_copy(state, 32, col_text(st, 1));
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_fail(s, "item peek");
}

int sl_store_item_get(struct sl_store *s, const char *id, json_t **out)
{
    sqlite3_stmt *st = stmt_get(s, ST_ITEM_GET);
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? -ENOENT : db_fail(s, "item get");
    }
    *out = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:I, s:I, s:o, s:o}",
                     "id", col_text(st, 0),
                     "creator", col_text(st, 1),
                     "state", col_text(st, 2),
                     "upload", col_json(st, 3),
                     "tags", col_json(st, 4),
                     "reasons", col_json(st, 5),
                     "created_ms", (json_int_t)sqlite3_column_int64(st, 6),
                     "updated_ms", (json_int_t)sqlite3_column_int64(st, 7),
                     "matches", col_json(st, 8),
                     "verdict", col_json(st, 9));
    sqlite3_reset(st);
    return *out ? 0 : -ENOMEM;
}

int sl_store_item_states(struct sl_store *s, json_t **out)
{
    sqlite3_stmt *st = stmt_get(s, ST_ITEM_STATES);
    json_t *o = json_object();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_object_set_new(o, col_text(st, 0), json_integer(sqlite3_column_int64(st, 1)));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        json_decref(o);
        return db_fail(s, "item states");
    }
    *out = o;
    return 0;
}

/* }===================================================================== */

/* {====================== Audit ======================================== */

/* The bytes a record's hash covers: the previous hash and every field, each
 * ended by a unit separator so that no two records serialise alike. */
static void audit_hash(const char *prev, int64_t seq, const char *item,
                       const char *actor, const char *action, const char *from,
                       const char *to, const char *reason, int64_t ts_ms,
                       char out[SL_SHA256_HEX_LEN + 1])
{
    struct sl_sha256 ctx;
    char num[32];
    const char *fields[] = { prev, NULL, item, actor, action, from, to, reason, NULL };
    uint8_t digest[SL_SHA256_LEN];

    sl_sha256_init(&ctx);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *f = fields[i];
        if (i == 1 || i == 8) {
            snprintf(num, sizeof(num), "%lld", (long long)(i == 1 ? seq : ts_ms));
            f = num;
        }
        if (f)
            sl_sha256_update(&ctx, f, strlen(f));
        else
            sl_sha256_update(&ctx, "\x1e", 1);  /* NULL differs from "" */
        sl_sha256_update(&ctx, "\x1f", 1);
    }
    sl_sha256_final(&ctx, digest);
    sl_hex(digest, sizeof(digest), out);
}

int sl_store_audit_append(struct sl_store *s, const struct sl_audit_rec *r)
{
    char hash[SL_SHA256_HEX_LEN + 1];
    int64_t seq = s->audit_seq + 1;
    const char *reason = r->reason ? r->reason : "";

    audit_hash(s->audit_hash, seq, r->item, r->actor, r->action, r->from_state,
               r->to_state, reason, r->ts_ms, hash);
    sqlite3_stmt *st = stmt_get(s, ST_AUDIT_INSERT);
    sqlite3_bind_int64(st, 1, seq);
    bind_text(st, 2, r->item);
    bind_text(st, 3, r->actor);
    bind_text(st, 4, r->action);
    bind_text(st, 5, r->from_state);
    bind_text(st, 6, r->to_state);
    bind_text(st, 7, reason);
    sqlite3_bind_int64(st, 8, r->ts_ms);
    bind_text(st, 9, s->audit_hash);
    bind_text(st, 10, hash);
    int rc = stmt_done(s, st, "audit append");
    if (rc == 0) {
        s->audit_seq = seq;
        memcpy(s->audit_hash, hash, sizeof(hash));
    }
    return rc;
}

int sl_store_audit_list(struct sl_store *s, const char *item, int64_t after,
                        int limit, json_t **out)
{
    sqlite3_stmt *st;
    if (item) {
        st = stmt_get(s, ST_AUDIT_LIST_ITEM);
        bind_text(st, 1, item);
        sqlite3_bind_int64(st, 2, after);
        sqlite3_bind_int(st, 3, limit);
    } else {
        st = stmt_get(s, ST_AUDIT_LIST_ALL);
        sqlite3_bind_int64(st, 1, after);
        sqlite3_bind_int(st, 2, limit);
    }
    json_t *list = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(list, json_pack("{s:I, s:o, s:s, s:s, s:o, s:o, s:s, s:I, s:s}",
            "seq", (json_int_t)sqlite3_column_int64(st, 0),
            "item", col_string_or_null(st, 1),
            "actor", col_text(st, 2),
            "action", col_text(st, 3),
            "from", col_string_or_null(st, 4),
            "to", col_string_or_null(st, 5),
            "reason", col_text(st, 6),
            "ts_ms", (json_int_t)sqlite3_column_int64(st, 7),
            "hash", col_text(st, 8)));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        json_decref(list);
        return db_fail(s, "audit list");
    }
    *out = list;
    return 0;
}

int sl_store_audit_verify(struct sl_store *s, int64_t *checked, int64_t *bad_seq)
{
    char prev[SL_SHA256_HEX_LEN + 1], hash[SL_SHA256_HEX_LEN + 1];
    int64_t expect_seq = 1;
    int rc, result = 0;

    memset(prev, '0', SL_SHA256_HEX_LEN);
    prev[SL_SHA256_HEX_LEN] = '\0';
    *checked = 0;
    sqlite3_stmt *st = stmt_get(s, ST_AUDIT_WALK);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        const char *stored_prev = col_text(st, 8), *stored = col_text(st, 9);
        audit_hash(prev, seq, col_text(st, 1), col_text(st, 2), col_text(st, 3),
                   col_text(st, 4), col_text(st, 5), col_text(st, 6),
                   sqlite3_column_int64(st, 7), hash);
        /* A deleted record shows as a gap; an edited one as a wrong hash. */
        if (seq != expect_seq || !stored_prev || strcmp(stored_prev, prev) != 0 ||
            !stored || strcmp(stored, hash) != 0) {
            *bad_seq = seq;
            result = -EBADMSG;
            break;
        }
        memcpy(prev, hash, sizeof(prev));
        expect_seq++;
        (*checked)++;
    }
    sqlite3_reset(st);
    if (result == 0 && rc != SQLITE_DONE)
        return db_fail(s, "audit verify");
    return result;
}

/* }===================================================================== */

/* {====================== Users and follows ============================ */

int sl_store_user_upsert(struct sl_store *s, const char *id, const char *city,
                         const char *interests, int64_t now_ms)
{
    sqlite3_stmt *st = stmt_get(s, ST_USER_UPSERT);
    bind_text(st, 1, id);
    bind_text(st, 2, city);
    bind_text(st, 3, interests);
    sqlite3_bind_int64(st, 4, now_ms);
    return stmt_done(s, st, "user upsert");
}

int sl_store_user_get(struct sl_store *s, const char *id, json_t **out)
{
    sqlite3_stmt *st = stmt_get(s, ST_USER_GET);
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = json_pack("{s:s, s:o, s:o}", "id", col_text(st, 0),
                         "city", col_string_or_null(st, 1),
                         "interests", col_json(st, 2));
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_fail(s, "user get");
}

int sl_store_follow_set(struct sl_store *s, const char *follower,
                        const char *creator, bool on, int64_t now_ms)
{
    /* Users named by a follow exist from then on, with nothing known yet. */
    int rc = sl_store_user_upsert(s, follower, NULL, NULL, now_ms);
    if (rc == 0)
        rc = sl_store_user_upsert(s, creator, NULL, NULL, now_ms);
    if (rc < 0)
        return rc;
    sqlite3_stmt *st = stmt_get(s, on ? ST_FOLLOW_ADD : ST_FOLLOW_DEL);
    bind_text(st, 1, follower);
    bind_text(st, 2, creator);
    if (on)
        sqlite3_bind_int64(st, 3, now_ms);
    return stmt_done(s, st, "follow");
}

/* }===================================================================== */

/* {====================== Events ======================================= */

/* Packed: per event, item NUL user NUL, then type (1 byte), watch_ms and
 * ts_ms as 8-byte little-endian (watch_ms -1 when absent). */
int sl_store_events_insert(struct sl_store *s, const struct sl_event_row *ev, size_t n,
                           int64_t now_ms, int64_t *seq)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += strlen(ev[i].item) + strlen(ev[i].user) + 2 + 1 + 16;
    uint8_t *buf = malloc(len ? len : 1), *p = buf;
    if (!buf)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t a = strlen(ev[i].item) + 1, b = strlen(ev[i].user) + 1;
        memcpy(p, ev[i].item, a);
        memcpy(p + a, ev[i].user, b);
        p += a + b;
        *p++ = (uint8_t)ev[i].type;
        int64_t nums[2] = { ev[i].watch_ms, ev[i].ts_ms };
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < 8; j++)
                *p++ = (uint8_t)((uint64_t)nums[k] >> (8 * j));
    }
    sqlite3_stmt *st = stmt_get(s, ST_EVENT_INSERT);
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)n);
    sqlite3_bind_blob(st, 3, buf, (int)len, SQLITE_STATIC);
    int rc = stmt_done(s, st, "events insert");
    free(buf);
    *seq = sqlite3_last_insert_rowid(s->db);
    return rc;
}

int sl_store_events_since(struct sl_store *s, int64_t after,
                          int (*each)(void *arg, int64_t seq, const struct sl_event_row *ev),
                          void *arg)
{
    sqlite3_stmt *st = stmt_get(s, ST_EVENTS_SINCE);
    int rc, stop = 0;

    sqlite3_bind_int64(st, 1, after);
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0), n = sqlite3_column_int64(st, 1);
        const uint8_t *p = sqlite3_column_blob(st, 2), *end = p + sqlite3_column_bytes(st, 2);
        for (int64_t i = 0; i < n && !stop; i++) {
            struct sl_event_row ev = { .item = (const char *)p };
            const uint8_t *q = memchr(p, 0, (size_t)(end - p));
            const uint8_t *u = q ? memchr(q + 1, 0, (size_t)(end - q - 1)) : NULL;
            if (!u || end - u < 18) {
                sqlite3_reset(st);
                sl_err("store: event batch %lld is damaged", (long long)seq);
                return -EIO;
            }
            ev.user = (const char *)q + 1;
            ev.type = u[1];
            int64_t nums[2] = { 0, 0 };
            for (int k = 0; k < 2; k++)
                for (int j = 0; j < 8; j++)
                    nums[k] |= (int64_t)((uint64_t)u[2 + 8 * k + j] << (8 * j));
            ev.watch_ms = nums[0];
            ev.ts_ms = nums[1];
            p = u + 18;
            stop = each(arg, seq, &ev);
        }
    }
    sqlite3_reset(st);
    return stop || rc == SQLITE_DONE ? 0 : db_fail(s, "events since");
}

int sl_store_mark_get(struct sl_store *s, const char *name, int64_t *value)
{
    sqlite3_stmt *st = stmt_get(s, ST_MARK_GET);
    bind_text(st, 1, name);
    int rc = sqlite3_step(st);
    *value = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_fail(s, "mark get");
}

int sl_store_mark_set(struct sl_store *s, const char *name, int64_t value)
{
    sqlite3_stmt *st = stmt_get(s, ST_MARK_SET);
    bind_text(st, 1, name);
    sqlite3_bind_int64(st, 2, value);
    return stmt_done(s, st, "mark set");
}

int sl_store_counters_add(struct sl_store *s, const char *item,
                          const int64_t n[SL_STORE_COUNTERS])
{
    sqlite3_stmt *st = stmt_get(s, ST_COUNTER_ADD);
    bind_text(st, 1, item);
    for (int k = 0; k < SL_STORE_COUNTERS; k++)
        sqlite3_bind_int64(st, k + 2, n[k]);
    return stmt_done(s, st, "counters add");
}

int sl_store_counters_get(struct sl_store *s, const char *item,
                          int64_t counts[SL_STORE_COUNTERS], int64_t *counted)
{
    sqlite3_stmt *st = stmt_get(s, ST_COUNTERS_GET);
    bind_text(st, 1, item);
    int rc = sqlite3_step(st);
    *counted = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    for (int k = 0; k < SL_STORE_COUNTERS; k++)
        counts[k] = rc == SQLITE_ROW ? sqlite3_column_int64(st, k + 1) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : db_fail(s, "counters get");
}

/* }===================================================================== */

/* {====================== Tokens ======================================= */

int sl_store_token_insert(struct sl_store *s, const char *name, const char *role,
                          const char *hash_hex, int64_t now_ms)
{
    sqlite3_stmt *st = stmt_get(s, ST_TOKEN_INSERT);
    bind_text(st, 1, name);
    bind_text(st, 2, role);
    bind_text(st, 3, hash_hex);
    sqlite3_bind_int64(st, 4, now_ms);
    return stmt_done(s, st, "token insert");
}

int sl_store_token_delete(struct sl_store *s, const char *name)
{
    sqlite3_stmt *st = stmt_get(s, ST_TOKEN_DELETE);
    bind_text(st, 1, name);
    int rc = stmt_done(s, st, "token delete");
    return rc < 0 ? rc : sqlite3_changes(s->db) ? 0 : -ENOENT;
}

int sl_store_token_each(struct sl_store *s,
                        int (*fn)(void *arg, const char *name, const char *role,
                                  const char *hash_hex),
                        void *arg)
{
    sqlite3_stmt *st = stmt_get(s, ST_TOKEN_EACH);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(arg, col_text(st, 0), col_text(st, 1), col_text(st, 2)))
            break;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, "token list");
}

/* }===================================================================== */

/* {====================== Item state =================================== */

int sl_store_item_state(struct sl_store *s, const char *id, char *state)
{
    sqlite3_stmt *st = stmt_get(s, ST_ITEM_STATE);
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        sl_copy(state, 32, col_text(st, 0));
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_fail(s, "item state");
}

int sl_store_item_set_state(struct sl_store *s, const char *id, const char *state,
                            int64_t now_ms)
{
    return sl_store_item_update(s, id, state, NULL, now_ms);
}

int sl_store_item_update(struct sl_store *s, const char *id, const char *state,
                         const char *plan, int64_t now_ms)
{
    sqlite3_stmt *st = stmt_get(s, ST_ITEM_SET_STATE);
    bind_text(st, 1, id);
    bind_text(st, 2, state);
    bind_text(st, 3, plan);
    sqlite3_bind_int64(st, 4, now_ms);
    int rc = stmt_done(s, st, "item update");
    return rc < 0 ? rc : sqlite3_changes(s->db) ? 0 : -ENOENT;
}

int sl_store_item_merge_tags(struct sl_store *s, const char *id, const char *tags,
                             int64_t now_ms)
{
    sqlite3_stmt *st = stmt_get(s, ST_ITEM_MERGE_TAGS);
    bind_text(st, 1, id);
    bind_text(st, 2, tags);
    sqlite3_bind_int64(st, 3, now_ms);
    return stmt_done(s, st, "item merge tags");
}

int sl_store_creator_standing(struct sl_store *s, const char *creator,
                              int64_t *uploads, int64_t *rejections)
{
    sqlite3_stmt *st = stmt_get(s, ST_CREATOR_STANDING);
    bind_text(st, 1, creator);
    int rc = sqlite3_step(st);
    *uploads = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    *rejections = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
    sqlite3_reset(st);
    /* No row: a creator's first upload. */
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, "creator standing");
}

/* }===================================================================== */

/* {====================== Review queue ================================= */

int sl_store_queue_put(struct sl_store *s, const char *item, const char *queue,
                       int priority, const char *reason, const char *escalated_by,
                       int64_t now_ms)
{
    sqlite3_stmt *st = stmt_get(s, ST_QUEUE_PUT);
    bind_text(st, 1, item);
    bind_text(st, 2, queue);
    sqlite3_bind_int(st, 3, priority);
    bind_text(st, 4, reason ? reason : "");
    sqlite3_bind_int64(st, 5, now_ms);
    bind_text(st, 6, escalated_by);
    return stmt_done(s, st, "queue put");
}

int sl_store_queue_remove(struct sl_store *s, const char *item)
{
    sqlite3_stmt *st = stmt_get(s, ST_QUEUE_DEL);
    bind_text(st, 1, item);
    return stmt_done(s, st, "queue remove");
}

int sl_store_queue_get(struct sl_store *s, const char *item, struct sl_queue_entry *e)
{
    sqlite3_stmt *st = stmt_get(s, ST_QUEUE_GET);
    bind_text(st, 1, item);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        memset(e, 0, sizeof(*e));
        sl_copy(e->queue, sizeof(e->queue), col_text(st, 0));
        e->priority = sqlite3_column_int(st, 1);
        if (col_text(st, 2))
            sl_copy(e->claimed_by, sizeof(e->claimed_by), col_text(st, 2));
        e->lease_until_ms = sqlite3_column_int64(st, 3);
        e->fence = sqlite3_column_int64(st, 4);
        if (col_text(st, 5))
            sl_copy(e->escalated_by, sizeof(e->escalated_by), col_text(st, 5));
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_fail(s, "queue get");
}

int sl_store_queue_claim(struct sl_store *s, const char *queue, const char *who,
                         int limit, int64_t now_ms, int64_t lease_ms, json_t **out)
{
    char ids[256][129];
    int n = 0, rc;
    sqlite3_stmt *st = stmt_get(s, ST_QUEUE_AVAILABLE);

    if (limit > 256)
        limit = 256;
    bind_text(st, 1, queue);
    sqlite3_bind_int64(st, 2, now_ms);
    bind_text(st, 3, who);
    sqlite3_bind_int(st, 4, limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < limit)
        sl_copy(ids[n++], sizeof(ids[0]), col_text(st, 0));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return db_fail(s, "queue available");

    json_t *claimed = json_array();
    for (int i = 0; i < n; i++) {
        /* Every claim takes a new fence, so a decision carrying an older
         * one is recognisably stale even if the same person reclaimed. */
        st = stmt_get(s, ST_FENCE_NEXT);
        if (sqlite3_step(st) != SQLITE_ROW) {
            sqlite3_reset(st);
            json_decref(claimed);
            return db_fail(s, "fence");
        }
        int64_t fence = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        st = stmt_get(s, ST_QUEUE_CLAIM);
        bind_text(st, 1, ids[i]);
        bind_text(st, 2, who);
        sqlite3_bind_int64(st, 3, now_ms + lease_ms);
        sqlite3_bind_int64(st, 4, fence);
        if ((rc = stmt_done(s, st, "queue claim")) < 0) {
            json_decref(claimed);
            return rc;
        }
        json_array_append_new(claimed, json_pack("{s:s, s:I, s:I}", "id", ids[i],
                              "fence", (json_int_t)fence,
                              "lease_until_ms", (json_int_t)(now_ms + lease_ms)));
    }
    *out = claimed;
    return 0;
}

int sl_store_queue_renew(struct sl_store *s, const char *item, int64_t lease_until_ms)
{
    sqlite3_stmt *st = stmt_get(s, ST_QUEUE_RENEW);
    bind_text(st, 1, item);
    sqlite3_bind_int64(st, 2, lease_until_ms);
    return stmt_done(s, st, "queue renew");
}

int sl_store_queue_list(struct sl_store *s, const char *queue, int limit, int64_t now_ms,
                        json_t **out)
{
    sqlite3_stmt *st = stmt_get(s, ST_QUEUE_LIST);
    int rc;

    bind_text(st, 1, queue);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int(st, 3, limit);
    json_t *list = json_array();
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(list, json_pack("{s:s, s:s, s:i, s:s, s:I, s:o, s:o, s:o, s:s, s:o}",
            "id", col_text(st, 0),
            "queue", col_text(st, 1),
            "priority", sqlite3_column_int(st, 2),
            "reason", col_text(st, 3),
            "enqueued_ms", (json_int_t)sqlite3_column_int64(st, 4),
            "claimed_by", col_string_or_null(st, 5),
            "lease_until_ms", sqlite3_column_type(st, 6) == SQLITE_NULL
                ? json_null() : json_integer(sqlite3_column_int64(st, 6)),
            "escalated_by", col_string_or_null(st, 7),
            "creator", col_text(st, 8),
            "title", col_string_or_null(st, 9)));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        json_decref(list);
        return db_fail(s, "queue list");
    }
    *out = list;
    return 0;
}

int sl_store_queue_depths(struct sl_store *s, int64_t now_ms, json_t **out)
{
    sqlite3_stmt *st = stmt_get(s, ST_QUEUE_DEPTHS);
    int rc;

    sqlite3_bind_int64(st, 1, now_ms);
    json_t *list = json_array();
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(list, json_pack("{s:s, s:I, s:I, s:I}",
            "name", col_text(st, 0),
            "depth", (json_int_t)sqlite3_column_int64(st, 1),
            "oldest_ms", (json_int_t)sqlite3_column_int64(st, 2),
            "claimed", (json_int_t)sqlite3_column_int64(st, 3)));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        json_decref(list);
        return db_fail(s, "queue depths");
    }
    *out = list;
    return 0;
}

/* }===================================================================== */

/* {====================== Hash banks =================================== */

int sl_store_hashbank_set(struct sl_store *s, const char *bank, const char *hash_hex,
                          bool on, int64_t now_ms)
{
    sqlite3_stmt *st = stmt_get(s, on ? ST_BANK_ADD : ST_BANK_DEL);
    bind_text(st, 1, bank);
    bind_text(st, 2, hash_hex);
    if (on)
        sqlite3_bind_int64(st, 3, now_ms);
    return stmt_done(s, st, "hash bank");
}

int sl_store_hashbank_each(struct sl_store *s,
                           int (*fn)(void *arg, const char *bank, const char *hash_hex),
                           void *arg)
{
    sqlite3_stmt *st = stmt_get(s, ST_BANK_EACH);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(arg, col_text(st, 0), col_text(st, 1)))
            break;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, "hash banks");
}

/* }===================================================================== */

/* {====================== Statistics =================================== */

int sl_store_items_since(struct sl_store *s, int64_t since_ms, int limit,
                         int (*fn)(void *arg, const char *id, const char *state,
                                   const char *upload, const char *tags),
                         void *arg)
{
    sqlite3_stmt *st = stmt_get(s, ST_ITEMS_SINCE);
    int rc;

    sqlite3_bind_int64(st, 1, since_ms);
    sqlite3_bind_int(st, 2, limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(arg, col_text(st, 0), col_text(st, 1), col_text(st, 2), col_text(st, 3)))
            break;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, "items since");
}

int sl_store_decision_stats(struct sl_store *s, int64_t since_ms, json_t **out)
{
    json_t *hours = json_array(), *people = json_object();
    sqlite3_stmt *st = stmt_get(s, ST_DECISIONS_BY_HOUR);
    int rc;

    sqlite3_bind_int64(st, 1, since_ms);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(hours, json_pack("{s:I, s:s, s:I}",
            "hour_ms", (json_int_t)sqlite3_column_int64(st, 0),
            "action", col_text(st, 1), "count", (json_int_t)sqlite3_column_int64(st, 2)));
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        st = stmt_get(s, ST_DECISIONS_BY_ACTOR);
        sqlite3_bind_int64(st, 1, since_ms);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            json_t *who = json_object_get(people, col_text(st, 0));
            if (!who) {
                who = json_object();
                json_object_set_new(people, col_text(st, 0), who);
            }
            json_object_set_new(who, col_text(st, 1), json_integer(sqlite3_column_int64(st, 2)));
        }
        sqlite3_reset(st);
    }
    if (rc != SQLITE_DONE) {
        json_decref(hours);
        json_decref(people);
        return db_fail(s, "decision stats");
    }
    *out = json_pack("{s:o, s:o}", "decisions_by_hour", hours, "moderators", people);
    return 0;
}

/* }===================================================================== */

/* {====================== Distribution ================================= */

int sl_store_wave_put(struct sl_store *s, const char *item, int n, const char *wave)
{
    sqlite3_stmt *st = stmt_get(s, ST_WAVE_PUT);
    bind_text(st, 1, item);
    sqlite3_bind_int(st, 2, n);
    bind_text(st, 3, wave);
    return stmt_done(s, st, "wave put");
}

int sl_store_waves_get(struct sl_store *s, const char *item, json_t **out)
{
    sqlite3_stmt *st = stmt_get(s, ST_WAVES_GET);
    json_t *list = json_array();
    int rc;

    bind_text(st, 1, item);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(list, col_json(st, 0));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        json_decref(list);
        return db_fail(s, "waves get");
    }
    *out = list;
    return 0;
}

int sl_store_offer_add(struct sl_store *s, const char *item, const char *user, int wave,
                       int source)
{
    sqlite3_stmt *st = stmt_get(s, ST_OFFER_ADD);
    bind_text(st, 1, item);
    bind_text(st, 2, user);
    sqlite3_bind_int(st, 3, wave);
    sqlite3_bind_int(st, 4, source);
    return stmt_done(s, st, "offer add");
}

int sl_store_offer_served(struct sl_store *s, const char *item, const char *user)
{
    sqlite3_stmt *st = stmt_get(s, ST_OFFER_SERVED);
    bind_text(st, 1, item);
    bind_text(st, 2, user);
    return stmt_done(s, st, "offer served");
}

int sl_store_offers_each(struct sl_store *s, const char *item,
                         int (*fn)(void *arg, const char *user, int wave, int source,
                                   bool served),
                         void *arg)
{
    sqlite3_stmt *st = stmt_get(s, ST_OFFERS_EACH);
    int rc;

    bind_text(st, 1, item);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(arg, col_text(st, 0), sqlite3_column_int(st, 1), sqlite3_column_int(st, 2),
               sqlite3_column_int(st, 3) != 0))
            break;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, "offers");
}

int sl_store_users_each(struct sl_store *s,
                        int (*fn)(void *arg, const char *id, const char *city,
                                  const char *interests),
                        void *arg)
{
    sqlite3_stmt *st = stmt_get(s, ST_USERS_EACH);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(arg, col_text(st, 0), col_text(st, 1), col_text(st, 2)))
            break;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, "users");
}

int sl_store_follows_each(struct sl_store *s,
                          int (*fn)(void *arg, const char *follower, const char *creator),
                          void *arg)
{
    sqlite3_stmt *st = stmt_get(s, ST_FOLLOWS_EACH);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(arg, col_text(st, 0), col_text(st, 1)))
            break;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, "follows");
}

int sl_store_items_in_state(struct sl_store *s, const char *state,
                            int (*fn)(void *arg, const char *id, const char *creator,
                                      const char *upload, const char *tags,
                                      const char *plan),
                            void *arg)
{
    sqlite3_stmt *st = stmt_get(s, ST_ITEMS_IN_STATE);
    int rc;
    bind_text(st, 1, state);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(arg, col_text(st, 0), col_text(st, 1), col_text(st, 2), col_text(st, 3),
               col_text(st, 4)))
            break;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, "items in state");
}

/* }===================================================================== */
