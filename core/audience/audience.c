/* SPDX-License-Identifier: MIT */
/* The in-memory audience: users, the follow graph, groups, related interests, waves, inboxes. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audience/audience.h"
#include "lib/grow.h"
#include "lib/id.h"
#include "lib/mix.h"
#include "lib/stats.h"

/* ====== Hashing and randomness ====== */

/* Seeded so that ids chosen by clients cannot be lined up to collide. */
static uint32_t hash_str(const char *s, size_t len, uint64_t seed)
{
    uint64_t h = seed ^ (0x9e3779b97f4a7c15ULL * (len + 1));
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ sl_mix64(w)) * 0x9fb21c651e98df25ULL;
    }
    uint64_t w = 0;
    memcpy(&w, s + i, len - i);
    h = sl_mix64(h ^ sl_mix64(w ^ len));
    return (uint32_t)(h ^ (h >> 32));
}

/* ====== Validation ====== */

/* An id (lib/id.h), its length in *lenp. */
static bool id_ok(const char *s, size_t *lenp)
{
    return (*lenp = sl_id_len(s)) > 0;
}

static bool city_ok(const char *s, size_t *lenp)
{
    size_t len = 0;

    for (; s[len]; len++)
        if (len >= SL_AUD_CITY_MAX || (unsigned char)s[len] < 0x20 || s[len] == 0x7f)
            return false;
    *lenp = len;
    return true;
}

/* ====== Strings: one arena, never freed piecemeal ====== */

/* Chunks double from 64 KiB to 8 MiB: small audiences stay small, big ones few chunks. */
#define ARENA_CHUNK_MIN (64u << 10)
#define ARENA_CHUNK_MAX (8u << 20)

struct chunk {
    struct chunk *next;
    char data[];
};

struct arena {
    struct chunk *head;
    char *p;
    size_t left;
    size_t next_size;
};

static const char *arena_dup(struct arena *ar, const char *s, size_t len)
{
    if (len + 1 > ar->left) {
        size_t sz = ar->next_size ? ar->next_size : ARENA_CHUNK_MIN;
        if (sz < len + 1)
            sz = len + 1;
        struct chunk *c = malloc(sizeof(*c) + sz);
        if (!c)
            return NULL;
        c->next = ar->head;
        ar->head = c;
        ar->p = c->data;
        ar->left = sz;
        ar->next_size = sz * 2 <= ARENA_CHUNK_MAX ? sz * 2 : ARENA_CHUNK_MAX;
    }
    char *r = ar->p;
    memcpy(r, s, len);
    r[len] = '\0';
    ar->p += len + 1;
    ar->left -= len + 1;
    return r;
}

static void arena_free(struct arena *ar)
{
    while (ar->head) {
        struct chunk *c = ar->head;
        ar->head = c->next;
        free(c);
    }
}

/* ====== A string -> index map: linear probing over (hash, index, key) slots ====== */

/* The key rides in the slot so a lookup touches the slot and the string only. */
struct slot {
    uint32_t hash;
    uint32_t val;           /* SL_AUD_NONE: empty */
    const char *key;        /* owned by the entry's record */
};

struct idmap {
    struct slot *slot;
    uint32_t mask;
    uint32_t n;
};

static uint32_t idmap_find(const struct idmap *m, const char *s, uint32_t h)
{
    if (!m->slot)
        return SL_AUD_NONE;
    for (uint32_t i = h & m->mask;; i = (i + 1) & m->mask) {
        const struct slot *sl = &m->slot[i];
        if (sl->val == SL_AUD_NONE)
            return SL_AUD_NONE;
        if (sl->hash == h && strcmp(sl->key, s) == 0)
            return sl->val;
    }
}

static void idmap_place(struct slot *slots, uint32_t mask, struct slot e)
{
    uint32_t i = e.hash & mask;
    while (slots[i].val != SL_AUD_NONE)
        i = (i + 1) & mask;
    slots[i] = e;
}

/* Add a key known to be absent; keeps the load under 3/4. */
static int idmap_put(struct idmap *m, uint32_t h, uint32_t val, const char *key)
{
    uint32_t cap = m->slot ? m->mask + 1 : 0;
    if ((uint64_t)(m->n + 1) * 4 > (uint64_t)cap * 3) {
        uint32_t ncap = cap ? cap * 2 : 16;
        if (ncap == 0)
            return -ENOMEM;
        struct slot *ns = malloc((size_t)ncap * sizeof(*ns));
        if (!ns)
            return -ENOMEM;
        for (uint32_t i = 0; i < ncap; i++)
            ns[i].val = SL_AUD_NONE;
        for (uint32_t i = 0; i < cap; i++)
            if (m->slot[i].val != SL_AUD_NONE)
                idmap_place(ns, ncap - 1, m->slot[i]);
        free(m->slot);
        m->slot = ns;
        m->mask = ncap - 1;
    }
    idmap_place(m->slot, m->mask, (struct slot){ h, val, key });
    m->n++;
    return 0;
}

