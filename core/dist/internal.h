/* SPDX-License-Identifier: MIT */
/* What the parts of distribution share: its state, its items, their waves. */
#ifndef SL_DIST_INTERNAL_H
#define SL_DIST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <event2/util.h>
#include <jansson.h>

#include "audience/audience.h"
#include "dist/dist.h"
#include "lib/event.h"
#include "lib/id.h"
#include "server.h"
#include "store/commit.h"

/*
 * The life of an approved item: a plan (from the policy's plan hook, or the
 * built-in one) lists waves; each wave picks that many users of its audience
 * who were never offered the item and places it in their inboxes. Events
 * fill the running wave's counters; when every placed user has seen it, or
 * its time is up, the policy's wave_done hook says continue (the next
 * planned wave), switch (the next wave goes to another audience) or stop.
 * The in-memory state here is the truth for the loop; every change is also
 * queued to the store, so a restart resumes where it was.
 *
 * dist.h is the module's face; its parts share what is here (internals are
 * dist_*, the face sl_dist_*):
 *   dist.c           items taken in (approved, taken, withdrawn), the item
 *                    index, the audience's facts, start (resuming) and stop
 *   ops.c            the changes queued to the store; waves and plans as JSON
 *   plan.c           the built-in plan; judging a plan hook's or stored plan
 *   waves.c          the state machine: waves, decisions, holds, events, tick
 *   hooks.c          calls into the Lua policies: wave_done and what it
 *                    sees, related, the item's context
 *   combine.c        plugins and Lua together: who decides a plan, a wave,
 *                    the traffic settings
 *   policy_groups.c  the groups the groups(user) hook names
 *   feed_page.c      a page of a user's feed
 *   figures.c        an item's journey, /v1/stats figures, /metrics
 *   wave_replay.c    wave decisions replayed on recorded waves
 *   standing.c       creators' uploads and rejections, in memory
 */

#define TICK_MS 1000
/* Every running item's counters are written each PERSIST_EVERY_MS, a
 * slice every PERSIST_SLICE_MS (waves.c, dist_persist_tick). */
#define PERSIST_EVERY_MS 5000
#define PERSIST_SLICE_MS 100
#define PERSIST_SLICES (PERSIST_EVERY_MS / PERSIST_SLICE_MS)
#define REGROUP_EVERY_MS (10 * 60 * 1000)
#define HEAD_EVERY_MS 60000
#define SEEN_EVERY_MS 60000
#define MAX_WAVE_SIZE 10000000
#define MAX_PLAN 32
#define PLANS_KEPT 64               /* plans shared by items: see struct plan */
#define FUNNEL_MAX 8

enum dstate { D_RUNNING, D_HELD, D_SETTLED };

/* How waves end, as counted in decisions[]: the policy's three answers, and
 * the ends that were not its call (figures.c names them). */
enum dist_decision {
    DEC_CONTINUE,
    DEC_STOP,
    DEC_SWITCH,
    DEC_SKIP,                       /* no one was left to offer */
    DEC_REVIEW,                     /* held for people */
    DEC_ERROR,                      /* wave_done failed */
    DEC__COUNT
};

struct wave {
    int n;                          /* 1-based */
    char *audience;                 /* at its length, WAVE_AUDIENCE_MAX at most */
    uint32_t size, placed;
    uint32_t present;               /* of placed, those not away when placed */
    double fill;                    /* ends once this share of present saw it */
    uint32_t check;                 /* first evidence checkpoint (impressions); 0 none */
    uint32_t next_check;            /* the next one; each doubles the last */
    uint32_t checks;                /* wave_done asked at checkpoints, answered "wait" */
    int64_t started_ms, limit_ms, ended_ms;
    uint64_t counts[SL_EV__COUNT];  /* from served users, each once per item */
    char decision[16];              /* "" while running */
    char ended_by[16];              /* size, fill, time, evidence; "" while running */
    /* Its reason and who decided, "REASON\0BY\0" at their length; NULL
     * while it runs (both ""). The texts are kept at their length: a start
     * holds hundreds of thousands of waves, most of them running (waves.c). */
    char *said;
};

/* Longest audience, reason and decider, with the NUL; longer reasons and
 * deciders are cut (audiences are checked where they are made). */
#define WAVE_AUDIENCE_MAX 160
#define WAVE_REASON_MAX 256
#define WAVE_BY_MAX 96

