/* SPDX-License-Identifier: MIT */
/* sluice.conf: a Lua file evaluated in a sandbox into struct sl_config. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lib/conf.h"
#include "lib/id.h"
#include "lib/log.h"
#include "lib/text.h"

/* The config file is trusted more than a policy, but a typo that loops
 * forever, or makes strings of gigabytes, must still end with an error
 * rather than a hung start. */
#define CONFIG_INSTRUCTION_LIMIT 10000000
#define CONFIG_HOOK_STEP 10000
#define CONFIG_MEMORY_LIMIT ((size_t)64 << 20)

#ifndef SL_DEFAULT_STATE_DIR
#define SL_DEFAULT_STATE_DIR "/var/lib/sluice"
#endif
#ifndef SL_DEFAULT_POLICIES_DIR
#define SL_DEFAULT_POLICIES_DIR "/etc/sluice/policies"
#endif
#ifndef SL_DEFAULT_PLUGINS_DIR
#define SL_DEFAULT_PLUGINS_DIR "/usr/lib/sluice/plugins"
#endif
#ifndef SL_DEFAULT_CONSOLE_DIR
#define SL_DEFAULT_CONSOLE_DIR "/usr/share/sluice/console"
#endif

enum key_type { K_STRING, K_SIZE, K_INT, K_BOOL, K_LOGLEVEL, K_PLUGINS, K_SLA, K_RATES, K_HOSTS,
                K_BANKS, K_SUSPEND };

struct key {
    const char *name;
    enum key_type type;
    size_t offset;
    long long min, max;         /* for K_SIZE and K_INT */
};

/* K_SUSPEND's words; the setting is the index (SL_SUSPEND_*). */
static const char *const suspend_modes[] = { "review", "refuse", NULL };

#define OFF(f) offsetof(struct sl_config, f)
static const struct key keys[] = {
    { "listen",                 K_STRING,   OFF(listen), 0, 0 },
    { "unix_socket",            K_STRING,   OFF(unix_socket), 0, 0 },
    { "state_dir",              K_STRING,   OFF(state_dir), 0, 0 },
    { "store",                  K_STRING,   OFF(store), 0, 0 },
    { "node_name",              K_STRING,   OFF(node_name), 0, 0 },
    { "lease_seconds",          K_INT,      OFF(lease_seconds), 3, 3600 },
    { "policies_dir",           K_STRING,   OFF(policies_dir), 0, 0 },
    { "plugins_dir",            K_STRING,   OFF(plugins_dir), 0, 0 },
    { "console_dir",            K_STRING,   OFF(console_dir), 0, 0 },
    { "audit_key_file",         K_STRING,   OFF(audit_key_file), 0, 0 },
    { "log_level",              K_LOGLEVEL, OFF(log_level), 0, 0 },
    { "body_limit",             K_SIZE,     OFF(body_limit), 1024, 1LL << 30 },
    { "lua_memory_limit",       K_SIZE,     OFF(lua_memory_limit), 1 << 20, 1LL << 34 },
    { "lua_instruction_limit",  K_SIZE,     OFF(lua_instruction_limit), 1000, 1LL << 40 },
    { "lua_time_limit_ms",      K_INT,      OFF(lua_time_limit_ms), 1, 3600000 },
    { "policy_jobs_max",        K_INT,      OFF(policy_jobs_max), 1, 64 },
    { "policy_job_time_limit_seconds", K_INT, OFF(policy_job_time_limit_seconds), 1, 86400 },
    { "claim_lease_seconds",    K_INT,      OFF(claim_lease_seconds), 5, 86400 },
    { "commit_batch_max",       K_INT,      OFF(commit_batch_max), 1, 100000 },
    { "simulated_clock",        K_BOOL,     OFF(simulated_clock), 0, 0 },
    { "queue_sla",              K_SLA,      OFF(queue_sla), 60, 30 * 86400 },
    { "header_timeout_seconds", K_INT,      OFF(header_timeout_seconds), 1, 3600 },
    { "body_timeout_seconds",   K_INT,      OFF(body_timeout_seconds), 1, 86400 },
    { "idle_timeout_seconds",   K_INT,      OFF(idle_timeout_seconds), 1, 86400 },
    { "max_connections",        K_INT,      OFF(max_connections), 1, 1000000 },
    { "max_connections_per_address", K_INT, OFF(max_connections_per_address), 0, 1000000 },
    { "rate_limits",            K_RATES,    0, 0, 0 },
    { "thumbnail_hosts",        K_HOSTS,    0, 0, 0 },
    { "plugin_budget_ms",       K_INT,      OFF(plugin_budget_ms), 1, 60000 },
    { "search_workers",         K_INT,      OFF(search_workers), 1, 64 },
    { "search_queue",           K_INT,      OFF(search_queue), 0, 1024 },
    { "search_timeout_ms",      K_INT,      OFF(search_timeout_ms), 10, 60000 },
    { "bulk_confirm_above",     K_INT,      OFF(bulk_confirm_above), 0, 1000000000 },
    { "hashbank_retro_days",    K_INT,      OFF(hashbank_retro_days), 0, 3650 },
    { "hashbank_action",        K_BANKS,    OFF(hashbank_action), 0, 0 },
    { "creator_suspend",        K_SUSPEND,  OFF(creator_suspend), 0, 0 },
    { "plugins",                K_PLUGINS,  0, 0, 0 },
};
#undef OFF

