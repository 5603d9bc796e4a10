/* SPDX-License-Identifier: MIT */
/* Strict JSON input: what a request body must be before anything reads it. */
#ifndef SL_JSON_H
#define SL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "lib/error.h"
#include "lib/id.h"

#define SL_JSON_MAX_DEPTH 32

/*
 * Parse one JSON value strictly: valid UTF-8, no NUL (raw or \u0000) in
 * strings, no duplicate keys, nesting at most SL_JSON_MAX_DEPTH, nothing but
 * white space after the value, and (when want_object) an object at the top.
 * Returns a new reference, or NULL with err set to 400 bad_json naming the
 * position ("line L, column C") in the message.
 */
json_t *sl_json_parse(const char *buf, size_t len, bool want_object,
                      struct sl_error *err);

/*
 * Field readers for validation. Each returns 0 and sets *out, SL_ABSENT (1)
 * when the key is missing (or null) and !required, or -EINVAL with err set
 * to 422 invalid naming the field. Strings are borrowed from obj.
 */
#define SL_ABSENT 1
int sl_json_get_string(json_t *obj, const char *key, bool required,
                       size_t max_len, const char **out, struct sl_error *err);
int sl_json_get_id(json_t *obj, const char *key, bool required,
                   const char **out, struct sl_error *err);
int sl_json_get_int(json_t *obj, const char *key, bool required,
                    long long min, long long max, long long *out,
                    struct sl_error *err);

/* Refuse any key of obj not in the NULL-terminated list (422, field = key). */
int sl_json_only_keys(json_t *obj, const char *const *allowed, struct sl_error *err);

/* Compact text with sorted keys: the canonical form used for hashing; what
 * json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) writes.
 * The caller frees the result with free(). */
char *sl_json_canonical(const json_t *v);
/* The same with reals to precision significant digits (1..17; the
 * canonical form has 17): byte for byte what json_dumps(v, JSON_COMPACT |
 * JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_REAL_PRECISION(precision))
 * writes, at a fraction of its cost. */
char *sl_json_sorted(const json_t *v, int precision);

/*
 * Writers for JSON text built by hand where jansson's trees cost more than
 * the work (answers and rows written for every request). Each writes at p
 * and returns the end; nothing is NUL-terminated.
 * sl_json_put_string: s as a quoted JSON string, escaping what JSON needs
 * and writing U+FFFD for each byte that is not valid UTF-8 (a cut-off
 * sequence included); p needs SL_JSON_QUOTED_MAX(strlen(s)) bytes.
 * sl_json_put_int: v in decimal; p needs 21 bytes.
 * sl_json_put_lit: s as it is (JSON punctuation and keys); strlen(s) bytes.
 */
#define SL_JSON_QUOTED_MAX(len) (6 * (len) + 2)
char *sl_json_put_string(char *p, const char *s);
char *sl_json_put_int(char *p, long long v);
char *sl_json_put_lit(char *p, const char *s);
/* v as printf's "%.*g" writes it (precision 1..17; a finite v), without
 * printf for the short decimals plans and confidences are; p needs 32
 * bytes. */
char *sl_json_put_g(char *p, double v, int precision);

/*
 * NDJSON bodies: one JSON value a line, lines that hold only white space
 * skipped (POST /v1/events, POST /v1/follows). A line's error names the
 * line: field "line N" (1-based, blank lines counted), as docs/http-api.md
 * states, so every NDJSON route words it alike.
 */
struct sl_ndjson {
    const char *p, *end;        /* what is left of the body */
    size_t line;                /* the number of the line sl_ndjson_next gave last */
};
/* Begin walking body[0, len): 0 with *lines a bound on the lines it holds
 * (its newlines + 1, to size arrays by), or -EINVAL with err 413 too_large
 * when that is more than max ("A batch may hold at most MAX WHAT."). */
int sl_ndjson_begin(struct sl_ndjson *it, const char *body, size_t len, size_t max,
                    const char *what, size_t *lines, struct sl_error *err);
/* The next line that is not blank, [*line, *stop) without its newline, and
 * true; false at the end of the body. */
bool sl_ndjson_next(struct sl_ndjson *it, const char **line, const char **stop);
/* err, set about one line's value, made about line N of the body: field
 * "line N", and the field it named kept in the sentence. */
void sl_ndjson_name_line(struct sl_error *err, size_t line);

#endif
