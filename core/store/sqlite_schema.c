/* SPDX-License-Identifier: MIT */
/* The SQLite schema: every migration shipped, and running those not yet run. */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include <sqlite3.h>

#include "lib/log.h"
#include "store/sqlite.h"

/* Migration N brings user_version from N to N+1. Never edit a shipped one:
 * add the next. */
static const char *const migrations[] = {
    /* 0 -> 1: the foundation */
    "CREATE TABLE items ("
    "  id TEXT PRIMARY KEY,"
    "  creator TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  upload TEXT NOT NULL,"
    "  upload_hash TEXT NOT NULL,"
    "  tags TEXT NOT NULL DEFAULT '{}',"
    "  reasons TEXT NOT NULL DEFAULT '[]',"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL);"
    "CREATE INDEX items_creator ON items(creator);"
    "CREATE INDEX items_state ON items(state);"
    "CREATE TABLE audit ("
    "  seq INTEGER PRIMARY KEY,"
    "  item TEXT,"
    "  actor TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  from_state TEXT,"
    "  to_state TEXT,"
    "  reason TEXT NOT NULL DEFAULT '',"
    "  ts_ms INTEGER NOT NULL,"
    "  prev TEXT NOT NULL,"
    "  hash TEXT NOT NULL);"
    "CREATE INDEX audit_item ON audit(item, seq);"
    "CREATE TABLE users ("
    "  id TEXT PRIMARY KEY,"
    "  city TEXT,"
    "  interests TEXT NOT NULL DEFAULT '[]',"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL);"
    "CREATE TABLE follows ("
    "  follower TEXT NOT NULL,"
    "  creator TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (follower, creator)) WITHOUT ROWID;"
    "CREATE INDEX follows_creator ON follows(creator, follower);"
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY,"
    "  item TEXT NOT NULL,"
    "  user TEXT NOT NULL,"
    "  type INTEGER NOT NULL,"
    "  watch_ms INTEGER,"
    "  ts_ms INTEGER NOT NULL);"
    "CREATE TABLE item_counters ("
    "  item TEXT NOT NULL,"
    "  type INTEGER NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  PRIMARY KEY (item, type)) WITHOUT ROWID;"
    "CREATE TABLE tokens ("
    "  name TEXT PRIMARY KEY,"
    "  role TEXT NOT NULL,"
    "  hash TEXT NOT NULL UNIQUE,"
    "  created_ms INTEGER NOT NULL);",
    /* 1 -> 2: review: what hooks found, the human queue, hash banks */
    "ALTER TABLE items ADD COLUMN matches TEXT NOT NULL DEFAULT '[]';"
    "ALTER TABLE items ADD COLUMN verdict TEXT;"
    "CREATE TABLE queue ("
    "  item TEXT PRIMARY KEY,"
    "  queue TEXT NOT NULL,"
    "  priority INTEGER NOT NULL DEFAULT 0,"
    "  reason TEXT NOT NULL DEFAULT '',"
    "  enqueued_ms INTEGER NOT NULL,"
    "  claimed_by TEXT,"
    "  lease_until_ms INTEGER NOT NULL DEFAULT 0,"
    "  fence INTEGER NOT NULL DEFAULT 0,"
    "  escalated_by TEXT);"
    "CREATE INDEX queue_order ON queue(queue, priority DESC, enqueued_ms);"
    "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "INSERT INTO counters VALUES ('fence', 0);"
    "CREATE TABLE hashbanks ("
    "  bank TEXT NOT NULL,"
    "  hash TEXT NOT NULL,"
    "  added_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (bank, hash)) WITHOUT ROWID;",
    /* 2 -> 3: distribution: the plan, each wave, who was offered what */
    "ALTER TABLE items ADD COLUMN plan TEXT;"
    "CREATE TABLE waves ("
    "  item TEXT NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  wave TEXT NOT NULL,"
    "  PRIMARY KEY (item, n)) WITHOUT ROWID;"
    "CREATE TABLE offers ("
    "  item TEXT NOT NULL,"
    "  user TEXT NOT NULL,"
    "  wave INTEGER NOT NULL,"
    "  source INTEGER NOT NULL,"
    "  PRIMARY KEY (item, user)) WITHOUT ROWID;",
    /* 3 -> 4: events are stored a request at a time, packed, so a batch of
     * a thousand costs one row; the old per-event table stays readable. */
    "CREATE TABLE event_batches ("
    "  seq INTEGER PRIMARY KEY,"
    "  ts_ms INTEGER NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  data BLOB NOT NULL);",
    /* 4 -> 5: which offers a feed has served, so a restart does not serve
     * them again */
    "ALTER TABLE offers ADD COLUMN served INTEGER NOT NULL DEFAULT 0;",
    /* 5 -> 6: counts the hot paths read, kept by triggers so that every
     * path changing an item keeps them right: a creator's standing is read
     * on every upload and the items per state on every scrape, and a
     * count(*) over items grows with the platform. */
    "CREATE TABLE creators ("
    "  creator TEXT PRIMARY KEY,"
    "  uploads INTEGER NOT NULL,"
    "  rejections INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO creators SELECT creator, count(*), sum(state = 'rejected')"
    "  FROM items GROUP BY creator;"
    "CREATE TABLE item_states ("
    "  state TEXT PRIMARY KEY,"
    "  n INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO item_states SELECT state, count(*) FROM items GROUP BY state;"
    "CREATE TRIGGER items_counted AFTER INSERT ON items BEGIN"
    "  INSERT INTO creators VALUES (new.creator, 1, new.state = 'rejected')"
    "    ON CONFLICT (creator) DO UPDATE SET uploads = uploads + 1,"
    "    rejections = rejections + excluded.rejections;"
    "  INSERT INTO item_states VALUES (new.state, 1)"
    "    ON CONFLICT (state) DO UPDATE SET n = n + 1;"
    "END;"
    "CREATE TRIGGER items_recounted AFTER UPDATE OF state ON items"
    "  WHEN old.state <> new.state BEGIN"
    "  UPDATE creators SET rejections = rejections"
    "    + (new.state = 'rejected') - (old.state = 'rejected')"
    "    WHERE creator = new.creator;"
    "  UPDATE item_states SET n = n - 1 WHERE state = old.state;"
    "  INSERT INTO item_states VALUES (new.state, 1)"
    "    ON CONFLICT (state) DO UPDATE SET n = n + 1;"
    "END;"
    /* Nothing reads items by creator any more, and every upload paid for
     * the index: a page per creator in each group commit. */
    "DROP INDEX IF EXISTS items_creator;"
    /* Per-item counters are now written apart from their events, marked
     * with the last batch they include; every batch so far is counted. */
    "INSERT INTO counters SELECT 'events_counted', coalesce(max(seq), 0)"
    "  FROM event_batches;"
    /* An item's counters in one row: a write of an item's sums is one
     * upsert, not one per event type. c<k> counts events of type k. */
    "CREATE TABLE item_counts ("
    "  item TEXT PRIMARY KEY,"
    "  c0 INTEGER NOT NULL DEFAULT 0, c1 INTEGER NOT NULL DEFAULT 0,"
    "  c2 INTEGER NOT NULL DEFAULT 0, c3 INTEGER NOT NULL DEFAULT 0,"
    "  c4 INTEGER NOT NULL DEFAULT 0, c5 INTEGER NOT NULL DEFAULT 0,"
    "  c6 INTEGER NOT NULL DEFAULT 0, c7 INTEGER NOT NULL DEFAULT 0,"
    "  c8 INTEGER NOT NULL DEFAULT 0, c9 INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "INSERT INTO item_counts SELECT item, sum(n * (type = 0)), sum(n * (type = 1)), sum(n * (type = 2)), sum(n * (type = 3)), sum(n * (type = 4)), sum(n * (type = 5)), sum(n * (type = 6)), sum(n * (type = 7)), sum(n * (type = 8)), sum(n * (type = 9))"
    "  FROM item_counters GROUP BY item;"
    "DROP TABLE item_counters;",
    /* 6 -> 7: tokens that expire (NULL: never) */
    "ALTER TABLE tokens ADD COLUMN expires_ms INTEGER;",
    /* 7 -> 8: the audit chain keyed: each record's format (1 SHA-256, as
     * written so far; 2 HMAC-SHA-256 under a key kept outside the database) */
    "ALTER TABLE audit ADD COLUMN v INTEGER NOT NULL DEFAULT 1;",
    /* 8 -> 9: reports with memory: one per user and item, weighed when it
     * came (was the reporter served the item? how did their reports fare
     * with people?), judged when people decide the item; each reporter's
     * standing; and when each user was last seen, so that waves can tell
     * who is away across restarts. */
    "CREATE TABLE reports ("
    "  item TEXT NOT NULL,"
    "  user TEXT NOT NULL,"
    "  ts_ms INTEGER NOT NULL,"
    "  served INTEGER NOT NULL,"
    "  weight REAL NOT NULL,"
    "  judged INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (item, user)) WITHOUT ROWID;"
    "CREATE TABLE reporters ("
    "  user TEXT PRIMARY KEY,"
    "  reports INTEGER NOT NULL DEFAULT 0,"
    "  upheld INTEGER NOT NULL DEFAULT 0,"
    "  dismissed INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "ALTER TABLE users ADD COLUMN seen_s INTEGER NOT NULL DEFAULT 0;",
    /* 9 -> 10: investigation. Every item is numbered in the order it was
     * stored (seq: rowids may change under VACUUM, seq does not), newest
     * first is seq descending, and each filter of a search has an index
     * ending in seq: state and creator on items, the queue, and tables of
     * their own for tags, what plugins matched, who decided (the audit's
     * deciding records), the text (FTS5 with the trigram tokenizer, so
     * that any substring of 3+ characters matches, Chinese included) and
     * the perceptual hashes that new hash-bank entries are matched against.
     * Every transaction brings them up to date as it commits (below), so
     * every path that writes items or the audit keeps them right; what is
     * stored already is indexed here. */
    "ALTER TABLE items ADD COLUMN seq INTEGER;"
    "UPDATE items SET seq = rowid;"
    "CREATE UNIQUE INDEX items_seq ON items(seq);"
    "DROP INDEX IF EXISTS items_state;"
    "CREATE INDEX items_state ON items(state, seq);"
    "CREATE INDEX items_creator ON items(creator, seq);"
    "ALTER TABLE queue ADD COLUMN seq INTEGER;"
    "UPDATE queue SET seq = (SELECT seq FROM items WHERE id = queue.item);"
    "CREATE INDEX queue_seq ON queue(queue, seq);"
    "CREATE TABLE item_tags ("
    "  tag TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  confidence REAL NOT NULL,"
    "  PRIMARY KEY (tag, seq)) WITHOUT ROWID;"
    "CREATE TABLE item_matches ("
    "  name TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  PRIMARY KEY (name, seq, kind)) WITHOUT ROWID;"
    "CREATE TABLE item_deciders ("
    "  actor TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  PRIMARY KEY (actor, seq)) WITHOUT ROWID;"
    "CREATE TABLE item_hashes ("
    "  seq INTEGER PRIMARY KEY,"
    "  created_ms INTEGER NOT NULL,"
    "  item TEXT NOT NULL,"
    "  hashes TEXT NOT NULL);"
    "CREATE VIRTUAL TABLE item_text USING fts5(title, description, transcript,"
    "  content = '', tokenize = 'trigram');"
    /* What an insert stores is indexed at the end of its transaction, in
     * one statement per index (sqlite_search.c, sl_sqlite_index_new):
     * the text index takes a fifth of the time that way, and tags and
     * deciders a half, than row by row. The marks say how far that went.
     * Rarer writes keep triggers: an item's hashes (few uploads carry
     * them), its matches, and changes of tags and matches. Every column
     * read is the daemon's own JSON: an invalid one fails the write. */
    "CREATE TRIGGER items_hashed AFTER INSERT ON items"
    "  WHEN instr(new.upload, '\"hashes\":') BEGIN"
    "  INSERT INTO item_hashes SELECT new.seq, new.created_ms, new.id, h"
    "    FROM (SELECT json_extract(new.upload, '$.hashes') AS h)"
    "    WHERE json_type(h) = 'array' AND json_array_length(h) > 0;"
    "END;"
    "CREATE TRIGGER items_retagged AFTER UPDATE OF tags ON items"
    "  WHEN json_valid(old.tags) AND json_valid(new.tags) BEGIN"
    "  DELETE FROM item_tags WHERE tag IN (SELECT key FROM json_each(old.tags))"
    "    AND seq = old.seq;"
    "  INSERT OR REPLACE INTO item_tags SELECT key, new.seq, CASE type WHEN 'object'"
    "    THEN coalesce(json_extract(value, '$.confidence'), 0) ELSE 0 END"
    "    FROM json_each(new.tags);"
    "END;"
    "CREATE TRIGGER items_matched AFTER INSERT ON items WHEN new.matches <> '[]' BEGIN"
    "  INSERT OR IGNORE INTO item_matches SELECT json_extract(value, '$.name'), new.seq,"
    "    coalesce(json_extract(value, '$.kind'), '') FROM json_each(new.matches)"
    "    WHERE type = 'object' AND json_type(value, '$.name') = 'text';"
    "END;"
    "CREATE TRIGGER items_rematched AFTER UPDATE OF matches ON items"
    "  WHEN json_valid(new.matches) BEGIN"
    "  INSERT OR IGNORE INTO item_matches SELECT json_extract(value, '$.name'), new.seq,"
    "    coalesce(json_extract(value, '$.kind'), '') FROM json_each(new.matches)"
    "    WHERE type = 'object' AND json_type(value, '$.name') = 'text';"
    "END;"
    "INSERT INTO counters SELECT 'indexed_items', coalesce(max(seq), 0) FROM items;"
    "INSERT INTO counters SELECT 'indexed_audit', coalesce(max(seq), 0) FROM audit;"
    "INSERT INTO item_text (rowid, title, description, transcript)"
    "  SELECT seq, json_extract(u, '$.title'), json_extract(u, '$.description'),"
    "  json_extract(u, '$.transcript')"
    "  FROM (SELECT seq, CASE WHEN json_valid(upload) THEN upload ELSE '{}' END AS u FROM items);"
    "INSERT INTO item_hashes SELECT seq, created_ms, id, json_extract(u, '$.hashes')"
    "  FROM (SELECT seq, created_ms, id,"
    "  CASE WHEN json_valid(upload) THEN upload ELSE '{}' END AS u FROM items)"
    "  WHERE json_type(u, '$.hashes') = 'array' AND json_array_length(u, '$.hashes') > 0;"
    "INSERT OR REPLACE INTO item_tags SELECT t.key, i.seq, CASE t.type WHEN 'object'"
    "  THEN coalesce(json_extract(t.value, '$.confidence'), 0) ELSE 0 END FROM items i,"
    "  json_each(CASE WHEN json_valid(i.tags) THEN i.tags ELSE '{}' END) t;"
    "INSERT OR IGNORE INTO item_matches SELECT json_extract(m.value, '$.name'), i.seq,"
    "  coalesce(json_extract(m.value, '$.kind'), '') FROM items i,"
    "  json_each(CASE WHEN json_valid(i.matches) THEN i.matches ELSE '[]' END) m"
    "  WHERE m.type = 'object' AND json_type(m.value, '$.name') = 'text';"
    /* The records that decide an item (sqlite_search.c lists the same). */
    "INSERT OR IGNORE INTO item_deciders SELECT a.actor, i.seq FROM audit a"
    "  JOIN items i ON i.id = a.item WHERE a.action IN ('verdict', 'approve', 'reject',"
    "  'escalate', 'takedown', 'hold', 'review', 'restore');",
    /* 10 -> 11: jobs that act on many items in slices (bulk actions,
     * retroactive hash matching): each slice's transaction moves its job's
     * row on, so the progress stored is the work done, and a restart goes on
     * from there. cursor: the next slice looks at items with seq < cursor;
     * items stored after the job began (seq > seq_max) are not its. */
    "CREATE TABLE jobs ("
    "  id TEXT PRIMARY KEY,"
    "  kind TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  spec TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  created_by TEXT NOT NULL,"
    "  confirmed_by TEXT,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  finished_ms INTEGER,"
    "  seq_max INTEGER NOT NULL,"
    "  cursor INTEGER NOT NULL,"
    "  total INTEGER NOT NULL,"
    "  total_exact INTEGER NOT NULL,"
    "  examined INTEGER NOT NULL DEFAULT 0,"
    "  matched INTEGER NOT NULL DEFAULT 0,"
    "  acted INTEGER NOT NULL DEFAULT 0,"
    "  skipped INTEGER NOT NULL DEFAULT 0,"
    "  error TEXT);"
    "CREATE INDEX jobs_created ON jobs(created_ms);"
    "CREATE INDEX jobs_state ON jobs(state);",
    /* 11 -> 12: creators: their items per state (kept by triggers, as the
     * items per state are: a creator page must not count a large creator's
     * items), and suspensions (uploads held for review, or refused). */
    "CREATE TABLE creator_states ("
    "  creator TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  PRIMARY KEY (creator, state)) WITHOUT ROWID;"
    "INSERT INTO creator_states SELECT creator, state, count(*) FROM items"
    "  GROUP BY creator, state;"
    "CREATE TRIGGER creator_counted AFTER INSERT ON items BEGIN"
    "  INSERT INTO creator_states VALUES (new.creator, new.state, 1)"
    "    ON CONFLICT (creator, state) DO UPDATE SET n = n + 1;"
    "END;"
    "CREATE TRIGGER creator_recounted AFTER UPDATE OF state ON items"
    "  WHEN old.state <> new.state BEGIN"
    "  UPDATE creator_states SET n = n - 1 WHERE creator = old.creator AND state = old.state;"
    "  INSERT INTO creator_states VALUES (new.creator, new.state, 1)"
    "    ON CONFLICT (creator, state) DO UPDATE SET n = n + 1;"
    "END;"
    "CREATE TABLE suspensions ("
    "  creator TEXT PRIMARY KEY,"
    "  mode TEXT NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  by TEXT NOT NULL,"
    "  since_ms INTEGER NOT NULL) WITHOUT ROWID;",
    /* 12 -> 13: nothing. PostgreSQL's step to 13 makes what several nodes
     * on one database share (pg_schema.c); one process owns a SQLite store,
     * so it needs none of it. The step keeps the two numbered alike. */
    "",
    /* 13 -> 14: offers packed, a row per placement of a wave holding its
     * users (ids each ended by a newline, which no id holds), as event
     * batches are: a wave of a thousand users costs one row, not a
     * thousand, and a start reads them back without a query per item.
     * Served marks in a table of their own, written once each; keyed by
     * item first, as every read of them is. */
    "CREATE TABLE offer_waves ("
    "  item TEXT NOT NULL,"
    "  wave INTEGER NOT NULL,"
    "  part INTEGER NOT NULL,"
    "  source INTEGER NOT NULL,"
    "  users TEXT NOT NULL,"
    "  PRIMARY KEY (item, wave, part)) WITHOUT ROWID;"
    "CREATE TABLE served ("
    "  user TEXT NOT NULL,"
    "  item TEXT NOT NULL,"
    "  PRIMARY KEY (item, user)) WITHOUT ROWID;"
    /* Each (item, wave, source) of the old rows is one part (numbered by
     * its source, unique within the wave). */
    "INSERT INTO offer_waves SELECT item, wave, source, source,"
    "  group_concat(user || char(10), '') FROM"
    "  (SELECT item, wave, source, user FROM offers ORDER BY item, wave, source, user)"
    "  GROUP BY item, wave, source;"
    "INSERT INTO served SELECT user, item FROM offers WHERE served <> 0;"
    "DROP TABLE offers;",
    /* 14 -> 15: items by creator in a table of the search's indexes, kept
     * by their pass (sqlite_search.c; the commit thread runs it a few times
     * a second), not an index of items: uploads come from many creators at
     * once, and the index dirtied a page per creator in every group commit,
     * which the WAL wrote out whole (105 pages a commit under bench/run's
     * uploads-full, 60 without it). PostgreSQL keeps its index (a row
     * written there costs a WAL record, not a page): its step to 15 is
     * empty, which keeps the two numbered alike. */
    "CREATE TABLE item_creators ("
    "  creator TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  PRIMARY KEY (creator, seq)) WITHOUT ROWID;"
    "INSERT INTO item_creators SELECT creator, seq FROM items;"
    "DROP INDEX items_creator;",
    /* 15 -> 16: an item's waves, offers and served marks keyed by its seq,
     * not its id. An upload's first wave and its offers went each to a
     * leaf of its own wherever its id fell (ids are the client's), which
     * every group commit wrote whole to the WAL; numbered in the order
     * items are stored, they land where the last upload's did. A start
     * reads them in that order too, the items' (items_state is (state,
     * seq)), one leaf after the next rather than a search by id per item.
     * Views keep the old tables' names and columns for what reads or
     * copies them whole (sluicectl migrate, by hand); inserting into one
     * stores under the item's seq, and an item that does not exist is an
     * error, not a row lost. */
    "CREATE TABLE item_waves ("
    "  seq INTEGER NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  wave TEXT NOT NULL,"
    "  PRIMARY KEY (seq, n)) WITHOUT ROWID;"
    "INSERT INTO item_waves SELECT i.seq, w.n, w.wave FROM waves w JOIN items i ON i.id = w.item;"
    "CREATE TABLE item_offers ("
    "  seq INTEGER NOT NULL,"
    "  wave INTEGER NOT NULL,"
    "  part INTEGER NOT NULL,"
    "  source INTEGER NOT NULL,"
    "  users TEXT NOT NULL,"
    "  PRIMARY KEY (seq, wave, part)) WITHOUT ROWID;"
    "INSERT INTO item_offers SELECT i.seq, o.wave, o.part, o.source, o.users"
    "  FROM offer_waves o JOIN items i ON i.id = o.item;"
    "CREATE TABLE item_served ("
    "  seq INTEGER NOT NULL,"
    "  user TEXT NOT NULL,"
    "  PRIMARY KEY (seq, user)) WITHOUT ROWID;"
    "INSERT INTO item_served SELECT i.seq, s.user FROM served s JOIN items i ON i.id = s.item;"
    "DROP TABLE waves;"
    "DROP TABLE offer_waves;"
    "DROP TABLE served;"
    "CREATE VIEW waves AS SELECT i.id AS item, w.n, w.wave"
    "  FROM item_waves w JOIN items i ON i.seq = w.seq;"
    "CREATE VIEW offer_waves AS SELECT i.id AS item, o.wave, o.part, o.source, o.users"
    "  FROM item_offers o JOIN items i ON i.seq = o.seq;"
    "CREATE VIEW served AS SELECT s.user, i.id AS item"
    "  FROM item_served s JOIN items i ON i.seq = s.seq;"
    "CREATE TRIGGER waves_put INSTEAD OF INSERT ON waves BEGIN"
    "  SELECT RAISE(ABORT, 'no such item') WHERE NOT EXISTS"
    "    (SELECT 1 FROM items WHERE id = new.item);"
    "  INSERT INTO item_waves SELECT seq, new.n, new.wave FROM items WHERE id = new.item;"
    "END;"
    "CREATE TRIGGER offer_waves_put INSTEAD OF INSERT ON offer_waves BEGIN"
    "  SELECT RAISE(ABORT, 'no such item') WHERE NOT EXISTS"
    "    (SELECT 1 FROM items WHERE id = new.item);"
    "  INSERT INTO item_offers SELECT seq, new.wave, new.part, new.source, new.users"
    "    FROM items WHERE id = new.item;"
    "END;"
    "CREATE TRIGGER served_put INSTEAD OF INSERT ON served BEGIN"
    "  SELECT RAISE(ABORT, 'no such item') WHERE NOT EXISTS"
    "    (SELECT 1 FROM items WHERE id = new.item);"
    "  INSERT INTO item_served SELECT seq, new.user FROM items WHERE id = new.item;"
    "END;",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

static int user_version(struct sl_store *s, int *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "user_version");
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -EIO;
    *out = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc;
}

/* Bring the schema to SCHEMA_VERSION, one transaction per migration, so a
 * failed one leaves the database at the version before it. */
int sl_sqlite_migrate(struct sl_store *s)
{
    int version;
    if (user_version(s, &version) < 0)
        return -EIO;
    if (version > SCHEMA_VERSION) {
        sl_err("store: the database has schema version %d; this sluiced knows up to %d",
               version, SCHEMA_VERSION);
        return -EPROTO;
    }
    s->created = version == 0;
    for (; version < SCHEMA_VERSION; version++) {
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", version + 1);
        if (sl_sqlite_exec(s, "BEGIN IMMEDIATE") < 0)
            return -EIO;
        if (sl_sqlite_exec(s, migrations[version]) < 0 || sl_sqlite_exec(s, pragma) < 0) {
            sl_sqlite_exec(s, "ROLLBACK");
            return -EIO;
        }
        if (sl_sqlite_exec(s, "COMMIT") < 0)
            return -EIO;
        sl_info("store: migrated schema to version %d", version + 1);
    }
    return 0;
}