/* A wave as the store has it, its texts beside it (ops.c reads it so, then
 * dist_wave_adopt() gives it to an item). */
struct wave_read {
    struct wave w;                  /* audience and said NULL */
    char audience[WAVE_AUDIENCE_MAX];
    char reason[WAVE_REASON_MAX];
    char by[WAVE_BY_MAX];
};

/* One wave of a plan, as the plan hook asked for it. */
struct plan_wave {
    char audience[160];
    uint32_t size;
    uint32_t limit_s;
    bool review;
    double fill;                    /* (0, 1]: 1 waits for everyone present */
    uint32_t check;                 /* impressions before the first early ask; 0 never */
};

/*
 * An item's plan, shared by the items whose plans are alike: a policy's
 * plans differ by little (the creator's followers, an interest), so most
 * items of a platform hold one of a handful. Never changed once made (an
 * item planned again takes another), freed with its last holder (plan.c).
 */
struct plan {
    uint32_t refs;
    int n;
    uint64_t hash;                  /* of what its waves say */
    struct plan_wave wave[];
};

/* Served users of a running item and their reactions (reactions.c). */
struct reaction {
    uint32_t user;                  /* audience index + 1; 0: a free slot */
    uint16_t flags;                 /* a bit per event type, and "served" */
};
struct reactions {
    struct reaction *slot;
    uint32_t cap, n;                /* cap: 0 or a power of two */
};

/* Why a running wave is asked about now (endings.c). */
enum dist_end {
    DIST_END_NONE,
    DIST_END_SIZE,                  /* every placed user saw it */
    DIST_END_FILL,                  /* the plan's share of those present saw it */
    DIST_END_TIME,                  /* its time limit passed */
    DIST_END_EVIDENCE,              /* a checkpoint: the policy may end it early */
};

/*
 * A running item is kept small: a platform has many at once. The upload and
 * its tags stay as the JSON text the store holds, parsed only when a hook
 * needs the item (at a wave's end); the interests events feed are kept
 * apart, since every like asks for them.
 */
struct ditem {
    char id[SL_ID_MAX + 1];
    uint32_t h;                     /* audience handle */
    char *upload;                   /* JSON text, for hooks */
    char *tags;                     /* JSON text */
    char *interests;                /* NAMEs of "interest.NAME" tags, each NUL-ended */
    int ninterests;
    struct plan *plan;              /* NULL until planned */
    int next;                       /* index of the next planned wave */
    int reviewed;                   /* plan waves up to this index were reviewed */
    char *switch_to;                /* audience of the next wave, when switched; else NULL */
    struct wave *waves;
    int nwaves;
    enum dstate state;
    struct reactions reactions;
    bool dirty;                     /* counters not yet persisted */
    enum dist_end due;              /* asked about after this batch of events */
    uint32_t lease_gen;             /* several nodes: when its lease was taken (leases.c) */
};

/* What the traffic hook sets (hooks.c has the defaults). */
struct traffic {
    double min_private;             /* of each page, from followed creators */
    double min_ordinary;            /* of the public part, from outside the head */
    double head_share;              /* the head: this top share of creators */
    double report_threshold;        /* weighed reports that pull an item back ... */
    double report_rate;             /* ... and at least this share of its impressions */
    double unserved_report_weight;  /* a report from one never served the item */
    uint32_t active_s;              /* public picks prefer users seen this recently */
    uint32_t away_s;                /* and skip those not seen for this long; 0: none */
    double private_target;          /* each user's running private share is topped up to this */
    uint32_t catchup_s;             /* a user back after this long reads followed items first; 0: off */
    double catchup_below;           /* ... while the node's private share is below this */
};

/* The settings of struct traffic, by name (combine.c). */
#define TRAFFIC_KEYS 11

/* What the mixed feed served one user lately: both counts halve every
 * FEED_MIX_HALF items served to the user, so a user's share follows their
 * recent sessions rather than their whole life (feed_page.c); and whether
 * they are catching up on their followed creators after being away. */
struct feed_mix {
    float priv, served;
    bool catchup;
};
#define FEED_MIX_HALF 400.0

struct pool {
    uint64_t trials, successes;
};

struct dist_op;
struct pgroup;
struct upgroups;

