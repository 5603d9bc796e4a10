/* SPDX-License-Identifier: MIT */
/* GET /v1/backup: a consistent copy of the store, taken while writers go on. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "api/api.h"
#include "server.h"
#include "store/store.h"

void sl_api_backup(struct sl_request *r)
{
    char path[4096];
    struct stat st;

    snprintf(path, sizeof(path), "%s/backup.XXXXXX", r->srv->cfg.state_dir);
    int fd = mkstemp(path);
    if (fd < 0) {
        sl_http_reply_errorf(r, 503, "unavailable", NULL, "Cannot make a backup file.");
        return;
    }
    close(fd);
    /* The online backup API copies a consistent snapshot while writers go on. */
    if (sl_store_backup(r->srv->reader, path) < 0 ||
        (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
        unlink(path);
        sl_http_reply_errorf(r, 503, "unavailable", NULL, "The backup failed; see the log.");
        return;
    }
    unlink(path);   /* the open descriptor keeps it until sent */
    /* Straight into the request's output buffer: nothing to allocate. */
    if (evbuffer_add_file(evhttp_request_get_output_buffer(r->req), fd, 0, st.st_size) < 0) {
        close(fd);
        sl_http_reply_errorf(r, 503, "unavailable", NULL, "The backup could not be sent.");
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Disposition",
                      "attachment; filename=\"sluice.db\"");
    sl_http_reply_bytes(r, 200, "application/octet-stream", "", 0);
}
