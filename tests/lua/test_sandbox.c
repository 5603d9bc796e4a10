/* SPDX-License-Identifier: MIT */
/* The sandbox: escapes fail closed, budgets hold, loading is ordered, named and versioned. */
#define _POSIX_C_SOURCE 200809L
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/plugin.h"
#include "lib/sha256.h"

/* ====== escapes ====== */

static void test_forbidden_names_absent(void **state)
{
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    json_t *res = probe_ok(sl,
        "return type(io), type(debug), type(package), type(dofile), type(loadfile),"
        " type(collectgarbage), type(coroutine), type(os.execute), type(os.getenv),"
        " type(os.exit), type(os.remove), type(os.rename), type(os.tmpname),"
        " type(string.dump), type(warn), type(rawget(_G, 'io')),"
        " type(require), type(load), type(os.time), type(os.clock), type(print)");
    json_t *want = json_pack("[sssssssssssssssss ssss]", "nil", "nil", "nil", "nil", "nil",
                             "nil", "nil", "nil", "nil", "nil", "nil", "nil", "nil", "nil",
                             "nil", "nil", "function", "function", "function", "function",
                             "function");

    (void)state;
    if (!json_equal(res, want))
        fail_msg("got %s", json_dumps(res, 0));
    json_decref(res);
    json_decref(want);
    sl_lua_free(sl);
}

static void test_escapes_fail_closed(void **state)
{
    static const struct {
        const char *code;
        const char *want;
    } cases[] = {
        { "io.open('/etc/passwd')", "global 'io'" },
        { "return io.popen('id'):read('a')", "global 'io'" },
        { "os.execute('true')", "field 'execute'" },
        { "os.exit(1)", "field 'exit'" },
        { "return os.getenv('HOME')", "field 'getenv'" },
        { "debug.getregistry()", "global 'debug'" },
        { "debug.sethook()", "global 'debug'" },
        { "package.loadlib('libc.so.6', 'system')", "global 'package'" },
        { "dofile('/etc/passwd')", "global 'dofile'" },
        { "loadfile('/etc/passwd')", "global 'loadfile'" },
        { "collectgarbage('count')", "global 'collectgarbage'" },
        { "require('../etc/passwd')", "module name" },
        { "require('a/b')", "module name" },
        { "require('..')", "module name" },
        { "require('/etc/passwd')", "module name" },
        { "require('probe.lua')", "module name" },
        { "require('')", "module name" },
        { "require('os')", "no module 'os'" },
        { "require('io')", "no module 'io'" },
        { "require('debug')", "no module 'debug'" },
        { "load(string.dump(print))", "field 'dump'" },
        { "load(function() return nil end)", "string of Lua source" },
        { "load('return 1', 'x', 't', {})", "environment" },
        { "setmetatable({}, {__gc = function() end})", "__gc" },
        { "getmetatable('').__index.rep = nil", "boolean" },
        { "coroutine.create(print)", "global 'coroutine'" },
    };
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        probe_fails(sl, cases[i].code, -EINVAL, cases[i].want);
    sl_lua_free(sl);
}

/* Bytecode can only come from outside (string.dump is gone); it is refused. */
static void test_bytecode_refused(void **state)
{
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    json_t *res = probe_ok(sl, "return load('\\27LuaT\\0\\25\\147\\r\\n\\26\\n\\4\\8\\8')");
    char err[ERRLEN], *dir;
    struct sl_lua *other;

    (void)state;
    assert_true(json_is_array(res));
    assert_true(json_is_null(json_array_get(res, 0)));
    assert_non_null(strstr(json_string_value(json_array_get(res, 1)), "binary chunk"));
    json_decref(res);
    /* Whatever mode the policy asks for, text is all it gets. */
    res = probe_ok(sl, "local f, e = load('\\27Lua', 'x', 'b') return f == nil, e");
    assert_true(json_is_true(json_array_get(res, 0)));
    assert_non_null(strstr(json_string_value(json_array_get(res, 1)), "binary chunk"));
    json_decref(res);
    sl_lua_free(sl);

    dir = temp_dir();
    write_file(dir, "10-compiled.lua", "\x1bLuaT\x01\x02\x03");
    other = sl_lua_new(NULL);
    assert_int_equal(sl_lua_load_dir(other, dir, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "/10-compiled.lua: attempt to load a binary chunk"));
    sl_lua_free(other);
    remove_dir(dir);
}

