/* SPDX-License-Identifier: MIT */
/* Copying a whole store: a table's rows out, one row in (copy.c drives it). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/sqlite.h"

/* Table and column names come from copy.c's list and the schema itself;
 * quoted all the same ("user" is a column). */
int sl_store_table_each(struct sl_store *s, const char *table,
                        int (*fn)(void *arg, const struct sl_store_row *row), void *arg)
{
    char sql[256];
    sqlite3_stmt *st;
    int rc;

    snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\"", table);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, sql);
    int n = sqlite3_column_count(st);
    if (n > SL_STORE_ROW_MAX) {
        sqlite3_finalize(st);
        sl_err("store: table %s has %d columns, more than a copy takes", table, n);
        return -E2BIG;
    }
    int stop = 0;
    char num[SL_STORE_ROW_MAX][32];
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct sl_store_row row = { .n = n };
        for (int i = 0; i < n; i++) {
            row.name[i] = sqlite3_column_name(st, i);
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_NULL:
                break;
            case SQLITE_BLOB:
                row.bytes[i] = true;
                row.val[i] = sqlite3_column_blob(st, i);
                row.len[i] = (size_t)sqlite3_column_bytes(st, i);
                if (!row.val[i])
                    row.val[i] = "";    /* a blob of no bytes */
                break;
            case SQLITE_FLOAT:
                /* SQLite's own text of a real keeps 15 digits: a report's
                 * weight would come out another double. */
                snprintf(num[i], sizeof(num[i]), "%.17g", sqlite3_column_double(st, i));
                row.val[i] = num[i];
                row.len[i] = strlen(num[i]);
                break;
            default:
                row.val[i] = col_text(st, i);
                row.len[i] = (size_t)sqlite3_column_bytes(st, i);
                break;
            }
        }
        stop = fn(arg, &row);
    }
    if (!stop && rc != SQLITE_DONE)
        stop = db_fail(s, sql);
    sqlite3_finalize(st);
    return stop < 0 ? stop : 0;
}

int sl_store_table_put(struct sl_store *s, const char *table, const struct sl_store_row *row)
{
    char sql[2048];
    size_t len = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO \"%s\" (", table);
    for (int i = 0; i < row->n && len < sizeof(sql); i++)
        len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s\"%s\"", i ? ", " : "",
                                row->name[i]);
    for (int i = 0; i < row->n && len < sizeof(sql); i++)
        len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s", i ? ", ?" : ") VALUES (?");
    if (len + 2 >= sizeof(sql))
        return -E2BIG;
    memcpy(sql + len, ")", 2);

    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, sql);
    for (int i = 0; i < row->n; i++) {
        if (!row->val[i])
            sqlite3_bind_null(st, i + 1);
        else if (row->bytes[i])
            sqlite3_bind_blob(st, i + 1, row->val[i], (int)row->len[i], SQLITE_STATIC);
        else
            sqlite3_bind_text(st, i + 1, row->val[i], (int)row->len[i], SQLITE_STATIC);
    }
    int rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? 0 : rc == SQLITE_CONSTRAINT ? -EEXIST : db_fail(s, sql);
    sqlite3_finalize(st);
    return rc;
}

/* Row ids follow the largest copied, and fences live in counters: nothing
 * to move on. */
int sl_store_copied(struct sl_store *s)
{
    (void)s;
    return 0;
}
