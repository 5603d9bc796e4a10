/* SPDX-License-Identifier: MIT */
/* What a store backend implements: every function of store.h, listed once. */
#ifndef SL_STORE_BACKEND_H
#define SL_STORE_BACKEND_H

/*
 * Private to store/. A backend implements each function of store.h under
 * its own prefix, with its own connection type first: sl_sqlite_item_get
 * (struct sl_sqlite *, ...), sl_pg_item_get(struct sl_pg *, ...). store.c
 * makes store.h's sl_store_item_get() call the one the store was opened
 * with. The list below gives each function's name, its parameters after
 * the connection, and those parameters' names; a function added to store.h
 * gets a line here and one in each backend (the linker names a missing one).
 *
 * Not listed, written out in store.c: open, free, created, the
 * functions whose only parameter is the connection (transactions, sync),
 * and the search's deadline and interrupt, which answer nothing.
 */

#include "store/shared.h"
#include "store/store.h"

#define SL_STORE_FUNCS(X) \
    /* Transactions */ \
    X(backup, (const char *path), (path)) \
    X(bulk, (bool on), (on)) \
    /* Items */ \
    X(item_insert, (const struct sl_item_row *row), (row)) \
    X(item_peek, (const char *id, char *hash, char *state), (id, hash, state)) \
    X(item_get, (const char *id, json_t **out), (id, out)) \
    X(item_states, (json_t **out), (out)) \
    X(item_state, (const char *id, char *state), (id, state)) \
    X(item_set_state, (const char *id, const char *state, int64_t now_ms), (id, state, now_ms)) \
    X(item_update, (const char *id, const char *state, const char *plan, int64_t now_ms), \
      (id, state, plan, now_ms)) \
    X(item_merge_tags, (const char *id, const char *tags, int64_t now_ms), (id, tags, now_ms)) \
    X(creator_standing, (const char *creator, int64_t *uploads, int64_t *rejections), \
      (creator, uploads, rejections)) \
    X(creators_each, (int (*fn)(void *arg, const char *creator, int64_t uploads, \
                                int64_t rejections), void *arg), (fn, arg)) \
    /* Audit */ \
    X(audit_key, (const uint8_t *key, size_t len, int64_t keyed_from), (key, len, keyed_from)) \
    X(audit_append, (const struct sl_audit_rec *rec), (rec)) \
    X(audit_list, (const char *item, int64_t after, int limit, json_t **out), \
      (item, after, limit, out)) \
    X(audit_head, (struct sl_audit_head *out), (out)) \
    X(audit_hash, (int64_t seq, char *hash), (seq, hash)) \
    X(audit_verify, (struct sl_audit_check *c), (c)) \
    /* Users and follows */ \
    X(user_upsert, (const char *id, const char *city, const char *interests, int64_t now_ms), \
      (id, city, interests, now_ms)) \
    X(user_get, (const char *id, json_t **out), (id, out)) \
    X(follow_set, (const char *follower, const char *creator, bool on, int64_t now_ms), \
      (follower, creator, on, now_ms)) \
    X(follows_set, (struct sl_follow_row *rows, size_t n, int64_t now_ms), (rows, n, now_ms)) \
    X(user_seen, (const char *id, int64_t seen_s), (id, seen_s)) \
    /* Events */ \
    X(events_insert, (const struct sl_event_row *ev, size_t n, int64_t now_ms, int64_t *seq), \
      (ev, n, now_ms, seq)) \
    X(events_since, (int64_t after, \
                     int (*each)(void *arg, int64_t seq, const struct sl_event_row *ev), \
                     void *arg), (after, each, arg)) \
    X(counters_add, (const char *item, const int64_t n[SL_STORE_COUNTERS]), (item, n)) \
    X(counters_get, (const char *item, const char *mark, int64_t counts[SL_STORE_COUNTERS], \
                     int64_t *counted), (item, mark, counts, counted)) \
    X(mark_get, (const char *name, int64_t *value), (name, value)) \
    X(mark_set, (const char *name, int64_t value), (name, value)) \
    /* Review queue */ \
    X(queue_put, (const char *item, const char *queue, int priority, const char *reason, \
                  const char *escalated_by, int64_t now_ms), \
      (item, queue, priority, reason, escalated_by, now_ms)) \
    X(queue_remove, (const char *item), (item)) \
    X(queue_get, (const char *item, struct sl_queue_entry *e), (item, e)) \
    X(queue_claim, (const char *queue, const char *who, int limit, int64_t now_ms, \
                    int64_t lease_ms, const char *sla, json_t **out), \
      (queue, who, limit, now_ms, lease_ms, sla, out)) \
    X(queue_renew, (const char *item, int64_t lease_until_ms), (item, lease_until_ms)) \
    X(queue_list, (const char *queue, int limit, int64_t now_ms, const char *sla, \
                   json_t **out), (queue, limit, now_ms, sla, out)) \
    X(queue_depths, (int64_t now_ms, const char *sla, json_t **out), (now_ms, sla, out)) \
    /* Hash banks */ \
    X(hashbank_set, (const char *bank, const char *hash_hex, bool on, int64_t now_ms), \
      (bank, hash_hex, on, now_ms)) \
    X(hashbank_each, (int (*fn)(void *arg, const char *bank, const char *hash_hex), \
                      void *arg), (fn, arg)) \
    /* Distribution */ \
    X(wave_put, (const char *item, int n, const char *wave), (item, n, wave)) \
    X(waves_get, (const char *item, json_t **out), (item, out)) \
    X(waves_each, (const char *state, \
                   int (*fn)(void *arg, const char *item, int n, const char *text, size_t len), \
                   void *arg), (state, fn, arg)) \
    X(offer_wave, (const char *item, int wave, int source, const char *const *users, \
                   size_t n), (item, wave, source, users, n)) \
    X(offers_each, (const char *item, \
                    int (*fn)(void *arg, const char *user, int wave, int source, bool served), \
                    void *arg), (item, fn, arg)) \
    X(offer_served, (const char *item, const char *user), (item, user)) \
    X(offers_claim, (const char *user, json_t *items, int limit, json_t **claimed), \
      (user, items, limit, claimed)) \
    X(offer_waves_each, (const char *state, \
                         int (*fn)(void *arg, const char *item, int wave, int source, \
                                   const char *const *users, size_t n), \
                         void *arg), (state, fn, arg)) \
    X(served_each, (const char *state, \
                    int (*fn)(void *arg, const char *item, const char *user), void *arg), \
      (state, fn, arg)) \
    X(users_each, (int (*fn)(void *arg, const char *id, const char *city, \
                             const char *interests, int64_t seen_s), void *arg), (fn, arg)) \
    X(follows_each, (int (*fn)(void *arg, const char *follower, const char *creator), \
                     void *arg), (fn, arg)) \
    X(items_in_state, (const char *state, \
                       int (*fn)(void *arg, const char *id, const char *creator, \
                                 const char *upload, const char *tags, const char *plan), \
                       void *arg), (state, fn, arg)) \
    /* Reports */ \
    X(report_facts, (const char *item, const char *user, struct sl_report_facts *out), \
      (item, user, out)) \
    X(report_add, (const char *item, const char *user, bool served, double weight, \
                   int64_t now_ms), (item, user, served, weight, now_ms)) \
    X(report_sum, (const char *item, int64_t *n, double *weight), (item, n, weight)) \
    X(reports_judge, (const char *item, bool upheld), (item, upheld)) \
    X(report_repeat, (const char *item, const char *user), (item, user)) \
    X(reports_get, (const char *item, json_t **out), (item, out)) \
    /* Statistics */ \
    X(items_since, (int64_t since_ms, int limit, \
                    int (*fn)(void *arg, const char *id, const char *state, \
                              const char *upload, const char *tags), \
                    void *arg), (since_ms, limit, fn, arg)) \
    X(decision_stats, (int64_t since_ms, json_t **out), (since_ms, out)) \
    /* Tokens */ \
    X(token_insert, (const char *name, const char *role, const char *hash_hex, int64_t now_ms, \
                     int64_t expires_ms), (name, role, hash_hex, now_ms, expires_ms)) \
    X(token_delete, (const char *name), (name)) \
    X(token_each, (int (*fn)(void *arg, const char *name, const char *role, \
                             const char *hash_hex, int64_t created_ms, int64_t expires_ms), \
                   void *arg), (fn, arg)) \
    /* Search (deadline and interrupt: below) */ \
    X(search, (const struct sl_search *q, int (*fn)(void *arg, int64_t seq, const char *id), \
               void *arg, struct sl_search_end *end), (q, fn, arg, end)) \
    X(search_row, (const char *id, json_t **out), (id, out)) \
    X(seq_max, (int64_t *seq), (seq)) \
    /* Creators */ \
    X(creator_get, (const char *creator, json_t **out), (creator, out)) \
    X(suspension_get, (const char *creator, struct sl_suspension *out), (creator, out)) \
    X(suspension_set, (const char *creator, const struct sl_suspension *sus), (creator, sus)) \
    X(suspension_lift, (const char *creator), (creator)) \
    X(suspensions_each, (int (*fn)(void *arg, const char *creator, \
                                   const struct sl_suspension *sus), void *arg), (fn, arg)) \
    /* Matches found later */ \
    X(item_hashes, (int64_t before, int64_t seq_max, int64_t since_ms, int limit, \
                    double deadline, \
                    int (*fn)(void *arg, const char *id, const char *hashes), void *arg, \
                    int64_t *next, int64_t *examined), \
      (before, seq_max, since_ms, limit, deadline, fn, arg, next, examined)) \
    X(item_add_match, (const char *item, const char *match, int64_t now_ms), \
      (item, match, now_ms)) \
    /* Jobs */ \
    X(job_insert, (const struct sl_job_row *row), (row)) \
    X(job_get, (const char *id, json_t **out), (id, out)) \
    X(job_peek, (const char *id, char *state), (id, state)) \
    X(jobs_list, (const char *kind, int limit, json_t **out), (kind, limit, out)) \
    X(jobs_each, (const char *state, int (*fn)(void *arg, json_t *job), void *arg), \
      (state, fn, arg)) \
    X(job_state, (const char *id, const char *from, const char *to, const char *by, \
                  const char *error, int64_t now_ms), (id, from, to, by, error, now_ms)) \
    X(job_progress, (const char *id, const struct sl_job_slice *p, int64_t now_ms), \
      (id, p, now_ms)) \
    /* Copying a whole store (copy.c): every row of a table of the schema, \
     * one row into a table (the writer), and after the copy whatever the \
     * backend numbers by itself set past what was copied. */ \
    X(table_each, (const char *table, \
                   int (*fn)(void *arg, const struct sl_store_row *row), void *arg), \
      (table, fn, arg)) \
    X(table_put, (const char *table, const struct sl_store_row *row), (table, row))

