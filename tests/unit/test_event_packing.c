/* SPDX-License-Identifier: MIT */
/* Event batches packed and read back: the compact form, the first form still read, damage refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store/chain.h"
#include "store/store.h"

#define MAX 16

struct got {
    size_t n;
    char item[MAX][32], user[MAX][32];
    struct sl_event_row ev[MAX];
};

static int take(void *arg, int64_t seq, const struct sl_event_row *ev)
{
    struct got *g = arg;

    assert_int_equal(seq, 7);
    assert_true(g->n < MAX);
    snprintf(g->item[g->n], sizeof(g->item[0]), "%s", ev->item);
    snprintf(g->user[g->n], sizeof(g->user[0]), "%s", ev->user);
    g->ev[g->n++] = *ev;
    return 0;
}

static void same(const struct got *g, const struct sl_event_row *ev, size_t n)
{
    assert_int_equal(g->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(g->item[i], ev[i].item);
        assert_string_equal(g->user[i], ev[i].user);
        assert_int_equal(g->ev[i].type, ev[i].type);
        assert_int_equal(g->ev[i].watch_ms, ev[i].watch_ms);
        assert_int_equal(g->ev[i].ts_ms, ev[i].ts_ms);
    }
}

/* A request's events, grouped by item, back as sent: times going back
 * and far apart, watch_ms absent, 0 and large, a user twice in a row. */
static const struct sl_event_row batch[] = {
    { "item-1", "reader-1", 0, -1, 1796539826113 },
    { "item-1", "reader-2", 0, -1, 1796539826113 },
    { "item-1", "reader-2", 3, 0, 1796539826100 },
    { "item-2", "reader-2", 9, 86400000, 1796539826200 },
    { "item-2", "reader-3", 1, -1, 0 },
    { "item-3", "reader-1", 2, -1, INT64_MAX },
    { "item-3", "reader-1", 2, -1, -5 },
};
#define N (sizeof(batch) / sizeof(batch[0]))

static void test_compact(void **state)
{
    uint8_t *data;
    size_t len, plain = 0;
    struct got g = { 0 };
    (void)state;

    assert_int_equal(sl_events_pack(batch, N, &data, &len), 0);
    for (size_t i = 0; i < N; i++)
        plain += strlen(batch[i].item) + strlen(batch[i].user) + 2 + 17;
    assert_true(len < plain / 2);           /* the first form's size, halved at least */
    assert_int_equal(sl_events_unpack(7, data, len, N, take, &g), 0);
    same(&g, batch, N);

    /* Every cut of it is refused, none read past its end. */
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *part = malloc(cut ? cut : 1);
        memcpy(part, data, cut);
        g.n = 0;
        assert_int_equal(sl_events_unpack(7, part, cut, N, take, &g), -EIO);
        free(part);
    }
    /* "The same item" as the first event says nothing. */
    data[1] |= 0x10;
    g.n = 0;
    assert_int_equal(sl_events_unpack(7, data, len, N, take, &g), -EIO);
    free(data);
}

/* What the compact form cannot say goes in the first form, which is read
 * as before (stores written by earlier versions hold it). */
static void test_first_form(void **state)
{
    const struct sl_event_row odd[] = {
        { "item-9", "reader-9", 20, -1, 5 },
        { "item-9", "reader-8", 1, 12, 6 },
    };
    uint8_t *data;
    size_t len;
    struct got g = { 0 };
    (void)state;

    assert_int_equal(sl_events_pack(odd, 2, &data, &len), 0);
    assert_int_equal(len, 2 * (7 + 9 + 17));
    assert_memory_equal(data, "item-9\0reader-9\0\x14", 17);
    assert_int_equal(sl_events_unpack(7, data, len, 2, take, &g), 0);
    same(&g, odd, 2);
    g.n = 0;
    assert_int_equal(sl_events_unpack(7, data, len - 1, 2, take, &g), -EIO);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compact),
        cmocka_unit_test(test_first_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
