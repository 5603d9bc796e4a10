/* SPDX-License-Identifier: MIT */
/* The audience's data structures: hashing, strings, an id map, sets of users, offered sets. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audience/internal.h"
#include "lib/mix.h"

/* {====================== Hashing ====================================== */

/* With the audience's seed (its conf) alone. */
uint32_t aud_hash_fixed(const char *s, size_t len, uint64_t seed)
{
    uint64_t h = sl_hash(s, len, seed);
    return (uint32_t)(h ^ (h >> 32));
}

/* The same, keyed by the process's key too: the tables'. */
uint32_t aud_hash_str(const char *s, size_t len, uint64_t seed)
{
    return aud_hash_fixed(s, len, seed ^ sl_hash_key);
}

/* }===================================================================== */

/* {====================== Strings: one arena, never freed piecemeal ==== */

/* Chunks double from 64 KiB to 8 MiB: small audiences stay small, big ones few chunks. */
#define ARENA_CHUNK_MIN (64u << 10)
#define ARENA_CHUNK_MAX (8u << 20)

struct chunk {
    struct chunk *next;
    char data[];
};

const char *aud_arena_dup(struct arena *ar, const char *s, size_t len)
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

void aud_arena_free(struct arena *ar)
{
    while (ar->head) {
        struct chunk *c = ar->head;
        ar->head = c->next;
        free(c);
    }
}

/* }===================================================================== */

/* {====================== A string -> index map ======================== */

uint32_t aud_idmap_find(const struct idmap *m, const char *s, uint32_t h)
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
int aud_idmap_put(struct idmap *m, uint32_t h, uint32_t val, const char *key)
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
void aud_idmap_del(struct idmap *m, uint32_t h, uint32_t val)
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

/* }===================================================================== */

/* {====================== Sets of user indices ========================= */

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

int aud_cmp_u32(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    return (a > b) - (a < b);
}

/* Where x is in s: in the sorted run (below s->sorted) or in the tail;
 * UINT32_MAX when it is not there. */
static uint32_t find(const struct idset *s, uint32_t x)
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
        return lo;
    for (uint32_t i = s->sorted; i < s->n; i++)
        if (s->v[i] == x)
            return i;
    return UINT32_MAX;
}

bool aud_set_has(const struct idset *s, uint32_t x)
{
    return find(s, x) != UINT32_MAX;
}

/* Sort the tail and merge it into the run, dropping duplicates. */
int aud_set_merge(struct idset *s)
{
    uint32_t t = s->n - s->sorted;
    if (t == 0)
        return 0;
    uint32_t *tail = s->v + s->sorted;
    qsort(tail, t, sizeof(*tail), aud_cmp_u32);
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
int aud_set_add(struct idset *s, uint32_t x, bool bulk)
{
    if (!bulk && aud_set_has(s, x))
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
        (void)aud_set_merge(s);
    return 1;
}

/* 1 removed, 0 absent. */
int aud_set_del(struct idset *s, uint32_t x)
{
    uint32_t at = find(s, x);

    if (at == UINT32_MAX)
        return 0;
    if (at < s->sorted)
        s->sorted--;
    memmove(s->v + at, s->v + at + 1, (size_t)(s->n - at - 1) * sizeof(*s->v));
    if (--s->n == 0) {
        free(s->v);
        s->v = NULL;
    }
    return 1;
}

void aud_set_free(struct idset *s)
{
    free(s->v);
    *s = (struct idset){ 0 };
}

struct sl_aud_list aud_set_list(const struct idset *s)
{
    return (struct sl_aud_list){ s->v, s->n };
}

/* }===================================================================== */

/* {====================== Per-item offered sets ======================== */

bool aud_offered_has(const struct offered *o, uint32_t u)
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
int aud_offered_add(struct offered *o, uint32_t u, uint32_t nusers)
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

void aud_offered_free(struct offered *o)
{
    free(o->slot);
    free(o->bits);
    *o = (struct offered){ 0 };
}

/* }===================================================================== */
