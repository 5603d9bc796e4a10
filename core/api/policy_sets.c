/* SPDX-License-Identifier: MIT */
/* Several nodes: one policy set for all, kept in the store. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/cluster.h"
#include "dist/dist.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/text.h"
#include "lua/sandbox.h"
#include "policy/policy.h"
#include "server.h"
#include "store/commit.h"
#include "store/shared.h"

/*
 * On a store several nodes share, the policy set every node runs is the
 * newest in `policy_sets`: a reload on any node reads its policies
 * directory, checks and runs it, then stores it (its files, as loaded);
 * the change feed tells the others, which load that set from the store.
 * At start a node runs the newest stored set (storing its own when there
 * is none), so that all judge by one version. Plugins, and the files they
 * read (keyword lists), stay each node's own.
 */

static int add_file(void *arg, const char *name, const char *data, size_t len)
{
    json_t *f = json_pack("{s:s, s:s%}", "name", name, "data", data, len);
    return f && json_array_append_new(arg, f) == 0 ? 0 : -ENOMEM;
}

/* The running set's files as JSON text [{name, data}]; NULL when out of
 * memory. */
static char *files_json(struct sl_server *srv)
{
    struct sl_lua_sources *src = sl_lua_sources_of(sl_policy_lua(srv));
    json_t *files = json_array();
    char *text = NULL;

    if (src && files && sl_lua_sources_each(src, add_file, files) == 0)
        text = json_dumps(files, JSON_COMPACT);
    json_decref(files);
    sl_lua_sources_free(src);
    return text;
}

int sl_cluster_policy_load(struct sl_server *srv, const char *version, const char *files)
{
    json_t *list = json_loads(files, 0, NULL), *f;
    struct sl_lua_sources *src = sl_lua_sources_new("policies");
    char err[SL_LUA_ERR_MAX];
    size_t i;
    int rc = list && src && json_is_array(list) ? 0 : -EINVAL;

    json_array_foreach(list, i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        json_t *data = json_object_get(f, "data");
        if (rc == 0 && (!name || !json_is_string(data) ||
                        sl_lua_sources_add(src, name, json_string_value(data),
                                           json_string_length(data)) < 0))
            rc = -EINVAL;
    }
    if (rc < 0)
        sl_err("policies: the stored set %s cannot be read; keeping %s", version,
               sl_policy_version(srv));
    else if ((rc = sl_policy_load_set(srv, src, err, sizeof(err))) == 0 && srv->dist)
        sl_dist_policy_changed(srv);    /* at start, sl_dist_start() reads it */
    json_decref(list);
    sl_lua_sources_free(src);
    return rc;
}

/* {====================== Storing the running set ====================== */

struct put_op {
    struct sl_commit_op op;
    struct sl_request *r;           /* NULL: the seed at start */
    char version[32], previous[32], by[SL_ID_MAX + 8];
    char *files;
    json_t *answer;
};

static void put_free(struct put_op *p)
{
    free(p->files);
    json_decref(p->answer);
    free(p);
}

static int put_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct put_op *p = (struct put_op *)op;
    return sl_store_policy_put(w, p->version, p->files, sl_now_ms(), p->by);
}

static void put_done(struct sl_commit_op *op, int rc)
{
    struct put_op *p = (struct put_op *)op;
    if (rc < 0)
        sl_err("policies: storing set %s for the other nodes failed (%s): they run the one "
               "they had until the next reload", p->version, strerror(-rc));
    if (p->r && rc < 0)
        sl_http_reply_errorf(p->r, 503, "unavailable", NULL,
                             "This node runs %s (was %s), and it could not be stored for "
                             "the other nodes; reload again.", p->version, p->previous);
    else if (p->r)
        sl_http_reply_json(p->r, 200, json_incref(p->answer));
    put_free(p);
}

static void put_drop(struct sl_commit_op *op)
{
    put_free((struct put_op *)op);
}

static struct put_op *put_new(struct sl_server *srv, const char *by)
{
    struct put_op *p = calloc(1, sizeof(*p));
    if (p && !(p->files = files_json(srv))) {
        free(p);
        return NULL;
    }
    if (p) {
        sl_copy(p->version, sizeof(p->version), sl_policy_version(srv));
        sl_copy(p->by, sizeof(p->by), by);
    }
    return p;
}

void sl_cluster_policy_stored(struct sl_request *r, const char *previous, json_t *answer)
{
    char by[SL_ID_MAX + 8];
    sl_api_actor(r, by, sizeof(by));
    struct put_op *p = put_new(r->srv, by);
    if (p) {
        p->r = r;
        p->answer = answer;
        sl_copy(p->previous, sizeof(p->previous), previous);
    } else {
        json_decref(answer);
    }
    sl_api_submit(r, p ? &p->op : NULL, put_apply, put_done, put_drop);
}

/* }===================================================================== */

/* Store the running set for the other nodes; no request waits. */
int sl_cluster_policy_publish(struct sl_server *srv, const char *by)
{
    struct put_op *p = put_new(srv, by);
    int rc;
    if (!p)
        return -ENOMEM;
    p->op.apply = put_apply;
    p->op.done = put_done;
    if ((rc = sl_commit_submit(srv->commit, &p->op)) < 0)
        put_free(p);
    return rc;
}

int sl_cluster_policy_start(struct sl_server *srv)
{
    char *version = NULL, *files = NULL, by[SL_ID_MAX + 8];
    int rc = sl_store_policy_get(srv->reader, NULL, &version, &files);

    if (rc == -ENOENT) {
        /* The first node: its set is the platform's. */
        snprintf(by, sizeof(by), "node:%s", srv->node.name);
        return sl_cluster_policy_publish(srv, by);
    }
    if (rc < 0)
        return rc;
    if (strcmp(version, sl_policy_version(srv)) != 0) {
        sl_info("policies: the nodes run %s (stored); this node's directory has %s", version,
                sl_policy_version(srv));
        rc = sl_cluster_policy_load(srv, version, files);
    }
    free(version);
    free(files);
    return rc;
}
