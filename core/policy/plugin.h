/* SPDX-License-Identifier: MIT */
/* Plugin loader: dlopen, ABI check, the host API, running hooks in order. */
#ifndef SL_PLUGIN_LOADER_H
#define SL_PLUGIN_LOADER_H

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

/* [{name, version, hooks:[...]}] for GET /v1/policies. */
json_t *sl_plugins_describe(const struct sl_plugins *ps);

/* Counters plugins reported through stat_add, for /metrics. */
struct evbuffer;
void sl_plugins_metrics(const struct sl_plugins *ps, struct evbuffer *out);

#endif
