/* SPDX-License-Identifier: MIT */
/* sluicectl audit: walk the trail's chain page by page (against an anchored head), print the head to anchor. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>
#include <jansson.h>

#include "ctl/ctl.h"

/* "SEQ:HASH" as audit head prints it: 0, or -EINVAL. */
static int parse_anchor(const char *s, long long *seq, char hash[65])
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);

    if (errno || end == s || v < 1 || *end != ':' || strlen(end + 1) != 64 ||
        strspn(end + 1, "0123456789abcdef") != 64)
        return -EINVAL;
    *seq = v;
    memcpy(hash, end + 1, 65);
    return 0;
}

static int audit_head(struct client *c)
{
    json_t *h;
    char when[32] = "";
    int rc = sl_ctl_call(c, EVHTTP_REQ_GET, "/v1/audit/head", NULL, &h);

    if (rc || c->json) {
        json_decref(h);
        return rc;
    }
    if (num(h, "seq") == 0) {
        printf("the audit trail is empty\n");
    } else {
        time_t t = (time_t)(num(h, "ts_ms") / 1000);
        struct tm tm;
        if (gmtime_r(&t, &tm))
            strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        /* The first word is what audit verify --head takes. */
        printf("%lld:%s  (record %lld of %s, %s)\n", num(h, "seq"), str(h, "hash"),
               num(h, "seq"), when, num(h, "format") == 3   ? "HMAC-SHA-256, packed"
               : num(h, "format") == 2 ? "HMAC-SHA-256"
                                       : "SHA-256");
    }
    json_decref(h);
    return 0;
}

/* Every page of the chain; the anchor, when given, is checked with the
 * first (it is one lookup, against the chain as it is). */
static int audit_verify(struct client *c, const char *anchor)
{
    long long after = 0, checked = 0, head_seq = 0;
    char hash[65], path[256];
    json_t *page = NULL, *anchored = NULL;
    int rc;

    if (anchor && parse_anchor(anchor, &head_seq, hash) < 0)
        return usage_error(c, "--head wants SEQ:HASH as 'sluicectl audit head' prints it, "
                           "not '%s'", anchor);
    for (;;) {
        if (anchor && !anchored)
            snprintf(path, sizeof(path), "/v1/audit/verify?after=%lld&head_seq=%lld"
                     "&head_hash=%s", after, head_seq, hash);
        else
            snprintf(path, sizeof(path), "/v1/audit/verify?after=%lld", after);
        json_decref(page);
        if ((rc = sl_ctl_call_as(c, EVHTTP_REQ_GET, path, NULL, SLOW_TIMEOUT_S, true, &page)))
            return rc;
        checked += num(page, "checked");
        if (anchor && !anchored)
            anchored = json_incref(json_object_get(page, "anchor"));
        if (!json_is_true(json_object_get(page, "ok")) ||
            !json_is_true(json_object_get(page, "more")))
            break;
        after = num(page, "next_after");
    }
    bool ok = json_is_true(json_object_get(page, "ok"));
    if (c->json) {
        json_t *out = json_pack("{s:b, s:I, s:I, s:O?}", "ok", ok, "checked",
                                (json_int_t)checked, "last_seq",
                                (json_int_t)num(page, "last_seq"), "head",
                                json_object_get(page, "head"));
        if (anchored)
            json_object_set(out, "anchor", anchored);
        if (json_object_get(page, "bad_seq"))
            json_object_set(out, "bad_seq", json_object_get(page, "bad_seq"));
        if (json_object_get(page, "message"))
            json_object_set(out, "message", json_object_get(page, "message"));
        json_dumpf(out, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(out);
    } else if (ok) {
        printf("audit trail intact: %lld records checked", checked);
        if (anchored)
            printf("; record %lld still has the anchored hash", head_seq);
        printf("\n");
    }
    /* Plain words on stderr even under --json: a broken chain is news. */
    if (!ok && json_object_get(page, "bad_seq"))
        fprintf(stderr, "sluicectl: the audit trail is broken at record %lld (%lld checked "
                "before it): %s\n", num(page, "bad_seq"), checked, str(page, "message"));
    else if (!ok)
        fprintf(stderr, "sluicectl: the audit trail does not hold the anchored record %lld: "
                "%s\n", head_seq, str(anchored, "message"));
    json_decref(anchored);
    json_decref(page);
    return ok ? 0 : EXIT_REFUSED;
}

int sl_ctl_audit(struct client *c, int argc, char **argv)
{
    static const char *use = "audit verify [--head SEQ:HASH] | audit head";
    struct args a;
    int rc = sl_ctl_args(c, argc, argv, A_HEAD, 1, 1, use, &a);

    if (rc)
        return rc;
    if (strcmp(a.pos[0], "verify") == 0)
        return audit_verify(c, a.head);
    if (strcmp(a.pos[0], "head") == 0 && !a.head)
        return audit_head(c);
    return usage_error(c, "unknown audit command '%s'; use: %s", a.pos[0], use);
}
