/* SPDX-License-Identifier: MIT */
/* Replay: the live deciders' and a candidate's wave decisions on recorded waves. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "dist/internal.h"
#include "lua/sandbox.h"
#include "policy/policy.h"
#include "server.h"
#include "store/store.h"

/* {====================== Replay ======================================= */

static json_t *replay_answer(int rc, const struct dist_answer *a, const char *err)
{
    if (rc != 0)
        return json_pack("{s:s, s:s}", "decision", "error", "reason", err);
    if (strcmp(a->decision, "switch") == 0)
        return json_pack("{s:s, s:s}", "decision", a->decision, "audience", a->audience);
    return json_pack("{s:s}", "decision", a->decision);
}

json_t *sl_dist_replay_waves(struct sl_server *srv, struct sl_lua *candidate,
                             const char *id, json_t *upload, json_t *tags, int *examined)
{
    struct sl_dist *d = D(srv);
    struct sl_plugins *plugins = sl_policy_plugins(srv);
    struct ditem it = { 0 };
    json_t *waves = NULL, *changed = json_array(), *jw;
    size_t i;

    if (dist_keep_interests(&it, tags) < 0 || sl_store_waves_get(srv->reader, id, &waves) < 0) {
        free(it.interests);
        return changed;
    }
    json_array_foreach(waves, i, jw) {
        struct wave w;
        dist_wave_restore(&w, jw);
        /* Only waves the deciders decided: skips and reviews were not their call. */
        if (strcmp(w.decision, "continue") != 0 && strcmp(w.decision, "stop") != 0 &&
            strcmp(w.decision, "switch") != 0)
            continue;
        /* Why it was asked as it was recorded; waves stored before that
         * ended at their size or their time. */
        const char *why = w.ended_by[0] ? w.ended_by
                          : w.ended_ms - w.started_ms >= w.limit_ms ? "time" : "size";
        int64_t elapsed = w.ended_ms - w.started_ms;
        char err_a[SL_LUA_ERR_MAX], err_b[SL_LUA_ERR_MAX];
        struct dist_answer a, b;
        /* The plugins loaded now decide first on both sides, so a
         * candidate changes only what its Lua may (the combination rule). */
        int rc_a = dist_wave_decide(d, plugins, sl_policy_lua(srv), &it, upload, tags, &w,
                                    elapsed, why, false, &a, err_a, sizeof(err_a));
        int rc_b = dist_wave_decide(d, plugins, candidate, &it, upload, tags, &w, elapsed, why,
                                    false, &b, err_b, sizeof(err_b));
        json_t *from = replay_answer(rc_a, &a, err_a), *to = replay_answer(rc_b, &b, err_b);
        (*examined)++;
        if (!json_equal(from, to)) {
            json_array_append_new(changed, json_pack("{s:s, s:i, s:s, s:s, s:o, s:o, s:{s:s, s:s}}",
                                  "id", id, "wave", w.n, "audience", w.audience,
                                  "decided_by", w.decided_by, "from", from, "to", to,
                                  "by", "from", a.by, "to", b.by));
        } else {
            json_decref(from);
            json_decref(to);
        }
    }
    json_decref(waves);
    free(it.interests);
    return changed;
}

/* }===================================================================== */
