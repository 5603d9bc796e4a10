/* SPDX-License-Identifier: MIT */
/* GET /v1/feed/{user}: a page of the user's feed, as distribution composes it. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "dist/dist.h"
#include "lib/id.h"

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
    json_t *items = sl_dist_feed(r->srv, r->params[0], tab, (size_t)limit);
    if (!items) {
        sl_http_reply_errorf(r, 503, "unavailable", NULL,
                             "The feed could not be composed (out of memory); nothing was "
                             "served.");
        return;
    }
    sl_http_reply_json(r, 200, json_pack("{s:o}", "items", items));
}
