/* SPDX-License-Identifier: MIT */
/* The item object policies see: read-only fields plus item:tag and item:reason. */
#include "lib/text.h"
#include "lua/lua_item.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <lauxlib.h>

#include "lib/item.h"
#include "lua/lua_json.h"
#include "lua/lua_lib.h"

#define ITEM_MT "sluice.item"

/* What a policy holds: a handle, never the item itself. */
struct item_ud {
    struct sl_lua_item_slot *slot;
    unsigned long gen;
};

/* The call's context, or NULL when the call the item belongs to returned. */
static struct sl_lua_item_ctx *ctx_of(const struct item_ud *u)
{
    struct sl_lua_item_ctx *ctx = u->slot->cur;

    return ctx != NULL && ctx->gen == u->gen ? ctx : NULL;
}

static struct sl_lua_item_ctx *check_item(lua_State *L, int idx)
{
    struct sl_lua_item_ctx *ctx = ctx_of(luaL_checkudata(L, idx, ITEM_MT));

    if (ctx == NULL)
        luaL_error(L, "item used after its hook returned");
    return ctx;
}

/* {====================== fields ======================================= */

/***
 * @field item.id string
 * @field item.creator table: {id = string, followers = integer,
 *        uploads = integer, rejections = integer}, the creator and their
 *        standing as the store knows it
 * @field item.platform table: {users = integer, active = integer}, the
 *        platform's size: users known, and those seen within the traffic
 *        hook's active_s (a day when it sets none), counted once a minute
 * @field item.title string
 * @field item.description string or nil
 * @field item.transcript string or nil
 * @field item.city string or nil
 * @field item.thumbnail string or nil: an http(s) URL
 * @field item.duration_ms integer or nil
 * @field item.signals table: detector name -> number ({} when none)
 * @field item.hashes table: array of perceptual hashes, 16 hex digits each
 * @field item.tags table: name -> {confidence = number, source = string}
 * @field item.matches table: array of {source, kind, name, detail, score,
 *        field, offset, length}, what plugins found
 * @field item.reasons table: array of strings
 * @field item.plugin_verdicts table: array of {plugin, verdict, queue,
 *        priority, reason}
 * @field item.plugin_decisions table: in plan, {{plugin, hook = "plan",
 *        waves}} and in wave_done {{plugin, hook = "wave_done", decision,
 *        audience, reason}} when a C plugin answered first; {} otherwise
 */

static void push_text(lua_State *L, const char *s)
{
    if (s != NULL)
        lua_pushstring(L, s);
    else
        lua_pushnil(L);
}

static void push_tags(lua_State *L, const struct sl_lua_item_ctx *ctx)
{
    const char *name;
    json_t *v;

    sl_lua_push_json(L, ctx->item->tags);
    json_object_foreach(ctx->tags, name, v) {
        lua_pushstring(L, name);
        lua_createtable(L, 0, 2);
        lua_pushnumber(L, json_real_value(v));
        lua_setfield(L, -2, "confidence");
        lua_pushliteral(L, "policy");
        lua_setfield(L, -2, "source");
        lua_rawset(L, -3);
    }
}

static void push_reasons(lua_State *L, const struct sl_lua_item_ctx *ctx)
{
    lua_Integer n = (lua_Integer)json_array_size(ctx->item->reasons);
    size_t i;
    json_t *v;

    sl_lua_push_json(L, ctx->item->reasons);
    json_array_foreach(ctx->reasons, i, v) {
        lua_pushstring(L, json_string_value(v));
        lua_rawseti(L, -2, n + (lua_Integer)i + 1);
    }
}

