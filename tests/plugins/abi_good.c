/* SPDX-License-Identifier: MIT */
/* A throwaway plugin built the way an outside author would: only plugin.h. */
#include <string.h>

#include <sluice/plugin.h>

static const struct sl_host_api *host;

static int good_init(const struct sl_host_api *h, const struct sl_plugin_option *opts,
                     void **state)
{
    (void)opts;
    host = h;
    *state = NULL;
    return 0;
}

/* Tags every item "abi.good", so a test can see the plugin ran. */
static int good_tag(void *state, struct sl_item *item)
{
    (void)state;
    return host->item_tag(item, "abi.good", 1.0, "abi_good");
}

/* Rejects titles containing "plugin-reject"; no opinion otherwise. */
static int good_review(void *state, struct sl_item *item, struct sl_review *out)
{
    const char *title = host->item_field(item, "title");
    (void)state;
    if (!title || !strstr(title, "plugin-reject"))
        return SL_DECLINED;
    out->verdict = SL_VERDICT_REJECT;
    strcpy(out->reason, "the test plugin rejects this title");
    return 0;
}

SL_PLUGIN_EXPORT const struct sl_plugin sluice_plugin = {
    SL_PLUGIN_INIT,
    .name = "abi_good",
    .version = "1",
    .init = good_init,
    .tag = good_tag,
    .review = good_review,
};
