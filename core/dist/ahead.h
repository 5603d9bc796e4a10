/* SPDX-License-Identifier: MIT */
/* The start's rows: written by the reader thread (ahead.c), taken in by distribution (resume.c). */
#ifndef SL_DIST_AHEAD_H
#define SL_DIST_AHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "audience/audience.h"

/*
 * A row in a chunk: its kind (a byte), then its fields; a string is its
 * length (UINT32_MAX for none) and its bytes with a NUL; a number 4 or 8
 * bytes; a wave its stored text, parsed by the loop's side, which waits
 * for the reader through the waves' pass otherwise. ROW_END ends the
 * audience. The users of follows, served marks and offers (eight million
 * at a 200,000-item start) are named in one of two ways: by the number of
 * their row in the users' pass (USER_SENT and the number), which the loop's
 * side has the audience's index of (dist_ahead_user_taken()), when the
 * reader looked them up; or keyed (their length, hash, bytes and NUL), for
 * the loop's side to look up (ahead.c says which). A user row the audience
 * would refuse is left out, and so has no number; so is a follow, served
 * mark or offer's user whose id is invalid. After the items' pass, a row
 * names its item by its number, its place in that pass (struct sent_ids);
 * an item that pass did not read is not resumed, and its rows are left
 * out. An item's served marks come in one row, and so do its waves when the
 * store walks them together, as SQLite's join does.
 */

enum row_kind { ROW_USER, ROW_FOLLOW, ROW_END, ROW_ITEM, ROW_WAVES, ROW_SERVED, ROW_OFFERS };

static inline size_t str_size(const char *s)
{
    return 4 + (s ? strlen(s) + 1 : 0);
}

static inline char *put_u32(char *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
    return p + sizeof(v);
}

static inline char *put_str(char *p, const char *s)
{
    if (!s)
        return put_u32(p, UINT32_MAX);
    size_t len = strlen(s);
    p = put_u32(p, (uint32_t)len);
    memcpy(p, s, len + 1);
    return p + len + 1;
}

static inline size_t key_size(const struct sl_aud_key *k)
{
    return 2 * sizeof(uint32_t) + k->len + 1;
}

static inline char *put_key(char *p, const struct sl_aud_key *k)
{
    p = put_u32(put_u32(p, k->len), k->hash);
    memcpy(p, k->id, k->len + 1);
    return p + k->len + 1;
}

/* A user as a row names them: by the number of their row in the users'
 * pass, or by key (whose length is below USER_SENT). */
#define USER_SENT 0x80000000u

static inline char *put_sent_user(char *p, uint32_t no)
{
    return put_u32(p, no | USER_SENT);
}

static inline uint32_t get_u32(const char **p)
{
    uint32_t v;
    memcpy(&v, *p, sizeof(v));
    *p += sizeof(v);
    return v;
}

/* A string and its length (0 for none, which is NULL). */
static inline const char *get_str_len(const char **p, size_t *len)
{
    uint32_t n = get_u32(p);
    const char *s = *p;

    *len = 0;
    if (n == UINT32_MAX)
        return NULL;
    *len = n;
    *p += n + 1;
    return s;
}

static inline const char *get_str(const char **p)
{
    size_t len;
    return get_str_len(p, &len);
}

static inline struct sl_aud_key get_key(const char **p)
{
    struct sl_aud_key k;
    k.len = get_u32(p);
    k.hash = get_u32(p);
    k.id = *p;
    *p += k.len + 1;
    return k;
}

/* A user as put_sent_user() or put_key() wrote them: true with their
 * number in *no, or false with their key in *k. */
static inline bool get_user(const char **p, uint32_t *no, struct sl_aud_key *k)
{
    uint32_t v;

    memcpy(&v, *p, sizeof(v));
    if (v & USER_SENT) {
        *p += sizeof(v);
        *no = v & ~USER_SENT;
        return true;
    }
    *k = get_key(p);
    return false;
}

struct dist_ahead;
/* The rows read ahead and not taken in yet, [*p, *end), waiting for the
 * reader as needed; false once it is finished and every row was taken. */
bool dist_ahead_rows(struct dist_ahead *a, const char **p, const char **end);
/* The rows dist_ahead_rows() gave were taken in up to p. */
void dist_ahead_took(struct dist_ahead *a, const char *p);
/* 0, or the reader's failure. */
int dist_ahead_rc(struct dist_ahead *a);
/* The loop's side took the next user row in: u is the audience's index of
 * its user (SL_AUD_NONE when it has none). 0 or -ENOMEM. */
int dist_ahead_user_taken(struct dist_ahead *a, uint32_t u);
/* The audience's index of the user of row no of the users' pass
 * (SL_AUD_NONE when it has none). */
uint32_t dist_ahead_user(const struct dist_ahead *a, uint32_t no);

#endif
