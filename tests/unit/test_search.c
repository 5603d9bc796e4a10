/* SPDX-License-Identifier: MIT */
/* Search in the store, on SQLite or on PostgreSQL (SLUICE_TEST_STORE): time
 * bounds that cut a scan and the pages that go on from it, time ranges over a
 * clock that stepped back, and the reader threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "lib/clock.h"
#include "store/readers.h"
#include "store/store.h"
#include "storetest.h"

#define N 3000

static void insert(struct sl_store *w, int i, int64_t now_ms)
{
    char id[32], upload[128];
    snprintf(id, sizeof(id), "i%05d", i);
    snprintf(upload, sizeof(upload), "{\"title\":\"clip %d %s\"}", i,
             i % 7 == 0 ? "sunset" : "noon");
    const struct sl_item_row row = {
        .id = id, .creator = i % 3 == 0 ? "c0" : "c1",
        .state = i % 2 == 0 ? "approved" : "rejected",
        .upload = upload, .upload_hash = STORETEST_HASH, .tags = "{}", .reasons = "[]",
        .matches = "[]", .now_ms = now_ms,
    };
    assert_int_equal(sl_store_item_insert(w, &row), 0);
}

/* The group's store: N items, created 10 ms apart. */
static int setup(void **state)
{
    storetest_setup_writer(state);
    struct storetest_fx *f = *state;
    assert_int_equal(sl_store_begin(f->w), 0);
    for (int i = 1; i <= N; i++)
        insert(f->w, i, 1000000 + i * 10);
    assert_int_equal(sl_store_commit(f->w), 0);
    assert_int_equal(sl_store_open(f->where, f->dir, false, &f->r), 0);
    return 0;
}

struct seen {
    int n;
    int64_t seq[N + 1];
};

static int note(void *arg, int64_t seq, const char *id)
{
    struct seen *s = arg;
    (void)id;
    assert_true(s->n < N);
    s->seq[s->n++] = seq;
    return 0;
}

/* }===================================================================== */

/* A deadline already past cuts every page after 32 items looked at; the
 * pages, each going on from where the last stopped, find every item once. */
static void test_partial_pages(void **state)
{
    struct storetest_fx *f = *state;
    static struct seen s;
    struct sl_search_end end;
    struct sl_search q = { .creator = "c0", .limit = 1000000 };
    int pages = 0;

    s.n = 0;
    do {
        q.deadline = sl_mono() - 1;
        assert_int_equal(sl_store_search(f->r, &q, note, &s, &end), 0);
        if (end.next) {
            assert_true(end.partial);
            assert_int_equal(end.scanned, 32);
        }
        q.before = end.next;
        pages++;
    } while (end.next && pages < 1000);
    assert_int_equal(s.n, N / 3);
    for (int i = 0; i < s.n; i++)
        assert_int_equal(s.seq[i], (int64_t)(N / 3 - i) * 3);     /* newest first, once */
    assert_int_equal(pages, (N / 3 + 31) / 32);
}

/* A time bound on every statement that passed already: nothing is looked
 * at, and the search says so. */
static void test_hard_deadline(void **state)
{
    struct storetest_fx *f = *state;
    struct sl_search_end end;
    static struct seen s;
    struct sl_search q = { .nstates = 1, .states = { "approved" }, .terms = { "noon" },
                           .nterms = 1, .limit = 10 };

    s.n = 0;
    sl_store_deadline(f->r, sl_mono() - 1);
    int rc = sl_store_search(f->r, &q, note, &s, &end);
    sl_store_deadline(f->r, 0);
    assert_int_equal(rc, -ETIMEDOUT);
    assert_int_equal(s.n, 0);
    /* The connection works again without the bound. */
    assert_int_equal(sl_store_search(f->r, &q, note, &s, &end), 0);
    assert_int_equal(end.found, 10);
    assert_int_equal(s.n, 10);
    assert_false(end.partial);
}

/* A clock that steps back: created_ms keeps its order, so time ranges are
 * ranges of seq, found by a binary search. */
