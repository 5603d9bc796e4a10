/* SPDX-License-Identifier: MIT */
/* Distribution: waves after approval, feedback decisions, feeds, shares. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <sluice/plugin.h>

#include "api/api.h"
#include "audience/audience.h"
#include "lib/clock.h"
#include "store/commit.h"
#include "dist/dist.h"
#include "dist/compose.h"
#include "api/events.h"
#include "lib/item.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/prom.h"
#include "policy/policy.h"
#include "lua/sandbox.h"
#include "server.h"
#include "store/store.h"
#include "lib/text.h"

/*
 * The life of an approved item: a plan (from the policy's plan hook, or the
 * built-in one) lists waves; each wave picks that many users of its audience
 * who were never offered the item and places it in their inboxes. Events
 * fill the running wave's counters; when every placed user has seen it, or
 * its time is up, the policy's wave_done hook says continue (the next
 * planned wave), switch (the next wave goes to another audience) or stop.
 * The in-memory state here is the truth for the loop; every change is also
 * queued to the store, so a restart resumes where it was.
 */

#define TICK_MS 1000
#define PERSIST_EVERY_MS 5000
#define PERSIST_SLICES (PERSIST_EVERY_MS / TICK_MS)
#define REGROUP_EVERY_MS (10 * 60 * 1000)
#define HEAD_EVERY_MS 60000
#define MAX_WAVE_SIZE 10000000
#define MAX_PLAN 32
#define FEED_MAX 100
#define INBOX_SCAN 200
#define FUNNEL_MAX 8

enum dstate { D_RUNNING, D_HELD, D_SETTLED };

struct wave {
    int n;                          /* 1-based */
    char audience[160];
    uint32_t size, placed;
    int64_t started_ms, limit_ms, ended_ms;
    uint64_t counts[SL_EV__COUNT];
    char decision[16];              /* "" while running */
    char reason[256];
    char decided_by[96];
};

/* One wave of a plan, as the plan hook asked for it. */
struct plan_wave {
    char audience[160];
    uint32_t size;
    uint32_t limit_s;
    bool review;
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
    struct plan_wave *plan;
    int nplan;
    int next;                       /* index of the next planned wave */
    int reviewed;                   /* plan waves up to this index were reviewed */
    char switch_to[160];            /* audience of the next wave, when switched */
    struct wave *waves;
    int nwaves;
    enum dstate state;
    uint64_t reports;
    bool dirty;                     /* counters not yet persisted */
    bool due;                       /* every placed user has seen it: decide */
};

struct traffic {
    double min_private;
    double min_ordinary;
    double head_share;
    uint64_t report_threshold;
};

struct pool {
    uint64_t trials, successes;
};

struct dist_op;

struct sl_dist {
    struct sl_server *srv;
    struct sl_audience *aud;
    struct ditem **items;           /* by audience handle */
    size_t cap;
    struct traffic traffic;
    struct pool pools[6];           /* by enum sl_aud_source */
    struct event *tick;
    int64_t last_regroup, last_head;
    size_t persist_part;            /* the slice of items whose counters go next */
    uint32_t *scratch;              /* users picked for a wave */
    size_t scratch_cap;
    uint32_t *due;                  /* handles of items whose wave is due */
    size_t ndue, due_cap;
    /* metrics */
    uint64_t funnel[FUNNEL_MAX + 1];    /* items that reached wave k (k = 1..) */
    uint64_t decisions[6];          /* continue, stop, switch, skip, review, error */
    uint64_t served_private, served_public, served_ordinary, served_head;
    json_t *late_reports;           /* settled items: id -> reports so far */
    /* groups the policies' groups(user) hook names (see below) */
    struct pgroup *pgroups;
    size_t npgroups, pgroups_cap;
    json_t *pgroup_index;           /* name -> index into pgroups */
    struct upgroups *upg;           /* by user index */
    size_t upg_cap;
    uint32_t pgroups_next;          /* the pass's next user; SL_AUD_NONE: no pass */
    /* While an upload is taken (sl_dist_take), its changes collect here
     * instead of going to the commit thread. */
    struct dist_op **held_tail;
};

static const char *const decision_names[] = { "continue", "stop", "switch", "skip",
                                              "review", "error" };

static struct sl_dist *D(struct sl_server *srv)
{
    return srv->dist;
}

/* {====================== Persistence ================================== */

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
    bool served;                    /* offers: mark these served instead */
    struct dist_op *held_next;      /* taken uploads: the next change */
};

static void dist_op_free(struct dist_op *o)
{
    free(o->state);
    free(o->from_state);
    free(o->action);
    free(o->reason);
    free(o->plan);
    free(o->queue);
    free(o->wave);
    for (size_t i = 0; i < o->noffers; i++)
        free(o->offers[i]);
    free(o->offers);
    free(o);
}

/* Write the op; row_written: the item row already holds its state and plan
 * (the upload's own insert, see sl_dist_take). */
static int op_write(struct dist_op *o, struct sl_store *w, bool row_written)
{
    int64_t now = sl_now_ms();
    int rc = 0;

    if ((o->state || o->plan) && !row_written)
        rc = sl_store_item_update(w, o->item, o->state, o->plan, now);
    if (rc == 0 && o->state) {
        struct sl_audit_rec rec = { o->item, o->actor, o->action, o->from_state, o->state,
                                    o->reason, now };
        rc = sl_store_audit_append(w, &rec);
    }
    if (rc == 0 && o->queue)
        rc = sl_store_queue_put(w, o->item, o->queue, 60, o->reason, NULL, now);
    if (rc == 0 && o->unqueue)
        rc = sl_store_queue_remove(w, o->item);
    if (rc == 0 && o->wave_n > 0)
        rc = sl_store_wave_put(w, o->item, o->wave_n, o->wave);
    for (size_t i = 0; rc == 0 && i < o->noffers; i++)
        rc = o->served ? sl_store_offer_served(w, o->item, o->offers[i])
                       : sl_store_offer_add(w, o->item, o->offers[i], o->wave_n, o->source);
    return rc;
}

static int dist_apply(struct sl_commit_op *op, struct sl_store *w)
{
    return op_write((struct dist_op *)op, w, false);
}

static void dist_done(struct sl_commit_op *op, int rc)
{
    struct dist_op *o = (struct dist_op *)op;
    if (rc < 0)
        sl_err("distribution: storing a change of item %s failed: %s", o->item,
               strerror(-rc));
    dist_op_free(o);
}

static struct dist_op *op_new(const char *item)
{
    struct dist_op *o = calloc(1, sizeof(*o));
    if (o)
        sl_copy(o->item, sizeof(o->item), item);
    return o;
}

static void op_submit(struct sl_dist *d, struct dist_op *o)
{
    o->op.apply = dist_apply;
    o->op.done = dist_done;
    if (d->held_tail) {
        *d->held_tail = o;
        d->held_tail = &o->held_next;
        return;
    }
    if (sl_commit_submit(d->srv->commit, &o->op) < 0) {
        sl_err("distribution: cannot queue a change of item %s (stopping?)", o->item);
        dist_op_free(o);
    }
}

static void op_state(struct dist_op *o, const char *actor, const char *action,
                     const char *from, const char *to, const char *reason)
{
    sl_copy(o->actor, sizeof(o->actor), actor);
    o->action = strdup(action);
    o->from_state = from ? strdup(from) : NULL;
    o->state = strdup(to);
    o->reason = strdup(reason ? reason : "");
}

static json_t *wave_json(const struct wave *w)
{
    json_t *stats = json_object();
    for (int i = 0; i < SL_EV__COUNT; i++)
        json_object_set_new(stats, sl_event_names[i], json_integer((json_int_t)w->counts[i]));
    return json_pack("{s:i, s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:s, s:s, s:s}",
                     "n", w->n, "audience", w->audience,
                     "size", (json_int_t)w->size, "placed", (json_int_t)w->placed,
                     "started_ms", (json_int_t)w->started_ms, "limit_ms", (json_int_t)w->limit_ms,
                     "ended_ms", w->ended_ms ? json_integer(w->ended_ms) : json_null(),
                     "stats", stats, "decision", w->decision, "reason", w->reason,
                     "decided_by", w->decided_by);
}

/* The wave as the store keeps it: wave_json's document, written directly
 * (a wave is written at its start, its end and as its counters move). This
 * and the plan are written on the stack for their worst case and copied at
 * their size: glibc consolidates its free lists on every allocation of a
 * kilobyte or more, and sizing for the worst case was one of those. */
static void op_wave(struct dist_op *o, const struct wave *w)
{
    char buf[512 + SL_EV__COUNT * 48 +
             SL_JSON_QUOTED_MAX(sizeof w->audience + sizeof w->decision + sizeof w->reason +
                                sizeof w->decided_by)];
    char *p = buf;

    o->wave_n = w->n;
    p = sl_json_put_int(sl_json_put_lit(p, "{\"n\":"), w->n);
    p = sl_json_put_string(sl_json_put_lit(p, ",\"audience\":"), w->audience);
    p = sl_json_put_int(sl_json_put_lit(p, ",\"size\":"), w->size);
    p = sl_json_put_int(sl_json_put_lit(p, ",\"placed\":"), w->placed);
    p = sl_json_put_int(sl_json_put_lit(p, ",\"started_ms\":"), w->started_ms);
    p = sl_json_put_int(sl_json_put_lit(p, ",\"limit_ms\":"), w->limit_ms);
    p = sl_json_put_lit(p, ",\"ended_ms\":");
    p = w->ended_ms ? sl_json_put_int(p, w->ended_ms) : sl_json_put_lit(p, "null");
    p = sl_json_put_lit(p, ",\"stats\":{");
    for (int i = 0; i < SL_EV__COUNT; i++) {
        p = sl_json_put_string(sl_json_put_lit(p, i ? "," : ""), sl_event_names[i]);
        p = sl_json_put_int(sl_json_put_lit(p, ":"), (long long)w->counts[i]);
    }
    p = sl_json_put_string(sl_json_put_lit(p, "},\"decision\":"), w->decision);
    p = sl_json_put_string(sl_json_put_lit(p, ",\"reason\":"), w->reason);
    p = sl_json_put_string(sl_json_put_lit(p, ",\"decided_by\":"), w->decided_by);
    p = sl_json_put_lit(p, "}");
    o->wave = strndup(buf, (size_t)(p - buf));
}

