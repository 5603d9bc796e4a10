/* SPDX-License-Identifier: MIT */
/* The change feed: other nodes' writes read in commit order, a window at a time. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "store/pg.h"

/*
 * The triggers of migration 13 write a row into `changes` in the
 * transaction of every change other nodes must learn (tx: its id), and
 * notify sluice_changes at its commit. A row is final once its
 * transaction is older than every transaction still running: the horizon
 * h = pg_snapshot_xmin(pg_current_snapshot()). A window reads the rows
 * with from <= tx < h in seq order, then the event batches of the same
 * window; the next window starts at h. Windows never overlap, so each row
 * is read once; a change made after another committed has a later tx, so
 * it is never read before it. A long transaction (a bulk job, a migrate)
 * holds the horizon back while it runs: the feed waits for it.
 */

const char *const sl_pg_feed_sql[PG__COUNT] = {
    [PG_NODE_SET]       = "SELECT set_config('sluice.node', $1, false)",
    [PG_FEED_HORIZON]   = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text",
    [PG_FEED_CHANGES]   = "SELECT seq, node, kind, item, \"user\", data FROM changes"
                          " WHERE tx >= $1::xid8 AND tx < $2::xid8 ORDER BY seq",
    /* The page's first limit items not yet served to user, in its order,
     * marked served (schema 14's table): the rows inserted are the items
     * this claim served. One another node claims at this moment waits for
     * that claim's commit and is then left out (ON CONFLICT DO NOTHING),
     * so never both; inserted in id order, as every claim does, so two
     * claims overlapping never deadlock. */
    [PG_OFFERS_CLAIM]   = "WITH pick AS ("
                          "  SELECT w.item FROM unnest($2::text[]) WITH ORDINALITY AS w(item, ord)"
                          "  WHERE NOT EXISTS (SELECT 1 FROM served s"
                          "   WHERE s.item = w.item AND s.\"user\" = $1)"
                          "  ORDER BY w.ord LIMIT $3)"
                          " INSERT INTO served (\"user\", item)"
                          " SELECT $1, item FROM pick ORDER BY item COLLATE \"C\""
                          " ON CONFLICT DO NOTHING RETURNING item",
    [PG_POLICY_PUT]     = "INSERT INTO policy_sets (version, files, at_ms, by)"
                          " VALUES ($1, $2, $3, $4) ON CONFLICT (version) DO UPDATE"
                          " SET at_ms = excluded.at_ms, by = excluded.by,"
                          " seq = nextval(pg_get_serial_sequence('policy_sets', 'seq'))",
    [PG_POLICY_GET]     = "SELECT version, files FROM policy_sets WHERE version = $1",
    [PG_POLICY_NEWEST]  = "SELECT version, files FROM policy_sets ORDER BY seq DESC LIMIT 1",
    [PG_FEED_EVENTS]    = "SELECT seq, n, data, node FROM event_batches"
                          " WHERE tx >= $1::xid8 AND tx < $2::xid8 ORDER BY seq",
};

int sl_pg_node_set(struct sl_pg *s, const char *name)
{
    struct pg_params p = { 0 };
    sl_copy(s->node, sizeof(s->node), name);
    par_text(&p, name);
    return sl_pg_write(s, PG_NODE_SET, &p, PG_ANY, NULL);
}

int sl_pg_feed_horizon(struct sl_pg *s, uint64_t *h)
{
    struct pg_rows r;
    int rc = sl_pg_row(s, PG_FEED_HORIZON, NULL, &r);
    if (rc < 0)
        return rc;
    *h = strtoull(col(&r, 0), NULL, 10);
    return sl_pg_rows_end(&r);
}

struct feed_events {
    const char *node;
    int (*event)(void *arg, const char *node, const struct sl_event_row *ev);
    void *arg;
};

static int one_event(void *arg, int64_t seq, const struct sl_event_row *ev)
{
    struct feed_events *fe = arg;
    (void)seq;
    return fe->event(fe->arg, fe->node, ev);
}

