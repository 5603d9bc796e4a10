/* SPDX-License-Identifier: MIT */
/* Users and who follows whom. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/grow.h"
#include "lib/id.h"
#include "lib/mix.h"
#include "store/pg.h"

const char *const sl_pg_users_sql[PG__COUNT] = {
    [PG_USER_UPSERT]    = "INSERT INTO users (id, city, interests, created_ms, updated_ms)"
                          " VALUES ($1, $2, coalesce($3, '[]'), $4, $4)"
                          " ON CONFLICT (id) DO UPDATE SET"
                          " city = coalesce($2, users.city),"
                          " interests = coalesce($3, users.interests),"
                          " updated_ms = $4",
    [PG_USER_GET]       = "SELECT id, city, interests FROM users WHERE id = $1",
    [PG_FOLLOW_ADD]     = "INSERT INTO follows (follower, creator, created_ms)"
                          " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    [PG_FOLLOW_DEL]     = "DELETE FROM follows WHERE follower = $1 AND creator = $2",
    [PG_USER_SEEN]      = "UPDATE users SET seen_s = greatest(seen_s, $2) WHERE id = $1",
    /* A batch's users, each once (an upsert may not touch a row twice),
     * as PG_USER_UPSERT leaves them with neither city nor interests: the
     * same columns set, so the same change rows. */
    [PG_USERS_TOUCH_MANY] = "INSERT INTO users (id, city, interests, created_ms, updated_ms)"
                          " SELECT DISTINCT u, NULL::text, '[]', $2::bigint, $2::bigint"
                          " FROM unnest($1::text[]) AS u"
                          " ON CONFLICT (id) DO UPDATE SET city = users.city,"
                          " interests = users.interests, updated_ms = excluded.updated_ms",
    /* Edges of distinct pairs; the ordinals (1-based) of those that were
     * not there. */
    [PG_FOLLOWS_ADD_MANY] = "WITH t AS (SELECT f, c, i FROM unnest($1::text[], $2::text[])"
                          "  WITH ORDINALITY AS t(f, c, i)),"
                          " added AS (INSERT INTO follows (follower, creator, created_ms)"
                          "  SELECT f, c, $3 FROM t ON CONFLICT DO NOTHING"
                          "  RETURNING follower, creator)"
                          " SELECT t.i FROM t JOIN added"
                          "  ON added.follower = t.f AND added.creator = t.c",
    [PG_FOLLOWS_DEL_MANY] = "DELETE FROM follows USING unnest($1::text[], $2::text[])"
                          "  WITH ORDINALITY AS t(f, c, i)"
                          " WHERE follows.follower = t.f AND follows.creator = t.c RETURNING t.i",
};

int sl_pg_user_seen(struct sl_pg *s, const char *id, int64_t seen_s)
{
    struct pg_params p = { 0 };
    par_text(&p, id);
    par_int(&p, seen_s);
    return sl_pg_write(s, PG_USER_SEEN, &p, PG_ANY, NULL);
}

int sl_pg_user_upsert(struct sl_pg *s, const char *id, const char *city, const char *interests,
                      int64_t now_ms)
{
    struct pg_params p = { 0 };
    par_text(&p, id);
    par_text(&p, city);
    par_text(&p, interests);
    par_int(&p, now_ms);
    return sl_pg_write(s, PG_USER_UPSERT, &p, PG_ANY, NULL);
}

int sl_pg_user_get(struct sl_pg *s, const char *id, json_t **out)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    par_text(&p, id);
    int rc = sl_pg_row(s, PG_USER_GET, &p, &r);
    if (rc < 0)
        return rc;
    json_error_t jerr;
    *out = json_pack_ex(&jerr, 0, "{s:s, s:o, s:o}", "id", col(&r, 0),
                        "city", col_string_or_null(&r, 1),
                        "interests", col_json(&r, 2));
    return sl_pg_row_packed(&r, out, &jerr, "user", id);
}

