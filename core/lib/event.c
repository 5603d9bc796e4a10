/* SPDX-License-Identifier: MIT */
/* Viewer events: what a platform reports of how people met an item. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "lib/event.h"

const char *const sl_event_names[SL_EV__COUNT] = {
    [SL_EV_IMPRESSION] = "impression",
    [SL_EV_PLAY]       = "play",
    [SL_EV_COMPLETE]   = "complete",
    [SL_EV_LIKE]       = "like",
    [SL_EV_COMMENT]    = "comment",
    [SL_EV_SHARE]      = "share",
    [SL_EV_FOLLOW]     = "follow",
    [SL_EV_SKIP]       = "skip",
    [SL_EV_DISLIKE]    = "dislike",
    [SL_EV_REPORT]     = "report",
};

int sl_event_type_parse(const char *name)
{
    /* Once per event: the first letter leaves one name or two to compare. */
    for (int i = 0; i < SL_EV__COUNT; i++)
        if (name[0] == sl_event_names[i][0] && strcmp(name, sl_event_names[i]) == 0)
            return i;
    return -EINVAL;
}
