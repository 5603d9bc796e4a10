/* SPDX-License-Identifier: MIT */
/* Search on PostgreSQL: items newest first, every filter answered from an index, bounded in time. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/id.h"
#include "lib/log.h"
#include "store/pg.h"
#include "store/search_plan.h"

/*
 * As sqlite_search.c does it, and with the same results (the plan is
 * search_plan.c's, for both): one filter drives
 * the scan (the one expected to yield the fewest items, from its index
 * ending in seq), the others are a column checked on each item it yields,
 * so that a scan cut short knows where it was. Two differences:
 * - the driver is read in chunks (LIMIT, then on from the last seq), so
 *   that no statement reads more than the page needs, and a sharded
 *   PostgreSQL pushes each chunk's ORDER BY seq and LIMIT to every shard;
 * - the text is pg_trgm's: a term of 3+ characters is a substring ILIKE
 *   (case folded by the database's LC_CTYPE, as FTS5's trigram tokenizer
 *   folds it), answered by the trigram index of item_text; a shorter one
 *   is checked on the items another filter yields, ignoring the case of
 *   ASCII letters only (lower() under COLLATE "C"), as SQLite's LIKE does.
 */

/* The actions of the audit records that decide an item; the trigger
 * audit_decided (pg_schema.c) indexes records of the same actions. */
#define DECISIONS "'verdict', 'approve', 'reject', 'escalate', 'takedown', 'hold', " \
                  "'review', 'restore'"

const char *const sl_pg_search_sql[PG__COUNT] = {
    /* The matches are made distinct in C (search_row): a stored text that
     * does not parse lists none, as on SQLite. */
    [PG_SEARCH_ROW]     = "SELECT i.id, i.creator, i.state, i.upload::json ->> 'title',"
                          " i.created_ms, i.updated_ms, i.tags, i.matches,"
                          " (SELECT queue FROM queue WHERE item = i.id),"
                          " (SELECT json_build_object('actor', actor, 'action', action,"
                          " 'ts_ms', ts_ms, 'reason', reason)::text FROM audit WHERE item = i.id"
                          " AND action IN (" DECISIONS ") ORDER BY seq DESC LIMIT 1)"
                          " FROM items i WHERE i.id = $1",
    [PG_SEQ_MAX]        = "SELECT coalesce(max(seq), 0) FROM items",
    [PG_SEQ_AT]         = "SELECT seq, created_ms FROM items WHERE seq >= $1 ORDER BY seq LIMIT 1",
};

/* {====================== Building the query ============================ */

/* What checking the text on an item costs, in the other checks' (a guess,
 * smaller than SQLite's: the check is a row's ILIKE, not a walk of the
 * index's lists, and the text driver sorts what its index finds). */
#define TEXT_CHECK 4
/* The driver's rows read per statement: the first chunk a page's worth,
 * each next one four times the last, up to the largest. */
#define CHUNK_FIRST 64
#define CHUNK_MAX 4096
/* Parameters of one statement: each use of a value is one. */
#define MAX_VALUES 192

struct sql {
    struct sql_text t;                  /* in text */
    char text[16384];
    int n;
    const char *v[MAX_VALUES];
    char num[MAX_VALUES][32];
};

/* Empty, for the next statement. */
static void sql_reset(struct sql *q)
{
    q->t = (struct sql_text){ .text = q->text, .size = sizeof(q->text) };
    q->n = 0;
}

/* A parameter: $n in the text, its value kept (NULL: SQL's NULL). */
static void sql_par(struct sql *q, const char *v)
{
    if (q->n >= MAX_VALUES) {
        q->t.over = true;
        return;
    }
    q->v[q->n++] = v;
    sl_search_put(&q->t, "$%d", q->n);
}

static void sql_int(struct sql *q, int64_t v)
{
    if (q->n >= MAX_VALUES) {
        q->t.over = true;
        return;
    }
    snprintf(q->num[q->n], sizeof(q->num[0]), "%lld", (long long)v);
    sql_par(q, q->num[q->n]);
}

