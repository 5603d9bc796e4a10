/* SPDX-License-Identifier: MIT */
/* The audience's inboxes: a ring of the newest entries a user was offered. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "audience/internal.h"

/* An entry of h is gone: a released item lives only as long as its entries. */
static void inbox_unref(struct sl_audience *a, uint32_t h)
{
    struct item *it = a->items[h];

    it->refs--;
    if (!it->live)
        a->dead_refs--;
    if (it->released && it->refs == 0)
        aud_item_destroy(a, h);
}

/* Drop entries of items that are not live, keeping the order of the rest;
 * only when an item held in some inbox left live since this one was last
 * found clean: a full inbox is looked at on every push, and each look
 * touched every entry's item, scattered in memory. */
static void inbox_compact(struct sl_audience *a, struct inbox *ib)
{
    uint16_t w = 0;

    if (a->dead_refs == 0 || ib->clean == a->dead_gen)
        return;
    ib->pub = 0;
    for (uint16_t k = 0; k < ib->n; k++) {
        struct entry e = ib->e[(ib->head + k) % ib->cap];
        if (a->items[e.item]->live) {
            ib->e[(ib->head + w++) % ib->cap] = e;
            ib->pub += e.source != SL_AUD_FOLLOWERS;
        } else {
            inbox_unref(a, e.item);
        }
    }
    ib->n = w;
    ib->clean = a->dead_gen;
}

/* The place of the oldest entry from a public wave, counted from the
 * oldest; ib->n when every entry is from followed creators. */
static uint16_t oldest_public(const struct inbox *ib)
{
    uint16_t k = 0, i = ib->head;

    if (ib->pub == 0)
        return ib->n;
    while (k < ib->n && ib->e[i].source == SL_AUD_FOLLOWERS) {
        k++;
        i = i + 1 == ib->cap ? 0 : i + 1;
    }
    return k;
}

int aud_inbox_push(struct sl_audience *a, uint32_t u, struct entry e)
{
    struct inbox *ib = a->inboxes[u];
    uint32_t max = a->conf.inbox_max;

    if (!ib || (ib->n == ib->cap && ib->cap < max)) {
        uint32_t ncap = ib ? ib->cap * 2u : 4u;
        if (ncap > max)
            ncap = max;
        struct inbox *nb = malloc(sizeof(*nb) + ncap * sizeof(nb->e[0]));
        if (!nb)
            return -ENOMEM;
        *nb = (struct inbox){ .clean = a->dead_gen, .head = 0, .n = 0, .cap = (uint16_t)ncap };
        if (ib) {
            nb->clean = ib->clean;
            nb->pub = ib->pub;
            for (uint16_t k = 0; k < ib->n; k++)
                nb->e[k] = ib->e[(ib->head + k) % ib->cap];
            nb->n = ib->n;
            free(ib);
        }
        a->inboxes[u] = ib = nb;
    } else if (ib->n == ib->cap) {
        inbox_compact(a, ib);
        if (ib->n == ib->cap) {
            /* Full of live entries: the oldest from a public wave goes,
             * so that what the user's followed creators posted waits for
             * them under a flood of public offers (the mixed feed's
             * private share is made of it); the oldest of all when every
             * entry is from followed creators. */
            uint16_t k = oldest_public(ib);
            if (k == ib->n)
                k = 0;
            struct entry old = ib->e[(ib->head + k) % ib->cap];
            for (uint16_t m = k; m > 0; m--)
                ib->e[(ib->head + m) % ib->cap] = ib->e[(ib->head + m - 1) % ib->cap];
            ib->head = (uint16_t)((ib->head + 1) % ib->cap);
            ib->n--;
            ib->pub -= old.source != SL_AUD_FOLLOWERS;
            inbox_unref(a, old.item);
        }
    }
    ib->e[(ib->head + ib->n) % ib->cap] = e;
    ib->n++;
    ib->pub += e.source != SL_AUD_FOLLOWERS;
    a->items[e.item]->refs++;       /* live: place() pushes no other */
    return 0;
}

size_t sl_audience_inbox_read(struct sl_audience *a, uint32_t user,
                              struct sl_aud_entry *out, size_t max)
{
    if (!a || user >= a->nusers || !a->inboxes[user] || (max && !out))
        return 0;
    struct inbox *ib = a->inboxes[user];
    inbox_compact(a, ib);
    size_t got = 0;
    for (uint16_t k = ib->n; k > 0 && got < max; k--) {
        struct entry e = ib->e[(ib->head + k - 1) % ib->cap];
        const struct item *it = a->items[e.item];
        if (it->pending)
            continue;
        out[got++] = (struct sl_aud_entry){
            .item = e.item, .item_id = it->id, .creator = it->creator,
            .wave = e.wave, .source = (enum sl_aud_source)e.source,
        };
    }
    return got;
}

int sl_audience_inbox_remove(struct sl_audience *a, uint32_t user, uint32_t h)
{
    if (!a || user >= a->nusers || !a->inboxes[user])
        return -ENOENT;
    struct inbox *ib = a->inboxes[user];
    for (uint16_t k = 0; k < ib->n; k++) {
        if (ib->e[(ib->head + k) % ib->cap].item != h)
            continue;
        ib->pub -= ib->e[(ib->head + k) % ib->cap].source != SL_AUD_FOLLOWERS;
        for (uint16_t m = k; m + 1 < ib->n; m++)
            ib->e[(ib->head + m) % ib->cap] = ib->e[(ib->head + m + 1) % ib->cap];
        ib->n--;
        inbox_unref(a, h);
        return 0;
    }
    return -ENOENT;
}
