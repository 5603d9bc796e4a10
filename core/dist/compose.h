/* SPDX-License-Identifier: MIT */
/* The mixed feed: one page composed from private and public candidates. */
#ifndef SL_COMPOSE_H
#define SL_COMPOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A pure function of its arguments: no globals, no I/O, safe from any
 * thread; 0 or a negative errno, outputs untouched on failure.
 */

/* {====================== The mixed feed =============================== */

#define SL_COMPOSE_NO_CREATOR UINT32_MAX

struct sl_compose_cand {
    uint64_t item;          /* any key that identifies the item */
    uint32_t creator;       /* any key that identifies its creator */
    bool head;              /* public list only: creator is in the head */
};

enum sl_compose_pool {
    SL_COMPOSE_PRIVATE = 0,    /* from a creator the user follows */
    SL_COMPOSE_PUBLIC = 1,
};

struct sl_compose_pick {
    enum sl_compose_pool pool;
    uint32_t index;         /* into the candidate array of that pool */
};

struct sl_compose_rules {
    double min_private;     /* share of the output from the private list */
    double min_ordinary;    /* share of the public part from non-head creators */
    uint32_t last_creator;  /* creator of the item served just before, or SL_COMPOSE_NO_CREATOR */
    /* The user's own running share: of recent_served items served to this
     * user lately, recent_private came from followed creators. Below
     * target_private, the page takes the private picks that bring it back
     * to target_private (counting this page), up to all private candidates.
     * target_private 0: no such top-up. */
    double target_private;
    double recent_private;
    double recent_served;
};

struct sl_compose_counts {
    size_t private_n;       /* picks from the private list */
    size_t public_n;        /* picks from the public list ... */
    size_t ordinary_n;      /* ... of which by non-head creators */
    size_t head_n;          /* ... and by head creators */
};

/* min_private 0.30, min_ordinary 0.70, no last creator, no target. */
void sl_compose_rules_default(struct sl_compose_rules *r);

/*
 * Compose one page of the mixed feed from two ranked candidate lists (best
 * first). The output has L = min(limit, distinct candidates) picks and keeps,
 * in this order of precedence:
 *  1. no item twice (an item in both lists counts as private);
 *  2. private picks >= min(distinct private, max(ceil(min_private * L),
 *     ceil(target_private * (recent_served + L) - recent_private)));
 *  3. ordinary picks >= min(distinct ordinary public, ceil(min_ordinary * public picks));
 *     when the ordinary candidates are too few for that, the public slots
 *     heads would take beyond their share go to private candidates instead,
 *     as far as there are any;
 *  4. no two picks of one creator adjacent (nor the first after last_creator)
 *     whenever the chosen picks can be so ordered: the order is found
 *     whenever it exists, and the choice avoids piling up one creator
 *     (at most ceil(L/2) each) when other candidates allow;
 *  5. otherwise rank order, with private picks spread evenly through the page.
 * Beyond the floors each pool is taken in rank order; heads fill at most the
 * public slots the ordinary floor leaves. Cost O(limit^2 + candidates).
 * `out` has room for `limit` picks (caller-owned); counts may be NULL.
 * Returns 0, -EINVAL (share outside [0, 1], recent counts negative, not
 * finite or recent_private above recent_served, NULL list with a non-zero
 * length), or -ENOMEM.
 */
int sl_compose_page(const struct sl_compose_cand *priv, size_t npriv,
                    const struct sl_compose_cand *pub, size_t npub,
                    const struct sl_compose_rules *rules, size_t limit,
                    struct sl_compose_pick *out, size_t *nout,
                    struct sl_compose_counts *counts);

/* }===================================================================== */

#endif
