/* SPDX-License-Identifier: MIT */
/* The Lua policy sandbox: budgets, the allow-listed environment, loading, hook calls. */
#define _POSIX_C_SOURCE 200809L
#include "lua/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <lauxlib.h>
#include <lualib.h>

#include "sluice/plugin.h"
#include "lib/item.h"
#include "lib/sha256.h"
#include "lua/lua_item.h"
#include "lua/lua_json.h"
#include "lua/lua_lib.h"
#include "lua/lua_review.h"
#include "lib/text.h"

#define HOOK_CHUNK 1000         /* instructions between two budget checks */
#define ALLOC_UNIT 64           /* bytes allocated that cost one instruction */
#define PRINT_LINES_MAX 100     /* print lines kept per call */
#define PRINT_LEN_MAX 1024      /* bytes kept per print line */
#define MODULE_NAME_MAX 64
#define HOOK_NAME_MAX 64
#define WHERE_MAX (LUA_IDSIZE + 32)

/* One policy file, held in memory while a set loads. */
struct policy_file {
    char *name;                 /* "10-review.lua" */
    char *chunkname;            /* "@policies/10-review.lua" */
    char module[MODULE_NAME_MAX + 1];   /* "helpers" for helpers.lua; "" if none */
    char *data;
    size_t len;
    bool run;                   /* run its top level (else only require finds it) */
};

struct sl_lua {
    lua_State *L;

    /* memory budget (the allocator) */
    size_t mem_used;
    size_t mem_limit;
    bool mem_refused;           /* an allocation was refused in this call */

    /* instruction budget (the count hook, the allocator, sl_lua_charge) */
    long long instr_limit;
    long long left;             /* instructions left in this call */
    int hook_count;             /* instructions between two hook calls now */
    bool in_call;
    bool exhausted;             /* the budget ran out in this call */
    char stop_where[WHERE_MAX]; /* where it ran out */

    /* what runs: "policies/x.lua" or "policies/x.lua:4" where the hook is
     * defined, for errors that have no line of their own */
    char where[WHERE_MAX];
    /* where each hook function called so far is defined, found once: each
     * function is held in the registry, so its address stays its own */
    struct hook_site {
        const void *fn;
        char where[WHERE_MAX];
    } sites[8];
    size_t nsites;

    unsigned prints;            /* print lines in this call */
    sl_lua_log_fn *log;
    void *log_ud;

    int env_ref;                /* the policy environment, in the registry */
    int modules_ref;            /* require's cache: module name -> value */
    char label[64];             /* the directory's base name ("policies"); may be "" */
    struct policy_file *files;  /* while loading */
    size_t nfiles;

    bool loaded;
    char version[13];
    json_t *file_list;
    struct sl_lua_item_slot slot;
};

static char loading_mark;       /* require's cache value while a module runs */

static struct sl_lua *sandbox_of(lua_State *L)
{
    return *(struct sl_lua **)lua_getextraspace(L);
}

/* Only letters, digits and '_' (a Lua name's characters): module and hook
 * names, so that neither can reach a path or anything but a plain global. */
static bool name_chars(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

/* Format into err (when there is one), as one line of valid UTF-8: the
 * caller may log it or send it in a JSON body. */
static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
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
            if (n > len - i || !sl_lua_utf8_valid(err + i, n))
                err[i] = '?';
            else
                i += n - 1;
        }
    }
}

/* ====== budgets ====== */

/*
 * The allocator enforces the memory budget over the whole state, and
 * charges what a call allocates to its instruction budget: one VM
 * instruction can copy megabytes (s .. s), and the count hook alone would
 * let a loop of those run for hours.
 */
static void *budget_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
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

