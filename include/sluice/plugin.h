/* SPDX-License-Identifier: MIT */
/* sluice plugin ABI: the only header a plugin may include. */
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
 * Structs the host fills and hands to a hook (struct sl_wave) only grow at
 * the end too, under the same rule; structs a plugin fills for the host
 * either have a fixed layout (struct sl_review, sl_plan_wave,
 * sl_wave_answer, sl_traffic: a change is a new hook) or begin with their
 * struct_size (struct sl_seq_params).
 *
 * Changelog
 *   2026-11-28  1.0  first ABI: init/fini/reload, tag, review, hashbank.
 *   2026-12-05  1.1  distribution: plan, wave_done and traffic hooks at the
 *                    end of struct sl_plugin; item_tag_get, item_tag_next,
 *                    item_count, wave_related and sequential at the end of
 *                    struct sl_host_api.
 */
#define SL_PLUGIN_ABI_MAJOR 1
#define SL_PLUGIN_ABI_MINOR 1

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

/* {====================== Distribution (1.1) =========================== */

/* Why wave_done is asked (struct sl_wave.ended_by). */
enum sl_wave_end {
    SL_WAVE_END_SIZE = 1,       /* every user it was placed with saw it */
    SL_WAVE_END_FILL = 2,       /* the plan's fill share of those present saw it */
    SL_WAVE_END_TIME = 3,       /* its time limit passed */
    SL_WAVE_END_EVIDENCE = 4,   /* not an end: a checkpoint; SL_WAVE_WAIT lets it run on */
};

/* A wave decision (struct sl_wave_answer.decision). */
enum sl_wave_decision {
    SL_WAVE_NONE = 0,           /* the host's zero: not an answer, refused */
    SL_WAVE_CONTINUE = 1,       /* on to the next planned wave */
    SL_WAVE_STOP = 2,           /* no more waves: the item settles */
    SL_WAVE_SWITCH = 3,         /* the next wave goes to `audience` instead */
    SL_WAVE_WAIT = 4,           /* only at SL_WAVE_END_EVIDENCE: ask again later */
};

/*
 * The running wave wave_done is asked about. Owned by the host, valid only
 * during the call (pass this very pointer to host->wave_related). Counts
 * are of users a feed served the item to, each counted once per kind of
 * event.
 */
struct sl_wave {
    int n;                      /* 1-based number of the wave */
    int ended_by;               /* enum sl_wave_end */
    const char *audience;       /* followers, nearby, everyone, interest:NAME, group:NAME */
    uint32_t size;              /* users the plan asked for */
    uint32_t placed;            /* users it was placed with */
    uint32_t present;           /* of those, the ones not away when it started */
    uint32_t checks;            /* checkpoints answered SL_WAVE_WAIT so far */
    double fill;                /* it ends once this share of present saw it */
    int64_t elapsed_ms;         /* since it started */
    int64_t limit_ms;           /* its time limit */
    uint64_t impressions, plays, completes, likes, comments;
    uint64_t shares, follows, skips, dislikes, reports;
    uint64_t engaged;           /* likes + completes + shares */
    /* The pool: every decided wave to this kind of audience (followers,
     * nearby, interest:, group:, everyone), platform-wide. */
    uint64_t pool_trials;       /* their impressions */
    uint64_t pool_successes;    /* their engaged, at most their impressions */
    double pool_rate;           /* pool_successes / pool_trials; 0 with no trials */
};

/* wave_done's answer. The host zeroes it before the call. */
struct sl_wave_answer {
    int decision;               /* enum sl_wave_decision */
    char audience[160];         /* SL_WAVE_SWITCH: the next wave's audience */
    char reason[256];           /* why, for people; required but for wait */
};

/* One wave of a plan (the Lua plan hook's fields). The host zeroes them. */
#define SL_PLAN_MAX 32
struct sl_plan_wave {
    char audience[160];         /* followers, nearby, everyone, interest:NAME, group:NAME */
    uint32_t size;              /* users, 0 to 10,000,000 */
    uint32_t limit_s;           /* 1 to 2,592,000 seconds; 0: an hour */
    double fill;                /* (0, 1]: ends once this share saw it; 0: 1 */
    uint32_t check;             /* impressions before the first checkpoint; 0: none */
    int review;                 /* non-zero: people approve before this wave */
};

/* The traffic hook's settings. The host sets each to SL_TRAFFIC_UNSET
 * before the call; a plugin sets those it decides. */
