/* SPDX-License-Identifier: MIT */
/* The store: every byte sluice keeps, behind one interface. */
#ifndef SL_STORE_H
#define SL_STORE_H

/*
 * All SQL lives behind this header. Two backends implement it: SQLite
 * (sqlite*.c, the embedded default) and PostgreSQL (pg*.c, when built with
 * libpq); store.c hands each call to the one sl_store_open() chose. A
 * struct sl_store is one connection and is used by one thread at a time:
 * the commit thread owns the writer, the event loop owns a reader.
 *
 * Writes happen only inside sl_store_begin()/sl_store_commit() on the writer.
 * Within a transaction, sl_store_savepoint()/sl_store_release()/
 * sl_store_rollback_to() isolate one request's changes from the others of
 * its group commit.
 *
 * Writes sent ahead: a write function whose answer is only "done" or
 * "refused" may return 0 before the database has run it (PostgreSQL sends
 * such writes ahead in a pipeline; SQLite runs each at once). Its refusal
 * then comes from the next sl_store_sync(), which waits for everything
 * sent so far; output parameters of such a write (events_insert's *seq)
 * are set by then too. sl_store_commit() fails (and rolls back) when a
 * refusal was never reported by an sl_store_sync(). Reads always see the
 * writes before them.
 *
 * Errors: 0 or a negative errno; -ENOENT for a missing row; -EEXIST for a
 * write the schema refuses: a row with that key exists, or any other
 * constraint (SQLite's SQLITE_CONSTRAINT, PostgreSQL's SQLSTATE class 23);
 * -EIO for a failure of the database itself (logged here); -ENOTSUP for
 * what a backend cannot do (below).
 * A listing that meets a row it cannot show (text that is not UTF-8, a JSON
 * column that does not parse: written by an older sluiced, or edited by
 * hand) fails with -EILSEQ and logs which row; it never leaves the row out.
 * Free text that is not UTF-8 (a caller's bug) is stored repaired
 * (sl_utf8_repair: a character cut at the end left out, other bad bytes
 * U+FFFD) and the repair is logged, so that every stored row can be listed.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct sl_store;

/*
 * Open a connection. store NULL or "": SQLite, the file DIR/sluice.db,
 * which the writer creates; a reader opens it read-only. Otherwise store
 * is a libpq connection string ("postgresql://..." or "host=... dbname=...")
 * and dir is unused: the writer and each reader are connections of their
 * own, the reader's read-only by its session (-ENOTSUP when this sluiced
 * was built without libpq). The writer brings the schema up to date.
 */
int sl_store_open(const char *store, const char *dir, bool writer, struct sl_store **out);
void sl_store_free(struct sl_store *s);

/* Whether this open created the schema (first start: an empty database). */
bool sl_store_created(const struct sl_store *s);

/* {====================== Transactions ================================= */
int sl_store_begin(struct sl_store *s);
int sl_store_commit(struct sl_store *s);
int sl_store_rollback(struct sl_store *s);
int sl_store_savepoint(struct sl_store *s);
int sl_store_release(struct sl_store *s);
int sl_store_rollback_to(struct sl_store *s);
/* Wait for the writes sent ahead: 0, or the first refusal among them
 * (-EEXIST, -ENOENT) or failure (-EIO). */
int sl_store_sync(struct sl_store *s);
/* The search's indexes (an item's text, tags, who decided it; on SQLite
 * its creator too) follow what is stored: every sl_store_commit() brings
 * them up to date in its transaction. After sl_store_index_later(), the
 * writer's commits leave that to sl_store_index() (in an open
 * transaction), which its owner runs when it chooses: indexing what many
 * commits stored at once costs a fraction of indexing each (SQLite's text
 * index writes a segment per pass), and whoever reads the indexes must
 * first have them run (the commit thread does both, commit.h). -ENOTSUP
 * when the backend keeps them itself, in each write (PostgreSQL's
 * triggers); sl_store_index() is then 0 and does nothing. */