static void sql_real(struct sql *q, double v)
{
    if (q->n >= MAX_VALUES) {
        q->t.over = true;
        return;
    }
    snprintf(q->num[q->n], sizeof(q->num[0]), "%.17g", v);
    sql_par(q, q->num[q->n]);
}

/* A search taken apart: the text as patterns. */
struct plan {
    struct search_plan s;               /* first: the shared plan's callbacks take the whole */
    char ilike[SL_SEARCH_TERMS][1024];  /* %term% of the terms of 3+ characters */
    int nilike;
    char like[SL_SEARCH_TERMS][1024];   /* %term% of the shorter ones, ASCII lowered */
    int nlike;
};

/* %term%, its %, _ and \ escaped (LIKE's escape is \); lower: ASCII
 * letters lowered. -EINVAL when it does not fit. */
static int pattern(char *out, size_t len, const char *term, bool lower)
{
    char *o = out, *end = out + len - 2;

    *o++ = '%';
    for (const char *c = term; *c; c++) {
        if (o + 2 >= end)
            return -EINVAL;
        if (*c == '%' || *c == '_' || *c == '\\')
            *o++ = '\\';
        *o++ = lower && *c >= 'A' && *c <= 'Z' ? (char)(*c - 'A' + 'a') : *c;
    }
    *o++ = '%';
    *o = '\0';
    return 0;
}

static int plan_term(struct search_plan *sp, const char *term, bool indexed)
{
    struct plan *p = (struct plan *)sp;

    return indexed ? pattern(p->ilike[p->nilike++], sizeof(p->ilike[0]), term, false)
                   : pattern(p->like[p->nlike++], sizeof(p->like[0]), term, true);
}

static int seq_at(void *db, int64_t seq, int64_t *at, int64_t *created)
{
    struct sl_pg *s = db;
    struct pg_params p = { 0 };
    struct pg_rows r;
    int rc = sl_pg_due(s);

    par_int(&p, seq);
    if (rc == 0 && (rc = sl_pg_row(s, PG_SEQ_AT, &p, &r)) == 0) {
        *at = col_int(&r, 0);
        *created = col_int(&r, 1);
        rc = sl_pg_rows_end(&r);
    }
    return rc;
}

/* Every term of 3+ characters a substring of a text column of alias t. */
static void text_sql(struct sql *o, const struct plan *p, const char *t)
{
    for (int k = 0; k < p->nilike; k++) {
        sl_search_put(&o->t, "%s(%s.title ILIKE ", k ? " AND " : "", t);
        sql_par(o, p->ilike[k]);
        sl_search_put(&o->t, " OR %s.description ILIKE ", t);
        sql_par(o, p->ilike[k]);
        sl_search_put(&o->t, " OR %s.transcript ILIKE ", t);
        sql_par(o, p->ilike[k]);
        sl_search_put(&o->t, ")");
    }
}

/* seq < up AND seq >= lo ORDER BY seq DESC LIMIT limit */
static void range_sql(struct sql *o, const struct plan *p, int64_t up, int64_t limit)
{
    sl_search_put(&o->t, " AND seq < ");
    sql_int(o, up);
    sl_search_put(&o->t, " AND seq >= ");
    sql_int(o, p->s.lo);
    sl_search_put(&o->t, " ORDER BY seq DESC LIMIT ");
    sql_int(o, limit);
}

/* The rows (item, seq) a driver yields, seq descending within
 * lo <= seq < up, at most limit of them. */
