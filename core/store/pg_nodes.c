/* SPDX-License-Identifier: MIT */
/* The nodes sharing this database: who they are and when each was last seen. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "store/pg.h"

/* Times of liveness are the database's clock (sluice_ms(), pg_schema.c),
 * which every node shares, so that no node's clock (or simulated clock)
 * decides whether another is alive. */
const char *const sl_pg_nodes_sql[PG__COUNT] = {
    /* A name is free when nobody holds it, or its holder stopped beating:
     * the row is then taken over (a restart after a crash). */
    [PG_NODE_JOIN]      = "INSERT INTO nodes (name, started_ms, seen_ms, version)"
                          " VALUES ($1, $2, sluice_ms(), $3) ON CONFLICT (name) DO UPDATE"
                          " SET started_ms = excluded.started_ms, seen_ms = excluded.seen_ms,"
                          " version = excluded.version"
                          " WHERE nodes.seen_ms <= sluice_ms() - $4 OR nodes.started_ms = $5"
                          " RETURNING name",
    [PG_NODE_SEEN]      = "SELECT sluice_ms() - seen_ms FROM nodes WHERE name = $1",
    [PG_NODE_BEAT]      = "UPDATE nodes SET seen_ms = sluice_ms(), policy = $3"
                          " WHERE name = $1 AND started_ms = $2",
    [PG_NODE_LEAVE]     = "DELETE FROM nodes WHERE name = $1 AND started_ms = $2",
    [PG_FENCE_NEXT]     = "SELECT nextval('fences')",
    /* Leases: an item's row is locked by the take or check of the
     * transaction writing about it, so a takeover (SKIP LOCKED) or a drop
     * waits for, or skips, a write in flight. */
    [PG_LEASE_TAKE]     = "INSERT INTO item_leases (item, node, fence, until_ms)"
                          " VALUES ($1, $2, $3, sluice_ms() + $4) ON CONFLICT (item) DO UPDATE"
                          " SET node = excluded.node, fence = excluded.fence,"
                          " until_ms = excluded.until_ms"
                          " WHERE item_leases.until_ms < sluice_ms()"
                          " OR (item_leases.node = excluded.node"
                          "     AND item_leases.fence = excluded.fence)"
                          " RETURNING item",
    [PG_LEASE_CHECK]    = "SELECT 1 FROM item_leases WHERE item = $1 AND node = $2 AND fence = $3"
                          " FOR SHARE",
    [PG_LEASE_DROP]     = "DELETE FROM item_leases WHERE item = $1",
    [PG_LEASE_GONE]     = "DELETE FROM item_leases WHERE item = $1 AND node = $2 AND fence = $3",
    [PG_LEASE_EXPIRE]   = "UPDATE item_leases SET until_ms = 0"
                          " WHERE item = $1 AND node = $2 AND fence = $3",
    [PG_LEASES_RENEW]   = "UPDATE item_leases SET until_ms = sluice_ms() + $3"
                          " WHERE node = $1 AND fence = $2 RETURNING item",
    [PG_LEASES_TAKEOVER] = "UPDATE item_leases l SET node = $1, fence = $2,"
                          " until_ms = sluice_ms() + $3"
                          " FROM (SELECT item FROM item_leases"
                          "  WHERE until_ms < sluice_ms() OR (node = $1 AND fence <> $2)"
                          "  ORDER BY until_ms LIMIT $4 FOR UPDATE SKIP LOCKED) t"
                          " WHERE l.item = t.item RETURNING l.item",
    [PG_NODES_LIST]     = "SELECT name, started_ms, sluice_ms() - seen_ms, version, policy FROM nodes"
                          " ORDER BY name",
};

int sl_pg_node_join(struct sl_pg *s, const char *name, const char *version,
                    int64_t started_ms, int64_t before_ms, int64_t live_ms,
                    int64_t *seen_ago_ms)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    par_text(&p, name);
    par_int(&p, started_ms);
    par_text(&p, version);
    par_int(&p, live_ms);
    par_int(&p, before_ms);
    int rc = sl_pg_row(s, PG_NODE_JOIN, &p, &r);
    if (rc == 0)
        return sl_pg_rows_end(&r);
    if (rc != -ENOENT)
        return rc;
    /* Refused: say since when the other one is around. */
    p = (struct pg_params){ 0 };
    par_text(&p, name);
    if ((rc = sl_pg_row(s, PG_NODE_SEEN, &p, &r)) < 0)
        return rc;
    *seen_ago_ms = col_int(&r, 0);
    rc = sl_pg_rows_end(&r);
    return rc < 0 ? rc : -EBUSY;
}

