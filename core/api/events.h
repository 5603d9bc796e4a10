/* SPDX-License-Identifier: MIT */
/* POST /v1/events: a batch as validated, apart from its handler so tests and fuzzers reach it. */
#ifndef SL_EVENTS_H
#define SL_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"

#define SL_EVENTS_MAX 100000    /* events in one batch */

/* One event: item and user point into the arena of its batch. */
struct sl_event {
    char *item;
    char *user;
    int type;                   /* enum sl_event_type */
    int64_t watch_ms;           /* -1 when absent */
    int64_t ts_ms;              /* now when absent */
};

/* The events of a body in the order of its lines. Owned by whoever parsed
 * it; released by sl_events_clear(). */
struct sl_events {
    struct sl_event *ev;
    size_t n;
    char *arena;                /* the items' and users' text */
};

#define SL_EVENTS_NDJSON 1u     /* one event per line, blank lines skipped; else one object */
#define SL_EVENTS_STRICT 2u     /* no fast scanner: every line through jansson. Accepts
                                 * and refuses exactly as without (tests compare) */

/*
 * Validate a whole body (all or nothing) into *out, as docs/http-api.md
 * states: 0; -EINVAL with err set (400 bad_json, 422 invalid naming the
 * line of an NDJSON body, 413 too_large past SL_EVENTS_MAX lines) and *out
 * empty; -ENOMEM, err not set. now is the ts of events without one.
 */
int sl_events_parse(const char *body, size_t len, unsigned flags, int64_t now,
                    struct sl_events *out, struct sl_error *err);
void sl_events_clear(struct sl_events *batch);

#endif
