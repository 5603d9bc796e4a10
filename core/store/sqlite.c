/* SPDX-License-Identifier: MIT */
/* The embedded store: SQLite in WAL mode, every statement prepared once. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "lib/log.h"
#include "store/sqlite.h"

/* {====================== Statements =================================== */

static const char *const tx_sql[ST__COUNT] = {
    [ST_BEGIN]          = "BEGIN IMMEDIATE",
    [ST_COMMIT]         = "COMMIT",
    [ST_ROLLBACK]       = "ROLLBACK",
    [ST_SAVEPOINT]      = "SAVEPOINT op",
    [ST_RELEASE]        = "RELEASE op",
    [ST_ROLLBACK_TO]    = "ROLLBACK TO op",
};

/* Every file's table of statements (sqlite.h); each slot is in one. */
static const char *const *const stmt_tables[] = {
    tx_sql,
    sl_sqlite_items_sql,
    sl_sqlite_audit_sql,
    sl_sqlite_users_sql,
    sl_sqlite_events_sql,
    sl_sqlite_queue_sql,
    sl_sqlite_hashbanks_sql,
    sl_sqlite_dist_sql,
    sl_sqlite_stats_sql,
    sl_sqlite_reports_sql,
    sl_sqlite_tokens_sql,
    sl_sqlite_search_sql,
    sl_sqlite_jobs_sql,
    sl_sqlite_matches_sql,
    sl_sqlite_creators_sql,
};

/* The SQL of statement id, from the table that fills its slot; NULL if none does. */
static const char *stmt_text(int id)
{
    for (size_t t = 0; t < sizeof(stmt_tables) / sizeof(stmt_tables[0]); t++)
        if (stmt_tables[t][id])
            return stmt_tables[t][id];
    return NULL;
}

/* }===================================================================== */

/* {====================== Open and close ================================ */

int sl_sqlite_exec(struct sl_store *s, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        sl_err("store: %s", msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return -EIO;
    }
    return 0;
}

/* Before SQLite's first use: its allocation statistics take a global mutex
 * on every malloc, shared by the loop's reader and the commit thread, for
 * figures nobody reads. */
static bool runs_vfs;   /* sqlite_vfs.c's is registered */

static void sqlite_configure(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    runs_vfs = sl_sqlite_vfs_register() == SQLITE_OK;
    if (!runs_vfs)
        sl_warn("store: SQLite's default VFS is not one to build on; the writer writes "
                "each WAL frame in two system calls");
}

/* The database holds token hashes and every upload: made 0600 whatever the
 * umask, before SQLite sees it. SQLite gives its -wal and -shm files the
 * database's mode. A file that exists keeps the mode its operator gave it. */
static int create_private(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

    if (fd < 0 && errno == EEXIST)
        return 0;
    if (fd < 0 || fchmod(fd, 0600) < 0) {
        sl_err("store: cannot create %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -EIO;
    }
    close(fd);
    return 0;
}

/* {====================== Checkpoints ================================= */
/*
 * Folding the WAL back into the database copies its pages and syncs the
 * main file: 40 to 120 ms for 32 MiB on the machines measured. SQLite's
 * own checkpoint runs that inside the commit that crossed the bound, and
 * every request batched behind it waited (ndjson-waves' p99). A PASSIVE
 * checkpoint over a connection of its own copies the pages while the
 * commit thread goes on writing; the WAL starts over only when every frame
 * is in the database at a writer's BEGIN, so the commit thread copies the
 * few frames written during the round itself, between two transactions.
 * Past CKPT_BOUND (the thread cannot keep up, or never started) the commit
 * thread checkpoints as SQLite's automatic checkpoint did.
 */

enum {
    CKPT_PAGES = 8192,      /* a round is due past 32 MiB of WAL */
    CKPT_TAIL = 256,        /* the thread goes on while more frames than this are left */
    CKPT_ROUNDS = 4,        /* ... for at most this many rounds */
    CKPT_BOUND = 4 * CKPT_PAGES,
};

enum ckpt_state { CKPT_IDLE, CKPT_DUE, CKPT_DONE };

struct sl_sqlite_ckpt {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sqlite3 *db;                /* the thread's own connection */
    enum ckpt_state state;      /* under mu */
    bool stop;                  /* under mu */
};

/* A checkpoint that could not run for a lock (another checkpoint, a
 * backup) is tried again at a later commit: only other failures are told. */
static void checkpoint(sqlite3 *db, int *log, int *done)
{
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, log, done);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
        sl_warn("store: checkpoint: %s", sqlite3_errmsg(db));
}

static void *ckpt_main(void *arg)
{
    struct sl_sqlite_ckpt *ck = arg;

    pthread_mutex_lock(&ck->mu);
    for (;;) {
        while (ck->state != CKPT_DUE && !ck->stop)
            pthread_cond_wait(&ck->cv, &ck->mu);
        if (ck->stop)
            break;
        pthread_mutex_unlock(&ck->mu);
        int log = 0, done = 0;
        for (int round = 0; round < CKPT_ROUNDS; round++) {
            checkpoint(ck->db, &log, &done);
            if (log - done <= CKPT_TAIL)
                break;
        }
        pthread_mutex_lock(&ck->mu);
        ck->state = CKPT_DONE;
    }
    pthread_mutex_unlock(&ck->mu);
    return NULL;
}

