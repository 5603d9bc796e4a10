/* SPDX-License-Identifier: MIT */
/* What every handler shares: a write or a read submitted, the caller named, a failed read. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "api/api.h"
#include "server.h"
#include "store/commit.h"
#include "store/readers.h"

static void submit(struct sl_request *r, struct sl_commit_op *op,
                   int (*apply)(struct sl_commit_op *op, struct sl_store *w),
                   void (*done)(struct sl_commit_op *op, int rc),
                   void (*drop)(struct sl_commit_op *op), bool ahead)
{
    if (!op) {
        sl_http_reply_store_error(r, -ENOMEM);
        return;
    }
    op->apply = apply;
    op->done = done;
    int rc = ahead ? sl_commit_submit_ahead(r->srv->commit, op)
                   : sl_commit_submit(r->srv->commit, op);
    if (rc < 0) {
        drop(op);
        sl_http_reply_store_error(r, rc);
    }
}

void sl_api_submit(struct sl_request *r, struct sl_commit_op *op,
                   int (*apply)(struct sl_commit_op *op, struct sl_store *w),
                   void (*done)(struct sl_commit_op *op, int rc),
                   void (*drop)(struct sl_commit_op *op))
{
    submit(r, op, apply, done, drop, false);
}

void sl_api_submit_ahead(struct sl_request *r, struct sl_commit_op *op,
                         int (*apply)(struct sl_commit_op *op, struct sl_store *w),
                         void (*done)(struct sl_commit_op *op, int rc),
                         void (*drop)(struct sl_commit_op *op))
{
    submit(r, op, apply, done, drop, true);
}

int sl_api_read(struct sl_request *r, struct sl_read_op *op)
{
    int rc = sl_readers_submit(r->srv->readers, op);

    if (rc == -EBUSY)
        sl_http_reply_errorf(r, 429, "too_many_searches", NULL,
                             "Every search thread is busy: try again in a moment.");
    else if (rc < 0)
        sl_http_reply_store_error(r, rc);
    return rc;
}

void sl_api_actor(const struct sl_request *r, char *buf, size_t len)
{
    snprintf(buf, len, "token:%s", r->token_name ? r->token_name : "");
}

void sl_api_read_error(struct sl_request *r, int rc)
{
    if (rc == -EILSEQ)
        sl_http_reply_errorf(r, 503, "unavailable", NULL,
                             "A stored record cannot be read (text that is not UTF-8, or "
                             "JSON that does not parse); the daemon's log names it.");
    else if (rc == -ENOMEM)
        sl_http_reply_errorf(r, 503, "unavailable", NULL, "The daemon is out of memory.");
    else
        sl_http_reply_errorf(r, 503, "unavailable", NULL,
                             "The store could not be read; the daemon's log says why.");
}
