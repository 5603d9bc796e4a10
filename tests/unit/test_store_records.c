/* SPDX-License-Identifier: MIT */
/* The store's schema 7 to 9, on SQLite or on PostgreSQL (SLUICE_TEST_STORE): reports, last visits, token expiry, times to decision. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "lib/log.h"
#include "../lua/util.h"
#include "store/store.h"
#include "storetest.h"

/* {====================== Helpers ====================================== */

static void item(struct sl_store *w, const char *id, int64_t now_ms)
{
    const struct sl_item_row row = { .id = id, .creator = "cy", .state = "in_review",
                                     .upload = "{\"title\": \"t\"}", .upload_hash = STORETEST_HASH,
                                     .now_ms = now_ms };
    assert_int_equal(sl_store_item_insert(w, &row), 0);
}

static const char *str_at(json_t *list, size_t i, const char *key)
{
    return json_string_value(json_object_get(json_array_get(list, i), key));
}

static json_int_t int_at(json_t *list, size_t i, const char *key)
{
    return json_integer_value(json_object_get(json_array_get(list, i), key));
}

/* }===================================================================== */

/* One report per user and item, weighed as it came; judging moves only
 * the served reporters' standing. */
static void test_reports(void **state)
{
    struct storetest_fx *f = *state;
    struct sl_report_facts facts;
    int64_t n = -1;
    double weight = -1;
    json_t *list = NULL;

    assert_int_equal(sl_store_begin(f->w), 0);
    item(f->w, "r1", 1);
    assert_int_equal(sl_store_offer_wave(f->w, "r1", 1, 0, (const char *[]){ "una" }, 1), 0);
    assert_int_equal(sl_store_offer_served(f->w, "r1", "una"), 0);
    assert_int_equal(sl_store_report_facts(f->w, "r1", "una", &facts), 0);
    assert_false(facts.already);
    assert_true(facts.served);
    assert_int_equal(facts.reports + facts.upheld + facts.dismissed, 0);
    assert_int_equal(sl_store_report_add(f->w, "r1", "una", true, 1.0, 100), 0);
    assert_int_equal(sl_store_report_facts(f->w, "r1", "vic", &facts), 0);
    assert_false(facts.served);
    assert_int_equal(sl_store_report_add(f->w, "r1", "vic", false, 0.25, 200), 0);
    /* A second report of una's: refused, and not counted for her. */
    assert_int_equal(storetest_synced(f->w, sl_store_report_add(f->w, "r1", "una", true, 1.0, 300)),
                     -EEXIST);
    assert_int_equal(sl_store_report_facts(f->w, "r1", "una", &facts), 0);
    assert_true(facts.already);
    assert_int_equal(facts.reports, 1);
    assert_int_equal(sl_store_report_sum(f->w, "r1", &n, &weight), 0);
    assert_int_equal(n, 2);
    assert_true(weight > 1.2499 && weight < 1.2501);
    assert_int_equal(sl_store_commit(f->w), 0);

    /* The reader sees both, oldest first, pending. */
    assert_int_equal(sl_store_reports_get(f->r, "r1", &list), 0);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(str_at(list, 0, "user"), "una");
    assert_string_equal(str_at(list, 1, "user"), "vic");
    assert_string_equal(str_at(list, 0, "judged"), "pending");
    assert_true(json_is_true(json_object_get(json_array_get(list, 0), "served")));
    assert_int_equal(int_at(list, 1, "ts_ms"), 200);
    assert_true(json_real_value(json_object_get(json_array_get(list, 1), "weight")) == 0.25);
    json_decref(list);

    /* Upheld: both reports judged; only una, served, gains standing. */
    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_reports_judge(f->w, "r1", true), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    assert_int_equal(sl_store_report_sum(f->r, "r1", &n, &weight), 0);
    assert_int_equal(n, 0);
    assert_true(weight == 0);
    assert_int_equal(sl_store_report_facts(f->r, "r1", "una", &facts), 0);
    assert_int_equal(facts.upheld, 1);
    assert_int_equal(facts.dismissed, 0);
    assert_int_equal(sl_store_report_facts(f->r, "r1", "vic", &facts), 0);
    assert_int_equal(facts.reports, 1);
    assert_int_equal(facts.upheld + facts.dismissed, 0);
    assert_int_equal(sl_store_reports_get(f->r, "r1", &list), 0);
    assert_string_equal(str_at(list, 0, "judged"), "upheld");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(
                         json_array_get(list, 0), "reporter"), "upheld")), 1);
    json_decref(list);

    /* A new report on another item, dismissed. */
    assert_int_equal(sl_store_begin(f->w), 0);
    item(f->w, "r2", 2);
    assert_int_equal(sl_store_offer_wave(f->w, "r2", 1, 0, (const char *[]){ "una" }, 1), 0);
    assert_int_equal(sl_store_offer_served(f->w, "r2", "una"), 0);
    assert_int_equal(sl_store_report_add(f->w, "r2", "una", true, 0.5, 400), 0);
    assert_int_equal(sl_store_reports_judge(f->w, "r2", false), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    assert_int_equal(sl_store_report_facts(f->r, "r2", "una", &facts), 0);
    assert_int_equal(facts.reports, 2);
    assert_int_equal(facts.upheld, 1);
    assert_int_equal(facts.dismissed, 1);
    assert_int_equal(sl_store_reports_get(f->r, "none", &list), 0);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
}

