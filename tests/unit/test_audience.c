/* SPDX-License-Identifier: MIT */
/* The audience: users, follows, groups, related interests, picks without repeats, inboxes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "audience/audience.h"
#include "lib/mix.h"

/* ====== helpers ====== */

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static struct sl_audience *new_aud(uint64_t seed, uint32_t inbox_max)
{
    struct sl_audience_conf c;

    sl_audience_conf_default(&c);
    c.seed = seed;
    if (inbox_max)
        c.inbox_max = inbox_max;
    struct sl_audience *a = sl_audience_new(&c);
    assert_non_null(a);
    return a;
}

static uint32_t uid(struct sl_audience *a, const char *id)
{
    uint32_t i;
    assert_int_equal(sl_audience_user_add(a, id, &i), 0);
    return i;
}

/* Users u0..u(n-1), u<i> living in city c<i % cities>. */
static void add_users(struct sl_audience *a, int n, int cities)
{
    char id[32], city[32];
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "u%d", i);
        snprintf(city, sizeof(city), "c%d", i % cities);
        assert_int_equal(sl_audience_user_set(a, id, city, NULL, 0, NULL), 0);
    }
}

static bool list_has(struct sl_aud_list l, uint32_t x)
{
    for (size_t i = 0; i < l.n; i++)
        if (l.v[i] == x)
            return true;
    return false;
}

static uint32_t new_item(struct sl_audience *a, const char *id, const char *creator,
                         const char *city)
{
    uint32_t h;
    assert_int_equal(sl_audience_item_new(a, id, creator, city, &h), 0);
    return h;
}

/* ====== users ====== */

static void test_users_intern_and_validate(void **state)
{
    struct sl_audience *a = new_aud(1, 0);
    uint32_t i, j;
    char long_id[SL_AUD_ID_MAX + 2];

    assert_int_equal(sl_audience_user_add(a, "alice", &i), 0);
    assert_int_equal(sl_audience_user_add(a, "bob", &j), 0);
    assert_int_not_equal(i, j);
    assert_int_equal(sl_audience_user_add(a, "alice", &j), 0);
    assert_int_equal(i, j);
    assert_string_equal(sl_audience_user_id(a, i), "alice");
    assert_int_equal(sl_audience_user_find(a, "bob", &j), 0);
    assert_string_equal(sl_audience_user_id(a, j), "bob");
    assert_int_equal(sl_audience_user_find(a, "carol", &j), -ENOENT);
    assert_null(sl_audience_user_id(a, 99));

    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    const char *bad[] = { "", ".hidden", "sp ace", "sl/ash", "\xc3\xa9", long_id };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        assert_int_equal(sl_audience_user_add(a, bad[k], &j), -EINVAL);
        assert_int_equal(sl_audience_user_set(a, bad[k], "x", NULL, 0, NULL), -EINVAL);
        assert_int_equal(sl_audience_follow(a, "alice", bad[k], true), -EINVAL);
    }
    long_id[SL_AUD_ID_MAX] = '\0';  /* exactly 128: fine */
    assert_int_equal(sl_audience_user_add(a, long_id, &j), 0);
    assert_int_equal(sl_audience_user_count(a), 3);
    sl_audience_free(a);
    sl_audience_free(NULL);
}

/* Many ids at once (a start's placements): each index is the one a single
 * add gives, new ids are made, invalid ones are SL_AUD_NONE; keyed on
 * another audience of the same seed, the same. Past one batch of lookups. */
static void test_users_add_many(void **state)
{
    struct sl_audience *a = new_aud(7, 0), *b = new_aud(7, 0);
    enum { N = 40 };
    char ids[N][16];
    const char *p[N];
    uint32_t out[N], again[N], single;
    struct sl_aud_key keys[N];
    size_t valid = 0;

    (void)state;
    uid(a, "u3");
    uid(a, "u17");
    for (int i = 0; i < N; i++) {
        if (i % 9 == 4)
            snprintf(ids[i], sizeof(ids[i]), "bad id %d", i);
        else
            snprintf(ids[i], sizeof(ids[i]), "u%d", i % 25);    /* repeats past 25 */
        p[i] = ids[i];
    }
    size_t bad = 0;
    for (int i = 0; i < N; i++)
        bad += i % 9 == 4;
    assert_int_equal(sl_audience_users_add(a, p, N, out), N - bad);
    for (int i = 0; i < N; i++) {
        if (i % 9 == 4) {
            assert_int_equal(out[i], SL_AUD_NONE);
            assert_false(sl_audience_key(a, p[i], &keys[0]));
            continue;
        }
        assert_int_equal(sl_audience_user_find(a, p[i], &single), 0);
        assert_int_equal(out[i], single);
        assert_string_equal(sl_audience_user_id(a, out[i]), p[i]);
    }
    assert_int_equal(out[3], uid(a, "u3"));
    assert_int_equal(sl_audience_user_count(a), 24);   /* u0..u24 but u22, whose turn is a bad id */

    /* The same adds keyed ahead (as a start's reader does), in the same
     * order on an audience of the same seed, give the same indexes. */
    uid(b, "u3");
    uid(b, "u17");
    for (int i = 0; i < N; i++)
        if (sl_audience_key(b, p[i], &keys[valid]))
            valid++;
    assert_int_equal(valid, N - bad);
    assert_int_equal(sl_audience_users_add_keyed(b, keys, valid, again), valid);
    for (size_t i = 0, v = 0; i < N; i++)
        if (i % 9 != 4)
            assert_int_equal(again[v++], out[i]);
    sl_audience_free(a);
    sl_audience_free(b);
}

static void test_users_city_and_interests(void **state)
{
    struct sl_audience *a = new_aud(1, 0);
    const char *in[] = { "football", "music", "football" };
    const char *got[8];
    uint32_t u;

    assert_int_equal(sl_audience_user_set(a, "alice", "Paris", in, 3, NULL), 0);
    assert_int_equal(sl_audience_user_find(a, "alice", &u), 0);
    assert_string_equal(sl_audience_user_city(a, u), "Paris");
    assert_int_equal(sl_audience_user_interests(a, u, got, 8), 2);     /* duplicate dropped */
    assert_true(list_has(sl_audience_interest_users(a, "football"), u));
    assert_true(list_has(sl_audience_interest_users(a, "music"), u));
    assert_true(list_has(sl_audience_city_users(a, "Paris"), u));

    /* NULL keeps; a new list replaces; "" clears the city. */
    assert_int_equal(sl_audience_user_set(a, "alice", NULL, NULL, 0, NULL), 0);
    assert_string_equal(sl_audience_user_city(a, u), "Paris");
    assert_int_equal(sl_audience_user_interests(a, u, got, 8), 2);
    const char *in2[] = { "music", "chess", "go", "cooking", "hiking", "jazz" };
    assert_int_equal(sl_audience_user_set(a, "alice", "Lyon", in2, 6, NULL), 0);
    assert_int_equal(sl_audience_user_interests(a, u, got, 8), 6);
    assert_string_equal(got[5], "jazz");
    assert_false(list_has(sl_audience_interest_users(a, "football"), u));
    assert_true(list_has(sl_audience_interest_users(a, "jazz"), u));
    assert_int_equal(sl_audience_interest_users(a, "music").n, 1);
    assert_int_equal(sl_audience_city_users(a, "Paris").n, 0);
    assert_true(list_has(sl_audience_city_users(a, "Lyon"), u));
    assert_int_equal(sl_audience_user_set(a, "alice", "", in, 0, NULL), 0);
    assert_null(sl_audience_user_city(a, u));
    assert_int_equal(sl_audience_user_interests(a, u, got, 8), 0);
    assert_int_equal(sl_audience_interest_users(a, "jazz").n, 0);

    /* Bad input changes nothing. */
    assert_int_equal(sl_audience_user_set(a, "alice", "Oslo", in2, 6, NULL), 0);
    const char *bad_in[] = { "ok", "not ok" };
    assert_int_equal(sl_audience_user_set(a, "alice", "Rome", bad_in, 2, NULL), -EINVAL);
    assert_int_equal(sl_audience_user_set(a, "alice", "Ro\nme", NULL, 0, NULL), -EINVAL);
    const char *many[SL_AUD_INTERESTS_MAX + 1];
    for (size_t k = 0; k <= SL_AUD_INTERESTS_MAX; k++)
        many[k] = "x";
    assert_int_equal(
        sl_audience_user_set(a, "alice", NULL, many, SL_AUD_INTERESTS_MAX + 1, NULL), -EINVAL);
    assert_string_equal(sl_audience_user_city(a, u), "Oslo");
    assert_int_equal(sl_audience_user_interests(a, u, got, 8), 6);
    assert_int_equal(sl_audience_interest_users(a, "ok").n, 0);

    /* user_ok answers as user_set decides (a start's reader leaves out the
     * rows it refuses): the same refusals, and nothing made. */
    assert_true(sl_audience_user_ok("bob", "Rome", in2, 6));
    assert_true(sl_audience_user_ok("bob", NULL, NULL, 0));
    assert_false(sl_audience_user_ok("bob", "Rome", bad_in, 2));
    assert_false(sl_audience_user_ok("bob", "Ro\nme", NULL, 0));
    assert_false(sl_audience_user_ok("bob", NULL, many, SL_AUD_INTERESTS_MAX + 1));
    assert_false(sl_audience_user_ok("not an id", NULL, NULL, 0));
    assert_false(sl_audience_user_ok(NULL, NULL, NULL, 0));
    assert_int_equal(sl_audience_user_find(a, "bob", &u), -ENOENT);
    sl_audience_free(a);
}