#define SL_TRAFFIC_UNSET (-1.0)
struct sl_traffic {
    double private_share;       /* [0, 1]: of each mixed page, from followed creators */
    double ordinary_share;      /* [0, 1]: of its public part, from outside the head */
    double head_share;          /* [0, 1]: the head, this top share of creators */
    double report_threshold;    /* [0.01, 1e9]: weighed reports that pull an item back */
    double report_rate;         /* [0, 1]: ... and at least this share of its impressions */
    double unserved_report_weight;  /* [0, 1]: a report from one never served it */
    double active_s;            /* [0, 31536000]: public waves prefer users seen this lately */
    double away_s;              /* [0, 31536000]: and skip those away longer; 0: none */
};

/* The sequential test the host runs for a plugin (host->sequential). */
enum sl_seq_method {
    SL_SEQ_BETA = 0,            /* Beta-Bernoulli posterior P(rate > baseline) */
    SL_SEQ_WILSON = 1,          /* the Wilson interval entirely above / below the baseline */
};

enum sl_seq_verdict {
    SL_SEQ_UNDECIDED = 0,       /* too early or too close to call */
    SL_SEQ_CONTINUE = 1,        /* confidently better than the baseline */
    SL_SEQ_STOP = 2,            /* confidently worse */
};

struct sl_seq_params {
    uint32_t struct_size;       /* sizeof(struct sl_seq_params) as built */
    int method;                 /* enum sl_seq_method */
    uint64_t min_trials;        /* below this many trials: always undecided */
    double z;                   /* normal quantile of the Wilson interval (1.96: 95%) */
    double continue_above;      /* BETA: continue at P(rate > baseline) >= this */
    double stop_below;          /* BETA: stop at P(rate > baseline) <= this */
    double prior_strength;      /* BETA: a prior worth this many observations */
};

/* The defaults of the Lua rates.sequential. */
#define SL_SEQ_PARAMS_INIT \
    { sizeof(struct sl_seq_params), SL_SEQ_BETA, 100, 1.96, 0.95, 0.05, 2.0 }

/* }===================================================================== */

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

    /* --- 1.1 --- */

    /* A tag's confidence in [0,1]: 0 and *confidence, or -ENOENT. */
    int (*item_tag_get)(const struct sl_item *item, const char *name, double *confidence);

    /* The item's tags one by one: start with *cursor = NULL; returns each
     * tag's name and sets *confidence, then NULL after the last. */
    const char *(*item_tag_next)(const struct sl_item *item, void **cursor,
                                 double *confidence);

    /* What the host knows around the item: "creator.followers",
     * "creator.uploads", "creator.rejections", "platform.users",
     * "platform.active" (users seen lately). 0 and *out, or -ENOENT. */
    int (*item_count)(const struct sl_item *item, const char *name, int64_t *out);

    /* Interests related to the item's (the policies' related hook, else
     * what co-engagement taught the daemon), best first: up to max names
     * into out; returns how many. Only with the wave wave_done received. */
    size_t (*wave_related)(const struct sl_wave *wave, const char **out, size_t max);

    /* The sequential test of successes of trials against baseline (in
     * [0, 1]), the engine behind the policies' rates.sequential. Returns an
     * enum sl_seq_verdict, or -EINVAL (successes > trials, a bad baseline or
     * parameter). *lower and *upper get the Wilson interval at z, and
     * *prob_above (BETA) P(rate > baseline), NAN for WILSON; each may be NULL. */
    int (*sequential)(const struct sl_seq_params *params, uint64_t successes,
                      uint64_t trials, double baseline, double *lower, double *upper,
                      double *prob_above);
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

    /* --- 1.1: distribution ---
     * Called on the daemon's event loop, where every other request waits
     * meanwhile: no I/O, no sleeping, no long locks. A call that takes
     * longer than plugin_budget_ms (sluice.conf) is refused as if it had
     * failed. policy replay may call them from another thread, alongside
     * the loop's calls. Each returns 0, SL_DECLINED (no opinion: the next
     * plugin, then the Lua hook decides) or a negative errno; a failure or
     * an answer out of range holds the item for people. */

    /* plan: fill waves[0..*n) (at most max, zeroed) for an approved item. */
    int (*plan)(void *state, const struct sl_item *item, struct sl_plan_wave *waves,
                size_t max, size_t *n);

    /* wave_done: continue, stop, switch (with an audience), or at an
     * evidence checkpoint wait; with a reason. */
    int (*wave_done)(void *state, const struct sl_item *item, const struct sl_wave *wave,
                     struct sl_wave_answer *out);

    /* traffic: at start and at every policy reload; set the fields decided. */
    int (*traffic)(void *state, struct sl_traffic *out);
};

#define SL_PLUGIN_INIT                          \
    .abi_major = SL_PLUGIN_ABI_MAJOR,           \
    .abi_minor = SL_PLUGIN_ABI_MINOR,           \
    .struct_size = sizeof(struct sl_plugin)

#ifdef __cplusplus
}
#endif
#endif /* SLUICE_PLUGIN_H */