void sl_config_set(char **slot, const char *value)
{
    free(*slot);
    *slot = value ? strdup(value) : NULL;
}

void sl_config_defaults(struct sl_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    sl_config_set(&cfg->listen, "127.0.0.1:8420");
    sl_config_set(&cfg->state_dir, SL_DEFAULT_STATE_DIR);
    sl_config_set(&cfg->policies_dir, SL_DEFAULT_POLICIES_DIR);
    sl_config_set(&cfg->plugins_dir, SL_DEFAULT_PLUGINS_DIR);
    sl_config_set(&cfg->console_dir, SL_DEFAULT_CONSOLE_DIR);
    cfg->log_level = SL_LOG_INFO;
    cfg->body_limit = 1 << 20;
    cfg->lua_memory_limit = 64u << 20;
    cfg->lua_instruction_limit = 1000000;
    cfg->lua_time_limit_ms = 50;
    cfg->policy_jobs_max = 2;
    cfg->policy_job_time_limit_seconds = 600;
    cfg->claim_lease_seconds = 600;
    cfg->commit_batch_max = 4096;
    cfg->lease_seconds = 10;
    cfg->header_timeout_seconds = 10;
    cfg->body_timeout_seconds = 30;
    cfg->idle_timeout_seconds = 60;
    cfg->max_connections = 10000;
    cfg->max_connections_per_address = 128;
    /* ingest is the platform's own traffic and admin can change the limits
     * anyway: unlimited. People and their scripts get a human's budget. */
    cfg->rate_limits[1] = (struct sl_rate_limit){ 50, 200 };    /* moderator */
    cfg->rate_limits[2] = (struct sl_rate_limit){ 10, 50 };     /* policy */
    cfg->plugin_budget_ms = 50;
    cfg->search_workers = 2;
    cfg->search_queue = 8;
    cfg->search_timeout_ms = 2000;
    cfg->bulk_confirm_above = 100;
    cfg->hashbank_retro_days = 30;
    cfg->creator_suspend = SL_SUSPEND_REVIEW;
}

static void plugins_clear(struct sl_config *cfg)
{
    for (int i = 0; i < cfg->nplugins; i++) {
        struct sl_plugin_conf *p = &cfg->plugins[i];
        free(p->name);
        free(p->path);
        for (int j = 0; j < p->nopts; j++) {
            free(p->keys[j]);
            free(p->values[j]);
        }
    }
    cfg->nplugins = 0;
}

static void hosts_clear(struct sl_config *cfg)
{
    for (int i = 0; i < cfg->nthumbnail_hosts; i++)
        free(cfg->thumbnail_hosts[i]);
    cfg->nthumbnail_hosts = 0;
}