struct sl_dist {
    struct sl_server *srv;
    struct sl_audience *aud;
    struct ditem **items;           /* by audience handle */
    size_t cap;
    struct traffic traffic;
    char traffic_by[TRAFFIC_KEYS][72];  /* who set each: plugin:NAME, policy:V, default */
    struct pool pools[6];           /* by enum sl_aud_source */
    struct event *tick;
    struct event *due_more;         /* the rest of a lap of due waves (waves.c) */
    size_t due_at, due_left;        /* where the lap goes on; slots still to look at */
    uint64_t due_yields;            /* laps that stopped for the loop, to go on */
    struct event *persist;          /* dist_persist_tick, every PERSIST_SLICE_MS */
    int64_t last_regroup, last_head;
    size_t persist_part;            /* the slice of items whose counters go next */
    uint32_t *scratch;              /* users picked for a wave */
    size_t scratch_cap;
    uint32_t *due;                  /* handles of items whose wave is due */
    size_t ndue, due_cap;
    /* metrics */
    uint64_t funnel[FUNNEL_MAX + 1];    /* items that reached wave k (k = 1..) */
    uint64_t decisions[DEC__COUNT];
    uint64_t checks, waits;         /* evidence checkpoints asked, and answered wait */
    uint64_t served_private, served_public, served_ordinary, served_head;
    struct feed_mix *mix;           /* by user: what the mixed feed served lately (feed_page.c) */
    size_t mix_cap;
    uint64_t uncounted[2][SL_EV__COUNT];    /* events not counted: unserved, repeated */
    uint64_t reports[3];            /* counted from served users, unserved, repeated */
    uint64_t pulled;                /* items reports took back to people */
    size_t active_users;            /* seen within the active window ... */
    int64_t active_counted_ms;      /* ... counted then ... */
    size_t active_counted_users;    /* ... of this many users */
    uint32_t *seen_written;         /* by user: the last visit the store has */
    size_t seen_written_cap;
    int64_t last_seen_write;
    /* groups the policies' groups(user) hook names (policy_groups.c) */
    struct pgroup *pgroups;
    size_t npgroups, pgroups_cap;
    json_t *pgroup_index;           /* name -> index into pgroups */
    struct upgroups *upg;           /* by user index */
    size_t upg_cap;
    uint32_t pgroups_next;          /* the pass's next user; SL_AUD_NONE: no pass */
    /* While an upload is taken (sl_dist_take), its changes collect here
     * instead of going to the commit thread. */
    struct dist_op **held_tail;
    bool held_lost;                 /* one of those could not be made */
    uint32_t lease_gen;             /* several nodes: renewals submitted (leases.c) */
    bool people;                    /* changes following people's action: not fenced */
    uint64_t leases_lost, leases_taken_over;
    /* Taken over, to resume a slice at a time (leases.c): their ids in
     * the order taken; the timer of the next slice. */
    json_t *taking;
    struct event *take_more;
    uint64_t takeover_yields;       /* slices that stopped for the loop, to go on */
    struct standing *standing;      /* creators' uploads and rejections (standing.c) */
    struct plan *plans[PLANS_KEPT]; /* the plans made lately, by hash, one held each */
};

static inline struct sl_dist *D(struct sl_server *srv)
{
    return srv->dist;
}

/* The item's running wave, or NULL between waves. */
static inline struct wave *dist_current(struct ditem *it)
{
    return it->nwaves && !it->waves[it->nwaves - 1].decision[0] ? &it->waves[it->nwaves - 1]
                                                               : NULL;
}

static inline const char *dist_wave_reason(const struct wave *w)
{
    return w->said ? w->said : "";
}

static inline const char *dist_wave_by(const struct wave *w)
{
    return w->said ? w->said + strlen(w->said) + 1 : "";
}

/* waves.c: the wave's reason and decider, cut to their longest (they may
 * be its own); out of memory, both "" and the log says so. */
void dist_wave_say(struct wave *w, const char *reason, const char *by);
/* The wave read, with its own copy of the texts, into w: 0, or -ENOMEM
 * (w holds nothing to free). */
int dist_wave_adopt(struct wave *w, const struct wave_read *r);
/* The texts of the item's n waves freed, and the waves. */
void dist_waves_free(struct wave *waves, int n);

