/* SPDX-License-Identifier: MIT */
/* The review queue: put, claim under a lease and a fence, times to decision, list, depths. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/id.h"
#include "lib/text.h"
#include "store/pg.h"

/* The time to decision, in ms, of queue (a column) from sla (a parameter),
 * a JSON object of queue name -> ms with "*" for the others; NULL when it
 * has none. */
#define SLA_OF(queue, sla) \
    "(coalesce(" sla "::jsonb -> " queue ", " sla "::jsonb -> '*'))::bigint"

const char *const sl_pg_queue_sql[PG__COUNT] = {
    /* As SQLite's INSERT OR REPLACE: a put starts the entry afresh, unclaimed. */
    /* seq: the item's, for searches of a queue; an item kept for the
     * writer's multi-row insert has none yet, and its insert sets it
     * (pg_schema.c, sluice_items_indexed). */
    [PG_QUEUE_PUT]      = "INSERT INTO queue (item, queue, priority, reason, enqueued_ms,"
                          " escalated_by, seq) VALUES ($1, $2, $3, $4, $5, $6,"
                          " (SELECT seq FROM items WHERE id = $1))"
                          " ON CONFLICT (item) DO UPDATE SET queue = excluded.queue,"
                          " seq = coalesce(excluded.seq, queue.seq),"
                          " priority = excluded.priority, reason = excluded.reason,"
                          " enqueued_ms = excluded.enqueued_ms,"
                          " escalated_by = excluded.escalated_by,"
                          " claimed_by = NULL, lease_until_ms = 0, fence = 0",
    [PG_QUEUE_DEL]      = "DELETE FROM queue WHERE item = $1",
    [PG_QUEUE_GET]      = "SELECT queue, priority, claimed_by, lease_until_ms, fence,"
                          " escalated_by FROM queue WHERE item = $1",
    /* On the writer: a decision's read of its entry locks it, so that two
     * nodes deciding one item take turns and the second finds it gone. */
    [PG_QUEUE_GET_LOCK] = "SELECT queue, priority, claimed_by, lease_until_ms, fence,"
                          " escalated_by FROM queue WHERE item = $1 FOR UPDATE",
    /* Waiting: never claimed, or the claim's lease has run out; those past
     * their queue's time to decision first, then the most urgent, oldest.
     * Rows another transaction is claiming are skipped, not waited for;
     * each claim takes a new fence, so a decision carrying an older one is
     * recognisably stale even if the same person reclaimed. */
    [PG_QUEUE_CLAIM]    = "WITH waiting AS (SELECT item FROM queue"
                          "  WHERE ($1::text IS NULL OR queue = $1)"
                          "  AND (claimed_by IS NULL OR lease_until_ms <= $2)"
                          "  AND (escalated_by IS NULL OR escalated_by <> $3)"
                          "  ORDER BY coalesce(enqueued_ms + " SLA_OF("queue", "$6") " <= $2, false) DESC,"
                          "  priority DESC, enqueued_ms, item LIMIT $4"
                          "  FOR UPDATE SKIP LOCKED),"
                          " claimed AS (UPDATE queue q SET claimed_by = $3,"
                          "  lease_until_ms = $5, fence = nextval('fences')"
                          "  FROM waiting w WHERE q.item = w.item"
                          "  RETURNING q.item, q.fence, q.priority, q.enqueued_ms,"
                          "  coalesce(q.enqueued_ms + " SLA_OF("q.queue", "$6") " <= $2, false) AS overdue)"
                          " SELECT item, fence FROM claimed"
                          " ORDER BY overdue DESC, priority DESC, enqueued_ms, item",
    [PG_QUEUE_RENEW]    = "UPDATE queue SET lease_until_ms = $2 WHERE item = $1",
    [PG_QUEUE_LIST]     = "SELECT q.item, q.queue, q.priority, q.reason, q.enqueued_ms,"
                          " CASE WHEN q.lease_until_ms > $2 THEN q.claimed_by END,"
                          " CASE WHEN q.lease_until_ms > $2 THEN q.lease_until_ms END,"
                          " q.escalated_by, i.creator, i.upload::jsonb ->> 'title',"
                          " q.enqueued_ms + " SLA_OF("q.queue", "$4")
                          " FROM queue q JOIN items i ON i.id = q.item"
                          " WHERE ($1::text IS NULL OR q.queue = $1)"
                          " ORDER BY coalesce(q.enqueued_ms + " SLA_OF("q.queue", "$4") " <= $2, false) DESC,"
                          " q.priority DESC, q.enqueued_ms, q.item LIMIT $3",
    [PG_QUEUE_DEPTHS]   = "SELECT queue, count(*), min(enqueued_ms),"
                          " count(*) FILTER (WHERE claimed_by IS NOT NULL AND lease_until_ms > $1),"
                          " " SLA_OF("queue", "$2") ","
                          " count(*) FILTER (WHERE enqueued_ms + " SLA_OF("queue", "$2") " <= $1)"
                          " FROM queue GROUP BY queue ORDER BY queue",
};

