/* SPDX-License-Identifier: MIT */
/* Plugin loader: dlopen, ABI check, the host API, running hooks in order. */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "lib/item.h"
#include "lib/log.h"
#include "lib/prom.h"
#include "lib/stats.h"
#include "lib/text.h"
#include "policy/plugin.h"
#include "policy/plugin_internal.h"

#define MAX_STATS 64

struct stat_slot {
    char name[96];              /* sluice_plugin_<plugin>_<name> */
    double value;
};

/* Plugin counters are process-wide: stat_add has no plugin context. A
 * policy replay's thread runs plugins while the loop does. */
static struct stat_slot stats[MAX_STATS];
static int nstats;
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;

/* {====================== Host API ===================================== */

static void host_log(int level, const char *plugin, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    sl_log(level, "plugin %s: %s", plugin, line);
}

static const char *host_item_field(const struct sl_item *item, const char *name)
{
    if (strcmp(name, "id") == 0) return item->id;
    if (strcmp(name, "creator") == 0) return item->creator;
    if (strcmp(name, "title") == 0) return item->title;
    if (strcmp(name, "description") == 0) return item->description;
    if (strcmp(name, "transcript") == 0) return item->transcript;
    if (strcmp(name, "city") == 0) return item->city;
    return NULL;
}

static int host_item_signal(const struct sl_item *item, const char *name, double *out)
{
    json_t *v = json_object_get(item->signals, name);
    if (!json_is_number(v))
        return -ENOENT;
    *out = json_number_value(v);
    return 0;
}

static size_t host_item_hashes(const struct sl_item *item, const uint64_t **out)
{
    *out = item->hashes;
    return item->nhashes;
}

static void host_stat_add(const char *plugin, const char *name, double v)
{
    char full[96];
    snprintf(full, sizeof(full), "sluice_plugin_%s_%s", plugin, name);
    /* The daemon's own family: a plugin "failures" counting "total". */
    if (strcmp(full, "sluice_plugin_failures_total") == 0)
        return;
    pthread_mutex_lock(&stats_lock);
    int i = 0;
    while (i < nstats && strcmp(stats[i].name, full) != 0)
        i++;
    if (i < nstats) {
        stats[i].value += v;
    } else if (nstats < MAX_STATS) {
        sl_copy(stats[nstats].name, sizeof(stats[nstats].name), full);
        stats[nstats++].value = v;
    }
    pthread_mutex_unlock(&stats_lock);
}

static int host_item_tag_get(const struct sl_item *item, const char *name, double *confidence)
{
    json_t *t = name ? json_object_get(item->tags, name) : NULL;
    if (!t)
        return -ENOENT;
    *confidence = json_number_value(json_object_get(t, "confidence"));
    return 0;
}

static const char *host_item_tag_next(const struct sl_item *item, void **cursor,
                                      double *confidence)
{
    void *at = *cursor ? json_object_iter_next(item->tags, *cursor)
                       : json_object_iter(item->tags);
    *cursor = at;
    if (!at)
        return NULL;
    *confidence = json_number_value(json_object_get(json_object_iter_value(at), "confidence"));
    return json_object_iter_key(at);
}

static int host_item_count(const struct sl_item *item, const char *name, int64_t *out)
{
    static const struct {
        const char *name;
        size_t offset;
    } counts[] = {
        { "creator.followers",  offsetof(struct sl_item, creator_followers) },
        { "creator.uploads",    offsetof(struct sl_item, creator_uploads) },
        { "creator.rejections", offsetof(struct sl_item, creator_rejections) },
        { "platform.users",     offsetof(struct sl_item, platform_users) },
        { "platform.active",    offsetof(struct sl_item, platform_active) },
    };
    for (size_t i = 0; name && i < sizeof(counts) / sizeof(counts[0]); i++)
        if (strcmp(name, counts[i].name) == 0) {
            *out = *(const long long *)((const char *)item + counts[i].offset);
            return 0;
        }
    return -ENOENT;
}

/* The wave a plugin got is the public part of the host's struct. */
static size_t host_wave_related(const struct sl_wave *wave, const char **out, size_t max)
{
    const struct sl_plugin_wave *w = (const struct sl_plugin_wave *)wave;
    return w && w->related && out && max ? w->related(w->ctx, out, max) : 0;
}

