/* SPDX-License-Identifier: MIT */
/* Distribution: waves, offers, and what the audience loads at start. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>

#include "lib/log.h"
#include "store/sqlite.h"

const char *const sl_sqlite_dist_sql[ST__COUNT] = {
    [ST_WAVE_PUT]       = "INSERT OR REPLACE INTO waves (item, n, wave) VALUES (?, ?, ?)",
    [ST_WAVES_GET]      = "SELECT wave FROM waves WHERE item = ? ORDER BY n",
    [ST_OFFER_ADD]      = "INSERT OR IGNORE INTO offers (item, user, wave, source) VALUES (?, ?, ?, ?)",
    [ST_OFFERS_EACH]    = "SELECT user, wave, source, served FROM offers WHERE item = ?",
    [ST_OFFER_SERVED]   = "UPDATE offers SET served = 1 WHERE item = ? AND user = ?",
    [ST_USERS_EACH]     = "SELECT id, city, interests, seen_s FROM users",
    [ST_FOLLOWS_EACH]   = "SELECT follower, creator FROM follows",
    [ST_ITEMS_IN_STATE] = "SELECT id, creator, upload, tags, plan FROM items WHERE state = ?"
                          " ORDER BY created_ms",
};

int sl_store_wave_put(struct sl_store *s, const char *item, int n, const char *wave)
{
    sqlite3_stmt *st = stmt_get(s, ST_WAVE_PUT);
    bind_text(st, 1, item);
    sqlite3_bind_int(st, 2, n);
    bind_text(st, 3, wave);
    return stmt_done(s, st, "wave put");
}

int sl_store_waves_get(struct sl_store *s, const char *item, json_t **out)
{
    sqlite3_stmt *st = stmt_get(s, ST_WAVES_GET);
    json_t *list = json_array();
    int rc = SQLITE_DONE, bad = list ? 0 : -ENOMEM, n = 0;

    bind_text(st, 1, item);
    while (!bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *w = col_json(st, 0);
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

int sl_store_offer_add(struct sl_store *s, const char *item, const char *user, int wave,
                       int source)
{
    sqlite3_stmt *st = stmt_get(s, ST_OFFER_ADD);
    bind_text(st, 1, item);
    bind_text(st, 2, user);
    sqlite3_bind_int(st, 3, wave);
    sqlite3_bind_int(st, 4, source);
    return stmt_done(s, st, "offer add");
}

int sl_store_offers_each(struct sl_store *s, const char *item,
                         int (*fn)(void *arg, const char *user, int wave, int source,
                                   bool served),
                         void *arg)
{
    sqlite3_stmt *st = stmt_get(s, ST_OFFERS_EACH);
    int rc;

    bind_text(st, 1, item);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(arg, col_text(st, 0), sqlite3_column_int(st, 1), sqlite3_column_int(st, 2),
               sqlite3_column_int(st, 3) != 0))
            break;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, "offers");
}

int sl_store_offer_served(struct sl_store *s, const char *item, const char *user)
{
    sqlite3_stmt *st = stmt_get(s, ST_OFFER_SERVED);
    bind_text(st, 1, item);
    bind_text(st, 2, user);
    return stmt_done(s, st, "offer served");
}

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
