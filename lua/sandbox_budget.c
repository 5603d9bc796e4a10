/* SPDX-License-Identifier: MIT */
/* The sandbox's budgets: bytes through its lua_Alloc, instructions through a count hook. */
#include <stdlib.h>
#include <lauxlib.h>

#include "lua/lua_lib.h"
#include "lua/sandbox_internal.h"

/*
 * The allocator enforces the memory budget over the whole state, and
 * charges what a call allocates to its instruction budget: one VM
 * instruction can copy megabytes (s .. s), and the count hook alone would
 * let a loop of those run for hours.
 */
void *sl_lua_budget_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct sl_lua *sl = ud;
    size_t old = ptr != NULL ? osize : 0;   /* for new blocks osize is a type */
    void *p;

    if (nsize == 0) {
        free(ptr);
        sl->mem_used -= old;
        return NULL;
    }
    if (nsize > old && nsize - old > sl->mem_limit - sl->mem_used) {
        sl->mem_refused = true;
        return NULL;
    }
    p = realloc(ptr, nsize);
    if (p == NULL)
        return nsize <= old ? ptr : NULL;   /* Lua expects shrinking to work */
    sl->mem_used = sl->mem_used - old + nsize;
    if (sl->in_call && nsize > old && sl->left > 0) {
        sl->left -= 1 + (long long)((nsize - old) / ALLOC_UNIT);
        if (sl->left <= 0 && sl->hook_count != 1) {
            /* Stop at the very next instruction. lua_sethook is safe here. */
            sl->hook_count = 1;
            lua_sethook(sl->L, lua_gethook(sl->L), LUA_MASKCOUNT, 1);
        }
    }
    return p;
}

static int out_of_instructions(lua_State *L)
{
    struct sl_lua *sl = sl_lua_sandbox(L);

    if (!sl->exhausted) {
        sl->exhausted = true;
        sl_lua_locate(L, sl->stop_where, sizeof sl->stop_where);
        /* From now on every instruction raises, so a policy that catches
         * the error with pcall cannot carry on. */
        sl->hook_count = 1;
        lua_sethook(L, lua_gethook(L), LUA_MASKCOUNT, 1);
    }
    return luaL_error(L, "%s: instruction budget exhausted", sl->stop_where);
}

void sl_lua_budget_hook(lua_State *L, lua_Debug *ar)
{
    struct sl_lua *sl = sl_lua_sandbox(L);

    (void)ar;
    sl->left -= sl->hook_count;
    if (sl->left <= 0 || sl->exhausted)
        out_of_instructions(L);
}

void sl_lua_charge(lua_State *L, long long units)
{
    struct sl_lua *sl = sl_lua_sandbox(L);

    if (sl->exhausted || units >= sl->left) {
        sl->left = 0;
        out_of_instructions(L);
    }
    sl->left -= units;
}
