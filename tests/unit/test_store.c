/* SPDX-License-Identifier: MIT */
/* The store, on SQLite or on PostgreSQL (SLUICE_TEST_STORE): the counts kept by
 * triggers, merged tags, refusals, event batches, claims. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "lib/log.h"
#include "../lua/util.h"
#include "store/store.h"
#include "storetest.h"

/* {====================== Helpers ====================================== */

static int insert(struct sl_store *s, const char *id, const char *creator, const char *state)
{
    const struct sl_item_row row = {
        .id = id,
        .creator = creator,
        .state = state,
        .upload = "{}",
        .upload_hash = STORETEST_HASH,
        .tags = "{}",
        .reasons = "[]",
        .matches = "[]",
        .verdict = NULL,
        .now_ms = 1000,
    };
    return sl_store_item_insert(s, &row);
}

static void set_state(struct sl_store *s, const char *id, const char *state)
{
    assert_int_equal(sl_store_begin(s), 0);
    assert_int_equal(sl_store_item_set_state(s, id, state, 2000), 0);
    assert_int_equal(sl_store_commit(s), 0);
}

/* alice 4 uploads, 2 rejected; bob 2, 0; carol 1, 1. */
#define SEED_STATES "{\"pending\": 1, \"approved\": 2, \"rejected\": 3, \"in_review\": 1}"

static void seed(struct sl_store *s)
{
    assert_int_equal(sl_store_begin(s), 0);
    assert_int_equal(insert(s, "a1", "alice", "pending"), 0);
    assert_int_equal(insert(s, "a2", "alice", "approved"), 0);
    assert_int_equal(insert(s, "a3", "alice", "rejected"), 0);
    assert_int_equal(insert(s, "a4", "alice", "rejected"), 0);
    assert_int_equal(insert(s, "b1", "bob", "in_review"), 0);
    assert_int_equal(insert(s, "b2", "bob", "approved"), 0);
    assert_int_equal(insert(s, "c1", "carol", "rejected"), 0);
    assert_int_equal(sl_store_commit(s), 0);
}

static void check_standing(struct sl_store *s, const char *creator, int64_t uploads,
                           int64_t rejections, int line)
{
    int64_t u = -1, r = -1;

    assert_int_equal(sl_store_creator_standing(s, creator, &u, &r), 0);
    if (u != uploads || r != rejections)
        fail_msg("line %d: %s has %lld uploads, %lld rejections; expected %lld, %lld",
                 line, creator, (long long)u, (long long)r,
                 (long long)uploads, (long long)rejections);
}

/* Exactly the object `want` (JSON text): no other state, integer counts. */
static void check_states(struct sl_store *s, const char *want, int line)
{
    json_t *got = NULL, *exp = json_loads(want, 0, NULL);

    assert_non_null(exp);
    assert_int_equal(sl_store_item_states(s, &got), 0);
    assert_non_null(got);
    bool same = json_equal(got, exp);
    if (!same) {
        char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
        char *e = json_dumps(exp, JSON_SORT_KEYS | JSON_COMPACT);
        print_error("line %d: item states %s, expected %s\n", line, g, e);
        free(g);
        free(e);
    }
    json_decref(got);
    json_decref(exp);
    assert_true(same);
}

#define STANDING(s, creator, u, r) check_standing(s, creator, u, r, __LINE__)
#define STATES(s, want) check_states(s, want, __LINE__)

static void check_seeded(struct sl_store *s, int line)
{
    check_standing(s, "alice", 4, 2, line);
    check_standing(s, "bob", 2, 0, line);
    check_standing(s, "carol", 1, 1, line);
    check_states(s, SEED_STATES, line);
}

#define SEEDED(s) check_seeded(s, __LINE__)

/* }===================================================================== */

static void test_counts_on_insert(void **state)
{
    struct storetest_fx *f = *state;
    int64_t u = -1, r = -1;

    STATES(f->w, "{}");
    seed(f->w);
    SEEDED(f->w);

    /* A creator with no row: a first upload, not an error. */
    assert_int_equal(sl_store_creator_standing(f->w, "dave", &u, &r), 0);
    assert_int_equal(u, 0);
    assert_int_equal(r, 0);

    /* An insert refused by the primary key counts nothing. */
    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(storetest_synced(f->w, insert(f->w, "a1", "alice", "rejected")), -EEXIST);
    assert_int_equal(storetest_synced(f->w, insert(f->w, "c1", "dave", "held")), -EEXIST);
    assert_int_equal(sl_store_commit(f->w), 0);
    SEEDED(f->w);
    STANDING(f->w, "dave", 0, 0);
}

static void test_counts_follow_state_changes(void **state)
{
    struct storetest_fx *f = *state;
    char st[32];

    seed(f->w);

    set_state(f->w, "a3", "approved");
    STANDING(f->w, "alice", 4, 1);
    STATES(f->w, "{\"pending\": 1, \"approved\": 3, \"rejected\": 2, \"in_review\": 1}");

    set_state(f->w, "b2", "rejected");
    STANDING(f->w, "bob", 2, 1);
    STANDING(f->w, "alice", 4, 1);
    STATES(f->w, "{\"pending\": 1, \"approved\": 2, \"rejected\": 3, \"in_review\": 1}");

    /* Setting the state an item already has changes no count. */
    set_state(f->w, "a4", "rejected");
    set_state(f->w, "a1", "pending");
    STANDING(f->w, "alice", 4, 1);
    STANDING(f->w, "bob", 2, 1);
    STATES(f->w, "{\"pending\": 1, \"approved\": 2, \"rejected\": 3, \"in_review\": 1}");

    /* The last item of a state leaves: the state leaves the output. */
    set_state(f->w, "b1", "removed");
    assert_int_equal(sl_store_item_state(f->w, "b1", st), 0);
    assert_string_equal(st, "removed");
    STANDING(f->w, "bob", 2, 1);
    STATES(f->w, "{\"pending\": 1, \"approved\": 2, \"rejected\": 3, \"removed\": 1}");

    set_state(f->w, "c1", "approved");
    STANDING(f->w, "carol", 1, 0);
    STATES(f->w, "{\"pending\": 1, \"approved\": 3, \"rejected\": 2, \"removed\": 1}");

    /* ...and comes back when an item enters it again. */
    set_state(f->w, "a1", "in_review");
    STATES(f->w, "{\"in_review\": 1, \"approved\": 3, \"rejected\": 2, \"removed\": 1}");

    set_state(f->w, "a4", "approved");
    set_state(f->w, "b2", "approved");
    STANDING(f->w, "alice", 4, 0);
    STANDING(f->w, "bob", 2, 0);
    STANDING(f->w, "carol", 1, 0);
    STATES(f->w, "{\"in_review\": 1, \"approved\": 5, \"removed\": 1}");

    /* An unknown item is not counted anywhere. */
    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(storetest_synced(f->w,
                                      sl_store_item_set_state(f->w, "nope", "rejected", 3000)),
                     -ENOENT);
    assert_int_equal(sl_store_commit(f->w), 0);
    STATES(f->w, "{\"in_review\": 1, \"approved\": 5, \"removed\": 1}");
    STANDING(f->w, "nope", 0, 0);
}

