/* SPDX-License-Identifier: MIT */
/* API tokens: their names, roles, hashes and expiry. */
#include "config.h"

#include <errno.h>
#include <stdint.h>

#include "store/sqlite.h"

const char *const sl_sqlite_tokens_sql[ST__COUNT] = {
    [ST_TOKEN_INSERT]   = "INSERT INTO tokens (name, role, hash, created_ms, expires_ms)"
                          " VALUES (?, ?, ?, ?, ?)",
    [ST_TOKEN_DELETE]   = "DELETE FROM tokens WHERE name = ?",
    [ST_TOKEN_EACH]     = "SELECT name, role, hash, created_ms, coalesce(expires_ms, 0)"
                          " FROM tokens ORDER BY name",
};

int sl_store_token_insert(struct sl_store *s, const char *name, const char *role,
                          const char *hash_hex, int64_t now_ms, int64_t expires_ms)
{
    sqlite3_stmt *st = stmt_get(s, ST_TOKEN_INSERT);
    bind_text(st, 1, name);
    bind_text(st, 2, role);
    bind_text(st, 3, hash_hex);
    sqlite3_bind_int64(st, 4, now_ms);
    if (expires_ms > 0)
        sqlite3_bind_int64(st, 5, expires_ms);
    else
        sqlite3_bind_null(st, 5);
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
                                  const char *hash_hex, int64_t created_ms,
                                  int64_t expires_ms),
                        void *arg)
{
    sqlite3_stmt *st = stmt_get(s, ST_TOKEN_EACH);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(arg, col_text(st, 0), col_text(st, 1), col_text(st, 2),
               sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4)))
            break;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, "token list");
}
