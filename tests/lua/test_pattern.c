/* SPDX-License-Identifier: MIT */
/* The budgeted pattern functions agree with stock Lua 5.4, case by case and at random. */
#define _POSIX_C_SOURCE 200809L
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include <lualib.h>

/*
 * Every case runs the same Lua snippet twice: in a stock state (the string
 * library as shipped) and in the sandbox (lua_pattern.c), both under the
 * chunk name "probe", and the serialized results, error messages included,
 * must be identical.
 */
static const char snippet[] =
    "local s, p = ...\n"
    "local function ser(...)\n"
    "  local out = {}\n"
    "  for i = 1, select('#', ...) do\n"
    "    local v = select(i, ...)\n"
    "    if type(v) == 'string' then out[i] = 's' .. #v .. ':' .. v\n"
    "    elseif type(v) == 'number' then out[i] = math.type(v) .. ':' .. tostring(v)\n"
    "    else out[i] = type(v) .. ':' .. tostring(v) end\n"
    "  end\n"
    "  return select('#', ...) .. '|' .. table.concat(out, '|')\n"
    "end\n"
    "local function all(init)\n"
    "  local t = {}\n"
    "  for a, b, c in string.gmatch(s, p, init) do\n"
    "    t[#t + 1] = ser(a, b, c)\n"
    "    if #t > 40 then break end\n"
    "  end\n"
    "  return table.concat(t, ',')\n"
    "end\n"
    "local r = {}\n"
    "r[#r + 1] = ser(pcall(string.find, s, p))\n"
    "r[#r + 1] = ser(pcall(string.find, s, p, 3))\n"
    "r[#r + 1] = ser(pcall(string.find, s, p, -2))\n"
    "r[#r + 1] = ser(pcall(string.find, s, p, 40))\n"
    "r[#r + 1] = ser(pcall(string.find, s, p, 1, true))\n"
    "r[#r + 1] = ser(pcall(string.match, s, p))\n"
    "r[#r + 1] = ser(pcall(string.match, s, p, -3))\n"
    "r[#r + 1] = ser(pcall(all))\n"
    "r[#r + 1] = ser(pcall(all, 2))\n"
    "r[#r + 1] = ser(pcall(function() local n = 0 for a in s:gmatch(p) do n = n + 1"
    " if n > 40 then break end end return n end))\n"
    "r[#r + 1] = ser(pcall(string.gsub, s, p, '<%0>'))\n"
    "r[#r + 1] = ser(pcall(string.gsub, s, p, '%1-%%'))\n"
    "r[#r + 1] = ser(pcall(string.gsub, s, p, '%2'))\n"
    "r[#r + 1] = ser(pcall(string.gsub, s, p, {a = 'A', [' '] = 7, b = false}))\n"
    "r[#r + 1] = ser(pcall(string.gsub, s, p, function(x, y) return y or (#x > 1 and '!') end, 2))\n"
    "r[#r + 1] = ser(pcall(string.gsub, s, p, 5))\n"
    "r[#r + 1] = ser(pcall(function() return s:gsub(p, '[%0]') end))\n"
    "return table.concat(r, '\\n')\n";

static char *stock_run(lua_State *L, const char *s, const char *p)
{
    char *out;

    if (luaL_loadbufferx(L, snippet, sizeof snippet - 1, "=probe", "t") != LUA_OK)
        fail_msg("snippet: %s", lua_tostring(L, -1));
    lua_pushstring(L, s);
    lua_pushstring(L, p);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK)
        fail_msg("stock run failed: %s", lua_tostring(L, -1));
    out = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    return out;
}

static char *sandbox_run(struct sl_lua *sl, const char *s, const char *p)
{
    json_t *args[3] = { json_string(snippet), json_string(s), json_string(p) };
    json_t *res = NULL;
    char err[ERRLEN], *out;

    if (sl_lua_call_json(sl, "probe", NULL, args, 3, &res, err, sizeof err) != 0)
        fail_msg("sandbox run of s=\"%s\" p=\"%s\" failed: %s", s, p, err);
    out = strdup(json_string_value(res));
    json_decref(res);
    json_decref(args[0]);
    json_decref(args[1]);
    json_decref(args[2]);
    return out;
}

static void compare(lua_State *L, struct sl_lua *sl, const char *s, const char *p)
{
    char *want = stock_run(L, s, p), *got = sandbox_run(sl, s, p);

    if (strcmp(want, got) != 0)
        fail_msg("s=\"%s\" p=\"%s\"\nstock:\n%s\nsandbox:\n%s", s, p, want, got);
    free(want);
    free(got);
}

