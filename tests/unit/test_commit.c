/* SPDX-License-Identifier: MIT */
/* Group commit: a batch is written whole, a refused op undoes only its own work, and the
 * search's indexes follow in passes that a search waits for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>

#include "lib/clock.h"
#include "store/commit.h"
#include "store/readers.h"
#include "store/store.h"
#include "storetest.h"
#include "../lua/util.h"

/* An op that appends one audit record for its item, then answers want. */
struct test_op {
    struct sl_commit_op op;
    char item[16];
    int want;                   /* what apply answers after writing */
    bool gate;                  /* wait for the test to open the gate first */
    int applied;                /* runs of apply */
    int order;                  /* napplied when it last ran */
    int done_rc;
};

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_reached, gate_open;
static int ndone, napplied;

static int op_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct test_op *t = (struct test_op *)op;

    if (t->gate) {
        pthread_mutex_lock(&gate_lock);
        gate_reached = true;
        pthread_cond_broadcast(&gate_cond);
        while (!gate_open)
            pthread_cond_wait(&gate_cond, &gate_lock);
        pthread_mutex_unlock(&gate_lock);
    }
    t->applied++;
    t->order = ++napplied;
    struct sl_audit_rec rec = { .item = t->item, .actor = "system", .action = "test",
                                .reason = "", .ts_ms = 1 };
    int rc = sl_store_audit_append(w, &rec);
    return rc < 0 ? rc : t->want;
}

static void op_done(struct sl_commit_op *op, int rc)
{
    struct test_op *t = (struct test_op *)op;

    t->done_rc = rc;
    ndone++;
}

static size_t records_of(struct sl_store *r, const char *item)
{
    json_t *list = NULL;

    assert_int_equal(sl_store_audit_list(r, item, 0, 100, &list), 0);
    size_t n = json_array_size(list);
    json_decref(list);
    return n;
}

/* ops[0..n) with items item0.., each answering 0; ops[0] waits at the gate. */
static void init_ops(struct test_op *ops, int n)
{
    memset(ops, 0, (size_t)n * sizeof(*ops));
    for (int i = 0; i < n; i++) {
        snprintf(ops[i].item, sizeof(ops[i].item), "item%d", i);
        ops[i].op.apply = op_apply;
        ops[i].op.done = op_done;
    }
    ops[0].gate = true;
}

/* Submits ops[0] and, once the thread sits at its gate (it has taken
 * ops[0] alone), queues ops[1..n_ordered] in order and the next n_ahead to
 * go ahead, so that they are batched behind it; opens the gate and waits
 * until all are done. */
static void queue_behind_gate(struct sl_commit *c, struct event_base *base, struct test_op *ops,
                              int n_ordered, int n_ahead)
{
    int n = 1 + n_ordered + n_ahead;

    gate_reached = gate_open = false;
    ndone = napplied = 0;
    assert_int_equal(sl_commit_submit(c, &ops[0].op), 0);
    pthread_mutex_lock(&gate_lock);
    while (!gate_reached)
        pthread_cond_wait(&gate_cond, &gate_lock);
    for (int i = 1; i < n; i++)
        assert_int_equal(i <= n_ordered ? sl_commit_submit(c, &ops[i].op)
                                        : sl_commit_submit_ahead(c, &ops[i].op), 0);
    gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    while (ndone < n)
        assert_true(event_base_loop(base, EVLOOP_ONCE) >= 0);
}

/*
 * ops[0] holds the commit thread (it waits at the gate) while ops[1..4]
 * queue behind it, so they are written as one batch: ops[2] writes and is
 * refused. The batch is then written again op by op, each in a savepoint:
 * ops[1] and ops[3..4] are stored, ops[2]'s record is not, and the audit
 * chain is whole. Then a batch of accepted ops runs each apply once.
 */