/* ====== the follow graph ====== */

static void test_follow_basics(void **state)
{
    struct sl_audience *a = new_aud(1, 0);
    uint32_t f, c;

    assert_int_equal(sl_audience_follow(a, "fan", "star", true), 0);
    assert_int_equal(sl_audience_follow(a, "fan", "star", true), 0);    /* idempotent */
    f = uid(a, "fan");
    c = uid(a, "star");
    assert_true(sl_audience_follows(a, f, c));
    assert_false(sl_audience_follows(a, c, f));
    assert_int_equal(sl_audience_followers_count(a, c), 1);
    assert_int_equal(sl_audience_following_count(a, f), 1);
    assert_int_equal(sl_audience_followers_count(a, f), 0);
    assert_true(list_has(sl_audience_followers(a, c), f));
    assert_true(list_has(sl_audience_following(a, f), c));

    assert_int_equal(sl_audience_follow(a, "star", "star", true), -EINVAL);
    /* By index, as a start takes follows in: the same edge, refused the
     * same way, and an index out of range refused. */
    assert_int_equal(sl_audience_follow_users(a, f, c), 0);
    assert_int_equal(sl_audience_followers_count(a, c), 1);
    assert_int_equal(sl_audience_follow_users(a, c, c), -EINVAL);
    assert_int_equal(sl_audience_follow_users(a, f, 2), -EINVAL);
    assert_int_equal(sl_audience_follow_users(a, SL_AUD_NONE, c), -EINVAL);
    assert_int_equal(sl_audience_follow_users(a, c, f), 0);
    assert_true(sl_audience_follows(a, c, f));
    assert_int_equal(sl_audience_follow(a, "star", "fan", false), 0);
    assert_int_equal(sl_audience_follow(a, "fan", "star", false), 0);
    assert_int_equal(sl_audience_follow(a, "fan", "star", false), 0);
    assert_false(sl_audience_follows(a, f, c));
    assert_int_equal(sl_audience_followers_count(a, c), 0);
    /* Unfollowing strangers creates them, as the store does (users named
     * by a follow or an unfollow exist from then on), with no edge. */
    assert_int_equal(sl_audience_follow(a, "ghost", "phantom", false), 0);
    assert_int_equal(sl_audience_user_count(a), 4);
    uint32_t g, p;
    assert_int_equal(sl_audience_user_find(a, "ghost", &g), 0);
    assert_int_equal(sl_audience_user_find(a, "phantom", &p), 0);
    assert_false(sl_audience_follows(a, g, p));
    assert_int_equal(sl_audience_following_count(a, g), 0);
    assert_int_equal(sl_audience_follow(a, "ghost", "ghost", false), -EINVAL);
    assert_int_equal(sl_audience_user_count(a), 4);
    sl_audience_free(a);
}

/* Random follows and unfollows against a plain matrix: the sorted run + tail sets. */
static void test_follow_sets_match_reference(void **state)
{
    enum { N = 3000, OPS = 60000 };
    struct sl_audience *a = new_aud(3, 0);
    static bool ref[N][4];
    char f[32], c[32];
    uint64_t s = 11;

    memset(ref, 0, sizeof(ref));
    add_users(a, N, 1);
    for (int op = 0; op < OPS; op++) {
        /* Creators 0..3; creator 0 gets most of the traffic. */
        int ci = rnd(&s) % 8 < 5 ? 0 : (int)(rnd(&s) % 4);
        int fi = 4 + (int)(rnd(&s) % (N - 4));
        bool on = rnd(&s) % 3 != 0;
        snprintf(f, sizeof(f), "u%d", fi);
        snprintf(c, sizeof(c), "u%d", ci);
        assert_int_equal(sl_audience_follow(a, f, c, on), 0);
        ref[fi][ci] = on;
        if (op % 5000 != 4999)
            continue;
        for (int k = 0; k < 4; k++) {
            static bool listed[N];
            size_t want = 0;
            snprintf(c, sizeof(c), "u%d", k);
            uint32_t ck = uid(a, c);
            struct sl_aud_list l = sl_audience_followers(a, ck);
            memset(listed, 0, sizeof(listed));
            for (size_t i = 0; i < l.n; i++) {
                const char *name = sl_audience_user_id(a, l.v[i]);
                int fi2 = atoi(name + 1);
                assert_false(listed[fi2]);               /* no repeats */
                listed[fi2] = true;
            }
            for (int i = 4; i < N; i++) {
                snprintf(f, sizeof(f), "u%d", i);
                want += ref[i][k];
                assert_int_equal(sl_audience_follows(a, uid(a, f), ck), ref[i][k]);
                assert_int_equal(listed[i], ref[i][k]);
            }
            assert_int_equal(l.n, want);
        }
    }
    sl_audience_free(a);
}

static void test_bulk_load_matches_incremental(void **state)
{
    struct sl_audience *inc = new_aud(5, 0), *blk = new_aud(5, 0);
    char f[32], c[32];
    uint64_t s = 99;

    sl_audience_bulk_begin(blk);
    for (int op = 0; op < 20000; op++) {
        int fi = (int)(rnd(&s) % 500), ci = (int)(rnd(&s) % 50);
        if (fi == ci)
            continue;
        snprintf(f, sizeof(f), "u%d", fi);
        snprintf(c, sizeof(c), "u%d", ci);
        assert_int_equal(sl_audience_follow(inc, f, c, true), 0);
        assert_int_equal(sl_audience_follow(blk, f, c, true), 0);  /* repeats are merged at end */
    }
    sl_audience_bulk_end(blk);
    assert_int_equal(sl_audience_user_count(inc), sl_audience_user_count(blk));
    for (int k = 0; k < 500; k++) {
        snprintf(c, sizeof(c), "u%d", k);
        uint32_t ui = uid(inc, c), ub = uid(blk, c);
        assert_int_equal(sl_audience_followers_count(inc, ui), sl_audience_followers_count(blk, ub));
        assert_int_equal(sl_audience_following_count(inc, ui), sl_audience_following_count(blk, ub));
        struct sl_aud_list l = sl_audience_followers(blk, ub);
        for (size_t i = 1; i < l.n; i++)
            assert_true(l.v[i - 1] < l.v[i]);           /* sorted, no repeats */
    }
    sl_audience_free(inc);
    sl_audience_free(blk);
}

