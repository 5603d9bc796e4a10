/* SPDX-License-Identifier: MIT */
/* Distribution: items taken in, the item index, the audience's facts, start and stop. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <sluice/plugin.h>

#include "dist/internal.h"
#include "lib/clock.h"
#include "lib/grow.h"
#include "lib/item.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/text.h"
#include "lua/sandbox.h"
#include "policy/policy.h"
#include "server.h"
#include "store/store.h"

/* {====================== Items ======================================== */

struct ditem *dist_item_get(struct sl_dist *d, const char *id)
{
    uint32_t h;
    if (sl_audience_item_find(d->aud, id, &h) < 0 || h >= d->cap)
        return NULL;
    return d->items[h];
}

static int item_put(struct sl_dist *d, struct ditem *it)
{
    if (sl_grow((void **)&d->items, &d->cap, (size_t)it->h + 1, sizeof(*d->items)) < 0)
        return -ENOMEM;
    d->items[it->h] = it;
    return 0;
}

void dist_item_drop(struct sl_dist *d, struct ditem *it)
{
    if (it->h < d->cap && d->items[it->h] == it)
        d->items[it->h] = NULL;
    sl_audience_item_release(d->aud, it->h);
    dist_reactions_free(&it->reactions);
    free(it->upload);
    free(it->tags);
    free(it->interests);
    dist_plan_put(it->plan);
    dist_waves_free(it->waves, it->nwaves);
    free(it->switch_to);
    free(it);
}

/* NAME when the tag is "interest.NAME" with confidence >= 0.5, else NULL. */
static const char *interest_of(const char *tag, json_t *v)
{
    return strncmp(tag, "interest.", 9) == 0 && tag[9] &&
           json_number_value(json_object_get(v, "confidence")) >= 0.5 ? tag + 9 : NULL;
}

/* Keep the item's interests, from its tags. */
int dist_keep_interests(struct ditem *it, json_t *tags)
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

size_t dist_item_interests(const struct ditem *it, const char **out, size_t max)
{
    const char *p = it->interests;
    size_t n = 0;

    for (int i = 0; i < it->ninterests && n < max; i++, p += strlen(p) + 1)
        out[n++] = p;
    return n;
}

/* }===================================================================== */

/* {====================== Into distribution ============================ */

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

/* A JSON text the store gave back, parsed by json.c's reader: jansson's
 * json_loads took some 150 instructions a byte, and a start reads the
 * upload, the plan and the waves of every distributing item. NULL for
 * none, or for text it does not read (edited by hand). */
json_t *dist_stored_json(const char *text)
{
    struct sl_error err;

    return text ? sl_json_parse(text, strlen(text), false, &err) : NULL;
}

struct ditem *dist_adopt(struct sl_dist *d, const char *id, const char *creator,
                         const char *city, json_t *tags, const char *upload_text,
                         const char *tags_text)
{
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
        it->upload = strdup(upload_text);
        it->tags = strdup(tags_text);
        if (!it->upload || !it->tags || dist_keep_interests(it, tags) < 0 || item_put(d, it) < 0) {
            dist_item_drop(d, it);
            it = NULL;
        } else if (sl_audience_user_find(d->aud, creator, &cidx) == 0) {
            sl_audience_creator_mark(d->aud, cidx);
        }
    }
    return it;
}

/* Take an approved item into distribution; upload and tags as in struct
 * sl_dist_item (the parsed forms may be NULL). */
static struct ditem *adopt(struct sl_dist *d, const char *id, const struct sl_dist_item *di)
{
    json_t *upload = di->upload_json ? json_incref(di->upload_json) : dist_stored_json(di->upload);
    json_t *tags = di->tags_json ? json_incref(di->tags_json) : dist_stored_json(di->tags);
    struct ditem *it = dist_adopt(d, id, json_string_value(json_object_get(upload, "creator")),
                                  json_string_value(json_object_get(upload, "city")), tags,
                                  di->upload, di->tags);
    json_decref(upload);
    json_decref(tags);
    return it;
}

/* An item new to distribution: ask the deciders for its waves (the
 * plugins' plan, then the policy's: combine.c) and start the first; a plan
 * that fails holds it for people. */
