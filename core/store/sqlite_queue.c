/* SPDX-License-Identifier: MIT */
/* The review queue: put, claim under a lease and a fence, list, depths. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/id.h"
#include "lib/text.h"
#include "store/sqlite.h"

/* The time to decision, in ms, of queue (a column) from sla, a JSON object
 * of queue name -> ms with "*" for the others; NULL when it has none.
 * Queue names are ids, which hold no quote. */
#define SLA_OF(queue, sla) \
    "coalesce(json_extract(" sla ", '$.\"' || " queue " || '\"'), json_extract(" sla ", '$.\"*\"'))"

const char *const sl_sqlite_queue_sql[ST__COUNT] = {
    [ST_QUEUE_PUT]      = "INSERT OR REPLACE INTO queue (item, queue, priority, reason,"
                          " enqueued_ms, escalated_by, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
                          " (SELECT seq FROM items WHERE id = ?1))",
    [ST_QUEUE_DEL]      = "DELETE FROM queue WHERE item = ?",
    [ST_QUEUE_GET]      = "SELECT queue, priority, claimed_by, lease_until_ms, fence,"
                          " escalated_by FROM queue WHERE item = ?",
    /* Waiting: never claimed, or the claim's lease has run out. Those past
     * their queue's time to decision first, then the most urgent, oldest. */
    [ST_QUEUE_AVAILABLE] = "SELECT item FROM queue"
                          " WHERE (?1 IS NULL OR queue = ?1)"
                          " AND (claimed_by IS NULL OR lease_until_ms <= ?2)"
                          " AND (escalated_by IS NULL OR escalated_by != ?3)"
                          " ORDER BY coalesce(enqueued_ms + " SLA_OF("queue", "?5") " <= ?2, 0) DESC,"
                          " priority DESC, enqueued_ms, item LIMIT ?4",
    [ST_QUEUE_CLAIM]    = "UPDATE queue SET claimed_by = ?2, lease_until_ms = ?3, fence = ?4"
                          " WHERE item = ?1",
    [ST_QUEUE_RENEW]    = "UPDATE queue SET lease_until_ms = ?2 WHERE item = ?1",
    [ST_QUEUE_LIST]     = "SELECT q.item, q.queue, q.priority, q.reason, q.enqueued_ms,"
                          " CASE WHEN q.lease_until_ms > ?2 THEN q.claimed_by END,"
                          " CASE WHEN q.lease_until_ms > ?2 THEN q.lease_until_ms END,"
                          " q.escalated_by, i.creator, json_extract(i.upload, '$.title'),"
                          " q.enqueued_ms + " SLA_OF("q.queue", "?4")
                          " FROM queue q JOIN items i ON i.id = q.item"
                          " WHERE (?1 IS NULL OR q.queue = ?1)"
                          " ORDER BY coalesce(q.enqueued_ms + " SLA_OF("q.queue", "?4") " <= ?2, 0) DESC,"
                          " q.priority DESC, q.enqueued_ms, q.item LIMIT ?3",
    [ST_QUEUE_DEPTHS]   = "SELECT queue, count(*), min(enqueued_ms),"
                          " coalesce(sum(claimed_by IS NOT NULL AND lease_until_ms > ?1), 0),"
                          " " SLA_OF("queue", "?2") ","
                          " coalesce(sum(enqueued_ms + " SLA_OF("queue", "?2") " <= ?1), 0)"
                          " FROM queue GROUP BY queue ORDER BY queue",
    [ST_FENCE_NEXT]     = "UPDATE counters SET value = value + 1 WHERE name = 'fence'"
                          " RETURNING value",
};

int sl_store_queue_put(struct sl_store *s, const char *item, const char *queue,
                       int priority, const char *reason, const char *escalated_by,
                       int64_t now_ms)
{
    char what[SL_ID_MAX + 40];
    sqlite3_stmt *st = stmt_get(s, ST_QUEUE_PUT);
    bind_text(st, 1, item);
    bind_text(st, 2, queue);
    sqlite3_bind_int(st, 3, priority);
    snprintf(what, sizeof(what), "the queue reason of item %s", item);
    int rc = bind_utf8(st, 4, reason ? reason : "", what);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 5, now_ms);
    bind_text(st, 6, escalated_by);
    return stmt_done(s, st, "queue put");
}

