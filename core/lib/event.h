/* SPDX-License-Identifier: MIT */
/* Viewer events: what a platform reports of how people met an item. */
#ifndef SL_EVENT_H
#define SL_EVENT_H

enum sl_event_type {
    SL_EV_IMPRESSION,
    SL_EV_PLAY,
    SL_EV_COMPLETE,
    SL_EV_LIKE,
    SL_EV_COMMENT,
    SL_EV_SHARE,
    SL_EV_FOLLOW,
    SL_EV_SKIP,
    SL_EV_DISLIKE,
    SL_EV_REPORT,
    SL_EV__COUNT
};

/* "impression", "play", ...: the names the API and the store use. */
extern const char *const sl_event_names[SL_EV__COUNT];
int sl_event_type_parse(const char *name);  /* enum sl_event_type or -EINVAL */

#endif
