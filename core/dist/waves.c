/* SPDX-License-Identifier: MIT */
/* The state machine of a distributing item: waves, decisions, holds, the tick. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "dist/internal.h"
#include "lib/clock.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/text.h"
#include "lua/sandbox.h"
#include "policy/policy.h"
#include "server.h"
#include "store/store.h"

/* {====================== Waves ======================================== */

void dist_wave_say(struct wave *w, const char *reason, const char *by)
{
    char r[WAVE_REASON_MAX], b[WAVE_BY_MAX];

    /* Copied first: they may be the wave's own. */
    sl_copy(r, sizeof(r), reason);
    sl_copy(b, sizeof(b), by);
    free(w->said);
    w->said = NULL;
    if (!r[0] && !b[0])
        return;
    size_t rn = strlen(r) + 1, bn = strlen(b) + 1;
    if (!(w->said = malloc(rn + bn))) {
        sl_err("distribution: out of memory keeping why wave %d ended (%s)", w->n, r);
        return;
    }
    memcpy(w->said, r, rn);
    memcpy(w->said + rn, b, bn);
}

int dist_wave_adopt(struct wave *w, const struct wave_read *r)
{
    *w = r->w;
    w->said = NULL;
    if (!(w->audience = strdup(r->audience)))
        return -ENOMEM;
    dist_wave_say(w, r->reason, r->by);
    return 0;
}

void dist_waves_free(struct wave *waves, int n)
{
    for (int i = 0; i < n; i++) {
        free(waves[i].audience);
        free(waves[i].said);
    }
    free(waves);
}

const char *dist_policy_actor(struct sl_dist *d, char *buf, size_t len)
{
    snprintf(buf, len, "policy:%s", sl_policy_version(d->srv));
    return buf;
}

/* Take the item out of every feed and hand it to people; queue NULL: the
 * store has it in review already (people sent it there), only the running
 * wave's end and the plan are stored. */
void dist_hold(struct sl_dist *d, struct ditem *it, const char *queue, const char *reason,
               const char *actor)
{
    struct wave *w = dist_current(it);
    struct dist_op *o = dist_op_new(d, it->id);

    if (w) {
        sl_copy(w->decision, sizeof(w->decision), "review");
        dist_wave_say(w, reason, actor);
        sl_copy(w->ended_by, sizeof(w->ended_by), "review");
        w->ended_ms = sl_now_ms();
        dist_op_wave(o, w);
        d->decisions[DEC_REVIEW]++;
    }
    it->state = D_HELD;
    sl_audience_item_set_live(d->aud, it->h, false);
    if (queue) {
        dist_op_state(o, actor, "hold", "distributing", "in_review", reason);
        dist_op_queue(o, queue);
    }
    dist_op_plan(o, it);
    dist_op_submit(d, o);
    sl_info("distribution: %s held for review: %s", it->id, reason);
}

/* actor: who ended it; NULL for the policies in force. */
static void settle(struct sl_dist *d, struct ditem *it, const char *reason, const char *actor)
{
    char policy[96];
    struct dist_op *o = dist_op_new(d, it->id);

    it->state = D_SETTLED;
    dist_op_state(o, actor ? actor : dist_policy_actor(d, policy, sizeof(policy)), "settle",
                  "distributing", "settled", reason);
    dist_op_plan(o, it);
    dist_op_submit(d, o);
    /* No more waves: the offered set can go; inbox entries stay live. */
    dist_item_drop(d, it);
}

/* Start the wave the plan says next; a wave that finds nobody is skipped, so
 * a creator without followers goes straight on to a public wave. The first
 * wave's change joins `first` when given (the store learns of the approval
 * and its first wave in one go); `first` is submitted whatever happens. */
