/* SPDX-License-Identifier: MIT */
/* The writer's VFS (core/store/sqlite_vfs.c): a commit's WAL frames in a few writes, and nothing lost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/sqlite.h"

struct fixture {
    char dir[64];
    char path[96];
    sqlite3 *w;         /* the writer, on the VFS */
    sqlite3 *r;         /* another connection, on SQLite's own */
};

static void exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err ? err : "?");
}

static sqlite3 *open_db(const char *path, const char *vfs)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                     vfs), SQLITE_OK);
    exec(db, "PRAGMA synchronous = FULL");
    return db;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    strcpy(f->dir, "/tmp/sl_vfs_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
    f->w = open_db(f->path, SL_SQLITE_VFS);
    exec(f->w, "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;"
               "CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL)");
    f->r = open_db(f->path, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    sqlite3_close(f->r);
    sqlite3_close(f->w);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Row k's value: n bytes, none alike from row to row. */
static void fill(unsigned char *v, size_t n, int k)
{
    uint32_t x = 2166136261u ^ (uint32_t)k;

    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        v[i] = (unsigned char)(x >> 16);
    }
}

static void put_rows(sqlite3 *db, int from, int to, size_t n)
{
    sqlite3_stmt *st;
    unsigned char *v = malloc(n);

    assert_non_null(v);
    assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?, ?)", -1, &st, NULL),
                     SQLITE_OK);
    for (int k = from; k < to; k++) {
        fill(v, n, k);
        sqlite3_bind_int(st, 1, k);
        sqlite3_bind_blob(st, 2, v, (int)n, SQLITE_TRANSIENT);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    free(v);
}

/* The rows another connection sees are exactly [from, to), each as put. */
static void rows_are(sqlite3 *db, int from, int to, size_t n)
{
    sqlite3_stmt *st;
    unsigned char *v = malloc(n);
    int k = from;

    assert_non_null(v);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT k, v FROM t ORDER BY k", -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        assert_int_equal(sqlite3_column_int(st, 0), k);
        assert_int_equal(sqlite3_column_bytes(st, 1), (int)n);
        fill(v, n, k);
        assert_memory_equal(sqlite3_column_blob(st, 1), v, n);
        k++;
    }
    assert_int_equal(k, to);
    sqlite3_finalize(st);
    free(v);
}

static void intact(sqlite3 *db)
{
    sqlite3_stmt *st;

    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
}

/* A commit of 3 MB (a run longer than the VFS keeps, and longer than the
 * default VFS writes in one call) is there for the other connection the
 * moment it returns, byte for byte. */
static void test_big_commit_seen(void **state)
{
    struct fixture *f = *state;

    exec(f->w, "BEGIN");
    put_rows(f->w, 0, 50, 60000);
    exec(f->w, "COMMIT");
    rows_are(f->r, 0, 50, 60000);
    intact(f->r);
}

/* A transaction that spills frames to the WAL before it is rolled back
 * leaves nothing; the next commit, written over them, is whole. */
static void test_spill_rolled_back(void **state)
{
    struct fixture *f = *state;

    exec(f->w, "PRAGMA cache_size = 16");
    exec(f->w, "BEGIN");
    put_rows(f->w, 0, 20, 3000);
    exec(f->w, "COMMIT");
    exec(f->w, "BEGIN");
    put_rows(f->w, 20, 400, 3000);
    exec(f->w, "ROLLBACK");
    rows_are(f->r, 0, 20, 3000);
    exec(f->w, "BEGIN");
    put_rows(f->w, 20, 30, 3000);
    exec(f->w, "COMMIT");
    rows_are(f->r, 0, 30, 3000);
    intact(f->r);
    /* Read again from the file alone: the WAL recovered by a new reader. */
    sqlite3_close(f->r);
    sqlite3_close(f->w);
    f->w = open_db(f->path, SL_SQLITE_VFS);
    f->r = open_db(f->path, NULL);
    rows_are(f->r, 0, 30, 3000);
    intact(f->r);
}

/* The WAL emptied by another connection's checkpoint starts over from its
 * first byte; what is written there after is read back. */
static void test_wal_starts_over(void **state)
{
    struct fixture *f = *state;

    for (int round = 0; round < 3; round++) {
        for (int c = 0; c < 5; c++) {
            exec(f->w, "BEGIN");
            put_rows(f->w, round * 50 + c * 10, round * 50 + c * 10 + 10, 5000);
            exec(f->w, "COMMIT");
        }
        exec(f->r, "PRAGMA wal_checkpoint(TRUNCATE)");
    }
    rows_are(f->r, 0, 150, 5000);
    intact(f->r);
}

/* {====================== Counting the writes ========================== */

static sqlite3_syscall_ptr real_pwrite, real_pwrite64, real_write;
static int writes;

static ssize_t count_pwrite(int fd, const void *p, size_t n, off_t off)
{
    writes++;
    return ((ssize_t(*)(int, const void *, size_t, off_t))real_pwrite)(fd, p, n, off);
}

static ssize_t count_pwrite64(int fd, const void *p, size_t n, off_t off)
{
    writes++;
    return ((ssize_t(*)(int, const void *, size_t, off_t))real_pwrite64)(fd, p, n, off);
}

static ssize_t count_write(int fd, const void *p, size_t n)
{
    writes++;
    return ((ssize_t(*)(int, const void *, size_t))real_write)(fd, p, n);
}

static void counting(bool on)
{
    sqlite3_vfs *def = sqlite3_vfs_find(NULL);

    if (on) {
        real_pwrite = def->xGetSystemCall(def, "pwrite");
        real_pwrite64 = def->xGetSystemCall(def, "pwrite64");
        real_write = def->xGetSystemCall(def, "write");
        if (real_pwrite)
            def->xSetSystemCall(def, "pwrite", (sqlite3_syscall_ptr)count_pwrite);
        if (real_pwrite64)
            def->xSetSystemCall(def, "pwrite64", (sqlite3_syscall_ptr)count_pwrite64);
        if (real_write)
            def->xSetSystemCall(def, "write", (sqlite3_syscall_ptr)count_write);
    } else {
        def->xSetSystemCall(def, NULL, NULL);   /* all back as they were */
    }
}

/* The writes a commit of 40 rows of 3,000 bytes (about 40 pages) costs. */
static int commit_writes(sqlite3 *db, int from)
{
    exec(db, "BEGIN");
    put_rows(db, from, from + 40, 3000);
    writes = 0;
    counting(true);
    exec(db, "COMMIT");
    counting(false);
    return writes;
}

/* Through the VFS a commit is a few writes (the frames in 64 KiB pieces);
 * SQLite's own VFS writes each frame's header and page apart. */
static void test_commit_gathered(void **state)
{
    struct fixture *f = *state;
    sqlite3 *plain = open_db(f->path, NULL);
    int gathered = commit_writes(f->w, 0), apart = commit_writes(plain, 40);

    sqlite3_close(plain);
    print_message("writes for a commit of 40 pages: %d gathered, %d apart\n", gathered, apart);
    assert_true(apart >= 80);
    assert_true(gathered >= 1 && gathered <= 4);
    rows_are(f->r, 0, 80, 3000);
}

/* }===================================================================== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_big_commit_seen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spill_rolled_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_starts_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_gathered, setup, teardown),
    };

    if (sl_sqlite_vfs_register() != SQLITE_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
