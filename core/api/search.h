/* SPDX-License-Identifier: MIT */
/* A search's filters, read from a query string or a bulk body: what search.c, bulk.c and creators.c share. */
#ifndef SL_API_SEARCH_H
#define SL_API_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "lib/error.h"
#include "lib/id.h"
#include "store/store.h"

/* The filters' names, in the order a search's JSON form lists them. */
extern const char *const sl_search_keys[];

/* q, at most, in characters; each of its terms, at most. */
#define SL_SEARCH_Q_MAX 500
#define SL_SEARCH_TERM_MAX 100

/* A search's filters with the text they point into: the values are copies,
 * so a filter outlives the request it came from. */
struct sl_filter {
    struct sl_search q;
    char creator[SL_ID_MAX + 1], tag[SL_ID_MAX + 1], queue[SL_ID_MAX + 1];
    char matched[SL_ID_MAX + 1], kind[SL_ID_MAX + 1];
    char decided_by[SL_ID_MAX + 8];
    char states[SL_SEARCH_STATES][16];
    char text[4 * SL_SEARCH_Q_MAX + SL_SEARCH_TERMS + 1];     /* the terms, NUL-separated */
    bool any;               /* a filter is set (not only a time range or nothing) */
};

/*
 * Read filters from get(ctx, name), which gives each filter's text or NULL
 * (names: sl_search_keys). f->q gets them, limit 0. On a bad value: -EINVAL
 * with err (status: 400 bad_request for a query string, 422 invalid for a
 * body; field: prefix + the filter's name).
 */
int sl_filter_read(struct sl_filter *f, const char *(*get)(void *ctx, const char *name),
                   void *ctx, int status, const char *prefix, struct sl_error *err);

/* The same from a JSON object (a bulk body's "search"): strings, numbers,
 * or for state an array of states; unknown keys refused. */
int sl_filter_json(struct sl_filter *f, json_t *obj, const char *prefix, struct sl_error *err);

/* The filters as JSON (what a job keeps and shows), a new reference. */
json_t *sl_filter_to_json(const struct sl_filter *f);

/* Cursors: the opaque form of a next page's starting point. */
void sl_search_cursor(int64_t next, char *buf, size_t len);
int sl_search_cursor_parse(const char *text, int64_t *next);

#endif