void dist_begin_next_wave(struct sl_dist *d, struct ditem *it, struct dist_op *first)
{
    char actor[96];

    while (it->state == D_RUNNING) {
        if (!it->plan || it->next >= it->plan->n) {
            if (first)
                dist_op_submit(d, first);
            settle(d, it, "every planned wave ran", NULL);
            return;
        }
        const struct plan_wave *pw = &it->plan->wave[it->next];
        if (pw->review && it->reviewed <= it->next) {
            it->reviewed = it->next + 1;
            char reason[256];
            snprintf(reason, sizeof(reason), "the plan asks for review before wave %d (%s)",
                     it->nwaves + 1, pw->audience);
            if (first)
                dist_op_submit(d, first);
            dist_hold(d, it, "distribution", reason,
                            dist_policy_actor(d, actor, sizeof(actor)));
            return;
        }
        /* Room first: short of it, the item stays as it was, between
         * waves, and the next start resumes it. */
        struct wave *v = realloc(it->waves, (it->nwaves + 1) * sizeof(*v));
        char *audience = v ? strdup(it->switch_to ? it->switch_to : pw->audience) : NULL;
        if (v)
            it->waves = v;
        if (v && pw->size > d->scratch_cap) {
            uint32_t *s = realloc(d->scratch, pw->size * sizeof(*s));
            if (s) {
                d->scratch = s;
                d->scratch_cap = pw->size;
            }
        }
        if (!audience || pw->size > d->scratch_cap) {
            free(audience);
            sl_err("distribution: out of memory starting wave %d of item %s; it waits "
                   "for the next start", it->nwaves + 1, it->id);
            break;
        }
        it->next++;
        struct wave *w = &it->waves[it->nwaves++];
        memset(w, 0, sizeof(*w));
        w->n = it->nwaves;
        w->audience = audience;
        free(it->switch_to);
        it->switch_to = NULL;
        w->size = pw->size;
        w->fill = pw->fill;
        w->check = w->next_check = pw->check;
        w->limit_ms = (int64_t)pw->limit_s * 1000;
        w->started_ms = sl_now_ms();
        dist_activity_apply(d, w->started_ms);
        size_t placed = 0;
        int rc = sl_audience_wave(d->aud, it->h, w->audience, w->size, (uint32_t)w->n,
                                  d->scratch, &placed);
        w->placed = rc == 0 ? (uint32_t)placed : 0;
        /* Who was placed while away neither holds the wave open nor
         * counts toward its share; with no window, everyone placed counts. */
        w->present = d->traffic.away_s
                         ? (uint32_t)sl_audience_count_present(
                               d->aud, d->scratch, w->placed,
                               (uint32_t)(w->started_ms / 1000 - d->traffic.away_s))
                         : w->placed;
        struct dist_op *o = first ? first : dist_op_new(d, it->id);
        first = NULL;
        if (w->placed == 0) {
            char reason[WAVE_REASON_MAX];
            sl_copy(w->decision, sizeof(w->decision), "skip");
            snprintf(reason, sizeof(reason), "no one in the audience %s was left to offer",
                     w->audience);
            dist_wave_say(w, reason, "sluiced");
            sl_copy(w->ended_by, sizeof(w->ended_by), "empty");
            w->ended_ms = w->started_ms;
            d->decisions[DEC_SKIP]++;
        } else {
            d->funnel[w->n <= FUNNEL_MAX ? w->n : FUNNEL_MAX]++;
            dist_op_offers(o, placed, dist_source_of(w->audience));
            for (size_t i = 0; i < placed; i++)
                dist_op_offer(o, sl_audience_user_id(d->aud, d->scratch[i]));
        }
        dist_op_wave(o, w);
        dist_op_plan(o, it);
        dist_op_submit(d, o);
        if (w->placed > 0)
            return;
    }
    if (first)
        dist_op_submit(d, first);
}

/* Ask the deciders (the plugins, then wave_done: combine.c) about the
 * running wave, why it is asked (the wave ended, or a checkpoint), and act
 * on the answer. */
static void decide(struct sl_dist *d, struct ditem *it, enum dist_end why)
{
    struct wave *w = dist_current(it);
    char err[SL_LUA_ERR_MAX];
    struct dist_answer a;
    struct dist_view view;

    if (!w)
        return;
    if (why == DIST_END_EVIDENCE)
        d->checks++;
    dist_view_live(d, &view);
    int rc = dist_wave_decide(&view, sl_policy_plugins(d->srv), sl_policy_lua(d->srv), it, NULL,
                              NULL, w, sl_now_ms() - w->started_ms, dist_end_name(why), &a, err,
                              sizeof(err));
    if (rc != 0) {
        /* A broken decision never pushes an item further: people look.
         * The failure was counted and logged where it was found. */
        char why_text[SL_LUA_ERR_MAX + 32];
        d->decisions[DEC_ERROR]++;
        snprintf(why_text, sizeof(why_text), "policy_error: wave_done: %s", err);
        dist_hold(d, it, "distribution", why_text, a.by);
        return;
    }
    if (strcmp(a.decision, "wait") == 0) {
        /* Not decisive yet: the wave runs on, asked again further on. */
        d->waits++;
        dist_wave_checked(w);
        it->dirty = true;
        return;
    }

    /* The pool learns from every decided wave. */
    struct pool *p = &d->pools[dist_source_of(w->audience)];
    uint64_t engaged = w->counts[SL_EV_LIKE] + w->counts[SL_EV_COMPLETE] + w->counts[SL_EV_SHARE];
    p->trials += w->counts[SL_EV_IMPRESSION];
    p->successes += engaged < w->counts[SL_EV_IMPRESSION] ? engaged : w->counts[SL_EV_IMPRESSION];

    sl_copy(w->decision, sizeof(w->decision), a.decision);
    sl_copy(w->ended_by, sizeof(w->ended_by), dist_end_name(why));
    dist_wave_say(w, a.reason, a.by);
    w->ended_ms = sl_now_ms();
    d->decisions[strcmp(a.decision, "continue") == 0 ? DEC_CONTINUE
                 : strcmp(a.decision, "stop") == 0   ? DEC_STOP
                                                     : DEC_SWITCH]++;
    struct dist_op *o = dist_op_new(d, it->id);
    dist_op_wave(o, w);
    dist_op_submit(d, o);
    if (strcmp(a.decision, "stop") == 0) {
        settle(d, it, a.reason[0] ? a.reason : "wave_done said stop", a.by);
        return;
    }
    if (strcmp(a.decision, "switch") == 0) {
        free(it->switch_to);
        if (!(it->switch_to = strdup(a.audience)))
            sl_err("distribution: out of memory switching item %s to %s; its next wave "
                   "goes to its plan's audience", it->id, a.audience);
    }
    dist_begin_next_wave(d, it, NULL);
}

