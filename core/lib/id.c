/* SPDX-License-Identifier: MIT */
/* Ids: what names users, items, queues, banks, groups and interests. */
#include "config.h"

#include "lib/id.h"

#define R4(c) [c] = 1, [c + 1] = 1, [c + 2] = 1, [c + 3] = 1
#define R8(c) R4(c), R4(c + 4)

const unsigned char sl_id_chars[256] = {
    R8('a'), R8('a' + 8), R8('a' + 16), ['y'] = 1, ['z'] = 1,
    R8('A'), R8('A' + 8), R8('A' + 16), ['Y'] = 1, ['Z'] = 1,
    R8('0'), ['8'] = 1, ['9'] = 1,
    ['_'] = 1, ['-'] = 1, ['.'] = 1, [':'] = 1, ['@'] = 1,
};

size_t sl_id_len(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n;

    if (!s || s[0] == '.')
        return 0;
    for (n = 0; n <= SL_ID_MAX && sl_id_chars[u[n]]; n++)
        ;
    return n <= SL_ID_MAX && u[n] == '\0' ? n : 0;
}
