/* SPDX-License-Identifier: MIT */
/* The store a unit test runs on: SQLite, or PostgreSQL when SLUICE_TEST_STORE says so. */
#ifndef SL_TEST_STORETEST_H
#define SL_TEST_STORETEST_H

#include <stdbool.h>
#include <stddef.h>

struct CMUnitTest;
struct sl_store;

/* Whether SLUICE_TEST_STORE names a PostgreSQL server (a libpq key=value
 * connection string, as tests/pgcluster prints). */
bool storetest_postgres(void);

/* A fresh empty store: "" (SQLite in the test's directory), or the
 * connection string of a new database on that server, in where (len
 * bytes). 0, or -1 with the reason printed. */
int storetest_fresh(char *where, size_t len);

/* Run sql (any number of statements) on the store where (as
 * storetest_fresh() gave it; SQLite: DIR/sluice.db) behind the store's
 * back, as an intruder or an operator would. 0, or -1 with the reason
 * printed. */
int storetest_sql(const char *where, const char *dir, const char *sql);

/* Drop the databases storetest_fresh() made. */
void storetest_cleanup(void);

/* {====================== Fixture ======================================= */

/* An upload's hash of the form the store keeps (64 hex digits). */
#define STORETEST_HASH "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* A test's store: a fresh one in a scratch folder, its writer, a reader. */
struct storetest_fx {
    char *dir;                  /* a scratch folder (tests/lua/util.c) */
    char where[1024];           /* the store setting: "" for SQLite in dir */
    struct sl_store *w;         /* the writer */
    struct sl_store *r;         /* a reader: NULL until one is opened */
};

/* cmocka setups of a struct storetest_fx in *state: a fresh store, made
 * by its writer, and a reader on it; or the writer only. */
int storetest_setup(void **state);
int storetest_setup_writer(void **state);
/* Close what is open, remove the folder (the database stays for
 * storetest_cleanup()). */
int storetest_teardown(void **state);
/* A test run on either fixture (cmocka.h first). */
#define storetest_case(fn) cmocka_unit_test_setup_teardown(fn, storetest_setup, storetest_teardown)
#define storetest_case_writer(fn) \
    cmocka_unit_test_setup_teardown(fn, storetest_setup_writer, storetest_teardown)

/* A write's answer, refusals sent ahead included (store.h). */
int storetest_synced(struct sl_store *s, int rc);

/* main() of a store test: the log at level (migrations log at info), a
 * line saying which store, the tests, then storetest_cleanup(); the
 * number that failed. */
#define storetest_run(tests, level) \
    storetest_run_tests(#tests, tests, sizeof(tests) / sizeof((tests)[0]), level)
int storetest_run_tests(const char *name, const struct CMUnitTest *tests, size_t n, int level);

/* }===================================================================== */

#endif
