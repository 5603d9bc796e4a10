/* SPDX-License-Identifier: MIT */
/* Items: insert, read, state and plan, tags, and the counts kept by triggers. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/id.h"
#include "lib/log.h"
#include "lib/sha256.h"
#include "lib/text.h"
#include "store/pg.h"

const char *const sl_pg_items_sql[PG__COUNT] = {
    /* A taken id is a refusal the transaction lives through (0 rows).
     * seq (items_seq) numbers items in the order they are stored, and
     * created_ms never goes back in that order (a clock stepped back
     * stores the time of the item before), so that a time range is a range
     * of seq (store.h, Search). */
    [PG_ITEM_INSERT]    = "INSERT INTO items (id, creator, state, upload, upload_hash,"
                          " tags, reasons, created_ms, updated_ms, matches, verdict, plan)"
                          " SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text,"
                          " $7::text, greatest($8::bigint, coalesce((SELECT created_ms FROM"
                          " items ORDER BY seq DESC LIMIT 1), 0)), $8::bigint, $9::text,"
                          " $10::text, $11::text"
                          " ON CONFLICT DO NOTHING",
    /* The same, rows in their order: each takes the latest time of those
     * before it too. */
    [PG_ITEMS_INSERT_MANY] = "INSERT INTO items (id, creator, state, upload, upload_hash,"
                          " tags, reasons, created_ms, updated_ms, matches, verdict, plan)"
                          " SELECT id, creator, state, upload, upload_hash, tags, reasons,"
                          " greatest(max(now_ms) OVER (ORDER BY ord), coalesce((SELECT"
                          " created_ms FROM items ORDER BY seq DESC LIMIT 1), 0)),"
                          " now_ms, matches, verdict, plan FROM unnest($1::text[],"
                          " $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
                          " $7::text[], $8::bigint[], $9::text[], $10::text[], $11::text[])"
                          " WITH ORDINALITY AS r(id, creator, state, upload, upload_hash, tags,"
                          " reasons, now_ms, matches, verdict, plan, ord) ORDER BY ord"
                          " ON CONFLICT DO NOTHING",
    [PG_ITEM_PEEK]      = "SELECT upload_hash, state FROM items WHERE id = $1",
    [PG_ITEM_ABSENT]    = "SELECT 1 FROM items WHERE id = $1",
    [PG_ITEM_GET]       = "SELECT id, creator, state, upload, tags, reasons,"
                          " created_ms, updated_ms, matches, verdict, plan FROM items WHERE id = $1",
    [PG_ITEM_STATES]    = "SELECT state, n FROM item_states WHERE n > 0",
    [PG_ITEM_UPDATE]    = "UPDATE items SET state = coalesce($2, state),"
                          " plan = coalesce($3, plan), updated_ms = CASE WHEN $2::text IS NULL"
                          " THEN updated_ms ELSE $4 END WHERE id = $1",
    [PG_ITEM_STATE]     = "SELECT state FROM items WHERE id = $1",
    /* On the writer: what it read holds until its commit, so that of two
     * nodes changing one item from the state they read, the second reads
     * the first's (a report's pull-back, a hold, a takedown). */
    [PG_ITEM_STATE_LOCK] = "SELECT state FROM items WHERE id = $1 FOR UPDATE",
    [PG_CREATOR_STANDING] = "SELECT uploads, rejections FROM creators WHERE creator = $1",
    [PG_CREATORS_EACH]  = "SELECT creator, uploads, rejections FROM creators",
    [PG_ITEM_MERGE_TAGS] = "UPDATE items SET tags = sluice_merge_patch(tags::jsonb, $2::jsonb)::text,"
                          " updated_ms = $3 WHERE id = $1",
};

int sl_pg_item_insert(struct sl_pg *s, const struct sl_item_row *row)
{
    struct pg_params p = { 0 };
    par_text(&p, row->id);
    par_text(&p, row->creator);
    par_text(&p, row->state);
    par_text(&p, row->upload);
    par_text(&p, row->upload_hash);
    par_text(&p, row->tags ? row->tags : "{}");
    par_text(&p, row->reasons ? row->reasons : "[]");
    par_int(&p, row->now_ms);
    par_text(&p, row->matches ? row->matches : "[]");
    par_text(&p, row->verdict);
    par_text(&p, row->plan);
    if (s->pipeline)
        return sl_pg_batch_add(s, PG_BATCH_ITEMS, &p);
    return sl_pg_write(s, PG_ITEM_INSERT, &p, PG_ONE_ELSE_EEXIST, NULL);
}

/* In a batch's first pass (a transaction, no savepoint) the answer is a
 * guess, "no such item", checked when the pipeline drains: a new upload's
 * one read would otherwise cost it a round trip of its own. A wrong guess
 * (a retried upload) fails the next sync with -EAGAIN, and the commit
 * thread's op by op pass, in savepoints, reads for real (store.h). */
