/* SPDX-License-Identifier: MIT */
/* Distribution at start: every distributing item back from the store in a few passes, not a query per item. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dist/internal.h"
#include "lib/clock.h"
#include "lib/grow.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/mix.h"
#include "lua/sandbox.h"
#include "server.h"
#include "store/store.h"

/*
 * A platform may have hundreds of thousands of items distributing when the
 * daemon stops, and each must be back (its plan, its waves, who was
 * offered and served it) before the first request. Four passes over the
 * store, each one statement: the items, their waves, the served marks,
 * the offers (a record per placement); then the items with no wave
 * running start their next, once every offer is known (before, a wave
 * could offer an item again to one offered it already).
 *
 * What costs at this scale is reading JSON: the upload is not parsed (its
 * creator is a column, its city is read off the text), tags only when
 * there are some, waves by dist_wave_read() (the form ops.c writes), and a
 * plan once per distinct text: a policy's plans differ by little (the
 * creator's followers, an interest), so most items share one.
 */

#define PLAN_CACHE 256              /* a power of two */

struct plan_memo {
    char *text;                     /* NULL: a free slot */
    uint64_t hash;
    struct plan_wave *plan;
    int nplan, next, reviewed;
};

struct resuming {
    struct sl_dist *d;
    int rc;
    struct ditem **items;           /* every item resumed, in the order read */
    size_t nitems, items_cap;
    uint32_t *users;                /* a placement's, as the audience knows them */
    size_t users_cap;
    struct plan_memo plans[PLAN_CACHE];
};

static uint64_t hash_of(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;        /* FNV-1a, then mixed */

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return sl_mix64(h);
}

/* {====================== Items and plans ============================== */

/* The item's plan from its stored text (NULL: the built-in one), through
 * the memo. 0 or -ENOMEM. */
static int plan_of(struct resuming *rg, struct ditem *it, const char *text)
{
    uint64_t h = text ? hash_of(text) : 0;
    struct plan_memo *m = &rg->plans[h & (PLAN_CACHE - 1)];
    char err[SL_LUA_ERR_MAX];

    if (text && m->text && m->hash == h && strcmp(m->text, text) == 0) {
        if (!(it->plan = malloc((size_t)m->nplan * sizeof(*it->plan))))
            return -ENOMEM;
        memcpy(it->plan, m->plan, (size_t)m->nplan * sizeof(*it->plan));
        it->nplan = m->nplan;
        it->next = m->next;
        it->reviewed = m->reviewed;
        return 0;
    }
    json_t *plan = dist_stored_json(text);
    if (dist_plan_check(json_object_get(plan, "waves"), it, err, sizeof(err)) < 0 &&
        dist_plan_default(it) < 0) {
        json_decref(plan);
        return -ENOMEM;
    }
    it->next = (int)json_integer_value(json_object_get(plan, "next"));
    it->reviewed = (int)json_integer_value(json_object_get(plan, "reviewed"));
    json_decref(plan);
    struct plan_wave *copy = text ? malloc((size_t)it->nplan * sizeof(*copy)) : NULL;
    char *key = copy ? strdup(text) : NULL;
    if (key) {
        free(m->text);
        free(m->plan);
        memcpy(copy, it->plan, (size_t)it->nplan * sizeof(*copy));
        *m = (struct plan_memo){ key, h, copy, it->nplan, it->next, it->reviewed };
    } else {
        free(copy);                 /* no memo this time: nothing is wrong */
    }
    return 0;
}

/* The value of the top-level key of a JSON object's text when it is a
 * string with nothing to unescape, into out; "" when it is absent, NULL
 * when the text must be parsed to tell. */
static const char *top_string(const char *p, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    int depth = 0;

    out[0] = '\0';
    for (; *p; p++) {
        if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            depth--;
        } else if (*p == '"') {
            const char *s = ++p;
            while (*p && *p != '"')
                p += *p == '\\' && p[1] ? 2 : 1;
            if (!*p)
                return NULL;
            /* A key at the top: its name, then ':'. */
            const char *v = p + 1;
            while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r')
                v++;
            if (depth == 1 && *v == ':' && (size_t)(p - s) == klen &&
                memcmp(s, key, klen) == 0) {
                for (v++; *v == ' ' || *v == '\t' || *v == '\n' || *v == '\r'; v++)
                    ;
                const char *e = v + 1;
                if (*v != '"')
                    return NULL;
                while (*e && *e != '"' && *e != '\\')
                    e++;
                if (*e != '"' || (size_t)(e - v - 1) >= cap)
                    return NULL;
                memcpy(out, v + 1, (size_t)(e - v - 1));
                out[e - v - 1] = '\0';
                return out;
            }
        }
    }
    return out;
}

