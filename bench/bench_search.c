/* SPDX-License-Identifier: MIT */
/* Search at scale: a store of N items (1,000,000 by default) filled through the store API, then each filter and the text timed. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/mix.h"
#include "store/store.h"

/*
 * The store is filled the way sluiced fills it: sl_store_item_insert (and
 * so every trigger that keeps the search indexes), the upload's and the
 * verdict's audit records, queue entries, people's decisions, all in
 * transactions of 10,000 items on the writer. The items look like a month
 * of a platform: 30 days of uploads, creators of very unequal size, a few
 * tags each, keyword and hash matches on a few, most approved, some in
 * review, rejected or taken down; titles, descriptions and transcripts
 * of Latin and Chinese words.
 *
 * Then each query runs REPEATS times on a reader (the first run, from a
 * cold page cache after the fill, is reported apart) for a page of 50,
 * and the median, the 90th percentile, the fastest and the slowest are
 * printed, in milliseconds.
 */

#define DAY_MS (86400LL * 1000)
#define BATCH 10000
#define PAGE 50

static uint64_t rng = 42;

static uint64_t rnd(uint64_t n)
{
    return sl_splitmix64(&rng) % n;
}

static const char *const latin[] = {
    "the", "a", "cat", "dog", "sunset", "beach", "city", "night", "music", "dance", "recipe",
    "pasta", "travel", "mountain", "river", "game", "football", "goal", "coffee", "morning",
    "street", "food", "funny", "prank", "tutorial", "makeup", "workout", "yoga", "garden",
    "flower", "rain", "snow", "car", "bike", "train", "concert", "guitar", "piano", "sing",
    "review", "unboxing", "phone", "camera", "drone", "ocean", "fishing", "camping", "forest",
    "baby", "birthday", "wedding", "party", "school", "exam", "study", "library", "book",
};
static const char *const chinese[] = {
    "猫咪", "小狗", "日落", "海滩", "城市", "夜晚", "音乐", "舞蹈", "美食", "旅行", "山川",
    "足球", "咖啡", "早晨", "街头", "搞笑", "教程", "化妆", "健身", "花园", "下雨", "下雪",
    "火车", "演唱会", "吉他", "钢琴", "唱歌", "开箱", "手机", "相机", "海洋", "钓鱼", "露营",
    "森林", "宝宝", "生日", "婚礼", "派对", "学校", "考试", "学习", "图书馆", "每天更新",
};
#define NLATIN (sizeof(latin) / sizeof(latin[0]))
#define NCHINESE (sizeof(chinese) / sizeof(chinese[0]))
static const char *const tags[] = { "scene.beach", "scene.city", "scene.night", "scene.food",
    "scene.sport", "scene.music", "age.adult", "age.teen", "age.child", "emotion.joy",
    "emotion.sadness", "nsfw.suggestive", "interest.travel", "interest.food",
    "interest.music", "interest.sport", "interest.pets", "interest.games" };
#define NTAGS (sizeof(tags) / sizeof(tags[0]))
static const char *const queues[] = { "minors", "text", "nsfw", "hashes", "reports" };

/* Words until len bytes, a few Chinese among the Latin. */
static char *words(char *p, size_t len)
{
    char *end = p + len;
    while (p < end) {
        const char *w = rnd(5) == 0 ? chinese[rnd(NCHINESE)] : latin[rnd(NLATIN)];
        p += sprintf(p, "%s%s", w, rnd(8) ? " " : ", ");
    }
    return p;
}

static const char *pick_state(void)
{
    uint64_t r = rnd(1000);
    return r < 600 ? "settled" : r < 780 ? "distributing" : r < 830 ? "approved"
         : r < 910 ? "rejected" : r < 980 ? "in_review" : "removed";
}

