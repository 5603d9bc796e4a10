/* SPDX-License-Identifier: MIT */
/* The store's trigger-kept counts: creators' standing and items per state. */
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
#include <cmocka.h>

#include <sqlite3.h>

#include "lib/log.h"
#include "../lua/util.h"
#include "store/store.h"

/* {====================== Helpers ====================================== */

#define HASH "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct fx {
    char *dir;                  /* a scratch folder (tests/lua/util.c) */
    struct sl_store *w;         /* the writer */
    struct sl_store *r;         /* a reader, when a test opens one */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->dir = temp_dir();
    assert_int_equal(sl_store_open(f->dir, true, &f->w), 0);
    assert_true(sl_store_created(f->w));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    sl_store_free(f->r);
    sl_store_free(f->w);
    remove_dir(f->dir);
    free(f);
    return 0;
}

static int insert(struct sl_store *s, const char *id, const char *creator, const char *state)
{
    const struct sl_item_row row = {
        .id = id,
        .creator = creator,
        .state = state,
        .upload = "{}",
        .upload_hash = HASH,
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
    struct fx *f = *state;
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
    assert_int_equal(insert(f->w, "a1", "alice", "rejected"), -EEXIST);
    assert_int_equal(insert(f->w, "c1", "dave", "held"), -EEXIST);
    assert_int_equal(sl_store_commit(f->w), 0);
    SEEDED(f->w);
    STANDING(f->w, "dave", 0, 0);
}

static void test_counts_follow_state_changes(void **state)
{
    struct fx *f = *state;
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
    assert_int_equal(sl_store_item_set_state(f->w, "nope", "rejected", 3000), -ENOENT);
    assert_int_equal(sl_store_commit(f->w), 0);
    STATES(f->w, "{\"in_review\": 1, \"approved\": 5, \"removed\": 1}");
    STANDING(f->w, "nope", 0, 0);
}

static void test_rollback_leaves_counts(void **state)
{
    struct fx *f = *state;

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
#define UNDO_SEARCH \
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
    struct fx *f = *state;
    char path[64];
    sqlite3 *db = NULL;

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
                 "PRAGMA user_version = 5;"
                 "UPDATE items SET state = 'rejected' WHERE id = 'b2';"
                 "INSERT INTO items (id, creator, state, upload, upload_hash,"
                 "  created_ms, updated_ms)"
                 "  VALUES ('f1', 'frank', 'held', '{}', '" HASH "', 1500, 1500);");
    assert_int_equal(sqlite3_close(db), SQLITE_OK);

    assert_int_equal(sl_store_open(f->dir, true, &f->w), 0);
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
    assert_int_equal(sl_store_counters_get(f->w, "a1", counts, &counted), 0);
    assert_memory_equal(counts, want_a1, sizeof(counts));
    assert_int_equal(counted, 2);
    assert_int_equal(sl_store_counters_get(f->w, "b1", counts, &counted), 0);
    assert_memory_equal(counts, want_b1, sizeof(counts));
    assert_int_equal(sl_store_counters_get(f->w, "zz", counts, &counted), 0);
    assert_memory_equal(counts, none, sizeof(counts));
    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_counters_add(f->w, "a1", want_b1), 0);
    assert_int_equal(sl_store_mark_set(f->w, "events_counted", 9), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    want_a1[3] = 5;
    assert_int_equal(sl_store_counters_get(f->w, "a1", counts, &counted), 0);
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
    q = (struct sl_search){ .nstates = 1, .states = { "pending" }, .limit = 10 };
    n = 0;
    assert_int_equal(sl_store_search(f->w, &q, count_found, &n, &end), 0);
    assert_int_equal(n, 2);         /* g1, and the pending one seeded before */
    int64_t seq_max = 0;
    assert_int_equal(sl_store_seq_max(f->w, &seq_max), 0);
    assert_int_equal(seq_max, 10);  /* 8 stored before it, then a5 and g1 */

    /* A second open finds the schema current and leaves the counts be. */
    sl_store_free(f->w);
    f->w = NULL;
    assert_int_equal(sl_store_open(f->dir, true, &f->w), 0);
    STANDING(f->w, "alice", 5, 2);
    STATES(f->w, "{\"pending\": 2, \"approved\": 3, \"rejected\": 5}");
}

static void test_reader_sees_committed_counts(void **state)
{
    struct fx *f = *state;

    seed(f->w);
    assert_int_equal(sl_store_open(f->dir, false, &f->r), 0);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counts_on_insert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counts_follow_state_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_leaves_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_backfills, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_sees_committed_counts, setup, teardown),
    };

    /* Migrations log at info level; keep the test output to what matters. */
    sl_log_set_level(SL_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
