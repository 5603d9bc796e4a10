/* SPDX-License-Identifier: MIT */
/* What both backends store alike: the audit chain, packed event batches, packed offers. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/grow.h"
#include "lib/log.h"
#include "lib/sha256.h"
#include "lib/text.h"
#include "store/chain.h"
#include "store/rows.h"
#include "store/store.h"

/* {====================== The audit chain ============================== */

const char sl_chain_genesis[SL_SHA256_HEX_LEN + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

int sl_chain_key_set(struct sl_chain_key *k, const uint8_t *key, size_t len,
                     int64_t keyed_from)
{
    if (len < 16 || keyed_from < 1)
        return -EINVAL;
    sl_hmac_sha256_key(&k->mac, key, len);
    k->keyed = true;
    k->keyed_from = keyed_from;
    return 0;
}

/* Formats 1 and 2: the bytes a record's hash covers are the previous hash
 * and every field, each ended by a unit separator so that no two records
 * serialise alike; keyed records start with their format, so no plain
 * serialisation is a keyed one. */
static void text_hash(const struct sl_chain_key *k, const struct sl_chain_rec *r,
                      const char *prev, uint8_t digest[SL_SHA256_LEN])
{
    struct sl_hmac_sha256 ctx;
    char num[32];
    const char *fields[] = { prev, NULL, r->item, r->actor, r->action, r->from, r->to,
                             r->reason, NULL };

    /* HMAC's messages go through its inner hash: plain records use that
     * hash alone. */
    if (r->format == SL_CHAIN_KEYED) {
        sl_hmac_sha256_init(&ctx, &k->mac);
        sl_sha256_update(&ctx.inner, "2\x1f", 2);
    } else {
        sl_sha256_init(&ctx.inner);
    }
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *f = fields[i];
        if (i == 1 || i == 8) {
            snprintf(num, sizeof(num), "%lld", (long long)(i == 1 ? r->seq : r->ts_ms));
            f = num;
        }
        if (f)
            sl_sha256_update(&ctx.inner, f, strlen(f));
        else
            sl_sha256_update(&ctx.inner, "\x1e", 1);  /* NULL differs from "" */
        sl_sha256_update(&ctx.inner, "\x1f", 1);
    }
    if (r->format == SL_CHAIN_KEYED)
        sl_hmac_sha256_final(&ctx, digest);
    else
        sl_sha256_final(&ctx.inner, digest);
    sl_memzero(&ctx, sizeof(ctx));
}

