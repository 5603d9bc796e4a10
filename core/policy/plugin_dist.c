/* SPDX-License-Identifier: MIT */
/* Plugins' distribution hooks: plan, wave_done and traffic, timed, their answers checked. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "lib/clock.h"
#include "lib/text.h"
#include "policy/plugin.h"
#include "policy/plugin_internal.h"
#include "policy/policy.h"

const char *const sl_plugin_hook_names[PH__COUNT] = {
    [PH_PLAN]      = "plan",
    [PH_WAVE_DONE] = "wave_done",
    [PH_TRAFFIC]   = "traffic",
};

/* {====================== Failures ===================================== */

/* Count and log a failure of l's hook h, once, naming the plugin; say it
 * in err for the caller. */
static int failed(struct loaded *l, enum plugin_hook h, const char *why, bool live,
                  char *plugin, size_t pluginlen, char *err, size_t errlen)
{
    char line[512];

    snprintf(line, sizeof(line), "plugin %s: %s", l->p.name, why);
    if (live) {
        l->failures[h]++;
        sl_policy_failed(sl_plugin_hook_names[h], line);
    }
    sl_copy(plugin, pluginlen, l->p.name);
    sl_copy(err, errlen, line);
    return -EIO;
}

void sl_plugins_refused(struct sl_plugins *ps, const char *plugin, const char *hook,
                        const char *why, bool live)
{
    char scratch[8];

    for (int i = 0; ps && i < ps->n; i++)
        for (int h = 0; h < PH__COUNT; h++)
            if (strcmp(ps->v[i].p.name, plugin) == 0 && strcmp(sl_plugin_hook_names[h], hook) == 0)
                failed(&ps->v[i], (enum plugin_hook)h, why, live, scratch, sizeof(scratch),
                       scratch, sizeof(scratch));
}

/*
 * A call's time. The budget is on the time a plugin holds the loop for
 * its own reasons: its CPU time, and its wall time when it blocked (slept,
 * waited for I/O or a lock: a voluntary context switch). Time the
 * scheduler took away on a busy machine is not the plugin's doing, and
 * refusing it for that would hold good items at random.
 */
struct call_clock {
    double wall;                /* sl_mono() */
    double cpu;                 /* this thread's user + system seconds */
    long blocked;               /* its voluntary context switches */
};

static void clock_read(struct call_clock *c)
{
    struct rusage ru;

    c->wall = sl_mono();
    if (getrusage(RUSAGE_THREAD, &ru) == 0) {
        c->cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        c->blocked = ru.ru_nvcsw;
    } else {
        /* Not known: every switch is the plugin's, as with wall time alone. */
        c->cpu = c->wall;
        c->blocked = 0;
    }
}

/*
 * What a call that returned rc after starting at t0 did wrong before its
 * answer is read: "" when nothing. Over budget comes first: a plugin that
 * stalls the loop is refused even when it declines, or it would stall
 * every call.
 */
static void call_fault(const struct sl_plugins *ps, const char *hook, int rc,
                       const struct call_clock *t0, char *why, size_t len)
{
    struct call_clock t1 = { .wall = sl_mono() };
    double wall = (t1.wall - t0->wall) * 1000.0, cpu = 0;
    bool blocked = false;

    /* Within the budget on the wall clock, nothing more to ask. */
    if (wall > ps->budget_ms) {
        clock_read(&t1);
        cpu = (t1.cpu - t0->cpu) * 1000.0;
        blocked = t1.blocked != t0->blocked;
    }
    why[0] = '\0';
    if (cpu > ps->budget_ms || (blocked && wall > ps->budget_ms))
        snprintf(why, len, "%s took %.1f ms (%.1f ms of CPU%s), over plugin_budget_ms (%g ms)",
                 hook, wall, cpu, blocked ? ", blocked on the way" : "", ps->budget_ms);
    else if (rc < 0)
        snprintf(why, len, "%s failed: %s", hook, strerror(-rc));
    else if (rc != 0 && rc != SL_DECLINED)
        snprintf(why, len, "%s returned %d, not 0, SL_DECLINED or a negative errno", hook, rc);
}

