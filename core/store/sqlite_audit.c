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

/*
 * Each record's hash covers the previous record's hash and its own fields,
 * so a record edited or removed breaks the chain at that point. Two formats,
 * kept per record in the column v:
 *   1  SHA-256 of the fields: anyone who can write the database can
 *      recompute it (what sluice wrote before the chain was keyed);
 *   2  HMAC-SHA-256 under the audit key, which is kept outside the database,
 *      of "2" and the same fields.
 * A chain may start plain and go on keyed, from the record the key was
 * made at (it is kept with the key, outside the database): a plain record
 * from there on is a chain rewritten without the key.
 */

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

#define PLAIN 1
#define KEYED 2

static void zero_hash(char hash[SL_SHA256_HEX_LEN + 1])
{
    memset(hash, '0', SL_SHA256_HEX_LEN);
    hash[SL_SHA256_HEX_LEN] = '\0';
}

int sl_store_audit_key(struct sl_store *s, const uint8_t *key, size_t len,
                       int64_t keyed_from)
{
    if (len < 16 || keyed_from < 1)
        return -EINVAL;
    sl_hmac_sha256_key(&s->audit_mac, key, len);
    s->audit_keyed = true;
    s->audit_keyed_from = keyed_from;
    return 0;
}

int sl_store_audit_head(struct sl_store *s, struct sl_audit_head *h)
{
    sqlite3_stmt *st = stmt_get(s, ST_AUDIT_HEAD);
    int rc = sqlite3_step(st);

    memset(h, 0, sizeof(*h));
    zero_hash(h->hash);
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

/* The bytes a record's hash covers: the previous hash and every field, each
 * ended by a unit separator so that no two records serialise alike; keyed
 * records start with their format, so no plain serialisation is a keyed
 * one. */
static void audit_hash(const struct sl_store *s, int format, const char *prev, int64_t seq,
                       const char *item, const char *actor, const char *action,
                       const char *from, const char *to, const char *reason, int64_t ts_ms,
                       char out[SL_SHA256_HEX_LEN + 1])
{
    struct sl_hmac_sha256 ctx;
    char num[32];
    const char *fields[] = { prev, NULL, item, actor, action, from, to, reason, NULL };
    uint8_t digest[SL_SHA256_LEN];

    /* HMAC's messages go through its inner hash: plain records use that
     * hash alone. */
    if (format == KEYED) {
        sl_hmac_sha256_init(&ctx, &s->audit_mac);
        sl_sha256_update(&ctx.inner, "2\x1f", 2);
    } else {
        sl_sha256_init(&ctx.inner);
    }
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *f = fields[i];
        if (i == 1 || i == 8) {
            snprintf(num, sizeof(num), "%lld", (long long)(i == 1 ? seq : ts_ms));
            f = num;
        }
        if (f)
            sl_sha256_update(&ctx.inner, f, strlen(f));
        else
            sl_sha256_update(&ctx.inner, "\x1e", 1);  /* NULL differs from "" */
        sl_sha256_update(&ctx.inner, "\x1f", 1);
    }
    if (format == KEYED)
        sl_hmac_sha256_final(&ctx, digest);
    else
        sl_sha256_final(&ctx.inner, digest);
    sl_hex(digest, sizeof(digest), out);
}

