/* SPDX-License-Identifier: MIT */
/* The audience's users: ids, cities, interests, the follow graph, bulk loading. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audience/internal.h"
#include "lib/grow.h"

/* {====================== Users ======================================== */

uint32_t aud_user_lookup(const struct sl_audience *a, const char *id, size_t len)
{
    uint32_t h = aud_hash_str(id, len, a->conf.seed);
    return aud_idmap_find(&a->user_map, id, h);
}

/* Index of a valid id of hash h, created if new: 0 or -ENOMEM. */
static int intern_hashed(struct sl_audience *a, const char *id, size_t len, uint32_t h,
                         uint32_t *idx)
{
    uint32_t v = aud_idmap_find(&a->user_map, id, h);

    if (v != SL_AUD_NONE) {
        *idx = v;
        return 0;
    }
    if (a->nusers >= SL_AUD_NONE - 1)
        return -ENOMEM;
    if (a->nusers == a->users_cap) {
        size_t cap = a->users_cap;
        if (sl_grow((void **)&a->users, &cap, (size_t)a->nusers + 1, sizeof(*a->users)) < 0)
            return -ENOMEM;
        struct inbox **ni = realloc(a->inboxes, cap * sizeof(*ni));
        if (!ni)
            return -ENOMEM;
        a->inboxes = ni;
        uint32_t *na = realloc(a->active, cap * sizeof(*na));
        if (!na)
            return -ENOMEM;
        a->active = na;
        a->users_cap = cap;
    }
    const char *name = aud_arena_dup(&a->strings, id, len);
    if (!name || aud_idmap_put(&a->user_map, h, a->nusers, name) < 0)
        return -ENOMEM;     /* an orphan string in the arena at worst */
    a->users[a->nusers] = (struct user){
        .id = name, .hash = h, .city = SL_AUD_NONE,
    };
    a->inboxes[a->nusers] = NULL;
    a->active[a->nusers] = 0;
    *idx = a->nusers++;
    return 0;
}

/* Index of a valid id, created if new: 0 or -ENOMEM. */
int aud_user_intern(struct sl_audience *a, const char *id, size_t len, uint32_t *idx)
{
    return intern_hashed(a, id, len, aud_hash_str(id, len, a->conf.seed), idx);
}

/*
 * Each lookup in a large audience is a cache miss or two (the slot, then
 * the id it points to): a start resolves millions of ids. A batch asks for
 * the slots of a run of hashed ids, then for the ids in those slots,
 * before it compares any, so that the misses overlap.
 */
#define BATCH_RUN 16

bool sl_audience_key(const struct sl_audience *a, const char *id, struct sl_aud_key *key)
{
    size_t len;

    if (!id_ok(id, &len))
        return false;
    *key = (struct sl_aud_key){ id, (uint32_t)len, aud_hash_str(id, len, a->conf.seed) };
    return true;
}

size_t sl_audience_users_add_keyed(struct sl_audience *a, const struct sl_aud_key *keys,
                                   size_t n, uint32_t *out)
{
    const struct idmap *map = &a->user_map;
    size_t done = 0;

    for (size_t base = 0; base < n; base += BATCH_RUN) {
        const struct sl_aud_key *k = keys + base;
        size_t m = n - base < BATCH_RUN ? n - base : BATCH_RUN;

        for (size_t i = 0; i < m && map->slot; i++)
            __builtin_prefetch(&map->slot[k[i].hash & map->mask]);
        for (size_t i = 0; i < m && map->slot; i++) {
            const struct slot *sl = &map->slot[k[i].hash & map->mask];
            if (sl->val != SL_AUD_NONE && sl->hash == k[i].hash)
                __builtin_prefetch(sl->key);
        }
        for (size_t i = 0; i < m; i++) {
            if (intern_hashed(a, k[i].id, k[i].len, k[i].hash, &out[base + i]) == 0)
                done++;
            else
                out[base + i] = SL_AUD_NONE;
        }
    }
    return done;
}

