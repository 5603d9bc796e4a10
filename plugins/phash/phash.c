/* SPDX-License-Identifier: MIT */
/* phash plugin: tags items whose perceptual hashes are near a bank's hashes. */
#define _POSIX_C_SOURCE 200809L
#include <sluice/plugin.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"

#define NAME "phash"
#define DEFAULT_DISTANCE 8
#define DEFAULT_MAX_MATCHES 32
#define MAX_MAX_MATCHES 1000
#define MAX_BANK_NAME 64
/* Distinct bank hashes kept per item; the closest are reported. */
#define MAX_COLLECT 4096

struct state {
    const struct sl_host_api *host;
    unsigned distance;          /* largest Hamming distance that matches */
    unsigned max_matches;       /* matches reported per bank and item */
    pthread_rwlock_t lock;      /* hashbank changes banks while items are tagged */
    struct ph_index *ix;
    char *banks[PH_MAX_BANKS];  /* name of each index bank; NULL: unused */
};

static int parse_uint(const char *v, unsigned max, unsigned *out)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(v, &end, 10);
    if (!*v || *end || errno || n < 0 || (unsigned long)n > max)
        return -EINVAL;
    *out = (unsigned)n;
    return 0;
}

static int parse_opts(struct state *st, const struct sl_plugin_option *opts)
{
    const struct sl_host_api *h = st->host;
    const struct sl_plugin_option *o;

    for (o = opts; o && o->key; o++) {
        const char *v = o->value ? o->value : "";

        if (strcmp(o->key, "distance") == 0) {
            if (parse_uint(v, PH_MAX_DISTANCE, &st->distance) < 0) {
                h->log(SL_LOG_ERROR, NAME, "option distance: \"%s\" is not an "
                       "integer from 0 to %d", v, PH_MAX_DISTANCE);
                return -EINVAL;
            }
        } else if (strcmp(o->key, "max_matches") == 0) {
            if (parse_uint(v, MAX_MAX_MATCHES, &st->max_matches) < 0 ||
                st->max_matches == 0) {
                h->log(SL_LOG_ERROR, NAME, "option max_matches: \"%s\" is not an "
                       "integer from 1 to %d", v, MAX_MAX_MATCHES);
                return -EINVAL;
            }
        } else {
            h->log(SL_LOG_ERROR, NAME, "unknown option \"%s\" (known: distance, "
                   "max_matches)", o->key);
            return -EINVAL;
        }
    }
    return 0;
}

static void fini(void *state)
{
    struct state *st = state;
    int i;

    if (!st)
        return;
    for (i = 0; i < PH_MAX_BANKS; i++)
        free(st->banks[i]);
    ph_index_free(st->ix);
    pthread_rwlock_destroy(&st->lock);
    free(st);
}

static int init(const struct sl_host_api *host,
                const struct sl_plugin_option *opts, void **state)
{
    struct state *st = calloc(1, sizeof(*st));
    int rc;

    if (!st)
        return -ENOMEM;
    st->host = host;
    st->distance = DEFAULT_DISTANCE;
    st->max_matches = DEFAULT_MAX_MATCHES;
    if (pthread_rwlock_init(&st->lock, NULL) != 0) {
        free(st);
        return -ENOMEM;
    }
    rc = parse_opts(st, opts);
    if (rc == 0) {
        st->ix = ph_index_new();
        if (!st->ix)
            rc = -ENOMEM;
    }
    if (rc < 0) {
        fini(st);
        return rc;
    }
    *state = st;
    return 0;
}

/* Bank names become tag names ("hash." + bank), so they follow the id rule. */
static int valid_bank(const char *s)
{
    size_t i, len = strlen(s);

    if (len == 0 || len > MAX_BANK_NAME || s[0] == '.')
        return 0;
    for (i = 0; i < len; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
              c == ':' || c == '@'))
            return 0;
    }
    return 1;
}

static int hashbank(void *state, const char *bank,
                    const uint64_t *add, size_t nadd,
                    const uint64_t *remove, size_t nremove)
{
    struct state *st = state;
    int id = -1, slot = -1, rc = 0, i;

    if (!bank || !valid_bank(bank)) {
        st->host->log(SL_LOG_ERROR, NAME, "hash bank name \"%s\" is not 1 to %d "
                      "characters of A-Z a-z 0-9 _ - . : @", bank ? bank : "",
                      MAX_BANK_NAME);
        return -EINVAL;
    }
    pthread_rwlock_wrlock(&st->lock);
    for (i = 0; i < PH_MAX_BANKS; i++) {
        if (st->banks[i] && strcmp(st->banks[i], bank) == 0)
            id = i;
        else if (!st->banks[i] && slot < 0)
            slot = i;
    }
    if (id < 0) {
        if (nadd == 0)
            goto out;   /* removing from a bank that holds nothing */
        if (slot < 0) {
            st->host->log(SL_LOG_ERROR, NAME, "hash bank \"%s\": already %d "
                          "banks, the most the plugin holds", bank, PH_MAX_BANKS);
            rc = -ENOSPC;
            goto out;
        }
        st->banks[slot] = strdup(bank);
        if (!st->banks[slot]) {
            rc = -ENOMEM;
            goto out;
        }
        id = slot;
    }
    rc = ph_index_update(st->ix, (unsigned)id, add, nadd, remove, nremove);
    if (rc < 0)
        st->host->log(SL_LOG_ERROR, NAME, "hash bank \"%s\": %s; unchanged",
                      bank, strerror(-rc));
    if (ph_index_bank_size(st->ix, (unsigned)id) == 0) {
        free(st->banks[id]);    /* an empty bank frees its slot */
        st->banks[id] = NULL;
    }
out:
    pthread_rwlock_unlock(&st->lock);
    return rc;
}

