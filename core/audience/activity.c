/* SPDX-License-Identifier: MIT */
/* The audience's activity: when each user was last seen, and who is away. */
#include "config.h"

#include "audience/internal.h"

/* {====================== Activity ===================================== */

void sl_audience_touch(struct sl_audience *a, uint32_t user, uint32_t t_s)
{
    if (a && user < a->nusers && a->active[user] < t_s)
        a->active[user] = t_s;
}

uint32_t sl_audience_last_active(const struct sl_audience *a, uint32_t user)
{
    return a && user < a->nusers ? a->active[user] : 0;
}

void sl_audience_set_activity(struct sl_audience *a, uint32_t active_since,
                              uint32_t away_before)
{
    a->active_since = active_since;
    a->away_before = away_before;
}

size_t sl_audience_count_present(const struct sl_audience *a, const uint32_t *users,
                                 size_t n, uint32_t away_before)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++)
        k += users[i] < a->nusers && a->active[users[i]] >= away_before &&
             a->active[users[i]] > 0;
    return k;
}

size_t sl_audience_active_count(const struct sl_audience *a, uint32_t since)
{
    size_t k = 0;

    for (uint32_t u = 0; a && u < a->nusers; u++)
        k += a->active[u] >= since && a->active[u] > 0;
    return k;
}

/* }===================================================================== */
