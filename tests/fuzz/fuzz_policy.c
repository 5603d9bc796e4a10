/* SPDX-License-Identifier: MIT */
/* Policies: checking and loading any source, then its hooks on an item, under small budgets. */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "lib/id.h"
#include "lib/item.h"
#include "lib/text.h"
#include "lua/sandbox.h"
#include "sluice/plugin.h"

/*
 * One input is one policy file. sl_lua_check (POST /v1/policies/check)
 * ends within its budgets, with 0 or an error of one line of valid UTF-8.
 * A file it accepts is then loaded as a policy directory would be, and
 * its hooks run on an item: each ends within the budgets, and what it
 * answers is either refused or well-formed (a verdict with a reason, tags
 * with confidences in [0, 1], waves the daemon can read).
 */

static const struct sl_lua_limits limits = {
    .memory = 4u << 20,
    .instructions = 200000,
};

static const char upload[] =
    "{\"id\": \"fuzz-item\", \"creator\": \"fuzz-creator\", \"title\": \"A cat on a skateboard\","
    " \"description\": \"Filmed in the park, no stunt double.\","
    " \"transcript\": \"whoa look at him go, free tickets at example.test\","
    " \"city\": \"Lyon\", \"duration_ms\": 15000,"
    " \"thumbnail\": \"https://cdn.example.test/t/1.jpg\","
    " \"tags\": {\"animal.cat\": 0.9}, \"signals\": {\"nsfw.score\": 0.1, \"spam.score\": 0.4},"
    " \"hashes\": [\"0123456789abcdef\"]}";

static char dir[64], file[96];

static void cleanup(void)
{
    unlink(file);
    rmdir(dir);
}

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, sizeof dir, "%s/sluice-fuzz-XXXXXX", tmp && strlen(tmp) < 24 ? tmp : "/tmp");
    FUZZ_CHECK(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
    snprintf(file, sizeof file, "%s/10-fuzz.lua", dir);
    atexit(cleanup);
}

/* An error as sandbox.h promises it: one line of valid UTF-8. */
static void check_err(int rc, const char *err)
{
    FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM || rc == -ETIMEDOUT, "rc %d: %s", rc, err);
    FUZZ_CHECK(err[0] != '\0', "rc %d without a message", rc);
    FUZZ_CHECK(sl_utf8_valid(err, strlen(err)), "not UTF-8: %s", err);
    FUZZ_CHECK(strchr(err, '\n') == NULL, "not one line: %s", err);
}

static void check_item(const struct sl_item *item)
{
    const char *name;
    json_t *t;
    size_t i;

    json_object_foreach(item->tags, name, t) {
        double c = json_number_value(json_object_get(t, "confidence"));
        FUZZ_CHECK(sl_id_valid(name), "tag name \"%s\"", name);
        FUZZ_CHECK(c >= 0 && c <= 1, "tag %s confidence %g", name, c);
        FUZZ_CHECK(json_is_string(json_object_get(t, "source")), "tag %s has no source", name);
    }
    json_array_foreach(item->reasons, i, t)
        FUZZ_CHECK(json_is_string(t) && json_string_length(t) > 0 &&
                   json_string_length(t) <= 1000, "reason %zu: %s", i, json_string_value(t));
}

static void run_hooks(struct sl_lua *sl)
{
    char err[SL_LUA_ERR_MAX];
    json_error_t jerr;
    json_t *body = json_loads(upload, 0, &jerr);
    struct sl_item *item = body ? sl_item_new(body) : NULL;
    int rc;

    FUZZ_CHECK(item != NULL, "the sample upload: %s", jerr.text);
    json_decref(body);

    if ((rc = sl_lua_tag(sl, item, err, sizeof err)) < 0)
        check_err(rc, err);
    check_item(item);

    struct sl_review rv;
    if ((rc = sl_lua_review(sl, item, &rv, err, sizeof err)) < 0) {
        check_err(rc, err);
    } else if (rc == 0) {
        FUZZ_CHECK(rv.verdict == SL_VERDICT_APPROVE || rv.verdict == SL_VERDICT_REJECT ||
                   rv.verdict == SL_VERDICT_REVIEW, "verdict %d", rv.verdict);
        FUZZ_CHECK(memchr(rv.reason, '\0', sizeof rv.reason) && memchr(rv.queue, '\0',
                   sizeof rv.queue), "unterminated");
        FUZZ_CHECK(rv.verdict == SL_VERDICT_APPROVE || rv.reason[0], "verdict %d without reason",
                   rv.verdict);
        FUZZ_CHECK(sl_utf8_valid(rv.reason, strlen(rv.reason)) &&
                   sl_utf8_valid(rv.queue, strlen(rv.queue)), "reason or queue not UTF-8");
    }
    check_item(item);

    struct sl_lua_wave waves[8];
    size_t n = 0;
    if ((rc = sl_lua_plan(sl, item, waves, 8, &n, err, sizeof err)) < 0)
        check_err(rc, err);
    FUZZ_CHECK(n <= 8, "%zu waves", n);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(memchr(waves[i].audience, '\0', sizeof waves[i].audience),
                   "wave %zu: audience unterminated", i);

    /* The other hooks, through JSON as the daemon calls them. */
    static const char *const others[] = { "wave_done", "traffic", "groups", "related" };
    json_t *arg = json_pack("{s:i, s:s}", "wave", 1, "audience", "followers");
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        json_t *res = NULL;
        rc = sl_lua_call_json(sl, others[i], item, &arg, 1, &res, err, sizeof err);
        if (rc < 0)
            check_err(rc, err);
        FUZZ_CHECK((rc == 0) == (res != NULL), "%s: rc %d, result %p", others[i], rc,
                   (void *)res);
        json_decref(res);
    }
    json_decref(arg);
    FUZZ_CHECK(sl_lua_memory(sl) <= limits.memory, "%zu bytes held", sl_lua_memory(sl));
    sl_item_free(item);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[SL_LUA_ERR_MAX];

    if (dir[0] == '\0')
        setup();
    err[0] = '\0';
    int rc = sl_lua_check("fuzz.lua", (const char *)data, size, NULL, &limits, err, sizeof err);
    if (rc < 0) {
        check_err(rc, err);
        return 0;
    }
    FUZZ_CHECK(rc == 0, "rc %d", rc);

    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FUZZ_CHECK(fd >= 0 && write(fd, data, size) == (ssize_t)size && close(fd) == 0,
               "cannot write %s: %s", file, strerror(errno));
    struct sl_lua *sl = sl_lua_new(&limits);
    FUZZ_CHECK(sl != NULL, "sl_lua_new: %s", strerror(errno));
    /* Its top level ran once already; a second run may differ (it may
     * count on its budget), so only a load that works goes on. */
    if ((rc = sl_lua_load_dir(sl, dir, err, sizeof err)) < 0)
        check_err(rc, err);
    else
        run_hooks(sl);
    sl_lua_free(sl);
    return 0;
}
