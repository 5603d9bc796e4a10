/* SPDX-License-Identifier: MIT */
/* The answer a plan hook gives, read straight from Lua into struct sl_lua_wave. */
#ifndef SL_LUA_PLAN_H
#define SL_LUA_PLAN_H

#include <stddef.h>
#include <lua.h>

#include "lua/sandbox.h"

/*
 * The table at idx as a list of 1..max waves (keys exactly 1..n, as JSON's
 * arrays), each entry's fields read raw into out[0..n): n, else 0 (and out
 * untouched). Raises only when memory or the stack runs out.
 */
size_t sl_lua_plan_take(lua_State *L, int idx, struct sl_lua_wave *out, size_t max);

#endif
