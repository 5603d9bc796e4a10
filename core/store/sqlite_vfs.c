/* SPDX-License-Identifier: MIT */
/* The writer's VFS: SQLite's own, with a WAL file's appends gathered into one write a commit. */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/sqlite.h"

/*
 * SQLite writes each WAL frame in two calls, its 24-byte header and then
 * its page: 116 system calls for a group commit of 58 pages, where the
 * commit's fsync is one. On a virtual machine a system call costs
 * microseconds, and these were most of the commit thread's.
 *
 * Here a WAL file keeps one run of consecutive bytes written and not yet
 * passed on (at most RUN_MAX); the run is written in a few calls before the
 * file is synced, truncated, closed or asked its size, before a write that
 * does not extend it, and before a read that overlaps it. That is safe only
 * because the connection using it commits with synchronous = FULL (set
 * where it is opened, and never changed): SQLite syncs the WAL after a
 * commit's frames and before it makes them visible in the WAL's index, so
 * no other connection can look for a frame still in a run. A run cut short
 * by a crash holds nothing committed. Every other file, and every other
 * method, goes to SQLite's default VFS as it is.
 */

#define RUN_MAX (1u << 20)

struct run_file {
    sqlite3_file base;
    bool wal;
    unsigned char *run;         /* bytes for [at, at + len) of the file */
    size_t len, cap;
    sqlite3_int64 at;
    sqlite3_file real[];        /* the default VFS's file, szOsFile bytes */
};

static sqlite3_vfs *real_vfs;   /* set once, before any open */

static struct run_file *run_of(sqlite3_file *f)
{
    return (struct run_file *)f;
}

static const struct sqlite3_io_methods *real_io(struct run_file *r)
{
    return r->real->pMethods;
}

/* Pass the run on, WRITE_MAX bytes a call: the default VFS writes at
 * most 128 KiB - 1 bytes a call (it masks the length to 17 bits) and calls
 * a longer write short, SQLITE_FULL. The run is gone even if a write
 * failed (SQLite then fails the transaction, whose frames past the last
 * commit count for nothing). */
#define WRITE_MAX (64u << 10)

static int run_flush(struct run_file *r)
{
    int rc = SQLITE_OK;

    for (size_t done = 0; rc == SQLITE_OK && done < r->len; done += WRITE_MAX) {
        size_t n = r->len - done < WRITE_MAX ? r->len - done : WRITE_MAX;
        rc = real_io(r)->xWrite(r->real, r->run + done, (int)n, r->at + (sqlite3_int64)done);
    }
    r->len = 0;
    return rc;
}

static int run_close(sqlite3_file *f)
{
    struct run_file *r = run_of(f);
    int rc = run_flush(r), rc2 = real_io(r)->xClose(r->real);

    free(r->run);
    r->run = NULL;
    r->cap = 0;
    return rc != SQLITE_OK ? rc : rc2;
}

static int run_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    struct run_file *r = run_of(f);

    if (r->len > 0 && off < r->at + (sqlite3_int64)r->len && off + n > r->at) {
        int rc = run_flush(r);
        if (rc != SQLITE_OK)
            return rc;
    }
    return real_io(r)->xRead(r->real, p, n, off);
}

static int run_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    struct run_file *r = run_of(f);
    int rc;

    if (!r->wal)
        return real_io(r)->xWrite(r->real, p, n, off);
    if (r->len > 0 && (off != r->at + (sqlite3_int64)r->len || r->len + (size_t)n > RUN_MAX) &&
        (rc = run_flush(r)) != SQLITE_OK)
        return rc;
    if ((size_t)n > WRITE_MAX)
        return real_io(r)->xWrite(r->real, p, n, off);
    if (r->cap < r->len + (size_t)n) {
        size_t cap = r->cap ? r->cap : 64u << 10;
        while (cap < r->len + (size_t)n)
            cap *= 2;
        unsigned char *grown = realloc(r->run, cap);
        if (!grown) {
            if ((rc = run_flush(r)) != SQLITE_OK)
                return rc;
            return real_io(r)->xWrite(r->real, p, n, off);
        }
        r->run = grown;
        r->cap = cap;
    }
    if (r->len == 0)
        r->at = off;
    memcpy(r->run + r->len, p, (size_t)n);
    r->len += (size_t)n;
    return SQLITE_OK;
}

static int run_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    struct run_file *r = run_of(f);
    int rc = run_flush(r);

    return rc != SQLITE_OK ? rc : real_io(r)->xTruncate(r->real, size);
}

static int run_sync(sqlite3_file *f, int flags)
{
    struct run_file *r = run_of(f);
    int rc = run_flush(r);

    return rc != SQLITE_OK ? rc : real_io(r)->xSync(r->real, flags);
}

static int run_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    struct run_file *r = run_of(f);
    int rc = run_flush(r);

    return rc != SQLITE_OK ? rc : real_io(r)->xFileSize(r->real, size);
}

/* {====================== Passed on as they are ======================== */

static int run_lock(sqlite3_file *f, int lock)
{
    return real_io(run_of(f))->xLock(run_of(f)->real, lock);
}

static int run_unlock(sqlite3_file *f, int lock)
{
    return real_io(run_of(f))->xUnlock(run_of(f)->real, lock);
}

static int run_check_reserved(sqlite3_file *f, int *out)
{
    return real_io(run_of(f))->xCheckReservedLock(run_of(f)->real, out);
}