/* Remove by value, shifting later entries of the run back (no tombstones). */
static void idmap_del(struct idmap *m, uint32_t h, uint32_t val)
{
    if (!m->slot)
        return;
    uint32_t i = h & m->mask;
    while (m->slot[i].val != val) {
        if (m->slot[i].val == SL_AUD_NONE)
            return;
        i = (i + 1) & m->mask;
    }
    for (uint32_t j = (i + 1) & m->mask; m->slot[j].val != SL_AUD_NONE; j = (j + 1) & m->mask) {
        uint32_t home = m->slot[j].hash & m->mask;
        /* j may move to i only if its home is not in (i, j] cyclically. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            m->slot[i] = m->slot[j];
            i = j;
        }
    }
    m->slot[i].val = SL_AUD_NONE;
    m->n--;
}

/* ====== Sets of user indices: a sorted run plus a short unsorted tail ====== */

struct idset {
    uint32_t *v;
    uint32_t n;
    uint32_t sorted;        /* v[0..sorted) ascending; v[sorted..n) in arrival order */
};

/* Capacity is a function of n, so it needs no field: 4, then powers of two. */
static uint32_t set_cap(uint32_t n)
{
    if (n == 0)
        return 0;
    if (n <= 4)
        return 4;
    uint32_t c = 8;
    while (c < n)
        c <<= 1;
    return c;
}

static uint32_t tail_max(uint32_t sorted)
{
    uint32_t r = 1;
    while ((uint64_t)r * r < sorted)
        r <<= 1;
    return 16 + r;
}

static int cmp_u32(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    return (a > b) - (a < b);
}

static bool set_has(const struct idset *s, uint32_t x)
{
    uint32_t lo = 0, hi = s->sorted;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->sorted && s->v[lo] == x)
        return true;
    for (uint32_t i = s->sorted; i < s->n; i++)
        if (s->v[i] == x)
            return true;
    return false;
}

/* Sort the tail and merge it into the run, dropping duplicates. */
static int set_merge(struct idset *s)
{
    uint32_t t = s->n - s->sorted;
    if (t == 0)
        return 0;
    uint32_t *tail = s->v + s->sorted;
    qsort(tail, t, sizeof(*tail), cmp_u32);
    if (s->sorted == 0 || s->v[s->sorted - 1] < tail[0]) {
        /* Common after bulk loading: the tail simply extends the run. */
    } else {
        uint32_t *tmp = malloc((size_t)t * sizeof(*tmp));
        if (!tmp)
            return -ENOMEM;
        memcpy(tmp, tail, (size_t)t * sizeof(*tmp));
        /* Backwards, so the run's entries move into the tail's room. */
        int64_t i = (int64_t)s->sorted - 1, j = (int64_t)t - 1, k = (int64_t)s->n - 1;
        while (j >= 0) {
            if (i >= 0 && s->v[i] > tmp[j])
                s->v[k--] = s->v[i--];
            else
                s->v[k--] = tmp[j--];
        }
        free(tmp);
    }
    uint32_t w = 0;
    for (uint32_t r = 0; r < s->n; r++)
        if (w == 0 || s->v[w - 1] != s->v[r])
            s->v[w++] = s->v[r];
    s->n = w;
    s->sorted = w;
    return 0;
}

/* 1 added, 0 already there (unless bulk, which trusts the caller), or -ENOMEM. */
static int set_add(struct idset *s, uint32_t x, bool bulk)
{
    if (!bulk && set_has(s, x))
        return 0;
    if (s->n == set_cap(s->n)) {
        if (s->n == UINT32_MAX / 2)
            return -ENOMEM;
        uint32_t *nv = realloc(s->v, (size_t)set_cap(s->n + 1) * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        s->v = nv;
    }
    s->v[s->n++] = x;
    /* A failed merge only leaves a longer tail: still a correct set. */
    if (!bulk && s->n - s->sorted > tail_max(s->sorted))
        (void)set_merge(s);
    return 1;
}

/* 1 removed, 0 absent. */
static int set_del(struct idset *s, uint32_t x)
{
    uint32_t lo = 0, hi = s->sorted, at = UINT32_MAX;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->sorted && s->v[lo] == x) {
        at = lo;
        s->sorted--;
    } else {
        for (uint32_t i = s->sorted; i < s->n; i++)
            if (s->v[i] == x) {
                at = i;
                break;
            }
    }
    if (at == UINT32_MAX)
        return 0;
    memmove(s->v + at, s->v + at + 1, (size_t)(s->n - at - 1) * sizeof(*s->v));
    if (--s->n == 0) {
        free(s->v);
        s->v = NULL;
    }
    return 1;
}

static void set_free(struct idset *s)
{
    free(s->v);
    *s = (struct idset){ 0 };
}

static struct sl_aud_list set_list(const struct idset *s)
{
    return (struct sl_aud_list){ s->v, s->n };
}

/* ====== Per-item offered sets: a hash set while small, then a bitmap ====== */

struct offered {
    uint32_t *slot;         /* user + 1; 0 empty */
    uint32_t mask;
    uint32_t n;
    uint64_t *bits;         /* once the hash set would outgrow it */
    uint32_t nwords;
};

static bool offered_has(const struct offered *o, uint32_t u)
{
    if (o->bits)
        return u / 64 < o->nwords && (o->bits[u / 64] >> (u % 64) & 1);
    if (!o->slot)
        return false;
    for (uint32_t i = (uint32_t)sl_mix64(u) & o->mask; o->slot[i]; i = (i + 1) & o->mask)
        if (o->slot[i] == u + 1)
            return true;
    return false;
}

static int offered_bits_set(struct offered *o, uint32_t u, uint32_t nusers)
{
    if (u / 64 >= o->nwords) {
        uint32_t nw = (nusers > u ? nusers : u + 1) / 64 + 1;
        uint64_t *nb = realloc(o->bits, (size_t)nw * sizeof(*nb));
        if (!nb)
            return -ENOMEM;
        memset(nb + o->nwords, 0, (size_t)(nw - o->nwords) * sizeof(*nb));
        o->bits = nb;
        o->nwords = nw;
    }
    o->bits[u / 64] |= 1ULL << (u % 64);
    return 0;
}

/* Add u (absent). nusers sizes the bitmap once it pays. */
static int offered_add(struct offered *o, uint32_t u, uint32_t nusers)
{
    if (o->bits) {
        int rc = offered_bits_set(o, u, nusers);
        if (rc == 0)
            o->n++;
        return rc;
    }
    uint32_t cap = o->slot ? o->mask + 1 : 0;
    if ((o->n + 1) * 2 > cap) {
        uint32_t ncap = cap ? cap * 2 : 64;
        if ((uint64_t)ncap * 4 >= (uint64_t)nusers / 8 + 8) {
            /* A bitmap over all users is now smaller than the table. */
            struct offered b = { 0 };
            for (uint32_t i = 0; i < cap; i++)
                if (o->slot[i] && offered_bits_set(&b, o->slot[i] - 1, nusers) < 0) {
                    free(b.bits);
                    return -ENOMEM;
                }
            if (offered_bits_set(&b, u, nusers) < 0) {
                free(b.bits);
                return -ENOMEM;
            }
            free(o->slot);
            b.n = o->n + 1;
            *o = b;
            return 0;
        }
        uint32_t *ns = calloc(ncap, sizeof(*ns));
        if (!ns)
            return -ENOMEM;
        for (uint32_t i = 0; i < cap; i++)
            if (o->slot[i]) {
                uint32_t j = (uint32_t)sl_mix64(o->slot[i] - 1) & (ncap - 1);
                while (ns[j])
                    j = (j + 1) & (ncap - 1);
                ns[j] = o->slot[i];
            }
        free(o->slot);
        o->slot = ns;
        o->mask = ncap - 1;
    }
    uint32_t i = (uint32_t)sl_mix64(u) & o->mask;
    while (o->slot[i])
        i = (i + 1) & o->mask;
    o->slot[i] = u + 1;
    o->n++;
    return 0;
}

static void offered_free(struct offered *o)
{
    free(o->slot);
    free(o->bits);
    *o = (struct offered){ 0 };
}

/* ====== The model ====== */

struct entry {
    uint32_t item;
    uint16_t wave;
    uint8_t source;
    uint8_t unused;
};

/* A ring of the newest entries; grows to inbox_max. */
struct inbox {
    uint16_t head;          /* oldest */
    uint16_t n;
    uint16_t cap;
    struct entry e[];
};

struct user {
    const char *id;         /* in the arena */
    uint32_t hash;
    uint32_t city;
    struct idset following;
    struct idset followers;
    union {
        uint32_t inl[4];    /* up to 4 interests in place ... */
        uint32_t *ptr;      /* ... more on the heap */
    } ints;
    uint8_t nints;
    bool creator;
    uint32_t exposure;
};

/* A city, and the part of an interest that is like a city: name_intern() makes both. */
struct named {
    const char *name;       /* in the arena */
    uint32_t hash;
    struct idset users;     /* who lives there, or has the interest */
};

struct interest {
    struct named named;     /* first, so interests are interned like cities */
    uint32_t e;             /* engagements with items tagged with it */
    uint32_t u;             /* engagements by users who have it */
    uint32_t pairs;         /* first pair (X = this) + 1; 0 none */
};

struct pair {
    uint32_t x, y;
    uint32_t count;
    uint32_t hnext;         /* next in hash bucket + 1 */
    uint32_t xnext;         /* next with the same x + 1 */
};

struct item {
    char *id;
    uint32_t hash;
    uint32_t creator;
    uint32_t city;          /* SL_AUD_NONE: the creator's */
    uint32_t refs;          /* inbox entries naming it */
    uint32_t picks;         /* salts the next pick's permutation */
    bool live;
    bool pending;           /* placed, not shown yet (kept by compaction) */
    bool released;
    struct offered offered;
};

struct sl_audience {
    struct sl_audience_conf conf;
    struct arena strings;
    bool bulk;
    sl_aud_group_source group_source;   /* groups the policy defines, or NULL */
    void *group_ctx;

    struct user *users;
    struct inbox **inboxes; /* by user, apart: waves touch only this (8 bytes a user) */
    uint32_t nusers;
    size_t users_cap;       /* of both users and inboxes */
    struct idmap user_map;

    struct named *cities;
    uint32_t ncities;
    size_t cities_cap;
    struct idmap city_map;

    struct interest *ints;
    uint32_t nints;
    size_t ints_cap;
    struct idmap int_map;

    struct pair *pairs;     /* pool of co-engagement pairs */
    uint32_t npairs;
    size_t pairs_cap;
    uint32_t *buckets;      /* pair index + 1 */
    uint32_t bucket_mask;

    struct item **items;    /* by handle; NULL slots are free */
    uint32_t nitems;
    size_t items_cap;       /* of both items and free_items */
    uint32_t *free_items;
    uint32_t nfree_items;
    struct idmap item_map;
    uint64_t dead_refs;     /* inbox entries of items not live */

    uint32_t grouped;       /* users covered by the last regroup */
    uint32_t *labels;       /* by user < grouped: circle label, a user index */
    uint32_t *group_start;  /* by label: first member in group_order; [grouped] = end */
    uint32_t *group_order;  /* users ordered by label */
    struct regroup *rg;     /* a regroup in progress, or NULL */

    uint32_t head_threshold;
    uint32_t *scratch;      /* picks of sl_audience_wave() with out == NULL */
    size_t scratch_cap;
};

void sl_audience_conf_default(struct sl_audience_conf *conf)
{
    *conf = (struct sl_audience_conf){
        .seed = 1,
        .inbox_max = 200,
        .related_max_pairs = 1u << 20,
        .related_min_count = 3,
        .group_rounds = 10,
    };
}

struct sl_audience *sl_audience_new(const struct sl_audience_conf *conf)
{
    struct sl_audience_conf c;

    if (conf)
        c = *conf;
    else
        sl_audience_conf_default(&c);
    if (c.inbox_max < 1 || c.inbox_max > SL_AUD_INBOX_MAX || c.related_max_pairs < 1 ||
        c.related_max_pairs > (1u << 30))
        return NULL;
    struct sl_audience *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->conf = c;
    a->head_threshold = UINT32_MAX;
    return a;
}

static void inbox_unref(struct sl_audience *a, uint32_t h);
static void regroup_drop(struct sl_audience *a);

static void item_destroy(struct sl_audience *a, uint32_t h)
{
    struct item *it = a->items[h];

    idmap_del(&a->item_map, it->hash, h);
    offered_free(&it->offered);
    free(it->id);
    free(it);
    a->items[h] = NULL;
    a->free_items[a->nfree_items++] = h;
}

void sl_audience_free(struct sl_audience *a)
{
    if (!a)
        return;
    for (uint32_t i = 0; i < a->nusers; i++) {
        struct user *u = &a->users[i];
        set_free(&u->following);
        set_free(&u->followers);
        if (u->nints > 4)
            free(u->ints.ptr);
        free(a->inboxes[i]);
    }
    for (uint32_t i = 0; i < a->ncities; i++)
        set_free(&a->cities[i].users);
    for (uint32_t i = 0; i < a->nints; i++)
        set_free(&a->ints[i].named.users);
    for (uint32_t i = 0; i < a->nitems; i++)
        if (a->items[i]) {
            offered_free(&a->items[i]->offered);
            free(a->items[i]->id);
            free(a->items[i]);
        }
    free(a->users);
    free(a->inboxes);
    free(a->user_map.slot);
    free(a->cities);
    free(a->city_map.slot);
    free(a->ints);
    free(a->int_map.slot);
    free(a->pairs);
    free(a->buckets);
    free(a->items);
    free(a->free_items);
    free(a->item_map.slot);
    free(a->labels);
    free(a->group_start);
    free(a->group_order);
    regroup_drop(a);
    free(a->scratch);
    arena_free(&a->strings);
    free(a);
}

/* ====== Users ====== */

static uint32_t user_lookup(const struct sl_audience *a, const char *id, size_t len)
{
    uint32_t h = hash_str(id, len, a->conf.seed);
    return idmap_find(&a->user_map, id, h);
}

/* Index of a valid id, created if new: 0 or -ENOMEM. */
static int user_intern(struct sl_audience *a, const char *id, size_t len, uint32_t *idx)
{
    uint32_t h = hash_str(id, len, a->conf.seed);
    uint32_t v = idmap_find(&a->user_map, id, h);

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
        a->users_cap = cap;
    }
    const char *name = arena_dup(&a->strings, id, len);
    if (!name || idmap_put(&a->user_map, h, a->nusers, name) < 0)
        return -ENOMEM;     /* an orphan string in the arena at worst */
    a->users[a->nusers] = (struct user){
        .id = name, .hash = h, .city = SL_AUD_NONE,
    };
    a->inboxes[a->nusers] = NULL;
    *idx = a->nusers++;
    return 0;
}

