/* SPDX-License-Identifier: MIT */
/* Distribution: waves, offers, and what the audience loads at start. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/grow.h"
#include "lib/log.h"
#include "store/pg.h"

const char *const sl_pg_dist_sql[PG__COUNT] = {
    [PG_WAVE_PUT]       = "INSERT INTO waves (item, n, wave) VALUES ($1, $2, $3)"
                          " ON CONFLICT (item, n) DO UPDATE SET wave = excluded.wave",
    [PG_WAVES_GET]      = "SELECT wave FROM waves WHERE item = $1 ORDER BY n",
    [PG_WAVES_IN_STATE] = "SELECT w.item, w.n, w.wave FROM waves w JOIN items i ON i.id = w.item"
                          " WHERE i.state = $1 ORDER BY w.item, w.n",
    /* A placement's part comes from a sequence, not from the parts stored
     * (SQLite numbers them 0, 1... per wave): no read in the write, so
     * that a batch of them is one INSERT and two placements of one wave in
     * a batch never take the same number. The parts order the placements,
     * which is all a read of them needs. */
    [PG_OFFER_WAVE]     = "INSERT INTO offer_waves (item, wave, source, users)"
                          " VALUES ($1, $2, $3, $4)",
    [PG_OFFER_WAVES_ADD_MANY] = "INSERT INTO offer_waves (item, wave, source, users)"
                          " SELECT item, wave, source, users FROM unnest($1::text[], $2::int[],"
                          " $3::int[], $4::text[]) WITH ORDINALITY AS u(item, wave, source, users,"
                          " k) ORDER BY k",
    [PG_OFFERS_EACH]    = "SELECT wave, source, users FROM offer_waves WHERE item = $1"
                          " ORDER BY wave, part",
    [PG_OFFERS_SERVED_OF] = "SELECT \"user\" FROM served WHERE item = $1 ORDER BY \"user\"",
    [PG_OFFER_SERVED]   = "INSERT INTO served (\"user\", item) VALUES ($2, $1)"
                          " ON CONFLICT DO NOTHING",
    [PG_SERVED_ADD_MANY] = "INSERT INTO served (item, \"user\")"
                          " SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
    [PG_OFFER_WAVES_IN_STATE] = "SELECT o.item, o.wave, o.source, o.users FROM items i"
                          " JOIN offer_waves o ON o.item = i.id WHERE i.state = $1"
                          " ORDER BY o.item, o.wave, o.part",
    [PG_SERVED_IN_STATE] = "SELECT s.item, s.\"user\" FROM items i JOIN served s ON s.item = i.id"
                          " WHERE i.state = $1 ORDER BY s.item, s.\"user\"",
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

int sl_pg_waves_each(struct sl_pg *s, const char *state,
                     int (*fn)(void *arg, const char *item, int n, const char *text, size_t len),
                     void *arg)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    par_text(&p, state);
    int rc = sl_pg_stream(s, PG_WAVES_IN_STATE, &p, &r);
    if (rc < 0)
        return rc;
    while (sl_pg_next(&r)) {
        const char *text = col(&r, 2);
        if (fn(arg, col(&r, 0), (int)col_int(&r, 1), text ? text : "", text ? strlen(text) : 0))
            break;
    }
    return sl_pg_rows_end(&r);
}

/* {====================== Offers ====================================== */

