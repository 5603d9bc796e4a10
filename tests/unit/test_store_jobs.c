/* SPDX-License-Identifier: MIT */
/* The store's schema 10 to 12 beside search, on SQLite or on PostgreSQL (SLUICE_TEST_STORE): jobs, suspensions, creators, matches found later, text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "lib/log.h"
#include "../lua/util.h"
#include "store/store.h"
#include "storetest.h"

/* {====================== Helpers ====================================== */

static void item(struct sl_store *w, const char *id, const char *creator, const char *upload,
                 int64_t now_ms)
{
    const struct sl_item_row row = { .id = id, .creator = creator, .state = "approved",
                                     .upload = upload, .upload_hash = STORETEST_HASH,
                                     .now_ms = now_ms };
    assert_int_equal(sl_store_item_insert(w, &row), 0);
}

struct ids {
    int n;
    char id[16][32];
};

static int note(void *arg, int64_t seq, const char *id)
{
    struct ids *o = arg;
    (void)seq;
    assert_true(o->n < 16);
    snprintf(o->id[o->n++], sizeof(o->id[0]), "%s", id);
    return 0;
}

/* A job jobs_each gives: its id, and its spec is there. */
static int note_job(void *arg, json_t *job)
{
    struct ids *o = arg;
    assert_true(o->n < 16);
    assert_true(json_is_object(json_object_get(job, "spec")));
    snprintf(o->id[o->n++], sizeof(o->id[0]), "%s",
             json_string_value(json_object_get(job, "id")));
    return 0;
}

/* An item item_hashes gives: its id, and its hashes a JSON array. */
static int note_hashes(void *arg, const char *id, const char *hashes)
{
    struct ids *o = arg;
    json_t *h = json_loads(hashes, 0, NULL);
    assert_true(json_is_array(h) && json_array_size(h) > 0);
    json_decref(h);
    assert_true(o->n < 16);
    snprintf(o->id[o->n++], sizeof(o->id[0]), "%s", id);
    return 0;
}

/* The ids a search finds, newest first, as "a,b,c". */
static const char *found(struct sl_store *s, const struct sl_search *q)
{
    static char out[512];
    struct ids o = { 0 };
    struct sl_search_end end;
    size_t len = 0;

    assert_int_equal(sl_store_search(s, q, note, &o, &end), 0);
    out[0] = '\0';
    for (int i = 0; i < o.n; i++)
        len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", i ? "," : "", o.id[i]);
    return out;
}

/* }===================================================================== */

/* A job from insert to done: the states it may move between, and its
 * progress added slice by slice. */