int sl_store_queue_remove(struct sl_store *s, const char *item)
{
    sqlite3_stmt *st = stmt_get(s, ST_QUEUE_DEL);
    bind_text(st, 1, item);
    return stmt_done(s, st, "queue remove");
}

int sl_store_queue_get(struct sl_store *s, const char *item, struct sl_queue_entry *e)
{
    sqlite3_stmt *st = stmt_get(s, ST_QUEUE_GET);
    bind_text(st, 1, item);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        memset(e, 0, sizeof(*e));
        sl_copy(e->queue, sizeof(e->queue), col_text(st, 0));
        e->priority = sqlite3_column_int(st, 1);
        if (col_text(st, 2))
            sl_copy(e->claimed_by, sizeof(e->claimed_by), col_text(st, 2));
        e->lease_until_ms = sqlite3_column_int64(st, 3);
        e->fence = sqlite3_column_int64(st, 4);
        if (col_text(st, 5))
            sl_copy(e->escalated_by, sizeof(e->escalated_by), col_text(st, 5));
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_fail(s, "queue get");
}

int sl_store_queue_claim(struct sl_store *s, const char *queue, const char *who,
                         int limit, int64_t now_ms, int64_t lease_ms, const char *sla,
                         json_t **out)
{
    char ids[256][129];
    int n = 0, rc;
    sqlite3_stmt *st = stmt_get(s, ST_QUEUE_AVAILABLE);

    if (limit > 256)
        limit = 256;
    bind_text(st, 1, queue);
    sqlite3_bind_int64(st, 2, now_ms);
    bind_text(st, 3, who);
    sqlite3_bind_int(st, 4, limit);
    bind_text(st, 5, sla ? sla : "{}");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < limit)
        sl_copy(ids[n++], sizeof(ids[0]), col_text(st, 0));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return db_fail(s, "queue available");

    json_t *claimed = json_array();
    if (!claimed)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        /* Every claim takes a new fence, so a decision carrying an older
         * one is recognisably stale even if the same person reclaimed. */
        st = stmt_get(s, ST_FENCE_NEXT);
        if (sqlite3_step(st) != SQLITE_ROW) {
            sqlite3_reset(st);
            json_decref(claimed);
            return db_fail(s, "fence");
        }
        int64_t fence = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        st = stmt_get(s, ST_QUEUE_CLAIM);
        bind_text(st, 1, ids[i]);
        bind_text(st, 2, who);
        sqlite3_bind_int64(st, 3, now_ms + lease_ms);
        sqlite3_bind_int64(st, 4, fence);
        if ((rc = stmt_done(s, st, "queue claim")) < 0) {
            json_decref(claimed);
            return rc;
        }
        json_error_t jerr;
        json_t *c = json_pack_ex(&jerr, 0, "{s:s, s:I, s:I}", "id", ids[i],
                                 "fence", (json_int_t)fence,
                                 "lease_until_ms", (json_int_t)(now_ms + lease_ms));
        if (!c || json_array_append_new(claimed, c) < 0) {
            /* Nothing claimed goes unanswered: the whole claim is refused. */
            json_decref(claimed);
            return c ? -ENOMEM : row_unreadable(&jerr, "the id of a queue entry");
        }
    }
    *out = claimed;
    return 0;
}

int sl_store_queue_renew(struct sl_store *s, const char *item, int64_t lease_until_ms)
{
    sqlite3_stmt *st = stmt_get(s, ST_QUEUE_RENEW);
    bind_text(st, 1, item);
    sqlite3_bind_int64(st, 2, lease_until_ms);
    return stmt_done(s, st, "queue renew");
}

