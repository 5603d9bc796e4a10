/* SPDX-License-Identifier: MIT */
/* Search: items newest first, every filter answered from an index, bounded in time. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/id.h"
#include "store/search_plan.h"
#include "store/sqlite.h"

/* The actions of the audit records that decide an item; the trigger
 * audit_decided (sqlite_schema.c) indexes records of the same actions. */
#define DECISIONS "'verdict', 'approve', 'reject', 'escalate', 'takedown', 'hold', " \
                  "'review', 'restore'"

/* An upload's field when it is a string (one parse of the upload serves
 * the three: SQLite keeps the last JSON it parsed). */
#define TEXT_OF(key) "CASE json_type(upload, '$." key "') WHEN 'text'" \
                     " THEN json_extract(upload, '$." key "') END"

const char *const sl_sqlite_search_sql[ST__COUNT] = {
    [ST_SEARCH_ROW]     = "SELECT i.id, i.creator, i.state, json_extract(i.upload, '$.title'),"
                          " i.created_ms, i.updated_ms, i.tags,"
                          " (SELECT json_group_array(json_object('kind', k, 'name', n)) FROM"
                          " (SELECT DISTINCT json_extract(value, '$.kind') AS k,"
                          " json_extract(value, '$.name') AS n FROM json_each(CASE WHEN"
                          " json_valid(i.matches) THEN i.matches ELSE '[]' END)"
                          " WHERE type = 'object')),"
                          " (SELECT queue FROM queue WHERE item = i.id),"
                          " (SELECT json_object('actor', actor, 'action', action, 'ts_ms', ts_ms,"
                          " 'reason', reason) FROM audit WHERE item = i.id"
                          " AND action IN (" DECISIONS ") ORDER BY seq DESC LIMIT 1)"
                          " FROM items i WHERE i.id = ?",
    [ST_SEQ_MAX]        = "SELECT coalesce(max(seq), 0) FROM items",
    /* The search's indexes of what was stored since their last pass, each
     * in one statement (the marks: how far they went). */
    [ST_INDEX_TEXT]     = "INSERT INTO item_text (rowid, title, description, transcript)"
                          " SELECT seq, " TEXT_OF("title") ", " TEXT_OF("description") ","
                          " " TEXT_OF("transcript") " FROM items"
                          " WHERE seq > (SELECT value FROM counters WHERE name = 'indexed_items')",
    [ST_INDEX_TAGS]     = "INSERT OR REPLACE INTO item_tags SELECT t.key, i.seq, CASE t.type"
                          " WHEN 'object' THEN coalesce(json_extract(t.value, '$.confidence'), 0)"
                          " ELSE 0 END FROM items i, json_each(i.tags) t"
                          " WHERE i.seq > (SELECT value FROM counters WHERE name = 'indexed_items')"
                          " AND i.tags <> '{}'",
    [ST_INDEX_DECIDERS] = "INSERT OR IGNORE INTO item_deciders SELECT a.actor, i.seq"
                          " FROM audit a JOIN items i ON i.id = a.item"
                          " WHERE a.seq > (SELECT value FROM counters WHERE name = 'indexed_audit')"
                          " AND a.action IN (" DECISIONS ")",
    [ST_INDEX_CREATORS] = "INSERT OR IGNORE INTO item_creators SELECT creator, seq FROM items"
                          " WHERE seq > (SELECT value FROM counters WHERE name = 'indexed_items')",
    [ST_INDEX_MARKS]    = "UPDATE counters SET value = CASE name"
                          " WHEN 'indexed_items' THEN (SELECT coalesce(max(seq), 0) FROM items)"
                          " ELSE (SELECT coalesce(max(seq), 0) FROM audit) END"
                          " WHERE name IN ('indexed_items', 'indexed_audit')",
    [ST_SEQ_AT]         = "SELECT seq, created_ms FROM items WHERE seq >= ? ORDER BY seq LIMIT 1",
};
#undef TEXT_OF

/* {====================== Indexing ====================================== */

int sl_sqlite_index_new(struct sl_store *s)
{
    static const enum stmt steps[] = { ST_INDEX_TEXT, ST_INDEX_TAGS, ST_INDEX_DECIDERS,
                                       ST_INDEX_CREATORS, ST_INDEX_MARKS };
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < sizeof(steps) / sizeof(steps[0]); i++)
        rc = stmt_done(s, stmt_get(s, steps[i]), "search indexes");
    return rc;
}

/* }===================================================================== */

/* {====================== Time bound ==================================== */

static int past_deadline(void *arg)
{
    struct sl_store *s = arg;
    return s->deadline > 0 && sl_mono() > s->deadline;
}