static bool ended(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

/* }===================================================================== */

/* {====================== Hooks ======================================== */

bool sl_plugins_have(const struct sl_plugins *ps, const char *hook)
{
    for (int i = 0; ps && i < ps->n; i++) {
        const struct sl_plugin *p = &ps->v[i].p;
        if ((p->plan && strcmp(hook, "plan") == 0) ||
            (p->wave_done && strcmp(hook, "wave_done") == 0) ||
            (p->traffic && strcmp(hook, "traffic") == 0))
            return true;
    }
    return false;
}

int sl_plugins_wave_done(struct sl_plugins *ps, const struct sl_item *item,
                         const struct sl_plugin_wave *w, bool live,
                         struct sl_plugin_decision *out, char *err, size_t errlen)
{
    static const char *const names[] = { NULL, "continue", "stop", "switch", "wait" };

    for (int i = 0; ps && i < ps->n; i++) {
        struct loaded *l = &ps->v[i];
        struct sl_wave_answer a;
        char why[320];

        if (!l->p.wave_done)
            continue;
        memset(&a, 0, sizeof(a));
        struct call_clock t0;
        clock_read(&t0);
        int rc = l->p.wave_done(l->state, item, &w->pub, &a);
        call_fault(ps, "wave_done", rc, &t0, why, sizeof(why));
        if (!why[0] && rc == SL_DECLINED)
            continue;
        if (why[0])
            ;
        else if (a.decision < SL_WAVE_CONTINUE || a.decision > SL_WAVE_WAIT)
            snprintf(why, sizeof(why), "wave_done answered decision %d, not continue, stop, "
                     "switch or wait", a.decision);
        else if (!ended(a.audience, sizeof(a.audience)) || !ended(a.reason, sizeof(a.reason)))
            snprintf(why, sizeof(why), "wave_done answered an audience or reason without its "
                     "terminating NUL");
        else if (a.decision != SL_WAVE_WAIT && !a.reason[0])
            snprintf(why, sizeof(why), "wave_done answered %s without a reason",
                     names[a.decision]);
        if (why[0])
            return failed(l, PH_WAVE_DONE, why, live, out->plugin, sizeof(out->plugin), err,
                          errlen);
        sl_copy(out->plugin, sizeof(out->plugin), l->p.name);
        out->decision = names[a.decision];
        memcpy(out->audience, a.audience, sizeof(out->audience));
        memcpy(out->reason, a.reason, sizeof(out->reason));
        return 0;
    }
    return SL_DECLINED;
}

int sl_plugins_plan(struct sl_plugins *ps, const struct sl_item *item,
                    struct sl_plan_wave *waves, size_t max, size_t *n, bool live,
                    char *plugin, size_t pluginlen, char *err, size_t errlen)
{
    for (int i = 0; ps && i < ps->n; i++) {
        struct loaded *l = &ps->v[i];
        size_t got = 0;
        char why[320];

        if (!l->p.plan)
            continue;
        memset(waves, 0, max * sizeof(*waves));
        struct call_clock t0;
        clock_read(&t0);
        int rc = l->p.plan(l->state, item, waves, max, &got);
        call_fault(ps, "plan", rc, &t0, why, sizeof(why));
        if (!why[0] && rc == SL_DECLINED)
            continue;
        if (!why[0] && (got < 1 || got > max))
            snprintf(why, sizeof(why), "plan answered %zu waves, not 1 to %zu", got, max);
        for (size_t k = 0; !why[0] && k < got; k++)
            if (!ended(waves[k].audience, sizeof(waves[k].audience)))
                snprintf(why, sizeof(why), "plan wave %zu has an audience without its "
                         "terminating NUL", k + 1);
        if (why[0])
            return failed(l, PH_PLAN, why, live, plugin, pluginlen, err, errlen);
        sl_copy(plugin, pluginlen, l->p.name);
        *n = got;
        return 0;
    }
    return SL_DECLINED;
}

int sl_plugins_traffic(struct sl_plugins *ps, struct sl_traffic *out, bool live,
                       char *plugin, size_t pluginlen, char *err, size_t errlen)
{
    for (int i = 0; ps && i < ps->n; i++) {
        struct loaded *l = &ps->v[i];
        struct sl_traffic t;
        double *const f[] = { &t.private_share, &t.ordinary_share, &t.head_share,
                              &t.report_threshold, &t.report_rate,
                              &t.unserved_report_weight, &t.active_s, &t.away_s };
        const size_t nf = sizeof(f) / sizeof(f[0]);
        char why[320];

        _Static_assert(sizeof(struct sl_traffic) == 8 * sizeof(double),
                       "every field of struct sl_traffic is in f[]");
        if (!l->p.traffic)
            continue;
        for (size_t k = 0; k < nf; k++)
            *f[k] = SL_TRAFFIC_UNSET;
        struct call_clock t0;
        clock_read(&t0);
        int rc = l->p.traffic(l->state, &t);
        call_fault(ps, "traffic", rc, &t0, why, sizeof(why));
        if (!why[0] && rc == SL_DECLINED)
            continue;
        for (size_t k = 0; !why[0] && k < nf; k++)
            if (!isfinite(*f[k]))
                snprintf(why, sizeof(why), "traffic set a setting to %g", *f[k]);
        if (why[0])
            return failed(l, PH_TRAFFIC, why, live, plugin, pluginlen, err, errlen);
        sl_copy(plugin, pluginlen, l->p.name);
        *out = t;
        return 0;
    }
    return SL_DECLINED;
}

/* }===================================================================== */