int sl_store_index_later(struct sl_store *s);
int sl_store_index(struct sl_store *s);
/* SQLite: copy the database to PATH, one SQLite file, while the daemon
 * runs (online backup). PostgreSQL: -ENOTSUP; its own tools (pg_dump,
 * pg_basebackup) back it up, see docs/scale-out.md. */
int sl_store_backup(struct sl_store *s, const char *path);
/* A hint: walks over most of the store follow (on), or are over (off).
 * SQLite maps the file meanwhile, reading its pages in place rather than
 * copying each; PostgreSQL does nothing. 0 (a refused hint is ignored). */
int sl_store_bulk(struct sl_store *s, bool on);
/* }===================================================================== */

/* {====================== Items ======================================== */
struct sl_item_row {
    const char *id;
    const char *creator;
    const char *state;
    const char *upload;         /* canonical JSON of the upload */
    const char *upload_hash;    /* SHA-256 hex of upload */
    const char *tags;           /* JSON object */
    const char *reasons;        /* JSON array */
    const char *matches;        /* JSON array: what plugins found */
    const char *verdict;        /* JSON object: the automatic verdict; NULL when none */
    const char *plan;           /* JSON: distribution's plan; NULL when none */
    int64_t now_ms;
};

int sl_store_item_insert(struct sl_store *s, const struct sl_item_row *row);

/* The upload hash and state of an existing item, for idempotent uploads.
 * hash gets 65 bytes, state 32. In a transaction outside a savepoint a
 * backend may answer -ENOENT as a guess it checks later: a wrong one fails
 * the next sl_store_sync() with -EAGAIN (the commit thread then applies
 * each op again in a savepoint, where the answer is exact). */
int sl_store_item_peek(struct sl_store *s, const char *id, char *hash, char *state);

/* The item as GET /v1/items/{id} shows it (without the audit trail), with
 * its distribution plan ({"waves", "next", "reviewed"}, or null). */
int sl_store_item_get(struct sl_store *s, const char *id, json_t **out);

/* Items per state: {"pending": n, ...}. */
int sl_store_item_states(struct sl_store *s, json_t **out);

/* The state of an item (32 bytes), and setting it. */
int sl_store_item_state(struct sl_store *s, const char *id, char *state);
int sl_store_item_set_state(struct sl_store *s, const char *id, const char *state,
                            int64_t now_ms);
/* Set the state, the distribution plan ({"waves": [...], "next": n}, JSON)
 * or both in one write; NULL keeps what is stored. */
int sl_store_item_update(struct sl_store *s, const char *id, const char *state,
                         const char *plan, int64_t now_ms);

/* Merge a JSON object of tags ({name: {confidence, source}}) into the item's,
 * as RFC 7396 JSON Merge Patch: objects merge key by key, recursively; a
 * null value deletes its key; any other value replaces what was there. */
int sl_store_item_merge_tags(struct sl_store *s, const char *id, const char *tags,
                             int64_t now_ms);

/* How many items the creator uploaded, and how many of them were rejected. */
int sl_store_creator_standing(struct sl_store *s, const char *creator,
                              int64_t *uploads, int64_t *rejections);
/* The same for every creator with an item, in no particular order, for the
 * loop to keep them in memory from the start; fn returning nonzero stops
 * the walk (the caller keeps its own error). */
int sl_store_creators_each(struct sl_store *s,
                           int (*fn)(void *arg, const char *creator, int64_t uploads,
                                     int64_t rejections),
                           void *arg);
/* }===================================================================== */

/* {====================== Audit ======================================== */
struct sl_audit_rec {
    const char *item;           /* NULL for events that concern no item */
    const char *actor;          /* "token:NAME", "policy:VERSION", "plugin:NAME", "system" */
    const char *action;         /* "upload", "approve", "reject", "claim", ... */
    const char *from_state;     /* NULL when none */
    const char *to_state;       /* NULL when none */
    const char *reason;         /* "" when none */
    int64_t ts_ms;
};