struct seen {
    int n;
    int64_t seen_s[4];
};

static int each_user(void *arg, const char *id, const char *city, const char *interests,
                     int64_t seen_s)
{
    struct seen *s = arg;
    (void)city;
    (void)interests;
    if (strcmp(id, "wes") == 0)
        s->seen_s[0] = seen_s;
    s->n++;
    return 0;
}

/* A later visit moves seen_s on; an earlier one or an unknown user
 * changes nothing. */
static void test_user_seen(void **state)
{
    struct storetest_fx *f = *state;
    struct seen s = { 0 };

    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_user_upsert(f->w, "wes", "oslo", "[\"cats\"]", 1), 0);
    assert_int_equal(storetest_synced(f->w, sl_store_user_seen(f->w, "wes", 5000)), 0);
    assert_int_equal(storetest_synced(f->w, sl_store_user_seen(f->w, "wes", 4000)), 0);
    assert_int_equal(storetest_synced(f->w, sl_store_user_seen(f->w, "nobody", 9000)), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    assert_int_equal(sl_store_users_each(f->r, each_user, &s), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.seen_s[0], 5000);
}

struct tokens {
    int n;
    char names[4][8];
    int64_t created[4], expires[4];
};

static int each_token(void *arg, const char *name, const char *role, const char *hash,
                      int64_t created_ms, int64_t expires_ms)
{
    struct tokens *t = arg;
    (void)role;
    (void)hash;
    assert_true(t->n < 4);
    snprintf(t->names[t->n], sizeof(t->names[0]), "%s", name);
    t->created[t->n] = created_ms;
    t->expires[t->n++] = expires_ms;
    return 0;
}

/* Expiry kept (0: never), listed in name order with the creation time. */
static void test_token_expiry(void **state)
{
    struct storetest_fx *f = *state;
    struct tokens t = { 0 };

    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_token_insert(f->w, "zed", "ingest", STORETEST_HASH "1", 10, 0), 0);
    assert_int_equal(sl_store_token_insert(f->w, "amy", "admin", STORETEST_HASH "2", 20,
                                           86400000), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    assert_int_equal(sl_store_token_each(f->r, each_token, &t), 0);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.names[0], "amy");
    assert_int_equal(t.created[0], 20);
    assert_int_equal(t.expires[0], 86400000);
    assert_string_equal(t.names[1], "zed");
    assert_int_equal(t.created[1], 10);
    assert_int_equal(t.expires[1], 0);
}

#define SLA "{\"fast\": 3000, \"*\": 100000}"

/* Overdue first, then the most urgent and oldest; due_ms and overdue in
 * the listing, sla_ms and the overdue count per queue. */
