/* SPDX-License-Identifier: MIT */
/* Rate limits per token: a bucket for each token name, refilled at its role's rate up to its burst. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"
#include "lib/mix.h"

struct bucket {
    char *name;                 /* NULL: a free slot */
    double tokens;              /* requests that may go now, up to the burst */
    double last;                /* monotonic seconds of the last refill */
    double full_at;             /* when the bucket is full again: forgettable after */
};

struct sl_rate {
    struct bucket *slots;       /* open addressing, linear probing */
    size_t cap, used;           /* cap: a power of two */
};

int sl_rate_new(struct sl_rate **out)
{
    struct sl_rate *rl = calloc(1, sizeof(*rl));
    if (!rl || !(rl->slots = calloc(16, sizeof(*rl->slots)))) {
        free(rl);
        return -ENOMEM;
    }
    rl->cap = 16;
    *out = rl;
    return 0;
}

void sl_rate_free(struct sl_rate *rl)
{
    if (!rl)
        return;
    for (size_t i = 0; i < rl->cap; i++)
        free(rl->slots[i].name);
    free(rl->slots);
    free(rl);
}

static struct bucket *find(struct bucket *slots, size_t cap, const char *name)
{
    size_t i = sl_hash_str(name) & (cap - 1);
    while (slots[i].name && strcmp(slots[i].name, name) != 0)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

/* Make room: buckets full again are dropped (a new bucket starts full, so
 * nothing changes for their tokens), and the table doubles if it must.
 * Revoked tokens' buckets go this way too. */
static int rehash(struct sl_rate *rl, double now)
{
    size_t live = 0;
    for (size_t i = 0; i < rl->cap; i++)
        live += rl->slots[i].name && rl->slots[i].full_at > now;
    size_t cap = rl->cap;
    while (live * 2 + 2 > cap)
        cap *= 2;
    struct bucket *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < rl->cap; i++) {
        struct bucket *b = &rl->slots[i];
        if (!b->name)
            continue;
        if (b->full_at <= now)
            free(b->name);
        else
            *find(slots, cap, b->name) = *b;
    }
    free(rl->slots);
    rl->slots = slots;
    rl->cap = cap;
    rl->used = live;
    return 0;
}

double sl_rate_take(struct sl_rate *rl, const char *name, double rate, int burst, double now)
{
    if (rate <= 0)
        return 0;
    struct bucket *b = find(rl->slots, rl->cap, name);
    if (!b->name) {
        /* Over half full: forget the full buckets first. Out of memory
         * there, or for the name, lets the request go: a limit must not
         * turn a shortage of memory into refusals. */
        if ((rl->used + 1) * 2 > rl->cap) {
            if (rehash(rl, now) < 0)
                return 0;
            b = find(rl->slots, rl->cap, name);
        }
        if (!(b->name = strdup(name)))
            return 0;
        rl->used++;
        b->tokens = burst;
        b->last = now;
    }
    b->tokens = fmin((double)burst, b->tokens + (now - b->last) * rate);
    b->last = now;
    if (b->tokens >= 1) {
        b->tokens -= 1;
        b->full_at = now + ((double)burst - b->tokens) / rate;
        return 0;
    }
    b->full_at = now + ((double)burst - b->tokens) / rate;
    return (1 - b->tokens) / rate;
}
