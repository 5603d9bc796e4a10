/* SPDX-License-Identifier: MIT */
/* A plugin built against the ABI 1.0 header kept in tests/plugins/abi10/:
 * it must load and work unchanged beside 1.1 plugins. */
#include <stdint.h>
#include <string.h>

#include <sluice/plugin.h>

#if SL_PLUGIN_ABI_MAJOR != 1 || SL_PLUGIN_ABI_MINOR != 0
#error "abi10_plugin.c must be built against tests/plugins/abi10/sluice/plugin.h"
#endif

static const struct sl_host_api *host;

static int abi10_init(const struct sl_host_api *h, const struct sl_plugin_option *opts,
                      void **state)
{
    (void)opts;
    host = h;
    *state = NULL;
    return 0;
}

/* Tags every item "abi10.ran", so a test can see the plugin ran. */
static int abi10_tag(void *state, struct sl_item *item)
{
    (void)state;
    return host->item_tag(item, "abi10.ran", 1.0, "abi10");
}

/* Rejects titles containing "abi10-reject"; no opinion otherwise. */
static int abi10_review(void *state, struct sl_item *item, struct sl_review *out)
{
    const char *title = host->item_field(item, "title");
    (void)state;
    if (!title || !strstr(title, "abi10-reject"))
        return SL_DECLINED;
    out->verdict = SL_VERDICT_REJECT;
    strcpy(out->reason, "the 1.0 plugin rejects this title");
    return 0;
}

/*
 * The descriptor as 1.0 knew it, and after it in memory what a host that
 * read past struct_size would take for 1.1's plan, wave_done and traffic:
 * addresses that crash when called, and that GET /v1/policies would list.
 */
SL_PLUGIN_EXPORT const struct {
    struct sl_plugin p;
    uintptr_t beyond[8];
} sluice_plugin = {
    .p = {
        SL_PLUGIN_INIT,
        .name = "abi10",
        .version = "1.0",
        .init = abi10_init,
        .tag = abi10_tag,
        .review = abi10_review,
    },
    .beyond = { 1, 1, 1, 1, 1, 1, 1, 1 },
};