void sl_config_clear(struct sl_config *cfg)
{
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (keys[i].type == K_STRING || keys[i].type == K_SLA || keys[i].type == K_BANKS)
            sl_config_set((char **)((char *)cfg + keys[i].offset), NULL);
    plugins_clear(cfg);
    hosts_clear(cfg);
}

/* {====================== Sandbox ======================================= */

/* Settings land in the registry table SETTINGS as name -> {value, line}; the
 * environment table itself stays empty so every assignment reaches here. */
static const char *const SETTINGS = "sluice.config.settings";

static int env_newindex(lua_State *L)
{
    lua_Debug ar;
    int line = 0;

    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar))
        line = ar.currentline;
    lua_getfield(L, LUA_REGISTRYINDEX, SETTINGS);
    lua_pushvalue(L, 2);
    lua_createtable(L, 2, 0);
    lua_pushvalue(L, 3);
    lua_rawseti(L, -2, 1);
    lua_pushinteger(L, line);
    lua_rawseti(L, -2, 2);
    lua_rawset(L, -3);
    return 0;
}

/* Reading a name: what the file set so far, else the allow-listed globals. */
static int env_index(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, SETTINGS);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) == LUA_TTABLE) {
        lua_rawgeti(L, -1, 1);
        return 1;
    }
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    return 1;
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "sluice.config.steps");
    lua_Integer steps = lua_tointeger(L, -1) + 1;
    lua_pop(L, 1);
    lua_pushinteger(L, steps);
    lua_setfield(L, LUA_REGISTRYINDEX, "sluice.config.steps");
    if (steps * CONFIG_HOOK_STEP > CONFIG_INSTRUCTION_LIMIT)
    {
        lua_getinfo(L, "Sl", ar);
        luaL_error(L, "%s:%d: the configuration runs too long (a loop that never ends?)",
                   ar->short_src, ar->currentline);
    }
}

/* The names a config file may read: arithmetic and string helpers only. */
static void push_allowed(lua_State *L)
{
    static const char *const base[] = { "ipairs", "pairs", "tostring",
        "tonumber", "type", "error", "assert", "select", NULL };
    static const char *const libs[] = { "string", "math", "table", NULL };

    lua_newtable(L);
    for (int i = 0; base[i]; i++) {
        lua_getglobal(L, base[i]);
        lua_setfield(L, -2, base[i]);
    }
    for (int i = 0; libs[i]; i++) {
        lua_getglobal(L, libs[i]);
        lua_setfield(L, -2, libs[i]);
    }
    /* string.dump would hand out bytecode; nothing else here needs it. */
    lua_getfield(L, -1, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
}

/* }====================================================================== */

/* {====================== Validation ==================================== */

struct ctx {
    const char *path;
    char *err;
    size_t errlen;
    size_t mem_used;            /* by the Lua state, under CONFIG_MEMORY_LIMIT */
    bool mem_refused;
};

/* The Lua state's allocator (ud is the ctx): the memory budget. */
static void *config_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct ctx *c = ud;
    size_t old = ptr != NULL ? osize : 0;   /* for new blocks osize is a type */
    void *p;

    if (nsize == 0) {
        free(ptr);
        c->mem_used -= old;
        return NULL;
    }
    if (nsize > old && nsize - old > CONFIG_MEMORY_LIMIT - c->mem_used) {
        c->mem_refused = true;
        return NULL;
    }
    if ((p = realloc(ptr, nsize)) == NULL)
        return nsize <= old ? ptr : NULL;   /* Lua expects shrinking to work */
    c->mem_used = c->mem_used - old + nsize;
    return p;
}

static int fail(struct ctx *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct ctx *c, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s:%d: %s", c->path, line, msg);
    return -EINVAL;
}

/* The error Lua raised, as "FILE:LINE: message". Lua names the file in
 * most, not all: a binary chunk refused, error("x", 0), error({}) (no
 * text at all before) come without it. */