/* The plan as the store keeps it. */
static char *plan_json(const struct ditem *it)
{
    char buf[96 + MAX_PLAN * (SL_JSON_QUOTED_MAX(sizeof it->plan->audience) + 96)];
    char *p = buf;

    p = sl_json_put_lit(p, "{\"waves\":[");
    for (int i = 0; i < it->nplan; i++) {
        const struct plan_wave *pw = &it->plan[i];
        p = sl_json_put_string(sl_json_put_lit(p, i ? ",{\"audience\":" : "{\"audience\":"),
                               pw->audience);
        p = sl_json_put_int(sl_json_put_lit(p, ",\"size\":"), pw->size);
        p = sl_json_put_int(sl_json_put_lit(p, ",\"limit_s\":"), pw->limit_s);
        p = sl_json_put_lit(p, pw->review ? ",\"review\":true}" : ",\"review\":false}");
    }
    p = sl_json_put_int(sl_json_put_lit(p, "],\"next\":"), it->next);
    p = sl_json_put_int(sl_json_put_lit(p, ",\"reviewed\":"), it->reviewed);
    p = sl_json_put_lit(p, "}");
    return strndup(buf, (size_t)(p - buf));
}

/* }===================================================================== */

/* {====================== Items ======================================== */

static struct ditem *item_get(struct sl_dist *d, const char *id)
{
    uint32_t h;
    if (sl_audience_item_find(d->aud, id, &h) < 0 || h >= d->cap)
        return NULL;
    return d->items[h];
}

/* Make *arr (of *cap elements of size bytes) hold index i, doubling; the
 * new elements are zero. */
static int room(void **arr, size_t *cap, size_t i, size_t size)
{
    if (i < *cap)
        return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap <= i)
        ncap *= 2;
    char *v = realloc(*arr, ncap * size);
    if (!v)
        return -ENOMEM;
    memset(v + *cap * size, 0, (ncap - *cap) * size);
    *arr = v;
    *cap = ncap;
    return 0;
}

static int item_put(struct sl_dist *d, struct ditem *it)
{
    if (room((void **)&d->items, &d->cap, it->h, sizeof(*d->items)) < 0)
        return -ENOMEM;
    d->items[it->h] = it;
    return 0;
}

static void item_drop(struct sl_dist *d, struct ditem *it)
{
    if (it->h < d->cap && d->items[it->h] == it)
        d->items[it->h] = NULL;
    sl_audience_item_release(d->aud, it->h);
    free(it->upload);
    free(it->tags);
    free(it->interests);
    free(it->plan);
    free(it->waves);
    free(it);
}

static struct wave *current(struct ditem *it)
{
    return it->nwaves && !it->waves[it->nwaves - 1].decision[0] ? &it->waves[it->nwaves - 1]
                                                               : NULL;
}

/* The item as hooks see it: the upload with its stored tags. The parsed
 * forms are used when the caller has them (borrowed), else the texts are. */
static struct sl_item *hook_item(const struct ditem *it, json_t *upload, json_t *tags)
{
    json_t *up = upload ? json_incref(upload) : json_loads(it->upload, 0, NULL);
    struct sl_item *item = up ? sl_item_new(up) : NULL;
    json_decref(up);
    json_t *tg = !item ? NULL : tags ? json_deep_copy(tags) : json_loads(it->tags, 0, NULL);
    if (tg) {
        json_decref(item->tags);
        item->tags = tg;
    }
    return item;
}

/* NAME when the tag is "interest.NAME" with confidence >= 0.5, else NULL. */
static const char *interest_of(const char *tag, json_t *v)
{
    return strncmp(tag, "interest.", 9) == 0 && tag[9] &&
           json_number_value(json_object_get(v, "confidence")) >= 0.5 ? tag + 9 : NULL;
}

/* Keep the item's interests, from its tags. */
static int keep_interests(struct ditem *it, json_t *tags)
{
    const char *name, *i;
    json_t *v;
    size_t len = 0;

    json_object_foreach(tags, name, v)
        if ((i = interest_of(name, v)))
            len += strlen(i) + 1;
    if (len == 0)
        return 0;
    if (!(it->interests = malloc(len)))
        return -ENOMEM;
    len = 0;
    json_object_foreach(tags, name, v)
        if ((i = interest_of(name, v))) {
            size_t n = strlen(i) + 1;
            memcpy(it->interests + len, i, n);
            len += n;
            it->ninterests++;
        }
    return 0;
}

static size_t item_interests(const struct ditem *it, const char **out, size_t max)
{
    const char *p = it->interests;
    size_t n = 0;

    for (int i = 0; i < it->ninterests && n < max; i++, p += strlen(p) + 1)
        out[n++] = p;
    return n;
}

/* }===================================================================== */

/* {====================== Plans ======================================== */

/* The built-in plan when policies define none: followers, nearby, then
 * everyone in waves growing about tenfold. */
static const struct plan_wave default_plan[] = {
    { "followers", 1000, 3600, false },
    { "nearby", 100, 3600, false },
    { "everyone", 100, 3600, false },
    { "everyone", 1000, 7200, false },
    { "everyone", 10000, 14400, false },
};

static int plan_default(struct ditem *it)
{
    it->nplan = (int)(sizeof(default_plan) / sizeof(default_plan[0]));
    if (!(it->plan = malloc(sizeof(default_plan))))
        return -ENOMEM;
    memcpy(it->plan, default_plan, sizeof(default_plan));
    return 0;
}

static bool audience_valid(const char *a)
{
    if (!a)
        return false;
    if (strcmp(a, "followers") == 0 || strcmp(a, "nearby") == 0 || strcmp(a, "everyone") == 0)
        return true;
    const char *colon = strchr(a, ':');
    if (!colon || !sl_id_valid(colon + 1))
        return false;
    return (colon - a == 8 && strncmp(a, "interest", 8) == 0) ||
           (colon - a == 5 && strncmp(a, "group", 5) == 0);
}

_Static_assert(sizeof(((struct plan_wave *)0)->audience) ==
               sizeof(((struct sl_lua_wave *)0)->audience), "audiences copy whole");

/* Judge a plan hook's answer, [{audience, size, limit_s, review}] as read
 * by the sandbox, and make it the item's plan. */
static int plan_take(const struct sl_lua_wave *v, size_t n, struct ditem *it, char *err,
                     size_t errlen)
{
    if (n == 0 || n > MAX_PLAN) {
        snprintf(err, errlen, "plan must return a list of 1 to %d waves", MAX_PLAN);
        return -EINVAL;
    }
    struct plan_wave *plan = calloc(n, sizeof(*plan));
    if (!plan) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const struct sl_lua_wave *w = &v[i];
        if (!audience_valid(w->audience) || !w->size_ok || w->size < 0 ||
            w->size > MAX_WAVE_SIZE || w->limit < 0 ||
            (w->limit > 0 && (w->limit_s < 1 || w->limit_s > 30 * 86400)) || w->review < 0) {
            snprintf(err, errlen, "plan wave %zu must be {audience = followers|nearby|everyone|"
                     "interest:NAME|group:NAME, size = 0..%d, limit_s = 1..2592000, "
                     "review = boolean}", i + 1, MAX_WAVE_SIZE);
            free(plan);
            return -EINVAL;
        }
        memcpy(plan[i].audience, w->audience, sizeof(plan[i].audience));
        plan[i].size = (uint32_t)w->size;
        plan[i].limit_s = w->limit > 0 ? (uint32_t)w->limit_s : 3600;
        plan[i].review = w->review > 0 && w->review_on;
    }
    free(it->plan);
    it->plan = plan;
    it->nplan = (int)n;
    return 0;
}

/* The same for a plan as the store keeps it (JSON). */
static int plan_check(json_t *v, struct ditem *it, char *err, size_t errlen)
{
    struct sl_lua_wave waves[MAX_PLAN];
    size_t n = json_is_array(v) && json_array_size(v) <= MAX_PLAN ? json_array_size(v) : 0;

    for (size_t i = 0; i < n; i++) {
        json_t *w = json_array_get(v, i), *x;
        const char *a = json_string_value(json_object_get(w, "audience"));
        struct sl_lua_wave *o = &waves[i];
        memset(o, 0, sizeof(*o));
        if (a && strlen(a) < sizeof(o->audience))
            strcpy(o->audience, a);
        x = json_object_get(w, "size");
        o->size_ok = json_is_integer(x);
        o->size = json_integer_value(x);
        x = json_object_get(w, "limit_s");
        o->limit = !x ? 0 : json_is_integer(x) ? 1 : -1;
        o->limit_s = json_integer_value(x);
        x = json_object_get(w, "review");
        o->review = !x ? 0 : json_is_boolean(x) ? 1 : -1;
        o->review_on = json_is_true(x);
    }
    return plan_take(waves, n, it, err, errlen);
}

