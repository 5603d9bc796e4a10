/* SPDX-License-Identifier: MIT */
/* When a wave is asked about (size, fill, time, evidence), and reactions counted once from the served. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dist/internal.h"

#define T0 1000000

static struct wave wave(uint32_t placed, uint32_t present, double fill, uint32_t check)
{
    struct wave w;
    memset(&w, 0, sizeof(w));
    w.n = 1;
    w.placed = placed;
    w.present = present;
    w.fill = fill;
    w.check = w.next_check = check;
    w.started_ms = T0;
    w.limit_ms = 3600 * 1000;
    return w;
}

static void seen(struct wave *w, uint64_t n)
{
    w->counts[SL_EV_IMPRESSION] = n;
}

/* The old rule stands: every placed user saw it, or the time is up. */
static void test_size_and_time(void **state)
{
    struct wave w = wave(10, 10, 1.0, 0);
    (void)state;

    seen(&w, 9);
    assert_int_equal(dist_wave_due(&w, T0 + 1000), DIST_END_NONE);
    seen(&w, 10);
    assert_int_equal(dist_wave_due(&w, T0 + 1000), DIST_END_SIZE);
    seen(&w, 0);
    assert_int_equal(dist_wave_due(&w, T0 + 3600 * 1000 - 1), DIST_END_NONE);
    assert_int_equal(dist_wave_due(&w, T0 + 3600 * 1000), DIST_END_TIME);
    assert_string_equal(dist_end_name(DIST_END_TIME), "time");
    assert_string_equal(dist_end_name(DIST_END_SIZE), "size");
}

/* A wave does not wait for its last users: the plan's share of those
 * present at placement ends it, rounded up; the away do not count. */
static void test_fill_of_present(void **state)
{
    struct wave w = wave(100, 60, 0.6, 0);
    (void)state;

    seen(&w, 35);       /* ceil(0.6 * 60) = 36 */
    assert_int_equal(dist_wave_due(&w, T0), DIST_END_NONE);
    seen(&w, 36);
    assert_int_equal(dist_wave_due(&w, T0), DIST_END_FILL);
    assert_string_equal(dist_end_name(DIST_END_FILL), "fill");
    /* 0.7 * 10 is 7, not 8, whatever the floating point says. */
    w = wave(10, 10, 0.7, 0);
    seen(&w, 7);
    assert_int_equal(dist_wave_due(&w, T0), DIST_END_FILL);
    /* Nobody present when placed: only everyone placed, or time, ends it. */
    w = wave(5, 0, 0.5, 0);
    seen(&w, 4);
    assert_int_equal(dist_wave_due(&w, T0), DIST_END_NONE);
    seen(&w, 5);
    assert_int_equal(dist_wave_due(&w, T0), DIST_END_SIZE);
    /* fill 1 is the old rule: the present do not end it early. */
    w = wave(10, 4, 1.0, 0);
    seen(&w, 4);
    assert_int_equal(dist_wave_due(&w, T0), DIST_END_NONE);
}

/* Checkpoints at check, 2 check, 4 check... impressions; the ends come
 * first when both hold. */
static void test_evidence_checkpoints_double(void **state)
{
    struct wave w = wave(1000, 1000, 0.6, 20);
    (void)state;

    seen(&w, 19);
    assert_int_equal(dist_wave_due(&w, T0), DIST_END_NONE);
    seen(&w, 20);
    assert_int_equal(dist_wave_due(&w, T0), DIST_END_EVIDENCE);
    assert_string_equal(dist_end_name(DIST_END_EVIDENCE), "evidence");
    dist_wave_checked(&w);
    assert_int_equal(w.next_check, 40);
    assert_int_equal(w.checks, 1);
    assert_int_equal(dist_wave_due(&w, T0), DIST_END_NONE);
    seen(&w, 40);
    assert_int_equal(dist_wave_due(&w, T0), DIST_END_EVIDENCE);
    dist_wave_checked(&w);
    assert_int_equal(w.next_check, 80);
    seen(&w, 600);      /* past the fill: the end, not a checkpoint */
    assert_int_equal(dist_wave_due(&w, T0), DIST_END_FILL);
    /* check 0: never asked early. */
    w = wave(1000, 1000, 1.0, 0);
    seen(&w, 500);
    assert_int_equal(dist_wave_due(&w, T0), DIST_END_NONE);
    /* Doubling saturates instead of wrapping. */
    w = wave(10, 10, 1.0, 3000000000u);
    dist_wave_checked(&w);
    assert_int_equal(w.next_check, UINT32_MAX);
}

/* A reaction counts once per user and kind, and only from a served user. */
static void test_reactions_once_from_the_served(void **state)
{
    struct reactions r = { 0 };
    (void)state;

    assert_int_equal(dist_react(&r, 7, SL_EV_LIKE), DIST_REACT_UNSERVED);
    assert_false(dist_react_was_served(&r, 7));
    for (uint32_t u = 0; u < 1000; u += 2)
        assert_int_equal(dist_react_served(&r, u), 0);
    assert_int_equal(dist_react_served(&r, 10), 0);     /* again: no harm */
    assert_int_equal(r.n, 500);
    assert_true(r.cap >= 1000);
    assert_int_equal(dist_react(&r, 7, SL_EV_LIKE), DIST_REACT_UNSERVED);
    assert_int_equal(dist_react(&r, 8, SL_EV_LIKE), DIST_REACT_NEW);
    assert_int_equal(dist_react(&r, 8, SL_EV_LIKE), DIST_REACT_AGAIN);
    assert_int_equal(dist_react(&r, 8, SL_EV_IMPRESSION), DIST_REACT_NEW);
    assert_int_equal(dist_react(&r, 8, SL_EV_REPORT), DIST_REACT_NEW);
    assert_int_equal(dist_react(&r, 8, SL_EV_REPORT), DIST_REACT_AGAIN);
    assert_int_equal(dist_react(&r, 998, SL_EV_LIKE), DIST_REACT_NEW);
    assert_true(dist_react_was_served(&r, 998));
    /* Served after growing: the marks survive the table's growth. */
    assert_int_equal(dist_react(&r, 8, SL_EV_LIKE), DIST_REACT_AGAIN);
    dist_reactions_free(&r);
    assert_int_equal(r.n, 0);
    assert_int_equal(dist_react(&r, 8, SL_EV_LIKE), DIST_REACT_UNSERVED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_and_time),
        cmocka_unit_test(test_fill_of_present),
        cmocka_unit_test(test_evidence_checkpoints_double),
        cmocka_unit_test(test_reactions_once_from_the_served),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
