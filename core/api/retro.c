/* SPDX-License-Identifier: MIT */
/* Retroactive hash matching: a hash bank's new hashes against the items stored before them, as a job. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/actions.h"
#include "api/api.h"
#include "api/bulkjobs.h"
#include "api/retro.h"
#include "lib/clock.h"
#include "lib/grow.h"
#include "lib/hamming.h"
#include "lib/item.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/text.h"
#include "server.h"
#include "store/commit.h"
#include "store/store.h"

/*
 * The rule is the phash plugin's, which matched every upload since: a
 * stored item matches a bank hash when one of its hashes is within the
 * plugin's configured distance (differing bits of 64; the plugin's
 * default, 8, when it is loaded without one). Each match goes into the
 * item's matches as the plugin's would ({kind: "hash", name: BANK, detail:
 * the bank's hash, score: the distance}, source "hashbank"), so searches
 * find it (matched=BANK) and the console shows it; what follows is the
 * bank's setting: nothing more, a review by people, or a takedown.
 */

#define EXAMINE 1000            /* items a slice looks at, at most */
#define PER_ITEM 8              /* the closest bank hashes kept per item */
#define DEFAULT_DISTANCE 8      /* the phash plugin's default (docs/plugins.md) */
#define DAY_MS (86400LL * 1000)

static const char *const thens[] = { "nothing", "review", "takedown" };
enum then { THEN_NOTHING, THEN_REVIEW, THEN_TAKEDOWN };

static int then_parse(const char *s, enum then *out)
{
    for (int i = 0; i < 3; i++)
        if (s && strcmp(s, thens[i]) == 0) {
            *out = (enum then)i;
            return 0;
        }
    return -EINVAL;
}

/* {====================== The kind ===================================== */

struct retro_state {
    char bank[SL_ID_MAX + 1];
    struct sl_hamming *set;
    unsigned distance;
    int64_t since_ms;
    enum then then;
    char reason[SL_ID_MAX + 96];
};

struct hit {
    char id[SL_ID_MAX + 1];
    int n;
    struct { uint64_t bank, item; unsigned d; } m[PER_ITEM];
    struct sl_action_do act;
    int rc;                     /* the action's */
};

struct retro_slice {
    struct hit *hits;
    size_t n, cap;
};

static void retro_free_slice(void *slice)
{
    struct retro_slice *sl = slice;
    if (sl) {
        free(sl->hits);
        free(sl);
    }
}

static int retro_load(struct sl_bulkjob *job, json_t *spec, void **state, char *err,
                      size_t len)
{
    struct retro_state *r = calloc(1, sizeof(*r));
    json_t *hashes = json_object_get(spec, "hashes");
    const char *bank = json_string_value(json_object_get(spec, "bank"));
    json_int_t distance = json_integer_value(json_object_get(spec, "distance"));
    uint64_t *h = NULL;
    size_t i, n = 0;
    json_t *v;

    if (!r)
        return -ENOMEM;
    if (!sl_id_valid(bank) || !json_is_array(hashes) || distance < 0 ||
        distance > SL_HAMMING_MAX ||
        then_parse(json_string_value(json_object_get(spec, "then")), &r->then) < 0 ||
        !(h = malloc((json_array_size(hashes) + 1) * sizeof(*h)))) {
        snprintf(err, len, "its spec is not a hash bank's (bank, hashes, distance, then)");
        free(r);
        return -EINVAL;
    }
    json_array_foreach(hashes, i, v)
        if (sl_hash_parse(json_string_value(v), &h[n]) == 0)
            n++;
    r->set = sl_hamming_new(h, n);
    free(h);
    if (!r->set) {
        free(r);
        return -ENOMEM;
    }
    sl_copy(r->bank, sizeof(r->bank), bank);
    r->distance = (unsigned)distance;
    r->since_ms = json_integer_value(json_object_get(spec, "since_ms"));
    snprintf(r->reason, sizeof(r->reason), "job %s: matches hash bank %s",
             sl_bulkjob_id(job), bank);
    *state = r;
    return 0;
}

static void retro_unload(void *state)
{
    struct retro_state *r = state;
    sl_hamming_free(r->set);
    free(r);
}

struct reading {
    const struct retro_state *r;
    struct retro_slice *sl;
    struct hit *cur;
    uint64_t item_hash;
    int rc;
};

