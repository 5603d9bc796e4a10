/* SPDX-License-Identifier: MIT */
/* The stats library policies see: Wilson bounds and the sequential test of lib/stats. */
#ifndef SL_LUA_STATS_H
#define SL_LUA_STATS_H

#include <lua.h>

/* Push a new table holding stats.wilson and stats.sequential. */
void sl_lua_stats_open(lua_State *L);

#endif
