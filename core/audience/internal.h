/* SPDX-License-Identifier: MIT */
/* What the audience's parts share: its data structures, the model, calls between files. */
#ifndef SL_AUDIENCE_INTERNAL_H
#define SL_AUDIENCE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audience/audience.h"
#include "lib/id.h"

/*
 * Only the files of core/audience/ include this; audience.h stays the
 * module's face. Functions shared between the parts are prefixed aud_:
 * the library is linked as one, so a plain set_add() could meet another
 * module's, and -fvisibility=hidden keeps them out of the daemon's exports.
 */

/* {====================== Data structures (sets.c) ===================== */

/* Strings: one arena, never freed piecemeal (chunks of 64 KiB to 8 MiB). */
struct arena {
    struct chunk *head;
    char *p;
    size_t left;
    size_t next_size;
};

/*
 * A string -> index map: linear probing over (hash, index, key) slots. The
 * key rides in the slot so a lookup touches the slot and the string only.
 */
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

/*
 * A set of user indices: a sorted run plus a short unsorted tail (see
 * audience.h, the follow graph). No capacity field: it is a function of
 * n, which keeps a set at 16 bytes and 4 bytes an entry.
 */
struct idset {
    uint32_t *v;
    uint32_t n;
    uint32_t sorted;        /* v[0..sorted) ascending; v[sorted..n) in arrival order */
};

/* The users an item was offered to: a hash set while small, then a bitmap. */
struct offered {
    uint32_t *slot;         /* user + 1; 0 empty */
    uint32_t mask;
    uint32_t n;
    uint64_t *bits;         /* once the hash set would outgrow it */
    uint32_t nwords;
};

/* }===================================================================== */

/* {====================== The model ==================================== */

/* One offer in an inbox: 8 bytes. */
struct entry {
    uint32_t item;
    uint16_t wave;
    uint8_t source;
    uint8_t unused;
};

/* A ring of the newest entries; grows to inbox_max. */
struct inbox {
    uint64_t clean;         /* dead_gen when it last held only live items */
    uint16_t head;          /* oldest */
    uint16_t n;
    uint16_t cap;
    uint16_t pub;           /* entries not from followed creators */
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

/* A city, and the part of an interest that is like a city: graph.c interns both alike. */
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
    uint32_t *active;       /* by user: last activity, seconds since the epoch; 0 never */
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
    uint64_t dead_gen;      /* counts items leaving live while in inboxes */

    uint32_t grouped;       /* users covered by the last regroup */
    uint32_t *labels;       /* by user < grouped: circle label, a user index */
    uint32_t *group_start;  /* by label: first member in group_order; [grouped] = end */
    uint32_t *group_order;  /* users ordered by label */
    struct regroup *rg;     /* a regroup in progress, or NULL */

    uint32_t active_since;  /* picks prefer users active since (seconds); 0: no preference */
    uint32_t away_before;   /* public picks skip users last active before this */
    uint32_t head_threshold;
    uint32_t *scratch;      /* picks of sl_audience_wave() with out == NULL */
    size_t scratch_cap;
};

/* }===================================================================== */

/* {====================== Small helpers ================================ */

/* An id (lib/id.h), its length in *lenp. */
static inline bool id_ok(const char *s, size_t *lenp)
{
    return (*lenp = sl_id_len(s)) > 0;
}

static inline const uint32_t *user_ints(const struct user *u)
{
    return u->nints > 4 ? u->ints.ptr : u->ints.inl;
}

static inline bool has_u32(const uint32_t *v, size_t n, uint32_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

/* }===================================================================== */

/* sets.c: an id's hash for the audience's tables (seed and the process's
 * key, lib/mix.h), and the same of seed alone, the same in every process. */
uint32_t aud_hash_str(const char *s, size_t len, uint64_t seed);
uint32_t aud_hash_fixed(const char *s, size_t len, uint64_t seed);
const char *aud_arena_dup(struct arena *ar, const char *s, size_t len);
void aud_arena_free(struct arena *ar);
uint32_t aud_idmap_find(const struct idmap *m, const char *s, uint32_t h);
int aud_idmap_put(struct idmap *m, uint32_t h, uint32_t val, const char *key);
void aud_idmap_del(struct idmap *m, uint32_t h, uint32_t val);
int aud_cmp_u32(const void *pa, const void *pb);
bool aud_set_has(const struct idset *s, uint32_t x);
int aud_set_merge(struct idset *s);
int aud_set_add(struct idset *s, uint32_t x, bool bulk);
int aud_set_del(struct idset *s, uint32_t x);
void aud_set_free(struct idset *s);
struct sl_aud_list aud_set_list(const struct idset *s);
bool aud_offered_has(const struct offered *o, uint32_t u);
int aud_offered_add(struct offered *o, uint32_t u, uint32_t nusers);
void aud_offered_free(struct offered *o);

/* graph.c */
bool aud_city_ok(const char *s, size_t *lenp);
uint32_t aud_user_lookup(const struct sl_audience *a, const char *id, size_t len);
int aud_user_intern(struct sl_audience *a, const char *id, size_t len, uint32_t *idx);
int aud_city_intern(struct sl_audience *a, const char *name, size_t len, uint32_t *idx);
int aud_interest_intern(struct sl_audience *a, const char *name, size_t len, uint32_t *idx);
uint32_t aud_name_lookup(const struct sl_audience *a, const struct idmap *map, const char *name);

/* circles.c */
void aud_regroup_drop(struct sl_audience *a);

/* handles.c */
struct item *aud_item_get(const struct sl_audience *a, uint32_t h);
void aud_item_destroy(struct sl_audience *a, uint32_t h);

/* inbox.c */
int aud_inbox_push(struct sl_audience *a, uint32_t u, struct entry e);

#endif
