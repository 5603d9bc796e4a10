/* SPDX-License-Identifier: MIT */
/* The item object policies see: read-only fields plus item:tag and item:reason. */
#ifndef SL_LUA_ITEM_H
#define SL_LUA_ITEM_H

#include <jansson.h>
#include <lua.h>

struct sl_item;

#define SL_LUA_TAG_NAME_MAX 128     /* bytes in a tag name */
#define SL_LUA_TAGS_MAX 256         /* distinct tags one call may set */
#define SL_LUA_REASON_MAX 1000      /* bytes in one reason */
#define SL_LUA_REASONS_MAX 64       /* reasons one call may add */

/*
 * One hook call's view of an item. What the policy sets is collected here
 * and reaches the item only through sl_lua_item_apply, after the hook
 * succeeded, so a failing hook leaves no trace.
 */
struct sl_lua_item_ctx {
    struct sl_item *item;   /* borrowed for the call */
    json_t *tags;           /* pending: name -> confidence */
    json_t *reasons;        /* pending: array of strings */
    unsigned long gen;      /* the call this is */
};

/*
 * The sandbox's one slot for the call in progress. An item object a policy
 * kept past its call finds a different generation here and refuses to
 * touch the (by then freed) item.
 */
struct sl_lua_item_slot {
    struct sl_lua_item_ctx *cur;    /* NULL between calls */
    unsigned long gen;              /* the last generation handed out */
};

/* Register the item metatable. Raises. */
void sl_lua_item_open(lua_State *L);

/* Push an item object for slot->cur (which must be set). Raises. */
void sl_lua_item_push(lua_State *L, struct sl_lua_item_slot *slot);

/* Start a call on item: ctx becomes slot->cur. 0 or -ENOMEM. */
int sl_lua_item_begin(struct sl_lua_item_slot *slot, struct sl_lua_item_ctx *ctx,
                      struct sl_item *item);

/* Apply the pending tags (source "policy") and reasons to the item. */
int sl_lua_item_apply(struct sl_lua_item_ctx *ctx);

/* End the call: item objects of it go stale; pending changes are dropped. */
void sl_lua_item_end(struct sl_lua_item_slot *slot, struct sl_lua_item_ctx *ctx);

#endif
