/* SPDX-License-Identifier: MIT */
/* The PostgreSQL schema: SQLite's migrations, expressed for PostgreSQL 15. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/log.h"
#include "store/pg.h"

/*
 * Versions count as SQLite's do (sqlite_schema.c), so that one number says
 * which tables a store has on either backend and `sluicectl migrate` knows
 * what it copies. No PostgreSQL store ever had versions 1 to 5: the first
 * migration here brings an empty database to version 6 at once, and each
 * later SQLite migration gets its twin here, numbered the same. Never edit
 * a shipped one: add the next.
 *
 * Text that is compared or sorted is COLLATE "C": bytes, as SQLite compares
 * them, whatever the database's locale. JSON is kept as text, as written
 * (upload_hash is over those bytes); tags are merged through jsonb.
 *
 * Several nodes later: nothing here assumes one writer but the audit chain
 * (its head is kept by the writer, store.h) and event batch numbers
 * (increasing in commit order); the hot rows of item_states and creators
 * serialise writers, which is fine for one.
 */
struct migration {
    int from, to;
    const char *sql;
};

static const struct migration migrations[] = {
    { 0, 6,
    /* Items and what triggers keep about them */
    "CREATE TABLE items ("
    "  id text COLLATE \"C\" PRIMARY KEY,"
    "  creator text COLLATE \"C\" NOT NULL,"
    "  state text COLLATE \"C\" NOT NULL,"
    "  upload text NOT NULL,"
    "  upload_hash text NOT NULL,"
    "  tags text NOT NULL DEFAULT '{}',"
    "  reasons text NOT NULL DEFAULT '[]',"
    "  created_ms bigint NOT NULL,"
    "  updated_ms bigint NOT NULL,"
    "  matches text NOT NULL DEFAULT '[]',"
    "  verdict text,"
    "  plan text);"
    "CREATE INDEX items_state ON items (state);"
    "CREATE TABLE creators ("
    "  creator text COLLATE \"C\" PRIMARY KEY,"
    "  uploads bigint NOT NULL,"
    "  rejections bigint NOT NULL);"
    "CREATE TABLE item_states ("
    "  state text COLLATE \"C\" PRIMARY KEY,"
    "  n bigint NOT NULL);"
    "CREATE FUNCTION sluice_items_counted() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  IF TG_OP = 'INSERT' THEN"
    "   INSERT INTO creators VALUES (NEW.creator, 1, (NEW.state = 'rejected')::int)"
    "     ON CONFLICT (creator) DO UPDATE SET uploads = creators.uploads + 1,"
    "     rejections = creators.rejections + excluded.rejections;"
    "   INSERT INTO item_states VALUES (NEW.state, 1)"
    "     ON CONFLICT (state) DO UPDATE SET n = item_states.n + 1;"
    "  ELSIF NEW.state <> OLD.state THEN"
    "   UPDATE creators SET rejections = rejections"
    "     + (NEW.state = 'rejected')::int - (OLD.state = 'rejected')::int"
    "     WHERE creator = NEW.creator;"
    "   UPDATE item_states SET n = n - 1 WHERE state = OLD.state;"
    "   INSERT INTO item_states VALUES (NEW.state, 1)"
    "     ON CONFLICT (state) DO UPDATE SET n = item_states.n + 1;"
    "  END IF;"
    "  RETURN NULL;"
    " END $$;"
    "CREATE TRIGGER items_counted AFTER INSERT OR UPDATE OF state ON items"
    "  FOR EACH ROW EXECUTE FUNCTION sluice_items_counted();"
    /* RFC 7396, as SQLite's json_patch() (store.h, item_merge_tags) */
    "CREATE FUNCTION sluice_merge_patch(target jsonb, patch jsonb) RETURNS jsonb"
    "  LANGUAGE plpgsql IMMUTABLE AS $$"
    " DECLARE k text; v jsonb;"
    " BEGIN"
    "  IF patch IS NULL OR jsonb_typeof(patch) <> 'object' THEN RETURN patch; END IF;"
    "  IF target IS NULL OR jsonb_typeof(target) <> 'object' THEN target := '{}'; END IF;"
    "  FOR k, v IN SELECT * FROM jsonb_each(patch) LOOP"
    "   IF jsonb_typeof(v) = 'null' THEN target := target - k;"
    "   ELSE target := jsonb_set(target, ARRAY[k], sluice_merge_patch(target -> k, v));"
    "   END IF;"
    "  END LOOP;"
    "  RETURN target;"
    " END $$;"
    /* The audit trail */
    "CREATE TABLE audit ("
    "  seq bigint PRIMARY KEY,"
    "  item text COLLATE \"C\","
    "  actor text COLLATE \"C\" NOT NULL,"
    "  action text COLLATE \"C\" NOT NULL,"
    "  from_state text,"
    "  to_state text,"
    "  reason text NOT NULL DEFAULT '',"
    "  ts_ms bigint NOT NULL,"
    "  prev text NOT NULL,"
    "  hash text NOT NULL);"
    "CREATE INDEX audit_item ON audit (item, seq);"
    /* The audience */
    "CREATE TABLE users ("
    "  id text COLLATE \"C\" PRIMARY KEY,"
    "  city text,"
    "  interests text NOT NULL DEFAULT '[]',"
    "  created_ms bigint NOT NULL,"
    "  updated_ms bigint NOT NULL);"
    "CREATE TABLE follows ("
    "  follower text COLLATE \"C\" NOT NULL,"
    "  creator text COLLATE \"C\" NOT NULL,"
    "  created_ms bigint NOT NULL,"
    "  PRIMARY KEY (follower, creator));"
    "CREATE INDEX follows_creator ON follows (creator, follower);"
    /* Events: SQLite's first table of single events is kept, empty, so
     * that both schemas have the same tables; batches are what is written. */
    "CREATE TABLE events ("
    "  seq bigint PRIMARY KEY,"
    "  item text NOT NULL,"
    "  \"user\" text NOT NULL,"
    "  type integer NOT NULL,"
    "  watch_ms bigint,"
    "  ts_ms bigint NOT NULL);"
    "CREATE TABLE event_batches ("
    "  seq bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  ts_ms bigint NOT NULL,"
    "  n integer NOT NULL,"
    "  data bytea NOT NULL);"
    /* A thousand events pack to some 40 KB that compress poorly: trying
     * (pglz) cost the commit thread more than writing them. */
    "ALTER TABLE event_batches ALTER COLUMN data SET STORAGE EXTERNAL;"
    "CREATE TABLE item_counts ("
    "  item text COLLATE \"C\" PRIMARY KEY,"
    "  c0 bigint NOT NULL DEFAULT 0, c1 bigint NOT NULL DEFAULT 0,"
    "  c2 bigint NOT NULL DEFAULT 0, c3 bigint NOT NULL DEFAULT 0,"
    "  c4 bigint NOT NULL DEFAULT 0, c5 bigint NOT NULL DEFAULT 0,"
    "  c6 bigint NOT NULL DEFAULT 0, c7 bigint NOT NULL DEFAULT 0,"
    "  c8 bigint NOT NULL DEFAULT 0, c9 bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE counters ("
    "  name text COLLATE \"C\" PRIMARY KEY,"
    "  value bigint NOT NULL);"
    "INSERT INTO counters VALUES ('events_counted', 0);"
    /* Tokens */
    "CREATE TABLE tokens ("
    "  name text COLLATE \"C\" PRIMARY KEY,"
    "  role text NOT NULL,"
    "  hash text NOT NULL UNIQUE,"
    "  created_ms bigint NOT NULL);"
    /* Review: the queue, its fences (a sequence: several nodes claim
     * without waiting on one counter row), hash banks */
    "CREATE TABLE queue ("
    "  item text COLLATE \"C\" PRIMARY KEY,"
    "  queue text COLLATE \"C\" NOT NULL,"
    "  priority integer NOT NULL DEFAULT 0,"
    "  reason text NOT NULL DEFAULT '',"
    "  enqueued_ms bigint NOT NULL,"
    "  claimed_by text COLLATE \"C\","
    "  lease_until_ms bigint NOT NULL DEFAULT 0,"
    "  fence bigint NOT NULL DEFAULT 0,"
    "  escalated_by text COLLATE \"C\");"
    "CREATE INDEX queue_order ON queue (queue, priority DESC, enqueued_ms);"
    "CREATE SEQUENCE fences;"
    "CREATE TABLE hashbanks ("
    "  bank text COLLATE \"C\" NOT NULL,"
    "  hash text COLLATE \"C\" NOT NULL,"
    "  added_ms bigint NOT NULL,"
    "  PRIMARY KEY (bank, hash));"
    /* Distribution */
    "CREATE TABLE waves ("
    "  item text COLLATE \"C\" NOT NULL,"
    "  n integer NOT NULL,"
    "  wave text NOT NULL,"
    "  PRIMARY KEY (item, n));"
    "CREATE TABLE offers ("
    "  item text COLLATE \"C\" NOT NULL,"
    "  \"user\" text COLLATE \"C\" NOT NULL,"
    "  wave integer NOT NULL,"
    "  source integer NOT NULL,"
    "  served integer NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (item, \"user\"));" },
    /* 6 -> 7: tokens that expire (NULL: never) */
    { 6, 7,
    "ALTER TABLE tokens ADD COLUMN expires_ms bigint;" },
    /* 7 -> 8: the audit chain keyed: each record's format (1 SHA-256, as
     * written so far; 2 HMAC-SHA-256 under a key kept outside the
     * database: chain.h) */
    { 7, 8,
    "ALTER TABLE audit ADD COLUMN v integer NOT NULL DEFAULT 1;" },
    /* 8 -> 9: reports with memory, one per user and item; each reporter's
     * standing; when each user was last seen (sqlite_schema.c says why) */
    { 8, 9,
    "CREATE TABLE reports ("
    "  item text COLLATE \"C\" NOT NULL,"
    "  \"user\" text COLLATE \"C\" NOT NULL,"
    "  ts_ms bigint NOT NULL,"
    "  served integer NOT NULL,"
    "  weight double precision NOT NULL,"
    "  judged integer NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (item, \"user\"));"
    "CREATE TABLE reporters ("
    "  \"user\" text COLLATE \"C\" PRIMARY KEY,"
    "  reports bigint NOT NULL DEFAULT 0,"
    "  upheld bigint NOT NULL DEFAULT 0,"
    "  dismissed bigint NOT NULL DEFAULT 0);"
    "ALTER TABLE users ADD COLUMN seen_s bigint NOT NULL DEFAULT 0;" },
    /* 9 -> 10: several nodes on one database (docs/scale-out.md, "Running
     * several nodes"): who they are and when each was last seen. SQLite's
     * step to 10 is empty: one process owns a SQLite store. */
    { 9, 10,
    /* The database's clock, in ms: what liveness and leases are timed by. */
    "CREATE FUNCTION sluice_ms() RETURNS bigint LANGUAGE sql VOLATILE AS"
    "  $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;"
    "CREATE TABLE nodes ("
    "  name text COLLATE \"C\" PRIMARY KEY,"
    "  started_ms bigint NOT NULL,"
    "  seen_ms bigint NOT NULL,"
    "  version text NOT NULL);"
    /* Who runs each item in distribution (store/shared.h): a distributing
     * item has a lease; one that ran out is anyone's to take over. */
    "CREATE TABLE item_leases ("
    "  item text COLLATE \"C\" PRIMARY KEY,"
    "  node text COLLATE \"C\" NOT NULL,"
    "  fence bigint NOT NULL,"
    "  until_ms bigint NOT NULL);"
    "CREATE INDEX item_leases_node ON item_leases (node);"
    "CREATE INDEX item_leases_until ON item_leases (until_ms);"
    "INSERT INTO item_leases SELECT id, '', 0, 0 FROM items WHERE state = 'distributing';" },
};

