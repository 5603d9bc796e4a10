/* SPDX-License-Identifier: MIT */
/* The moderators' console: static files under /console/ with their security headers, its settings, and GET /v1/stats. */
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

/*
 * The console's Content-Security-Policy, sent as a header so that it can
 * say frame-ancestors (a meta tag cannot): no page may frame the console,
 * scripts and styles come from sluiced only, and images from sluiced or
 * the thumbnail hosts the configuration allows, over HTTPS. A thumbnail
 * from any other host is never fetched by a moderator's browser, so an
 * uploader cannot learn who reviews it, when, or from where.
 */
static void security_headers(struct sl_request *r)
{
    struct evkeyvalq *hdr = evhttp_request_get_output_headers(r->req);
    const struct sl_config *cfg = &r->srv->cfg;
    struct evbuffer *csp = evbuffer_new();

    if (csp) {
        evbuffer_add_printf(csp, "default-src 'self'; script-src 'self'; style-src 'self'; "
                            "img-src 'self' data:");
        for (int i = 0; i < cfg->nthumbnail_hosts; i++)
            evbuffer_add_printf(csp, " https://%s", cfg->thumbnail_hosts[i]);
        evbuffer_add_printf(csp, "; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                            "form-action 'none'; frame-ancestors 'none'");
        evbuffer_add(csp, "", 1);
        evhttp_add_header(hdr, "Content-Security-Policy", (const char *)evbuffer_pullup(csp, -1));
        evbuffer_free(csp);
    }
    evhttp_add_header(hdr, "X-Frame-Options", "DENY");          /* browsers before CSP 2 */
    evhttp_add_header(hdr, "Referrer-Policy", "no-referrer");
    evhttp_add_header(hdr, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(hdr, "Cache-Control", "no-cache");
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
    if (!buf || evbuffer_add_file(buf, fd, 0, st.st_size) < 0) {     /* takes fd */
        if (buf)
            evbuffer_free(buf);
        else
            close(fd);
        sl_http_reply_errorf(r, 503, "unavailable", NULL, "The daemon is out of memory.");
        return;
    }
    security_headers(r);
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

/* What the console needs to know of the configuration: the thumbnail
 * hosts, so that it shows no image it would not be allowed to load. */
void sl_api_console_settings(struct sl_request *r)
{
    const struct sl_config *cfg = &r->srv->cfg;
    json_t *hosts = json_array();

    for (int i = 0; i < cfg->nthumbnail_hosts; i++)
        json_array_append_new(hosts, json_string(cfg->thumbnail_hosts[i]));
    sl_http_reply_json(r, 200, json_pack("{s:o}", "thumbnail_hosts", hosts));
}

void sl_api_stats(struct sl_request *r)
{
    json_t *depths = NULL, *decisions = NULL, *states = NULL;
    int64_t now = sl_now_ms();
    struct sl_store *s = r->srv->reader;
    int rc;

    if ((rc = sl_store_queue_depths(s, now, r->srv->cfg.queue_sla, &depths)) < 0 ||
        (rc = sl_store_decision_stats(s, now - STATS_WINDOW_MS, &decisions)) < 0 ||
        (rc = sl_store_item_states(s, &states)) < 0) {
        json_decref(depths);
        json_decref(decisions);
        sl_api_read_error(r, rc);
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
