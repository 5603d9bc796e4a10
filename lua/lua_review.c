/* SPDX-License-Identifier: MIT */
/* The answer a review hook gives, read strictly into struct sl_review. */
#include "lua/lua_review.h"

#include <stdio.h>
#include <string.h>
#include <lauxlib.h>

#include "lib/item.h"
#include "lib/text.h"
#include "lua/lua_lib.h"
#include "sluice/plugin.h"

/*
 * A review hook answers one of
 *     "approve" | "reject" | "review"
 *     verdict, "reason"
 *     verdict, {queue = ..., priority = ..., reason = ...}
 *     {verdict = ..., queue = ..., priority = ..., reason = ...}
 * Everything else fails the call, and a failed call never approves: a typo
 * must send items to people, not wave them through.
 */

static const char *const verdicts[] = {
    [SL_VERDICT_APPROVE] = "approve",
    [SL_VERDICT_REJECT] = "reject",
    [SL_VERDICT_REVIEW] = "review",
};

/* The value at idx as an error message shows it: nil, 42, "maybe", a function. */
static const char *describe(lua_State *L, int idx)
{
    char buf[48];
    size_t len;
    const char *s;

    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return "nil";
    case LUA_TBOOLEAN:
        return lua_toboolean(L, idx) ? "true" : "false";
    case LUA_TNUMBER:
        return luaL_tolstring(L, idx, NULL);
    case LUA_TSTRING:
        s = lua_tolstring(L, idx, &len);
        snprintf(buf, sizeof buf, "%.*s%s", (int)sl_utf8_cut(s, len, 40), s,
                 len > 40 ? "..." : "");
        return lua_pushfstring(L, "\"%s\"", buf);
    default:
        return lua_pushfstring(L, "a %s", luaL_typename(L, idx));
    }
}

static int verdict_of(lua_State *L, int idx)
{
    size_t len, v;
    const char *s;

    if (lua_type(L, idx) == LUA_TSTRING) {
        s = lua_tolstring(L, idx, &len);
        for (v = SL_VERDICT_APPROVE; v <= SL_VERDICT_REVIEW; v++) {
            if (strlen(verdicts[v]) == len && memcmp(s, verdicts[v], len) == 0)
                return (int)v;
        }
    }
    return luaL_error(L, "review: the verdict is %s, not \"approve\", \"reject\" or "
                      "\"review\"", describe(L, idx));
}

static void take_reason(lua_State *L, int idx, struct sl_review *out)
{
    const char *s;
    size_t len;

    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_error(L, "review: the reason is %s, not a string", describe(L, idx));
    s = lua_tolstring(L, idx, &len);
    if (len == 0 || strlen(s) != len || !sl_utf8_valid(s, len))
        luaL_error(L, "review: the reason must be non-empty UTF-8 text without NUL");
    len = sl_utf8_cut(s, len, sizeof out->reason - 1);
    memcpy(out->reason, s, len);
    out->reason[len] = '\0';
}

static void take_queue(lua_State *L, int idx, struct sl_review *out)
{
    const char *s;
    size_t len;

    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_error(L, "review: the queue is %s, not a string", describe(L, idx));
    s = lua_tolstring(L, idx, &len);
    if (!sl_lua_id_valid(s, len, sizeof out->queue - 1))
        luaL_error(L, "review: the queue %s is not a name of 1 to %d characters of "
                   "A-Z a-z 0-9 _ . : @ -", describe(L, idx), (int)sizeof out->queue - 1);
    memcpy(out->queue, s, len);
    out->queue[len] = '\0';
}

static void take_priority(lua_State *L, int idx, struct sl_review *out)
{
    lua_Integer p = 0;
    int ok = 0;

    if (lua_type(L, idx) == LUA_TNUMBER)
        p = lua_tointegerx(L, idx, &ok);
    if (!ok || p < -SL_LUA_PRIORITY_MAX || p > SL_LUA_PRIORITY_MAX)
        luaL_error(L, "review: the priority is %s, not an integer from %d to %d",
                   describe(L, idx), -SL_LUA_PRIORITY_MAX, SL_LUA_PRIORITY_MAX);
    out->priority = (int)p;
}

