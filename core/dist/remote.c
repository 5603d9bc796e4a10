/* SPDX-License-Identifier: MIT */
/* Several nodes on one store: what other nodes did, as the change feed tells it. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "dist/internal.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "server.h"

/*
 * Every node keeps every inbox: the owner of an item places its waves'
 * offers in its own audience and the store; the others learn them from the
 * feed (api/changes.c) and place them in theirs, so any node serves any
 * user. A feed that served a user on another node takes the items out of
 * that user's inbox here too, and at the item's owner makes the user count
 * as served. An item leaving distribution (people took it down or sent it
 * to review, or it settled) leaves the inboxes as it does on its owner.
 */

/* Users by id into out (room for n): unknown ones are added, as a
 * reload from the store would. How many. */
static size_t user_indices(struct sl_dist *d, json_t *users, uint32_t *out)
{
    size_t i, n = 0;
    json_t *v;
    json_array_foreach(users, i, v)
        if (json_is_string(v) && sl_audience_user_add(d->aud, json_string_value(v), &out[n]) == 0)
            n++;
    return n;
}

void sl_dist_remote_offers(struct sl_server *srv, const char *item, json_t *data)
{
    struct sl_dist *d = D(srv);
    json_t *users = json_object_get(data, "users");
    const char *creator = json_string_value(json_object_get(data, "creator"));
    const char *city = json_string_value(json_object_get(data, "city"));
    json_int_t wave = json_integer_value(json_object_get(data, "wave"));
    json_int_t source = json_integer_value(json_object_get(data, "source"));
    uint32_t h, *idx;
    int rc;

    if (!d || !creator || !json_is_array(users) || wave < 0 || wave > 65535 || source < 0 ||
        source > SL_AUD_EVERYONE)
        return;
    if (dist_item_get(d, item))
        return;                 /* run here: placed here */
    rc = sl_audience_item_new(d->aud, item, creator, city, &h);
    if (rc < 0 && rc != -EEXIST)
        return;
    if (!(idx = malloc((json_array_size(users) + 1) * sizeof(*idx)))) {
        sl_err("distribution: out of memory: offers of %s made elsewhere are not in this "
               "node's inboxes", item);
        return;
    }
    size_t n = user_indices(d, users, idx);
    sl_audience_place(d->aud, h, idx, n, (enum sl_aud_source)source, (uint32_t)wave, NULL);
    free(idx);
}

void sl_dist_remote_served(struct sl_server *srv, const char *user, json_t *items)
{
    struct sl_dist *d = D(srv);
    uint32_t u, h;
    size_t i;
    json_t *v;

    if (!d || sl_audience_user_find(d->aud, user, &u) < 0)
        return;
    json_array_foreach(items, i, v) {
        if (!json_is_string(v) || sl_audience_item_find(d->aud, json_string_value(v), &h) < 0)
            continue;
        sl_audience_inbox_remove(d->aud, u, h);
        struct ditem *it = h < d->cap ? d->items[h] : NULL;
        if (it && dist_react_served(&it->reactions, u) < 0)
            sl_err("distribution: out of memory: %s's reactions to %s will not count", user,
                   it->id);
    }
}

void sl_dist_remote_state(struct sl_server *srv, const char *item, const char *from,
                          const char *to)
{
    struct sl_dist *d = D(srv);
    struct ditem *it;
    uint32_t h;

    (void)from;
    if (!d || !to || sl_audience_item_find(d->aud, item, &h) < 0)
        return;
    if (strcmp(to, "distributing") == 0) {
        sl_audience_item_set_live(d->aud, h, true);     /* back from review */
        return;
    }
    /* Run here, and people took it out elsewhere: its running wave ends
     * as it would had they done it here. */
    if ((it = dist_item_get(d, item)) && it->state == D_RUNNING) {
        if (strcmp(to, "in_review") == 0)
            sl_dist_held(srv, item, "people", "sent to review on another node");
        else if (strcmp(to, "settled") != 0)
            sl_dist_withdrawn(srv, item);
        return;
    }
    /* Settled: its entries stay; anything else takes them out of feeds. */
    if (strcmp(to, "settled") != 0)
        sl_audience_item_set_live(d->aud, h, false);
    if (it)
        dist_item_drop(d, it);
    else
        sl_audience_item_release(d->aud, h);
}