/* A bank hash near the item's: kept if it is among the closest PER_ITEM,
 * each bank hash once, at its smallest distance. */
static int on_hit(void *arg, uint64_t member, unsigned d)
{
    struct reading *rd = arg;
    struct hit *h = rd->cur;
    int worst = 0;

    for (int k = 0; k < h->n; k++)
        if (h->m[k].bank == member) {
            if (d < h->m[k].d) {
                h->m[k].d = d;
                h->m[k].item = rd->item_hash;
            }
            return 0;
        }
    if (h->n < PER_ITEM) {
        h->m[h->n].bank = member;
        h->m[h->n].item = rd->item_hash;
        h->m[h->n++].d = d;
        return 0;
    }
    for (int k = 1; k < h->n; k++)
        if (h->m[k].d > h->m[worst].d)
            worst = k;
    if (d < h->m[worst].d) {
        h->m[worst].bank = member;
        h->m[worst].item = rd->item_hash;
        h->m[worst].d = d;
    }
    return 0;
}

static int each_item(void *arg, const char *id, const char *hashes)
{
    struct reading *rd = arg;
    struct retro_slice *sl = rd->sl;
    json_t *arr = json_loads(hashes ? hashes : "[]", 0, NULL);
    size_t i;
    json_t *v;

    if (!arr) {
        sl_warn("retro: the hashes of item %s do not parse; it is left out", id);
        return 0;
    }
    if (sl_grow(&sl->hits, &sl->cap, sl->n + 1, sizeof(*sl->hits)) < 0) {
        json_decref(arr);
        rd->rc = -ENOMEM;
        return 1;
    }
    struct hit *h = rd->cur = &sl->hits[sl->n];
    memset(h, 0, sizeof(*h));
    json_array_foreach(arr, i, v)
        if (sl_hash_parse(json_string_value(v), &rd->item_hash) == 0)
            sl_hamming_query(rd->r->set, rd->item_hash, rd->r->distance, on_hit, rd);
    json_decref(arr);
    if (h->n) {
        sl_copy(h->id, sizeof(h->id), id);
        sl->n++;
    }
    return 0;
}

static int retro_read(const void *state, struct sl_store *reader, int64_t cursor,
                      int64_t seq_max, double deadline, void **slice, int64_t *next,
                      int64_t *examined)
{
    const struct retro_state *r = state;
    struct retro_slice *sl = calloc(1, sizeof(*sl));
    struct reading rd = { .r = r, .sl = sl };

    if (!sl)
        return -ENOMEM;
    int rc = sl_store_item_hashes(reader, cursor, seq_max, r->since_ms, EXAMINE, deadline,
                                  each_item, &rd, next, examined);
    if (rc == 0)
        rc = rd.rc;
    if (rc < 0 || sl->n == 0) {
        retro_free_slice(sl);
        sl = NULL;
    }
    *slice = sl;
    return rc;
}