/* ====== picks ====== */

static void test_pick_everyone_without_repeats(void **state)
{
    enum { N = 1000 };
    struct sl_audience *a = new_aud(7, 0);
    static uint32_t out[N];
    static bool seen[N];
    size_t n, total = 0;
    int waves = 0;

    memset(seen, 0, sizeof(seen));
    add_users(a, N, 10);
    uint32_t creator = uid(a, "u0");
    uint32_t h = new_item(a, "v1", "u0", NULL);
    do {
        assert_int_equal(sl_audience_wave(a, h, "everyone", 128, (uint32_t)waves, out, &n), 0);
        for (size_t i = 0; i < n; i++) {
            assert_true(out[i] < N);
            assert_int_not_equal(out[i], creator);
            assert_false(seen[out[i]]);
            seen[out[i]] = true;
            assert_true(sl_audience_item_offered(a, h, out[i]));
        }
        total += n;
        waves++;
    } while (n > 0);
    assert_int_equal(total, N - 1);                     /* everyone but the creator, once */
    assert_int_equal(waves, 9);                         /* 7 full waves, 103, then none */
    assert_int_equal(sl_audience_item_offered_count(a, h), N - 1);
    sl_audience_free(a);
}

static void test_pick_is_scrambled_and_deterministic(void **state)
{
    enum { N = 5000, W = 200 };
    struct sl_audience *a = new_aud(7, 0), *b = new_aud(7, 0), *c = new_aud(8, 0);
    uint32_t oa[W], ob[W], oc[W], o2[W];
    size_t na, nb, nc, n2;

    add_users(a, N, 10);
    add_users(b, N, 10);
    add_users(c, N, 10);
    uint32_t ha = new_item(a, "v1", "u0", NULL), hb = new_item(b, "v1", "u0", NULL);
    uint32_t hc = new_item(c, "v1", "u0", NULL), h2 = new_item(a, "v2", "u0", NULL);
    assert_int_equal(sl_audience_pick(a, ha, "everyone", W, oa, &na), 0);
    assert_int_equal(sl_audience_pick(b, hb, "everyone", W, ob, &nb), 0);
    assert_int_equal(sl_audience_pick(c, hc, "everyone", W, oc, &nc), 0);
    assert_int_equal(sl_audience_pick(a, h2, "everyone", W, o2, &n2), 0);
    assert_int_equal(na, W);
    /* Same seed, same calls: same picks. */
    assert_int_equal(nb, W);
    assert_memory_equal(oa, ob, sizeof(oa));
    /* Another seed or another item: a different crowd, spread over all users. */
    size_t same_c = 0, same_2 = 0, high = 0;
    for (size_t i = 0; i < W; i++) {
        same_c += oa[i] == oc[i];
        same_2 += oa[i] == o2[i];
        high += oa[i] >= N / 2;
    }
    assert_true(same_c < W / 10);
    assert_true(same_2 < W / 10);
    assert_true(high > W / 4 && high < 3 * W / 4);
    /* pick alone marks nothing, but the next pick starts elsewhere. */
    assert_int_equal(sl_audience_item_offered_count(a, ha), 0);
    assert_int_equal(sl_audience_pick(a, ha, "everyone", W, o2, &n2), 0);
    same_2 = 0;
    for (size_t i = 0; i < W; i++)
        same_2 += oa[i] == o2[i];
    assert_true(same_2 < W / 10);
    sl_audience_free(a);
    sl_audience_free(b);
    sl_audience_free(c);
}

/* Ids made to share a run of the tables under one key (here 0, the key
 * before sluiced draws one) are scattered under the key a process draws;
 * an item's picks do not change with it. */
static void test_tables_keyed_picks_not(void **state)
{
    enum { N = 2000, W = 100, SAME = 64, MASK = 0xfff };
    static char ids[SAME][32];
    struct sl_aud_key k;
    uint32_t oa[W], ob[W];
    size_t na, nb, found = 0;
    (void)state;

    sl_hash_key = 0;
    struct sl_audience *a = new_aud(7, 0);
    add_users(a, N, 10);
    assert_int_equal(sl_audience_pick(a, new_item(a, "v1", "u0", NULL), "everyone", W, oa, &na), 0);
    assert_true(sl_audience_key(a, "x0", &k));
    uint32_t bucket = k.hash & MASK;
    for (unsigned i = 0; found < SAME; i++) {
        char id[32];
        snprintf(id, sizeof(id), "x%u", i);
        assert_true(sl_audience_key(a, id, &k));
        if ((k.hash & MASK) == bucket)
            memcpy(ids[found++], id, sizeof(id));
    }

    sl_hash_key_init();
    assert_true(sl_hash_key != 0);
    struct sl_audience *b = new_aud(7, 0);
    size_t together = 0;
    assert_true(sl_audience_key(b, ids[0], &k));
    bucket = k.hash & MASK;
    for (size_t i = 1; i < SAME; i++) {
        assert_true(sl_audience_key(b, ids[i], &k));
        together += (k.hash & MASK) == bucket;
    }
    assert_true(together <= 3);
    add_users(b, N, 10);
    assert_int_equal(sl_audience_pick(b, new_item(b, "v1", "u0", NULL), "everyone", W, ob, &nb), 0);
    assert_int_equal(na, W);
    assert_int_equal(nb, W);
    assert_memory_equal(oa, ob, sizeof(oa));

    sl_hash_key = 0;
    sl_audience_free(a);
    sl_audience_free(b);
}