int sl_pg_queue_put(struct sl_pg *s, const char *item, const char *queue, int priority,
                    const char *reason, const char *escalated_by, int64_t now_ms)
{
    struct pg_params p = { 0 };
    par_text(&p, item);
    par_text(&p, queue);
    par_int(&p, priority);
    char what[SL_ID_MAX + 40], *keep = NULL;
    const char *text;
    snprintf(what, sizeof(what), "the queue reason of item %s", item);
    int rc = text_in(reason ? reason : "", what, &text, &keep);
    if (rc < 0)
        return rc;
    par_text(&p, text);
    par_int(&p, now_ms);
    par_text(&p, escalated_by);
    /* libpq has copied the text once the statement is sent. */
    rc = sl_pg_write(s, PG_QUEUE_PUT, &p, PG_ANY, NULL);
    free(keep);
    return rc;
}

int sl_pg_queue_remove(struct sl_pg *s, const char *item)
{
    struct pg_params p = { 0 };
    par_text(&p, item);
    return sl_pg_write(s, PG_QUEUE_DEL, &p, PG_ANY, NULL);
}

int sl_pg_queue_get(struct sl_pg *s, const char *item, struct sl_queue_entry *e)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    par_text(&p, item);
    int rc = sl_pg_row(s, s->writer ? PG_QUEUE_GET_LOCK : PG_QUEUE_GET, &p, &r);
    if (rc < 0)
        return rc;
    memset(e, 0, sizeof(*e));
    sl_copy(e->queue, sizeof(e->queue), col(&r, 0));
    e->priority = (int)col_int(&r, 1);
    if (col(&r, 2))
        sl_copy(e->claimed_by, sizeof(e->claimed_by), col(&r, 2));
    e->lease_until_ms = col_int(&r, 3);
    e->fence = col_int(&r, 4);
    if (col(&r, 5))
        sl_copy(e->escalated_by, sizeof(e->escalated_by), col(&r, 5));
    return sl_pg_rows_end(&r);
}

int sl_pg_queue_claim(struct sl_pg *s, const char *queue, const char *who, int limit,
                      int64_t now_ms, int64_t lease_ms, const char *sla, json_t **out)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    json_error_t jerr;
    int bad = 0;

    if (limit > 256)
        limit = 256;
    par_text(&p, queue);
    par_int(&p, now_ms);
    par_text(&p, who);
    par_int(&p, limit);
    par_int(&p, now_ms + lease_ms);
    par_text(&p, sla ? sla : "{}");
    json_t *claimed = json_array();
    int rc = claimed ? sl_pg_rows(s, PG_QUEUE_CLAIM, &p, &r) : -ENOMEM;
    if (rc == 0) {
        while (!bad && sl_pg_next(&r)) {
            json_t *c = json_pack_ex(&jerr, 0, "{s:s, s:I, s:I}", "id", col(&r, 0),
                                     "fence", (json_int_t)col_int(&r, 1),
                                     "lease_until_ms", (json_int_t)(now_ms + lease_ms));
            /* Nothing claimed goes unanswered: the whole claim is refused
             * (the commit thread rolls it back). */
            if (!c || json_array_append_new(claimed, c) < 0)
                bad = c ? -ENOMEM : row_unreadable(&jerr, "the id of a queue entry");
        }
        rc = sl_pg_rows_end(&r);
    }
    if (bad || rc < 0) {
        json_decref(claimed);
        return bad ? bad : rc;
    }
    *out = claimed;
    return 0;
}

