/* SPDX-License-Identifier: MIT */
/* The store a unit test runs on: SQLite, or PostgreSQL when SLUICE_TEST_STORE says so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "lib/log.h"
#include "../lua/util.h"
#include "store/store.h"
#include "storetest.h"

static int made;

bool storetest_postgres(void)
{
    const char *s = getenv("SLUICE_TEST_STORE");
    return s && *s;
}

/* psql with one statement: CREATE and DROP DATABASE cannot share one. */
static int psql(const char *conninfo, const char *sql)
{
    char cmd[2048];
    if (snprintf(cmd, sizeof(cmd), "PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 '%s' -c '%s' >/dev/null",
                 conninfo, sql) >= (int)sizeof(cmd) || strchr(conninfo, '\'')) {
        fprintf(stderr, "storetest: SLUICE_TEST_STORE is too long or holds a quote\n");
        return -1;
    }
    if (system(cmd) != 0) {
        fprintf(stderr, "storetest: %s failed\n", cmd);
        return -1;
    }
    return 0;
}

static void dbname(int n, char *out, size_t len)
{
    snprintf(out, len, "sluice_unit_%ld_%d", (long)getpid(), n);
}

int storetest_fresh(char *where, size_t len)
{
    const char *server = getenv("SLUICE_TEST_STORE");
    char name[64], sql[128];

    if (!storetest_postgres()) {
        where[0] = '\0';
        return 0;
    }
    if (strstr(server, "://")) {
        fprintf(stderr, "storetest: give SLUICE_TEST_STORE as key=value pairs, not a URI\n");
        return -1;
    }
    dbname(made, name, sizeof(name));
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", name);
    if (psql(server, sql) < 0)
        return -1;
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    if (psql(server, sql) < 0)
        return -1;
    made++;
    /* libpq: of a keyword given twice, the last counts. */
    if (snprintf(where, len, "%s dbname=%s", server, name) >= (int)len)
        return -1;
    return 0;
}

int storetest_sql(const char *where, const char *dir, const char *sql)
{
    if (where[0]) {
        char cmd[2048];
        if (strchr(where, '\'') ||
            snprintf(cmd, sizeof(cmd), "psql -X -q -v ON_ERROR_STOP=1 '%s' >/dev/null",
                     where) >= (int)sizeof(cmd)) {
            fprintf(stderr, "storetest: the connection string is too long or holds a quote\n");
            return -1;
        }
        FILE *p = popen(cmd, "w");
        if (!p || fputs(sql, p) < 0 || fputs(";\n", p) < 0) {
            if (p)
                pclose(p);
            fprintf(stderr, "storetest: cannot run psql\n");
            return -1;
        }
        if (pclose(p) != 0) {
            fprintf(stderr, "storetest: psql failed on: %s\n", sql);
            return -1;
        }
        return 0;
    }
    char path[4096], *msg = NULL;
    sqlite3 *db = NULL;
    snprintf(path, sizeof(path), "%s/sluice.db", dir);
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    }
    if (rc != SQLITE_OK)
        fprintf(stderr, "storetest: %s: %s\n", sql, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

void storetest_cleanup(void)
{
    char name[64], sql[128];
    for (int i = 0; i < made; i++) {
        dbname(i, name, sizeof(name));
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
        psql(getenv("SLUICE_TEST_STORE"), sql);
    }
    made = 0;
}

/* {====================== Fixture ======================================= */

static int setup(void **state, bool reader)
{
    struct storetest_fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->dir = temp_dir();
    assert_int_equal(storetest_fresh(f->where, sizeof(f->where)), 0);
    assert_int_equal(sl_store_open(f->where, f->dir, true, &f->w), 0);
    assert_true(sl_store_created(f->w));
    if (reader)
        assert_int_equal(sl_store_open(f->where, f->dir, false, &f->r), 0);
    *state = f;
    return 0;
}

int storetest_setup(void **state)
{
    return setup(state, true);
}

int storetest_setup_writer(void **state)
{
    return setup(state, false);
}

int storetest_teardown(void **state)
{
    struct storetest_fx *f = *state;

    sl_store_free(f->r);
    sl_store_free(f->w);
    remove_dir(f->dir);
    free(f);
    return 0;
}

int storetest_synced(struct sl_store *s, int rc)
{
    return rc < 0 ? rc : sl_store_sync(s);
}

int storetest_run_tests(const char *name, const struct CMUnitTest *tests, size_t n, int level)
{
    sl_log_set_level(level);
    if (storetest_postgres())
        printf("# the store: PostgreSQL (SLUICE_TEST_STORE)\n");
    int failed = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
    storetest_cleanup();
    return failed;
}

/* }===================================================================== */
