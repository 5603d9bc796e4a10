/* SPDX-License-Identifier: MIT */
/* sluice.conf: a Lua file evaluated in a sandbox into struct sl_config. */
#ifndef SL_CONF_H
#define SL_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_MAX_PLUGINS 16
#define SL_MAX_PLUGIN_OPTS 16
#define SL_MAX_THUMBNAIL_HOSTS 64
/* Roles in the order of their bits (http/auth.h): ingest, moderator, policy, admin. */
#define SL_CONF_ROLES 4

struct sl_plugin_conf {
    char *name;
    char *path;                         /* NULL: plugins_dir/NAME.so */
    char *keys[SL_MAX_PLUGIN_OPTS];     /* option names, values as strings */
    char *values[SL_MAX_PLUGIN_OPTS];
    int nopts;
};

/* A token's budget of requests: rate a second, up to burst at once; rate 0: no limit. */
struct sl_rate_limit {
    double rate;
    int burst;
};

/* Owned by whoever called sl_config_defaults(); released by sl_config_clear(). */
struct sl_config {
    char *listen;               /* "ADDR:PORT" */
    char *unix_socket;          /* NULL: none */
    char *state_dir;
    char *store;                /* NULL: SQLite under state_dir; else a libpq connection string */
    char *node_name;            /* NULL: host name ":" listen's port (several nodes) */
    int lease_seconds;          /* an item's lease among nodes, renewed every third */
    char *policies_dir;
    char *plugins_dir;
    char *console_dir;
    char *audit_key_file;       /* NULL: STATE/audit.key */
    int log_level;
    size_t body_limit;
    size_t lua_memory_limit;
    uint64_t lua_instruction_limit;
    int lua_time_limit_ms;      /* CPU time cap of one hook call */
    int policy_jobs_max;        /* policy checks and replays running at once */
    int policy_job_time_limit_seconds;
    int claim_lease_seconds;
    int commit_batch_max;       /* most requests one transaction holds */
    bool simulated_clock;       /* an admin may advance the clock (loopback only) */
    char *queue_sla;            /* JSON {queue: ms, "*": ms}: times to decision; NULL none */
    int header_timeout_seconds; /* a request head must arrive whole within this */
    int body_timeout_seconds;   /* and its body within this after the head */
    int idle_timeout_seconds;   /* a kept-alive connection's wait, and a stalled answer's */
    int max_connections;        /* open at once, all listeners */
    int max_connections_per_address; /* from one TCP peer address; 0: no limit */
    struct sl_rate_limit rate_limits[SL_CONF_ROLES];   /* by role, see SL_CONF_ROLES */
    char *thumbnail_hosts[SL_MAX_THUMBNAIL_HOSTS];     /* "host" or "*.domain", lower case */
    int nthumbnail_hosts;
    int plugin_budget_ms;       /* a plugin's distribution hook call, at most */
    int search_workers;         /* reader threads for searches and jobs' reads */
    int search_queue;           /* searches waiting for one, at most */
    int search_timeout_ms;      /* a search's time bound */
    int bulk_confirm_above;     /* a bulk job acting on more items waits for a second moderator */
    int hashbank_retro_days;    /* new bank hashes are matched against items this recent; 0 none */
    char *hashbank_action;      /* JSON {bank: nothing|review|takedown, "*": ...}; NULL: review */
    int creator_suspend;        /* a suspension's default: SL_SUSPEND_REVIEW or _REFUSE */
    struct sl_plugin_conf plugins[SL_MAX_PLUGINS];
    int nplugins;
};

/* creator_suspend: a suspended creator's new uploads are held for review, or refused. */
enum { SL_SUSPEND_REVIEW, SL_SUSPEND_REFUSE };

void sl_config_defaults(struct sl_config *cfg);
void sl_config_clear(struct sl_config *cfg);

/* Evaluate FILE over the defaults in cfg. On error, err holds
 * "FILE:LINE: message" and cfg is left as it was. */
int sl_config_load(struct sl_config *cfg, const char *path, char *err, size_t errlen);

/* Settings that must agree with each other, checked after the file and the
 * command line: 0, or -EINVAL with err holding one sentence. */
int sl_config_check(const struct sl_config *cfg, char *err, size_t errlen);

/* Replace a string setting (for command-line overrides). */
void sl_config_set(char **slot, const char *value);

#endif
