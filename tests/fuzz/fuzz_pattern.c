/* SPDX-License-Identifier: MIT */
/* string.find, match, gmatch and gsub of policies (lua/lua_pattern.c) against stock Lua 5.4. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <lauxlib.h>
#include <lualib.h>

#include "fuzz.h"
#include "lua/sandbox.h"

/*
 * One input is "PATTERN\nREPLACEMENT\nSUBJECT" (the subject may hold
 * newlines; a missing part is ""). The same snippet runs in the sandbox,
 * where the budgeted pattern functions replace the stock ones, and in a
 * stock Lua state: every call ends within the sandbox's small budget, and
 * whenever the sandbox finishes, both say exactly the same, error messages
 * included. The sandbox is the policies-probe fixture of tests/lua.
 */

static const struct sl_lua_limits limits = {
    .memory = 16u << 20,
    .instructions = 50000,
};

static const char snippet[] =
    "local s, p, r = ...\n"
    "local function ser(...)\n"
    "  local out = {}\n"
    "  for i = 1, select('#', ...) do\n"
    "    local v = select(i, ...)\n"
    "    if type(v) == 'string' then\n"
    "      out[i] = 's' .. #v .. ':' .. ('%02x'):rep(#v):format(v:byte(1, -1))\n"
    "    elseif type(v) == 'number' then out[i] = math.type(v) .. ':' .. tostring(v)\n"
    "    else out[i] = type(v) .. ':' .. tostring(v) end\n"
    "  end\n"
    "  return select('#', ...) .. '|' .. table.concat(out, '|')\n"
    "end\n"
    /* The sandbox's memory budget is not the stock state's: refused
     * memory fails the whole call, never one compared result. */
    "local function try(f, ...)\n"
    "  local t = table.pack(pcall(f, ...))\n"
    "  if not t[1] and t[2] == 'not enough memory' then error(t[2], 0) end\n"
    "  return ser(table.unpack(t, 1, t.n))\n"
    "end\n"
    "local function all(init)\n"
    "  local t = {}\n"
    "  for a, b, c in string.gmatch(s, p, init) do\n"
    "    t[#t + 1] = ser(a, b, c)\n"
    "    if #t > 40 then break end\n"
    "  end\n"
    "  return table.concat(t, ',')\n"
    "end\n"
    "local out = {\n"
    "  try(string.find, s, p),\n"
    "  try(string.find, s, p, 3),\n"
    "  try(string.find, s, p, -4),\n"
    "  try(string.find, s, p, #s + 1),\n"
    "  try(string.find, s, p, 1, true),\n"
    "  try(string.match, s, p),\n"
    "  try(string.match, s, p, -3),\n"
    "  try(all),\n"
    "  try(all, 2),\n"
    "  try(string.gsub, s, p, r),\n"
    "  try(string.gsub, s, p, r, 2),\n"
    "  try(string.gsub, s, p, {a = 'A', [''] = r, b = false}),\n"
    "  try(string.gsub, s, p, function(x, y) return y or (#x > 1 and r) end),\n"
    "  try(string.find, r, p),\n"
    "}\n"
    "return table.concat(out, '\\n')\n";

static struct sl_lua *sl;
static lua_State *stock;

static void setup(void)
{
    char err[SL_LUA_ERR_MAX];
    json_t *args[2] = { json_string("fuzz"), json_string(snippet) };
    json_t *res = NULL;

    sl = sl_lua_new(&limits);
    FUZZ_CHECK(sl != NULL, "sl_lua_new: %s", strerror(errno));
    FUZZ_CHECK(sl_lua_load_dir(sl, fuzz_source_path("tests/lua/policies-probe"), err,
                               sizeof err) == 0, "the probe fixture: %s", err);
    FUZZ_CHECK(sl_lua_call_json(sl, "set_hook", NULL, args, 2, &res, err, sizeof err) == 0,
               "set_hook: %s", err);
    json_decref(res);
    json_decref(args[0]);
    json_decref(args[1]);
    stock = luaL_newstate();
    FUZZ_CHECK(stock != NULL, "out of memory");
    luaL_openlibs(stock);
}

/* The next part of [*p, end) up to a newline, as a JSON string of any bytes. */
static json_t *part(const char **p, const char *end, bool last)
{
    const char *nl = last ? NULL : memchr(*p, '\n', (size_t)(end - *p));
    const char *stop = nl ? nl : end;
    json_t *v = json_stringn_nocheck(*p, (size_t)(stop - *p));

    FUZZ_CHECK(v != NULL, "out of memory");
    *p = nl ? nl + 1 : end;
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    char err[SL_LUA_ERR_MAX];
    json_t *res = NULL;

    if (sl == NULL)
        setup();
    json_t *pat = part(&p, end, false), *repl = part(&p, end, false);
    json_t *subject = part(&p, end, true);
    json_t *args[3] = { subject, pat, repl };

    int rc = sl_lua_call_json(sl, "fuzz", NULL, args, 3, &res, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == -ETIMEDOUT || rc == -ENOMEM, "rc %d: %s", rc, err);
    if (rc == 0) {
        FUZZ_CHECK(json_is_string(res), "no string back");
        FUZZ_CHECK(luaL_loadbufferx(stock, snippet, sizeof snippet - 1, "=fuzz", "t") == LUA_OK,
                   "%s", lua_tostring(stock, -1));
        for (int i = 0; i < 3; i++)
            lua_pushlstring(stock, json_string_value(args[i]), json_string_length(args[i]));
        FUZZ_CHECK(lua_pcall(stock, 3, 1, 0) == LUA_OK, "stock: %s", lua_tostring(stock, -1));
        const char *want = lua_tostring(stock, -1);
        FUZZ_CHECK(strcmp(want, json_string_value(res)) == 0, "stock:\n%s\nsandbox:\n%s", want,
                   json_string_value(res));
        lua_settop(stock, 0);
    }
    json_decref(res);
    for (int i = 0; i < 3; i++)
        json_decref(args[i]);
    return 0;
}
