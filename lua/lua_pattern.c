/* SPDX-License-Identifier: MIT */
/* string.find, match, gmatch and gsub for policies: Lua patterns on a step budget. */
#include "lua/lua_lib.h"

#include <ctype.h>
#include <string.h>
#include <lauxlib.h>

/*
 * The stock functions backtrack inside one C call, where the instruction
 * hook never runs: string.find(("a"):rep(1e5), "a*b") takes seconds and
 * "a*a*a*b" far longer. These implement the same pattern language (Lua 5.4
 * manual, section 6.4.1) and charge every matching step to the call's
 * instruction budget, so a pathological pattern fails like an endless loop.
 */

#define ESC '%'
#define SPECIALS "^$*+?.([%-"
#define MAXCAPTURES 32
#define MAXDEPTH 200            /* nested items before "pattern too complex" */
#define STEPS_PER_UNIT 4        /* matcher steps that cost one instruction */
#define STEPS_BATCH 4096        /* steps counted between two charges */
#define SET_BYTES_PER_STEP 4    /* bytes of a [set] scanned in one step */
#define CAP_OPEN (-1)
#define CAP_POSITION (-2)

struct matcher {
    lua_State *L;
    const char *src;            /* the whole subject, for positions and %f */
    const char *src_end;
    const char *pat_end;
    int depth;                  /* nesting left */
    int ncap;
    struct {
        const char *at;
        ptrdiff_t len;          /* CAP_OPEN, CAP_POSITION or a length */
    } cap[MAXCAPTURES];
    long steps;                 /* not charged yet */
};

static int uchar(char c)
{
    return (unsigned char)c;
}

static void step(struct matcher *m, long n)
{
    m->steps += n;
    if (m->steps >= STEPS_BATCH) {
        long units = m->steps / STEPS_PER_UNIT;

        m->steps -= units * STEPS_PER_UNIT;
        sl_lua_charge(m->L, units);
    }
}

static void settle(struct matcher *m)
{
    if (m->steps > 0)
        sl_lua_charge(m->L, 1 + m->steps / STEPS_PER_UNIT);
    m->steps = 0;
}

static void matcher_init(struct matcher *m, lua_State *L, const char *s, size_t ls,
                         const char *p, size_t lp)
{
    m->L = L;
    m->src = s;
    m->src_end = s + ls;
    m->pat_end = p + lp;
    m->steps = 0;
}

static void matcher_reset(struct matcher *m)
{
    m->ncap = 0;
    m->depth = MAXDEPTH;
}

/* {====================== single characters and classes ================ */

/* Past the character class that starts at p. A set is scanned to its ']'
 * every time, so that scan is charged by its length. */
static const char *class_end(struct matcher *m, const char *p)
{
    const char *start = p;
    char c = *p++;

    if (c == ESC) {
        if (p >= m->pat_end)
            luaL_error(m->L, "malformed pattern (ends with '%%')");
        return p + 1;
    }
    if (c == '[') {
        if (p < m->pat_end && *p == '^')
            p++;
        /* The first character of a set is itself, even ']'. */
        do {
            if (p >= m->pat_end)
                luaL_error(m->L, "malformed pattern (missing ']')");
            c = *p++;
            if (c == ESC && p < m->pat_end)
                p++;
        } while (p >= m->pat_end || *p != ']');
        step(m, (long)(p - start) / SET_BYTES_PER_STEP);
        return p + 1;
    }
    return p;
}

/* %a, %d, ... (upper case: the complement); any other letter is itself. */
static bool class_match(int c, int cl)
{
    bool in;

    switch (tolower(cl)) {
    case 'a': in = isalpha(c); break;
    case 'c': in = iscntrl(c); break;
    case 'd': in = isdigit(c); break;
    case 'g': in = isgraph(c); break;
    case 'l': in = islower(c); break;
    case 'p': in = ispunct(c); break;
    case 's': in = isspace(c); break;
    case 'u': in = isupper(c); break;
    case 'w': in = isalnum(c); break;
    case 'x': in = isxdigit(c); break;
    case 'z': in = c == '\0'; break;     /* deprecated, still in Lua 5.4 */
    default: return cl == c;
    }
    return isupper(cl) ? !in : in;
}

