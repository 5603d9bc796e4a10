/* SPDX-License-Identifier: MIT */
/* GET and POST /v1/clock: the daemon's time, moved forward by a simulation. */
#include "config.h"

#include "api/api.h"
#include "dist/dist.h"
#include "lib/clock.h"
#include "lib/json.h"
#include "server.h"

#define ADVANCE_MAX_MS (30LL * 86400 * 1000)

static void answer(struct sl_request *r)
{
    sl_http_reply_json(r, 200, json_pack("{s:I, s:I, s:b}", "now_ms", (json_int_t)sl_now_ms(),
                                         "offset_ms", (json_int_t)sl_clock_offset,
                                         "simulated", r->srv->cfg.simulated_clock));
}

void sl_api_clock_get(struct sl_request *r)
{
    answer(r);
}

/* {advance_ms}: only forward, only when the configuration allows it (it
 * does only on a loopback listener, see sl_config_check). Waves whose time
 * is up end at once, leases when next looked at, as they would have. */
void sl_api_clock_advance(struct sl_request *r)
{
    static const char *const keys[] = { "advance_ms", NULL };
    struct sl_error err = { 0 };
    long long ms;
    json_t *body;

    if (!r->srv->cfg.simulated_clock) {
        sl_http_reply_errorf(r, 403, "forbidden", NULL,
                             "The clock moves only with simulated_clock = true in the "
                             "configuration (a loopback listener only).");
        return;
    }
    body = sl_http_json_body(r, &err);
    if (!body || sl_json_only_keys(body, keys, &err) < 0 ||
        sl_json_get_int(body, "advance_ms", true, 0, ADVANCE_MAX_MS, &ms, &err) < 0) {
        json_decref(body);
        sl_http_reply_error(r, &err);
        return;
    }
    json_decref(body);
    sl_clock_advance(ms);
    /* What the time now ends ends before the answer, not a tick later. */
    sl_dist_tick(r->srv);
    answer(r);
}