/* What ckpt_new() made, its thread stopped or never started. */
static void ckpt_release(struct sl_sqlite_ckpt *ck)
{
    sqlite3_close(ck->db);
    pthread_cond_destroy(&ck->cv);
    pthread_mutex_destroy(&ck->mu);
    free(ck);
}

static void ckpt_free(struct sl_sqlite_ckpt *ck)
{
    if (!ck)
        return;
    pthread_mutex_lock(&ck->mu);
    ck->stop = true;
    pthread_cond_signal(&ck->cv);
    pthread_mutex_unlock(&ck->mu);
    pthread_join(ck->thread, NULL);
    ckpt_release(ck);
}

/* Started at the first round due, so that a sluicectl that writes a little
 * never has the thread; NULL if it cannot start (the commit thread then
 * checkpoints past CKPT_BOUND). */
static struct sl_sqlite_ckpt *ckpt_new(sqlite3 *writer)
{
    struct sl_sqlite_ckpt *ck = calloc(1, sizeof(*ck));
    const char *path = sqlite3_db_filename(writer, "main");
    int err;

    if (!ck) {
        sl_warn("store: no memory for the checkpoint thread; the commit thread checkpoints");
        return NULL;
    }
    pthread_mutex_init(&ck->mu, NULL);
    pthread_cond_init(&ck->cv, NULL);
    if (sqlite3_open_v2(path, &ck->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK ||
        /* A first read opens the WAL: a connection that has read nothing
         * does not know the file is in WAL mode yet. */
        sqlite3_exec(ck->db, "PRAGMA synchronous = FULL; PRAGMA schema_version",
                     NULL, NULL, NULL) != SQLITE_OK) {
        sl_warn("store: the checkpoint thread cannot open %s: %s; the commit thread "
                "checkpoints", path, ck->db ? sqlite3_errmsg(ck->db) : "out of memory");
        ckpt_release(ck);
        return NULL;
    }
    if ((err = pthread_create(&ck->thread, NULL, ckpt_main, ck)) != 0) {
        sl_warn("store: cannot start the checkpoint thread: %s; the commit thread "
                "checkpoints", strerror(err));
        ckpt_release(ck);
        return NULL;
    }
    return ck;
}

/* SQLite calls this on the commit thread after each commit, with the
 * write lock released and the WAL's length in pages. */
static int on_wal(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct sl_sqlite *s = arg;
    bool tail = false;

    (void)name;
    if (pages < CKPT_PAGES)
        return SQLITE_OK;
    if (!s->ckpt && !s->ckpt_failed && !(s->ckpt = ckpt_new(db)))
        s->ckpt_failed = true;
    if (s->ckpt) {
        struct sl_sqlite_ckpt *ck = s->ckpt;
        pthread_mutex_lock(&ck->mu);
        if (ck->state == CKPT_IDLE) {
            ck->state = CKPT_DUE;
            pthread_cond_signal(&ck->cv);
        } else if (ck->state == CKPT_DONE) {
            ck->state = CKPT_IDLE;
            tail = true;
        }
        pthread_mutex_unlock(&ck->mu);
    }
    if (tail || pages >= CKPT_BOUND)
        checkpoint(db, NULL, NULL);
    return SQLITE_OK;
}

/* }===================================================================== */

int sl_store_open(const char *store, const char *dir, bool writer, struct sl_store **out)
{
    (void)store;    /* NULL: store.c chose SQLite */
    static pthread_once_t configured = PTHREAD_ONCE_INIT;
    pthread_once(&configured, sqlite_configure);

    char path[4096];
    struct sl_store *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->writer = writer;
    snprintf(path, sizeof(path), "%s/sluice.db", dir);
    if (writer && create_private(path) < 0) {
        sl_store_free(s);
        return -EIO;
    }
    int flags = writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
    /* The writer's VFS holds a commit's WAL frames until its sync: it
     * commits with synchronous = FULL (below), always. */
    if (sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX,
                        writer && runs_vfs ? SL_SQLITE_VFS : NULL) != SQLITE_OK) {
        sl_err("store: cannot open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        sl_store_free(s);
        return -EIO;
    }
    sqlite3_busy_timeout(s->db, 5000);
    /* WAL lets the loop's reader run while the commit thread writes;
     * synchronous=FULL makes every COMMIT durable before it returns, which
     * is what an acknowledgement promises. */
    if ((writer && sl_sqlite_exec(s, "PRAGMA journal_mode = WAL") < 0) ||
        sl_sqlite_exec(s, "PRAGMA synchronous = FULL") < 0 ||
        sl_sqlite_exec(s, "PRAGMA foreign_keys = ON") < 0 ||
        /* The writer's cache is small on purpose: a commit after any b-tree
         * split walks its whole page hash (SQLite renumbers split pages
         * through a page number past 1 GiB, and then truncates the cache
         * to the database size): with 64 MiB cached that walk was a tenth
         * of the commit thread. Its work is appends and a few hot pages. */
        sl_sqlite_exec(s, writer ? "PRAGMA cache_size = -8192" : "PRAGMA cache_size = -65536") < 0 ||
        /* Each request's savepoint journals the pages it first touches;
         * in a temporary file that was a write per page, several per
         * upload, inside the transaction everyone waits on. */
        sl_sqlite_exec(s, "PRAGMA temp_store = MEMORY") < 0 ||
        (writer && sl_sqlite_migrate(s) < 0)) {
        sl_store_free(s);
        return -EIO;
    }
    if (writer)
        sqlite3_wal_hook(s->db, on_wal, s);     /* in place of SQLite's own checkpoints */
    for (int i = 0; i < ST__COUNT; i++) {
        const char *sql = stmt_text(i);
        if (!sql || sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                       &s->stmt[i], NULL) != SQLITE_OK) {
            sl_err("store: cannot prepare statement %d: %s", i,
                   sql ? sqlite3_errmsg(s->db) : "no file gives its SQL");
            sl_store_free(s);
            return -EIO;
        }
    }
    if (writer && sl_sqlite_audit_load_head(s) < 0) {
        sl_store_free(s);
        return -EIO;
    }
    *out = s;
    return 0;
}

