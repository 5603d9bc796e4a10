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

static const char *const field_names[SL_LUA_F__END] = {
    [SL_LUA_F_ID] = "id",
    [SL_LUA_F_CREATOR] = "creator",
    [SL_LUA_F_PLATFORM] = "platform",
    [SL_LUA_F_TITLE] = "title",
    [SL_LUA_F_DESCRIPTION] = "description",
    [SL_LUA_F_TRANSCRIPT] = "transcript",
    [SL_LUA_F_CITY] = "city",
    [SL_LUA_F_THUMBNAIL] = "thumbnail",
    [SL_LUA_F_DURATION_MS] = "duration_ms",
    [SL_LUA_F_SIGNALS] = "signals",
    [SL_LUA_F_HASHES] = "hashes",
    [SL_LUA_F_TAGS] = "tags",
    [SL_LUA_F_MATCHES] = "matches",
    [SL_LUA_F_REASONS] = "reasons",
    [SL_LUA_F_PLUGIN_VERDICTS] = "plugin_verdicts",
    [SL_LUA_F_PLUGIN_DECISIONS] = "plugin_decisions",
};

/* Fields that are tables, which Lua code can change. */
static bool is_table(int f)
{
    return f == SL_LUA_F_CREATOR || f == SL_LUA_F_PLATFORM || f >= SL_LUA_F_SIGNALS;
}

static void push_text(lua_State *L, const char *s)
{
    if (s != NULL)
        lua_pushstring(L, s);
    else
        lua_pushnil(L);
}

