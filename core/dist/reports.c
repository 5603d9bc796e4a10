/* SPDX-License-Identifier: MIT */
/* Reports with memory: one per user and item, weighed by who sent it, able to pull an item back. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/internal.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/text.h"
#include "store/commit.h"
#include "store/counters.h"
#include "store/store.h"

/* {====================== Reports ====================================== */

/*
 * A report is kept, once per user and item, with the weight it had when
 * it came: the reporter's standing if a feed served them the item, the
 * policy's unserved_report_weight (0 by default) if not. The standing is
 * (1 + upheld) / (1 + reports): of all the reports they sent before, the
 * share people upheld. A viewer's first report weighs 1, and so do the
 * reports of one whose reports people keep upholding; an account that
 * reports whatever it sees (what a brigade does, and what people never
 * uphold) is heard less with every report, judged or not. A reporter below
 * 1/2, most of whose reports people did not uphold, is not credible and
 * weighs nothing: many such accounts do not add up to one credible viewer,
 * so a handful of them cannot reach the threshold together. A user who
 * reports an item again is a script, not a viewer tapping once: their
 * report of it weighs nothing from then on, and the repeat counts in their
 * record (a brigade of fresh accounts reporting again and again is so
 * heard as none). An
 * item whose unjudged reports weigh at least the policy's threshold (and
 * its share of the item's impressions, when the policy sets one) goes back
 * to people, distributing or settled, however long ago it was served; the
 * store has every report, so counts hold across restarts. When people
 * decide the item, its reports are judged with it (sl_store_reports_judge).
 *
 * The weighing happens on the commit thread, where the store's facts are
 * current (an offer served a moment ago is written before the report that
 * follows it); the loop then sees the item's total and decides.
 */
struct report_op {
    struct sl_commit_op op;
    struct sl_dist *d;
    char item[SL_ID_MAX + 1];
    char user[SL_ID_MAX + 1];
    double unserved_weight;
    /* the commit thread's answers */
    bool repeated, served;
    double weight, total;
    int64_t n;
};

static double standing(const struct sl_report_facts *f)
{
    /* reports counts every earlier report (upheld, dismissed, pending), at
     * least the upheld ones. */
    double before = f->reports > f->upheld ? (double)f->reports : (double)f->upheld;
    double s = (1.0 + (double)f->upheld) / (1.0 + before);
    return s >= 0.5 ? s : 0.0;
}

static int report_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct report_op *o = (struct report_op *)op;
    struct sl_report_facts f;
    int rc = sl_store_report_facts(w, o->item, o->user, &f);

    o->repeated = false;
    if (rc < 0)
        return rc;
    if (f.already) {
        o->repeated = true;
        return sl_store_report_repeat(w, o->item, o->user);
    }
    o->served = f.served;
    o->weight = f.served ? standing(&f) : o->unserved_weight;
    rc = sl_store_report_add(w, o->item, o->user, o->served, o->weight, sl_now_ms());
    if (rc == -EEXIST) {
        o->repeated = true;
        return sl_store_report_repeat(w, o->item, o->user);
    }
    return rc < 0 ? rc : sl_store_report_sum(w, o->item, &o->n, &o->total);
}

/* The item's audience, which the policy's report_rate is a share of: while
 * it runs, the users its waves were offered to who were around (or its
 * impressions, if more), so that the few who saw an item early in a large
 * wave cannot pull it before the rest had a chance to; once settled, its
 * impressions, as the counters say. */
static uint64_t audience(struct sl_dist *d, const char *id)
{
    struct ditem *it = dist_item_get(d, id);
    int64_t counts[SL_EV__COUNT] = { 0 };
    uint64_t n = 0;

    if (it) {
        for (int i = 0; i < it->nwaves; i++) {
            const struct wave *w = &it->waves[i];
            n += w->present > w->counts[SL_EV_IMPRESSION] ? w->present
                                                          : w->counts[SL_EV_IMPRESSION];
        }
        return n;
    }
    sl_counters_read(d->srv, d->srv->reader, id, counts);
    return counts[SL_EV_IMPRESSION] > 0 ? (uint64_t)counts[SL_EV_IMPRESSION] : 0;
}

