/* SPDX-License-Identifier: MIT */
/* Matches found later: the items that carry hashes, and a match added to an item. */
#include "config.h"

#include <errno.h>
#include <stdint.h>

#include "lib/clock.h"
#include "store/sqlite.h"

const char *const sl_sqlite_matches_sql[ST__COUNT] = {
    /* created_ms does not decrease in seq order: the walk stops at the
     * first item older than the window (in C), never scanning past it. */
    [ST_ITEM_HASHES]    = "SELECT seq, created_ms, item, hashes FROM item_hashes"
                          " WHERE seq < ?1 AND seq <= ?2 ORDER BY seq DESC",
    [ST_ITEM_ADD_MATCH] = "UPDATE items SET matches = json_insert(CASE WHEN json_valid(matches)"
                          " THEN matches ELSE '[]' END, '$[#]', json(?2)), updated_ms = ?3"
                          " WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM json_each(CASE WHEN"
                          " json_valid(items.matches) THEN items.matches ELSE '[]' END) m"
                          " WHERE m.type = 'object'"
                          " AND json_extract(m.value, '$.kind') IS json_extract(?2, '$.kind')"
                          " AND json_extract(m.value, '$.name') IS json_extract(?2, '$.name')"
                          " AND json_extract(m.value, '$.detail') IS json_extract(?2, '$.detail'))",
};

int sl_store_item_hashes(struct sl_store *s, int64_t before, int64_t seq_max,
                         int64_t since_ms, int limit, double deadline,
                         int (*fn)(void *arg, const char *id, const char *hashes), void *arg,
                         int64_t *next, int64_t *examined)
{
    sqlite3_stmt *st = stmt_get(s, ST_ITEM_HASHES);
    int64_t last = 0, n = 0;
    int rc;

    sqlite3_bind_int64(st, 1, before);
    sqlite3_bind_int64(st, 2, seq_max);
    *next = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        if (sqlite3_column_int64(st, 1) < since_ms)
            break;              /* the rest are older still */
        if (n == limit || (deadline > 0 && (n & 15) == 15 && sl_mono() > deadline)) {
            *next = last;
            break;
        }
        last = seq;
        n++;
        if (fn(arg, col_text(st, 2), col_text(st, 3))) {
            *next = seq;
            break;
        }
    }
    sqlite3_reset(st);
    *examined = n;
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_INTERRUPT)
        return db_fail(s, "item hashes");
    if (n == 0)
        return -ETIMEDOUT;
    *next = last;
    return 0;
}

int sl_store_item_add_match(struct sl_store *s, const char *item, const char *match,
                            int64_t now_ms)
{
    sqlite3_stmt *st = stmt_get(s, ST_ITEM_ADD_MATCH);
    bind_text(st, 1, item);
    bind_text(st, 2, match);
    sqlite3_bind_int64(st, 3, now_ms);
    int rc = stmt_done(s, st, "item add match");
    if (rc < 0 || sqlite3_changes(s->db))
        return rc;
    char state[32];
    return sl_store_item_state(s, item, state) == -ENOENT ? -ENOENT : SL_STORE_KEPT;
}
