/* SPDX-License-Identifier: MIT */
/* The in-memory audience: users, the follow graph, groups, related interests, waves, inboxes. */
#ifndef SL_AUDIENCE_H
#define SL_AUDIENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/id.h"

/*
 * One struct sl_audience holds what the distribution hot paths need, rebuilt
 * from the store at start. It is not thread-safe: call it from the event
 * loop's thread only. It has no globals; two audiences are independent.
 *
 * Users (creators are users too) are named by string ids outside and by
 * dense uint32 indices inside: an index is stable for the audience's life
 * (users are never deleted). Items get a uint32 handle from
 * sl_audience_item_new(). Strings returned (const char *) are owned by the
 * audience and live as long as it does, except item ids, which live as long
 * as the item (see sl_audience_item_release()). Lists returned as
 * struct sl_aud_list point into the audience and are valid until the next
 * call that changes it. Functions return 0 or a negative errno; on -EINVAL
 * nothing changed.
 *
 * Memory: about 140 bytes a user (record, id slot and string, inbox
 * pointer, circle) and 8 bytes a follow edge (4 in each direction), 4 bytes
 * a city or interest membership, with up to 2x slack in growing arrays plus
 * the allocator's overhead for each user's own arrays; an inbox costs 8
 * bytes an entry, up to inbox_max. bench/bench_audience measures about
 * 300 MiB resident at 1,000,000 users (a city and 3 interests each) and
 * 10,000,000 edges.
 */

#define SL_AUD_NONE UINT32_MAX          /* no user, city, item or label */
#define SL_AUD_ID_MAX SL_ID_MAX         /* ids as in lib/id.h */
#define SL_AUD_CITY_MAX 128             /* city names: 1..128 bytes, no control characters */
#define SL_AUD_INTERESTS_MAX 64         /* per user, and per item in sl_audience_engage() */
#define SL_AUD_INBOX_MAX 65535

struct sl_audience;

struct sl_audience_conf {
    uint64_t seed;                  /* hashing, picks and groups: same seed and calls, same results */
    uint32_t inbox_max;             /* entries kept per user (the newest); 1..SL_AUD_INBOX_MAX */
    uint32_t related_max_pairs;     /* co-engagement pairs kept before counts are halved */
    uint32_t related_min_count;     /* pairs seen fewer times are not reported */
    uint32_t group_rounds;          /* label propagation rounds at most */
};

/* seed 1, inbox_max 200, related_max_pairs 1<<20, related_min_count 3, group_rounds 10. */
void sl_audience_conf_default(struct sl_audience_conf *conf);

/* NULL conf: the defaults. NULL on a bad conf or out of memory. */
struct sl_audience *sl_audience_new(const struct sl_audience_conf *conf);
void sl_audience_free(struct sl_audience *a);

/* A read-only view into the audience; order unspecified. */
struct sl_aud_list {
    const uint32_t *v;
    size_t n;
};

/* {====================== Users ======================================== */

/* Index of id, creating a user with no city nor interests if new. */
int sl_audience_user_add(struct sl_audience *a, const char *id, uint32_t *idx);
/* The same for ids[0..n) at once, faster in a large audience: out[i] is
 * the index, or SL_AUD_NONE for an invalid id (or out of memory); returns
 * how many have an index. */
size_t sl_audience_users_add(struct sl_audience *a, const char *const *ids, size_t n,
                             uint32_t *out);

/* A user id as the audience keys it: worked out on any thread (it reads
 * only the audience's seed), so that a start's reader can hash the ids it
 * hands the loop. false for an invalid id. */
struct sl_aud_key {
    const char *id;
    uint32_t len, hash;
};
bool sl_audience_key(const struct sl_audience *a, const char *id, struct sl_aud_key *key);
/* sl_audience_users_add() of ids keyed by sl_audience_key(). */
size_t sl_audience_users_add_keyed(struct sl_audience *a, const struct sl_aud_key *keys,
                                   size_t n, uint32_t *out);
/* Index of an existing user: 0, -ENOENT, -EINVAL (not an id). */
int sl_audience_user_find(const struct sl_audience *a, const char *id, uint32_t *idx);
size_t sl_audience_user_count(const struct sl_audience *a);
/* NULL for an index out of range. */
const char *sl_audience_user_id(const struct sl_audience *a, uint32_t idx);

/*
 * Create or update a user (POST /v1/users). city: NULL keeps it, "" clears
 * it. interests: NULL keeps them (n ignored), otherwise replaces them with
 * interests[0..n) (duplicates dropped; n = 0 clears). *idx (idx may be
 * NULL): the user's index once they exist, even when a field then could
 * not be set for want of memory; untouched when refused.
 */
