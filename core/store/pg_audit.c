/* SPDX-License-Identifier: MIT */
/* The audit trail: records chained by HMAC-SHA-256 (SHA-256 before it), listed and verified a page at a time. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/sha256.h"
#include "lib/text.h"
#include "store/chain.h"
#include "store/pg.h"

/* The chain itself (formats, hashes, what makes a record wrong) is chain.h's,
 * shared with SQLite; here is its SQL. */

const char *const sl_pg_audit_sql[PG__COUNT] = {
    [PG_AUDIT_HEAD]     = "SELECT seq, hash, v, ts_ms FROM audit ORDER BY seq DESC LIMIT 1",
    /* Any number: the key of the advisory lock that makes the writers of
     * every node append to the one chain in turn. */
    [PG_AUDIT_LOCK]     = "SELECT pg_advisory_xact_lock(7140293362)",
    [PG_AUDIT_HASH]     = "SELECT hash, v FROM audit WHERE seq = $1",
    [PG_AUDIT_INSERT]   = "INSERT INTO audit (seq, item, actor, action, from_state,"
                          " to_state, reason, ts_ms, prev, hash, v)"
                          " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    [PG_AUDIT_INSERT_MANY] = "INSERT INTO audit (seq, item, actor, action, from_state,"
                          " to_state, reason, ts_ms, prev, hash, v)"
                          " SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[],"
                          " $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[],"
                          " $9::text[], $10::text[], $11::int[])",
    [PG_AUDIT_LIST_ITEM] = "SELECT seq, item, actor, action, from_state, to_state,"
                          " reason, ts_ms, hash FROM audit"
                          " WHERE item = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    [PG_AUDIT_LIST_ALL] = "SELECT seq, item, actor, action, from_state, to_state,"
                          " reason, ts_ms, hash FROM audit"
                          " WHERE seq > $1 ORDER BY seq LIMIT $2",
    [PG_AUDIT_WALK]     = "SELECT seq, item, actor, action, from_state, to_state,"
                          " reason, ts_ms, prev, hash, v FROM audit"
                          " WHERE seq > $1 ORDER BY seq LIMIT $2",
};

int sl_pg_audit_key(struct sl_pg *s, const uint8_t *key, size_t len, int64_t keyed_from)
{
    return sl_chain_key_set(&s->audit_key, key, len, keyed_from);
}

int sl_pg_audit_head(struct sl_pg *s, struct sl_audit_head *h)
{
    struct pg_rows r;
    int rc = sl_pg_row(s, PG_AUDIT_HEAD, NULL, &r);

    memset(h, 0, sizeof(*h));
    memcpy(h->hash, sl_chain_genesis, sizeof(h->hash));
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    h->seq = col_int(&r, 0);
    sl_copy(h->hash, sizeof(h->hash), col(&r, 1));
    h->format = (int)col_int(&r, 2);
    h->ts_ms = col_int(&r, 3);
    return sl_pg_rows_end(&r);
}

int sl_pg_audit_hash(struct sl_pg *s, int64_t seq, char *hash)
{
    struct pg_params p = { 0 };
    struct pg_rows r;

    par_int(&p, seq);
    int rc = sl_pg_row(s, PG_AUDIT_HASH, &p, &r);
    if (rc < 0)
        return rc;
    sl_copy(hash, SL_SHA256_HEX_LEN + 1, col(&r, 0));
    return sl_pg_rows_end(&r);
}

/* The last record as stored: where the writer's chain goes on from. */
int sl_pg_audit_load_head(struct sl_pg *s)
{
    struct sl_audit_head h;
    int rc = sl_pg_audit_head(s, &h);

    if (rc < 0)
        return rc;
    s->audit_seq = h.seq;
    memcpy(s->audit_hash, h.hash, sizeof(s->audit_hash));
    return 0;
}

/*
 * One chain, whatever the number of nodes: every writer's transaction takes
 * a transaction-scoped advisory lock as its first statement (sl_pg_begin),
 * and its first append reads the chain's head as committed (the writer
 * reads committed rows, and the read is a statement after the lock's) and
 * appends after it; the lock holds every other node's writes until this
 * transaction ends. Taken first, before any row is locked, it also keeps
 * two nodes' batches from deadlocking on the rows every writer touches
 * (item_states, creators, the triggers' counters) in opposite orders: the
 * nodes' writes take turns, which the one hot counter row made them do
 * anyway. The head kept in memory (store.h) is thus re-read once per
 * transaction that appends: one round trip per batch. The lock, not a row
 * of a head table: nothing to keep in step with the records, whatever
 * edits or restores them.
 */
static int lock_chain(struct sl_pg *s)
{
    int rc;
    if (s->audit_locked || !s->in_tx)
        return 0;
    if ((rc = sl_pg_audit_load_head(s)) < 0)
        return rc;
    s->audit_locked = true;
    return 0;
}

int sl_pg_audit_append(struct sl_pg *s, const struct sl_audit_rec *rec)
{
    struct sl_chain_new n;
    struct pg_params p = { 0 };
    int rc = lock_chain(s);
    if (rc < 0)
        return rc;
    rc = sl_chain_new(&s->audit_key, rec, s->audit_seq + 1, s->audit_hash, &n);

    if (rc < 0)
        return rc;
    par_int(&p, n.rec.seq);
    par_text(&p, n.rec.item);
    par_text(&p, n.rec.actor);
    par_text(&p, n.rec.action);
    par_text(&p, n.rec.from);
    par_text(&p, n.rec.to);
    par_text(&p, n.rec.reason);
    par_int(&p, n.rec.ts_ms);
    par_text(&p, s->audit_hash);
    par_text(&p, n.hash);
    par_int(&p, n.rec.format);
    /* Both copy the texts before they return. */
    rc = s->pipeline ? sl_pg_batch_add(s, PG_BATCH_AUDIT, &p)
                     : sl_pg_write(s, PG_AUDIT_INSERT, &p, PG_ANY, NULL);
    if (rc == 0) {
        s->audit_seq = n.rec.seq;
        memcpy(s->audit_hash, n.hash, sizeof(s->audit_hash));
    }
    sl_chain_new_clear(&n);
    return rc;
}

int sl_pg_audit_list(struct sl_pg *s, const char *item, int64_t after, int limit,
                     json_t **out)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    json_error_t jerr;
    int bad = 0;

    if (item)
        par_text(&p, item);
    par_int(&p, after);
    par_int(&p, limit);
    json_t *list = json_array();
    int rc = list ? sl_pg_rows(s, item ? PG_AUDIT_LIST_ITEM : PG_AUDIT_LIST_ALL, &p, &r)
                  : -ENOMEM;
    if (rc == 0) {
        while (!bad && sl_pg_next(&r)) {
            json_t *rec = json_pack_ex(&jerr, 0, "{s:I, s:o, s:s, s:s, s:o, s:o, s:s, s:I, s:s}",
                "seq", (json_int_t)col_int(&r, 0),
                "item", col_string_or_null(&r, 1),
                "actor", col(&r, 2),
                "action", col(&r, 3),
                "from", col_string_or_null(&r, 4),
                "to", col_string_or_null(&r, 5),
                "reason", col(&r, 6),
                "ts_ms", (json_int_t)col_int(&r, 7),
                "hash", col(&r, 8));
            if (!rec || json_array_append_new(list, rec) < 0) {
                char what[48];
                snprintf(what, sizeof(what), "audit record %lld", (long long)col_int(&r, 0));
                bad = rec ? -ENOMEM : row_unreadable(&jerr, what);
            }
        }
        rc = sl_pg_rows_end(&r);
    }
    if (bad || rc < 0) {
        json_decref(list);
        return bad ? bad : rc;
    }
    *out = list;
    return 0;
}