static void test_rollback_leaves_counts(void **state)
{
    struct storetest_fx *f = *state;

    seed(f->w);

    /* Inside the transaction the counts move; the rollback takes them back. */
    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(insert(f->w, "a5", "alice", "rejected"), 0);
    assert_int_equal(insert(f->w, "e1", "erin", "pending"), 0);
    assert_int_equal(sl_store_item_set_state(f->w, "a1", "approved", 2000), 0);
    STANDING(f->w, "alice", 5, 3);
    STANDING(f->w, "erin", 1, 0);
    STATES(f->w, "{\"pending\": 1, \"approved\": 3, \"rejected\": 4, \"in_review\": 1}");
    assert_int_equal(sl_store_rollback(f->w), 0);
    SEEDED(f->w);
    STANDING(f->w, "erin", 0, 0);

    /* One request of a group commit undone, the next one kept. */
    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_savepoint(f->w), 0);
    assert_int_equal(insert(f->w, "a5", "alice", "rejected"), 0);
    assert_int_equal(sl_store_rollback_to(f->w), 0);
    assert_int_equal(sl_store_savepoint(f->w), 0);
    assert_int_equal(insert(f->w, "e1", "erin", "pending"), 0);
    assert_int_equal(sl_store_release(f->w), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    STANDING(f->w, "alice", 4, 2);
    STANDING(f->w, "erin", 1, 0);
    STATES(f->w, "{\"pending\": 2, \"approved\": 2, \"rejected\": 3, \"in_review\": 1}");
}

static int gather_creator(void *arg, const char *creator, int64_t uploads, int64_t rejections)
{
    json_t *all = arg;

    json_object_set_new(all, creator, json_pack("[I, I]", (json_int_t)uploads,
                                                (json_int_t)rejections));
    return json_object_size(all) >= 100;    /* the stop, when a test asks for it */
}

static int stop_at_once(void *arg, const char *creator, int64_t uploads, int64_t rejections)
{
    (void)creator, (void)uploads, (void)rejections;
    ++*(int *)arg;
    return 1;
}

/* Every creator's standing at once, as the loop loads it at start. */
static void test_creators_each(void **state)
{
    struct storetest_fx *f = *state;
    json_t *all = json_object(), *want;
    int calls = 0;

    assert_int_equal(sl_store_creators_each(f->w, gather_creator, all), 0);
    assert_int_equal(json_object_size(all), 0);
    seed(f->w);
    set_state(f->w, "b2", "rejected");
    assert_int_equal(sl_store_creators_each(f->w, gather_creator, all), 0);
    want = json_loads("{\"alice\": [4, 2], \"bob\": [2, 1], \"carol\": [1, 1]}", 0, NULL);
    assert_true(json_equal(all, want));
    /* A nonzero answer stops the walk; the statement is ready for the next. */
    assert_int_equal(sl_store_creators_each(f->w, stop_at_once, &calls), 0);
    assert_int_equal(calls, 1);
    json_object_clear(all);
    assert_int_equal(sl_store_creators_each(f->w, gather_creator, all), 0);
    assert_true(json_equal(all, want));
    json_decref(want);
    json_decref(all);
}

static void exec_raw(sqlite3 *db, const char *sql)
{
    char *msg = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        print_error("%s: %s\n", sql, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        fail();
    }
}

static int count_found(void *arg, int64_t seq, const char *id)
{
    (void)seq, (void)id;
    ++*(int64_t *)arg;
    return 0;
}

/* Migrations 12 to 10 undone: creators' counts and suspensions, jobs, the
 * search's indexes, the items' seq. */
/* What the offers' readers gave, as text. */
struct offers {
    char text[512];
};

static void offers_add(struct offers *o, const char *fmt, ...)
{
    va_list ap;
    size_t len = strlen(o->text);

    va_start(ap, fmt);
    vsnprintf(o->text + len, sizeof(o->text) - len, fmt, ap);
    va_end(ap);
}

static int collect_offer(void *arg, const char *user, int wave, int source, bool served)
{
    offers_add(arg, "%s %d %d%s;", user, wave, source, served ? " served" : "");
    return 0;
}

static int collect_wave(void *arg, const char *item, int wave, int source,
                        const char *const *users, size_t n)
{
    offers_add(arg, "%s %d %d ", item, wave, source);
    for (size_t i = 0; i < n; i++)
        offers_add(arg, "%s%s", i ? "," : "", users[i]);
    offers_add(arg, ";");
    return 0;
}

static int collect_served(void *arg, const char *item, const char *user)
{
    offers_add(arg, "%s %s;", item, user);
    return 0;
}

/* What the three readers of offers give: item's offers, and the
 * placements and served marks of the items in state, each as the
 * collectors above write them. */
static void expect_offers(struct sl_store *w, const char *item, const char *state,
                          const char *offers, const char *placed, const char *served)
{
    struct offers got = { 0 };

    assert_int_equal(sl_store_offers_each(w, item, collect_offer, &got), 0);
    assert_string_equal(got.text, offers);
    got = (struct offers){ 0 };
    assert_int_equal(sl_store_offer_waves_each(w, state, collect_wave, &got), 0);
    assert_string_equal(got.text, placed);
    got = (struct offers){ 0 };
    assert_int_equal(sl_store_served_each(w, state, collect_served, &got), 0);
    assert_string_equal(got.text, served);
}

