/* SPDX-License-Identifier: MIT */
/* The change feed's window rule, on PostgreSQL (SLUICE_TEST_STORE): every committed change read once, in commit order, none rolled back; writers take turns. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <jansson.h>
#ifdef HAVE_LIBPQ
#include <libpq-fe.h>
#endif

#include "lib/log.h"
#include "../lua/util.h"
#include "store/shared.h"
#include "store/store.h"
#include "storetest.h"

struct fx {
    char *dir;
    char where[1024];
    struct sl_store *a, *b;     /* two writers, as of two nodes */
    struct sl_store *tail;      /* the tailer's reader */
};

static int setup(void **state)
{
    struct fx *f;
    *state = NULL;
    if (!storetest_postgres())
        return 0;               /* one node owns a SQLite store: no feed */
    f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->dir = temp_dir();
    assert_int_equal(storetest_fresh(f->where, sizeof(f->where)), 0);
    assert_int_equal(sl_store_open(f->where, f->dir, true, &f->a), 0);
    assert_int_equal(sl_store_open(f->where, f->dir, true, &f->b), 0);
    assert_int_equal(sl_store_open(f->where, f->dir, false, &f->tail), 0);
    assert_int_equal(sl_store_begin(f->a), 0);
    assert_int_equal(sl_store_node_set(f->a, "na"), 0);
    assert_int_equal(sl_store_commit(f->a), 0);
    assert_int_equal(sl_store_begin(f->b), 0);
    assert_int_equal(sl_store_node_set(f->b, "nb"), 0);
    assert_int_equal(sl_store_commit(f->b), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (!f)
        return 0;
    sl_store_free(f->tail);
    sl_store_free(f->b);
    sl_store_free(f->a);
    remove_dir(f->dir);
    free(f);
    return 0;
}

/* What a window read: "node:user" of each user change, in order. */
struct seen {
    int n;
    char row[16][64];
};

static int note(void *arg, const struct sl_store_change *c)
{
    struct seen *s = arg;
    assert_true(s->n < 16);
    assert_string_equal(c->kind, "user");
    snprintf(s->row[s->n++], sizeof(s->row[0]), "%s:%s", c->node ? c->node : "-", c->user);
    return 0;
}

static int no_event(void *arg, const char *node, const struct sl_event_row *ev)
{
    (void)arg, (void)node, (void)ev;
    fail_msg("no events were stored");
    return 1;
}

/* The next window from *h: what it read; *h moves to its end. */
static struct seen window(struct fx *f, uint64_t *h)
{
    struct seen s = { 0 };
    uint64_t to;
    assert_int_equal(sl_store_feed_horizon(f->tail, &to), 0);
    assert_true(to >= *h);
    assert_int_equal(sl_store_feed_window(f->tail, *h, to, note, no_event, &s), 0);
    *h = to;
    return s;
}

/* Windows from *h until they have read n rows in all (other sessions of
 * the server may hold the horizon back a moment), at most 10 s. */
static struct seen until(struct fx *f, uint64_t *h, int n)
{
    struct seen all = { 0 };
    for (int i = 0; i < 1000 && all.n < n; i++) {
        struct seen s = window(f, h);
        for (int k = 0; k < s.n; k++) {
            assert_true(all.n < 16);
            memcpy(all.row[all.n++], s.row[k], sizeof(s.row[k]));
        }
        if (all.n < n) {
            struct timespec ts = { 0, 10 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
    }
    return all;
}

static void user(struct sl_store *w, const char *id)
{
    assert_int_equal(sl_store_user_upsert(w, id, "lyon", "[]", 1), 0);
    assert_int_equal(sl_store_sync(w), 0);
}

#ifdef HAVE_LIBPQ
/* A session of the database's own, as an operator's psql or a migration
 * would be: it writes without the chain's lock that sluiced's writers take. */
static PGconn *session(struct fx *f, const char *node)
{
    PGconn *c = PQconnectdb(f->where);
    char sql[128];
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    snprintf(sql, sizeof(sql), "SELECT set_config('sluice.node', '%s', false)", node);
    PQclear(PQexec(c, sql));
    return c;
}

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

/* Whether the chain's lock (store/pg_audit.c) is free now, as seen by c. */
static bool chain_lock_free(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT pg_try_advisory_lock(7140293362)");
    bool got = PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (got)
        exec_ok(c, "SELECT pg_advisory_unlock(7140293362)");
    return got;
}
#endif

static void test_window_rule(void **state)
{
    struct fx *f = *state;
    uint64_t h;
    struct seen s;

    if (!f)
        skip();
#ifdef HAVE_LIBPQ
    assert_int_equal(sl_store_feed_horizon(f->tail, &h), 0);

    /* sluiced's writers take turns (test_turns); a session of another
     * program does not: it begins first, b commits first, and b's change is
     * not read before its, which is older and still running. */
    PGconn *a = session(f, "na");
    exec_ok(a, "BEGIN");
    exec_ok(a, "INSERT INTO users (id, city, interests, created_ms, updated_ms)"
               " VALUES ('first', 'lyon', '[]', 1, 1)");
    assert_int_equal(sl_store_begin(f->b), 0);
    user(f->b, "second");
    assert_int_equal(sl_store_commit(f->b), 0);
    s = window(f, &h);
    assert_int_equal(s.n, 0);

    /* A change rolled back is never read. */
    assert_int_equal(sl_store_begin(f->b), 0);
    user(f->b, "undone");
    assert_int_equal(sl_store_rollback(f->b), 0);

    /* a commits: both are read, in the order they were made. */
    exec_ok(a, "COMMIT");
    PQfinish(a);
    s = until(f, &h, 2);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.row[0], "na:first");
    assert_string_equal(s.row[1], "nb:second");

    /* Once read, never again; later changes come in the next window. */
    s = window(f, &h);
    assert_int_equal(s.n, 0);
    assert_int_equal(sl_store_begin(f->b), 0);
    user(f->b, "third");
    assert_int_equal(sl_store_commit(f->b), 0);
    s = until(f, &h, 1);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.row[0], "nb:third");
    s = window(f, &h);
    assert_int_equal(s.n, 0);
#else
    (void)h, (void)s;
#endif
}

/* Two sluiced writers (two nodes) take turns: a writer's transaction holds
 * the chain's lock from its start to its end, so that no two nodes' batches
 * deadlock on rows both change. */
static void test_turns(void **state)
{
    struct fx *f = *state;

    if (!f)
        skip();
#ifdef HAVE_LIBPQ
    PGconn *other = session(f, "nc");
    assert_true(chain_lock_free(other));
    assert_int_equal(sl_store_begin(f->a), 0);
    user(f->a, "holding");
    assert_false(chain_lock_free(other));
    assert_int_equal(sl_store_commit(f->a), 0);
    assert_true(chain_lock_free(other));
    assert_int_equal(sl_store_begin(f->b), 0);
    user(f->b, "undone");
    assert_false(chain_lock_free(other));
    assert_int_equal(sl_store_rollback(f->b), 0);
    assert_true(chain_lock_free(other));
    PQfinish(other);
#endif
}

/* A notification wakes the tailer; without one the wait times out. */
static void test_wait(void **state)
{
    struct fx *f = *state;

    if (!f)
        skip();
    assert_int_equal(sl_store_feed_wait(f->tail, 10), 0);
    assert_int_equal(sl_store_begin(f->a), 0);
    user(f->a, "woken");
    assert_int_equal(sl_store_commit(f->a), 0);
    assert_int_equal(sl_store_feed_wait(f->tail, 5000), 1);
    assert_int_equal(sl_store_feed_wait(f->tail, 10), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_window_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_turns, setup, teardown),
    };
    sl_log_set_level(SL_LOG_WARN);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    storetest_cleanup();
    return rc;
}
