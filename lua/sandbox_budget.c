/* SPDX-License-Identifier: MIT */
/* The sandbox's budgets: bytes through its lua_Alloc; instructions and time by a count hook. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <lauxlib.h>

#include "lua/lua_lib.h"
#include "lua/sandbox_internal.h"

/* {====================== Clocks ======================================= */

static int64_t ns_of(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Monotonic: cheap (vDSO), to notice that a call or a stretch of its
 * instructions took long. */
static int64_t mono_ns(void)
{
    return ns_of(CLOCK_MONOTONIC);
}

/* This thread's CPU time: a system call, read only when the monotonic
 * clock says a call or a stretch took long. What is charged and limited is
 * CPU time: time the thread spent waiting for a CPU is not the policy's
 * doing, and counting it would fail ordinary hooks whenever the machine is
 * busy (HAProxy's tune.lua.burst-timeout counts CPU time too). */
static int64_t cpu_ns(struct sl_lua *sl, int64_t mono)
{
    sl->cpu_read = ns_of(CLOCK_THREAD_CPUTIME_ID);
    sl->cpu_read_mono = mono;
    sl->cpu_read_by = pthread_self();
    return sl->cpu_read;
}

/*
 * The thread's CPU time when a call starts: the newest reading, if it is
 * younger than CPU_REUSE_NS, else a new one. Hooks run several times an
 * upload and the system call cost more than many of them; a reading up to
 * CPU_REUSE_NS old counts at most that much of what the thread did before
 * the call as the call's, which can end a call that far short of the time
 * limit, or charge it CPU_REUSE_NS / SL_LUA_NS_PER_INSTRUCTION instructions
 * more when a stretch of it is found slow.
 */
#define CPU_REUSE_NS 250000

static int64_t cpu_at_start(struct sl_lua *sl, int64_t mono)
{
    if (sl->cpu_read_mono > 0 && mono - sl->cpu_read_mono < CPU_REUSE_NS &&
        pthread_equal(sl->cpu_read_by, pthread_self()))
        return sl->cpu_read;
    return cpu_ns(sl, mono);
}

/* }===================================================================== */

/* {====================== Long strings ================================= */

/*
 * The live strings of BIG_STRING bytes or more, in a set keyed by address
 * (open addressing, linear probing, deletion by backward shift), and how
 * many there are of each power of two in size: adding, removing and
 * finding the longest take constant time however many there are.
 */

static size_t slot_of(const struct sl_lua *sl, const void *p)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15u;

    return (size_t)(h >> 32) & (sl->big_cap - 1);
}

static int size_class(size_t size)
{
    int c = 0;

    while (size >>= 1)
        c++;
    return c;
}

/* An upper bound of the longest live string: twice its class, at most. */
static size_t longest(const struct sl_lua *sl)
{
    if (sl->big_lost)
        return sl->mem_limit;
    for (int c = (int)(sizeof sl->big_count / sizeof sl->big_count[0]) - 1; c >= 0; c--)
        if (sl->big_count[c] > 0)
            return (size_t)2 << c;
    return 0;
}

/*
 * Instructions between two checks: HOOK_CHUNK while no string is longer
 * than BIG_STRING, fewer as the longest string grows, so that the bytes
 * the instructions of one stretch can compare stay about the same
 * (HOOK_CHUNK * BIG_STRING) and a stretch of slow instructions is noticed
 * within a few milliseconds.
 */
static int hook_period(const struct sl_lua *sl)
{
    size_t most = longest(sl);
    long long n = HOOK_CHUNK;

    if (most > BIG_STRING)
        n = (long long)HOOK_CHUNK * BIG_STRING / (long long)most;
    if (n > sl->instr_limit)
        n = sl->instr_limit;
    return n < 1 ? 1 : (int)n;
}

/* Check more often from the next instruction on, if the longest string
 * asks for it. lua_sethook is safe inside the allocator. */