void sl_store_deadline(struct sl_store *s, double deadline)
{
    s->deadline = deadline;
    /* Every 1,000 virtual machine steps: a few microseconds each time. */
    sqlite3_progress_handler(s->db, deadline > 0 ? 1000 : 0,
                             deadline > 0 ? past_deadline : NULL, s);
}

void sl_store_interrupt(struct sl_store *s)
{
    sqlite3_interrupt(s->db);
}

/* }===================================================================== */

/* {====================== Building the query ============================ */

/* What checking the text on an item costs, in the other checks' (bench):
 * a lookup in each of its words' lists (a few hundred microseconds on a
 * large store, against a microsecond for the other checks). */
#define TEXT_CHECK 20

/* A search taken apart: the text as the index's query and as patterns. */
struct plan {
    struct search_plan s;               /* first: the shared plan's callbacks take the whole */
    char fts[4096];                     /* "term" AND "term" ...; "" when none */
    char like[SL_SEARCH_TERMS][1024];   /* %term% of the short terms */
    int nlike;
};

/* A term of 3+ characters into the FTS5 query (quoted: a substring, its
 * own quotes doubled); a shorter one as a LIKE pattern. */
static int plan_term(struct search_plan *sp, const char *term, bool indexed)
{
    struct plan *p = (struct plan *)sp;

    if (!indexed) {
        char *l = p->like[p->nlike++], *lend = l + sizeof(p->like[0]) - 2;
        *l++ = '%';
        for (const char *c = term; *c && l < lend - 1; c++) {
            if (*c == '%' || *c == '_' || *c == '\\')
                *l++ = '\\';
            *l++ = *c;
        }
        *l++ = '%';
        *l = '\0';
        return 0;
    }
    char *f = p->fts + strlen(p->fts), *fend = p->fts + sizeof(p->fts);
    if (f + strlen(term) * 2 + 8 >= fend)
        return -EINVAL;
    if (f > p->fts)
        f += sprintf(f, " AND ");
    *f++ = '"';
    for (const char *c = term; *c; c++) {
        if (*c == '"')
            *f++ = '"';
        *f++ = *c;
    }
    *f++ = '"';
    *f = '\0';
    return 0;
}

static bool interrupted(int rc)
{
    return rc == SQLITE_INTERRUPT;
}

static int seq_at(void *db, int64_t seq, int64_t *at, int64_t *created)
{
    struct sl_store *s = db;
    sqlite3_stmt *st = stmt_get(s, ST_SEQ_AT);

    sqlite3_bind_int64(st, 1, seq);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *at = sqlite3_column_int64(st, 0);
        *created = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return interrupted(rc) ? -ETIMEDOUT : db_fail(s, "search: time range");
    return rc == SQLITE_ROW ? 0 : -ENOENT;
}

/* Bind every named parameter the statement has from the search. */
static void bind_all(sqlite3_stmt *st, const struct plan *p)
{
    const struct sl_search *q = p->s.q;
    char name[24];
    int i;

#define BIND_TEXT(n, v) do { if ((i = sqlite3_bind_parameter_index(st, n)) > 0) \
        bind_text(st, i, v); } while (0)
#define BIND_INT(n, v) do { if ((i = sqlite3_bind_parameter_index(st, n)) > 0) \
        sqlite3_bind_int64(st, i, v); } while (0)
    BIND_TEXT(":creator", q->creator);
    BIND_TEXT(":tag", q->tag);
    if ((i = sqlite3_bind_parameter_index(st, ":tmin")) > 0)
        sqlite3_bind_double(st, i, q->tag_min);
    BIND_TEXT(":queue", q->queue);
    BIND_TEXT(":matched", q->matched);
    BIND_TEXT(":kind", q->match_kind);
    BIND_TEXT(":decided", q->decided_by);
    BIND_INT(":since", q->since_ms);
    BIND_INT(":until", q->until_ms);
    BIND_TEXT(":fts", p->fts);
    BIND_INT(":up", p->s.up);
    BIND_INT(":lo", p->s.lo);
    for (int k = 0; k < q->nstates; k++) {
        snprintf(name, sizeof(name), ":s%d", k);
        BIND_TEXT(name, q->states[k]);
    }
    for (int k = 0; k < p->nlike; k++) {
        snprintf(name, sizeof(name), ":like%d", k);
        BIND_TEXT(name, p->like[k]);
    }
#undef BIND_TEXT
#undef BIND_INT
}

