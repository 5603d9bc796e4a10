/* SPDX-License-Identifier: MIT */
/* Distribution: waves, offers, and what the audience loads at start. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "lib/grow.h"
#include "lib/json.h"
#include "lib/log.h"
#include "store/sqlite.h"

/* A write of one of item's rows: -ENOENT when the item is not stored. */
static int stmt_put(struct sl_store *s, sqlite3_stmt *st, const char *what, const char *item)
{
    int rc = stmt_done(s, st, what);
    if (rc == 0 && sqlite3_changes(s->db) == 0) {
        sl_err("store: %s: no item %s is stored", what, item);
        return -ENOENT;
    }
    return rc;
}

/* An item's waves, offers and served marks are keyed by its seq (schema 16
 * says why): each statement finds it by the item's id. A write for an item
 * not stored changes nothing and says so (stmt_put). */

const char *const sl_sqlite_dist_sql[ST__COUNT] = {
    [ST_WAVE_PUT]       = "INSERT OR REPLACE INTO item_waves (seq, n, wave)"
                          " SELECT seq, ?2, ?3 FROM items WHERE id = ?1",
    [ST_WAVES_GET]      = "SELECT wave FROM item_waves WHERE seq = " SEQ_OF("?") " ORDER BY n",
    /* In the items' order (items_state is (state, seq)), each item's rows
     * next to the last one's. */
    [ST_WAVES_IN_STATE] = "SELECT i.id, w.n, w.wave FROM items i JOIN item_waves w"
                          " ON w.seq = i.seq WHERE i.state = ?",
    [ST_OFFER_WAVE]     = "INSERT INTO item_offers (seq, wave, part, source, users)"
                          " SELECT i.seq, ?2, (SELECT coalesce(max(part) + 1, 0) FROM item_offers"
                          " WHERE seq = i.seq AND wave = ?2), ?3, ?4 FROM items i WHERE i.id = ?1",
    [ST_OFFERS_EACH]    = "SELECT wave, source, users FROM item_offers WHERE seq = " SEQ_OF("?"),
    [ST_OFFERS_SERVED_OF] = "SELECT user FROM item_served WHERE seq = " SEQ_OF("?")
                          " ORDER BY user",
    [ST_OFFER_SERVED]   = "INSERT INTO item_served (seq, user) SELECT seq, ?2 FROM items"
                          " WHERE id = ?1 ON CONFLICT DO NOTHING",
    [ST_OFFER_WAVES_IN_STATE] = "SELECT i.id, o.wave, o.source, o.users FROM items i"
                          " JOIN item_offers o ON o.seq = i.seq WHERE i.state = ?",
    [ST_SERVED_IN_STATE] = "SELECT i.id, s.user FROM items i JOIN item_served s ON s.seq = i.seq"
                          " WHERE i.state = ?",
    [ST_USERS_EACH]     = "SELECT id, city, interests, seen_s FROM users",
    [ST_FOLLOWS_EACH]   = "SELECT follower, creator FROM follows",
    /* seq is created_ms's order (sqlite_items.c), and items_state's. */
    [ST_ITEMS_IN_STATE] = "SELECT id, creator, upload, tags, plan FROM items WHERE state = ?"
                          " ORDER BY seq",
};

int sl_store_wave_put(struct sl_store *s, const char *item, int n, const char *wave)
{
    sqlite3_stmt *st = stmt_get(s, ST_WAVE_PUT);
    bind_text(st, 1, item);
    sqlite3_bind_int(st, 2, n);
    bind_text(st, 3, wave);
    return stmt_put(s, st, "wave put", item);
}