static void driver_sql(struct sql *o, enum driver d, const struct plan *p, int64_t up,
                       int64_t limit)
{
    const struct sl_search *q = p->s.q;

    switch (d) {
    case DR_TEXT:
        sl_search_put(&o->t, "SELECT item, seq FROM item_text t WHERE ");
        text_sql(o, p, "t");
        break;
    case DR_CREATOR:
        sl_search_put(&o->t, "SELECT id AS item, seq FROM items WHERE creator = ");
        sql_par(o, q->creator);
        break;
    case DR_MATCHED:
        sl_search_put(&o->t, "SELECT item, seq FROM item_matches WHERE name = ");
        sql_par(o, q->matched);
        if (q->match_kind) {
            sl_search_put(&o->t, " AND kind = ");
            sql_par(o, q->match_kind);
        }
        break;
    case DR_DECIDED:
        sl_search_put(&o->t, "SELECT item, seq FROM item_deciders WHERE actor = ");
        sql_par(o, q->decided_by);
        break;
    case DR_QUEUE:
        sl_search_put(&o->t, "SELECT item, seq FROM queue WHERE queue = ");
        sql_par(o, q->queue);
        break;
    case DR_TAG:
        sl_search_put(&o->t, "SELECT item, seq FROM item_tags WHERE tag = ");
        sql_par(o, q->tag);
        break;
    case DR_STATE:
        /* One index range per state, merged in seq order. */
        sl_search_put(&o->t, "SELECT item, seq FROM (");
        for (int k = 0; k < q->nstates; k++) {
            sl_search_put(&o->t, "%s(SELECT id AS item, seq FROM items WHERE state = ",
                          k ? " UNION ALL " : "");
            sql_par(o, q->states[k]);
            range_sql(o, p, up, limit);
            sl_search_put(&o->t, ")");
        }
        sl_search_put(&o->t, ") AS u ORDER BY seq DESC LIMIT ");
        sql_int(o, limit);
        return;
    case DR_ALL:
    case DR__COUNT:
        sl_search_put(&o->t, "SELECT id AS item, seq FROM items WHERE true");
        break;
    }
    range_sql(o, p, up, limit);
}

/* The check of every filter the driver does not answer, on item i. Each
 * index is looked up by its seq and the item's id (the key a sharded
 * PostgreSQL distributes them by). */
static void filters_sql(struct sql *o, enum driver d, const struct plan *p)
{
    const struct sl_search *q = p->s.q;
    static const char *const cols[] = { "title", "description", "transcript" };

    sl_search_put(&o->t, "true");
    if (q->creator && d != DR_CREATOR) {
        sl_search_put(&o->t, " AND i.creator = ");
        sql_par(o, q->creator);
    }
    if (q->nstates && d != DR_STATE) {
        sl_search_put(&o->t, " AND i.state IN (");
        for (int k = 0; k < q->nstates; k++) {
            sl_search_put(&o->t, "%s", k ? ", " : "");
            sql_par(o, q->states[k]);
        }
        sl_search_put(&o->t, ")");
    }
    if (q->tag) {
        sl_search_put(&o->t, " AND EXISTS (SELECT 1 FROM item_tags WHERE tag = ");
        sql_par(o, q->tag);
        sl_search_put(&o->t, " AND seq = i.seq AND item = i.id AND confidence >= ");
        sql_real(o, q->tag_min);
        sl_search_put(&o->t, ")");
    }
    if (q->matched && d != DR_MATCHED) {
        sl_search_put(&o->t, " AND EXISTS (SELECT 1 FROM item_matches WHERE name = ");
        sql_par(o, q->matched);
        sl_search_put(&o->t, " AND seq = i.seq AND item = i.id");
        if (q->match_kind) {
            sl_search_put(&o->t, " AND kind = ");
            sql_par(o, q->match_kind);
        }
        sl_search_put(&o->t, ")");
    }
    if (q->decided_by && d != DR_DECIDED) {
        sl_search_put(&o->t, " AND EXISTS (SELECT 1 FROM item_deciders WHERE actor = ");
        sql_par(o, q->decided_by);
        sl_search_put(&o->t, " AND seq = i.seq AND item = i.id)");
    }
    if (q->queue && d != DR_QUEUE) {
        sl_search_put(&o->t, " AND EXISTS (SELECT 1 FROM queue WHERE item = i.id AND queue = ");
        sql_par(o, q->queue);
        sl_search_put(&o->t, ")");
    }
    if (p->nilike && d != DR_TEXT) {
        sl_search_put(&o->t, " AND EXISTS (SELECT 1 FROM item_text t WHERE t.seq = i.seq"
            " AND t.item = i.id AND ");
        text_sql(o, p, "t");
        sl_search_put(&o->t, ")");
    }
    for (int k = 0; k < p->nlike; k++) {
        sl_search_put(&o->t, " AND EXISTS (SELECT 1 FROM item_text t WHERE t.seq = i.seq"
            " AND t.item = i.id AND (");
        for (int c = 0; c < 3; c++) {
            sl_search_put(&o->t, "%slower(t.%s COLLATE \"C\") LIKE ", c ? " OR " : "", cols[c]);
            sql_par(o, p->like[k]);
        }
        sl_search_put(&o->t, "))");
    }
    /* The range is of seq; the times are checked too, for items stored
     * before created_ms was kept in order. */
    if (q->since_ms > 0) {
        sl_search_put(&o->t, " AND i.created_ms >= ");
        sql_int(o, q->since_ms);
    }
    if (q->until_ms > 0) {
        sl_search_put(&o->t, " AND i.created_ms < ");
        sql_int(o, q->until_ms);
    }
}

