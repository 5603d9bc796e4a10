/* SPDX-License-Identifier: MIT */
/* Calling a policy's hooks: tag, review, plan, any other through JSON, has_hook. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <lauxlib.h>

#include "lib/item.h"
#include "lib/text.h"
#include "lua/lua_json.h"
#include "lua/lua_plan.h"
#include "lua/lua_review.h"
#include "lua/sandbox_internal.h"
#include "sluice/plugin.h"

#define HOOK_NAME_MAX 64        /* bytes in a hook's name */

struct hook_call {
    const char *hook;
    struct sl_lua_item_ctx *item;   /* NULL: no item argument */
    json_t *const *args;
    size_t nargs;
    struct sl_review *review;       /* review: read the answer into this */
    struct sl_lua_wave *plan;       /* plan: read the answer into plan[0..nplan) */
    size_t nplan;
    bool want_json;                 /* call_json: convert the results */
    json_t *result;                 /* owned; released by the caller on failure */
    bool declined;                  /* no such hook */
};

/* Push the hook function, or nothing (declined). */
static bool find_hook(lua_State *L, struct sl_lua *sl, const char *hook, bool *declined)
{
    lua_Debug ar;

    /* rawget: a policy may give its environment a metatable. */
    lua_rawgeti(L, LUA_REGISTRYINDEX, sl->env_ref);
    lua_pushstring(L, hook);
    lua_rawget(L, -2);
    lua_remove(L, -2);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        *declined = true;
        return false;
    }
    if (!lua_isfunction(L, -1))
        luaL_error(L, "%s: the global '%s' is a %s, not a hook function", sl->label,
                   hook, luaL_typename(L, -1));
    const void *fn = lua_topointer(L, -1);
    for (size_t i = 0; i < sl->nsites; i++) {
        if (sl->sites[i].fn == fn) {
            memcpy(sl->where, sl->sites[i].where, sizeof sl->where);
            return true;
        }
    }
    lua_pushvalue(L, -1);
    lua_getinfo(L, ">S", &ar);
    snprintf(sl->where, sizeof sl->where, "%s:%d", ar.short_src, ar.linedefined);
    if (sl->nsites < sizeof sl->sites / sizeof sl->sites[0]) {
        lua_pushvalue(L, -1);
        luaL_ref(L, LUA_REGISTRYINDEX);
        sl->sites[sl->nsites].fn = fn;
        memcpy(sl->sites[sl->nsites++].where, sl->where, sizeof sl->where);
    }
    return true;
}

static int hook_body(lua_State *L)
{
    struct sl_lua *sl = sl_lua_sandbox(L);
    struct hook_call *hc = lua_touserdata(L, 1);
    int base, nargs = 0, n, i;
    size_t k;

    lua_settop(L, 0);
    if (!find_hook(L, sl, hc->hook, &hc->declined))
        return 0;
    base = lua_gettop(L);
    luaL_checkstack(L, (int)hc->nargs + 8, "too many hook arguments");
    if (hc->item != NULL) {
        sl_lua_item_push(L, &sl->slot);
        nargs++;
    }
    for (k = 0; k < hc->nargs; k++, nargs++)
        sl_lua_push_json(L, hc->args[k]);
    lua_call(L, nargs, LUA_MULTRET);
    n = lua_gettop(L) - base + 1;

    /* The hook returned; what follows raises errors about its answer. */
    if (hc->review != NULL)
        sl_lua_review_take(L, base, n, hc->review, hc->item);
    if (hc->plan != NULL)
        hc->nplan = n == 1 ? sl_lua_plan_take(L, base, hc->plan, hc->nplan) : 0;
    if (hc->want_json) {
        if (n == 1) {
            sl_lua_to_json(L, base, &hc->result);
        } else if ((hc->result = n == 0 ? json_null() : json_array()) != NULL) {
            for (i = 0; i < n; i++)
                sl_lua_to_json_append(L, base + i, hc->result);
        } else {
            luaL_error(L, "not enough memory");
        }
    }
    return 0;
}