/* A change of an item that the store must learn; no request waits on it. */
struct dist_op {
    struct sl_commit_op op;
    char item[SL_ID_MAX + 1];
    char actor[160];
    char *state;                    /* new state, or NULL */
    char *from_state;
    char *action;                   /* audit action with the state change */
    char *reason;
    char *plan;                     /* JSON, or NULL */
    char *queue;                    /* put in this review queue, or NULL */
    bool unqueue;
    int wave_n;                     /* > 0: store this wave */
    char *wave;                     /* JSON */
    char **offers;                  /* user ids offered in wave_n */
    size_t noffers;
    int source;
    bool served;                    /* a feed page: item names the user, offers the
                                       items served to them, to mark served */
    bool release;                   /* only give the item's lease up (leases.c) ... */
    bool gone;                      /* ... which is out of distribution */
    const struct sl_node *node;     /* several nodes: whose lease fences it; NULL: none */
    struct sl_dist *d;
    bool nomem;                     /* a copy failed: not stored */
    struct dist_op *held_next;      /* taken uploads: the next change */
};

struct sl_item;
struct sl_lua;
struct sl_lua_wave;
struct sl_store;

/* endings.c */
enum dist_end dist_wave_due(const struct wave *w, int64_t now_ms);
const char *dist_end_name(enum dist_end e);
void dist_wave_checked(struct wave *w);

/* reactions.c: NEW counts; AGAIN and UNSERVED are counted apart */
enum dist_reaction { DIST_REACT_NEW, DIST_REACT_AGAIN, DIST_REACT_UNSERVED };
int dist_react_served(struct reactions *r, uint32_t user);
enum dist_reaction dist_react(struct reactions *r, uint32_t user, int type);
bool dist_react_was_served(const struct reactions *r, uint32_t user);
void dist_reactions_free(struct reactions *r);

/* activity.c */
/* The user was seen at now_ms (sl_now_ms(), read once for a run of events). */
void dist_seen(struct sl_dist *d, uint32_t user, int64_t now_ms);
void dist_mix_served(struct sl_dist *d, uint32_t user, size_t priv, size_t n);
void dist_count_active(struct sl_dist *d);
size_t dist_active_users(struct sl_dist *d);
void dist_activity_apply(struct sl_dist *d, int64_t now_ms);
void dist_seen_write(struct sl_dist *d, bool all);

/* leases.c: several nodes on one store (store/shared.h) */
/* The lease part of a change, before (take or check) and after (drop) its
 * writes. */
int dist_lease_before(const struct dist_op *o, struct sl_store *w);
int dist_lease_after(const struct dist_op *o, struct sl_store *w);
/* A change about to go: an item it takes into distribution is stamped. */
void dist_lease_stamp(struct sl_dist *d, const struct dist_op *o);
/* A fenced change was refused: the lease is another node's, the item goes. */
void dist_lease_lost(struct sl_dist *d, const char *item);
/* What is left of the items taken over, freed (sl_dist_stop). */
void dist_leases_free(struct sl_dist *d);
/* Resume an item distributing from what the store holds (start-up, a
 * takeover): 0, or -ENOMEM. */
int dist_resume(struct sl_dist *d, const char *id, const char *upload, const char *tags,
                const char *plan);

/* reports.c */
void dist_report(struct sl_dist *d, const char *item, const char *user);

/* dist.c */
struct ditem *dist_item_get(struct sl_dist *d, const char *id);
/* Out of the index, its audience handle released, freed. */
void dist_item_drop(struct sl_dist *d, struct ditem *it);
int dist_keep_interests(struct ditem *it, json_t *tags);
/* An item into distribution: its audience handle (offered to nobody new
 * when it had one), its interests from tags (parsed; may be NULL), copies
 * of the texts; NULL when out of memory or without a creator. */
struct ditem *dist_adopt(struct sl_dist *d, const char *id, const char *creator,
                         const char *city, json_t *tags, const char *upload_text,
                         const char *tags_text);
/* A JSON text from the store, by json.c's reader; NULL for NULL or text
 * it does not read. */
json_t *dist_stored_json(const char *text);
/* The names of a JSON array of interests (borrowed from it), at most
 * SL_AUD_INTERESTS_MAX; how many. */
size_t dist_interest_names(json_t *interests, const char **names);
/* Start (ahead.c, resume.c): the store read on a thread of its own, ahead of
 * what takes it in: the audience (users and follows), then, when items,
 * every distributing item back with who was offered and served it; the
 * reader ended (NULL: nothing to end). 0 or a negative errno. */
