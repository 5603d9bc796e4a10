/* SPDX-License-Identifier: MIT */
/* The changes distribution queues to the store; its waves and plans as JSON. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/internal.h"
#include "lib/clock.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/text.h"
#include "server.h"
#include "store/commit.h"
#include "store/store.h"

/* {====================== Changes for the store ======================== */

void dist_op_free(struct dist_op *o)
{
    if (!o)
        return;
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
int dist_op_write(struct dist_op *o, struct sl_store *w, bool row_written)
{
    int64_t now = sl_now_ms();
    const char *state = o->state;
    char stored[32];
    bool stale = false;
    int rc = dist_lease_before(o, w);

    if (rc < 0 || o->release)
        return rc;
    /* People may have changed the item since the engine decided (a
     * takedown, a bulk review, committed while this waited): theirs
     * stands, and the engine's change of state is not stored. */
    if (state && o->from_state && !row_written) {
        if ((rc = sl_store_item_state(w, o->item, stored)) < 0)
            return rc;
        if (strcmp(stored, o->from_state) != 0) {
            sl_info("distribution: %s is %s, not %s: its %s is not stored", o->item, stored,
                    o->from_state, o->action);
            state = NULL;
            stale = true;
        }
    }
    if ((state || o->plan) && !row_written)
        rc = sl_store_item_update(w, o->item, state, o->plan, now);
    if (rc == 0 && state) {
        struct sl_audit_rec rec = { o->item, o->actor, o->action, o->from_state, o->state,
                                    o->reason, now };
        rc = sl_store_audit_append(w, &rec);
    }
    if (rc == 0 && o->queue && !stale)
        rc = sl_store_queue_put(w, o->item, o->queue, 60, o->reason, NULL, now);
    if (rc == 0 && o->unqueue && !stale)
        rc = sl_store_queue_remove(w, o->item);
    if (rc == 0 && o->wave_n > 0)
        rc = sl_store_wave_put(w, o->item, o->wave_n, o->wave);
    if (o->served) {
        for (size_t i = 0; rc == 0 && i < o->noffers; i++)
            rc = sl_store_offer_served(w, o->offers[i], o->item);
    } else if (rc == 0) {
        /* The wave's placement: one record of all its users. */
        rc = sl_store_offer_wave(w, o->item, o->wave_n, o->source,
                                 (const char *const *)o->offers, o->noffers);
    }
    return rc == 0 ? dist_lease_after(o, w) : rc;
}

static int dist_apply(struct sl_commit_op *op, struct sl_store *w)
{
    return dist_op_write((struct dist_op *)op, w, false);
}

static void dist_done(struct sl_commit_op *op, int rc)
{
    struct dist_op *o = (struct dist_op *)op;
    if (rc == -ESTALE)
        dist_lease_lost(o->d, o->item);
    else if (rc < 0 && o->served)
        sl_err("distribution: storing which items user %s was served failed: %s", o->item,
               strerror(-rc));
    else if (rc < 0)
        sl_err("distribution: storing a change of item %s failed: %s", o->item,
               strerror(-rc));
    dist_op_free(o);
}

/* A change the store cannot be told of: the engine goes on (its memory is
 * the truth for the loop) and a restart resumes from what the store has.
 * A taken upload's changes are all or nothing: sl_dist_take then gives up
 * and the upload takes the slow road. */
static void op_lost(struct sl_dist *d, const char *item)
{
    sl_err("distribution: out of memory: a change of item %s is not stored", item);
    if (d->held_tail)
        d->held_lost = true;
}

struct dist_op *dist_op_new(struct sl_dist *d, const char *item)
{
    struct dist_op *o = calloc(1, sizeof(*o));
    if (!o) {
        op_lost(d, item);
        return NULL;
    }
    sl_copy(o->item, sizeof(o->item), item);
    o->d = d;
    /* People's takedown or review took the lease in its own transaction:
     * what the engine records after it (the running wave's end) is not
     * fenced; the state it found is checked below. */
    o->node = d->srv->node.shared && !d->people ? &d->srv->node : NULL;
    return o;
}

/* The op's copies: a failed one marks the op, which is then not stored. */
static char *op_dup(struct dist_op *o, const char *s)
{
    char *c = strdup(s);
    if (!c)
        o->nomem = true;
    return c;
}

void dist_op_submit(struct sl_dist *d, struct dist_op *o)
{
    if (!o)
        return;
    if (o->nomem) {
        op_lost(d, o->item);
        dist_op_free(o);
        return;
    }
    o->op.apply = dist_apply;
    o->op.done = dist_done;
    dist_lease_stamp(d, o);
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

void dist_op_state(struct dist_op *o, const char *actor, const char *action,
                   const char *from, const char *to, const char *reason)
{
    if (!o)
        return;
    sl_copy(o->actor, sizeof(o->actor), actor);
    o->action = op_dup(o, action);
    o->from_state = from ? op_dup(o, from) : NULL;
    o->state = op_dup(o, to);
    o->reason = op_dup(o, reason ? reason : "");
}

void dist_op_queue(struct dist_op *o, const char *queue)
{
    if (o)
        o->queue = op_dup(o, queue);
}

void dist_op_offers(struct dist_op *o, size_t n, int source)
{
    if (!o)
        return;
    if (!(o->offers = calloc(n, sizeof(*o->offers))))
        o->nomem = true;
    o->source = source;
}

void dist_op_offer(struct dist_op *o, const char *user)
{
    char *id;

    if (!o || !o->offers)
        return;
    if ((id = op_dup(o, user)))
        o->offers[o->noffers++] = id;
}

void dist_op_served(struct dist_op *o, size_t n)
{
    if (!o)
        return;
    dist_op_offers(o, n, 0);
    o->served = true;
}

/* A number of the plan's that is no integer (a share), short and exact
 * enough: it is judged again when read back. */
static char *put_share(char *p, double v)
{
    return sl_json_put_g(p, v, 9);
}

/* The plan as the store keeps it. */
static char *plan_json(const struct ditem *it)
{
    char buf[96 + MAX_PLAN * (SL_JSON_QUOTED_MAX(sizeof it->plan->wave->audience) + 160)];
    char *p = buf;

    p = sl_json_put_lit(p, "{\"waves\":[");
    for (int i = 0; i < it->plan->n; i++) {
        const struct plan_wave *pw = &it->plan->wave[i];
        p = sl_json_put_string(sl_json_put_lit(p, i ? ",{\"audience\":" : "{\"audience\":"),
                               pw->audience);
        p = sl_json_put_int(sl_json_put_lit(p, ",\"size\":"), pw->size);
        p = sl_json_put_int(sl_json_put_lit(p, ",\"limit_s\":"), pw->limit_s);
        p = sl_json_put_lit(p, pw->review ? ",\"review\":true" : ",\"review\":false");
        p = put_share(sl_json_put_lit(p, ",\"fill\":"), pw->fill);
        p = sl_json_put_lit(sl_json_put_int(sl_json_put_lit(p, ",\"check\":"), pw->check), "}");
    }
    p = sl_json_put_int(sl_json_put_lit(p, "],\"next\":"), it->next);
    p = sl_json_put_int(sl_json_put_lit(p, ",\"reviewed\":"), it->reviewed);
    p = sl_json_put_lit(p, "}");
    return strndup(buf, (size_t)(p - buf));
}

void dist_op_plan(struct dist_op *o, const struct ditem *it)
{
    if (!o)
        return;
    free(o->plan);
    if (!(o->plan = plan_json(it)))
        o->nomem = true;
}

/* }===================================================================== */

/* {====================== Waves and plans as JSON ====================== */

/* The wave as the store keeps it and the API shows it, written directly (a
 * wave is written at its start, its end and as its counters move). buf
 * needs WAVE_TEXT_MAX bytes; returns the end. */
#define WAVE_TEXT_MAX (768 + SL_EV__COUNT * 48 + \
                       SL_JSON_QUOTED_MAX(WAVE_AUDIENCE_MAX + \
                                          sizeof(((struct wave *)0)->decision) + \
                                          sizeof(((struct wave *)0)->ended_by) + \
                                          WAVE_REASON_MAX + WAVE_BY_MAX))
static char *wave_text(const struct wave *w, char *p)
{
    p = sl_json_put_int(sl_json_put_lit(p, "{\"n\":"), w->n);
    p = sl_json_put_string(sl_json_put_lit(p, ",\"audience\":"), w->audience);
    p = sl_json_put_int(sl_json_put_lit(p, ",\"size\":"), w->size);
    p = sl_json_put_int(sl_json_put_lit(p, ",\"placed\":"), w->placed);
    p = sl_json_put_int(sl_json_put_lit(p, ",\"present\":"), w->present);
    p = put_share(sl_json_put_lit(p, ",\"fill\":"), w->fill);
    p = sl_json_put_int(sl_json_put_lit(p, ",\"check\":"), w->check);
    p = sl_json_put_int(sl_json_put_lit(p, ",\"next_check\":"), w->next_check);
    p = sl_json_put_int(sl_json_put_lit(p, ",\"checks\":"), w->checks);
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
    p = sl_json_put_string(sl_json_put_lit(p, ",\"ended_by\":"), w->ended_by);
    p = sl_json_put_string(sl_json_put_lit(p, ",\"reason\":"), dist_wave_reason(w));
    p = sl_json_put_string(sl_json_put_lit(p, ",\"decided_by\":"), dist_wave_by(w));
    return sl_json_put_lit(p, "}");
}

json_t *dist_wave_json(const struct wave *w)
{
    char buf[WAVE_TEXT_MAX];
    char *end = wave_text(w, buf);
    return json_loadb(buf, (size_t)(end - buf), 0, NULL);
}

/* Written on the stack for its worst case and copied at its size (as the
 * plan is): glibc consolidates its free lists on every allocation of a
 * kilobyte or more, and sizing for the worst case was one of those. */
void dist_op_wave(struct dist_op *o, const struct wave *w)
{
    char buf[WAVE_TEXT_MAX];

    if (!o)
        return;
    o->wave_n = w->n;
    char *p = wave_text(w, buf);
    free(o->wave);
    if (!(o->wave = strndup(buf, (size_t)(p - buf))))
        o->nomem = true;
}

void dist_wave_restore(struct wave_read *r, json_t *j)
{
    json_t *stats = json_object_get(j, "stats");
    struct wave *w = &r->w;

    memset(r, 0, sizeof(*r));
    w->n = (int)json_integer_value(json_object_get(j, "n"));
    sl_copy(r->audience, sizeof(r->audience), json_string_value(json_object_get(j, "audience")));
    w->size = (uint32_t)json_integer_value(json_object_get(j, "size"));
    w->placed = (uint32_t)json_integer_value(json_object_get(j, "placed"));
    w->started_ms = json_integer_value(json_object_get(j, "started_ms"));
    w->limit_ms = json_integer_value(json_object_get(j, "limit_ms"));
    w->ended_ms = json_integer_value(json_object_get(j, "ended_ms"));
    /* Waves stored before evidence and fill count everyone placed. */
    json_t *x = json_object_get(j, "present");
    w->present = x ? (uint32_t)json_integer_value(x) : w->placed;
    w->fill = json_is_number(x = json_object_get(j, "fill")) ? json_number_value(x) : 1.0;
    w->check = (uint32_t)json_integer_value(json_object_get(j, "check"));
    w->next_check = (uint32_t)json_integer_value(json_object_get(j, "next_check"));
    w->checks = (uint32_t)json_integer_value(json_object_get(j, "checks"));
    sl_copy(w->ended_by, sizeof(w->ended_by),
            json_string_value(json_object_get(j, "ended_by")));
    for (int i = 0; i < SL_EV__COUNT; i++)
        w->counts[i] = (uint64_t)json_integer_value(json_object_get(stats, sl_event_names[i]));
    sl_copy(w->decision, sizeof(w->decision),
            json_string_value(json_object_get(j, "decision")));
    sl_copy(r->reason, sizeof(r->reason), json_string_value(json_object_get(j, "reason")));
    sl_copy(r->by, sizeof(r->by), json_string_value(json_object_get(j, "decided_by")));
}

/* }===================================================================== */

/* {====================== Reading waves back =========================== */

/* The reader's place in a wave's text; ok goes false at the first thing
 * that is not as wave_text() writes it. */
struct cursor {
    const char *p, *end;
    bool ok;
};

static void lit(struct cursor *c, const char *s)
{
    size_t n = strlen(s);
    if (c->ok && (size_t)(c->end - c->p) >= n && memcmp(c->p, s, n) == 0)
        c->p += n;
    else
        c->ok = false;
}

static int64_t integer(struct cursor *c)
{
    bool neg = c->ok && c->p < c->end && *c->p == '-';
    uint64_t v = 0;
    int digits = 0;

    c->p += neg;
    while (c->ok && c->p < c->end && *c->p >= '0' && *c->p <= '9' && digits < 18) {
        v = v * 10 + (uint64_t)(*c->p++ - '0');
        digits++;
    }
    if (digits == 0 || (c->p < c->end && *c->p >= '0' && *c->p <= '9'))
        c->ok = false;
    return neg ? -(int64_t)v : (int64_t)v;
}

/* A string with nothing to unescape, into out[0..cap). */
static void plain(struct cursor *c, char *out, size_t cap)
{
    lit(c, "\"");
    const char *q = c->p;
    while (c->ok && q < c->end && *q != '"' && *q != '\\')
        q++;
    if (!c->ok || q >= c->end || *q != '"' || (size_t)(q - c->p) >= cap) {
        c->ok = false;
        return;
    }
    memcpy(out, c->p, (size_t)(q - c->p));
    out[q - c->p] = '\0';
    c->p = q + 1;
}

int dist_wave_read(struct wave_read *r, const char *text, size_t len)
{
    struct wave *w = &r->w;
    struct cursor c = { text, text + len, text != NULL };
    char num[32];

    memset(r, 0, sizeof(*r));
    lit(&c, "{\"n\":");
    w->n = (int)integer(&c);
    lit(&c, ",\"audience\":");
    plain(&c, r->audience, sizeof(r->audience));
    lit(&c, ",\"size\":");
    w->size = (uint32_t)integer(&c);
    lit(&c, ",\"placed\":");
    w->placed = (uint32_t)integer(&c);
    lit(&c, ",\"present\":");
    w->present = (uint32_t)integer(&c);
    lit(&c, ",\"fill\":");
    /* A share as put_share() writes it: a plain decimal. */
    size_t k = 0;
    while (c.ok && c.p < c.end && k < sizeof(num) - 1 &&
           ((*c.p >= '0' && *c.p <= '9') || *c.p == '.' || *c.p == '-' || *c.p == 'e' ||
            *c.p == '+'))
        num[k++] = *c.p++;
    num[k] = '\0';
    char *stop;
    w->fill = k ? strtod(num, &stop) : 0;
    if (!k || *stop)
        c.ok = false;
    lit(&c, ",\"check\":");
    w->check = (uint32_t)integer(&c);
    lit(&c, ",\"next_check\":");
    w->next_check = (uint32_t)integer(&c);
    lit(&c, ",\"checks\":");
    w->checks = (uint32_t)integer(&c);
    lit(&c, ",\"started_ms\":");
    w->started_ms = integer(&c);
    lit(&c, ",\"limit_ms\":");
    w->limit_ms = integer(&c);
    lit(&c, ",\"ended_ms\":");
    if (c.ok && c.p < c.end && *c.p == 'n')
        lit(&c, "null");
    else
        w->ended_ms = integer(&c);
    lit(&c, ",\"stats\":{");
    for (int i = 0; i < SL_EV__COUNT; i++) {
        lit(&c, i ? ",\"" : "\"");
        lit(&c, sl_event_names[i]);
        lit(&c, "\":");
        w->counts[i] = (uint64_t)integer(&c);
    }
    lit(&c, "},\"decision\":");
    plain(&c, w->decision, sizeof(w->decision));
    lit(&c, ",\"ended_by\":");
    plain(&c, w->ended_by, sizeof(w->ended_by));
    lit(&c, ",\"reason\":");
    plain(&c, r->reason, sizeof(r->reason));
    lit(&c, ",\"decided_by\":");
    plain(&c, r->by, sizeof(r->by));
    lit(&c, "}");
    return c.ok && c.p == c.end ? 0 : -EINVAL;
}

/* }===================================================================== */
