/* SPDX-License-Identifier: MIT */
/* The audience's activity: last visits, and picks that prefer who is around and skip who is away. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "audience/audience.h"

#define NOW 2000000000u         /* seconds since the epoch */
#define DAY 86400u

/* n users u0..u(n-1); users < active seen an hour ago, < present seen two
 * days ago, the rest a month ago; creator "c" follows nobody. */
static struct sl_audience *platform(int n, int active, int present)
{
    struct sl_audience *a = sl_audience_new(NULL);
    char id[32];
    uint32_t u;

    assert_non_null(a);
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "u%d", i);
        assert_int_equal(sl_audience_user_add(a, id, &u), 0);
        sl_audience_touch(a, u, i < active ? NOW - 3600 : i < present ? NOW - 2 * DAY
                                                                       : NOW - 30 * DAY);
    }
    assert_int_equal(sl_audience_user_add(a, "c", &u), 0);
    return a;
}

static int index_of(struct sl_audience *a, uint32_t u)
{
    int i = -1;
    sscanf(sl_audience_user_id(a, u), "u%d", &i);
    return i;
}

static void test_touch_keeps_the_latest(void **state)
{
    struct sl_audience *a = sl_audience_new(NULL);
    uint32_t u;
    (void)state;

    assert_int_equal(sl_audience_user_add(a, "x", &u), 0);
    assert_int_equal(sl_audience_last_active(a, u), 0);
    sl_audience_touch(a, u, 100);
    sl_audience_touch(a, u, 50);            /* an earlier visit changes nothing */
    assert_int_equal(sl_audience_last_active(a, u), 100);
    sl_audience_touch(a, u, 200);
    assert_int_equal(sl_audience_last_active(a, u), 200);
    sl_audience_touch(a, 12345, 300);       /* no such user: ignored */
    assert_int_equal(sl_audience_last_active(a, 12345), 0);
    assert_int_equal(sl_audience_active_count(a, 150), 1);
    assert_int_equal(sl_audience_active_count(a, 250), 0);
    sl_audience_free(a);
}

/* Without a window, picks ignore activity: the same users in the same
 * order as a fresh audience's, away or not. */
static void test_no_window_no_preference(void **state)
{
    struct sl_audience *a = platform(200, 20, 60), *b = platform(200, 200, 200);
    uint32_t ha, hb, pa[50], pb[50];
    size_t na, nb;
    (void)state;

    assert_int_equal(sl_audience_item_new(a, "i", "c", NULL, &ha), 0);
    assert_int_equal(sl_audience_item_new(b, "i", "c", NULL, &hb), 0);
    assert_int_equal(sl_audience_pick(a, ha, "everyone", 50, pa, &na), 0);
    assert_int_equal(sl_audience_pick(b, hb, "everyone", 50, pb, &nb), 0);
    assert_int_equal(na, 50);
    assert_int_equal(nb, 50);
    assert_memory_equal(pa, pb, sizeof(pa));
    sl_audience_free(a);
    sl_audience_free(b);
}

/* Active users first, then the present, never the away. */
static void test_picks_prefer_active_skip_away(void **state)
{
    struct sl_audience *a = platform(300, 40, 100);
    uint32_t h, picked[300];
    size_t n;
    (void)state;

    sl_audience_set_activity(a, NOW - DAY, NOW - 3 * DAY);
    assert_int_equal(sl_audience_item_new(a, "i", "c", NULL, &h), 0);
    /* 30 of the 40 active: only active ones. */
    assert_int_equal(sl_audience_pick(a, h, "everyone", 30, picked, &n), 0);
    assert_int_equal(n, 30);
    for (size_t i = 0; i < n; i++)
        assert_true(index_of(a, picked[i]) < 40);
    /* 70: all 40 active first, then 30 present; never an away one. */
    assert_int_equal(sl_audience_pick(a, h, "everyone", 70, picked, &n), 0);
    assert_int_equal(n, 70);
    int active = 0;
    for (size_t i = 0; i < n; i++) {
        int k = index_of(a, picked[i]);
        assert_true(k >= 0 && k < 100);
        active += k < 40;
        if (i < 40)
            assert_true(k < 40);
    }
    assert_int_equal(active, 40);
    /* Asking for everyone gives the 100 around, no more. */
    assert_int_equal(sl_audience_pick(a, h, "everyone", 300, picked, &n), 0);
    assert_int_equal(n, 100);
    assert_int_equal(sl_audience_count_present(a, picked, n, NOW - 3 * DAY), 100);
    sl_audience_free(a);
}

/* The creator's followers are placed whoever they are: their private
 * domain waits for them; count_present tells how many are around. */
static void test_followers_placed_whoever_they_are(void **state)
{
    struct sl_audience *a = platform(50, 5, 10);
    uint32_t h, picked[50];
    size_t n;
    char id[32];
    (void)state;

    for (int i = 0; i < 50; i++) {
        snprintf(id, sizeof(id), "u%d", i);
        assert_int_equal(sl_audience_follow(a, id, "c", true), 0);
    }
    sl_audience_set_activity(a, NOW - DAY, NOW - 3 * DAY);
    assert_int_equal(sl_audience_item_new(a, "i", "c", NULL, &h), 0);
    assert_int_equal(sl_audience_wave(a, h, "followers", 100, 1, picked, &n), 0);
    assert_int_equal(n, 50);
    assert_int_equal(sl_audience_count_present(a, picked, n, NOW - 3 * DAY), 10);
    assert_int_equal(sl_audience_count_present(a, picked, n, NOW - DAY), 5);
    sl_audience_free(a);
}

/* A user never seen is never picked once a window is in force. */
static void test_never_seen_not_picked(void **state)
{
    struct sl_audience *a = sl_audience_new(NULL);
    uint32_t u, h, picked[4];
    size_t n;
    (void)state;

    assert_int_equal(sl_audience_user_add(a, "seen", &u), 0);
    sl_audience_touch(a, u, NOW);
    assert_int_equal(sl_audience_user_add(a, "ghost", &u), 0);
    sl_audience_set_activity(a, NOW - DAY, NOW - 3 * DAY);
    assert_int_equal(sl_audience_item_new(a, "i", "c", NULL, &h), 0);
    assert_int_equal(sl_audience_pick(a, h, "everyone", 4, picked, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(sl_audience_user_id(a, picked[0]), "seen");
    sl_audience_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_touch_keeps_the_latest),
        cmocka_unit_test(test_no_window_no_preference),
        cmocka_unit_test(test_picks_prefer_active_skip_away),
        cmocka_unit_test(test_followers_placed_whoever_they_are),
        cmocka_unit_test(test_never_seen_not_picked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
