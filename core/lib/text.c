/* SPDX-License-Identifier: MIT */
/* UTF-8: checked, cut on character boundaries, repaired. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/text.h"

size_t sl_utf8_seq(const unsigned char *s, size_t avail)
{
    size_t n;
    unsigned min;
    unsigned c = s[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, min = 0x80, c &= 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, min = 0x800, c &= 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, min = 0x10000, c &= 0x07;
    else
        return 0;
    if (n > avail)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    return c >= min && c <= 0x10ffff && (c < 0xd800 || c > 0xdfff) ? n : 0;
}

bool sl_utf8_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;

    for (size_t i = 0; i < len;) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = sl_utf8_seq(u + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

size_t sl_utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    /* Back up over continuation bytes to the start of the cut character. */
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

/* Whether the bytes at u (n of them, n < 4) could begin a character that
 * the end of the text cut short. */
static bool cut_short(const unsigned char *u, size_t n)
{
    size_t want = u[0] >= 0xf0 ? 4 : u[0] >= 0xe0 ? 3 : u[0] >= 0xc2 ? 2 : 0;

    if (want <= n)
        return false;
    for (size_t i = 1; i < n; i++)
        if ((u[i] & 0xc0) != 0x80)
            return false;
    return true;
}

int sl_utf8_repair(const char *s, char **out)
{
    size_t len = strlen(s);
    const unsigned char *u = (const unsigned char *)s;

    *out = NULL;
    if (sl_utf8_valid(s, len))
        return 0;
    /* Each bad byte becomes three: U+FFFD. */
    char *fixed = malloc(3 * len + 1), *p = fixed;
    if (!fixed)
        return -ENOMEM;
    for (size_t i = 0; i < len;) {
        size_t n = sl_utf8_seq(u + i, len - i);
        if (n) {
            memcpy(p, u + i, n);
            p += n;
            i += n;
        } else if (len - i < 4 && cut_short(u + i, len - i)) {
            break;
        } else {
            memcpy(p, "\xef\xbf\xbd", 3);
            p += 3;
            i++;
        }
    }
    *p = '\0';
    *out = fixed;
    return 1;
}
