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
 * audience. The users of served marks and offers are keyed by the reader
 * (their length, hash, bytes and NUL; an invalid id is left out): eight
 * million of them looked up at a 200,000-item start, the hashing is the
 * reader's. So are a follow's two (the follower a string and its hash, the
 * creator a key; a follow naming an invalid id is left out, as the
 * audience refuses it). After the items' pass, a row names its item by
 * its number, its place in that pass (struct sent_items); an item that
 * pass did not read is not resumed, and its rows are left out. An item's
 * served marks come in one row, and so do its waves when the store walks
 * them together, as SQLite's join does.
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
    *len = n == UINT32_MAX ? 0 : n;
    if (n == UINT32_MAX)
        return NULL;
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

struct dist_ahead;
/* The rows read ahead and not taken in yet, [*p, *end), waiting for the
 * reader as needed; false once it is finished and every row was taken. */
bool dist_ahead_rows(struct dist_ahead *a, const char **p, const char **end);
/* The rows dist_ahead_rows() gave were taken in up to p. */
void dist_ahead_took(struct dist_ahead *a, const char *p);
/* 0, or the reader's failure. */
int dist_ahead_rc(struct dist_ahead *a);

#endif