static void start(struct sl_dist *d, struct ditem *it, const struct sl_dist_item *di)
{
    struct sl_item *item = di->view ? di->view : dist_hook_item(it, di->upload_json, di->tags_json);
    if (item && item != di->view)
        dist_item_context(d, item);
    char actor[96], note[256], err[SL_LUA_ERR_MAX];
    int rc = dist_plan_decide(d, it, item, actor, sizeof(actor), note, sizeof(note), err,
                              sizeof(err));
    if (item != di->view)
        sl_item_free(item);
    if (rc < 0) {
        char reason[SL_LUA_ERR_MAX + 32];
        snprintf(reason, sizeof(reason), "policy_error: plan: %s", err);
        struct dist_op *o = dist_op_new(d, it->id);
        dist_op_state(o, actor, "hold", "approved", "in_review", reason);
        dist_op_queue(o, "distribution");
        dist_op_submit(d, o);
        it->state = D_HELD;
        sl_audience_item_set_live(d->aud, it->h, false);
        return;
    }
    /* The plan goes to the store with the first wave (or the settling). */
    struct dist_op *o = dist_op_new(d, it->id);
    dist_op_state(o, actor, "distribute", "approved", "distributing", note);
    it->state = D_RUNNING;
    dist_begin_next_wave(d, it, o);
}

static int restore(struct sl_dist *d, struct ditem *it, json_t *plan, json_t *waves);

/*
 * Approved by people after distribution had begun, while the engine no
 * longer held the item (it was settled and pulled back by reports, or the
 * daemon restarted while it waited): it goes on from its stored waves, or
 * settles again if they had ended.
 */
static void again(struct sl_dist *d, const char *id, json_t *stored, json_t *waves)
{
    json_t *plan = json_object_get(stored, "plan");
    const char *last = json_string_value(
        json_object_get(json_array_get(waves, json_array_size(waves) - 1), "decision"));
    bool ended = (last && strcmp(last, "stop") == 0) ||
                 (json_integer_value(json_object_get(plan, "next")) >=
                      (json_int_t)json_array_size(json_object_get(plan, "waves")) &&
                  !(last && strcmp(last, "review") == 0));
    char actor[96];
    uint32_t h;

    dist_policy_actor(d, actor, sizeof(actor));
    if (ended) {
        /* Its entries not yet served show again, as before the hold. */
        if (sl_audience_item_find(d->aud, id, &h) == 0)
            sl_audience_item_set_live(d->aud, h, true);
        struct dist_op *o = dist_op_new(d, id);
        dist_op_state(o, actor, "settle", "approved", "settled",
                      "approved by a moderator after its waves had ended");
        dist_op_submit(d, o);
        return;
    }
    size_t flags = JSON_COMPACT | JSON_SORT_KEYS;
    char *upload = json_dumps(json_object_get(stored, "upload"), flags);
    char *tags = json_dumps(json_object_get(stored, "tags"), flags);
    struct sl_dist_item di = { .upload = upload, .tags = tags,
                               .upload_json = json_object_get(stored, "upload"),
                               .tags_json = json_object_get(stored, "tags") };
    struct ditem *it = upload && tags ? adopt(d, id, &di) : NULL;
    if (it && restore(d, it, plan, waves) < 0) {
        dist_item_drop(d, it);
        it = NULL;
    }
    if (!it) {
        sl_err("distribution: out of memory taking %s back after review; it stays approved "
               "until the next start", id);
    } else {
        struct dist_op *o = dist_op_new(d, id);
        dist_op_state(o, actor, "resume", "approved", "distributing", "approved by a moderator");
        it->state = D_RUNNING;
        sl_audience_item_set_live(d->aud, it->h, true);
        dist_begin_next_wave(d, it, o);
    }
    free(upload);
    free(tags);
}