/* [set] from p ('[') to close (its ']'), charged for the bytes it scans. */
static bool set_match(struct matcher *m, int c, const char *p, const char *close)
{
    const char *start = p;
    bool found = true, in = false;

    p++;
    if (*p == '^') {
        found = false;
        p++;
    }
    for (; p < close; p++) {
        if (*p == ESC) {
            p++;
            if (class_match(c, uchar(*p))) {
                in = true;
                break;
            }
        } else if (p[1] == '-' && p + 2 < close) {
            if (uchar(p[0]) <= c && c <= uchar(p[2])) {
                in = true;
                break;
            }
            p += 2;
        } else if (uchar(*p) == c) {
            in = true;
            break;
        }
    }
    step(m, (long)(p - start) / SET_BYTES_PER_STEP);
    return in ? found : !found;
}

/* Does the class p..ep match the character at s? */
static bool single_match(struct matcher *m, const char *s, const char *p, const char *ep)
{
    int c;

    if (s >= m->src_end)
        return false;
    c = uchar(*s);
    switch (*p) {
    case '.': return true;
    case ESC: return class_match(c, uchar(p[1]));
    case '[': return set_match(m, c, p, ep - 1);
    default: return uchar(*p) == c;
    }
}

/* }===================================================================== */

/* {====================== matching ===================================== */

static const char *match(struct matcher *m, const char *s, const char *p);

/* Greedy: as many as possible, then give back one at a time. */
static const char *max_expand(struct matcher *m, const char *s, const char *p,
                              const char *ep)
{
    ptrdiff_t n = 0;

    while (single_match(m, s + n, p, ep)) {
        n++;
        step(m, 1);
    }
    for (; n >= 0; n--) {
        const char *r = match(m, s + n, ep + 1);

        if (r != NULL)
            return r;
    }
    return NULL;
}

/* Lazy: as few as possible, taking one more at a time. */
static const char *min_expand(struct matcher *m, const char *s, const char *p,
                              const char *ep)
{
    for (;;) {
        const char *r = match(m, s, ep + 1);

        if (r != NULL)
            return r;
        if (!single_match(m, s, p, ep))
            return NULL;
        s++;
    }
}

static const char *open_capture(struct matcher *m, const char *s, const char *p,
                                ptrdiff_t what)
{
    const char *r;

    if (m->ncap >= MAXCAPTURES)
        luaL_error(m->L, "too many captures");
    m->cap[m->ncap].at = s;
    m->cap[m->ncap].len = what;
    m->ncap++;
    if ((r = match(m, s, p)) == NULL)
        m->ncap--;
    return r;
}

static const char *close_capture(struct matcher *m, const char *s, const char *p)
{
    const char *r;
    int l;

    for (l = m->ncap - 1; l >= 0 && m->cap[l].len != CAP_OPEN; l--)
        ;
    if (l < 0)
        luaL_error(m->L, "invalid pattern capture");
    m->cap[l].len = s - m->cap[l].at;
    if ((r = match(m, s, p)) == NULL)
        m->cap[l].len = CAP_OPEN;
    return r;
}

/* %bxy at p (pointing at x). */
static const char *balance(struct matcher *m, const char *s, const char *p)
{
    int level = 1;

    if (p + 1 >= m->pat_end)
        luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
    if (s >= m->src_end || *s != p[0])
        return NULL;
    for (s++; s < m->src_end; s++) {
        step(m, 1);
        if (*s == p[1]) {
            if (--level == 0)
                return s + 1;
        } else if (*s == p[0]) {
            level++;
        }
    }
    return NULL;
}

/* %1 .. %9: the text an earlier, closed capture matched. */
static const char *back_reference(struct matcher *m, const char *s, int digit)
{
    int l = digit - '1';
    size_t len;

    if (l < 0 || l >= m->ncap || m->cap[l].len == CAP_OPEN)
        luaL_error(m->L, "invalid capture index %%%d", l + 1);
    /* A position capture has no text, so it never matches. */
    len = (size_t)m->cap[l].len;
    step(m, (long)(len > (size_t)(m->src_end - s) ? 0 : len / 16));
    if ((size_t)(m->src_end - s) >= len && memcmp(m->cap[l].at, s, len) == 0)
        return s + len;
    return NULL;
}