static int host_sequential(const struct sl_seq_params *sp, uint64_t successes,
                           uint64_t trials, double baseline, double *lower, double *upper,
                           double *prob_above)
{
    struct sl_seq_params q = SL_SEQ_PARAMS_INIT;
    struct sl_stats_params p;
    struct sl_stats_sample sample = { .trials = trials, .successes = successes };
    struct sl_stats_decision d;

    /* A plugin built against a newer minor may pass a longer struct: the
     * fields this host knows are at the same places. */
    if (!sp || sp->struct_size < offsetof(struct sl_seq_params, min_trials))
        return -EINVAL;
    memcpy(&q, sp, sp->struct_size < sizeof(q) ? sp->struct_size : sizeof(q));
    /* The limits of the policies' rates.sequential. */
    if ((q.method != SL_SEQ_BETA && q.method != SL_SEQ_WILSON) || !(q.z >= 0 && q.z <= 10) ||
        !(q.continue_above >= 0 && q.continue_above <= 1) ||
        !(q.stop_below >= 0 && q.stop_below <= 1) ||
        !(q.prior_strength >= 1e-9 && q.prior_strength <= 1e9))
        return -EINVAL;
    sl_stats_params_default(&p);
    p.method = q.method == SL_SEQ_WILSON ? SL_STATS_WILSON : SL_STATS_BETA;
    p.min_trials = q.min_trials;
    p.z = q.z;
    p.continue_above = q.continue_above;
    p.stop_below = q.stop_below;
    p.prior_strength = q.prior_strength;
    if (sl_stats_decide(&sample, baseline, &p, &d) < 0)
        return -EINVAL;
    if (lower)
        *lower = d.lower;
    if (upper)
        *upper = d.upper;
    if (prob_above)
        *prob_above = q.method == SL_SEQ_BETA ? d.prob_above : NAN;
    return d.verdict == SL_STATS_CONTINUE ? SL_SEQ_CONTINUE
           : d.verdict == SL_STATS_STOP   ? SL_SEQ_STOP
                                          : SL_SEQ_UNDECIDED;
}

static const struct sl_host_api host_api = {
    .struct_size   = sizeof(struct sl_host_api),
    .log           = host_log,
    .item_field    = host_item_field,
    .item_signal   = host_item_signal,
    .item_hashes   = host_item_hashes,
    .item_tag      = sl_item_tag,
    .item_match    = sl_item_match,
    .stat_add      = host_stat_add,
    .item_tag_get  = host_item_tag_get,
    .item_tag_next = host_item_tag_next,
    .item_count    = host_item_count,
    .wave_related  = host_wave_related,
    .sequential    = host_sequential,
};

const struct sl_host_api *sl_plugin_host(void)
{
    return &host_api;
}

/* }===================================================================== */

/* {====================== Loading ====================================== */

int sl_plugin_open(const char *path, struct sl_plugin *out, void **handle,
                   char *err, size_t errlen)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        sl_copy(err, errlen, dlerror());
        return -ENOENT;
    }
    const struct sl_plugin *p = dlsym(h, SL_PLUGIN_SYMBOL);
    if (!p) {
        snprintf(err, errlen, "%s: no symbol '%s': not a sluice plugin", path,
                 SL_PLUGIN_SYMBOL);
        dlclose(h);
        return -EINVAL;
    }
    /* A different major means fields changed meaning; a newer minor means
     * fields this host would ignore. Either way refuse, naming both. */
    if (p->abi_major != SL_PLUGIN_ABI_MAJOR || p->abi_minor > SL_PLUGIN_ABI_MINOR) {
        snprintf(err, errlen, "%s: plugin ABI %u.%u, but this sluiced speaks ABI %d.%d",
                 path, p->abi_major, p->abi_minor, SL_PLUGIN_ABI_MAJOR, SL_PLUGIN_ABI_MINOR);
        dlclose(h);
        return -EPROTO;
    }
    if (p->struct_size < offsetof(struct sl_plugin, init)) {
        snprintf(err, errlen, "%s: struct_size %u is too small", path, p->struct_size);
        dlclose(h);
        return -EPROTO;
    }
    memset(out, 0, sizeof(*out));
    memcpy(out, p, p->struct_size < sizeof(*out) ? p->struct_size : sizeof(*out));
    if (!out->name || !*out->name) {
        snprintf(err, errlen, "%s: the plugin has no name", path);
        dlclose(h);
        return -EINVAL;
    }
    *handle = h;
    return 0;
}