static int run_file_control(sqlite3_file *f, int op, void *arg)
{
    return real_io(run_of(f))->xFileControl(run_of(f)->real, op, arg);
}

static int run_sector_size(sqlite3_file *f)
{
    return real_io(run_of(f))->xSectorSize(run_of(f)->real);
}

static int run_device(sqlite3_file *f)
{
    return real_io(run_of(f))->xDeviceCharacteristics(run_of(f)->real);
}

static int run_shm_map(sqlite3_file *f, int page, int size, int extend, void volatile **p)
{
    return real_io(run_of(f))->xShmMap(run_of(f)->real, page, size, extend, p);
}

static int run_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return real_io(run_of(f))->xShmLock(run_of(f)->real, offset, n, flags);
}

static void run_shm_barrier(sqlite3_file *f)
{
    real_io(run_of(f))->xShmBarrier(run_of(f)->real);
}

static int run_shm_unmap(sqlite3_file *f, int delete_flag)
{
    return real_io(run_of(f))->xShmUnmap(run_of(f)->real, delete_flag);
}

static int run_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **p)
{
    return real_io(run_of(f))->xFetch(run_of(f)->real, off, n, p);
}

static int run_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return real_io(run_of(f))->xUnfetch(run_of(f)->real, off, p);
}

/* }===================================================================== */

static const sqlite3_io_methods run_io = {
    .iVersion = 3,
    .xClose = run_close,
    .xRead = run_read,
    .xWrite = run_write,
    .xTruncate = run_truncate,
    .xSync = run_sync,
    .xFileSize = run_file_size,
    .xLock = run_lock,
    .xUnlock = run_unlock,
    .xCheckReservedLock = run_check_reserved,
    .xFileControl = run_file_control,
    .xSectorSize = run_sector_size,
    .xDeviceCharacteristics = run_device,
    .xShmMap = run_shm_map,
    .xShmLock = run_shm_lock,
    .xShmBarrier = run_shm_barrier,
    .xShmUnmap = run_shm_unmap,
    .xFetch = run_fetch,
    .xUnfetch = run_unfetch,
};

static int run_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
    struct run_file *r = run_of(f);
    int rc;

    (void)vfs;
    memset(r, 0, offsetof(struct run_file, real));
    rc = real_vfs->xOpen(real_vfs, name, r->real, flags, out);
    /* The methods of a file SQLite could not open must be NULL: it is
     * then not closed. */
    if (rc != SQLITE_OK || r->real->pMethods == NULL) {
        r->base.pMethods = NULL;
        return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
    }
    /* A run's reads and writes are the default VFS's of version 3. */
    if (r->real->pMethods->iVersion < 3) {
        real_io(r)->xClose(r->real);
        r->base.pMethods = NULL;
        return SQLITE_CANTOPEN;
    }
    r->wal = (flags & SQLITE_OPEN_WAL) != 0;
    r->base.pMethods = &run_io;
    return SQLITE_OK;
}

/* {====================== The VFS's other methods: the default's ======= */

static int run_delete(sqlite3_vfs *v, const char *name, int sync_dir)
{
    (void)v;
    return real_vfs->xDelete(real_vfs, name, sync_dir);
}

static int run_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    (void)v;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int run_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
    (void)v;
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static void *run_dl_open(sqlite3_vfs *v, const char *name)
{
    (void)v;
    return real_vfs->xDlOpen(real_vfs, name);
}

static void run_dl_error(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    real_vfs->xDlError(real_vfs, n, out);
}

static void (*run_dl_sym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
    (void)v;
    return real_vfs->xDlSym(real_vfs, h, sym);
}

static void run_dl_close(sqlite3_vfs *v, void *h)
{
    (void)v;
    real_vfs->xDlClose(real_vfs, h);
}

static int run_randomness(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return real_vfs->xRandomness(real_vfs, n, out);
}

static int run_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    return real_vfs->xSleep(real_vfs, us);
}

static int run_current_time(sqlite3_vfs *v, double *out)
{
    (void)v;
    return real_vfs->xCurrentTime(real_vfs, out);
}

static int run_last_error(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return real_vfs->xGetLastError(real_vfs, n, out);
}

static int run_current_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    (void)v;
    return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

/* }===================================================================== */

static sqlite3_vfs run_vfs = {
    .iVersion = 2,
    .zName = SL_SQLITE_VFS,
    .xOpen = run_open,
    .xDelete = run_delete,
    .xAccess = run_access,
    .xFullPathname = run_full_pathname,
    .xDlOpen = run_dl_open,
    .xDlError = run_dl_error,
    .xDlSym = run_dl_sym,
    .xDlClose = run_dl_close,
    .xRandomness = run_randomness,
    .xSleep = run_sleep,
    .xCurrentTime = run_current_time,
    .xGetLastError = run_last_error,
    .xCurrentTimeInt64 = run_current_time64,
};

/* Once, before the first open (sqlite_configure); SQLITE_OK or SQLite's
 * code, when the writer then opens with the default VFS. */
int sl_sqlite_vfs_register(void)
{
    sqlite3_vfs *def = sqlite3_vfs_find(NULL);

    if (!def || def->iVersion < 2)
        return SQLITE_ERROR;
    real_vfs = def;
    run_vfs.szOsFile = (int)(offsetof(struct run_file, real) + (size_t)def->szOsFile);
    run_vfs.mxPathname = def->mxPathname;
    return sqlite3_vfs_register(&run_vfs, 0);
}
