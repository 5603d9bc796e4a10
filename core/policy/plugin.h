/* SPDX-License-Identifier: MIT */
/* Plugin loader: dlopen, ABI check, the host API, running hooks in order. */
#ifndef SL_PLUGIN_LOADER_H
#define SL_PLUGIN_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <sluice/plugin.h>

#include "lib/conf.h"

struct sl_item;
struct sl_plugins;

/* Load every plugin the configuration names, in order. On failure err says
 * which plugin and why (both ABI versions on a mismatch), nothing stays
 * loaded. */
int sl_plugins_load(const struct sl_config *cfg, struct sl_plugins **out,
                    char *err, size_t errlen);
void sl_plugins_free(struct sl_plugins *ps);

/* Load one shared object and check its ABI, without init (used by tests
 * and by sl_plugins_load). *out is a copy owned by the caller; *handle is
 * the dlopen handle to dlclose. */
int sl_plugin_open(const char *path, struct sl_plugin *out, void **handle,
                   char *err, size_t errlen);

/* Run every plugin's tag hook, then (separately) every review hook. A hook
 * that fails makes the call return -EIO with err naming the plugin; reviews
 * are appended to item->plugin_verdicts. */
int sl_plugins_tag(struct sl_plugins *ps, struct sl_item *item, char *err, size_t errlen);
int sl_plugins_review(struct sl_plugins *ps, struct sl_item *item, char *err, size_t errlen);

/* Reload every plugin's files (with the policies). */
int sl_plugins_reload(struct sl_plugins *ps, char *err, size_t errlen);

/* Hand a hash bank change to every plugin with a hashbank hook. */
int sl_plugins_hashbank(struct sl_plugins *ps, const char *bank,
                        const uint64_t *add, size_t nadd,
                        const uint64_t *remove, size_t nremove);

/* The host API every plugin's init receives (tests and benches hand it to
 * plugins they open themselves). */
const struct sl_host_api *sl_plugin_host(void);

/* {====================== Distribution hooks (ABI 1.1) ================= */

/*
 * plugin_dist.c. Plugins are asked in the configured order; the first whose
 * hook answers anything but SL_DECLINED gives the answer, good or bad (the
 * later ones are not asked). Each call is timed: one that takes longer than
 * plugin_budget_ms is refused whatever it answered. A failure, an answer
 * out of shape or over budget is -EIO with err "plugin NAME: why" and
 * *plugin naming it; when live, it is logged and counted (per plugin in
 * sluice_plugin_failures_total, per hook in sluice_policy_failures_total).
 * live = false is for policy replay: nothing is counted or logged.
 */

/* The wave as the host hands it to plugins: the public part first (what
 * they see), then how host->wave_related finds the related interests. */
struct sl_plugin_wave {
    struct sl_wave pub;
    size_t (*related)(void *ctx, const char **out, size_t max);
    void *ctx;
};

/* A plugin's wave decision, its shape checked (a decision of the enum, its
 * texts NUL-ended, a reason but for wait). What the engine must check
 * (wait only at a checkpoint, the switch's audience) is left to it. */
struct sl_plugin_decision {
    char plugin[64];            /* who answered */
    const char *decision;       /* "continue", "stop", "switch" or "wait" (static) */
    char audience[160];         /* for switch */
    char reason[256];
};

/* Is there a plugin with this distribution hook ("plan", "wave_done", "traffic")? */
bool sl_plugins_have(const struct sl_plugins *ps, const char *hook);

/* wave_done: 0 with *out, SL_DECLINED (no plugin answered), or -EIO. */
int sl_plugins_wave_done(struct sl_plugins *ps, const struct sl_item *item,
                         const struct sl_plugin_wave *w, bool live,
                         struct sl_plugin_decision *out, char *err, size_t errlen);

/* plan: 0 with waves[0..*n) (1 <= *n <= max, audiences NUL-ended; the
 * engine judges the rest), SL_DECLINED, or -EIO. */
int sl_plugins_plan(struct sl_plugins *ps, const struct sl_item *item,
                    struct sl_plan_wave *waves, size_t max, size_t *n, bool live,
                    char *plugin, size_t pluginlen, char *err, size_t errlen);

/* traffic: 0 with *out (each field SL_TRAFFIC_UNSET or a finite number;
 * the engine judges the ranges), SL_DECLINED, or -EIO. */
int sl_plugins_traffic(struct sl_plugins *ps, struct sl_traffic *out, bool live,
                       char *plugin, size_t pluginlen, char *err, size_t errlen);

/* The engine refused what the named plugin answered to hook: log and count
 * it as a failure of that plugin (when live). */
void sl_plugins_refused(struct sl_plugins *ps, const char *plugin, const char *hook,
                        const char *why, bool live);

/* }===================================================================== */

/* [{name, version, hooks:[...]}] for GET /v1/policies. */
json_t *sl_plugins_describe(const struct sl_plugins *ps);

/* Counters plugins reported through stat_add, for /metrics. */
struct evbuffer;
void sl_plugins_metrics(const struct sl_plugins *ps, struct evbuffer *out);

#endif
