/* SPDX-License-Identifier: MIT */
/* Start-up at scale: a store of N distributing items (200,000 by default) filled through the store API, then sluiced started on it and timed until it answers. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/mix.h"
#include "store/store.h"

/*
 * The store is what a busy platform's daemon leaves when it stops: USERS
 * users (100,000), each following FOLLOWS creators, and N items in state
 * distributing, each with the shipped policy's plan of six waves, its
 * first wave (the creator's followers) ended with FIRST users offered, the
 * second (nearby) running with SECOND offered, of whom SERVED were served
 * by a feed. Everything goes through the store API, in transactions of
 * 10,000 items, as the commit thread writes it.
 *
 * Then sluiced starts on it (-s SLUICED, with the policies of -p) and the
 * time from exec to the first 200 of /healthz is printed, REPEATS times
 * (the first from the page cache the fill left), with the distribution
 * load's own figure from sluiced's log, the CPU time sluiced used from
 * exec to its exit after SIGTERM (what a loaded machine does not move:
 * on a shared one the wall time is mostly waiting for a core), and the
 * peak resident memory.
 */

#define BATCH 10000

static uint64_t rng = 7;

static uint64_t rnd(uint64_t n)
{
    return sl_splitmix64(&rng) % n;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_start: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
    exit(1);
}

#define CHECK(what, call) do { int rc_ = (call); if (rc_ < 0) die(what, rc_); } while (0)

static const char PLAN[] =
    "{\"waves\":[{\"audience\":\"followers\",\"size\":10,\"limit_s\":3600,\"review\":false,"
    "\"fill\":0.6,\"check\":0},{\"audience\":\"nearby\",\"size\":20,\"limit_s\":3600,"
    "\"review\":false,\"fill\":0.6,\"check\":20},{\"audience\":\"everyone\",\"size\":50,"
    "\"limit_s\":3600,\"review\":false,\"fill\":0.6,\"check\":20},{\"audience\":\"everyone\","
    "\"size\":200,\"limit_s\":3600,\"review\":false,\"fill\":0.6,\"check\":20},"
    "{\"audience\":\"everyone\",\"size\":800,\"limit_s\":3600,\"review\":false,\"fill\":0.6,"
    "\"check\":20},{\"audience\":\"everyone\",\"size\":950,\"limit_s\":3600,\"review\":false,"
    "\"fill\":0.6,\"check\":20}],\"next\":2,\"reviewed\":0}";

static void wave_text(char *buf, size_t len, int n, const char *audience, int size, int placed,
                      long long started_ms, bool ended)
{
    char end[32];

    snprintf(end, sizeof(end), ended ? "%lld" : "null", started_ms + 60000);
    snprintf(buf, len,
             "{\"n\":%d,\"audience\":\"%s\",\"size\":%d,\"placed\":%d,\"present\":%d,"
             "\"fill\":0.6,\"check\":%d,\"next_check\":%d,\"checks\":0,\"started_ms\":%lld,"
             "\"limit_ms\":3600000,\"ended_ms\":%s,\"stats\":{\"impression\":%d,\"play\":0,"
             "\"complete\":0,\"like\":0,\"comment\":0,\"share\":0,\"follow\":0,\"skip\":0,"
             "\"dislike\":0,\"report\":0},\"decision\":\"%s\",\"ended_by\":\"%s\","
             "\"reason\":\"%s\",\"decided_by\":\"%s\"}",
             n, audience, size, placed, placed, n == 1 ? 0 : 20, n == 1 ? 0 : 20, started_ms,
             end, ended ? placed : 0, ended ? "go" : "", ended ? "checkpoint" : "",
             ended ? "bench" : "", ended ? "sluiced" : "");
}

struct opts {
    long items, users, follows, first, second, served;
    const char *dir, *sluiced, *policies;
    const char *store;      /* -S: a PostgreSQL connection string; NULL: SQLite in dir */
    int repeats;
    bool keep, fill_only;
};