/* "file:line" of the innermost Lua function running, or sl->where. */
static void locate(lua_State *L, char *buf, size_t len)
{
    struct sl_lua *sl = sandbox_of(L);
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

static int out_of_instructions(lua_State *L)
{
    struct sl_lua *sl = sandbox_of(L);

    if (!sl->exhausted) {
        sl->exhausted = true;
        locate(L, sl->stop_where, sizeof sl->stop_where);
        /* From now on every instruction raises, so a policy that catches
         * the error with pcall cannot carry on. */
        sl->hook_count = 1;
        lua_sethook(L, lua_gethook(L), LUA_MASKCOUNT, 1);
    }
    return luaL_error(L, "%s: instruction budget exhausted", sl->stop_where);
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
    struct sl_lua *sl = sandbox_of(L);

    (void)ar;
    sl->left -= sl->hook_count;
    if (sl->left <= 0 || sl->exhausted)
        out_of_instructions(L);
}

void sl_lua_charge(lua_State *L, long long units)
{
    struct sl_lua *sl = sandbox_of(L);

    if (sl->exhausted || units >= sl->left) {
        sl->left = 0;
        out_of_instructions(L);
    }
    sl->left -= units;
}

/* ====== the one way into Lua ====== */

/* "x:12: " at the start of a message: it says where already. */
static bool has_location(const char *msg)
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
static int msgh(lua_State *L)
{
    const char *msg = lua_type(L, 1) == LUA_TSTRING ? lua_tostring(L, 1) : NULL;
    lua_Debug ar;
    int level;

    if (msg != NULL && has_location(msg))
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

/* Turn a failed call's status into a negative errno and err. */
static int explain(struct sl_lua *sl, int status, char *err, size_t errlen)
{
    lua_State *L = sl->L;
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                      : "error object is not a string";

    if (sl->exhausted) {
        set_err(err, errlen, "%s: instruction budget exhausted (%lld instructions)",
                sl->stop_where, sl->instr_limit);
        return -ETIMEDOUT;
    }
    if (status == LUA_ERRMEM || (sl->mem_refused && strcmp(msg, "not enough memory") == 0)) {
        if (sl->mem_refused)
            set_err(err, errlen, "%s: memory budget exhausted (%zu bytes)", sl->where,
                    sl->mem_limit);
        else
            set_err(err, errlen, "%s: out of memory", sl->where);
        return -ENOMEM;
    }
    if (has_location(msg))
        set_err(err, errlen, "%s", msg);
    else
        set_err(err, errlen, "%s: %s", sl->where, msg);
    return -EINVAL;
}

/*
 * Run fn(L) with arg as its one argument under a fresh budget, in protected
 * mode. Every entry into Lua goes through here: a Lua error can only unwind
 * to this lua_pcall, never across a C frame that owns something, and fn
 * itself must hold nothing a longjmp would leak.
 */
static int protect(struct sl_lua *sl, lua_CFunction fn, void *arg, char *err, size_t errlen)
{
    lua_State *L = sl->L;
    int status, rc = 0;

    sl->left = sl->instr_limit;
    sl->hook_count = sl->instr_limit < HOOK_CHUNK ? (int)sl->instr_limit : HOOK_CHUNK;
    sl->exhausted = false;
    sl->mem_refused = false;
    sl->prints = 0;
    sl->in_call = true;
    lua_settop(L, 0);
    lua_sethook(L, count_hook, LUA_MASKCOUNT, sl->hook_count);
    lua_pushcfunction(L, msgh);
    lua_pushcfunction(L, fn);
    lua_pushlightuserdata(L, arg);
    status = lua_pcall(L, 1, 0, 1);
    lua_sethook(L, NULL, 0, 0);
    sl->in_call = false;
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

/* ====== the policy environment ====== */

/*** @function print(...)
 * Write the arguments, converted as by tostring and separated by tabs, to
 * the daemon's log as one line prefixed with "file:line: ". At most 100
 * lines per call and 1024 bytes per line are kept.
 * @return nothing
 */
static int l_print(lua_State *L)
{
    struct sl_lua *sl = sandbox_of(L);
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
    locate(L, where, sizeof where);
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
    len = sl_lua_utf8_cut(s, len, PRINT_LEN_MAX);
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
    struct sl_lua *sl = sandbox_of(L);
    const char *s, *name;
    size_t len;

    if (lua_type(L, 1) != LUA_TSTRING)
        return luaL_typeerror(L, 1, "string of Lua source");
    if (!lua_isnoneornil(L, 4))
        return luaL_argerror(L, 4, "policies cannot load into another environment");
    s = lua_tolstring(L, 1, &len);
    name = luaL_optstring(L, 2, s);
    sl_lua_charge(L, (long long)(len / ALLOC_UNIT));
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
    if (sandbox_of(L)->exhausted)
        return 1;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/*** @function xpcall(f, msgh, ...)
 * As in Lua, except that msgh is not called for the instruction budget
 * error (which ends the hook call anyway).
 * @return true and f's results; or false and what msgh returned
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

static void run_module(lua_State *L, struct sl_lua *sl, const struct policy_file *f);

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
    struct sl_lua *sl = sandbox_of(L);
    size_t len, i;
    const char *name = luaL_checklstring(L, 1, &len);

    if (len == 0 || len > MODULE_NAME_MAX || !name_chars(name, len))
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
            run_module(L, sl, &sl->files[i]);
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
static void run_module(lua_State *L, struct sl_lua *sl, const struct policy_file *f)
{
    int top = lua_gettop(L);

    luaL_checkstack(L, 6, NULL);
    lua_rawgeti(L, LUA_REGISTRYINDEX, sl->modules_ref);     /* top + 1 */
    if (f->module[0] != '\0') {
        lua_pushlightuserdata(L, &loading_mark);
        lua_setfield(L, top + 1, f->module);
    }
    sl_lua_charge(L, (long long)(f->len / ALLOC_UNIT));
    if (luaL_loadbufferx(L, f->data, f->len, f->chunkname, "t") != LUA_OK) {
        if (!has_location(lua_tostring(L, -1)))
            lua_pushfstring(L, "%s: %s", f->chunkname + 1, lua_tostring(L, -1));
        lua_error(L);
    }
    set_env(L, sl);
    lua_pushstring(L, f->module);
    lua_pushcfunction(L, msgh);
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
static int setup_body(lua_State *L)
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
    struct sl_lua *sl = sandbox_of(L);
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

    sl_lua_item_open(L);
    lua_newtable(L);
    sl->modules_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, env);
    sl->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* ====== life cycle ====== */

struct sl_lua *sl_lua_new(const struct sl_lua_limits *limits)
{
    struct sl_lua *sl;
    size_t memory = limits && limits->memory ? limits->memory : SL_LUA_MEMORY_DEFAULT;
    uint64_t instructions = limits && limits->instructions ? limits->instructions
                                                           : SL_LUA_INSTRUCTIONS_DEFAULT;

    if (memory < SL_LUA_MEMORY_MIN || instructions < SL_LUA_INSTRUCTIONS_MIN) {
        errno = EINVAL;
        return NULL;
    }
    if ((sl = calloc(1, sizeof *sl)) == NULL)
        return NULL;
    sl->mem_limit = memory;
    sl->instr_limit = instructions > LLONG_MAX / 2 ? LLONG_MAX / 2 : (long long)instructions;
    sl->env_ref = sl->modules_ref = LUA_NOREF;
    sl_copy(sl->where, sizeof sl->where, "policies");
    sl->file_list = json_array();
    sl->L = lua_newstate(budget_alloc, sl);
    if (sl->L == NULL || sl->file_list == NULL)
        goto fail;
    *(struct sl_lua **)lua_getextraspace(sl->L) = sl;
    if (protect(sl, setup_body, NULL, NULL, 0) < 0)
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

/* ====== loading ====== */

static void free_files(struct policy_file *files, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(files[i].name);
        free(files[i].chunkname);
        free(files[i].data);
    }
    free(files);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct policy_file *)a)->name,
                  ((const struct policy_file *)b)->name);
}

