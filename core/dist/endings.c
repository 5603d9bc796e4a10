/* SPDX-License-Identifier: MIT */
/* When a running wave is asked about: everyone saw it, enough saw it, time, evidence. */
#include "config.h"

#include <math.h>

#include "dist/internal.h"

/* {====================== Endings ====================================== */

/*
 * A wave that waited for its last placed user would wait for ever on a
 * platform where many never come back: it ends when everyone placed saw
 * it, when the plan's share (fill) of the users present at placement saw
 * it, or when its time is up, whichever comes first; before that, the
 * policy is asked at each evidence checkpoint, and may end it early.
 * Impressions count each served user once.
 */
enum dist_end dist_wave_due(const struct wave *w, int64_t now_ms)
{
    uint64_t seen = w->counts[SL_EV_IMPRESSION];

    if (w->placed > 0 && seen >= w->placed)
        return DIST_END_SIZE;
    if (w->fill < 1.0 && w->present > 0 && seen >= (uint64_t)ceil(w->fill * w->present - 1e-9))
        return DIST_END_FILL;
    if (now_ms - w->started_ms >= w->limit_ms)
        return DIST_END_TIME;
    if (w->check > 0 && w->next_check > 0 && seen >= w->next_check)
        return DIST_END_EVIDENCE;
    return DIST_END_NONE;
}

const char *dist_end_name(enum dist_end e)
{
    switch (e) {
    case DIST_END_SIZE: return "size";
    case DIST_END_FILL: return "fill";
    case DIST_END_TIME: return "time";
    case DIST_END_EVIDENCE: return "evidence";
    case DIST_END_NONE: break;
    }
    return "";
}

/* After a checkpoint answered "wait": the next one is twice as far, so a
 * wave costs the policy a few calls however large it is. */
void dist_wave_checked(struct wave *w)
{
    uint64_t next = (uint64_t)(w->next_check ? w->next_check : w->check) * 2;
    w->next_check = next > UINT32_MAX ? UINT32_MAX : (uint32_t)next;
    w->checks++;
}

/* }===================================================================== */
