/* SPDX-License-Identifier: MIT */
/* POST /v1/policies/replay: what a candidate policy set would change, before anyone reloads it. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/jobs.h"
#include "dist/dist.h"
#include "lib/item.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/text.h"
#include "lua/sandbox.h"
#include "policy/policy.h"
#include "server.h"
#include "store/store.h"

#define REPLAY_MAX_ITEMS 20000
#define REPLAY_MAX_CHANGED 500
#define REPLAY_MAX_FILES 256
#define BATCH_ITEMS 256             /* items judged per visit to the loop */
#define BATCH_BYTES (4 << 20)       /* ... or fewer, when their texts are long */

/*
 * The replay runs as a job, on a thread of its own: it judges up to 20,000
 * stored uploads twice, and the policies it runs may be hostile. It owns
 * two sandboxes built from sources (the candidate, and a copy of the live
 * set taken on the loop when the replay was asked for, so it judges by the
 * version it names), a store connection, and a copy of what it needs of
 * the distribution's state. Items are read in batches; before judging a
 * batch, the job visits the loop once to read what only the loop may read:
 * the creators' followers, the platform's size and the audience's related
 * interests.
 */

/* {====================== The job ====================================== */

struct batch_item {
    char *id, *state;
    json_t *upload, *tags;      /* parsed; tags NULL when none were stored */
    struct sl_item *now, *then; /* to judge by each set; made on the loop, with what
                                 * the audience knows of their creator and platform */
};

struct replay {
    /* given by the handler */
    struct sl_lua_sources *live_src, *cand_src;
    char live_version[16];
    struct sl_lua_limits lim;
    struct sl_plugins *plugins;
    struct sl_dist_replay *dist;
    char *state_dir;
    char *store;                /* NULL: SQLite in state_dir */
    int64_t since;

    /* the job's own */
    struct sl_job *job;
    struct sl_store *reader;
    struct sl_lua *live, *candidate;
    struct batch_item batch[BATCH_ITEMS];
    size_t nbatch, batch_bytes;
    int examined, learn_rc;
    int stop;                   /* why gather stopped the store's walk; 0: it did not */
    json_t *changed, *counts, *waves_changed;
    int waves_examined;
};

static void replay_free(void *arg)
{
    struct replay *rp = arg;

    sl_lua_sources_free(rp->live_src);
    sl_lua_sources_free(rp->cand_src);
    sl_dist_replay_free(rp->dist);
    free(rp->state_dir);
    free(rp->store);
    free(rp);
}

static void batch_clear(struct replay *rp)
{
    for (size_t i = 0; i < rp->nbatch; i++) {
        struct batch_item *b = &rp->batch[i];
        free(b->id);
        free(b->state);
        json_decref(b->upload);
        json_decref(b->tags);
        sl_item_free(b->now);
        sl_item_free(b->then);
    }
    rp->nbatch = 0;
    rp->batch_bytes = 0;
}

static json_t *outcome_json(const struct sl_outcome *o)
{
    return json_pack("{s:s, s:s, s:s}", "state", o->state,
                     "queue", strcmp(o->state, "in_review") == 0 ? o->queue : "",
                     "reason", o->reason);
}

/* On the loop: what the batch needs of the audience. */
static void learn(struct sl_server *srv, void *arg)
{
    struct replay *rp = arg;

    for (size_t i = 0; i < rp->nbatch; i++) {
        struct batch_item *b = &rp->batch[i];
        b->now = sl_item_new(b->upload);
        b->then = sl_item_new(b->upload);
        if (b->now && b->then) {
            /* The creator's standing now, as an upload would see it. */
            sl_dist_item_context(srv, b->now);
            sl_dist_item_context(srv, b->then);
        }
        if (rp->learn_rc == 0 && b->tags)
            rp->learn_rc = sl_dist_replay_learn(srv, rp->dist, b->tags);
    }
}

/* Judge one stored upload under both sets, with the same inputs. */
static void replay_one(struct replay *rp, struct batch_item *b)
{
    struct sl_outcome now, then;
    struct sl_item *a = b->now, *c = b->then;

    if (!a || !c)
        return;
    /* Recorded waves: what the candidate would have decided of them. */
    json_t *waves = sl_dist_replay_waves(rp->dist, rp->reader, rp->plugins, rp->live,
                                         rp->candidate, a, b->id, b->upload, b->tags,
                                         &rp->waves_examined);
    if (json_array_size(rp->waves_changed) < REPLAY_MAX_CHANGED)
        json_array_extend(rp->waves_changed, waves);
    json_decref(waves);
    sl_policy_judge(rp->live, rp->plugins, a, &now, false);
    sl_policy_judge(rp->candidate, rp->plugins, c, &then, false);
    rp->examined++;
    if (strcmp(now.state, then.state) != 0 ||
        (strcmp(now.state, "in_review") == 0 && strcmp(now.queue, then.queue) != 0)) {
        char key[64];
        snprintf(key, sizeof(key), "%s->%s", now.state, then.state);
        json_object_set_new(rp->counts, key,
                            json_integer(json_integer_value(json_object_get(rp->counts, key)) + 1));
        if (json_array_size(rp->changed) < REPLAY_MAX_CHANGED)
            json_array_append_new(rp->changed, json_pack("{s:s, s:s, s:o, s:o}", "id", b->id,
                                  "stored_state", b->state, "from", outcome_json(&now),
                                  "to", outcome_json(&then)));
    }
}