static int lua_failed(struct ctx *c, lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    size_t n = strlen(c->path);

    if (c->mem_refused)
        snprintf(c->err, c->errlen, "%s: the configuration needs more than %zu MB of memory",
                 c->path, CONFIG_MEMORY_LIMIT >> 20);
    else if (msg == NULL)
        snprintf(c->err, c->errlen, "%s: error() with a %s, not a message", c->path,
                 luaL_typename(L, -1));
    else if (strncmp(msg, c->path, n) == 0 && msg[n] == ':')
        sl_copy(c->err, c->errlen, msg);
    else
        snprintf(c->err, c->errlen, "%s: %s", c->path, msg);
    return -EINVAL;
}

/* The string at idx, or NULL when it is none or holds a NUL byte: C would
 * read only what comes before it ("minors\0x" as "minors"). */
static const char *c_string(lua_State *L, int idx)
{
    size_t len;
    const char *s = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &len) : NULL;

    return s && strlen(s) == len ? s : NULL;
}

/* Option values reach plugins as strings: numbers and booleans are spelled
 * the way Lua prints them. */
static int plugin_value(lua_State *L, int idx, char **out)
{
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        if (!c_string(L, idx))
            return -EINVAL;
        /* fall through */
    case LUA_TNUMBER:
        *out = strdup(lua_tostring(L, idx));
        return 0;
    case LUA_TBOOLEAN:
        *out = strdup(lua_toboolean(L, idx) ? "true" : "false");
        return 0;
    default:
        return -EINVAL;
    }
}

static int read_plugins(lua_State *L, struct sl_config *cfg, int line, struct ctx *c)
{
    if (!lua_istable(L, -1))
        return fail(c, line, "'plugins' must be a list of tables like { name = \"keyword\" }");
    lua_Integer n = luaL_len(L, -1);
    if (n > SL_MAX_PLUGINS)
        return fail(c, line, "'plugins' lists %lld plugins; at most %d are allowed",
                    (long long)n, SL_MAX_PLUGINS);
    for (lua_Integer i = 1; i <= n; i++) {
        struct sl_plugin_conf *p = &cfg->plugins[cfg->nplugins];
        memset(p, 0, sizeof(*p));
        cfg->nplugins++;
        if (lua_rawgeti(L, -1, i) != LUA_TTABLE)
            return fail(c, line, "plugins[%lld] must be a table", (long long)i);
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            const char *k = c_string(L, -2);
            if (!k)
                return fail(c, line, "plugins[%lld] has a key that is not a name", (long long)i);
            char *v = NULL;
            if (plugin_value(L, -1, &v) < 0)
                return fail(c, line, "plugins[%lld].%s must be a string (without NUL bytes), "
                            "number or boolean", (long long)i, k);
            if (strcmp(k, "name") == 0) {
                p->name = v;
            } else if (strcmp(k, "path") == 0) {
                p->path = v;
            } else if (p->nopts < SL_MAX_PLUGIN_OPTS) {
                p->keys[p->nopts] = strdup(k);
                p->values[p->nopts++] = v;
            } else {
                free(v);
                return fail(c, line, "plugins[%lld] has more than %d options",
                            (long long)i, SL_MAX_PLUGIN_OPTS);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        if (!p->name || !*p->name)
            return fail(c, line, "plugins[%lld] needs a name", (long long)i);
        for (int j = 0; j < cfg->nplugins - 1; j++)
            if (strcmp(cfg->plugins[j].name, p->name) == 0)
                return fail(c, line, "plugin '%s' is listed twice", p->name);
    }
    return 0;
}

/* queue_sla = { minors = 3600, ["*"] = 86400 }: seconds to decision by
 * queue name ("*": the queues not named), kept as the store's JSON of ms. */
static int read_sla(lua_State *L, const struct key *k, char **slot, int line, struct ctx *c)
{
    char text[4096], *p = text;

    if (!lua_istable(L, -1))
        return fail(c, line, "'queue_sla' must be a table of queue = seconds, like "
                    "{ minors = 3600, [\"*\"] = 86400 }");
    p += snprintf(p, sizeof(text), "{");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        const char *q = c_string(L, -2);
        if (!q || (strcmp(q, "*") != 0 && !sl_id_valid(q)))
            return fail(c, line, "'queue_sla' keys must be queue names (ids) or \"*\"");
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < k->min ||
            lua_tointeger(L, -1) > k->max)
            return fail(c, line, "queue_sla.%s must be whole seconds from %lld to %lld", q,
                        k->min, k->max);
        size_t room = sizeof(text) - (size_t)(p - text);
        int n = snprintf(p, room, "%s\"%s\":%lld", p > text + 1 ? "," : "", q,
                         (long long)lua_tointeger(L, -1) * 1000);
        if (n < 0 || (size_t)n >= room - 1)
            return fail(c, line, "'queue_sla' names too many queues");
        p += n;
        lua_pop(L, 1);
    }
    strcpy(p, "}");
    sl_config_set(slot, text);
    return 0;
}