static int run(struct sl_pg *s, const struct sql *o, struct pg_rows *r)
{
    if (o->t.over) {
        sl_err("store: a search's SQL is longer than %zu bytes or %d values",
               sizeof(o->text), MAX_VALUES);
        return -EINVAL;
    }
    return sl_pg_query(s, o->text, o->n, o->v, r);
}

/* How many items driver d would yield in the range, up to PROBE_CAP: a
 * count over its index that stops there. */
static int estimate(const struct search_plan *sp, enum driver d, int64_t *out)
{
    static _Thread_local struct sql o;  /* large: one search at a time per thread */
    const struct plan *p = (const struct plan *)sp;
    struct sl_pg *s = sp->db;
    struct pg_rows r;
    int rc;

    sql_reset(&o);
    sl_search_put(&o.t, "SELECT count(*) FROM (");
    driver_sql(&o, d, p, sp->up, PROBE_CAP);
    sl_search_put(&o.t, ") AS e");
    if ((rc = sl_pg_due(s)) < 0 || (rc = run(s, &o, &r)) < 0)
        return rc;
    *out = sl_pg_next(&r) ? col_int(&r, 0) : 0;
    return sl_pg_rows_end(&r);
}

/* }===================================================================== */

/* {====================== The scan ====================================== */

static int due(void *db)
{
    return sl_pg_due(db);
}

int sl_pg_search(struct sl_pg *s, const struct sl_search *q,
                 int (*fn)(void *arg, int64_t seq, const char *id), void *arg,
                 struct sl_search_end *end)
{
    static _Thread_local struct plan p; /* large, as estimate()'s */
    static _Thread_local struct sql o;
    struct search_scan c = { .q = q, .fn = fn, .arg = arg, .end = end, .due = due, .db = s };
    enum driver d;
    int64_t max;
    int rc;

    *end = (struct sl_search_end){ 0 };
    atomic_store(&s->interrupted, false);
    memset(&p, 0, sizeof(p));
    p.s = (struct search_plan){ .q = q, .text_check = TEXT_CHECK, .db = s, .seq_at = seq_at,
                                .estimate = estimate };
    if (sl_search_valid(q) < 0 || sl_search_terms(&p.s, plan_term) < 0)
        return -EINVAL;
    if ((rc = sl_pg_seq_max(s, &max)) < 0 || (rc = sl_search_range(&p.s, max)) < 0 ||
        (rc = sl_search_choose(&p.s, &d)) < 0)
        return rc;
    if (p.s.up <= p.s.lo)
        return 0;       /* an empty range */