static bool is_policy_name(const char *name)
{
    size_t len = strlen(name);

    return name[0] != '.' && len > 4 && strcmp(name + len - 4, ".lua") == 0;
}

/* The whole of a regular file; 1 when name is something else (skipped). */
static int read_file(int dirfd, const char *name, size_t max, char **data, size_t *len)
{
    struct stat st;
    size_t got = 0;
    char *buf;
    int fd, rc = 0;

    /* O_NONBLOCK: a FIFO named x.lua must not hang the daemon. */
    fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = 1;
        goto out;
    }
    if ((size_t)st.st_size > max) {
        rc = -EFBIG;
        goto out;
    }
    if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            /* Shrunk under us: load what is there, the hash covers it. */
            if (n < 0)
                rc = -errno;
            break;
        }
        got += (size_t)n;
    }
    if (rc < 0) {
        free(buf);
        goto out;
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
out:
    close(fd);
    return rc;
}

/* Read every policy file of dir, sorted by name. */
static int read_dir(const char *dir, size_t max, struct policy_file **out, size_t *nout,
                    char *err, size_t errlen)
{
    struct policy_file *files = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    DIR *d;
    int rc = 0;

    if ((d = opendir(dir)) == NULL) {
        rc = -errno;
        set_err(err, errlen, "%s: %s", dir, strerror(errno));
        return rc;
    }
    while ((errno = 0, de = readdir(d)) != NULL) {
        struct policy_file *f;
        char *data = NULL;
        size_t len = 0;

        if (!is_policy_name(de->d_name))
            continue;
        rc = read_file(dirfd(d), de->d_name, max, &data, &len);
        if (rc == 1) {
            rc = 0;
            continue;
        }
        if (rc < 0) {
            set_err(err, errlen, "%s/%s: %s", dir, de->d_name,
                    rc == -EFBIG ? "larger than the memory budget" : strerror(-rc));
            goto fail;
        }
        if (n == cap) {
            struct policy_file *grown;

            cap = cap ? 2 * cap : 16;
            if ((grown = realloc(files, cap * sizeof *files)) == NULL) {
                free(data);
                rc = -ENOMEM;
                set_err(err, errlen, "%s: out of memory", dir);
                goto fail;
            }
            files = grown;
        }
        f = &files[n++];
        memset(f, 0, sizeof *f);
        f->data = data;
        f->len = len;
        f->run = true;
        if ((f->name = strdup(de->d_name)) == NULL) {
            rc = -ENOMEM;
            set_err(err, errlen, "%s: out of memory", dir);
            goto fail;
        }
    }
    if (errno != 0) {
        rc = -errno;
        set_err(err, errlen, "%s: %s", dir, strerror(errno));
        goto fail;
    }
    closedir(d);
    if (n > 0)
        qsort(files, n, sizeof *files, by_name);
    *out = files;
    *nout = n;
    return 0;

fail:
    closedir(d);
    free_files(files, n);
    return rc;
}

