/* SPDX-License-Identifier: MIT */
/* Budgets count real work: pattern sets, long compares, rep, sort, answers, the time limit. */
#define _POSIX_C_SOURCE 200809L
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Each of these took seconds inside a full budget before work was charged
 * by size; now each must end within this much CPU time. CPU time, not the
 * clock: a loaded machine or a sanitizer's build must not fail the test
 * while the budget holds (they take a few hundredths here). */
#define FAST_S 1.0

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* probe_fails, and it must fail within FAST_S of CPU time. */
static void fails_fast(struct sl_lua *sl, const char *code, const char *want)
{
    double t0 = now_s(), took;

    probe_fails(sl, code, -ETIMEDOUT, want);
    took = now_s() - t0;
    if (took > FAST_S)
        fail_msg("probe %.60s...: failed as it should, but after %.2f s of CPU time", code, took);
}

/* ====== pattern sets and classes ====== */

/* A matcher step that scans a set of 40,000 characters is 40,000 bytes of
 * work: ("a"):rep(40000):find("[" .. ("b"):rep(40000) .. "]") took 1.8 s. */
static void test_pattern_sets(void **state)
{
    static const char *const bombs[] = {
        "local s = ('a'):rep(40000) local p = '[' .. ('b'):rep(40000) .. ']'"
        " for i = 1, 5 do s:find(p) end",
        "local s = ('a'):rep(40000) local p = '[^' .. ('a'):rep(40000) .. ']'"
        " return s:match(p)",
        "local s = ('a'):rep(40000) return s:gsub('[' .. ('b'):rep(40000) .. ']', 'c')",
        "local s = ('a'):rep(40000) local p = '[' .. ('%d'):rep(20000) .. 'a]+$'"
        " for w in s:gmatch(p) do end",
        "local s = ('a'):rep(40000) return s:find('%f[' .. ('b'):rep(40000) .. ']')",
        /* the pattern itself is read for specials once per call */
        "local p = ('b'):rep(1000):rep(4000) for i = 1, 1000 do ('a'):find(p) end",
    };
    struct sl_lua *sl = load_patient(0);
    json_t *res;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bombs / sizeof bombs[0]; i++)
        fails_fast(sl, bombs[i], "instruction budget exhausted");
    /* Sets of ordinary size still match as before. */
    res = probe_ok(sl, "return ('hello, world'):find('[%p%s]+'),"
                       " select(2, ('a-b_c'):gsub('[_%-]', ' '))");
    assert_int_equal(json_array_size(res), 2);
    assert_int_equal(json_integer_value(json_array_get(res, 0)), 6);
    assert_int_equal(json_integer_value(json_array_get(res, 1)), 2);
    json_decref(res);
    sl_lua_free(sl);
}

/* ====== string compares and other slow single instructions ====== */

/* a < b and a == b on strings of megabytes are one VM instruction each:
 * 10,000 compares of 4 MB strings took 1.45 s. They are charged by the
 * CPU time they take. */
static void test_long_string_compares(void **state)
{
    static const char *const bombs[] = {
        "local a = ('x'):rep(1000):rep(4000) local b = a:sub(1, -2) .. 'y' local n = 0"
        " for i = 1, 20000 do if a < b then n = n + 1 end end return n",
        "local a = ('x'):rep(1000):rep(4000) local b = a:sub(1, -2) .. 'y' local n = 0"
        " for i = 1, 20000 do if a == b then n = n + 1 end end return n",
        "local a = ('x'):rep(1000):rep(4000) local b = a:sub(1, -2) .. 'y' local n = 0"
        " for i = 1, 20000 do if rawequal(a, b) then n = n + 1 end end return n",
        /* strings of 100 KB: more compares between two checks */
        "local a = ('x'):rep(1000):rep(100) local b = a:sub(1, -2) .. 'y' local n = 0"
        " for i = 1, 1e6 do if a <= b then n = n + 1 end end return n",
        /* arithmetic on a string parses it */
        "local s = ('1'):rep(1000):rep(1000) local n = 0"
        " for i = 1, 1e5 do n = n + (s + 0) end return n",
    };
    struct sl_lua *sl = load_patient(0);
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bombs / sizeof bombs[0]; i++)
        fails_fast(sl, bombs[i], "of them for the time slow operations took");
    sl_lua_free(sl);
}