/* The end of a match of p..pat_end at s, or NULL. */
static const char *match(struct matcher *m, const char *s, const char *p)
{
    if (m->depth-- == 0)
        luaL_error(m->L, "pattern too complex");
    for (;;) {
        const char *ep, *r;
        char q;

        step(m, 1);
        if (p == m->pat_end)
            break;
        switch (*p) {
        case '(':
            if (p + 1 < m->pat_end && p[1] == ')')
                s = open_capture(m, s, p + 2, CAP_POSITION);
            else
                s = open_capture(m, s, p + 1, CAP_OPEN);
            goto done;
        case ')':
            s = close_capture(m, s, p + 1);
            goto done;
        case '$':
            if (p + 1 == m->pat_end) {
                if (s != m->src_end)
                    s = NULL;
                goto done;
            }
            break;      /* elsewhere '$' is itself */
        case ESC:
            if (p + 1 == m->pat_end)
                break;  /* class_end reports it */
            if (p[1] == 'b') {
                if ((s = balance(m, s, p + 2)) == NULL)
                    goto done;
                p += 4;
                continue;
            }
            if (p[1] == 'f') {
                int prev, cur;

                p += 2;
                if (p >= m->pat_end || *p != '[')
                    luaL_error(m->L, "missing '[' after '%%f' in pattern");
                ep = class_end(m, p);
                prev = s == m->src ? '\0' : uchar(s[-1]);
                cur = s < m->src_end ? uchar(*s) : '\0';
                if (set_match(m, prev, p, ep - 1) || !set_match(m, cur, p, ep - 1)) {
                    s = NULL;
                    goto done;
                }
                p = ep;
                continue;
            }
            if (isdigit(uchar(p[1]))) {
                if ((s = back_reference(m, s, uchar(p[1]))) == NULL)
                    goto done;
                p += 2;
                continue;
            }
            break;
        }
        /* A single character class, perhaps with a quantifier. */
        ep = class_end(m, p);
        q = ep < m->pat_end ? *ep : '\0';
        if (!single_match(m, s, p, ep)) {
            if (q == '*' || q == '?' || q == '-') {
                p = ep + 1;     /* zero repetitions are fine */
                continue;
            }
            s = NULL;
            goto done;
        }
        switch (q) {
        case '?':
            if ((r = match(m, s + 1, ep + 1)) != NULL) {
                s = r;
                goto done;
            }
            p = ep + 1;
            continue;
        case '+':
            s = max_expand(m, s + 1, p, ep);
            goto done;
        case '*':
            s = max_expand(m, s, p, ep);
            goto done;
        case '-':
            s = min_expand(m, s, p, ep);
            goto done;
        default:
            s++;
            p = ep;
            continue;
        }
    }
done:
    m->depth++;
    return s;
}

/* }===================================================================== */

/* {====================== captures ===================================== */

/* Capture i; when there are none, capture 0 is the whole match s..e. */
static void push_capture(struct matcher *m, int i, const char *s, const char *e)
{
    if (i >= m->ncap) {
        if (i != 0 || s == NULL)
            luaL_error(m->L, "invalid capture index %%%d", i + 1);
        lua_pushlstring(m->L, s, (size_t)(e - s));
    } else if (m->cap[i].len == CAP_OPEN) {
        luaL_error(m->L, "unfinished capture");
    } else if (m->cap[i].len == CAP_POSITION) {
        lua_pushinteger(m->L, m->cap[i].at - m->src + 1);
    } else {
        lua_pushlstring(m->L, m->cap[i].at, (size_t)m->cap[i].len);
    }
}

/* All captures, or the whole match when there are none and s is given. */
static int push_captures(struct matcher *m, const char *s, const char *e)
{
    int i, n = m->ncap == 0 && s != NULL ? 1 : m->ncap;

    luaL_checkstack(m->L, n, "too many captures");
    for (i = 0; i < n; i++)
        push_capture(m, i, s, e);
    return n;
}

/* }===================================================================== */

/* {====================== the library functions ======================== */

/* A 1-based, possibly negative, start as a 0-based offset; > len is past
 * the end. */