/* A placement's users as stored: chain.h's packing, as SQLite's. */
int sl_pg_offer_wave(struct sl_pg *s, const char *item, int wave, int source,
                     const char *const *users, size_t n)
{
    struct pg_params p = { 0 };
    size_t len;
    char *text;
    int rc;

    if (n == 0)
        return 0;
    if ((rc = sl_offers_pack(users, n, &text, &len)) < 0)
        return rc;
    par_text(&p, item);
    par_int(&p, wave);
    par_int(&p, source);
    par_text(&p, text);
    /* Both copy the parameters: text is not needed after. */
    if (s->pipeline)
        rc = sl_pg_batch_add(s, PG_BATCH_OFFERS, &p);
    else
        rc = sl_pg_write(s, PG_OFFER_WAVE, &p, PG_ANY, NULL);
    free(text);
    return rc;
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Each placement's users, text copied for sl_offers_unpack() to cut; -EILSEQ
 * (logged) for a record cut short. */
static int unpack_row(const char *item, const char *users, char **text, const char ***ids,
                      size_t *cap, size_t *n)
{
    size_t len = users ? strlen(users) : 0;
    int rc;

    free(*text);
    if (!(*text = malloc(len + 1)))
        return -ENOMEM;
    memcpy(*text, users ? users : "", len + 1);
    rc = sl_offers_unpack(*text, len, ids, cap, n);
    if (rc == -EILSEQ)
        sl_err("store: the offers of item %s cannot be read: a record is cut "
               "(edited by hand?)", item);
    return rc;
}

int sl_pg_offers_each(struct sl_pg *s, const char *item,
                      int (*fn)(void *arg, const char *user, int wave, int source, bool served),
                      void *arg)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    char **served = NULL, *text = NULL;
    const char **ids = NULL;
    size_t nserved = 0, cap = 0, idcap = 0, n;
    int rc, bad = 0;
    bool stop = false;

    /* Who was served it: few, sorted bytewise (COLLATE "C"), looked up by
     * each offer below. */
    par_text(&p, item);
    if ((rc = sl_pg_rows(s, PG_OFFERS_SERVED_OF, &p, &r)) < 0)
        return rc;
    while (!bad && sl_pg_next(&r)) {
        char *u = sl_grow(&served, &cap, nserved + 1, sizeof(*served)) < 0
                      ? NULL : strdup(col(&r, 0));
        if (u)
            served[nserved++] = u;
        else
            bad = -ENOMEM;
    }
    rc = sl_pg_rows_end(&r);
    if (!bad && rc < 0)
        bad = rc;
    if (!bad && (rc = sl_pg_rows(s, PG_OFFERS_EACH, &p, &r)) < 0)
        bad = rc;
    else if (!bad) {
        while (!bad && !stop && sl_pg_next(&r)) {
            int wave = (int)col_int(&r, 0), source = (int)col_int(&r, 1);
            bad = unpack_row(item, col(&r, 2), &text, &ids, &idcap, &n);
            for (size_t i = 0; !bad && !stop && i < n; i++)
                stop = fn(arg, ids[i], wave, source,
                          nserved && bsearch(&ids[i], served, nserved, sizeof(*served),
                                             by_string)) != 0;
        }
        rc = sl_pg_rows_end(&r);
        if (!bad && rc < 0)
            bad = rc;
    }
    for (size_t i = 0; i < nserved; i++)
        free(served[i]);
    free(served);
    free(ids);
    free(text);
    return bad;
}

/* Set once: a mark set already is left as it is (ON CONFLICT DO NOTHING). */
int sl_pg_offer_served(struct sl_pg *s, const char *item, const char *user)
{
    struct pg_params p = { 0 };
    par_text(&p, item);
    par_text(&p, user);
    if (s->pipeline)
        return sl_pg_batch_add(s, PG_BATCH_SERVED, &p);
    return sl_pg_write(s, PG_OFFER_SERVED, &p, PG_ANY, NULL);
}

int sl_pg_offer_waves_each(struct sl_pg *s, const char *state,
                           int (*fn)(void *arg, const char *item, int wave, int source,
                                     const char *const *users, size_t n),
                           void *arg)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    char *text = NULL;
    const char **ids = NULL;
    size_t idcap = 0, n;
    int bad = 0;

    par_text(&p, state);
    int rc = sl_pg_stream(s, PG_OFFER_WAVES_IN_STATE, &p, &r);
    if (rc < 0)
        return rc;
    while (!bad && sl_pg_next(&r)) {
        bad = unpack_row(col(&r, 0), col(&r, 3), &text, &ids, &idcap, &n);
        if (!bad && fn(arg, col(&r, 0), (int)col_int(&r, 1), (int)col_int(&r, 2), ids, n))
            break;
    }
    rc = sl_pg_rows_end(&r);
    free(ids);
    free(text);
    return bad ? bad : rc;
}

int sl_pg_served_each(struct sl_pg *s, const char *state,
                      int (*fn)(void *arg, const char *item, const char *user), void *arg)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    par_text(&p, state);
    int rc = sl_pg_stream(s, PG_SERVED_IN_STATE, &p, &r);
    if (rc < 0)
        return rc;
    while (sl_pg_next(&r))
        if (fn(arg, col(&r, 0), col(&r, 1)))
            break;
    return sl_pg_rows_end(&r);
}

/* }===================================================================== */

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
