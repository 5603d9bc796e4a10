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
    /* 9 -> 10: investigation (sqlite_schema.c says why). Items are
     * numbered by a sequence in the order they are stored (seq), and each
     * filter of a search has a btree index ending in seq, or for the text a
     * trigram index (pg_trgm, shipped with PostgreSQL and trusted: the
     * database's owner may create it). The tables of the indexes carry the
     * item's id beside its seq, so that they can be distributed with items
     * (docs/scale-out.md). Triggers keep them: per statement for inserts (a
     * group commit's items and records arrive as one statement each), per
     * row for the rarer changes of tags and matches. Every JSON read is the
     * daemon's own: an invalid one fails the write. Items stored before are
     * numbered in the order of their times. */
    { 9, 10,
    "CREATE EXTENSION IF NOT EXISTS pg_trgm;"
    "CREATE SEQUENCE items_seq;"
    "ALTER TABLE items ADD COLUMN seq bigint;"
    "UPDATE items SET seq = n.seq FROM (SELECT id, row_number() OVER"
    "  (ORDER BY created_ms, id) AS seq FROM items) AS n WHERE items.id = n.id;"
    "SELECT setval('items_seq', coalesce(max(seq), 0) + 1, false) FROM items;"
    "ALTER TABLE items ALTER COLUMN seq SET DEFAULT nextval('items_seq'),"
    "  ALTER COLUMN seq SET NOT NULL;"
    "ALTER SEQUENCE items_seq OWNED BY items.seq;"
    "CREATE UNIQUE INDEX items_seq_key ON items (seq);"
    "DROP INDEX items_state;"
    "CREATE INDEX items_state ON items (state, seq);"
    "CREATE INDEX items_creator ON items (creator, seq);"
    "ALTER TABLE queue ADD COLUMN seq bigint;"
    "UPDATE queue SET seq = items.seq FROM items WHERE items.id = queue.item;"
    "CREATE INDEX queue_seq ON queue (queue, seq);"
    "CREATE TABLE item_tags ("
    "  tag text COLLATE \"C\" NOT NULL,"
    "  seq bigint NOT NULL,"
    "  item text COLLATE \"C\" NOT NULL,"
    "  confidence double precision NOT NULL,"
    "  PRIMARY KEY (tag, seq));"
    "CREATE TABLE item_matches ("
    "  name text COLLATE \"C\" NOT NULL,"
    "  seq bigint NOT NULL,"
    "  kind text COLLATE \"C\" NOT NULL,"
    "  item text COLLATE \"C\" NOT NULL,"
    "  PRIMARY KEY (name, seq, kind));"
    "CREATE TABLE item_deciders ("
    "  actor text COLLATE \"C\" NOT NULL,"
    "  seq bigint NOT NULL,"
    "  item text COLLATE \"C\" NOT NULL,"
    "  PRIMARY KEY (actor, seq));"
    "CREATE TABLE item_hashes ("
    "  seq bigint PRIMARY KEY,"
    "  created_ms bigint NOT NULL,"
    "  item text COLLATE \"C\" NOT NULL,"
    "  hashes text NOT NULL);"
    /* The text of the title, description and transcript (the upload's
     * string values of those keys); a term is a substring of one of them,
     * ignoring case (ILIKE: the database's LC_CTYPE folds the letters
     * beyond ASCII; docs/scale-out.md). */
    "CREATE TABLE item_text ("
    "  seq bigint PRIMARY KEY,"
    "  item text COLLATE \"C\" NOT NULL,"
    "  title text,"
    "  description text,"
    "  transcript text);"
    "CREATE INDEX item_text_trgm ON item_text USING gin"
    "  (title gin_trgm_ops, description gin_trgm_ops, transcript gin_trgm_ops);"
    /* What an insert of items indexes, and the queue's seq of items put in
     * review before their row arrived (the writer sends a queue entry
     * ahead of the items it keeps for one multi-row insert). */
    "CREATE FUNCTION sluice_items_indexed() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  INSERT INTO item_text SELECT n.seq, n.id,"
    "    CASE WHEN jsonb_typeof(u.j -> 'title') = 'string' THEN u.j ->> 'title' END,"
    "    CASE WHEN jsonb_typeof(u.j -> 'description') = 'string'"
    "      THEN u.j ->> 'description' END,"
    "    CASE WHEN jsonb_typeof(u.j -> 'transcript') = 'string'"
    "      THEN u.j ->> 'transcript' END"
    "    FROM new_items n, LATERAL (SELECT n.upload::jsonb AS j) u"
    "    WHERE jsonb_typeof(u.j -> 'title') = 'string'"
    "    OR jsonb_typeof(u.j -> 'description') = 'string'"
    "    OR jsonb_typeof(u.j -> 'transcript') = 'string';"
    "  INSERT INTO item_hashes SELECT n.seq, n.created_ms, n.id, (n.upload::jsonb -> 'hashes')::text"
    "    FROM new_items n WHERE strpos(n.upload, '\"hashes\"') > 0"
    "    AND jsonb_typeof(n.upload::jsonb -> 'hashes') = 'array'"
    "    AND jsonb_array_length(n.upload::jsonb -> 'hashes') > 0;"
    "  INSERT INTO item_tags SELECT t.key, n.seq, n.id, sluice_confidence(t.value)"
    "    FROM new_items n, jsonb_each(CASE WHEN jsonb_typeof(n.tags::jsonb) = 'object'"
    "    THEN n.tags::jsonb ELSE '{}' END) t WHERE n.tags <> '{}'"
    "    ON CONFLICT (tag, seq) DO UPDATE SET confidence = excluded.confidence;"
    "  INSERT INTO item_matches SELECT m ->> 'name', n.seq, coalesce(m ->> 'kind', ''), n.id"
    "    FROM new_items n, jsonb_array_elements(CASE WHEN jsonb_typeof(n.matches::jsonb)"
    "    = 'array' THEN n.matches::jsonb ELSE '[]' END) m WHERE n.matches <> '[]'"
    "    AND jsonb_typeof(m) = 'object' AND jsonb_typeof(m -> 'name') = 'string'"
    "    ON CONFLICT DO NOTHING;"
    "  UPDATE queue SET seq = n.seq FROM new_items n"
    "    WHERE queue.item = n.id AND queue.seq IS NULL;"
    "  RETURN NULL;"
    " END $$;"
    /* A tag's confidence: its object's number, else 0 (as SQLite's). */
    "CREATE FUNCTION sluice_confidence(v jsonb) RETURNS double precision"
    "  LANGUAGE sql IMMUTABLE AS $$"
    "  SELECT CASE WHEN jsonb_typeof(v -> 'confidence') = 'number'"
    "  THEN (v ->> 'confidence')::double precision ELSE 0 END $$;"
    "CREATE TRIGGER items_indexed AFTER INSERT ON items REFERENCING NEW TABLE AS new_items"
    "  FOR EACH STATEMENT EXECUTE FUNCTION sluice_items_indexed();"
    "CREATE FUNCTION sluice_items_retagged() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  IF TG_ARGV[0] = 'tags' THEN"
    "   DELETE FROM item_tags WHERE seq = OLD.seq AND item = OLD.id;"
    "   INSERT INTO item_tags SELECT t.key, NEW.seq, NEW.id, sluice_confidence(t.value)"
    "     FROM jsonb_each(CASE WHEN jsonb_typeof(NEW.tags::jsonb) = 'object'"
    "     THEN NEW.tags::jsonb ELSE '{}' END) t;"
    "  ELSE"
    "   INSERT INTO item_matches SELECT m ->> 'name', NEW.seq, coalesce(m ->> 'kind', ''),"
    "     NEW.id FROM jsonb_array_elements(CASE WHEN jsonb_typeof(NEW.matches::jsonb)"
    "     = 'array' THEN NEW.matches::jsonb ELSE '[]' END) m"
    "     WHERE jsonb_typeof(m) = 'object' AND jsonb_typeof(m -> 'name') = 'string'"
    "     ON CONFLICT DO NOTHING;"
    "  END IF;"
    "  RETURN NULL;"
    " END $$;"
    "CREATE TRIGGER items_retagged AFTER UPDATE OF tags ON items FOR EACH ROW"
    "  WHEN (OLD.tags IS DISTINCT FROM NEW.tags)"
    "  EXECUTE FUNCTION sluice_items_retagged('tags');"
    "CREATE TRIGGER items_rematched AFTER UPDATE OF matches ON items FOR EACH ROW"
    "  WHEN (OLD.matches IS DISTINCT FROM NEW.matches)"
    "  EXECUTE FUNCTION sluice_items_retagged('matches');"
    /* The records that decide an item (pg_search.c lists the same); an
     * item is stored before its records. */
    "CREATE FUNCTION sluice_audit_decided() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  INSERT INTO item_deciders SELECT a.actor, i.seq, i.id FROM new_audit a"
    "    JOIN items i ON i.id = a.item WHERE a.action IN ('verdict', 'approve', 'reject',"
    "    'escalate', 'takedown', 'hold', 'review', 'restore')"
    "    ON CONFLICT DO NOTHING;"
    "  RETURN NULL;"
    " END $$;"
    "CREATE TRIGGER audit_decided AFTER INSERT ON audit REFERENCING NEW TABLE AS new_audit"
    "  FOR EACH STATEMENT EXECUTE FUNCTION sluice_audit_decided();"
    /* What is stored already. */
    "INSERT INTO item_text SELECT n.seq, n.id,"
    "  CASE WHEN jsonb_typeof(u.j -> 'title') = 'string' THEN u.j ->> 'title' END,"
    "  CASE WHEN jsonb_typeof(u.j -> 'description') = 'string' THEN u.j ->> 'description' END,"
    "  CASE WHEN jsonb_typeof(u.j -> 'transcript') = 'string' THEN u.j ->> 'transcript' END"
    "  FROM items n, LATERAL (SELECT n.upload::jsonb AS j) u"
    "  WHERE jsonb_typeof(u.j -> 'title') = 'string'"
    "  OR jsonb_typeof(u.j -> 'description') = 'string'"
    "  OR jsonb_typeof(u.j -> 'transcript') = 'string';"
    "INSERT INTO item_hashes SELECT seq, created_ms, id, (upload::jsonb -> 'hashes')::text"
    "  FROM items WHERE jsonb_typeof(upload::jsonb -> 'hashes') = 'array'"
    "  AND jsonb_array_length(upload::jsonb -> 'hashes') > 0;"
    "INSERT INTO item_tags SELECT t.key, n.seq, n.id, sluice_confidence(t.value)"
    "  FROM items n, jsonb_each(CASE WHEN jsonb_typeof(n.tags::jsonb) = 'object'"
    "  THEN n.tags::jsonb ELSE '{}' END) t;"
    "INSERT INTO item_matches SELECT m ->> 'name', n.seq, coalesce(m ->> 'kind', ''), n.id"
    "  FROM items n, jsonb_array_elements(CASE WHEN jsonb_typeof(n.matches::jsonb) = 'array'"
    "  THEN n.matches::jsonb ELSE '[]' END) m"
    "  WHERE jsonb_typeof(m) = 'object' AND jsonb_typeof(m -> 'name') = 'string'"
    "  ON CONFLICT DO NOTHING;"
    "INSERT INTO item_deciders SELECT a.actor, i.seq, i.id FROM audit a"
    "  JOIN items i ON i.id = a.item WHERE a.action IN ('verdict', 'approve', 'reject',"
    "  'escalate', 'takedown', 'hold', 'review', 'restore')"
    "  ON CONFLICT DO NOTHING;" },
    /* 10 -> 11: jobs that act on many items in slices (sqlite_schema.c) */
    { 10, 11,
    "CREATE TABLE jobs ("
    "  id text COLLATE \"C\" PRIMARY KEY,"
    "  kind text COLLATE \"C\" NOT NULL,"
    "  action text COLLATE \"C\" NOT NULL,"
    "  spec text NOT NULL,"
    "  state text COLLATE \"C\" NOT NULL,"
    "  created_by text COLLATE \"C\" NOT NULL,"
    "  confirmed_by text COLLATE \"C\","
    "  created_ms bigint NOT NULL,"
    "  updated_ms bigint NOT NULL,"
    "  finished_ms bigint,"
    "  seq_max bigint NOT NULL,"
    "  cursor bigint NOT NULL,"
    "  total bigint NOT NULL,"
    "  total_exact integer NOT NULL,"
    "  examined bigint NOT NULL DEFAULT 0,"
    "  matched bigint NOT NULL DEFAULT 0,"
    "  acted bigint NOT NULL DEFAULT 0,"
    "  skipped bigint NOT NULL DEFAULT 0,"
    "  error text);"
    "CREATE INDEX jobs_created ON jobs (created_ms);"
    "CREATE INDEX jobs_state ON jobs (state);" },
    /* 11 -> 12: creators' items per state, kept by triggers (an insert's
     * rows counted per statement), and suspensions (sqlite_schema.c) */
    { 11, 12,
    "CREATE TABLE creator_states ("
    "  creator text COLLATE \"C\" NOT NULL,"
    "  state text COLLATE \"C\" NOT NULL,"
    "  n bigint NOT NULL,"
    "  PRIMARY KEY (creator, state));"
    "INSERT INTO creator_states SELECT creator, state, count(*) FROM items"
    "  GROUP BY creator, state;"
    "CREATE FUNCTION sluice_creator_counted() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  IF TG_OP = 'INSERT' THEN"
    "   INSERT INTO creator_states SELECT creator, state, count(*) FROM new_items"
    "     GROUP BY creator, state ON CONFLICT (creator, state)"
    "     DO UPDATE SET n = creator_states.n + excluded.n;"
    "  ELSE"
    "   UPDATE creator_states SET n = n - 1 WHERE creator = OLD.creator AND state = OLD.state;"
    "   INSERT INTO creator_states VALUES (NEW.creator, NEW.state, 1)"
    "     ON CONFLICT (creator, state) DO UPDATE SET n = creator_states.n + 1;"
    "  END IF;"
    "  RETURN NULL;"
    " END $$;"
    "CREATE TRIGGER creator_counted AFTER INSERT ON items REFERENCING NEW TABLE AS new_items"
    "  FOR EACH STATEMENT EXECUTE FUNCTION sluice_creator_counted();"
    "CREATE TRIGGER creator_recounted AFTER UPDATE OF state ON items FOR EACH ROW"
    "  WHEN (OLD.state <> NEW.state) EXECUTE FUNCTION sluice_creator_counted();"
    "CREATE TABLE suspensions ("
    "  creator text COLLATE \"C\" PRIMARY KEY,"
    "  mode text NOT NULL,"
    "  reason text NOT NULL,"
    "  \"by\" text NOT NULL,"
    "  since_ms bigint NOT NULL);" },
    /* 12 -> 13: several nodes on one database (docs/scale-out.md, "Running
     * several nodes"): who they are and when each was last seen, and who
     * runs each item in distribution. SQLite's step to 13 is empty: one
     * process owns a SQLite store. */
    { 12, 13,
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
    "INSERT INTO item_leases SELECT id, '', 0, 0 FROM items WHERE state = 'distributing';"
    /* The change feed: what every node must learn of the others' writes,
     * in commit order (a row is read once its transaction is older than
     * every one running: pg_feed.c). Written by triggers, in the writing
     * transaction, with the writer's node (sluice.node, set per session);
     * one notification per transaction wakes the other nodes' tailers.
     * Events are read from their batches in the same windows. */
    "CREATE TABLE changes ("
    "  seq bigserial PRIMARY KEY,"
    "  tx xid8 NOT NULL DEFAULT pg_current_xact_id(),"
    "  node text COLLATE \"C\","
    "  kind text COLLATE \"C\" NOT NULL,"
    "  item text COLLATE \"C\","
    "  \"user\" text COLLATE \"C\","
    "  data text);"
    "CREATE INDEX changes_tx ON changes (tx);"
    /* No default for the rows there are (a rewrite of every batch): they
     * were read at start by whoever needs them. */
    "ALTER TABLE event_batches ADD COLUMN tx xid8, ADD COLUMN node text COLLATE \"C\";"
    "ALTER TABLE event_batches ALTER COLUMN tx SET DEFAULT pg_current_xact_id(),"
    "  ALTER COLUMN node SET DEFAULT current_setting('sluice.node', true);"
    "CREATE INDEX event_batches_tx ON event_batches (tx);"
    "CREATE FUNCTION sluice_node() RETURNS text LANGUAGE sql STABLE AS"
    "  $$ SELECT current_setting('sluice.node', true) $$;"
    "CREATE FUNCTION sluice_changed_user() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  INSERT INTO changes (node, kind, \"user\", data) VALUES (sluice_node(), 'user', NEW.id,"
    "   json_build_object('city', NEW.city, 'interests', NEW.interests::json)::text);"
    "  PERFORM pg_notify('sluice_changes', '');"
    "  RETURN NULL;"
    " END $$;"
    "CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OF city, interests ON users"
    "  FOR EACH ROW EXECUTE FUNCTION sluice_changed_user();"
    "CREATE FUNCTION sluice_changed_follow() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  IF TG_OP = 'INSERT' THEN"
    "   INSERT INTO changes (node, kind, \"user\", data)"
    "    VALUES (sluice_node(), 'follow', NEW.follower, json_build_array(NEW.creator, 1)::text);"
    "  ELSE"
    "   INSERT INTO changes (node, kind, \"user\", data)"
    "    VALUES (sluice_node(), 'follow', OLD.follower, json_build_array(OLD.creator, 0)::text);"
    "  END IF;"
    "  PERFORM pg_notify('sluice_changes', '');"
    "  RETURN NULL;"
    " END $$;"
    "CREATE TRIGGER follows_changed AFTER INSERT OR DELETE ON follows"
    "  FOR EACH ROW EXECUTE FUNCTION sluice_changed_follow();"
    /* A wave's offers: one row per item, wave and source, with the item's
     * creator and city, which a node that never saw the item needs. */
    "CREATE FUNCTION sluice_changed_offers() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  INSERT INTO changes (node, kind, item, data)"
    "   SELECT sluice_node(), 'offers', o.item, json_build_object('wave', o.wave,"
    "    'source', o.source, 'creator', i.creator, 'city', i.upload::json ->> 'city',"
    "    'users', json_agg(o.\"user\"))::text"
    "   FROM new_offers o JOIN items i ON i.id = o.item"
    "   GROUP BY o.item, o.wave, o.source, i.creator, i.upload;"
    "  PERFORM pg_notify('sluice_changes', '');"
    "  RETURN NULL;"
    " END $$;"
    "CREATE TRIGGER offers_changed AFTER INSERT ON offers REFERENCING NEW TABLE AS new_offers"
    "  FOR EACH STATEMENT EXECUTE FUNCTION sluice_changed_offers();"
    "CREATE FUNCTION sluice_changed_served() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  INSERT INTO changes (node, kind, \"user\", data)"
    "   SELECT sluice_node(), 'served', n.\"user\", json_agg(n.item)::text"
    "   FROM new_offers n JOIN old_offers o ON o.item = n.item AND o.\"user\" = n.\"user\""
    "   WHERE n.served <> 0 AND o.served = 0 GROUP BY n.\"user\";"
    "  PERFORM pg_notify('sluice_changes', '');"
    "  RETURN NULL;"
    " END $$;"
    "CREATE TRIGGER offers_served AFTER UPDATE ON offers"
    "  REFERENCING NEW TABLE AS new_offers OLD TABLE AS old_offers"
    "  FOR EACH STATEMENT EXECUTE FUNCTION sluice_changed_served();"
    "CREATE FUNCTION sluice_changed_state() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  INSERT INTO changes (node, kind, item, data)"
    "   VALUES (sluice_node(), 'state', NEW.id, json_build_array(OLD.state, NEW.state)::text);"
    "  PERFORM pg_notify('sluice_changes', '');"
    "  RETURN NULL;"
    " END $$;"
    "CREATE TRIGGER items_state_changed AFTER UPDATE OF state ON items"
    "  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)"
    "  EXECUTE FUNCTION sluice_changed_state();"
    "CREATE FUNCTION sluice_changed_events() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN PERFORM pg_notify('sluice_changes', ''); RETURN NULL; END $$;"
    "CREATE TRIGGER events_changed AFTER INSERT ON event_batches"
    "  FOR EACH STATEMENT EXECUTE FUNCTION sluice_changed_events();"
    /* Tokens made or revoked, and hash banks' hashes, reach every node. */
    "CREATE FUNCTION sluice_changed_token() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  IF TG_OP = 'DELETE' THEN"
    "   INSERT INTO changes (node, kind, \"user\", data)"
    "    VALUES (sluice_node(), 'token', OLD.name, 'null');"
    "  ELSE"
    "   INSERT INTO changes (node, kind, \"user\", data) VALUES (sluice_node(), 'token', NEW.name,"
    "    json_build_object('role', NEW.role, 'hash', NEW.hash,"
    "     'expires_ms', NEW.expires_ms)::text);"
    "  END IF;"
    "  PERFORM pg_notify('sluice_changes', '');"
    "  RETURN NULL;"
    " END $$;"
    "CREATE TRIGGER tokens_changed AFTER INSERT OR UPDATE OR DELETE ON tokens"
    "  FOR EACH ROW EXECUTE FUNCTION sluice_changed_token();"
    "CREATE FUNCTION sluice_changed_hash() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  IF TG_OP = 'DELETE' THEN"
    "   INSERT INTO changes (node, kind, data)"
    "    VALUES (sluice_node(), 'hashbank', json_build_array(OLD.bank, OLD.hash, 0)::text);"
    "  ELSE"
    "   INSERT INTO changes (node, kind, data)"
    "    VALUES (sluice_node(), 'hashbank', json_build_array(NEW.bank, NEW.hash, 1)::text);"
    "  END IF;"
    "  PERFORM pg_notify('sluice_changes', '');"
    "  RETURN NULL;"
    " END $$;"
    "CREATE TRIGGER hashbanks_changed AFTER INSERT OR DELETE ON hashbanks"
    "  FOR EACH ROW EXECUTE FUNCTION sluice_changed_hash();"
    /* Policy sets: every node runs the newest stored (highest seq); a
     * reload on any node stores its set, and the others load it. */
    "CREATE TABLE policy_sets ("
    "  version text COLLATE \"C\" PRIMARY KEY,"
    "  files text NOT NULL,"
    "  at_ms bigint NOT NULL,"
    "  by text NOT NULL,"
    "  seq bigserial NOT NULL);"
    "CREATE FUNCTION sluice_changed_policy() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  INSERT INTO changes (node, kind, data)"
    "   VALUES (sluice_node(), 'policy', to_json(NEW.version)::text);"
    "  PERFORM pg_notify('sluice_changes', '');"
    "  RETURN NULL;"
    " END $$;"
    "CREATE TRIGGER policy_sets_changed AFTER INSERT OR UPDATE ON policy_sets"
    "  FOR EACH ROW EXECUTE FUNCTION sluice_changed_policy();"
    "ALTER TABLE nodes ADD COLUMN policy text NOT NULL DEFAULT '';"
    /* A report weighed by the node that took it: the item's owner decides
     * whether a running item goes back to people. */
    "CREATE FUNCTION sluice_changed_report() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  INSERT INTO changes (node, kind, item, \"user\")"
    "   VALUES (sluice_node(), 'report', NEW.item, NEW.\"user\");"
    "  PERFORM pg_notify('sluice_changes', '');"
    "  RETURN NULL;"
    " END $$;"
    "CREATE TRIGGER reports_changed AFTER INSERT ON reports"
    "  FOR EACH ROW EXECUTE FUNCTION sluice_changed_report();" },
    /* 13 -> 14: offers packed, a row per placement of a wave holding its
     * users (ids each ended by a newline), and served marks in a table of
     * their own, written once each (sqlite_schema.c says why). Both keyed
     * by item first, as every read of them is, and distributed by it on a
     * sharded PostgreSQL (docs/scale-out.md). A placement's part comes from
     * a sequence (pg_dist.c); the old rows' parts are their sources, as on
     * SQLite, and the sequence starts past them. */
    { 13, 14,
    "CREATE SEQUENCE offer_waves_part;"
    "CREATE TABLE offer_waves ("
    "  item text COLLATE \"C\" NOT NULL,"
    "  wave integer NOT NULL,"
    "  part bigint NOT NULL DEFAULT nextval('offer_waves_part'),"
    "  source integer NOT NULL,"
    "  users text NOT NULL,"
    "  PRIMARY KEY (item, wave, part));"
    "ALTER SEQUENCE offer_waves_part OWNED BY offer_waves.part;"
    "CREATE TABLE served ("
    "  \"user\" text COLLATE \"C\" NOT NULL,"
    "  item text COLLATE \"C\" NOT NULL,"
    "  PRIMARY KEY (item, \"user\"));"
    "INSERT INTO offer_waves (item, wave, part, source, users)"
    "  SELECT item, wave, source, source, string_agg(\"user\" || chr(10), '' ORDER BY \"user\")"
    "  FROM offers GROUP BY item, wave, source;"
    "INSERT INTO served (\"user\", item) SELECT \"user\", item FROM offers WHERE served <> 0;"
    "DROP TABLE offers;"
    "SELECT setval('offer_waves_part', coalesce((SELECT max(part) FROM offer_waves), 0) + 1,"
    "  false);"
    /* The change feed of 13 followed offers into the two tables (its
     * triggers went with the old one): a placement is an `offers` change
     * of its users, as a wave's rows were; the marks one statement made,
     * a `served` change per user. Made after the rows copied above, which
     * every node read at start. */
    "CREATE OR REPLACE FUNCTION sluice_changed_offers() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  INSERT INTO changes (node, kind, item, data)"
    "   SELECT sluice_node(), 'offers', o.item, json_build_object('wave', o.wave,"
    "    'source', o.source, 'creator', i.creator, 'city', i.upload::json ->> 'city',"
    "    'users', array_to_json(string_to_array(rtrim(o.users, chr(10)), chr(10))))::text"
    "   FROM new_waves o JOIN items i ON i.id = o.item;"
    "  PERFORM pg_notify('sluice_changes', '');"
    "  RETURN NULL;"
    " END $$;"
    "CREATE TRIGGER offer_waves_changed AFTER INSERT ON offer_waves"
    "  REFERENCING NEW TABLE AS new_waves"
    "  FOR EACH STATEMENT EXECUTE FUNCTION sluice_changed_offers();"
    "CREATE OR REPLACE FUNCTION sluice_changed_served() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  INSERT INTO changes (node, kind, \"user\", data)"
    "   SELECT sluice_node(), 'served', n.\"user\", json_agg(n.item)::text"
    "   FROM new_served n GROUP BY n.\"user\";"
    "  IF FOUND THEN PERFORM pg_notify('sluice_changes', ''); END IF;"
    "  RETURN NULL;"
    " END $$;"
    "CREATE TRIGGER served_changed AFTER INSERT ON served REFERENCING NEW TABLE AS new_served"
    "  FOR EACH STATEMENT EXECUTE FUNCTION sluice_changed_served();"
    /* The creators' standing every node keeps in memory (dist/standing.c)
     * moves with another node's uploads and decisions: an `item` change
     * for a new item, and the creator in a `state` change. */
    "CREATE FUNCTION sluice_changed_item() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  INSERT INTO changes (node, kind, item, data)"
    "   VALUES (sluice_node(), 'item', NEW.id, json_build_array(NEW.creator, NEW.state)::text);"
    "  PERFORM pg_notify('sluice_changes', '');"
    "  RETURN NULL;"
    " END $$;"
    "CREATE TRIGGER items_inserted AFTER INSERT ON items"
    "  FOR EACH ROW EXECUTE FUNCTION sluice_changed_item();"
    "CREATE OR REPLACE FUNCTION sluice_changed_state() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  INSERT INTO changes (node, kind, item, data) VALUES (sluice_node(), 'state', NEW.id,"
    "   json_build_array(OLD.state, NEW.state, NEW.creator)::text);"
    "  PERFORM pg_notify('sluice_changes', '');"
    "  RETURN NULL;"
    " END $$;" },
    /* 14 -> 15: nothing. SQLite's step to 15 moves items by creator out of
     * an index of items (sqlite_schema.c); PostgreSQL keeps its index. The
     * step keeps the two numbered alike. */
    { 14, 15, "" },
    /* 15 -> 16: nothing. SQLite's step to 16 keys an item's waves, offers
     * and served marks by its seq (a page per upload less in its WAL);
     * PostgreSQL writes a record, not a page, per row, and a sharded
     * database distributes them by item. */
    { 15, 16, "" },
};

#define SCHEMA_VERSION 16

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
        if ((migrations[i].sql[0] && sl_pg_exec(s, migrations[i].sql) < 0) ||
            sl_pg_exec(s, set) < 0)
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