int sl_pg_item_peek(struct sl_pg *s, const char *id, char *hash, char *state)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    par_text(&p, id);
    if (s->pipeline && s->in_tx && !s->in_savepoint) {
        int rc = sl_pg_write(s, PG_ITEM_ABSENT, &p, PG_NONE_ELSE_EAGAIN, NULL);
        return rc < 0 ? rc : -ENOENT;
    }
    int rc = sl_pg_row(s, PG_ITEM_PEEK, &p, &r);
    if (rc < 0)
        return rc;
    sl_copy(hash, SL_SHA256_HEX_LEN + 1, col(&r, 0));
    sl_copy(state, 32, col(&r, 1));
    return sl_pg_rows_end(&r);
}

int sl_pg_item_get(struct sl_pg *s, const char *id, json_t **out)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    par_text(&p, id);
    int rc = sl_pg_row(s, PG_ITEM_GET, &p, &r);
    if (rc < 0)
        return rc;
    json_error_t jerr;
    *out = json_pack_ex(&jerr, 0, "{s:s, s:s, s:s, s:o, s:o, s:o, s:I, s:I, s:o, s:o, s:o}",
                        "id", col(&r, 0),
                        "creator", col(&r, 1),
                        "state", col(&r, 2),
                        "upload", col_json(&r, 3),
                        "tags", col_json(&r, 4),
                        "reasons", col_json(&r, 5),
                        "created_ms", (json_int_t)col_int(&r, 6),
                        "updated_ms", (json_int_t)col_int(&r, 7),
                        "matches", col_json(&r, 8),
                        "verdict", col_json(&r, 9),
                        "plan", col_json(&r, 10));
    return sl_pg_row_packed(&r, out, &jerr, "item", id);
}

int sl_pg_item_states(struct sl_pg *s, json_t **out)
{
    struct pg_rows r;
    json_t *o = json_object();
    int rc = o ? sl_pg_rows(s, PG_ITEM_STATES, NULL, &r) : -ENOMEM, bad = 0;
    if (rc == 0) {
        while (!bad && sl_pg_next(&r)) {
            const char *state = col(&r, 0);
            if (!state || !sl_utf8_valid(state, strlen(state))) {
                sl_err("store: a count of items per state cannot be listed: its state is not "
                       "UTF-8 (edited by hand?)");
                bad = -EILSEQ;
            } else if (json_object_set_new(o, state, json_integer(col_int(&r, 1))) < 0) {
                bad = -ENOMEM;
            }
        }
        rc = sl_pg_rows_end(&r);
    }
    if (bad || rc < 0) {
        json_decref(o);
        return bad ? bad : rc;
    }
    *out = o;
    return 0;
}

int sl_pg_item_state(struct sl_pg *s, const char *id, char *state)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    par_text(&p, id);
    int rc = sl_pg_row(s, s->writer ? PG_ITEM_STATE_LOCK : PG_ITEM_STATE, &p, &r);
    if (rc < 0)
        return rc;
    sl_copy(state, 32, col(&r, 0));
    return sl_pg_rows_end(&r);
}

int sl_pg_item_set_state(struct sl_pg *s, const char *id, const char *state, int64_t now_ms)
{
    return sl_pg_item_update(s, id, state, NULL, now_ms);
}

int sl_pg_item_update(struct sl_pg *s, const char *id, const char *state, const char *plan,
                      int64_t now_ms)
{
    struct pg_params p = { 0 };
    par_text(&p, id);
    par_text(&p, state);
    par_text(&p, plan);
    par_int(&p, now_ms);
    return sl_pg_write(s, PG_ITEM_UPDATE, &p, PG_ONE_ELSE_ENOENT, NULL);
}

int sl_pg_item_merge_tags(struct sl_pg *s, const char *id, const char *tags, int64_t now_ms)
{
    struct pg_params p = { 0 };
    par_text(&p, id);
    par_text(&p, tags);
    par_int(&p, now_ms);
    return sl_pg_write(s, PG_ITEM_MERGE_TAGS, &p, PG_ANY, NULL);
}

int sl_pg_creator_standing(struct sl_pg *s, const char *creator, int64_t *uploads,
                           int64_t *rejections)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    par_text(&p, creator);
    *uploads = *rejections = 0;
    int rc = sl_pg_row(s, PG_CREATOR_STANDING, &p, &r);
    /* No row: a creator's first upload. */
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    *uploads = col_int(&r, 0);
    *rejections = col_int(&r, 1);
    return sl_pg_rows_end(&r);
}

int sl_pg_creators_each(struct sl_pg *s,
                        int (*fn)(void *arg, const char *creator, int64_t uploads,
                                  int64_t rejections),
                        void *arg)
{
    struct pg_rows r;
    int rc = sl_pg_stream(s, PG_CREATORS_EACH, NULL, &r);
    if (rc < 0)
        return rc;
    while (sl_pg_next(&r))
        if (fn(arg, col(&r, 0), col_int(&r, 1), col_int(&r, 2)))
            break;
    return sl_pg_rows_end(&r);
}