static int resume_item(void *arg, const char *id, const char *creator, const char *upload,
                       const char *tags, const char *plan)
{
    struct resuming *rg = arg;
    struct sl_dist *d = rg->d;
    char city[256];
    const char *c = upload ? top_string(upload, "city", city, sizeof(city)) : "";
    json_t *parsed = NULL, *tg = NULL;

    if (!c) {
        parsed = dist_stored_json(upload);
        c = json_string_value(json_object_get(parsed, "city"));
    }
    /* An item without interests has "{}" for tags: nothing to read. */
    if (tags && strcmp(tags, "{}") != 0)
        tg = dist_stored_json(tags);
    struct ditem *it = dist_adopt(d, id, creator, c && *c ? c : NULL, tg,
                                  upload ? upload : "{}", tags ? tags : "{}");
    json_decref(parsed);
    json_decref(tg);
    if (it && (plan_of(rg, it, plan) < 0 ||
               sl_grow(&rg->items, &rg->items_cap, rg->nitems + 1, sizeof(*rg->items)) < 0)) {
        sl_err("distribution: out of memory resuming item %s", id);
        dist_item_drop(d, it);
        rg->rc = -ENOMEM;
        return 1;
    }
    if (it) {
        it->state = D_RUNNING;
        rg->items[rg->nitems++] = it;
    }
    return 0;
}

/* }===================================================================== */

/* {====================== Waves and offers ============================= */

static int resume_wave(void *arg, const char *item, int n, const char *text, size_t len)
{
    struct resuming *rg = arg;
    struct ditem *it = dist_item_get(rg->d, item);
    struct wave *w;

    (void)n;
    if (!it || it->state != D_RUNNING)
        return 0;
    if (!(w = realloc(it->waves, (size_t)(it->nwaves + 1) * sizeof(*w)))) {
        rg->rc = -ENOMEM;
        return 1;
    }
    it->waves = w;
    w = &it->waves[it->nwaves++];
    if (dist_wave_read(w, text, len) < 0) {
        json_t *j = dist_stored_json(text);
        dist_wave_restore(w, j);
        json_decref(j);
    }
    return 0;
}

/* A feed served the item to user: offered, and counted when they react. */
static int resume_served(void *arg, const char *item, const char *user)
{
    struct resuming *rg = arg;
    struct ditem *it = dist_item_get(rg->d, item);
    uint32_t u;

    if (!it || it->state != D_RUNNING || sl_audience_user_add(rg->d->aud, user, &u) < 0)
        return 0;
    sl_audience_mark_offered(rg->d->aud, it->h, &u, 1);
    if (dist_react_served(&it->reactions, u) < 0) {
        rg->rc = -ENOMEM;
        return 1;
    }
    return 0;
}

/* A placement: the running wave's users not served yet go back into their
 * inboxes (the served are offered already, and placing skips them); those
 * of ended waves only count as offered. */
static int resume_offers(void *arg, const char *item, int wave, int source,
                         const char *const *users, size_t n)
{
    struct resuming *rg = arg;
    struct ditem *it = dist_item_get(rg->d, item);
    struct wave *w = it && it->state == D_RUNNING ? dist_current(it) : NULL;
    size_t k = 0;

    if (!it || it->state != D_RUNNING)
        return 0;
    if (sl_grow(&rg->users, &rg->users_cap, n ? n : 1, sizeof(*rg->users)) < 0) {
        rg->rc = -ENOMEM;
        return 1;
    }
    sl_audience_users_add(rg->d->aud, users, n, rg->users);
    for (size_t i = 0; i < n; i++)
        if (rg->users[i] != SL_AUD_NONE)
            rg->users[k++] = rg->users[i];
    if (w && w->n == wave)
        sl_audience_place(rg->d->aud, it->h, rg->users, k, (enum sl_aud_source)source,
                          (uint32_t)wave, NULL);
    else
        sl_audience_mark_offered(rg->d->aud, it->h, rg->users, k);
    return 0;
}

/* }===================================================================== */

int dist_resume_all(struct sl_dist *d)
{
    struct resuming *rg = calloc(1, sizeof(*rg));
    struct sl_store *r = d->srv->reader;
    double t0 = sl_mono();
    int rc;

    if (!rg)
        return -ENOMEM;
    rg->d = d;
    if ((rc = sl_store_items_in_state(r, "distributing", resume_item, rg)) == 0 &&
        (rc = rg->rc) == 0 && (rc = sl_store_waves_each(r, "distributing", resume_wave, rg)) == 0 &&
        (rc = rg->rc) == 0 &&
        (rc = sl_store_served_each(r, "distributing", resume_served, rg)) == 0 &&
        (rc = rg->rc) == 0 &&
        (rc = sl_store_offer_waves_each(r, "distributing", resume_offers, rg)) == 0)
        rc = rg->rc;
    for (size_t i = 0; rc == 0 && i < rg->nitems; i++)
        if (!dist_current(rg->items[i]))
            dist_begin_next_wave(d, rg->items[i], NULL);
    if (rc == 0)
        sl_info("distribution: %zu distributing items resumed in %lld ms", rg->nitems,
                (long long)((sl_mono() - t0) * 1000));
    for (size_t i = 0; i < PLAN_CACHE; i++) {
        free(rg->plans[i].text);
        free(rg->plans[i].plan);
    }
    free(rg->items);
    free(rg->users);
    free(rg);
    return rc;
}