static void test_jobs(void **state)
{
    struct storetest_fx *f = *state;
    json_t *j = NULL;
    char st[32];

    assert_int_equal(sl_store_begin(f->w), 0);
    item(f->w, "a1", "cy", "{\"title\": \"x\"}", 1000);
    item(f->w, "a2", "cy", "{\"title\": \"y\"}", 1001);
    struct sl_job_row row = { .id = "j1", .kind = "bulk", .action = "review",
                              .spec = "{\"creator\": \"cy\"}", .state = "awaiting_confirmation",
                              .created_by = "token:ann", .total = 2, .total_exact = true,
                              .now_ms = 2000 };
    assert_int_equal(storetest_synced(f->w, sl_store_job_insert(f->w, &row)), 0);
    assert_int_equal(storetest_synced(f->w, sl_store_job_insert(f->w, &row)), -EEXIST);
    row = (struct sl_job_row){ .id = "j2", .kind = "retro", .action = "match", .spec = "{}",
                               .state = "running", .created_by = "token:bob", .seq_max = 1,
                               .total = 1, .now_ms = 3000 };
    assert_int_equal(storetest_synced(f->w, sl_store_job_insert(f->w, &row)), 0);
    assert_int_equal(sl_store_commit(f->w), 0);

    /* seq_max 0: the newest item's; the cursor starts past it. */
    assert_int_equal(sl_store_job_get(f->r, "j1", &j), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "seq_max")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "cursor")), 3);
    assert_true(json_is_true(json_object_get(j, "total_exact")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "spec"), "creator")),
                        "cy");
    assert_true(json_is_null(json_object_get(j, "finished_ms")));
    json_decref(j);
    assert_int_equal(sl_store_job_get(f->r, "nope", &j), -ENOENT);
    assert_int_equal(sl_store_job_peek(f->r, "j2", st), 0);
    assert_string_equal(st, "running");
    assert_int_equal(sl_store_job_peek(f->r, "nope", st), -ENOENT);

    /* Newest first, without their spec; by kind. */
    assert_int_equal(sl_store_jobs_list(f->r, NULL, 10, &j), 0);
    assert_int_equal(json_array_size(j), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "id")), "j2");
    assert_null(json_object_get(json_array_get(j, 0), "spec"));
    json_decref(j);
    assert_int_equal(sl_store_jobs_list(f->r, "bulk", 10, &j), 0);
    assert_int_equal(json_array_size(j), 1);
    json_decref(j);

    /* Confirmed by another; not from a state it is not in; not at all when
     * there is none. */
    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_job_state(f->w, "j1", "running", "cancelled", "token:x", NULL,
                                        4000), -ESTALE);
    assert_int_equal(sl_store_job_state(f->w, "nope", NULL, "cancelled", "token:x", NULL,
                                        4000), -ENOENT);
    assert_int_equal(sl_store_job_state(f->w, "j1", "awaiting_confirmation", "running",
                                        "token:cy", NULL, 4000), 0);
    struct sl_job_slice p = { .cursor = 2, .examined = 1, .matched = 1, .acted = 1 };
    assert_int_equal(sl_store_job_progress(f->w, "j1", &p, 5000), 0);
    p = (struct sl_job_slice){ .cursor = 0, .examined = 1, .skipped = 1, .finished = true };
    assert_int_equal(sl_store_job_progress(f->w, "j1", &p, 6000), 0);
    assert_int_equal(sl_store_job_progress(f->w, "j1", &p, 7000), -ESTALE);
    /* Failed, with the reason; an ended job moves no more. */
    assert_int_equal(sl_store_job_state(f->w, "j2", "running", "failed", NULL, "the bank is gone",
                                        8000), 0);
    assert_int_equal(sl_store_job_state(f->w, "j2", NULL, "cancelled", NULL, NULL, 9000),
                     -ESTALE);
    assert_int_equal(sl_store_commit(f->w), 0);

    assert_int_equal(sl_store_job_get(f->r, "j1", &j), 0);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "done");
    assert_string_equal(json_string_value(json_object_get(j, "confirmed_by")), "token:cy");
    assert_int_equal(json_integer_value(json_object_get(j, "examined")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "acted")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "skipped")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "finished_ms")), 6000);
    json_decref(j);
    struct ids o = { 0 };
    assert_int_equal(sl_store_jobs_each(f->r, "failed", note_job, &o), 0);
    assert_int_equal(o.n, 1);
    assert_string_equal(o.id[0], "j2");
}

/* sl_store_suspensions_each as {creator: "mode reason by since_ms"},
 * keys sorted; the callback stops it after stop rows when stop > 0. */
struct seen {
    json_t *rows;
    size_t stop;
};

static int suspension_row(void *arg, const char *creator, const struct sl_suspension *sus)
{
    struct seen *seen = arg;
    char line[2400];

    snprintf(line, sizeof(line), "%s %s %s %lld", sus->mode, sus->reason, sus->by,
             (long long)sus->since_ms);
    json_object_set_new(seen->rows, creator, json_string(line));
    return json_object_size(seen->rows) == seen->stop;
}