int sl_audience_user_set(struct sl_audience *a, const char *id, const char *city,
                         const char *const *interests, size_t n, uint32_t *idx);
/* Whether sl_audience_user_set() would take these (it refuses nothing
 * else but for want of memory): pure, any thread may ask. */
bool sl_audience_user_ok(const char *id, const char *city, const char *const *interests,
                         size_t n);
/* The user's city, NULL when none or idx is out of range. */
const char *sl_audience_user_city(const struct sl_audience *a, uint32_t idx);
/* Writes up to max interest names to out; returns how many the user has. */
size_t sl_audience_user_interests(const struct sl_audience *a, uint32_t idx,
                                  const char **out, size_t max);

/* }===================================================================== */

/* {====================== Activity ===================================== */

/*
 * When each user was last seen doing something (reading a feed, reacting,
 * being created or changed): seconds since the epoch, 4 bytes a user, 0 for
 * never. Waves use it: a platform's users do not all come back, and one
 * who is away must neither take a public wave's place from one who reads
 * nor hold a wave open by never looking.
 */

/* user was active at t_s; an earlier time than the one known is ignored. */
void sl_audience_touch(struct sl_audience *a, uint32_t user, uint32_t t_s);
/* Last activity of user (0: never, or a bad index). */
uint32_t sl_audience_last_active(const struct sl_audience *a, uint32_t user);

/*
 * How picks use it (both 0 by default: activity is ignored). Except for a
 * "followers" audience (the creator's own, placed whoever they are), a pick
 * takes users active since active_since first, then the others not away,
 * and never a user last active before away_before (or never active).
 */
void sl_audience_set_activity(struct sl_audience *a, uint32_t active_since,
                              uint32_t away_before);
/* Of users[0..n), how many are not away (last active at or after away_before). */
size_t sl_audience_count_present(const struct sl_audience *a, const uint32_t *users,
                                 size_t n, uint32_t away_before);
/* Users last active at or after since (O(users)). */
size_t sl_audience_active_count(const struct sl_audience *a, uint32_t since);

/* }===================================================================== */

/* {====================== The follow graph ============================= */

/*
 * Add (on) or remove a follow edge; users named are created when on. Doing
 * what is already so is not an error. -EINVAL for bad ids or a self-follow.
 *
 * Each user keeps two sets of user indices, following and followers, as a
 * uint32 array: a sorted run followed by a short unsorted tail (at most
 * about sqrt(n) + 16 entries). Membership is a binary search plus a scan of
 * the tail; an insert appends to the tail, and a full tail is sorted and
 * merged into the run, so a set of n costs O(sqrt n) a change and 4 bytes
 * an entry. Removal shifts the array (unfollows are rare).
 */
int sl_audience_follow(struct sl_audience *a, const char *follower, const char *creator, bool on);
/* sl_audience_follow(on) of two users by their indexes: -EINVAL for one
 * out of range or both the same. */
int sl_audience_follow_users(struct sl_audience *a, uint32_t follower, uint32_t creator);
bool sl_audience_follows(const struct sl_audience *a, uint32_t follower, uint32_t creator);
size_t sl_audience_followers_count(const struct sl_audience *a, uint32_t idx);
size_t sl_audience_following_count(const struct sl_audience *a, uint32_t idx);
struct sl_aud_list sl_audience_followers(const struct sl_audience *a, uint32_t idx);
struct sl_aud_list sl_audience_following(const struct sl_audience *a, uint32_t idx);

/*
 * Loading from the store: between begin and end, follows and interest and
 * city memberships are appended without the duplicate check (the store's
 * keys already make them unique), and end sorts every set once. Queries
 * in between are correct but slow.
 */
void sl_audience_bulk_begin(struct sl_audience *a);
void sl_audience_bulk_end(struct sl_audience *a);

/* }===================================================================== */

/* {====================== Cities and interests ========================= */

/* Users in a city / with an interest; empty for a name nobody has. */
struct sl_aud_list sl_audience_city_users(const struct sl_audience *a, const char *city);
struct sl_aud_list sl_audience_interest_users(const struct sl_audience *a, const char *interest);

/* }===================================================================== */

/* {====================== Groups ======================================= */