/* A long string made in an earlier call (a policy's top level keeps one in
 * a global) makes the later calls check as often as one made in the call. */
static void test_compares_of_kept_strings(void **state)
{
    /* Four times the default budget: the probe below that makes big
     * strings come and go is charged for their allocations' time, which
     * AddressSanitizer's allocator makes several times longer. */
    struct sl_lua *sl = load_patient(4000000);
    json_t *res = probe_ok(sl, "big_a = ('x'):rep(1000):rep(4000) big_b = big_a:sub(1, -2) .. 'y'"
                               " return #big_b");

    (void)state;
    assert_int_equal(json_integer_value(res), 4000000);
    json_decref(res);
    fails_fast(sl, "local n = 0 for i = 1, 20000 do if big_a < big_b then n = n + 1 end end"
                   " return n", "instruction budget exhausted");
    /* Many come and go (the sandbox keeps them in a set by address), and
     * those that stay are still known. Sixty at a time grow the set from
     * 16 slots to 128; 120 at a time (8 MB, each page of it a fault) came
     * too near the budget on machines where faults are slow. */
    res = probe_ok(sl, "big_a = ('x'):rep(1000):rep(1000) local t = {}"
                       " for r = 1, 2 do for i = 1, 60 do"
                       " t[i] = ('x'):rep(1000):rep(65 + i % 7) end end return #t");
    assert_int_equal(json_integer_value(res), 60);
    json_decref(res);
    fails_fast(sl, "local n = 0 for i = 1, 20000 do if big_a < big_b then n = n + 1 end end"
                   " return n", "instruction budget exhausted");
    /* Once they are gone, short work is not charged for time. */
    res = probe_ok(sl, "big_a, big_b = nil, nil return 1");
    json_decref(res);
    res = probe_ok(sl, "local n = 0 for i = 1, 100000 do if 'a' < 'b' then n = n + 1 end end"
                       " return n");
    assert_int_equal(json_integer_value(res), 100000);
    json_decref(res);
    sl_lua_free(sl);
}

/* ====== library functions charged by size ====== */

static void test_library_sizes(void **state)
{
    static const char *const bombs[] = {
        /* "" repeated allocates nothing, so only the count of copies can pay */
        "return #(''):rep(1e12)",
        "return #(''):rep(1e12, '')",
        "for i = 1, 1e6 do local x = ('a'):rep(60000) end",
        "local s = ('a'):rep(1000):rep(1000) for i = 1, 1e4 do local x = s:upper() end",
        "local s = ('a'):rep(1000):rep(1000) for i = 1, 1e4 do local x = s:reverse() end",
        "local s = ('\\0'):rep(1000):rep(100) for i = 1, 1e4 do local x = ('%q'):format(s) end",
        /* sorting strings compares their bytes */
        ("local t = {} for i = 1, 2000 do t[i] = ('a'):rep(3000) .. (i * 7919 % 2000) end"
         " for i = 1, 1000 do table.sort(t) end"),
        "local src = ('x = {1, 2, 3, \"abc\"}\\n'):rep(1e5) for i = 1, 100 do load(src) end",
    };
    struct sl_lua *sl = load_patient(0);
    json_t *res;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bombs / sizeof bombs[0]; i++)
        fails_fast(sl, bombs[i], "instruction budget exhausted");
    /* A result larger than the memory says so, rather than the budget. */
    probe_fails(sl, "return #('x'):rep(1 << 30)", -ENOMEM, "memory budget exhausted");
    /* Ordinary use is cheap. */
    res = probe_ok(sl, "local t = {} for i = 1, 200 do t[i] = ('%s=%q'):format(('k'):rep(i % 7),"
                       " ('v'):rep(i)):upper() end table.sort(t) return #table.concat(t)");
    assert_int_equal(json_integer_value(res), 20100 + 200 * 3 + 598);
    json_decref(res);
    sl_lua_free(sl);
}

