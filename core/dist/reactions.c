/* SPDX-License-Identifier: MIT */
/* Who was served a running item, and how each reacted: once per user and kind. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "dist/internal.h"
#include "lib/mix.h"

/* {====================== Reactions ==================================== */

/*
 * Only a user the item was served to (a feed showed it) moves its waves,
 * and each user only once per kind of event: a script that likes what it
 * never saw, or one account reporting again and again, counts for nothing.
 * An open-addressing table of the item's served users, 8 bytes a slot at
 * most half full: flags has a bit per event type and one for "served".
 */
#define SERVED (1u << 15)

_Static_assert(SL_EV__COUNT <= 15, "a bit per event type, and one for served");

static struct reaction *find(const struct reactions *r, uint32_t user)
{
    for (uint32_t i = (uint32_t)sl_mix64(user) & (r->cap - 1);; i = (i + 1) & (r->cap - 1))
        if (r->slot[i].user == user + 1 || r->slot[i].user == 0)
            return &r->slot[i];
}

static int grow(struct reactions *r)
{
    uint32_t cap = r->cap ? r->cap * 2 : 16;
    struct reaction *slot = cap > r->cap ? calloc(cap, sizeof(*slot)) : NULL;
    if (!slot)
        return -ENOMEM;
    struct reactions next = { slot, cap, r->n };
    for (uint32_t i = 0; i < r->cap; i++)
        if (r->slot[i].user)
            *find(&next, r->slot[i].user - 1) = r->slot[i];
    free(r->slot);
    *r = next;
    return 0;
}

int dist_react_served(struct reactions *r, uint32_t user)
{
    if ((r->n + 1) * 2 > r->cap && grow(r) < 0)
        return -ENOMEM;
    struct reaction *e = find(r, user);
    if (!e->user) {
        e->user = user + 1;
        r->n++;
    }
    e->flags |= SERVED;
    return 0;
}

enum dist_reaction dist_react(struct reactions *r, uint32_t user, int type)
{
    struct reaction *e = r->cap ? find(r, user) : NULL;

    if (!e || !(e->flags & SERVED))
        return DIST_REACT_UNSERVED;
    if (e->flags & (1u << type))
        return DIST_REACT_AGAIN;
    e->flags |= (uint16_t)(1u << type);
    return DIST_REACT_NEW;
}

bool dist_react_was_served(const struct reactions *r, uint32_t user)
{
    return r->cap && (find(r, user)->flags & SERVED);
}

void dist_reactions_free(struct reactions *r)
{
    free(r->slot);
    *r = (struct reactions){ 0 };
}

/* }===================================================================== */
