/* SPDX-License-Identifier: MIT */
/* JSON values in and out of Lua, for hook arguments and results. */
#include "lua/lua_json.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <lauxlib.h>

#include "lua/lua_lib.h"

/*
 * Converting a hook's answer is work in C that the count hook cannot see,
 * and its size is not the table's: a table may hold the same table twice,
 * t = {t, t} twenty levels deep is a million values to make (and to hold,
 * outside the Lua memory budget). Each value made, each byte of string
 * copied and checked, each key looked at is charged as it comes.
 */
#define JSON_VALUE_COST 16      /* a value made: about 200 ns, allocations and inserts */
#define JSON_STRING_BYTES 4     /* bytes copied and checked as UTF-8 for one */
#define JSON_KEYS_PER_UNIT 8    /* keys sl_lua_is_list looks at for one */

/* {====================== JSON to Lua ================================== */

static void push(lua_State *L, json_t *v, int depth)
{
    const char *key;
    json_t *item;
    size_t i;

    if (depth > SL_LUA_JSON_DEPTH)
        luaL_error(L, "JSON value nested more than %d levels", SL_LUA_JSON_DEPTH);
    luaL_checkstack(L, 3, "JSON value nested too deeply");
    switch (v == NULL ? JSON_NULL : json_typeof(v)) {
    case JSON_OBJECT:
        lua_createtable(L, 0, (int)json_object_size(v));
        json_object_foreach(v, key, item) {
            lua_pushstring(L, key);
            push(L, item, depth + 1);
            lua_rawset(L, -3);
        }
        break;
    case JSON_ARRAY:
        lua_createtable(L, (int)json_array_size(v), 0);
        json_array_foreach(v, i, item) {
            push(L, item, depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)json_integer_value(v));
        break;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(v));
        break;
    case JSON_TRUE:
        lua_pushboolean(L, 1);
        break;
    case JSON_FALSE:
        lua_pushboolean(L, 0);
        break;
    case JSON_NULL:
        lua_pushnil(L);
        break;
    }
}

void sl_lua_push_json(lua_State *L, json_t *v)
{
    push(L, v, 0);
}

/* The table at idx has no metatable, and as many entries as expected. */
static bool plain_table_of(lua_State *L, int idx, size_t expected)
{
    size_t n = 0;

    if (lua_type(L, idx) != LUA_TTABLE || lua_getmetatable(L, idx))
        return false;   /* (a metatable pushed is dropped by the caller's settop) */
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        if (++n > expected) {
            lua_pop(L, 1);
            return false;
        }
    }
    return n == expected;
}

static bool same(lua_State *L, int idx, json_t *v, int depth)
{
    int top = lua_gettop(L);
    bool ok = true;
    const char *key, *s;
    json_t *item;
    size_t i, n = 0, len;
    double d;

    if (depth > SL_LUA_JSON_DEPTH || !lua_checkstack(L, 4))
        return false;
    switch (v == NULL ? JSON_NULL : json_typeof(v)) {
    case JSON_OBJECT:
        /* Keys as push() made them: a JSON null is no entry at all. */
        json_object_foreach(v, key, item)
            n += !json_is_null(item);
        if (!plain_table_of(L, idx, n))
            break;
        lua_pushnil(L);
        while (ok && lua_next(L, idx) != 0) {
            /* Never lua_tolstring on a number key: it would convert it
             * in place and lose lua_next its place. */
            if (lua_type(L, -2) != LUA_TSTRING) {
                ok = false;
                break;
            }
            s = lua_tolstring(L, -2, &len);
            item = json_object_getn(v, s, len);
            ok = item != NULL && same(L, lua_gettop(L), item, depth + 1);
            lua_pop(L, 1);
        }
        lua_settop(L, top);
        return ok;
    case JSON_ARRAY:
        json_array_foreach(v, i, item)
            n += !json_is_null(item);
        if (!plain_table_of(L, idx, n))
            break;
        json_array_foreach(v, i, item) {
            lua_rawgeti(L, idx, (lua_Integer)i + 1);
            ok = same(L, lua_gettop(L), item, depth + 1);
            lua_pop(L, 1);
            if (!ok)
                break;
        }
        lua_settop(L, top);
        return ok;
    case JSON_STRING:
        if (lua_type(L, idx) != LUA_TSTRING)
            break;
        s = lua_tolstring(L, idx, &len);
        return len == json_string_length(v) && memcmp(s, json_string_value(v), len) == 0;
    case JSON_INTEGER:
        return lua_isinteger(L, idx) &&
               lua_tointeger(L, idx) == (lua_Integer)json_integer_value(v);
    case JSON_REAL:
        if (lua_type(L, idx) != LUA_TNUMBER || lua_isinteger(L, idx))
            break;
        /* Bit for bit: -0.0 is not 0.0 to a policy dividing by it. */
        d = lua_tonumber(L, idx);
        return memcmp(&d, &(double){ json_real_value(v) }, sizeof d) == 0;
    case JSON_TRUE:
    case JSON_FALSE:
        return lua_type(L, idx) == LUA_TBOOLEAN &&
               lua_toboolean(L, idx) == json_is_true(v);
    case JSON_NULL:
        return lua_isnil(L, idx);
    }
    lua_settop(L, top);
    return false;
}

