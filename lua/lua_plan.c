/* SPDX-License-Identifier: MIT */
/* The answer a plan hook gives, read straight from Lua into struct sl_lua_wave. */
#include "lua/lua_plan.h"

#include <string.h>
#include <lauxlib.h>

#include "lua/lua_json.h"

/*
 * A plan hook answers a list of waves, {audience = ..., size = ...,
 * limit_s = ..., review = ..., fill = ..., check = ...} each. Only their shape is read here, with no
 * JSON between: dist judges the values, the same way as for a plan the
 * store kept as JSON.
 */

/* One wave table's fields, read raw (as the JSON conversion reads). */
static void take_wave(lua_State *L, int idx, struct sl_lua_wave *w)
{
    size_t len;

    memset(w, 0, sizeof *w);
    if (lua_type(L, idx) != LUA_TTABLE)
        return;
    lua_pushliteral(L, "audience");
    if (lua_rawget(L, idx) == LUA_TSTRING) {
        const char *a = lua_tolstring(L, -1, &len);
        if (len < sizeof w->audience && strlen(a) == len)
            memcpy(w->audience, a, len + 1);
    }
    lua_pushliteral(L, "size");
    lua_rawget(L, idx);
    w->size_ok = sl_lua_integer(L, -1, &w->size);
    lua_pushliteral(L, "limit_s");
    w->limit = lua_rawget(L, idx) == LUA_TNIL ? 0 : sl_lua_integer(L, -1, &w->limit_s) ? 1 : -1;
    lua_pushliteral(L, "review");
    int t = lua_rawget(L, idx);
    w->review = t == LUA_TNIL ? 0 : t == LUA_TBOOLEAN ? 1 : -1;
    w->review_on = lua_toboolean(L, -1);
    lua_pushliteral(L, "fill");
    t = lua_rawget(L, idx);
    w->fill = t == LUA_TNIL ? 0 : t == LUA_TNUMBER ? 1 : -1;
    w->fill_share = lua_tonumber(L, -1);
    lua_pushliteral(L, "check");
    w->check = lua_rawget(L, idx) == LUA_TNIL ? 0 : sl_lua_integer(L, -1, &w->check_n) ? 1 : -1;
    lua_pop(L, 6);
}

size_t sl_lua_plan_take(lua_State *L, int idx, struct sl_lua_wave *out, size_t max)
{
    if (lua_type(L, idx) != LUA_TTABLE || !sl_lua_is_list(L, idx))
        return 0;
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    if (n < 1 || (size_t)n > max)
        return 0;
    luaL_checkstack(L, 6, "plan");
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        take_wave(L, lua_gettop(L), &out[i - 1]);
        lua_pop(L, 1);
    }
    return (size_t)n;
}