int sl_pg_follow_set(struct sl_pg *s, const char *follower, const char *creator, bool on,
                     int64_t now_ms)
{
    /* Users named by a follow exist from then on, with nothing known yet. */
    int rc = sl_pg_user_upsert(s, follower, NULL, NULL, now_ms);
    if (rc == 0)
        rc = sl_pg_user_upsert(s, creator, NULL, NULL, now_ms);
    if (rc < 0)
        return rc;
    struct pg_params p = { 0 };
    par_text(&p, follower);
    par_text(&p, creator);
    if (on)
        par_int(&p, now_ms);
    return sl_pg_write(s, on ? PG_FOLLOW_ADD : PG_FOLLOW_DEL, &p, PG_ANY, NULL);
}

/* {====================== A batch of follows =========================== */

/*
 * Rows of one pair commute with no row of another pair, so a batch is
 * applied in rounds: round k holds the k-th row of each pair (the first
 * round, almost always the only one, every pair once), and each round is
 * one statement for its follows and one for its unfollows, in any order.
 * The triggers see each row inserted or deleted, as one at a time.
 */
static uint64_t pair_hash(const struct sl_follow_row *r)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *c = (const unsigned char *)r->follower; *c; c++)
        h = (h ^ *c) * 0x100000001b3ULL;
    h = (h ^ 0xff) * 0x100000001b3ULL;      /* no id holds 0xff: the pair's seam */
    for (const unsigned char *c = (const unsigned char *)r->creator; *c; c++)
        h = (h ^ *c) * 0x100000001b3ULL;
    return sl_mix64(h);
}

static bool same_pair(const struct sl_follow_row *a, const struct sl_follow_row *b)
{
    return strcmp(a->follower, b->follower) == 0 && strcmp(a->creator, b->creator) == 0;
}

/* order: the rows to send, round by round; first[k]..first[k + 1] the
 * k-th round's (*nrounds of them). A row that repeats its pair's row
 * before it (follow after follow) changes nothing and fires no trigger:
 * left out. 0 or -ENOMEM. */
static int rounds_of(const struct sl_follow_row *rows, size_t n, uint32_t *order,
                     uint32_t **first, uint32_t *nrounds)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    uint32_t *last = calloc(cap, sizeof(*last));    /* slot: its pair's latest row + 1 */
    uint32_t *round = malloc(n * sizeof(*round));
    uint32_t *count = NULL, most = 0;
    int rc = -ENOMEM;

    if (!last || !round)
        goto out;
    for (size_t i = 0; i < n; i++) {
        size_t j = (size_t)pair_hash(&rows[i]) & (cap - 1);
        while (last[j] && !same_pair(&rows[last[j] - 1], &rows[i]))
            j = (j + 1) & (cap - 1);
        round[i] = UINT32_MAX;
        if (last[j] && rows[last[j] - 1].on == rows[i].on)
            continue;
        round[i] = last[j] ? round[last[j] - 1] + 1 : 0;
        last[j] = (uint32_t)i + 1;
        if (round[i] + 1 > most)
            most = round[i] + 1;
    }
    if (!(count = calloc((size_t)most + 1, sizeof(*count))))
        goto out;
    for (size_t i = 0; i < n; i++)
        if (round[i] != UINT32_MAX)
            count[round[i] + 1]++;
    for (uint32_t k = 1; k <= most; k++)
        count[k] += count[k - 1];
    *first = count;
    *nrounds = most;
    uint32_t *at = malloc(((size_t)most + 1) * sizeof(*at));
    if (!at)
        goto out;
    memcpy(at, count, ((size_t)most + 1) * sizeof(*at));
    for (size_t i = 0; i < n; i++)
        if (round[i] != UINT32_MAX)
            order[at[round[i]]++] = (uint32_t)i;
    free(at);
    count = NULL;       /* the caller's, as *first */
    rc = 0;
out:
    if (rc < 0)
        *first = NULL;
    free(count);
    free(last);
    free(round);
    return rc;
}