/* SQLite's schema 16 back to 15: waves, offers and served marks keyed by
 * item id again. */
#define UNDO_SEQ_KEYED \
    "DROP VIEW waves; DROP VIEW offer_waves; DROP VIEW served;" \
    "CREATE TABLE waves (item TEXT NOT NULL, n INTEGER NOT NULL, wave TEXT NOT NULL," \
    "  PRIMARY KEY (item, n)) WITHOUT ROWID;" \
    "INSERT INTO waves SELECT i.id, w.n, w.wave FROM item_waves w JOIN items i ON i.seq = w.seq;" \
    "CREATE TABLE offer_waves (item TEXT NOT NULL, wave INTEGER NOT NULL," \
    "  part INTEGER NOT NULL, source INTEGER NOT NULL, users TEXT NOT NULL," \
    "  PRIMARY KEY (item, wave, part)) WITHOUT ROWID;" \
    "INSERT INTO offer_waves SELECT i.id, o.wave, o.part, o.source, o.users" \
    "  FROM item_offers o JOIN items i ON i.seq = o.seq;" \
    "CREATE TABLE served (user TEXT NOT NULL, item TEXT NOT NULL," \
    "  PRIMARY KEY (item, user)) WITHOUT ROWID;" \
    "INSERT INTO served SELECT s.user, i.id FROM item_served s JOIN items i ON i.seq = s.seq;" \
    "DROP TABLE item_waves; DROP TABLE item_offers; DROP TABLE item_served;"

#define UNDO_SEARCH \
    UNDO_SEQ_KEYED \
    "DROP TABLE item_creators; CREATE INDEX items_creator ON items(creator, seq);" \
    "DROP TABLE offer_waves; DROP TABLE served;" \
    "CREATE TABLE offers (item TEXT NOT NULL, user TEXT NOT NULL, wave INTEGER NOT NULL," \
    "  source INTEGER NOT NULL, served INTEGER NOT NULL DEFAULT 0," \
    "  PRIMARY KEY (item, user)) WITHOUT ROWID;" \
    "DROP TRIGGER creator_counted; DROP TRIGGER creator_recounted;" \
    "DROP TABLE creator_states; DROP TABLE suspensions;" \
    "DROP TABLE jobs;" \
    "DROP TRIGGER items_hashed; DROP TRIGGER items_retagged;" \
    "DROP TRIGGER items_matched; DROP TRIGGER items_rematched;" \
    "DELETE FROM counters WHERE name IN ('indexed_items', 'indexed_audit');" \
    "DROP TABLE item_text; DROP TABLE item_tags; DROP TABLE item_matches;" \
    "DROP TABLE item_deciders; DROP TABLE item_hashes; DROP INDEX queue_seq;" \
    "ALTER TABLE queue DROP COLUMN seq; DROP INDEX items_creator; DROP INDEX items_state;" \
    "DROP INDEX items_seq; ALTER TABLE items DROP COLUMN seq;" \
    "CREATE INDEX items_state ON items(state);"

