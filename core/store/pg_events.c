/* SPDX-License-Identifier: MIT */
/* Events in packed batches, the per-item counters, named marks. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/chain.h"
#include "store/pg.h"

const char *const sl_pg_events_sql[PG__COUNT] = {
    [PG_EVENT_INSERT]   = "INSERT INTO event_batches (ts_ms, n, data) VALUES ($1, $2, $3)"
                          " RETURNING seq",
    [PG_COUNTER_ADD]    = "INSERT INTO item_counts VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
                          " $9, $10, $11) ON CONFLICT (item) DO UPDATE SET"
                          " c0 = item_counts.c0 + $2, c1 = item_counts.c1 + $3,"
                          " c2 = item_counts.c2 + $4, c3 = item_counts.c3 + $5,"
                          " c4 = item_counts.c4 + $6, c5 = item_counts.c5 + $7,"
                          " c6 = item_counts.c6 + $8, c7 = item_counts.c7 + $9,"
                          " c8 = item_counts.c8 + $10, c9 = item_counts.c9 + $11",
    /* One statement, so the mark and the counts are of one moment. */
    [PG_COUNTERS_GET]   = "SELECT (SELECT value FROM counters WHERE name = $2),"
                          " c0, c1, c2, c3, c4, c5, c6, c7, c8, c9"
                          " FROM (SELECT 1) AS one LEFT JOIN item_counts ON item = $1",
    /* This node's batches alone (several nodes: each adds up what it took,
     * and its batches are numbered in its commit order; the others'
     * interleave). */
    [PG_EVENTS_SINCE]   = "SELECT seq, n, data FROM event_batches WHERE seq > $1"
                          " AND node IS NOT DISTINCT FROM current_setting('sluice.node', true)"
                          " ORDER BY seq",
    [PG_MARK_GET]       = "SELECT value FROM counters WHERE name = $1",
    [PG_MARK_SET]       = "INSERT INTO counters (name, value) VALUES ($1, $2)"
                          " ON CONFLICT (name) DO UPDATE SET value = $2",
};

/* Packed as chain.h says, the same bytes as SQLite's. */
int sl_pg_events_insert(struct sl_pg *s, const struct sl_event_row *ev, size_t n,
                        int64_t now_ms, int64_t *seq)
{
    uint8_t *buf;
    size_t len;
    int rc = sl_events_pack(ev, n, &buf, &len);
    if (rc < 0)
        return rc;
    struct pg_params p = { 0 };
    par_int(&p, now_ms);
    par_int(&p, (int64_t)n);
    par_bytes(&p, buf, len);
    /* libpq has copied the bytes once the statement is sent. */
    rc = sl_pg_write(s, PG_EVENT_INSERT, &p, PG_ANY, seq);
    free(buf);
    return rc;
}

int sl_pg_events_since(struct sl_pg *s, int64_t after,
                       int (*each)(void *arg, int64_t seq, const struct sl_event_row *ev),
                       void *arg)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    int stop = 0;

    par_int(&p, after);
    int rc = sl_pg_stream(s, PG_EVENTS_SINCE, &p, &r);
    if (rc < 0)
        return rc;
    while (!stop && sl_pg_next(&r)) {
        size_t len;
        unsigned char *data = PQunescapeBytea((const unsigned char *)col(&r, 2), &len);
        if (!data) {
            stop = -ENOMEM;
            break;
        }
        stop = sl_events_unpack(col_int(&r, 0), data, len, col_int(&r, 1), each, arg);
        PQfreemem(data);
    }
    rc = sl_pg_rows_end(&r);
    return stop < 0 ? stop : rc;
}

int sl_pg_counters_add(struct sl_pg *s, const char *item, const int64_t n[SL_STORE_COUNTERS])
{
    struct pg_params p = { 0 };
    par_text(&p, item);
    for (int k = 0; k < SL_STORE_COUNTERS; k++)
        par_int(&p, n[k]);
    return sl_pg_write(s, PG_COUNTER_ADD, &p, PG_ANY, NULL);
}

int sl_pg_counters_get(struct sl_pg *s, const char *item, const char *mark,
                       int64_t counts[SL_STORE_COUNTERS], int64_t *counted)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    par_text(&p, item);
    par_text(&p, mark);
    int rc = sl_pg_row(s, PG_COUNTERS_GET, &p, &r);
    if (rc < 0)
        return rc == -ENOENT ? -EIO : rc;
    *counted = col_int(&r, 0);
    for (int k = 0; k < SL_STORE_COUNTERS; k++)
        counts[k] = col_int(&r, k + 1);     /* NULL, no row yet: 0 */
    return sl_pg_rows_end(&r);
}

int sl_pg_mark_get(struct sl_pg *s, const char *name, int64_t *value)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    par_text(&p, name);
    *value = 0;
    int rc = sl_pg_row(s, PG_MARK_GET, &p, &r);
    if (rc < 0)
        return rc;
    *value = col_int(&r, 0);
    return sl_pg_rows_end(&r);
}

int sl_pg_mark_set(struct sl_pg *s, const char *name, int64_t value)
{
    struct pg_params p = { 0 };
    par_text(&p, name);
    par_int(&p, value);
    return sl_pg_write(s, PG_MARK_SET, &p, PG_ANY, NULL);
}
