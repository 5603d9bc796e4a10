/* SPDX-License-Identifier: MIT */
/* The one way into Lua: a protected call under fresh budgets; errors as "file:line: msg". */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <lauxlib.h>

#include "lib/text.h"
#include "lua/lua_lib.h"
#include "lua/sandbox_internal.h"

/* {====================== Errors as "file:line: message" =============== */

/* Format into err (when there is one), as one line of valid UTF-8: the
 * caller may log it or send it in a JSON body. */
void sl_lua_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    size_t i, len;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    len = strlen(err);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)err[i];
        size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;

        if (c < 0x20 || c == 0x7F) {
            err[i] = ' ';
        } else if (c >= 0x80) {
            /* Bad bytes (a policy's error() can say anything, and
             * truncation can cut a character) become '?'. */
            if (n > len - i || !sl_utf8_valid(err + i, n))
                err[i] = '?';
            else
                i += n - 1;
        }
    }
}

/* "file:line" of the innermost Lua function running, or sl->where. */
void sl_lua_locate(lua_State *L, char *buf, size_t len)
{
    struct sl_lua *sl = sl_lua_sandbox(L);
    lua_Debug ar;
    int level;

    for (level = 0; lua_getstack(L, level, &ar); level++) {
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
            snprintf(buf, len, "%s:%d", ar.short_src, ar.currentline);
            return;
        }
    }
    sl_copy(buf, len, sl->where);
}

/* "x:12: " at the start of a message: it says where already. */
bool sl_lua_has_location(const char *msg)
{
    const char *p;

    for (p = msg; *p != '\0' && *p != '\n'; p++) {
        const char *d = p + 1;

        if (*p != ':' || *d < '0' || *d > '9')
            continue;
        while (*d >= '0' && *d <= '9')
            d++;
        if (*d == ':')
            return true;
    }
    return false;
}

/* Message handler: give every error a "file:line: " of policy code. */
int sl_lua_msgh(lua_State *L)
{
    const char *msg = lua_type(L, 1) == LUA_TSTRING ? lua_tostring(L, 1) : NULL;
    lua_Debug ar;
    int level;

    if (msg != NULL && sl_lua_has_location(msg))
        return 1;
    if (msg == NULL)
        msg = lua_pushfstring(L, "error object is a %s value", luaL_typename(L, 1));
    /* Level 0 is this handler; error() itself is a C function. */
    for (level = 1; lua_getstack(L, level, &ar); level++) {
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
            lua_pushfstring(L, "%s:%d: %s", ar.short_src, ar.currentline, msg);
            return 1;
        }
    }
    lua_pushstring(L, msg);
    return 1;
}

/* }===================================================================== */

/* {====================== The protected call =========================== */

/* Turn a failed call's status into a negative errno and err. */
static int explain(struct sl_lua *sl, int status, char *err, size_t errlen)
{
    lua_State *L = sl->L;
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                      : "error object is not a string";

    if (sl->timed_out) {
        sl_lua_set_err(err, errlen, "%s: time limit exceeded (%lld ms of CPU)", sl->stop_where,
                       (long long)(sl->time_limit_ns / 1000000));
        return -ETIMEDOUT;
    }
    if (sl->exhausted && sl->time_charged > 0) {
        sl_lua_set_err(err, errlen, "%s: instruction budget exhausted (%lld instructions, "
                       "%lld of them for the time slow operations took, such as comparing "
                       "long strings)", sl->stop_where, sl->instr_limit,
                       sl->time_charged < sl->instr_limit ? sl->time_charged : sl->instr_limit);
        return -ETIMEDOUT;
    }
    if (sl->exhausted) {
        sl_lua_set_err(err, errlen, "%s: instruction budget exhausted (%lld instructions)",
                       sl->stop_where, sl->instr_limit);
        return -ETIMEDOUT;
    }
    if (status == LUA_ERRMEM || (sl->mem_refused && strcmp(msg, "not enough memory") == 0)) {
        if (sl->mem_refused)
            sl_lua_set_err(err, errlen, "%s: memory budget exhausted (%zu bytes)", sl->where,
                           sl->mem_limit);
        else
            sl_lua_set_err(err, errlen, "%s: out of memory", sl->where);
        return -ENOMEM;
    }
    if (sl_lua_has_location(msg))
        sl_lua_set_err(err, errlen, "%s", msg);
    else
        sl_lua_set_err(err, errlen, "%s: %s", sl->where, msg);
    return -EINVAL;
}

/*
 * Run fn(L) with arg as its one argument under a fresh budget, in protected
 * mode. Every entry into Lua goes through here: a Lua error can only unwind
 * to this lua_pcall, never across a C frame that owns something, and fn
 * itself must hold nothing a longjmp would leak.
 */
int sl_lua_protect(struct sl_lua *sl, lua_CFunction fn, void *arg, char *err, size_t errlen)
{
    lua_State *L = sl->L;
    int status, rc = 0;

    sl->mem_refused = false;
    sl->prints = 0;
    lua_settop(L, 0);
    sl_lua_budget_start(sl);
    lua_pushcfunction(L, sl_lua_msgh);
    lua_pushcfunction(L, fn);
    lua_pushlightuserdata(L, arg);
    status = lua_pcall(L, 1, 0, 1);
    sl_lua_budget_end(sl);
    if (status != LUA_OK) {
        rc = explain(sl, status, err, errlen);
        lua_settop(L, 0);
        /* Give back at once what the failed call built. No policy code
         * runs here: finalizers (__gc) are refused. */
        lua_gc(L, LUA_GCCOLLECT);
    }
    lua_settop(L, 0);
    return rc;
}

/* }===================================================================== */
