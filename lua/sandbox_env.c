/* SPDX-License-Identifier: MIT */
/* The policy environment: an allow-listed _ENV, guarded base functions, require. */
#include <string.h>
#include <lauxlib.h>
#include <lualib.h>

#include "lib/text.h"
#include "lua/lua_item.h"
#include "lua/lua_lib.h"
#include "lua/lua_rates.h"
#include "lua/sandbox_internal.h"

#define PRINT_LINES_MAX 100     /* print lines kept per call */
#define PRINT_LEN_MAX 1024      /* bytes kept per print line */
/* Compiling takes 20 to 60 ns a byte, more than the allocations it makes
 * are charged: a byte of source is one instruction. */
#define COMPILE_BYTES_PER_UNIT 1

/* {====================== The guarded base functions =================== */

/*** @function print(...)
 * Write the arguments, converted as by tostring and separated by tabs, to
 * the daemon's log as one line prefixed with "file:line: ". At most 100
 * lines per call and 1024 bytes per line are kept.
 * @return nothing
 */
static int l_print(lua_State *L)
{
    struct sl_lua *sl = sl_lua_sandbox(L);
    char line[PRINT_LEN_MAX + 1], where[WHERE_MAX];
    int i, n = lua_gettop(L);
    luaL_Buffer b;
    const char *s;
    size_t len;

    if (sl->prints >= PRINT_LINES_MAX) {
        if (sl->prints++ == PRINT_LINES_MAX && sl->log)
            sl->log(sl->log_ud, "print: more output in this call is dropped");
        return 0;
    }
    sl->prints++;
    sl_lua_locate(L, where, sizeof where);
    luaL_buffinit(L, &b);
    luaL_addstring(&b, where);
    luaL_addstring(&b, ": ");
    for (i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    s = lua_tolstring(L, -1, &len);
    if (sl->log == NULL)
        return 0;
    len = sl_utf8_cut(s, len, PRINT_LEN_MAX);
    memcpy(line, s, len);
    line[len] = '\0';
    for (i = 0; (size_t)i < len; i++) {
        if (line[i] == '\n' || line[i] == '\r' || line[i] == '\0')
            line[i] = ' ';
    }
    sl->log(sl->log_ud, line);
    return 0;
}

/* Set the first upvalue (_ENV) of the function on top to the policy
 * environment: luaL_loadbufferx gave it the real globals. */
static void set_env(lua_State *L, struct sl_lua *sl)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, sl->env_ref);
    if (lua_setupvalue(L, -2, 1) == NULL)
        lua_pop(L, 1);
}

/*** @function load(chunk [, chunkname])
 * Compile a string of Lua source into a function that runs in the policy
 * environment. Only text is accepted: binary chunks, reader functions and
 * other environments are refused.
 * @param chunk string: Lua source
 * @param chunkname string (optional): names the chunk in error messages
 * @return the function; or nil and an error message
 */
static int l_load(lua_State *L)
{
    struct sl_lua *sl = sl_lua_sandbox(L);
    const char *s, *name;
    size_t len;

    if (lua_type(L, 1) != LUA_TSTRING)
        return luaL_typeerror(L, 1, "string of Lua source");
    if (!lua_isnoneornil(L, 4))
        return luaL_argerror(L, 4, "policies cannot load into another environment");
    s = lua_tolstring(L, 1, &len);
    name = luaL_optstring(L, 2, s);
    sl_lua_charge(L, (long long)(len / COMPILE_BYTES_PER_UNIT));
    if (luaL_loadbufferx(L, s, len, name, "t") != LUA_OK) {
        luaL_pushfail(L);
        lua_insert(L, -2);
        return 2;
    }
    set_env(L, sl);
    return 1;
}

/*** @function setmetatable(table, metatable)
 * As in Lua, except that a metatable with a __gc field is refused:
 * finalizers would run at unpredictable times, outside any budget.
 * @return table
 */
static int l_setmetatable(lua_State *L)
{
    lua_CFunction stock = lua_tocfunction(L, lua_upvalueindex(1));

    lua_settop(L, 2);
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_argerror(L, 2, "__gc metamethods are not allowed in policies");
        lua_pop(L, 1);
    }
    return stock(L);
}

/* upvalue 1: the policy's message handler. */
static int xpcall_handler(lua_State *L)
{
    /* The budget error is raised inside the count hook, where Lua runs no
     * hooks: a handler called for it would run unbudgeted, so it is not
     * called. The call is over anyway. */
    if (sl_lua_sandbox(L)->exhausted)
        return 1;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/*** @function xpcall(f, sl_lua_msgh, ...)
 * As in Lua, except that sl_lua_msgh is not called for the instruction budget
 * error (which ends the hook call anyway).
 * @return true and f's results; or false and what sl_lua_msgh returned
 */
static int l_xpcall(lua_State *L)
{
    lua_CFunction stock = lua_tocfunction(L, lua_upvalueindex(1));

    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, xpcall_handler, 1);
    lua_replace(L, 2);
    return stock(L);
}

/* }===================================================================== */

/* {====================== Modules ====================================== */

static char loading_mark;       /* require's cache value while a module runs */

/*** @function require(name)
 * Run NAME.lua of the policy directory once, in the policy environment,
 * and return what it returned (true if nothing). Every file of the
 * directory runs once at load in any case; require returns the same value
 * then, even before the file's turn in name order has come.
 * @param name string: letters, digits and '_' only (no paths)
 * @return the module's value
 */