/* }===================================================================== */

/* {====================== The state machine ============================ */

static void begin_next_wave(struct sl_dist *d, struct ditem *it, struct dist_op *first);

static const char *policy_actor(struct sl_dist *d, char *buf, size_t len)
{
    snprintf(buf, len, "policy:%s", sl_policy_version(d->srv));
    return buf;
}

/* Take the item out of every feed and hand it to people. */
static void hold_for_review(struct sl_dist *d, struct ditem *it, const char *queue,
                            const char *reason, const char *actor)
{
    struct wave *w = current(it);
    struct dist_op *o = op_new(it->id);

    if (w) {
        sl_copy(w->decision, sizeof(w->decision), "review");
        sl_copy(w->reason, sizeof(w->reason), reason);
        sl_copy(w->decided_by, sizeof(w->decided_by), actor);
        w->ended_ms = sl_now_ms();
        op_wave(o, w);
        d->decisions[4]++;
    }
    it->state = D_HELD;
    sl_audience_item_set_live(d->aud, it->h, false);
    op_state(o, actor, "hold", "distributing", "in_review", reason);
    o->queue = strdup(queue);
    o->plan = plan_json(it);
    op_submit(d, o);
    sl_info("distribution: %s held for review: %s", it->id, reason);
}

static void settle(struct sl_dist *d, struct ditem *it, const char *reason)
{
    char actor[96];
    struct dist_op *o = op_new(it->id);

    it->state = D_SETTLED;
    op_state(o, policy_actor(d, actor, sizeof(actor)), "settle", "distributing", "settled",
             reason);
    o->plan = plan_json(it);
    op_submit(d, o);
    /* No more waves: the offered set can go; inbox entries stay live. */
    item_drop(d, it);
}

static enum sl_aud_source source_of(const char *audience)
{
    if (strcmp(audience, "followers") == 0) return SL_AUD_FOLLOWERS;
    if (strcmp(audience, "nearby") == 0) return SL_AUD_NEARBY;
    if (strncmp(audience, "interest:", 9) == 0) return SL_AUD_INTEREST;
    if (strncmp(audience, "group:", 6) == 0) return SL_AUD_GROUP;
    return SL_AUD_EVERYONE;
}

/* Start the wave the plan says next; a wave that finds nobody is skipped, so
 * a creator without followers goes straight on to a public wave. The first
 * wave's change joins `first` when given (the store learns of the approval
 * and its first wave in one go); `first` is submitted whatever happens. */
static void begin_next_wave(struct sl_dist *d, struct ditem *it, struct dist_op *first)
{
    char actor[96];

    while (it->state == D_RUNNING) {
        if (it->next >= it->nplan) {
            if (first)
                op_submit(d, first);
            settle(d, it, "every planned wave ran");
            return;
        }
        const struct plan_wave *pw = &it->plan[it->next];
        if (pw->review && it->reviewed <= it->next) {
            it->reviewed = it->next + 1;
            char reason[256];
            snprintf(reason, sizeof(reason), "the plan asks for review before wave %d (%s)",
                     it->nwaves + 1, pw->audience);
            if (first)
                op_submit(d, first);
            hold_for_review(d, it, "distribution", reason, policy_actor(d, actor, sizeof(actor)));
            return;
        }
        it->next++;
        struct wave *v = realloc(it->waves, (it->nwaves + 1) * sizeof(*v));
        if (!v)
            break;
        it->waves = v;
        struct wave *w = &it->waves[it->nwaves++];
        memset(w, 0, sizeof(*w));
        w->n = it->nwaves;
        sl_copy(w->audience, sizeof(w->audience),
                it->switch_to[0] ? it->switch_to : pw->audience);
        it->switch_to[0] = '\0';
        w->size = pw->size;
        w->limit_ms = (int64_t)pw->limit_s * 1000;
        w->started_ms = sl_now_ms();
        if (w->size > d->scratch_cap) {
            uint32_t *s = realloc(d->scratch, w->size * sizeof(*s));
            if (!s)
                break;
            d->scratch = s;
            d->scratch_cap = w->size;
        }
        size_t placed = 0;
        int rc = sl_audience_wave(d->aud, it->h, w->audience, w->size, (uint32_t)w->n,
                                  d->scratch, &placed);
        w->placed = rc == 0 ? (uint32_t)placed : 0;
        struct dist_op *o = first ? first : op_new(it->id);
        first = NULL;
        if (w->placed == 0) {
            sl_copy(w->decision, sizeof(w->decision), "skip");
            snprintf(w->reason, sizeof(w->reason), "no one in the audience %s was left to offer",
                     w->audience);
            sl_copy(w->decided_by, sizeof(w->decided_by), "sluiced");
            w->ended_ms = w->started_ms;
            d->decisions[3]++;
        } else {
            d->funnel[w->n <= FUNNEL_MAX ? w->n : FUNNEL_MAX]++;
            o->offers = calloc(placed, sizeof(*o->offers));
            for (size_t i = 0; o->offers && i < placed; i++)
                o->offers[o->noffers++] = strdup(sl_audience_user_id(d->aud, d->scratch[i]));
            o->source = source_of(w->audience);
        }
        op_wave(o, w);
        free(o->plan);
        o->plan = plan_json(it);
        op_submit(d, o);
        if (w->placed > 0)
            return;
    }
    if (first)
        op_submit(d, first);
}

static json_t *wave_stats(struct sl_dist *d, const struct wave *w)
{
    json_t *stats = json_object();
    const struct pool *p = &d->pools[source_of(w->audience)];
    uint64_t engaged = w->counts[SL_EV_LIKE] + w->counts[SL_EV_COMPLETE] + w->counts[SL_EV_SHARE];

    for (int i = 0; i < SL_EV__COUNT; i++)
        json_object_set_new(stats, sl_event_names[i], json_integer((json_int_t)w->counts[i]));
    json_object_set_new(stats, "engaged", json_integer((json_int_t)engaged));
    json_object_set_new(stats, "baseline", json_pack("{s:f, s:I, s:I}",
        "rate", p->trials ? (double)p->successes / (double)p->trials : 0.0,
        "trials", (json_int_t)p->trials, "successes", (json_int_t)p->successes));
    return stats;
}

/* Related interests of the item's interests, from the related hook if the
 * policies define one, else what co-engagement taught the audience. */
static json_t *related_for(struct sl_dist *d, struct ditem *it)
{
    const char *mine[16];
    size_t n = item_interests(it, mine, 16);
    json_t *out = json_array();
    struct sl_lua *lua = sl_policy_lua(d->srv);

    for (size_t i = 0; i < n; i++) {
        json_t *arg = json_string(mine[i]), *res = NULL;
        char err[SL_LUA_ERR_MAX];
        int rc = sl_lua_has_hook(lua, "related")
                     ? sl_lua_call_json(lua, "related", NULL, &arg, 1, &res, err, sizeof(err))
                     : SL_DECLINED;
        json_decref(arg);
        if (rc == 0 && json_is_array(res)) {
            size_t j;
            json_t *v;
            json_array_foreach(res, j, v)
                if (json_is_string(v) && sl_id_valid(json_string_value(v)))
                    json_array_append(out, v);
        } else {
            if (rc < 0)
                sl_policy_failed("related", err);
            struct sl_aud_related rel[8];
            size_t m = sl_audience_related(d->aud, mine[i], rel, 8);
            for (size_t j = 0; j < m; j++)
                json_array_append_new(out, json_string(rel[j].interest));
        }
        json_decref(res);
    }
    return out;
}

/* Call lua's wave_done about wave w of it (upload and tags as in
 * hook_item). On 0, *res holds the answer and decision/reason/to point into
 * it (the caller frees *res); otherwise err says why (SL_DECLINED: no hook). */
static int ask_wave_done(struct sl_dist *d, struct sl_lua *lua, struct ditem *it,
                         json_t *upload, json_t *tags, const struct wave *w,
                         int64_t elapsed_ms, const char *why, json_t **res,
                         const char **decision, const char **reason, const char **to,
                         char *err, size_t errlen)
{
    json_t *args[2] = {
        json_pack("{s:i, s:s, s:I, s:I, s:I, s:I, s:s, s:o}", "n", w->n, "audience",
                  w->audience, "size", (json_int_t)w->size, "placed", (json_int_t)w->placed,
                  "elapsed_ms", (json_int_t)elapsed_ms,
                  "limit_ms", (json_int_t)w->limit_ms, "ended_by", why,
                  "related", related_for(d, it)),
        wave_stats(d, w),
    };
    struct sl_item *item = hook_item(it, upload, tags);
    *res = NULL;
    int rc = !item ? -ENOMEM
             : sl_lua_has_hook(lua, "wave_done")
                 ? sl_lua_call_json(lua, "wave_done", item, args, 2, res, err, errlen)
                 : SL_DECLINED;
    sl_item_free(item);
    json_decref(args[0]);
    json_decref(args[1]);

    json_t *ans = json_is_array(*res) ? json_array_get(*res, 0) : *res;
    if (rc == 0) {
        *decision = json_is_string(ans) ? json_string_value(ans)
                                        : json_string_value(json_object_get(ans, "decision"));
        *reason = json_is_object(ans) && json_is_string(json_object_get(ans, "reason"))
                      ? json_string_value(json_object_get(ans, "reason")) : "";
        *to = json_is_object(ans) ? json_string_value(json_object_get(ans, "audience")) : NULL;
        if (!*decision || (strcmp(*decision, "continue") != 0 && strcmp(*decision, "stop") != 0 &&
                           strcmp(*decision, "switch") != 0) ||
            (strcmp(*decision, "switch") == 0 && !audience_valid(*to))) {
            snprintf(err, errlen, "wave_done must answer continue, stop, or "
                     "{decision = \"switch\", audience = ...}");
            rc = -EINVAL;
        }
    } else if (rc == SL_DECLINED) {
        snprintf(err, errlen, "no wave_done hook is loaded");
    }
    if (rc != 0) {
        json_decref(*res);
        *res = NULL;
    }
    return rc;
}

