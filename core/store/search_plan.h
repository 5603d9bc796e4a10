/* SPDX-License-Identifier: MIT */
/* A search's plan, one for both backends: its terms, range of seq, driver and scan. */
#ifndef SL_STORE_SEARCH_PLAN_H
#define SL_STORE_SEARCH_PLAN_H

/*
 * Private to store/: what sqlite_search.c and pg_search.c decide alike, in
 * one place, so that a search gives the same results on both. Each backend
 * keeps what its SQL does its own way (the text's form, the statements,
 * running them) and gives the plan its reads as callbacks. A backend's own
 * plan begins with struct search_plan, so that a callback given the shared
 * part may take the whole.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_search;
struct sl_search_end;

/* What can drive a scan, in the order that wins a tie of estimates. */
enum driver { DR_TEXT, DR_CREATOR, DR_MATCHED, DR_DECIDED, DR_QUEUE, DR_TAG, DR_STATE, DR_ALL,
              DR__COUNT };

/* Items a driver is expected to yield are counted up to this (a probe of
 * its index); beyond, all are alike. */
#define PROBE_CAP 5000

/* {====================== SQL text ====================================== */

/* A statement's text built in pieces in the caller's buffer; over once a
 * piece did not fit (the text is then not to be run). */
struct sql_text {
    char *text;
    size_t size, len;
    bool over;
};

void sl_search_put(struct sql_text *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* }===================================================================== */

/* {====================== The plan ====================================== */

struct search_plan {
    const struct sl_search *q;
    int64_t up, lo;                 /* lo <= seq < up */
    bool text;                      /* a term the text index answers: DR_TEXT can drive */
    int64_t text_check;             /* checking the text on an item, in the other checks' cost */
    void *db;                       /* the backend's connection, for the callbacks */
    /* The first item at or after seq: its seq and created_ms; -ENOENT
     * when there is none, or the error. */
    int (*seq_at)(void *db, int64_t seq, int64_t *at, int64_t *created);
    /* How many items driver d (never DR_ALL) would yield in the range, up
     * to PROBE_CAP. */
    int (*estimate)(const struct search_plan *p, enum driver d, int64_t *out);
};

/* 0 when the search can be planned (a limit, no more terms and states than
 * there is room for), else -EINVAL. */
int sl_search_valid(const struct sl_search *q);

/* Each term of the search, to the backend's term(): indexed when it has
 * 3+ characters (the text index answers it; p->text is then set), else it
 * is checked on the items another filter yields. -EINVAL for a term of no
 * character, or what term() returned. */
int sl_search_terms(struct search_plan *p,
                    int (*term)(struct search_plan *p, const char *text, bool indexed));

/* lo and up from the search's before, seq_max, since_ms and until_ms; max
 * is the newest item's seq. */
int sl_search_range(struct search_plan *p, int64_t max);

/* The driver expected to yield the fewest items. */
int sl_search_choose(const struct search_plan *p, enum driver *out);

/* }===================================================================== */

/* {====================== The scan ====================================== */

/* Where a scan stands between the rows its driver yields. */
struct search_scan {
    const struct sl_search *q;
    int (*fn)(void *arg, int64_t seq, const char *id);
    void *arg;
    struct sl_search_end *end;
    int64_t last, full, rows;
    /* Also checked where the deadline is (NULL: only that): nonzero ends
     * the scan as the deadline does. */
    int (*due)(void *db);
    void *db;
};

/* One row the driver yielded, found: it passed the other filters. 1 when
 * the scan ends here, 0 to go on, or -EIO. */
int sl_search_row(struct search_scan *c, int64_t seq, const char *id, bool found);

/* The statement stopped at the deadline: a partial page, or -ETIMEDOUT
 * when no item was looked at. */
int sl_search_cut(struct search_scan *c);

/* }===================================================================== */

#endif
