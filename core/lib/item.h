/* SPDX-License-Identifier: MIT */
/* The item as hooks see it while it is tagged and reviewed. */
#ifndef SL_ITEM_H
#define SL_ITEM_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/*
 * struct sl_item is what plugins receive as an opaque pointer and what the Lua
 * binding (lua/lua_item.c) shows policies. Everything here is owned by the
 * item and released by sl_item_free().
 */
struct sl_item {
    uint64_t serial;        /* unique to this item in the process; 0: not from sl_item_new */
    json_t *upload;         /* the upload body as validated; text fields borrow from it */
    const char *id;
    const char *creator;
    const char *title;
    const char *description;    /* NULL when absent */
    const char *transcript;     /* NULL when absent */
    const char *city;           /* NULL when absent */

    json_t *signals;        /* object: name -> number (may be empty) */
    uint64_t *hashes;       /* perceptual hashes */
    size_t nhashes;

    json_t *tags;           /* object: name -> {"confidence": n, "source": s} */
    json_t *matches;        /* array of {"source","kind","name","detail","score",
                               "field","offset","length"} */
    json_t *reasons;        /* array of strings */
    json_t *plugin_verdicts;    /* array of {"plugin","verdict","queue","priority","reason"} */
    json_t *plugin_decisions;   /* array: what plugins' plan and wave_done answered
                                   before the Lua hook of the same name */

    /* The creator's standing, read from the store before hooks run. */
    long long creator_followers;
    long long creator_uploads;
    long long creator_rejections;
    /* The platform's size: users, and those seen lately. */
    long long platform_users;
    long long platform_active;
};

/* Build from a validated upload body (takes a reference to it). */
struct sl_item *sl_item_new(json_t *upload);
void sl_item_free(struct sl_item *item);

/* Set (or overwrite) a tag; confidence is clamped to [0,1]. */
int sl_item_tag(struct sl_item *item, const char *name, double confidence,
                const char *source);
int sl_item_reason(struct sl_item *item, const char *reason);
int sl_item_match(struct sl_item *item, const char *source, const char *kind,
                  const char *name, const char *detail, double score,
                  const char *field, size_t offset, size_t length);

/* 16 hex digits to a 64-bit perceptual hash; -EINVAL otherwise. */
int sl_hash_parse(const char *hex, uint64_t *out);

#endif