int sl_pg_feed_window(struct sl_pg *s, uint64_t from, uint64_t to,
                      int (*change)(void *arg, const struct sl_store_change *c),
                      int (*event)(void *arg, const char *node, const struct sl_event_row *ev),
                      void *arg)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    char a[24], b[24];
    int stop = 0;

    snprintf(a, sizeof(a), "%" PRIu64, from);
    snprintf(b, sizeof(b), "%" PRIu64, to);
    par_text(&p, a);
    par_text(&p, b);
    int rc = sl_pg_rows(s, PG_FEED_CHANGES, &p, &r);
    if (rc < 0)
        return rc;
    while (!stop && sl_pg_next(&r)) {
        struct sl_store_change c = { col_int(&r, 0), col(&r, 1), col(&r, 2), col(&r, 3),
                                     col(&r, 4), col(&r, 5) };
        stop = change(arg, &c);
    }
    rc = sl_pg_rows_end(&r);
    if (rc < 0 || stop)
        return rc < 0 ? rc : stop;
    if ((rc = sl_pg_rows(s, PG_FEED_EVENTS, &p, &r)) < 0)
        return rc;
    while (!stop && sl_pg_next(&r)) {
        size_t len;
        unsigned char *data = PQunescapeBytea((const unsigned char *)col(&r, 2), &len);
        struct feed_events fe = { col(&r, 3), event, arg };
        if (!data) {
            stop = -ENOMEM;
            break;
        }
        stop = sl_events_unpack(col_int(&r, 0), data, len, col_int(&r, 1), one_event, &fe);
        PQfreemem(data);
    }
    rc = sl_pg_rows_end(&r);
    return stop ? stop : rc;
}

/* LISTEN (again after a reconnection), then wait for a notification or
 * timeout_ms: 1 notified, 0 not, or -EIO. */
int sl_pg_feed_wait(struct sl_pg *s, int timeout_ms)
{
    PGnotify *n;
    int got = 0;

    if (PQstatus(s->conn) != CONNECTION_OK) {
        s->listening = false;
        return -EIO;            /* the next query connects again */
    }
    if (!s->listening) {
        if (sl_pg_exec(s, "LISTEN sluice_changes") < 0)
            return -EIO;
        s->listening = true;
    }
    while ((n = PQnotifies(s->conn)) != NULL) {
        PQfreemem(n);
        got = 1;
    }
    if (got)
        return 1;
    struct pollfd pfd = { PQsocket(s->conn), POLLIN, 0 };
    if (pfd.fd < 0)
        return -EIO;
    if (poll(&pfd, 1, timeout_ms) > 0 && PQconsumeInput(s->conn) != 1) {
        s->listening = false;
        return -EIO;
    }
    while ((n = PQnotifies(s->conn)) != NULL) {
        PQfreemem(n);
        got = 1;
    }
    return got;
}

int sl_pg_offers_claim(struct sl_pg *s, const char *user, json_t *items, int limit,
                       json_t **claimed)
{
    struct pg_params p = { 0 };
    size_t i, len = 0, cap = 0;
    json_t *v;
    char *list = NULL;
    int rc = 0;

    json_array_foreach(items, i, v)
        if (rc == 0)
            rc = sl_pg_array_add(&list, &len, &cap, i == 0,
                                 json_string_value(v) ? json_string_value(v) : "");
    if (rc == 0)
        rc = sl_pg_array_close(&list, &len, &cap);
    if (rc == 0) {
        par_text(&p, user);
        par_text(&p, list);
        par_int(&p, limit);
        rc = sl_pg_ids(s, PG_OFFERS_CLAIM, &p, claimed);
    }
    free(list);
    return rc;
}

int sl_pg_policy_put(struct sl_pg *s, const char *version, const char *files, int64_t at_ms,
                     const char *by)
{
    struct pg_params p = { 0 };
    par_text(&p, version);
    par_text(&p, files);
    par_int(&p, at_ms);
    par_text(&p, by);
    return sl_pg_write(s, PG_POLICY_PUT, &p, PG_ANY, NULL);
}

int sl_pg_policy_get(struct sl_pg *s, const char *version, char **got, char **files)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    int rc;

    if (version)
        par_text(&p, version);
    if ((rc = sl_pg_row(s, version ? PG_POLICY_GET : PG_POLICY_NEWEST, &p, &r)) < 0)
        return rc;
    *got = strdup(col(&r, 0));
    *files = strdup(col(&r, 1));
    rc = sl_pg_rows_end(&r);
    if (!*got || !*files || rc < 0) {
        free(*got);
        free(*files);
        *got = *files = NULL;
        return rc < 0 ? rc : -ENOMEM;
    }
    return 0;
}
