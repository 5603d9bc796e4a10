/* SPDX-License-Identifier: MIT */
/* When a wave is asked about (size, fill, time, evidence), reactions counted once from the served, waves read back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

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

/* A wave that ended with no one to offer it to, as ops.c stores it. */
#define SKIPPED_WAVE \
    "{\"n\":1,\"audience\":\"followers\",\"size\":1,\"placed\":0,\"present\":0," \
    "\"fill\":1,\"check\":0,\"next_check\":0,\"checks\":0,\"started_ms\":17," \
    "\"limit_ms\":3600000,\"ended_ms\":1796491179601,\"stats\":{\"impression\":0," \
    "\"play\":0,\"complete\":0,\"like\":0,\"comment\":0,\"share\":0,\"follow\":0," \
    "\"skip\":0,\"dislike\":0,\"report\":0},\"decision\":\"skip\",\"ended_by\":\"empty\"," \
    "\"reason\":\"no one in the audience followers was left to offer\"," \
    "\"decided_by\":\"sluiced\"}"

/* A wave as ops.c stores it, read without JSON: exactly what the JSON
 * reader makes of it; anything else is left to that reader. */
static void test_wave_read(void **state)
{
    static const char *const texts[] = {
        "{\"n\":2,\"audience\":\"interest:music\",\"size\":200,\"placed\":180,"
        "\"present\":150,\"fill\":0.6,\"check\":20,\"next_check\":40,\"checks\":1,"
        "\"started_ms\":1796491179605,\"limit_ms\":3600000,\"ended_ms\":null,\"stats\":"
        "{\"impression\":30,\"play\":20,\"complete\":9,\"like\":4,\"comment\":0,"
        "\"share\":1,\"follow\":0,\"skip\":7,\"dislike\":2,\"report\":0},\"decision\":\"\","
        "\"ended_by\":\"\",\"reason\":\"\",\"decided_by\":\"\"}",
        SKIPPED_WAVE,
    };
    (void)state;

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct wave_read fast, slow;
        json_t *j = json_loads(texts[i], 0, NULL);
        assert_non_null(j);
        assert_int_equal(dist_wave_read(&fast, texts[i], strlen(texts[i])), 0);
        dist_wave_restore(&slow, j);
        assert_memory_equal(&fast, &slow, sizeof(fast));
        json_decref(j);
        /* Cut anywhere, it is not a wave. */
        for (size_t cut = 0; cut < strlen(texts[i]); cut += 7)
            assert_int_equal(dist_wave_read(&fast, texts[i], cut), -EINVAL);
    }
    /* An escaped reason, an older wave without present, trailing bytes. */
    const char *escaped = "{\"n\":1,\"audience\":\"nearby\",\"size\":1,\"placed\":0,"
        "\"present\":0,\"fill\":1,\"check\":0,\"next_check\":0,\"checks\":0,"
        "\"started_ms\":1,\"limit_ms\":1,\"ended_ms\":2,\"stats\":{\"impression\":0,"
        "\"play\":0,\"complete\":0,\"like\":0,\"comment\":0,\"share\":0,\"follow\":0,"
        "\"skip\":0,\"dislike\":0,\"report\":0},\"decision\":\"stop\",\"ended_by\":\"time\","
        "\"reason\":\"said \\\"no\\\"\",\"decided_by\":\"policy\"}";
    struct wave_read w;
    json_t *valid = json_loads(escaped, 0, NULL);
    assert_non_null(valid);         /* valid JSON, only not in the plain form */
    json_decref(valid);
    assert_int_equal(dist_wave_read(&w, escaped, strlen(escaped)), -EINVAL);
    const char *older = "{\"n\":1,\"audience\":\"nearby\",\"size\":1,\"placed\":0}";
    assert_int_equal(dist_wave_read(&w, older, strlen(older)), -EINVAL);
    char longer[2048];
    snprintf(longer, sizeof(longer), "%s ", texts[0]);
    assert_int_equal(dist_wave_read(&w, longer, strlen(longer)), -EINVAL);
}

/* A wave's reason and decider kept apart: read back as written, cut to
 * their longest, freed with the waves (the sanitizer's leak check). */
static void test_wave_said(void **state)
{
    const char *text = SKIPPED_WAVE;
    struct wave_read r;
    struct wave *w = calloc(2, sizeof(*w));
    char longer[400];
    (void)state;

    assert_non_null(w);
    assert_int_equal(dist_wave_read(&r, text, strlen(text)), 0);
    dist_wave_adopt(&w[0], &r);
    assert_string_equal(dist_wave_reason(&w[0]), "no one in the audience followers was left to offer");
    assert_string_equal(dist_wave_by(&w[0]), "sluiced");
    /* What the API shows and the store keeps is the text it was read from. */
    json_t *j = dist_wave_json(&w[0]), *want = json_loads(text, 0, NULL);
    assert_true(json_equal(j, want));
    json_decref(j);
    json_decref(want);
    /* A running wave says nothing; its own texts may be given back. */
    assert_string_equal(dist_wave_reason(&w[1]), "");
    assert_string_equal(dist_wave_by(&w[1]), "");
    dist_wave_say(&w[0], "taken out", dist_wave_by(&w[0]));
    assert_string_equal(dist_wave_reason(&w[0]), "taken out");
    assert_string_equal(dist_wave_by(&w[0]), "sluiced");
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    dist_wave_say(&w[1], longer, longer);
    assert_int_equal(strlen(dist_wave_reason(&w[1])), WAVE_REASON_MAX - 1);
    assert_int_equal(strlen(dist_wave_by(&w[1])), WAVE_BY_MAX - 1);
    dist_wave_say(&w[1], "", "");
    assert_null(w[1].said);
    dist_wave_say(&w[1], "", "policy:1");
    assert_string_equal(dist_wave_reason(&w[1]), "");
    assert_string_equal(dist_wave_by(&w[1]), "policy:1");
    dist_waves_free(w, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_and_time),
        cmocka_unit_test(test_wave_said),
        cmocka_unit_test(test_fill_of_present),
        cmocka_unit_test(test_evidence_checkpoints_double),
        cmocka_unit_test(test_reactions_once_from_the_served),
        cmocka_unit_test(test_wave_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