static void test_pick_audiences(void **state)
{
    enum { N = 600 };
    struct sl_audience *a = new_aud(9, 0);
    static uint32_t out[N];
    size_t n;
    char f[32];

    add_users(a, N, 6);                                 /* u<i> in c<i % 6> */
    const char *sports[] = { "sports" };
    for (int i = 0; i < N; i += 4) {
        snprintf(f, sizeof(f), "u%d", i);
        assert_int_equal(sl_audience_user_set(a, f, NULL, sports, 1, NULL), 0);
    }
    for (int i = 1; i < N; i += 3) {
        snprintf(f, sizeof(f), "u%d", i);
        assert_int_equal(sl_audience_follow(a, f, "u0", true), 0);
    }
    uint32_t creator = uid(a, "u0");
    uint32_t h = new_item(a, "v1", "u0", "c2");

    assert_int_equal(sl_audience_wave(a, h, "followers", N, 1, out, &n), 0);
    assert_int_equal(n, N / 3);
    for (size_t i = 0; i < n; i++)
        assert_true(sl_audience_follows(a, out[i], creator));

    /* The item's city, not the creator's (c0); followers already had it. */
    assert_int_equal(sl_audience_wave(a, h, "nearby", N, 2, out, &n), 0);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(sl_audience_user_city(a, out[i]), "c2");
        assert_false(sl_audience_follows(a, out[i], creator));
    }

    assert_int_equal(sl_audience_wave(a, h, "interest:sports", N, 3, out, &n), 0);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        assert_true(list_has(sl_audience_interest_users(a, "sports"), out[i]));
        assert_int_not_equal(out[i], creator);          /* u0 has sports too */
    }
    assert_int_equal(sl_audience_wave(a, h, "group:interest:sports", N, 4, out, &n), 0);
    assert_int_equal(n, 0);                             /* all offered already */

    /* Nobody matches: no picks, no error. */
    assert_int_equal(sl_audience_wave(a, h, "interest:knitting", N, 5, out, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(sl_audience_wave(a, h, "group:circle:nobody", N, 5, out, &n), 0);
    assert_int_equal(n, 0);

    /* Without a city of its own, nearby means the creator's city. */
    uint32_t h2 = new_item(a, "v2", "u0", NULL);
    assert_int_equal(sl_audience_wave(a, h2, "nearby", N, 1, out, &n), 0);
    assert_int_equal(n, N / 6 - 1);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(sl_audience_user_city(a, out[i]), "c0");

    /* Bad audiences and waves are refused and change nothing. */
    size_t before = sl_audience_item_offered_count(a, h2);
    const char *bad[] = { "bogus", "interest:", "interest:no way", "group:foo", "group:", "" };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
        assert_int_equal(sl_audience_wave(a, h2, bad[k], 10, 1, out, &n), -EINVAL);
    assert_int_equal(sl_audience_wave(a, h2, NULL, 10, 1, out, &n), -EINVAL);
    assert_int_equal(sl_audience_wave(a, h2, "everyone", 10, 70000, out, &n), -EINVAL);
    assert_int_equal(sl_audience_wave(a, 999, "everyone", 10, 1, out, &n), -ENOENT);
    uint32_t bogus[] = { 1, 2, N + 5 };
    assert_int_equal(sl_audience_place(a, h2, bogus, 3, SL_AUD_EVERYONE, 1, &n), -EINVAL);
    assert_int_equal(sl_audience_place(a, h2, bogus, 2, (enum sl_aud_source)9, 1, &n), -EINVAL);
    assert_int_equal(sl_audience_item_offered_count(a, h2), before);
    sl_audience_free(a);
}

static void test_place_skips_offered_and_creator(void **state)
{
    struct sl_audience *a = new_aud(1, 0);
    uint32_t users[6];
    size_t placed;

    add_users(a, 6, 1);
    for (int i = 0; i < 6; i++) {
        char id[32];
        snprintf(id, sizeof(id), "u%d", i);
        users[i] = uid(a, id);
    }
    uint32_t h = new_item(a, "v", "u0", NULL);
    assert_int_equal(sl_audience_mark_offered(a, h, users + 1, 2), 0);
    assert_int_equal(sl_audience_place(a, h, users, 6, SL_AUD_GROUP, 3, &placed), 0);
    assert_int_equal(placed, 3);                        /* u3, u4, u5 */
    struct sl_aud_entry e[4];
    assert_int_equal(sl_audience_inbox_read(a, users[1], e, 4), 0);     /* marked only */
    assert_int_equal(sl_audience_inbox_read(a, users[0], e, 4), 0);     /* the creator */
    assert_int_equal(sl_audience_inbox_read(a, users[4], e, 4), 1);
    assert_int_equal(e[0].item, h);
    assert_string_equal(e[0].item_id, "v");
    assert_int_equal(e[0].creator, users[0]);
    assert_int_equal(e[0].wave, 3);
    assert_int_equal(e[0].source, SL_AUD_GROUP);
    assert_string_equal(sl_audience_source_name(e[0].source), "group");
    assert_int_equal(sl_audience_place(a, h, users, 6, SL_AUD_GROUP, 4, &placed), 0);
    assert_int_equal(placed, 0);
    sl_audience_free(a);
}

/* ====== inboxes ====== */

static void test_inbox_bounded_newest_first(void **state)
{
    struct sl_audience *a = new_aud(1, 5);
    struct sl_aud_entry e[10];
    char id[32];
    uint32_t h[8];

    add_users(a, 3, 1);
    uint32_t reader = uid(a, "u1");
    for (int i = 0; i < 8; i++) {
        snprintf(id, sizeof(id), "v%d", i);
        h[i] = new_item(a, id, "u0", NULL);
        assert_int_equal(sl_audience_place(a, h[i], &reader, 1, SL_AUD_FOLLOWERS,
                                           (uint32_t)i, NULL), 0);
    }
    assert_int_equal(sl_audience_inbox_read(a, reader, e, 10), 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(e[i].item, h[7 - i]);
        assert_int_equal(e[i].wave, 7 - i);
    }
    assert_int_equal(sl_audience_inbox_read(a, reader, e, 2), 2);
    assert_int_equal(e[1].item, h[6]);

    /* Served: take it out; the rest stay in order. */
    assert_int_equal(sl_audience_inbox_remove(a, reader, h[6]), 0);
    assert_int_equal(sl_audience_inbox_remove(a, reader, h[6]), -ENOENT);
    assert_int_equal(sl_audience_inbox_remove(a, reader, h[0]), -ENOENT);     /* evicted */
    assert_int_equal(sl_audience_inbox_read(a, reader, e, 10), 4);
    assert_int_equal(e[0].item, h[7]);
    assert_int_equal(e[1].item, h[5]);
    assert_int_equal(e[3].item, h[3]);

    /* A released item lives while an inbox names it, then its id is gone. */
    assert_int_equal(sl_audience_item_release(a, h[5]), 0);
    assert_int_equal(sl_audience_wave(a, h[5], "everyone", 1, 1, NULL, &(size_t){ 0 }), -ESTALE);
    uint32_t found;
    assert_int_equal(sl_audience_item_find(a, "v5", &found), 0);
    assert_int_equal(found, h[5]);
    assert_int_equal(sl_audience_inbox_remove(a, reader, h[5]), 0);
    assert_int_equal(sl_audience_item_find(a, "v5", &found), -ENOENT);
    assert_null(sl_audience_item_id(a, h[5]));
    /* Its handle is recycled, and a new item of the same id can come. */
    uint32_t again = new_item(a, "v5", "u0", NULL);
    assert_int_equal(again, h[5]);
    assert_int_equal(sl_audience_item_new(a, "v5", "u0", NULL, &found), -EEXIST);
    assert_int_equal(found, again);
    sl_audience_free(a);
}

static void test_takedown_hides_everywhere(void **state)
{
    enum { N = 300 };
    struct sl_audience *a = new_aud(2, 4);
    struct sl_aud_entry e[8];
    static uint32_t out[N];
    size_t n;

    add_users(a, N, 1);
    uint32_t bad = new_item(a, "bad", "u0", NULL);
    uint32_t good = new_item(a, "good", "u1", NULL);
    assert_int_equal(sl_audience_wave(a, bad, "everyone", N, 1, out, &n), 0);
    assert_int_equal(n, N - 1);
    assert_int_equal(sl_audience_wave(a, good, "everyone", N, 1, NULL, &n), 0);
    assert_int_equal(n, N - 1);

    uint32_t u1 = uid(a, "u1");
    assert_int_equal(sl_audience_item_set_live(a, bad, false), 0);
    for (size_t i = 0; i < N / 2; i++) {
        size_t k = sl_audience_inbox_read(a, out[i], e, 8);
        for (size_t j = 0; j < k; j++)
            assert_int_not_equal(e[j].item, bad);
        assert_int_equal(k, out[i] == u1 ? 0 : 1);      /* "good" stays (u1 made it) */
    }
    /* No waves while it is down. */
    assert_int_equal(sl_audience_wave(a, bad, "everyone", 5, 2, out + N / 2, &n), -EPERM);
    /* Back from review: inboxes not yet read show it again. */
    assert_int_equal(sl_audience_item_set_live(a, bad, true), 0);
    size_t shown = 0;
    for (size_t i = N / 2; i < N - 1; i++) {
        size_t k = sl_audience_inbox_read(a, out[i], e, 8);
        for (size_t j = 0; j < k; j++)
            shown += e[j].item == bad;
    }
    assert_int_equal(shown, N - 1 - N / 2);
    /* And a full inbox drops dead entries before evicting live ones. */
    assert_int_equal(sl_audience_item_set_live(a, bad, false), 0);
    uint32_t reader = out[N - 2] != u1 ? out[N - 2] : out[N - 3];
    for (int i = 0; i < 3; i++) {
        char id[32];
        snprintf(id, sizeof(id), "x%d", i);
        uint32_t h = new_item(a, id, "u2", NULL);
        assert_int_equal(sl_audience_place(a, h, &reader, 1, SL_AUD_NEARBY, 1, NULL), 0);
    }
    assert_int_equal(sl_audience_inbox_read(a, reader, e, 8), 4);
    bool has_good = false;
    for (int j = 0; j < 4; j++)
        has_good |= e[j].item == good;
    assert_true(has_good);
    assert_int_equal(sl_audience_item_set_live(a, 12345, false), -ENOENT);
    sl_audience_free(a);
}

/* A released item approved again gets a new handle: the old entries stay
 * with the old one, hidden, and the new waves offer again without
 * doubles; the old handle goes once its last entry does. */
static void test_released_item_comes_back_apart(void **state)
{
    struct sl_audience *a = new_aud(1, 8);
    struct sl_aud_entry e[8];
    uint32_t got;
    size_t n;

    add_users(a, 3, 1);
    uint32_t r1 = uid(a, "u1"), r2 = uid(a, "u2");
    uint32_t old = new_item(a, "v", "u0", NULL);
    assert_int_equal(sl_audience_place(a, old, &r1, 1, SL_AUD_FOLLOWERS, 1, NULL), 0);
    assert_int_equal(sl_audience_place(a, old, &r2, 1, SL_AUD_FOLLOWERS, 1, NULL), 0);
    assert_int_equal(sl_audience_item_release(a, old), 0);
    assert_int_equal(sl_audience_item_find(a, "v", &got), 0);
    assert_int_equal(got, old);

    uint32_t h;
    assert_int_equal(sl_audience_item_new(a, "v", "u0", NULL, &h), 0);
    assert_int_not_equal(h, old);
    assert_int_equal(sl_audience_item_find(a, "v", &got), 0);
    assert_int_equal(got, h);
    assert_int_equal(sl_audience_item_new(a, "v", "u0", NULL, &got), -EEXIST);
    assert_int_equal(got, h);
    /* The old entries show no more; a new wave reaches both, once each. */
    assert_int_equal(sl_audience_inbox_read(a, r1, e, 8), 0);
    assert_int_equal(sl_audience_wave(a, h, "everyone", 5, 1, NULL, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(sl_audience_inbox_read(a, r1, e, 8), 1);
    assert_int_equal(e[0].item, h);
    assert_int_equal(sl_audience_inbox_read(a, r2, e, 8), 1);
    assert_int_equal(e[0].item, h);
    /* The old handle went with its last entry; the id still names the new. */
    assert_null(sl_audience_item_id(a, old));
    assert_int_equal(sl_audience_item_find(a, "v", &got), 0);
    assert_int_equal(got, h);
    sl_audience_free(a);
}

/* A pending item's entries are shown to no read, and no read or full
 * inbox drops them (a dead item's are dropped meanwhile); then they show. */
static void test_pending_item_waits_in_inboxes(void **state)
{
    struct sl_audience *a = new_aud(1, 4);
    struct sl_aud_entry e[8];

    add_users(a, 3, 1);
    uint32_t r = uid(a, "u1");
    uint32_t p = new_item(a, "pending", "u0", NULL);
    uint32_t dead = new_item(a, "dead", "u2", NULL);
    assert_int_equal(sl_audience_place(a, p, &r, 1, SL_AUD_FOLLOWERS, 1, NULL), 0);
    assert_int_equal(sl_audience_place(a, dead, &r, 1, SL_AUD_FOLLOWERS, 1, NULL), 0);
    assert_int_equal(sl_audience_item_set_pending(a, p, true), 0);
    assert_int_equal(sl_audience_item_set_live(a, dead, false), 0);
    assert_int_equal(sl_audience_inbox_read(a, r, e, 8), 0);   /* compacts: dead goes */
    /* Fill the inbox (4): the pending entry is not what makes room. */
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof(id), "x%d", i);
        uint32_t h = new_item(a, id, "u2", NULL);
        assert_int_equal(sl_audience_place(a, h, &r, 1, SL_AUD_NEARBY, 1, NULL), 0);
    }
    assert_int_equal(sl_audience_inbox_read(a, r, e, 8), 3);
    for (int j = 0; j < 3; j++)
        assert_int_not_equal(e[j].item, p);
    assert_int_equal(sl_audience_item_set_pending(a, p, false), 0);
    assert_int_equal(sl_audience_inbox_read(a, r, e, 8), 4);
    assert_int_equal(e[3].item, p);                             /* the oldest */
    assert_int_equal(sl_audience_item_set_pending(a, 12345, true), -ENOENT);
    sl_audience_free(a);
}

/* A full inbox evicts the oldest public offer before any from a followed
 * creator; with only those left, the oldest of them. */
static void test_inbox_keeps_followed(void **state)
{
    struct sl_audience *a = new_aud(1, 4);
    struct sl_aud_entry e[8];
    char id[32];
    uint32_t h[8];

    add_users(a, 3, 1);
    uint32_t reader = uid(a, "u1");
    /* followers, everyone, followers, everyone: full */
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof(id), "k%d", i);
        h[i] = new_item(a, id, "u0", NULL);
        assert_int_equal(sl_audience_place(a, h[i], &reader, 1,
                                           i % 2 ? SL_AUD_EVERYONE : SL_AUD_FOLLOWERS,
                                           (uint32_t)i, NULL), 0);
    }
    /* Two more public offers: the two older public ones go, not h[0]. */
    for (int i = 4; i < 6; i++) {
        snprintf(id, sizeof(id), "k%d", i);
        h[i] = new_item(a, id, "u0", NULL);
        assert_int_equal(sl_audience_place(a, h[i], &reader, 1, SL_AUD_EVERYONE,
                                           (uint32_t)i, NULL), 0);
    }
    assert_int_equal(sl_audience_inbox_read(a, reader, e, 8), 4);
    assert_int_equal(e[0].item, h[5]);
    assert_int_equal(e[1].item, h[4]);
    assert_int_equal(e[2].item, h[2]);          /* newest first, order kept */
    assert_int_equal(e[3].item, h[0]);
    /* Two more from followed creators: the public ones go; then the
     * oldest followed one. */
    for (int i = 6; i < 8; i++) {
        snprintf(id, sizeof(id), "k%d", i);
        h[i] = new_item(a, id, "u0", NULL);
        assert_int_equal(sl_audience_place(a, h[i], &reader, 1, SL_AUD_FOLLOWERS,
                                           (uint32_t)i, NULL), 0);
    }
    assert_int_equal(sl_audience_inbox_read(a, reader, e, 8), 4);
    assert_int_equal(e[0].item, h[7]);
    assert_int_equal(e[1].item, h[6]);
    assert_int_equal(e[2].item, h[2]);
    assert_int_equal(e[3].item, h[0]);
    snprintf(id, sizeof(id), "k8");
    uint32_t h8 = new_item(a, id, "u0", NULL);
    assert_int_equal(sl_audience_place(a, h8, &reader, 1, SL_AUD_EVERYONE, 8, NULL), 0);
    assert_int_equal(sl_audience_inbox_read(a, reader, e, 8), 4);
    assert_int_equal(e[0].item, h8);
    assert_int_equal(e[3].item, h[2]);          /* h[0], the oldest, went */
    sl_audience_free(a);
}

