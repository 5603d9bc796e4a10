/* SPDX-License-Identifier: MIT */
/* Bounded string copies. */
#ifndef SL_TEXT_H
#define SL_TEXT_H

#include <stddef.h>
#include <string.h>

/*
 * Copy src into dst, which holds n bytes: cut to fit, always terminated
 * (nothing is written when n is 0); NULL copies as "". What
 * snprintf(dst, n, "%s", src) did, without running the formatter: the
 * upload path made ~35 such copies.
 */
static inline void sl_copy(char *dst, size_t n, const char *src)
{
    if (n == 0)
        return;
    size_t len = src ? strlen(src) : 0;

    if (len >= n)
        len = n - 1;
    if (len > 0)
        memcpy(dst, src, len);
    dst[len] = '\0';
}

#endif