/* Push field key; false when the item has no such field. */
static bool push_field(lua_State *L, const struct sl_lua_item_ctx *ctx, const char *key)
{
    const struct sl_item *it = ctx->item;
    json_t *v;
    size_t i;

    if (strcmp(key, "id") == 0) {
        push_text(L, it->id);
    } else if (strcmp(key, "creator") == 0) {
        lua_createtable(L, 0, 4);
        push_text(L, it->creator);
        lua_setfield(L, -2, "id");
        lua_pushinteger(L, it->creator_followers);
        lua_setfield(L, -2, "followers");
        lua_pushinteger(L, it->creator_uploads);
        lua_setfield(L, -2, "uploads");
        lua_pushinteger(L, it->creator_rejections);
        lua_setfield(L, -2, "rejections");
    } else if (strcmp(key, "platform") == 0) {
        lua_createtable(L, 0, 2);
        lua_pushinteger(L, it->platform_users);
        lua_setfield(L, -2, "users");
        lua_pushinteger(L, it->platform_active);
        lua_setfield(L, -2, "active");
    } else if (strcmp(key, "title") == 0) {
        push_text(L, it->title);
    } else if (strcmp(key, "description") == 0) {
        push_text(L, it->description);
    } else if (strcmp(key, "transcript") == 0) {
        push_text(L, it->transcript);
    } else if (strcmp(key, "city") == 0) {
        push_text(L, it->city);
    } else if (strcmp(key, "thumbnail") == 0) {
        push_text(L, json_string_value(json_object_get(it->upload, "thumbnail")));
    } else if (strcmp(key, "duration_ms") == 0) {
        v = json_object_get(it->upload, "duration_ms");
        if (json_is_integer(v))
            lua_pushinteger(L, (lua_Integer)json_integer_value(v));
        else
            lua_pushnil(L);
    } else if (strcmp(key, "signals") == 0) {
        if (json_is_object(it->signals))
            sl_lua_push_json(L, it->signals);
        else
            lua_newtable(L);
    } else if (strcmp(key, "hashes") == 0) {
        lua_createtable(L, (int)it->nhashes, 0);
        for (i = 0; i < it->nhashes; i++) {
            char hex[17];

            snprintf(hex, sizeof hex, "%016llx", (unsigned long long)it->hashes[i]);
            lua_pushstring(L, hex);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
    } else if (strcmp(key, "tags") == 0) {
        push_tags(L, ctx);
    } else if (strcmp(key, "matches") == 0) {
        sl_lua_push_json(L, it->matches);
    } else if (strcmp(key, "reasons") == 0) {
        push_reasons(L, ctx);
    } else if (strcmp(key, "plugin_verdicts") == 0) {
        sl_lua_push_json(L, it->plugin_verdicts);
    } else if (strcmp(key, "plugin_decisions") == 0) {
        sl_lua_push_json(L, it->plugin_decisions);
    } else {
        return false;
    }
    return true;
}

/*
 * item[key]: methods from upvalue 1, fields built on first use and kept in
 * the object's cache (its user value), so item.tags is one table per call
 * and item:tag() can keep it current.
 */
static int item_index(lua_State *L)
{
    const struct sl_lua_item_ctx *ctx = check_item(L, 1);

    lua_settop(L, 2);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
        return 1;
    lua_getiuservalue(L, 1, 1);             /* 4: cache */
    lua_pushvalue(L, 2);
    if (lua_rawget(L, 4) != LUA_TNIL)
        return 1;
    if (lua_type(L, 2) != LUA_TSTRING || !push_field(L, ctx, lua_tostring(L, 2)))
        return 1;                           /* nil */
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 4);
    return 1;
}

static int item_newindex(lua_State *L)
{
    return luaL_error(L, "item fields are read-only: use item:tag() and item:reason()");
}

static int item_tostring(lua_State *L)
{
    const struct sl_lua_item_ctx *ctx = ctx_of(luaL_checkudata(L, 1, ITEM_MT));

    if (ctx == NULL)
        lua_pushliteral(L, "item (expired)");
    else
        lua_pushfstring(L, "item %s", ctx->item->id ? ctx->item->id : "(no id)");
    return 1;
}

/* The field named key if the policy has looked at it already, else nil. */
static int cached(lua_State *L, int item, const char *key)
{
    lua_getiuservalue(L, item, 1);
    lua_pushstring(L, key);
    lua_rawget(L, -2);
    lua_remove(L, -2);
    return lua_type(L, -1);
}

/* }===================================================================== */

/* {====================== methods ====================================== */

/*** @method item:tag(name, confidence)
 * Set a tag on the item, with source "policy". It reaches the item only if
 * the hook succeeds; item.tags shows it at once. Setting a tag again
 * replaces its confidence.
 * @param name string: 1 to 128 characters of A-Z a-z 0-9 _ . : @ -, not
 *        starting with '.'
 * @param confidence number from 0 to 1
 * @return nothing; raises an error on a bad name or confidence, or past 256
 *         tags in one call
 */