static int fill(struct sl_store *w, int64_t n, int64_t start_ms)
{
    static char upload[8192], tagbuf[1024], matches[512], id[32], creator[32];
    double t0 = sl_mono();

    for (int64_t i = 0; i < n; i++) {
        if (i % BATCH == 0 && sl_store_begin(w) < 0)
            return -EIO;
        int64_t now = start_ms + i * (30 * DAY_MS / n);
        snprintf(id, sizeof(id), "v%08" PRIx64, (uint64_t)i);
        /* Creators of very unequal size: a few with thousands of uploads. */
        uint64_t c = rnd(4) == 0 ? rnd(100) : rnd(100000);
        snprintf(creator, sizeof(creator), "cr%05" PRIu64, c);
        char *p = upload;
        p += sprintf(p, "{\"creator\":\"%s\",\"description\":\"", creator);
        p = words(p, 60 + rnd(200));
        p += sprintf(p, "\"");
        bool hashed = rnd(10) == 0;
        if (hashed)
            p += sprintf(p, ",\"hashes\":[\"%016" PRIx64 "\"]", sl_splitmix64(&rng));
        p += sprintf(p, ",\"id\":\"%s\",\"title\":\"", id);
        p = words(p, 20 + rnd(40));
        p += sprintf(p, "\",\"transcript\":\"");
        p = words(p, rnd(3) ? 200 + rnd(600) : 0);
        p += sprintf(p, "\"}");
        char *t = tagbuf;
        t += sprintf(t, "{");
        for (int k = 0, nt = 1 + (int)rnd(3); k < nt; k++)
            t += sprintf(t, "%s\"%s\":{\"confidence\":%.2f,\"source\":\"policy\"}", k ? "," : "",
                         tags[rnd(NTAGS)], (double)rnd(100) / 100.0);
        sprintf(t, "}");
        const char *m = "[]";
        if (rnd(20) == 0) {
            snprintf(matches, sizeof(matches), "[{\"source\":\"keyword\",\"kind\":\"keyword\","
                     "\"name\":\"%s\",\"detail\":\"free money\",\"score\":0.6}]",
                     rnd(2) ? "spam" : "gambling");
            m = matches;
        } else if (hashed && rnd(10) == 0) {
            snprintf(matches, sizeof(matches), "[{\"source\":\"phash\",\"kind\":\"hash\","
                     "\"name\":\"known-bad\",\"detail\":\"00ff00ff00ff00ff\",\"score\":3}]");
            m = matches;
        }
        const char *state = pick_state();
        const struct sl_item_row row = {
            .id = id, .creator = creator, .state = state, .upload = upload,
            .upload_hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            .tags = tagbuf, .reasons = "[]", .matches = m, .now_ms = now,
        };
        const char *policy = i < n / 2 ? "policy:0a1b2c3d4e5f" : "policy:5f4e3d2c1b0a";
        const char *verdict = strcmp(state, "rejected") == 0 ? "rejected"
                            : strcmp(state, "in_review") == 0 || rnd(10) == 0 ? "in_review"
                            : "approved";
        struct sl_audit_rec up = { id, "token:ingest", "upload", NULL, "pending", "", now };
        struct sl_audit_rec vd = { id, policy, "verdict", "pending", verdict, "", now };
        if (sl_store_item_insert(w, &row) < 0 || sl_store_audit_append(w, &up) < 0 ||
            sl_store_audit_append(w, &vd) < 0)
            return -EIO;
        if (strcmp(state, "in_review") == 0 &&
            sl_store_queue_put(w, id, queues[rnd(5)], 50, "", NULL, now) < 0)
            return -EIO;
        /* People decided one in ten: twenty moderators. */
        if (strcmp(verdict, "in_review") == 0 && strcmp(state, "in_review") != 0) {
            char mod[32];
            snprintf(mod, sizeof(mod), "token:mod%02d", (int)rnd(20));
            bool removed = strcmp(state, "removed") == 0;
            struct sl_audit_rec d = { id, mod, removed ? "takedown" : "approve", "in_review",
                                      removed ? "removed" : "approved", "", now + 60000 };
            if (sl_store_audit_append(w, &d) < 0)
                return -EIO;
        }
        if ((i + 1) % BATCH == 0 || i + 1 == n) {
            if (sl_store_commit(w) < 0)
                return -EIO;
            if ((i + 1) % (BATCH * 10) == 0 || i + 1 == n)
                fprintf(stderr, "filled %" PRId64 " items, %.0f/s\n", i + 1,
                        (double)(i + 1) / (sl_mono() - t0));
        }
    }
    return 0;
}