static void test_refused_op_in_a_batch(void **state)
{
    char *dir = temp_dir();
    struct sl_store *w, *r;
    struct sl_commit *c;
    struct event_base *base;
    struct test_op ops[7];
    struct sl_audit_check check = { .after = 0, .limit = 1000 };

    char where[1024];
    (void)state;
    assert_int_equal(evthread_use_pthreads(), 0);
    assert_int_equal(storetest_fresh(where, sizeof(where)), 0);
    assert_int_equal(sl_store_open(where, dir, true, &w), 0);
    base = event_base_new();
    assert_non_null(base);
    assert_int_equal(sl_commit_new(base, w, 64, &c), 0);

    init_ops(ops, 7);
    ops[2].want = -EEXIST;
    queue_behind_gate(c, base, ops, 4, 0);

    assert_int_equal(ops[1].done_rc, 0);
    assert_int_equal(ops[2].done_rc, -EEXIST);
    assert_int_equal(ops[3].done_rc, 0);
    assert_int_equal(ops[4].done_rc, 0);
    /* Before the refusal, each ran in both writes; after it, once. */
    assert_int_equal(ops[1].applied, 2);
    assert_int_equal(ops[2].applied, 2);
    assert_int_equal(ops[3].applied, 1);
    assert_int_equal(ops[4].applied, 1);

    /* An accepted batch: one write, each apply once. */
    for (int i = 5; i <= 6; i++)
        assert_int_equal(sl_commit_submit(c, &ops[i].op), 0);
    while (ndone < 7)
        assert_true(event_base_loop(base, EVLOOP_ONCE) >= 0);
    assert_int_equal(ops[5].done_rc, 0);
    assert_int_equal(ops[5].applied, 1);
    assert_int_equal(ops[6].applied, 1);
    sl_commit_free(c);

    assert_int_equal(sl_store_open(where, dir, false, &r), 0);
    for (int i = 0; i < 7; i++)
        assert_int_equal(records_of(r, ops[i].item), i == 2 ? 0 : 1);
    assert_int_equal(sl_store_audit_verify(r, &check), 0);
    assert_true(check.checked >= 6);
    assert_false(check.more);
    sl_store_free(r);
    event_base_free(base);
    remove_dir(dir);
}

static void all_done_once(const struct test_op *ops, int n)
{
    for (int i = 0; i < n; i++) {
        assert_int_equal(ops[i].done_rc, 0);
        assert_int_equal(ops[i].applied, 1);
    }
}

/*
 * Ops that may go ahead open the next batch, whatever was queued before
 * them; the others keep their order and come 256 at most a batch, so 600
 * of them take three batches (256 with the three ahead ops, 256, 88), not
 * one. With batches of one op, the two queues take turns.
 */
static void test_ops_ahead(void **state)
{
    char *dir = temp_dir();
    char where[1024];
    struct sl_store *w;
    struct sl_commit *c;
    struct sl_commit_stats st;
    struct event_base *base;
    struct test_op *ops = calloc(604, sizeof(*ops));

    (void)state;
    assert_non_null(ops);
    assert_int_equal(evthread_use_pthreads(), 0);
    base = event_base_new();
    assert_non_null(base);
    assert_int_equal(storetest_fresh(where, sizeof(where)), 0);
    assert_int_equal(sl_store_open(where, dir, true, &w), 0);
    assert_int_equal(sl_commit_new(base, w, 4096, &c), 0);
    init_ops(ops, 604);
    queue_behind_gate(c, base, ops, 600, 3);
    all_done_once(ops, 604);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ops[601 + i].order, 2 + i);
    for (int i = 1; i <= 600; i++)
        assert_int_equal(ops[i].order, 4 + i);
    sl_commit_stats(c, &st);
    assert_int_equal(st.batches, 4);
    assert_int_equal(st.ops, 604);
    sl_commit_free(c);

    assert_int_equal(sl_store_open(where, dir, true, &w), 0);
    assert_int_equal(sl_commit_new(base, w, 1, &c), 0);
    init_ops(ops, 7);
    queue_behind_gate(c, base, ops, 3, 3);
    all_done_once(ops, 7);
    /* The gate's op, then one of each queue in turn, each in its order. */
    const int order[7] = { 1, 2, 4, 6, 3, 5, 7 };
    for (int i = 0; i < 7; i++)
        assert_int_equal(ops[i].order, order[i]);
    sl_commit_stats(c, &st);
    assert_int_equal(st.batches, 7);
    sl_commit_free(c);

    free(ops);
    event_base_free(base);
    remove_dir(dir);
}

/* {====================== The search's indexes ========================= */

/* An op that stores item wN, titled "zebra N". */
struct item_op {
    struct sl_commit_op op;
    int n;
    bool done;
    int done_rc;
};

static int item_insert(struct sl_store *w, int n)
{
    char id[16], upload[64];
    snprintf(id, sizeof(id), "w%d", n);
    snprintf(upload, sizeof(upload), "{\"title\":\"zebra %d\"}", n);
    const struct sl_item_row row = {
        .id = id, .creator = "c", .state = "approved", .upload = upload,
        .upload_hash = STORETEST_HASH, .tags = "{}", .reasons = "[]", .matches = "[]",
        .now_ms = 1000 + n,
    };
    return sl_store_item_insert(w, &row);
}

static int item_apply(struct sl_commit_op *op, struct sl_store *w)
{
    return item_insert(w, ((struct item_op *)op)->n);
}

static void item_done(struct sl_commit_op *op, int rc)
{
    struct item_op *t = (struct item_op *)op;
    t->done_rc = rc;
    t->done = true;
}