bool sl_lua_json_same(lua_State *L, int idx, json_t *v)
{
    return same(L, lua_absindex(L, idx), v, 0);
}

/* }===================================================================== */

/* {====================== Lua to JSON ================================== */

static void fill(lua_State *L, int idx, json_t *c, int depth);

bool sl_lua_is_list(lua_State *L, int idx)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx), keys = 0, in_range = 0;

    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        int isint;
        lua_Integer k = lua_tointegerx(L, -2, &isint);

        if (++keys % (JSON_KEYS_PER_UNIT * 128) == 0)
            sl_lua_charge(L, 128);
        if (isint && lua_type(L, -2) == LUA_TNUMBER && k >= 1 && k <= n)
            in_range++;
        lua_pop(L, 1);
    }
    return keys == n && in_range == n;
}

bool sl_lua_integer(lua_State *L, int idx, long long *out)
{
    if (lua_type(L, idx) != LUA_TNUMBER)
        return false;
    if (lua_isinteger(L, idx)) {
        *out = (long long)lua_tointeger(L, idx);
        return true;
    }
    double d = lua_tonumber(L, idx);
    /* JSON has one kind of number: 1e3 and 2.0 are the integers a reader
     * checking for one expects. */
    if (d != floor(d) || fabs(d) > 9007199254740992.0)
        return false;
    *out = (long long)d;
    return true;
}

static json_t *scalar(lua_State *L, int idx)
{
    long long i;
    double d;
    size_t len;
    const char *s;
    json_t *v;

    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return json_null();
    case LUA_TBOOLEAN:
        return json_boolean(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        if (sl_lua_integer(L, idx, &i))
            return json_integer((json_int_t)i);
        d = lua_tonumber(L, idx);
        if (!isfinite(d))
            luaL_error(L, "cannot convert nan or inf to JSON");
        return json_real(d);
    case LUA_TSTRING:
        s = lua_tolstring(L, idx, &len);
        sl_lua_charge(L, (long long)(len / JSON_STRING_BYTES));
        if ((v = json_stringn(s, len)) == NULL)
            luaL_error(L, "cannot convert a string that is not UTF-8 to JSON");
        return v;
    default:
        luaL_error(L, "cannot convert a %s to JSON", luaL_typename(L, idx));
        return NULL;
    }
}

/* Make the value at vidx, attach it to c (under key, or appended when key
 * is NULL), and only then fill it: a raise leaves nothing unowned. */
static void put(lua_State *L, json_t *c, const char *key, int vidx, int depth)
{
    json_t *v;
    int rc;

    sl_lua_charge(L, JSON_VALUE_COST);
    if (lua_type(L, vidx) == LUA_TTABLE) {
        if (depth >= SL_LUA_JSON_DEPTH)
            luaL_error(L, "cannot convert to JSON: tables nested more than %d levels "
                       "(or a cycle)", SL_LUA_JSON_DEPTH);
        v = sl_lua_is_list(L, vidx) ? json_array() : json_object();
    } else {
        v = scalar(L, vidx);
    }
    if (v == NULL)
        luaL_error(L, "not enough memory");
    /* Both calls take v, even when they fail (bad key, no memory). */
    rc = key ? json_object_set_new(c, key, v) : json_array_append_new(c, v);
    if (rc < 0)
        luaL_error(L, "cannot convert to JSON: bad key or not enough memory");
    if (json_is_array(v) || json_is_object(v))
        fill(L, vidx, v, depth + 1);
}

static void fill(lua_State *L, int idx, json_t *c, int depth)
{
    luaL_checkstack(L, 4, "JSON value nested too deeply");
    if (json_is_array(c)) {
        lua_Integer i, n = (lua_Integer)lua_rawlen(L, idx);

        for (i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, i);
            put(L, c, NULL, lua_gettop(L), depth);
            lua_pop(L, 1);
        }
        return;
    }
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        char num[32];
        const char *key;
        size_t len;

        if (lua_type(L, -2) == LUA_TSTRING) {
            key = lua_tolstring(L, -2, &len);
            if (strlen(key) != len)
                luaL_error(L, "cannot convert to JSON: a table key holds a NUL byte");
        } else if (lua_isinteger(L, -2)) {
            snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, -2));
            key = num;
        } else {
            luaL_error(L, "cannot convert to JSON: a table key is a %s",
                       luaL_typename(L, -2));
            return;
        }
        put(L, c, key, lua_gettop(L), depth);
        lua_pop(L, 1);
    }
}

void sl_lua_to_json(lua_State *L, int idx, json_t **out)
{
    idx = lua_absindex(L, idx);
    sl_lua_charge(L, JSON_VALUE_COST);
    if (lua_type(L, idx) != LUA_TTABLE) {
        if ((*out = scalar(L, idx)) == NULL)
            luaL_error(L, "not enough memory");
        return;
    }
    *out = sl_lua_is_list(L, idx) ? json_array() : json_object();
    if (*out == NULL)
        luaL_error(L, "not enough memory");
    fill(L, idx, *out, 1);
}

void sl_lua_to_json_append(lua_State *L, int idx, json_t *array)
{
    put(L, array, NULL, lua_absindex(L, idx), 0);
}

/* }===================================================================== */
