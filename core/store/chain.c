/* SPDX-License-Identifier: MIT */
/* What both backends store alike: the audit chain's hash, packed event batches. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/sha256.h"
#include "store/chain.h"
#include "store/store.h"

const char sl_chain_genesis[SL_SHA256_HEX_LEN + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

void sl_chain_hash(const char *prev, int64_t seq, const char *item, const char *actor,
                   const char *action, const char *from, const char *to,
                   const char *reason, int64_t ts_ms, char out[SL_SHA256_HEX_LEN + 1])
{
    struct sl_sha256 ctx;
    char num[32];
    const char *fields[] = { prev, NULL, item, actor, action, from, to, reason, NULL };
    uint8_t digest[SL_SHA256_LEN];

    sl_sha256_init(&ctx);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *f = fields[i];
        if (i == 1 || i == 8) {
            snprintf(num, sizeof(num), "%lld", (long long)(i == 1 ? seq : ts_ms));
            f = num;
        }
        if (f)
            sl_sha256_update(&ctx, f, strlen(f));
        else
            sl_sha256_update(&ctx, "\x1e", 1);  /* NULL differs from "" */
        sl_sha256_update(&ctx, "\x1f", 1);
    }
    sl_sha256_final(&ctx, digest);
    sl_hex(digest, sizeof(digest), out);
}

int sl_events_pack(const struct sl_event_row *ev, size_t n, uint8_t **out, size_t *len)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += strlen(ev[i].item) + strlen(ev[i].user) + 2 + 1 + 16;
    uint8_t *buf = malloc(total ? total : 1), *p = buf;
    if (!buf)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t a = strlen(ev[i].item) + 1, b = strlen(ev[i].user) + 1;
        memcpy(p, ev[i].item, a);
        memcpy(p + a, ev[i].user, b);
        p += a + b;
        *p++ = (uint8_t)ev[i].type;
        int64_t nums[2] = { ev[i].watch_ms, ev[i].ts_ms };
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < 8; j++)
                *p++ = (uint8_t)((uint64_t)nums[k] >> (8 * j));
    }
    *out = buf;
    *len = total;
    return 0;
}

int sl_events_unpack(int64_t seq, const uint8_t *data, size_t len, int64_t n,
                     int (*each)(void *arg, int64_t seq, const struct sl_event_row *ev),
                     void *arg)
{
    const uint8_t *p = data, *end = data + len;

    for (int64_t i = 0; i < n; i++) {
        struct sl_event_row ev = { .item = (const char *)p };
        const uint8_t *q = p < end ? memchr(p, 0, (size_t)(end - p)) : NULL;
        const uint8_t *u = q ? memchr(q + 1, 0, (size_t)(end - q - 1)) : NULL;
        if (!u || end - u < 18) {
            sl_err("store: event batch %lld is damaged", (long long)seq);
            return -EIO;
        }
        ev.user = (const char *)q + 1;
        ev.type = u[1];
        int64_t nums[2] = { 0, 0 };
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < 8; j++)
                nums[k] |= (int64_t)((uint64_t)u[2 + 8 * k + j] << (8 * j));
        ev.watch_ms = nums[0];
        ev.ts_ms = nums[1];
        p = u + 18;
        int stop = each(arg, seq, &ev);
        if (stop)
            return stop;
    }
    return 0;
}