/* Loaded code runs in the policy environment, never the real globals. */
static void test_load_runs_in_sandbox(void **state)
{
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    json_t *res = probe_ok(sl,
        "shared = 7 local f = load('return shared, type(io), type(collectgarbage)')"
        " return f()");
    json_t *want = json_pack("[i s s]", 7, "nil", "nil");

    (void)state;
    assert_true(json_equal(res, want));
    json_decref(res);
    json_decref(want);
    sl_lua_free(sl);
}

/* ====== budgets ====== */

static void test_instruction_budget(void **state)
{
    static const char *const loops[] = {
        "while true do end",
        "local function f() return f() end return f()",
        /* a policy that catches the budget error must not carry on */
        "for i = 1, 100 do pcall(function() while true do end end) end return 'escaped'",
        "xpcall(function() while true do end end, function() while true do end end)"
        " return 'escaped'",
        /* work the instruction hook cannot see, charged explicitly */
        "return string.find(string.rep('a', 100000), 'a*b')",
        "return string.match(string.rep('a', 5000), ('a-'):rep(30) .. 'b')",
        "return string.gsub(string.rep('(', 100000), '%b()', '')",
        "local s = string.rep('a', 1000000) for i = 1, 100000 do utf8.len(s) end",
        "local s = string.rep('a', 1000000) for i = 1, 100000 do local x = s .. 'b' end",
        "local s = string.rep('a', 1000000) for i = 1, 100000 do s:find('ab', 1, true) end",
        "local t = setmetatable({}, {__len = function() return 1e12 end,"
        " __index = {}, __newindex = {}}) table.insert(t, 1, 'x')",
        "table.move({}, 1, 1e12, 2)",
    };
    /* The time limit far away: on slow memory (AddressSanitizer's
     * allocator on a virtual machine) a megabyte concatenated a hundred
     * thousand times reached 50 ms of CPU before the budget ran out. */
    struct sl_lua *sl = load_patient(0);
    size_t i;

    (void)state;
    for (i = 0; i < sizeof loops / sizeof loops[0]; i++)
        probe_fails(sl, loops[i], -ETIMEDOUT, "instruction budget exhausted");
    /* The error names where it happened. */
    probe_fails(sl, "local n = 0\nwhile true do\n  n = n + 1\nend", -ETIMEDOUT, "probe:");
    sl_lua_free(sl);
}

/* The same loop passes or fails with the configured budget. */
static void test_instruction_limit_configurable(void **state)
{
    struct sl_lua_limits small = { .instructions = 20000 };
    struct sl_lua *def = load_fixture("policies-probe", NULL);
    struct sl_lua *tight = load_fixture("policies-probe", &small);
    const char *code = "local n = 0 for i = 1, 50000 do n = n + i end return n";
    json_t *res = probe_ok(def, code);

    (void)state;
    assert_int_equal(json_integer_value(res), 1250025000);
    json_decref(res);
    probe_fails(tight, code, -ETIMEDOUT, "instruction budget exhausted");
    sl_lua_free(def);
    sl_lua_free(tight);
}

static void test_memory_budget(void **state)
{
    /* It is the memory limit under test: under AddressSanitizer filling
     * 4 MB can take longer than the default 50 ms of CPU. */
    struct sl_lua_limits limits = { .memory = 4 << 20, .instructions = 1000000000,
                                    .time_ms = PATIENT_MS };
    struct sl_lua *sl = load_fixture("policies-probe", &limits);
    size_t before = sl_lua_memory(sl);
    json_t *res;

    (void)state;
    assert_true(before > 0 && before < limits.memory);
    probe_fails(sl, "return #string.rep('x', 1 << 30)", -ENOMEM, "memory budget exhausted");
    probe_fails(sl, "local t = {} for i = 1, 1e8 do t[i] = i end", -ENOMEM,
                "memory budget exhausted");
    probe_fails(sl, "local t = {} for i = 1, 1e8 do t[#t + 1] = {i} end", -ENOMEM,
                "memory budget exhausted");
    probe_fails(sl, "local s = 'x' while true do s = s .. s end", -ENOMEM,
                "memory budget exhausted");
    /* What a failed call built is given back. */
    assert_true(sl_lua_memory(sl) < before + (256 << 10));
    /* A policy may catch an allocation failure and go on. */
    res = probe_ok(sl, "local ok = pcall(string.rep, 'x', 1 << 30) return ok");
    assert_true(json_is_false(res));
    json_decref(res);
    sl_lua_free(sl);
}

