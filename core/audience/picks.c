/* SPDX-License-Identifier: MIT */
/* The audience's waves: who an audience names, seeded picks, placing into inboxes. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audience/internal.h"
#include "lib/mix.h"

/* {====================== Whom an audience names ======================= */

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
        cr->list = aud_set_list(&a->users[it->creator].followers);
    } else if (strcmp(spec, "nearby") == 0) {
        uint32_t c = it->city != SL_AUD_NONE ? it->city : a->users[it->creator].city;
        cr->source = SL_AUD_NEARBY;
        if (c != SL_AUD_NONE)
            cr->list = aud_set_list(&a->cities[c].users);
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

/* }===================================================================== */

/* {====================== Picks ======================================== */

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

/*
 * Walk the crowd in the item's permutation, taking users who were never
 * offered it. With activity in force (sl_audience_set_activity), a public
 * crowd is walked twice: the users active lately first, then the others
 * not away; the creator's followers are all taken in one walk, whoever
 * they are (their private domain waits for them).
 */
static int pick(struct sl_audience *a, struct item *it, const struct crowd *cr, size_t size,
                uint32_t *out, size_t *n)
{
    size_t got = 0;
    uint64_t m = cr->list.n;
    bool by_activity = cr->source != SL_AUD_FOLLOWERS && (a->active_since || a->away_before);

    if (size > 0 && m > 0) {
        struct perm p;
        /* Of the id, not of its place in the tables: an item's picks are
         * the same in every process (a node that resumes it, a replay). */
        uint32_t id_hash = aud_hash_fixed(it->id, strlen(it->id), a->conf.seed);
        uint64_t salt = a->conf.seed ^ sl_mix64(id_hash) ^ sl_mix64((uint64_t)it->picks << 1 | 1);
        perm_init(&p, m, salt);
        for (int pass = by_activity ? 0 : 1; pass < 2 && got < size; pass++)
            for (uint64_t i = 0; i < p.domain && got < size; i++) {
                uint64_t x = perm_at(&p, i);
                if (x >= m)
                    continue;
                uint32_t u = cr->everyone ? (uint32_t)x : cr->list.v[x];
                if (u == it->creator || aud_offered_has(&it->offered, u))
                    continue;
                if (by_activity) {
                    uint32_t seen = a->active[u];
                    bool active = seen && seen >= a->active_since;
                    if (pass == 0 ? !active : active || !seen || seen < a->away_before)
                        continue;
                }
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
    struct item *it = aud_item_get(a, h);
    struct crowd cr;
    int rc;

    if (!n || (size && !out))
        return -EINVAL;
    if ((rc = item_usable(it)) < 0 || (rc = resolve(a, it, audience, &cr)) < 0)
        return rc;
    return pick(a, it, &cr, size, out, n);
}

/* }===================================================================== */

/* {====================== Placing ====================================== */

#define PREFETCH_AHEAD 16
#if defined(__GNUC__)
#define prefetch(p) __builtin_prefetch(p)
#else
#define prefetch(p) ((void)(p))
#endif

static int place(struct sl_audience *a, uint32_t h, const uint32_t *users, size_t n,
                 enum sl_aud_source source, uint32_t wave, bool inbox, size_t *placed)
{
    struct item *it = aud_item_get(a, h);
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
        if (u == it->creator || aud_offered_has(&it->offered, u))
            continue;
        if ((rc = aud_offered_add(&it->offered, u, a->nusers)) < 0)
            break;
        if (inbox) {
            struct entry e = { .item = h, .wave = (uint16_t)wave, .source = (uint8_t)source };
            if ((rc = aud_inbox_push(a, u, e)) < 0)
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
    struct item *it = aud_item_get(a, h);
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

/* }===================================================================== */