/*
 * Each record's hash covers the one before it. Format 1 is SHA-256 (what
 * older versions wrote); formats 2 and 3, HMAC-SHA-256 under the audit key,
 * which is kept outside the database with the first record it keys
 * (keyed_from): 2 of the fields as text, 3 (what is written now) of them
 * packed, the previous hash and the numbers as bytes (chain.h).
 * sl_store_audit_key() gives a connection both (len >= 16 bytes, copied):
 * the writer's records are keyed from then on; verify checks keyed records
 * with the key and takes a plain record from keyed_from on for a chain
 * rewritten without it.
 */
int sl_store_audit_key(struct sl_store *s, const uint8_t *key, size_t len,
                       int64_t keyed_from);
/* Whether records of that format need the audit key. */
static inline bool sl_store_audit_keyed(int format)
{
    return format == 2 || format == 3;
}

/* Append one record, chained to the previous one. The writer keeps the
 * chain's head (last seq and hash) in memory from its open on: right while
 * it is the only writer of the store. */
int sl_store_audit_append(struct sl_store *s, const struct sl_audit_rec *rec);

/* Records of one item (or all, when item is NULL) after seq `after`, at
 * most limit, oldest first, as a JSON array. */
int sl_store_audit_list(struct sl_store *s, const char *item, int64_t after,
                        int limit, json_t **out);

/* The newest record: what an operator anchors elsewhere. */
struct sl_audit_head {
    int64_t seq;                /* 0 when the trail is empty */
    int64_t ts_ms;
    int format;                 /* 1 SHA-256, 2 HMAC-SHA-256; 0 when empty */
    char hash[65];              /* hex; 64 zeros when empty */
};
int sl_store_audit_head(struct sl_store *s, struct sl_audit_head *out);

/* The stored hash of record seq (hash gets 65 bytes); -ENOENT when none. */
int sl_store_audit_hash(struct sl_store *s, int64_t seq, char *hash);

/* One page of verification: records after `after`, at most limit. */
struct sl_audit_check {
    int64_t after;              /* in: 0 from the start, or the last record checked */
    int64_t limit;              /* in: at most this many records */
    int64_t checked;            /* out: records found right */
    int64_t last_seq;           /* out: the last of them (after, when none) */
    bool more;                  /* out: records follow last_seq */
    int64_t bad_seq;            /* out, on -EBADMSG: the first record found wrong */
    const char *problem;        /* out, on -EBADMSG: why (a static sentence) */
};
/* Check each record's link to the one before (record `after` as stored)
 * and its hash: 0 when the page is intact, -EBADMSG at the first record
 * that is not (also: a plain record from keyed_from on, or a keyed record
 * on a connection without the key), -ERANGE when `after` is past the
 * newest record. */
int sl_store_audit_verify(struct sl_store *s, struct sl_audit_check *c);
/* }===================================================================== */

/* {====================== Users and follows ============================ */
/* city or interests NULL: keep what is stored. interests is a JSON array. */
int sl_store_user_upsert(struct sl_store *s, const char *id, const char *city,
                         const char *interests, int64_t now_ms);
int sl_store_user_get(struct sl_store *s, const char *id, json_t **out);
int sl_store_follow_set(struct sl_store *s, const char *follower,
                        const char *creator, bool on, int64_t now_ms);
/* One edge of a batch of follows (POST /v1/follows). */
struct sl_follow_row {
    const char *follower;
    const char *creator;
    bool on;                    /* follow; false: unfollow */
    bool changed;               /* out: the edge was added (on) or taken away */
};
/* The same as sl_store_follow_set() on each row in order (every user named
 * exists afterwards; the change feed gets the same rows), in fewer
 * statements; each row's changed is set afresh on every call. */
int sl_store_follows_set(struct sl_store *s, struct sl_follow_row *rows, size_t n,
                         int64_t now_ms);
/* When the user was last seen (seconds since the epoch); an earlier time
 * than the stored one changes nothing, an unknown user neither. */
int sl_store_user_seen(struct sl_store *s, const char *id, int64_t seen_s);
/* }===================================================================== */