static void test_default_memory_budget(void **state)
{
    struct sl_lua *sl = load_fixture("policies-probe", NULL);

    (void)state;
    probe_fails(sl, "return #string.rep('x', 100 << 20)", -ENOMEM, "(67108864 bytes)");
    sl_lua_free(sl);
}

static void test_limits_refused(void **state)
{
    struct sl_lua_limits tiny_mem = { .memory = 1000 };
    struct sl_lua_limits tiny_instr = { .instructions = 10 };

    (void)state;
    errno = 0;
    assert_null(sl_lua_new(&tiny_mem));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(sl_lua_new(&tiny_instr));
    assert_int_equal(errno, EINVAL);
    sl_lua_free(NULL);
}

/* ====== errors and print ====== */

static void test_errors_name_file_and_line(void **state)
{
    struct sl_lua *sl = load_fixture("policies-probe", NULL);

    (void)state;
    probe_fails(sl, "error('boom')", -EINVAL, "probe:1: boom");
    probe_fails(sl, "\n\nerror('no position', 0)", -EINVAL, "probe:3: no position");
    probe_fails(sl, "error({})", -EINVAL, "probe:1: error object is a table value");
    probe_fails(sl, "local t = nil\nreturn t.x", -EINVAL,
                "probe:2: attempt to index a nil value (local 't')");
    probe_fails(sl, "error('two\\nlines')", -EINVAL, "probe:1: two lines");
    sl_lua_free(sl);
}

struct log_capture {
    int n;
    char last[2048];
    char first[2048];
};

static void capture(void *ud, const char *line)
{
    struct log_capture *c = ud;

    if (c->n++ == 0)
        snprintf(c->first, sizeof c->first, "%s", line);
    snprintf(c->last, sizeof c->last, "%s", line);
}

static void test_print_goes_to_log(void **state)
{
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    struct log_capture c = { 0 };
    json_t *res;

    (void)state;
    sl_lua_set_log(sl, capture, &c);
    res = probe_ok(sl, "print('hello', 42, nil, true) return 1");
    json_decref(res);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.first, "probe:1: hello\t42\tnil\ttrue");

    c.n = 0;
    res = probe_ok(sl, "for i = 1, 500 do print(i) end return 1");
    json_decref(res);
    assert_int_equal(c.n, 101);
    assert_string_equal(c.last, "print: more output in this call is dropped");

    c.n = 0;
    res = probe_ok(sl, "print(string.rep('y', 5000)) return 1");
    json_decref(res);
    assert_int_equal(c.n, 1);
    assert_int_equal(strlen(c.first), 1024);
    sl_lua_free(sl);
}

/* ====== loading ====== */