/* A text[] literal being built, and the rows its elements came from. */
struct pair_list {
    char *f, *c;
    size_t flen, fcap, clen, ccap;
    size_t *row, n, row_cap;
};

static int list_add(struct pair_list *l, size_t i, const struct sl_follow_row *r)
{
    if (sl_grow(&l->row, &l->row_cap, l->n + 1, sizeof(*l->row)) < 0 ||
        sl_pg_array_add(&l->f, &l->flen, &l->fcap, l->n == 0, r->follower) < 0 ||
        sl_pg_array_add(&l->c, &l->clen, &l->ccap, l->n == 0, r->creator) < 0)
        return -ENOMEM;
    l->row[l->n++] = i;
    return 0;
}

/* One round's follows (PG_FOLLOWS_ADD_MANY) or unfollows: rows changed
 * marked; the list emptied for the next round. */
static int list_send(struct sl_pg *s, enum pg_stmt id, struct pair_list *l,
                     struct sl_follow_row *rows, int64_t now_ms)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    int rc;

    if (l->n == 0)
        return 0;
    if (sl_pg_array_close(&l->f, &l->flen, &l->fcap) < 0 || sl_pg_array_close(&l->c, &l->clen, &l->ccap) < 0)
        return -ENOMEM;
    par_text(&p, l->f);
    par_text(&p, l->c);
    if (id == PG_FOLLOWS_ADD_MANY)
        par_int(&p, now_ms);
    if ((rc = sl_pg_rows(s, id, &p, &r)) < 0)
        return rc;
    while (sl_pg_next(&r)) {
        int64_t k = col_int(&r, 0);
        if (k >= 1 && (size_t)k <= l->n)
            rows[l->row[k - 1]].changed = true;
    }
    l->n = 0;
    return sl_pg_rows_end(&r);
}

int sl_pg_follows_set(struct sl_pg *s, struct sl_follow_row *rows, size_t n, int64_t now_ms)
{
    struct pair_list on = { 0 }, off = { 0 };
    char *users = NULL;
    size_t ulen = 0, ucap = 0;
    uint32_t *order = NULL, *first = NULL, nrounds = 0;
    int rc = 0;

    for (size_t i = 0; i < n; i++)
        rows[i].changed = false;
    if (n == 0)
        return 0;
    if (!(order = malloc(n * sizeof(*order))) ||
        rounds_of(rows, n, order, &first, &nrounds) < 0) {
        free(order);
        return -ENOMEM;
    }
    /* Users named by a follow exist from then on, with nothing known yet. */
    for (size_t i = 0; i < n && rc == 0; i++)
        if ((rc = sl_pg_array_add(&users, &ulen, &ucap, i == 0, rows[i].follower)) == 0)
            rc = sl_pg_array_add(&users, &ulen, &ucap, false, rows[i].creator);
    if (rc == 0 && (rc = sl_pg_array_close(&users, &ulen, &ucap)) == 0) {
        struct pg_params p = { 0 };
        par_text(&p, users);
        par_int(&p, now_ms);
        rc = sl_pg_write(s, PG_USERS_TOUCH_MANY, &p, PG_ANY, NULL);
    }
    for (uint32_t k = 0; k < nrounds && rc == 0; k++) {
        for (uint32_t x = first[k]; x < first[k + 1] && rc == 0; x++)
            rc = list_add(rows[order[x]].on ? &on : &off, order[x], &rows[order[x]]);
        if (rc == 0)
            rc = list_send(s, PG_FOLLOWS_ADD_MANY, &on, rows, now_ms);
        if (rc == 0)
            rc = list_send(s, PG_FOLLOWS_DEL_MANY, &off, rows, now_ms);
    }
    free(users);
    free(order);
    free(first);
    free(on.f);
    free(on.c);
    free(on.row);
    free(off.f);
    free(off.c);
    free(off.row);
    return rc;
}

/* }===================================================================== */