/* The last component of path, without trailing slashes, into buf. */
static void base_name(const char *path, char *buf, size_t len)
{
    size_t end = strlen(path), start;

    while (end > 1 && path[end - 1] == '/')
        end--;
    start = end;
    while (start > 0 && path[start - 1] != '/')
        start--;
    snprintf(buf, len, "%.*s", (int)(end - start), path + start);
}

/* Chunk names ("@label/name") and module names of sl->files. */
static int name_files(struct sl_lua *sl)
{
    size_t i;

    for (i = 0; i < sl->nfiles; i++) {
        struct policy_file *f = &sl->files[i];
        size_t len = strlen(f->name);
        size_t need = strlen(sl->label) + len + 3;

        free(f->chunkname);
        if ((f->chunkname = malloc(need)) == NULL)
            return -ENOMEM;
        snprintf(f->chunkname, need, "@%s%s%s", sl->label, sl->label[0] ? "/" : "",
                 f->name);
        /* NAME.lua is module NAME when NAME is letters, digits and '_'. */
        f->module[0] = '\0';
        if (is_policy_name(f->name) && len - 4 <= MODULE_NAME_MAX &&
            name_chars(f->name, len - 4))
            snprintf(f->module, sizeof f->module, "%.*s", (int)(len - 4), f->name);
    }
    return 0;
}

/* One file's top level; skipped when require ran it already. */
static int run_file_body(lua_State *L)
{
    struct sl_lua *sl = sandbox_of(L);
    const struct policy_file *f = lua_touserdata(L, 1);

    if (f->module[0] != '\0') {
        lua_rawgeti(L, LUA_REGISTRYINDEX, sl->modules_ref);
        if (lua_getfield(L, -1, f->module) != LUA_TNIL)
            return 0;
        lua_pop(L, 2);
    }
    run_module(L, sl, f);
    return 0;
}