static size_t start_offset(lua_Integer pos, size_t len)
{
    if (pos > 0)
        return (size_t)pos - 1;
    if (pos == 0 || pos < -(lua_Integer)len)
        return 0;
    return len - (size_t)(-pos);
}

static bool has_specials(const char *p, size_t lp)
{
    const char *c;

    for (c = SPECIALS; *c != '\0'; c++) {
        if (memchr(p, *c, lp) != NULL)
            return true;
    }
    return false;
}

/* Plain substring search, charged for every candidate it compares. */
static const char *plain_find(struct matcher *m, const char *s, size_t ls,
                              const char *p, size_t lp)
{
    const char *last, *t;

    if (lp == 0)
        return s;
    if (lp > ls)
        return NULL;
    last = s + (ls - lp);
    for (t = s; t <= last; t++) {
        const char *hit = memchr(t, p[0], (size_t)(last - t) + 1);

        if (hit == NULL)
            break;
        step(m, 1 + (long)((hit - t) / 16) + (long)(lp / 16));
        if (memcmp(hit + 1, p + 1, lp - 1) == 0)
            return hit;
        t = hit;
    }
    return NULL;
}

static int find_aux(lua_State *L, bool find)
{
    size_t ls, lp, init;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    struct matcher m;

    init = start_offset(luaL_optinteger(L, 3, 1), ls);
    if (init > ls) {
        luaL_pushfail(L);
        return 1;
    }
    matcher_init(&m, L, s, ls, p, lp);
    /* has_specials reads the pattern once per special character. */
    if (find && !lua_toboolean(L, 4))
        step(&m, (long)(lp / 2));
    if (find && (lua_toboolean(L, 4) || !has_specials(p, lp))) {
        const char *hit = plain_find(&m, s + init, ls - init, p, lp);

        settle(&m);
        if (hit != NULL) {
            lua_pushinteger(L, hit - s + 1);
            lua_pushinteger(L, hit - s + (lua_Integer)lp);
            return 2;
        }
    } else {
        const char *s1 = s + init;
        bool anchor = lp > 0 && *p == '^';

        do {
            const char *e;

            matcher_reset(&m);
            if ((e = match(&m, s1, anchor ? p + 1 : p)) != NULL) {
                settle(&m);
                if (find) {
                    lua_pushinteger(L, s1 - s + 1);
                    lua_pushinteger(L, e - s);
                    return push_captures(&m, NULL, NULL) + 2;
                }
                return push_captures(&m, s1, e);
            }
        } while (s1++ < m.src_end && !anchor);
        settle(&m);
    }
    luaL_pushfail(L);
    return 1;
}

/*** @function string.find(s, pattern [, init [, plain]])
 * As in Lua 5.4, with every matching step charged to the instruction budget.
 * @return start, end and the captures; or nil
 */
static int l_find(lua_State *L)
{
    return find_aux(L, true);
}

/*** @function string.match(s, pattern [, init])
 * As in Lua 5.4, with every matching step charged to the instruction budget.
 * @return the captures (or the whole match); or nil
 */
static int l_match(lua_State *L)
{
    return find_aux(L, false);
}

struct gmatch_state {
    size_t pos;                 /* where the next search starts */
    size_t last;                /* where the last match ended */
    bool matched;               /* last is set */
};

/* upvalues: subject, pattern, struct gmatch_state */
static int gmatch_next(lua_State *L)
{
    size_t ls, lp;
    const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
    const char *p = lua_tolstring(L, lua_upvalueindex(2), &lp);
    struct gmatch_state *st = lua_touserdata(L, lua_upvalueindex(3));
    const char *src;
    struct matcher m;

    matcher_init(&m, L, s, ls, p, lp);
    for (src = s + st->pos; st->pos <= ls; src++, st->pos++) {
        const char *e;

        matcher_reset(&m);
        e = match(&m, src, p);
        /* An empty match right where the last one ended is skipped. */
        if (e != NULL && !(st->matched && (size_t)(e - s) == st->last)) {
            st->pos = st->last = (size_t)(e - s);
            st->matched = true;
            settle(&m);
            return push_captures(&m, src, e);
        }
    }
    settle(&m);
    return 0;
}