/* {====================== Events ======================================= */
struct sl_event_row {
    const char *item;
    const char *user;
    int type;                   /* enum sl_event_type (events.h) */
    int64_t watch_ms;           /* -1 when absent */
    int64_t ts_ms;
};

/* Store a batch of events as one packed row (one request's worth): the
 * format is private to the backend. *seq: the batch's number, increasing
 * in the order batches commit (one writer); set by the next sync. */
int sl_store_events_insert(struct sl_store *s, const struct sl_event_row *ev, size_t n,
                           int64_t now_ms, int64_t *seq);
/* Each event of the batches numbered after `after`, oldest first; each()
 * returning non-zero stops the walk. */
int sl_store_events_since(struct sl_store *s, int64_t after,
                          int (*each)(void *arg, int64_t seq, const struct sl_event_row *ev),
                          void *arg);
/* An item's counters, one per event type (enum sl_event_type). */
#define SL_STORE_COUNTERS 10
/* Add n[k] to the item's counter k. */
int sl_store_counters_add(struct sl_store *s, const char *item,
                          const int64_t n[SL_STORE_COUNTERS]);
/* The item's counters (zero when none), and the value of the named mark
 * that says the last batch they include (counters.c names it; 0 when
 * never set), read together. */
int sl_store_counters_get(struct sl_store *s, const char *item, const char *mark,
                          int64_t counts[SL_STORE_COUNTERS], int64_t *counted);
/* Named marks (64-bit values): -ENOENT for one never set. */
int sl_store_mark_get(struct sl_store *s, const char *name, int64_t *value);
int sl_store_mark_set(struct sl_store *s, const char *name, int64_t value);
/* }===================================================================== */

/* {====================== Review queue ================================= */
struct sl_queue_entry {
    char queue[129];
    int priority;
    char claimed_by[129];       /* "" when never claimed */
    int64_t lease_until_ms;
    int64_t fence;
    char escalated_by[129];     /* "" unless escalated */
};

/* Put an item in a queue (or move it), unclaimed. */
int sl_store_queue_put(struct sl_store *s, const char *item, const char *queue,
                       int priority, const char *reason, const char *escalated_by,
                       int64_t now_ms);
int sl_store_queue_remove(struct sl_store *s, const char *item);
int sl_store_queue_get(struct sl_store *s, const char *item, struct sl_queue_entry *e);
/*
 * Times to decision: sla is a JSON object of queue name -> milliseconds,
 * "*" for the queues it does not name (NULL: none). An item whose wait
 * passed its queue's is overdue; claims and listings put those first.
 */

/* Claim up to limit waiting items of queue (NULL: any) for who: overdue,
 * then most urgent and oldest first, each with a new fence; *out is [{id,
 * fence, lease_until_ms}]. Items who escalated are not offered to who. */
int sl_store_queue_claim(struct sl_store *s, const char *queue, const char *who,
                         int limit, int64_t now_ms, int64_t lease_ms, const char *sla,
                         json_t **out);
int sl_store_queue_renew(struct sl_store *s, const char *item, int64_t lease_until_ms);
/* Items in queue (NULL: all) in the claims' order, each with due_ms (null
 * without a time to decision) and overdue. */
int sl_store_queue_list(struct sl_store *s, const char *queue, int limit, int64_t now_ms,
                        const char *sla, json_t **out);
/* [{name, depth, oldest_ms, claimed, sla_ms (or null), overdue}] per queue. */
int sl_store_queue_depths(struct sl_store *s, int64_t now_ms, const char *sla, json_t **out);
/* }===================================================================== */

/* {====================== Hash banks =================================== */
int sl_store_hashbank_set(struct sl_store *s, const char *bank, const char *hash_hex,
                          bool on, int64_t now_ms);
int sl_store_hashbank_each(struct sl_store *s,
                           int (*fn)(void *arg, const char *bank, const char *hash_hex),
                           void *arg);
/* }===================================================================== */

