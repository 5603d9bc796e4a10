/* SPDX-License-Identifier: MIT */
/* The store a unit test runs on: SQLite, or PostgreSQL when SLUICE_TEST_STORE says so. */
#ifndef SL_TEST_STORETEST_H
#define SL_TEST_STORETEST_H

#include <stdbool.h>
#include <stddef.h>

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

#endif