/* A dead entry in the middle of a full inbox goes before the oldest live one. */
static void test_full_inbox_drops_dead_first(void **state)
{
    struct sl_audience *a = new_aud(2, 4);
    struct sl_aud_entry e[8];
    uint32_t h[5];

    add_users(a, 3, 1);
    uint32_t reader = uid(a, "u1");
    for (int i = 0; i < 5; i++) {
        char id[32];
        snprintf(id, sizeof(id), "v%d", i);
        h[i] = new_item(a, id, "u0", NULL);
        if (i == 4)
            assert_int_equal(sl_audience_item_set_live(a, h[1], false), 0);
        assert_int_equal(sl_audience_place(a, h[i], &reader, 1, SL_AUD_FOLLOWERS, 1, NULL), 0);
    }
    assert_int_equal(sl_audience_inbox_read(a, reader, e, 8), 4);
    assert_int_equal(e[0].item, h[4]);
    assert_int_equal(e[1].item, h[3]);
    assert_int_equal(e[2].item, h[2]);
    assert_int_equal(e[3].item, h[0]);       /* the oldest survived */
    sl_audience_free(a);
}

/* A full inbox found clean is not looked through again on every push, yet
 * an item that dies after that look still goes before any live entry. */
static void test_full_inbox_dead_after_clean(void **state)
{
    struct sl_audience *a = new_aud(3, 4);
    struct sl_aud_entry e[8];
    uint32_t h[8];

    add_users(a, 3, 1);
    uint32_t reader = uid(a, "u1"), other = uid(a, "u2");
    for (int i = 0; i < 8; i++) {
        char id[32];
        snprintf(id, sizeof(id), "w%d", i);
        h[i] = new_item(a, id, "u0", NULL);
    }
    /* An item of another inbox dies: this one is looked at, found clean. */
    assert_int_equal(sl_audience_place(a, h[7], &other, 1, SL_AUD_FOLLOWERS, 1, NULL), 0);
    assert_int_equal(sl_audience_item_set_live(a, h[7], false), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(sl_audience_place(a, h[i], &reader, 1, SL_AUD_FOLLOWERS, 1, NULL), 0);
    assert_int_equal(sl_audience_inbox_read(a, reader, e, 8), 4);  /* h[1..4]: h[0] went */
    assert_int_equal(e[3].item, h[1]);
    /* Then h[2] dies: the next push drops it, not h[1], the oldest. */
    assert_int_equal(sl_audience_item_set_live(a, h[2], false), 0);
    assert_int_equal(sl_audience_place(a, h[5], &reader, 1, SL_AUD_FOLLOWERS, 1, NULL), 0);
    assert_int_equal(sl_audience_inbox_read(a, reader, e, 8), 4);
    assert_int_equal(e[0].item, h[5]);
    assert_int_equal(e[1].item, h[4]);
    assert_int_equal(e[2].item, h[3]);
    assert_int_equal(e[3].item, h[1]);
    sl_audience_free(a);

    /* Dropping a dead public entry leaves the live public one the first to
     * go: followed [h0], public [h1 dead, h2], followed [h3], then h4, h5. */
    a = new_aud(3, 4);
    add_users(a, 3, 1);
    reader = uid(a, "u1");
    for (int i = 0; i < 6; i++) {
        char id[32];
        snprintf(id, sizeof(id), "p%d", i);
        h[i] = new_item(a, id, "u0", NULL);
        if (i == 4)
            assert_int_equal(sl_audience_item_set_live(a, h[1], false), 0);
        assert_int_equal(sl_audience_place(a, h[i], &reader, 1, i == 1 || i == 2
                                           ? SL_AUD_EVERYONE : SL_AUD_FOLLOWERS, 1, NULL), 0);
    }
    assert_int_equal(sl_audience_inbox_read(a, reader, e, 8), 4);
    assert_int_equal(e[0].item, h[5]);
    assert_int_equal(e[1].item, h[4]);
    assert_int_equal(e[2].item, h[3]);
    assert_int_equal(e[3].item, h[0]);      /* h[2], public, went before it */
    sl_audience_free(a);
}

/* Many items come and go: ids stay findable as handles are recycled. */
static void test_items_come_and_go(void **state)
{
    enum { N = 3000 };
    struct sl_audience *a = new_aud(6, 0);
    static uint32_t h[N];
    char id[32];
    uint32_t got;

    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "item%d", i);
        h[i] = new_item(a, id, "maker", i % 2 ? "Paris" : NULL);
    }
    for (int i = 0; i < N; i += 2)
        assert_int_equal(sl_audience_item_release(a, h[i]), 0);    /* no inbox: gone now */
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "item%d", i);
        if (i % 2) {
            assert_int_equal(sl_audience_item_find(a, id, &got), 0);
            assert_int_equal(got, h[i]);
            assert_string_equal(sl_audience_item_id(a, got), id);
        } else {
            assert_int_equal(sl_audience_item_find(a, id, &got), -ENOENT);
        }
    }
    for (int i = 0; i < N; i += 2) {
        snprintf(id, sizeof(id), "next%d", i);
        h[i] = new_item(a, id, "maker", NULL);
        assert_true(h[i] < N);                  /* a recycled handle */
    }
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), i % 2 ? "item%d" : "next%d", i);
        assert_int_equal(sl_audience_item_find(a, id, &got), 0);
        assert_int_equal(got, h[i]);
    }
    assert_int_equal(sl_audience_item_release(a, h[0]), 0);
    assert_int_equal(sl_audience_item_release(a, h[0]), -ENOENT);
    assert_int_equal(sl_audience_item_new(a, "bad id", "maker", NULL, &got), -EINVAL);
    assert_int_equal(sl_audience_item_new(a, "ok", "maker", "bad\ncity", &got), -EINVAL);
    sl_audience_free(a);
}

