/* SPDX-License-Identifier: MIT */
/* Library functions that charge the budget for work the instruction hook cannot see. */
#include "lua/lua_lib.h"

#include <limits.h>
#include <string.h>
#include <lauxlib.h>

#include "lib/id.h"

/*
 * The count hook sees VM instructions, but one call of table.insert(t, 1, v)
 * or utf8.len(s) is one instruction however long t or s is, and a loop of
 * them would run for hours inside the budget. Work that allocates is charged
 * by the allocator (sandbox_budget.c); these wrappers charge the rest up
 * front, then call the stock function in the same frame so that its
 * argument errors still name the function as the policy called it.
 */

#define BYTES_PER_UNIT 16       /* bytes scanned that cost one instruction */
#define BYTES_REWRITTEN 8       /* bytes string.upper and the like rewrite for one */
#define BYTES_QUOTED 2          /* bytes string.format's %q escapes for one */
#define REPS_PER_UNIT 4         /* copies string.rep makes for one */
#define COST_CAP (LLONG_MAX / 4)

enum cost {
    COST_INSERT,    /* table.insert: elements shifted */
    COST_REMOVE,    /* table.remove: elements shifted */
    COST_MOVE,      /* table.move: elements copied */
    COST_SORT,      /* table.sort: about n log n comparisons */
    COST_CONCAT,    /* table.concat: elements joined */
    COST_UNPACK,    /* table.unpack: values pushed */
    COST_BYTE,      /* string.byte: values pushed */
    COST_UTF8_LEN,  /* utf8.len: bytes decoded */
    COST_CODEPOINT, /* utf8.codepoint: bytes decoded, values pushed */
    COST_OFFSET,    /* utf8.offset: bytes scanned */
    COST_TONUMBER,  /* tonumber: bytes parsed */
    COST_REP,       /* string.rep: copies made */
    COST_BYTEWISE,  /* string.upper, lower, reverse: bytes rewritten */
    COST_FORMAT,    /* string.format: bytes of the format and of its strings */
};

/*** @function table.insert, table.remove, table.move, table.sort, table.concat,
 *   table.unpack, string.byte, string.rep, string.upper, string.lower,
 *   string.reverse, string.format, utf8.len, utf8.codepoint, utf8.offset,
 *   tonumber
 * As in Lua 5.4, after charging the instruction budget for the elements they
 * move, compare or push and the bytes they read or write.
 */
static const struct {
    const char *lib;
    const char *name;
    enum cost cost;
} charged[] = {
    { "table", "insert", COST_INSERT },
    { "table", "remove", COST_REMOVE },
    { "table", "move", COST_MOVE },
    { "table", "sort", COST_SORT },
    { "table", "concat", COST_CONCAT },
    { "table", "unpack", COST_UNPACK },
    { "string", "byte", COST_BYTE },
    { "string", "rep", COST_REP },
    { "string", "upper", COST_BYTEWISE },
    { "string", "lower", COST_BYTEWISE },
    { "string", "reverse", COST_BYTEWISE },
    { "string", "format", COST_FORMAT },
    { "utf8", "len", COST_UTF8_LEN },
    { "utf8", "codepoint", COST_CODEPOINT },
    { "utf8", "offset", COST_OFFSET },
};

/* {====================== ids ========================================== */

bool sl_lua_id_valid(const char *s, size_t len, size_t max)
{
    size_t i;

    if (len == 0 || len > max || s[0] == '.')
        return false;
    for (i = 0; i < len; i++)
        if (!sl_id_char((unsigned char)s[i]))
            return false;
    return true;
}

/* }===================================================================== */

/* {====================== costs ======================================== */

/* b - a + 1 elements, 0 when empty, without overflowing. */
static long long span(long long a, long long b)
{
    unsigned long long n;

    if (b < a)
        return 0;
    n = (unsigned long long)b - (unsigned long long)a + 1;
    return n > COST_CAP ? COST_CAP : (long long)n;
}

/* An optional integer argument; false when it is there but not an integer
 * (the stock function will refuse it, so nothing is charged). */
static bool opt_int(lua_State *L, int arg, long long def, long long *out)
{
    int ok;

    if (lua_isnoneornil(L, arg)) {
        *out = def;
        return true;
    }
    *out = lua_tointegerx(L, arg, &ok);
    return ok;
}