/* }===================================================================== */

/* {====================== Events ======================================= */

/* One event of item id (it: the item as looked up, or NULL), at now_ms
 * (read once for the item's run of events: a clock read an event showed
 * under load). */
static void item_event(struct sl_dist *d, struct ditem *it, const char *id, const char *user,
                       int type, int64_t now_ms)
{
    struct wave *w;
    uint32_t u;
    bool known = sl_audience_user_find(d->aud, user, &u) == 0;

    if (known)
        dist_seen(d, u, now_ms);
    /* Reports are weighed whatever the item's state: settled items too. */
    if (type == SL_EV_REPORT)
        dist_report(d, id, user);
    if (!it || it->state != D_RUNNING || !(w = dist_current(it)))
        return;
    enum dist_reaction r = known ? dist_react(&it->reactions, u, type) : DIST_REACT_UNSERVED;
    if (r != DIST_REACT_NEW) {
        d->uncounted[r == DIST_REACT_UNSERVED ? 0 : 1][type]++;
        return;
    }
    w->counts[type]++;
    it->dirty = true;
    if (type == SL_EV_LIKE || type == SL_EV_COMPLETE || type == SL_EV_SHARE) {
        const char *interests[16];
        size_t n = dist_item_interests(it, interests, 16);
        if (n)
            sl_audience_engage(d->aud, u, interests, n);
    }
    /* Decide after the whole batch is counted, not in the middle of it. */
    enum dist_end e = it->due ? DIST_END_NONE : dist_wave_due(w, now_ms);
    if (e != DIST_END_NONE) {
        if (sl_grow(&d->due, &d->due_cap, d->ndue + 1, sizeof(*d->due)) < 0)
            return;
        d->due[d->ndue++] = it->h;
        it->due = e;
    }
}

void sl_dist_event(struct sl_server *srv, const char *id, const char *user, int type)
{
    struct sl_dist *d = D(srv);

    item_event(d, dist_item_get(d, id), id, user, type, sl_now_ms());
}

void sl_dist_item_events(struct sl_server *srv, const char *id, const char *const *users,
                         const int *types, size_t n)
{
    struct sl_dist *d = D(srv);
    /* Events only count and queue decisions (made in sl_dist_events_done):
     * the item stays what it is for the whole run. */
    struct ditem *it = dist_item_get(d, id);
    int64_t now = sl_now_ms();

    for (size_t i = 0; i < n; i++)
        item_event(d, it, id, users[i], types[i], now);
}

void sl_dist_events_done(struct sl_server *srv)
{
    struct sl_dist *d = D(srv);
    /* decide() may end items and start waves, but adds nothing to due. */
    for (size_t i = 0; i < d->ndue; i++) {
        struct ditem *it = d->due[i] < d->cap ? d->items[d->due[i]] : NULL;
        if (it && it->due) {
            enum dist_end why = it->due;
            it->due = DIST_END_NONE;
            if (it->state == D_RUNNING)
                decide(d, it, why);
        }
    }
    d->ndue = 0;
}

/* }===================================================================== */

/* {====================== Timer ======================================== */

/* Write the running waves' counters of the items in slice `part` of
 * `parts` (by handle), those that changed. */