/* Format 3's message (chain.h). */
static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void put_text(struct sl_hmac_sha256 *ctx, const char *f)
{
    uint8_t len[10];
    size_t n = f ? strlen(f) : 0, k = 0;
    uint64_t v = f ? n + 1 : 0;

    do {
        len[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    sl_sha256_update(&ctx->inner, len, k);
    if (n)
        sl_sha256_update(&ctx->inner, f, n);
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void packed_hash(const struct sl_chain_key *k, const struct sl_chain_rec *r,
                        const char *prev, uint8_t digest[SL_SHA256_LEN])
{
    struct sl_hmac_sha256 ctx;
    uint8_t head[1 + SL_SHA256_LEN + 16] = { SL_CHAIN_PACKED };
    const char *const fields[6] = { r->item, r->actor, r->action, r->from, r->to, r->reason };

    /* A previous hash that is not 64 lower-case hex digits (edited by
     * hand) hashes as zeros: the link check has refused it already. */
    for (int i = 0; i < SL_SHA256_LEN; i++) {
        int hi = prev ? hex_digit(prev[2 * i]) : -1;
        int lo = hi >= 0 ? hex_digit(prev[2 * i + 1]) : -1;
        head[1 + i] = hi >= 0 && lo >= 0 ? (uint8_t)(hi << 4 | lo) : 0;
    }
    put_u64(head + 1 + SL_SHA256_LEN, (uint64_t)r->seq);
    put_u64(head + 1 + SL_SHA256_LEN + 8, (uint64_t)r->ts_ms);
    sl_hmac_sha256_init(&ctx, &k->mac);
    sl_sha256_update(&ctx.inner, head, sizeof(head));
    for (int i = 0; i < 6; i++)
        put_text(&ctx, fields[i]);
    sl_hmac_sha256_final(&ctx, digest);
    sl_memzero(&ctx, sizeof(ctx));
}

void sl_chain_hash(const struct sl_chain_key *k, const struct sl_chain_rec *r,
                   const char *prev, char out[SL_SHA256_HEX_LEN + 1])
{
    uint8_t digest[SL_SHA256_LEN];

    if (r->format == SL_CHAIN_PACKED)
        packed_hash(k, r, prev, digest);
    else
        text_hash(k, r, prev, digest);
    sl_hex(digest, sizeof(digest), out);
}

const char *sl_chain_problem(const struct sl_chain_key *k, const struct sl_chain_rec *r,
                             int64_t expect_seq, const char *prev)
{
    char hash[SL_SHA256_HEX_LEN + 1];

    /* A deleted record shows as a gap; an edited one as a wrong hash. */
    if (r->seq != expect_seq)
        return "the records before it are missing (deleted)";
    bool keyed = sl_store_audit_keyed(r->format);
    if (r->format != SL_CHAIN_PLAIN && !keyed)
        return "its format is unknown";
    if (k->keyed && r->seq >= k->keyed_from && !keyed)
        return "a plain record where the chain is keyed: it was rewritten without the key";
    if (keyed && !k->keyed)
        return "it is keyed, and this daemon has no audit key";
    if (!r->prev || strcmp(r->prev, prev) != 0)
        return "it does not link to the record before it";
    sl_chain_hash(k, r, prev, hash);
    if (!r->hash || strcmp(r->hash, hash) != 0)
        return keyed
            ? "its hash does not match: it was edited, or the audit key is not the one it "
              "was written with"
            : "its hash does not match: it was edited";
    return NULL;
}

int sl_chain_new(const struct sl_chain_key *k, const struct sl_audit_rec *r, int64_t seq,
                 const char *prev, struct sl_chain_new *out)
{
    /* The hash covers the text as stored: repaired first, if need be. */
    const char *in[6] = { r->item, r->actor, r->action, r->from_state, r->to_state,
                          r->reason ? r->reason : "" };
    static const char *const names[6] = { "item", "actor", "action", "from", "to", "reason" };
    const char *text[6];
    int rc = 0;

    memset(out, 0, sizeof(*out));
    for (int i = 0; i < 6 && rc == 0; i++)
        rc = text_in_audit(in[i], (long long)seq, names[i], &text[i], &out->keep[i]);
    if (rc < 0) {
        sl_chain_new_clear(out);
        return rc;
    }
    out->rec = (struct sl_chain_rec){
        .seq = seq, .item = text[0], .actor = text[1], .action = text[2], .from = text[3],
        .to = text[4], .reason = text[5], .ts_ms = r->ts_ms, .prev = prev, .hash = out->hash,
        .format = k->keyed ? SL_CHAIN_PACKED : SL_CHAIN_PLAIN,
    };
    sl_chain_hash(k, &out->rec, prev, out->hash);
    return 0;
}

void sl_chain_new_clear(struct sl_chain_new *n)
{
    for (int i = 0; i < 6; i++) {
        free(n->keep[i]);
        n->keep[i] = NULL;
    }
}

static int page_bad(struct sl_chain_page *p, int64_t seq, const char *problem)
{
    p->c->bad_seq = seq;
    p->c->problem = problem;
    return p->rc = -EBADMSG;
}

void sl_chain_page_start(struct sl_chain_page *p, const struct sl_chain_key *k,
                         struct sl_audit_check *c)
{
    p->key = k;
    p->c = c;
    p->rc = 0;
    memcpy(p->prev, sl_chain_genesis, sizeof(p->prev));
    c->checked = 0;
    c->last_seq = c->after;
    c->more = false;
    c->bad_seq = 0;
    c->problem = NULL;
}

int sl_chain_page_gone(struct sl_chain_page *p, int64_t newest)
{
    return p->c->after > newest ? -ERANGE
                                : page_bad(p, p->c->after, "it is missing (deleted)");
}

bool sl_chain_page_next(struct sl_chain_page *p, const struct sl_chain_rec *r)
{
    struct sl_audit_check *c = p->c;

    /* The walk reads one record past the page: is there more? */
    if (c->checked == c->limit) {
        c->more = true;
        return true;
    }
    const char *problem = sl_chain_problem(p->key, r, c->last_seq + 1, p->prev);
    if (problem) {
        page_bad(p, r->seq, problem);
        return true;
    }
    /* Go on from the record as stored (checked right just now). */
    sl_copy(p->prev, sizeof(p->prev), r->hash);
    c->last_seq = r->seq;
    c->checked++;
    return false;
}

/* }===================================================================== */

/* {====================== Event batches ================================ */

/*
 * Two forms. The first (still read): per event, item NUL user NUL, type,
 * watch_ms and ts_ms as 8-byte little-endian. A request's events come
 * grouped by item (events.c) with times a few milliseconds apart, and
 * that form spent 50 bytes an event under ndjson-waves, twice over (the
 * WAL, then its checkpoint). The second starts with EVENTS_V2 (no id
 * begins with it), then per event a head byte (the type in its low bits,
 * and whether the item or the user is the event before's, and whether a
 * watch_ms follows), the item and user NUL-ended unless the same, the
 * watch_ms as a varint, and ts_ms as a zigzag varint of its distance from
 * the event before's. What it cannot say (a type past its bits, a
 * watch_ms under -1) is packed in the first form.
 */
#define EVENTS_V2 0x01
#define EV_TYPE_BITS 0x0f
#define EV_SAME_ITEM 0x10
#define EV_SAME_USER 0x20
#define EV_WATCH 0x40
#define VARINT_MAX 10

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* NULL when the varint runs past end or past 64 bits. */
static const uint8_t *get_varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; p < end && shift < 64; shift += 7) {
        uint8_t b = *p++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return p;
    }
    return NULL;
}

static uint8_t *put_id(uint8_t *p, const char *id)
{
    size_t n = strlen(id) + 1;
    memcpy(p, id, n);
    return p + n;
}

static uint8_t *pack_v1(const struct sl_event_row *ev, size_t n, uint8_t *p)
{
    for (size_t i = 0; i < n; i++) {
        p = put_id(put_id(p, ev[i].item), ev[i].user);
        *p++ = (uint8_t)ev[i].type;
        int64_t nums[2] = { ev[i].watch_ms, ev[i].ts_ms };
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < 8; j++)
                *p++ = (uint8_t)((uint64_t)nums[k] >> (8 * j));
    }
    return p;
}