/* {====================== Distribution ================================= */
/* One wave of an item as JSON (audience, size, placed, stats, decision...). */
int sl_store_wave_put(struct sl_store *s, const char *item, int n, const char *wave);
int sl_store_waves_get(struct sl_store *s, const char *item, json_t **out);
/* At start, in bulk: each wave of the items in state, in no set order,
 * as the JSON text stored (text[0..len), borrowed). fn's non-zero answer
 * stops the walk (0 is returned). */
int sl_store_waves_each(struct sl_store *s, const char *state,
                        int (*fn)(void *arg, const char *item, int n, const char *text,
                                  size_t len),
                        void *arg);
/* Who was offered the item: the users[0..n) of one placement of a wave,
 * from one source, stored as one record (n 0: nothing is written). */
int sl_store_offer_wave(struct sl_store *s, const char *item, int wave, int source,
                        const char *const *users, size_t n);
/* Each user offered the item, in which wave, from which source, and
 * whether a feed served it to them; a user offered it twice (approved
 * again after a hold) comes once per placement. */
int sl_store_offers_each(struct sl_store *s, const char *item,
                         int (*fn)(void *arg, const char *user, int wave, int source,
                                   bool served),
                         void *arg);
/* A feed served the item to user: the mark is set once (setting it again
 * changes nothing), whether or not an offer of it is stored. */
int sl_store_offer_served(struct sl_store *s, const char *item, const char *user);
/* A page of user's feed composed of items (ids, in the page's order):
 * mark served the first limit of them not served to user yet; *claimed,
 * the ids this call marked (a JSON array), the only ones to answer. On a
 * store several nodes share, two nodes serving one user at once never
 * both get one item: a mark another claims at the same moment waits for
 * its commit and is then left out. */
int sl_store_offers_claim(struct sl_store *s, const char *user, json_t *items, int limit,
                          json_t **claimed);
/* At start, in bulk: each placement of the items in state (users[0..n),
 * borrowed for the call), then each served mark of those items. fn's
 * non-zero answer stops the walk (0 is returned). */
int sl_store_offer_waves_each(struct sl_store *s, const char *state,
                              int (*fn)(void *arg, const char *item, int wave, int source,
                                        const char *const *users, size_t n),
                              void *arg);
int sl_store_served_each(struct sl_store *s, const char *state,
                         int (*fn)(void *arg, const char *item, const char *user),
                         void *arg);
/* Loading the audience at start. */
int sl_store_users_each(struct sl_store *s,
                        int (*fn)(void *arg, const char *id, const char *city,
                                  const char *interests, int64_t seen_s),
                        void *arg);
int sl_store_follows_each(struct sl_store *s,
                          int (*fn)(void *arg, const char *follower, const char *creator),
                          void *arg);
/* At start, in bulk: each item in state, oldest first, with the texts of
 * its upload, tags and plan (NULL: none). */
int sl_store_items_in_state(struct sl_store *s, const char *state,
                            int (*fn)(void *arg, const char *id, const char *creator,
                                      const char *upload, const char *tags,
                                      const char *plan),
                            void *arg);
/* }===================================================================== */

/* {====================== Reports ====================================== */
/* What the store knows when a report comes, before it is weighed. */
struct sl_report_facts {
    bool already;               /* this user reported this item before */
    bool served;                /* a feed served the item to the user */
    int64_t reports, upheld, dismissed;     /* the reporter's standing so far */
};
int sl_store_report_facts(struct sl_store *s, const char *item, const char *user,
                          struct sl_report_facts *out);
/* One report per user and item: -EEXIST for a second one. */
int sl_store_report_add(struct sl_store *s, const char *item, const char *user, bool served,
                        double weight, int64_t now_ms);
/* A second report of the item by the user: their report of it, if not
 * judged yet, weighs 0 from now on, and the repeat counts in their record. */
int sl_store_report_repeat(struct sl_store *s, const char *item, const char *user);
/* The item's reports people have not judged yet: how many, and their weight. */
int sl_store_report_sum(struct sl_store *s, const char *item, int64_t *n, double *weight);
/* People decided the item: its unjudged reports were upheld (rejected, taken
 * down) or dismissed (approved), and so were their served reporters. */