struct query {
    const char *name;
    struct sl_search q;
    int pages;              /* the page timed: 1, or deeper with the cursor */
};

static int count(void *arg, int64_t seq, const char *id)
{
    (void)seq, (void)id;
    ++*(int64_t *)arg;
    return 0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void run(struct sl_store *r, struct query *qu, int repeats)
{
    double t[256], cold = 0;
    int64_t found = 0, scanned = 0;
    bool partial = false;

    for (int k = 0; k <= repeats && k < 256; k++) {
        struct sl_search q = qu->q;
        struct sl_search_end end = { 0 };
        int64_t n = 0;
        double t0 = sl_mono();
        /* A deep page: the pages before it walked first, untimed. */
        for (int page = 0; page < qu->pages; page++) {
            if (page == qu->pages - 1)
                t0 = sl_mono();
            q.limit = PAGE;
            q.deadline = sl_mono() + 5;
            if (sl_store_search(r, &q, count, &n, &end) < 0) {
                printf("%-44s failed\n", qu->name);
                return;
            }
            if (!end.next)
                break;
            q.before = end.next;
        }
        double dt = (sl_mono() - t0) * 1000;
        if (k == 0)
            cold = dt;
        else
            t[k - 1] = dt;
        found = end.found;
        scanned = end.scanned;
        partial |= end.partial;
    }
    qsort(t, (size_t)repeats, sizeof(t[0]), cmp);
    printf("%-44s %8.2f %8.2f %8.2f %8.2f %8.2f %6" PRId64 " %7" PRId64 "%s\n", qu->name,
           t[repeats / 2], t[repeats * 9 / 10], t[0], t[repeats - 1], cold, found, scanned,
           partial ? " partial" : "");
}

int main(int argc, char **argv)
{
    int64_t n = 1000000;
    int repeats = 21;
    const char *dir = NULL, *store = NULL;
    bool keep = false;
    int c;

    while ((c = getopt(argc, argv, "n:r:d:ks:")) != -1) {
        switch (c) {
        case 'n': n = strtoll(optarg, NULL, 10); break;
        case 'r': repeats = atoi(optarg); break;
        case 'd': dir = optarg; break;
        case 'k': keep = true; break;
        case 's': store = optarg; break;
        default:
            fprintf(stderr, "usage: bench_search [-n ITEMS] [-r REPEATS] [-d DIR] [-k]"
                    " [-s STORE]\n"
                    "  -d DIR    the store's directory: filled when it holds none, reused else\n"
                    "  -k        keep a store made in a temporary directory\n"
                    "  -s STORE  the store setting (sluice.conf(5)): a PostgreSQL\n"
                    "            connection string; filled when empty, reused else\n");
            return 2;
        }
    }
    if (n < 1000 || repeats < 3 || repeats > 255) {
        fprintf(stderr, "bench_search: -n 1000 or more, -r 3 to 255\n");
        return 2;
    }
    char tmp[] = "/tmp/bench_search.XXXXXX";
    if (!dir && !(dir = mkdtemp(tmp))) {
        perror("mkdtemp");
        return 1;
    }
    struct sl_store *w = NULL, *r = NULL;
    if (sl_store_open(store, dir, true, &w) < 0)
        return 1;
    int64_t have = 0;
    sl_store_seq_max(w, &have);
    int64_t start = sl_now_ms() - 30 * DAY_MS;
    if (have == 0) {
        double t0 = sl_mono();
        if (fill(w, n, start) < 0) {
            fprintf(stderr, "bench_search: the fill failed\n");
            return 1;
        }
        printf("fill: %" PRId64 " items in %.1f s (%.0f items/s)\n", n, sl_mono() - t0,
               (double)n / (sl_mono() - t0));
    } else {
        n = have;
        printf("reusing %s: %" PRId64 " items\n", store && *store ? "the store" : dir, n);
    }
    sl_store_free(w);
    char path[4200];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/sluice.db", dir);
    if (stat(path, &sb) == 0)
        printf("store: %.0f MiB\n", (double)sb.st_size / (1 << 20));
    if (sl_store_open(store, dir, false, &r) < 0)
        return 1;
    /* Times from the store's own first and last item. */
    json_t *first = NULL, *last = NULL;
    sl_store_search_row(r, "v00000000", &first);
    char lastid[32];
    snprintf(lastid, sizeof(lastid), "v%08" PRIx64, (uint64_t)(n - 1));
    sl_store_search_row(r, lastid, &last);
    int64_t t_first = json_integer_value(json_object_get(first, "created_ms"));
    int64_t t_last = json_integer_value(json_object_get(last, "created_ms"));
    json_decref(first);
    json_decref(last);
    int64_t week_ago = t_last - 7 * DAY_MS, day = t_first + 9 * DAY_MS;

    struct query qs[] = {
        { "newest (no filter)", { .limit = PAGE }, 1 },
        { "newest, the 20th page (cursor)", { .limit = PAGE }, 20 },
        { "creator (large: ~2,500 items)", { .creator = "cr00042" }, 1 },
        { "creator (small: ~8 items)", { .creator = "cr54321" }, 1 },
        { "state=approved (5%)", { .nstates = 1, .states = { "approved" } }, 1 },
        { "state=removed (2%)", { .nstates = 1, .states = { "removed" } }, 1 },
        { "state=removed, the 20th page", { .nstates = 1, .states = { "removed" } }, 20 },
        { "state=rejected,removed", { .nstates = 2, .states = { "rejected", "removed" } }, 1 },
        { "tag=age.child", { .tag = "age.child" }, 1 },
        { "tag=age.child tag_min=0.95", { .tag = "age.child", .tag_min = 0.95 }, 1 },
        { "queue=minors", { .queue = "minors" }, 1 },
        { "matched=spam", { .matched = "spam" }, 1 },
        { "matched=known-bad kind=hash", { .matched = "known-bad", .match_kind = "hash" }, 1 },
        { "decided_by=token:mod07", { .decided_by = "token:mod07" }, 1 },
        { "decided_by=policy (first half)", { .decided_by = "policy:0a1b2c3d4e5f" }, 1 },
        { "since_ms (a week ago)", { .since_ms = week_ago }, 1 },
        { "since..until (a day, 3 weeks ago)", { .since_ms = day, .until_ms = day + DAY_MS }, 1 },
        { "q=sunset (common)", { .terms = { "sunset" }, .nterms = 1 }, 1 },
        { "q=the (very common)", { .terms = { "the" }, .nterms = 1 }, 1 },
        { "q=每天更新 (Chinese)", { .terms = { "每天更新" }, .nterms = 1 }, 1 },
        { "q=图书馆 (Chinese, 3 characters)", { .terms = { "图书馆" }, .nterms = 1 }, 1 },
        { "q=\"guitar wedding\" (two words)", { .terms = { "guitar", "wedding" }, .nterms = 2 }, 1 },
        { "q=zxqv (nothing)", { .terms = { "zxqv" }, .nterms = 1 }, 1 },
        { "q=rain sunset dance (rare together)",
          { .terms = { "rain", "sunset", "dance" }, .nterms = 3 }, 1 },
        { "creator + q (large creator)", { .creator = "cr00042", .terms = { "guitar" },
                                            .nterms = 1 }, 1 },
        { "q=猫咪 (2 characters) + creator", { .creator = "cr00042", .terms = { "猫咪" },
                                                .nterms = 1 }, 1 },
        { "state + tag + since", { .nstates = 1, .states = { "in_review" }, .tag = "scene.beach",
                                   .tag_min = 0.5, .since_ms = week_ago }, 1 },
    };
    printf("\n%-44s %8s %8s %8s %8s %8s %6s %7s\n", "query (a page of 50)", "median", "p90",
           "min", "max", "cold", "found", "scanned");
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
        run(r, &qs[i], repeats);
    sl_store_free(r);
    if (!keep && dir == tmp) {
        char cmd[4300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_search: could not remove %s\n", dir);
    }
    return 0;
}