static uint8_t *pack_v2(const struct sl_event_row *ev, size_t n, uint8_t *p)
{
    int64_t ts = 0;

    *p++ = EVENTS_V2;
    for (size_t i = 0; i < n; i++) {
        bool item = i && strcmp(ev[i].item, ev[i - 1].item) == 0;
        bool user = i && strcmp(ev[i].user, ev[i - 1].user) == 0;
        *p++ = (uint8_t)(ev[i].type | (item ? EV_SAME_ITEM : 0) | (user ? EV_SAME_USER : 0) |
                         (ev[i].watch_ms >= 0 ? EV_WATCH : 0));
        if (!item)
            p = put_id(p, ev[i].item);
        if (!user)
            p = put_id(p, ev[i].user);
        if (ev[i].watch_ms >= 0)
            p = put_varint(p, (uint64_t)ev[i].watch_ms);
        uint64_t d = (uint64_t)ev[i].ts_ms - (uint64_t)ts;   /* wraps: any two times */
        p = put_varint(p, (d << 1) ^ (uint64_t)-(int64_t)(d >> 63));
        ts = ev[i].ts_ms;
    }
    return p;
}

int sl_events_pack(const struct sl_event_row *ev, size_t n, uint8_t **out, size_t *len)
{
    size_t total = 1;
    bool v2 = true;

    for (size_t i = 0; i < n; i++) {
        total += strlen(ev[i].item) + strlen(ev[i].user) + 2 + 1 + 2 * VARINT_MAX;
        v2 = v2 && ev[i].type >= 0 && ev[i].type <= EV_TYPE_BITS && ev[i].watch_ms >= -1;
    }
    uint8_t *buf = malloc(total);
    if (!buf)
        return -ENOMEM;
    *len = (size_t)((v2 ? pack_v2(ev, n, buf) : pack_v1(ev, n, buf)) - buf);
    *out = buf;
    return 0;
}