static void test_clock_back(void **state)
{
    struct storetest_fx *f = *state;
    struct sl_search_end end;
    static struct seen s;
    json_t *row = NULL;

    assert_int_equal(sl_store_begin(f->w), 0);
    insert(f->w, N + 1, 5000000);
    insert(f->w, N + 2, 4000000);           /* the clock went back a little */
    insert(f->w, N + 3, 6000000);
    assert_int_equal(sl_store_commit(f->w), 0);
    assert_int_equal(sl_store_search_row(f->r, "i03002", &row), 0);
    assert_int_equal(json_integer_value(json_object_get(row, "created_ms")), 5000000);
    json_decref(row);

    struct sl_search q = { .since_ms = 5000000, .limit = 100 };
    s.n = 0;
    assert_int_equal(sl_store_search(f->r, &q, note, &s, &end), 0);
    assert_int_equal(s.n, 3);
    q = (struct sl_search){ .since_ms = 1000000 + 100 * 10, .until_ms = 1000000 + 110 * 10,
                            .limit = 100 };
    s.n = 0;
    assert_int_equal(sl_store_search(f->r, &q, note, &s, &end), 0);
    assert_int_equal(s.n, 10);
    assert_int_equal(s.seq[0], 109);
    assert_int_equal(s.seq[9], 100);
    q = (struct sl_search){ .since_ms = 7000000, .limit = 100 };
    assert_int_equal(sl_store_search(f->r, &q, note, &s, &end), 0);
    assert_int_equal(end.found, 0);
    assert_int_equal(end.next, 0);
}

/* Two filters: the smaller drives, the other is checked on each item. */
static void test_two_filters(void **state)
{
    struct storetest_fx *f = *state;
    struct sl_search_end end;
    static struct seen s;
    struct sl_search q = { .creator = "c0", .terms = { "sunset" }, .nterms = 1,
                           .nstates = 2, .states = { "approved", "rejected" }, .limit = N };

    s.n = 0;
    assert_int_equal(sl_store_search(f->r, &q, note, &s, &end), 0);
    assert_int_equal(s.n, N / 21);          /* multiples of 21 */
    for (int i = 0; i < s.n; i++)
        assert_int_equal(s.seq[i] % 21, 0);
    assert_int_equal(end.next, 0);
    /* A term of no character cannot be searched. */
    q.terms[0] = "";
    assert_int_equal(sl_store_search(f->r, &q, note, &s, &end), -EINVAL);
}

/* {====================== Reader threads ================================ */

struct held {
    struct sl_read_op op;
    atomic_int go;
    int done_rc;
    bool done;
};

static int hold_run(struct sl_read_op *op, struct sl_store *reader)
{
    struct held *h = (struct held *)op;
    int64_t seq;
    while (!atomic_load(&h->go))
        usleep(1000);
    return sl_store_seq_max(reader, &seq) == 0 ? (int)seq : -EIO;
}

static void hold_done(struct sl_read_op *op, int rc)
{
    struct held *h = (struct held *)op;
    h->done = true;
    h->done_rc = rc;
}

/* One thread, no queue: a second read while the first runs is refused;
 * the first answers on the loop; stopping answers what waits. */
static void test_readers(void **state)
{
    struct storetest_fx *f = *state;
    struct event_base *base;
    struct sl_readers *p;
    struct held a = { .op = { .run = hold_run, .done = hold_done } };
    struct held b = { .op = { .run = hold_run, .done = hold_done } };
    struct held c = { .op = { .run = hold_run, .done = hold_done } };

    assert_int_equal(evthread_use_pthreads(), 0);
    assert_non_null(base = event_base_new());
    assert_int_equal(sl_readers_new(base, f->where, f->dir, 1, 0, NULL, &p), 0);
    assert_int_equal(sl_readers_submit(p, &a.op), 0);
    for (int i = 0; i < 1000; i++) {
        struct sl_readers_stats st;
        sl_readers_stats(p, &st);
        if (st.running == 1)
            break;
        usleep(1000);
    }
    assert_int_equal(sl_readers_submit(p, &b.op), -EBUSY);
    atomic_store(&a.go, 1);
    for (int i = 0; i < 5000 && !a.done; i++)
        event_base_loop(base, EVLOOP_NONBLOCK), usleep(1000);
    assert_true(a.done);
    assert_int_equal(a.done_rc, N + 3);
    /* c waits behind a held b; stopping answers c without running it. */
    sl_readers_free(p);
    assert_int_equal(sl_readers_new(base, f->where, f->dir, 1, 1, NULL, &p), 0);
    assert_int_equal(sl_readers_submit(p, &b.op), 0);
    assert_int_equal(sl_readers_submit(p, &c.op), 0);
    atomic_store(&b.go, 1);
    sl_readers_free(p);
    assert_true(b.done);
    assert_true(c.done);
    assert_true(b.done_rc == N + 3 || b.done_rc == -ESHUTDOWN);
    assert_int_equal(c.done_rc, -ESHUTDOWN);
    event_base_free(base);
}

/* }===================================================================== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partial_pages),
        cmocka_unit_test(test_hard_deadline),
        cmocka_unit_test(test_two_filters),
        cmocka_unit_test(test_clock_back),
        cmocka_unit_test(test_readers),
    };
    if (storetest_postgres())
        printf("# the store: PostgreSQL (SLUICE_TEST_STORE)\n");
    int failed = cmocka_run_group_tests(tests, setup, storetest_teardown);
    storetest_cleanup();
    return failed;
}