static void test_migration_backfills(void **state)
{
    struct storetest_fx *f = *state;
    char path[64];
    sqlite3 *db = NULL;

    if (storetest_postgres()) {
        print_message("skipped: it rewinds a SQLite file to schema 5, which no PostgreSQL "
                      "store ever had (test_store_records tests PostgreSQL's migrations)\n");
        skip();
    }
    seed(f->w);
    set_state(f->w, "a3", "approved");
    sl_store_free(f->w);
    f->w = NULL;

    /* Back to schema 5 (undoing 12 down to 6), then change items with no
     * trigger watching: the migration can only get the counts right by
     * reading items. */
    snprintf(path, sizeof(path), "%s/sluice.db", f->dir);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    exec_raw(db, UNDO_SEARCH
                 "DROP TABLE reports;"
                 "DROP TABLE reporters;"
                 "ALTER TABLE users DROP COLUMN seen_s;"
                 "DROP TRIGGER items_counted;"
                 "DROP TRIGGER items_recounted;"
                 "DROP TABLE creators;"
                 "DROP TABLE item_states;"
                 "CREATE INDEX items_creator ON items(creator);"
                 "DELETE FROM counters WHERE name = 'events_counted';"
                 "DROP TABLE item_counts;"
                 "CREATE TABLE item_counters (item TEXT NOT NULL, type INTEGER NOT NULL,"
                 "  n INTEGER NOT NULL, PRIMARY KEY (item, type)) WITHOUT ROWID;"
                 "INSERT INTO item_counters VALUES ('a1', 0, 7), ('a1', 9, 2), ('b1', 3, 5);"
                 "INSERT INTO event_batches (ts_ms, n, data) VALUES (1000, 0, x''), (1001, 0, x'');"
                 "ALTER TABLE audit DROP COLUMN v;"
                 "ALTER TABLE tokens DROP COLUMN expires_ms;"
                 "INSERT INTO offers VALUES ('a2', 'u2', 1, 1, 0), ('a2', 'u1', 1, 1, 1),"
                 "  ('a2', 'u3', 2, 5, 0), ('b2', 'u1', 1, 2, 1);"
                 "PRAGMA user_version = 5;"
                 "UPDATE items SET state = 'rejected' WHERE id = 'b2';"
                 "INSERT INTO items (id, creator, state, upload, upload_hash,"
                 "  created_ms, updated_ms)"
                 "  VALUES ('f1', 'frank', 'held', '{}', '" STORETEST_HASH "', 1500, 1500);");
    assert_int_equal(sqlite3_close(db), SQLITE_OK);

    assert_int_equal(sl_store_open(f->where, f->dir, true, &f->w), 0);
    assert_false(sl_store_created(f->w));
    STANDING(f->w, "alice", 4, 1);
    STANDING(f->w, "bob", 2, 1);
    STANDING(f->w, "carol", 1, 1);
    STANDING(f->w, "frank", 1, 0);
    STANDING(f->w, "dave", 0, 0);
    STATES(f->w, "{\"pending\": 1, \"approved\": 2, \"rejected\": 3, \"in_review\": 1,"
                 " \"held\": 1}");

    /* Per-type counter rows become one row per item, and every stored
     * batch counts as counted. */
    int64_t counts[SL_STORE_COUNTERS], counted = -1;
    int64_t want_a1[SL_STORE_COUNTERS] = { [0] = 7, [9] = 2 }, want_b1[SL_STORE_COUNTERS] = { [3] = 5 };
    int64_t none[SL_STORE_COUNTERS] = { 0 };
    assert_int_equal(sl_store_counters_get(f->w, "a1", "events_counted", counts, &counted), 0);
    assert_memory_equal(counts, want_a1, sizeof(counts));
    assert_int_equal(counted, 2);
    assert_int_equal(sl_store_counters_get(f->w, "b1", "events_counted", counts, &counted), 0);
    assert_memory_equal(counts, want_b1, sizeof(counts));
    assert_int_equal(sl_store_counters_get(f->w, "zz", "events_counted", counts, &counted), 0);
    assert_memory_equal(counts, none, sizeof(counts));
    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_counters_add(f->w, "a1", want_b1), 0);
    assert_int_equal(sl_store_mark_set(f->w, "events_counted", 9), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    want_a1[3] = 5;
    assert_int_equal(sl_store_counters_get(f->w, "a1", "events_counted", counts, &counted), 0);
    assert_memory_equal(counts, want_a1, sizeof(counts));
    assert_int_equal(counted, 9);

    /* The triggers are back. */
    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(insert(f->w, "a5", "alice", "rejected"), 0);
    assert_int_equal(insert(f->w, "g1", "gina", "pending"), 0);
    assert_int_equal(sl_store_item_set_state(f->w, "b1", "approved", 2000), 0);
    assert_int_equal(sl_store_item_set_state(f->w, "f1", "rejected", 2000), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    STANDING(f->w, "alice", 5, 2);
    STANDING(f->w, "bob", 2, 1);
    STANDING(f->w, "frank", 1, 1);
    STANDING(f->w, "gina", 1, 0);
    STATES(f->w, "{\"pending\": 2, \"approved\": 3, \"rejected\": 5}");

    /* Items stored before the search's migration are numbered in the order
     * they came and found by its indexes; new ones follow them. */
    struct sl_search_end end;
    int64_t n = 0;
    struct sl_search q = { .creator = "frank", .limit = 10 };
    assert_int_equal(sl_store_search(f->w, &q, count_found, &n, &end), 0);
    assert_int_equal(n, 1);
    q = (struct sl_search){ .creator = "alice", .limit = 10 };
    n = 0;
    assert_int_equal(sl_store_search(f->w, &q, count_found, &n, &end), 0);
    assert_int_equal(n, 5);         /* 4 before the migrations, a5 after */
    q = (struct sl_search){ .nstates = 1, .states = { "pending" }, .limit = 10 };
    n = 0;
    assert_int_equal(sl_store_search(f->w, &q, count_found, &n, &end), 0);
    assert_int_equal(n, 2);         /* g1, and the pending one seeded before */
    int64_t seq_max = 0;
    assert_int_equal(sl_store_seq_max(f->w, &seq_max), 0);
    assert_int_equal(seq_max, 10);  /* 8 stored before it, then a5 and g1 */

    /* Offers become one record per wave and source; served marks move. */
    expect_offers(f->w, "a2", "approved", "u1 1 1 served;u2 1 1;u3 2 5;",
                  "a2 1 1 u1,u2;a2 2 5 u3;", "a2 u1;");

    /* A second open finds the schema current and leaves the counts be. */
    sl_store_free(f->w);
    f->w = NULL;
    assert_int_equal(sl_store_open(f->where, f->dir, true, &f->w), 0);
    STANDING(f->w, "alice", 5, 2);
    STATES(f->w, "{\"pending\": 2, \"approved\": 3, \"rejected\": 5}");
}

/* Offers stored a wave at a time, read back per item and in bulk; served
 * marks set once. */
static void test_offers(void **state)
{
    struct storetest_fx *f = *state;
    const char *wave1[] = { "u1", "u2", "u3" }, *wave2[] = { "u4" }, *wave9[] = { "x1" };
    struct offers got = { 0 };

    seed(f->w);
    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_offer_wave(f->w, "a2", 1, 1, wave1, 3), 0);
    assert_int_equal(sl_store_offer_wave(f->w, "a2", 2, 5, wave2, 1), 0);
    assert_int_equal(sl_store_offer_wave(f->w, "a2", 2, 3, wave1, 1), 0);     /* a second part */
    assert_int_equal(sl_store_offer_wave(f->w, "a2", 3, 5, wave2, 0), 0);     /* nothing */
    assert_int_equal(sl_store_offer_wave(f->w, "a1", 1, 1, wave9, 1), 0);
    assert_int_equal(sl_store_offer_served(f->w, "a2", "u2"), 0);
    assert_int_equal(sl_store_offer_served(f->w, "a2", "u2"), 0);             /* set once */
    assert_int_equal(sl_store_offer_served(f->w, "a2", "u4"), 0);
    assert_int_equal(sl_store_offer_served(f->w, "a1", "x1"), 0);
    assert_int_equal(sl_store_commit(f->w), 0);

    assert_int_equal(sl_store_offers_each(f->w, "a2", collect_offer, &got), 0);
    assert_string_equal(got.text, "u1 1 1;u2 1 1 served;u3 1 1;u4 2 5 served;u1 2 3;");
    got = (struct offers){ 0 };
    assert_int_equal(sl_store_offers_each(f->w, "zz", collect_offer, &got), 0);
    assert_string_equal(got.text, "");
    /* In bulk, only the items in the state asked for (a1 is pending). */
    assert_int_equal(sl_store_offer_waves_each(f->w, "approved", collect_wave, &got), 0);
    assert_string_equal(got.text, "a2 1 1 u1,u2,u3;a2 2 5 u4;a2 2 3 u1;");
    got = (struct offers){ 0 };
    assert_int_equal(sl_store_served_each(f->w, "approved", collect_served, &got), 0);
    assert_string_equal(got.text, "a2 u2;a2 u4;");
    got = (struct offers){ 0 };
    assert_int_equal(sl_store_served_each(f->w, "pending", collect_served, &got), 0);
    assert_string_equal(got.text, "a1 x1;");

    /* A record cut short (by hand) is an error, not half a wave. */
    assert_int_equal(storetest_sql(f->where, f->dir, storetest_postgres()
                                   ? "UPDATE offer_waves SET users = 'x1' WHERE item = 'a1'"
                                   : "UPDATE item_offers SET users = 'x1' WHERE seq ="
                                     " (SELECT seq FROM items WHERE id = 'a1')"), 0);
    got = (struct offers){ 0 };
    assert_int_equal(sl_store_offers_each(f->w, "a1", collect_offer, &got), -EILSEQ);
    assert_int_equal(sl_store_offer_waves_each(f->w, "pending", collect_wave, &got), -EILSEQ);
}

