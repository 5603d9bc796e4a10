/* SPDX-License-Identifier: MIT */
/* GET /v1/feed/{user}: a page of the user's feed, as distribution composes it. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "api/api.h"
#include "dist/dist.h"
#include "lib/id.h"
#include "lib/text.h"
#include "server.h"
#include "store/commit.h"
#include "store/shared.h"
#include "store/store.h"

/* {====================== Several nodes: a page claimed ================= */

/* On a store several nodes share, the items of a page are claimed in the
 * store before the answer (dist.h, sl_dist_feed_claimed): the answer waits
 * for the commit, like an upload's. The page is composed a little longer
 * than asked, so that an item another node served meanwhile rarely
 * shortens it. */
struct claim_op {
    struct sl_commit_op op;
    struct sl_request *r;
    char user[SL_ID_MAX + 1];
    json_t *page, *ids, *claimed;
    size_t limit;
};

static void claim_free(struct claim_op *c)
{
    json_decref(c->page);
    json_decref(c->ids);
    json_decref(c->claimed);
    free(c);
}

static int claim_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct claim_op *c = (struct claim_op *)op;
    json_decref(c->claimed);
    c->claimed = NULL;
    return sl_store_offers_claim(w, c->user, c->ids, (int)c->limit, &c->claimed);
}

static void claim_done(struct sl_commit_op *op, int rc)
{
    struct claim_op *c = (struct claim_op *)op;
    json_t *items = rc == 0 ? sl_dist_feed_claimed(c->r->srv, c->user, c->page, c->claimed,
                                                   c->limit)
                            : NULL;
    if (rc < 0)
        sl_http_reply_store_error(c->r, rc);
    else if (!items)
        sl_http_reply_errorf(c->r, 503, "unavailable", NULL,
                             "The feed could not be composed (out of memory); nothing was "
                             "served.");
    else
        sl_http_reply_json(c->r, 200, json_pack("{s:o}", "items", items));
    claim_free(c);
}

static void claim_drop(struct sl_commit_op *op)
{
    claim_free((struct claim_op *)op);
}

static void feed_claimed(struct sl_request *r, enum sl_dist_tab tab, size_t limit)
{
    size_t more = limit + limit / 4 + 2, i;
    struct claim_op *c = calloc(1, sizeof(*c));
    json_t *e;

    if (more > SL_DIST_FEED_MAX)
        more = SL_DIST_FEED_MAX;
    if (c) {
        c->r = r;
        c->limit = limit;
        sl_copy(c->user, sizeof(c->user), r->params[0]);
        size_t len;
        char *text = sl_dist_feed(r->srv, r->params[0], tab, more, &len);
        /* The page as JSON text, read back: the claim keeps its entries. */
        c->page = text ? json_loadb(text, len, 0, NULL) : NULL;
        free(text);
        c->ids = json_array();
    }
    if (!c || !c->page || !c->ids) {
        if (c)
            claim_free(c);
        sl_http_reply_errorf(r, 503, "unavailable", NULL,
                             "The feed could not be composed (out of memory); nothing was "
                             "served.");
        return;
    }
    if (json_array_size(c->page) == 0) {
        sl_http_reply_json(r, 200, json_pack("{s:[]}", "items"));
        claim_free(c);
        return;
    }
    json_array_foreach(c->page, i, e)
        if (json_array_append(c->ids, json_object_get(e, "id")) < 0) {
            claim_free(c);
            sl_http_reply_store_error(r, -ENOMEM);
            return;
        }
    sl_api_submit(r, &c->op, claim_apply, claim_done, claim_drop);
}

/* }===================================================================== */

void sl_api_feed(struct sl_request *r)
{
    const char *tab_s = sl_http_query(r, "tab"), *limit_s = sl_http_query(r, "limit");
    char *end = NULL;
    long limit = limit_s ? strtol(limit_s, &end, 10) : 20;
    enum sl_dist_tab tab = SL_DIST_TAB_MIXED;

    if (tab_s && strcmp(tab_s, "follow") == 0) tab = SL_DIST_TAB_FOLLOW;
    else if (tab_s && strcmp(tab_s, "nearby") == 0) tab = SL_DIST_TAB_NEARBY;
    else if (tab_s && strcmp(tab_s, "discover") == 0) tab = SL_DIST_TAB_DISCOVER;
    else if (tab_s && strcmp(tab_s, "mixed") != 0) {
        sl_http_reply_errorf(r, 400, "bad_request", "tab",
                             "tab must be follow, nearby, discover or mixed.");
        return;
    }
    if ((limit_s && *end) || limit < 1 || limit > SL_DIST_FEED_MAX) {
        sl_http_reply_errorf(r, 400, "bad_request", "limit",
                             "limit must be between 1 and %d.", SL_DIST_FEED_MAX);
        return;
    }
    if (!sl_id_valid(r->params[0])) {
        sl_http_reply_errorf(r, 404, "not_found", NULL, "No user has that id.");
        return;
    }
    if (r->srv->node.shared) {
        feed_claimed(r, tab, (size_t)limit);
        return;
    }
    size_t len;
    char *items = sl_dist_feed(r->srv, r->params[0], tab, (size_t)limit, &len);
    if (!items) {
        sl_http_reply_errorf(r, 503, "unavailable", NULL,
                             "The feed could not be composed (out of memory); nothing was "
                             "served.");
        return;
    }
    /* The page as distribution wrote it, in the answer's own buffer. */
    struct evbuffer *out = evhttp_request_get_output_buffer(r->req);
    evbuffer_add(out, "{\"items\":", 9);
    evbuffer_add(out, items, len);
    free(items);
    sl_http_reply_bytes(r, 200, "application/json", "}\n", 2);
}
