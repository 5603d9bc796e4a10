/* SPDX-License-Identifier: MIT */
/* The moderators' console: static files under /console/, and GET /v1/stats. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "api/api.h"
#include "dist/dist.h"
#include "lib/clock.h"
#include "lib/json.h"
#include "server.h"
#include "store/store.h"

#define STATS_WINDOW_MS (24LL * 3600 * 1000)

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    { ".html", "text/html; charset=utf-8" },
    { ".js",   "text/javascript; charset=utf-8" },
    { ".css",  "text/css; charset=utf-8" },
    { ".svg",  "image/svg+xml" },
    { ".png",  "image/png" },
    { ".ico",  "image/x-icon" },
    { ".json", "application/json" },
};

static const char *content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

/* Serve one file of the console directory; names are flat and plain, so
 * nothing outside the directory can be named. */
static void serve(struct sl_request *r, const char *name)
{
    char path[4096];
    const char *type = content_type(name);
    struct stat st;

    if (!type || name[0] == '.' || strspn(name, "abcdefghijklmnopqrstuvwxyz"
                                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
                                       != strlen(name)) {
        sl_http_reply_errorf(r, 404, "not_found", NULL, "No console file is named that.");
        return;
    }
    snprintf(path, sizeof(path), "%s/%s", r->srv->cfg.console_dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        sl_http_reply_errorf(r, 404, "not_found", NULL,
                             "The console file '%s' is not installed.", name);
        return;
    }
    struct evbuffer *buf = evbuffer_new();
    evbuffer_add_file(buf, fd, 0, st.st_size);     /* takes fd */
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Cache-Control", "no-cache");
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "X-Content-Type-Options",
                      "nosniff");
    sl_http_reply_text(r, 200, type, buf);
    evbuffer_free(buf);
}

void sl_api_console_index(struct sl_request *r)
{
    serve(r, "index.html");
}

void sl_api_console_file(struct sl_request *r)
{
    serve(r, r->params[0]);
}

void sl_api_stats(struct sl_request *r)
{
    json_t *depths = NULL, *decisions = NULL, *states = NULL;
    int64_t now = sl_now_ms();
    struct sl_store *s = r->srv->reader;

    if (sl_store_queue_depths(s, now, &depths) < 0 ||
        sl_store_decision_stats(s, now - STATS_WINDOW_MS, &decisions) < 0 ||
        sl_store_item_states(s, &states) < 0) {
        json_decref(depths);
        json_decref(decisions);
        sl_http_reply_store_error(r, -EIO);
        return;
    }
    json_t *out = json_pack("{s:I, s:o, s:o}", "now_ms", (json_int_t)now,
                            "queues", depths, "items", states);
    json_object_update(out, decisions);
    json_decref(decisions);
    json_t *dist = sl_dist_stats(r->srv);
    json_object_update(out, dist);
    json_decref(dist);
    /* Who decided how much is the moderators' business and their leads':
     * an ingest token (a service) is not told their names. */
    if (r->role == SL_ROLE_INGEST)
        json_object_del(out, "moderators");
    sl_http_reply_json(r, 200, out);
}