/* Ask wave_done about the running wave and act on the answer. */
static void decide(struct sl_dist *d, struct ditem *it, const char *why)
{
    struct wave *w = current(it);
    char err[SL_LUA_ERR_MAX], actor[96];
    const char *decision = NULL, *reason = "", *to = NULL;
    json_t *res = NULL;

    if (!w)
        return;
    policy_actor(d, actor, sizeof(actor));
    int rc = ask_wave_done(d, sl_policy_lua(d->srv), it, NULL, NULL, w,
                           sl_now_ms() - w->started_ms, why,
                           &res, &decision, &reason, &to, err, sizeof(err));
    if (rc != 0) {
        /* A broken decision never pushes an item further: people look. */
        char why_text[SL_LUA_ERR_MAX + 32];
        sl_policy_failed("wave_done", err);
        d->decisions[5]++;
        snprintf(why_text, sizeof(why_text), "policy_error: wave_done: %s", err);
        hold_for_review(d, it, "distribution", why_text, actor);
        return;
    }

    /* The pool learns from every decided wave. */
    struct pool *p = &d->pools[source_of(w->audience)];
    uint64_t engaged = w->counts[SL_EV_LIKE] + w->counts[SL_EV_COMPLETE] + w->counts[SL_EV_SHARE];
    p->trials += w->counts[SL_EV_IMPRESSION];
    p->successes += engaged < w->counts[SL_EV_IMPRESSION] ? engaged : w->counts[SL_EV_IMPRESSION];

    sl_copy(w->decision, sizeof(w->decision), decision);
    sl_copy(w->reason, sizeof(w->reason), reason);
    sl_copy(w->decided_by, sizeof(w->decided_by), actor);
    w->ended_ms = sl_now_ms();
    d->decisions[strcmp(decision, "continue") == 0 ? 0 : strcmp(decision, "stop") == 0 ? 1 : 2]++;
    struct dist_op *o = op_new(it->id);
    op_wave(o, w);
    op_submit(d, o);
    /* decision, reason and to live in res: free it only after their use. */
    if (strcmp(decision, "stop") == 0) {
        settle(d, it, reason[0] ? reason : "wave_done said stop");
        json_decref(res);
        return;
    }
    if (strcmp(decision, "switch") == 0)
        sl_copy(it->switch_to, sizeof(it->switch_to), to);
    json_decref(res);
    begin_next_wave(d, it, NULL);
}

/* }===================================================================== */

/* {====================== Policy groups ================================ */

/*
 * The groups(user) hook names groups a user belongs to beside the default
 * circles and interests; "group:NAME" audiences find them here. A user's
 * groups are asked for when the user is created or changed, and for every
 * user by a pass that runs a slice of each tick after the policies load or
 * reload; until the pass reaches a user, the user keeps what the previous
 * policies said. A hook that fails leaves that user in no policy group:
 * fewer audiences, never more.
 */
#define PGROUPS_MAX 32              /* groups per user */
#define PGROUPS_SLICE_MS 20         /* of a tick, at most, for the pass */

struct pgroup {
    uint32_t *users;
    size_t n, cap;
};

struct upgroups {
    uint32_t *g;                    /* indices into pgroups */
    size_t n;
};

static int pgroup_source(void *ctx, const char *name, struct sl_aud_list *out)
{
    struct sl_dist *d = ctx;
    json_t *i = json_object_get(d->pgroup_index, name);

    if (!sl_id_valid(name))
        return -EINVAL;
    *out = (struct sl_aud_list){ NULL, 0 };
    if (i) {
        const struct pgroup *g = &d->pgroups[json_integer_value(i)];
        *out = (struct sl_aud_list){ g->users, g->n };
    }
    return 0;
}

static int pgroup_intern(struct sl_dist *d, const char *name, uint32_t *out)
{
    json_t *i = json_object_get(d->pgroup_index, name);
    if (i) {
        *out = (uint32_t)json_integer_value(i);
        return 0;
    }
    if (room((void **)&d->pgroups, &d->pgroups_cap, d->npgroups, sizeof(*d->pgroups)) < 0)
        return -ENOMEM;
    if (json_object_set_new(d->pgroup_index, name, json_integer((json_int_t)d->npgroups)) < 0)
        return -ENOMEM;
    *out = (uint32_t)d->npgroups++;
    return 0;
}

/* Put user u in exactly the groups g[0..n) (indices, no repeats). */
static int pgroups_set(struct sl_dist *d, uint32_t u, const uint32_t *g, size_t n)
{
    if (room((void **)&d->upg, &d->upg_cap, u, sizeof(*d->upg)) < 0)
        return -ENOMEM;
    struct upgroups *mine = &d->upg[u];
    uint32_t *keep = n ? malloc(n * sizeof(*keep)) : NULL;
    if (n && !keep)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        struct pgroup *grp = &d->pgroups[g[i]];
        if (room((void **)&grp->users, &grp->cap, grp->n, sizeof(*grp->users)) < 0) {
            free(keep);
            return -ENOMEM;
        }
    }
    /* Out of the old groups (swap with the last: order means nothing),
     * into the new ones. */
    for (size_t i = 0; i < mine->n; i++) {
        struct pgroup *grp = &d->pgroups[mine->g[i]];
        for (size_t j = 0; j < grp->n; j++)
            if (grp->users[j] == u) {
                grp->users[j] = grp->users[--grp->n];
                break;
            }
    }
    for (size_t i = 0; i < n; i++) {
        struct pgroup *grp = &d->pgroups[g[i]];
        grp->users[grp->n++] = u;
        keep[i] = g[i];
    }
    free(mine->g);
    *mine = (struct upgroups){ keep, n };
    return 0;
}

static int add_default_group(void *ctx, const char *name)
{
    return json_array_append_new(ctx, json_string(name));
}

/* The user as the hook sees it. */
static json_t *hook_user(struct sl_dist *d, uint32_t u)
{
    const char *names[SL_AUD_INTERESTS_MAX];
    size_t n = sl_audience_user_interests(d->aud, u, names, SL_AUD_INTERESTS_MAX);
    const char *city = sl_audience_user_city(d->aud, u);
    json_t *interests = json_array(), *groups = json_array();

    for (size_t i = 0; i < n && i < SL_AUD_INTERESTS_MAX; i++)
        json_array_append_new(interests, json_string(names[i]));
    sl_audience_groups(d->aud, u, add_default_group, groups);
    return json_pack("{s:s, s:o, s:o, s:I, s:I, s:o}", "id", sl_audience_user_id(d->aud, u),
                     "city", city ? json_string(city) : json_null(), "interests", interests,
                     "followers", (json_int_t)sl_audience_followers_count(d->aud, u),
                     "following", (json_int_t)sl_audience_following_count(d->aud, u),
                     "groups", groups);
}

/* Ask the groups hook about user u and put the user where it says. */
static void ask_groups(struct sl_dist *d, struct sl_lua *lua, uint32_t u)
{
    char err[SL_LUA_ERR_MAX];
    uint32_t g[PGROUPS_MAX];
    size_t n = 0, i;
    json_t *arg = hook_user(d, u), *res = NULL, *v;

    int rc = !arg ? -ENOMEM
             : sl_lua_call_json(lua, "groups", NULL, &arg, 1, &res, err, sizeof(err));
    json_decref(arg);
    if (rc == 0 && json_is_object(res) && json_object_size(res) == 0) {
        json_decref(res);           /* {} is an empty list */
        res = json_array();
    }
    if (rc == 0 && (!json_is_array(res) || json_array_size(res) > PGROUPS_MAX)) {
        snprintf(err, sizeof(err), "groups must return a list of at most %d names",
                 PGROUPS_MAX);
        rc = -EINVAL;
    }
    json_array_foreach(rc == 0 ? res : NULL, i, v) {
        uint32_t x;
        if (!json_is_string(v) || !sl_id_valid(json_string_value(v))) {
            snprintf(err, sizeof(err), "group %zu is not a name of 1 to %d of "
                     "A-Z a-z 0-9 _ . : @ -", i + 1, SL_ID_MAX);
            rc = -EINVAL;
            break;
        }
        if ((rc = pgroup_intern(d, json_string_value(v), &x)) < 0) {
            snprintf(err, sizeof(err), "out of memory");
            break;
        }
        bool seen = false;
        for (size_t j = 0; j < n; j++)
            seen |= g[j] == x;
        if (!seen)
            g[n++] = x;
    }
    json_decref(res);
    if (rc < 0) {
        char why[SL_LUA_ERR_MAX + 160];
        snprintf(why, sizeof(why), "user %s: %s", sl_audience_user_id(d->aud, u), err);
        sl_policy_failed("groups", why);
        n = 0;
    }
    pgroups_set(d, u, g, n);
}

/* After the policies load: a pass over every user, or no policy groups. */
static void pgroups_policy_changed(struct sl_dist *d, struct sl_lua *lua)
{
    if (lua && sl_lua_has_hook(lua, "groups")) {
        d->pgroups_next = 0;
        return;
    }
    d->pgroups_next = SL_AUD_NONE;
    for (size_t u = 0; u < d->upg_cap; u++)
        if (d->upg[u].n)
            pgroups_set(d, (uint32_t)u, NULL, 0);
}

