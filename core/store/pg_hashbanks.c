/* SPDX-License-Identifier: MIT */
/* Hash banks: the known-bad perceptual hashes plugins check uploads against. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>

#include "store/pg.h"

const char *const sl_pg_hashbanks_sql[PG__COUNT] = {
    [PG_BANK_ADD]       = "INSERT INTO hashbanks (bank, hash, added_ms) VALUES ($1, $2, $3)"
                          " ON CONFLICT DO NOTHING",
    [PG_BANK_DEL]       = "DELETE FROM hashbanks WHERE bank = $1 AND hash = $2",
    [PG_BANK_EACH]      = "SELECT bank, hash FROM hashbanks ORDER BY bank",
};

int sl_pg_hashbank_set(struct sl_pg *s, const char *bank, const char *hash_hex, bool on,
                       int64_t now_ms)
{
    struct pg_params p = { 0 };
    par_text(&p, bank);
    par_text(&p, hash_hex);
    if (on)
        par_int(&p, now_ms);
    return sl_pg_write(s, on ? PG_BANK_ADD : PG_BANK_DEL, &p, PG_ANY, NULL);
}

int sl_pg_hashbank_each(struct sl_pg *s,
                        int (*fn)(void *arg, const char *bank, const char *hash_hex),
                        void *arg)
{
    struct pg_rows r;
    int rc = sl_pg_stream(s, PG_BANK_EACH, NULL, &r);
    if (rc < 0)
        return rc;
    while (sl_pg_next(&r))
        if (fn(arg, col(&r, 0), col(&r, 1)))
            break;
    return sl_pg_rows_end(&r);
}
