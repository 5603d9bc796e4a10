/* SPDX-License-Identifier: MIT */
/* Bounded string copies, and UTF-8: checked, cut on character boundaries, repaired. */
#ifndef SL_TEXT_H
#define SL_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/*
 * Copy src into dst, which holds n bytes: cut to fit, always terminated
 * (nothing is written when n is 0); NULL copies as "". A cut never splits a
 * UTF-8 character: what does not fit whole is left out (a cut character
 * made text that JSON cannot carry, and rows that could not be listed).
 * Otherwise what snprintf(dst, n, "%s", src) did, without the formatter.
 */
static inline void sl_copy(char *dst, size_t n, const char *src)
{
    if (n == 0)
        return;
    size_t len = src ? strlen(src) : 0;

    if (len >= n) {
        /* src[len] is the first byte left out: while it continues a
         * character, that character was cut; a character is at most four
         * bytes, so at most three steps back. */
        size_t cut = n - 1;
        len = cut;
        while (len > 0 && cut - len < 3 && ((unsigned char)src[len] & 0xC0) == 0x80)
            len--;
        if (((unsigned char)src[len] & 0xC0) == 0x80)
            len = cut;          /* not UTF-8 there: cut where it was */
    }
    if (len > 0)
        memcpy(dst, src, len);
    dst[len] = '\0';
}

/* The length (1..4) of the valid UTF-8 sequence at s, or 0 (an overlong
 * form, a surrogate, past U+10FFFF, a stray or missing continuation byte). */
size_t sl_utf8_seq(const unsigned char *s, size_t avail);

/* Whether the len bytes at s are valid UTF-8. */
bool sl_utf8_valid(const char *s, size_t len);

/* The longest prefix of s (len bytes of valid UTF-8) of at most max bytes
 * that ends on a character boundary. */
size_t sl_utf8_cut(const char *s, size_t len, size_t max);

/*
 * Make s (NUL-terminated) valid UTF-8: 0 with *out NULL when it is already;
 * 1 with *out a new string (free() it) where a sequence cut at the end is
 * left out and every other invalid byte is U+FFFD; -ENOMEM.
 */
int sl_utf8_repair(const char *s, char **out);

#endif
