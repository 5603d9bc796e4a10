/* SPDX-License-Identifier: MIT */
/* Matches found later: the items that carry hashes, and a match added to an item. */
#include "config.h"

#include <errno.h>
#include <stdint.h>

#include "lib/clock.h"
#include "store/pg.h"

const char *const sl_pg_matches_sql[PG__COUNT] = {
    /* created_ms does not decrease in seq order: the walk stops at the
     * first item older than the window (in C); a slice reads no more than
     * it may look at, and one more to know whether any is left. */
    [PG_ITEM_HASHES]    = "SELECT seq, created_ms, item, hashes FROM item_hashes"
                          " WHERE seq < $1 AND seq <= $2 ORDER BY seq DESC LIMIT $3",
    /* Whether the item is there, and whether the match was added: -ENOENT
     * and SL_STORE_KEPT apart in one round trip. A match of the same kind,
     * name and detail (a missing one and null alike, as SQLite compares
     * them) is there already. */
    [PG_ITEM_ADD_MATCH] = "WITH it AS (SELECT 1 FROM items WHERE id = $1),"
                          " up AS (UPDATE items SET matches = (matches::jsonb"
                          " || jsonb_build_array($2::jsonb))::text, updated_ms = $3"
                          " WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM"
                          " jsonb_array_elements(items.matches::jsonb) m"
                          " WHERE jsonb_typeof(m) = 'object'"
                          " AND m ->> 'kind' IS NOT DISTINCT FROM $2::jsonb ->> 'kind'"
                          " AND m ->> 'name' IS NOT DISTINCT FROM $2::jsonb ->> 'name'"
                          " AND m ->> 'detail' IS NOT DISTINCT FROM $2::jsonb ->> 'detail')"
                          " RETURNING 1)"
                          " SELECT (SELECT count(*) FROM it), (SELECT count(*) FROM up)",
};

int sl_pg_item_hashes(struct sl_pg *s, int64_t before, int64_t seq_max, int64_t since_ms,
                      int limit, double deadline,
                      int (*fn)(void *arg, const char *id, const char *hashes), void *arg,
                      int64_t *next, int64_t *examined)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    int64_t last = 0, n = 0;

    *next = 0;
    *examined = 0;
    atomic_store(&s->interrupted, false);
    int rc = sl_pg_due(s);
    if (rc < 0)
        return rc;
    par_int(&p, before);
    par_int(&p, seq_max);
    par_int(&p, (int64_t)limit + 1);
    if ((rc = sl_pg_rows(s, PG_ITEM_HASHES, &p, &r)) < 0)
        return rc;
    while (sl_pg_next(&r)) {
        int64_t seq = col_int(&r, 0);
        if (col_int(&r, 1) < since_ms)
            break;              /* the rest are older still */
        if (n == limit || (deadline > 0 && (n & 15) == 15 && sl_mono() > deadline) ||
            ((n & 15) == 15 && sl_pg_due(s) < 0)) {
            *next = last;
            break;
        }
        last = seq;
        n++;
        if (fn(arg, col(&r, 2), col(&r, 3))) {
            *next = seq;
            break;
        }
    }
    *examined = n;
    return sl_pg_rows_end(&r);
}

int sl_pg_item_add_match(struct sl_pg *s, const char *item, const char *match, int64_t now_ms)
{
    struct pg_params p = { 0 };
    struct pg_rows r;

    par_text(&p, item);
    par_text(&p, match);
    par_int(&p, now_ms);
    int rc = sl_pg_row(s, PG_ITEM_ADD_MATCH, &p, &r);
    if (rc < 0)
        return rc;
    bool there = col_int(&r, 0) > 0, added = col_int(&r, 1) > 0;
    if ((rc = sl_pg_rows_end(&r)) < 0)
        return rc;
    return added ? 0 : there ? SL_STORE_KEPT : -ENOENT;
}
