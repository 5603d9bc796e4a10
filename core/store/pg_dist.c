/* SPDX-License-Identifier: MIT */
/* Distribution: waves, offers, and what the audience loads at start. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>

#include "lib/log.h"
#include "store/pg.h"

const char *const sl_pg_dist_sql[PG__COUNT] = {
    [PG_WAVE_PUT]       = "INSERT INTO waves (item, n, wave) VALUES ($1, $2, $3)"
                          " ON CONFLICT (item, n) DO UPDATE SET wave = excluded.wave",
    [PG_WAVES_GET]      = "SELECT wave FROM waves WHERE item = $1 ORDER BY n",
    [PG_OFFER_ADD]      = "INSERT INTO offers (item, \"user\", wave, source) VALUES ($1, $2, $3, $4)"
                          " ON CONFLICT DO NOTHING",
    [PG_OFFERS_ADD_MANY] = "INSERT INTO offers (item, \"user\", wave, source)"
                          " SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[])"
                          " ON CONFLICT DO NOTHING",
    [PG_OFFERS_SERVED_MANY] = "UPDATE offers o SET served = 1"
                          " FROM unnest($1::text[], $2::text[]) AS s(item, usr)"
                          " WHERE o.item = s.item AND o.\"user\" = s.usr",
    [PG_OFFERS_EACH]    = "SELECT \"user\", wave, source, served FROM offers WHERE item = $1",
    [PG_OFFER_SERVED]   = "UPDATE offers SET served = 1 WHERE item = $1 AND \"user\" = $2",
    [PG_USERS_EACH]     = "SELECT id, city, interests, seen_s FROM users",
    [PG_FOLLOWS_EACH]   = "SELECT follower, creator FROM follows",
    [PG_ITEMS_IN_STATE] = "SELECT id, creator, upload, tags, plan FROM items WHERE state = $1"
                          " ORDER BY created_ms",
};

int sl_pg_wave_put(struct sl_pg *s, const char *item, int n, const char *wave)
{
    struct pg_params p = { 0 };
    par_text(&p, item);
    par_int(&p, n);
    par_text(&p, wave);
    return sl_pg_write(s, PG_WAVE_PUT, &p, PG_ANY, NULL);
}

int sl_pg_waves_get(struct sl_pg *s, const char *item, json_t **out)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    par_text(&p, item);
    json_t *list = json_array();
    int rc = list ? sl_pg_rows(s, PG_WAVES_GET, &p, &r) : -ENOMEM, bad = 0, n = 0;
    if (rc == 0) {
        while (!bad && sl_pg_next(&r)) {
            json_t *w = col_json(&r, 0);
            n++;
            if (!w) {
                sl_err("store: wave %d of item %s cannot be listed: its JSON does not parse "
                       "(edited by hand?)", n, item);
                bad = -EILSEQ;
            } else if (json_array_append_new(list, w) < 0) {
                bad = -ENOMEM;
            }
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

int sl_pg_offer_add(struct sl_pg *s, const char *item, const char *user, int wave, int source)
{
    struct pg_params p = { 0 };
    par_text(&p, item);
    par_text(&p, user);
    par_int(&p, wave);
    par_int(&p, source);
    if (s->pipeline)
        return sl_pg_batch_add(s, PG_BATCH_OFFERS, &p);
    return sl_pg_write(s, PG_OFFER_ADD, &p, PG_ANY, NULL);
}

int sl_pg_offers_each(struct sl_pg *s, const char *item,
                      int (*fn)(void *arg, const char *user, int wave, int source, bool served),
                      void *arg)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    par_text(&p, item);
    int rc = sl_pg_rows(s, PG_OFFERS_EACH, &p, &r);
    if (rc < 0)
        return rc;
    while (sl_pg_next(&r))
        if (fn(arg, col(&r, 0), (int)col_int(&r, 1), (int)col_int(&r, 2), col_int(&r, 3) != 0))
            break;
    return sl_pg_rows_end(&r);
}

int sl_pg_offer_served(struct sl_pg *s, const char *item, const char *user)
{
    struct pg_params p = { 0 };
    par_text(&p, item);
    par_text(&p, user);
    if (s->pipeline)
        return sl_pg_batch_add(s, PG_BATCH_SERVED, &p);
    return sl_pg_write(s, PG_OFFER_SERVED, &p, PG_ANY, NULL);
}

int sl_pg_users_each(struct sl_pg *s,
                     int (*fn)(void *arg, const char *id, const char *city,
                               const char *interests, int64_t seen_s),
                     void *arg)
{
    struct pg_rows r;
    int rc = sl_pg_stream(s, PG_USERS_EACH, NULL, &r);
    if (rc < 0)
        return rc;
    while (sl_pg_next(&r))
        if (fn(arg, col(&r, 0), col(&r, 1), col(&r, 2), col_int(&r, 3)))
            break;
    return sl_pg_rows_end(&r);
}

int sl_pg_follows_each(struct sl_pg *s,
                       int (*fn)(void *arg, const char *follower, const char *creator),
                       void *arg)
{
    struct pg_rows r;
    int rc = sl_pg_stream(s, PG_FOLLOWS_EACH, NULL, &r);
    if (rc < 0)
        return rc;
    while (sl_pg_next(&r))
        if (fn(arg, col(&r, 0), col(&r, 1)))
            break;
    return sl_pg_rows_end(&r);
}

int sl_pg_items_in_state(struct sl_pg *s, const char *state,
                         int (*fn)(void *arg, const char *id, const char *creator,
                                   const char *upload, const char *tags, const char *plan),
                         void *arg)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    par_text(&p, state);
    int rc = sl_pg_rows(s, PG_ITEMS_IN_STATE, &p, &r);
    if (rc < 0)
        return rc;
    while (sl_pg_next(&r))
        if (fn(arg, col(&r, 0), col(&r, 1), col(&r, 2), col(&r, 3), col(&r, 4)))
            break;
    return sl_pg_rows_end(&r);
}
