/* SPDX-License-Identifier: MIT */
/* Multi-row inserts: the writer's hottest inserts, kept and sent as one statement. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/grow.h"
#include "store/pg.h"

/*
 * Sent one by one, an upload's five statements cost the server more than
 * its commit: each is parsed, planned, executed and answered alone. Kept
 * here instead, the rows of items, audit records, placements of waves and
 * served marks (a feed page's) leave as one
 * INSERT ... SELECT FROM unnest(arrays) per kind, when the pipeline drains,
 * when the batch is full, or before any statement that may read or change
 * those tables (so nothing sees them missing, or in another order). A
 * rollback forgets them. An items row refused (its id taken) shows as fewer
 * rows inserted than sent: -EEXIST for the batch, and the commit thread's
 * op by op pass, one op per savepoint, finds whose.
 */
static const struct {
    enum pg_stmt stmt;
    int ncols;
    enum pg_expect expect;
} kinds[PG_BATCH__COUNT] = {
    [PG_BATCH_ITEMS] = { PG_ITEMS_INSERT_MANY, 11, PG_ALL_ELSE_EEXIST },
    [PG_BATCH_AUDIT] = { PG_AUDIT_INSERT_MANY, 11, PG_ANY },
    [PG_BATCH_OFFERS] = { PG_OFFER_WAVES_ADD_MANY, 4, PG_ANY },
    [PG_BATCH_SERVED] = { PG_SERVED_ADD_MANY, 2, PG_ANY },
};

/* Statements of other tables, which may go ahead of the rows kept. */
static const bool independent[PG__COUNT] = {
    [PG_ITEMS_INSERT_MANY] = true,
    [PG_AUDIT_INSERT_MANY] = true,
    [PG_OFFER_WAVES_ADD_MANY] = true,
    [PG_SERVED_ADD_MANY] = true,
    [PG_ITEM_ABSENT] = true,        /* a guess checked by the items insert anyway */
    [PG_USER_UPSERT] = true,
    [PG_USERS_TOUCH_MANY] = true,
    [PG_USER_SEEN] = true,
    [PG_FOLLOW_ADD] = true,
    [PG_FOLLOW_DEL] = true,
    [PG_EVENT_INSERT] = true,
    [PG_COUNTER_ADD] = true,
    [PG_MARK_SET] = true,
    [PG_QUEUE_PUT] = true,
    [PG_QUEUE_DEL] = true,
    [PG_QUEUE_RENEW] = true,
    [PG_BANK_ADD] = true,
    [PG_BANK_DEL] = true,
    [PG_WAVE_PUT] = true,
    [PG_REPORT_ADD] = true,         /* reports and reporters only */
    [PG_REPORT_SUM] = true,
    [PG_REPORTERS_JUDGE] = true,
    [PG_REPORTS_JUDGE] = true,
    [PG_TOKEN_INSERT] = true,
    [PG_TOKEN_DELETE] = true,
    [PG_AUDIT_LOCK] = true,
    [PG_NODE_BEAT] = true,
    [PG_NODE_SET] = true,
    [PG_POLICY_PUT] = true,          /* nodes and item_leases only */
    [PG_LEASE_TAKE] = true,
    [PG_LEASE_CHECK] = true,
    [PG_LEASE_DROP] = true,
    [PG_LEASE_GONE] = true,
    [PG_LEASE_EXPIRE] = true,
};

bool sl_pg_batch_independent(enum pg_stmt id)
{
    return id < PG__COUNT && independent[id];
}

int sl_pg_array_add(char **buf, size_t *len, size_t *cap, bool first, const char *v)
{
    size_t need = *len + (v ? 2 * strlen(v) + 4 : 6) + 2;
    if (sl_grow(buf, cap, need, 1) < 0)
        return -ENOMEM;
    char *p = *buf + *len;
    *p++ = first ? '{' : ',';
    if (!v) {
        memcpy(p, "NULL", 4);
        p += 4;
    } else {
        *p++ = '"';
        for (; *v; v++) {
            if (*v == '"' || *v == '\\')
                *p++ = '\\';
            *p++ = *v;
        }
        *p++ = '"';
    }
    *len = (size_t)(p - *buf);
    return 0;
}

int sl_pg_array_close(char **buf, size_t *len, size_t *cap)
{
    if (sl_grow(buf, cap, *len + 3, 1) < 0)
        return -ENOMEM;
    memcpy(*buf + *len, *len ? "}" : "{}", *len ? 2 : 3);
    *len = 0;
    return 0;
}

/* One element of a column's array literal: NULL, or the text quoted. */
static int add_element(struct pg_batch *b, int c, const char *v)
{
    return sl_pg_array_add(&b->col[c], &b->len[c], &b->cap[c], b->rows == 0, v);
}

int sl_pg_batch_add(struct sl_pg *s, enum pg_batch_kind kind, const struct pg_params *p)
{
    if (!s->batch && !(s->batch = calloc(PG_BATCH__COUNT, sizeof(*s->batch))))
        return -ENOMEM;
    struct pg_batch *b = &s->batch[kind];
    size_t before[PG_MAX_PARAMS];
    for (int c = 0; c < kinds[kind].ncols; c++) {
        before[c] = b->len[c];
        if (add_element(b, c, p->v[c]) < 0) {
            /* Leave the batch as it was: no half row. */
            for (int k = 0; k <= c; k++)
                b->len[k] = before[k];
            return -ENOMEM;
        }
    }
    b->rows++;
    b->bytes = 0;
    for (int c = 0; c < kinds[kind].ncols; c++)
        b->bytes += b->len[c];
    return b->rows >= PG_BATCH_MAX || b->bytes >= PG_BATCH_BYTES ? sl_pg_batch_flush(s) : 0;
}

int sl_pg_batch_flush(struct sl_pg *s)
{
    if (!s->batch)
        return 0;
    for (int k = 0; k < PG_BATCH__COUNT; k++) {
        struct pg_batch *b = &s->batch[k];
        if (!b->rows)
            continue;
        struct pg_params p = { 0 };
        for (int c = 0; c < kinds[k].ncols; c++) {
            if (sl_pg_array_close(&b->col[c], &b->len[c], &b->cap[c]) < 0)
                return -ENOMEM;
            par_text(&p, b->col[c]);
        }
        long rows = b->rows;
        b->rows = 0;            /* sent below, whatever comes of it */
        b->bytes = 0;
        int rc = sl_pg_send_ahead(s, kinds[k].stmt, &p, kinds[k].expect, NULL, rows);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void sl_pg_batch_discard(struct sl_pg *s)
{
    if (!s->batch)
        return;
    for (int k = 0; k < PG_BATCH__COUNT; k++) {
        s->batch[k].rows = 0;
        s->batch[k].bytes = 0;
        for (int c = 0; c < PG_MAX_PARAMS; c++)
            s->batch[k].len[c] = 0;
    }
}

void sl_pg_batch_free(struct sl_pg *s)
{
    if (!s->batch)
        return;
    for (int k = 0; k < PG_BATCH__COUNT; k++)
        for (int c = 0; c < PG_MAX_PARAMS; c++)
            free(s->batch[k].col[c]);
    free(s->batch);
    s->batch = NULL;
}
