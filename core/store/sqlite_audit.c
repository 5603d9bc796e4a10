/* SPDX-License-Identifier: MIT */
/* The audit trail: records chained by SHA-256, listed and verified. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/sha256.h"
#include "lib/text.h"
#include "store/chain.h"
#include "store/sqlite.h"

const char *const sl_sqlite_audit_sql[ST__COUNT] = {
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
};

/* The last record as stored: where the writer's chain goes on from. */
int sl_sqlite_audit_load_head(struct sl_store *s)
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

int sl_store_audit_append(struct sl_store *s, const struct sl_audit_rec *r)
{
    char hash[SL_SHA256_HEX_LEN + 1];
    int64_t seq = s->audit_seq + 1;
    const char *reason = r->reason ? r->reason : "";

    sl_chain_hash(s->audit_hash, seq, r->item, r->actor, r->action, r->from_state,
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
        sl_chain_hash(prev, seq, col_text(st, 1), col_text(st, 2), col_text(st, 3),
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
