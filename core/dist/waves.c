/* SPDX-License-Identifier: MIT */
/* The state machine of a distributing item: waves, decisions, holds, the tick. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

const char *dist_policy_actor(struct sl_dist *d, char *buf, size_t len)
{
    snprintf(buf, len, "policy:%s", sl_policy_version(d->srv));
    return buf;
}

/* Take the item out of every feed and hand it to people. */
static void hold_for_review(struct sl_dist *d, struct ditem *it, const char *queue,
                            const char *reason, const char *actor)
{
    struct wave *w = dist_current(it);
    struct dist_op *o = dist_op_new(d, it->id);

    if (w) {
        sl_copy(w->decision, sizeof(w->decision), "review");
        sl_copy(w->reason, sizeof(w->reason), reason);
        sl_copy(w->decided_by, sizeof(w->decided_by), actor);
        w->ended_ms = sl_now_ms();
        dist_op_wave(o, w);
        d->decisions[DEC_REVIEW]++;
    }
    it->state = D_HELD;
    sl_audience_item_set_live(d->aud, it->h, false);
    dist_op_state(o, actor, "hold", "distributing", "in_review", reason);
    dist_op_queue(o, queue);
    dist_op_plan(o, it);
    dist_op_submit(d, o);
    sl_info("distribution: %s held for review: %s", it->id, reason);
}