int sl_plugins_load(const struct sl_config *cfg, struct sl_plugins **out,
                    char *err, size_t errlen)
{
    struct sl_plugins *ps = calloc(1, sizeof(*ps));
    if (!ps)
        return -ENOMEM;
    ps->v = calloc(cfg->nplugins ? cfg->nplugins : 1, sizeof(*ps->v));
    if (!ps->v) {
        free(ps);
        return -ENOMEM;
    }
    ps->budget_ms = cfg->plugin_budget_ms;
    for (int i = 0; i < cfg->nplugins; i++) {
        const struct sl_plugin_conf *pc = &cfg->plugins[i];
        struct loaded *l = &ps->v[ps->n];
        struct sl_plugin_option opts[SL_MAX_PLUGIN_OPTS + 1] = { { 0 } };
        char path[4096], why[1024];
        int rc;

        if (pc->path)
            sl_copy(path, sizeof(path), pc->path);
        else
            snprintf(path, sizeof(path), "%s/%s.so", cfg->plugins_dir, pc->name);
        rc = sl_plugin_open(path, &l->p, &l->handle, why, sizeof(why));
        if (rc < 0) {
            snprintf(err, errlen, "plugin '%s': %s", pc->name, why);
            sl_plugins_free(ps);
            return rc;
        }
        /* "${policies_dir}" at the start of a value stands for the policies
         * directory in force (after --policies), so a shipped configuration
         * can point a plugin at files installed beside the policies. */
        char expanded[SL_MAX_PLUGIN_OPTS][4096];
        for (int j = 0; j < pc->nopts; j++) {
            opts[j].key = pc->keys[j];
            opts[j].value = pc->values[j];
            if (strncmp(pc->values[j], "${policies_dir}", 15) == 0) {
                snprintf(expanded[j], sizeof(expanded[j]), "%s%s", cfg->policies_dir,
                         pc->values[j] + 15);
                opts[j].value = expanded[j];
            }
        }
        rc = l->p.init ? l->p.init(&host_api, opts, &l->state) : 0;
        if (rc < 0) {
            snprintf(err, errlen, "plugin '%s' (%s): init failed: %s", pc->name, path,
                     strerror(-rc));
            dlclose(l->handle);
            sl_plugins_free(ps);
            return rc;
        }
        ps->n++;
        sl_info("plugin %s %s loaded from %s", l->p.name, l->p.version ? l->p.version : "",
                path);
    }
    *out = ps;
    return 0;
}

void sl_plugins_free(struct sl_plugins *ps)
{
    if (!ps)
        return;
    for (int i = ps->n - 1; i >= 0; i--) {
        if (ps->v[i].p.fini)
            ps->v[i].p.fini(ps->v[i].state);
        dlclose(ps->v[i].handle);
    }
    free(ps->v);
    free(ps);
}

/* }===================================================================== */

/* {====================== Hooks ======================================== */

static const char *const verdict_names[] = { "none", "approve", "reject", "review" };

int sl_plugins_tag(struct sl_plugins *ps, struct sl_item *item, char *err, size_t errlen)
{
    for (int i = 0; ps && i < ps->n; i++) {
        struct loaded *l = &ps->v[i];
        if (!l->p.tag)
            continue;
        int rc = l->p.tag(l->state, item);
        if (rc < 0) {
            snprintf(err, errlen, "plugin %s: tag failed: %s", l->p.name, strerror(-rc));
            return -EIO;
        }
    }
    return 0;
}

int sl_plugins_review(struct sl_plugins *ps, struct sl_item *item, char *err, size_t errlen)
{
    for (int i = 0; ps && i < ps->n; i++) {
        struct loaded *l = &ps->v[i];
        struct sl_review rv = { 0 };
        if (!l->p.review)
            continue;
        int rc = l->p.review(l->state, item, &rv);
        if (rc == SL_DECLINED)
            continue;
        if (rc < 0 || rv.verdict < SL_VERDICT_NONE || rv.verdict > SL_VERDICT_REVIEW ||
            ((rv.verdict == SL_VERDICT_REJECT || rv.verdict == SL_VERDICT_REVIEW) &&
             !rv.reason[0])) {
            snprintf(err, errlen, "plugin %s: review failed: %s", l->p.name,
                     rc < 0 ? strerror(-rc) : "an answer without a valid verdict and reason");
            return -EIO;
        }
        if (rv.verdict == SL_VERDICT_NONE)
            continue;
        rv.queue[sizeof(rv.queue) - 1] = '\0';
        rv.reason[sizeof(rv.reason) - 1] = '\0';
        /* A plugin's bytes need not be UTF-8, and JSON cannot carry them:
         * repaired (a cut character left out, stray bytes U+FFFD), never
         * a verdict lost because its reason could not be written. */
        char *reason = NULL;
        json_t *pv = NULL;
        if (sl_utf8_repair(rv.reason, &reason) >= 0)
            pv = json_pack("{s:s, s:s, s:s, s:i, s:s}", "plugin", l->p.name,
                           "verdict", verdict_names[rv.verdict],
                           "queue", rv.queue[0] ? rv.queue : "default",
                           "priority", rv.priority, "reason", reason ? reason : rv.reason);
        free(reason);
        if (!pv || json_array_append_new(item->plugin_verdicts, pv) < 0) {
            snprintf(err, errlen, "plugin %s: review failed: its verdict could not be kept "
                     "(out of memory, or a queue name that is not UTF-8)", l->p.name);
            return -EIO;
        }
    }
    return 0;
}

