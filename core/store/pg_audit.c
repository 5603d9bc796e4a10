/* SPDX-License-Identifier: MIT */
/* The audit trail: records chained by SHA-256, listed and verified. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "lib/sha256.h"
#include "lib/text.h"
#include "store/chain.h"
#include "store/pg.h"

const char *const sl_pg_audit_sql[PG__COUNT] = {
    [PG_AUDIT_HEAD]     = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
    [PG_AUDIT_INSERT]   = "INSERT INTO audit (seq, item, actor, action, from_state,"
                          " to_state, reason, ts_ms, prev, hash)"
                          " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    [PG_AUDIT_INSERT_MANY] = "INSERT INTO audit (seq, item, actor, action, from_state,"
                          " to_state, reason, ts_ms, prev, hash)"
                          " SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[],"
                          " $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[],"
                          " $9::text[], $10::text[])",
    [PG_AUDIT_LIST_ITEM] = "SELECT seq, item, actor, action, from_state, to_state,"
                          " reason, ts_ms, hash FROM audit"
                          " WHERE item = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    [PG_AUDIT_LIST_ALL] = "SELECT seq, item, actor, action, from_state, to_state,"
                          " reason, ts_ms, hash FROM audit"
                          " WHERE seq > $1 ORDER BY seq LIMIT $2",
    [PG_AUDIT_WALK]     = "SELECT seq, item, actor, action, from_state, to_state,"
                          " reason, ts_ms, prev, hash FROM audit ORDER BY seq",
};

/* The last record as stored: where the writer's chain goes on from. */
int sl_pg_audit_load_head(struct sl_pg *s)
{
    struct pg_rows r;
    int rc = sl_pg_row(s, PG_AUDIT_HEAD, NULL, &r);
    if (rc == -ENOENT) {
        s->audit_seq = 0;
        memcpy(s->audit_hash, sl_chain_genesis, sizeof(s->audit_hash));
        return 0;
    }
    if (rc < 0)
        return rc;
    s->audit_seq = col_int(&r, 0);
    sl_copy(s->audit_hash, sizeof(s->audit_hash), col(&r, 1));
    return sl_pg_rows_end(&r);
}

int sl_pg_audit_append(struct sl_pg *s, const struct sl_audit_rec *rec)
{
    char hash[SL_SHA256_HEX_LEN + 1];
    int64_t seq = s->audit_seq + 1;
    const char *reason = rec->reason ? rec->reason : "";
    struct pg_params p = { 0 };

    sl_chain_hash(s->audit_hash, seq, rec->item, rec->actor, rec->action, rec->from_state,
                  rec->to_state, reason, rec->ts_ms, hash);
    par_int(&p, seq);
    par_text(&p, rec->item);
    par_text(&p, rec->actor);
    par_text(&p, rec->action);
    par_text(&p, rec->from_state);
    par_text(&p, rec->to_state);
    par_text(&p, reason);
    par_int(&p, rec->ts_ms);
    par_text(&p, s->audit_hash);
    par_text(&p, hash);
    int rc = s->pipeline ? sl_pg_batch_add(s, PG_BATCH_AUDIT, &p)
                         : sl_pg_write(s, PG_AUDIT_INSERT, &p, PG_ANY, NULL);
    if (rc == 0) {
        s->audit_seq = seq;
        memcpy(s->audit_hash, hash, sizeof(hash));
    }
    return rc;
}

int sl_pg_audit_list(struct sl_pg *s, const char *item, int64_t after, int limit,
                     json_t **out)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    if (item)
        par_text(&p, item);
    par_int(&p, after);
    par_int(&p, limit);
    json_t *list = json_array();
    int rc = list ? sl_pg_rows(s, item ? PG_AUDIT_LIST_ITEM : PG_AUDIT_LIST_ALL, &p, &r)
                  : -ENOMEM;
    if (rc == 0) {
        while (sl_pg_next(&r))
            json_array_append_new(list, json_pack("{s:I, s:o, s:s, s:s, s:o, s:o, s:s, s:I, s:s}",
                "seq", (json_int_t)col_int(&r, 0),
                "item", col_string_or_null(&r, 1),
                "actor", col(&r, 2),
                "action", col(&r, 3),
                "from", col_string_or_null(&r, 4),
                "to", col_string_or_null(&r, 5),
                "reason", col(&r, 6),
                "ts_ms", (json_int_t)col_int(&r, 7),
                "hash", col(&r, 8)));
        rc = sl_pg_rows_end(&r);
    }
    if (rc < 0) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return 0;
}

int sl_pg_audit_verify(struct sl_pg *s, int64_t *checked, int64_t *bad_seq)
{
    char prev[SL_SHA256_HEX_LEN + 1], hash[SL_SHA256_HEX_LEN + 1];
    int64_t expect_seq = 1;
    struct pg_rows r;
    int result = 0;

    memcpy(prev, sl_chain_genesis, sizeof(prev));
    *checked = 0;
    int rc = sl_pg_stream(s, PG_AUDIT_WALK, NULL, &r);
    if (rc < 0)
        return rc;
    while (sl_pg_next(&r)) {
        int64_t seq = col_int(&r, 0);
        const char *stored_prev = col(&r, 8), *stored = col(&r, 9);
        sl_chain_hash(prev, seq, col(&r, 1), col(&r, 2), col(&r, 3), col(&r, 4),
                      col(&r, 5), col(&r, 6), col_int(&r, 7), hash);
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
    rc = sl_pg_rows_end(&r);
    return result ? result : rc;
}