static void fill(const struct opts *o)
{
    struct sl_store *w;
    char id[64], other[64], upload[256], buf[1024];
    int64_t now = sl_now_ms();
    long long started = (long long)now - 600000;    /* ten minutes before */
    size_t ncols = (size_t)(o->first > o->second ? o->first : o->second);
    char (*names)[32] = calloc(ncols, sizeof(*names));
    const char **users = calloc(ncols, sizeof(*users));
    double t0 = sl_mono();

    if (!names || !users)
        die("fill", -ENOMEM);
    for (size_t i = 0; i < ncols; i++)
        users[i] = names[i];
    CHECK("open", sl_store_open(o->store, o->dir, true, &w));
    if (!sl_store_created(w)) {
        fprintf(stderr, "bench_start: the store holds a sluice store already: started as it "
                        "is, not filled\n");
        sl_store_free(w);
        free(names);
        free(users);
        return;
    }
    CHECK("begin", sl_store_begin(w));
    for (long u = 0; u < o->users; u++) {
        snprintf(id, sizeof(id), "user-%ld", u);
        CHECK("user", sl_store_user_upsert(w, id, u % 3 ? "lisbon" : "porto",
                                           u % 2 ? "[\"music\"]" : "[]", now));
        for (long f = 0; f < o->follows; f++) {
            snprintf(other, sizeof(other), "creator-%" PRIu64, rnd(5000));
            CHECK("follow", sl_store_follow_set(w, id, other, true, now));
        }
        if (u % BATCH == BATCH - 1) {
            CHECK("commit", sl_store_commit(w));
            CHECK("begin", sl_store_begin(w));
        }
    }
    CHECK("commit", sl_store_commit(w));
    fprintf(stderr, "bench_start: %ld users in %.1f s\n", o->users, sl_mono() - t0);
    CHECK("begin", sl_store_begin(w));
    for (long i = 0; i < o->items; i++) {
        snprintf(id, sizeof(id), "item-%ld", i);
        snprintf(other, sizeof(other), "creator-%" PRIu64, rnd(5000));
        snprintf(upload, sizeof(upload), "{\"city\":\"lisbon\",\"creator\":\"%s\",\"id\":\"%s\","
                 "\"title\":\"bench item %ld\"}", other, id, i);
        struct sl_item_row row = {
            .id = id, .creator = other, .state = "distributing", .upload = upload,
            .upload_hash = "0000000000000000000000000000000000000000000000000000000000000000",
            .tags = "{}", .reasons = "[]", .matches = "[]",
            .verdict = "{\"actor\":\"bench\",\"state\":\"approved\"}", .plan = PLAN,
            .now_ms = now,
        };
        CHECK("item", sl_store_item_insert(w, &row));
        wave_text(buf, sizeof(buf), 1, "followers", 10, (int)o->first, started, true);
        CHECK("wave", sl_store_wave_put(w, id, 1, buf));
        wave_text(buf, sizeof(buf), 2, "nearby", 20, (int)o->second, started + 60000, false);
        CHECK("wave", sl_store_wave_put(w, id, 2, buf));
        for (long k = 0; k < o->first; k++)
            snprintf(names[k], sizeof(names[k]), "user-%" PRIu64, rnd((uint64_t)o->users));
        CHECK("offers", sl_store_offer_wave(w, id, 1, 1, users, (size_t)o->first));
        for (long k = 0; k < o->served && k < o->first; k++)
            CHECK("served", sl_store_offer_served(w, id, users[k]));
        for (long k = 0; k < o->second; k++)
            snprintf(names[k], sizeof(names[k]), "user-%" PRIu64, rnd((uint64_t)o->users));
        CHECK("offers", sl_store_offer_wave(w, id, 2, 2, users, (size_t)o->second));
        if (i % BATCH == BATCH - 1) {
            CHECK("commit", sl_store_commit(w));
            CHECK("begin", sl_store_begin(w));
        }
    }
    CHECK("commit", sl_store_commit(w));
    sl_store_free(w);
    free(names);
    free(users);
    fprintf(stderr, "bench_start: %ld distributing items in %.1f s total\n", o->items,
            sl_mono() - t0);
}

/* 0 once GET /healthz on port answers 200. */
static int healthy(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    char buf[64];
    int fd = socket(AF_INET, SOCK_STREAM, 0), rc = -1;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
        static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        ssize_t n = write(fd, req, sizeof(req) - 1);
        n = n > 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
        if (n > 12) {
            buf[n] = '\0';
            rc = strncmp(buf + 9, "200", 3) == 0 ? 0 : -1;
        }
    }
    close(fd);
    return rc;
}

