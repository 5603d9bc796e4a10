/* SPDX-License-Identifier: MIT */
/* The loaded policy set and plugins, reloads, and the review pipeline. */
#ifndef SL_POLICY_H
#define SL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct sl_server;
struct sl_item;
struct sl_lua;
struct sl_plugins;
struct evbuffer;

/* The automatic verdict on an item, as stored and shown. */
struct sl_outcome {
    char state[16];             /* "approved", "rejected" or "in_review" */
    char queue[129];            /* for in_review */
    int priority;
    char reason[512];
    char actor[160];            /* "policy:VERSION" or "plugin:NAME" */
    bool failed;                /* a hook failed: the item went to people */
};

/* Load plugins and policies at start, and hand the plugins the stored hash
 * banks; a failure is fatal (err says why). */
int sl_policy_start(struct sl_server *srv, char *err, size_t errlen);
void sl_policy_stop(struct sl_server *srv);

/* hashbanks_load.c: hand every stored bank to the plugins (from start). */
int sl_policy_hashbanks_load(struct sl_server *srv);

/* Build a new policy set from the policies directory and swap it in, and
 * reload the plugins' files; on failure keep the old set, err "file:line: ...". */
int sl_policy_reload(struct sl_server *srv, char *err, size_t errlen);
/* Several nodes: run the set src (as another node's reload stored it) in
 * place of the loaded one; the plugins stay. On failure the old set stays
 * and err says why. */
struct sl_lua_sources;
int sl_policy_load_set(struct sl_server *srv, const struct sl_lua_sources *src, char *err,
                       size_t errlen);

/* Tag and review an item: plugins, then the Lua hook, for tag and then for
 * review. Never fails: a failing or missing hook sends the item to people. */
void sl_policy_review(struct sl_server *srv, struct sl_item *item, struct sl_outcome *v);

/* The same pipeline over any sandbox; live = false for a candidate being
 * replayed (its failures are neither counted nor logged). */
void sl_policy_judge(struct sl_lua *lua, struct sl_plugins *plugins, struct sl_item *item,
                     struct sl_outcome *v, bool live);

/* The version hash of the loaded set ("" when none). */
const char *sl_policy_version(const struct sl_server *srv);

/* The loaded sandbox and plugins, for hooks run elsewhere (distribution). */
struct sl_lua *sl_policy_lua(const struct sl_server *srv);
struct sl_plugins *sl_policy_plugins(const struct sl_server *srv);

/* Count a failed hook call (for /metrics) and log it once. */
void sl_policy_failed(const char *hook, const char *why);

/* {version, directory, files, hooks, plugins, loaded_ms}: what is loaded
 * (GET /v1/policies); a new reference. */
json_t *sl_policy_describe(const struct sl_server *srv);

void sl_policy_metrics(const struct sl_server *srv, struct evbuffer *out);

#endif