/* ====== groups ====== */

static int collect(void *ctx, const char *name)
{
    char *buf = ctx;
    strcat(buf, name);
    strcat(buf, ";");
    return 0;
}

static int stop_at_first(void *ctx, const char *name)
{
    (*(int *)ctx)++;
    return 7;
}

/* Two cliques of 20 joined by one follow fall into two circles. */
static void build_cliques(struct sl_audience *a)
{
    char f[32], c[32];
    for (int g = 0; g < 2; g++)
        for (int i = 0; i < 20; i++)
            for (int j = 0; j < 20; j++) {
                if (i == j)
                    continue;
                snprintf(f, sizeof(f), "g%d_%d", g, i);
                snprintf(c, sizeof(c), "g%d_%d", g, j);
                assert_int_equal(sl_audience_follow(a, f, c, true), 0);
            }
    assert_int_equal(sl_audience_follow(a, "g0_0", "g1_0", true), 0);
}

static void test_regroup_finds_communities(void **state)
{
    struct sl_audience *a = new_aud(4, 0), *b = new_aud(4, 0);
    struct sl_aud_list m0, m1, mb;
    char buf[512] = "", name[64];

    build_cliques(a);
    build_cliques(b);
    assert_int_equal(sl_audience_regroup(a), 0);
    assert_int_equal(sl_audience_regroup(b), 0);

    /* Each clique is one circle; the two differ. */
    uint32_t u0 = uid(a, "g0_5"), u1 = uid(a, "g1_5");
    assert_int_equal(sl_audience_groups(a, u0, collect, buf), 0);
    assert_true(strncmp(buf, "circle:g0_", 10) == 0);
    snprintf(name, sizeof(name), "%.*s", (int)(strchr(buf, ';') - buf), buf);
    assert_int_equal(sl_audience_group_members(a, name, &m0), 0);
    assert_int_equal(m0.n, 20);
    for (size_t i = 0; i < m0.n; i++)
        assert_true(strncmp(sl_audience_user_id(a, m0.v[i]), "g0_", 3) == 0);
    buf[0] = '\0';
    assert_int_equal(sl_audience_groups(a, u1, collect, buf), 0);
    assert_true(strncmp(buf, "circle:g1_", 10) == 0);
    snprintf(name, sizeof(name), "%.*s", (int)(strchr(buf, ';') - buf), buf);
    assert_int_equal(sl_audience_group_members(a, name, &m1), 0);
    assert_int_equal(m1.n, 20);

    /* Deterministic: the same graph and seed give the same circles. */
    assert_int_equal(sl_audience_group_members(b, name, &mb), 0);
    assert_int_equal(mb.n, 20);

    /* A circle is an audience. */
    const char *in[] = { "chess" };
    assert_int_equal(sl_audience_user_set(a, "g1_3", NULL, in, 1, NULL), 0);
    uint32_t h = new_item(a, "v", "g0_0", NULL), out[40];
    size_t n;
    char spec[80];
    snprintf(spec, sizeof(spec), "group:%s", name);
    assert_int_equal(sl_audience_wave(a, h, spec, 40, 1, out, &n), 0);
    assert_int_equal(n, 20);
    for (size_t i = 0; i < n; i++)
        assert_true(strncmp(sl_audience_user_id(a, out[i]), "g1_", 3) == 0);

    /* Interest groups follow the circle; users added later have none yet. */
    buf[0] = '\0';
    assert_int_equal(sl_audience_groups(a, uid(a, "g1_3"), collect, buf), 0);
    assert_non_null(strstr(buf, ";interest:chess;"));
    uint32_t late = uid(a, "latecomer");
    buf[0] = '\0';
    assert_int_equal(sl_audience_groups(a, late, collect, buf), 0);
    assert_string_equal(buf, "");
    int calls = 0;
    assert_int_equal(sl_audience_groups(a, u0, stop_at_first, &calls), 7);
    assert_int_equal(calls, 1);
    assert_int_equal(sl_audience_groups(a, 9999, collect, buf), -ENOENT);
    assert_int_equal(sl_audience_group_members(a, "team:x", &m0), -EINVAL);
    sl_audience_free(a);
    sl_audience_free(b);
}

