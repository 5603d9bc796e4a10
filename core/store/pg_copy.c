/* SPDX-License-Identifier: MIT */
/* Copying a whole store: a table's rows out, one row in (copy.c drives it). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "store/pg.h"

const char *const sl_pg_copy_sql[PG__COUNT] = {
    /* The next fence and batch number follow what was copied. */
    [PG_COPIED_FENCES]  = "SELECT setval('fences', greatest("
                          " coalesce((SELECT value FROM counters WHERE name = 'fence'), 0),"
                          " coalesce((SELECT max(fence) FROM queue), 0)) + 1, false)",
    /* Items that were distributing: their leases ran out, so that the
     * first node to look takes them over (shared.h). */
    [PG_COPIED_LEASES]  = "INSERT INTO item_leases SELECT id, '', 0, 0 FROM items"
                          " WHERE state = 'distributing' ON CONFLICT DO NOTHING",
    [PG_COPIED_BATCHES] = "SELECT setval(pg_get_serial_sequence('event_batches', 'seq'),"
                          " coalesce((SELECT max(seq) FROM event_batches), 0) + 1, false)",
    /* Placements copied keep their parts (SQLite's count per wave); the
     * next stored takes one past every part. */
    [PG_COPIED_PARTS]   = "SELECT setval('offer_waves_part', coalesce((SELECT max(part)"
                          " FROM offer_waves), 0) + 1, false)",
    /* Items copied keep their seq; the next stored follows them. */
    [PG_COPIED_ITEMS]   = "SELECT setval('items_seq', coalesce((SELECT max(seq) FROM items), 0)"
                          " + 1, false)",
};

#define BYTEAOID 17     /* pg_type.h: the type of a bytea column */

/* Row by row (single-row mode) on a reader; on the writer, whole. Table and
 * column names come from copy.c's list and the schema; quoted all the same
 * ("user" is a column). */
int sl_pg_table_each(struct sl_pg *s, const char *table,
                     int (*fn)(void *arg, const struct sl_store_row *row), void *arg)
{
    char sql[256];
    int stop = 0, rc = 0;
    PGresult *res;

    if (s->pipeline)
        return -EINVAL;     /* a copy reads from a reader */
    snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\"", table);
    if (!PQsendQuery(s->conn, sql) || !PQsetSingleRowMode(s->conn)) {
        sl_err("store: PostgreSQL: %s: %s", sql, PQerrorMessage(s->conn));
        return -EIO;
    }
    while ((res = PQgetResult(s->conn)) != NULL) {
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_SINGLE_TUPLE && !stop && rc == 0) {
            struct sl_store_row row = { 0 };
            unsigned char *raw[SL_STORE_ROW_MAX] = { 0 };
            int nf = PQnfields(res);
            if (nf > SL_STORE_ROW_MAX + 2) {
                sl_err("store: table %s has %d columns, more than a copy takes", table, nf);
                rc = -E2BIG;
            }
            for (int f = 0; rc == 0 && f < nf; f++) {
                /* The change feed's stamps of a batch (pg_feed.c) are this
                 * database's, not the store's: not copied. */
                if (strcmp(table, "event_batches") == 0 &&
                    (strcmp(PQfname(res, f), "tx") == 0 || strcmp(PQfname(res, f), "node") == 0))
                    continue;
                if (row.n == SL_STORE_ROW_MAX) {
                    sl_err("store: table %s has %d columns, more than a copy takes", table, nf);
                    rc = -E2BIG;
                    break;
                }
                int i = row.n++;
                row.name[i] = PQfname(res, f);
                if (PQgetisnull(res, 0, f))
                    continue;
                if (PQftype(res, f) == BYTEAOID) {
                    raw[i] = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, f),
                                             &row.len[i]);
                    if (!raw[i])
                        rc = -ENOMEM;
                    row.val[i] = (const char *)raw[i];
                    row.bytes[i] = true;
                } else {
                    row.val[i] = PQgetvalue(res, 0, f);
                    row.len[i] = (size_t)PQgetlength(res, 0, f);
                }
            }
            if (rc == 0)
                stop = fn(arg, &row);
            for (int i = 0; i < SL_STORE_ROW_MAX; i++)
                PQfreemem(raw[i]);
        } else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && rc == 0) {
            sl_err("store: PostgreSQL: %s: %s", sql, PQresultErrorMessage(res));
            rc = -EIO;
        }
        PQclear(res);
    }
    return rc < 0 ? rc : stop < 0 ? stop : 0;
}

/* Sent ahead on the writer, through one statement prepared per table. */
int sl_pg_table_put(struct sl_pg *s, const char *table, const struct sl_store_row *row)
{
    char name[32], sql[2048];
    struct pg_params p = { 0 };
    int rc;

    snprintf(name, sizeof(name), "copy%d", s->copy_n);
    if (strcmp(s->copy_table, table) != 0) {
        size_t len = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO \"%s\" (", table);
        for (int i = 0; i < row->n && len < sizeof(sql); i++)
            len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s\"%s\"", i ? ", " : "",
                                    row->name[i]);
        for (int i = 0; i < row->n && len < sizeof(sql); i++)
            len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s$%d", i ? ", " : ") VALUES (",
                                    i + 1);
        if (len + 2 >= sizeof(sql) || strlen(table) >= sizeof(s->copy_table))
            return -E2BIG;
        memcpy(sql + len, ")", 2);
        snprintf(name, sizeof(name), "copy%d", ++s->copy_n);
        if ((rc = sl_pg_prepare_ahead(s, name, sql, 0)) < 0)
            return rc;
        snprintf(s->copy_table, sizeof(s->copy_table), "%s", table);
    }
    /* Every row of one table has the same columns, in the same order. */
    for (int i = 0; i < row->n; i++) {
        if (row->bytes[i] && row->val[i])
            par_bytes(&p, row->val[i], row->len[i]);
        else
            par_text(&p, row->val[i]);
    }
    return sl_pg_write_named(s, name, &p);
}

int sl_pg_copied(struct sl_pg *s)
{
    int rc = sl_pg_write(s, PG_COPIED_FENCES, NULL, PG_ANY, NULL);
    if (rc == 0)
        rc = sl_pg_write(s, PG_COPIED_BATCHES, NULL, PG_ANY, NULL);
    if (rc == 0)
        rc = sl_pg_write(s, PG_COPIED_ITEMS, NULL, PG_ANY, NULL);
    if (rc == 0)
        rc = sl_pg_write(s, PG_COPIED_LEASES, NULL, PG_ANY, NULL);
    if (rc == 0)
        rc = sl_pg_write(s, PG_COPIED_PARTS, NULL, PG_ANY, NULL);
    return rc < 0 ? rc : sl_pg_sync(s);
}