    int64_t up = p.s.up, chunk = CHUNK_FIRST;
    for (;;) {
        struct pg_rows r;
        if ((rc = sl_pg_due(s)) == 0) {
            sql_reset(&o);
            /* The filters are a column, not a WHERE: every item the driver
             * yields comes back, so that a scan cut short knows where it
             * was. */
            sl_search_put(&o.t, "SELECT d.seq, i.id, CASE WHEN ");
            filters_sql(&o, d, &p);
            sl_search_put(&o.t, " THEN 1 ELSE 0 END FROM (");
            driver_sql(&o, d, &p, up, chunk);
            sl_search_put(&o.t, ") AS d JOIN items AS i ON i.id = d.item ORDER BY d.seq DESC");
            rc = run(s, &o, &r);
        }
        if (rc == -ETIMEDOUT) {
            /* The deadline (statement_timeout, or the check) or an
             * interrupt: partial, unless nothing was looked at. */
            return sl_search_cut(&c);
        }
        if (rc < 0)
            return rc;
        int64_t got = 0;
        int stop = 0;
        while (!stop && sl_pg_next(&r)) {
            got++;
            stop = sl_search_row(&c, col_int(&r, 0), col(&r, 1), col_int(&r, 2) != 0);
        }
        rc = sl_pg_rows_end(&r);
        if (stop < 0)
            return stop;
        if (stop || rc < 0)
            return rc;
        if (got < chunk)
            return 0;           /* the driver has no more */
        up = c.last;
        chunk = chunk * 4 > CHUNK_MAX ? CHUNK_MAX : chunk * 4;
    }
}

/* {kind, name} of each match object, each pair once, in the order they
 * first come (as SQLite's DISTINCT gives them); a missing one is null. A
 * text that does not parse lists none. */
static json_t *match_pairs(const char *text)
{
    json_t *all = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    json_t *out = json_array(), *m;
    size_t i;

    if (!out) {
        json_decref(all);
        return NULL;
    }
    if (json_is_array(all)) {
        json_array_foreach(all, i, m) {
            if (!json_is_object(m))
                continue;
            json_t *pair = json_pack("{s:O?, s:O?}", "kind", json_object_get(m, "kind"),
                                     "name", json_object_get(m, "name"));
            bool seen = false;
            size_t k;
            json_t *e;
            if (!pair) {
                json_decref(out);
                out = NULL;
                break;
            }
            json_array_foreach(out, k, e)
                seen = seen || json_equal(e, pair);
            if (seen)
                json_decref(pair);
            else if (json_array_append_new(out, pair) < 0) {
                json_decref(out);
                out = NULL;
                break;
            }
        }
    }
    json_decref(all);
    return out;
}

int sl_pg_search_row(struct sl_pg *s, const char *id, json_t **out)
{
    struct pg_params p = { 0 };
    struct pg_rows r;
    int rc = sl_pg_due(s);

    if (rc < 0)
        return rc;
    par_text(&p, id);
    if ((rc = sl_pg_row(s, PG_SEARCH_ROW, &p, &r)) < 0)
        return rc;
    json_t *matches = match_pairs(col(&r, 7));
    json_error_t jerr;
    *out = matches ? json_pack_ex(&jerr, 0, "{s:s, s:s, s:s, s:o, s:I, s:I, s:o, s:o, s:o, s:o}",
                                  "id", col(&r, 0),
                                  "creator", col(&r, 1),
                                  "state", col(&r, 2),
                                  "title", col_string_or_null(&r, 3),
                                  "created_ms", (json_int_t)col_int(&r, 4),
                                  "updated_ms", (json_int_t)col_int(&r, 5),
                                  "tags", col_json(&r, 6),
                                  "matches", matches,
                                  "queue", col_string_or_null(&r, 8),
                                  "decided", col_json(&r, 9)) : NULL;
    if (!matches) {
        sl_pg_rows_end(&r);
        return -ENOMEM;
    }
    return sl_pg_row_packed(&r, out, &jerr, "item", id);
}

int sl_pg_seq_max(struct sl_pg *s, int64_t *seq)
{
    struct pg_rows r;
    int rc = sl_pg_due(s);

    *seq = 0;
    if (rc < 0 || (rc = sl_pg_row(s, PG_SEQ_MAX, NULL, &r)) < 0)
        return rc;
    *seq = col_int(&r, 0);
    return sl_pg_rows_end(&r);
}

/* }===================================================================== */