static int retro_write(const struct sl_bulkjob *job, const void *state, struct sl_store *w,
                       void *slice, struct sl_bulkjob_counts *c)
{
    const struct retro_state *r = state;
    struct retro_slice *sl = slice;
    int64_t now = sl_now_ms();
    int rc;

    for (size_t i = 0; i < sl->n; i++) {
        struct hit *h = &sl->hits[i];
        char bank[17], item[17], match[512], why[512];
        int added = 0;
        h->rc = SL_ACTION_SKIPPED;
        for (int k = 0; k < h->n; k++) {
            snprintf(bank, sizeof(bank), "%016" PRIx64, h->m[k].bank);
            snprintf(item, sizeof(item), "%016" PRIx64, h->m[k].item);
            snprintf(match, sizeof(match), "{\"source\":\"hashbank\",\"kind\":\"hash\","
                     "\"name\":\"%s\",\"detail\":\"%s\",\"score\":%u,\"item_hash\":\"%s\","
                     "\"job\":\"%s\"}", r->bank, bank, h->m[k].d, item, sl_bulkjob_id(job));
            if ((rc = sl_store_item_add_match(w, h->id, match, now)) < 0 && rc != -ENOENT)
                return rc;
            added += rc == 0;
        }
        if (!added) {
            c->skipped++;       /* known already (the plugin at upload, or before) */
            continue;
        }
        c->matched++;
        snprintf(bank, sizeof(bank), "%016" PRIx64, h->m[0].bank);
        snprintf(item, sizeof(item), "%016" PRIx64, h->m[0].item);
        snprintf(why, sizeof(why), "job %s: hash bank %s: %s within %u bits of the item's %s%s",
                 sl_bulkjob_id(job), r->bank, bank, h->m[0].d, item,
                 h->n > 1 ? ", and more" : "");
        struct sl_audit_rec rec = { h->id, sl_bulkjob_actor(job), "match", NULL, NULL, why,
                                    now };
        if ((rc = sl_store_audit_append(w, &rec)) < 0)
            return rc;
        if (r->then == THEN_NOTHING)
            continue;
        h->act = (struct sl_action_do){
            .action = r->then == THEN_REVIEW ? SL_ACTION_REVIEW : SL_ACTION_TAKEDOWN,
            .item = h->id, .actor = sl_bulkjob_actor(job), .reason = r->reason,
            .queue = "hashes", .priority = 80, .now_ms = now };
        if ((rc = h->rc = sl_action_apply(w, &h->act)) < 0 && rc != -ENOENT)
            return rc;
        c->acted += rc == 0;
    }
    return 0;
}

static void retro_after(const struct sl_bulkjob *job, const void *state,
                        struct sl_server *srv, void *slice)
{
    struct retro_slice *sl = slice;
    (void)job, (void)state;
    for (size_t i = 0; i < sl->n; i++)
        if (sl->hits[i].rc == 0)
            sl_action_done(srv, &sl->hits[i].act);
}

const struct sl_bulkjob_kind sl_retro_kind = {
    .name = "retro",
    .load = retro_load,
    .unload = retro_unload,
    .read = retro_read,
    .write = retro_write,
    .after = retro_after,
    .free_slice = retro_free_slice,
};

/* }===================================================================== */

/* {====================== Starting one ================================= */

const char *sl_retro_configured(const struct sl_config *cfg, const char *bank)
{
    json_t *set = cfg->hashbank_action ? json_loads(cfg->hashbank_action, 0, NULL) : NULL;
    const char *v = json_string_value(json_object_get(set, bank));
    enum then t = THEN_REVIEW;

    if (!v)
        v = json_string_value(json_object_get(set, "*"));
    then_parse(v, &t);
    json_decref(set);
    return thens[t];
}

int sl_retro_then(const struct sl_config *cfg, const char *bank, const char *then,
                  const char **out, struct sl_error *err)
{
    const char *set = sl_retro_configured(cfg, bank);
    enum then t;

    if (!then) {
        *out = set;
        return 0;
    }
    if (then_parse(then, &t) < 0)
        return sl_error_set(err, 422, "invalid", "then",
                            "then must be nothing, review or takedown");
    if (t == THEN_TAKEDOWN && strcmp(set, "takedown") != 0)
        return sl_error_set(err, 422, "invalid", "then", "A takedown on a match is set per "
                            "bank in the configuration (hashbank_action); bank %s's is %s.",
                            bank, set);
    *out = thens[t];
    return 0;
}

/* The phash plugin's distance, as configured (its default when unset). */
static unsigned configured_distance(const struct sl_config *cfg)
{
    for (int i = 0; i < cfg->nplugins; i++) {
        const struct sl_plugin_conf *p = &cfg->plugins[i];
        if (strcmp(p->name, "phash") != 0)
            continue;
        for (int k = 0; k < p->nopts; k++)
            if (strcmp(p->keys[k], "distance") == 0) {
                long d = strtol(p->values[k], NULL, 10);
                if (d >= 0 && d <= SL_HAMMING_MAX)
                    return (unsigned)d;
            }
    }
    return DEFAULT_DISTANCE;
}

struct start_op {
    struct sl_commit_op op;
    struct sl_request *r;
    char id[SL_ID_MAX + 1];
    char bank[SL_ID_MAX + 1];
    char actor[SL_ID_MAX + 8];
    char *spec;
    size_t added, removed;
    const char *then;
    int64_t since_ms;
    unsigned distance;
};

static void start_free(struct start_op *o)
{
    free(o->spec);
    free(o);
}

