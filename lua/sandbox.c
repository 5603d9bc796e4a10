/* SPDX-License-Identifier: MIT */
/* The Lua policy sandbox: one sandbox's life cycle and what it tells about itself. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <lauxlib.h>

#include "lib/text.h"
#include "lua/sandbox_internal.h"

struct sl_lua *sl_lua_new(const struct sl_lua_limits *limits)
{
    struct sl_lua *sl;
    size_t memory = limits && limits->memory ? limits->memory : SL_LUA_MEMORY_DEFAULT;
    uint64_t instructions = limits && limits->instructions ? limits->instructions
                                                           : SL_LUA_INSTRUCTIONS_DEFAULT;
    unsigned time_ms = limits && limits->time_ms ? limits->time_ms : SL_LUA_TIME_DEFAULT_MS;

    if (memory < SL_LUA_MEMORY_MIN || instructions < SL_LUA_INSTRUCTIONS_MIN) {
        errno = EINVAL;
        return NULL;
    }
    if ((sl = calloc(1, sizeof *sl)) == NULL)
        return NULL;
    sl->mem_limit = memory;
    sl->instr_limit = instructions > LLONG_MAX / 2 ? LLONG_MAX / 2 : (long long)instructions;
    sl->time_limit_ns = (int64_t)time_ms * 1000000;
    sl->env_ref = sl->modules_ref = LUA_NOREF;
    sl_copy(sl->where, sizeof sl->where, "policies");
    sl->file_list = json_array();
    sl->L = lua_newstate(sl_lua_budget_alloc, sl);
    if (sl->L == NULL || sl->file_list == NULL)
        goto fail;
    *(struct sl_lua **)lua_getextraspace(sl->L) = sl;
    if (sl_lua_protect(sl, sl_lua_env_open, NULL, NULL, 0) < 0)
        goto fail;
    return sl;

fail:
    sl_lua_free(sl);
    errno = ENOMEM;
    return NULL;
}

void sl_lua_free(struct sl_lua *sl)
{
    if (sl == NULL)
        return;
    if (sl->L != NULL)
        lua_close(sl->L);
    sl_lua_budget_free(sl);
    sl_lua_sources_free(sl->sources);
    json_decref(sl->file_list);
    free(sl);
}

void sl_lua_set_log(struct sl_lua *sl, sl_lua_log_fn *fn, void *ud)
{
    sl->log = fn;
    sl->log_ud = ud;
}

const char *sl_lua_version(const struct sl_lua *sl)
{
    return sl->version;
}

json_t *sl_lua_files(const struct sl_lua *sl)
{
    return sl->file_list;
}

size_t sl_lua_memory(const struct sl_lua *sl)
{
    return sl->mem_used;
}