size_t sl_audience_users_add(struct sl_audience *a, const char *const *ids, size_t n,
                             uint32_t *out)
{
    size_t done = 0;

    for (size_t base = 0; a && base < n; base += BATCH_RUN) {
        size_t m = n - base < BATCH_RUN ? n - base : BATCH_RUN, valid = 0;
        struct sl_aud_key keys[BATCH_RUN];
        uint32_t idx[BATCH_RUN];

        for (size_t i = 0; i < m; i++)
            if (sl_audience_key(a, ids[base + i], &keys[valid]))
                valid++;
        done += sl_audience_users_add_keyed(a, keys, valid, idx);
        for (size_t i = 0, v = 0; i < m; i++)
            out[base + i] = v < valid && keys[v].id == ids[base + i] ? idx[v++] : SL_AUD_NONE;
    }
    return done;
}

int sl_audience_user_add(struct sl_audience *a, const char *id, uint32_t *idx)
{
    size_t len;

    if (!a || !idx || !id_ok(id, &len))
        return -EINVAL;
    return aud_user_intern(a, id, len, idx);
}

int sl_audience_user_find(const struct sl_audience *a, const char *id, uint32_t *idx)
{
    size_t len;

    if (!a || !idx || !id_ok(id, &len))
        return -EINVAL;
    uint32_t v = aud_user_lookup(a, id, len);
    if (v == SL_AUD_NONE)
        return -ENOENT;
    *idx = v;
    return 0;
}

size_t sl_audience_user_count(const struct sl_audience *a)
{
    return a ? a->nusers : 0;
}

const char *sl_audience_user_id(const struct sl_audience *a, uint32_t idx)
{
    return a && idx < a->nusers ? a->users[idx].id : NULL;
}

/* }===================================================================== */

/* {====================== Cities and interests ========================= */

bool aud_city_ok(const char *s, size_t *lenp)
{
    size_t len = 0;

    for (; s[len]; len++)
        if (len >= SL_AUD_CITY_MAX || (unsigned char)s[len] < 0x20 || s[len] == 0x7f)
            return false;
    *lenp = len;
    return true;
}

/*
 * Index of a city or interest name, created if new: the table is map and
 * recs[0..*n) of *cap, records of `size` bytes that begin with a struct
 * named (the rest starts zero).
 */
static int name_intern(struct sl_audience *a, struct idmap *map, void **recs, size_t *cap,
                       uint32_t *n, size_t size, const char *name, size_t len, uint32_t *idx)
{
    uint32_t h = aud_hash_str(name, len, a->conf.seed);
    uint32_t v = aud_idmap_find(map, name, h);

    if (v == SL_AUD_NONE) {
        /* SL_AUD_NONE must stay free to mean "none". */
        if (*n >= SL_AUD_NONE - 1 || sl_grow(recs, cap, (size_t)*n + 1, size) < 0)
            return -ENOMEM;
        const char *s = aud_arena_dup(&a->strings, name, len);
        if (!s || aud_idmap_put(map, h, *n, s) < 0)
            return -ENOMEM;
        struct named *r = (struct named *)((char *)*recs + (size_t)*n * size);
        memset(r, 0, size);
        r->name = s;
        r->hash = h;
        v = (*n)++;
    }
    *idx = v;
    return 0;
}

int aud_city_intern(struct sl_audience *a, const char *name, size_t len, uint32_t *idx)
{
    return name_intern(a, &a->city_map, (void **)&a->cities, &a->cities_cap, &a->ncities,
                       sizeof(*a->cities), name, len, idx);
}

int aud_interest_intern(struct sl_audience *a, const char *name, size_t len, uint32_t *idx)
{
    return name_intern(a, &a->int_map, (void **)&a->ints, &a->ints_cap, &a->nints,
                       sizeof(*a->ints), name, len, idx);
}

uint32_t aud_name_lookup(const struct sl_audience *a, const struct idmap *map, const char *name)
{
    return aud_idmap_find(map, name, aud_hash_str(name, strlen(name), a->conf.seed));
}

static int set_city(struct sl_audience *a, uint32_t ui, const char *city, size_t len)
{
    uint32_t c = SL_AUD_NONE;
    int rc;

    if (len > 0 && (rc = aud_city_intern(a, city, len, &c)) < 0)
        return rc;
    struct user *u = &a->users[ui];
    if (c == u->city)
        return 0;
    if (c != SL_AUD_NONE && (rc = aud_set_add(&a->cities[c].users, ui, a->bulk)) < 0)
        return rc;
    if (u->city != SL_AUD_NONE)
        aud_set_del(&a->cities[u->city].users, ui);
    u->city = c;
    return 0;
}