int sl_pg_queue_renew(struct sl_pg *s, const char *item, int64_t lease_until_ms)
{
    struct pg_params p = { 0 };
    par_text(&p, item);
    par_int(&p, lease_until_ms);
    return sl_pg_write(s, PG_QUEUE_RENEW, &p, PG_ANY, NULL);
}

int sl_pg_queue_list(struct sl_pg *s, const char *queue, int limit, int64_t now_ms,
                     const char *sla, json_t **out)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    json_error_t jerr;
    int bad = 0;

    par_text(&p, queue);
    par_int(&p, now_ms);
    par_int(&p, limit);
    par_text(&p, sla ? sla : "{}");
    json_t *list = json_array();
    int rc = list ? sl_pg_rows(s, PG_QUEUE_LIST, &p, &r) : -ENOMEM;
    if (rc == 0) {
        while (!bad && sl_pg_next(&r)) {
            json_t *e = json_pack_ex(&jerr, 0, "{s:s, s:s, s:i, s:s, s:I, s:o, s:o, s:o, s:s, s:o, s:o, s:b}",
                "id", col(&r, 0),
                "queue", col(&r, 1),
                "priority", (int)col_int(&r, 2),
                "reason", col(&r, 3),
                "enqueued_ms", (json_int_t)col_int(&r, 4),
                "claimed_by", col_string_or_null(&r, 5),
                "lease_until_ms", col_int_or_null(&r, 6),
                "escalated_by", col_string_or_null(&r, 7),
                "creator", col(&r, 8),
                "title", col_string_or_null(&r, 9),
                "due_ms", col_int_or_null(&r, 10),
                "overdue", col(&r, 10) && col_int(&r, 10) <= now_ms);
            if (!e || json_array_append_new(list, e) < 0) {
                char what[SL_ID_MAX + 40];
                snprintf(what, sizeof(what), "the queue entry of item %s", col(&r, 0));
                bad = e ? -ENOMEM : row_unreadable(&jerr, what);
            }
        }
        rc = sl_pg_rows_end(&r);
    }
    /* The title is read in SQL, which stops at an upload that is not JSON
     * without saying whose; parsing each upload twice on every listing to
     * name it here would cost every moderator. */
    if (!bad && rc == -EILSEQ)
        sl_err("store: the queue cannot be listed: an item's upload is not JSON (edited by "
               "hand?)");
    if (bad || rc < 0) {
        json_decref(list);
        return bad ? bad : rc;
    }
    *out = list;
    return 0;
}

int sl_pg_queue_depths(struct sl_pg *s, int64_t now_ms, const char *sla, json_t **out)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    json_error_t jerr;
    int bad = 0;

    par_int(&p, now_ms);
    par_text(&p, sla ? sla : "{}");
    json_t *list = json_array();
    int rc = list ? sl_pg_rows(s, PG_QUEUE_DEPTHS, &p, &r) : -ENOMEM;
    if (rc == 0) {
        while (!bad && sl_pg_next(&r)) {
            json_t *q = json_pack_ex(&jerr, 0, "{s:s, s:I, s:I, s:I, s:o, s:I}",
                "name", col(&r, 0),
                "depth", (json_int_t)col_int(&r, 1),
                "oldest_ms", (json_int_t)col_int(&r, 2),
                "claimed", (json_int_t)col_int(&r, 3),
                "sla_ms", col_int_or_null(&r, 4),
                "overdue", (json_int_t)col_int(&r, 5));
            if (!q || json_array_append_new(list, q) < 0)
                bad = q ? -ENOMEM : row_unreadable(&jerr, "a queue's name");
        }
        rc = sl_pg_rows_end(&r);
    }
    if (bad || rc < 0) {
        json_decref(list);
        return bad ? bad : rc;
    }
    *out = list;
    return 0;
}