static void tighten(struct sl_lua *sl)
{
    int n = hook_period(sl);

    if (sl->in_call && n < sl->hook_count) {
        /* lua_sethook starts the count again: what ran of the current
         * stretch goes uncounted, less than the string's allocation paid. */
        sl->hook_count = n;
        lua_sethook(sl->L, lua_gethook(sl->L), LUA_MASKCOUNT, n);
    }
}

static void put(struct sl_lua *sl, const void *p, size_t size)
{
    size_t i = slot_of(sl, p);

    while (sl->big[i].p != NULL)
        i = (i + 1) & (sl->big_cap - 1);
    sl->big[i].p = p;
    sl->big[i].size = size;
}

/* Room for one more at half load; false when out of memory. */
static bool make_room(struct sl_lua *sl)
{
    struct big_string *old = sl->big;
    size_t old_cap = sl->big_cap, cap = old_cap ? old_cap * 2 : 16;

    if (2 * (sl->nbig + 1) <= old_cap)
        return true;
    if ((sl->big = calloc(cap, sizeof *sl->big)) == NULL) {
        sl->big = old;
        return false;
    }
    sl->big_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].p != NULL)
            put(sl, old[i].p, old[i].size);
    free(old);
    return true;
}

static void big_add(struct sl_lua *sl, const void *p, size_t size)
{
    if (!make_room(sl)) {
        sl->big_lost = true;    /* an untracked one: assume the worst from now on */
    } else {
        put(sl, p, size);
        sl->nbig++;
        sl->big_count[size_class(size)]++;
    }
    tighten(sl);
}

/* A block of BIG_STRING bytes or more at p is freed: forget it if it is
 * one of the strings. */
static void big_remove(struct sl_lua *sl, const void *p)
{
    size_t i, j, k;

    if (sl->nbig == 0)
        return;
    for (i = slot_of(sl, p); sl->big[i].p != p; i = (i + 1) & (sl->big_cap - 1))
        if (sl->big[i].p == NULL)
            return;
    sl->big_count[size_class(sl->big[i].size)]--;
    sl->nbig--;
    /* Shift back the entries after it that probed past it. */
    for (j = i;;) {
        sl->big[i].p = NULL;
        do {
            j = (j + 1) & (sl->big_cap - 1);
            if (sl->big[j].p == NULL)
                return;
            k = slot_of(sl, sl->big[j].p);
        } while (i <= j ? (i < k && k <= j) : (i < k || k <= j));
        sl->big[i] = sl->big[j];
        i = j;
    }
}

void sl_lua_budget_free(struct sl_lua *sl)
{
    free(sl->big);
    sl->big = NULL;
    sl->nbig = sl->big_cap = 0;
}

/* }===================================================================== */

/* {====================== Memory ======================================= */

/*
 * The allocator enforces the memory budget over the whole state, and
 * charges what a call allocates to its instruction budget: one VM
 * instruction can copy megabytes (s .. s), and the count hook alone would
 * let a loop of those run for hours.
 */
void *sl_lua_budget_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct sl_lua *sl = ud;
    size_t old = ptr != NULL ? osize : 0;   /* for new blocks osize is a type */
    void *p;

    if (nsize == 0) {
        if (old >= BIG_STRING)
            big_remove(sl, ptr);
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
    /* Lua never resizes a string: a block resized is something else. */
    if (ptr == NULL && osize == LUA_TSTRING && nsize >= BIG_STRING)
        big_add(sl, p, nsize);
    if (sl->in_call && nsize > old && sl->left > 0) {
        sl->left -= 1 + (long long)((nsize - old) / ALLOC_UNIT);
        if (sl->left <= 0 && sl->hook_count != 1) {
            /* Stop at the very next instruction. */
            sl->hook_count = 1;
            lua_sethook(sl->L, lua_gethook(sl->L), LUA_MASKCOUNT, 1);
        }
    }
    return p;
}

size_t sl_lua_memory_left(lua_State *L)
{
    struct sl_lua *sl = sl_lua_sandbox(L);

    return sl->mem_limit - sl->mem_used;
}

/* }===================================================================== */