static void test_reader_sees_committed_counts(void **state)
{
    struct storetest_fx *f = *state;

    seed(f->w);
    assert_int_equal(sl_store_open(f->where, f->dir, false, &f->r), 0);
    SEEDED(f->r);
    STANDING(f->r, "dave", 0, 0);

    /* What the writer has not committed, the reader does not see. */
    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(insert(f->w, "a5", "alice", "rejected"), 0);
    assert_int_equal(insert(f->w, "d1", "dave", "pending"), 0);
    assert_int_equal(sl_store_item_set_state(f->w, "c1", "approved", 2000), 0);
    assert_int_equal(sl_store_item_set_state(f->w, "b1", "approved", 2000), 0);
    SEEDED(f->r);
    STANDING(f->r, "dave", 0, 0);
    assert_int_equal(sl_store_commit(f->w), 0);

    STANDING(f->r, "alice", 5, 3);
    STANDING(f->r, "bob", 2, 0);
    STANDING(f->r, "carol", 1, 0);
    STANDING(f->r, "dave", 1, 0);
    STATES(f->r, "{\"pending\": 2, \"approved\": 4, \"rejected\": 3}");
}

/* RFC 7396 on both backends: objects merge key by key, null deletes. */
static void test_merge_tags(void **state)
{
    struct storetest_fx *f = *state;
    json_t *item = NULL;
    const struct sl_item_row row = {
        .id = "t1", .creator = "tina", .state = "pending", .upload = "{}",
        .upload_hash = STORETEST_HASH,
        .tags = "{\"a\": {\"confidence\": 0.5, \"source\": \"x\"}, \"b\": {\"confidence\": 1}}",
        .now_ms = 1000,
    };

    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_item_insert(f->w, &row), 0);
    assert_int_equal(sl_store_item_merge_tags(f->w, "t1", "{\"a\": {\"confidence\": 0.9},"
                     " \"b\": null, \"c\": {\"confidence\": 0.25, \"source\": \"y\"}}", 2000), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    assert_int_equal(sl_store_item_get(f->w, "t1", &item), 0);
    json_t *want = json_loads("{\"a\": {\"confidence\": 0.9, \"source\": \"x\"},"
                              " \"c\": {\"confidence\": 0.25, \"source\": \"y\"}}", 0, NULL);
    assert_non_null(want);
    assert_true(json_equal(json_object_get(item, "tags"), want));
    assert_int_equal(json_integer_value(json_object_get(item, "updated_ms")), 2000);
    json_decref(want);
    json_decref(item);
}

static int count_tokens(void *arg, const char *name, const char *role, const char *hash,
                        int64_t created_ms, int64_t expires_ms)
{
    (void)name;
    (void)role;
    (void)hash;
    (void)created_ms;
    (void)expires_ms;
    (*(int *)arg)++;
    return 0;
}

/* A refused write undoes nothing else of its transaction; one never
 * reported stops the commit on a backend that sent it ahead. */
static void test_refusals(void **state)
{
    struct storetest_fx *f = *state;
    int n = 0;

    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_token_insert(f->w, "t1", "admin", STORETEST_HASH, 1, 0), 0);
    assert_int_equal(storetest_synced(f->w, sl_store_token_insert(f->w, "t1", "ingest",
                                                                  STORETEST_HASH "0", 1, 0)),
                     -EEXIST);
    /* Another name with the same hash: a UNIQUE column refuses it too. */
    assert_int_equal(storetest_synced(f->w, sl_store_token_insert(f->w, "t2", "ingest",
                                                                  STORETEST_HASH, 1, 0)),
                     -EEXIST);
    assert_int_equal(storetest_synced(f->w, sl_store_token_delete(f->w, "nobody")), -ENOENT);
    assert_int_equal(storetest_synced(f->w,
                                      sl_store_item_update(f->w, "nope", "approved", NULL, 1)),
                     -ENOENT);
    assert_int_equal(sl_store_token_insert(f->w, "t3", "policy", STORETEST_HASH "3", 1, 0), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    assert_int_equal(sl_store_token_each(f->w, count_tokens, &n), 0);
    assert_int_equal(n, 2);

    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_token_insert(f->w, "t4", "policy", STORETEST_HASH "4", 1, 0), 0);
    int rc = sl_store_token_insert(f->w, "t1", "policy", STORETEST_HASH "5", 1, 0);
    if (rc == 0) {
        /* Sent ahead, refused unseen: the commit must not keep t4. */
        assert_int_equal(sl_store_commit(f->w), -EEXIST);
        n = 0;
        assert_int_equal(sl_store_token_each(f->w, count_tokens, &n), 0);
        assert_int_equal(n, 2);
    } else {
        assert_int_equal(rc, -EEXIST);
        assert_int_equal(sl_store_commit(f->w), 0);
    }
}

struct walk {
    int n;
    int64_t seqs[8];
    struct sl_event_row ev[8];
    char text[8][2][16];
};

