/* SPDX-License-Identifier: MIT */
/* Distribution: waves after approval, feedback decisions, feeds, shares. */
#ifndef SL_DIST_H
#define SL_DIST_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "lib/id.h"

struct sl_server;
struct evbuffer;

/* Build the audience from the store, resume items that were distributing,
 * and start the wave timer. */
int sl_dist_start(struct sl_server *srv);
void sl_dist_stop(struct sl_server *srv);

/* An approved item as the store holds it: the upload's canonical JSON and
 * its tags, as text; the parsed forms too when the caller has them, else
 * NULL; and the item the review hooks saw, when there is one, for the plan
 * hook to see too. All borrowed. */
struct sl_item;
struct sl_dist_item {
    const char *upload, *tags;
    json_t *upload_json, *tags_json;
    struct sl_item *view;
};

/* After the store has committed it: an item became approved (by policy or
 * moderator), was rejected, or was taken down. di NULL: read the item from
 * the store. */
void sl_dist_approved(struct sl_server *srv, const char *item, const struct sl_dist_item *di);

/*
 * An upload the policies approved, taken into distribution before it is
 * stored, so that the store writes it once: born `distributing` with its
 * plan, its first wave and offers in the upload's own transaction, where
 * the way through sl_dist_approved() writes it approved and then updates
 * it. The first wave is placed at once but shows in no feed until
 * sl_dist_taken_done(stored = true).
 *
 * NULL when distribution already knows the id (a retry or a clash: the
 * store decides, and sl_dist_approved() follows if it was new after all).
 */
struct sl_dist_taken;
struct sl_store;
struct sl_dist_taken *sl_dist_take(struct sl_server *srv, const char *item,
                                   const struct sl_dist_item *di);
/* The state and plan (JSON, or NULL) to insert the item with. */
const char *sl_dist_taken_state(const struct sl_dist_taken *t, const char **plan);
/* On the commit thread, after the item row is inserted: the rest. */
int sl_dist_taken_write(struct sl_dist_taken *t, struct sl_store *w);
/* After the upload's commit: stored, the item shows; else it is undone.
 * Frees t. */
void sl_dist_taken_done(struct sl_server *srv, struct sl_dist_taken *t, bool stored);
/* The store has the item rejected or removed: out of every feed, its
 * running wave ended as "withdrawn". */
void sl_dist_withdrawn(struct sl_server *srv, const char *item);
/* The store has the item in review by people's hand (a bulk review, a hash
 * match): distribution holds it as a review of its own would, its running
 * wave ended as "review" by actor, so that an approval (sl_dist_approved)
 * goes on with the plan; an item it does not run leaves every feed. */
void sl_dist_held(struct sl_server *srv, const char *item, const char *actor,
                  const char *reason);

/* The user did something (uploaded, say): they are around. */
void sl_dist_seen(struct sl_server *srv, const char *user);
/* Committed facts the audience mirrors. interests: JSON array or NULL. */
void sl_dist_user(struct sl_server *srv, const char *id, const char *city, json_t *interests);
/* What hooks know of an item beyond its upload: the creator's standing
 * (followers, uploads, rejections) and the platform's size (users, and those
 * seen within the policy's active window, a day when it sets none). */
void sl_dist_item_context(struct sl_server *srv, struct sl_item *item);

/*
 * The creators' standing is kept in memory (dist/standing.c), so every
 * write that adds an item or moves one into or out of state rejected says
 * so: sl_dist_standing_note() on the commit thread, in the write's
 * transaction (it reads the item's creator through w when creator is NULL
 * and the move matters), then sl_dist_standing_moved() on the loop once
 * the write committed. from NULL: a new item. 0 or a negative errno.
 */
struct sl_dist_standing_move {
    char creator[SL_ID_MAX + 1];    /* "": the move changes no standing */
    int64_t uploads, rejections;    /* what it adds to them */
};
struct sl_store;
int sl_dist_standing_note(struct sl_store *w, const char *item, const char *creator,
                          const char *from, const char *to, struct sl_dist_standing_move *m);
void sl_dist_standing_moved(struct sl_server *srv, const struct sl_dist_standing_move *m);
/* Another node's change, from the change feed: a new item of creator in
 * state to (from NULL), or one moved from state from to state to. */
void sl_dist_standing_changed(struct sl_server *srv, const char *creator, const char *from,
                              const char *to);
void sl_dist_follow(struct sl_server *srv, const char *follower, const char *creator, bool on);
void sl_dist_event(struct sl_server *srv, const char *item, const char *user, int type);
/* A run of a batch's events of one item: as sl_dist_event for each, the
 * item looked up once. */
void sl_dist_item_events(struct sl_server *srv, const char *item, const char *const *users,
                         const int *types, size_t n);
/* After a batch of sl_dist_event(): decide the waves it completed. */
void sl_dist_events_done(struct sl_server *srv);

/* The tabs of a user's feed: creators followed, nearby, the rest, or the
 * mix the traffic hook's shares shape. */
enum sl_dist_tab { SL_DIST_TAB_FOLLOW, SL_DIST_TAB_NEARBY, SL_DIST_TAB_DISCOVER,
                   SL_DIST_TAB_MIXED };