static int unpack_v1(int64_t seq, const uint8_t *p, const uint8_t *end, int64_t n,
                     int (*each)(void *arg, int64_t seq, const struct sl_event_row *ev),
                     void *arg)
{
    for (int64_t i = 0; i < n; i++) {
        struct sl_event_row ev = { .item = (const char *)p };
        const uint8_t *q = p < end ? memchr(p, 0, (size_t)(end - p)) : NULL;
        const uint8_t *u = q ? memchr(q + 1, 0, (size_t)(end - q - 1)) : NULL;
        if (!u || end - u < 18)
            return -EIO;
        ev.user = (const char *)q + 1;
        ev.type = u[1];
        int64_t nums[2] = { 0, 0 };
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < 8; j++)
                nums[k] |= (int64_t)((uint64_t)u[2 + 8 * k + j] << (8 * j));
        ev.watch_ms = nums[0];
        ev.ts_ms = nums[1];
        p = u + 18;
        int stop = each(arg, seq, &ev);
        if (stop)
            return stop;
    }
    return 0;
}

/* The NUL-ended id at *p, *p past it; NULL when it runs past end. */
static const char *get_id(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nul = *p < end ? memchr(*p, 0, (size_t)(end - *p)) : NULL;
    const char *id = (const char *)*p;

    if (!nul)
        return NULL;
    *p = nul + 1;
    return id;
}

static int unpack_v2(int64_t seq, const uint8_t *p, const uint8_t *end, int64_t n,
                     int (*each)(void *arg, int64_t seq, const struct sl_event_row *ev),
                     void *arg)
{
    struct sl_event_row ev = { NULL, NULL, 0, -1, 0 };
    uint64_t v;

    for (int64_t i = 0; i < n; i++) {
        if (p >= end)
            return -EIO;
        uint8_t head = *p++;
        ev.type = head & EV_TYPE_BITS;
        if (!(head & EV_SAME_ITEM))
            ev.item = get_id(&p, end);
        if (!(head & EV_SAME_USER))
            ev.user = get_id(&p, end);
        if (!ev.item || !ev.user)
            return -EIO;        /* cut short, or "the same" as no event */
        ev.watch_ms = -1;
        if (head & EV_WATCH) {
            if (!(p = get_varint(p, end, &v)) || v > INT64_MAX)
                return -EIO;
            ev.watch_ms = (int64_t)v;
        }
        if (!(p = get_varint(p, end, &v)))
            return -EIO;
        ev.ts_ms = (int64_t)((uint64_t)ev.ts_ms + ((v >> 1) ^ (uint64_t)-(int64_t)(v & 1)));
        int stop = each(arg, seq, &ev);
        if (stop)
            return stop;
    }
    return 0;
}

int sl_events_unpack(int64_t seq, const uint8_t *data, size_t len, int64_t n,
                     int (*each)(void *arg, int64_t seq, const struct sl_event_row *ev),
                     void *arg)
{
    const uint8_t *end = data + len;
    int rc = len && data[0] == EVENTS_V2 ? unpack_v2(seq, data + 1, end, n, each, arg)
                                         : unpack_v1(seq, data, end, n, each, arg);

    if (rc == -EIO)
        sl_err("store: event batch %lld is damaged", (long long)seq);
    return rc;
}

/* }===================================================================== */

/* {====================== Offers packed ============================== */

int sl_offers_pack(const char *const *users, size_t n, char **out, size_t *len)
{
    size_t total = 0;

    for (size_t i = 0; i < n; i++)
        total += strlen(users[i]) + 1;
    char *text = malloc(total + 1), *p = text;
    if (!text)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(users[i]);
        memcpy(p, users[i], l);
        p[l] = '\n';
        p += l + 1;
    }
    *p = '\0';
    *out = text;
    *len = total;
    return 0;
}

int sl_offers_unpack(char *text, size_t len, const char ***ids, size_t *cap, size_t *n)
{
    char *p = text, *end = text + len;

    *n = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return -EILSEQ;
        *nl = '\0';
        if (sl_grow(ids, cap, *n + 1, sizeof(**ids)) < 0)
            return -ENOMEM;
        (*ids)[(*n)++] = p;
        p = nl + 1;
    }
    return 0;
}

/* }===================================================================== */
