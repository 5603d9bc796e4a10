/* SPDX-License-Identifier: MIT */
/* Filling in the error a request gets back. */
#include "lib/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/text.h"

/*
 * Truncation may cut a multi-byte character in two. Drop the partial
 * character, or the error could not be sent as JSON at all.
 */
static void trim_partial_utf8(char *s)
{
    size_t len = strlen(s), lead = len;
    unsigned char c;
    size_t need;

    while (lead > 0 && ((unsigned char)s[lead - 1] & 0xC0) == 0x80)
        lead--;
    if (lead == 0)
        return;
    c = (unsigned char)s[lead - 1];
    need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (len - (lead - 1) < need)
        s[lead - 1] = '\0';
}

/*
 * The rest must be valid UTF-8 too: a sentence may quote what the client
 * sent (jansson's "near '...'" cuts the text at any byte, a key may be
 * anything), and one bad byte made the whole answer a 503 "could not be
 * encoded". Each byte that is not part of a character becomes '?'.
 */
static void replace_invalid_utf8(char *s)
{
    unsigned char *u = (unsigned char *)s;
    size_t len = strlen(s);

    for (size_t i = 0; i < len;) {
        size_t n = sl_utf8_seq(u + i, len - i);
        if (n == 0)
            u[i++] = '?';
        else
            i += n;
    }
}

int sl_error_set(struct sl_error *err, int status, const char *code,
                 const char *field, const char *fmt, ...)
{
    va_list ap;
    int n;

    err->status = status;
    err->code = code;

    va_start(ap, fmt);
    n = vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    if (n < 0)
        err->message[0] = '\0';
    else if ((size_t)n >= sizeof err->message)
        trim_partial_utf8(err->message);
    replace_invalid_utf8(err->message);

    if (field == NULL)
        field = "";
    if (snprintf(err->field, sizeof err->field, "%s", field) >= (int)sizeof err->field)
        trim_partial_utf8(err->field);
    replace_invalid_utf8(err->field);
    return -EINVAL;
}