static void test_queue_sla(void **state)
{
    struct storetest_fx *f = *state;
    json_t *got = NULL;

    assert_int_equal(sl_store_begin(f->w), 0);
    item(f->w, "q1", 1);
    item(f->w, "q2", 1);
    item(f->w, "q3", 1);
    assert_int_equal(sl_store_queue_put(f->w, "q1", "fast", 0, "old", NULL, 1000), 0);
    assert_int_equal(sl_store_queue_put(f->w, "q2", "fast", 9, "urgent", NULL, 4000), 0);
    assert_int_equal(sl_store_queue_put(f->w, "q3", "slow", 5, "other", NULL, 2000), 0);
    assert_int_equal(sl_store_commit(f->w), 0);

    /* Without times to decision: priority, then age. */
    assert_int_equal(sl_store_queue_list(f->r, NULL, 10, 4500, NULL, &got), 0);
    assert_int_equal(json_array_size(got), 3);
    assert_string_equal(str_at(got, 0, "id"), "q2");
    assert_true(json_is_null(json_object_get(json_array_get(got, 0), "due_ms")));
    assert_true(json_is_false(json_object_get(json_array_get(got, 0), "overdue")));
    json_decref(got);

    assert_int_equal(sl_store_queue_list(f->r, NULL, 10, 4500, SLA, &got), 0);
    assert_int_equal(json_array_size(got), 3);
    assert_string_equal(str_at(got, 0, "id"), "q1");
    assert_int_equal(int_at(got, 0, "due_ms"), 4000);
    assert_true(json_is_true(json_object_get(json_array_get(got, 0), "overdue")));
    assert_string_equal(str_at(got, 1, "id"), "q2");
    assert_int_equal(int_at(got, 1, "due_ms"), 7000);
    assert_string_equal(str_at(got, 2, "id"), "q3");
    assert_int_equal(int_at(got, 2, "due_ms"), 102000);
    assert_true(json_is_false(json_object_get(json_array_get(got, 2), "overdue")));
    json_decref(got);

    assert_int_equal(sl_store_queue_depths(f->r, 4500, SLA, &got), 0);
    assert_int_equal(json_array_size(got), 2);
    assert_string_equal(str_at(got, 0, "name"), "fast");
    assert_int_equal(int_at(got, 0, "depth"), 2);
    assert_int_equal(int_at(got, 0, "sla_ms"), 3000);
    assert_int_equal(int_at(got, 0, "overdue"), 1);
    assert_string_equal(str_at(got, 1, "name"), "slow");
    assert_int_equal(int_at(got, 1, "sla_ms"), 100000);
    assert_int_equal(int_at(got, 1, "overdue"), 0);
    json_decref(got);
    assert_int_equal(sl_store_queue_depths(f->r, 4500, NULL, &got), 0);
    assert_true(json_is_null(json_object_get(json_array_get(got, 0), "sla_ms")));
    assert_int_equal(int_at(got, 0, "overdue"), 0);
    json_decref(got);

    /* Claims take the overdue one first, then by priority. */
    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_queue_claim(f->w, NULL, "mo", 3, 4500, 60000, SLA, &got), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    assert_int_equal(json_array_size(got), 3);
    assert_string_equal(str_at(got, 0, "id"), "q1");
    assert_string_equal(str_at(got, 1, "id"), "q2");
    assert_string_equal(str_at(got, 2, "id"), "q3");
    json_decref(got);
}

/* PostgreSQL's schema 12 back to 9: the search's indexes, jobs, creators'
 * counts and suspensions gone, items without their seq. */
#define UNDO_PG_10_TO_12 \
    "DROP TABLE suspensions; DROP TRIGGER creator_counted ON items;" \
    " DROP TRIGGER creator_recounted ON items; DROP FUNCTION sluice_creator_counted();" \
    " DROP TABLE creator_states; DROP TABLE jobs;" \
    " DROP TRIGGER audit_decided ON audit; DROP FUNCTION sluice_audit_decided();" \
    " DROP TRIGGER items_indexed ON items; DROP TRIGGER items_retagged ON items;" \
    " DROP TRIGGER items_rematched ON items; DROP FUNCTION sluice_items_indexed();" \
    " DROP FUNCTION sluice_items_retagged(); DROP FUNCTION sluice_confidence(jsonb);" \
    " DROP TABLE item_text, item_hashes, item_deciders, item_matches, item_tags;" \
    " DROP INDEX queue_seq; ALTER TABLE queue DROP COLUMN seq;" \
    " DROP INDEX items_creator; DROP INDEX items_state; ALTER TABLE items DROP COLUMN seq;" \
    " CREATE INDEX items_state ON items (state);"
/* And 13: what several nodes share. */
#define UNDO_PG_10_TO_13 \
    "DROP TABLE nodes; DROP TABLE item_leases; DROP FUNCTION sluice_ms; DROP TABLE changes;" \
    " ALTER TABLE event_batches DROP COLUMN tx, DROP COLUMN node;" \
    " DROP FUNCTION sluice_changed_user() CASCADE; DROP FUNCTION sluice_changed_follow() CASCADE;" \
    " DROP FUNCTION sluice_changed_offers() CASCADE;" \
    " DROP FUNCTION sluice_changed_served() CASCADE;" \
    " DROP FUNCTION sluice_changed_state() CASCADE;" \
    " DROP FUNCTION sluice_changed_events() CASCADE; DROP FUNCTION sluice_node();" \
    " DROP FUNCTION sluice_changed_token() CASCADE; DROP FUNCTION sluice_changed_hash() CASCADE;" \
    " DROP TABLE policy_sets; DROP FUNCTION sluice_changed_policy();" \
    " DROP FUNCTION sluice_changed_report() CASCADE;" \
    UNDO_PG_10_TO_12

/* PostgreSQL's schema 14 back to 13: offers a row per user, served a
 * column of theirs (the placement's part sequence goes with its table). */