/*
 * Recompute the follow-graph groups ("circles") by label propagation over the
 * undirected follow graph: every user starts with its own label; in each of
 * at most group_rounds rounds, users in a seeded random order take the label
 * with the most votes among their followers and followees, a neighbour's
 * vote weighing 1 / (1 + its followers + followees) (a mutual follow counts
 * twice). The weights keep hubs from pulling everyone into one circle:
 * following a celebrity says little about one's circle. Ties keep the
 * current label, else go to the label with the least seeded hash. Stops early when nothing changes. Deterministic for a seed
 * and a graph. O(rounds * (U + E)) time and 16 bytes a user of scratch while
 * it runs; the result keeps 12 bytes a user.
 *
 * sl_audience_regroup() does it all at once (seconds at 1,000,000 users and
 * 10,000,000 edges). sl_audience_regroup_step() does about `budget` units of
 * work (a unit is one neighbour looked at; a user's neighbours are never
 * split) and returns, so a timer can spread the work over many loop turns;
 * *done (may be NULL) turns true when the new circles replace the old ones.
 * Until then the old circles stay in force. A run covers the users that
 * existed when it began; users added later have no circle until the next.
 * sl_audience_regroup() abandons a run in progress and starts afresh.
 */
int sl_audience_regroup(struct sl_audience *a);
int sl_audience_regroup_step(struct sl_audience *a, size_t budget, bool *done);

/*
 * The default groups(user): "circle:ID", ID being the user whose label the
 * circle carries, then "interest:NAME" for each interest. Calls fn for each;
 * a non-zero return from fn stops and is returned. -ENOENT for a bad index.
 */
typedef int (*sl_aud_name_fn)(void *ctx, const char *name);
int sl_audience_groups(const struct sl_audience *a, uint32_t idx, sl_aud_name_fn fn, void *ctx);

/*
 * Members of "circle:ID" or "interest:NAME", or of any other name through
 * the group source: 0 (an empty list for a name nobody is in), or -EINVAL
 * for another kind of name when there is no source.
 */
int sl_audience_group_members(const struct sl_audience *a, const char *group,
                              struct sl_aud_list *out);

/*
 * Groups defined outside the audience (a policy's groups(user) hook): the
 * source answers for names that are neither circle: nor interest:, with
 * user indices valid until the source next changes. NULL fn: none.
 */
typedef int (*sl_aud_group_source)(void *ctx, const char *name, struct sl_aud_list *out);
void sl_audience_set_group_source(struct sl_audience *a, sl_aud_group_source fn, void *ctx);

/* }===================================================================== */

/* {====================== Related interests ============================ */

/*
 * Learn from one engagement (the caller decides which events count, e.g.
 * like, complete, share): user `user` engaged with an item tagged with
 * interests[0..n). For every item interest X and user interest Y != X the
 * pair (X, Y) is counted, along with how many engagements touched X-tagged
 * items (e_X) and how many came from users with Y (u_Y). Memory is bounded:
 * when related_max_pairs pairs are kept, every count is halved and pairs
 * reaching 0 are dropped, which also lets old tastes fade.
 * -EINVAL for a bad index or interest name, or n > SL_AUD_INTERESTS_MAX.
 */
int sl_audience_engage(struct sl_audience *a, uint32_t user,
                       const char *const *interests, size_t n);

struct sl_aud_related {
    const char *interest;
    double score;           /* c / (e_X + u_Y - c): Jaccard over engagements, in (0, 1] */
    uint32_t count;         /* c: engagements with X items by Y users */
};

/*
 * The default related(interest): up to max interests Y with count >=
 * related_min_count, best score first (ties: higher count, then name).
 * Returns how many were written.
 */
size_t sl_audience_related(const struct sl_audience *a, const char *interest,
                           struct sl_aud_related *out, size_t max);
/* Pairs kept now (never more than related_max_pairs). */
size_t sl_audience_related_pairs(const struct sl_audience *a);

/* }===================================================================== */

/* {====================== Items and waves ============================== */

enum sl_aud_source {
    SL_AUD_FOLLOWERS = 1,
    SL_AUD_NEARBY = 2,
    SL_AUD_INTEREST = 3,
    SL_AUD_GROUP = 4,
    SL_AUD_EVERYONE = 5,
};

/* "followers", "nearby", "interest", "group", "everyone"; NULL if unknown. */
const char *sl_audience_source_name(enum sl_aud_source source);

/*
 * A distributable item: creator (created as a user if new), and the city
 * "nearby" waves use (NULL or "": the creator's city at pick time). Starts
 * live. -EEXIST (with *h set) when an item of that id is still held. An id
 * whose item was released (settled, or withdrawn) gets a new handle: the
 * old one stops being live, and lives on apart while entries name it.
 */
int sl_audience_item_new(struct sl_audience *a, const char *id, const char *creator,
                         const char *city, uint32_t *h);
int sl_audience_item_find(const struct sl_audience *a, const char *id, uint32_t *h);
/* NULL / SL_AUD_NONE for a bad handle. */
const char *sl_audience_item_id(const struct sl_audience *a, uint32_t h);