static void store_item(struct event_base *base, struct sl_commit *c, int n)
{
    struct item_op t = { .op = { .apply = item_apply, .done = item_done }, .n = n };

    assert_int_equal(sl_commit_submit(c, &t.op), 0);
    while (!t.done)
        assert_true(event_base_loop(base, EVLOOP_ONCE) >= 0);
    assert_int_equal(t.done_rc, 0);
}

static int count_one(void *arg, int64_t seq, const char *id)
{
    (void)seq;
    (void)id;
    ++*(int *)arg;
    return 0;
}

/* Items whose text has "zebra", found through the text index; or the
 * failure. On any thread. */
static int zebras(struct sl_store *r)
{
    struct sl_search q = { .terms = { "zebra" }, .nterms = 1, .limit = 100 };
    struct sl_search_end end;
    int n = 0, rc = sl_store_search(r, &q, count_one, &n, &end);
    return rc < 0 ? rc : n;
}

/* A search on a reader thread, as the API runs one. */
struct find_op {
    struct sl_read_op op;
    bool done;
    int rc;
};

static int find_run(struct sl_read_op *op, struct sl_store *reader)
{
    (void)op;
    return zebras(reader);
}

static void find_done(struct sl_read_op *op, int rc)
{
    struct find_op *f = (struct find_op *)op;
    f->rc = rc;
    f->done = true;
}

static int find_indexed(struct event_base *base, struct sl_readers *p)
{
    struct find_op f = { .op = { .run = find_run, .done = find_done, .indexed = true,
                                 .deadline = sl_mono() + 30 } };

    assert_int_equal(sl_readers_submit(p, &f.op), 0);
    while (!f.done)
        assert_true(event_base_loop(base, EVLOOP_ONCE) >= 0);
    return f.rc;
}

/*
 * With the commit thread, what a batch stores is indexed by a later pass
 * (SQLite; PostgreSQL's triggers index every write): a plain search right
 * after may not find it, a search that asks for the indexes does; a stop
 * indexes what is left; and what an earlier run stored and never indexed
 * (a kill -9 between passes, here a writer that left its indexes and
 * stopped) is indexed before the first search of the next run.
 */
static void test_indexes_later(void **state)
{
    char *dir = temp_dir();
    char where[1024];
    struct sl_store *w, *r;
    struct sl_commit *c;
    struct sl_readers *p;
    struct event_base *base;
    bool pg = storetest_postgres();

    (void)state;
    assert_int_equal(evthread_use_pthreads(), 0);
    assert_int_equal(storetest_fresh(where, sizeof(where)), 0);
    assert_non_null(base = event_base_new());
    assert_int_equal(sl_store_open(where, dir, true, &w), 0);
    double t0 = sl_mono();
    assert_int_equal(sl_commit_new(base, w, 64, &c), 0);
    store_item(base, c, 1);
    double took = sl_mono() - t0;
    assert_int_equal(sl_store_open(where, dir, false, &r), 0);
    /* No pass is due in the first quarter second (commit.c, INDEX_EVERY). */
    if (pg)
        assert_int_equal(zebras(r), 1);
    else if (took < 0.2)
        assert_int_equal(zebras(r), 0);
    assert_int_equal(sl_readers_new(base, where, dir, 1, 4, c, &p), 0);
    assert_int_equal(find_indexed(base, p), 1);
    store_item(base, c, 2);
    assert_int_equal(find_indexed(base, p), 2);
    store_item(base, c, 3);
    sl_readers_free(p);
    sl_commit_free(c);
    assert_int_equal(zebras(r), 3);

    /* A writer that leaves its indexes, stopped before any pass. */
    assert_int_equal(sl_store_open(where, dir, true, &w), 0);
    assert_int_equal(sl_store_index_later(w), pg ? -ENOTSUP : 0);
    assert_int_equal(sl_store_begin(w), 0);
    assert_int_equal(item_insert(w, 4), 0);
    assert_int_equal(sl_store_commit(w), 0);
    sl_store_free(w);
    assert_int_equal(zebras(r), pg ? 4 : 3);
    assert_int_equal(sl_store_open(where, dir, true, &w), 0);
    assert_int_equal(sl_commit_new(base, w, 64, &c), 0);
    assert_int_equal(sl_readers_new(base, where, dir, 1, 4, c, &p), 0);
    assert_int_equal(find_indexed(base, p), 4);
    sl_readers_free(p);
    sl_commit_free(c);

    sl_store_free(r);
    event_base_free(base);
    remove_dir(dir);
}

/* }===================================================================== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_op_in_a_batch),
        cmocka_unit_test(test_ops_ahead),
        cmocka_unit_test(test_indexes_later),
    };

    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    storetest_cleanup();
    return failed;
}