int sl_store_waves_get(struct sl_store *s, const char *item, json_t **out)
{
    sqlite3_stmt *st = stmt_get(s, ST_WAVES_GET);
    json_t *list = json_array();
    int rc = SQLITE_DONE, bad = list ? 0 : -ENOMEM, n = 0;

    bind_text(st, 1, item);
    while (!bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        /* json.c's reader: a start reads every distributing item's waves,
         * and jansson's took some 150 instructions a byte. */
        struct sl_error err;
        json_t *w = sl_json_parse(col_text(st, 0), (size_t)sqlite3_column_bytes(st, 0), false,
                                  &err);
        n++;
        if (!w) {
            sl_err("store: wave %d of item %s cannot be listed: its JSON does not parse "
                   "(edited by hand?)", n, item);
            bad = -EILSEQ;
        } else if (json_array_append_new(list, w) < 0) {
            bad = -ENOMEM;
        }
    }
    sqlite3_reset(st);
    if (bad || rc != SQLITE_DONE) {
        json_decref(list);
        return bad ? bad : db_fail(s, "waves get");
    }
    *out = list;
    return 0;
}

int sl_store_waves_each(struct sl_store *s, const char *state,
                        int (*fn)(void *arg, const char *item, int n, const char *text,
                                  size_t len),
                        void *arg)
{
    sqlite3_stmt *st = stmt_get(s, ST_WAVES_IN_STATE);
    int rc;

    bind_text(st, 1, state);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *text = col_text(st, 2);
        if (fn(arg, col_text(st, 0), sqlite3_column_int(st, 1), text ? text : "",
               (size_t)sqlite3_column_bytes(st, 2)))
            break;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, "waves");
}

/* {====================== Offers ====================================== */

/* A placement's users as stored: chain.h's packing. */
int sl_store_offer_wave(struct sl_store *s, const char *item, int wave, int source,
                        const char *const *users, size_t n)
{
    size_t len;
    char *text;
    int rc;

    if (n == 0)
        return 0;
    if ((rc = sl_offers_pack(users, n, &text, &len)) < 0)
        return rc;
    sqlite3_stmt *st = stmt_get(s, ST_OFFER_WAVE);
    bind_text(st, 1, item);
    sqlite3_bind_int(st, 2, wave);
    sqlite3_bind_int(st, 3, source);
    sqlite3_bind_text(st, 4, text, (int)len, SQLITE_TRANSIENT);
    free(text);
    return stmt_put(s, st, "offer wave", item);
}

/* A copy of column col of st, for sl_offers_unpack() to cut. */
static char *column_copy(sqlite3_stmt *st, int col, size_t *len)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    *len = (size_t)sqlite3_column_bytes(st, col);
    char *copy = malloc(*len + 1);
    if (copy) {
        memcpy(copy, t ? (const char *)t : "", *len);
        copy[*len] = '\0';
    }
    return copy;
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int sl_store_offers_each(struct sl_store *s, const char *item,
                         int (*fn)(void *arg, const char *user, int wave, int source,
                                   bool served),
                         void *arg)
{
    sqlite3_stmt *st = stmt_get(s, ST_OFFERS_SERVED_OF);
    char **served = NULL;
    const char **ids = NULL;
    size_t nserved = 0, cap = 0, idcap = 0, n;
    int rc, bad = 0;

    /* Who was served it: few, sorted, looked up by each offer below. */
    bind_text(st, 1, item);
    while (!bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        char *u = sl_grow(&served, &cap, nserved + 1, sizeof(*served)) < 0
                      ? NULL : strdup(col_text(st, 0));
        if (u)
            served[nserved++] = u;
        else
            bad = -ENOMEM;
    }
    sqlite3_reset(st);
    if (!bad && rc != SQLITE_DONE)
        bad = db_fail(s, "offers served");
    st = stmt_get(s, ST_OFFERS_EACH);
    bind_text(st, 1, item);
    bool stop = false;
    while (!bad && !stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        size_t len;
        char *text = column_copy(st, 2, &len);
        int wave = sqlite3_column_int(st, 0), source = sqlite3_column_int(st, 1);
        bad = text ? sl_offers_unpack(text, len, &ids, &idcap, &n) : -ENOMEM;
        for (size_t i = 0; !bad && !stop && i < n; i++)
            stop = fn(arg, ids[i], wave, source,
                      nserved && bsearch(&ids[i], served, nserved, sizeof(*served),
                                         by_string)) != 0;
        free(text);
    }
    if (bad == -EILSEQ)
        sl_err("store: the offers of item %s cannot be read: a record is cut "
               "(edited by hand?)", item);
    sqlite3_reset(st);
    if (!bad && !stop && rc != SQLITE_DONE)
        bad = db_fail(s, "offers");
    for (size_t i = 0; i < nserved; i++)
        free(served[i]);
    free(served);
    free(ids);
    return bad;
}