/*
 * Takedown, rejection or back to review: live = false hides the item from
 * every inbox at once, in O(1): readers skip entries of items that are not
 * live and drop them as they pass (and a full inbox drops them before
 * evicting anything). Entries not yet dropped show again if the item is
 * made live again. Waves of an item that is not live are refused.
 */
int sl_audience_item_set_live(struct sl_audience *a, uint32_t h, bool live);

/*
 * Pending: entries of h stay in inboxes (and count as live) but no read
 * returns them, until it is not pending. For an item placed before the
 * store has it: a read must neither show it early nor drop it.
 */
int sl_audience_item_set_pending(struct sl_audience *a, uint32_t h, bool pending);

/*
 * The caller will start no more waves of h: its offered set is freed. The
 * item (id, liveness) lives on while inbox entries name it, then its handle
 * is recycled; set_live still works meanwhile.
 */
int sl_audience_item_release(struct sl_audience *a, uint32_t h);

bool sl_audience_item_offered(const struct sl_audience *a, uint32_t h, uint32_t user);
size_t sl_audience_item_offered_count(const struct sl_audience *a, uint32_t h);

/*
 * Choose up to size users of the audience ("followers" of the creator,
 * "nearby" in the item's city, "interest:NAME", "group:NAME" with a name as
 * in sl_audience_group_members(), "everyone") who have not been offered h
 * and are not its creator, into out[0..*n) (caller-owned, room for size).
 * The order is a seeded pseudo-random permutation of the audience, salted
 * with the item and the number of picks made for it, so picks are
 * deterministic for a seed and successive waves start in different places.
 * Changes nothing but that count: see sl_audience_place() and
 * sl_audience_wave(). Cost: about one permutation step per user looked at,
 * so O(size) while the audience is mostly fresh; an audience offered the
 * item almost entirely already is scanned up to its whole length. A name nobody matches gives *n = 0; -EINVAL for an
 * unknown audience kind; -ESTALE for a released item; -EPERM if not live.
 */
int sl_audience_pick(struct sl_audience *a, uint32_t h, const char *audience, size_t size,
                     uint32_t *out, size_t *n);

/*
 * Offer h to users[0..n): mark them offered and put (h, source, wave) in
 * their inboxes. Users already offered h, and its creator, are skipped;
 * *placed (may be NULL) counts the rest. wave: 0..65535.
 */
int sl_audience_place(struct sl_audience *a, uint32_t h, const uint32_t *users, size_t n,
                      enum sl_aud_source source, uint32_t wave, size_t *placed);

/* Mark users offered without placing anything (rebuilding from the store). */
int sl_audience_mark_offered(struct sl_audience *a, uint32_t h, const uint32_t *users, size_t n);

/*
 * Start a wave: pick, then place with the audience's source. out may be
 * NULL; otherwise it receives the users placed (room for size).
 */
int sl_audience_wave(struct sl_audience *a, uint32_t h, const char *audience, size_t size,
                     uint32_t wave, uint32_t *out, size_t *n);

/* }===================================================================== */

/* {====================== Inboxes ====================================== */

struct sl_aud_entry {
    uint32_t item;          /* handle */
    const char *item_id;    /* owned by the audience, valid while the entry is */
    uint32_t creator;
    uint32_t wave;
    enum sl_aud_source source;
};

/*
 * Up to max live entries of user's inbox, newest first, into out
 * (caller-owned). Entries of items no longer live are dropped on the way.
 * Returns how many were written (0 for a bad index).
 */
size_t sl_audience_inbox_read(struct sl_audience *a, uint32_t user,
                              struct sl_aud_entry *out, size_t max);
/* Take h out of user's inbox once served: 0 or -ENOENT. */
int sl_audience_inbox_remove(struct sl_audience *a, uint32_t user, uint32_t h);

/* }===================================================================== */

/* {====================== Creators: the head and exposure ============== */

/*
 * The head is the top `share` (0..1) of creators (users with an item) by
 * followers: the threshold is the follower count of the ceil(share * C)-th
 * biggest, and a creator with at least that many (and at least one) is in
 * the head. Recompute on demand (O(C log C)); share 0 empties the head.
 */
int sl_audience_head_update(struct sl_audience *a, double share);
bool sl_audience_is_head(const struct sl_audience *a, uint32_t creator);
/* Mark a user as a creator without an item (loading settled items). */
int sl_audience_creator_mark(struct sl_audience *a, uint32_t idx);

/* Count n more items of creator served; the count saturates. */
int sl_audience_exposure_add(struct sl_audience *a, uint32_t creator, uint32_t n);
/* Gini coefficient of exposures over all creators (0 with none). */
int sl_audience_exposure_gini(const struct sl_audience *a, double *out);

/* }===================================================================== */

#endif
