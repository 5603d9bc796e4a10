/* SPDX-License-Identifier: MIT */
/* Hash banks: the known-bad perceptual hashes plugins check uploads against. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>

#include "store/sqlite.h"

const char *const sl_sqlite_hashbanks_sql[ST__COUNT] = {
    [ST_BANK_ADD]       = "INSERT OR IGNORE INTO hashbanks (bank, hash, added_ms) VALUES (?, ?, ?)",
    [ST_BANK_DEL]       = "DELETE FROM hashbanks WHERE bank = ? AND hash = ?",
    [ST_BANK_EACH]      = "SELECT bank, hash FROM hashbanks ORDER BY bank",
};

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