/*** @function string.gmatch(s, pattern [, init])
 * As in Lua 5.4, with every matching step charged to the instruction budget.
 * @return an iterator over the matches
 */
static int l_gmatch(lua_State *L)
{
    size_t ls, init;
    struct gmatch_state *st;

    luaL_checklstring(L, 1, &ls);
    luaL_checkstring(L, 2);
    init = start_offset(luaL_optinteger(L, 3, 1), ls);
    lua_settop(L, 2);
    st = lua_newuserdatauv(L, sizeof *st, 0);
    st->pos = init > ls ? ls + 1 : init;
    st->last = 0;
    st->matched = false;
    lua_pushcclosure(L, gmatch_next, 3);
    return 1;
}

/* The replacement string at index 3, with %0..%9 and %%. */
static void add_string(struct matcher *m, luaL_Buffer *b, const char *s, const char *e)
{
    lua_State *L = m->L;
    size_t l;
    const char *r = lua_tolstring(L, 3, &l), *end = r + l;

    while (r < end) {
        const char *esc = memchr(r, ESC, (size_t)(end - r));

        if (esc == NULL) {
            luaL_addlstring(b, r, (size_t)(end - r));
            break;
        }
        luaL_addlstring(b, r, (size_t)(esc - r));
        r = esc + 1;
        if (r == end)
            luaL_error(L, "invalid use of '%c' in replacement string", ESC);
        if (*r == ESC) {
            luaL_addchar(b, ESC);
        } else if (*r == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else if (isdigit(uchar(*r))) {
            push_capture(m, *r - '1', s, e);
            luaL_tolstring(L, -1, NULL);
            lua_remove(L, -2);
            luaL_addvalue(b);
        } else {
            luaL_error(L, "invalid use of '%c' in replacement string", ESC);
        }
        r++;
    }
}

static void add_value(struct matcher *m, luaL_Buffer *b, const char *s, const char *e,
                      int tr)
{
    lua_State *L = m->L;

    switch (tr) {
    case LUA_TFUNCTION: {
        int n;

        lua_pushvalue(L, 3);
        n = push_captures(m, s, e);
        lua_call(L, n, 1);
        break;
    }
    case LUA_TTABLE:
        push_capture(m, 0, s, e);
        lua_gettable(L, 3);
        break;
    default:
        add_string(m, b, s, e);
        return;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));     /* keep the original */
    } else if (!lua_isstring(L, -1)) {
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    } else {
        luaL_addvalue(b);
    }
}

/*** @function string.gsub(s, pattern, repl [, n])
 * As in Lua 5.4, with every matching step charged to the instruction budget.
 * @return the new string and the number of replacements
 */
static int l_gsub(lua_State *L)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    const char *src = s, *last = NULL;
    int tr = lua_type(L, 3);
    lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1), n = 0;
    bool anchor = lp > 0 && *p == '^';
    struct matcher m;
    luaL_Buffer b;

    luaL_argexpected(L, tr == LUA_TNUMBER || tr == LUA_TSTRING ||
                     tr == LUA_TFUNCTION || tr == LUA_TTABLE, 3,
                     "string/function/table");
    if (anchor) {
        p++;
        lp--;
    }
    luaL_buffinit(L, &b);
    matcher_init(&m, L, s, ls, p, lp);
    while (n < max) {
        const char *e;

        matcher_reset(&m);
        if ((e = match(&m, src, p)) != NULL && e != last) {
            n++;
            add_value(&m, &b, src, e, tr);
            src = last = e;
        } else if (src < m.src_end) {
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        if (anchor)
            break;
    }
    settle(&m);
    luaL_addlstring(&b, src, (size_t)(m.src_end - src));
    luaL_pushresult(&b);
    lua_pushinteger(L, n);
    return 2;
}

void sl_lua_pattern_open(lua_State *L, int idx)
{
    static const luaL_Reg fns[] = {
        { "find", l_find },
        { "match", l_match },
        { "gmatch", l_gmatch },
        { "gsub", l_gsub },
        { NULL, NULL },
    };

    lua_pushvalue(L, idx);
    luaL_setfuncs(L, fns, 0);
    lua_pop(L, 1);
}

/* }===================================================================== */