/* The rows a driver yields, seq descending within lo <= seq < up. */
static void driver_sql(struct sql_text *o, enum driver d, const struct plan *p)
{
    const struct sl_search *q = p->s.q;
    const char *range = " AND seq < :up AND seq >= :lo ORDER BY seq DESC";

    switch (d) {
    case DR_TEXT:
        sl_search_put(o, "SELECT rowid AS seq FROM item_text WHERE item_text MATCH :fts"
            " AND rowid < :up AND rowid >= :lo ORDER BY rowid DESC");
        break;
    case DR_CREATOR:
        sl_search_put(o, "SELECT seq FROM item_creators WHERE creator = :creator%s", range);
        break;
    case DR_MATCHED:
        sl_search_put(o, "SELECT seq FROM item_matches WHERE name = :matched%s%s",
            q->match_kind ? " AND kind = :kind" : "", range);
        break;
    case DR_DECIDED:
        sl_search_put(o, "SELECT seq FROM item_deciders WHERE actor = :decided%s", range);
        break;
    case DR_QUEUE:
        sl_search_put(o, "SELECT seq FROM queue WHERE queue = :queue%s", range);
        break;
    case DR_TAG:
        sl_search_put(o, "SELECT seq FROM item_tags WHERE tag = :tag%s", range);
        break;
    case DR_STATE:
        /* One index range per state, merged in seq order by SQLite. */
        for (int k = 0; k < q->nstates; k++)
            sl_search_put(o, "%sSELECT seq FROM items WHERE state = :s%d"
                " AND seq < :up AND seq >= :lo", k ? " UNION ALL " : "", k);
        sl_search_put(o, " ORDER BY 1 DESC");
        break;
    case DR_ALL:
    case DR__COUNT:
        sl_search_put(o, "SELECT seq FROM items WHERE seq < :up AND seq >= :lo"
            " ORDER BY seq DESC");
        break;
    }
}

/* The check of every filter the driver does not answer, on item i. */
static void filters_sql(struct sql_text *o, enum driver d, const struct plan *p)
{
    const struct sl_search *q = p->s.q;

    sl_search_put(o, "1");
    if (q->creator && d != DR_CREATOR)
        sl_search_put(o, " AND i.creator = :creator");
    if (q->nstates && d != DR_STATE) {
        sl_search_put(o, " AND i.state IN (");
        for (int k = 0; k < q->nstates; k++)
            sl_search_put(o, "%s:s%d", k ? ", " : "", k);
        sl_search_put(o, ")");
    }
    if (q->tag)
        sl_search_put(o, " AND EXISTS (SELECT 1 FROM item_tags WHERE tag = :tag AND seq = i.seq"
            " AND confidence >= :tmin)");
    if (q->matched && d != DR_MATCHED)
        sl_search_put(o, " AND EXISTS (SELECT 1 FROM item_matches WHERE name = :matched"
            " AND seq = i.seq%s)", q->match_kind ? " AND kind = :kind" : "");
    if (q->decided_by && d != DR_DECIDED)
        sl_search_put(o, " AND EXISTS (SELECT 1 FROM item_deciders WHERE actor = :decided"
            " AND seq = i.seq)");
    if (q->queue && d != DR_QUEUE)
        sl_search_put(o, " AND EXISTS (SELECT 1 FROM queue WHERE item = i.id"
            " AND queue = :queue)");
    if (p->fts[0] && d != DR_TEXT)
        sl_search_put(o, " AND EXISTS (SELECT 1 FROM item_text WHERE item_text MATCH :fts"
            " AND rowid = i.seq)");
    for (int k = 0; k < p->nlike; k++)
        sl_search_put(o, " AND EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(i.upload)"
            " THEN i.upload ELSE '{}' END) WHERE key IN ('title', 'description', 'transcript')"
            " AND type = 'text' AND value LIKE :like%d ESCAPE '\\')", k);
    /* The range is of seq; the times are checked too, for items stored
     * before created_ms was kept in order. */
    if (q->since_ms > 0)
        sl_search_put(o, " AND i.created_ms >= :since");
    if (q->until_ms > 0)
        sl_search_put(o, " AND i.created_ms < :until");
}

/* How many items driver d would yield in the range, up to PROBE_CAP: a
 * count over its index that stops there. */