/* The page's walk is chain.c's; here are its reads. */
int sl_pg_audit_verify(struct sl_pg *s, struct sl_audit_check *c)
{
    struct sl_chain_page page;
    struct pg_params p = { 0 };
    struct pg_rows r;
    int rc;

    sl_chain_page_start(&page, &s->audit_key, c);
    if (c->after > 0) {
        /* Go on from the record before the page as stored: the page
         * before checked it. */
        rc = sl_pg_audit_hash(s, c->after, page.prev);
        if (rc == -ENOENT) {
            struct sl_audit_head h;
            if ((rc = sl_pg_audit_head(s, &h)) < 0)
                return rc;
            return sl_chain_page_gone(&page, h.seq);
        }
        if (rc < 0)
            return rc;
    }
    par_int(&p, c->after);
    par_int(&p, c->limit + 1);      /* one more: is there more? */
    if ((rc = sl_pg_rows(s, PG_AUDIT_WALK, &p, &r)) < 0)
        return rc;
    while (sl_pg_next(&r)) {
        const struct sl_chain_rec rec = {
            .seq = col_int(&r, 0),
            .item = col(&r, 1),
            .actor = col(&r, 2),
            .action = col(&r, 3),
            .from = col(&r, 4),
            .to = col(&r, 5),
            .reason = col(&r, 6),
            .ts_ms = col_int(&r, 7),
            .prev = col(&r, 8),
            .hash = col(&r, 9),
            .format = (int)col_int(&r, 10),
        };
        if (sl_chain_page_next(&page, &rec))
            break;
    }
    rc = sl_pg_rows_end(&r);
    return page.rc ? page.rc : rc;
}