/* A slice of the pass, from the tick. */
static void pgroups_step(struct sl_dist *d)
{
    struct sl_lua *lua = sl_policy_lua(d->srv);
    int64_t t0 = sl_now_ms();
    size_t users = sl_audience_user_count(d->aud);

    if (d->pgroups_next == SL_AUD_NONE)
        return;
    if (!lua || !sl_lua_has_hook(lua, "groups")) {
        d->pgroups_next = SL_AUD_NONE;
        return;
    }
    while (d->pgroups_next < users && sl_now_ms() - t0 < PGROUPS_SLICE_MS)
        ask_groups(d, lua, d->pgroups_next++);
    if (d->pgroups_next >= users)
        d->pgroups_next = SL_AUD_NONE;
}

static void pgroups_free(struct sl_dist *d)
{
    for (size_t i = 0; i < d->npgroups; i++)
        free(d->pgroups[i].users);
    free(d->pgroups);
    for (size_t u = 0; u < d->upg_cap; u++)
        free(d->upg[u].g);
    free(d->upg);
    json_decref(d->pgroup_index);
}

/* }===================================================================== */

/* {====================== Entry points ================================= */

struct served {
    struct sl_dist *d;
    uint32_t h;
};

/* sl_store_offers_each(): count the users served the item as offered. */
static int mark_served(void *arg, const char *user, int wave, int source, bool served)
{
    struct served *sv = arg;
    uint32_t u;

    (void)wave, (void)source;
    if (served && sl_audience_user_find(sv->d->aud, user, &u) == 0)
        sl_audience_mark_offered(sv->d->aud, sv->h, &u, 1);
    return 0;
}

/* Take an approved item into distribution; upload and tags as in struct
 * sl_dist_item (the parsed forms may be NULL). */
static struct ditem *adopt(struct sl_dist *d, const char *id, const struct sl_dist_item *di)
{
    json_t *upload = di->upload_json ? json_incref(di->upload_json)
                                     : json_loads(di->upload, 0, NULL);
    json_t *tags = di->tags_json ? json_incref(di->tags_json) : json_loads(di->tags, 0, NULL);
    const char *creator = json_string_value(json_object_get(upload, "creator"));
    const char *city = json_string_value(json_object_get(upload, "city"));
    struct ditem *it = NULL;
    uint32_t h, cidx;

    bool again = sl_audience_item_find(d->aud, id, &h) == 0;
    int rc = creator ? sl_audience_item_new(d->aud, id, creator, city, &h) : -EINVAL;
    /* Approved again (after a hold): who was served it is not served again. */
    if (rc == 0 && again)
        sl_store_offers_each(d->srv->reader, id, mark_served, &(struct served){ d, h });
    if ((rc == 0 || rc == -EEXIST) && (it = calloc(1, sizeof(*it)))) {
        sl_copy(it->id, sizeof(it->id), id);
        it->h = h;
        it->upload = strdup(di->upload);
        it->tags = strdup(di->tags);
        if (!it->upload || !it->tags || keep_interests(it, tags) < 0 || item_put(d, it) < 0) {
            item_drop(d, it);
            it = NULL;
        } else if (sl_audience_user_find(d->aud, creator, &cidx) == 0) {
            sl_audience_creator_mark(d->aud, cidx);
        }
    }
    json_decref(upload);
    json_decref(tags);
    return it;
}

/* An item new to distribution: ask the plan hook for its waves and start
 * the first; a plan that fails holds it for people. */
static void start(struct sl_dist *d, struct ditem *it, const struct sl_dist_item *di)
{
    struct sl_lua *lua = sl_policy_lua(d->srv);
    struct sl_item *item = di->view ? di->view : hook_item(it, di->upload_json, di->tags_json);
    char actor[96], err[SL_LUA_ERR_MAX];
    struct sl_lua_wave waves[MAX_PLAN];
    size_t n = 0;
    int rc = !item ? -ENOMEM : sl_lua_has_hook(lua, "plan")
                 ? sl_lua_plan(lua, item, waves, MAX_PLAN, &n, err, sizeof(err))
                 : SL_DECLINED;
    if (item != di->view)
        sl_item_free(item);
    if (rc == SL_DECLINED)
        rc = plan_default(it);
    else if (rc == 0)
        rc = plan_take(waves, n, it, err, sizeof(err));
    if (rc < 0) {
        char reason[SL_LUA_ERR_MAX + 32];
        sl_policy_failed("plan", err);
        snprintf(reason, sizeof(reason), "policy_error: plan: %s", err);
        struct dist_op *o = op_new(it->id);
        op_state(o, policy_actor(d, actor, sizeof(actor)), "hold", "approved", "in_review",
                 reason);
        o->queue = strdup("distribution");
        op_submit(d, o);
        it->state = D_HELD;
        sl_audience_item_set_live(d->aud, it->h, false);
        return;
    }
    /* The plan goes to the store with the first wave (or the settling). */
    struct dist_op *o = op_new(it->id);
    op_state(o, policy_actor(d, actor, sizeof(actor)), "distribute", "approved",
             "distributing", "");
    it->state = D_RUNNING;
    begin_next_wave(d, it, o);
}

void sl_dist_approved(struct sl_server *srv, const char *id, const struct sl_dist_item *di)
{
    struct sl_dist *d = D(srv);
    struct ditem *it = item_get(d, id);
    json_t *stored = NULL;
    char actor[96];
    char *upload_text = NULL, *tags_text = NULL;
    struct sl_dist_item from_store;

    if (it) {
        /* Back from review: live again, and on with the plan. */
        struct dist_op *o = op_new(id);
        op_state(o, policy_actor(d, actor, sizeof(actor)), "resume", "approved",
                 "distributing", "approved by a moderator");
        it->state = D_RUNNING;
        sl_audience_item_set_live(d->aud, it->h, true);
        begin_next_wave(d, it, o);
        return;
    }
    if (!di) {
        if (sl_store_item_get(srv->reader, id, &stored) < 0)
            return;
        from_store = (struct sl_dist_item){
            .upload_json = json_object_get(stored, "upload"),
            .tags_json = json_object_get(stored, "tags"),
        };
        size_t flags = JSON_COMPACT | JSON_SORT_KEYS;
        from_store.upload = upload_text = json_dumps(from_store.upload_json, flags);
        from_store.tags = tags_text = json_dumps(from_store.tags_json, flags);
        di = upload_text && tags_text ? &from_store : NULL;
    }
    if (di && (it = adopt(d, id, di)))
        start(d, it, di);
    json_decref(stored);
    free(upload_text);
    free(tags_text);
}

/* What distribution holds for an upload taken before it is stored: its
 * changes in order; the first is the approval itself. */
struct sl_dist_taken {
    char id[SL_ID_MAX + 1];
    struct dist_op *ops;
};

struct sl_dist_taken *sl_dist_take(struct sl_server *srv, const char *id,
                                   const struct sl_dist_item *di)
{
    struct sl_dist *d = D(srv);
    struct sl_dist_taken *t;
    struct ditem *it;
    uint32_t h;

    /* An id distribution knows is a retry or a clash: the store decides. */
    if (item_get(d, id) || sl_audience_item_find(d->aud, id, &h) == 0 ||
        !(t = calloc(1, sizeof(*t))))
        return NULL;
    if (!(it = adopt(d, id, di))) {
        free(t);
        return NULL;
    }
    sl_copy(t->id, sizeof(t->id), id);
    d->held_tail = &t->ops;
    start(d, it, di);
    d->held_tail = NULL;
    /* In no feed until the store has it; its entries stay where they are. */
    if ((it = item_get(d, id)))
        sl_audience_item_set_pending(d->aud, it->h, true);
    if (!t->ops) {
        /* Nothing to store (out of memory on the way): the slow road. */
        sl_dist_taken_done(srv, t, false);
        return NULL;
    }
    return t;
}

const char *sl_dist_taken_state(const struct sl_dist_taken *t, const char **plan)
{
    *plan = t->ops->plan;
    return t->ops->state;
}

int sl_dist_taken_write(struct sl_dist_taken *t, struct sl_store *w)
{
    int rc = 0;
    for (struct dist_op *o = t->ops; o && rc == 0; o = o->held_next)
        rc = op_write(o, w, o == t->ops);
    return rc;
}

void sl_dist_taken_done(struct sl_server *srv, struct sl_dist_taken *t, bool stored)
{
    struct sl_dist *d = D(srv);
    struct ditem *it = item_get(d, t->id);

    if (it)
        sl_audience_item_set_pending(d->aud, it->h, false);
    if (it && !stored) {
        sl_audience_item_set_live(d->aud, it->h, false);
        /* Its waves never were: out of the funnel and the decisions. */
        for (int i = 0; i < it->nwaves; i++) {
            const struct wave *w = &it->waves[i];
            if (w->placed > 0)
                d->funnel[w->n <= FUNNEL_MAX ? w->n : FUNNEL_MAX]--;
            else
                d->decisions[3]--;
        }
        item_drop(d, it);
    }
    for (struct dist_op *o = t->ops, *next; o; o = next) {
        next = o->held_next;
        dist_op_free(o);
    }
    free(t);
}

void sl_dist_withdrawn(struct sl_server *srv, const char *id)
{
    struct sl_dist *d = D(srv);
    uint32_t h;
    struct ditem *it = item_get(d, id);

    if (sl_audience_item_find(d->aud, id, &h) == 0)
        sl_audience_item_set_live(d->aud, h, false);
    if (it)
        item_drop(d, it);
}

