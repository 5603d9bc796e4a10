/* SPDX-License-Identifier: MIT */
/* Hash banks at start: every stored bank handed to the plugins that just loaded. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/id.h"
#include "lib/item.h"
#include "lib/log.h"
#include "lib/text.h"
#include "policy/plugin.h"
#include "policy/policy.h"
#include "server.h"
#include "store/store.h"

struct replay {
    struct sl_plugins *plugins;
    char bank[SL_ID_MAX + 1];
    uint64_t *hashes;
    size_t n, cap;
    size_t total;
};

static void flush(struct replay *rp)
{
    if (rp->n)
        sl_plugins_hashbank(rp->plugins, rp->bank, rp->hashes, rp->n, NULL, 0);
    rp->total += rp->n;
    rp->n = 0;
}

static int replay_one(void *arg, const char *bank, const char *hex)
{
    struct replay *rp = arg;
    uint64_t h;

    if (strcmp(bank, rp->bank) != 0 || rp->n == rp->cap) {
        flush(rp);
        sl_copy(rp->bank, sizeof(rp->bank), bank);
    }
    if (sl_hash_parse(hex, &h) == 0)
        rp->hashes[rp->n++] = h;
    return 0;
}

int sl_policy_hashbanks_load(struct sl_server *srv)
{
    struct replay rp = { .plugins = sl_policy_plugins(srv), .cap = 65536 };
    rp.hashes = malloc(rp.cap * sizeof(*rp.hashes));
    if (!rp.hashes)
        return -ENOMEM;
    int rc = sl_store_hashbank_each(srv->reader, replay_one, &rp);
    flush(&rp);
    free(rp.hashes);
    if (rp.total)
        sl_info("hash banks: %zu hashes handed to plugins", rp.total);
    return rc;
}
