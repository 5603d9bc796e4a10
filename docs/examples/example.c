/* SPDX-License-Identifier: MIT */
/* example: a sluice plugin to start from; tags titles written in capitals. */

/*
 * Build it out of the sluice tree, with the sluice-plugin-dev package (or a
 * `make install` of sluice) and pkg-config:
 *
 *     make
 *
 * then load it from sluice.conf:
 *
 *     plugins = {
 *       { name = "example", path = "/path/to/example.so", min_letters = "8" },
 *     }
 *
 * Every key but name and path reaches init() as an option string. See
 * docs/plugins.md (in the sluice package's documentation) for the ABI.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

struct example {
    const struct sl_host_api *host;
    unsigned long min_letters;  /* shorter titles are never "shouting" */
    unsigned long tagged;       /* how many titles it tagged */
};

static int init(const struct sl_host_api *host, const struct sl_plugin_option *opts,
                void **state)
{
    struct example *ex = calloc(1, sizeof(*ex));

    if (!ex)
        return -ENOMEM;
    ex->host = host;
    ex->min_letters = 8;
    for (; opts && opts->key; opts++) {
        char *end;
        if (strcmp(opts->key, "min_letters") == 0) {
            errno = 0;
            ex->min_letters = strtoul(opts->value, &end, 10);
            if (errno == 0 && end != opts->value && *end == '\0' && ex->min_letters > 0)
                continue;
            host->log(SL_LOG_ERROR, "example", "min_letters must be a positive number, "
                      "not \"%s\"", opts->value);
        } else {
            /* Refusing unknown options makes a typo in sluice.conf an error
             * at start, not a setting silently ignored. */
            host->log(SL_LOG_ERROR, "example", "unknown option \"%s\"", opts->key);
        }
        free(ex);
        return -EINVAL;
    }
    *state = ex;
    return 0;
}

static void fini(void *state)
{
    free(state);
}

/* Tag a title whose letters are nine in ten capitals. ASCII letters only:
 * enough for an example; a real plugin would decode UTF-8. */
static int tag(void *state, struct sl_item *item)
{
    struct example *ex = state;
    const char *title = ex->host->item_field(item, "title");
    unsigned long upper = 0, letters = 0;

    for (; title && *title; title++) {
        if (*title >= 'A' && *title <= 'Z')
            upper++, letters++;
        else if (*title >= 'a' && *title <= 'z')
            letters++;
    }
    if (letters < ex->min_letters || upper * 10 < letters * 9)
        return SL_DECLINED;
    ex->host->stat_add("example", "tagged", 1);     /* sluice_plugin_example_tagged */
    return ex->host->item_tag(item, "shouting", 0.9, "example");
}

SL_PLUGIN_EXPORT const struct sl_plugin sluice_plugin = {
    SL_PLUGIN_INIT,
    .name = "example",
    .version = "1.0",
    .init = init,
    .fini = fini,
    .tag = tag,
};