/*
 * Two loose groups (each member follows the next two of its ring) whose
 * members all follow the same three celebrities: the celebrities must not
 * pull both groups into one circle.
 */
static void test_regroup_hubs_do_not_merge(void **state)
{
    for (uint64_t seed = 1; seed <= 5; seed++) {
        struct sl_audience *a = new_aud(seed, 0);
        char f[32], c[32], buf[512];
        for (int g = 0; g < 2; g++)
            for (int i = 0; i < 10; i++) {
                snprintf(f, sizeof(f), "g%d_%d", g, i);
                for (int k = 1; k <= 2; k++) {
                    snprintf(c, sizeof(c), "g%d_%d", g, (i + k) % 10);
                    assert_int_equal(sl_audience_follow(a, f, c, true), 0);
                }
                for (int h = 0; h < 3; h++) {
                    snprintf(c, sizeof(c), "star%d", h);
                    assert_int_equal(sl_audience_follow(a, f, c, true), 0);
                }
            }
        assert_int_equal(sl_audience_regroup(a), 0);
        for (int g = 0; g < 2; g++)
            for (int i = 0; i < 10; i++) {
                struct sl_aud_list m;
                snprintf(f, sizeof(f), "g%d_%d", g, i);
                buf[0] = '\0';
                assert_int_equal(sl_audience_groups(a, uid(a, f), collect, buf), 0);
                *strchr(buf, ';') = '\0';
                assert_int_equal(sl_audience_group_members(a, buf, &m), 0);
                for (size_t k = 0; k < m.n; k++) {
                    const char *who = sl_audience_user_id(a, m.v[k]);
                    assert_false(who[0] == 'g' && who[1] != f[1]);
                }
            }
        sl_audience_free(a);
    }
}

/* In slices, with the graph changing meanwhile: the same circles as at once. */
static void test_regroup_in_slices(void **state)
{
    struct sl_audience *a = new_aud(4, 0), *b = new_aud(4, 0);
    struct sl_aud_list la, lb;
    char name[64], buf[512];
    bool done = false;
    int steps = 0;

    build_cliques(a);
    build_cliques(b);
    assert_int_equal(sl_audience_regroup(b), 0);
    /* Nothing until the first run ends. */
    buf[0] = '\0';
    assert_int_equal(sl_audience_regroup_step(a, 50, &done), 0);
    assert_false(done);
    assert_int_equal(sl_audience_groups(a, uid(a, "g0_1"), collect, buf), 0);
    assert_string_equal(buf, "");
    /* A newcomer joins mid-run: not part of this run, and no harm done. */
    assert_int_equal(sl_audience_follow(a, "newbie", "g0_1", true), 0);
    assert_int_equal(sl_audience_follow(a, "g1_2", "newbie", true), 0);
    while (!done) {
        assert_int_equal(sl_audience_regroup_step(a, 50, &done), 0);
        steps++;
    }
    assert_true(steps > 10);
    for (int g = 0; g < 2; g++) {
        snprintf(name, sizeof(name), "g%d_7", g);
        buf[0] = '\0';
        assert_int_equal(sl_audience_groups(b, uid(b, name), collect, buf), 0);
        snprintf(name, sizeof(name), "%.*s", (int)(strchr(buf, ';') - buf), buf);
        assert_int_equal(sl_audience_group_members(a, name, &la), 0);
        assert_int_equal(sl_audience_group_members(b, name, &lb), 0);
        assert_int_equal(la.n, 20);
        assert_int_equal(lb.n, 20);
        for (size_t i = 0; i < la.n; i++)
            assert_string_equal(sl_audience_user_id(a, la.v[i]), sl_audience_user_id(b, lb.v[i]));
    }
    buf[0] = '\0';
    assert_int_equal(sl_audience_groups(a, uid(a, "newbie"), collect, buf), 0);
    assert_string_equal(buf, "");
    /* The next run counts the newcomer in. */
    assert_int_equal(sl_audience_regroup(a), 0);
    buf[0] = '\0';
    assert_int_equal(sl_audience_groups(a, uid(a, "newbie"), collect, buf), 0);
    assert_true(strncmp(buf, "circle:", 7) == 0);
    /* Stepping an empty audience finishes at once. */
    struct sl_audience *e = new_aud(1, 0);
    assert_int_equal(sl_audience_regroup_step(e, 1, &done), 0);
    assert_true(done);
    sl_audience_free(e);
    sl_audience_free(a);
    sl_audience_free(b);
}

/* ====== related interests ====== */