/* Calls of the list above that store.h does not show: copy.c's. */
int sl_store_table_each(struct sl_store *s, const char *table,
                        int (*fn)(void *arg, const struct sl_store_row *row), void *arg);
int sl_store_table_put(struct sl_store *s, const char *table, const struct sl_store_row *row);
int sl_store_copied(struct sl_store *s);

/* What only a store several nodes share implements (shared.h): PostgreSQL
 * alone; store.c answers -ENOTSUP for the others. */
#define SL_SHARED_FUNCS(X) \
    X(node_join, (const char *name, const char *version, int64_t started_ms, \
                  int64_t before_ms, int64_t live_ms, int64_t *seen_ago_ms), \
      (name, version, started_ms, before_ms, live_ms, seen_ago_ms)) \
    X(node_beat, (const char *name, int64_t started_ms, const char *policy), \
      (name, started_ms, policy)) \
    X(node_leave, (const char *name, int64_t started_ms), (name, started_ms)) \
    X(nodes_list, (json_t **out), (out)) \
    X(fence_next, (int64_t *fence), (fence)) \
    X(lease_take, (const char *item, const char *node, int64_t fence, int64_t lease_ms), \
      (item, node, fence, lease_ms)) \
    X(lease_check, (const char *item, const char *node, int64_t fence), (item, node, fence)) \
    X(lease_drop, (const char *item), (item)) \
    X(lease_give_up, (const char *item, const char *node, int64_t fence, bool gone), \
      (item, node, fence, gone)) \
    X(leases_renew, (const char *node, int64_t fence, int64_t lease_ms, json_t **items), \
      (node, fence, lease_ms, items)) \
    X(leases_takeover, (const char *node, int64_t fence, int64_t lease_ms, int limit, \
                        json_t **items), (node, fence, lease_ms, limit, items)) \
    X(node_set, (const char *name), (name)) \
    X(feed_horizon, (uint64_t *h), (h)) \
    X(feed_window, (uint64_t from, uint64_t to, \
                    int (*change)(void *arg, const struct sl_store_change *c), \
                    int (*event)(void *arg, const char *node, const struct sl_event_row *ev), \
                    void *arg), (from, to, change, event, arg)) \
    X(feed_wait, (int timeout_ms), (timeout_ms)) \
    X(policy_put, (const char *version, const char *files, int64_t at_ms, const char *by), \
      (version, files, at_ms, by)) \
    X(policy_get, (const char *version, char **got, char **files), (version, got, files))