static int start_apply(struct sl_commit_op *op, struct sl_store *w)
{
    struct start_op *o = (struct start_op *)op;
    int64_t now = sl_now_ms();
    char why[512];
    /* seq_max 0: the items stored up to now, in this transaction, which
     * comes after every upload judged before the plugins had the hashes. */
    struct sl_job_row row = { .id = o->id, .kind = "retro", .action = o->then, .spec = o->spec,
                              .state = "running", .created_by = o->actor, .total = -1,
                              .now_ms = now };
    snprintf(why, sizeof(why), "job %s: %zu new hashes of bank %s matched against the items "
             "stored since %lld (distance %u, then %s)", o->id, o->added, o->bank,
             (long long)o->since_ms, o->distance, o->then);
    struct sl_audit_rec rec = { NULL, o->actor, "retro", NULL, NULL, why, now };
    int rc = sl_store_job_insert(w, &row);
    return rc < 0 ? rc : sl_store_audit_append(w, &rec);
}

static void start_done(struct sl_commit_op *op, int rc)
{
    struct start_op *o = (struct start_op *)op;
    struct sl_request *r = o->r;

    if (rc < 0) {
        /* The hashes are stored and in force for uploads; only the look
         * back failed: say so, with what to do. */
        sl_err("retro: the job matching bank %s's new hashes against stored items could not "
               "be stored", o->bank);
        sl_http_reply_errorf(r, 503, "unavailable", NULL, "The %zu hashes were added to bank "
                             "%s, but matching them against stored items could not start (the "
                             "store failed): send the same hashes again to retry.",
                             o->added, o->bank);
    } else {
        if (sl_bulkjob_run(r->srv, o->id) < 0)
            sl_err("retro job %s could not start; it starts at the next start", o->id);
        sl_http_reply_json(r, 200, json_pack("{s:s, s:I, s:I, s:{s:s, s:s, s:I, s:i}}",
                                             "bank", o->bank, "added", (json_int_t)o->added,
                                             "removed", (json_int_t)o->removed, "retro",
                                             "job", o->id, "then", o->then,
                                             "since_ms", (json_int_t)o->since_ms,
                                             "distance", (int)o->distance));
    }
    start_free(o);
}

static void start_drop(struct sl_commit_op *op)
{
    start_free((struct start_op *)op);
}

void sl_retro_start(struct sl_request *r, const char *bank, const uint64_t *add, size_t nadd,
                    size_t removed, const char *then, int days)
{
    if (days == 0 || nadd == 0) {
        sl_http_reply_json(r, 200, json_pack("{s:s, s:I, s:I, s:n}", "bank", bank,
                                             "added", (json_int_t)nadd,
                                             "removed", (json_int_t)removed, "retro"));
        return;
    }
    struct start_op *o = calloc(1, sizeof(*o));
    json_t *hashes = json_array();
    for (size_t i = 0; hashes && i < nadd; i++) {
        char hex[17];
        snprintf(hex, sizeof(hex), "%016" PRIx64, add[i]);
        if (json_array_append_new(hashes, json_string(hex)) < 0) {
            json_decref(hashes);
            hashes = NULL;
        }
    }
    if (o) {
        o->r = r;
        o->then = then;
        o->added = nadd;
        o->removed = removed;
        o->distance = configured_distance(&r->srv->cfg);
        o->since_ms = sl_now_ms() - (int64_t)days * DAY_MS;
        sl_copy(o->bank, sizeof(o->bank), bank);
        sl_api_actor(r, o->actor, sizeof(o->actor));
        json_t *spec = hashes ? json_pack("{s:s, s:O, s:i, s:I, s:s}", "bank", bank,
                                          "hashes", hashes, "distance", (int)o->distance,
                                          "since_ms", (json_int_t)o->since_ms, "then", then)
                              : NULL;
        o->spec = spec ? json_dumps(spec, JSON_COMPACT) : NULL;
        json_decref(spec);
    }
    json_decref(hashes);
    if (o && (!o->spec || sl_bulkjob_new_id(o->id, sizeof(o->id)) < 0)) {
        start_free(o);
        o = NULL;
    }
    sl_api_submit(r, o ? &o->op : NULL, start_apply, start_done, start_drop);
}

/* }===================================================================== */
