/* SPDX-License-Identifier: MIT */
/* The error a request gets: HTTP status, contract code, sentence, field. */
#ifndef SL_ERROR_H
#define SL_ERROR_H

#include <stdarg.h>

struct sl_error {
    int status;             /* HTTP status: 400, 401, 403, 404, 409, 413, 415, 422, 503 */
    const char *code;       /* static string: "bad_json", "invalid", ... */
    char message[256];      /* one human sentence */
    char field[128];        /* offending field or "line N"; "" when none */
};

/* Fill err; returns -EINVAL so callers can `return sl_error_set(...)`. */
int sl_error_set(struct sl_error *err, int status, const char *code,
                 const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