/* Visit the loop for the batch, then judge it. Nonzero: stop. */
static int replay_batch(struct replay *rp)
{
    int rc = sl_job_on_loop(rp->job, learn, rp);

    if (rc == 0 && rp->learn_rc < 0)
        rc = rp->learn_rc;
    for (size_t i = 0; rc == 0 && i < rp->nbatch; i++) {
        if (sl_job_stopping(rp->job))
            rc = -ECANCELED;
        else
            replay_one(rp, &rp->batch[i]);
        sl_job_progress(rp->job, rp->examined, 0);
    }
    batch_clear(rp);
    return rc;
}

/* sl_store_items_since's callback: gather a batch, judge it when full.
 * Nonzero stops the walk, with the reason in rp->stop. */
static int gather(void *arg, const char *id, const char *state, const char *upload,
                  const char *tags)
{
    struct replay *rp = arg;
    struct batch_item *b = &rp->batch[rp->nbatch];
    json_t *up = json_loads(upload, 0, NULL);

    if (!up)
        return 0;       /* unreadable: skipped, as an upload could not be judged */
    memset(b, 0, sizeof(*b));
    b->upload = up;
    b->tags = tags ? json_loads(tags, 0, NULL) : NULL;
    rp->nbatch++;
    if (!(b->id = strdup(id)) || !(b->state = strdup(state)))
        return rp->stop = -ENOMEM;
    rp->batch_bytes += strlen(upload) + (tags ? strlen(tags) : 0);
    if (rp->nbatch == BATCH_ITEMS || rp->batch_bytes >= BATCH_BYTES)
        return rp->stop = replay_batch(rp);
    return 0;
}

/* Build a sandbox from src; NULL with err set. */
static struct sl_lua *build(const struct sl_lua_sources *src, const struct sl_lua_limits *lim,
                            char *err, size_t errlen)
{
    struct sl_lua *lua = sl_lua_new(lim);

    if (!lua) {
        snprintf(err, errlen, "cannot create a sandbox");
        return NULL;
    }
    if (sl_lua_load_sources(lua, src, err, errlen) < 0) {
        sl_lua_free(lua);
        return NULL;
    }
    return lua;
}

static void replay_run(struct sl_job *job, void *arg)
{
    struct replay *rp = arg;
    struct sl_error e = { 0 };
    char err[SL_LUA_ERR_MAX];
    int rc = 0;

    rp->job = job;
    rp->changed = json_array();
    rp->counts = json_object();
    rp->waves_changed = json_array();
    if (!(rp->candidate = build(rp->cand_src, &rp->lim, err, sizeof(err))))
        rc = sl_error_set(&e, 422, "policy_error", "files", "%s", err);
    else if (!(rp->live = build(rp->live_src, &rp->lim, err, sizeof(err))) ||
             strcmp(sl_lua_version(rp->live), rp->live_version) != 0)
        rc = sl_error_set(&e, 503, "unavailable", NULL, "Cannot rebuild the running "
                          "policies %s for the replay: %s", rp->live_version,
                          rp->live ? "another version loaded" : err);
    else if (sl_store_open(rp->store, rp->state_dir, false, &rp->reader) < 0)
        rc = sl_error_set(&e, 503, "unavailable", NULL, "The store cannot be read.");
    if (rc == 0 && (!rp->changed || !rp->counts || !rp->waves_changed))
        rc = sl_error_set(&e, 503, "unavailable", NULL, "The daemon is out of memory.");
    if (rc == 0) {
        rc = sl_store_items_since(rp->reader, rp->since, REPLAY_MAX_ITEMS, gather, rp);
        if (rc == 0)
            rc = rp->stop;
        if (rc == 0 && rp->nbatch > 0)
            rc = replay_batch(rp);
        batch_clear(rp);
        if (rc == -ENOMEM)
            sl_error_set(&e, 503, "unavailable", NULL, "The daemon is out of memory.");
        else if (rc < 0 && rc != -ECANCELED)
            sl_error_set(&e, 503, "unavailable", NULL,
                         "The store could not be read; nothing was replayed.");
    }
    if (e.status) {
        sl_job_answer_error(job, &e);
    } else if (rc == 0) {
        sl_info("policy replay: candidate %s against %s over %d uploads: %zu changed",
                sl_lua_version(rp->candidate), rp->live_version, rp->examined,
                json_array_size(rp->changed));
        sl_job_answer(job, 200, json_pack("{s:s, s:s, s:i, s:O, s:O, s:{s:i, s:O}}",
            "version", sl_lua_version(rp->candidate), "current", rp->live_version,
            "examined", rp->examined, "changed", rp->changed, "counts", rp->counts,
            "waves", "examined", rp->waves_examined, "changed", rp->waves_changed));
    }
    json_decref(rp->changed);
    json_decref(rp->counts);
    json_decref(rp->waves_changed);
    sl_store_free(rp->reader);
    sl_lua_free(rp->live);
    sl_lua_free(rp->candidate);
}

