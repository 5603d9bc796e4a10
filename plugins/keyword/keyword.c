/* SPDX-License-Identifier: MIT */
/* keyword plugin: tags items whose text contains words from keyword lists. */
#define _POSIX_C_SOURCE 200809L
#include <sluice/plugin.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lists.h"

#define NAME "keyword"
#define DEFAULT_MAX_HITS 32
#define MAX_MAX_HITS 1000

/* Text fields the plugin may scan; option "fields" picks among them. */
static const char *const field_names[] = {
    "title",
    "description",
    "transcript",
    "city",
};
#define NFIELDS (sizeof(field_names) / sizeof(field_names[0]))
#define DEFAULT_FIELDS 0x7u     /* title, description, transcript */

struct state {
    const struct sl_host_api *host;
    char *dir;                  /* option "lists" */
    unsigned fields;            /* bit i: field_names[i] is scanned */
    unsigned max_hits;          /* matches reported per list and item */
    double reject_severity;     /* review rejects at or above; < 0: never */
    pthread_rwlock_t lock;      /* reload swaps set while items are scanned */
    struct kw_set *set;
};

/* {====================== Options ====================================== */

static int parse_fields(const char *v, unsigned *out)
{
    unsigned mask = 0;
    const char *p = v;

    while (*p) {
        size_t len = strcspn(p, ", "), i;

        if (len) {
            for (i = 0; i < NFIELDS; i++)
                if (strlen(field_names[i]) == len &&
                    memcmp(field_names[i], p, len) == 0)
                    break;
            if (i == NFIELDS)
                return -EINVAL;
            mask |= 1u << i;
        }
        p += len;
        if (*p)
            p++;
    }
    if (!mask)
        return -EINVAL;
    *out = mask;
    return 0;
}

static int parse_opts(struct state *st, const struct sl_plugin_option *opts)
{
    const struct sl_host_api *h = st->host;
    const struct sl_plugin_option *o;

    for (o = opts; o && o->key; o++) {
        const char *v = o->value ? o->value : "";
        char *end;

        if (strcmp(o->key, "lists") == 0) {
            if (!*v) {
                h->log(SL_LOG_ERROR, NAME, "option lists: empty directory name");
                return -EINVAL;
            }
            free(st->dir);
            st->dir = strdup(v);
            if (!st->dir)
                return -ENOMEM;
        } else if (strcmp(o->key, "fields") == 0) {
            if (parse_fields(v, &st->fields) < 0) {
                h->log(SL_LOG_ERROR, NAME, "option fields: \"%s\" is not a comma "
                       "separated list of title, description, transcript, city", v);
                return -EINVAL;
            }
        } else if (strcmp(o->key, "max_hits") == 0) {
            long n;

            errno = 0;
            n = strtol(v, &end, 10);
            if (!*v || *end || errno || n < 1 || n > MAX_MAX_HITS) {
                h->log(SL_LOG_ERROR, NAME, "option max_hits: \"%s\" is not an "
                       "integer from 1 to %d", v, MAX_MAX_HITS);
                return -EINVAL;
            }
            st->max_hits = (unsigned)n;
        } else if (strcmp(o->key, "reject_severity") == 0) {
            double d;

            errno = 0;
            d = strtod(v, &end);
            if (!*v || *end || errno || !isfinite(d) || d < 0 || d > 1) {
                h->log(SL_LOG_ERROR, NAME, "option reject_severity: \"%s\" is not "
                       "a number in [0,1]", v);
                return -EINVAL;
            }
            st->reject_severity = d;
        } else {
            h->log(SL_LOG_ERROR, NAME, "unknown option \"%s\" (known: lists, "
                   "fields, max_hits, reject_severity)", o->key);
            return -EINVAL;
        }
    }
    if (!st->dir) {
        h->log(SL_LOG_ERROR, NAME, "option lists (the directory of NAME.list "
               "files) is required");
        return -EINVAL;
    }
    return 0;
}

/* }===================================================================== */

static int load(struct state *st, struct kw_set **out)
{
    char err[512];
    int rc = kw_set_load(st->dir, out, err, sizeof(err));

    if (rc < 0)
        st->host->log(SL_LOG_ERROR, NAME, "%s", err);
    else
        st->host->log(SL_LOG_INFO, NAME, "%zu keywords in %zu lists from %s",
                      (*out)->nwords, (*out)->nlists, st->dir);
    return rc;
}

static void fini(void *state)
{
    struct state *st = state;

    if (!st)
        return;
    kw_set_free(st->set);
    pthread_rwlock_destroy(&st->lock);
    free(st->dir);
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
    st->fields = DEFAULT_FIELDS;
    st->max_hits = DEFAULT_MAX_HITS;
    st->reject_severity = -1;
    if (pthread_rwlock_init(&st->lock, NULL) != 0) {
        free(st);
        return -ENOMEM;
    }
    rc = parse_opts(st, opts);
    if (rc == 0)
        rc = load(st, &st->set);
    if (rc < 0) {
        fini(st);
        return rc;
    }
    *state = st;
    return 0;
}

static int reload(void *state)
{
    struct state *st = state;
    struct kw_set *set = NULL, *old;
    int rc;

    rc = load(st, &set);
    if (rc < 0)
        return rc;      /* the old lists stay in force */
    pthread_rwlock_wrlock(&st->lock);
    old = st->set;
    st->set = set;
    pthread_rwlock_unlock(&st->lock);
    kw_set_free(old);
    return 0;
}