int sl_store_queue_list(struct sl_store *s, const char *queue, int limit, int64_t now_ms,
                        const char *sla, json_t **out)
{
    sqlite3_stmt *st = stmt_get(s, ST_QUEUE_LIST);
    int rc = SQLITE_DONE;

    bind_text(st, 1, queue);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int(st, 3, limit);
    bind_text(st, 4, sla ? sla : "{}");
    json_t *list = json_array();
    json_error_t jerr;
    int bad = list ? 0 : -ENOMEM;
    while (!bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *e = json_pack_ex(&jerr, 0, "{s:s, s:s, s:i, s:s, s:I, s:o, s:o, s:o, s:s, s:o, s:o, s:b}",
            "id", col_text(st, 0),
            "queue", col_text(st, 1),
            "priority", sqlite3_column_int(st, 2),
            "reason", col_text(st, 3),
            "enqueued_ms", (json_int_t)sqlite3_column_int64(st, 4),
            "claimed_by", col_string_or_null(st, 5),
            "lease_until_ms", sqlite3_column_type(st, 6) == SQLITE_NULL
                ? json_null() : json_integer(sqlite3_column_int64(st, 6)),
            "escalated_by", col_string_or_null(st, 7),
            "creator", col_text(st, 8),
            "title", col_string_or_null(st, 9),
            "due_ms", sqlite3_column_type(st, 10) == SQLITE_NULL
                ? json_null() : json_integer(sqlite3_column_int64(st, 10)),
            "overdue", sqlite3_column_type(st, 10) != SQLITE_NULL &&
                sqlite3_column_int64(st, 10) <= now_ms);
        if (!e || json_array_append_new(list, e) < 0) {
            char what[SL_ID_MAX + 40];
            snprintf(what, sizeof(what), "the queue entry of item %s", col_text(st, 0));
            bad = e ? -ENOMEM : row_unreadable(&jerr, what);
        }
    }
    /* json_extract stops the query at an upload that is not JSON, without
     * saying whose: one query finds it, and parsing each upload twice on
     * every listing to name it here would cost every moderator. */
    if (!bad && rc == SQLITE_ERROR && strcmp(sqlite3_errmsg(s->db), "malformed JSON") == 0) {
        sl_err("store: the queue cannot be listed: an item's upload is not JSON (edited by "
               "hand?); SELECT id FROM items WHERE NOT json_valid(upload) finds it");
        bad = -EILSEQ;
    }
    sqlite3_reset(st);
    if (bad || rc != SQLITE_DONE) {
        json_decref(list);
        return bad ? bad : db_fail(s, "queue list");
    }
    *out = list;
    return 0;
}

int sl_store_queue_depths(struct sl_store *s, int64_t now_ms, const char *sla, json_t **out)
{
    sqlite3_stmt *st = stmt_get(s, ST_QUEUE_DEPTHS);
    int rc = SQLITE_DONE;

    sqlite3_bind_int64(st, 1, now_ms);
    bind_text(st, 2, sla ? sla : "{}");
    json_t *list = json_array();
    json_error_t jerr;
    int bad = list ? 0 : -ENOMEM;
    while (!bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *q = json_pack_ex(&jerr, 0, "{s:s, s:I, s:I, s:I, s:o, s:I}",
            "name", col_text(st, 0),
            "depth", (json_int_t)sqlite3_column_int64(st, 1),
            "oldest_ms", (json_int_t)sqlite3_column_int64(st, 2),
            "claimed", (json_int_t)sqlite3_column_int64(st, 3),
            "sla_ms", sqlite3_column_type(st, 4) == SQLITE_NULL
                ? json_null() : json_integer(sqlite3_column_int64(st, 4)),
            "overdue", (json_int_t)sqlite3_column_int64(st, 5));
        if (!q || json_array_append_new(list, q) < 0)
            bad = q ? -ENOMEM : row_unreadable(&jerr, "a queue's name");
    }
    sqlite3_reset(st);
    if (bad || rc != SQLITE_DONE) {
        json_decref(list);
        return bad ? bad : db_fail(s, "queue depths");
    }
    *out = list;
    return 0;
}