static char *suspensions(struct sl_store *s, size_t stop)
{
    struct seen seen = { json_object(), stop };
    assert_int_equal(sl_store_suspensions_each(s, suspension_row, &seen), 0);
    char *text = json_dumps(seen.rows, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(seen.rows);
    return text;
}

/* Suspensions, and what a creator page gathers: items per state (kept by
 * triggers as states change), reports against their items. */
static void test_creators(void **state)
{
    struct storetest_fx *f = *state;
    struct sl_suspension sus = { .mode = "review", .reason = "a ring", .by = "token:ann",
                                 .since_ms = 1000 };
    struct sl_suspension got;
    json_t *c = NULL;

    assert_int_equal(sl_store_creator_get(f->r, "cy", &c), -ENOENT);
    assert_int_equal(sl_store_suspension_get(f->r, "cy", &got), -ENOENT);
    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_suspension_lift(f->w, "cy"), -ENOENT);
    assert_int_equal(storetest_synced(f->w, sl_store_suspension_set(f->w, "cy", &sus)), 0);
    snprintf(sus.mode, sizeof(sus.mode), "refuse");
    snprintf(sus.reason, sizeof(sus.reason), "worse");
    sus.since_ms = 2000;
    assert_int_equal(storetest_synced(f->w, sl_store_suspension_set(f->w, "cy", &sus)), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    assert_int_equal(sl_store_suspension_get(f->r, "cy", &got), 0);
    assert_string_equal(got.mode, "refuse");
    assert_string_equal(got.reason, "worse");
    assert_int_equal(got.since_ms, 1000);           /* since it began */
    char *all = suspensions(f->r, 0);
    assert_string_equal(all, "{\"cy\":\"refuse worse token:ann 1000\"}");
    free(all);

    /* Known by the suspension alone. */
    assert_int_equal(sl_store_creator_get(f->r, "cy", &c), 0);
    assert_int_equal(json_object_size(json_object_get(c, "states")), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(c, "suspension"),
                                                          "mode")), "refuse");
    assert_true(json_is_null(json_object_get(c, "reporter")));
    json_decref(c);

    assert_int_equal(sl_store_begin(f->w), 0);
    item(f->w, "a1", "cy", "{}", 1000);
    item(f->w, "a2", "cy", "{}", 1001);
    item(f->w, "b1", "other", "{}", 1002);
    assert_int_equal(storetest_synced(f->w,
                                      sl_store_item_set_state(f->w, "a2", "removed", 1100)), 0);
    assert_int_equal(storetest_synced(f->w,
                                      sl_store_report_add(f->w, "a1", "u1", true, 1.0, 1200)), 0);
    assert_int_equal(storetest_synced(f->w,
                                      sl_store_report_add(f->w, "a1", "u2", false, 0.5, 1300)), 0);
    assert_int_equal(storetest_synced(f->w,
                                      sl_store_report_add(f->w, "b1", "u1", true, 1.0, 1400)), 0);
    assert_int_equal(storetest_synced(f->w,
                                      sl_store_report_add(f->w, "a2", "cy", true, 1.0, 1500)), 0);
    assert_int_equal(storetest_synced(f->w, sl_store_reports_judge(f->w, "a1", true)), 0);
    assert_int_equal(storetest_synced(f->w, sl_store_suspension_set(f->w, "cz", &sus)), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    all = suspensions(f->r, 0);
    assert_string_equal(all, "{\"cy\":\"refuse worse token:ann 1000\","
                             "\"cz\":\"refuse worse token:ann 2000\"}");
    free(all);
    all = suspensions(f->r, 1);                     /* the callback stops it */
    assert_true(strcmp(all, "{\"cy\":\"refuse worse token:ann 1000\"}") == 0 ||
                strcmp(all, "{\"cz\":\"refuse worse token:ann 2000\"}") == 0);
    free(all);

    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_suspension_lift(f->w, "cy"), 0);
    assert_int_equal(sl_store_suspension_lift(f->w, "cz"), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    assert_int_equal(sl_store_suspension_get(f->r, "cy", &got), -ENOENT);
    all = suspensions(f->r, 0);
    assert_string_equal(all, "{}");
    free(all);

    assert_int_equal(sl_store_creator_get(f->r, "cy", &c), 0);
    json_t *states = json_object_get(c, "states"), *rep = json_object_get(c, "reports");
    assert_int_equal(json_integer_value(json_object_get(states, "approved")), 1);
    assert_int_equal(json_integer_value(json_object_get(states, "removed")), 1);
    assert_int_equal(json_object_size(states), 2);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(c, "standing"),
                                                        "uploads")), 2);
    assert_true(json_is_null(json_object_get(c, "suspension")));
    assert_int_equal(json_integer_value(json_object_get(rep, "items")), 2);
    assert_int_equal(json_integer_value(json_object_get(rep, "reports")), 3);
    assert_int_equal(json_integer_value(json_object_get(rep, "upheld")), 2);
    assert_int_equal(json_integer_value(json_object_get(rep, "pending")), 1);
    json_t *recent = json_object_get(rep, "recent");
    assert_int_equal(json_array_size(recent), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(recent, 0), "user")),
                        "cy");                      /* the newest first */
    assert_true(json_real_value(json_object_get(json_array_get(recent, 2), "weight")) == 1.0);
    assert_non_null(json_object_get(json_object_get(c, "reporter"), "reports"));
    json_decref(c);
}

/* Matches added later: once each (kind, name, detail), found by the
 * matched filter from then on; the items that carry hashes, newest
 * first, a slice at a time, none older than the window. */