static int l_require(lua_State *L)
{
    struct sl_lua *sl = sl_lua_sandbox(L);
    size_t len, i;
    const char *name = luaL_checklstring(L, 1, &len);

    if (len == 0 || len > MODULE_NAME_MAX || !sl_lua_name_chars(name, len))
        return luaL_argerror(L, 1, "a module name is letters, digits and '_' "
                             "(NAME.lua in the policy directory)");
    lua_settop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, sl->modules_ref);
    lua_pushvalue(L, 1);
    lua_rawget(L, 2);
    if (lua_touserdata(L, 3) == &loading_mark)
        return luaL_error(L, "require: module '%s' requires itself", name);
    if (!lua_isnil(L, 3))
        return 1;
    for (i = 0; i < sl->nfiles; i++) {
        if (strcmp(sl->files[i].module, name) == 0) {
            sl_lua_run_module(L, sl, &sl->files[i]);
            lua_pushvalue(L, 1);
            lua_rawget(L, 2);
            return 1;
        }
    }
    return luaL_error(L, "require: no module '%s' (%s.lua) in the policy directory",
                      name, name);
}

/* Compile f (text only) and run it in the policy environment, keeping what
 * it returns as its module value. */
void sl_lua_run_module(lua_State *L, struct sl_lua *sl, const struct policy_file *f)
{
    int top = lua_gettop(L);

    luaL_checkstack(L, 6, NULL);
    lua_rawgeti(L, LUA_REGISTRYINDEX, sl->modules_ref);     /* top + 1 */
    if (f->module[0] != '\0') {
        lua_pushlightuserdata(L, &loading_mark);
        lua_setfield(L, top + 1, f->module);
    }
    sl_lua_charge(L, (long long)(f->len / COMPILE_BYTES_PER_UNIT));
    if (luaL_loadbufferx(L, f->data, f->len, f->chunkname, "t") != LUA_OK) {
        if (!sl_lua_has_location(lua_tostring(L, -1)))
            lua_pushfstring(L, "%s: %s", f->chunkname + 1, lua_tostring(L, -1));
        lua_error(L);
    }
    set_env(L, sl);
    lua_pushstring(L, f->module);
    lua_pushcfunction(L, sl_lua_msgh);
    lua_rotate(L, -3, 1);
    /* A module that fails must not stay marked as loading. */
    if (lua_pcall(L, 1, 1, -3) != LUA_OK) {
        if (f->module[0] != '\0') {
            lua_pushnil(L);
            lua_setfield(L, top + 1, f->module);
        }
        lua_error(L);
    }
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    if (f->module[0] != '\0')
        lua_setfield(L, top + 1, f->module);
    lua_settop(L, top);
}

/* }===================================================================== */

/* {====================== The allow-list =============================== */

/* Copy the allow-listed names of table src (at index) into dst. */
static void copy_fields(lua_State *L, int src, int dst, const char *const *names)
{
    for (; *names != NULL; names++) {
        lua_getfield(L, src, *names);
        lua_setfield(L, dst, *names);
    }
}

/*
 * Build the policy environment from an allow-list. The stock libraries are
 * opened into the state's own globals, which policies never see: their
 * environment is a separate table holding only what is listed here.
 */
int sl_lua_env_open(lua_State *L)
{
    static const char *const base[] = {
        "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall",
        "rawequal", "rawget", "rawlen", "rawset", "select", "tostring", "type",
        "_VERSION", NULL,
    };
    static const char *const os_allowed[] = { "time", "clock", NULL };
    static const struct {
        const char *name;
        lua_CFunction open;
    } libs[] = {
        { LUA_STRLIBNAME, luaopen_string },
        { LUA_TABLIBNAME, luaopen_table },
        { LUA_MATHLIBNAME, luaopen_math },
        { LUA_UTF8LIBNAME, luaopen_utf8 },
    };
    struct sl_lua *sl = sl_lua_sandbox(L);
    size_t i;
    int env;

    lua_settop(L, 0);
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);          /* 1: real globals */
    lua_newtable(L);                                        /* 2: env */
    env = 2;
    copy_fields(L, 1, env, base);
    lua_getfield(L, 1, "tonumber");
    sl_lua_lib_charge_tonumber(L);
    lua_setfield(L, env, "tonumber");
    lua_getfield(L, 1, "setmetatable");
    lua_pushcclosure(L, l_setmetatable, 1);
    lua_setfield(L, env, "setmetatable");
    lua_getfield(L, 1, "xpcall");
    lua_pushcclosure(L, l_xpcall, 1);
    lua_setfield(L, env, "xpcall");
    lua_pushcfunction(L, l_print);
    lua_setfield(L, env, "print");
    lua_pushcfunction(L, l_load);
    lua_setfield(L, env, "load");
    lua_pushcfunction(L, l_require);
    lua_setfield(L, env, "require");
    lua_pushvalue(L, env);
    lua_setfield(L, env, "_G");

    for (i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        luaL_requiref(L, libs[i].name, libs[i].open, 0);
        sl_lua_lib_charge(L, -1, libs[i].name);
        if (strcmp(libs[i].name, LUA_STRLIBNAME) == 0) {
            lua_pushnil(L);
            lua_setfield(L, -2, "dump");
            sl_lua_pattern_open(L, lua_gettop(L));
        }
        lua_setfield(L, env, libs[i].name);
    }
    /* The os library is opened only to take time and clock from it. */
    luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
    lua_newtable(L);
    copy_fields(L, lua_gettop(L) - 1, lua_gettop(L), os_allowed);
    lua_setfield(L, env, LUA_OSLIBNAME);
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushnil(L);
    lua_setfield(L, -2, LUA_OSLIBNAME);
    lua_pop(L, 1);

    /* Strings share one metatable; keep policies from changing it. */
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);

    sl_lua_rates_open(L);
    lua_setfield(L, env, "rates");

    sl_lua_item_open(L, &sl->slot);
    lua_newtable(L);
    sl->modules_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, env);
    sl->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* }===================================================================== */