static void test_related_learns_co_engagement(void **state)
{
    struct sl_audience *a = new_aud(1, 0);
    const char *bb[] = { "basketball" }, *ck[] = { "cooking" }, *fb[] = { "football" };
    const char *both[] = { "football", "tennis" };
    struct sl_aud_related r[4];
    char id[32];

    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof(id), "u%d", i);
        assert_int_equal(sl_audience_user_set(a, id, NULL, i < 50 ? bb : ck, 1, NULL), 0);
    }
    assert_int_equal(sl_audience_related(a, "football", r, 4), 0);
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof(id), "u%d", i);
        uint32_t u = uid(a, id);
        /* Basketball fans like football items three times as often. */
        for (int k = 0; k < (i < 50 ? 3 : 1); k++)
            assert_int_equal(sl_audience_engage(a, u, fb, 1), 0);
    }
    assert_int_equal(sl_audience_engage(a, uid(a, "u0"), both, 2), 0);
    assert_int_equal(sl_audience_related(a, "football", r, 4), 2);
    assert_string_equal(r[0].interest, "basketball");
    assert_int_equal(r[0].count, 151);
    /* c / (e_X + u_Y - c) = 151 / (201 + 151 - 151) */
    assert_true(r[0].score > 0.75 && r[0].score < 0.752);
    assert_string_equal(r[1].interest, "cooking");
    assert_true(r[1].score > 0.24 && r[1].score < 0.25);
    /* Tennis was seen once: below related_min_count. */
    assert_int_equal(sl_audience_related(a, "tennis", r, 4), 0);
    assert_int_equal(sl_audience_related(a, "football", r, 1), 1);
    assert_string_equal(r[0].interest, "basketball");
    assert_int_equal(sl_audience_related(a, "unknown", r, 4), 0);

    const char *bad[] = { "bad name" };
    assert_int_equal(sl_audience_engage(a, 0, bad, 1), -EINVAL);
    assert_int_equal(sl_audience_engage(a, 100000, fb, 1), -EINVAL);
    sl_audience_free(a);
}

static void test_related_memory_is_bounded(void **state)
{
    struct sl_audience_conf c;
    char id[32], x[16];
    uint64_t s = 5;

    sl_audience_conf_default(&c);
    c.related_max_pairs = 64;
    struct sl_audience *a = sl_audience_new(&c);
    assert_non_null(a);
    /* 40 users with 2 of 20 interests each. */
    for (int i = 0; i < 40; i++) {
        char i1[32], i2[32];
        snprintf(id, sizeof(id), "u%d", i);
        snprintf(i1, sizeof(i1), "t%d", i % 20);
        snprintf(i2, sizeof(i2), "t%d", (i + 7) % 20);
        const char *in[] = { i1, i2 };
        assert_int_equal(sl_audience_user_set(a, id, NULL, in, 2, NULL), 0);
    }
    /* A steady signal (t0 users like "x0") drowned in noise over 400 pairs. */
    for (int k = 0; k < 20000; k++) {
        uint32_t u = (uint32_t)(rnd(&s) % 40);
        snprintf(x, sizeof(x), "x%d", (int)(rnd(&s) % 10));
        const char *tag[] = { x };
        if (k % 4 == 0) {
            u = uid(a, "u0");           /* t0 and t7 */
            tag[0] = "x0";
        }
        assert_int_equal(sl_audience_engage(a, u, tag, 1), 0);
        assert_true(sl_audience_related_pairs(a) <= 64);
    }
    struct sl_aud_related r[3];
    assert_true(sl_audience_related(a, "x0", r, 3) >= 2);
    assert_true(strcmp(r[0].interest, "t0") == 0 || strcmp(r[0].interest, "t7") == 0);
    assert_true(strcmp(r[1].interest, "t0") == 0 || strcmp(r[1].interest, "t7") == 0);
    sl_audience_free(a);
}

/* ====== creators ====== */

static void test_head_and_exposure_gini(void **state)
{
    struct sl_audience *a = new_aud(1, 0);
    char f[32], c[32];
    double g;

    /* Creators c0..c9; c<k> has k * 10 followers. */
    for (int k = 0; k < 10; k++) {
        snprintf(c, sizeof(c), "c%d", k);
        snprintf(f, sizeof(f), "v%d", k);
        new_item(a, f, c, NULL);
        for (int i = 0; i < k * 10; i++) {
            snprintf(f, sizeof(f), "f%d", i);
            assert_int_equal(sl_audience_follow(a, f, c, true), 0);
        }
    }
    assert_false(sl_audience_is_head(a, uid(a, "c9")));  /* no head until asked */
    assert_int_equal(sl_audience_head_update(a, 0.2), 0);
    for (int k = 0; k < 10; k++) {
        snprintf(c, sizeof(c), "c%d", k);
        assert_int_equal(sl_audience_is_head(a, uid(a, c)), k >= 8);
    }
    assert_false(sl_audience_is_head(a, uid(a, "f0")));  /* not a creator */
    assert_int_equal(sl_audience_head_update(a, 1.0), 0);
    assert_false(sl_audience_is_head(a, uid(a, "c0")));  /* no followers: never head */
    assert_true(sl_audience_is_head(a, uid(a, "c1")));
    assert_int_equal(sl_audience_head_update(a, 0), 0);
    assert_false(sl_audience_is_head(a, uid(a, "c9")));
    assert_int_equal(sl_audience_head_update(a, 1.5), -EINVAL);

    assert_int_equal(sl_audience_exposure_gini(a, &g), 0);
    assert_true(g == 0);
    for (int k = 0; k < 10; k++) {
        snprintf(c, sizeof(c), "c%d", k);
        assert_int_equal(sl_audience_exposure_add(a, uid(a, c), 5), 0);
    }
    assert_int_equal(sl_audience_exposure_gini(a, &g), 0);
    assert_true(g < 1e-12);
    assert_int_equal(sl_audience_exposure_add(a, uid(a, "c3"), UINT32_MAX), 0);  /* saturates */
    assert_int_equal(sl_audience_exposure_gini(a, &g), 0);
    assert_true(g > 0.89 && g < 0.9);                   /* one has (almost) all: 9/10 */
    assert_int_equal(sl_audience_exposure_add(a, 99999, 1), -EINVAL);
    sl_audience_free(a);
}

static void test_conf_refused(void **state)
{
    struct sl_audience_conf c;

    sl_audience_conf_default(&c);
    c.inbox_max = 0;
    assert_null(sl_audience_new(&c));
    c.inbox_max = SL_AUD_INBOX_MAX + 1;
    assert_null(sl_audience_new(&c));
    sl_audience_conf_default(&c);
    c.related_max_pairs = 0;
    assert_null(sl_audience_new(&c));
    struct sl_audience *a = sl_audience_new(NULL);
    assert_non_null(a);
    sl_audience_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_users_intern_and_validate),
        cmocka_unit_test(test_users_add_many),
        cmocka_unit_test(test_users_city_and_interests),
        cmocka_unit_test(test_follow_basics),
        cmocka_unit_test(test_follow_sets_match_reference),
        cmocka_unit_test(test_bulk_load_matches_incremental),
        cmocka_unit_test(test_pick_everyone_without_repeats),
        cmocka_unit_test(test_pick_is_scrambled_and_deterministic),
        cmocka_unit_test(test_tables_keyed_picks_not),
        cmocka_unit_test(test_pick_audiences),
        cmocka_unit_test(test_place_skips_offered_and_creator),
        cmocka_unit_test(test_inbox_bounded_newest_first),
        cmocka_unit_test(test_inbox_keeps_followed),
        cmocka_unit_test(test_takedown_hides_everywhere),
        cmocka_unit_test(test_released_item_comes_back_apart),
        cmocka_unit_test(test_pending_item_waits_in_inboxes),
        cmocka_unit_test(test_full_inbox_drops_dead_first),
        cmocka_unit_test(test_full_inbox_dead_after_clean),
        cmocka_unit_test(test_items_come_and_go),
        cmocka_unit_test(test_regroup_finds_communities),
        cmocka_unit_test(test_regroup_hubs_do_not_merge),
        cmocka_unit_test(test_regroup_in_slices),
        cmocka_unit_test(test_related_learns_co_engagement),
        cmocka_unit_test(test_related_memory_is_bounded),
        cmocka_unit_test(test_head_and_exposure_gini),
        cmocka_unit_test(test_conf_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
