/* SPDX-License-Identifier: MIT */
/* Ids: what names users, items, queues, banks, groups and interests. */
#ifndef SL_ID_H
#define SL_ID_H

#include <stdbool.h>
#include <stddef.h>

/* An id is 1..SL_ID_MAX of [A-Za-z0-9_.:@-], not starting with '.'. */
#define SL_ID_MAX 128

/* 1 for the characters of ids (a table: ids are checked on every request). */
extern const unsigned char sl_id_chars[256];

static inline bool sl_id_char(unsigned char c)
{
    return sl_id_chars[c];
}

/* The length of id s, or 0 when s (may be NULL) is not an id. */
size_t sl_id_len(const char *s);

static inline bool sl_id_valid(const char *s)
{
    return sl_id_len(s) > 0;
}

#endif