static void test_matches(void **state)
{
    struct storetest_fx *f = *state;
    json_t *row = NULL;

    assert_int_equal(sl_store_begin(f->w), 0);
    item(f->w, "h1", "cy", "{\"hashes\": [\"00ff\"]}", 1000);
    item(f->w, "n1", "cy", "{\"title\": \"no hashes\"}", 2000);
    item(f->w, "h2", "cy", "{\"hashes\": [\"0f0f\", \"f0f0\"]}", 3000);
    item(f->w, "h3", "cy", "{\"hashes\": [\"ffff\"]}", 4000);
    assert_int_equal(sl_store_commit(f->w), 0);

    assert_int_equal(sl_store_begin(f->w), 0);
    const char *m = "{\"source\": \"hashbank\", \"kind\": \"hash\", \"name\": \"known\","
                    " \"detail\": \"00ff\", \"score\": 0}";
    assert_int_equal(sl_store_item_add_match(f->w, "h1", m, 5000), 0);
    assert_int_equal(sl_store_item_add_match(f->w, "h1", m, 5000), SL_STORE_KEPT);
    assert_int_equal(sl_store_item_add_match(f->w, "h1", "{\"kind\": \"hash\", \"name\":"
                                             " \"known\", \"detail\": \"0000\"}", 5000), 0);
    assert_int_equal(sl_store_item_add_match(f->w, "nope", m, 5000), -ENOENT);
    assert_int_equal(sl_store_commit(f->w), 0);
    struct sl_search q = { .matched = "known", .match_kind = "hash", .limit = 10 };
    assert_string_equal(found(f->r, &q), "h1");
    assert_int_equal(sl_store_search_row(f->r, "h1", &row), 0);
    json_t *ms = json_object_get(row, "matches");
    assert_int_equal(json_array_size(ms), 1);       /* (kind, name) once */
    assert_string_equal(json_string_value(json_object_get(json_array_get(ms, 0), "name")),
                        "known");
    assert_int_equal(json_integer_value(json_object_get(row, "updated_ms")), 5000);
    json_decref(row);

    /* Two at a time: h3, h2, then h1; since 2000: h3 and h2 only. */
    struct ids o = { 0 };
    int64_t next = 0, examined = 0;
    assert_int_equal(sl_store_item_hashes(f->r, INT64_MAX, INT64_MAX, 0, 2, 0, note_hashes, &o,
                                          &next, &examined), 0);
    assert_int_equal(examined, 2);
    assert_string_equal(o.id[0], "h3");
    assert_string_equal(o.id[1], "h2");
    assert_int_equal(sl_store_item_hashes(f->r, next, INT64_MAX, 0, 2, 0, note_hashes, &o, &next,
                                          &examined), 0);
    assert_int_equal(examined, 1);
    assert_string_equal(o.id[2], "h1");
    assert_int_equal(next, 0);
    o.n = 0;
    assert_int_equal(sl_store_item_hashes(f->r, INT64_MAX, INT64_MAX, 2000, 10, 0, note_hashes,
                                          &o, &next, &examined), 0);
    assert_int_equal(o.n, 2);
    assert_int_equal(next, 0);
}

/* Text: a term of 3+ characters ignores case beyond ASCII too (FTS5's
 * trigram tokenizer, PostgreSQL's ILIKE); a shorter one ignores the case
 * of ASCII letters only (LIKE). */
static void test_text_case(void **state)
{
    struct storetest_fx *f = *state;

    assert_int_equal(sl_store_begin(f->w), 0);
    item(f->w, "e1", "cy", "{\"title\": \"Été chaud\"}", 1000);
    item(f->w, "e2", "cy", "{\"description\": \"un été 100% froid\"}", 1001);
    item(f->w, "e3", "cy", "{\"transcript\": \"hiver_froid\", \"title\": 7}", 1002);
    assert_int_equal(sl_store_commit(f->w), 0);
    struct sl_search q = { .terms = { "ÉTÉ" }, .nterms = 1, .limit = 10 };
    assert_string_equal(found(f->r, &q), "e2,e1");
    q.terms[0] = "100%";
    assert_string_equal(found(f->r, &q), "e2");
    q.terms[0] = "R_F";
    assert_string_equal(found(f->r, &q), "e3");
    q = (struct sl_search){ .creator = "cy", .terms = { "ÉT" }, .nterms = 1, .limit = 10 };
    assert_string_equal(found(f->r, &q), "e1");
    q.terms[0] = "ét";
    assert_string_equal(found(f->r, &q), "e2");
    q.terms[0] = "%";
    assert_string_equal(found(f->r, &q), "e2");
    q.terms[0] = "7";               /* a title that is not text is not text */
    assert_string_equal(found(f->r, &q), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        storetest_case(test_jobs),
        storetest_case(test_creators),
        storetest_case(test_matches),
        storetest_case(test_text_case),
    };

    /* Migrations log at info level; keep the test output to what matters. */
    return storetest_run(tests, SL_LOG_WARN);
}
