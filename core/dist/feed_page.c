/* SPDX-License-Identifier: MIT */
/* A page of a user's feed: the inbox filtered by tab or composed, served once. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist/compose.h"
#include "dist/internal.h"
#include "lib/clock.h"
#include "lib/grow.h"
#include "lib/json.h"
#include "lib/log.h"

#define FEED_MAX SL_DIST_FEED_MAX
#define INBOX_SCAN 200             /* inbox entries a page chooses from */

/* {====================== Feeds ======================================== */

/* n items served to user, priv of them from followed creators: into the
 * user's running share (nothing kept when memory is short: the top-up
 * then sees a user with no history). */
void dist_mix_served(struct sl_dist *d, uint32_t user, size_t priv, size_t n)
{
    if (n == 0 || sl_grow(&d->mix, &d->mix_cap, (size_t)user + 1, sizeof(*d->mix)) < 0)
        return;
    struct feed_mix *m = &d->mix[user];
    double keep = pow(0.5, (double)n / FEED_MIX_HALF);
    m->priv = (float)(m->priv * keep + (double)priv);
    m->served = (float)(m->served * keep + (double)n);
    if (m->priv > m->served)
        m->priv = m->served;    /* float rounding */
}

/* An entry of the page as JSON text, written directly: a page of ten
 * built as jansson objects and dumped cost ten times composing it. Ids are
 * at most SL_ID_MAX bytes; a source name is short. */
#define ENTRY_MAX (64 + 2 * SL_JSON_QUOTED_MAX(SL_ID_MAX) + SL_JSON_QUOTED_MAX(32))

static char *feed_entry(struct sl_dist *d, const struct sl_aud_entry *e, char *p)
{
    p = sl_json_put_string(sl_json_put_lit(p, "{\"id\":"), e->item_id);
    p = sl_json_put_string(sl_json_put_lit(p, ",\"creator\":"),
                           sl_audience_user_id(d->aud, e->creator));
    p = sl_json_put_string(sl_json_put_lit(p, ",\"source\":"),
                           sl_audience_source_name(e->source));
    p = sl_json_put_int(sl_json_put_lit(p, ",\"stage\":"), (long long)e->wave);
    return sl_json_put_lit(p, "}");
}

char *sl_dist_feed(struct sl_server *srv, const char *user, enum sl_dist_tab tab,
                   size_t limit, size_t *len)
{
    struct sl_dist *d = D(srv);
    uint32_t u;

    if (sl_audience_user_find(d->aud, user, &u) < 0) {
        *len = 2;
        return strdup("[]");
    }
    /* Back after catchup_s away (or new): what their followed creators
     * posted meanwhile comes first, page after page, until it is read. */
    int64_t now = sl_now_ms();
    uint32_t now_s = (uint32_t)(now / 1000), last = sl_audience_last_active(d->aud, u);
    bool back = d->traffic.catchup_s && now_s >= last && now_s - last >= d->traffic.catchup_s;
    dist_seen(d, u, now);
    if (back && sl_grow(&d->mix, &d->mix_cap, (size_t)u + 1, sizeof(*d->mix)) == 0)
        d->mix[u].catchup = true;
    if (limit > FEED_MAX)
        limit = FEED_MAX;
    struct sl_aud_entry in[INBOX_SCAN];
    size_t n = sl_audience_inbox_read(d->aud, u, in, INBOX_SCAN);
    struct sl_compose_cand priv[INBOX_SCAN], pub[INBOX_SCAN];
    size_t np = 0, nq = 0, pi[INBOX_SCAN], qi[INBOX_SCAN];
    const struct sl_aud_entry *chosen[FEED_MAX];
    size_t nchosen = 0;
    struct sl_compose_counts counts = { 0 };

    for (size_t i = 0; i < n; i++) {
        bool followed = sl_audience_follows(d->aud, u, in[i].creator);
        bool keep = tab == SL_DIST_TAB_MIXED || (tab == SL_DIST_TAB_FOLLOW && followed) ||
                    (tab == SL_DIST_TAB_NEARBY && in[i].source == SL_AUD_NEARBY) ||
                    (tab == SL_DIST_TAB_DISCOVER && !followed &&
                     in[i].source != SL_AUD_NEARBY);
        if (!keep)
            continue;
        if (tab != SL_DIST_TAB_MIXED) {
            if (nchosen < limit)
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
    if (tab == SL_DIST_TAB_MIXED) {
        struct sl_compose_rules rules;
        struct sl_compose_pick picks[FEED_MAX];
        size_t npicks = 0;
        sl_compose_rules_default(&rules);
        rules.min_private = d->traffic.min_private;
        rules.min_ordinary = d->traffic.min_ordinary;
        rules.target_private = d->traffic.private_target;
        /* The catch-up lifts a node whose users run out of followed items,
         * while its share is below catchup_below. */
        bool catchup = u < d->mix_cap && d->mix[u].catchup && dist_private_share(d) <
                                                               d->traffic.catchup_below;
        if (u < d->mix_cap) {
            rules.recent_private = d->mix[u].priv;
            rules.recent_served = d->mix[u].served;
            if (catchup)
                rules.min_private = 1;
        }
        if (sl_compose_page(priv, np, pub, nq, &rules, limit, picks, &npicks, &counts) == 0) {
            for (size_t i = 0; i < npicks; i++)
                chosen[nchosen++] = &in[picks[i].pool == SL_COMPOSE_PRIVATE ? pi[picks[i].index]
                                                                       : qi[picks[i].index]];
        } else {
            counts = (struct sl_compose_counts){ 0 };
        }
        /* A page not full of followed items: the backlog is read (or,
         * above catchup_below, the user was served as any other). */
        if (u < d->mix_cap && counts.private_n < limit)
            d->mix[u].catchup = false;
    }
    /* The whole page first: a page that cannot be built serves nothing. */
    char *text = malloc(2 + nchosen * (ENTRY_MAX + 1)), *p = text;
    if (!text)
        return NULL;
    *p++ = '[';
    for (size_t i = 0; i < nchosen; i++) {
        if (i)
            *p++ = ',';
        p = feed_entry(d, chosen[i], p);
    }
    *p++ = ']';
    *len = (size_t)(p - text);
    /* Several nodes: served once claimed in the store (feed_claim.c). */
    if (srv->node.shared)
        return text;
    d->served_private += counts.private_n;
    d->served_public += counts.public_n;
    d->served_ordinary += counts.ordinary_n;
    d->served_head += counts.head_n;
    dist_mix_served(d, u, counts.private_n, counts.private_n + counts.public_n);
    for (size_t i = 0; i < nchosen; i++) {
        sl_audience_exposure_add(d->aud, chosen[i]->creator, 1);
        /* Served: from now on this user's reactions count in its waves. */
        struct ditem *it = chosen[i]->item < d->cap ? d->items[chosen[i]->item] : NULL;
        if (it && dist_react_served(&it->reactions, u) < 0)
            sl_err("distribution: out of memory: %s's reactions to %s will not count",
                   user, it->id);
    }
    /* Served once: out of the inbox, so no item comes twice; the store
     * learns it too (the page in one change), so a restart does not put
     * them back. */
    if (nchosen > 0) {
        struct dist_op *o = dist_op_new(d, user);
        dist_op_served(o, nchosen);
        for (size_t i = 0; i < nchosen; i++)
            dist_op_offer(o, chosen[i]->item_id);
        dist_op_submit(d, o);
    }
    for (size_t i = 0; i < nchosen; i++)
        sl_audience_inbox_remove(d->aud, u, chosen[i]->item);
    return text;
}

/* }===================================================================== */