/* {====================== Tag hook ===================================== */

struct hit {
    uint64_t hash;
    unsigned distance;
    uint64_t banks;
};

struct tag_ctx {
    struct hit *hits;               /* allocated at the first hit */
    size_t n;
    int rc;
    unsigned best[PH_MAX_BANKS];    /* closest distance per bank */
    uint64_t found;                 /* banks with any hit */
};

static int on_hit(void *ud, uint64_t hash, unsigned distance, uint64_t banks)
{
    struct tag_ctx *c = ud;
    size_t i;
    int b;

    for (b = 0; b < PH_MAX_BANKS; b++)
        if ((banks >> b & 1) && (!(c->found >> b & 1) || distance < c->best[b]))
            c->best[b] = distance;
    c->found |= banks;
    /* Two item hashes near one bank hash: one finding, the closer one. */
    for (i = 0; i < c->n; i++) {
        if (c->hits[i].hash == hash) {
            if (distance < c->hits[i].distance)
                c->hits[i].distance = distance;
            return 0;
        }
    }
    if (!c->hits) {
        c->hits = malloc(MAX_COLLECT * sizeof(*c->hits));
        if (!c->hits) {
            c->rc = -ENOMEM;
            return 1;
        }
    }
    if (c->n < MAX_COLLECT)
        c->hits[c->n++] = (struct hit){ hash, distance, banks };
    return 0;
}

static int cmp_hit(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;

    if (x->distance != y->distance)
        return x->distance < y->distance ? -1 : 1;
    return x->hash < y->hash ? -1 : x->hash > y->hash;
}

static int tag(void *state, struct sl_item *item)
{
    struct state *st = state;
    const struct sl_host_api *h = st->host;
    struct tag_ctx c = { 0 };
    unsigned reported[PH_MAX_BANKS] = { 0 };
    const uint64_t *hashes = NULL;
    size_t n, i, total = 0;
    int b, rc = 0;

    n = h->item_hashes(item, &hashes);
    if (n == 0)
        return SL_DECLINED;
    pthread_rwlock_rdlock(&st->lock);
    for (i = 0; i < n && c.rc == 0; i++)
        ph_index_query(st->ix, hashes[i], st->distance, on_hit, &c);
    rc = c.rc;
    if (c.n)
        qsort(c.hits, c.n, sizeof(*c.hits), cmp_hit);
    for (i = 0; i < c.n && rc == 0; i++) {
        char hex[17];

        snprintf(hex, sizeof(hex), "%016" PRIx64, c.hits[i].hash);
        for (b = 0; b < PH_MAX_BANKS && rc == 0; b++) {
            if (!(c.hits[i].banks >> b & 1) || reported[b] >= st->max_matches)
                continue;
            reported[b]++;
            total++;
            rc = h->item_match(item, NAME, "hash", st->banks[b], hex,
                               (double)c.hits[i].distance, NULL, 0, 0);
        }
    }
    for (b = 0; b < PH_MAX_BANKS && rc == 0; b++) {
        char name[8 + MAX_BANK_NAME];

        if (!(c.found >> b & 1))
            continue;
        snprintf(name, sizeof(name), "hash.%s", st->banks[b]);
        /* distance 0 is certain; the largest allowed still counts a little */
        rc = h->item_tag(item, name,
                         1.0 - (double)c.best[b] / (st->distance + 1.0), NAME);
    }
    free(c.hits);
    pthread_rwlock_unlock(&st->lock);
    if (rc < 0)
        return rc;
    if (c.found) {
        h->stat_add(NAME, "matches", (double)total);
        h->stat_add(NAME, "items_matched", 1);
    }
    return c.found ? 0 : SL_DECLINED;
}

/* }===================================================================== */

SL_PLUGIN_EXPORT const struct sl_plugin sluice_plugin = {
    SL_PLUGIN_INIT,
    .name = NAME,
    .version = "1.0",
    .init = init,               /* options; banks arrive through hashbank */
    .fini = fini,
    .reload = NULL,             /* nothing is read from files */
    .tag = tag,                 /* a match per bank hash, a tag per bank */
    .review = NULL,             /* the Lua policy decides from the matches */
    .hashbank = hashbank,       /* add and remove, in force for the next item */
};