static int walk_event(void *arg, int64_t seq, const struct sl_event_row *ev)
{
    struct walk *w = arg;
    assert_true(w->n < 8);
    w->seqs[w->n] = seq;
    w->ev[w->n] = *ev;
    snprintf(w->text[w->n][0], sizeof(w->text[0][0]), "%s", ev->item);
    snprintf(w->text[w->n][1], sizeof(w->text[0][1]), "%s", ev->user);
    w->n++;
    return 0;
}

/* The WAL's checkpoint sequence number (its header's bytes 12 to 15): it
 * grows each time the log starts over from its beginning. */
static uint32_t wal_restarts(const char *dir, long *size)
{
    char path[4096];
    unsigned char h[16] = { 0 };

    snprintf(path, sizeof(path), "%s/sluice.db-wal", dir);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(h, 1, sizeof(h), fp), sizeof(h));
    fseek(fp, 0, SEEK_END);
    *size = ftell(fp);
    fclose(fp);
    return (uint32_t)h[12] << 24 | (uint32_t)h[13] << 16 | (uint32_t)h[14] << 8 | h[15];
}

/* Past 32 MiB the WAL is folded back into the database by a thread of its
 * own and starts over, long before the 128 MiB where the commit thread
 * would copy it inside a commit itself (SQLite only). */
static void test_wal_checkpoints(void **state)
{
    struct storetest_fx *f = *state;
    enum { ROWS = 1000, BATCHES = 240 };    /* ~55 MiB of event batches */
    static char ids[ROWS][2][128];
    static struct sl_event_row rows[ROWS];
    long size = 0;
    int64_t seq;

    if (storetest_postgres()) {
        print_message("skipped: PostgreSQL keeps its own WAL\n");
        return;
    }
    for (int i = 0; i < ROWS; i++) {
        snprintf(ids[i][0], sizeof(ids[i][0]), "item-%04d-%080d", i, i * 7919);
        snprintf(ids[i][1], sizeof(ids[i][1]), "user-%04d-%080d", i, i * 104729);
        rows[i] = (struct sl_event_row){ ids[i][0], ids[i][1], i % 10, -1, 1000 + i };
    }
    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_mark_set(f->w, "wal_test", 0), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    uint32_t before = wal_restarts(f->dir, &size);
    for (int b = 0; b < BATCHES; b++) {
        assert_int_equal(sl_store_begin(f->w), 0);
        assert_int_equal(sl_store_events_insert(f->w, rows, ROWS, 2000 + b, &seq), 0);
        assert_int_equal(sl_store_commit(f->w), 0);
    }
    /* The thread's round ends between two of these; the commit after it
     * copies what the round left and the one after starts the log over. */
    uint32_t after = before;
    for (int i = 0; i < 500 && after == before; i++) {
        assert_int_equal(sl_store_begin(f->w), 0);
        assert_int_equal(sl_store_mark_set(f->w, "wal_test", i), 0);
        assert_int_equal(sl_store_commit(f->w), 0);
        after = wal_restarts(f->dir, &size);
        if (after == before)
            usleep(10000);
    }
    assert_true(after != before);
    assert_true(size < 100L * 1024 * 1024);
}

/* A copy of the store (sluicectl migrate) keeps one node's counters' marks
 * as they are, each shard's its own; with several nodes' marks in it, one
 * mark, the furthest, that every shard of the copy reads (SQLite to SQLite
 * here; tests/ctl/migrate.py copies to PostgreSQL and back). */
static void copy_into(struct storetest_fx *f, const char *sub, struct sl_store **out)
{
    char dir[1024];
    int64_t rows;

    snprintf(dir, sizeof(dir), "%s/%s", f->dir, sub);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(sl_store_open(NULL, dir, true, out), 0);
    assert_int_equal(sl_store_copy(f->w, *out, &rows), 0);
}

/* The copy closed, its folder goes (the fixture removes files only). */
static void copy_drop(struct storetest_fx *f, const char *sub, struct sl_store *s)
{
    char dir[1024];

    sl_store_free(s);
    snprintf(dir, sizeof(dir), "%s/%s", f->dir, sub);
    remove_dir(strdup(dir));        /* it frees what it is given */
}

static int64_t mark(struct sl_store *s, const char *name)
{
    int64_t v = -1;
    int rc = sl_store_mark_get(s, name, &v);
    return rc == -ENOENT ? -2 : rc < 0 ? -3 : v;
}

static void test_copy_keeps_counted_marks(void **state)
{
    struct storetest_fx *f = *state;
    struct sl_store *one, *nodes;

    if (storetest_postgres()) {
        print_message("skipped: copies between SQLite stores (tests/ctl/migrate.py runs "
                      "PostgreSQL's)\n");
        return;
    }
    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_mark_set(f->w, "events_counted", 5), 0);
    assert_int_equal(sl_store_mark_set(f->w, "events_counted#0", 10), 0);
    assert_int_equal(sl_store_mark_set(f->w, "events_counted#3", 7), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    copy_into(f, "one", &one);
    assert_int_equal(mark(one, "events_counted"), 5);
    assert_int_equal(mark(one, "events_counted#0"), 10);
    assert_int_equal(mark(one, "events_counted#3"), 7);
    assert_int_equal(mark(one, "events_counted#1"), -2);
    copy_drop(f, "one", one);

    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_mark_set(f->w, "events_counted:n1#2", 20), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    copy_into(f, "nodes", &nodes);
    assert_int_equal(mark(nodes, "events_counted"), 20);
    assert_int_equal(mark(nodes, "events_counted#0"), -2);
    assert_int_equal(mark(nodes, "events_counted:n1#2"), -2);
    copy_drop(f, "nodes", nodes);
}