void sl_dist_user(struct sl_server *srv, const char *id, const char *city, json_t *interests)
{
    const char *names[SL_AUD_INTERESTS_MAX];
    size_t n = 0, i;
    json_t *v;

    json_array_foreach(interests, i, v)
        if (n < SL_AUD_INTERESTS_MAX)
            names[n++] = json_string_value(v);
    struct sl_dist *d = D(srv);
    struct sl_lua *lua = sl_policy_lua(srv);
    uint32_t u;
    if (sl_audience_user_set(d->aud, id, city, interests ? names : NULL, n) == 0 &&
        lua && sl_lua_has_hook(lua, "groups") && sl_audience_user_find(d->aud, id, &u) == 0)
        ask_groups(d, lua, u);
}

size_t sl_dist_followers(struct sl_server *srv, const char *creator)
{
    uint32_t idx;
    if (!srv->dist || sl_audience_user_find(srv->dist->aud, creator, &idx) < 0)
        return 0;
    return sl_audience_followers_count(srv->dist->aud, idx);
}

void sl_dist_follow(struct sl_server *srv, const char *follower, const char *creator, bool on)
{
    sl_audience_follow(D(srv)->aud, follower, creator, on);
}

/* A settled item still sits in inboxes, so reports still pull it back. */
static void late_report(struct sl_dist *d, const char *id)
{
    char state[32], actor[96], reason[128];
    uint32_t h;

    if (sl_audience_item_find(d->aud, id, &h) < 0 ||
        sl_store_item_state(d->srv->reader, id, state) < 0 || strcmp(state, "settled") != 0)
        return;
    json_int_t n = json_integer_value(json_object_get(d->late_reports, id)) + 1;
    if ((uint64_t)n < d->traffic.report_threshold) {
        json_object_set_new(d->late_reports, id, json_integer(n));
        return;
    }
    json_object_del(d->late_reports, id);
    snprintf(reason, sizeof(reason), "%lld reports after it settled (threshold %llu)",
             (long long)n, (unsigned long long)d->traffic.report_threshold);
    sl_audience_item_set_live(d->aud, h, false);
    struct dist_op *o = op_new(id);
    op_state(o, policy_actor(d, actor, sizeof(actor)), "hold", "settled", "in_review", reason);
    o->queue = strdup("reports");
    op_submit(d, o);
}

void sl_dist_event(struct sl_server *srv, const char *id, const char *user, int type)
{
    struct sl_dist *d = D(srv);
    struct ditem *it = item_get(d, id);
    struct wave *w;
    char actor[96];

    if (!it && type == SL_EV_REPORT)
        late_report(d, id);
    if (!it || it->state != D_RUNNING || !(w = current(it)))
        return;
    w->counts[type]++;
    it->dirty = true;
    if (type == SL_EV_LIKE || type == SL_EV_COMPLETE || type == SL_EV_SHARE) {
        const char *interests[16];
        uint32_t u;
        size_t n = item_interests(it, interests, 16);
        if (n && sl_audience_user_find(d->aud, user, &u) == 0)
            sl_audience_engage(d->aud, u, interests, n);
    }
    if (type == SL_EV_REPORT && ++it->reports >= d->traffic.report_threshold) {
        char reason[128];
        snprintf(reason, sizeof(reason), "%llu reports (threshold %llu)",
                 (unsigned long long)it->reports,
                 (unsigned long long)d->traffic.report_threshold);
        it->reports = 0;
        hold_for_review(d, it, "reports", reason, policy_actor(d, actor, sizeof(actor)));
        return;
    }
    /* Decide after the whole batch is counted, not in the middle of it. */
    if (w->counts[SL_EV_IMPRESSION] >= w->placed && !it->due) {
        if (room((void **)&d->due, &d->due_cap, d->ndue, sizeof(*d->due)) < 0)
            return;
        d->due[d->ndue++] = it->h;
        it->due = true;
    }
}

void sl_dist_events_done(struct sl_server *srv)
{
    struct sl_dist *d = D(srv);
    /* decide() may end items and start waves, but adds nothing to due. */
    for (size_t i = 0; i < d->ndue; i++) {
        struct ditem *it = d->due[i] < d->cap ? d->items[d->due[i]] : NULL;
        if (it && it->due) {
            it->due = false;
            if (it->state == D_RUNNING)
                decide(d, it, "size");
        }
    }
    d->ndue = 0;
}

/* }===================================================================== */

/* {====================== Timer ======================================== */

/* Write the running waves' counters of the items in slice `part` of
 * `parts` (by handle), those that changed. */
static void persist_counters(struct sl_dist *d, size_t part, size_t parts)
{
    for (size_t h = part; h < d->cap; h += parts) {
        struct ditem *it = d->items[h];
        struct wave *w = it ? current(it) : NULL;
        if (!w || !it->dirty)
            continue;
        struct dist_op *o = op_new(it->id);
        op_wave(o, w);
        op_submit(d, o);
        it->dirty = false;
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct sl_dist *d = arg;
    int64_t now = sl_now_ms();
    (void)fd;
    (void)what;

    if (d->srv->draining)
        return;
    pgroups_step(d);
    for (size_t h = 0; h < d->cap; h++) {
        struct ditem *it = d->items[h];
        struct wave *w = it && it->state == D_RUNNING ? current(it) : NULL;
        if (w && now - w->started_ms >= w->limit_ms)
            decide(d, it, "time");
    }
    /* Each tick writes a slice, so every item's counters are written once
     * per PERSIST_EVERY_MS without one tick stalling on all of them. */
    persist_counters(d, d->persist_part, PERSIST_SLICES);
    d->persist_part = (d->persist_part + 1) % PERSIST_SLICES;
    if (now - d->last_head >= HEAD_EVERY_MS) {
        sl_audience_head_update(d->aud, d->traffic.head_share);
        d->last_head = now;
    }
    /* Circles are recomputed in slices, a few milliseconds a tick, so a
     * large graph never stalls the loop; a finished pass rests a while. */
    if (now - d->last_regroup >= REGROUP_EVERY_MS) {
        bool done = false;
        sl_audience_regroup_step(d->aud, 1u << 16, &done);
        if (done)
            d->last_regroup = now;
    }
}

/* }===================================================================== */

/* {====================== Traffic ====================================== */

void sl_dist_policy_changed(struct sl_server *srv)
{
    struct sl_dist *d = D(srv);
    struct sl_lua *lua = sl_policy_lua(srv);
    struct traffic t = { 0.30, 0.70, 0.10, 3 };
    char err[SL_LUA_ERR_MAX];
    json_t *res = NULL;

    if (lua && sl_lua_has_hook(lua, "traffic")) {
        if (sl_lua_call_json(lua, "traffic", NULL, NULL, 0, &res, err, sizeof(err)) < 0 ||
            !json_is_object(res)) {
            sl_policy_failed("traffic", res ? "traffic must return a table" : err);
        } else {
            json_t *v;
            if (json_is_number(v = json_object_get(res, "private")))
                t.min_private = json_number_value(v);
            if (json_is_number(v = json_object_get(res, "ordinary")))
                t.min_ordinary = json_number_value(v);
            if (json_is_number(v = json_object_get(res, "head")))
                t.head_share = json_number_value(v);
            if (json_is_integer(v = json_object_get(res, "report_threshold")))
                t.report_threshold = (uint64_t)json_integer_value(v);
            if (t.min_private < 0 || t.min_private > 1 || t.min_ordinary < 0 ||
                t.min_ordinary > 1 || t.head_share < 0 || t.head_share > 1 ||
                t.report_threshold < 1) {
                sl_policy_failed("traffic", "shares must be in [0, 1] and report_threshold >= 1");
                t = (struct traffic){ 0.30, 0.70, 0.10, 3 };
            }
        }
        json_decref(res);
    }
    d->traffic = t;
    pgroups_policy_changed(d, lua);
    sl_audience_head_update(d->aud, t.head_share);
}

/* }===================================================================== */

/* {====================== Feeds ======================================== */

enum tab { TAB_FOLLOW, TAB_NEARBY, TAB_DISCOVER, TAB_MIXED };

static json_t *feed_entry(struct sl_dist *d, const struct sl_aud_entry *e)
{
    return json_pack("{s:s, s:s, s:s, s:i}", "id", e->item_id,
                     "creator", sl_audience_user_id(d->aud, e->creator),
                     "source", sl_audience_source_name(e->source), "stage", (int)e->wave);
}

void sl_api_feed(struct sl_request *r)
{
    struct sl_dist *d = D(r->srv);
    const char *tab_s = sl_http_query(r, "tab"), *limit_s = sl_http_query(r, "limit");
    char *end = NULL;
    long limit = limit_s ? strtol(limit_s, &end, 10) : 20;
    enum tab tab = TAB_MIXED;
    uint32_t u;

    if (tab_s && strcmp(tab_s, "follow") == 0) tab = TAB_FOLLOW;
    else if (tab_s && strcmp(tab_s, "nearby") == 0) tab = TAB_NEARBY;
    else if (tab_s && strcmp(tab_s, "discover") == 0) tab = TAB_DISCOVER;
    else if (tab_s && strcmp(tab_s, "mixed") != 0) {
        sl_http_reply_errorf(r, 400, "bad_request", "tab",
                             "tab must be follow, nearby, discover or mixed.");
        return;
    }
    if ((limit_s && *end) || limit < 1 || limit > FEED_MAX) {
        sl_http_reply_errorf(r, 400, "bad_request", "limit",
                             "limit must be between 1 and %d.", FEED_MAX);
        return;
    }
    if (!sl_id_valid(r->params[0])) {
        sl_http_reply_errorf(r, 404, "not_found", NULL, "No user has that id.");
        return;
    }
    json_t *items = json_array();
    if (sl_audience_user_find(d->aud, r->params[0], &u) < 0) {
        sl_http_reply_json(r, 200, json_pack("{s:o}", "items", items));
        return;
    }
    struct sl_aud_entry in[INBOX_SCAN];
    size_t n = sl_audience_inbox_read(d->aud, u, in, INBOX_SCAN);
    struct sl_compose_cand priv[INBOX_SCAN], pub[INBOX_SCAN];
    size_t np = 0, nq = 0, pi[INBOX_SCAN], qi[INBOX_SCAN];
    const struct sl_aud_entry *chosen[FEED_MAX];
    size_t nchosen = 0;

    for (size_t i = 0; i < n; i++) {
        bool followed = sl_audience_follows(d->aud, u, in[i].creator);
        bool keep = tab == TAB_MIXED || (tab == TAB_FOLLOW && followed) ||
                    (tab == TAB_NEARBY && in[i].source == SL_AUD_NEARBY) ||
                    (tab == TAB_DISCOVER && !followed && in[i].source != SL_AUD_NEARBY);
        if (!keep)
            continue;
        if (tab != TAB_MIXED) {
            if (nchosen < (size_t)limit)
                chosen[nchosen++] = &in[i];
            continue;
        }
        struct sl_compose_cand c = { in[i].item, in[i].creator,
                                  sl_audience_is_head(d->aud, in[i].creator) };
        if (followed) {
            pi[np] = i;
            priv[np++] = c;
        } else {
            qi[nq] = i;
            pub[nq++] = c;
        }
    }
    if (tab == TAB_MIXED) {
        struct sl_compose_rules rules;
        struct sl_compose_pick picks[FEED_MAX];
        struct sl_compose_counts counts = { 0 };
        size_t npicks = 0;
        sl_compose_rules_default(&rules);
        rules.min_private = d->traffic.min_private;
        rules.min_ordinary = d->traffic.min_ordinary;
        if (sl_compose_page(priv, np, pub, nq, &rules, (size_t)limit, picks, &npicks,
                            &counts) == 0) {
            for (size_t i = 0; i < npicks; i++)
                chosen[nchosen++] = &in[picks[i].pool == SL_COMPOSE_PRIVATE ? pi[picks[i].index]
                                                                       : qi[picks[i].index]];
            d->served_private += counts.private_n;
            d->served_public += counts.public_n;
            d->served_ordinary += counts.ordinary_n;
            d->served_head += counts.head_n;
        }
    }
    for (size_t i = 0; i < nchosen; i++) {
        json_array_append_new(items, feed_entry(d, chosen[i]));
        sl_audience_exposure_add(d->aud, chosen[i]->creator, 1);
    }
    /* Served once: out of the inbox, so no item comes twice; the store
     * learns it too, so a restart does not put it back. */
    for (size_t i = 0; i < nchosen; i++) {
        struct dist_op *o = op_new(chosen[i]->item_id);
        if (o && (o->offers = malloc(sizeof(*o->offers)))) {
            o->offers[0] = strdup(r->params[0]);
            o->noffers = 1;
            o->served = true;
            op_submit(d, o);
        } else if (o) {
            dist_op_free(o);
        }
    }
    for (size_t i = 0; i < nchosen; i++)
        sl_audience_inbox_remove(d->aud, u, chosen[i]->item);
    sl_http_reply_json(r, 200, json_pack("{s:o}", "items", items));
}

/* }===================================================================== */

/* {====================== Takedown ===================================== */

struct takedown_op {
    struct sl_commit_op op;
    struct sl_request *r;
    char item[SL_ID_MAX + 1];
    char actor[SL_ID_MAX + 8];
    char reason[512];
    char from[32];
};

static int takedown_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct takedown_op *t = (struct takedown_op *)op;
    int64_t now = sl_now_ms();
    int rc = sl_store_item_state(w, t->item, t->from);

    if (rc < 0)
        return rc;
    if (strcmp(t->from, "removed") == 0)
        return 0;
    struct sl_audit_rec rec = { t->item, t->actor, "takedown", t->from, "removed", t->reason,
                                now };
    if ((rc = sl_store_item_set_state(w, t->item, "removed", now)) < 0 ||
        (rc = sl_store_queue_remove(w, t->item)) < 0)
        return rc;
    return sl_store_audit_append(w, &rec);
}