/* Run the top level of every file marked run, each on its own budget. */
static int run_files(struct sl_lua *sl, char *err, size_t errlen)
{
    size_t i;
    int rc;

    if ((rc = name_files(sl)) < 0) {
        set_err(err, errlen, "%s: out of memory", sl->label);
        return rc;
    }
    for (i = 0; i < sl->nfiles; i++) {
        if (!sl->files[i].run)
            continue;
        sl_copy(sl->where, sizeof sl->where, sl->files[i].chunkname + 1);
        if ((rc = protect(sl, run_file_body, &sl->files[i], err, errlen)) < 0)
            return rc;
    }
    sl_copy(sl->where, sizeof sl->where, sl->label);
    return 0;
}

/* The version and the file list of sl->files. */
static int describe_files(struct sl_lua *sl, char *err, size_t errlen)
{
    uint8_t digest[SL_SHA256_LEN];
    char hex[SL_SHA256_HEX_LEN + 1];
    struct sl_sha256 all;
    size_t i;

    sl_sha256_init(&all);
    for (i = 0; i < sl->nfiles; i++) {
        const struct policy_file *f = &sl->files[i];
        json_t *entry;

        sl_sha256_update(&all, f->name, strlen(f->name) + 1);
        sl_sha256_update(&all, f->data, f->len);
        sl_sha256_update(&all, "", 1);
        sl_sha256_hex(f->data, f->len, hex);
        entry = json_pack("{s:s, s:s}", "file", f->name, "sha256", hex);
        if (entry == NULL || json_array_append_new(sl->file_list, entry) < 0) {
            set_err(err, errlen, "%s/%s: the file name is not UTF-8", sl->label, f->name);
            return -EINVAL;
        }
    }
    sl_sha256_final(&all, digest);
    sl_hex(digest, 6, sl->version);
    return 0;
}

int sl_lua_load_dir(struct sl_lua *sl, const char *dir, char *err, size_t errlen)
{
    int rc;

    if (sl->loaded) {
        set_err(err, errlen, "%s: this sandbox has policies loaded already", dir);
        return -EALREADY;
    }
    sl->loaded = true;
    base_name(dir, sl->label, sizeof sl->label);
    if ((rc = read_dir(dir, sl->mem_limit, &sl->files, &sl->nfiles, err, errlen)) < 0)
        return rc;
    if ((rc = describe_files(sl, err, errlen)) == 0)
        rc = run_files(sl, err, errlen);
    /* Every file ran, and require serves from its cache from now on. */
    free_files(sl->files, sl->nfiles);
    sl->files = NULL;
    sl->nfiles = 0;
    if (rc < 0)
        sl->version[0] = '\0';
    return rc;
}

/* The checked text stands in for the directory's file of the same name,
 * or joins the set; it alone runs. */
static int add_source(struct sl_lua *sl, const char *name, const char *src, size_t len)
{
    struct policy_file *f = NULL, *grown;
    size_t i;

    for (i = 0; i < sl->nfiles; i++) {
        sl->files[i].run = false;
        if (strcmp(sl->files[i].name, name) == 0)
            f = &sl->files[i];
    }
    if (f == NULL) {
        if ((grown = realloc(sl->files, (sl->nfiles + 1) * sizeof *grown)) == NULL)
            return -ENOMEM;
        sl->files = grown;
        f = &sl->files[sl->nfiles];
        memset(f, 0, sizeof *f);
        if ((f->name = strdup(name)) == NULL)
            return -ENOMEM;
        sl->nfiles++;
    }
    free(f->data);
    if ((f->data = malloc(len + 1)) == NULL)
        return -ENOMEM;
    memcpy(f->data, src, len);
    f->data[len] = '\0';
    f->len = len;
    f->run = true;
    return 0;
}

