/* SPDX-License-Identifier: MIT */
/* The audience at scale: load time, resident memory, 10,000-user waves, regroup, feeds. */
#include <errno.h>
#include <stdbool.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audience/audience.h"
#include "dist/compose.h"
#include "lib/stats.h"

#define CITIES 500
#define INTERESTS 1000
#define WAVE 10000
#define REPEATS 20

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double unif(uint64_t *s)
{
    return (double)(rnd(s) >> 11) / 9007199254740992.0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time too: on a shared machine wall time also counts others' work. */
static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* VmRSS and VmHWM from /proc/self/status, in MiB (-1 if unreadable). */
static void rss(double *cur, double *peak)
{
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");

    *cur = *peak = -1;
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        long kb;
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            *cur = kb / 1024.0;
        else if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            *peak = kb / 1024.0;
    }
    fclose(f);
}

static void print_rss(const char *when)
{
    double cur, peak;
    rss(&cur, &peak);
    printf("%-34s RSS %8.1f MiB   peak %8.1f MiB\n", when, cur, peak);
}

static void user_name(char *buf, size_t size, uint32_t i)
{
    snprintf(buf, size, "user%07u", i);
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

static int cmp_size(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    return (a > b) - (a < b);
}

/* Keep the first group name (the circle). */
static int first_name(void *ctx, const char *name)
{
    snprintf(ctx, 64 + SL_AUD_ID_MAX, "%s", name);
    return 1;
}

/* REPEATS waves of WAVE users from one audience, each for a new item. */
static void bench_waves(struct sl_audience *a, const char *audience, uint32_t users, uint64_t *s)
{
    static uint32_t out[WAVE];
    double ms[REPEATS], cms[REPEATS];
    size_t n = 0, total = 0;
    char id[64], creator[32];

    for (int r = 0; r < REPEATS; r++) {
        uint32_t h;
        snprintf(id, sizeof(id), "%s-item-%d", audience, r);
        /* The creator of the "followers" waves is the biggest one. */
        user_name(creator, sizeof(creator),
                  strcmp(audience, "followers") == 0 ? 0 : (uint32_t)(rnd(s) % users));
        if (sl_audience_item_new(a, id, creator, NULL, &h) < 0) {
            fprintf(stderr, "item_new failed\n");
            exit(1);
        }
        double t0 = now(), c0 = cpu();
        int rc = sl_audience_wave(a, h, audience, WAVE, 1, out, &n);
        ms[r] = (now() - t0) * 1e3;
        cms[r] = (cpu() - c0) * 1e3;
        if (rc < 0) {
            fprintf(stderr, "wave %s: %s\n", audience, strerror(-rc));
            exit(1);
        }
        total += n;
    }
    qsort(ms, REPEATS, sizeof(ms[0]), cmp_double);
    qsort(cms, REPEATS, sizeof(cms[0]), cmp_double);
    printf("wave of %d from %-12s placed %5zu avg: median %6.3f ms (cpu %6.3f), max %6.3f ms\n",
           WAVE, audience, total / REPEATS, ms[REPEATS / 2], cms[REPEATS / 2], ms[REPEATS - 1]);
}

/* Successive waves of one item until the audience is used up: later waves skip more. */
static void bench_drain(struct sl_audience *a, const char *audience, uint64_t *s)
{
    static uint32_t out[WAVE];
    double worst = 0;
    size_t n, total = 0;
    int waves = 0;
    uint32_t h;
    char creator[32];

    user_name(creator, sizeof(creator), 1 + (uint32_t)(rnd(s) % 1000));
    if (sl_audience_item_new(a, "drain-item", creator, NULL, &h) < 0)
        exit(1);
    do {
        double t0 = now();
        if (sl_audience_wave(a, h, audience, WAVE, (uint32_t)waves + 1, out, &n) < 0)
            exit(1);
        double ms = (now() - t0) * 1e3;
        worst = ms > worst ? ms : worst;
        total += n;
        waves++;
    } while (n == WAVE);
    printf("draining %-23s %d waves, %zu users, slowest wave %.3f ms\n",
           audience, waves, total, worst);
}

int main(int argc, char **argv)
{
    uint32_t users = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 1000000;
    uint64_t follows = argc > 2 ? strtoull(argv[2], NULL, 10) : 10000000;
    uint64_t s = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
    char id[32], cid[32], city[32], in[3][32];

    if (users < 1000) {
        fprintf(stderr, "usage: %s [users >= 1000] [follows] [seed]\n", argv[0]);
        return 2;
    }
    printf("bench_audience: %u users, %llu follows, %d cities, %d interests\n",
           users, (unsigned long long)follows, CITIES, INTERESTS);
    print_rss("start");

    struct sl_audience_conf conf;
    sl_audience_conf_default(&conf);
    conf.seed = s;
    struct sl_audience *a = sl_audience_new(&conf);
    if (!a)
        return 1;

    /*
     * Users: a city from a skewed distribution, three interests, "i0" for
     * one user in ten (so it has about 100,000 at a million users).
     */
    double t0 = now(), c_load = cpu();
    sl_audience_bulk_begin(a);
    for (uint32_t i = 0; i < users; i++) {
        user_name(id, sizeof(id), i);
        snprintf(city, sizeof(city), "city%u", (uint32_t)(CITIES * pow(unif(&s), 2)));
        snprintf(in[0], sizeof(in[0]), "i%u",
                 rnd(&s) % 10 == 0 ? 0 : 1 + (uint32_t)(rnd(&s) % (INTERESTS - 1)));
        snprintf(in[1], sizeof(in[1]), "i%u", 1 + (uint32_t)(rnd(&s) % (INTERESTS - 1)));
        snprintf(in[2], sizeof(in[2]), "i%u", 1 + (uint32_t)(rnd(&s) % (INTERESTS - 1)));
        const char *ins[] = { in[0], in[1], in[2] };
        if (sl_audience_user_set(a, id, city, ins, 3, NULL) < 0) {
            fprintf(stderr, "user_set failed\n");
            return 1;
        }
    }
    double t_users = now() - t0;

    /*
     * Follows: a uniform follower, a creator drawn as users * u^3, so the
     * biggest creator has about 1% of all edges and the top 0.1% hold 10%.
     * Repeats are skipped, as the store's keys would.
     */
    t0 = now();
    uint64_t made = 0;
    while (made < follows) {
        uint32_t f = (uint32_t)(rnd(&s) % users);
        uint32_t c = (uint32_t)(users * pow(unif(&s), 3));
        if (c >= users)
            c = users - 1;
        if (c == f)
            continue;
        user_name(id, sizeof(id), f);
        user_name(cid, sizeof(cid), c);
        if (sl_audience_follow(a, id, cid, true) < 0) {
            fprintf(stderr, "follow failed\n");
            return 1;
        }
        made++;
    }
    double t_follows = now() - t0;
    t0 = now();
    sl_audience_bulk_end(a);
    double t_end = now() - t0;
    uint64_t edges = 0;
    for (uint32_t i = 0; i < users; i++)
        edges += sl_audience_followers_count(a, i);
    printf("load: users %.2f s, follows %.2f s, bulk_end %.2f s: total %.2f s (cpu %.2f s)\n",
           t_users, t_follows, t_end, t_users + t_follows + t_end, cpu() - c_load);
    printf("distinct edges %llu; biggest creator has %zu followers; i0 has %zu users\n",
           (unsigned long long)edges, sl_audience_followers_count(a, 0),
           sl_audience_interest_users(a, "i0").n);
    print_rss("after load");

    /* Run-time changes after the load: follow and unfollow by id. */
    t0 = now();
    for (int k = 0; k < 200000; k++) {
        user_name(id, sizeof(id), (uint32_t)(rnd(&s) % users));
        user_name(cid, sizeof(cid), (uint32_t)(users * pow(unif(&s), 3)) % users);
        if (strcmp(id, cid) != 0)
            sl_audience_follow(a, id, cid, k % 4 != 3);
    }
    printf("run-time follow/unfollow: %.2f us each\n", (now() - t0) / 200000 * 1e6);

    /* Waves: the target is <= 10 ms for 10,000 users. */
    bench_waves(a, "everyone", users, &s);
    bench_waves(a, "interest:i0", users, &s);
    bench_waves(a, "followers", users, &s);
    bench_waves(a, "nearby", users, &s);
    bench_drain(a, "interest:i0", &s);
    print_rss("after waves");

    /* Reading an inbox, as a feed request would. */
    struct sl_aud_entry entries[200];
    size_t got = 0;
    t0 = now();
    for (uint32_t k = 0; k < 100000; k++)
        got += sl_audience_inbox_read(a, (uint32_t)(rnd(&s) % users), entries, 200);
    printf("inbox read: %.3f us each (%.2f entries on average)\n",
           (now() - t0) / 100000 * 1e6, got / 100000.0);

    /* The mixed-feed composer on 50 private and 200 public candidates, page of 20. */
    struct sl_compose_cand priv[50], pub[200];
    struct sl_compose_pick picks[20];
    struct sl_compose_rules rules;
    sl_compose_rules_default(&rules);
    for (int i = 0; i < 50; i++)
        priv[i] = (struct sl_compose_cand){ .item = (uint64_t)i, .creator = (uint32_t)(rnd(&s) % 10) };
    for (int i = 0; i < 200; i++)
        pub[i] = (struct sl_compose_cand){ .item = 1000 + (uint64_t)i,
                                        .creator = (uint32_t)(rnd(&s) % 100),
                                        .head = rnd(&s) % 4 == 0 };
    t0 = now();
    for (int k = 0; k < 10000; k++) {
        size_t np;
        if (sl_compose_page(priv, 50, pub, 200, &rules, 20, picks, &np, NULL) < 0)
            return 1;
    }
    printf("compose a page of 20 from 250: %.2f us\n", (now() - t0) / 10000 * 1e6);

    /* Co-engagement learning. */
    t0 = now();
    for (int k = 0; k < 1000000; k++) {
        snprintf(in[0], sizeof(in[0]), "i%u", (uint32_t)(rnd(&s) % INTERESTS));
        const char *tags[] = { in[0] };
        sl_audience_engage(a, (uint32_t)(rnd(&s) % users), tags, 1);
    }
    struct sl_aud_related rel[5];
    size_t nrel = sl_audience_related(a, "i0", rel, 5);
    printf("engage: %.2f us each; %zu pairs kept; related(i0): %zu found\n",
           (now() - t0) / 1000000 * 1e6, sl_audience_related_pairs(a), nrel);

    /* Groups and the head: on demand, not per request. */
    t0 = now();
    if (sl_audience_regroup(a) < 0)
        return 1;
    double t_group = now() - t0;
    printf("regroup (label propagation, %u rounds max): %.2f s at once\n",
           conf.group_rounds, t_group);
    /* How big are circles, seen from 1,000 random users? */
    size_t sizes[1000];
    for (int k = 0; k < 1000; k++) {
        char circle[64 + SL_AUD_ID_MAX] = "";
        struct sl_aud_list m = { NULL, 0 };
        sl_audience_groups(a, (uint32_t)(rnd(&s) % users), first_name, circle);
        sl_audience_group_members(a, circle, &m);
        sizes[k] = m.n;
    }
    qsort(sizes, 1000, sizeof(sizes[0]), cmp_size);
    printf("circle sizes seen by 1,000 users: median %zu, 90th %zu, max %zu\n",
           sizes[500], sizes[900], sizes[999]);
    /* The same in slices of about a million neighbour visits, as a timer would. */
    bool done = false;
    int steps = 0;
    double worst = 0;
    while (!done) {
        t0 = now();
        if (sl_audience_regroup_step(a, 1u << 20, &done) < 0)
            return 1;
        double ms = (now() - t0) * 1e3;
        worst = ms > worst ? ms : worst;
        steps++;
    }
    printf("regroup in slices of 2^20: %d steps, slowest %.1f ms\n", steps, worst);
    t0 = now();
    sl_audience_head_update(a, 0.01);
    double gini;
    sl_audience_exposure_gini(a, &gini);
    printf("head update + exposure Gini: %.1f ms\n", (now() - t0) * 1e3);
    print_rss("at the end");

    t0 = now();
    sl_audience_free(a);
    printf("free: %.2f s\n", now() - t0);
    return 0;
}
