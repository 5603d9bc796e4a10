/* SPDX-License-Identifier: MIT */
/* sluicectl token: make (for a while, if asked), list and revoke tokens. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <event2/http.h>
#include <jansson.h>

#include "ctl/ctl.h"

static int token_list(struct client *c)
{
    json_t *res, *t;
    size_t i;
    char ago[32], left[32];
    int rc = sl_ctl_call(c, EVHTTP_REQ_GET, "/v1/tokens", NULL, &res);

    if (rc || c->json) {
        json_decref(res);
        return rc;
    }
    long long now = num(res, "now_ms");
    printf("%-30s %-10s %8s  %s\n", "NAME", "ROLE", "MADE", "EXPIRES");
    json_array_foreach(json_object_get(res, "tokens"), i, t) {
        json_t *exp = json_object_get(t, "expires_ms");
        /* Names are ids: nothing in them can drive a terminal. */
        printf("%-30s %-10s %8s  ", str(t, "name"), str(t, "role"),
               sl_ctl_span(now - num(t, "created_ms"), ago, sizeof(ago)));
        if (!json_is_integer(exp))
            puts("never");
        else if (json_is_true(json_object_get(t, "expired")))
            printf("expired %s ago\n", sl_ctl_span(now - json_integer_value(exp), left,
                                                   sizeof(left)));
        else
            printf("in %s\n", sl_ctl_span(json_integer_value(exp) - now, left, sizeof(left)));
    }
    json_decref(res);
    return 0;
}

int sl_ctl_token(struct client *c, int argc, char **argv)
{
    static const char *use = "token create NAME --role ROLE [--expires DURATION] | "
                             "token revoke NAME | token list";
    struct args a;
    json_t *res;
    char path[1024];
    int rc = sl_ctl_args(c, argc, argv, A_ROLE | A_EXPIRES, 1, 2, use, &a);

    if (rc)
        return rc;
    if (strcmp(a.pos[0], "list") == 0 && a.n == 1 && !a.role && !a.expires)
        return token_list(c);
    if (a.n != 2)
        return usage_error(c, "use: %s", use);
    if (strcmp(a.pos[0], "create") == 0) {
        long long expires = a.expires ? sl_ctl_duration(a.expires) : 0;
        if (!a.role)
            return usage_error(c, "token create needs --role ROLE; use: %s", use);
        if (expires < 0 || (a.expires && expires < 1000))
            return usage_error(c, "--expires wants a duration like 30m, 24h or 90d, not '%s'",
                               a.expires);
        json_t *body = json_pack("{s:s, s:s}", "name", a.pos[1], "role", a.role);
        if (expires)
            json_object_set_new(body, "expires_in_s", json_integer(expires / 1000));
        rc = sl_ctl_call(c, EVHTTP_REQ_POST, "/v1/tokens", body, &res);
        json_decref(body);
        if (rc == 0 && !c->json)
            printf("%s\n", str(res, "token"));
    } else if (strcmp(a.pos[0], "revoke") == 0 && !a.role && !a.expires) {
        sl_ctl_id_path(path, sizeof(path), "/v1/tokens/%s", a.pos[1]);
        rc = sl_ctl_call(c, EVHTTP_REQ_DELETE, path, NULL, &res);
        if (rc == 0 && !c->json)
            printf("revoked %s\n", a.pos[1]);
    } else {
        return usage_error(c, "use: %s", use);
    }
    if (rc == 0)
        json_decref(res);
    return rc;
}