#define UNDO_PG_13_TO_14 \
    "DROP TABLE offer_waves; DROP TABLE served;" \
    " DROP TRIGGER items_inserted ON items; DROP FUNCTION sluice_changed_item();" \
    " CREATE TABLE offers (item text COLLATE \"C\" NOT NULL," \
    " \"user\" text COLLATE \"C\" NOT NULL, wave integer NOT NULL, source integer NOT NULL," \
    " served integer NOT NULL DEFAULT 0, PRIMARY KEY (item, \"user\"));" \
    " INSERT INTO offers VALUES ('m1', 'u2', 1, 1, 0), ('m1', 'u1', 1, 1, 1)," \
    " ('m1', 'u3', 2, 5, 0), ('m2', 'u1', 1, 2, 1);"

struct offers_seen {
    char text[256];
};

static int offer_seen(void *arg, const char *user, int wave, int source, bool served)
{
    struct offers_seen *o = arg;
    size_t len = strlen(o->text);
    snprintf(o->text + len, sizeof(o->text) - len, "%s %d %d%s;", user, wave, source,
             served ? " served" : "");
    return 0;
}

/* PostgreSQL's migrations 7 to 14 on a store of version 6, as the first
 * PostgreSQL store was (SQLite's are test_store's). */
static void test_pg_migrations(void **state)
{
    struct storetest_fx *f = *state;
    struct tokens t = { 0 };
    struct sl_audit_head h;
    struct sl_audit_check c = { .limit = 10 };

    if (!storetest_postgres()) {
        print_message("skipped: PostgreSQL's own migrations; SQLite's are test_store's "
                      "test_migration_backfills\n");
        skip();
    }
    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_token_insert(f->w, "old", "admin", STORETEST_HASH, 1, 0), 0);
    struct sl_audit_rec rec = { .actor = "system", .action = "test", .ts_ms = 1 };
    assert_int_equal(sl_store_audit_append(f->w, &rec), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    sl_store_free(f->r);
    sl_store_free(f->w);
    f->r = f->w = NULL;
    assert_int_equal(storetest_sql(f->where, f->dir, UNDO_PG_13_TO_14 UNDO_PG_10_TO_13
                                   "DROP TABLE reports; DROP TABLE reporters;"
                                   " ALTER TABLE users DROP COLUMN seen_s;"
                                   " ALTER TABLE audit DROP COLUMN v;"
                                   " ALTER TABLE tokens DROP COLUMN expires_ms;"
                                   " UPDATE sluice_schema SET version = 6"), 0);
    assert_int_equal(sl_store_open(f->where, f->dir, true, &f->w), 0);
    assert_false(sl_store_created(f->w));
    assert_int_equal(sl_store_token_each(f->w, each_token, &t), 0);
    assert_int_equal(t.n, 1);
    assert_int_equal(t.expires[0], 0);
    assert_int_equal(sl_store_audit_head(f->w, &h), 0);
    assert_int_equal(h.seq, 1);
    assert_int_equal(h.format, 1);
    assert_int_equal(sl_store_audit_verify(f->w, &c), 0);
    assert_int_equal(c.checked, 1);
    assert_int_equal(storetest_sql(f->where, f->dir,
                                   "DO $$ BEGIN IF (SELECT version FROM sluice_schema) <> 16"
                                   " THEN RAISE 'not migrated'; END IF; END $$"), 0);
    /* Offers packed a record per (item, wave, source), served marks moved;
     * a placement stored since takes a part past theirs. */
    struct offers_seen o = { "" };
    assert_int_equal(sl_store_offers_each(f->w, "m1", offer_seen, &o), 0);
    assert_string_equal(o.text, "u1 1 1 served;u2 1 1;u3 2 5;");
    assert_int_equal(sl_store_begin(f->w), 0);
    assert_int_equal(sl_store_offer_wave(f->w, "m1", 1, 1, (const char *[]){ "u5" }, 1), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    o.text[0] = '\0';
    assert_int_equal(sl_store_offers_each(f->w, "m1", offer_seen, &o), 0);
    assert_string_equal(o.text, "u1 1 1 served;u2 1 1;u5 1 1;u3 2 5;");
    o.text[0] = '\0';
    assert_int_equal(sl_store_offers_each(f->w, "m2", offer_seen, &o), 0);
    assert_string_equal(o.text, "u1 1 2 served;");
    assert_int_equal(sl_store_open(f->where, f->dir, false, &f->r), 0);
    test_reports(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        storetest_case(test_reports),
        storetest_case(test_user_seen),
        storetest_case(test_token_expiry),
        storetest_case(test_queue_sla),
        storetest_case(test_pg_migrations),
    };

    /* Migrations log at info level; keep the test output to what matters. */
    return storetest_run(tests, SL_LOG_WARN);
}
