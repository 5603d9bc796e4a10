/* SPDX-License-Identifier: MIT */
/* The store's one face: each call of store.h goes to the backend it was opened on. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "lib/log.h"
#include "store/backend.h"
#include "store/shared.h"
#include "store/store.h"

/* Exactly one of the two is set. */
struct sl_store {
    struct sl_sqlite *lite;
    struct sl_pg *pg;
};

SL_STORE_FUNCS(SL_SQLITE_DECLARE)
SL_STORE_TX_FUNCS(SL_SQLITE_DECLARE_TX)
SL_BACKEND_DECLARE_REST(sl_sqlite, struct sl_sqlite)
#ifdef HAVE_LIBPQ
SL_STORE_FUNCS(SL_PG_DECLARE)
SL_STORE_TX_FUNCS(SL_PG_DECLARE_TX)
SL_SHARED_FUNCS(SL_PG_DECLARE)
SL_BACKEND_DECLARE_REST(sl_pg, struct sl_pg)
#endif

/* {====================== Open and close ================================ */

int sl_store_open(const char *store, const char *dir, bool writer, struct sl_store **out)
{
    struct sl_store *s = calloc(1, sizeof(*s));
    int rc;

    if (!s)
        return -ENOMEM;
    if (!store || !*store) {
        rc = sl_sqlite_open(NULL, dir, writer, &s->lite);
    } else {
#ifdef HAVE_LIBPQ
        rc = sl_pg_open(store, NULL, writer, &s->pg);
#else
        sl_err("store: 'store' names a PostgreSQL database, and this sluiced was built "
               "without libpq (configure found no libpq-dev): leave 'store' out for SQLite, "
               "or rebuild with libpq");
        rc = -ENOTSUP;
#endif
    }
    if (rc < 0) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void sl_store_free(struct sl_store *s)
{
    if (!s)
        return;
#ifdef HAVE_LIBPQ
    sl_pg_free(s->pg);
#endif
    sl_sqlite_free(s->lite);
    free(s);
}

#ifdef HAVE_LIBPQ
bool sl_store_created(const struct sl_store *s)
{
    return s->pg ? sl_pg_created(s->pg) : sl_sqlite_created(s->lite);
}
#else
bool sl_store_created(const struct sl_store *s)
{
    return sl_sqlite_created(s->lite);
}
#endif

/* }===================================================================== */

/* {====================== Calls ======================================== */

#define SL_STORE_PARAMS(...) (struct sl_store *s, __VA_ARGS__)
#define SL_PG_ARGS(...) (s->pg, __VA_ARGS__)
#define SL_SQLITE_ARGS(...) (s->lite, __VA_ARGS__)

#ifdef HAVE_LIBPQ
#define CALL(name, params, args) \
    int sl_store_##name SL_STORE_PARAMS params \
    { \
        return s->pg ? sl_pg_##name SL_PG_ARGS args : sl_sqlite_##name SL_SQLITE_ARGS args; \
    }
#define CALL_TX(name) \
    int sl_store_##name(struct sl_store *s) \
    { \
        return s->pg ? sl_pg_##name(s->pg) : sl_sqlite_##name(s->lite); \
    }
#else
#define CALL(name, params, args) \
    int sl_store_##name SL_STORE_PARAMS params \
    { \
        return sl_sqlite_##name SL_SQLITE_ARGS args; \
    }
#define CALL_TX(name) \
    int sl_store_##name(struct sl_store *s) \
    { \
        return sl_sqlite_##name(s->lite); \
    }
#endif

SL_STORE_FUNCS(CALL)
SL_STORE_TX_FUNCS(CALL_TX)

#ifdef HAVE_LIBPQ
void sl_store_deadline(struct sl_store *s, double deadline)
{
    if (s->pg)
        sl_pg_deadline(s->pg, deadline);
    else
        sl_sqlite_deadline(s->lite, deadline);
}

void sl_store_interrupt(struct sl_store *s)
{
    if (s->pg)
        sl_pg_interrupt(s->pg);
    else
        sl_sqlite_interrupt(s->lite);
}
#else
void sl_store_deadline(struct sl_store *s, double deadline)
{
    sl_sqlite_deadline(s->lite, deadline);
}

void sl_store_interrupt(struct sl_store *s)
{
    sl_sqlite_interrupt(s->lite);
}
#endif

/* }===================================================================== */

/* {====================== Shared by several nodes (shared.h) =========== */

#ifdef HAVE_LIBPQ
#define CALL_SHARED(name, params, args) \
    int sl_store_##name SL_STORE_PARAMS params \
    { \
        return s->pg ? sl_pg_##name SL_PG_ARGS args : -ENOTSUP; \
    }
SL_SHARED_FUNCS(CALL_SHARED)

bool sl_store_shared(const struct sl_store *s)
{
    return s->pg != NULL;
}
#else
int sl_store_node_join(struct sl_store *s, const char *name, const char *version,
                       int64_t started_ms, int64_t before_ms, int64_t live_ms,
                       int64_t *seen_ago_ms)
{
    (void)s, (void)name, (void)version, (void)started_ms, (void)before_ms, (void)live_ms;
    (void)seen_ago_ms;
    return -ENOTSUP;
}

int sl_store_node_beat(struct sl_store *s, const char *name, int64_t started_ms,
                       const char *policy)
{
    (void)s, (void)name, (void)started_ms, (void)policy;
    return -ENOTSUP;
}

int sl_store_node_leave(struct sl_store *s, const char *name, int64_t started_ms)
{
    (void)s, (void)name, (void)started_ms;
    return -ENOTSUP;
}

int sl_store_nodes_list(struct sl_store *s, json_t **out)
{
    (void)s, (void)out;
    return -ENOTSUP;
}

int sl_store_fence_next(struct sl_store *s, int64_t *fence)
{
    (void)s, (void)fence;
    return -ENOTSUP;
}

int sl_store_lease_take(struct sl_store *s, const char *item, const char *node, int64_t fence,
                        int64_t lease_ms)
{
    (void)s, (void)item, (void)node, (void)fence, (void)lease_ms;
    return -ENOTSUP;
}

int sl_store_lease_check(struct sl_store *s, const char *item, const char *node, int64_t fence)
{
    (void)s, (void)item, (void)node, (void)fence;
    return -ENOTSUP;
}

int sl_store_lease_drop(struct sl_store *s, const char *item)
{
    (void)s, (void)item;
    return -ENOTSUP;
}

int sl_store_lease_give_up(struct sl_store *s, const char *item, const char *node,
                           int64_t fence, bool gone)
{
    (void)s, (void)item, (void)node, (void)fence, (void)gone;
    return -ENOTSUP;
}

int sl_store_policy_put(struct sl_store *s, const char *version, const char *files,
                        int64_t at_ms, const char *by)
{
    (void)s, (void)version, (void)files, (void)at_ms, (void)by;
    return -ENOTSUP;
}

int sl_store_policy_get(struct sl_store *s, const char *version, char **got, char **files)
{
    (void)s, (void)version, (void)got, (void)files;
    return -ENOTSUP;
}

int sl_store_node_set(struct sl_store *s, const char *name)
{
    (void)s, (void)name;
    return -ENOTSUP;
}

int sl_store_feed_horizon(struct sl_store *s, uint64_t *h)
{
    (void)s, (void)h;
    return -ENOTSUP;
}

int sl_store_feed_window(struct sl_store *s, uint64_t from, uint64_t to,
                         int (*change)(void *arg, const struct sl_store_change *c),
                         int (*event)(void *arg, const char *node,
                                      const struct sl_event_row *ev),
                         void *arg)
{
    (void)s, (void)from, (void)to, (void)change, (void)event, (void)arg;
    return -ENOTSUP;
}

int sl_store_feed_wait(struct sl_store *s, int timeout_ms)
{
    (void)s, (void)timeout_ms;
    return -ENOTSUP;
}

int sl_store_leases_renew(struct sl_store *s, const char *node, int64_t fence, int64_t lease_ms,
                          json_t **items)
{
    (void)s, (void)node, (void)fence, (void)lease_ms, (void)items;
    return -ENOTSUP;
}

int sl_store_leases_takeover(struct sl_store *s, const char *node, int64_t fence,
                             int64_t lease_ms, int limit, json_t **items)
{
    (void)s, (void)node, (void)fence, (void)lease_ms, (void)limit, (void)items;
    return -ENOTSUP;
}

bool sl_store_shared(const struct sl_store *s)
{
    (void)s;
    return false;
}
#endif

/* }===================================================================== */