/* Call a hook with budgets, the item's changes applied only on success. */
static int call_hook(struct sl_lua *sl, struct hook_call *hc, struct sl_item *item,
                     char *err, size_t errlen)
{
    struct sl_lua_item_ctx ctx;
    int rc;

    if (item != NULL) {
        if ((rc = sl_lua_item_begin(&sl->slot, &ctx, item)) < 0) {
            sl_lua_set_err(err, errlen, "%s: out of memory", hc->hook);
            return rc;
        }
        hc->item = &ctx;
    }
    rc = sl_lua_protect(sl, hook_body, hc, err, errlen);
    if (rc == 0 && hc->declined)
        rc = SL_DECLINED;
    if (item != NULL) {
        if (rc == 0 && (rc = sl_lua_item_apply(&ctx)) < 0)
            sl_lua_set_err(err, errlen, "%s: cannot apply the hook's tags: %s", sl->where,
                           strerror(-rc));
        sl_lua_item_end(&sl->slot, &ctx);
    }
    sl_copy(sl->where, sizeof sl->where, sl->label);
    return rc;
}

int sl_lua_tag(struct sl_lua *sl, struct sl_item *item, char *err, size_t errlen)
{
    struct hook_call hc = { .hook = "tag" };

    return call_hook(sl, &hc, item, err, errlen);
}

int sl_lua_review(struct sl_lua *sl, struct sl_item *item, struct sl_review *out,
                  char *err, size_t errlen)
{
    struct hook_call hc = { .hook = "review", .review = out };
    int rc;

    memset(out, 0, sizeof *out);
    if (item == NULL) {
        sl_lua_set_err(err, errlen, "review: no item");
        return -EINVAL;
    }
    rc = call_hook(sl, &hc, item, err, errlen);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

int sl_lua_plan(struct sl_lua *sl, struct sl_item *item, struct sl_lua_wave *out,
                size_t max, size_t *n, char *err, size_t errlen)
{
    struct hook_call hc = { .hook = "plan", .plan = out, .nplan = max };
    int rc = call_hook(sl, &hc, item, err, errlen);

    *n = rc == 0 ? hc.nplan : 0;
    return rc;
}

/* A global's name of at most HOOK_NAME_MAX bytes. */
static bool hook_name_ok(const char *hook)
{
    size_t len = hook != NULL ? strnlen(hook, HOOK_NAME_MAX + 1) : 0;

    return len > 0 && len <= HOOK_NAME_MAX && !(hook[0] >= '0' && hook[0] <= '9') &&
           sl_lua_name_chars(hook, len);
}

int sl_lua_call_json(struct sl_lua *sl, const char *hook, struct sl_item *item,
                     json_t *const *args, size_t nargs, json_t **result,
                     char *err, size_t errlen)
{
    struct hook_call hc = { .hook = hook, .args = args, .nargs = nargs, .want_json = true };
    int rc;

    *result = NULL;
    if (!hook_name_ok(hook) || (nargs > 0 && args == NULL) || nargs > 64) {
        sl_lua_set_err(err, errlen, "%s: bad hook name or arguments", hook ? hook : "(null)");
        return -EINVAL;
    }
    rc = call_hook(sl, &hc, item, err, errlen);
    if (rc == 0)
        *result = hc.result;
    else
        json_decref(hc.result);
    return rc;
}

static int has_hook_body(lua_State *L)
{
    struct hook_call *hc = lua_touserdata(L, 1);

    find_hook(L, sl_lua_sandbox(L), hc->hook, &hc->declined);
    return 0;
}

bool sl_lua_has_hook(struct sl_lua *sl, const char *hook)
{
    struct hook_call hc = { .hook = hook };

    if (!hook_name_ok(hook))
        return false;
    return sl_lua_protect(sl, has_hook_body, &hc, NULL, 0) == 0 && !hc.declined;
}
