/* SPDX-License-Identifier: MIT */
/* API tokens: their names, roles, hashes and expiry. */
#include "config.h"

#include <errno.h>
#include <stdint.h>

#include "store/pg.h"

const char *const sl_pg_tokens_sql[PG__COUNT] = {
    /* A taken name (or hash) is a refusal the transaction lives through. */
    [PG_TOKEN_INSERT]   = "INSERT INTO tokens (name, role, hash, created_ms, expires_ms)"
                          " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    [PG_TOKEN_DELETE]   = "DELETE FROM tokens WHERE name = $1",
    [PG_TOKEN_EACH]     = "SELECT name, role, hash, created_ms, coalesce(expires_ms, 0)"
                          " FROM tokens ORDER BY name",
};

int sl_pg_token_insert(struct sl_pg *s, const char *name, const char *role,
                       const char *hash_hex, int64_t now_ms, int64_t expires_ms)
{
    struct pg_params p = { 0 };
    par_text(&p, name);
    par_text(&p, role);
    par_text(&p, hash_hex);
    par_int(&p, now_ms);
    if (expires_ms > 0)
        par_int(&p, expires_ms);
    else
        par_text(&p, NULL);     /* never */
    return sl_pg_write(s, PG_TOKEN_INSERT, &p, PG_ONE_ELSE_EEXIST, NULL);
}

int sl_pg_token_delete(struct sl_pg *s, const char *name)
{
    struct pg_params p = { 0 };
    par_text(&p, name);
    return sl_pg_write(s, PG_TOKEN_DELETE, &p, PG_ONE_ELSE_ENOENT, NULL);
}

int sl_pg_token_each(struct sl_pg *s,
                     int (*fn)(void *arg, const char *name, const char *role,
                               const char *hash_hex, int64_t created_ms, int64_t expires_ms),
                     void *arg)
{
    struct pg_rows r;
    int rc = sl_pg_rows(s, PG_TOKEN_EACH, NULL, &r);
    if (rc < 0)
        return rc;
    while (sl_pg_next(&r))
        if (fn(arg, col(&r, 0), col(&r, 1), col(&r, 2), col_int(&r, 3), col_int(&r, 4)))
            break;
    return sl_pg_rows_end(&r);
}
