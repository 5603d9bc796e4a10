/* SPDX-License-Identifier: MIT */
/* sluicectl policy: check a file, reload, replay a candidate directory. */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "lib/clock.h"

#define FILE_MAX (4 << 20)      /* the daemon takes no policy source larger */
#define POLL_MS_FIRST 50        /* a job's first poll, doubling up to */
#define POLL_MS_MAX 1000

long long sl_ctl_duration(const char *s)
{
    long long total = 0;

    if (!*s)
        return -1;
    while (*s) {
        if (!isdigit((unsigned char)*s))
            return -1;
        errno = 0;
        char *end;
        long long n = strtoll(s, &end, 10);
        long long unit;
        switch (*end) {
        case 's': unit = 1000; break;
        case 'm': unit = 60 * 1000LL; break;
        case 'h': unit = 3600 * 1000LL; break;
        case 'd': unit = 86400 * 1000LL; break;
        case 'w': unit = 7 * 86400 * 1000LL; break;
        default: return -1;
        }
        if (errno || n > (LLONG_MAX / 4) / unit || total > LLONG_MAX / 4 - n * unit)
            return -1;
        total += n * unit;
        s = end + 1;
    }
    return total > 0 ? total : -1;
}

/* A local file's text, NUL-terminated; NULL with errno set. */
static char *slurp(const char *path, size_t *len)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > FILE_MAX) {
        int e = fstat(fd, &st) == 0 && !S_ISREG(st.st_mode) ? EISDIR : EFBIG;
        close(fd);
        errno = e;
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t n = 0;
    ssize_t got = 1;
    while (buf && n < (size_t)st.st_size &&
           (got = read(fd, buf + n, (size_t)st.st_size - n)) > 0)
        n += (size_t)got;
    close(fd);
    if (!buf || got < 0) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The daemon names the file as it knows it ("20-review.lua:12: ..."); say it
 * as the user typed it, so editors can jump to "FILE:LINE". */
static void print_policy_error(const char *file, const char *msg)
{
    const char *name = base_name(file);
    size_t n = strlen(name);

    for (const char *p = strstr(msg, name); p; p = strstr(p + 1, name)) {
        const char *start = p;
        while (start > msg && start[-1] != ' ' && start[-1] != '\n')
            start--;
        if ((start == p || start[p - start - 1] == '/') && p[n] == ':') {
            fprintf(stderr, "%.*s%s%s\n", (int)(start - msg), msg, file, p + n);
            return;
        }
    }
    fprintf(stderr, "%s: %s\n", file, msg);
}

/* {====================== Jobs ======================================== */

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* "replaying: 1234 uploads examined" on a terminal, in place. */
static void show_progress(const struct client *c, const char *what, json_t *job, bool *shown)
{
    json_t *p = json_object_get(job, "progress");

    if (c->json || !what || !isatty(STDERR_FILENO) || !json_is_integer(json_object_get(p, "done")))
        return;
    fprintf(stderr, "\r%s: %lld", what, num(p, "done"));
    if (json_is_integer(json_object_get(p, "total")))
        fprintf(stderr, " of %lld", num(p, "total"));
    fputs(" examined", stderr);
    *shown = true;
}

/*
 * POST body to path. The daemon runs policy checks and replays as jobs:
 * it answers 202 {"job": ID}, and GET /v1/jobs/ID answers 202 with the
 * progress until the job is over, then what the route would have answered.
 * Poll it for at most timeout seconds; rep is that answer (any status).
 * 0, or the exit status after saying why.
 */
static int run_job(struct client *c, const char *path, const char *body, const char *what,
                   int timeout, struct reply *rep)
{
    int rc = sl_ctl_request(c, EVHTTP_REQ_POST, path, body, -1, TIMEOUT_S, rep);
    char where[300], id[64];
    bool shown = false;

    if (rc || rep->status != 202)
        return rc;
    json_t *job = json_loads(rep->body, 0, NULL);
    snprintf(id, sizeof(id), "%s", str(job, "job"));
    json_decref(job);
    if (!*id)
        return 0;       /* a 202 that is not a job: the answer as it came */
    sl_ctl_id_path(where, sizeof(where), "/v1/jobs/%s", id);
    double deadline = sl_mono() + timeout;
    for (int wait = POLL_MS_FIRST;; wait = wait * 2 > POLL_MS_MAX ? POLL_MS_MAX : wait * 2) {
        free(rep->body);
        rep->body = NULL;
        if (sl_mono() > deadline) {
            if (shown)
                fputc('\n', stderr);
            return sl_ctl_fail(c, EXIT_REFUSED, "timeout", "job %s is not over after %d s "
                               "(GET %s tells when it is)", id, timeout, where);
        }
        sleep_ms(wait);
        if ((rc = sl_ctl_request(c, EVHTTP_REQ_GET, where, NULL, -1, TIMEOUT_S, rep)))
            break;
        if (rep->status != 202)
            break;
        job = json_loads(rep->body, 0, NULL);
        show_progress(c, what, job, &shown);
        json_decref(job);
    }
    if (shown)
        fputc('\n', stderr);
    return rc;
}

/* }===================================================================== */

static int policy_check(struct client *c, const char *file)
{
    struct reply rep;
    size_t len;
    char *src = slurp(file, &len);

    if (!src)
        return sl_ctl_fail(c, EXIT_USAGE, "usage", "cannot read %s: %s", file, strerror(errno));
    json_t *body = json_pack("{s:s, s:s%}", "name", base_name(file), "source", src, len);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    free(src);
    if (!text)
        return sl_ctl_fail(c, EXIT_USAGE, "usage", "%s is not UTF-8 text", file);
    int rc = run_job(c, "/v1/policies/check", text, NULL, SLOW_TIMEOUT_S, &rep);
    free(text);
    if (rc)
        return rc;
    json_t *res = json_loads(rep.body, 0, NULL);
    json_t *e = json_object_get(res, "error");
    if (rep.status == 422 && strcmp(str(e, "code"), "policy_error") == 0) {
        print_policy_error(file, str(e, "message"));
        if (c->json)
            printf("%s\n", rep.body);
        rc = EXIT_REFUSED;
    } else if (rep.status != 200) {
        rc = sl_ctl_refused(c, &rep);
    } else if (c->json) {
        printf("%s\n", rep.body);
    } else {
        printf("%s: ok\n", file);
    }
    json_decref(res);
    free(rep.body);
    return rc;
}

static int policy_reload(struct client *c)
{
    json_t *res;
    int rc = sl_ctl_call(c, EVHTTP_REQ_POST, "/v1/policies/reload", NULL, &res);

    if (rc == 0 && !c->json)
        printf("policies reloaded: version %s (was %s), %zu files\n", str(res, "version"),
               str(res, "previous"), json_array_size(json_object_get(res, "files")));
    json_decref(res);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.lua file of dir as {"NAME.lua": text}; NULL after saying why. */
static json_t *read_policy_dir(struct client *c, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char *names[256];
    size_t n = 0;

    if (!d) {
        sl_ctl_fail(c, EXIT_USAGE, "usage", "cannot open the directory %s: %s", dir, strerror(errno));
        return NULL;
    }
    while ((de = readdir(d)) && n < sizeof(names) / sizeof(names[0])) {
        size_t len = strlen(de->d_name);
        if (len > 4 && de->d_name[0] != '.' && strcmp(de->d_name + len - 4, ".lua") == 0)
            names[n++] = strdup(de->d_name);
    }
    bool too_many = de != NULL;
    closedir(d);
    qsort(names, n, sizeof(names[0]), by_name);
    json_t *files = json_object();
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        size_t len;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        char *src = files ? slurp(path, &len) : NULL;
        json_t *s = src ? json_stringn(src, len) : NULL;
        if (files && !s) {
            sl_ctl_fail(c, EXIT_USAGE, "usage", "cannot read %s: %s", path,
                 src ? "not UTF-8 text" : strerror(errno));
            json_decref(files);
            files = NULL;
        }
        if (s)
            json_object_set_new(files, names[i], s);
        free(src);
        free(names[i]);
    }
    if (files && (too_many || n == 0)) {
        sl_ctl_fail(c, EXIT_USAGE, "usage", too_many ? "%s has more than 256 policy files"
                                              : "%s has no *.lua policy files", dir);
        json_decref(files);
        files = NULL;
    }
    return files;
}

static void print_outcome(json_t *o)
{
    printf("%s", str(o, "state"));
    if (*str(o, "queue"))
        printf(" (%s)", str(o, "queue"));
    if (*str(o, "reason")) {
        fputs(": ", stdout);
        sl_ctl_put_text(stdout, str(o, "reason"), 120, false);
    }
}

/* A wave decision as "ID wave N: continue -> stop"; what the daemon sends
 * beyond that shape is shown as it came. */
static void print_wave(json_t *w)
{
    json_t *from = json_object_get(w, "from"), *to = json_object_get(w, "to");

    fputs("  ", stdout);
    if (!*str(w, "id") || !from || !to) {
        char *line = json_dumps(w, JSON_COMPACT);
        sl_ctl_put_text(stdout, line, 300, false);
        free(line);
    } else {
        sl_ctl_put_text(stdout, str(w, "id"), 0, false);
        if (json_is_integer(json_object_get(w, "wave")))
            printf(" wave %lld", num(w, "wave"));
        fputs(": ", stdout);
        for (int k = 0; k < 2; k++) {
            json_t *o = k ? to : from;
            const char *d = json_is_string(o) ? json_string_value(o) : str(o, "decision");
            sl_ctl_put_text(stdout, d, 0, false);
            if (*str(o, "audience")) {
                fputs(" (", stdout);
                sl_ctl_put_text(stdout, str(o, "audience"), 0, false);
                fputc(')', stdout);
            }
            fputs(k ? "\n" : "  ->  ", stdout);
        }
    }
    if (!*str(w, "id") || !from || !to)
        fputc('\n', stdout);
}

static int policy_replay(struct client *c, const char *dir, const char *since)
{
    long long window = since ? sl_ctl_duration(since) : 0;
    json_t *res, *v;
    const char *k;
    size_t i;

    if (window < 0)
        return usage_error(c, "--since wants a duration like 30m, 24h or 7d, not '%s'", since);
    json_t *files = read_policy_dir(c, dir);
    if (!files)
        return EXIT_USAGE;
    json_t *body = json_pack("{s:o}", "files", files);
    if (since)
        json_object_set_new(body, "since_ms", json_integer(sl_now_ms() - window));
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        return sl_ctl_fail(c, EXIT_USAGE, "usage", "the files of %s are not UTF-8 text", dir);
    struct reply rep;
    int rc = run_job(c, "/v1/policies/replay", text, "replaying", SLOW_TIMEOUT_S, &rep);
    free(text);
    if (rc)
        return rc;
    if (rep.status < 200 || rep.status > 299) {
        rc = sl_ctl_refused(c, &rep);
        free(rep.body);
        return rc;
    }
    res = json_loads(rep.body, 0, NULL);
    if (res && c->json)
        printf("%s%s", rep.body, rep.len && rep.body[rep.len - 1] == '\n' ? "" : "\n");
    free(rep.body);
    if (!res)
        return sl_ctl_fail(c, EXIT_REFUSED, "bad_answer", "the daemon's answer is not JSON");
    if (c->json) {
        json_decref(res);
        return 0;
    }
    json_t *changed = json_object_get(res, "changed");
    long long total = 0;
    json_object_foreach(json_object_get(res, "counts"), k, v)
        total += json_integer_value(v);
    printf("candidate %s (from %s) against the running %s\n", str(res, "version"), dir,
           str(res, "current"));
    printf("uploads examined%s: %lld; verdicts that would change: %lld\n",
           since ? " since then" : "", num(res, "examined"), total);
    json_object_foreach(json_object_get(res, "counts"), k, v)
        printf("  %-28s %lld\n", k, (long long)json_integer_value(v));
    if (json_array_size(changed))
        printf("changed:\n");
    json_array_foreach(changed, i, v) {
        fputs("  ", stdout);
        sl_ctl_put_text(stdout, str(v, "id"), 0, false);
        fputs("  ", stdout);
        print_outcome(json_object_get(v, "from"));
        fputs("  ->  ", stdout);
        print_outcome(json_object_get(v, "to"));
        fputc('\n', stdout);
    }
    if ((long long)json_array_size(changed) < total)
        printf("  ... and %lld more (--json lists what the daemon sent)\n",
               total - (long long)json_array_size(changed));
    json_t *waves = json_object_get(res, "waves");
    printf("distribution waves examined: %lld; decisions that would change: %zu\n",
           num(waves, "examined"), json_array_size(json_object_get(waves, "changed")));
    json_array_foreach(json_object_get(waves, "changed"), i, v)
        print_wave(v);
    json_decref(res);
    return 0;
}

int sl_ctl_policy(struct client *c, int argc, char **argv)
{
    static const char *use = "policy check FILE | policy reload | policy replay DIR [--since DURATION]";
    struct args a;
    int rc = sl_ctl_args(c, argc, argv, A_SINCE, 1, 2, use, &a);

    if (rc)
        return rc;
    if (strcmp(a.pos[0], "check") == 0 && a.n == 2 && !a.since)
        return policy_check(c, a.pos[1]);
    if (strcmp(a.pos[0], "reload") == 0 && a.n == 1 && !a.since)
        return policy_reload(c);
    if (strcmp(a.pos[0], "replay") == 0 && a.n == 2)
        return policy_replay(c, a.pos[1], a.since);
    return usage_error(c, "use: %s", use);
}
