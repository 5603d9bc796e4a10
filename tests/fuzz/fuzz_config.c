/* SPDX-License-Identifier: MIT */
/* sluice.conf: any file sl_config_load is given ends in a config or an error naming the file. */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "lib/conf.h"
#include "lib/id.h"
#include "lib/json.h"

/*
 * One input is one file. sl_config_load either fills the config, every
 * setting in its range, or leaves it exactly as it was with an error that
 * starts with the file's name; it never runs past its instruction limit.
 * The file is a memfd, rewritten for every input.
 */

static int fd = -1;
static char path[64];

static bool same_string(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static void check_unchanged(const struct sl_config *a, const struct sl_config *b)
{
    FUZZ_CHECK(same_string(a->listen, b->listen) && same_string(a->unix_socket, b->unix_socket) &&
               same_string(a->state_dir, b->state_dir) &&
               same_string(a->policies_dir, b->policies_dir) &&
               same_string(a->plugins_dir, b->plugins_dir) &&
               same_string(a->console_dir, b->console_dir) &&
               same_string(a->audit_key_file, b->audit_key_file) &&
               same_string(a->queue_sla, b->queue_sla), "a failed load changed a string");
    FUZZ_CHECK(a->log_level == b->log_level && a->body_limit == b->body_limit &&
               a->lua_memory_limit == b->lua_memory_limit &&
               a->lua_instruction_limit == b->lua_instruction_limit &&
               a->claim_lease_seconds == b->claim_lease_seconds &&
               a->commit_batch_max == b->commit_batch_max &&
               a->simulated_clock == b->simulated_clock && a->nplugins == b->nplugins,
               "a failed load changed a number");
}

static void check_loaded(const struct sl_config *c)
{
    struct sl_error err = { 0 };

    FUZZ_CHECK(c->listen && c->state_dir && c->policies_dir && c->plugins_dir && c->console_dir,
               "a required path is NULL");
    FUZZ_CHECK(c->body_limit >= 1024 && c->body_limit <= (1u << 30), "body_limit %zu",
               c->body_limit);
    FUZZ_CHECK(c->lua_memory_limit >= (1u << 20) && c->lua_memory_limit <= (1ull << 34),
               "lua_memory_limit %zu", c->lua_memory_limit);
    FUZZ_CHECK(c->lua_instruction_limit >= 1000 && c->lua_instruction_limit <= (1ull << 40),
               "lua_instruction_limit %llu", (unsigned long long)c->lua_instruction_limit);
    FUZZ_CHECK(c->claim_lease_seconds >= 5 && c->claim_lease_seconds <= 86400,
               "claim_lease_seconds %d", c->claim_lease_seconds);
    FUZZ_CHECK(c->commit_batch_max >= 1 && c->commit_batch_max <= 100000,
               "commit_batch_max %d", c->commit_batch_max);
    FUZZ_CHECK(c->nplugins >= 0 && c->nplugins <= SL_MAX_PLUGINS, "%d plugins", c->nplugins);
    for (int i = 0; i < c->nplugins; i++) {
        const struct sl_plugin_conf *p = &c->plugins[i];
        FUZZ_CHECK(p->name && p->name[0], "plugin %d has no name", i);
        FUZZ_CHECK(p->nopts >= 0 && p->nopts <= SL_MAX_PLUGIN_OPTS, "%d options", p->nopts);
        for (int j = 0; j < p->nopts; j++)
            FUZZ_CHECK(p->keys[j] && p->values[j], "plugin %d option %d is NULL", i, j);
    }
    if (c->queue_sla) {
        /* The store reads it back as JSON {queue: ms}. */
        json_t *sla = sl_json_parse(c->queue_sla, strlen(c->queue_sla), true, &err);
        const char *q;
        json_t *ms;
        FUZZ_CHECK(sla != NULL, "queue_sla is not JSON: %s", c->queue_sla);
        json_object_foreach(sla, q, ms)
            FUZZ_CHECK((strcmp(q, "*") == 0 || sl_id_valid(q)) && json_is_integer(ms) &&
                       json_integer_value(ms) > 0, "queue_sla %s", c->queue_sla);
        json_decref(sla);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_config cfg, before;
    char err[1024];

    if (fd < 0) {
        fd = memfd_create("sluice.conf", MFD_CLOEXEC);
        FUZZ_CHECK(fd >= 0, "memfd_create: %s", strerror(errno));
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    FUZZ_CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, data, size, 0) == (ssize_t)size,
               "cannot write the file: %s", strerror(errno));

    sl_config_defaults(&cfg);
    sl_config_defaults(&before);
    err[0] = '\0';
    int rc = sl_config_load(&cfg, path, err, sizeof err);
    if (rc < 0) {
        FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM || rc == -EIO, "rc %d", rc);
        FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0 && err[strlen(path)] == ':',
                   "the error does not name the file: %s", err);
        check_unchanged(&cfg, &before);
    } else {
        FUZZ_CHECK(rc == 0, "rc %d", rc);
        check_loaded(&cfg);
        /* Loaded over a loaded config, as a reload does. */
        if (sl_config_load(&cfg, path, err, sizeof err) == 0)
            check_loaded(&cfg);
    }
    sl_config_clear(&cfg);
    sl_config_clear(&before);
    return 0;
}
