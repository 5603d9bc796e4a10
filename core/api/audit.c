/* SPDX-License-Identifier: MIT */
/* GET /v1/audit, /v1/audit/verify and /v1/audit/head: the trail, its chain checked a page at a time, its head to anchor. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "lib/json.h"
#include "lib/sha256.h"
#include "server.h"
#include "store/store.h"

#define AUDIT_PAGE_MAX 1000
/*
 * Verification runs on the event loop a page at a time: each record costs
 * one row read and one HMAC, 1.2 µs measured, so a page of VERIFY_PAGE_MAX
 * holds the loop for ~6 ms, however long the chain; a request waits behind
 * at most the pages already in line, like behind any other request. A
 * client walks the chain page by page (sluicectl audit verify does). A
 * worker thread with its own reader would walk it in one request, but two
 * walks at once would then need a queue or a refusal, and a stopping daemon
 * a way to abandon them; a bounded page needs neither.
 */
#define VERIFY_PAGE_MAX 5000

/* A query parameter that must be a whole number in [min, max]; 0 when
 * absent (*out left as it was), -EINVAL when malformed. */
static int query_num(struct sl_request *r, const char *key, long long min, long long max,
                     long long *out)
{
    const char *s = sl_http_query(r, key);
    char *end;

    if (!s)
        return 0;
    if (!*s || *s == '+' || *s == '-' || *s == ' ')
        return -EINVAL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

void sl_api_audit(struct sl_request *r)
{
    const char *item = sl_http_query(r, "item");
    long long after = 0, limit = 100;
    json_t *list;

    if ((item && !sl_id_valid(item)) || query_num(r, "after", 0, INT64_MAX, &after) < 0 ||
        query_num(r, "limit", 1, AUDIT_PAGE_MAX, &limit) < 0) {
        sl_http_reply_errorf(r, 400, "bad_request", NULL,
                             "Use ?item=ID&after=SEQ&limit=N with 1 <= N <= %d.",
                             AUDIT_PAGE_MAX);
        return;
    }
    int rc = sl_store_audit_list(r->srv->reader, item, after, (int)limit, &list);
    if (rc < 0) {
        sl_api_read_error(r, rc);
        return;
    }
    sl_http_reply_json(r, 200, json_pack("{s:o}", "records", list));
}

static json_t *head_json(const struct sl_audit_head *h)
{
    return json_pack("{s:I, s:s, s:i, s:I}", "seq", (json_int_t)h->seq, "hash", h->hash,
                     "format", h->format, "ts_ms", (json_int_t)h->ts_ms);
}

void sl_api_audit_head(struct sl_request *r)
{
    struct sl_audit_head h;
    int rc = sl_store_audit_head(r->srv->reader, &h);

    if (rc < 0) {
        sl_api_read_error(r, rc);
        return;
    }
    sl_http_reply_json(r, 200, head_json(&h));
}

/* The anchor an operator kept against the chain as it is: the record it
 * names must still be there with the same hash. */
static json_t *anchor_check(struct sl_request *r, const struct sl_audit_head *h,
                            long long seq, const char *want, bool *ok, int *rc)
{
    char hash[SL_SHA256_HEX_LEN + 1];

    *ok = false;
    if (seq > h->seq)
        return json_pack("{s:I, s:s, s:b, s:b, s:s}", "seq", (json_int_t)seq, "hash", want,
                         "ok", 0, "truncated", 1, "message",
                         "the chain ends before the anchored record: its newest records "
                         "were removed");
    *rc = sl_store_audit_hash(r->srv->reader, seq, hash);
    if (*rc == -ENOENT)
        return json_pack("{s:I, s:s, s:b, s:b, s:s}", "seq", (json_int_t)seq, "hash", want,
                         "ok", 0, "truncated", 0, "message",
                         "the anchored record is missing from the chain");
    if (*rc < 0)
        return NULL;
    if (strcmp(hash, want) != 0)
        return json_pack("{s:I, s:s, s:b, s:b, s:s}", "seq", (json_int_t)seq, "hash", want,
                         "ok", 0, "truncated", 0, "message",
                         "the anchored record's hash differs: the chain was rewritten "
                         "since the anchor was taken");
    *ok = true;
    return json_pack("{s:I, s:s, s:b}", "seq", (json_int_t)seq, "hash", want, "ok", 1);
}

static bool hex64(const char *s)
{
    if (!s || strlen(s) != SL_SHA256_HEX_LEN)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

void sl_api_audit_verify(struct sl_request *r)
{
    struct sl_audit_check c = { .after = 0, .limit = VERIFY_PAGE_MAX };
    struct sl_audit_head h;
    long long after = 0, limit = VERIFY_PAGE_MAX, head_seq = -1;
    const char *head_hash = sl_http_query(r, "head_hash");
    json_t *anchor = NULL;
    bool anchor_ok = true;
    int rc = 0;

    if (query_num(r, "after", 0, INT64_MAX, &after) < 0 ||
        query_num(r, "limit", 1, VERIFY_PAGE_MAX, &limit) < 0 ||
        query_num(r, "head_seq", 1, INT64_MAX, &head_seq) < 0 ||
        (head_seq >= 0) != (head_hash != NULL) || (head_hash && !hex64(head_hash))) {
        sl_http_reply_errorf(r, 400, "bad_request", NULL,
                             "Use ?after=SEQ&limit=N with 1 <= N <= %d, and optionally "
                             "&head_seq=SEQ&head_hash=HEX (an anchored head: 64 lower-case "
                             "hex digits).", VERIFY_PAGE_MAX);
        return;
    }
    c.after = after;
    c.limit = limit;
    if ((rc = sl_store_audit_head(r->srv->reader, &h)) < 0) {
        sl_api_read_error(r, rc);
        return;
    }
    if (head_seq >= 0 && !(anchor = anchor_check(r, &h, head_seq, head_hash, &anchor_ok, &rc))) {
        sl_api_read_error(r, rc < 0 ? rc : -ENOMEM);
        return;
    }
    rc = sl_store_audit_verify(r->srv->reader, &c);
    if (rc == -ERANGE) {
        json_decref(anchor);
        sl_http_reply_errorf(r, 400, "bad_request", NULL,
                             "after=%lld is past the newest record (%lld).", after,
                             (long long)h.seq);
        return;
    }
    if (rc < 0 && rc != -EBADMSG) {
        json_decref(anchor);
        sl_api_read_error(r, rc);
        return;
    }
    json_t *out = json_pack("{s:b, s:I, s:I, s:I, s:b, s:o}", "ok", rc == 0 && anchor_ok,
                            "checked", (json_int_t)c.checked, "after", (json_int_t)c.after,
                            "last_seq", (json_int_t)c.last_seq, "more", c.more && rc == 0,
                            "head", head_json(&h));
    if (out && rc == 0 && c.more)
        json_object_set_new(out, "next_after", json_integer(c.last_seq));
    if (out && rc == -EBADMSG) {
        json_object_set_new(out, "bad_seq", json_integer(c.bad_seq));
        json_object_set_new(out, "message", json_pack("s+", "the chain breaks at this record: ",
                                                      c.problem));
    } else if (out && !anchor_ok) {
        json_object_set(out, "message", json_object_get(anchor, "message"));
    }
    if (out && anchor)
        json_object_set_new(out, "anchor", anchor);
    else
        json_decref(anchor);
    sl_http_reply_json(r, 200, out);
}