/* Batches come back as stored, in the order of their numbers. */
static void test_event_batches(void **state)
{
    struct storetest_fx *f = *state;
    const struct sl_event_row one[] = {
        { "i1", "u1", 0, -1, 100 }, { "i1", "u2", 3, 2500, 101 }, { "i2", "u1", 9, -1, 102 },
    };
    const struct sl_event_row two[] = { { "i3", "u3", 5, 7, 200 } };
    int64_t s1 = -1, s2 = -1, counts[SL_STORE_COUNTERS], counted = -1;
    struct walk w = { 0 };

    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_events_insert(f->w, one, 3, 1000, &s1), 0);
    assert_int_equal(sl_store_events_insert(f->w, two, 1, 1001, &s2), 0);
    assert_int_equal(sl_store_sync(f->w), 0);
    assert_true(s1 > 0);
    assert_true(s2 > s1);
    int64_t add[SL_STORE_COUNTERS] = { [0] = 1, [3] = 1 };
    assert_int_equal(sl_store_counters_add(f->w, "i1", add), 0);
    assert_int_equal(sl_store_counters_add(f->w, "i1", add), 0);
    assert_int_equal(sl_store_mark_set(f->w, "events_counted", s2), 0);
    assert_int_equal(sl_store_commit(f->w), 0);

    assert_int_equal(sl_store_events_since(f->w, 0, walk_event, &w), 0);
    assert_int_equal(w.n, 4);
    for (int i = 0; i < 4; i++) {
        const struct sl_event_row *e = i < 3 ? &one[i] : &two[0];
        assert_int_equal(w.seqs[i], i < 3 ? s1 : s2);
        assert_string_equal(w.text[i][0], e->item);
        assert_string_equal(w.text[i][1], e->user);
        assert_int_equal(w.ev[i].type, e->type);
        assert_int_equal(w.ev[i].watch_ms, e->watch_ms);
        assert_int_equal(w.ev[i].ts_ms, e->ts_ms);
    }
    w.n = 0;
    assert_int_equal(sl_store_events_since(f->w, s1, walk_event, &w), 0);
    assert_int_equal(w.n, 1);
    assert_string_equal(w.text[0][0], "i3");

    assert_int_equal(sl_store_counters_get(f->w, "i1", "events_counted", counts, &counted), 0);
    assert_int_equal(counted, s2);
    assert_int_equal(counts[0], 2);
    assert_int_equal(counts[3], 2);
    assert_int_equal(counts[9], 0);
    assert_int_equal(sl_store_counters_get(f->w, "none", "events_counted", counts, &counted), 0);
    assert_int_equal(counts[0], 0);
    assert_int_equal(sl_store_mark_get(f->w, "never", &counted), -ENOENT);
}

/* Most urgent first, each claim a new fence, a lease that runs out, and
 * no item offered back to who escalated it. */
static void test_claims(void **state)
{
    struct storetest_fx *f = *state;
    json_t *got = NULL;
    struct sl_queue_entry e;

    seed(f->w);
    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_queue_put(f->w, "a1", "q", 1, "r", NULL, 10), 0);
    assert_int_equal(sl_store_queue_put(f->w, "b1", "q", 5, "r", NULL, 20), 0);
    assert_int_equal(sl_store_queue_put(f->w, "a2", "q", 5, "r", NULL, 15), 0);
    assert_int_equal(sl_store_queue_put(f->w, "c1", "other", 9, "r", "mia", 5), 0);
    assert_int_equal(sl_store_queue_claim(f->w, "q", "mia", 2, 1000, 60000, NULL, &got), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    assert_int_equal(json_array_size(got), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(got, 0), "id")), "a2");
    assert_string_equal(json_string_value(json_object_get(json_array_get(got, 1), "id")), "b1");
    json_int_t f1 = json_integer_value(json_object_get(json_array_get(got, 0), "fence"));
    json_int_t f2 = json_integer_value(json_object_get(json_array_get(got, 1), "fence"));
    assert_true(f1 > 0 && f2 > 0 && f1 != f2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(got, 0), "lease_until_ms")),
                     61000);
    json_decref(got);
    assert_int_equal(sl_store_queue_get(f->w, "a2", &e), 0);
    assert_string_equal(e.claimed_by, "mia");
    assert_int_equal(e.fence, f1);

    /* Any queue: mia escalated c1, so she gets a1, and c1 only goes to others. */
    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_queue_claim(f->w, NULL, "mia", 5, 2000, 60000, NULL, &got), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    assert_int_equal(json_array_size(got), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(got, 0), "id")), "a1");
    json_decref(got);

    /* After the lease, a2 is waiting again: a new claim, a newer fence. */
    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_queue_claim(f->w, "q", "noa", 1, 62000, 60000, NULL, &got), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    assert_int_equal(json_array_size(got), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(got, 0), "id")), "a2");
    assert_true(json_integer_value(json_object_get(json_array_get(got, 0), "fence")) > f2);
    json_decref(got);

    /* A put starts the entry afresh: unclaimed, fence 0. */
    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_queue_put(f->w, "a2", "escalated", 7, "why", "noa", 63000), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    assert_int_equal(sl_store_queue_get(f->w, "a2", &e), 0);
    assert_string_equal(e.queue, "escalated");
    assert_string_equal(e.claimed_by, "");
    assert_string_equal(e.escalated_by, "noa");
    assert_int_equal(e.fence, 0);
    assert_int_equal(sl_store_queue_get(f->w, "zz", &e), -ENOENT);
}

/* Placements and served marks sent in one transaction (PostgreSQL keeps
 * both for multi-row statements): two placements of one wave in one batch
 * both kept, in the order sent; a mark set before the offer is stored
 * counts all the same (marks are apart, set once). */