/* {====================== Tag hook ===================================== */

struct tag_ctx {
    struct state *st;
    const struct kw_set *set;
    struct sl_item *item;
    const char *field;
    unsigned *hits;         /* by list index */
    size_t total;
    int rc;
};

static int on_tag_hit(void *ud, uint32_t id, uint32_t li, size_t off, size_t len)
{
    struct tag_ctx *c = ud;
    const struct kw_list *l = &c->set->lists[li];
    int rc;

    c->total++;
    if (c->hits[li]++ >= c->st->max_hits)
        return 0;           /* counted in the tag, not reported again */
    rc = c->st->host->item_match(c->item, NAME, "keyword", l->name,
                                 c->set->words[id], l->severity, c->field,
                                 off, len);
    if (rc < 0) {
        c->rc = rc;
        return 1;
    }
    return 0;
}

static int tag(void *state, struct sl_item *item)
{
    struct state *st = state;
    const struct sl_host_api *h = st->host;
    struct tag_ctx c = { .st = st, .item = item };
    size_t i, lists = 0;
    int rc = 0;

    pthread_rwlock_rdlock(&st->lock);
    c.set = st->set;
    if (c.set->nlists == 0)
        goto out;
    c.hits = calloc(c.set->nlists, sizeof(*c.hits));
    if (!c.hits) {
        rc = -ENOMEM;
        goto out;
    }
    for (i = 0; i < NFIELDS && c.rc == 0; i++) {
        const char *text;

        if (!(st->fields & (1u << i)))
            continue;
        text = h->item_field(item, field_names[i]);
        if (!text)
            continue;
        c.field = field_names[i];
        ac_scan(c.set->ac, text, strlen(text), on_tag_hit, &c);
    }
    rc = c.rc;
    for (i = 0; i < c.set->nlists && rc == 0; i++) {
        if (!c.hits[i])
            continue;
        lists++;
        rc = h->item_tag(item, c.set->lists[i].tag, c.set->lists[i].severity, NAME);
    }
    free(c.hits);
out:
    pthread_rwlock_unlock(&st->lock);
    if (rc < 0)
        return rc;
    if (c.total) {
        h->stat_add(NAME, "matches", (double)c.total);
        h->stat_add(NAME, "items_matched", 1);
    }
    return lists ? 0 : SL_DECLINED;
}

/* }===================================================================== */

/* {====================== Review hook ================================== */

struct review_ctx {
    const struct kw_set *set;
    double threshold;
    const char *field;
    long best_list;         /* -1: nothing at or above the threshold yet */
    uint32_t best_word;
    const char *best_field;
};

static int on_review_hit(void *ud, uint32_t id, uint32_t li, size_t off, size_t len)
{
    struct review_ctx *c = ud;
    double sev = c->set->lists[li].severity;

    if (sev < c->threshold)
        return 0;
    if (c->best_list < 0 || sev > c->set->lists[c->best_list].severity) {
        c->best_list = li;
        c->best_word = id;
        c->best_field = c->field;
    }
    return 0;
}

/* Longest prefix of s of at most max bytes that ends on a code point. */
static int utf8_prefix(const char *s, size_t max)
{
    size_t len = strlen(s);

    if (len <= max)
        return (int)len;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return (int)max;
}

static int review(void *state, struct sl_item *item, struct sl_review *out)
{
    struct state *st = state;
    struct review_ctx c = { .threshold = st->reject_severity, .best_list = -1 };
    size_t i;
    int any = 0;

    if (st->reject_severity < 0)
        return SL_DECLINED;
    pthread_rwlock_rdlock(&st->lock);
    c.set = st->set;
    for (i = 0; i < c.set->nlists; i++)
        any |= c.set->lists[i].severity >= c.threshold;
    for (i = 0; any && i < NFIELDS; i++) {
        const char *text;

        if (!(st->fields & (1u << i)))
            continue;
        text = st->host->item_field(item, field_names[i]);
        if (!text)
            continue;
        c.field = field_names[i];
        ac_scan(c.set->ac, text, strlen(text), on_review_hit, &c);
    }
    if (c.best_list >= 0) {
        const struct kw_list *l = &c.set->lists[c.best_list];
        const char *w = c.set->words[c.best_word];

        out->verdict = SL_VERDICT_REJECT;
        snprintf(out->reason, sizeof(out->reason),
                 "keyword list \"%s\" (severity %.2f) matched \"%.*s\" in %s",
                 l->name, l->severity, utf8_prefix(w, 100), w, c.best_field);
    }
    pthread_rwlock_unlock(&st->lock);
    return c.best_list >= 0 ? 0 : SL_DECLINED;
}

/* }===================================================================== */

SL_PLUGIN_EXPORT const struct sl_plugin sluice_plugin = {
    SL_PLUGIN_INIT,
    .name = NAME,
    .version = "1.0",
    .init = init,               /* options, then the lists; fatal on error */
    .fini = fini,
    .reload = reload,           /* re-read the lists; keep the old on error */
    .tag = tag,                 /* a match per hit, a tag per list */
    .review = review,           /* declines unless reject_severity is set */
    .hashbank = NULL,           /* keyword lists come from files, not banks */
};