static void settle(struct sl_dist *d, struct ditem *it, const char *reason)
{
    char actor[96];
    struct dist_op *o = dist_op_new(d, it->id);

    it->state = D_SETTLED;
    dist_op_state(o, dist_policy_actor(d, actor, sizeof(actor)), "settle", "distributing",
                  "settled", reason);
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
        if (it->next >= it->nplan) {
            if (first)
                dist_op_submit(d, first);
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
                dist_op_submit(d, first);
            hold_for_review(d, it, "distribution", reason,
                            dist_policy_actor(d, actor, sizeof(actor)));
            return;
        }
        /* Room first: short of it, the item stays as it was, between
         * waves, and the next start resumes it. */
        struct wave *v = realloc(it->waves, (it->nwaves + 1) * sizeof(*v));
        if (v)
            it->waves = v;
        if (v && pw->size > d->scratch_cap) {
            uint32_t *s = realloc(d->scratch, pw->size * sizeof(*s));
            if (s) {
                d->scratch = s;
                d->scratch_cap = pw->size;
            }
        }
        if (!v || pw->size > d->scratch_cap) {
            sl_err("distribution: out of memory starting wave %d of item %s; it waits "
                   "for the next start", it->nwaves + 1, it->id);
            break;
        }
        it->next++;
        struct wave *w = &it->waves[it->nwaves++];
        memset(w, 0, sizeof(*w));
        w->n = it->nwaves;
        sl_copy(w->audience, sizeof(w->audience),
                it->switch_to[0] ? it->switch_to : pw->audience);
        it->switch_to[0] = '\0';
        w->size = pw->size;
        w->limit_ms = (int64_t)pw->limit_s * 1000;
        w->started_ms = sl_now_ms();
        size_t placed = 0;
        int rc = sl_audience_wave(d->aud, it->h, w->audience, w->size, (uint32_t)w->n,
                                  d->scratch, &placed);
        w->placed = rc == 0 ? (uint32_t)placed : 0;
        struct dist_op *o = first ? first : dist_op_new(d, it->id);
        first = NULL;
        if (w->placed == 0) {
            sl_copy(w->decision, sizeof(w->decision), "skip");
            snprintf(w->reason, sizeof(w->reason), "no one in the audience %s was left to offer",
                     w->audience);
            sl_copy(w->decided_by, sizeof(w->decided_by), "sluiced");
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

/* Ask wave_done about the running wave and act on the answer. */
static void decide(struct sl_dist *d, struct ditem *it, const char *why)
{
    struct wave *w = dist_current(it);
    char err[SL_LUA_ERR_MAX], actor[96];
    const char *decision = NULL, *reason = "", *to = NULL;
    json_t *res = NULL;

    if (!w)
        return;
    dist_policy_actor(d, actor, sizeof(actor));
    int rc = dist_ask_wave_done(d, sl_policy_lua(d->srv), it, NULL, NULL, w,
                                sl_now_ms() - w->started_ms, why,
                                &res, &decision, &reason, &to, err, sizeof(err));
    if (rc != 0) {
        /* A broken decision never pushes an item further: people look. */
        char why_text[SL_LUA_ERR_MAX + 32];
        sl_policy_failed("wave_done", err);
        d->decisions[DEC_ERROR]++;
        snprintf(why_text, sizeof(why_text), "policy_error: wave_done: %s", err);
        hold_for_review(d, it, "distribution", why_text, actor);
        return;
    }

    /* The pool learns from every decided wave. */
    struct pool *p = &d->pools[dist_source_of(w->audience)];
    uint64_t engaged = w->counts[SL_EV_LIKE] + w->counts[SL_EV_COMPLETE] + w->counts[SL_EV_SHARE];
    p->trials += w->counts[SL_EV_IMPRESSION];
    p->successes += engaged < w->counts[SL_EV_IMPRESSION] ? engaged : w->counts[SL_EV_IMPRESSION];

    sl_copy(w->decision, sizeof(w->decision), decision);
    sl_copy(w->reason, sizeof(w->reason), reason);
    sl_copy(w->decided_by, sizeof(w->decided_by), actor);
    w->ended_ms = sl_now_ms();
    d->decisions[strcmp(decision, "continue") == 0 ? DEC_CONTINUE
                 : strcmp(decision, "stop") == 0   ? DEC_STOP
                                                   : DEC_SWITCH]++;
    struct dist_op *o = dist_op_new(d, it->id);
    dist_op_wave(o, w);
    dist_op_submit(d, o);
    /* decision, reason and to live in res: free it only after their use. */
    if (strcmp(decision, "stop") == 0) {
        settle(d, it, reason[0] ? reason : "wave_done said stop");
        json_decref(res);
        return;
    }
    if (strcmp(decision, "switch") == 0)
        sl_copy(it->switch_to, sizeof(it->switch_to), to);
    json_decref(res);
    dist_begin_next_wave(d, it, NULL);
}

/* }===================================================================== */

/* {====================== Events ======================================= */

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
    struct dist_op *o = dist_op_new(d, id);
    dist_op_state(o, dist_policy_actor(d, actor, sizeof(actor)), "hold", "settled", "in_review",
                  reason);
    dist_op_queue(o, "reports");
    dist_op_submit(d, o);
}

void sl_dist_event(struct sl_server *srv, const char *id, const char *user, int type)
{
    struct sl_dist *d = D(srv);
    struct ditem *it = dist_item_get(d, id);
    struct wave *w;
    char actor[96];

    if (!it && type == SL_EV_REPORT)
        late_report(d, id);
    if (!it || it->state != D_RUNNING || !(w = dist_current(it)))
        return;
    w->counts[type]++;
    it->dirty = true;
    if (type == SL_EV_LIKE || type == SL_EV_COMPLETE || type == SL_EV_SHARE) {
        const char *interests[16];
        uint32_t u;
        size_t n = dist_item_interests(it, interests, 16);
        if (n && sl_audience_user_find(d->aud, user, &u) == 0)
            sl_audience_engage(d->aud, u, interests, n);
    }
    if (type == SL_EV_REPORT && ++it->reports >= d->traffic.report_threshold) {
        char reason[128];
        snprintf(reason, sizeof(reason), "%llu reports (threshold %llu)",
                 (unsigned long long)it->reports,
                 (unsigned long long)d->traffic.report_threshold);
        it->reports = 0;
        hold_for_review(d, it, "reports", reason, dist_policy_actor(d, actor, sizeof(actor)));
        return;
    }
    /* Decide after the whole batch is counted, not in the middle of it. */
    if (w->counts[SL_EV_IMPRESSION] >= w->placed && !it->due) {
        if (sl_grow((void **)&d->due, &d->due_cap, d->ndue + 1, sizeof(*d->due)) < 0)
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

void dist_tick(evutil_socket_t fd, short what, void *arg)
{
    struct sl_dist *d = arg;
    int64_t now = sl_now_ms();
    (void)fd;
    (void)what;

    if (d->srv->draining)
        return;
    dist_pgroups_step(d);
    for (size_t h = 0; h < d->cap; h++) {
        struct ditem *it = d->items[h];
        struct wave *w = it && it->state == D_RUNNING ? dist_current(it) : NULL;
        if (w && now - w->started_ms >= w->limit_ms)
            decide(d, it, "time");
    }
    /* Each tick writes a slice, so every item's counters are written once
     * per PERSIST_EVERY_MS without one tick stalling on all of them. */
    dist_persist_counters(d, d->persist_part, PERSIST_SLICES);
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