void dist_persist_counters(struct sl_dist *d, size_t part, size_t parts)
{
    for (size_t h = part; h < d->cap; h += parts) {
        struct ditem *it = d->items[h];
        struct wave *w = it ? dist_current(it) : NULL;
        if (!w || !it->dirty)
            continue;
        struct dist_op *o = dist_op_new(d, it->id);
        dist_op_wave(o, w);
        dist_op_submit(d, o);
        it->dirty = false;
    }
}

/*
 * The running items' counters go to the store a slice at a time, so that
 * each is written once per PERSIST_EVERY_MS and no write is large: the
 * commit thread writes a slice in one transaction, and every request
 * committed behind it waits for it. A slice a second was 4,000 waves and
 * a 110 ms transaction under ndjson-waves' flood of events; a slice each
 * 100 ms is a tenth of that. On real time, even when the clock is
 * simulated: it is about durability, not about the platform's time.
 */
void dist_persist_tick(evutil_socket_t fd, short what, void *arg)
{
    struct sl_dist *d = arg;

    (void)fd;
    (void)what;
    if (d->srv->draining)
        return;
    dist_persist_counters(d, d->persist_part, PERSIST_SLICES);
    d->persist_part = (d->persist_part + 1) % PERSIST_SLICES;
}

/* What a tick does besides the waves. */
static void dist_periodic(struct sl_dist *d)
{
    int64_t now = sl_now_ms();

    dist_pgroups_step(d);
    if (now - d->last_seen_write >= SEEN_EVERY_MS) {
        dist_seen_write(d, false);
        d->last_seen_write = now;
    }
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

/*
 * Each tick asks every running wave whether it is due, in a lap over the
 * items' table. After a stop longer than the waves' time (an upgrade, a
 * night), or an hour after a burst of uploads, every one of them is due
 * at once: 200,000 decisions, each a policy's wave_done and the next
 * wave's placing, held the loop twelve seconds. So a lap decides for
 * DUE_SLICE_S at most and goes on from there once the loop has looked at
 * its sockets again (due_more, a timer of no delay), as many times as it
 * takes; a tick begins a lap only when the last one is done.
 */
#define DUE_SLICE_S 0.01
/* Decisions between looks at the clock. */
#define DUE_CLOCK_EVERY 16

/* The lap on from d->due_at; deadline 0: to its end. True when done. */
static bool due_lap(struct sl_dist *d, double deadline)
{
    int64_t now = sl_now_ms();
    unsigned decided = 0;

    while (d->due_left > 0) {
        if (d->due_at >= d->cap)
            d->due_at = 0;      /* the table was resized since */
        struct ditem *it = d->cap ? d->items[d->due_at] : NULL;
        d->due_at++;
        d->due_left--;
        struct wave *w = it && it->state == D_RUNNING ? dist_current(it) : NULL;
        enum dist_end why = w ? dist_wave_due(w, now) : DIST_END_NONE;
        if (why == DIST_END_NONE)
            continue;
        decide(d, it, why);
        if (deadline > 0 && ++decided % DUE_CLOCK_EVERY == 0 && sl_mono() >= deadline)
            return d->due_left == 0;
    }
    return true;
}

/* A slice of the lap, and the next after the loop's sockets if it is not
 * done. */
static void due_slice(struct sl_dist *d)
{
    static const struct timeval at_once = { 0, 0 };

    if (due_lap(d, sl_mono() + DUE_SLICE_S))
        return;
    d->due_yields++;
    if (event_add(d->due_more, &at_once) < 0)
        sl_err("distribution: cannot schedule the rest of the waves' lap; the next tick "
               "goes on with it");
}

void dist_due_more(evutil_socket_t fd, short what, void *arg)
{
    struct sl_dist *d = arg;

    (void)fd;
    (void)what;
    if (!d->srv->draining)
        due_slice(d);
}

void dist_tick(evutil_socket_t fd, short what, void *arg)
{
    struct sl_dist *d = arg;

    (void)fd;
    (void)what;
    if (d->srv->draining)
        return;
    if (!evtimer_pending(d->due_more, NULL)) {
        if (d->due_left == 0)
            d->due_left = d->cap;
        due_slice(d);
    }
    dist_periodic(d);
}

void sl_dist_tick(struct sl_server *srv)
{
    struct sl_dist *d = D(srv);

    if (!d || d->srv->draining)
        return;
    /* Every wave the time ends, before the answer (sim_clock.c). */
    d->due_left = d->cap;
    due_lap(d, 0);
    dist_periodic(d);
}

/* }===================================================================== */