static void takedown_done(struct sl_commit_op *op, int rc)
{
    struct takedown_op *t = (struct takedown_op *)op;

    if (rc == -ENOENT)
        sl_http_reply_errorf(t->r, 404, "not_found", NULL, "No item has the id '%s'.", t->item);
    else if (rc < 0)
        sl_http_reply_store_error(t->r, rc);
    else {
        sl_dist_withdrawn(t->r->srv, t->item);
        sl_http_reply_json(t->r, 200, json_pack("{s:s, s:s, s:s}", "id", t->item,
                                                "state", "removed", "previous", t->from));
    }
    free(t);
}

void sl_api_takedown(struct sl_request *r)
{
    static const char *const keys[] = { "reason", NULL };
    struct sl_error err = { 0 };
    const char *reason = "taken down";
    json_t *body = r->body_len ? sl_http_json_body(r, &err) : json_object();

    if (!body || sl_json_only_keys(body, keys, &err) < 0 ||
        sl_json_get_string(body, "reason", false, 500, &reason, &err) < 0 ||
        (!sl_id_valid(r->params[0]) &&
         sl_error_set(&err, 404, "not_found", NULL, "No item has that id.") < 0)) {
        json_decref(body);
        sl_http_reply_error(r, &err);
        return;
    }
    struct takedown_op *t = calloc(1, sizeof(*t));
    sl_copy(t->item, sizeof(t->item), r->params[0]);
    snprintf(t->actor, sizeof(t->actor), "token:%s", r->token_name);
    sl_copy(t->reason, sizeof(t->reason), reason);
    json_decref(body);
    t->r = r;
    t->op.apply = takedown_apply;
    t->op.done = takedown_done;
    int rc = sl_commit_submit(r->srv->commit, &t->op);
    if (rc < 0) {
        free(t);
        sl_http_reply_store_error(r, rc);
    }
}

/* }===================================================================== */

/* {====================== Journey and figures ========================== */

json_t *sl_dist_journey(struct sl_server *srv, const char *id)
{
    struct sl_dist *d = D(srv);
    struct ditem *it = item_get(d, id);
    json_t *waves = NULL;

    if (it) {
        waves = json_array();
        for (int i = 0; i < it->nwaves; i++)
            json_array_append_new(waves, wave_json(&it->waves[i]));
    } else if (sl_store_waves_get(srv->reader, id, &waves) < 0) {
        waves = json_array();
    }
    return waves;
}

static void shares(struct sl_dist *d, double *priv, double *ordinary, double *gini)
{
    uint64_t total = d->served_private + d->served_public;
    *priv = total ? (double)d->served_private / (double)total : 0;
    *ordinary = d->served_public ? (double)d->served_ordinary / (double)d->served_public : 0;
    if (sl_audience_exposure_gini(d->aud, gini) < 0)
        *gini = 0;
}

json_t *sl_dist_stats(struct sl_server *srv)
{
    struct sl_dist *d = D(srv);
    double p, o, g;
    json_t *funnel = json_object(), *dec = json_object();

    for (int k = 1; k <= FUNNEL_MAX; k++) {
        char key[16];
        snprintf(key, sizeof(key), k == FUNNEL_MAX ? "wave%d+" : "wave%d", k);
        json_object_set_new(funnel, key, json_integer((json_int_t)d->funnel[k]));
    }
    for (int i = 0; i < 6; i++)
        json_object_set_new(dec, decision_names[i], json_integer((json_int_t)d->decisions[i]));
    shares(d, &p, &o, &g);
    return json_pack("{s:o, s:o, s:{s:f, s:f, s:f, s:I, s:I}}", "funnel", funnel,
                     "decisions", dec, "shares", "private", p, "ordinary", o, "gini", g,
                     "served", (json_int_t)(d->served_private + d->served_public),
                     "served_public", (json_int_t)d->served_public);
}

void sl_dist_metrics(struct sl_server *srv, struct evbuffer *out)
{
    struct sl_dist *d = D(srv);
    double p, o, g;

    shares(d, &p, &o, &g);
    sl_metric_header(out, "sluice_feed_private_share", "gauge",
                     "Share of mixed-feed items served from creators the user follows.");
    evbuffer_add_printf(out, "sluice_feed_private_share %.6f\n", p);
    sl_metric_header(out, "sluice_feed_ordinary_share", "gauge",
                     "Share of public mixed-feed items served from creators outside the head.");
    evbuffer_add_printf(out, "sluice_feed_ordinary_share %.6f\n", o);
    sl_metric_header(out, "sluice_exposure_gini", "gauge",
                     "Gini coefficient of items served per creator (0 is equal).");
    evbuffer_add_printf(out, "sluice_exposure_gini %.6f\n", g);
    sl_metric_header(out, "sluice_wave_funnel_total", "counter",
                     "Items whose distribution reached wave N.");
    for (int k = 1; k <= FUNNEL_MAX; k++)
        evbuffer_add_printf(out, "sluice_wave_funnel_total{wave=\"%d%s\"} %llu\n", k,
                            k == FUNNEL_MAX ? "+" : "", (unsigned long long)d->funnel[k]);
    sl_metric_header(out, "sluice_wave_decisions_total", "counter",
                     "Wave outcomes: the policy's decisions, skips, reviews and errors.");
    for (int i = 0; i < 6; i++)
        evbuffer_add_printf(out, "sluice_wave_decisions_total{decision=\"%s\"} %llu\n",
                            decision_names[i], (unsigned long long)d->decisions[i]);
    sl_metric_header(out, "sluice_audience_users", "gauge", "Users the audience holds.");
    evbuffer_add_printf(out, "sluice_audience_users %zu\n", sl_audience_user_count(d->aud));
}

