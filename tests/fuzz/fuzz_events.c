/* SPDX-License-Identifier: MIT */
/* POST /v1/events bodies: the handler's parser, its fast scanner against the strict path. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "api/events.h"
#include "fuzz.h"
#include "lib/event.h"
#include "lib/id.h"

/*
 * One input is one body, read both as one JSON object and as NDJSON, each
 * twice: as the handler reads it (plain lines through the fast scanner)
 * and with every line through jansson. The scanner is only a shortcut, so
 * the two must agree on everything: accepted or not, the events, the
 * error. What is accepted is what the store may be given.
 */

#define NOW 1700000000000LL

static void check_event(const struct sl_event *e)
{
    FUZZ_CHECK(sl_id_valid(e->item) && sl_id_valid(e->user), "ids \"%s\" \"%s\"", e->item,
               e->user);
    FUZZ_CHECK(e->type >= 0 && e->type < SL_EV__COUNT, "type %d", e->type);
    FUZZ_CHECK(e->watch_ms >= -1 && e->watch_ms <= 86400000, "watch_ms %lld",
               (long long)e->watch_ms);
    FUZZ_CHECK(e->ts_ms >= 0 && e->ts_ms <= 32503680000000LL, "ts %lld", (long long)e->ts_ms);
}

static void same_events(const struct sl_event *a, const struct sl_event *b, size_t i)
{
    FUZZ_CHECK(strcmp(a->item, b->item) == 0 && strcmp(a->user, b->user) == 0 &&
               a->type == b->type && a->watch_ms == b->watch_ms && a->ts_ms == b->ts_ms,
               "event %zu: fast (%s, %s, %d, %lld, %lld), strict (%s, %s, %d, %lld, %lld)", i,
               a->item, a->user, a->type, (long long)a->watch_ms, (long long)a->ts_ms, b->item,
               b->user, b->type, (long long)b->watch_ms, (long long)b->ts_ms);
}

static void parse_both(const char *body, size_t len, unsigned flags)
{
    struct sl_events fast, strict;
    struct sl_error ef = { 0 }, es = { 0 };
    int rf = sl_events_parse(body, len, flags, NOW, &fast, &ef);
    int rs = sl_events_parse(body, len, flags | SL_EVENTS_STRICT, NOW, &strict, &es);

    FUZZ_CHECK(rf == rs, "%s: fast %d (%s), strict %d (%s)", flags ? "NDJSON" : "JSON", rf,
               ef.message, rs, es.message);
    if (rf == 0) {
        FUZZ_CHECK(fast.n == strict.n, "fast %zu events, strict %zu", fast.n, strict.n);
        FUZZ_CHECK(fast.n >= 1 && fast.n <= SL_EVENTS_MAX, "%zu events", fast.n);
        FUZZ_CHECK(flags || fast.n == 1, "%zu events in one object", fast.n);
        for (size_t i = 0; i < fast.n; i++) {
            check_event(&fast.ev[i]);
            same_events(&fast.ev[i], &strict.ev[i], i);
        }
    } else {
        FUZZ_CHECK(rf == -EINVAL, "rc %d", rf);
        FUZZ_CHECK(fast.n == 0 && fast.ev == NULL && strict.ev == NULL, "events left");
        FUZZ_CHECK(ef.status == es.status && strcmp(ef.code, es.code) == 0 &&
                   strcmp(ef.message, es.message) == 0 && strcmp(ef.field, es.field) == 0,
                   "errors differ: fast %d %s \"%s\" (%s), strict %d %s \"%s\" (%s)",
                   ef.status, ef.code, ef.message, ef.field, es.status, es.code, es.message,
                   es.field);
        fuzz_check_error(&ef);
    }
    sl_events_clear(&fast);
    sl_events_clear(&strict);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse_both((const char *)data, size, 0);
    parse_both((const char *)data, size, SL_EVENTS_NDJSON);
    return 0;
}