int sl_store_offer_served(struct sl_store *s, const char *item, const char *user)
{
    sqlite3_stmt *st = stmt_get(s, ST_OFFER_SERVED);
    bind_text(st, 1, item);
    bind_text(st, 2, user);
    return stmt_done(s, st, "offer served");
}

/* One process owns a SQLite store: the marks are set one by one, each
 * claimed when its insert made a row. */
int sl_store_offers_claim(struct sl_store *s, const char *user, json_t *items, int limit,
                          json_t **claimed)
{
    json_t *out = json_array(), *v;
    size_t i;
    int rc = 0;

    if (!out)
        return -ENOMEM;
    json_array_foreach(items, i, v) {
        if ((int)json_array_size(out) >= limit)
            break;
        if (!json_is_string(v))
            continue;
        if ((rc = sl_store_offer_served(s, json_string_value(v), user)) < 0)
            break;
        if (sqlite3_changes(s->db) > 0 && json_array_append(out, v) < 0) {
            rc = -ENOMEM;
            break;
        }
    }
    if (rc < 0) {
        json_decref(out);
        return rc;
    }
    *claimed = out;
    return 0;
}

int sl_store_offer_waves_each(struct sl_store *s, const char *state,
                              int (*fn)(void *arg, const char *item, int wave, int source,
                                        const char *const *users, size_t n),
                              void *arg)
{
    sqlite3_stmt *st = stmt_get(s, ST_OFFER_WAVES_IN_STATE);
    const char **ids = NULL;
    size_t idcap = 0, n;
    int rc, bad = 0;

    bind_text(st, 1, state);
    while (!bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        size_t len;
        char *text = column_copy(st, 3, &len);
        bad = text ? sl_offers_unpack(text, len, &ids, &idcap, &n) : -ENOMEM;
        if (bad == -EILSEQ)
            sl_err("store: the offers of item %s cannot be read: a record is cut "
                   "(edited by hand?)", col_text(st, 0));
        if (!bad && fn(arg, col_text(st, 0), sqlite3_column_int(st, 1),
                       sqlite3_column_int(st, 2), ids, n)) {
            free(text);
            break;
        }
        free(text);
    }
    sqlite3_reset(st);
    free(ids);
    if (bad)
        return bad;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, "offer waves");
}

int sl_store_served_each(struct sl_store *s, const char *state,
                         int (*fn)(void *arg, const char *item, const char *user),
                         void *arg)
{
    sqlite3_stmt *st = stmt_get(s, ST_SERVED_IN_STATE);
    int rc;

    bind_text(st, 1, state);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(arg, col_text(st, 0), col_text(st, 1)))
            break;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, "served");
}

/* }===================================================================== */

int sl_store_users_each(struct sl_store *s,
                        int (*fn)(void *arg, const char *id, const char *city,
                                  const char *interests, int64_t seen_s),
                        void *arg)
{
    sqlite3_stmt *st = stmt_get(s, ST_USERS_EACH);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(arg, col_text(st, 0), col_text(st, 1), col_text(st, 2),
               sqlite3_column_int64(st, 3)))
            break;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, "users");
}

int sl_store_follows_each(struct sl_store *s,
                          int (*fn)(void *arg, const char *follower, const char *creator),
                          void *arg)
{
    sqlite3_stmt *st = stmt_get(s, ST_FOLLOWS_EACH);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(arg, col_text(st, 0), col_text(st, 1)))
            break;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, "follows");
}

int sl_store_items_in_state(struct sl_store *s, const char *state,
                            int (*fn)(void *arg, const char *id, const char *creator,
                                      const char *upload, const char *tags,
                                      const char *plan),
                            void *arg)
{
    sqlite3_stmt *st = stmt_get(s, ST_ITEMS_IN_STATE);
    int rc;
    bind_text(st, 1, state);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(arg, col_text(st, 0), col_text(st, 1), col_text(st, 2), col_text(st, 3),
               col_text(st, 4)))
            break;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, "items in state");
}
