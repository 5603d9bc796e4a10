/* SPDX-License-Identifier: MIT */
/* The audit trail: records chained by HMAC-SHA-256 (SHA-256 before it), listed and verified a page at a time. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/sha256.h"
#include "lib/text.h"
#include "store/sqlite.h"

/* The chain itself (formats, hashes, what makes a record wrong) is chain.h's,
 * shared with PostgreSQL; here is its SQL. */

const char *const sl_sqlite_audit_sql[ST__COUNT] = {
    [ST_AUDIT_HEAD]     = "SELECT seq, hash, v, ts_ms FROM audit ORDER BY seq DESC LIMIT 1",
    [ST_AUDIT_HASH]     = "SELECT hash, v FROM audit WHERE seq = ?",
    [ST_AUDIT_INSERT]   = "INSERT INTO audit (seq, item, actor, action, from_state,"
                          " to_state, reason, ts_ms, prev, hash, v)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_AUDIT_LIST_ITEM] = "SELECT seq, item, actor, action, from_state, to_state,"
                          " reason, ts_ms, hash FROM audit"
                          " WHERE item = ? AND seq > ? ORDER BY seq LIMIT ?",
    [ST_AUDIT_LIST_ALL] = "SELECT seq, item, actor, action, from_state, to_state,"
                          " reason, ts_ms, hash FROM audit"
                          " WHERE seq > ? ORDER BY seq LIMIT ?",
    [ST_AUDIT_WALK]     = "SELECT seq, item, actor, action, from_state, to_state,"
                          " reason, ts_ms, prev, hash, v FROM audit"
                          " WHERE seq > ? ORDER BY seq LIMIT ?",
};

int sl_store_audit_key(struct sl_store *s, const uint8_t *key, size_t len,
                       int64_t keyed_from)
{
    return sl_chain_key_set(&s->audit_key, key, len, keyed_from);
}

int sl_store_audit_head(struct sl_store *s, struct sl_audit_head *h)
{
    sqlite3_stmt *st = stmt_get(s, ST_AUDIT_HEAD);
    int rc = sqlite3_step(st);

    memset(h, 0, sizeof(*h));
    memcpy(h->hash, sl_chain_genesis, sizeof(h->hash));
    if (rc == SQLITE_ROW) {
        h->seq = sqlite3_column_int64(st, 0);
        sl_copy(h->hash, sizeof(h->hash), col_text(st, 1));
        h->format = sqlite3_column_int(st, 2);
        h->ts_ms = sqlite3_column_int64(st, 3);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, "audit head");
}