int sl_store_reports_judge(struct sl_store *s, const char *item, bool upheld);
/* The item's reports, oldest first, then by user (at most 200): [{user,
 * ts_ms, served, weight, judged: pending|dismissed|upheld, reporter:
 * {reports, upheld, dismissed}}]. */
int sl_store_reports_get(struct sl_store *s, const char *item, json_t **out);
/* }===================================================================== */

/* {====================== Statistics =================================== */
/* Items created since since_ms, newest first, at most limit; fn stops early
 * by returning nonzero. */
int sl_store_items_since(struct sl_store *s, int64_t since_ms, int limit,
                         int (*fn)(void *arg, const char *id, const char *state,
                                   const char *upload, const char *tags),
                         void *arg);

/* Since since_ms: {"decisions_by_hour": [{hour_ms, action, count}],
 * "moderators": {actor: {approve: n, reject: n, escalate: n}}}. */
int sl_store_decision_stats(struct sl_store *s, int64_t since_ms, json_t **out);
/* }===================================================================== */

/* {====================== Tokens ======================================= */
/* expires_ms: when the token stops working (daemon time); 0 never. */
int sl_store_token_insert(struct sl_store *s, const char *name, const char *role,
                          const char *hash_hex, int64_t now_ms, int64_t expires_ms);
int sl_store_token_delete(struct sl_store *s, const char *name);
/* Call fn for every token, in name order; stops early when fn returns
 * nonzero. expires_ms 0: never. */
int sl_store_token_each(struct sl_store *s,
                        int (*fn)(void *arg, const char *name, const char *role,
                                  const char *hash_hex, int64_t created_ms,
                                  int64_t expires_ms),
                        void *arg);
/* }===================================================================== */

/* {====================== Copying a whole store ======================== */
/* sluicectl migrate. from: the store of a stopped installation (opened as
 * writer for SQLite, whose transaction then keeps writers out; a reader for
 * PostgreSQL). to: a writer whose open created the schema (-EEXIST
 * otherwise: a copy goes into an empty store only). Both at one schema
 * version, as their opens leave them. Every row of every table is copied
 * in one transaction of to, inside one of from (one snapshot); the counts
 * that triggers keep (creators, item_states) are rebuilt by them. *rows:
 * the rows copied. The copy's audit chain is then for the caller to verify
 * with sl_store_audit_verify() on a new connection. */
int sl_store_copy(struct sl_store *from, struct sl_store *to, int64_t *rows);

/* One row of a table, column by column: what sl_store_copy() moves. */
#define SL_STORE_ROW_MAX 32
struct sl_store_row {
    int n;
    const char *name[SL_STORE_ROW_MAX];
    const char *val[SL_STORE_ROW_MAX];  /* NULL for SQL's NULL */
    size_t len[SL_STORE_ROW_MAX];
    bool bytes[SL_STORE_ROW_MAX];       /* a blob (bytea): len raw bytes; else text */
};
/* }===================================================================== */

/* {====================== Search ======================================= */
/*
 * Items newest first, filtered. Every item has a seq, its number in the
 * order items were stored; newest first is seq descending, and created_ms
 * never decreases in that order (an item stored while the clock stepped
 * back takes the time of the one before), so a time range is a range of
 * seq. Each filter has an index ending in seq; the one expected to yield
 * the fewest items drives the scan and the others are checked on each item
 * it yields, so a page costs the items scanned, not the items stored.
 *
 * A scan ends when limit items were found, at the end of the items, or at
 * deadline: then the page is partial and `next` says where a next page
 * goes on from (it scanned up to there). Searches run on a connection of
 * their own (store/readers.h), never on the loop's.
 */