/* rate_limits = { ROLE = { rate = N, burst = N }, ... }: the roles named
 * change, the others keep their limits; so do fields left out. */
static int read_rates(lua_State *L, struct sl_config *cfg, int line, struct ctx *c)
{
    static const char *const roles[SL_CONF_ROLES] = { "ingest", "moderator", "policy", "admin" };

    if (!lua_istable(L, -1))
        return fail(c, line, "'rate_limits' must be a table like { moderator = { rate = 50, "
                    "burst = 200 } }");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        const char *role = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
        int r = 0;
        while (r < SL_CONF_ROLES && strcmp(role, roles[r]) != 0)
            r++;
        if (r == SL_CONF_ROLES)
            return fail(c, line, "rate_limits: '%s' is not a role (ingest, moderator, policy, "
                        "admin)", role);
        if (!lua_istable(L, -1))
            return fail(c, line, "rate_limits.%s must be a table like { rate = 50, burst = 200 }",
                        role);
        struct sl_rate_limit lim = cfg->rate_limits[r];
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            const char *f = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
            if (strcmp(f, "rate") == 0) {
                double v = lua_tonumber(L, -1);
                if (lua_type(L, -1) != LUA_TNUMBER || !(v >= 0 && v <= 1e6))
                    return fail(c, line, "rate_limits.%s.rate must be a number of requests a "
                                "second from 0 (no limit) to 1000000", role);
                lim.rate = v;
            } else if (strcmp(f, "burst") == 0) {
                if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
                    lua_tointeger(L, -1) > 10000000)
                    return fail(c, line, "rate_limits.%s.burst must be an integer from 1 to "
                                "10000000", role);
                lim.burst = (int)lua_tointeger(L, -1);
            } else {
                return fail(c, line, "rate_limits.%s has the unknown field '%s' (rate, burst)",
                            role, f);
            }
            lua_pop(L, 1);
        }
        if (lim.rate > 0 && lim.burst < 1)
            lim.burst = lim.rate < 1 ? 1 : (int)lim.rate;
        cfg->rate_limits[r] = lim;
        lua_pop(L, 1);
    }
    return 0;
}

/* A host name as a browser's CSP host-source matches it: letters, digits,
 * dots and dashes, optionally led by "*." for every subdomain. */
static bool host_pattern(const char *s)
{
    size_t n = strlen(s);

    if (strncmp(s, "*.", 2) == 0)
        s += 2, n -= 2;
    if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-' || s[n - 1] == '.' ||
        strstr(s, ".."))
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789.-") == n;
}

static int read_hosts(lua_State *L, struct sl_config *cfg, int line, struct ctx *c)
{
    if (!lua_istable(L, -1))
        return fail(c, line, "'thumbnail_hosts' must be a list of host names like "
                    "{ \"thumbs.example.com\", \"*.cdn.example.net\" }");
    lua_Integer n = luaL_len(L, -1);
    if (n > SL_MAX_THUMBNAIL_HOSTS)
        return fail(c, line, "'thumbnail_hosts' lists %lld hosts; at most %d are allowed",
                    (long long)n, SL_MAX_THUMBNAIL_HOSTS);
    hosts_clear(cfg);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        const char *h = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
        if (!host_pattern(h))
            return fail(c, line, "thumbnail_hosts[%lld] must be a lower-case host name, "
                        "optionally \"*.\" and a domain (no scheme, port or path)",
                        (long long)i);
        if (!(cfg->thumbnail_hosts[cfg->nthumbnail_hosts] = strdup(h)))
            return fail(c, line, "out of memory");
        cfg->nthumbnail_hosts++;
        lua_pop(L, 1);
    }
    return 0;
}