/* The stored hash and format of record seq. */
static int record_hash(struct sl_store *s, int64_t seq, char *hash, int *format)
{
    sqlite3_stmt *st = stmt_get(s, ST_AUDIT_HASH);
    sqlite3_bind_int64(st, 1, seq);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        sl_copy(hash, SL_SHA256_HEX_LEN + 1, col_text(st, 0));
        *format = sqlite3_column_int(st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_fail(s, "audit hash");
}

int sl_store_audit_hash(struct sl_store *s, int64_t seq, char *hash)
{
    int format;
    return record_hash(s, seq, hash, &format);
}

/* The last record as stored: where the writer's chain goes on from. */
int sl_sqlite_audit_load_head(struct sl_store *s)
{
    struct sl_audit_head h;
    int rc = sl_store_audit_head(s, &h);

    if (rc < 0)
        return rc;
    s->audit_seq = h.seq;
    memcpy(s->audit_hash, h.hash, sizeof(s->audit_hash));
    return 0;
}

int sl_store_audit_append(struct sl_store *s, const struct sl_audit_rec *r)
{
    struct sl_chain_new n;
    int rc = sl_chain_new(&s->audit_key, r, s->audit_seq + 1, s->audit_hash, &n);

    if (rc < 0)
        return rc;
    sqlite3_stmt *st = stmt_get(s, ST_AUDIT_INSERT);
    sqlite3_bind_int64(st, 1, n.rec.seq);
    bind_text(st, 2, n.rec.item);
    bind_text(st, 3, n.rec.actor);
    bind_text(st, 4, n.rec.action);
    bind_text(st, 5, n.rec.from);
    bind_text(st, 6, n.rec.to);
    bind_text(st, 7, n.rec.reason);
    sqlite3_bind_int64(st, 8, n.rec.ts_ms);
    bind_text(st, 9, s->audit_hash);
    bind_text(st, 10, n.hash);
    sqlite3_bind_int(st, 11, n.rec.format);
    rc = stmt_done(s, st, "audit append");
    /* The bound texts are SQLITE_STATIC: cleared before they are freed. */
    sqlite3_clear_bindings(st);
    if (rc == 0) {
        s->audit_seq = n.rec.seq;
        memcpy(s->audit_hash, n.hash, sizeof(s->audit_hash));
    }
    sl_chain_new_clear(&n);
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
    json_error_t jerr;
    int rc, bad = 0;
    if (!list) {
        sqlite3_reset(st);
        return -ENOMEM;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *rec = json_pack_ex(&jerr, 0, "{s:I, s:o, s:s, s:s, s:o, s:o, s:s, s:I, s:s}",
            "seq", (json_int_t)sqlite3_column_int64(st, 0),
            "item", col_string_or_null(st, 1),
            "actor", col_text(st, 2),
            "action", col_text(st, 3),
            "from", col_string_or_null(st, 4),
            "to", col_string_or_null(st, 5),
            "reason", col_text(st, 6),
            "ts_ms", (json_int_t)sqlite3_column_int64(st, 7),
            "hash", col_text(st, 8));
        if (!rec || json_array_append_new(list, rec) < 0) {
            char what[48];
            snprintf(what, sizeof(what), "audit record %lld",
                     (long long)sqlite3_column_int64(st, 0));
            bad = rec ? -ENOMEM : row_unreadable(&jerr, what);
            break;
        }
    }
    sqlite3_reset(st);
    if (bad || (rc != SQLITE_DONE && rc != SQLITE_ROW)) {
        json_decref(list);
        return bad ? bad : db_fail(s, "audit list");
    }
    *out = list;
    return 0;
}

/* {====================== Verify ======================================= */

/* One record of the walk, as stored. */
static struct sl_chain_rec walked(sqlite3_stmt *st)
{
    return (struct sl_chain_rec){
        .seq = sqlite3_column_int64(st, 0),
        .item = col_text(st, 1),
        .actor = col_text(st, 2),
        .action = col_text(st, 3),
        .from = col_text(st, 4),
        .to = col_text(st, 5),
        .reason = col_text(st, 6),
        .ts_ms = sqlite3_column_int64(st, 7),
        .prev = col_text(st, 8),
        .hash = col_text(st, 9),
        .format = sqlite3_column_int(st, 10),
    };
}

/* The page's walk is chain.c's; here are its reads. */
int sl_store_audit_verify(struct sl_store *s, struct sl_audit_check *c)
{
    struct sl_chain_page p;
    int format, rc;

    sl_chain_page_start(&p, &s->audit_key, c);
    if (c->after > 0) {
        /* Go on from the record before the page as stored: the page
         * before checked it. */
        rc = record_hash(s, c->after, p.prev, &format);
        if (rc == -ENOENT) {
            struct sl_audit_head h;
            if ((rc = sl_store_audit_head(s, &h)) < 0)
                return rc;
            return sl_chain_page_gone(&p, h.seq);
        }
        if (rc < 0)
            return rc;
    }
    sqlite3_stmt *st = stmt_get(s, ST_AUDIT_WALK);
    sqlite3_bind_int64(st, 1, c->after);
    sqlite3_bind_int64(st, 2, c->limit + 1);    /* one more: is there more? */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const struct sl_chain_rec r = walked(st);
        if (sl_chain_page_next(&p, &r))
            break;
    }
    sqlite3_reset(st);
    if (p.rc == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
        return db_fail(s, "audit verify");
    return p.rc;
}

/* }===================================================================== */