#define SL_SEARCH_STATES 8
#define SL_SEARCH_TERMS 8
struct sl_search {
    const char *creator;                /* NULL: any (likewise below) */
    const char *states[SL_SEARCH_STATES];
    int nstates;                        /* 0: any state */
    const char *tag;
    double tag_min;                     /* the tag's confidence, at least */
    const char *queue;                  /* waiting in this review queue */
    const char *matched;                /* a plugin match of this name (keyword list, hash bank) */
    const char *match_kind;             /* ... of this kind ("keyword", "hash") */
    const char *decided_by;             /* an actor of a deciding audit record */
    int64_t since_ms, until_ms;         /* since_ms <= created_ms < until_ms; 0: open */
    /* Text: each term a substring of the title, description or transcript,
     * ignoring case. Terms of 3+ characters are answered by the text index;
     * shorter ones are checked on the items another filter yields (ASCII
     * letters ignoring case only). */
    const char *terms[SL_SEARCH_TERMS];
    int nterms;
    int64_t before;                     /* only items with seq < before; 0: from the newest */
    int64_t seq_max;                    /* only items with seq <= seq_max; 0: any */
    int64_t limit;                      /* found items to stop at (> 0) */
    double deadline;                    /* sl_mono() seconds to stop at; 0: none */
};

struct sl_search_end {
    int64_t found;                      /* items fn was called for */
    int64_t scanned;                    /* items looked at */
    int64_t next;                       /* the next page's before; 0: nothing is left */
    bool partial;                       /* the deadline ended the scan */
};

/* Call fn for each item found, newest first; fn returning nonzero stops
 * the scan (next is then that item's seq). 0 (also for a partial page),
 * -ETIMEDOUT when the deadline came before any item was looked at,
 * -EINVAL for a search it cannot run (a term of no character). */
int sl_store_search(struct sl_store *s, const struct sl_search *q,
                    int (*fn)(void *arg, int64_t seq, const char *id), void *arg,
                    struct sl_search_end *end);

/* An item as a search lists it: {id, creator, state, title, created_ms,
 * updated_ms, tags, matches: [{kind, name}] (each once), queue (or null),
 * decided: {actor, action, ts_ms, reason} (its last deciding record, or
 * null)}; -ENOENT when there is none. */
int sl_store_search_row(struct sl_store *s, const char *id, json_t **out);

/* The newest item's seq; 0 when there is none. */
int sl_store_seq_max(struct sl_store *s, int64_t *seq);

/* Bound every statement of this connection in time: past deadline
 * (sl_mono() seconds; 0 lifts the bound) a statement stops, and the search
 * functions end as their comments say (others fail with -EIO). */
void sl_store_deadline(struct sl_store *s, double deadline);
/* Stop the statement the connection runs now; any thread may call it. */
void sl_store_interrupt(struct sl_store *s);
/* }===================================================================== */

/* {====================== Creators ===================================== */
/*
 * What is known of a creator: {creator, standing: {uploads, rejections},
 * states: {state: n}, suspension: {mode, reason, by, since_ms} or null,
 * reports: {items, reports, pending, upheld, dismissed, recent: [{item,
 * user, ts_ms, served, weight, judged}] (the 20 newest against their
 * items)}, reporter: {reports, upheld, dismissed} (their own reports) or
 * null}; -ENOENT when nothing is (no upload, report or suspension).
 */
int sl_store_creator_get(struct sl_store *s, const char *creator, json_t **out);

/* A suspension: new uploads are held for review ("review") or refused
 * ("refuse"). */
struct sl_suspension {
    char mode[16];
    char reason[2048];
    char by[160];
    int64_t since_ms;
};
/* The creator's suspension; -ENOENT when there is none. */
int sl_store_suspension_get(struct sl_store *s, const char *creator, struct sl_suspension *out);
/* Suspend (or change the suspension); lift it: -ENOENT when there was none. */
int sl_store_suspension_set(struct sl_store *s, const char *creator,
                            const struct sl_suspension *sus);
int sl_store_suspension_lift(struct sl_store *s, const char *creator);
/* Every suspension, in no order, until fn answers non-zero. */
int sl_store_suspensions_each(struct sl_store *s,
                              int (*fn)(void *arg, const char *creator,
                                        const struct sl_suspension *sus),
                              void *arg);
/* }===================================================================== */