/* {====================== Instructions and time ======================== */

/* End the call: from now on every instruction raises, so a policy that
 * catches the error with pcall cannot carry on. */
static int stop(lua_State *L, bool timed_out)
{
    struct sl_lua *sl = sl_lua_sandbox(L);

    if (!sl->exhausted) {
        sl->exhausted = true;
        sl->timed_out = timed_out;
        sl_lua_locate(L, sl->stop_where, sizeof sl->stop_where);
        sl->hook_count = 1;
        lua_sethook(L, lua_gethook(L), LUA_MASKCOUNT, 1);
    }
    if (sl->timed_out)
        return luaL_error(L, "%s: time limit exceeded", sl->stop_where);
    return luaL_error(L, "%s: instruction budget exhausted", sl->stop_where);
}

/*
 * The time limit, and the CPU time the count does not explain. A stretch
 * that took longer than its instructions should have (at
 * SL_LUA_NS_PER_INSTRUCTION each) is looked at in CPU time, and what it
 * spent beyond its count is charged: this is how `a < b` on strings of
 * megabytes, which the VM runs as one instruction, is paid for by size.
 * Neither can have happened while the monotonic clock says otherwise, so
 * the CPU clock is read only then.
 */
static void check_time(lua_State *L, struct sl_lua *sl)
{
    int64_t now = mono_ns(), cpu = -1;
    long long counted = sl->left_at_check - sl->left;

    if (now - sl->call_start > sl->time_limit_ns &&
        (cpu = cpu_ns(sl, now)) - sl->cpu_start > sl->time_limit_ns)
        stop(L, true);
    if (now - sl->last_check > counted * SL_LUA_NS_PER_INSTRUCTION) {
        if (cpu < 0)
            cpu = cpu_ns(sl, now);
        long long spent = (long long)((cpu - sl->cpu_at) / SL_LUA_NS_PER_INSTRUCTION);
        long long excess = spent - (sl->left_at_cpu - sl->left);

        if (excess > 0) {
            sl->time_charged += excess;
            sl->left -= excess;
        }
        sl->cpu_at = cpu;
        sl->left_at_cpu = sl->left;
    }
    /* After a reading of the CPU clock, the next stretch starts when it
     * returned: the system call costs more than a short stretch's count
     * (1.7 us on some virtual machines, 750 ns for the 15 instructions
     * between checks while megabyte strings live), and counted in the
     * stretch after it, it made that one look slow, read the clock again,
     * and was charged to the policy reading after reading. */
    sl->last_check = cpu < 0 ? now : mono_ns();
    sl->left_at_check = sl->left;
    if (sl->left <= 0)
        stop(L, false);
}

static void budget_hook(lua_State *L, lua_Debug *ar)
{
    struct sl_lua *sl = sl_lua_sandbox(L);

    (void)ar;
    sl->left -= sl->hook_count;
    if (sl->exhausted)
        stop(L, sl->timed_out);
    check_time(L, sl);
}

void sl_lua_budget_start(struct sl_lua *sl)
{
    sl->left = sl->instr_limit;
    sl->exhausted = false;
    sl->timed_out = false;
    sl->time_charged = 0;
    sl->call_start = sl->last_check = mono_ns();
    sl->cpu_start = sl->cpu_at = cpu_at_start(sl, sl->call_start);
    sl->left_at_check = sl->left_at_cpu = sl->left;
    sl->in_call = true;
    sl->hook_count = hook_period(sl);
    lua_sethook(sl->L, budget_hook, LUA_MASKCOUNT, sl->hook_count);
}

void sl_lua_budget_end(struct sl_lua *sl)
{
    lua_sethook(sl->L, NULL, 0, 0);
    sl->in_call = false;
}

void sl_lua_charge(lua_State *L, long long units)
{
    struct sl_lua *sl = sl_lua_sandbox(L);

    if (sl->exhausted || units >= sl->left) {
        sl->left = 0;
        stop(L, sl->timed_out);
    }
    sl->left -= units;
}

/* }===================================================================== */