struct dist_ahead;
int dist_ahead_start(struct sl_dist *d, bool items, struct dist_ahead **out);
int dist_load_audience(struct sl_dist *d, struct dist_ahead *a);
int dist_resume_all(struct sl_dist *d, struct dist_ahead *a);
void dist_ahead_end(struct dist_ahead *a);
/* A wave as wave_text() (ops.c) writes it, read without a JSON parser;
 * -EINVAL for any other text (an older form, an escaped string): then
 * dist_wave_restore() reads it parsed. */
int dist_wave_read(struct wave_read *r, const char *text, size_t len);
size_t dist_item_interests(const struct ditem *it, const char **out, size_t max);

/* ops.c: a change is made with dist_op_new(), filled by the dist_op_*()
 * below and handed to dist_op_submit(). An allocation that fails on the way
 * says so in the log and the change is not stored; the calls take the NULL
 * of a failed dist_op_new(), so callers need not check. */
struct dist_op *dist_op_new(struct sl_dist *d, const char *item);
void dist_op_free(struct dist_op *o);
/* To the commit thread, or to the taken upload's list (held_tail); owns o. */
void dist_op_submit(struct sl_dist *d, struct dist_op *o);
void dist_op_state(struct dist_op *o, const char *actor, const char *action,
                   const char *from, const char *to, const char *reason);
/* Put the item in this review queue. */
void dist_op_queue(struct dist_op *o, const char *queue);
/* Room for the n users a wave offers the item to, from source; then one
 * dist_op_offer() each (n at most). */
void dist_op_offers(struct dist_op *o, size_t n, int source);
void dist_op_offer(struct dist_op *o, const char *user);
/* The user was served the item. */
/* o (made for a user, not an item) marks the n items then given with
 * dist_op_offer as served to that user: one change for a feed page. */
void dist_op_served(struct dist_op *o, size_t n);
/* Store the item's plan and the wave as they are now. */
void dist_op_plan(struct dist_op *o, const struct ditem *it);
void dist_op_wave(struct dist_op *o, const struct wave *w);
int dist_op_write(struct dist_op *o, struct sl_store *w, bool row_written);
json_t *dist_wave_json(const struct wave *w);
void dist_wave_restore(struct wave_read *r, json_t *j);

/* plan.c: each of these makes the item's plan (shared with an alike one
 * made lately) and lets its plan before go. */
int dist_plan_default(struct sl_dist *d, struct ditem *it);
bool dist_audience_valid(const char *a);
int dist_plan_take(struct sl_dist *d, const struct sl_lua_wave *v, size_t n, struct ditem *it,
                   char *err, size_t errlen);
int dist_plan_check(struct sl_dist *d, json_t *v, struct ditem *it, char *err, size_t errlen);
/* One holder more of plan p (NULL: none), which it returns. */
struct plan *dist_plan_hold(struct plan *p);
/* One holder less; the last one frees it. */
void dist_plan_put(struct plan *p);
/* The item's plan is p (held for it), its plan before let go. */
void dist_plan_set(struct ditem *it, struct plan *p);
/* The plans kept for sharing, let go (at stop). */
void dist_plans_free(struct sl_dist *d);
enum sl_aud_source dist_source_of(const char *audience);

/* waves.c */
const char *dist_policy_actor(struct sl_dist *d, char *buf, size_t len);
void dist_hold(struct sl_dist *d, struct ditem *it, const char *queue, const char *reason,
               const char *actor);
void dist_begin_next_wave(struct sl_dist *d, struct ditem *it, struct dist_op *first);
void dist_persist_counters(struct sl_dist *d, size_t part, size_t parts);
void dist_tick(evutil_socket_t fd, short what, void *arg);
void dist_due_more(evutil_socket_t fd, short what, void *arg);
void dist_persist_tick(evutil_socket_t fd, short what, void *arg);

/* hooks.c */
struct sl_item *dist_hook_item(const struct ditem *it, json_t *upload, json_t *tags);
/* Append to out what related(interest) says without a hook; -1 when out of memory. */
typedef int dist_related_fn(void *ud, const char *interest, json_t *out);
/* The audience's related interests (ud: the struct sl_dist). */
int dist_audience_related(void *ud, const char *interest, json_t *out);
/* Related interests of the item's interests, from lua's related hook if
 * the policies define one, else from fallback: a new array of names, NULL
 * when out of memory. live: a failing hook is counted and logged. */