/* {====================== Matches found later ========================== */
/*
 * Hash banks grow after items are stored: their new hashes are matched
 * against the items that carry perceptual hashes (the upload's "hashes",
 * kept apart for this when the item is stored).
 */

/* Items with hashes, newest first: seq < before and seq <= seq_max,
 * created at since_ms or later; fn(arg, id, hashes: the upload's JSON array
 * of hex, as text) for each, until limit items or deadline (sl_mono()
 * seconds; 0: none). *next: the next call's before (0: no item is left);
 * *examined: the items given to fn. 0, or -ETIMEDOUT when the deadline came
 * before any item. */
int sl_store_item_hashes(struct sl_store *s, int64_t before, int64_t seq_max,
                         int64_t since_ms, int limit, double deadline,
                         int (*fn)(void *arg, const char *id, const char *hashes), void *arg,
                         int64_t *next, int64_t *examined);

/* Add match (a JSON object: {source, kind, name, detail, score, ...}) to
 * the item's matches, unless one of the same kind, name and detail is
 * there already: 0 added (the matched filter of searches finds it from
 * then on), SL_STORE_KEPT when it was there, -ENOENT. */
#define SL_STORE_KEPT 1
int sl_store_item_add_match(struct sl_store *s, const char *item, const char *match,
                            int64_t now_ms);
/* }===================================================================== */

/* {====================== Jobs ========================================= */
/*
 * Work on many items done in slices (bulk actions, retroactive hash
 * matching): a job is a row, and each slice's transaction moves it on with
 * the items it changed, so the progress stored is the work done and a
 * restart goes on from the cursor. The next slice looks at items with
 * seq < cursor; items stored after the job began (seq > seq_max) are not
 * the job's. States: awaiting_confirmation, running, done, cancelled,
 * failed.
 */
struct sl_job_row {
    const char *id;
    const char *kind;           /* "bulk", "retro" */
    const char *action;         /* what it does to the items it finds */
    const char *spec;           /* JSON object: what the kind needs */
    const char *state;          /* "awaiting_confirmation" or "running" */
    const char *created_by;     /* "token:NAME" */
    int64_t seq_max;            /* 0: the newest item's now */
    int64_t total;              /* items expected */
    bool total_exact;           /* ... counted, or at least that many */
    int64_t now_ms;
};
/* -EEXIST for a taken id. */
int sl_store_job_insert(struct sl_store *s, const struct sl_job_row *row);

/* {id, kind, action, spec, state, created_by, confirmed_by, created_ms,
 * updated_ms, finished_ms, seq_max, cursor, total, total_exact, examined,
 * matched, acted, skipped, error}; -ENOENT. */
int sl_store_job_get(struct sl_store *s, const char *id, json_t **out);
/* The job's state (32 bytes); -ENOENT. */
int sl_store_job_peek(struct sl_store *s, const char *id, char *state);
/* The newest jobs first (without their spec), at most limit; kind NULL: any. */
int sl_store_jobs_list(struct sl_store *s, const char *kind, int limit, json_t **out);
/* fn(arg, job as sl_store_job_get gives it, borrowed) for every job in state. */
int sl_store_jobs_each(struct sl_store *s, const char *state,
                       int (*fn)(void *arg, json_t *job), void *arg);

/* Move a job from state `from` (NULL: any but done, cancelled and failed)
 * to `to`, noting who confirmed it (by, when to is "running") or why it
 * failed (error); finished_ms is set for done, cancelled and failed.
 * -ENOENT for no such job, -ESTALE when it is not in `from`. */
int sl_store_job_state(struct sl_store *s, const char *id, const char *from, const char *to,
                       const char *by, const char *error, int64_t now_ms);

/* A slice of a running job written: the cursor, and counts to add; done
 * when finished. -ESTALE when the job is no longer running. */
struct sl_job_slice {
    int64_t cursor;
    int64_t examined, matched, acted, skipped;
    bool finished;
};
int sl_store_job_progress(struct sl_store *s, const char *id, const struct sl_job_slice *p,
                          int64_t now_ms);
/* }===================================================================== */

#endif
