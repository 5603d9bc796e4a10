/* SPDX-License-Identifier: MIT */
/* Replay: the live deciders' and a candidate's wave decisions on recorded waves, off the loop. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "dist/internal.h"
#include "lua/sandbox.h"
#include "server.h"
#include "store/store.h"

/*
 * A policy replay runs on a job's thread, with its own sandboxes and store
 * connection. What it needs of the distribution's state, which only the
 * loop may touch, is copied into a struct sl_dist_replay on the loop: the
 * pools' baselines when the replay starts, and the audience's related
 * interests of each batch of items before the thread replays them.
 */
struct sl_dist_replay {
    struct pool pools[6];       /* as struct sl_dist's */
    json_t *related;            /* interest -> [related interests], from the audience */
};

/* {====================== On the loop ================================== */

struct sl_dist_replay *sl_dist_replay_new(struct sl_server *srv)
{
    struct sl_dist_replay *rp = calloc(1, sizeof(*rp));

    if (!rp || !(rp->related = json_object())) {
        free(rp);
        return NULL;
    }
    memcpy(rp->pools, D(srv)->pools, sizeof(rp->pools));
    return rp;
}

void sl_dist_replay_free(struct sl_dist_replay *rp)
{
    if (!rp)
        return;
    json_decref(rp->related);
    free(rp);
}

int sl_dist_replay_learn(struct sl_server *srv, struct sl_dist_replay *rp, json_t *tags)
{
    struct ditem it = { 0 };
    const char *mine[16];
    int rc = dist_keep_interests(&it, tags);
    size_t n = rc < 0 ? 0 : dist_item_interests(&it, mine, 16);

    for (size_t i = 0; rc == 0 && i < n; i++) {
        json_t *rel;
        if (json_object_get(rp->related, mine[i]))
            continue;
        if (!(rel = json_array()) || dist_audience_related(D(srv), mine[i], rel) < 0 ||
            json_object_set_new(rp->related, mine[i], rel) < 0) {
            json_decref(rel);
            rc = -1;
        }
    }
    free(it.interests);
    return rc < 0 ? -ENOMEM : 0;
}

/* }===================================================================== */

/* {====================== On the job's thread ========================== */

/* related(interest) without a hook: what the audience said on the loop. */
static int learned_related(void *ud, const char *interest, json_t *out)
{
    struct sl_dist_replay *rp = ud;
    json_t *rel = json_object_get(rp->related, interest);

    return rel ? json_array_extend(out, rel) : 0;
}

static json_t *replay_answer(int rc, const struct dist_answer *a, const char *err)
{
    if (rc != 0)
        return json_pack("{s:s, s:s}", "decision", "error", "reason", err);
    if (strcmp(a->decision, "switch") == 0)
        return json_pack("{s:s, s:s}", "decision", a->decision, "audience", a->audience);
    return json_pack("{s:s}", "decision", a->decision);
}

json_t *sl_dist_replay_waves(struct sl_dist_replay *rp, struct sl_store *reader,
                             struct sl_plugins *plugins, struct sl_lua *live,
                             struct sl_lua *candidate, const struct sl_item *context,
                             const char *id, json_t *upload, json_t *tags, int *examined)
{
    /* Both sides see the related interests of the live set, as on the loop. */
    const struct dist_view view = {
        .pools = rp->pools,
        .related_lua = live,
        .related = learned_related,
        .ud = rp,
        .context = context,
    };
    struct ditem it = { 0 };
    json_t *waves = NULL, *changed = json_array(), *jw;
    size_t i;

    if (dist_keep_interests(&it, tags) < 0 || sl_store_waves_get(reader, id, &waves) < 0) {
        free(it.interests);
        return changed;
    }
    json_array_foreach(waves, i, jw) {
        struct wave_read r;
        dist_wave_restore(&r, jw);
        struct wave w = r.w;
        w.audience = r.audience;
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
        int rc_a = dist_wave_decide(&view, plugins, live, &it, upload, tags, &w, elapsed, why,
                                    &a, err_a, sizeof(err_a));
        int rc_b = dist_wave_decide(&view, plugins, candidate, &it, upload, tags, &w, elapsed,
                                    why, &b, err_b, sizeof(err_b));
        json_t *from = replay_answer(rc_a, &a, err_a), *to = replay_answer(rc_b, &b, err_b);
        (*examined)++;
        if (!json_equal(from, to)) {
            json_array_append_new(changed, json_pack("{s:s, s:i, s:s, s:s, s:o, s:o, s:{s:s, s:s}}",
                                  "id", id, "wave", w.n, "audience", w.audience,
                                  "decided_by", r.by, "from", from, "to", to,
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