/* The CPU time pid has used so far, all its threads, in seconds. */
static double cpu_of(pid_t pid)
{
    char path[64], buf[1024];
    unsigned long ut = 0, st = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (!(f = fopen(path, "r")))
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* After the command's closing parenthesis: state is field 3, utime 14. */
    char *p = strrchr(buf, ')');
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Start sluiced on the store, time it to its first healthy answer, stop it. */
static double start_once(const struct opts *o, int port, long *peak_kib, double *cpu,
                         double *cpu_ready)
{
    char listen[32], log[512], conf[512] = "/dev/null";
    struct rusage ru;
    int status;

    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    snprintf(log, sizeof(log), "%s/sluiced.log", o->dir);
    if (o->store) {
        snprintf(conf, sizeof(conf), "%s/bench.conf", o->dir);
        FILE *f = fopen(conf, "w");
        if (!f || fprintf(f, "store = \"%s\"\n", o->store) < 0 || fclose(f) != 0)
            die(conf, -EIO);
    }
    double t0 = sl_mono();
    pid_t pid = fork();
    if (pid < 0)
        die("fork", -errno);
    if (pid == 0) {
        FILE *f = fopen(log, "a");
        int fd = f ? fileno(f) : -1;
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(o->sluiced, o->sluiced, "--state", o->dir, "--policies", o->policies,
              "--listen", listen, "-c", conf, (char *)NULL);
        _exit(127);
    }
    double took = -1;
    while (sl_mono() - t0 < 300) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "bench_start: sluiced exited before it answered (see %s)\n", log);
            exit(1);
        }
        if (healthy(port) == 0) {
            took = sl_mono() - t0;
            *cpu_ready = cpu_of(pid);
            break;
        }
        usleep(2000);
    }
    kill(pid, SIGTERM);
    if (wait4(pid, &status, 0, &ru) == pid) {
        *peak_kib = ru.ru_maxrss;
        *cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    }
    if (took < 0)
        die("sluiced did not answer within 300 s", -ETIMEDOUT);
    return took;
}

int main(int argc, char **argv)
{
    struct opts o = { .items = 200000, .users = 100000, .follows = 5, .first = 10,
                      .second = 20, .served = 5, .repeats = 5, .sluiced = "core/sluiced",
                      .policies = "policies" };
    char tmpl[] = "/tmp/sluice-bench-start.XXXXXX";
    int c;

    while ((c = getopt(argc, argv, "n:u:r:d:s:p:S:kF")) != -1) {
        switch (c) {
        case 'n': o.items = atol(optarg); break;
        case 'u': o.users = atol(optarg); break;
        case 'r': o.repeats = atoi(optarg); break;
        case 'd': o.dir = optarg; break;
        case 's': o.sluiced = optarg; break;
        case 'p': o.policies = optarg; break;
        case 'S': o.store = optarg; break;
        case 'k': o.keep = true; break;
        case 'F': o.fill_only = true; break;
        default:
            fprintf(stderr, "usage: bench_start [-n ITEMS] [-u USERS] [-r REPEATS] [-d DIR] "
                            "[-s SLUICED] [-p POLICIES] [-S STORE] [-k] [-F]\n"
                            "  -d DIR  an existing store there is started, not filled\n"
                            "  -S STORE  a PostgreSQL connection string: the store is there\n"
                            "          (filled when it is empty; DIR keeps the logs)\n"
                            "  -F      fill only (into -d DIR, or a new folder kept)\n");
            return 2;
        }
    }
    if (o.items < 1 || o.users < o.second || o.users < o.first) {
        fprintf(stderr, "bench_start: need at least one item and more users than a wave\n");
        return 2;
    }
    struct stat sb;
    bool existing = o.dir && stat(o.dir, &sb) == 0;
    /* A folder named with -d, or filled with -F, is kept. */
    o.keep |= o.dir != NULL || o.fill_only;
    if (!o.dir && !(o.dir = mkdtemp(tmpl)))
        die("mkdtemp", -errno);
    if (!existing || o.fill_only) {
        if (!existing && mkdir(o.dir, 0700) < 0 && errno != EEXIST)
            die(o.dir, -errno);
        chmod(o.dir, 0700);
        fill(&o);
    }
    if (!o.fill_only) {
        int port = 20000 + (int)(getpid() % 10000);
        for (int i = 0; i < o.repeats; i++) {
            long peak = 0;
            double cpu = 0, ready = 0, t = start_once(&o, port, &peak, &cpu, &ready);
            printf("start %d: %.3f s to the first answer, CPU %.2f s by then (%.2f s with "
                   "the stop); peak %ld MiB\n", i + 1, t, ready, cpu, peak / 1024);
            fflush(stdout);
        }
        printf("sluiced's own figures (its log):\n");
        fflush(stdout);
        char cmd[600];
        snprintf(cmd, sizeof(cmd),
                 "grep -h 'distribution: .* \\(loaded\\|resumed\\) in' '%s/sluiced.log'", o.dir);
        if (system(cmd) != 0)
            printf("  (none found)\n");
    }
    if (o.keep) {
        fprintf(stderr, "bench_start: the store is in %s\n", o.dir);
    } else {
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", o.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_start: could not remove %s\n", o.dir);
    }
    return 0;
}
