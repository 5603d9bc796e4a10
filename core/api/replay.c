/* SPDX-License-Identifier: MIT */
/* POST /v1/policies/replay: what a candidate policy set would change, before anyone reloads it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "api/api.h"
#include "api/uploads.h"
#include "dist/dist.h"
#include "lib/item.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lua/sandbox.h"
#include "policy/policy.h"
#include "server.h"
#include "store/store.h"

#define REPLAY_MAX_ITEMS 20000
#define REPLAY_MAX_CHANGED 500
#define REPLAY_MAX_FILES 256

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Write the candidate's files into a fresh directory so require() and the
 * load order behave exactly as they would after a reload. */
static int write_candidate(const char *dir, json_t *files, struct sl_error *err)
{
    const char *name;
    json_t *src;

    json_object_foreach(files, name, src) {
        char path[4096 + 136];
        size_t n = strlen(name);
        if (n < 5 || n > 128 || strcmp(name + n - 4, ".lua") != 0 || name[0] == '.' ||
            strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
            return sl_error_set(err, 422, "invalid", "files",
                                "'%.128s' is not a policy file name (NAME.lua)", name);
        if (!json_is_string(src))
            return sl_error_set(err, 422, "invalid", "files", "%s must be text", name);
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "wx");
        if (!f || fwrite(json_string_value(src), 1, json_string_length(src), f) !=
                      json_string_length(src)) {
            if (f)
                fclose(f);
            return sl_error_set(err, 503, "unavailable", NULL, "cannot write %s", name);
        }
        fclose(f);
    }
    return 0;
}

struct replay {
    struct sl_server *srv;
    struct sl_lua *candidate;
    int examined;
    json_t *changed;
    json_t *counts;
    int waves_examined;
    json_t *waves_changed;
};

static json_t *outcome_json(const struct sl_outcome *o)
{
    return json_pack("{s:s, s:s, s:s}", "state", o->state,
                     "queue", strcmp(o->state, "in_review") == 0 ? o->queue : "",
                     "reason", o->reason);
}

/* Judge one stored upload under both sets, with the same inputs. */
static int replay_one(void *arg, const char *id, const char *state, const char *upload,
                      const char *tags)
{
    struct replay *rp = arg;
    struct sl_outcome now, then;
    json_t *body = json_loads(upload, 0, NULL);
    struct sl_item *a = body ? sl_item_new(body) : NULL;
    struct sl_item *b = body ? sl_item_new(body) : NULL;

    if (!a || !b) {
        json_decref(body);
        sl_item_free(a);
        sl_item_free(b);
        return 0;
    }
    /* Recorded waves: what the candidate's wave_done would have said. */
    json_t *stored_tags = tags ? json_loads(tags, 0, NULL) : NULL;
    json_t *waves = sl_dist_replay_waves(rp->srv, rp->candidate, id, body, stored_tags,
                                         &rp->waves_examined);
    if (json_array_size(rp->waves_changed) < REPLAY_MAX_CHANGED)
        json_array_extend(rp->waves_changed, waves);
    json_decref(waves);
    json_decref(stored_tags);
    json_decref(body);
    sl_upload_standing(rp->srv, a);
    sl_upload_standing(rp->srv, b);
    sl_policy_judge(sl_policy_lua(rp->srv), sl_policy_plugins(rp->srv), a, &now, false);
    sl_policy_judge(rp->candidate, sl_policy_plugins(rp->srv), b, &then, false);
    rp->examined++;
    if (strcmp(now.state, then.state) != 0 ||
        (strcmp(now.state, "in_review") == 0 && strcmp(now.queue, then.queue) != 0)) {
        char key[64];
        snprintf(key, sizeof(key), "%s->%s", now.state, then.state);
        json_object_set_new(rp->counts, key,
                            json_integer(json_integer_value(json_object_get(rp->counts, key)) + 1));
        if (json_array_size(rp->changed) < REPLAY_MAX_CHANGED)
            json_array_append_new(rp->changed, json_pack("{s:s, s:s, s:o, s:o}", "id", id,
                                  "stored_state", state, "from", outcome_json(&now),
                                  "to", outcome_json(&then)));
    }
    sl_item_free(a);
    sl_item_free(b);
    return 0;
}

void sl_api_policies_replay(struct sl_request *r)
{
    static const char *const keys[] = { "files", "since_ms", NULL };
    struct sl_server *srv = r->srv;
    struct sl_error e = { 0 };
    long long since = 0;
    char dir[4096], err[SL_LUA_ERR_MAX];
    json_t *body = sl_http_json_body(r, &e);
    json_t *files = body ? json_object_get(body, "files") : NULL;

    if (!body || sl_json_only_keys(body, keys, &e) < 0 ||
        sl_json_get_int(body, "since_ms", false, 0, INT64_MAX, &since, &e) < 0 ||
        ((!json_is_object(files) || json_object_size(files) == 0 ||
          json_object_size(files) > REPLAY_MAX_FILES) &&
         sl_error_set(&e, 422, "invalid", "files",
                      "files must map 1 to %d NAME.lua to their text", REPLAY_MAX_FILES) < 0)) {
        json_decref(body);
        sl_http_reply_error(r, &e);
        return;
    }
    snprintf(dir, sizeof(dir), "%s/replay.XXXXXX", srv->cfg.state_dir);
    if (!mkdtemp(dir)) {
        json_decref(body);
        sl_http_reply_errorf(r, 503, "unavailable", NULL, "Cannot make a scratch directory.");
        return;
    }
    struct sl_lua_limits lim = { srv->cfg.lua_memory_limit, srv->cfg.lua_instruction_limit,
                                 (unsigned)srv->cfg.lua_time_limit_ms };
    struct replay rp = { .srv = srv, .changed = json_array(), .counts = json_object(),
                         .waves_changed = json_array() };
    int rc = write_candidate(dir, files, &e);
    json_decref(body);
    if (rc == 0) {
        rp.candidate = sl_lua_new(&lim);
        if (!rp.candidate || sl_lua_load_dir(rp.candidate, dir, err, sizeof(err)) < 0) {
            sl_error_set(&e, 422, "policy_error", "files", "%s",
                         rp.candidate ? err : "cannot create a sandbox");
            rc = -EINVAL;
        }
    }
    if (rc == 0)
        rc = sl_store_items_since(srv->reader, since, REPLAY_MAX_ITEMS, replay_one, &rp);
    nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    if (rc < 0) {
        sl_lua_free(rp.candidate);
        json_decref(rp.changed);
        json_decref(rp.counts);
        json_decref(rp.waves_changed);
        if (e.status)
            sl_http_reply_error(r, &e);
        else
            sl_http_reply_store_error(r, rc);
        return;
    }
    sl_info("policy replay: candidate %s against %s over %d uploads: %zu changed",
            sl_lua_version(rp.candidate), sl_policy_version(srv), rp.examined,
            json_array_size(rp.changed));
    sl_http_reply_json(r, 200, json_pack("{s:s, s:s, s:i, s:o, s:o, s:{s:i, s:o}}",
        "version", sl_lua_version(rp.candidate), "current", sl_policy_version(srv),
        "examined", rp.examined, "changed", rp.changed, "counts", rp.counts,
        "waves", "examined", rp.waves_examined, "changed", rp.waves_changed));
    sl_lua_free(rp.candidate);
}