/* }===================================================================== */

/* {====================== Replay ======================================= */

static void restore_wave(struct wave *w, json_t *j);

static json_t *replay_answer(int rc, const char *decision, const char *to, const char *err)
{
    if (rc != 0)
        return json_pack("{s:s, s:s}", "decision", "error", "reason", err);
    if (strcmp(decision, "switch") == 0)
        return json_pack("{s:s, s:s}", "decision", decision, "audience", to);
    return json_pack("{s:s}", "decision", decision);
}

json_t *sl_dist_replay_waves(struct sl_server *srv, struct sl_lua *candidate,
                             const char *id, json_t *upload, json_t *tags, int *examined)
{
    struct sl_dist *d = D(srv);
    struct ditem it = { 0 };
    json_t *waves = NULL, *changed = json_array(), *jw;
    size_t i;

    if (keep_interests(&it, tags) < 0 || sl_store_waves_get(srv->reader, id, &waves) < 0) {
        free(it.interests);
        return changed;
    }
    json_array_foreach(waves, i, jw) {
        struct wave w;
        restore_wave(&w, jw);
        /* Only waves the policy decided: skips and reviews were not its call. */
        if (strcmp(w.decision, "continue") != 0 && strcmp(w.decision, "stop") != 0 &&
            strcmp(w.decision, "switch") != 0)
            continue;
        const char *why = w.ended_ms - w.started_ms >= w.limit_ms ? "time" : "size";
        int64_t elapsed = w.ended_ms - w.started_ms;
        char err_a[SL_LUA_ERR_MAX], err_b[SL_LUA_ERR_MAX];
        const char *da = NULL, *ra = "", *ta = NULL, *db = NULL, *rb = "", *tb = NULL;
        json_t *res_a = NULL, *res_b = NULL;
        int rc_a = ask_wave_done(d, sl_policy_lua(srv), &it, upload, tags, &w, elapsed, why,
                                 &res_a, &da, &ra, &ta, err_a, sizeof(err_a));
        int rc_b = ask_wave_done(d, candidate, &it, upload, tags, &w, elapsed, why, &res_b,
                                 &db, &rb, &tb, err_b, sizeof(err_b));
        json_t *from = replay_answer(rc_a, da, ta, err_a), *to = replay_answer(rc_b, db, tb, err_b);
        (*examined)++;
        if (!json_equal(from, to))
            json_array_append_new(changed, json_pack("{s:s, s:i, s:s, s:o, s:o}", "id", id,
                                  "wave", w.n, "audience", w.audience, "from", from, "to", to));
        else {
            json_decref(from);
            json_decref(to);
        }
        json_decref(res_a);
        json_decref(res_b);
    }
    json_decref(waves);
    free(it.interests);
    return changed;
}

/* }===================================================================== */

/* {====================== Start and stop =============================== */

static int load_user(void *arg, const char *id, const char *city, const char *interests)
{
    struct sl_dist *d = arg;
    json_t *list = interests ? json_loads(interests, 0, NULL) : NULL;
    const char *names[SL_AUD_INTERESTS_MAX];
    size_t n = 0, i;
    json_t *v;

    json_array_foreach(list, i, v)
        if (n < SL_AUD_INTERESTS_MAX)
            names[n++] = json_string_value(v);
    sl_audience_user_set(d->aud, id, city, names, n);
    json_decref(list);
    return 0;
}

static int load_follow(void *arg, const char *follower, const char *creator)
{
    sl_audience_follow(((struct sl_dist *)arg)->aud, follower, creator, true);
    return 0;
}

struct resume {
    struct sl_dist *d;
    struct ditem *it;
    int running;                    /* wave n still running, or 0 */
};

static int resume_offer(void *arg, const char *user, int wave, int source, bool served)
{
    struct resume *rs = arg;
    uint32_t u;
    if (sl_audience_user_add(rs->d->aud, user, &u) < 0)
        return 0;
    /* The running wave's unserved offers go back into inboxes; the rest
     * only count as offered. */
    if (wave == rs->running && !served)
        sl_audience_place(rs->d->aud, rs->it->h, &u, 1, (enum sl_aud_source)source,
                          (uint32_t)wave, NULL);
    else
        sl_audience_mark_offered(rs->d->aud, rs->it->h, &u, 1);
    return 0;
}

static void restore_wave(struct wave *w, json_t *j)
{
    json_t *stats = json_object_get(j, "stats");
    memset(w, 0, sizeof(*w));
    w->n = (int)json_integer_value(json_object_get(j, "n"));
    sl_copy(w->audience, sizeof(w->audience),
            json_string_value(json_object_get(j, "audience")));
    w->size = (uint32_t)json_integer_value(json_object_get(j, "size"));
    w->placed = (uint32_t)json_integer_value(json_object_get(j, "placed"));
    w->started_ms = json_integer_value(json_object_get(j, "started_ms"));
    w->limit_ms = json_integer_value(json_object_get(j, "limit_ms"));
    w->ended_ms = json_integer_value(json_object_get(j, "ended_ms"));
    for (int i = 0; i < SL_EV__COUNT; i++)
        w->counts[i] = (uint64_t)json_integer_value(json_object_get(stats, sl_event_names[i]));
    sl_copy(w->decision, sizeof(w->decision),
            json_string_value(json_object_get(j, "decision")));
    sl_copy(w->reason, sizeof(w->reason), json_string_value(json_object_get(j, "reason")));
    sl_copy(w->decided_by, sizeof(w->decided_by),
            json_string_value(json_object_get(j, "decided_by")));
}

static int resume_item(void *arg, const char *id, const char *creator, const char *upload,
                       const char *tags, const char *plan)
{
    struct sl_dist *d = arg;
    json_t *pl = plan ? json_loads(plan, 0, NULL) : NULL, *waves = NULL;
    struct sl_dist_item di = { .upload = upload, .tags = tags };
    char err[SL_LUA_ERR_MAX];
    (void)creator;

    struct ditem *it = adopt(d, id, &di);
    if (it && sl_store_waves_get(d->srv->reader, id, &waves) == 0) {
        if (plan_check(json_object_get(pl, "waves"), it, err, sizeof(err)) < 0)
            plan_default(it);
        it->next = (int)json_integer_value(json_object_get(pl, "next"));
        it->reviewed = (int)json_integer_value(json_object_get(pl, "reviewed"));
        it->nwaves = (int)json_array_size(waves);
        it->waves = calloc(it->nwaves ? it->nwaves : 1, sizeof(*it->waves));
        for (int i = 0; i < it->nwaves; i++)
            restore_wave(&it->waves[i], json_array_get(waves, i));
        struct wave *w = current(it);
        struct resume rs = { d, it, w ? w->n : 0 };
        sl_store_offers_each(d->srv->reader, id, resume_offer, &rs);
        it->state = D_RUNNING;
        json_decref(waves);
        if (!w)
            begin_next_wave(d, it, NULL);
    }
    json_decref(pl);
    return 0;
}

int sl_dist_start(struct sl_server *srv)
{
    struct sl_dist *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->srv = srv;
    d->late_reports = json_object();
    d->pgroup_index = json_object();
    d->pgroups_next = SL_AUD_NONE;
    srv->dist = d;
    d->aud = sl_audience_new(NULL);
    if (!d->aud)
        return -ENOMEM;
    sl_audience_set_group_source(d->aud, pgroup_source, d);
    int64_t t0 = sl_now_ms();
    sl_audience_bulk_begin(d->aud);
    int rc = sl_store_users_each(srv->reader, load_user, d);
    if (rc == 0)
        rc = sl_store_follows_each(srv->reader, load_follow, d);
    sl_audience_bulk_end(d->aud);
    if (rc < 0)
        return rc;
    sl_dist_policy_changed(srv);
    rc = sl_store_items_in_state(srv->reader, "distributing", resume_item, d);
    if (rc < 0)
        return rc;
    d->last_head = sl_now_ms();
    d->last_regroup = d->last_head - REGROUP_EVERY_MS;     /* first pass now, in slices */
    sl_info("distribution: %zu users loaded in %lld ms", sl_audience_user_count(d->aud),
            (long long)(sl_now_ms() - t0));
    d->tick = event_new(srv->base, -1, EV_PERSIST, on_tick, d);
    struct timeval tv = { TICK_MS / 1000, (TICK_MS % 1000) * 1000 };
    return d->tick && event_add(d->tick, &tv) == 0 ? 0 : -ENOMEM;
}

void sl_dist_stop(struct sl_server *srv)
{
    struct sl_dist *d = srv->dist;
    if (!d)
        return;
    if (d->tick)
        event_free(d->tick);
    if (srv->commit)
        persist_counters(d, 0, 1);
    for (size_t h = 0; h < d->cap; h++)
        if (d->items[h])
            item_drop(d, d->items[h]);
    free(d->items);
    free(d->scratch);
    free(d->due);
    json_decref(d->late_reports);
    pgroups_free(d);
    sl_audience_free(d->aud);
    free(d);
    srv->dist = NULL;
}

/* }===================================================================== */