static void test_load_order_and_version(void **state)
{
    static const char *const order[] = { "10-b.lua", "9-a.lua", "A.lua", "_.lua", "a.lua" };
    struct sl_lua *sl = load_fixture("policies-order", NULL);
    json_t *res = NULL, *files = sl_lua_files(sl);
    char err[ERRLEN], hex[SL_SHA256_HEX_LEN + 1], path[4096];
    uint8_t digest[SL_SHA256_LEN];
    struct sl_sha256 ctx;
    size_t i;

    (void)state;
    assert_int_equal(sl_lua_call_json(sl, "loaded", NULL, NULL, 0, &res, err, sizeof err), 0);
    assert_int_equal(json_array_size(res), 5);
    assert_int_equal(json_array_size(files), 5);
    sl_sha256_init(&ctx);
    for (i = 0; i < 5; i++) {
        char text[4096];
        FILE *f;
        size_t n;

        assert_string_equal(json_string_value(json_array_get(res, i)), order[i]);
        assert_string_equal(json_string_value(json_object_get(json_array_get(files, i), "file")),
                            order[i]);
        if (snprintf(path, sizeof path, "%s/%s", fixture("policies-order"), order[i])
            >= (int)sizeof path)
            fail_msg("path too long");
        f = fopen(path, "rb");
        assert_non_null(f);
        n = fread(text, 1, sizeof text, f);
        fclose(f);
        sl_sha256_hex(text, n, hex);
        assert_string_equal(json_string_value(json_object_get(json_array_get(files, i), "sha256")),
                            hex);
        sl_sha256_update(&ctx, order[i], strlen(order[i]) + 1);
        sl_sha256_update(&ctx, text, n);
        sl_sha256_update(&ctx, "", 1);
    }
    sl_sha256_final(&ctx, digest);
    sl_hex(digest, 6, hex);
    assert_string_equal(sl_lua_version(sl), hex);
    json_decref(res);
    sl_lua_free(sl);
}

