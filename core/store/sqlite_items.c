/* SPDX-License-Identifier: MIT */
/* Items: insert, read, state and plan, tags, and the counts kept by triggers. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/id.h"
#include "lib/sha256.h"
#include "lib/text.h"
#include "store/sqlite.h"

const char *const sl_sqlite_items_sql[ST__COUNT] = {
    /* seq numbers items in the order they are stored; created_ms never
     * goes back in that order (a clock stepped back stores the previous
     * item's time), so that a time range is a range of seq. */
    [ST_ITEM_INSERT]    = "INSERT INTO items (id, creator, state, upload, upload_hash,"
                          " tags, reasons, created_ms, updated_ms, matches, verdict, plan, seq)"
                          " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, max(?8, coalesce(items.created_ms, 0)),"
                          " ?9, ?10, ?11, ?12, coalesce(last.seq, 0) + 1 FROM (SELECT"
                          " (SELECT max(seq) FROM items) AS seq) AS last"
                          " LEFT JOIN items ON items.seq = last.seq",
    [ST_ITEM_PEEK]      = "SELECT upload_hash, state FROM items WHERE id = ?",
    [ST_ITEM_GET]       = "SELECT id, creator, state, upload, tags, reasons,"
                          " created_ms, updated_ms, matches, verdict, plan FROM items WHERE id = ?",
    [ST_ITEM_STATES]    = "SELECT state, n FROM item_states WHERE n > 0",
    [ST_ITEM_SET_STATE] = "UPDATE items SET state = coalesce(?2, state),"
                          " plan = coalesce(?3, plan), updated_ms = CASE WHEN ?2 IS NULL"
                          " THEN updated_ms ELSE ?4 END WHERE id = ?1",
    [ST_ITEM_STATE]     = "SELECT state FROM items WHERE id = ?",
    [ST_CREATOR_STANDING] = "SELECT uploads, rejections FROM creators WHERE creator = ?",
    [ST_CREATORS_EACH]  = "SELECT creator, uploads, rejections FROM creators",
    [ST_ITEM_MERGE_TAGS] = "UPDATE items SET tags = json_patch(tags, ?2), updated_ms = ?3"
                          " WHERE id = ?1",
};

int sl_store_item_insert(struct sl_store *s, const struct sl_item_row *row)
{
    sqlite3_stmt *st = stmt_get(s, ST_ITEM_INSERT);
    bind_text(st, 1, row->id);
    bind_text(st, 2, row->creator);
    bind_text(st, 3, row->state);
    bind_text(st, 4, row->upload);
    bind_text(st, 5, row->upload_hash);
    bind_text(st, 6, row->tags ? row->tags : "{}");
    bind_text(st, 7, row->reasons ? row->reasons : "[]");
    sqlite3_bind_int64(st, 8, row->now_ms);
    sqlite3_bind_int64(st, 9, row->now_ms);
    bind_text(st, 10, row->matches ? row->matches : "[]");
    bind_text(st, 11, row->verdict);
    bind_text(st, 12, row->plan);
    return stmt_done(s, st, "item insert");
}

int sl_store_item_peek(struct sl_store *s, const char *id, char *hash, char *state)
{
    sqlite3_stmt *st = stmt_get(s, ST_ITEM_PEEK);
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        sl_copy(hash, SL_SHA256_HEX_LEN + 1, col_text(st, 0));
        sl_copy(state, 32, col_text(st, 1));
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_fail(s, "item peek");
}

int sl_store_item_get(struct sl_store *s, const char *id, json_t **out)
{
    sqlite3_stmt *st = stmt_get(s, ST_ITEM_GET);
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? -ENOENT : db_fail(s, "item get");
    }
    json_error_t jerr;
    *out = json_pack_ex(&jerr, 0, "{s:s, s:s, s:s, s:o, s:o, s:o, s:I, s:I, s:o, s:o, s:o}",
                        "id", col_text(st, 0),
                        "creator", col_text(st, 1),
                        "state", col_text(st, 2),
                        "upload", col_json(st, 3),
                        "tags", col_json(st, 4),
                        "reasons", col_json(st, 5),
                        "created_ms", (json_int_t)sqlite3_column_int64(st, 6),
                        "updated_ms", (json_int_t)sqlite3_column_int64(st, 7),
                        "matches", col_json(st, 8),
                        "verdict", col_json(st, 9),
                        "plan", col_json(st, 10));
    sqlite3_reset(st);
    if (!*out) {
        char what[SL_ID_MAX + 8];
        snprintf(what, sizeof(what), "item %s", id);
        return row_unreadable(&jerr, what);
    }
    return 0;
}

int sl_store_item_states(struct sl_store *s, json_t **out)
{
    sqlite3_stmt *st = stmt_get(s, ST_ITEM_STATES);
    json_t *o = json_object();
    int rc = SQLITE_DONE, bad = o ? 0 : -ENOMEM;
    while (!bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *state = col_text(st, 0);
        if (!state || !sl_utf8_valid(state, strlen(state))) {
            sl_err("store: a count of items per state cannot be listed: its state is not "
                   "UTF-8 (edited by hand?)");
            bad = -EILSEQ;
        } else if (json_object_set_new(o, state, json_integer(sqlite3_column_int64(st, 1))) < 0) {
            bad = -ENOMEM;
        }
    }
    sqlite3_reset(st);
    if (bad || rc != SQLITE_DONE) {
        json_decref(o);
        return bad ? bad : db_fail(s, "item states");
    }
    *out = o;
    return 0;
}

int sl_store_item_state(struct sl_store *s, const char *id, char *state)
{
    sqlite3_stmt *st = stmt_get(s, ST_ITEM_STATE);
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        sl_copy(state, 32, col_text(st, 0));
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_fail(s, "item state");
}

int sl_store_item_set_state(struct sl_store *s, const char *id, const char *state,
                            int64_t now_ms)
{
    return sl_store_item_update(s, id, state, NULL, now_ms);
}

int sl_store_item_update(struct sl_store *s, const char *id, const char *state,
                         const char *plan, int64_t now_ms)
{
    sqlite3_stmt *st = stmt_get(s, ST_ITEM_SET_STATE);
    bind_text(st, 1, id);
    bind_text(st, 2, state);
    bind_text(st, 3, plan);
    sqlite3_bind_int64(st, 4, now_ms);
    int rc = stmt_done(s, st, "item update");
    return rc < 0 ? rc : sqlite3_changes(s->db) ? 0 : -ENOENT;
}

int sl_store_item_merge_tags(struct sl_store *s, const char *id, const char *tags,
                             int64_t now_ms)
{
    sqlite3_stmt *st = stmt_get(s, ST_ITEM_MERGE_TAGS);
    bind_text(st, 1, id);
    bind_text(st, 2, tags);
    sqlite3_bind_int64(st, 3, now_ms);
    return stmt_done(s, st, "item merge tags");
}

int sl_store_creator_standing(struct sl_store *s, const char *creator,
                              int64_t *uploads, int64_t *rejections)
{
    sqlite3_stmt *st = stmt_get(s, ST_CREATOR_STANDING);
    bind_text(st, 1, creator);
    int rc = sqlite3_step(st);
    *uploads = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    *rejections = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
    sqlite3_reset(st);
    /* No row: a creator's first upload. */
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, "creator standing");
}

int sl_store_creators_each(struct sl_store *s,
                           int (*fn)(void *arg, const char *creator, int64_t uploads,
                                     int64_t rejections),
                           void *arg)
{
    sqlite3_stmt *st = stmt_get(s, ST_CREATORS_EACH);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(arg, col_text(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2)))
            break;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, "creators");
}