void sl_store_free(struct sl_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    if (s->db) {
        ckpt_free(s->ckpt);
        /* Fold the WAL back into the main file on a clean stop, so that a
         * backup of sluice.db alone is complete. */
        if (s->writer)
            sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        sqlite3_close(s->db);
    }
    free(s);
}

bool sl_store_created(const struct sl_store *s)
{
    return s->created;
}

/* }===================================================================== */

/* {====================== Transactions ================================= */

int sl_store_begin(struct sl_store *s)
{
    s->tx_seq = s->audit_seq;
    memcpy(s->tx_hash, s->audit_hash, sizeof(s->tx_hash));
    return stmt_done(s, stmt_get(s, ST_BEGIN), "begin");
}

int sl_store_commit(struct sl_store *s)
{
    /* The search's indexes join the transaction that stored what they
     * index, unless the writer's owner runs them (sl_store_index_later). */
    int rc = s->writer && !s->index_later ? sl_sqlite_index_new(s) : 0;
    if (rc == 0)
        rc = stmt_done(s, stmt_get(s, ST_COMMIT), "commit");
    if (rc < 0)
        sl_store_rollback(s);
    return rc;
}

int sl_store_rollback(struct sl_store *s)
{
    s->audit_seq = s->tx_seq;
    memcpy(s->audit_hash, s->tx_hash, sizeof(s->audit_hash));
    if (sqlite3_get_autocommit(s->db))
        return 0;   /* SQLite already rolled back (e.g. after an I/O error) */
    return stmt_done(s, stmt_get(s, ST_ROLLBACK), "rollback");
}

int sl_store_savepoint(struct sl_store *s)
{
    s->sp_seq = s->audit_seq;
    memcpy(s->sp_hash, s->audit_hash, sizeof(s->sp_hash));
    return stmt_done(s, stmt_get(s, ST_SAVEPOINT), "savepoint");
}

int sl_store_release(struct sl_store *s)
{
    return stmt_done(s, stmt_get(s, ST_RELEASE), "release");
}

int sl_store_rollback_to(struct sl_store *s)
{
    s->audit_seq = s->sp_seq;
    memcpy(s->audit_hash, s->sp_hash, sizeof(s->audit_hash));
    int rc = stmt_done(s, stmt_get(s, ST_ROLLBACK_TO), "rollback to");
    return rc < 0 ? rc : sl_store_release(s);
}

int sl_store_index_later(struct sl_store *s)
{
    s->index_later = true;
    return 0;
}

int sl_store_index(struct sl_store *s)
{
    return s->writer ? sl_sqlite_index_new(s) : 0;
}

/* Every write has run by the time its function returns. */
int sl_store_sync(struct sl_store *s)
{
    (void)s;
    return 0;
}

/* Start reads each table once, most of the file: mapped, a page is read in
 * place rather than copied (a tenth of a start's time); unmapped after, so
 * that a running daemon's resident memory stays its own. */
int sl_store_bulk(struct sl_store *s, bool on)
{
    sqlite3_exec(s->db, on ? "PRAGMA mmap_size = 1099511627776" : "PRAGMA mmap_size = 0",
                 NULL, NULL, NULL);
    return 0;
}

int sl_store_backup(struct sl_store *s, const char *path)
{
    sqlite3 *dst;
    if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        sl_err("store: backup: cannot open %s: %s", path, sqlite3_errmsg(dst));
        sqlite3_close(dst);
        return -EIO;
    }
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", s->db, "main");
    int rc = b ? sqlite3_backup_step(b, -1) : SQLITE_ERROR;
    if (b)
        sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE)
        sl_err("store: backup to %s failed: %s", path, sqlite3_errmsg(dst));
    sqlite3_close(dst);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

/* }===================================================================== */
