/* SPDX-License-Identifier: MIT */
/* The in-memory audience: its configuration, creation and release. */
#include "config.h"

#include <stdlib.h>

#include "audience/internal.h"

void sl_audience_conf_default(struct sl_audience_conf *conf)
{
    *conf = (struct sl_audience_conf){
        .seed = 1,
        .inbox_max = 200,
        .related_max_pairs = 1u << 20,
        .related_min_count = 3,
        .group_rounds = 10,
    };
}

struct sl_audience *sl_audience_new(const struct sl_audience_conf *conf)
{
    struct sl_audience_conf c;

    if (conf)
        c = *conf;
    else
        sl_audience_conf_default(&c);
    if (c.inbox_max < 1 || c.inbox_max > SL_AUD_INBOX_MAX || c.related_max_pairs < 1 ||
        c.related_max_pairs > (1u << 30))
        return NULL;
    struct sl_audience *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->conf = c;
    a->head_threshold = UINT32_MAX;
    return a;
}

void sl_audience_free(struct sl_audience *a)
{
    if (!a)
        return;
    for (uint32_t i = 0; i < a->nusers; i++) {
        struct user *u = &a->users[i];
        aud_set_free(&u->following);
        aud_set_free(&u->followers);
        if (u->nints > 4)
            free(u->ints.ptr);
        free(a->inboxes[i]);
    }
    for (uint32_t i = 0; i < a->ncities; i++)
        aud_set_free(&a->cities[i].users);
    for (uint32_t i = 0; i < a->nints; i++)
        aud_set_free(&a->ints[i].named.users);
    for (uint32_t i = 0; i < a->nitems; i++)
        if (a->items[i]) {
            aud_offered_free(&a->items[i]->offered);
            free(a->items[i]->id);
            free(a->items[i]);
        }
    free(a->users);
    free(a->inboxes);
    free(a->active);
    free(a->user_map.slot);
    free(a->cities);
    free(a->city_map.slot);
    free(a->ints);
    free(a->int_map.slot);
    free(a->pairs);
    free(a->buckets);
    free(a->items);
    free(a->free_items);
    free(a->item_map.slot);
    free(a->labels);
    free(a->group_start);
    free(a->group_order);
    aud_regroup_drop(a);
    free(a->scratch);
    aud_arena_free(&a->strings);
    free(a);
}