#define SL_DIST_FEED_MAX 100        /* items in a page, at most */

/*
 * The next page of user's feed on tab, at most limit (1..SL_DIST_FEED_MAX)
 * items, as the JSON text of an array of {id, creator, source, stage}
 * (*len bytes, not NUL-terminated; the caller frees it). Serving is
 * recorded here: the items leave the user's inbox (none comes twice),
 * count in the feed shares and their creators' exposure, and the store is
 * told they were served. A user the audience does not know gets an empty
 * page. NULL when out of memory; then nothing was served.
 */
char *sl_dist_feed(struct sl_server *srv, const char *user, enum sl_dist_tab tab,
                   size_t limit, size_t *len);

/*
 * Several nodes on one store (srv->node.shared): sl_dist_feed() composes
 * the page and serves nothing; the caller claims its items in the store
 * (sl_store_offers_claim(), through the commit thread) and hands the ids
 * it got here (at most limit: the claim takes the page's first limit
 * unserved): those are served as sl_dist_feed() serves on one node, and
 * are the page the user gets (a new array). Items
 * another node served meanwhile are left out, and leave the inbox when the
 * change feed says so. NULL when out of memory.
 */
json_t *sl_dist_feed_claimed(struct sl_server *srv, const char *user, json_t *page,
                             json_t *claimed, size_t limit);

/* What the one-second timer does: end the waves whose time came, write
 * what is written behind. Also right after the clock was moved forward. */
void sl_dist_tick(struct sl_server *srv);

/* Re-read the traffic hook (after a policy reload). */
void sl_dist_policy_changed(struct sl_server *srv);

/*
 * Replay of recorded waves, for policy replay, which runs on a job's
 * thread. What it needs of the distribution's state is copied on the loop:
 * sl_dist_replay_new takes the pools' baselines, sl_dist_replay_learn the
 * audience's related interests of an item's stored tags. The rest comes
 * from the caller's own store connection and sandboxes.
 */
struct sl_lua;
struct sl_store;
struct sl_dist_replay;
/* On the loop; NULL when out of memory. Freed by sl_dist_replay_free, on
 * any thread. */
struct sl_dist_replay *sl_dist_replay_new(struct sl_server *srv);
void sl_dist_replay_free(struct sl_dist_replay *rp);
/* On the loop: 0, or -ENOMEM. */
int sl_dist_replay_learn(struct sl_server *srv, struct sl_dist_replay *rp, json_t *tags);
/* On the thread that owns reader, live and candidate: decide every
 * decided wave of item id (read through reader) again, by plugins then
 * live, and by plugins then candidate, with the same recorded stats, live's
 * related interests (its related hook, else what rp learned) and the
 * creator's and platform's figures of context; returns the waves whose
 * answer differs, [{id, wave, audience, decided_by, from, to, by}], and
 * adds the waves examined to *examined. */
struct sl_plugins;
json_t *sl_dist_replay_waves(struct sl_dist_replay *rp, struct sl_store *reader,
                             struct sl_plugins *plugins, struct sl_lua *live,
                             struct sl_lua *candidate, const struct sl_item *context,
                             const char *id, json_t *upload, json_t *tags, int *examined);

/*
 * Several nodes on one store (store/shared.h; dist/leases.c): the items
 * this node runs are those whose leases it holds. A renewal of its leases
 * is numbered before it is sent; its answer (the ids renewed) drops the
 * items taken before it and missing from it. Leases taken over are
 * resumed from the store as at start-up.
 */
uint32_t sl_dist_leases_renewing(struct sl_server *srv);
void sl_dist_leases_renewed(struct sl_server *srv, uint32_t gen, json_t *items);
void sl_dist_leases_taken(struct sl_server *srv, json_t *items);
void sl_dist_lease_metrics(struct sl_server *srv, struct evbuffer *out);
/* Other nodes' changes, from the change feed (dist/remote.c): a wave's
 * offers ({wave, source, creator, city, users}) into the inboxes here,
 * items a feed served elsewhere out of the user's inbox, an item's change
 * of state. */
void sl_dist_remote_offers(struct sl_server *srv, const char *item, json_t *data);
void sl_dist_remote_served(struct sl_server *srv, const char *user, json_t *items);
void sl_dist_remote_state(struct sl_server *srv, const char *item, const char *from,
                          const char *to);
/* A report another node weighed and stored, on an item this node runs:
 * whether the reports so far take it back to people is decided here. */
void sl_dist_remote_report(struct sl_server *srv, const char *item);

/* The item's report card: {pending (unjudged reports), weight (theirs),
 * threshold (what pulls it back now), reports: [...] (sl_store_reports_get)};
 * NULL when the store fails. */
json_t *sl_dist_reports(struct sl_server *srv, const char *item);

/* The item's journey: every wave with audience, size, stats, decision. */
json_t *sl_dist_journey(struct sl_server *srv, const char *item);

/* {"funnel": {...}, "shares": {"private","ordinary","gini"}} for /v1/stats. */
json_t *sl_dist_stats(struct sl_server *srv);
void sl_dist_metrics(struct sl_server *srv, struct evbuffer *out);

#endif