/* ====== converting a hook's answer ====== */

/* t = {t, t} 22 levels deep is four million values to make in C (4.3 s,
 * and memory outside the Lua budget); each value made is charged. */
static void test_answer_conversion(void **state)
{
    struct sl_lua *sl = load_patient(0);
    json_t *res;

    (void)state;
    fails_fast(sl, "local t = {1} for i = 1, 22 do t = {t, t} end return t",
               "instruction budget exhausted");
    fails_fast(sl, "local t = {} for i = 1, 22 do t = {a = t, b = t} end return t",
               "instruction budget exhausted");
    fails_fast(sl, "local s = ('x'):rep(1000):rep(4000) local t = {}"
                   " for i = 1, 1000 do t[i] = s end return t", "instruction budget exhausted");
    /* An ordinary answer costs little. */
    res = probe_ok(sl, "local t = {} for i = 1, 1000 do t[i] = {id = 'x' .. i, n = i} end"
                       " return t");
    assert_int_equal(json_array_size(res), 1000);
    json_decref(res);
    sl_lua_free(sl);
}

/* ====== the time limit ====== */

static void test_time_limit(void **state)
{
    struct sl_lua_limits limits = { .instructions = 1ULL << 40, .time_ms = 30 };
    struct sl_lua *sl = load_fixture("policies-probe", &limits);
    json_t *res;

    (void)state;
    /* With a budget too large to stop them, the clock does. */
    fails_fast(sl, "while true do end", "time limit exceeded (30 ms of CPU)");
    fails_fast(sl, "local a = ('x'):rep(1000):rep(4000) local b = a:sub(1, -2) .. 'y' local n = 0"
                   " for i = 1, 1e6 do if a < b then n = n + 1 end end return n",
               "time limit exceeded (30 ms of CPU)");
    /* pcall cannot catch it, nor can a message handler run on. */
    fails_fast(sl, "for i = 1, 1e9 do pcall(function() while true do end end) end",
               "time limit exceeded");
    fails_fast(sl, "xpcall(function() while true do end end, function() while true do end end)",
               "time limit exceeded");
    /* The error says where. */
    fails_fast(sl, "local n = 0\nwhile true do\n  n = n + 1\nend", "probe:");
    /* Each call has the whole limit. */
    res = probe_ok(sl, "local n = 0 for i = 1, 1000 do n = n + i end return n");
    assert_int_equal(json_integer_value(res), 500500);
    json_decref(res);
    sl_lua_free(sl);
}

/* The default is what sandbox.h says, and a policy file's top level has it
 * too. */
static void test_time_limit_default_and_load(void **state)
{
    struct sl_lua_limits limits = { .instructions = 1ULL << 40 };
    struct sl_lua *sl = load_fixture("policies-probe", &limits);
    char err[ERRLEN], *dir;
    double t0;

    (void)state;
    fails_fast(sl, "while true do end", "time limit exceeded (50 ms of CPU)");
    sl_lua_free(sl);

    dir = temp_dir();
    write_file(dir, "10-spin.lua", "-- spins at load\nlocal n = 0\nwhile true do n = n + 1 end\n");
    sl = sl_lua_new(&limits);
    assert_non_null(sl);
    t0 = now_s();
    assert_int_equal(sl_lua_load_dir(sl, dir, err, sizeof err), -ETIMEDOUT);
    assert_true(now_s() - t0 < FAST_S);
    if (strstr(err, "10-spin.lua:3: time limit exceeded (50 ms of CPU)") == NULL)
        fail_msg("error: %s", err);
    sl_lua_free(sl);
    remove_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pattern_sets),
        cmocka_unit_test(test_long_string_compares),
        cmocka_unit_test(test_compares_of_kept_strings),
        cmocka_unit_test(test_library_sizes),
        cmocka_unit_test(test_answer_conversion),
        cmocka_unit_test(test_time_limit),
        cmocka_unit_test(test_time_limit_default_and_load),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