int sl_plugins_reload(struct sl_plugins *ps, char *err, size_t errlen)
{
    for (int i = 0; ps && i < ps->n; i++) {
        struct loaded *l = &ps->v[i];
        int rc = l->p.reload ? l->p.reload(l->state) : 0;
        if (rc < 0) {
            snprintf(err, errlen, "plugin %s: reload failed (it keeps its old data): %s",
                     l->p.name, strerror(-rc));
            return rc;
        }
    }
    return 0;
}

int sl_plugins_hashbank(struct sl_plugins *ps, const char *bank,
                        const uint64_t *add, size_t nadd,
                        const uint64_t *remove, size_t nremove)
{
    int result = 0;
    for (int i = 0; ps && i < ps->n; i++) {
        struct loaded *l = &ps->v[i];
        int rc = l->p.hashbank ? l->p.hashbank(l->state, bank, add, nadd, remove, nremove) : 0;
        if (rc < 0) {
            sl_err("plugin %s: hash bank '%s' update failed: %s", l->p.name, bank,
                   strerror(-rc));
            result = rc;
        }
    }
    return result;
}

json_t *sl_plugins_describe(const struct sl_plugins *ps)
{
    json_t *list = json_array();
    for (int i = 0; ps && i < ps->n; i++) {
        const struct sl_plugin *p = &ps->v[i].p;
        json_t *hooks = json_array();
        if (p->tag)
            json_array_append_new(hooks, json_string("tag"));
        if (p->review)
            json_array_append_new(hooks, json_string("review"));
        if (p->hashbank)
            json_array_append_new(hooks, json_string("hashbank"));
        if (p->plan)
            json_array_append_new(hooks, json_string("plan"));
        if (p->wave_done)
            json_array_append_new(hooks, json_string("wave_done"));
        if (p->traffic)
            json_array_append_new(hooks, json_string("traffic"));
        json_array_append_new(list, json_pack("{s:s, s:s, s:o}", "name", p->name,
                                              "version", p->version ? p->version : "",
                                              "hooks", hooks));
    }
    return list;
}

void sl_plugins_metrics(const struct sl_plugins *ps, struct evbuffer *out)
{
    sl_metric_header(out, "sluice_plugin_failures_total", "counter",
                     "Distribution hook calls of a plugin that failed, answered out of range "
                     "or ran over plugin_budget_ms; their items went to people.");
    for (int i = 0; ps && i < ps->n; i++) {
        const struct loaded *l = &ps->v[i];
        const bool has[PH__COUNT] = {
            [PH_PLAN] = l->p.plan != NULL,
            [PH_WAVE_DONE] = l->p.wave_done != NULL,
            [PH_TRAFFIC] = l->p.traffic != NULL,
        };
        for (int h = 0; h < PH__COUNT; h++)
            if (has[h])
                evbuffer_add_printf(out, "sluice_plugin_failures_total{plugin=\"%s\",hook=\"%s\"} "
                                    "%llu\n", l->p.name, sl_plugin_hook_names[h],
                                    (unsigned long long)l->failures[h]);
    }
    pthread_mutex_lock(&stats_lock);
    for (int i = 0; i < nstats; i++)
        evbuffer_add_printf(out, "# TYPE %s counter\n%s %g\n", stats[i].name,
                            stats[i].name, stats[i].value);
    pthread_mutex_unlock(&stats_lock);
}

/* }===================================================================== */
