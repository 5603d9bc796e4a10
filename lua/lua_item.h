/* SPDX-License-Identifier: MIT */
/* The item object policies see: read-only fields plus item:tag and item:reason. */
#ifndef SL_LUA_ITEM_H
#define SL_LUA_ITEM_H

#include <stdbool.h>
#include <stdint.h>
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
 * The fields policies read, as slots of the view below (1-based, as the
 * view is a Lua array).
 */
enum sl_lua_item_field {
    SL_LUA_F_ID = 1, SL_LUA_F_CREATOR, SL_LUA_F_PLATFORM, SL_LUA_F_TITLE,
    SL_LUA_F_DESCRIPTION, SL_LUA_F_TRANSCRIPT, SL_LUA_F_CITY, SL_LUA_F_THUMBNAIL,
    SL_LUA_F_DURATION_MS, SL_LUA_F_SIGNALS, SL_LUA_F_HASHES, SL_LUA_F_TAGS,
    SL_LUA_F_MATCHES, SL_LUA_F_REASONS, SL_LUA_F_PLUGIN_VERDICTS,
    SL_LUA_F_PLUGIN_DECISIONS,
    SL_LUA_F__END
};

/*
 * The sandbox's one slot for the call in progress. An item object a policy
 * kept past its call finds a different generation here and refuses to
 * touch the (by then freed) item.
 *
 * The slot also keeps the view: the Lua values of the fields built so far
 * for one item (by its serial), shared by every hook called on that item
 * (tag, review, plan, ...), so that each is built once, when first read.
 * Strings and numbers cannot change; a table can, by the policy (it is an
 * ordinary table) or by C between calls (plugins' tags, matches, verdicts).
 * So the first read of a table in each call checks it against the item
 * (sl_lua_json_same and its like: what building it now would give) and
 * builds it afresh if it differs: no hook sees what another did to its
 * tables, only what item:tag and item:reason did to the item.
 */
struct sl_lua_item_slot {
    struct sl_lua_item_ctx *cur;    /* NULL between calls */
    unsigned long gen;              /* the last generation handed out */
    int view_ref;                   /* registry: the view, slot -> value */
    int mt_ref;                     /* registry: the item metatable */
    uint64_t view_item;             /* the serial of the item shown; 0: none */
    bool built[SL_LUA_F__END];      /* the slot holds the field's value */
    unsigned long seen[SL_LUA_F__END];  /* the call that last found it current */
};

/* Register the item metatable and make slot's view. Raises. */
void sl_lua_item_open(lua_State *L, struct sl_lua_item_slot *slot);

/* Push an item object for slot->cur (which must be set); the view is
 * emptied first when it showed another item. Raises. */
void sl_lua_item_push(lua_State *L, struct sl_lua_item_slot *slot);

/* Start a call on item: ctx becomes slot->cur. 0 or -ENOMEM. */
int sl_lua_item_begin(struct sl_lua_item_slot *slot, struct sl_lua_item_ctx *ctx,
                      struct sl_item *item);

/* Apply the pending tags (source "policy") and reasons to the item. */
int sl_lua_item_apply(struct sl_lua_item_ctx *ctx);

/* End the call: item objects of it go stale; pending changes are dropped. */
void sl_lua_item_end(struct sl_lua_item_slot *slot, struct sl_lua_item_ctx *ctx);

#endif
