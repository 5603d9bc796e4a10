/* SPDX-License-Identifier: MIT */
/* The rates library policies see: Wilson bounds and the sequential test of lib/stats. */
#include "lua/lua_rates.h"

#include <math.h>
#include <string.h>
#include <lauxlib.h>

#include "lib/stats.h"

/* A count argument: a non-negative integer (an integral float will do). */
static uint64_t count_arg(lua_State *L, int idx, const char *what)
{
    int ok;
    lua_Integer v = lua_tointegerx(L, idx, &ok);
    if (!ok || v < 0)
        luaL_error(L, "%s must be an integer >= 0", what);
    return (uint64_t)v;
}

/* An optional number field of the table at idx, within [lo, hi]. */
static double opt_number(lua_State *L, int idx, const char *field, double dflt, double lo,
                         double hi)
{
    double v = dflt;
    int t = lua_getfield(L, idx, field);
    if (t != LUA_TNIL) {
        int ok;
        v = lua_tonumberx(L, -1, &ok);
        if (!ok || !(v >= lo && v <= hi))
            luaL_error(L, "rates.sequential: %s must be a number in [%g, %g]", field, lo, hi);
    }
    lua_pop(L, 1);
    return v;
}

/*** @function rates.wilson(successes, trials [, z])
 * The Wilson score interval of successes out of trials at normal quantile z
 * (default 1.96, a 95% interval). Returns lower, upper; 0 trials give 0, 1.
 * Raises when successes > trials or an argument is not a count.
 */
static int l_wilson(lua_State *L)
{
    uint64_t s = count_arg(L, 1, "rates.wilson: successes");
    uint64_t n = count_arg(L, 2, "rates.wilson: trials");
    double z = luaL_optnumber(L, 3, 1.96);

    if (s > n || !(z >= 0) || !isfinite(z))
        return luaL_error(L, "rates.wilson: needs successes <= trials and z >= 0");
    lua_pushnumber(L, sl_stats_wilson_lower(s, n, z));
    lua_pushnumber(L, sl_stats_wilson_upper(s, n, z));
    return 2;
}

/*** @function rates.sequential{successes, trials, baseline [, method, min_trials, z,
 *   continue_above, stop_below, prior_strength]}
 * A sequential test of a rate (successes of trials) against a baseline in
 * [0, 1], meant to be asked after every batch of feedback. method "wilson":
 * the Wilson interval at z (default 1.96) entirely above the baseline says
 * continue, entirely below says stop. method "beta" (the default): the
 * posterior P(rate > baseline) under a Beta prior worth prior_strength
 * (default 2) observations centred on the baseline; continue at or above
 * continue_above (0.95), stop at or below stop_below (0.05). Below
 * min_trials (default 100) it is always undecided. Returns a table
 * {verdict = "continue"|"stop"|"undecided", lower, upper, prob_above} (the
 * Wilson bounds at z for either method; prob_above only for "beta").
 * Raises on a missing or malformed field.
 */
static int l_sequential(lua_State *L)
{
    struct sl_stats_params p;
    struct sl_stats_sample sample;
    struct sl_stats_decision d;

    luaL_checktype(L, 1, LUA_TTABLE);
    sl_stats_params_default(&p);
    lua_getfield(L, 1, "successes");
    sample.successes = count_arg(L, -1, "rates.sequential: successes");
    lua_getfield(L, 1, "trials");
    sample.trials = count_arg(L, -1, "rates.sequential: trials");
    lua_pop(L, 2);
    if (lua_getfield(L, 1, "baseline") != LUA_TNUMBER)
        return luaL_error(L, "rates.sequential: baseline must be a number in [0, 1]");
    double baseline = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "method") != LUA_TNIL) {
        const char *m = lua_tostring(L, -1);
        if (m && strcmp(m, "wilson") == 0)
            p.method = SL_STATS_WILSON;
        else if (!m || strcmp(m, "beta") != 0)
            return luaL_error(L, "rates.sequential: method must be \"beta\" or \"wilson\"");
    }
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "min_trials") != LUA_TNIL)
        p.min_trials = count_arg(L, -1, "rates.sequential: min_trials");
    lua_pop(L, 1);
    p.z = opt_number(L, 1, "z", p.z, 0, 10);
    p.continue_above = opt_number(L, 1, "continue_above", p.continue_above, 0, 1);
    p.stop_below = opt_number(L, 1, "stop_below", p.stop_below, 0, 1);
    p.prior_strength = opt_number(L, 1, "prior_strength", p.prior_strength, 1e-9, 1e9);
    if (sl_stats_decide(&sample, baseline, &p, &d) < 0)
        return luaL_error(L, "rates.sequential: needs successes <= trials, baseline in "
                          "[0, 1] and stop_below <= continue_above");
    lua_createtable(L, 0, 4);
    lua_pushstring(L, d.verdict == SL_STATS_CONTINUE ? "continue"
                      : d.verdict == SL_STATS_STOP ? "stop" : "undecided");
    lua_setfield(L, -2, "verdict");
    lua_pushnumber(L, d.lower);
    lua_setfield(L, -2, "lower");
    lua_pushnumber(L, d.upper);
    lua_setfield(L, -2, "upper");
    if (p.method == SL_STATS_BETA) {
        lua_pushnumber(L, d.prob_above);
        lua_setfield(L, -2, "prob_above");
    }
    return 1;
}

void sl_lua_rates_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "wilson", l_wilson },
        { "sequential", l_sequential },
        { NULL, NULL },
    };
    luaL_newlib(L, fns);
}