static void test_offers_batched(void **state)
{
    struct storetest_fx *f = *state;
    const char *first[] = { "u0", "u1" }, *again[] = { "u1" }, *more[] = { "u2" };
    struct offers got = { 0 };

    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(insert(f->w, "it", "ida", "distributing"), 0);
    assert_int_equal(sl_store_offer_served(f->w, "it", "u0"), 0);  /* not offered yet */
    assert_int_equal(sl_store_offer_wave(f->w, "it", 1, 2, first, 2), 0);
    assert_int_equal(sl_store_offer_served(f->w, "it", "u1"), 0);
    assert_int_equal(sl_store_offer_wave(f->w, "it", 2, 3, again, 1), 0);
    assert_int_equal(sl_store_offer_wave(f->w, "it", 2, 0, more, 1), 0);
    assert_int_equal(sl_store_offer_served(f->w, "it", "u1"), 0);  /* again: nothing */
    assert_int_equal(sl_store_wave_put(f->w, "it", 1, "{\"n\": 1}"), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    assert_int_equal(sl_store_offers_each(f->w, "it", collect_offer, &got), 0);
    assert_string_equal(got.text, "u0 1 2 served;u1 1 2 served;u1 2 3 served;u2 2 0;");

    /* SQLite keys them by the item's seq: for an item not stored there is
     * nothing to key them by, and the write says so rather than losing
     * them. */
    if (!storetest_postgres()) {
        assert_int_equal(sl_store_begin(f->w), 0);
        assert_int_equal(sl_store_wave_put(f->w, "nobody", 1, "{\"n\": 1}"), -ENOENT);
        assert_int_equal(sl_store_offer_wave(f->w, "nobody", 1, 2, first, 2), -ENOENT);
        assert_int_equal(sl_store_commit(f->w), 0);
    }
}

/* A batch of large uploads (more than a multi-row insert carries at
 * once on PostgreSQL), with quotes and backslashes, comes back whole. */
static void test_big_rows(void **state)
{
    struct storetest_fx *f = *state;
    size_t len = 1 << 20;
    char *upload = malloc(len + 64), id[16];

    assert_non_null(upload);
    int n = snprintf(upload, len, "{\"title\": \"a \\\"quoted\\\" \\\\ title\", \"transcript\": \"");
    memset(upload + n, 'x', len - (size_t)n - 3);
    memcpy(upload + len - 3, "\"}", 3);
    assert_int_equal(sl_store_begin(f->w), 0);
    for (int i = 0; i < 12; i++) {
        snprintf(id, sizeof(id), "big%d", i);
        const struct sl_item_row row = { .id = id, .creator = "bo", .state = "pending",
                                         .upload = upload, .upload_hash = STORETEST_HASH,
                                         .now_ms = 1 };
        assert_int_equal(sl_store_item_insert(f->w, &row), 0);
    }
    assert_int_equal(sl_store_commit(f->w), 0);
    json_t *want = json_loads(upload, 0, NULL), *item = NULL;
    assert_non_null(want);
    for (int i = 0; i < 12; i++) {
        snprintf(id, sizeof(id), "big%d", i);
        assert_int_equal(sl_store_item_get(f->w, id, &item), 0);
        assert_true(json_equal(json_object_get(item, "upload"), want));
        json_decref(item);
    }
    STANDING(f->w, "bo", 12, 0);
    json_decref(want);
    free(upload);
}

/* Schema 15 to 16: an item's waves, offers and served marks move to tables
 * keyed by its seq and read back as they were; the old names stay, as
 * views a copy reads and inserts through. */
static void test_migration_seq_keyed(void **state)
{
    struct storetest_fx *f = *state;
    const char *users[] = { "u1", "u2" };
    struct offers got = { 0 };
    char path[64];
    sqlite3 *db = NULL;
    json_t *waves = NULL;

    if (storetest_postgres()) {
        print_message("skipped: PostgreSQL's step to 16 changes nothing\n");
        skip();
    }
    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(insert(f->w, "z1", "zoe", "distributing"), 0);
    assert_int_equal(insert(f->w, "z2", "zoe", "distributing"), 0);
    assert_int_equal(sl_store_wave_put(f->w, "z2", 2, "{\"n\": 2}"), 0);
    assert_int_equal(sl_store_wave_put(f->w, "z2", 1, "{\"n\": 1}"), 0);
    assert_int_equal(sl_store_offer_wave(f->w, "z2", 1, 3, users, 2), 0);
    assert_int_equal(sl_store_offer_served(f->w, "z2", "u2"), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    sl_store_free(f->w);
    f->w = NULL;

    snprintf(path, sizeof(path), "%s/sluice.db", f->dir);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    exec_raw(db, UNDO_SEQ_KEYED "PRAGMA user_version = 15;");
    assert_int_equal(sqlite3_close(db), SQLITE_OK);

    assert_int_equal(sl_store_open(f->where, f->dir, true, &f->w), 0);
    assert_int_equal(sl_store_waves_get(f->w, "z2", &waves), 0);
    char *text = json_dumps(waves, JSON_COMPACT);
    assert_string_equal(text, "[{\"n\":1},{\"n\":2}]");
    free(text);
    json_decref(waves);
    expect_offers(f->w, "z2", "distributing", "u1 1 3;u2 1 3 served;", "z2 1 3 u1,u2;",
                  "z2 u2;");

    /* The views: a row inserted by the item's id is stored under its seq;
     * one for an item not stored is refused. */
    assert_int_equal(storetest_sql(f->where, f->dir,
                                   "INSERT INTO waves (item, n, wave) VALUES ('z1', 1, '{}');"
                                   "INSERT INTO served (user, item) VALUES ('u9', 'z1')"), 0);
    assert_int_not_equal(storetest_sql(f->where, f->dir,
                                       "INSERT INTO waves (item, n, wave)"
                                       " VALUES ('nobody', 1, '{}')"), 0);
    assert_int_equal(sl_store_waves_get(f->w, "z1", &waves), 0);
    assert_int_equal(json_array_size(waves), 1);
    json_decref(waves);
    assert_int_equal(sl_store_served_each(f->w, "distributing", collect_served, &got), 0);
    assert_string_equal(got.text, "z1 u9;z2 u2;");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        storetest_case_writer(test_counts_on_insert),
        storetest_case_writer(test_counts_follow_state_changes),
        storetest_case_writer(test_rollback_leaves_counts),
        storetest_case_writer(test_creators_each),
        storetest_case_writer(test_migration_backfills),
        storetest_case_writer(test_reader_sees_committed_counts),
        storetest_case_writer(test_merge_tags),
        storetest_case_writer(test_refusals),
        storetest_case_writer(test_event_batches),
        storetest_case_writer(test_wal_checkpoints),
        storetest_case_writer(test_copy_keeps_counted_marks),
        storetest_case_writer(test_claims),
        storetest_case_writer(test_big_rows),
        storetest_case_writer(test_offers),
        storetest_case_writer(test_offers_batched),
        storetest_case_writer(test_migration_seq_keyed),
    };

    /* Migrations log at info level; keep the test output to what matters. */
    return storetest_run(tests, SL_LOG_WARN);
}