int sl_store_audit_append(struct sl_store *s, const struct sl_audit_rec *r)
{
    char hash[SL_SHA256_HEX_LEN + 1];
    int64_t seq = s->audit_seq + 1;
    int format = s->audit_keyed ? KEYED : PLAIN;
    /* The hash covers the text as stored: repaired first, if need be. */
    const char *in[] = { r->item, r->actor, r->action, r->from_state, r->to_state,
                         r->reason ? r->reason : "" };
    static const char *const names[] = { "item", "actor", "action", "from", "to", "reason" };
    const char *text[6];
    char *keep[6] = { 0 }, what[64];
    int rc = 0;

    for (int i = 0; i < 6 && rc == 0; i++) {
        snprintf(what, sizeof(what), "audit record %lld's %s", (long long)seq, names[i]);
        rc = text_in(in[i], what, &text[i], &keep[i]);
    }
    if (rc == 0) {
        audit_hash(s, format, s->audit_hash, seq, text[0], text[1], text[2], text[3],
                   text[4], text[5], r->ts_ms, hash);
        sqlite3_stmt *st = stmt_get(s, ST_AUDIT_INSERT);
        sqlite3_bind_int64(st, 1, seq);
        for (int i = 0; i < 6; i++)
            bind_text(st, 2 + i, text[i]);
        sqlite3_bind_int64(st, 8, r->ts_ms);
        bind_text(st, 9, s->audit_hash);
        bind_text(st, 10, hash);
        sqlite3_bind_int(st, 11, format);
        rc = stmt_done(s, st, "audit append");
        /* The bound texts are SQLITE_STATIC: cleared before they are freed. */
        sqlite3_clear_bindings(st);
    }
    for (int i = 0; i < 6; i++)
        free(keep[i]);
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

static int page_bad(struct sl_audit_check *c, int64_t seq, const char *problem)
{
    c->bad_seq = seq;
    c->problem = problem;
    return -EBADMSG;
}

/* One record of the walk against what the chain so far says it must be. */
static const char *record_problem(struct sl_store *s, sqlite3_stmt *st, int64_t expect_seq,
                                  const char *prev)
{
    char hash[SL_SHA256_HEX_LEN + 1];
    int64_t seq = sqlite3_column_int64(st, 0);
    const char *stored_prev = col_text(st, 8), *stored = col_text(st, 9);
    int format = sqlite3_column_int(st, 10);

    /* A deleted record shows as a gap; an edited one as a wrong hash. */
    if (seq != expect_seq)
        return "the records before it are missing (deleted)";
    if (format != PLAIN && format != KEYED)
        return "its format is unknown";
    if (s->audit_keyed && seq >= s->audit_keyed_from && format != KEYED)
        return "a plain record where the chain is keyed: it was rewritten without the key";
    if (format == KEYED && !s->audit_keyed)
        return "it is keyed, and this daemon has no audit key";
    if (!stored_prev || strcmp(stored_prev, prev) != 0)
        return "it does not link to the record before it";
    audit_hash(s, format, prev, seq, col_text(st, 1), col_text(st, 2), col_text(st, 3),
               col_text(st, 4), col_text(st, 5), col_text(st, 6),
               sqlite3_column_int64(st, 7), hash);
    if (!stored || strcmp(stored, hash) != 0)
        return format == KEYED
            ? "its hash does not match: it was edited, or the audit key is not the one it "
              "was written with"
            : "its hash does not match: it was edited";
    return NULL;
}

int sl_store_audit_verify(struct sl_store *s, struct sl_audit_check *c)
{
    char prev[SL_SHA256_HEX_LEN + 1];
    int format, rc, result = 0;
    int64_t seq = c->after;

    c->checked = 0;
    c->last_seq = c->after;
    c->more = false;
    c->bad_seq = 0;
    c->problem = NULL;
    zero_hash(prev);
    if (c->after > 0) {
        /* Go on from the record before the page as stored: the page
         * before checked it. */
        rc = record_hash(s, c->after, prev, &format);
        if (rc == -ENOENT) {
            struct sl_audit_head h;
            if ((rc = sl_store_audit_head(s, &h)) < 0)
                return rc;
            return c->after > h.seq ? -ERANGE
                                    : page_bad(c, c->after, "it is missing (deleted)");
        }
        if (rc < 0)
            return rc;
    }
    sqlite3_stmt *st = stmt_get(s, ST_AUDIT_WALK);
    sqlite3_bind_int64(st, 1, c->after);
    sqlite3_bind_int64(st, 2, c->limit + 1);    /* one more: is there more? */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (c->checked == c->limit) {
            c->more = true;
            break;
        }
        seq = sqlite3_column_int64(st, 0);
        const char *problem = record_problem(s, st, c->last_seq + 1, prev);
        if (problem) {
            result = page_bad(c, seq, problem);
            break;
        }
        sl_copy(prev, sizeof(prev), col_text(st, 9));
        c->last_seq = seq;
        c->checked++;
    }
    sqlite3_reset(st);
    if (result == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
        return db_fail(s, "audit verify");
    return result;
}

/* }===================================================================== */