/* Reports that weigh enough take the item back to people. */
static void weigh(struct sl_dist *d, const char *id, int64_t n, double total)
{
    double need = d->traffic.report_threshold;
    double relative = d->traffic.report_rate * (double)audience(d, id);
    char state[32], actor[96], reason[256];
    struct ditem *it = dist_item_get(d, id);
    uint32_t h;

    if (relative > need)
        need = relative;
    if (total < need - 1e-9)
        return;
    snprintf(reason, sizeof(reason), "%lld reports weighing %.2f (threshold %.2f)",
             (long long)n, total, need);
    dist_policy_actor(d, actor, sizeof(actor));
    if (it) {
        if (it->state == D_RUNNING) {
            d->pulled++;
            dist_hold(d, it, "reports", reason, actor);
        }
        return;
    }
    /* Settled, however long ago: its entries leave every feed at once. */
    if (sl_store_item_state(d->srv->reader, id, state) < 0 || strcmp(state, "settled") != 0)
        return;
    if (sl_audience_item_find(d->aud, id, &h) == 0)
        sl_audience_item_set_live(d->aud, h, false);
    d->pulled++;
    struct dist_op *o = dist_op_new(d, id);
    dist_op_state(o, actor, "hold", "settled", "in_review", reason);
    dist_op_queue(o, "reports");
    dist_op_submit(d, o);
    sl_info("distribution: %s pulled back from settled: %s", id, reason);
}

static void report_done(struct sl_commit_op *op, int rc)
{
    struct report_op *o = (struct report_op *)op;
    struct sl_dist *d = o->d;

    if (rc < 0)
        sl_err("distribution: storing a report of %s on %s failed: %s", o->user, o->item,
               strerror(-rc));
    else if (o->repeated)
        d->reports[2]++;
    else {
        d->reports[o->served ? 0 : 1]++;
        weigh(d, o->item, o->n, o->total);
    }
    free(o);
}

void dist_report(struct sl_dist *d, const char *item, const char *user)
{
    struct report_op *o = calloc(1, sizeof(*o));

    if (!o) {
        sl_err("distribution: out of memory: a report of %s on %s is not weighed", user, item);
        return;
    }
    o->d = d;
    sl_copy(o->item, sizeof(o->item), item);
    sl_copy(o->user, sizeof(o->user), user);
    o->unserved_weight = d->traffic.unserved_report_weight;
    o->op.apply = report_apply;
    o->op.done = report_done;
    if (sl_commit_submit(d->srv->commit, &o->op) < 0)
        free(o);
}

void sl_dist_remote_report(struct sl_server *srv, const char *item)
{
    struct sl_dist *d = D(srv);
    struct ditem *it = d ? dist_item_get(d, item) : NULL;
    int64_t n;
    double total;

    /* Settled or elsewhere: the node that took the report decided. */
    if (!it || it->state != D_RUNNING)
        return;
    if (sl_store_report_sum(srv->reader, item, &n, &total) == 0)
        weigh(d, item, n, total);
}

json_t *sl_dist_reports(struct sl_server *srv, const char *item)
{
    struct sl_dist *d = D(srv);
    json_t *list = NULL;
    int64_t n = 0;
    double total = 0;

    if (sl_store_reports_get(srv->reader, item, &list) < 0 ||
        sl_store_report_sum(srv->reader, item, &n, &total) < 0) {
        json_decref(list);
        return NULL;
    }
    double need = d->traffic.report_threshold;
    double relative = d->traffic.report_rate * (double)audience(d, item);
    return json_pack("{s:I, s:f, s:f, s:o}", "pending", (json_int_t)n, "weight", total,
                     "threshold", relative > need ? relative : need, "reports", list);
}

/* }===================================================================== */
