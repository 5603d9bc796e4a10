/* SPDX-License-Identifier: MIT */
/* Copying a whole store from one backend to another (sluicectl migrate). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "store/backend.h"
#include "store/counters.h"
#include "store/store.h"

/*
 * Every table of the schema (at its current version) but those kept from
 * others: the counts the items triggers keep (creators, item_states,
 * creator_states) and the search's indexes (item_tags, item_matches,
 * item_deciders, item_hashes, item_text, item_creators): the destination
 * builds its own as items and audit records arrive (items keep their seq).
 * counters go through sl_store_mark_set(), since an empty store already
 * has some of its rows; the marks of how far a store's own indexes went
 * (indexed_*) stay behind, as the indexes do. A table added to the schema
 * gets a line here; a column added to a table is copied as it is (rows go
 * column by column). On SQLite, waves, offer_waves and served are views
 * with PostgreSQL's columns over tables keyed by the item's seq (schema
 * 16), read and inserted through like tables. The audit key stays where
 * it is, outside both stores: the copied chain verifies under the same
 * key.
 */
static const char *const tables[] = {
    "items",
    "audit",
    "users",
    "follows",
    "events",
    "event_batches",
    "item_counts",
    "tokens",
    "queue",
    "hashbanks",
    "waves",
    "offer_waves",
    "served",
    "reports",
    "reporters",
    "jobs",
    "suspensions",
};

/* One node's marks: the one from before the shards and the eight shards'. */
#define COUNTED_MAX 16

struct copying {
    struct sl_store *to;
    const char *table;
    int64_t rows;
    int64_t counted;            /* the furthest of the counters' marks (put_mark) */
    bool nodes;                 /* a node's mark is among them */
    struct {
        char name[32];
        int64_t value;
    } mark[COUNTED_MAX];        /* one node's marks, as they are */
    int nmarks;
};

static int put_row(void *arg, const struct sl_store_row *row)
{
    struct copying *c = arg;
    int rc = sl_store_table_put(c->to, c->table, row);
    if (rc == 0)
        c->rows++;
    return rc;
}

static int put_mark(void *arg, const struct sl_store_row *row)
{
    struct copying *c = arg;
    const char *name = NULL, *value = NULL;
    for (int i = 0; i < row->n; i++) {
        if (strcmp(row->name[i], "name") == 0)
            name = row->val[i];
        else if (strcmp(row->name[i], "value") == 0)
            value = row->val[i];
    }
    if (!name || !value)
        return -EINVAL;
    if (strncmp(name, "indexed_", 8) == 0)
        return 0;
    /* Decided once all are read (copy_marks). */
    size_t n = strlen(SL_COUNTERS_MARK);
    if (strncmp(name, SL_COUNTERS_MARK, n) == 0 &&
        (name[n] == ':' || name[n] == '#' || name[n] == '\0')) {
        int64_t v = strtoll(value, NULL, 10);
        if (v > c->counted)
            c->counted = v;
        c->nodes |= name[n] == ':';
        if (c->nmarks < COUNTED_MAX && strlen(name) < sizeof(c->mark[0].name)) {
            strcpy(c->mark[c->nmarks].name, name);
            c->mark[c->nmarks++].value = v;
        } else {
            c->nodes = true;    /* not a shape counters.c writes: fold them */
        }
        return 0;
    }
    int rc = sl_store_mark_set(c->to, name, strtoll(value, NULL, 10));
    if (rc == 0)
        c->rows++;
    return rc;
}

/*
 * One node's marks are copied as they are: each shard's batches past its
 * own mark are added up again at the copy's first start, whether or not
 * the source stopped cleanly. Several nodes each added up the batches they
 * took, under marks of their own; a copy's batches belong to no node, and
 * every node that stopped cleanly had added up all of its own in every
 * shard: the copy's one mark, the one its shards read when they have none,
 * is the furthest of them.
 */
static int copy_marks(struct copying *c)
{
    int rc = 0;

    if (c->nodes || c->nmarks == 0) {
        rc = sl_store_mark_set(c->to, SL_COUNTERS_MARK, c->counted);
        c->rows += rc == 0;
        return rc;
    }
    for (int i = 0; rc == 0 && i < c->nmarks; i++)
        if ((rc = sl_store_mark_set(c->to, c->mark[i].name, c->mark[i].value)) == 0)
            c->rows++;
    return rc;
}

int sl_store_copy(struct sl_store *from, struct sl_store *to, int64_t *rows)
{
    struct copying c = { .to = to };
    int rc;

    *rows = 0;
    if (!sl_store_created(to)) {
        sl_err("store: the destination already holds a sluice store: a copy goes into an "
               "empty one only");
        return -EEXIST;
    }
    /* One snapshot of the source (SQLite's writer transaction also keeps
     * any other writer out), one transaction on the destination. */
    if ((rc = sl_store_begin(from)) < 0)
        return rc;
    if ((rc = sl_store_begin(to)) < 0) {
        sl_store_rollback(from);
        return rc;
    }
    for (size_t i = 0; rc == 0 && i < sizeof(tables) / sizeof(tables[0]); i++) {
        c.table = tables[i];
        rc = sl_store_table_each(from, tables[i], put_row, &c);
        if (rc == 0)
            rc = sl_store_sync(to);
        if (rc < 0)
            sl_err("store: copying table %s failed after %lld rows", tables[i],
                   (long long)c.rows);
    }
    if (rc == 0) {
        c.table = "counters";
        rc = sl_store_table_each(from, "counters", put_mark, &c);
        if (rc == 0)
            rc = copy_marks(&c);
    }
    if (rc == 0)
        rc = sl_store_copied(to);
    if (rc == 0)
        rc = sl_store_commit(to);
    else
        sl_store_rollback(to);
    sl_store_rollback(from);
    *rows = c.rows;
    return rc;
}