void sl_dist_approved(struct sl_server *srv, const char *id, const struct sl_dist_item *di)
{
    struct sl_dist *d = D(srv);
    struct ditem *it = dist_item_get(d, id);
    json_t *stored = NULL;
    char actor[96];
    char *upload_text = NULL, *tags_text = NULL;
    struct sl_dist_item from_store;

    if (it) {
        /* Back from review: live again, and on with the plan. */
        struct dist_op *o = dist_op_new(d, id);
        dist_op_state(o, dist_policy_actor(d, actor, sizeof(actor)), "resume", "approved",
                      "distributing", "approved by a moderator");
        it->state = D_RUNNING;
        sl_audience_item_set_live(d->aud, it->h, true);
        dist_begin_next_wave(d, it, o);
        return;
    }
    if (!di) {
        if (sl_store_item_get(srv->reader, id, &stored) < 0)
            return;
        json_t *waves = NULL;
        if (sl_store_waves_get(srv->reader, id, &waves) == 0 && json_array_size(waves) > 0) {
            again(d, id, stored, waves);
            json_decref(waves);
            json_decref(stored);
            return;
        }
        json_decref(waves);
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
    if (dist_item_get(d, id) || sl_audience_item_find(d->aud, id, &h) == 0 ||
        !(t = calloc(1, sizeof(*t))))
        return NULL;
    if (!(it = adopt(d, id, di))) {
        free(t);
        return NULL;
    }
    sl_copy(t->id, sizeof(t->id), id);
    d->held_tail = &t->ops;
    d->held_lost = false;
    start(d, it, di);
    d->held_tail = NULL;
    /* In no feed until the store has it; its entries stay where they are. */
    if ((it = dist_item_get(d, id)))
        sl_audience_item_set_pending(d->aud, it->h, true);
    if (!t->ops || d->held_lost) {
        /* Not all of it to store (out of memory on the way): the slow road. */
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
        rc = dist_op_write(o, w, o == t->ops);
    return rc;
}

void sl_dist_taken_done(struct sl_server *srv, struct sl_dist_taken *t, bool stored)
{
    struct sl_dist *d = D(srv);
    struct ditem *it = dist_item_get(d, t->id);

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
                d->decisions[DEC_SKIP]--;
        }
        dist_item_drop(d, it);
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
    struct ditem *it = dist_item_get(d, id);
    struct wave *w = it && it->state == D_RUNNING ? dist_current(it) : NULL;
    bool people = d->people;

    if (sl_audience_item_find(d->aud, id, &h) == 0)
        sl_audience_item_set_live(d->aud, h, false);
    if (w) {
        /* Its running wave ends here, so that the item's journey says so,
         * and an approval after a restore goes on with the next one. */
        d->people = true;
        struct dist_op *o = dist_op_new(d, id);
        sl_copy(w->decision, sizeof(w->decision), "withdrawn");
        sl_copy(w->ended_by, sizeof(w->ended_by), "withdrawn");
        dist_wave_say(w, "taken out of distribution by people", dist_wave_by(w));
        w->ended_ms = sl_now_ms();
        dist_op_wave(o, w);
        dist_op_plan(o, it);
        dist_op_submit(d, o);
        d->people = people;
    }
    if (it)
        dist_item_drop(d, it);
}

void sl_dist_held(struct sl_server *srv, const char *id, const char *actor, const char *reason)
{
    struct sl_dist *d = D(srv);
    struct ditem *it = dist_item_get(d, id);
    bool people = d->people;

    d->people = true;
    if (it && it->state == D_RUNNING)
        dist_hold(d, it, NULL, reason, actor);
    else
        sl_dist_withdrawn(srv, id);
    d->people = people;
}

/* }===================================================================== */

/* {====================== The audience's facts ========================= */

void sl_dist_seen(struct sl_server *srv, const char *user)
{
    uint32_t u;
    if (srv->dist && sl_audience_user_find(D(srv)->aud, user, &u) == 0)
        dist_seen(D(srv), u, sl_now_ms());
}

size_t dist_interest_names(json_t *interests, const char **names)
{
    size_t n = 0, i;
    json_t *v;

    json_array_foreach(interests, i, v)
        if (n < SL_AUD_INTERESTS_MAX)
            names[n++] = json_string_value(v);
    return n;
}

void sl_dist_user(struct sl_server *srv, const char *id, const char *city, json_t *interests)
{
    const char *names[SL_AUD_INTERESTS_MAX];
    size_t n = dist_interest_names(interests, names);
    struct sl_dist *d = D(srv);
    struct sl_lua *lua = sl_policy_lua(srv);
    uint32_t u;
    if (sl_audience_user_set(d->aud, id, city, interests ? names : NULL, n, &u) < 0)
        return;
    dist_seen(d, u, sl_now_ms());
    if (lua && sl_lua_has_hook(lua, "groups"))
        dist_ask_groups(d, lua, u);
}

void sl_dist_follow(struct sl_server *srv, const char *follower, const char *creator, bool on)
{
    sl_audience_follow(D(srv)->aud, follower, creator, on);
    sl_dist_seen(srv, follower);
}

/* }===================================================================== */

/* {====================== Start and stop =============================== */

/* Rebuild what distribution knew of an item from the store: its plan
 * (JSON text, or NULL: the built-in one) and its waves. 0, or -ENOMEM
 * (the waves read so far are its own, for dist_item_drop). */
static int restore_waves(struct sl_dist *d, struct ditem *it, json_t *plan, json_t *waves)
{
    size_t nwaves = json_array_size(waves);
    char err[SL_LUA_ERR_MAX];

    if ((dist_plan_check(d, json_object_get(plan, "waves"), it, err, sizeof(err)) < 0 &&
         dist_plan_default(d, it) < 0) ||
        !(it->waves = calloc(nwaves ? nwaves : 1, sizeof(*it->waves))))
        return -ENOMEM;
    it->next = (int)json_integer_value(json_object_get(plan, "next"));
    it->reviewed = (int)json_integer_value(json_object_get(plan, "reviewed"));
    for (size_t i = 0; i < nwaves; i++) {
        struct wave_read r;
        dist_wave_restore(&r, json_array_get(waves, i));
        if (dist_wave_adopt(&it->waves[i], &r) < 0)
            return -ENOMEM;
        it->nwaves++;
    }
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
    /* Who was served it still counts when they react. */
    if (served && dist_react_served(&rs->it->reactions, u) < 0)
        return 1;
    return 0;
}

/* One item's waves and who was offered and served it (the running wave's
 * unserved offers back in their inboxes): an item approved again. */
static int restore(struct sl_dist *d, struct ditem *it, json_t *plan, json_t *waves)
{
    if (restore_waves(d, it, plan, waves) < 0)
        return -ENOMEM;
    struct wave *w = dist_current(it);
    struct resume rs = { d, it, w ? w->n : 0 };
    return sl_store_offers_each(d->srv->reader, it->id, resume_offer, &rs) < 0 ? -ENOMEM : 0;
}

int dist_resume(struct sl_dist *d, const char *id, const char *upload, const char *tags,
                const char *plan)
{
    json_t *pl = plan ? json_loads(plan, 0, NULL) : NULL, *waves = NULL;
    struct sl_dist_item di = { .upload = upload, .tags = tags };

    struct ditem *it = adopt(d, id, &di);
    if (it && sl_store_waves_get(d->srv->reader, id, &waves) == 0) {
        if (restore(d, it, pl, waves) < 0) {
            sl_err("distribution: out of memory resuming item %s", id);
            dist_item_drop(d, it);
            json_decref(waves);
            json_decref(pl);
            return -ENOMEM;
        }
        it->state = D_RUNNING;
        json_decref(waves);
        if (!dist_current(it))
            dist_begin_next_wave(d, it, NULL);
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
    d->pgroup_index = json_object();
    d->pgroups_next = SL_AUD_NONE;
    srv->dist = d;
    d->aud = sl_audience_new(NULL);
    if (!d->aud || !d->pgroup_index) {
        sl_err("distribution: out of memory at start");
        return -ENOMEM;
    }
    sl_audience_set_group_source(d->aud, dist_pgroup_source, d);
    int64_t t0 = sl_now_ms();
    /* Several nodes: an item is resumed by the node that takes its lease
     * (leases.c), not by every node that starts. */
    bool resume = !srv->node.shared;
    struct dist_ahead *ahead = NULL;
    int rc = dist_ahead_start(d, resume, &ahead);
    if (rc == 0)
        rc = dist_load_audience(d, ahead);
    if (rc == 0) {
        sl_dist_policy_changed(srv);
        rc = dist_standing_load(d);
    }
    d->last_seen_write = sl_now_ms();
    if (rc == 0 && resume)
        rc = dist_resume_all(d, ahead);
    dist_ahead_end(ahead);
    if (rc < 0)
        return rc;
    d->last_head = sl_now_ms();
    d->last_regroup = d->last_head - REGROUP_EVERY_MS;     /* first pass now, in slices */
    sl_info("distribution: %zu users and %zu creators loaded in %lld ms",
            sl_audience_user_count(d->aud), dist_standing_creators(d),
            (long long)(sl_now_ms() - t0));
    d->tick = event_new(srv->base, -1, EV_PERSIST, dist_tick, d);
    d->due_more = evtimer_new(srv->base, dist_due_more, d);
    d->persist = event_new(srv->base, -1, EV_PERSIST, dist_persist_tick, d);
    struct timeval tv = { TICK_MS / 1000, (TICK_MS % 1000) * 1000 };
    struct timeval ptv = { PERSIST_SLICE_MS / 1000, (PERSIST_SLICE_MS % 1000) * 1000 };
    return d->tick && d->due_more && d->persist && event_add(d->tick, &tv) == 0 &&
           event_add(d->persist, &ptv) == 0 ? 0 : -ENOMEM;
}

void sl_dist_stop(struct sl_server *srv)
{
    struct sl_dist *d = srv->dist;
    if (!d)
        return;
    if (d->tick)
        event_free(d->tick);
    if (d->due_more)
        event_free(d->due_more);
    if (d->persist)
        event_free(d->persist);
    dist_leases_free(d);
    if (srv->commit) {
        dist_persist_counters(d, 0, 1);
        dist_seen_write(d, true);
    }
    for (size_t h = 0; h < d->cap; h++)
        if (d->items[h])
            dist_item_drop(d, d->items[h]);
    free(d->items);
    free(d->scratch);
    free(d->due);
    free(d->seen_written);
    free(d->mix);
    dist_pgroups_free(d);
    dist_standing_free(d);
    dist_plans_free(d);
    sl_audience_free(d->aud);
    free(d);
    srv->dist = NULL;
}

/* }===================================================================== */