int sl_lua_check(const char *name, const char *src, size_t len, const char *dir,
                 const struct sl_lua_limits *limits, char *err, size_t errlen)
{
    struct sl_lua *sl;
    char base[128];
    int rc = 0;

    base_name(name != NULL && name[0] != '\0' ? name : "check.lua", base, sizeof base);
    if ((sl = sl_lua_new(limits)) == NULL) {
        rc = -errno;
        set_err(err, errlen, "%s: %s", base, strerror(errno));
        return rc;
    }
    sl->loaded = true;
    if (dir != NULL) {
        base_name(dir, sl->label, sizeof sl->label);
        rc = read_dir(dir, sl->mem_limit, &sl->files, &sl->nfiles, err, errlen);
    }
    if (rc == 0 && (rc = add_source(sl, base, src, len)) < 0)
        set_err(err, errlen, "%s: out of memory", base);
    if (rc == 0)
        rc = run_files(sl, err, errlen);
    free_files(sl->files, sl->nfiles);
    sl->files = NULL;
    sl->nfiles = 0;
    sl_lua_free(sl);
    return rc;
}

/* ====== hooks ====== */

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

/* One wave table's fields, read raw (as the JSON conversion reads). */
static void take_wave(lua_State *L, int idx, struct sl_lua_wave *w)
{
    size_t len;

    memset(w, 0, sizeof *w);
    if (lua_type(L, idx) != LUA_TTABLE)
        return;
    lua_pushliteral(L, "audience");
    if (lua_rawget(L, idx) == LUA_TSTRING) {
        const char *a = lua_tolstring(L, -1, &len);
        if (len < sizeof w->audience && strlen(a) == len)
            memcpy(w->audience, a, len + 1);
    }
    lua_pushliteral(L, "size");
    lua_rawget(L, idx);
    w->size_ok = sl_lua_integer(L, -1, &w->size);
    lua_pushliteral(L, "limit_s");
    w->limit = lua_rawget(L, idx) == LUA_TNIL ? 0 : sl_lua_integer(L, -1, &w->limit_s) ? 1 : -1;
    lua_pushliteral(L, "review");
    int t = lua_rawget(L, idx);
    w->review = t == LUA_TNIL ? 0 : t == LUA_TBOOLEAN ? 1 : -1;
    w->review_on = lua_toboolean(L, -1);
    lua_pop(L, 4);
}

/* A list of 1..max waves (keys exactly 1..n, as JSON's arrays): their
 * number, else 0. */
static size_t take_plan(lua_State *L, int idx, struct sl_lua_wave *out, size_t max)
{
    if (lua_type(L, idx) != LUA_TTABLE || !sl_lua_is_list(L, idx))
        return 0;
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    if (n < 1 || (size_t)n > max)
        return 0;
    luaL_checkstack(L, 4, "plan");
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        take_wave(L, lua_gettop(L), &out[i - 1]);
        lua_pop(L, 1);
    }
    return (size_t)n;
}

static int hook_body(lua_State *L)
{
    struct sl_lua *sl = sandbox_of(L);
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
        hc->nplan = n == 1 ? take_plan(L, base, hc->plan, hc->nplan) : 0;
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
            set_err(err, errlen, "%s: out of memory", hc->hook);
            return rc;
        }
        hc->item = &ctx;
    }
    rc = protect(sl, hook_body, hc, err, errlen);
    if (rc == 0 && hc->declined)
        rc = SL_DECLINED;
    if (item != NULL) {
        if (rc == 0 && (rc = sl_lua_item_apply(&ctx)) < 0)
            set_err(err, errlen, "%s: cannot apply the hook's tags: %s", sl->where,
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
        set_err(err, errlen, "review: no item");
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
           name_chars(hook, len);
}

int sl_lua_call_json(struct sl_lua *sl, const char *hook, struct sl_item *item,
                     json_t *const *args, size_t nargs, json_t **result,
                     char *err, size_t errlen)
{
    struct hook_call hc = { .hook = hook, .args = args, .nargs = nargs, .want_json = true };
    int rc;

    *result = NULL;
    if (!hook_name_ok(hook) || (nargs > 0 && args == NULL) || nargs > 64) {
        set_err(err, errlen, "%s: bad hook name or arguments", hook ? hook : "(null)");
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

    find_hook(L, sandbox_of(L), hc->hook, &hc->declined);
    return 0;
}

bool sl_lua_has_hook(struct sl_lua *sl, const char *hook)
{
    struct hook_call hc = { .hook = hook };

    if (!hook_name_ok(hook))
        return false;
    return protect(sl, has_hook_body, &hc, NULL, 0) == 0 && !hc.declined;
}