/* The table at t; verdict may appear in it only when allowed. Returns
 * whether queue or priority was given. */
static bool take_table(lua_State *L, int t, bool verdict_allowed, struct sl_review *out)
{
    bool routed = false;

    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        int v = lua_gettop(L);

        if (key != NULL && verdict_allowed && strcmp(key, "verdict") == 0) {
            out->verdict = verdict_of(L, v);
        } else if (key != NULL && strcmp(key, "queue") == 0) {
            take_queue(L, v, out);
            routed = true;
        } else if (key != NULL && strcmp(key, "priority") == 0) {
            take_priority(L, v, out);
            routed = true;
        } else if (key != NULL && strcmp(key, "reason") == 0) {
            take_reason(L, v, out);
        } else {
            luaL_error(L, "review: unknown field %s in the answer (known: %s"
                       "queue, priority, reason)", describe(L, v - 1),
                       verdict_allowed ? "verdict, " : "");
        }
        lua_settop(L, v - 1);
    }
    return routed;
}

/* The reasons already on the item and those this call added, joined. */
static void fallback_reason(const struct sl_lua_item_ctx *ctx, struct sl_review *out)
{
    json_t *lists[2] = { ctx->item->reasons, ctx->reasons };
    char buf[1024];
    size_t len = 0, i, k;
    json_t *v;

    buf[0] = '\0';
    for (k = 0; k < 2; k++) {
        json_array_foreach(lists[k], i, v) {
            int n = snprintf(buf + len, sizeof buf - len, "%s%s", len ? "; " : "",
                             json_string_value(v));

            if (n < 0 || (size_t)n >= sizeof buf - len) {
                len = sizeof buf - 1;
                goto cut;
            }
            len += (size_t)n;
        }
    }
cut:
    len = sl_utf8_cut(buf, len, sizeof out->reason - 1);
    memcpy(out->reason, buf, len);
    out->reason[len] = '\0';
}

void sl_lua_review_take(lua_State *L, int idx, int n, struct sl_review *out,
                        const struct sl_lua_item_ctx *ctx)
{
    bool routed = false;

    if (n == 0)
        luaL_error(L, "review: returned nothing; expected a verdict");
    if (n > 2)
        luaL_error(L, "review: returned %d values; expected at most 2", n);
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        out->verdict = verdict_of(L, idx);
        if (n == 1 || lua_isnil(L, idx + 1))
            break;
        if (lua_type(L, idx + 1) == LUA_TSTRING)
            take_reason(L, idx + 1, out);
        else if (lua_type(L, idx + 1) == LUA_TTABLE)
            routed = take_table(L, idx + 1, false, out);
        else
            luaL_error(L, "review: the second result is %s, not a reason or a table",
                       describe(L, idx + 1));
        break;
    case LUA_TTABLE:
        if (n == 2)
            luaL_error(L, "review: returned a table and %s; expected one table",
                       describe(L, idx + 1));
        routed = take_table(L, idx, true, out);
        if (out->verdict == SL_VERDICT_NONE)
            luaL_error(L, "review: the answer has no verdict");
        break;
    default:
        luaL_error(L, "review: returned %s; expected \"approve\", \"reject\", "
                   "\"review\" or a table", describe(L, idx));
    }
    if (routed && out->verdict != SL_VERDICT_REVIEW)
        luaL_error(L, "review: queue and priority go only with verdict \"review\"");
    if (out->verdict != SL_VERDICT_APPROVE && out->reason[0] == '\0') {
        fallback_reason(ctx, out);
        if (out->reason[0] == '\0')
            luaL_error(L, "review: verdict \"%s\" needs a reason: return one, or "
                       "call item:reason() first", verdicts[out->verdict]);
    }
}