static char *version_of(const char *dir)
{
    char err[ERRLEN], *v;
    struct sl_lua *sl = sl_lua_new(NULL);

    assert_non_null(sl);
    assert_string_equal(sl_lua_version(sl), "");
    if (sl_lua_load_dir(sl, dir, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(strlen(sl_lua_version(sl)), 12);
    v = strdup(sl_lua_version(sl));
    sl_lua_free(sl);
    return v;
}

static void test_version_follows_content(void **state)
{
    char *dir = temp_dir(), *v1, *v2, *v3, *v4;
    char old[1024], new[1024];

    (void)state;
    write_file(dir, "10-a.lua", "a = 1\n");
    write_file(dir, "20-b.lua", "b = 2\n");
    v1 = version_of(dir);
    write_file(dir, "20-b.lua", "b = 3\n");
    v2 = version_of(dir);
    write_file(dir, "20-b.lua", "b = 2\n");
    v3 = version_of(dir);
    assert_true(snprintf(old, sizeof old, "%s/20-b.lua", dir) < (int)sizeof old);
    assert_true(snprintf(new, sizeof new, "%s/30-b.lua", dir) < (int)sizeof new);
    assert_int_equal(rename(old, new), 0);
    v4 = version_of(dir);
    assert_string_not_equal(v1, v2);
    assert_string_equal(v1, v3);
    assert_string_not_equal(v1, v4);
    free(v1);
    free(v2);
    free(v3);
    free(v4);
    remove_dir(dir);
}

static void test_syntax_error_names_file_and_line(void **state)
{
    struct sl_lua *sl = sl_lua_new(NULL);
    char err[ERRLEN];

    (void)state;
    assert_int_equal(sl_lua_load_dir(sl, fixture("policies-syntax"), err, sizeof err), -EINVAL);
    if (strncmp(err, "policies-syntax/20-bad.lua:3:", 29) != 0)
        fail_msg("error: %s", err);
    sl_lua_free(sl);
}

static void test_runtime_error_at_load(void **state)
{
    struct sl_lua *sl = sl_lua_new(NULL);
    char err[ERRLEN];

    (void)state;
    assert_int_equal(sl_lua_load_dir(sl, fixture("policies-runtime"), err, sizeof err),
                     -EINVAL);
    assert_string_equal(err, "policies-runtime/10-boom.lua:4: attempt to call a nil value "
                             "(global 'nope')");
    sl_lua_free(sl);
}

static void test_budget_at_load(void **state)
{
    char *dir = temp_dir(), err[ERRLEN];
    struct sl_lua *sl = sl_lua_new(NULL);

    (void)state;
    write_file(dir, "10-loop.lua", "-- forever\n\nwhile true do end\n");
    assert_int_equal(sl_lua_load_dir(sl, dir, err, sizeof err), -ETIMEDOUT);
    assert_non_null(strstr(err, "/10-loop.lua:3: instruction budget exhausted"));
    sl_lua_free(sl);
    remove_dir(dir);
}

static void test_load_dir_errors(void **state)
{
    struct sl_lua *sl = sl_lua_new(NULL);
    char err[ERRLEN];

    (void)state;
    assert_int_equal(sl_lua_load_dir(sl, "no-such-policy-dir", err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "no-such-policy-dir"));
    sl_lua_free(sl);

    sl = load_fixture("policies-probe", NULL);
    assert_int_equal(sl_lua_load_dir(sl, fixture("policies-probe"), err, sizeof err),
                     -EALREADY);
    assert_usable(sl);
    sl_lua_free(sl);
}

static void test_require(void **state)
{
    char *dir = temp_dir(), err[ERRLEN];
    struct sl_lua *sl;
    json_t *res, *want;

    (void)state;
    copy_fixture_file(dir, "policies-probe", "probe.lua");
    write_file(dir, "10-main.lua", "local m = require('zz_mod')\nmain_sees = m.value\n");
    write_file(dir, "yy_nil.lua", "nil_runs = (nil_runs or 0) + 1\n");
    write_file(dir, "zz_mod.lua", "mod_runs = (mod_runs or 0) + 1\nreturn { value = 42 }\n");
    sl = sl_lua_new(NULL);
    if (sl_lua_load_dir(sl, dir, err, sizeof err) != 0)
        fail_msg("%s", err);
    /* Each file ran exactly once, whether required before its turn or not. */
    res = probe_ok(sl, "return mod_runs, main_sees, require('zz_mod').value,"
                       " require('yy_nil'), nil_runs, require('zz_mod') == require('zz_mod')");
    want = json_pack("[i i i b i b]", 1, 42, 42, 1, 1, 1);
    if (!json_equal(res, want))
        fail_msg("got %s", json_dumps(res, 0));
    json_decref(res);
    json_decref(want);
    probe_fails(sl, "require('nope')", -EINVAL, "no module 'nope'");
    sl_lua_free(sl);
    remove_dir(dir);

    dir = temp_dir();
    write_file(dir, "a_mod.lua", "require('b_mod')\n");
    write_file(dir, "b_mod.lua", "require('a_mod')\n");
    sl = sl_lua_new(NULL);
    assert_int_equal(sl_lua_load_dir(sl, dir, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "b_mod.lua:1: require: module 'a_mod' requires itself"));
    sl_lua_free(sl);
    remove_dir(dir);
}

static void test_has_hook(void **state)
{
    struct sl_lua *sl = load_fixture("policies-probe", NULL);

    (void)state;
    assert_true(sl_lua_has_hook(sl, "probe"));
    assert_false(sl_lua_has_hook(sl, "review"));
    assert_false(sl_lua_has_hook(sl, "no such"));
    set_hook(sl, "review", "return 'approve'");
    assert_true(sl_lua_has_hook(sl, "review"));
    sl_lua_free(sl);
}

/* ====== check ====== */

static void test_check(void **state)
{
    static const char bad[] = "-- new policy\nfunction review(item)\n  return = 1\nend\n";
    static const char uses[] = "local u = require('util')\nassert(u.clamp(5, 0, 1) == 1)\n";
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    char err[ERRLEN];
    json_t *res;

    (void)state;
    assert_int_equal(sl_lua_check("new.lua", "leak = true", 11, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(sl_lua_check("new.lua", bad, strlen(bad), NULL, NULL, err, sizeof err),
                     -EINVAL);
    if (strncmp(err, "new.lua:3:", 10) != 0)
        fail_msg("error: %s", err);
    assert_int_equal(sl_lua_check("loop.lua", "while true do end", 17, NULL, NULL, err,
                                  sizeof err), -ETIMEDOUT);
    assert_int_equal(sl_lua_check("x.lua", "\x1bLua", 4, NULL, NULL, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "binary chunk"));

    /* With the directory, require finds its modules; its other files do not run. */
    assert_int_equal(sl_lua_check("99-new.lua", uses, strlen(uses), fixture("policies-good"),
                                  NULL, err, sizeof err), 0);
    assert_int_equal(sl_lua_check("20-review.lua", bad, strlen(bad), fixture("policies-good"),
                                  NULL, err, sizeof err), -EINVAL);
    if (strncmp(err, "policies-good/20-review.lua:3:", 30) != 0)
        fail_msg("error: %s", err);
    assert_int_equal(sl_lua_check("x.lua", "x = 1", 5, fixture("policies-runtime"), NULL, err,
                                  sizeof err), 0);

    /* A loaded sandbox never sees what a check ran. */
    res = probe_ok(sl, "return leak");
    assert_true(json_is_null(res));
    json_decref(res);
    sl_lua_free(sl);
}

/* A loaded set copied as sources loads the same elsewhere; a set given in
 * memory loads as the same files in a directory would. */
static void test_sources(void **state)
{
    struct sl_lua *a = load_fixture("policies-good", NULL), *b = sl_lua_new(NULL), *c;
    struct sl_lua_sources *src = sl_lua_sources_of(a), *cand;
    const char *text;
    char err[ERRLEN];
    json_t *res;

    (void)state;
    assert_non_null(src);
    assert_non_null(b);
    assert_int_equal(sl_lua_load_sources(b, src, err, sizeof err), 0);
    sl_lua_sources_free(src);
    assert_string_equal(sl_lua_version(b), sl_lua_version(a));
    assert_true(json_equal(sl_lua_files(b), sl_lua_files(a)));
    assert_true(sl_lua_has_hook(b, "review") && sl_lua_has_hook(b, "tag"));
    assert_int_equal(sl_lua_load_sources(b, src = sl_lua_sources_of(a), err, sizeof err),
                     -EALREADY);
    sl_lua_sources_free(src);
    sl_lua_free(a);
    sl_lua_free(b);

    cand = sl_lua_sources_new("candidate");
    assert_non_null(cand);
    assert_int_equal(sl_lua_sources_add(cand, "../x.lua", "", 0), -EINVAL);
    assert_int_equal(sl_lua_sources_add(cand, ".hidden.lua", "", 0), -EINVAL);
    assert_int_equal(sl_lua_sources_add(cand, "notes.txt", "", 0), -EINVAL);
    /* Added out of order, run in name order. */
    text = "order = order .. 'b'";
    assert_int_equal(sl_lua_sources_add(cand, "20-b.lua", text, strlen(text)), 0);
    text = "order = 'a'\nprobe = function(c) return load(c)() end";
    assert_int_equal(sl_lua_sources_add(cand, "10-a.lua", text, strlen(text)), 0);
    assert_int_equal(sl_lua_sources_add(cand, "10-a.lua", "", 0), -EEXIST);
    c = sl_lua_new(NULL);
    assert_int_equal(sl_lua_load_sources(c, cand, err, sizeof err), 0);
    res = probe_ok(c, "return order");
    assert_string_equal(json_string_value(res), "ab");
    json_decref(res);
    sl_lua_free(c);
    assert_int_equal(sl_lua_sources_add(cand, "30-bad.lua", "x = \n", 5), 0);
    c = sl_lua_new(NULL);
    assert_int_equal(sl_lua_load_sources(c, cand, err, sizeof err), -EINVAL);
    if (strncmp(err, "candidate/30-bad.lua:2:", 23) != 0)
        fail_msg("error: %s", err);
    sl_lua_free(c);
    sl_lua_sources_free(cand);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forbidden_names_absent),
        cmocka_unit_test(test_escapes_fail_closed),
        cmocka_unit_test(test_bytecode_refused),
        cmocka_unit_test(test_load_runs_in_sandbox),
        cmocka_unit_test(test_instruction_budget),
        cmocka_unit_test(test_instruction_limit_configurable),
        cmocka_unit_test(test_memory_budget),
        cmocka_unit_test(test_default_memory_budget),
        cmocka_unit_test(test_limits_refused),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_print_goes_to_log),
        cmocka_unit_test(test_load_order_and_version),
        cmocka_unit_test(test_version_follows_content),
        cmocka_unit_test(test_syntax_error_names_file_and_line),
        cmocka_unit_test(test_runtime_error_at_load),
        cmocka_unit_test(test_budget_at_load),
        cmocka_unit_test(test_load_dir_errors),
        cmocka_unit_test(test_require),
        cmocka_unit_test(test_has_hook),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_sources),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