static void hash_hex(uint64_t h, char hex[17])
{
    static const char digits[] = "0123456789abcdef";

    for (int i = 15; i >= 0; i--, h >>= 4)
        hex[i] = digits[h & 15];
    hex[16] = '\0';
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

/* Build field f of the item as it is now. Raises (out of memory). */
static void push_field(lua_State *L, const struct sl_lua_item_ctx *ctx, int f)
{
    const struct sl_item *it = ctx->item;
    json_t *v;
    size_t i;

    switch (f) {
    case SL_LUA_F_ID:
        push_text(L, it->id);
        break;
    case SL_LUA_F_CREATOR:
        lua_createtable(L, 0, 4);
        push_text(L, it->creator);
        lua_setfield(L, -2, "id");
        lua_pushinteger(L, it->creator_followers);
        lua_setfield(L, -2, "followers");
        lua_pushinteger(L, it->creator_uploads);
        lua_setfield(L, -2, "uploads");
        lua_pushinteger(L, it->creator_rejections);
        lua_setfield(L, -2, "rejections");
        break;
    case SL_LUA_F_PLATFORM:
        lua_createtable(L, 0, 2);
        lua_pushinteger(L, it->platform_users);
        lua_setfield(L, -2, "users");
        lua_pushinteger(L, it->platform_active);
        lua_setfield(L, -2, "active");
        break;
    case SL_LUA_F_TITLE:
        push_text(L, it->title);
        break;
    case SL_LUA_F_DESCRIPTION:
        push_text(L, it->description);
        break;
    case SL_LUA_F_TRANSCRIPT:
        push_text(L, it->transcript);
        break;
    case SL_LUA_F_CITY:
        push_text(L, it->city);
        break;
    case SL_LUA_F_THUMBNAIL:
        push_text(L, json_string_value(json_object_get(it->upload, "thumbnail")));
        break;
    case SL_LUA_F_DURATION_MS:
        v = json_object_get(it->upload, "duration_ms");
        if (json_is_integer(v))
            lua_pushinteger(L, (lua_Integer)json_integer_value(v));
        else
            lua_pushnil(L);
        break;
    case SL_LUA_F_SIGNALS:
        if (json_is_object(it->signals))
            sl_lua_push_json(L, it->signals);
        else
            lua_newtable(L);
        break;
    case SL_LUA_F_HASHES:
        lua_createtable(L, (int)it->nhashes, 0);
        for (i = 0; i < it->nhashes; i++) {
            char hex[17];

            hash_hex(it->hashes[i], hex);
            lua_pushlstring(L, hex, 16);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    case SL_LUA_F_TAGS:
        push_tags(L, ctx);
        break;
    case SL_LUA_F_MATCHES:
        sl_lua_push_json(L, it->matches);
        break;
    case SL_LUA_F_REASONS:
        push_reasons(L, ctx);
        break;
    case SL_LUA_F_PLUGIN_VERDICTS:
        sl_lua_push_json(L, it->plugin_verdicts);
        break;
    case SL_LUA_F_PLUGIN_DECISIONS:
        sl_lua_push_json(L, it->plugin_decisions);
        break;
    }
}

/* }===================================================================== */

/* {====================== the view: fields shared by an item's hooks === */

/* The table at idx holds exactly these integers (and id) and no metatable. */
static bool same_counts(lua_State *L, int idx, const char *id, const char *const *keys,
                        const long long *values, int n)
{
    int top = lua_gettop(L), entries = 0;
    size_t len;
    const char *s;

    if (lua_type(L, idx) != LUA_TTABLE || lua_getmetatable(L, idx))
        goto differs;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        entries++;
    }
    if (entries != n + (id != NULL))
        goto differs;
    if (id != NULL) {
        if (lua_getfield(L, idx, "id") != LUA_TSTRING)
            goto differs;
        s = lua_tolstring(L, -1, &len);
        if (len != strlen(id) || memcmp(s, id, len) != 0)
            goto differs;
    }
    for (int i = 0; i < n; i++) {
        if (lua_getfield(L, idx, keys[i]) != LUA_TNUMBER || !lua_isinteger(L, -1) ||
            lua_tointeger(L, -1) != (lua_Integer)values[i])
            goto differs;
        lua_pop(L, 1);
    }
    lua_settop(L, top);
    return true;
differs:
    lua_settop(L, top);
    return false;
}

static bool empty_table(lua_State *L, int idx)
{
    int top = lua_gettop(L);
    bool empty = lua_type(L, idx) == LUA_TTABLE && !lua_getmetatable(L, idx);

    if (empty) {
        lua_pushnil(L);
        empty = lua_next(L, idx) == 0;
    }
    lua_settop(L, top);
    return empty;
}

static bool same_hashes(lua_State *L, int idx, const struct sl_item *it)
{
    int top = lua_gettop(L);
    bool ok = lua_type(L, idx) == LUA_TTABLE && !lua_getmetatable(L, idx);
    size_t n = 0, len;
    char hex[17];

    if (ok) {
        lua_pushnil(L);
        while (lua_next(L, idx) != 0) {
            lua_pop(L, 1);
            n++;
        }
        ok = n == it->nhashes;
    }
    for (size_t i = 0; ok && i < it->nhashes; i++) {
        hash_hex(it->hashes[i], hex);
        ok = lua_rawgeti(L, idx, (lua_Integer)i + 1) == LUA_TSTRING &&
             memcmp(lua_tolstring(L, -1, &len), hex, 16) == 0 && len == 16;
        lua_pop(L, 1);
    }
    lua_settop(L, top);
    return ok;
}

/* Is the value at idx what field f (a table) would be built as now? The
 * pending tags and reasons of the call are in the table only when it was
 * current when they were set (item_tag, item_reason): a table first read
 * after them is built afresh. */
static bool field_current(lua_State *L, int idx, const struct sl_lua_item_ctx *ctx, int f)
{
    static const char *const creator_keys[] = { "followers", "uploads", "rejections" };
    static const char *const platform_keys[] = { "users", "active" };
    const struct sl_item *it = ctx->item;

    switch (f) {
    case SL_LUA_F_CREATOR:
        return same_counts(L, idx, it->creator, creator_keys, (const long long[]){
                               it->creator_followers, it->creator_uploads,
                               it->creator_rejections }, 3);
    case SL_LUA_F_PLATFORM:
        return same_counts(L, idx, NULL, platform_keys, (const long long[]){
                               it->platform_users, it->platform_active }, 2);
    case SL_LUA_F_SIGNALS:
        return json_is_object(it->signals) ? sl_lua_json_same(L, idx, it->signals)
                                           : empty_table(L, idx);
    case SL_LUA_F_HASHES:
        return same_hashes(L, idx, it);
    case SL_LUA_F_TAGS:
        return json_object_size(ctx->tags) == 0 && sl_lua_json_same(L, idx, it->tags);
    case SL_LUA_F_MATCHES:
        return sl_lua_json_same(L, idx, it->matches);
    case SL_LUA_F_REASONS:
        return json_array_size(ctx->reasons) == 0 && sl_lua_json_same(L, idx, it->reasons);
    case SL_LUA_F_PLUGIN_VERDICTS:
        return sl_lua_json_same(L, idx, it->plugin_verdicts);
    case SL_LUA_F_PLUGIN_DECISIONS:
        return sl_lua_json_same(L, idx, it->plugin_decisions);
    }
    return true;    /* strings and numbers: the item's for its whole life */
}

/* Forget field f. Raises nothing: the view's array part has every slot. */
static void view_drop(lua_State *L, struct sl_lua_item_slot *slot, int f)
{
    slot->built[f] = false;
    lua_rawgeti(L, LUA_REGISTRYINDEX, slot->view_ref);
    lua_pushboolean(L, 0);
    lua_rawseti(L, -2, f);
    lua_pop(L, 1);
}

/* Start showing the item of this serial (0: an item without one, shown
 * afresh to every call). */
static void view_reset(lua_State *L, struct sl_lua_item_slot *slot, uint64_t serial)
{
    for (int f = 1; f < SL_LUA_F__END; f++)
        if (slot->built[f])
            view_drop(L, slot, f);
    slot->view_item = serial;
}

/*
 * Push field f from the view and answer true if it is current: built for
 * this item and, for a table, unchanged since it was built, as checked
 * once in this call. A changed table is dropped. Never raises.
 */
static bool view_current(lua_State *L, struct sl_lua_item_slot *slot,
                         const struct sl_lua_item_ctx *ctx, int f)
{
    if (!slot->built[f])
        return false;
    lua_rawgeti(L, LUA_REGISTRYINDEX, slot->view_ref);
    lua_rawgeti(L, -1, f);
    lua_remove(L, -2);
    if (!is_table(f) || slot->seen[f] == ctx->gen)
        return true;
    if (field_current(L, lua_gettop(L), ctx, f)) {
        slot->seen[f] = ctx->gen;
        return true;
    }
    lua_pop(L, 1);
    view_drop(L, slot, f);
    return false;
}

/* Push field f: from the view, or built now and kept there. Raises (out of
 * memory) with the view as it was. */
static void view_push(lua_State *L, struct sl_lua_item_slot *slot,
                      const struct sl_lua_item_ctx *ctx, int f)
{
    if (view_current(L, slot, ctx, f))
        return;
    push_field(L, ctx, f);
    lua_rawgeti(L, LUA_REGISTRYINDEX, slot->view_ref);
    lua_pushvalue(L, -2);
    lua_rawseti(L, -2, f);
    lua_pop(L, 1);
    slot->built[f] = true;
    slot->seen[f] = ctx->gen;
}

/*
 * item[key]: upvalue 1 maps the methods' names to them and the fields'
 * names to their slots in the view; upvalue 2 is the item metatable. Only
 * item objects reach here (the metatable is hidden), but checking costs
 * little.
 */
static int item_index(lua_State *L)
{
    struct item_ud *u = lua_touserdata(L, 1);
    const struct sl_lua_item_ctx *ctx;
    int f;

    if (u == NULL || !lua_getmetatable(L, 1) || !lua_rawequal(L, -1, lua_upvalueindex(2)))
        return luaL_typeerror(L, 1, ITEM_MT);
    if ((ctx = ctx_of(u)) == NULL)
        return luaL_error(L, "item used after its hook returned");
    lua_settop(L, 2);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNUMBER)
        return 1;                           /* a method, or nil */
    f = (int)lua_tointeger(L, -1);
    view_push(L, u->slot, ctx, f);
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
    if (view_current(L, ((struct item_ud *)lua_touserdata(L, 1))->slot, ctx, SL_LUA_F_TAGS)) {
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

    if (view_current(L, ((struct item_ud *)lua_touserdata(L, 1))->slot, ctx,
                     SL_LUA_F_REASONS)) {
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

void sl_lua_item_open(lua_State *L, struct sl_lua_item_slot *slot)
{
    luaL_newmetatable(L, ITEM_MT);
    lua_createtable(L, 0, 2 + SL_LUA_F__END);
    lua_pushcfunction(L, item_tag);
    lua_setfield(L, -2, "tag");
    lua_pushcfunction(L, item_reason);
    lua_setfield(L, -2, "reason");
    for (int f = 1; f < SL_LUA_F__END; f++) {
        lua_pushinteger(L, f);
        lua_setfield(L, -2, field_names[f]);
    }
    lua_pushvalue(L, -2);
    lua_pushcclosure(L, item_index, 2);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, item_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, item_tostring);
    lua_setfield(L, -2, "__tostring");
    /* getmetatable(item) is false, and setmetatable cannot swap it. */
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    slot->mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    /* Every slot in the array part (false when empty, never nil), so that
     * storing into it never allocates, and so never raises. */
    lua_createtable(L, SL_LUA_F__END - 1, 0);
    for (int f = 1; f < SL_LUA_F__END; f++) {
        lua_pushboolean(L, 0);
        lua_rawseti(L, -2, f);
    }
    slot->view_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    slot->view_item = 0;
    memset(slot->built, 0, sizeof slot->built);
}

void sl_lua_item_push(lua_State *L, struct sl_lua_item_slot *slot)
{
    uint64_t serial = slot->cur->item->serial;
    struct item_ud *u;

    if (serial == 0 || serial != slot->view_item)
        view_reset(L, slot, serial);
    u = lua_newuserdatauv(L, sizeof *u, 0);
    u->slot = slot;
    u->gen = slot->cur->gen;
    lua_rawgeti(L, LUA_REGISTRYINDEX, slot->mt_ref);
    lua_setmetatable(L, -2);
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
