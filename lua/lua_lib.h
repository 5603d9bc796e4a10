/* SPDX-License-Identifier: MIT */
/* Internals shared by the lua/ files: the budget, text checks, charged library calls. */
#ifndef SL_LUA_LIB_H
#define SL_LUA_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <lua.h>

/*
 * Charge units of work (one unit is about one VM instruction) to the
 * running call's instruction budget; raises "instruction budget exhausted"
 * when it runs out. For C functions whose cost the instruction hook cannot
 * see. Implemented in sandbox_budget.c.
 */
void sl_lua_charge(lua_State *L, long long units);

/* Bytes the memory budget has left (sandbox_budget.c). */
size_t sl_lua_memory_left(lua_State *L);

/* An id as the HTTP API has them (lib/id.h), of at most max bytes; a Lua
 * string may hold a NUL, hence the length. */
bool sl_lua_id_valid(const char *s, size_t len, size_t max);

/*
 * Replace, in the library table at idx, the functions whose running time
 * the instruction hook cannot see (table.insert, table.sort, utf8.len, ...)
 * by wrappers that charge their work first. Raises.
 */
void sl_lua_lib_charge(lua_State *L, int idx, const char *libname);

/* Wrap the global-style function at the top of the stack (tonumber) the
 * same way; leaves the wrapper in its place. Raises. */
void sl_lua_lib_charge_tonumber(lua_State *L);

/* string.find, match, gmatch and gsub with a step budget, installed into
 * the string table at idx (lua_pattern.c). Raises. */
void sl_lua_pattern_open(lua_State *L, int idx);

#endif
