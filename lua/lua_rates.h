/* SPDX-License-Identifier: MIT */
/* The rates library policies see: Wilson bounds and the sequential test of lib/stats. */
#ifndef SL_LUA_RATES_H
#define SL_LUA_RATES_H

#include <lua.h>

/* Push a new table holding rates.wilson and rates.sequential. */
void sl_lua_rates_open(lua_State *L);

#endif
