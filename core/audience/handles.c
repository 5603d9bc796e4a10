/* SPDX-License-Identifier: MIT */
/* The audience's items: handles, liveness and release. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audience/internal.h"
#include "lib/grow.h"

/* NULL for a bad handle (or a NULL audience). */
struct item *aud_item_get(const struct sl_audience *a, uint32_t h)
{
    return a && h < a->nitems ? a->items[h] : NULL;
}

/* Released and named by no inbox entry: the handle goes back to the free list. */
void aud_item_destroy(struct sl_audience *a, uint32_t h)
{
    struct item *it = a->items[h];

    aud_idmap_del(&a->item_map, it->hash, h);
    aud_offered_free(&it->offered);
    free(it->id);
    free(it);
    a->items[h] = NULL;
    a->free_items[a->nfree_items++] = h;
}

int sl_audience_item_new(struct sl_audience *a, const char *id, const char *creator,
                         const char *city, uint32_t *h)
{
    size_t len, clen, tlen = 0;
    uint32_t c, t = SL_AUD_NONE;
    int rc;

    if (!a || !h || !id_ok(id, &len) || !id_ok(creator, &clen) ||
        (city && !aud_city_ok(city, &tlen)))
        return -EINVAL;
    uint32_t hash = aud_hash_str(id, len, a->conf.seed);
    uint32_t old = aud_idmap_find(&a->item_map, id, hash);
    if (old != SL_AUD_NONE && !a->items[old]->released) {
        *h = old;
        return -EEXIST;
    }
    if (old != SL_AUD_NONE) {
        /* Released and approved again: the id gets a new handle, and the
         * old one lives on apart, not live, while entries name it. Its
         * entries, and its offered set, stay with it. */
        sl_audience_item_set_live(a, old, false);
        aud_idmap_del(&a->item_map, hash, old);
    }
    if ((rc = aud_user_intern(a, creator, clen, &c)) < 0)
        return rc;
    if (tlen > 0 && (rc = aud_city_intern(a, city, tlen, &t)) < 0)
        return rc;

    uint32_t slot;
    if (a->nfree_items > 0) {
        slot = a->free_items[a->nfree_items - 1];
    } else {
        if (a->nitems >= SL_AUD_NONE - 1)
            return -ENOMEM;
        size_t cap = a->items_cap;
        if (sl_grow((void **)&a->items, &cap, (size_t)a->nitems + 1, sizeof(*a->items)) < 0)
            return -ENOMEM;
        if (cap != a->items_cap) {
            uint32_t *nf = realloc(a->free_items, cap * sizeof(*nf));
            if (!nf)
                return -ENOMEM;
            a->free_items = nf;
            a->items_cap = cap;
        }
        slot = a->nitems;
    }
    struct item *it = calloc(1, sizeof(*it));
    char *copy = malloc(len + 1);
    if (copy)
        memcpy(copy, id, len + 1);
    if (!it || !copy || aud_idmap_put(&a->item_map, hash, slot, copy) < 0) {
        free(it);
        free(copy);
        return -ENOMEM;
    }
    *it = (struct item){ .id = copy, .hash = hash, .creator = c, .city = t, .live = true };
    if (slot == a->nitems)
        a->nitems++;
    else
        a->nfree_items--;
    a->items[slot] = it;
    a->users[c].creator = true;
    *h = slot;
    return 0;
}

int sl_audience_item_find(const struct sl_audience *a, const char *id, uint32_t *h)
{
    size_t len;

    if (!a || !h || !id_ok(id, &len))
        return -EINVAL;
    uint32_t v = aud_idmap_find(&a->item_map, id, aud_hash_str(id, len, a->conf.seed));
    if (v == SL_AUD_NONE)
        return -ENOENT;
    *h = v;
    return 0;
}

const char *sl_audience_item_id(const struct sl_audience *a, uint32_t h)
{
    const struct item *it = aud_item_get(a, h);
    return it ? it->id : NULL;
}

int sl_audience_item_set_live(struct sl_audience *a, uint32_t h, bool live)
{
    struct item *it = aud_item_get(a, h);

    if (!it)
        return -ENOENT;
    if (it->live != live) {
        if (live) {
            a->dead_refs -= it->refs;
        } else {
            a->dead_refs += it->refs;
            a->dead_gen += it->refs > 0;
        }
        it->live = live;
    }
    return 0;
}

int sl_audience_item_set_pending(struct sl_audience *a, uint32_t h, bool pending)
{
    struct item *it = aud_item_get(a, h);

    if (!it)
        return -ENOENT;
    it->pending = pending;
    return 0;
}

int sl_audience_item_release(struct sl_audience *a, uint32_t h)
{
    struct item *it = aud_item_get(a, h);

    if (!it)
        return -ENOENT;
    if (it->released)
        return 0;
    it->released = true;
    aud_offered_free(&it->offered);
    if (it->refs == 0)
        aud_item_destroy(a, h);
    return 0;
}

bool sl_audience_item_offered(const struct sl_audience *a, uint32_t h, uint32_t user)
{
    const struct item *it = aud_item_get(a, h);
    return it && aud_offered_has(&it->offered, user);
}

size_t sl_audience_item_offered_count(const struct sl_audience *a, uint32_t h)
{
    const struct item *it = aud_item_get(a, h);
    return it ? it->offered.n : 0;
}
