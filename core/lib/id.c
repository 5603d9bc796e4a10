/* SPDX-License-Identifier: MIT */
/* Ids: what names users, items, queues, banks, groups and interests. */
#include "config.h"

#include "lib/id.h"

size_t sl_id_len(const char *s)
{
    size_t n;

    if (!s || s[0] == '.')
        return 0;
    for (n = 0; s[n] != '\0'; n++)
        if (n == SL_ID_MAX || !sl_id_char((unsigned char)s[n]))
            return 0;
    return n;
}