#define SCHEMA_VERSION 10

/* Any number: the key of the advisory lock that makes one node migrate at
 * a time. */
#define MIGRATE_LOCK "7140293361"

static int version_of(struct sl_pg *s, int *out)
{
    PGresult *res = PQexec(s->conn, "SELECT version FROM sluice_schema");
    int rc = 0;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        sl_err("store: PostgreSQL: cannot read the schema version: %s",
               res ? PQresultErrorMessage(res) : PQerrorMessage(s->conn));
        rc = -EIO;
    } else {
        *out = atoi(PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return rc;
}

/* Bring the schema to SCHEMA_VERSION in one transaction, under a lock that
 * makes a second sluiced starting at once wait and find it done. */
int sl_pg_migrate(struct sl_pg *s)
{
    int version = 0;
    char set[64];

    if (sl_pg_exec(s, "BEGIN; SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ");"
                      " CREATE TABLE IF NOT EXISTS sluice_schema (version integer NOT NULL);"
                      " INSERT INTO sluice_schema SELECT 0"
                      "  WHERE NOT EXISTS (SELECT 1 FROM sluice_schema)") < 0 ||
        version_of(s, &version) < 0)
        goto fail;
    if (version > SCHEMA_VERSION) {
        sl_err("store: the database has schema version %d; this sluiced knows up to %d",
               version, SCHEMA_VERSION);
        sl_pg_exec(s, "ROLLBACK");
        return -EPROTO;
    }
    s->created = version == 0;
    for (size_t i = 0; i < sizeof(migrations) / sizeof(migrations[0]); i++) {
        if (migrations[i].from != version)
            continue;
        snprintf(set, sizeof(set), "UPDATE sluice_schema SET version = %d", migrations[i].to);
        if (sl_pg_exec(s, migrations[i].sql) < 0 || sl_pg_exec(s, set) < 0)
            goto fail;
        sl_info("store: migrated schema to version %d", migrations[i].to);
        version = migrations[i].to;
    }
    if (version != SCHEMA_VERSION) {
        sl_err("store: no migration leads from schema version %d", version);
        goto fail;
    }
    return sl_pg_exec(s, "COMMIT");
fail:
    sl_pg_exec(s, "ROLLBACK");
    return -EIO;
}
