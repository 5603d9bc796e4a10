/* SPDX-License-Identifier: MIT */
/* Several nodes: a page of a feed, served once its items were claimed in the store. */
#include "config.h"

#include <string.h>

#include "dist/internal.h"
#include "lib/log.h"

json_t *sl_dist_feed_claimed(struct sl_server *srv, const char *user, json_t *page,
                             json_t *claimed, size_t limit)
{
    (void)limit;                /* the claim took at most limit */
    struct sl_dist *d = D(srv);
    json_t *got = json_object(), *out = json_array(), *e, *v;
    uint32_t u, h, creator;
    size_t i;

    if (!got || !out) {
        json_decref(got);
        json_decref(out);
        return NULL;
    }
    json_array_foreach(claimed, i, v)
        if (json_object_set(got, json_string_value(v), json_true()) < 0) {
            json_decref(got);
            json_decref(out);
            return NULL;
        }
    bool known = sl_audience_user_find(d->aud, user, &u) == 0;
    size_t npriv = 0, nserved = 0;
    json_array_foreach(page, i, e) {
        const char *id = json_string_value(json_object_get(e, "id"));
        if (!id || !json_object_get(got, id))
            continue;           /* served by another node meanwhile */
        if (json_array_append(out, e) < 0) {
            json_decref(got);
            json_decref(out);
            return NULL;
        }
    }
    /* Claimed (at most limit of them) is served: out of the inbox, counted
     * as on one node. */
    json_array_foreach(page, i, e) {
        const char *id = json_string_value(json_object_get(e, "id"));
        if (!known || !id || !json_object_get(got, id) ||
            sl_audience_item_find(d->aud, id, &h) < 0)
            continue;
        if (sl_audience_user_find(d->aud,
                                  json_string_value(json_object_get(e, "creator")), &creator) == 0) {
            sl_audience_exposure_add(d->aud, creator, 1);
            nserved++;
            if (sl_audience_follows(d->aud, u, creator)) {
                d->served_private++;
                npriv++;
            } else {
                d->served_public++;
                if (sl_audience_is_head(d->aud, creator))
                    d->served_head++;
                else
                    d->served_ordinary++;
            }
        }
        struct ditem *it = h < d->cap ? d->items[h] : NULL;
        if (it && dist_react_served(&it->reactions, u) < 0)
            sl_err("distribution: out of memory: %s's reactions to %s will not count", user,
                   it->id);
        sl_audience_inbox_remove(d->aud, u, h);
    }
    if (known)
        dist_mix_served(d, u, npriv, nserved);
    json_decref(got);
    return out;
}
