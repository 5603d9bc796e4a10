/* SPDX-License-Identifier: MIT */
/* sluice.conf: a Lua file evaluated in a sandbox into struct sl_config. */
#ifndef SL_CONF_H
#define SL_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_MAX_PLUGINS 16
#define SL_MAX_PLUGIN_OPTS 16

struct sl_plugin_conf {
    char *name;
    char *path;                         /* NULL: plugins_dir/NAME.so */
    char *keys[SL_MAX_PLUGIN_OPTS];     /* option names, values as strings */
    char *values[SL_MAX_PLUGIN_OPTS];
    int nopts;
};

/* Owned by whoever called sl_config_defaults(); released by sl_config_clear(). */
struct sl_config {
    char *listen;               /* "ADDR:PORT" */
    char *unix_socket;          /* NULL: none */
    char *state_dir;
    char *store;                /* NULL: SQLite under state_dir; else a libpq connection string */
    char *policies_dir;
    char *plugins_dir;
    char *console_dir;
    int log_level;
    size_t body_limit;
    size_t lua_memory_limit;
    uint64_t lua_instruction_limit;
    int claim_lease_seconds;
    int commit_batch_max;       /* most requests one transaction holds */
    bool simulated_clock;       /* an admin may advance the clock (loopback only) */
    struct sl_plugin_conf plugins[SL_MAX_PLUGINS];
    int nplugins;
};

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