static void test_known_cases(void **state)
{
    static const char *const cases[][2] = {
        { "hello world", "o w" }, { "hello", "l+" }, { "hello", "(h)(e)" },
        { "hello", "()ll()" }, { "  trim me  ", "^%s*(.-)%s*$" },
        { "THE (quick) fox", "%((%a+)%)" }, { "f(a(b)c)d", "%b()" },
        { "THE (quick) fox", "%f[%a]%a+" }, { "abcabc", "(abc)%1" },
        { "a.b", "%." }, { "a]b", "[]]" }, { "a^b", "[%^]" }, { "x-y", "[a-]" },
        { "x-y", "[-a]" }, { "key = value", "(%w+)%s*=%s*(%w+)" }, { "", "" },
        { "abc", "" }, { "abc", "$" }, { "abc", "^$" }, { "aaa", "a-$" },
        { "aaa", "a?a?a?aaa" }, { "abc", "%" }, { "abc", "[a" }, { "abc", "[^" },
        { "abc", "(a" }, { "abc", "a)" }, { "abc", "%b" }, { "abc", "%ba" },
        { "abc", "%f" }, { "abc", "%fa" }, { "abc", "%1" }, { "abc", "(a)%2" },
        { "abc", "%0" }, { "abc", "(()a)" }, { "abc", "()%1" }, { "a$b", "a$b" },
        { "a$", "$$" }, { "^a", "^^a" }, { "aXb", "%u" }, { "aXb", "%U+" },
        { "a\tb\nc", "%c" }, { "a1 b2", "%w%d" }, { "ff 0x1F", "%x+" },
        { "a.b,c!", "%p" }, { "a b", "%g+" }, { "abc", "[%a-z]" }, { "a-z", "[a%-z]+" },
        { "12ab", "[^%d]+" }, { "abc", ".-b" }, { "abcbc", "(.-)b" }, { "x", "x*" },
        { "xxx", "x-" }, { "xyz", "[x-z]+$" }, { "THE END", "%f[%z]" }, { "ab", "%f[^a]" },
        { "hello world from Lua", "(%w+) (%w+)" }, { "abc", "((a)(b))" },
        { "aaa", "(a*(.)%w(%s*))" },
    };
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    lua_State *L = luaL_newstate();
    size_t i;

    (void)state;
    luaL_openlibs(L);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        compare(L, sl, cases[i][0], cases[i][1]);
    lua_close(L);
    sl_lua_free(sl);
}

/* A fixed-seed generator, so that a failure can be replayed. */
static unsigned long long rng = 0x9E3779B97F4A7C15ull;

static unsigned pick(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static void test_random_patterns(void **state)
{
    static const char *const tokens[] = {
        "a", "b", ".", "%a", "%d", "%s", "%A", "[ab]", "[^a]", "[a-c]", "[%d%s]", "*",
        "+", "-", "?", "(", ")", "()", "^", "$", "%b()", "%f[%w]", "%f[%W]", "%1", "%2",
        "%", "[", "]", "%(", "%%", "1", " ", "[]]", "[^]a]",
    };
    static const char subject_chars[] = "aab()1 -%]^$.b\t";
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    lua_State *L = luaL_newstate();
    char s[32], p[128];
    int i, k, n;

    (void)state;
    luaL_openlibs(L);
    for (i = 0; i < 2500; i++) {
        n = (int)pick(16);
        for (k = 0; k < n; k++)
            s[k] = subject_chars[pick(sizeof subject_chars - 1)];
        s[n] = '\0';
        p[0] = '\0';
        n = 1 + (int)pick(7);
        for (k = 0; k < n; k++)
            strcat(p, tokens[pick(sizeof tokens / sizeof tokens[0])]);
        compare(L, sl, s, p);
    }
    lua_close(L);
    sl_lua_free(sl);
}

/* Ordinary work on a long transcript stays well inside the budget. */
static void test_realistic_work_fits(void **state)
{
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    json_t *res = probe_ok(sl,
        "local s = string.rep('lorem ipsum dolor ', 5000) .. 'target word'\n"
        "local words = select(2, s:gsub('%w+', ''))\n"
        "local at = s:find('%f[%w]target%f[%W]')\n"
        "local n = 0 for w in s:gmatch('%a+') do n = n + 1 end\n"
        "local trimmed = ('  ' .. s .. '  '):match('^%s*(.-)%s*$')\n"
        "return words, at, n, #trimmed, utf8.len(s)");
    json_t *want = json_pack("[i i i i i]", 15002, 90001, 15002, 90011, 90011);

    (void)state;
    if (!json_equal(res, want))
        fail_msg("got %s", json_dumps(res, 0));
    json_decref(res);
    json_decref(want);
    sl_lua_free(sl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_cases),
        cmocka_unit_test(test_random_patterns),
        cmocka_unit_test(test_realistic_work_fits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
