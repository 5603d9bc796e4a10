/* SPDX-License-Identifier: MIT */
/* What the loader's parts share: the loaded plugins and their failure counts. */
#ifndef SL_PLUGIN_INTERNAL_H
#define SL_PLUGIN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sluice/plugin.h>

/*
 * plugin.h is the loader's face; its parts share what is here:
 *   plugin.c       loading, the ABI check, the host API, tag, review, banks
 *   plugin_dist.c  the distribution hooks (ABI 1.1): plan, wave_done and
 *                  traffic under a time budget, their answers checked
 */

/* The distribution hooks, as counted in struct loaded's failures[]. */
enum plugin_hook { PH_PLAN, PH_WAVE_DONE, PH_TRAFFIC, PH__COUNT };

struct loaded {
    struct sl_plugin p;         /* copied from the object, fields it lacks NULL */
    void *handle;
    void *state;
    uint64_t failures[PH__COUNT];   /* failed, refused or over budget (live calls) */
};

struct sl_plugins {
    struct loaded *v;
    int n;
    double budget_ms;           /* plugin_budget_ms: a distribution hook's time */
};

/* plugin_dist.c */
extern const char *const sl_plugin_hook_names[PH__COUNT];

#endif