/* hashbank_action = { csam = "takedown", ["*"] = "review" }: what follows a
 * stored item's match with a hash bank's new hashes, by bank ("*": the
 * banks not named), kept as JSON. */
static int read_banks(lua_State *L, char **slot, int line, struct ctx *c)
{
    static const char *const actions[] = { "nothing", "review", "takedown", NULL };
    char text[4096], *p = text;

    if (!lua_istable(L, -1))
        return fail(c, line, "'hashbank_action' must be a table of bank = \"nothing\", "
                    "\"review\" or \"takedown\", like { csam = \"takedown\", "
                    "[\"*\"] = \"review\" }");
    p += snprintf(p, sizeof(text), "{");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        const char *b = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        const char *a = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
        int k = 0;
        if (!b || (strcmp(b, "*") != 0 && !sl_id_valid(b)))
            return fail(c, line, "'hashbank_action' keys must be bank names (ids) or \"*\"");
        while (actions[k] && strcmp(actions[k], a) != 0)
            k++;
        if (!actions[k])
            return fail(c, line, "hashbank_action.%s must be \"nothing\", \"review\" or "
                        "\"takedown\"", b);
        size_t room = sizeof(text) - (size_t)(p - text);
        int n = snprintf(p, room, "%s\"%s\":\"%s\"", p > text + 1 ? "," : "", b, a);
        if (n < 0 || (size_t)n >= room - 1)
            return fail(c, line, "'hashbank_action' names too many banks");
        p += n;
        lua_pop(L, 1);
    }
    strcpy(p, "}");
    sl_config_set(slot, text);
    return 0;
}

static int apply_key(lua_State *L, const struct key *k, struct sl_config *cfg,
                     int line, struct ctx *c)
{
    void *slot = (char *)cfg + k->offset;

    switch (k->type) {
    case K_STRING:
        if (lua_type(L, -1) != LUA_TSTRING)
            return fail(c, line, "'%s' must be a string, not %s", k->name, luaL_typename(L, -1));
        if (!c_string(L, -1))
            return fail(c, line, "'%s' holds a NUL byte", k->name);
        sl_config_set(slot, lua_tostring(L, -1));
        return 0;
    case K_SIZE:
    case K_INT: {
        if (!lua_isinteger(L, -1))
            return fail(c, line, "'%s' must be an integer, not %s", k->name,
                        lua_type(L, -1) == LUA_TNUMBER ? "a fraction" : luaL_typename(L, -1));
        lua_Integer v = lua_tointeger(L, -1);
        if (v < k->min || v > k->max)
            return fail(c, line, "'%s' must be between %lld and %lld", k->name, k->min, k->max);
        if (k->type == K_INT)
            *(int *)slot = (int)v;
        else if (strcmp(k->name, "lua_instruction_limit") == 0)
            *(uint64_t *)slot = (uint64_t)v;
        else
            *(size_t *)slot = (size_t)v;
        return 0;
    }
    case K_BOOL:
        if (!lua_isboolean(L, -1))
            return fail(c, line, "'%s' must be true or false, not %s", k->name,
                        luaL_typename(L, -1));
        *(bool *)slot = lua_toboolean(L, -1);
        return 0;
    case K_LOGLEVEL: {
        int level = c_string(L, -1) ? sl_log_level_parse(lua_tostring(L, -1)) : -EINVAL;
        if (level < 0)
            return fail(c, line, "'log_level' must be \"error\", \"warn\", \"info\" or \"debug\"");
        *(int *)slot = level;
        return 0;
    }
    case K_PLUGINS:
        plugins_clear(cfg);
        return read_plugins(L, cfg, line, c);
    case K_SLA:
        return read_sla(L, k, slot, line, c);
    case K_RATES:
        return read_rates(L, cfg, line, c);
    case K_HOSTS:
        return read_hosts(L, cfg, line, c);
    case K_BANKS:
        return read_banks(L, slot, line, c);
    case K_SUSPEND: {
        const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
        for (int i = 0; suspend_modes[i]; i++)
            if (strcmp(v, suspend_modes[i]) == 0) {
                *(int *)slot = i;
                return 0;
            }
        return fail(c, line, "'%s' must be \"review\" (a suspended creator's uploads wait "
                    "for people) or \"refuse\"", k->name);
    }
    }
    return 0;
}