/* (a, b) -> (struct sl_pg *s, a, b): a backend's parameter list. */
#define SL_PG_PARAMS(...) (struct sl_pg *s, __VA_ARGS__)
#define SL_SQLITE_PARAMS(...) (struct sl_sqlite *s, __VA_ARGS__)

/* The prototypes of one backend's functions. */
#define SL_PG_DECLARE(name, params, args) int sl_pg_##name SL_PG_PARAMS params;
#define SL_SQLITE_DECLARE(name, params, args) int sl_sqlite_##name SL_SQLITE_PARAMS params;

/* The functions whose one parameter is the connection. */
#define SL_STORE_TX_FUNCS(X) \
    X(begin) X(commit) X(rollback) X(savepoint) X(release) X(rollback_to) X(sync) X(copied) \
    X(index) X(index_later)

struct sl_pg;
struct sl_sqlite;

/* The two that answer nothing, written out in store.c too. */
void sl_pg_deadline(struct sl_pg *s, double deadline);
void sl_pg_interrupt(struct sl_pg *s);
void sl_sqlite_deadline(struct sl_sqlite *s, double deadline);
void sl_sqlite_interrupt(struct sl_sqlite *s);

#define SL_BACKEND_DECLARE_REST(prefix, conn) \
    int prefix##_open(const char *store, const char *dir, bool writer, conn **out); \
    void prefix##_free(conn *s); \
    bool prefix##_created(const conn *s);
#define SL_PG_DECLARE_TX(name) int sl_pg_##name(struct sl_pg *s);
#define SL_SQLITE_DECLARE_TX(name) int sl_sqlite_##name(struct sl_sqlite *s);

#endif