/* #t as the stock function sees it (honouring __len), or -1 for a non-table. */
static long long table_len(lua_State *L, int arg)
{
    if (lua_type(L, arg) != LUA_TTABLE)
        return -1;
    if (!lua_getmetatable(L, arg))
        return (long long)lua_rawlen(L, arg);
    lua_pop(L, 1);
    return luaL_len(L, arg);
}

/* A string position as the string library resolves it: negative counts
 * from the end. */
static long long str_pos(long long pos, long long len)
{
    if (pos >= 0)
        return pos;
    if (pos < -len)
        return 0;
    return len + pos + 1;
}

static long long bytes_span(long long i, long long j, long long len)
{
    i = str_pos(i, len);
    j = str_pos(j, len);
    if (i < 1)
        i = 1;
    if (j > len)
        j = len;
    return span(i, j);
}

/* a * b, or COST_CAP when that is more. */
static long long mul_cap(long long a, long long b)
{
    return b != 0 && a > COST_CAP / b ? COST_CAP : a * b;
}

/* Bytes of the strings among t[1..n] (raw; __len may claim any n): what
 * sorting them compares. */
static long long string_bytes(lua_State *L, int arg, long long n)
{
    long long bytes = 0, i, raw = (long long)lua_rawlen(L, arg);

    for (i = 1; i <= n && i <= raw && bytes < COST_CAP; i++) {
        if (lua_rawgeti(L, arg, i) == LUA_TSTRING)
            bytes += (long long)lua_rawlen(L, -1);
        lua_pop(L, 1);
    }
    return bytes;
}

/* string.rep(s, n [, sep]): a copy per repetition, even of "" (which
 * allocates nothing, so the allocator would charge nothing); the bytes are
 * charged as they are allocated. A result larger than the memory left is
 * not charged: the stock function fails on allocating it, and says so. */
static long long rep_cost(lua_State *L)
{
    size_t l = 0, lsep = 0;
    long long n;

    if (!opt_int(L, 2, 0, &n) || n <= 0 || !lua_isstring(L, 1) ||
        (!lua_isnoneornil(L, 3) && !lua_isstring(L, 3)))
        return 0;
    lua_tolstring(L, 1, &l);
    if (!lua_isnoneornil(L, 3))
        lua_tolstring(L, 3, &lsep);
    if (l + lsep > 0 && (unsigned long long)n > sl_lua_memory_left(L) / (l + lsep))
        return 0;
    return n / REPS_PER_UNIT;
}

/* string.format: its format, and each string a %s or %q conversion reads
 * (%q escapes byte by byte). */
static long long format_cost(lua_State *L)
{
    const char *f, *end;
    long long cost;
    size_t len;
    int arg = 1;

    if (lua_type(L, 1) != LUA_TSTRING)
        return 0;
    f = lua_tolstring(L, 1, &len);
    end = f + len;
    cost = (long long)(len / BYTES_PER_UNIT);
    for (; f < end; f++) {
        if (*f != '%' || ++f == end || *f == '%')
            continue;
        while (f < end && *f != '\0' && strchr("-+ #0123456789.", *f) != NULL)
            f++;
        if (f == end)
            break;
        if (lua_type(L, ++arg) == LUA_TSTRING) {
            lua_tolstring(L, arg, &len);
            cost += (long long)(len / (*f == 'q' ? BYTES_QUOTED : BYTES_PER_UNIT));
        }
    }
    return cost;
}