/* Settings in the order of their lines, so the first error is the first one
 * a reader meets in the file. */
struct setting {
    const char *name;
    int line;
};

static int by_line(const void *a, const void *b)
{
    return ((const struct setting *)a)->line - ((const struct setting *)b)->line;
}

static int apply_settings(lua_State *L, struct sl_config *cfg, struct ctx *c)
{
    struct setting set[64];
    int n = 0;

    lua_getfield(L, LUA_REGISTRYINDEX, SETTINGS);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_rawgeti(L, -1, 2);
        int line = (int)lua_tointeger(L, -1);
        lua_pop(L, 2);
        if (!c_string(L, -1))
            return fail(c, line, "a setting's name must be a string without NUL bytes");
        if (n == (int)(sizeof(set) / sizeof(set[0])))
            return fail(c, line, "too many settings");
        set[n].name = lua_tostring(L, -1);
        set[n++].line = line;
    }
    qsort(set, n, sizeof(set[0]), by_line);
    for (int i = 0; i < n; i++) {
        const struct key *k = NULL;
        for (size_t j = 0; j < sizeof(keys) / sizeof(keys[0]); j++)
            if (strcmp(keys[j].name, set[i].name) == 0)
                k = &keys[j];
        if (!k)
            return fail(c, set[i].line, "unknown key '%s'", set[i].name);
        lua_getfield(L, -1, set[i].name);
        lua_rawgeti(L, -1, 1);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 2);
            continue;   /* `key = nil` keeps the default */
        }
        int rc = apply_key(L, k, cfg, set[i].line, c);
        lua_pop(L, 2);
        if (rc < 0)
            return rc;
    }
    lua_pop(L, 1);
    return 0;
}

/* }====================================================================== */

/* An ADDR:PORT on the loopback interface. */
static bool loopback(const char *listen)
{
    return strncmp(listen, "127.", 4) == 0 || strncmp(listen, "[::1]:", 6) == 0 ||
           strncmp(listen, "localhost:", 10) == 0;
}

/* A libpq connection string: a URI, or keyword=value pairs. */
static bool pg_conninfo(const char *store)
{
    return strncmp(store, "postgresql://", 13) == 0 || strncmp(store, "postgres://", 11) == 0 ||
           strchr(store, '=') != NULL;
}

/* sl_config_check, naming the setting at fault in *key. */
static int check(const struct sl_config *cfg, char *err, size_t errlen, const char **key)
{
    /* Whoever can reach the daemon from elsewhere must not move its time. */
    if (cfg->simulated_clock && !loopback(cfg->listen)) {
        *key = "simulated_clock";
        snprintf(err, errlen, "'simulated_clock' needs a loopback listener, and listen is "
                 "%s: an admin could end every wave and lease at will", cfg->listen);
        return -EINVAL;
    }
    if (cfg->node_name && !sl_id_valid(cfg->node_name)) {
        *key = "node_name";
        snprintf(err, errlen, "'node_name' must be 1 to %d of A-Z a-z 0-9 _ . : @ -, not "
                 "starting with '.'", SL_ID_MAX);
        return -EINVAL;
    }
    if (cfg->store && *cfg->store) {
        *key = "store";
        if (!pg_conninfo(cfg->store)) {
            snprintf(err, errlen, "'store' must be a PostgreSQL connection string "
                     "(\"postgresql://...\" or \"host=... dbname=...\"); leave it out for "
                     "SQLite under state_dir");
            return -EINVAL;
        }
#ifndef HAVE_LIBPQ
        snprintf(err, errlen, "'store' names a PostgreSQL database, and this sluiced was "
                 "built without libpq: leave 'store' out for SQLite, or rebuild with "
                 "libpq-dev installed");
        return -ENOTSUP;
#endif
    }
    return 0;
}

