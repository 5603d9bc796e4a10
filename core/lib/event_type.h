/* SPDX-License-Identifier: MIT */
/* The kinds of feedback viewers send about an item, and their names. */
#ifndef SL_EVENT_TYPE_H
#define SL_EVENT_TYPE_H

/* A leaf, so that both the events handler (api/) and distribution (dist/),
 * which counts them per wave, can name them without one using the other. */
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

extern const char *const sl_event_names[SL_EV__COUNT];
int sl_event_type_parse(const char *name);  /* enum sl_event_type or -EINVAL */

#endif