static int item_tag(lua_State *L)
{
    struct sl_lua_item_ctx *ctx = check_item(L, 1);
    const char *name;
    size_t len;
    double c;
    json_t *v;

    if (lua_type(L, 2) != LUA_TSTRING)
        return luaL_typeerror(L, 2, "string");
    name = lua_tolstring(L, 2, &len);
    if (!sl_lua_id_valid(name, len, SL_LUA_TAG_NAME_MAX))
        return luaL_argerror(L, 2, "a tag name is 1 to 128 characters of "
                             "A-Z a-z 0-9 _ . : @ -, not starting with '.'");
    if (lua_type(L, 3) != LUA_TNUMBER)
        return luaL_typeerror(L, 3, "number");
    c = lua_tonumber(L, 3);
    if (!(c >= 0.0 && c <= 1.0))
        return luaL_argerror(L, 3, "confidence must be from 0 to 1");
    if (json_object_get(ctx->tags, name) == NULL &&
        json_object_size(ctx->tags) >= SL_LUA_TAGS_MAX)
        return luaL_error(L, "item:tag: more than %d tags in one call", SL_LUA_TAGS_MAX);

    /* Lua first, as it can raise; then the C side, which cannot. */
    if (cached(L, 1, "tags") == LUA_TTABLE) {
        lua_pushvalue(L, 2);
        lua_createtable(L, 0, 2);
        lua_pushnumber(L, c);
        lua_setfield(L, -2, "confidence");
        lua_pushliteral(L, "policy");
        lua_setfield(L, -2, "source");
        lua_rawset(L, -3);
    }
    v = json_real(c);
    if (v == NULL || json_object_set_new(ctx->tags, name, v) < 0)
        return luaL_error(L, "not enough memory");
    return 0;
}

/*** @method item:reason(text)
 * Add a reason to the item: a sentence moderators and the audit trail
 * show. It reaches the item only if the hook succeeds; item.reasons shows
 * it at once. A review hook that rejects or sends to review without a
 * reason of its own uses these.
 * @param text string: 1 to 1000 bytes of UTF-8
 * @return nothing; raises an error on bad text, or past 64 reasons in one
 *         call
 */
static int item_reason(lua_State *L)
{
    struct sl_lua_item_ctx *ctx = check_item(L, 1);
    const char *text;
    size_t len;
    json_t *v;

    if (lua_type(L, 2) != LUA_TSTRING)
        return luaL_typeerror(L, 2, "string");
    text = lua_tolstring(L, 2, &len);
    if (len == 0 || len > SL_LUA_REASON_MAX || strlen(text) != len ||
        !sl_utf8_valid(text, len))
        return luaL_argerror(L, 2, "a reason is 1 to 1000 bytes of UTF-8 without NUL");
    if (json_array_size(ctx->reasons) >= SL_LUA_REASONS_MAX)
        return luaL_error(L, "item:reason: more than %d reasons in one call",
                          SL_LUA_REASONS_MAX);

    if (cached(L, 1, "reasons") == LUA_TTABLE) {
        lua_pushvalue(L, 2);
        lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    }
    v = json_stringn(text, len);
    if (v == NULL || json_array_append_new(ctx->reasons, v) < 0)
        return luaL_error(L, "not enough memory");
    return 0;
}

/* }===================================================================== */

/* {====================== life cycle =================================== */

void sl_lua_item_open(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "tag", item_tag },
        { "reason", item_reason },
        { NULL, NULL },
    };

    luaL_newmetatable(L, ITEM_MT);
    luaL_newlib(L, methods);
    lua_pushcclosure(L, item_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, item_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, item_tostring);
    lua_setfield(L, -2, "__tostring");
    /* getmetatable(item) is false, and setmetatable cannot swap it. */
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}

void sl_lua_item_push(lua_State *L, struct sl_lua_item_slot *slot)
{
    struct item_ud *u = lua_newuserdatauv(L, sizeof *u, 1);

    u->slot = slot;
    u->gen = slot->cur->gen;
    luaL_setmetatable(L, ITEM_MT);
    lua_newtable(L);
    lua_setiuservalue(L, -2, 1);
}

int sl_lua_item_begin(struct sl_lua_item_slot *slot, struct sl_lua_item_ctx *ctx,
                      struct sl_item *item)
{
    ctx->item = item;
    ctx->tags = json_object();
    ctx->reasons = json_array();
    if (ctx->tags == NULL || ctx->reasons == NULL) {
        json_decref(ctx->tags);
        json_decref(ctx->reasons);
        return -ENOMEM;
    }
    ctx->gen = ++slot->gen;
    slot->cur = ctx;
    return 0;
}

int sl_lua_item_apply(struct sl_lua_item_ctx *ctx)
{
    const char *name;
    json_t *v;
    size_t i;
    int rc;

    json_object_foreach(ctx->tags, name, v) {
        if ((rc = sl_item_tag(ctx->item, name, json_real_value(v), "policy")) < 0)
            return rc;
    }
    json_array_foreach(ctx->reasons, i, v) {
        if ((rc = sl_item_reason(ctx->item, json_string_value(v))) < 0)
            return rc;
    }
    return 0;
}

void sl_lua_item_end(struct sl_lua_item_slot *slot, struct sl_lua_item_ctx *ctx)
{
    if (slot->cur == ctx)
        slot->cur = NULL;
    json_decref(ctx->tags);
    json_decref(ctx->reasons);
    ctx->tags = ctx->reasons = NULL;
    ctx->item = NULL;
}

/* }===================================================================== */