int sl_config_check(const struct sl_config *cfg, char *err, size_t errlen)
{
    const char *key;
    return check(cfg, err, errlen, &key);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *bigger = cap < (8u << 20) ? realloc(buf, cap *= 2) : NULL;
            if (!bigger) {
                free(buf);
                buf = NULL;
            }
            buf = bigger;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

int sl_config_load(struct sl_config *cfg, const char *path, char *err, size_t errlen)
{
    struct ctx c = { path, err, errlen, 0, false };
    struct sl_config next;
    size_t len;
    int rc = 0;

    char *text = read_file(path, &len);
    if (!text) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno ? errno : EFBIG));
        return -EIO;
    }
    lua_State *L = lua_newstate(config_alloc, &c);
    if (!L) {
        free(text);
        snprintf(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    lua_settop(L, 0);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, SETTINGS);

    /* chunk name "@path" makes Lua's own messages read "path:line: ..." */
    char chunkname[4096];
    snprintf(chunkname, sizeof(chunkname), "@%s", path);
    if (luaL_loadbufferx(L, text, len, chunkname, "t") != LUA_OK) {
        rc = lua_failed(&c, L);
        goto out;
    }
    lua_newtable(L);                    /* the environment */
    lua_newtable(L);                    /* its metatable */
    push_allowed(L);
    lua_pushcclosure(L, env_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, env_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);
    lua_setupvalue(L, -2, 1);           /* _ENV of the chunk */
    lua_sethook(L, count_hook, LUA_MASKCOUNT, CONFIG_HOOK_STEP);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
        rc = lua_failed(&c, L);
        goto out;
    }
    lua_sethook(L, NULL, 0, 0);

    /* Apply onto a copy so that a failure leaves cfg untouched. */
    next = *cfg;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (keys[i].type == K_STRING || keys[i].type == K_SLA || keys[i].type == K_BANKS) {
            char **s = (char **)((char *)&next + keys[i].offset);
            *s = *s ? strdup(*s) : NULL;
        }
    for (int i = 0; i < next.nplugins; i++) {
        struct sl_plugin_conf *p = &next.plugins[i];
        p->name = strdup(p->name);
        p->path = p->path ? strdup(p->path) : NULL;
        for (int j = 0; j < p->nopts; j++) {
            p->keys[j] = strdup(p->keys[j]);
            p->values[j] = strdup(p->values[j]);
        }
    }
    for (int i = 0; i < next.nthumbnail_hosts; i++)
        if (!(next.thumbnail_hosts[i] = strdup(next.thumbnail_hosts[i]))) {
            next.nthumbnail_hosts = i;
            rc = fail(&c, 0, "out of memory");
        }
    if (rc == 0)
        rc = apply_settings(L, &next, &c);
    const char *key = NULL;
    if (rc == 0 && check(&next, err, errlen, &key) < 0) {
        /* Name the file, and the line that asked for what does not fit. */
        char why[512];
        sl_copy(why, sizeof(why), err);
        lua_getfield(L, LUA_REGISTRYINDEX, SETTINGS);
        lua_getfield(L, -1, key);
        int line = lua_istable(L, -1) ? (lua_rawgeti(L, -1, 2), (int)lua_tointeger(L, -1)) : 0;
        rc = fail(&c, line, "%s", why);
    }
    if (rc < 0) {
        sl_config_clear(&next);
    } else {
        sl_config_clear(cfg);
        *cfg = next;
    }
out:
    lua_close(L);
    free(text);
    return rc;
}