int sl_audience_user_add(struct sl_audience *a, const char *id, uint32_t *idx)
{
    size_t len;

    if (!a || !idx || !id_ok(id, &len))
        return -EINVAL;
    return user_intern(a, id, len, idx);
}

int sl_audience_user_find(const struct sl_audience *a, const char *id, uint32_t *idx)
{
    size_t len;

    if (!a || !idx || !id_ok(id, &len))
        return -EINVAL;
    uint32_t v = user_lookup(a, id, len);
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

static const uint32_t *user_ints(const struct user *u)
{
    return u->nints > 4 ? u->ints.ptr : u->ints.inl;
}

/*
 * Index of a city or interest name, created if new: the table is map and
 * recs[0..*n) of *cap, records of `size` bytes that begin with a struct
 * named (the rest starts zero).
 */
static int name_intern(struct sl_audience *a, struct idmap *map, void **recs, size_t *cap,
                       uint32_t *n, size_t size, const char *name, size_t len, uint32_t *idx)
{
    uint32_t h = hash_str(name, len, a->conf.seed);
    uint32_t v = idmap_find(map, name, h);

    if (v == SL_AUD_NONE) {
        /* SL_AUD_NONE must stay free to mean "none". */
        if (*n >= SL_AUD_NONE - 1 || sl_grow(recs, cap, (size_t)*n + 1, size) < 0)
            return -ENOMEM;
        const char *s = arena_dup(&a->strings, name, len);
        if (!s || idmap_put(map, h, *n, s) < 0)
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

static int city_intern(struct sl_audience *a, const char *name, size_t len, uint32_t *idx)
{
    return name_intern(a, &a->city_map, (void **)&a->cities, &a->cities_cap, &a->ncities,
                       sizeof(*a->cities), name, len, idx);
}

static int interest_intern(struct sl_audience *a, const char *name, size_t len, uint32_t *idx)
{
    return name_intern(a, &a->int_map, (void **)&a->ints, &a->ints_cap, &a->nints,
                       sizeof(*a->ints), name, len, idx);
}

static uint32_t name_lookup(const struct sl_audience *a, const struct idmap *map,
                            const char *name)
{
    return idmap_find(map, name, hash_str(name, strlen(name), a->conf.seed));
}

static int set_city(struct sl_audience *a, uint32_t ui, const char *city, size_t len)
{
    uint32_t c = SL_AUD_NONE;
    int rc;

    if (len > 0 && (rc = city_intern(a, city, len, &c)) < 0)
        return rc;
    struct user *u = &a->users[ui];
    if (c == u->city)
        return 0;
    if (c != SL_AUD_NONE && (rc = set_add(&a->cities[c].users, ui, a->bulk)) < 0)
        return rc;
    if (u->city != SL_AUD_NONE)
        set_del(&a->cities[u->city].users, ui);
    u->city = c;
    return 0;
}

static bool has_u32(const uint32_t *v, size_t n, uint32_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

static int set_interests(struct sl_audience *a, uint32_t ui, const char *const *names, size_t n)
{
    uint32_t want[SL_AUD_INTERESTS_MAX];
    size_t nw = 0, added = 0;
    int rc;

    for (size_t i = 0; i < n; i++) {
        uint32_t x;
        if ((rc = interest_intern(a, names[i], strlen(names[i]), &x)) < 0)
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
            set_add(&a->ints[want[added]].named.users, ui, a->bulk) < 0)
            break;
    if (added < nw) {       /* undo, so a failure changes nothing */
        for (size_t i = 0; i < added; i++)
            if (!has_u32(old, u->nints, want[i]))
                set_del(&a->ints[want[i]].named.users, ui);
        free(heap);
        return -ENOMEM;
    }
    for (size_t i = 0; i < u->nints; i++)
        if (!has_u32(want, nw, old[i]))
            set_del(&a->ints[old[i]].named.users, ui);
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

int sl_audience_user_set(struct sl_audience *a, const char *id, const char *city,
                         const char *const *interests, size_t n)
{
    size_t len, clen = 0;
    uint32_t ui;
    int rc;

    if (!a || !id_ok(id, &len) || (city && !city_ok(city, &clen)))
        return -EINVAL;
    if (interests) {
        if (n > SL_AUD_INTERESTS_MAX)
            return -EINVAL;
        for (size_t i = 0; i < n; i++) {
            size_t ilen;
            if (!id_ok(interests[i], &ilen))
                return -EINVAL;
        }
    }
    if ((rc = user_intern(a, id, len, &ui)) < 0)
        return rc;
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

/* ====== The follow graph ====== */

int sl_audience_follow(struct sl_audience *a, const char *follower, const char *creator, bool on)
{
    size_t flen, clen;
    uint32_t f, c;
    int rc;

    if (!a || !id_ok(follower, &flen) || !id_ok(creator, &clen) || strcmp(follower, creator) == 0)
        return -EINVAL;
    if (!on) {
        f = user_lookup(a, follower, flen);
        c = user_lookup(a, creator, clen);
        if (f == SL_AUD_NONE || c == SL_AUD_NONE)
            return 0;
        set_del(&a->users[f].following, c);
        set_del(&a->users[c].followers, f);
        return 0;
    }
    if ((rc = user_intern(a, follower, flen, &f)) < 0 ||
        (rc = user_intern(a, creator, clen, &c)) < 0)
        return rc;
    if ((rc = set_add(&a->users[f].following, c, a->bulk)) < 0)
        return rc;
    if (rc == 0)
        return 0;           /* already following */
    if ((rc = set_add(&a->users[c].followers, f, a->bulk)) < 0) {
        set_del(&a->users[f].following, c);
        return rc;
    }
    return 0;
}

bool sl_audience_follows(const struct sl_audience *a, uint32_t follower, uint32_t creator)
{
    if (!a || follower >= a->nusers || creator >= a->nusers)
        return false;
    const struct idset *fs = &a->users[follower].following, *cs = &a->users[creator].followers;
    return fs->n <= cs->n ? set_has(fs, creator) : set_has(cs, follower);
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
    return set_list(&a->users[idx].followers);
}

struct sl_aud_list sl_audience_following(const struct sl_audience *a, uint32_t idx)
{
    if (!a || idx >= a->nusers)
        return (struct sl_aud_list){ NULL, 0 };
    return set_list(&a->users[idx].following);
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
        (void)set_merge(&a->users[i].following);
        (void)set_merge(&a->users[i].followers);
    }
    for (uint32_t i = 0; i < a->ncities; i++)
        (void)set_merge(&a->cities[i].users);
    for (uint32_t i = 0; i < a->nints; i++)
        (void)set_merge(&a->ints[i].named.users);
}

/* ====== Cities and interests ====== */

struct sl_aud_list sl_audience_city_users(const struct sl_audience *a, const char *city)
{
    uint32_t c = a && city ? name_lookup(a, &a->city_map, city) : SL_AUD_NONE;
    if (c == SL_AUD_NONE)
        return (struct sl_aud_list){ NULL, 0 };
    return set_list(&a->cities[c].users);
}

struct sl_aud_list sl_audience_interest_users(const struct sl_audience *a, const char *interest)
{
    uint32_t x = a && interest ? name_lookup(a, &a->int_map, interest) : SL_AUD_NONE;
    if (x == SL_AUD_NONE)
        return (struct sl_aud_list){ NULL, 0 };
    return set_list(&a->ints[x].named.users);
}

/* ====== Groups ====== */

/*
 * Label propagation runs in slices so that a big graph never stalls the
 * event loop: the work happens on private arrays over the users that existed
 * when it began, and is published at once when it ends.
 */
struct regroup {
    uint32_t n;             /* users taken into account */
    uint32_t *label;        /* working labels: dense, so neighbours' labels stay in cache */
    float *weight;          /* each user's vote, from its degree when the run began */
    uint32_t *order;        /* this round's visiting order */
    float *votes;           /* weight per label, all zero between visits */
    uint32_t *counts;       /* members per label, when publishing */
    uint32_t *touched;      /* labels with votes */
    uint32_t round, pos, changed;
    uint64_t rng, tie_key;
};

static void regroup_drop(struct sl_audience *a)
{
    struct regroup *rg = a->rg;
    if (!rg)
        return;
    free(rg->label);
    free(rg->weight);
    free(rg->order);
    free(rg->votes);
    free(rg->counts);
    free(rg->touched);
    free(rg);
    a->rg = NULL;
}

static void shuffle(struct regroup *rg)
{
    for (uint32_t i = rg->n; i > 1; i--) {
        uint32_t j = (uint32_t)(sl_splitmix64(&rg->rng) % i);
        uint32_t t = rg->order[i - 1];
        rg->order[i - 1] = rg->order[j];
        rg->order[j] = t;
    }
}

static int regroup_begin(struct sl_audience *a)
{
    struct regroup *rg = calloc(1, sizeof(*rg));
    if (!rg)
        return -ENOMEM;
    a->rg = rg;
    rg->n = a->nusers;
    size_t sz = ((size_t)rg->n + 1) * sizeof(uint32_t);
    rg->label = malloc(sz);
    rg->order = malloc(sz);
    rg->weight = malloc(((size_t)rg->n + 1) * sizeof(*rg->weight));
    rg->votes = calloc((size_t)rg->n + 1, sizeof(*rg->votes));
    rg->counts = calloc(1, sz);
    rg->touched = malloc(sz);
    if (!rg->label || !rg->weight || !rg->order || !rg->votes || !rg->counts || !rg->touched) {
        regroup_drop(a);
        return -ENOMEM;
    }
    rg->rng = a->conf.seed ^ 0x6c62272e07bb0142ULL;
    rg->tie_key = sl_splitmix64(&rg->rng);
    for (uint32_t i = 0; i < rg->n; i++) {
        const struct user *u = &a->users[i];
        rg->label[i] = rg->order[i] = i;
        rg->weight[i] = 1.0f / (1.0f + (float)u->followers.n + (float)u->following.n);
    }
    shuffle(rg);
    return 0;
}

/*
 * Votes of one neighbour set; users newer than the run have no label. A
 * neighbour's vote weighs 1 / (1 + its degree): following a celebrity says
 * little about whose circle one is in, a follow among a few says much.
 * Without it, label propagation over a follow graph with hubs collapses
 * into one circle holding nearly everyone.
 */
static size_t count_labels(struct regroup *rg, const struct idset *s, uint32_t *nt)
{
    for (uint32_t i = 0; i < s->n; i++) {
        uint32_t w = s->v[i];
        if (w >= rg->n)
            continue;
        uint32_t l = rg->label[w];
        if (rg->votes[l] == 0)
            rg->touched[(*nt)++] = l;
        rg->votes[l] += rg->weight[w];
    }
    return s->n;
}

/* One user takes the label with the most votes among its neighbours. */
static size_t visit(struct sl_audience *a, struct regroup *rg, uint32_t v)
{
    const struct user *u = &a->users[v];
    uint32_t nt = 0;
    size_t work = 1 + count_labels(rg, &u->followers, &nt) + count_labels(rg, &u->following, &nt);
    uint32_t cur = rg->label[v], best = cur;
    float best_n = rg->votes[cur];
    uint64_t best_key = sl_mix64(cur ^ rg->tie_key);

    for (uint32_t t = 0; t < nt; t++) {
        uint32_t l = rg->touched[t];
        float c = rg->votes[l];
        uint64_t key = sl_mix64(l ^ rg->tie_key);
        rg->votes[l] = 0;
        /* The current label wins ties; otherwise the least keyed label. */
        if (c > best_n || (c == best_n && best != cur && key < best_key)) {
            best = l;
            best_n = c;
            best_key = key;
        }
    }
    if (best != cur) {
        rg->label[v] = best;
        rg->changed++;
    }
    return work;
}

/* Members by label (a counting sort), then swap the result in. */
static int regroup_publish(struct sl_audience *a)
{
    struct regroup *rg = a->rg;
    uint32_t n = rg->n;
    uint32_t *start = calloc((size_t)n + 1, sizeof(*start));
    uint32_t *members = malloc(((size_t)n + 1) * sizeof(*members));

    if (!start || !members) {
        free(start);
        free(members);
        regroup_drop(a);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++)
        start[rg->label[i]]++;
    uint32_t sum = 0;
    for (uint32_t l = 0; l < n; l++) {
        uint32_t c = start[l];
        start[l] = sum;
        sum += c;
    }
    start[n] = sum;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t l = rg->label[i];
        members[start[l] + rg->counts[l]++] = i;
    }
    free(a->labels);
    free(a->group_start);
    free(a->group_order);
    a->labels = rg->label;
    rg->label = NULL;
    a->group_start = start;
    a->group_order = members;
    a->grouped = n;
    regroup_drop(a);
    return 0;
}

int sl_audience_regroup_step(struct sl_audience *a, size_t budget, bool *done)
{
    int rc;

    if (!a)
        return -EINVAL;
    if (done)
        *done = false;
    if (!a->rg && (rc = regroup_begin(a)) < 0)
        return rc;
    struct regroup *rg = a->rg;
    size_t work = 0;
    while (work < budget) {
        if (rg->pos == rg->n) {
            rg->round++;
            if (rg->changed == 0 || rg->round >= a->conf.group_rounds) {
                if ((rc = regroup_publish(a)) < 0)
                    return rc;
                if (done)
                    *done = true;
                return 0;
            }
            rg->pos = 0;
            rg->changed = 0;
            shuffle(rg);
            work += rg->n / 16;     /* the shuffle is work too */
            continue;
        }
        work += visit(a, rg, rg->order[rg->pos++]);
    }
    return 0;
}

int sl_audience_regroup(struct sl_audience *a)
{
    bool done = false;
    int rc;

    if (!a)
        return -EINVAL;
    regroup_drop(a);        /* start afresh from the graph as it is now */
    while (!done)
        if ((rc = sl_audience_regroup_step(a, SIZE_MAX, &done)) < 0)
            return rc;
    return 0;
}

static int circle_name(const struct sl_audience *a, uint32_t label, char *buf, size_t size)
{
    const char *id = a->users[label].id;
    size_t len = strlen(id);
    if (len + 8 > size)
        return -ENOSPC;
    memcpy(buf, "circle:", 7);
    memcpy(buf + 7, id, len + 1);
    return 0;
}

int sl_audience_groups(const struct sl_audience *a, uint32_t idx, sl_aud_name_fn fn, void *ctx)
{
    char name[16 + SL_AUD_ID_MAX];
    int rc;

    if (!a || !fn)
        return -EINVAL;
    if (idx >= a->nusers)
        return -ENOENT;
    const struct user *u = &a->users[idx];
    if (idx < a->grouped) {
        if ((rc = circle_name(a, a->labels[idx], name, sizeof(name))) < 0)
            return rc;
        if ((rc = fn(ctx, name)) != 0)
            return rc;
    }
    const uint32_t *v = user_ints(u);
    for (uint32_t i = 0; i < u->nints; i++) {
        const char *in = a->ints[v[i]].named.name;
        size_t len = strlen(in);
        memcpy(name, "interest:", 9);
        memcpy(name + 9, in, len + 1);
        if ((rc = fn(ctx, name)) != 0)
            return rc;
    }
    return 0;
}

int sl_audience_group_members(const struct sl_audience *a, const char *group,
                              struct sl_aud_list *out)
{
    if (!a || !group || !out)
        return -EINVAL;
    *out = (struct sl_aud_list){ NULL, 0 };
    if (strncmp(group, "interest:", 9) == 0) {
        *out = sl_audience_interest_users(a, group + 9);
        return 0;
    }
    if (strncmp(group, "circle:", 7) != 0)
        return a->group_source ? a->group_source(a->group_ctx, group, out) : -EINVAL;
    size_t len;
    if (!id_ok(group + 7, &len))
        return 0;
    uint32_t l = user_lookup(a, group + 7, len);
    if (l == SL_AUD_NONE || l >= a->grouped)
        return 0;
    out->v = a->group_order + a->group_start[l];
    out->n = a->group_start[l + 1] - a->group_start[l];
    return 0;
}

void sl_audience_set_group_source(struct sl_audience *a, sl_aud_group_source fn, void *ctx)
{
    a->group_source = fn;
    a->group_ctx = ctx;
}

/* ====== Related interests ====== */

static uint32_t pair_bucket(const struct sl_audience *a, uint32_t x, uint32_t y)
{
    return (uint32_t)sl_mix64(((uint64_t)x << 32 | y) ^ a->conf.seed) & a->bucket_mask;
}

/* Rebuild the bucket and per-x chains over pairs[0..npairs). */
static void pairs_relink(struct sl_audience *a)
{
    memset(a->buckets, 0, ((size_t)a->bucket_mask + 1) * sizeof(*a->buckets));
    for (uint32_t i = 0; i < a->nints; i++)
        a->ints[i].pairs = 0;
    for (uint32_t i = 0; i < a->npairs; i++) {
        struct pair *p = &a->pairs[i];
        uint32_t b = pair_bucket(a, p->x, p->y);
        p->hnext = a->buckets[b];
        a->buckets[b] = i + 1;
        p->xnext = a->ints[p->x].pairs;
        a->ints[p->x].pairs = i + 1;
    }
}

/* Halve every count and drop pairs that reach 0: bounded memory, fading tastes. */
static void pairs_decay(struct sl_audience *a)
{
    uint32_t w = 0;
    for (uint32_t i = 0; i < a->npairs; i++) {
        struct pair p = a->pairs[i];
        p.count >>= 1;
        if (p.count)
            a->pairs[w++] = p;
    }
    a->npairs = w;
    for (uint32_t i = 0; i < a->nints; i++) {
        a->ints[i].e >>= 1;
        a->ints[i].u >>= 1;
    }
    pairs_relink(a);
}

static struct pair *pair_find(const struct sl_audience *a, uint32_t x, uint32_t y)
{
    for (uint32_t i = a->buckets[pair_bucket(a, x, y)]; i; i = a->pairs[i - 1].hnext)
        if (a->pairs[i - 1].x == x && a->pairs[i - 1].y == y)
            return &a->pairs[i - 1];
    return NULL;
}

/* Count (x, y) once; may decay first to make room. */
static int pair_bump(struct sl_audience *a, uint32_t x, uint32_t y)
{
    struct pair *p = pair_find(a, x, y);

    if (p) {
        p->count++;
        return 0;
    }
    while (a->npairs >= a->conf.related_max_pairs)
        pairs_decay(a);
    if (sl_grow((void **)&a->pairs, &a->pairs_cap, (size_t)a->npairs + 1, sizeof(*a->pairs)) < 0)
        return -ENOMEM;
    uint32_t b = pair_bucket(a, x, y);
    a->pairs[a->npairs] = (struct pair){
        .x = x, .y = y, .count = 1, .hnext = a->buckets[b], .xnext = a->ints[x].pairs,
    };
    a->npairs++;
    a->buckets[b] = a->npairs;
    a->ints[x].pairs = a->npairs;
    return 0;
}

int sl_audience_engage(struct sl_audience *a, uint32_t user,
                       const char *const *interests, size_t n)
{
    uint32_t xs[SL_AUD_INTERESTS_MAX];
    size_t nx = 0, len;
    int rc;

    if (!a || user >= a->nusers || n > SL_AUD_INTERESTS_MAX || (n && !interests))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!id_ok(interests[i], &len))
            return -EINVAL;
    if (!a->buckets) {
        uint32_t cap = 16;
        while (cap < a->conf.related_max_pairs)
            cap <<= 1;
        if (!(a->buckets = calloc(cap, sizeof(*a->buckets))))
            return -ENOMEM;
        a->bucket_mask = cap - 1;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t x;
        if ((rc = interest_intern(a, interests[i], strlen(interests[i]), &x)) < 0)
            return rc;
        if (!has_u32(xs, nx, x))
            xs[nx++] = x;
    }
    const struct user *u = &a->users[user];
    uint32_t ys[SL_AUD_INTERESTS_MAX];
    size_t ny = u->nints;
    memcpy(ys, user_ints(u), ny * sizeof(*ys));

    /* Keep counts far from wrapping: halve everything in good time. */
    for (size_t i = 0; i < nx; i++)
        if (a->ints[xs[i]].e >= UINT32_MAX / 2)
            pairs_decay(a);
    for (size_t i = 0; i < ny; i++)
        if (a->ints[ys[i]].u >= UINT32_MAX / 2)
            pairs_decay(a);
    for (size_t i = 0; i < nx; i++)
        for (size_t j = 0; j < ny; j++)
            if (xs[i] != ys[j] && (rc = pair_bump(a, xs[i], ys[j])) < 0)
                return rc;
    for (size_t i = 0; i < nx; i++)
        a->ints[xs[i]].e++;
    for (size_t i = 0; i < ny; i++)
        a->ints[ys[i]].u++;
    return 0;
}

static bool related_before(const struct sl_aud_related *p, const struct sl_aud_related *q)
{
    if (p->score != q->score)
        return p->score > q->score;
    if (p->count != q->count)
        return p->count > q->count;
    return strcmp(p->interest, q->interest) < 0;
}

size_t sl_audience_related(const struct sl_audience *a, const char *interest,
                           struct sl_aud_related *out, size_t max)
{
    size_t got = 0;

    if (!a || !interest || !out || max == 0 || !a->buckets)
        return 0;
    uint32_t x = name_lookup(a, &a->int_map, interest);
    if (x == SL_AUD_NONE)
        return 0;
    uint32_t min = a->conf.related_min_count ? a->conf.related_min_count : 1;
    for (uint32_t i = a->ints[x].pairs; i; i = a->pairs[i - 1].xnext) {
        const struct pair *p = &a->pairs[i - 1];
        if (p->count < min)
            continue;
        double denom = (double)a->ints[x].e + (double)a->ints[p->y].u - (double)p->count;
        struct sl_aud_related r = {
            .interest = a->ints[p->y].named.name,
            .score = denom > 0 ? (double)p->count / denom : 1.0,
            .count = p->count,
        };
        /* Keep the best max, sorted: insertion from the end. */
        size_t k = got < max ? got++ : max;
        while (k > 0 && related_before(&r, &out[k - 1])) {
            if (k < max)
                out[k] = out[k - 1];
            k--;
        }
        if (k < max)
            out[k] = r;
    }
    return got;
}

size_t sl_audience_related_pairs(const struct sl_audience *a)
{
    return a ? a->npairs : 0;
}

/* ====== Items ====== */

static struct item *item_get(const struct sl_audience *a, uint32_t h)
{
    return a && h < a->nitems ? a->items[h] : NULL;
}

int sl_audience_item_new(struct sl_audience *a, const char *id, const char *creator,
                         const char *city, uint32_t *h)
{
    size_t len, clen, tlen = 0;
    uint32_t c, t = SL_AUD_NONE;
    int rc;

    if (!a || !h || !id_ok(id, &len) || !id_ok(creator, &clen) || (city && !city_ok(city, &tlen)))
        return -EINVAL;
    uint32_t hash = hash_str(id, len, a->conf.seed);
    uint32_t old = idmap_find(&a->item_map, id, hash);
    if (old != SL_AUD_NONE && !a->items[old]->released) {
        *h = old;
        return -EEXIST;
    }
    if (old != SL_AUD_NONE) {
        /* Released and approved again: the id gets a new handle, and the
         * old one lives on apart, not live, while entries name it. Its
         * entries, and its offered set, stay with it. */
        sl_audience_item_set_live(a, old, false);
        idmap_del(&a->item_map, hash, old);
    }
    if ((rc = user_intern(a, creator, clen, &c)) < 0)
        return rc;
    if (tlen > 0 && (rc = city_intern(a, city, tlen, &t)) < 0)
        return rc;

    uint32_t slot;
    if (a->nfree_items > 0) {
        slot = a->free_items[a->nfree_items - 1];
    } else {
        if (a->nitems >= SL_AUD_NONE - 1)
            return -ENOMEM;
        size_t cap = a->items_cap;
        if (sl_grow((void **)&a->items, &cap, (size_t)a->nitems + 1, sizeof(*a->items)) < 0)
            return -ENOMEM;
        if (cap != a->items_cap) {
            uint32_t *nf = realloc(a->free_items, cap * sizeof(*nf));
            if (!nf)
                return -ENOMEM;
            a->free_items = nf;
            a->items_cap = cap;
        }
        slot = a->nitems;
    }
    struct item *it = calloc(1, sizeof(*it));
    char *copy = malloc(len + 1);
    if (copy)
        memcpy(copy, id, len + 1);
    if (!it || !copy || idmap_put(&a->item_map, hash, slot, copy) < 0) {
        free(it);
        free(copy);
        return -ENOMEM;
    }
    *it = (struct item){ .id = copy, .hash = hash, .creator = c, .city = t, .live = true };
    if (slot == a->nitems)
        a->nitems++;
    else
        a->nfree_items--;
    a->items[slot] = it;
    a->users[c].creator = true;
    *h = slot;
    return 0;
}

int sl_audience_item_find(const struct sl_audience *a, const char *id, uint32_t *h)
{
    size_t len;

    if (!a || !h || !id_ok(id, &len))
        return -EINVAL;
    uint32_t v = idmap_find(&a->item_map, id, hash_str(id, len, a->conf.seed));
    if (v == SL_AUD_NONE)
        return -ENOENT;
    *h = v;
    return 0;
}

const char *sl_audience_item_id(const struct sl_audience *a, uint32_t h)
{
    const struct item *it = item_get(a, h);
    return it ? it->id : NULL;
}

uint32_t sl_audience_item_creator(const struct sl_audience *a, uint32_t h)
{
    const struct item *it = item_get(a, h);
    return it ? it->creator : SL_AUD_NONE;
}

int sl_audience_item_set_live(struct sl_audience *a, uint32_t h, bool live)
{
    struct item *it = item_get(a, h);

    if (!it)
        return -ENOENT;
    if (it->live != live) {
        if (live)
            a->dead_refs -= it->refs;
        else
            a->dead_refs += it->refs;
        it->live = live;
    }
    return 0;
}

int sl_audience_item_set_pending(struct sl_audience *a, uint32_t h, bool pending)
{
    struct item *it = item_get(a, h);

    if (!it)
        return -ENOENT;
    it->pending = pending;
    return 0;
}

int sl_audience_item_release(struct sl_audience *a, uint32_t h)
{
    struct item *it = item_get(a, h);

    if (!it)
        return -ENOENT;
    if (it->released)
        return 0;
    it->released = true;
    offered_free(&it->offered);
    if (it->refs == 0)
        item_destroy(a, h);
    return 0;
}

bool sl_audience_item_offered(const struct sl_audience *a, uint32_t h, uint32_t user)
{
    const struct item *it = item_get(a, h);
    return it && offered_has(&it->offered, user);
}

size_t sl_audience_item_offered_count(const struct sl_audience *a, uint32_t h)
{
    const struct item *it = item_get(a, h);
    return it ? it->offered.n : 0;
}

/* ====== Inboxes ====== */

static void inbox_unref(struct sl_audience *a, uint32_t h)
{
    struct item *it = a->items[h];

    it->refs--;
    if (!it->live)
        a->dead_refs--;
    if (it->released && it->refs == 0)
        item_destroy(a, h);
}

/* Drop entries of items that are not live, keeping the order of the rest. */
static void inbox_compact(struct sl_audience *a, struct inbox *ib)
{
    uint16_t w = 0;
    for (uint16_t k = 0; k < ib->n; k++) {
        struct entry e = ib->e[(ib->head + k) % ib->cap];
        if (a->items[e.item]->live)
            ib->e[(ib->head + w++) % ib->cap] = e;
        else
            inbox_unref(a, e.item);
    }
    ib->n = w;
}

static int inbox_push(struct sl_audience *a, uint32_t u, struct entry e)
{
    struct inbox *ib = a->inboxes[u];
    uint32_t max = a->conf.inbox_max;

    if (!ib || (ib->n == ib->cap && ib->cap < max)) {
        uint32_t ncap = ib ? ib->cap * 2u : 4u;
        if (ncap > max)
            ncap = max;
        struct inbox *nb = malloc(sizeof(*nb) + ncap * sizeof(nb->e[0]));
        if (!nb)
            return -ENOMEM;
        *nb = (struct inbox){ .head = 0, .n = 0, .cap = (uint16_t)ncap };
        if (ib) {
            for (uint16_t k = 0; k < ib->n; k++)
                nb->e[k] = ib->e[(ib->head + k) % ib->cap];
            nb->n = ib->n;
            free(ib);
        }
        a->inboxes[u] = ib = nb;
    } else if (ib->n == ib->cap) {
        if (a->dead_refs > 0)
            inbox_compact(a, ib);
        if (ib->n == ib->cap) {
            /* Full of live entries: the oldest goes. */
            struct entry old = ib->e[ib->head];
            ib->head = (uint16_t)((ib->head + 1) % ib->cap);
            ib->n--;
            inbox_unref(a, old.item);
        }
    }
    ib->e[(ib->head + ib->n) % ib->cap] = e;
    ib->n++;
    a->items[e.item]->refs++;
    return 0;
}

size_t sl_audience_inbox_read(struct sl_audience *a, uint32_t user,
                              struct sl_aud_entry *out, size_t max)
{
    if (!a || user >= a->nusers || !a->inboxes[user] || (max && !out))
        return 0;
    struct inbox *ib = a->inboxes[user];
    if (a->dead_refs > 0)
        inbox_compact(a, ib);
    size_t got = 0;
    for (uint16_t k = ib->n; k > 0 && got < max; k--) {
        struct entry e = ib->e[(ib->head + k - 1) % ib->cap];
        const struct item *it = a->items[e.item];
        if (it->pending)
            continue;
        out[got++] = (struct sl_aud_entry){
            .item = e.item, .item_id = it->id, .creator = it->creator,
            .wave = e.wave, .source = (enum sl_aud_source)e.source,
        };
    }
    return got;
}

int sl_audience_inbox_remove(struct sl_audience *a, uint32_t user, uint32_t h)
{
    if (!a || user >= a->nusers || !a->inboxes[user])
        return -ENOENT;
    struct inbox *ib = a->inboxes[user];
    for (uint16_t k = 0; k < ib->n; k++) {
        if (ib->e[(ib->head + k) % ib->cap].item != h)
            continue;
        for (uint16_t m = k; m + 1 < ib->n; m++)
            ib->e[(ib->head + m) % ib->cap] = ib->e[(ib->head + m + 1) % ib->cap];
        ib->n--;
        inbox_unref(a, h);
        return 0;
    }
    return -ENOENT;
}

/* ====== Picks and waves ====== */

const char *sl_audience_source_name(enum sl_aud_source source)
{
    switch (source) {
    case SL_AUD_FOLLOWERS: return "followers";
    case SL_AUD_NEARBY: return "nearby";
    case SL_AUD_INTEREST: return "interest";
    case SL_AUD_GROUP: return "group";
    case SL_AUD_EVERYONE: return "everyone";
    }
    return NULL;
}

/* Who an audience names: a list, or every user when `everyone`. */
struct crowd {
    struct sl_aud_list list;
    bool everyone;
    enum sl_aud_source source;
};

static int resolve(const struct sl_audience *a, const struct item *it, const char *spec,
                   struct crowd *cr)
{
    size_t len;

    *cr = (struct crowd){ .list = { NULL, 0 } };
    if (!spec)
        return -EINVAL;
    if (strcmp(spec, "followers") == 0) {
        cr->source = SL_AUD_FOLLOWERS;
        cr->list = set_list(&a->users[it->creator].followers);
    } else if (strcmp(spec, "nearby") == 0) {
        uint32_t c = it->city != SL_AUD_NONE ? it->city : a->users[it->creator].city;
        cr->source = SL_AUD_NEARBY;
        if (c != SL_AUD_NONE)
            cr->list = set_list(&a->cities[c].users);
    } else if (strcmp(spec, "everyone") == 0) {
        cr->source = SL_AUD_EVERYONE;
        cr->everyone = true;
        cr->list.n = a->nusers;
    } else if (strncmp(spec, "interest:", 9) == 0) {
        if (!id_ok(spec + 9, &len))
            return -EINVAL;
        cr->source = SL_AUD_INTEREST;
        cr->list = sl_audience_interest_users(a, spec + 9);
    } else if (strncmp(spec, "group:", 6) == 0) {
        cr->source = SL_AUD_GROUP;
        return sl_audience_group_members(a, spec + 6, &cr->list);
    } else {
        return -EINVAL;
    }
    return 0;
}

/*
 * A pseudo-random permutation of [0, 2^bits) (bits even): a 4-round Feistel
 * network on two bits/2-bit halves. Walking i = 0, 1, ... and skipping
 * outputs >= m visits [0, m) in a scrambled order with O(1) memory; at most
 * 4 outputs are tried per hit since 2^bits < 4m.
 */
struct perm {
    uint32_t half;
    uint32_t hmask;
    uint64_t key[4];
    uint64_t domain;
};

static void perm_init(struct perm *p, uint64_t m, uint64_t seed)
{
    uint32_t bits = 2;
    while ((1ULL << bits) < m)
        bits += 2;
    p->half = bits / 2;
    p->hmask = (uint32_t)((1ULL << p->half) - 1);
    p->domain = 1ULL << bits;
    for (int r = 0; r < 4; r++)
        p->key[r] = sl_splitmix64(&seed);
}

static uint64_t perm_at(const struct perm *p, uint64_t i)
{
    uint32_t l = (uint32_t)(i >> p->half), r = (uint32_t)i & p->hmask;
    for (int k = 0; k < 4; k++) {
        uint32_t t = l ^ ((uint32_t)sl_mix64(r ^ p->key[k]) & p->hmask);
        l = r;
        r = t;
    }
    return (uint64_t)l << p->half | r;
}

static int item_usable(const struct item *it)
{
    if (!it)
        return -ENOENT;
    if (it->released)
        return -ESTALE;
    if (!it->live)
        return -EPERM;
    return 0;
}

static int pick(struct sl_audience *a, struct item *it, const struct crowd *cr, size_t size,
                uint32_t *out, size_t *n)
{
    size_t got = 0;
    uint64_t m = cr->list.n;

    if (size > 0 && m > 0) {
        struct perm p;
        uint64_t salt = a->conf.seed ^ sl_mix64(it->hash) ^ sl_mix64((uint64_t)it->picks << 1 | 1);
        perm_init(&p, m, salt);
        for (uint64_t i = 0; i < p.domain && got < size; i++) {
            uint64_t x = perm_at(&p, i);
            if (x >= m)
                continue;
            uint32_t u = cr->everyone ? (uint32_t)x : cr->list.v[x];
            if (u == it->creator || offered_has(&it->offered, u))
                continue;
            out[got++] = u;
        }
    }
    it->picks++;
    *n = got;
    return 0;
}

int sl_audience_pick(struct sl_audience *a, uint32_t h, const char *audience, size_t size,
                     uint32_t *out, size_t *n)
{
    struct item *it = item_get(a, h);
    struct crowd cr;
    int rc;

    if (!n || (size && !out))
        return -EINVAL;
    if ((rc = item_usable(it)) < 0 || (rc = resolve(a, it, audience, &cr)) < 0)
        return rc;
    return pick(a, it, &cr, size, out, n);
}

#define PREFETCH_AHEAD 16
#if defined(__GNUC__)
#define prefetch(p) __builtin_prefetch(p)
#else
#define prefetch(p) ((void)(p))
#endif

static int place(struct sl_audience *a, uint32_t h, const uint32_t *users, size_t n,
                 enum sl_aud_source source, uint32_t wave, bool inbox, size_t *placed)
{
    struct item *it = item_get(a, h);
    size_t done = 0;
    int rc;

    if ((rc = item_usable(it)) < 0)
        return rc;
    if ((n && !users) || wave > UINT16_MAX || !sl_audience_source_name(source))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (users[i] >= a->nusers)
            return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = users[i];
        /* Inboxes are scattered: ask for them well before they are needed. */
        if (inbox && i + PREFETCH_AHEAD < n)
            prefetch(&a->inboxes[users[i + PREFETCH_AHEAD]]);
        if (inbox && i + PREFETCH_AHEAD / 2 < n && a->inboxes[users[i + PREFETCH_AHEAD / 2]])
            prefetch(a->inboxes[users[i + PREFETCH_AHEAD / 2]]);
        if (u == it->creator || offered_has(&it->offered, u))
            continue;
        if ((rc = offered_add(&it->offered, u, a->nusers)) < 0)
            break;
        if (inbox) {
            struct entry e = { .item = h, .wave = (uint16_t)wave, .source = (uint8_t)source };
            if ((rc = inbox_push(a, u, e)) < 0)
                break;
        }
        done++;
    }
    if (placed)
        *placed = done;
    return rc;
}

int sl_audience_place(struct sl_audience *a, uint32_t h, const uint32_t *users, size_t n,
                      enum sl_aud_source source, uint32_t wave, size_t *placed)
{
    return place(a, h, users, n, source, wave, true, placed);
}

int sl_audience_mark_offered(struct sl_audience *a, uint32_t h, const uint32_t *users, size_t n)
{
    return place(a, h, users, n, SL_AUD_EVERYONE, 0, false, NULL);
}

int sl_audience_wave(struct sl_audience *a, uint32_t h, const char *audience, size_t size,
                     uint32_t wave, uint32_t *out, size_t *n)
{
    struct item *it = item_get(a, h);
    struct crowd cr;
    size_t got;
    int rc;

    if (!n || wave > UINT16_MAX)
        return -EINVAL;
    if ((rc = item_usable(it)) < 0 || (rc = resolve(a, it, audience, &cr)) < 0)
        return rc;
    if (!out) {
        size_t want = size < cr.list.n ? size : cr.list.n;
        if (want > a->scratch_cap) {
            uint32_t *ns = realloc(a->scratch, want * sizeof(*ns));
            if (!ns)
                return -ENOMEM;
            a->scratch = ns;
            a->scratch_cap = want;
        }
        out = a->scratch;
        size = want;
    }
    if ((rc = pick(a, it, &cr, size, out, &got)) < 0)
        return rc;
    return place(a, h, out, got, cr.source, wave, true, n);
}

/* ====== Creators: the head and exposure ====== */

static int cmp_u32_desc(const void *pa, const void *pb)
{
    return -cmp_u32(pa, pb);
}

int sl_audience_head_update(struct sl_audience *a, double share)
{
    if (!a || !(share >= 0 && share <= 1))
        return -EINVAL;
    uint32_t nc = 0;
    for (uint32_t i = 0; i < a->nusers; i++)
        nc += a->users[i].creator;
    double kd = share * nc - 1e-9;
    size_t k = kd <= 0 ? 0 : (size_t)kd + 1;       /* ceil */
    if (k == 0) {
        a->head_threshold = UINT32_MAX;
        return 0;
    }
    uint32_t *v = malloc((size_t)nc * sizeof(*v));
    if (!v)
        return -ENOMEM;
    uint32_t j = 0;
    for (uint32_t i = 0; i < a->nusers; i++)
        if (a->users[i].creator)
            v[j++] = a->users[i].followers.n;
    qsort(v, nc, sizeof(*v), cmp_u32_desc);
    a->head_threshold = v[k - 1] > 0 ? v[k - 1] : 1;
    free(v);
    return 0;
}

bool sl_audience_is_head(const struct sl_audience *a, uint32_t creator)
{
    return a && creator < a->nusers && a->users[creator].creator &&
           a->users[creator].followers.n >= a->head_threshold;
}

int sl_audience_creator_mark(struct sl_audience *a, uint32_t idx)
{
    if (!a || idx >= a->nusers)
        return -EINVAL;
    a->users[idx].creator = true;
    return 0;
}

int sl_audience_exposure_add(struct sl_audience *a, uint32_t creator, uint32_t n)
{
    if (!a || creator >= a->nusers)
        return -EINVAL;
    uint32_t *e = &a->users[creator].exposure;
    *e = n > UINT32_MAX - *e ? UINT32_MAX : *e + n;
    return 0;
}

int sl_audience_exposure_gini(const struct sl_audience *a, double *out)
{
    if (!a || !out)
        return -EINVAL;
    size_t nc = 0;
    for (uint32_t i = 0; i < a->nusers; i++)
        nc += a->users[i].creator;
    double *v = malloc((nc + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    size_t j = 0;
    for (uint32_t i = 0; i < a->nusers; i++)
        if (a->users[i].creator)
            v[j++] = a->users[i].exposure;
    int rc = sl_stats_gini(v, nc, out);
    free(v);
    return rc;
}
