/* SPDX-License-Identifier: MIT */
/* The answer a review hook gives, read strictly into struct sl_review. */
#ifndef SL_LUA_REVIEW_H
#define SL_LUA_REVIEW_H

#include <lua.h>

#include "lua/lua_item.h"

struct sl_review;

#define SL_LUA_PRIORITY_MAX 1000000     /* |priority| at most this */

/*
 * Read the n results a review hook returned, starting at stack index idx,
 * into out. Anything but a well-formed answer raises an error naming what
 * was wrong; the caller then discards out. ctx supplies the reasons a
 * reject or review without its own reason falls back on.
 */
void sl_lua_review_take(lua_State *L, int idx, int n, struct sl_review *out,
                        const struct sl_lua_item_ctx *ctx);

#endif