json_t *dist_related(struct sl_lua *lua, struct ditem *it, dist_related_fn *fallback, void *ud,
                     bool live);
/* May a wave be answered so when asked for why (size, fill, time,
 * evidence)? wait only at evidence; switch with a valid audience. 0, or
 * -EINVAL with err saying why not. */
int dist_wave_answer_check(const char *why, const char *decision, const char *to, char *err,
                           size_t errlen);
/* Lua's wave_done about wave w, for item (the hook view), related as
 * dist_related gave it (borrowed), with the baselines of pools. On 0, *res
 * holds the answer, checked, and decision/reason/to point into it (the
 * caller frees *res); otherwise err says why (SL_DECLINED: no hook).
 * Nothing is counted. */
int dist_lua_wave_done(const struct pool *pools, struct sl_lua *lua, struct sl_item *item,
                       const struct wave *w, int64_t elapsed_ms, const char *why,
                       json_t *related, json_t **res, const char **decision,
                       const char **reason, const char **to, char *err, size_t errlen);
/* The item's context for hooks: its creator's standing, the platform's size. */
void dist_item_context(struct sl_dist *d, struct sl_item *item);

/* combine.c: the plugins, then Lua, by the rule written there. */
struct sl_plugins;
struct dist_answer {
    char decision[16];              /* continue, stop, switch, wait */
    char audience[160];             /* switch: where the next wave goes */
    char reason[256];
    char by[96];                    /* plugin:NAME or policy:VERSION: who decided, or failed */
};
/*
 * What a wave decision reads besides the item and its wave. On the loop,
 * the distribution's own state (dist_view_live); on a policy replay's
 * thread, copies the loop made for it (wave_replay.c).
 */
struct dist_view {
    const struct pool *pools;       /* the baselines, by source */
    struct sl_lua *related_lua;     /* whose related hook names related interests */
    dist_related_fn *related;       /* ... or, where it says nothing, this (with ud) */
    void *ud;
    struct sl_dist *d;              /* the loop's: the item's context is read from it */
    const struct sl_item *context;  /* when d is NULL: the creator's and platform's figures */
    bool live;                      /* failures are counted and logged (not in a replay) */
};
void dist_view_live(struct sl_dist *d, struct dist_view *v);
/* Decide wave w of it (upload and tags as in dist_hook_item), asked for
 * why. 0 with *a; otherwise err says why and a->by who failed. */
int dist_wave_decide(const struct dist_view *v, struct sl_plugins *ps, struct sl_lua *lua,
                     struct ditem *it, json_t *upload, json_t *tags, const struct wave *w,
                     int64_t elapsed_ms, const char *why, struct dist_answer *a, char *err,
                     size_t errlen);
/* The plan of an item new to distribution, set in it; actor says who
 * planned (or failed), note why theirs when both answered. 0, or a
 * negative errno with err (counted and logged). item: the hook view. */
int dist_plan_decide(struct sl_dist *d, struct ditem *it, struct sl_item *item, char *actor,
                     size_t actorlen, char *note, size_t notelen, char *err, size_t errlen);
/* The traffic settings in force and who set each, for /v1/stats. */
json_t *dist_traffic_json(const struct sl_dist *d);

/* figures.c: the share of what this node's mixed feeds served that came
 * from followed creators, since it started; 0 before any. */
double dist_private_share(const struct sl_dist *d);

/* policy_groups.c */
int dist_pgroup_source(void *ctx, const char *name, struct sl_aud_list *out);
void dist_ask_groups(struct sl_dist *d, struct sl_lua *lua, uint32_t u);
void dist_pgroups_policy_changed(struct sl_dist *d, struct sl_lua *lua);
void dist_pgroups_step(struct sl_dist *d);
void dist_pgroups_free(struct sl_dist *d);

/* standing.c */
/* Load every creator's standing from the store (at start). 0 or a
 * negative errno. */
int dist_standing_load(struct sl_dist *d);
void dist_standing_free(struct sl_dist *d);
/* The creator's uploads and rejections (0 and 0 for one never seen). */
void dist_standing_get(struct sl_dist *d, const char *creator, int64_t *uploads,
                       int64_t *rejections);
size_t dist_standing_creators(const struct sl_dist *d);

#endif