/* }===================================================================== */

/* {====================== The request ================================== */

/* The candidate's files, as a policy directory would hold them. */
static int candidate_sources(json_t *files, struct sl_lua_sources **out, struct sl_error *err)
{
    struct sl_lua_sources *src = sl_lua_sources_new("candidate");
    const char *name;
    json_t *text;

    if (!src)
        return sl_error_set(err, 503, "unavailable", NULL, "The daemon is out of memory.");
    json_object_foreach(files, name, text) {
        size_t n = strlen(name);
        if (n < 5 || n > 128 || strcmp(name + n - 4, ".lua") != 0 || name[0] == '.' ||
            strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n) {
            sl_lua_sources_free(src);
            return sl_error_set(err, 422, "invalid", "files",
                                "'%.128s' is not a policy file name (NAME.lua)", name);
        }
        if (!json_is_string(text)) {
            sl_lua_sources_free(src);
            return sl_error_set(err, 422, "invalid", "files", "%s must be text", name);
        }
        if (sl_lua_sources_add(src, name, json_string_value(text), json_string_length(text)) < 0) {
            sl_lua_sources_free(src);
            return sl_error_set(err, 503, "unavailable", NULL, "The daemon is out of memory.");
        }
    }
    *out = src;
    return 0;
}

void sl_api_policies_replay(struct sl_request *r)
{
    static const char *const keys[] = { "files", "since_ms", NULL };
    struct sl_server *srv = r->srv;
    struct sl_error e = { 0 };
    long long since = 0;
    json_t *body = sl_http_json_body(r, &e);
    json_t *files = body ? json_object_get(body, "files") : NULL;
    struct replay *rp = NULL;

    if (!body || sl_json_only_keys(body, keys, &e) < 0 ||
        sl_json_get_int(body, "since_ms", false, 0, INT64_MAX, &since, &e) < 0 ||
        ((!json_is_object(files) || json_object_size(files) == 0 ||
          json_object_size(files) > REPLAY_MAX_FILES) &&
         sl_error_set(&e, 422, "invalid", "files",
                      "files must map 1 to %d NAME.lua to their text", REPLAY_MAX_FILES) < 0) ||
        (!(rp = calloc(1, sizeof(*rp))) &&
         sl_error_set(&e, 503, "unavailable", NULL, "The daemon is out of memory.") < 0) ||
        candidate_sources(files, &rp->cand_src, &e) < 0) {
        json_decref(body);
        if (rp)
            replay_free(rp);
        sl_http_reply_error(r, &e);
        return;
    }
    json_decref(body);
    /* What the job needs of the loop's state, copied now. */
    rp->since = since;
    rp->lim = (struct sl_lua_limits){ srv->cfg.lua_memory_limit, srv->cfg.lua_instruction_limit,
                                      (unsigned)srv->cfg.lua_time_limit_ms };
    rp->plugins = sl_policy_plugins(srv);
    sl_copy(rp->live_version, sizeof(rp->live_version), sl_policy_version(srv));
    rp->live_src = sl_lua_sources_of(sl_policy_lua(srv));
    rp->dist = sl_dist_replay_new(srv);
    rp->state_dir = strdup(srv->cfg.state_dir);
    rp->store = srv->cfg.store ? strdup(srv->cfg.store) : NULL;
    if (!rp->live_src || !rp->dist || !rp->state_dir || (srv->cfg.store && !rp->store)) {
        replay_free(rp);
        sl_http_reply_errorf(r, 503, "unavailable", NULL, "The daemon is out of memory.");
        return;
    }
    sl_job_start(r, "replay", "uploads judged", replay_run, rp, replay_free);
}

/* }===================================================================== */
