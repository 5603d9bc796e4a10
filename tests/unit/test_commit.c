/* SPDX-License-Identifier: MIT */
/* Group commit: a batch is written whole, and a refused op undoes only its own work. */
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

#include "store/commit.h"
#include "store/store.h"
#include "../lua/util.h"

/* An op that appends one audit record for its item, then answers want. */
struct test_op {
    struct sl_commit_op op;
    char item[16];
    int want;                   /* what apply answers after writing */
    bool gate;                  /* wait for the test to open the gate first */
    int applied;                /* runs of apply */
    int done_rc;
};

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_reached, gate_open;
static int ndone;

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

    (void)state;
    assert_int_equal(evthread_use_pthreads(), 0);
    assert_int_equal(sl_store_open(dir, true, &w), 0);
    base = event_base_new();
    assert_non_null(base);
    assert_int_equal(sl_commit_new(base, w, 64, &c), 0);

    memset(ops, 0, sizeof(ops));
    for (int i = 0; i < 7; i++) {
        snprintf(ops[i].item, sizeof(ops[i].item), "item%d", i);
        ops[i].op.apply = op_apply;
        ops[i].op.done = op_done;
    }
    ops[0].gate = true;
    ops[2].want = -EEXIST;
    assert_int_equal(sl_commit_submit(c, &ops[0].op), 0);
    /* Once the thread sits at the gate it has taken ops[0] alone: the
     * batch under test queues behind it. */
    pthread_mutex_lock(&gate_lock);
    while (!gate_reached)
        pthread_cond_wait(&gate_cond, &gate_lock);
    for (int i = 1; i <= 4; i++)
        assert_int_equal(sl_commit_submit(c, &ops[i].op), 0);
    gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    while (ndone < 5)
        assert_true(event_base_loop(base, EVLOOP_ONCE) >= 0);

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

    assert_int_equal(sl_store_open(dir, false, &r), 0);
    for (int i = 0; i < 7; i++)
        assert_int_equal(records_of(r, ops[i].item), i == 2 ? 0 : 1);
    assert_int_equal(sl_store_audit_verify(r, &check), 0);
    assert_true(check.checked >= 6);
    assert_false(check.more);
    sl_store_free(r);
    event_base_free(base);
    remove_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_op_in_a_batch),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
