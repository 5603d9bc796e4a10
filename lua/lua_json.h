/* SPDX-License-Identifier: MIT */
/* JSON values in and out of Lua, for hook arguments and results. */
#ifndef SL_LUA_JSON_H
#define SL_LUA_JSON_H

#include <stdbool.h>
#include <jansson.h>
#include <lua.h>

#define SL_LUA_JSON_DEPTH 32    /* nesting both ways, as for request bodies */

/* Push v (NULL and null as nil; objects and arrays as new tables). Raises. */
void sl_lua_push_json(lua_State *L, json_t *v);

/*
 * Is the value at idx what sl_lua_push_json(L, v) would push now: the same
 * keys, values and number kinds (integer or float), every table without a
 * metatable? For a table built from v, false means Lua code changed it.
 * Never raises and allocates nothing; false when it cannot tell (nesting
 * deeper than SL_LUA_JSON_DEPTH, no stack space).
 */
bool sl_lua_json_same(lua_State *L, int idx, json_t *v);

/*
 * Convert the Lua value at idx; a float with no fractional part (and at
 * most 2^53) becomes a JSON integer. The new value is stored in *out as soon as
 * it exists, before anything that can raise, so that when a Lua error
 * interrupts the conversion the caller still owns (and must release) what
 * was built. Raises on what JSON cannot hold: functions, NaN, strings that
 * are not UTF-8, keys that are neither strings nor integers, nesting deeper
 * than SL_LUA_JSON_DEPTH (which also catches cycles).
 */
void sl_lua_to_json(lua_State *L, int idx, json_t **out);

/* The same, appending to array (which the caller holds). Raises. */
void sl_lua_to_json_append(lua_State *L, int idx, json_t *array);

/* The conversion's rules, for readers of a hook's answer that need no
 * JSON: a table is a list when its keys are exactly 1..n ({} included);
 * a number is an integer when it is one, or a float with no fractional part
 * and at most 2^53 (then *out holds it). */
bool sl_lua_is_list(lua_State *L, int idx);
bool sl_lua_integer(lua_State *L, int idx, long long *out);

#endif