int sl_pg_node_beat(struct sl_pg *s, const char *name, int64_t started_ms, const char *policy)
{
    struct pg_params p = { 0 };
    par_text(&p, name);
    par_int(&p, started_ms);
    par_text(&p, policy);
    return sl_pg_write(s, PG_NODE_BEAT, &p, PG_ONE_ELSE_ENOENT, NULL);
}

int sl_pg_node_leave(struct sl_pg *s, const char *name, int64_t started_ms)
{
    struct pg_params p = { 0 };
    par_text(&p, name);
    par_int(&p, started_ms);
    return sl_pg_write(s, PG_NODE_LEAVE, &p, PG_ANY, NULL);
}

static json_t *node_row(const struct pg_rows *r)
{
    return json_pack("{s:s, s:I, s:I, s:s, s:s}", "name", col(r, 0),
                     "started_ms", (json_int_t)col_int(r, 1),
                     "seen_ago_ms", (json_int_t)col_int(r, 2),
                     "version", col(r, 3) ? col(r, 3) : "",
                     "policy", col(r, 4) ? col(r, 4) : "");
}

int sl_pg_nodes_list(struct sl_pg *s, json_t **out)
{
    return sl_pg_list(s, PG_NODES_LIST, NULL, node_row, out);
}

int sl_pg_fence_next(struct sl_pg *s, int64_t *fence)
{
    struct pg_rows r;
    int rc = sl_pg_row(s, PG_FENCE_NEXT, NULL, &r);
    if (rc < 0)
        return rc;
    *fence = col_int(&r, 0);
    return sl_pg_rows_end(&r);
}

/* {====================== Item leases ================================== */

int sl_pg_lease_take(struct sl_pg *s, const char *item, const char *node, int64_t fence,
                     int64_t lease_ms)
{
    struct pg_params p = { 0 };
    par_text(&p, item);
    par_text(&p, node);
    par_int(&p, fence);
    par_int(&p, lease_ms);
    return sl_pg_write(s, PG_LEASE_TAKE, &p, PG_ONE_ELSE_ESTALE, NULL);
}

int sl_pg_lease_check(struct sl_pg *s, const char *item, const char *node, int64_t fence)
{
    struct pg_params p = { 0 };
    par_text(&p, item);
    par_text(&p, node);
    par_int(&p, fence);
    return sl_pg_write(s, PG_LEASE_CHECK, &p, PG_ONE_ELSE_ESTALE, NULL);
}

int sl_pg_lease_drop(struct sl_pg *s, const char *item)
{
    struct pg_params p = { 0 };
    par_text(&p, item);
    return sl_pg_write(s, PG_LEASE_DROP, &p, PG_ANY, NULL);
}

int sl_pg_lease_give_up(struct sl_pg *s, const char *item, const char *node, int64_t fence,
                        bool gone)
{
    struct pg_params p = { 0 };
    par_text(&p, item);
    par_text(&p, node);
    par_int(&p, fence);
    return sl_pg_write(s, gone ? PG_LEASE_GONE : PG_LEASE_EXPIRE, &p, PG_ANY, NULL);
}

int sl_pg_leases_renew(struct sl_pg *s, const char *node, int64_t fence, int64_t lease_ms,
                       json_t **items)
{
    struct pg_params p = { 0 };
    par_text(&p, node);
    par_int(&p, fence);
    par_int(&p, lease_ms);
    return sl_pg_ids(s, PG_LEASES_RENEW, &p, items);
}

int sl_pg_leases_takeover(struct sl_pg *s, const char *node, int64_t fence, int64_t lease_ms,
                          int limit, json_t **items)
{
    struct pg_params p = { 0 };
    par_text(&p, node);
    par_int(&p, fence);
    par_int(&p, lease_ms);
    par_int(&p, limit);
    return sl_pg_ids(s, PG_LEASES_TAKEOVER, &p, items);
}

/* }===================================================================== */
