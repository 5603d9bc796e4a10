/* SPDX-License-Identifier: MIT */
/* The audience's creators: the head by followers, and exposure's Gini coefficient. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "audience/internal.h"
#include "lib/stats.h"

static int cmp_u32_desc(const void *pa, const void *pb)
{
    return -aud_cmp_u32(pa, pb);
}

int sl_audience_head_update(struct sl_audience *a, double share)
{
    if (!a || !(share >= 0 && share <= 1))
        return -EINVAL;
    uint32_t nc = 0;
    for (uint32_t i = 0; i < a->nusers; i++)
        nc += a->users[i].creator;
    double kd = share * nc - 1e-9;
    size_t k = kd <= 0 ? 0 : (size_t)kd + 1;       /* ceil */
    if (k == 0) {
        a->head_threshold = UINT32_MAX;
        return 0;
    }
    uint32_t *v = malloc((size_t)nc * sizeof(*v));
    if (!v)
        return -ENOMEM;
    uint32_t j = 0;
    for (uint32_t i = 0; i < a->nusers; i++)
        if (a->users[i].creator)
            v[j++] = a->users[i].followers.n;
    qsort(v, nc, sizeof(*v), cmp_u32_desc);
    a->head_threshold = v[k - 1] > 0 ? v[k - 1] : 1;
    free(v);
    return 0;
}

bool sl_audience_is_head(const struct sl_audience *a, uint32_t creator)
{
    return a && creator < a->nusers && a->users[creator].creator &&
           a->users[creator].followers.n >= a->head_threshold;
}

int sl_audience_creator_mark(struct sl_audience *a, uint32_t idx)
{
    if (!a || idx >= a->nusers)
        return -EINVAL;
    a->users[idx].creator = true;
    return 0;
}

int sl_audience_exposure_add(struct sl_audience *a, uint32_t creator, uint32_t n)
{
    if (!a || creator >= a->nusers)
        return -EINVAL;
    uint32_t *e = &a->users[creator].exposure;
    *e = n > UINT32_MAX - *e ? UINT32_MAX : *e + n;
    return 0;
}

int sl_audience_exposure_gini(const struct sl_audience *a, double *out)
{
    if (!a || !out)
        return -EINVAL;
    size_t nc = 0;
    for (uint32_t i = 0; i < a->nusers; i++)
        nc += a->users[i].creator;
    double *v = malloc((nc + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    size_t j = 0;
    for (uint32_t i = 0; i < a->nusers; i++)
        if (a->users[i].creator)
            v[j++] = a->users[i].exposure;
    int rc = sl_stats_gini(v, nc, out);
    free(v);
    return rc;
}