static int estimate(const struct search_plan *sp, enum driver d, int64_t *out)
{
    const struct plan *p = (const struct plan *)sp;
    struct sl_store *s = sp->db;
    char text[12288];
    struct sql_text o = { .text = text, .size = sizeof(text) };
    sqlite3_stmt *st = NULL;

    sl_search_put(&o, "SELECT count(*) FROM (");
    driver_sql(&o, d, p);
    sl_search_put(&o, " LIMIT %d)", PROBE_CAP);
    if (o.over || sqlite3_prepare_v2(s->db, o.text, -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "search: estimate");
    bind_all(st, p);
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return interrupted(rc) ? -ETIMEDOUT : db_fail(s, "search: estimate");
    return 0;
}

/* }===================================================================== */

/* {====================== The scan ====================================== */

int sl_store_search(struct sl_store *s, const struct sl_search *q,
                    int (*fn)(void *arg, int64_t seq, const char *id), void *arg,
                    struct sl_search_end *end)
{
    struct plan p = { .s = { .q = q, .text_check = TEXT_CHECK, .db = s, .seq_at = seq_at,
                             .estimate = estimate } };
    struct search_scan c = { .q = q, .fn = fn, .arg = arg, .end = end };
    char text[12288];
    struct sql_text o = { .text = text, .size = sizeof(text) };
    enum driver d;
    int64_t max;
    int rc;

    *end = (struct sl_search_end){ 0 };
    if (sl_search_valid(q) < 0 || sl_search_terms(&p.s, plan_term) < 0)
        return -EINVAL;
    if ((rc = sl_store_seq_max(s, &max)) < 0 || (rc = sl_search_range(&p.s, max)) < 0 ||
        (rc = sl_search_choose(&p.s, &d)) < 0)
        return rc;
    if (p.s.up <= p.s.lo)
        return 0;       /* an empty range */
    /* The filters are a column, not a WHERE: every item the driver yields
     * comes back, so that a scan cut short knows where it was. */
    sl_search_put(&o, "SELECT d.seq, i.id, ");
    filters_sql(&o, d, &p);
    sl_search_put(&o, " FROM (");
    driver_sql(&o, d, &p);
    /* The outer ORDER BY keeps the driver's order (SQLite drops a
     * subquery's own); each driver's index gives it without a sort. */
    sl_search_put(&o, ") AS d CROSS JOIN items AS i WHERE i.seq = d.seq ORDER BY d.seq DESC");
    sqlite3_stmt *st = NULL;
    if (o.over) {
        sl_err("store: a search's SQL is longer than %zu bytes", o.size);
        return -EINVAL;
    }
    if (sqlite3_prepare_v2(s->db, o.text, -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "search: prepare");
    bind_all(st, &p);

    /* Once the page is full, the scan goes on to the next item found, so
     * that next is 0 when nothing is left (a page's worth of scanning at
     * most, and never past the deadline). */
    int step = SQLITE_DONE, stop = 0;
    while (!stop && (step = sqlite3_step(st)) == SQLITE_ROW)
        stop = sl_search_row(&c, sqlite3_column_int64(st, 0), col_text(st, 1),
                             sqlite3_column_int(st, 2) != 0);
    rc = stop < 0 ? stop : 0;
    if (!stop && step != SQLITE_DONE)
        rc = interrupted(step) ? sl_search_cut(&c) : db_fail(s, "search");
    sqlite3_finalize(st);
    return rc;
}

int sl_store_search_row(struct sl_store *s, const char *id, json_t **out)
{
    sqlite3_stmt *st = stmt_get(s, ST_SEARCH_ROW);
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? -ENOENT : interrupted(rc) ? -ETIMEDOUT
                                                            : db_fail(s, "search row");
    }
    json_error_t jerr;
    *out = json_pack_ex(&jerr, 0, "{s:s, s:s, s:s, s:o, s:I, s:I, s:o, s:o, s:o, s:o}",
                        "id", col_text(st, 0),
                        "creator", col_text(st, 1),
                        "state", col_text(st, 2),
                        "title", col_string_or_null(st, 3),
                        "created_ms", (json_int_t)sqlite3_column_int64(st, 4),
                        "updated_ms", (json_int_t)sqlite3_column_int64(st, 5),
                        "tags", col_json(st, 6),
                        "matches", col_json(st, 7),
                        "queue", col_string_or_null(st, 8),
                        "decided", col_json(st, 9));
    sqlite3_reset(st);
    if (!*out) {
        char what[SL_ID_MAX + 8];
        snprintf(what, sizeof(what), "item %s", id);
        return row_unreadable(&jerr, what);
    }
    return 0;
}

int sl_store_seq_max(struct sl_store *s, int64_t *seq)
{
    sqlite3_stmt *st = stmt_get(s, ST_SEQ_MAX);
    int rc = sqlite3_step(st);
    *seq = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : interrupted(rc) ? -ETIMEDOUT : db_fail(s, "seq max");
}

/* }===================================================================== */