static int set_interests(struct sl_audience *a, uint32_t ui, const char *const *names, size_t n)
{
    uint32_t want[SL_AUD_INTERESTS_MAX];
    size_t nw = 0, added = 0;
    int rc;

    for (size_t i = 0; i < n; i++) {
        uint32_t x;
        if ((rc = aud_interest_intern(a, names[i], strlen(names[i]), &x)) < 0)
            return rc;
        if (!has_u32(want, nw, x))
            want[nw++] = x;
    }
    uint32_t *heap = NULL;
    if (nw > 4 && !(heap = malloc(nw * sizeof(*heap))))
        return -ENOMEM;

    struct user *u = &a->users[ui];
    const uint32_t *old = user_ints(u);
    for (; added < nw; added++)
        if (!has_u32(old, u->nints, want[added]) &&
            aud_set_add(&a->ints[want[added]].named.users, ui, a->bulk) < 0)
            break;
    if (added < nw) {       /* undo, so a failure changes nothing */
        for (size_t i = 0; i < added; i++)
            if (!has_u32(old, u->nints, want[i]))
                aud_set_del(&a->ints[want[i]].named.users, ui);
        free(heap);
        return -ENOMEM;
    }
    for (size_t i = 0; i < u->nints; i++)
        if (!has_u32(want, nw, old[i]))
            aud_set_del(&a->ints[old[i]].named.users, ui);
    if (u->nints > 4)
        free(u->ints.ptr);
    if (heap) {
        memcpy(heap, want, nw * sizeof(*heap));
        u->ints.ptr = heap;
    } else {
        memcpy(u->ints.inl, want, nw * sizeof(*want));
    }
    u->nints = (uint8_t)nw;
    return 0;
}

/* sl_audience_user_ok(), with the lengths of id and city (untouched for
 * none). */
static bool user_ok(const char *id, const char *city, const char *const *interests, size_t n,
                    size_t *len, size_t *clen)
{
    size_t ilen;

    if (!id_ok(id, len) || (city && !aud_city_ok(city, clen)))
        return false;
    if (interests && n > SL_AUD_INTERESTS_MAX)
        return false;
    for (size_t i = 0; interests && i < n; i++)
        if (!id_ok(interests[i], &ilen))
            return false;
    return true;
}

bool sl_audience_user_ok(const char *id, const char *city, const char *const *interests,
                         size_t n)
{
    size_t len, clen;
    return user_ok(id, city, interests, n, &len, &clen);
}

int sl_audience_user_set(struct sl_audience *a, const char *id, const char *city,
                         const char *const *interests, size_t n, uint32_t *idx)
{
    size_t len, clen = 0;
    uint32_t ui;
    int rc;

    if (!a || !user_ok(id, city, interests, n, &len, &clen))
        return -EINVAL;
    if ((rc = aud_user_intern(a, id, len, &ui)) < 0)
        return rc;
    if (idx)
        *idx = ui;
    if (city && (rc = set_city(a, ui, city, clen)) < 0)
        return rc;
    if (interests && (rc = set_interests(a, ui, interests, n)) < 0)
        return rc;
    return 0;
}

const char *sl_audience_user_city(const struct sl_audience *a, uint32_t idx)
{
    if (!a || idx >= a->nusers || a->users[idx].city == SL_AUD_NONE)
        return NULL;
    return a->cities[a->users[idx].city].name;
}

size_t sl_audience_user_interests(const struct sl_audience *a, uint32_t idx,
                                  const char **out, size_t max)
{
    if (!a || idx >= a->nusers)
        return 0;
    const struct user *u = &a->users[idx];
    const uint32_t *v = user_ints(u);
    for (size_t i = 0; i < u->nints && i < max; i++)
        out[i] = a->ints[v[i]].named.name;
    return u->nints;
}