static long long cost_of(lua_State *L, enum cost kind)
{
    long long n = 0, i, j;
    size_t len = 0;

    switch (kind) {
    case COST_INSERT:
        if ((n = table_len(L, 1)) < 0)
            return 0;
        if (lua_gettop(L) != 3 || !opt_int(L, 2, 0, &i))
            return 1;
        return i >= 1 && i <= n + 1 ? span(i, n + 1) : 0;
    case COST_REMOVE:
        if ((n = table_len(L, 1)) < 0)
            return 0;
        if (lua_gettop(L) < 2 || !opt_int(L, 2, n, &i))
            return 1;
        return i >= 1 && i <= n + 1 ? span(i, n + 1) : 1;
    case COST_MOVE:
        return opt_int(L, 2, 0, &i) && opt_int(L, 3, 0, &j) ? span(i, j) : 0;
    case COST_SORT:
        if ((n = table_len(L, 1)) <= 1)
            return 0;
        for (i = 0, j = n; j > 0; j >>= 1)
            i++;
        /* Without a comparator, strings are compared in C: by their bytes. */
        j = lua_isnoneornil(L, 2) ? string_bytes(L, 1, n) / BYTES_PER_UNIT : 0;
        return mul_cap(n + j, i);
    case COST_CONCAT:
        if ((n = table_len(L, 1)) < 0)
            return 0;
        return opt_int(L, 3, 1, &i) && opt_int(L, 4, n, &j) ? span(i, j) : 0;
    case COST_UNPACK:
        if (lua_isnoneornil(L, 3) && (n = table_len(L, 1)) < 0)
            return 0;
        return opt_int(L, 2, 1, &i) && opt_int(L, 3, n, &j) ? span(i, j) : 0;
    case COST_BYTE:
        if (lua_type(L, 1) != LUA_TSTRING)
            return 0;
        lua_tolstring(L, 1, &len);
        if (!opt_int(L, 2, 1, &i) || !opt_int(L, 3, i, &j))
            return 0;
        return bytes_span(i, j, (long long)len);
    case COST_UTF8_LEN:
    case COST_CODEPOINT:
        if (lua_type(L, 1) != LUA_TSTRING)
            return 0;
        lua_tolstring(L, 1, &len);
        if (!opt_int(L, 2, 1, &i) ||
            !opt_int(L, 3, kind == COST_UTF8_LEN ? -1 : i, &j))
            return 0;
        n = bytes_span(i, j, (long long)len);
        return n / BYTES_PER_UNIT + (kind == COST_CODEPOINT ? n : 0);
    case COST_OFFSET:
        if (lua_type(L, 1) != LUA_TSTRING || !opt_int(L, 2, 0, &n))
            return 0;
        lua_tolstring(L, 1, &len);
        /* A character is at most 4 bytes: |n| characters are at most 4|n| bytes. */
        if (n < 0)
            n = -(n + 1);
        n = n > (long long)len / 4 ? (long long)len : 4 * n;
        return n / BYTES_PER_UNIT;
    case COST_TONUMBER:
        if (lua_type(L, 1) != LUA_TSTRING)
            return 0;
        lua_tolstring(L, 1, &len);
        return (long long)(len / BYTES_PER_UNIT);
    case COST_REP:
        return rep_cost(L);
    case COST_BYTEWISE:
        if (lua_type(L, 1) != LUA_TSTRING)
            return 0;
        lua_tolstring(L, 1, &len);
        return (long long)(len / BYTES_REWRITTEN);
    case COST_FORMAT:
        return format_cost(L);
    }
    return 0;
}

/* upvalue 1: the stock function; upvalue 2: its enum cost. */
static int charged_call(lua_State *L)
{
    lua_CFunction stock = lua_tocfunction(L, lua_upvalueindex(1));
    long long units = cost_of(L, (enum cost)lua_tointeger(L, lua_upvalueindex(2)));

    if (units > 0)
        sl_lua_charge(L, units);
    return stock(L);
}

static void wrap_top(lua_State *L, enum cost kind)
{
    if (lua_tocfunction(L, -1) == NULL)
        luaL_error(L, "sandbox: a charged library function is not a C function");
    lua_pushinteger(L, kind);
    lua_pushcclosure(L, charged_call, 2);
}

void sl_lua_lib_charge(lua_State *L, int idx, const char *libname)
{
    size_t i;

    idx = lua_absindex(L, idx);
    for (i = 0; i < sizeof charged / sizeof charged[0]; i++) {
        if (strcmp(charged[i].lib, libname) != 0)
            continue;
        lua_getfield(L, idx, charged[i].name);
        wrap_top(L, charged[i].cost);
        lua_setfield(L, idx, charged[i].name);
    }
}

void sl_lua_lib_charge_tonumber(lua_State *L)
{
    wrap_top(L, COST_TONUMBER);
}

/* }===================================================================== */
