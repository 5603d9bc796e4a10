/* SPDX-License-Identifier: MIT */
/* sluice plugin ABI: the only header a plugin may include. */
/* A copy of include/sluice/plugin.h as ABI 1.0 shipped it (2026-11-28), kept
 * unchanged so that tests build a 1.0 plugin the way an old one was built. */
#ifndef SLUICE_PLUGIN_H
#define SLUICE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Versioning rule
 *   - abi_major changes when a field changes meaning, moves or disappears, or
 *     when a host API function changes its signature. The host refuses any
 *     plugin whose major differs from its own.
 *   - abi_minor changes when fields are appended to the end of struct
 *     sl_plugin or struct sl_host_api. The host refuses a plugin built for a
 *     newer minor than its own (it would not know the new fields) and copies
 *     min(sizeof(struct sl_plugin), struct_size) bytes of an older one, so the
 *     fields an older plugin lacks read as NULL.
 *
 * Changelog
 *   2026-11-28  1.0  first ABI: init/fini/reload, tag, review, hashbank.
 */
#define SL_PLUGIN_ABI_MAJOR 1
#define SL_PLUGIN_ABI_MINOR 0

/* The exported symbol a plugin defines: const struct sl_plugin sluice_plugin. */
#define SL_PLUGIN_SYMBOL "sluice_plugin"

#if defined(__GNUC__)
#define SL_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define SL_PLUGIN_EXPORT
#endif

/* Not an error: the hook has nothing to say about this item. */
#define SL_DECLINED 1

enum sl_log_level {
    SL_LOG_ERROR = 0,
    SL_LOG_WARN = 1,
    SL_LOG_INFO = 2,
    SL_LOG_DEBUG = 3,
};

enum sl_verdict {
    SL_VERDICT_NONE = 0,    /* no opinion */
    SL_VERDICT_APPROVE = 1,
    SL_VERDICT_REJECT = 2,
    SL_VERDICT_REVIEW = 3,  /* hand to people */
};

/* The item under consideration. Owned by the host, valid only during the
 * hook call that received it; a plugin must not keep the pointer. */
struct sl_item;

/* A hook's review answer. The host zeroes it before the call. */
struct sl_review {
    int verdict;            /* enum sl_verdict */
    int priority;           /* higher is more urgent; 0 is normal */
    char queue[64];         /* queue name for SL_VERDICT_REVIEW; "" is "default" */
    char reason[256];       /* human sentence; required for reject and review */
};

/* One key = value option from the plugin's table in sluice.conf. */
struct sl_plugin_option {
    const char *key;
    const char *value;
};

/*
 * What the host offers a plugin. All strings passed in are copied by the
 * host; all strings returned are owned by the host and valid until the hook
 * returns.
 */
struct sl_host_api {
    uint32_t struct_size;   /* sizeof(struct sl_host_api) of the host */

    /* printf-style log line, prefixed with the plugin's name. */
    void (*log)(int level, const char *plugin, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

    /* Text fields of the upload: "id", "creator", "title", "description",
     * "transcript", "city". NULL when absent. */
    const char *(*item_field)(const struct sl_item *item, const char *name);

    /* A detector signal (e.g. "face.age"); 0 and *out set, or -ENOENT. */
    int (*item_signal)(const struct sl_item *item, const char *name, double *out);

    /* The upload's perceptual hashes; returns the count, *out owned by host. */
    size_t (*item_hashes)(const struct sl_item *item, const uint64_t **out);

    /* Set a tag with a confidence in [0,1]; source is the plugin's name. */
    int (*item_tag)(struct sl_item *item, const char *name, double confidence,
                    const char *source);

    /* Record a finding that later hooks (and moderators) see:
     * kind "keyword" or "hash", name the list or bank, detail what matched
     * (the keyword, or the hash in hex), score its severity or distance,
     * and for keywords the byte offset and length of the match in field. */
    int (*item_match)(struct sl_item *item, const char *source, const char *kind,
                      const char *name, const char *detail, double score,
                      const char *field, size_t offset, size_t length);

    /* Add v to a plugin counter exported in /metrics as
     * sluice_plugin_<plugin>_<name>. */
    void (*stat_add)(const char *plugin, const char *name, double v);
};

struct sl_plugin {
    uint16_t abi_major;     /* SL_PLUGIN_ABI_MAJOR at build time */
    uint16_t abi_minor;     /* SL_PLUGIN_ABI_MINOR at build time */
    uint32_t struct_size;   /* sizeof(struct sl_plugin) at build time */
    const char *name;       /* short name, [a-z0-9_] */
    const char *version;    /* the plugin's own version string */

    /* Create the plugin's state from its options (NULL-terminated by a
     * {NULL, NULL} entry). *state is owned by the plugin until fini. */
    int (*init)(const struct sl_host_api *host,
                const struct sl_plugin_option *opts, void **state);
    void (*fini)(void *state);

    /* Re-read whatever the plugin loads from files; called with policies.
     * On failure the plugin keeps its old data and returns a negative errno. */
    int (*reload)(void *state);

    /* tag hook: add tags and matches. 0, SL_DECLINED or a negative errno. */
    int (*tag)(void *state, struct sl_item *item);

    /* review hook: fill out. 0, SL_DECLINED or a negative errno. */
    int (*review)(void *state, struct sl_item *item, struct sl_review *out);

    /* A hash bank changed: add and remove these hashes in bank. The host
     * keeps banks durable and replays them at start. */
    int (*hashbank)(void *state, const char *bank,
                    const uint64_t *add, size_t nadd,
                    const uint64_t *remove, size_t nremove);
};

#define SL_PLUGIN_INIT                          \
    .abi_major = SL_PLUGIN_ABI_MAJOR,           \
    .abi_minor = SL_PLUGIN_ABI_MINOR,           \
    .struct_size = sizeof(struct sl_plugin)

#ifdef __cplusplus
}
#endif
#endif /* SLUICE_PLUGIN_H */