struct sl_aud_list sl_audience_city_users(const struct sl_audience *a, const char *city)
{
    uint32_t c = a && city ? aud_name_lookup(a, &a->city_map, city) : SL_AUD_NONE;
    if (c == SL_AUD_NONE)
        return (struct sl_aud_list){ NULL, 0 };
    return aud_set_list(&a->cities[c].users);
}

struct sl_aud_list sl_audience_interest_users(const struct sl_audience *a, const char *interest)
{
    uint32_t x = a && interest ? aud_name_lookup(a, &a->int_map, interest) : SL_AUD_NONE;
    if (x == SL_AUD_NONE)
        return (struct sl_aud_list){ NULL, 0 };
    return aud_set_list(&a->ints[x].named.users);
}

/* }===================================================================== */

/* {====================== The follow graph ============================= */

int sl_audience_follow(struct sl_audience *a, const char *follower, const char *creator, bool on)
{
    size_t flen, clen;
    uint32_t f, c;
    int rc;

    if (!a || !id_ok(follower, &flen) || !id_ok(creator, &clen) || strcmp(follower, creator) == 0)
        return -EINVAL;
    /* The users named exist from then on, as the store has them (and so
     * the audience after a start), an unfollow's too, edge or no edge. */
    if ((rc = aud_user_intern(a, follower, flen, &f)) < 0 ||
        (rc = aud_user_intern(a, creator, clen, &c)) < 0)
        return rc;
    if (on)
        return sl_audience_follow_users(a, f, c);
    aud_set_del(&a->users[f].following, c);
    aud_set_del(&a->users[c].followers, f);
    return 0;
}

int sl_audience_follow_users(struct sl_audience *a, uint32_t f, uint32_t c)
{
    int rc;

    if (f == c || f >= a->nusers || c >= a->nusers)
        return -EINVAL;
    if ((rc = aud_set_add(&a->users[f].following, c, a->bulk)) < 0)
        return rc;
    if (rc == 0)
        return 0;           /* already following */
    if ((rc = aud_set_add(&a->users[c].followers, f, a->bulk)) < 0) {
        aud_set_del(&a->users[f].following, c);
        return rc;
    }
    return 0;
}

bool sl_audience_follows(const struct sl_audience *a, uint32_t follower, uint32_t creator)
{
    if (!a || follower >= a->nusers || creator >= a->nusers)
        return false;
    const struct idset *fs = &a->users[follower].following, *cs = &a->users[creator].followers;
    return fs->n <= cs->n ? aud_set_has(fs, creator) : aud_set_has(cs, follower);
}

size_t sl_audience_followers_count(const struct sl_audience *a, uint32_t idx)
{
    return a && idx < a->nusers ? a->users[idx].followers.n : 0;
}

size_t sl_audience_following_count(const struct sl_audience *a, uint32_t idx)
{
    return a && idx < a->nusers ? a->users[idx].following.n : 0;
}

struct sl_aud_list sl_audience_followers(const struct sl_audience *a, uint32_t idx)
{
    if (!a || idx >= a->nusers)
        return (struct sl_aud_list){ NULL, 0 };
    return aud_set_list(&a->users[idx].followers);
}

struct sl_aud_list sl_audience_following(const struct sl_audience *a, uint32_t idx)
{
    if (!a || idx >= a->nusers)
        return (struct sl_aud_list){ NULL, 0 };
    return aud_set_list(&a->users[idx].following);
}

void sl_audience_bulk_begin(struct sl_audience *a)
{
    if (a)
        a->bulk = true;
}

/* A merge that cannot get memory leaves a long unsorted tail: still correct. */
void sl_audience_bulk_end(struct sl_audience *a)
{
    if (!a || !a->bulk)
        return;
    a->bulk = false;
    for (uint32_t i = 0; i < a->nusers; i++) {
        (void)aud_set_merge(&a->users[i].following);
        (void)aud_set_merge(&a->users[i].followers);
    }
    for (uint32_t i = 0; i < a->ncities; i++)
        (void)aud_set_merge(&a->cities[i].users);
    for (uint32_t i = 0; i < a->nints; i++)
        (void)aud_set_merge(&a->ints[i].named.users);
}

/* }===================================================================== */
