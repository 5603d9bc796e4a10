/* SPDX-License-Identifier: MIT */
/* sluicectl search, bulk and creator: what was decided, acting on many items at once, a creator. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/http.h>
#include <jansson.h>

#include "ctl/ctl.h"

#define POLL_MS_MAX 1000
#define ALL_PAGES_MAX 1000      /* search --all stops there (200,000 items) */

/* {====================== Filters ====================================== */

/* The search filters a command line gives, as the daemon names them. */
struct filters {
    json_t *obj;                /* {filter: value}: a bulk body's search */
    const char *limit, *cursor, *reason, *queue, *mode;
    bool all, dry_run, yes, wait, no_items;
    const char *words[8];       /* positional words */
    int nwords;
    char text[1024];            /* the q words, joined */
};

static const struct flag {
    const char *name;           /* --NAME */
    const char *filter;         /* the daemon's name; NULL: the command's own */
} flags[] = {
    { "creator", "creator" }, { "state", "state" }, { "tag", "tag" }, { "tag-min", "tag_min" },
    { "queue", "queue" }, { "matched", "matched" }, { "match-kind", "match_kind" },
    { "decided-by", "decided_by" }, { "since-ms", "since_ms" }, { "until-ms", "until_ms" },
    { "since", NULL }, { "q", "q" }, { "limit", NULL }, { "cursor", NULL }, { "reason", NULL },
    { "to-queue", NULL }, { "mode", NULL },
};

/* The daemon's time now (its clock may be a simulation's). */
static int daemon_now(struct client *c, long long *now)
{
    json_t *res;
    bool json = c->json;
    c->json = false;
    int rc = sl_ctl_call(c, EVHTTP_REQ_GET, "/v1/clock", NULL, &res);
    c->json = json;
    if (rc)
        return rc;
    *now = num(res, "now_ms");
    json_decref(res);
    return 0;
}

/* Words and --flags, in any order; numbers go to the daemon as given (it
 * says what is wrong with them). */
static int read_filters(struct client *c, int argc, char **argv, const char *use,
                        struct filters *f)
{
    memset(f, 0, sizeof(*f));
    if (!(f->obj = json_object()))
        return sl_ctl_fail(c, EXIT_REFUSED, "nomem", "out of memory");
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || arg[1] != '-' || arg[2] == '\0') {
            if (f->nwords == 8)
                return usage_error(c, "too many words; use: %s", use);
            f->words[f->nwords++] = arg;
            continue;
        }
        const char *name = arg + 2;
        if (strcmp(name, "json") == 0) { c->json = true; continue; }
        if (strcmp(name, "all") == 0) { f->all = true; continue; }
        if (strcmp(name, "dry-run") == 0) { f->dry_run = true; continue; }
        if (strcmp(name, "yes") == 0) { f->yes = true; continue; }
        if (strcmp(name, "wait") == 0) { f->wait = true; continue; }
        if (strcmp(name, "no-items") == 0) { f->no_items = true; continue; }
        const char *eq = strchr(name, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        size_t k = 0;
        while (k < sizeof(flags) / sizeof(flags[0]) &&
               (strlen(flags[k].name) != n || strncmp(flags[k].name, name, n) != 0))
            k++;
        if (k == sizeof(flags) / sizeof(flags[0]))
            return usage_error(c, "unknown option '%s'; use: %s", arg, use);
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v || !*v)
            return usage_error(c, "--%s needs a value; use: %s", flags[k].name, use);
        if (flags[k].filter)
            json_object_set_new(f->obj, flags[k].filter, json_string(v));
        else if (strcmp(flags[k].name, "since") == 0) {
            long long span = sl_ctl_duration(v), now;
            if (span < 0)
                return usage_error(c, "--since wants a duration like 30m, 24h or 7d, not '%s'",
                                   v);
            int rc = daemon_now(c, &now);
            if (rc)
                return rc;
            json_object_set_new(f->obj, "since_ms", json_integer(now - span));
        } else if (strcmp(flags[k].name, "limit") == 0)
            f->limit = v;
        else if (strcmp(flags[k].name, "cursor") == 0)
            f->cursor = v;
        else if (strcmp(flags[k].name, "reason") == 0)
            f->reason = v;
        else if (strcmp(flags[k].name, "to-queue") == 0)
            f->queue = v;
        else
            f->mode = v;
    }
    return 0;
}

/* The words after the command's own, as the text to find. */
static void take_text(struct filters *f, int from)
{
    for (int i = from; i < f->nwords; i++)
        snprintf(f->text + strlen(f->text), sizeof(f->text) - strlen(f->text), "%s%s",
                 f->text[0] ? " " : "", f->words[i]);
    if (f->text[0] && !json_object_get(f->obj, "q"))
        json_object_set_new(f->obj, "q", json_string(f->text));
}

/* The filters (and limit, cursor) as a query string. */
static void query_string(const struct filters *f, const char *cursor, char *buf, size_t len)
{
    const char *k;
    json_t *v;
    size_t at = 0;

    buf[0] = '\0';
    json_object_foreach(f->obj, k, v) {
        char num_text[32];
        const char *s = json_string_value(v);
        if (!s) {
            snprintf(num_text, sizeof(num_text), "%lld", (long long)json_integer_value(v));
            s = num_text;
        }
        char *esc = evhttp_uriencode(s, -1, 0);
        at += (size_t)snprintf(buf + at, at < len ? len - at : 0, "%s%s=%s", at ? "&" : "?",
                               k, esc ? esc : "");
        free(esc);
    }
    if (f->limit)
        at += (size_t)snprintf(buf + at, at < len ? len - at : 0, "%slimit=%s", at ? "&" : "?",
                               f->limit);
    if (cursor)
        snprintf(buf + at, at < len ? len - at : 0, "%scursor=%s", at ? "&" : "?", cursor);
}

static void free_filters(struct filters *f)
{
    json_decref(f->obj);
}

/* }===================================================================== */

/* {====================== Printing ===================================== */

static void print_head(void)
{
    printf("%-26s %-12s %-16s %-22s %s\n", "ID", "STATE", "CREATOR", "DECIDED", "TITLE");
}

/* One search row: who decided last and how, then the uploader's title. */
static void print_row(json_t *it)
{
    json_t *dec = json_object_get(it, "decided");
    char decided[64] = "-";
    const char *actor = str(dec, "actor");

    if (json_is_object(dec))
        snprintf(decided, sizeof(decided), "%s %s", str(dec, "action"),
                 strncmp(actor, "token:", 6) == 0 ? actor + 6 : actor);
    /* Ids and states are ids: nothing in them can drive a terminal. */
    printf("%-26s %-12s %-16s %-22.22s ", str(it, "id"), str(it, "state"), str(it, "creator"),
           decided);
    sl_ctl_put_text(stdout, str(it, "title"), 60, false);
    fputc('\n', stdout);
}

/* }===================================================================== */

/* {====================== search ======================================= */

int sl_ctl_search(struct client *c, int argc, char **argv)
{
    static const char *use = "search [--creator ID] [--state S[,S...]] [--tag NAME "
                             "[--tag-min X]] [--queue NAME] [--matched NAME [--match-kind K]] "
                             "[--decided-by ACTOR] [--since DUR | --since-ms MS] [--until-ms MS] "
                             "[--limit N] [--cursor C | --all] [WORDS...]";
    struct filters f;
    char path[8192];
    json_t *page = NULL, *all = NULL;
    int rc = read_filters(c, argc, argv, use, &f);

    if (rc) {
        free_filters(&f);
        return rc;
    }
    take_text(&f, 0);
    if (f.all && f.cursor) {
        free_filters(&f);
        return usage_error(c, "--all walks every page from the first; give it or --cursor");
    }
    const char *cursor = f.cursor;
    char next[64] = "";
    bool partial = false;
    int pages = 0;
    if (f.all && c->json)
        all = json_array();
    if (!c->json)
        print_head();
    do {
        query_string(&f, cursor, path + 9, sizeof(path) - 9);
        memcpy(path, "/v1/items", 9);
        rc = sl_ctl_call_as(c, EVHTTP_REQ_GET, path, NULL, TIMEOUT_S, f.all, &page);
        if (rc)
            break;
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(page, "items"), i, it) {
            if (all)
                json_array_append(all, it);
            else if (!c->json)
                print_row(it);
        }
        partial |= json_is_true(json_object_get(page, "partial"));
        snprintf(next, sizeof(next), "%s", str(page, "next"));
        cursor = next;
        json_decref(page);
        page = NULL;
    } while (f.all && next[0] && ++pages < ALL_PAGES_MAX);
    if (rc == 0 && all) {
        json_t *out = json_pack("{s:O, s:s?, s:b}", "items", all, "next",
                                next[0] ? next : NULL, "partial", partial);
        json_dumpf(out, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(out);
    } else if (rc == 0 && !c->json && next[0])
        printf("more: --cursor %s%s\n", next,
               partial ? " (the search stopped at its time bound; it goes on from there)" : "");
    json_decref(all);
    free_filters(&f);
    return rc;
}

/* }===================================================================== */

/* {====================== bulk ========================================= */

static void print_job(json_t *j)
{
    printf("job %s: %s %s, %s", str(j, "id"), str(j, "kind"), str(j, "action"), str(j, "state"));
    if (json_integer_value(json_object_get(j, "total")) >= 0)
        printf(", %s%lld items", json_is_true(json_object_get(j, "total_exact")) ? ""
                                                                                  : "at least ",
               num(j, "total"));
    printf(": %lld looked at, %lld acted on, %lld left as they were",
           num(j, "examined"), num(j, "acted"), num(j, "skipped"));
    if (json_string_value(json_object_get(j, "error")))
        printf(" (%s)", str(j, "error"));
    fputc('\n', stdout);
    if (strcmp(str(j, "state"), "awaiting_confirmation") == 0)
        printf("another moderator confirms it with: sluicectl bulk confirm %s\n", str(j, "id"));
}

/* Poll a job until it ends (50 ms, doubling to a second). */
static int wait_job(struct client *c, const char *id, json_t **out)
{
    char path[256];
    long ms = 50;

    sl_ctl_id_path(path, sizeof(path), "/v1/bulk/%s", id);
    for (;;) {
        int rc = sl_ctl_call_as(c, EVHTTP_REQ_GET, path, NULL, TIMEOUT_S, true, out);
        if (rc)
            return rc;
        const char *st = str(*out, "state");
        if (strcmp(st, "running") != 0)
            return 0;
        json_decref(*out);
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
        ms = ms * 2 > POLL_MS_MAX ? POLL_MS_MAX : ms * 2;
    }
}

/* A job's answer: printed, waited for when asked. */
static int show_job(struct client *c, json_t *job, bool wait)
{
    json_t *done = NULL;
    int rc = 0;

    if (wait && strcmp(str(job, "state"), "running") == 0) {
        rc = wait_job(c, str(job, "id"), &done);
        if (rc == 0)
            job = done;
    }
    if (rc == 0 && c->json && wait) {
        json_dumpf(job, stdout, JSON_COMPACT);      /* quiet until now */
        fputc('\n', stdout);
    } else if (rc == 0 && !c->json)
        print_job(job);
    json_decref(done);
    if (rc == 0 && strcmp(str(job, "state"), "failed") == 0)
        rc = EXIT_REFUSED;
    return rc;
}

static void print_dry(json_t *d)
{
    size_t i;
    json_t *it;

    printf("%s would act on %s%lld items%s\n", str(d, "action"),
           json_is_true(json_object_get(d, "exact")) ? "" : "at least ", num(d, "count"),
           json_is_true(json_object_get(d, "needs_confirmation"))
               ? " (more than bulk_confirm_above: a second moderator must confirm)" : "");
    if (json_array_size(json_object_get(d, "sample")))
        print_head();
    json_array_foreach(json_object_get(d, "sample"), i, it)
        print_row(it);
}

/* bulk takedown|review|restore FILTERS --reason R: a dry run first; then,
 * with --yes (or a yes at the terminal), the job. */
static int bulk_act(struct client *c, const char *action, struct filters *f)
{
    json_t *res = NULL;
    char line[16];

    if (!f->reason)
        return usage_error(c, "bulk %s needs --reason TEXT: every item's audit record "
                           "carries it", action);
    json_t *body = json_pack("{s:s, s:O, s:s, s:b}", "action", action, "search", f->obj,
                             "reason", f->reason, "dry_run", 1);
    if (f->queue)
        json_object_set_new(body, "queue", json_string(f->queue));
    int rc = 0;
    if (!f->yes || f->dry_run) {
        rc = sl_ctl_call_as(c, EVHTTP_REQ_POST, "/v1/bulk", body, TIMEOUT_S, !f->dry_run, &res);
        if (rc == 0 && !c->json)
            print_dry(res);
        if (rc || f->dry_run) {
            json_decref(res);
            json_decref(body);
            return rc;
        }
        if (!isatty(STDIN_FILENO)) {
            json_decref(res);
            json_decref(body);
            return usage_error(c, "not a terminal to ask: add --yes to act, or --dry-run to "
                               "only count");
        }
        printf("%s %lld items? [y/N] ", action, num(res, "count"));
        fflush(stdout);
        json_decref(res);
        res = NULL;
        if (!fgets(line, sizeof(line), stdin) || (line[0] != 'y' && line[0] != 'Y')) {
            json_decref(body);
            printf("nothing done\n");
            return 0;
        }
    }
    json_object_set_new(body, "dry_run", json_false());
    rc = sl_ctl_call_as(c, EVHTTP_REQ_POST, "/v1/bulk", body, TIMEOUT_S, f->wait, &res);
    json_decref(body);
    if (rc == 0)
        rc = show_job(c, res, f->wait);
    json_decref(res);
    return rc;
}

int sl_ctl_bulk(struct client *c, int argc, char **argv)
{
    static const char *use = "bulk takedown|review|restore FILTERS --reason TEXT [--to-queue Q] "
                             "[--dry-run | --yes] [--wait] | bulk status|confirm|cancel ID "
                             "[--wait] | bulk list [--limit N]";
    struct filters f;
    char path[256];
    json_t *res = NULL;
    int rc = read_filters(c, argc, argv, use, &f);

    if (rc || f.nwords == 0) {
        free_filters(&f);
        return rc ? rc : usage_error(c, "use: %s", use);
    }
    const char *sub = f.words[0];
    if (strcmp(sub, "takedown") == 0 || strcmp(sub, "review") == 0 ||
        strcmp(sub, "restore") == 0) {
        take_text(&f, 1);
        rc = bulk_act(c, sub, &f);
    } else if (strcmp(sub, "list") == 0 && f.nwords == 1) {
        snprintf(path, sizeof(path), "/v1/bulk%s%s", f.limit ? "?limit=" : "",
                 f.limit ? f.limit : "");
        rc = sl_ctl_call(c, EVHTTP_REQ_GET, path, NULL, &res);
        size_t i;
        json_t *j;
        if (rc == 0 && !c->json)
            json_array_foreach(json_object_get(res, "jobs"), i, j)
                print_job(j);
    } else if ((strcmp(sub, "status") == 0 || strcmp(sub, "confirm") == 0 ||
                strcmp(sub, "cancel") == 0) && f.nwords == 2) {
        bool get = strcmp(sub, "status") == 0;
        sl_ctl_id_path(path, sizeof(path), "/v1/bulk/%s", f.words[1]);
        if (!get)
            snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s", sub);
        rc = sl_ctl_call_as(c, get ? EVHTTP_REQ_GET : EVHTTP_REQ_POST, path, NULL, TIMEOUT_S,
                            f.wait, &res);
        if (rc == 0)
            rc = show_job(c, res, f.wait);
    } else {
        rc = usage_error(c, "use: %s", use);
    }
    json_decref(res);
    free_filters(&f);
    return rc;
}

/* }===================================================================== */

/* {====================== creator ====================================== */

static void print_creator(json_t *p)
{
    json_t *sus = json_object_get(p, "suspension"), *rep = json_object_get(p, "reports");
    json_t *me = json_object_get(p, "reporter"), *st = json_object_get(p, "standing");
    const char *k;
    json_t *v;
    size_t i;

    printf("creator %s: %lld uploads, %lld rejected\n", str(p, "creator"), num(st, "uploads"),
           num(st, "rejections"));
    printf("items:");
    json_object_foreach(json_object_get(p, "states"), k, v)
        printf(" %s %lld", k, (long long)json_integer_value(v));
    printf("%s\n", json_object_size(json_object_get(p, "states")) ? "" : " none");
    if (json_is_object(sus)) {
        printf("suspended (%s) by %s: ", strcmp(str(sus, "mode"), "refuse") == 0
               ? "uploads refused" : "uploads held for review", str(sus, "by"));
        sl_ctl_put_text(stdout, str(sus, "reason"), 200, false);
        fputc('\n', stdout);
    }
    printf("reports against their items: %lld on %lld items (%lld pending, %lld upheld, "
           "%lld dismissed)\n", num(rep, "reports"), num(rep, "items"), num(rep, "pending"),
           num(rep, "upheld"), num(rep, "dismissed"));
    if (json_is_object(me))
        printf("their own reports: %lld (%lld upheld, %lld dismissed)\n", num(me, "reports"),
               num(me, "upheld"), num(me, "dismissed"));
    if (json_array_size(json_object_get(p, "recent"))) {
        print_head();
        json_array_foreach(json_object_get(p, "recent"), i, v)
            print_row(v);
    }
}

int sl_ctl_creator(struct client *c, int argc, char **argv)
{
    static const char *use = "creator ID | creator suspend ID --reason TEXT [--mode "
                             "review|refuse] | creator restore ID --reason TEXT [--no-items] "
                             "[--wait]";
    struct filters f;
    char path[512];
    json_t *res = NULL, *body = NULL;
    int rc = read_filters(c, argc, argv, use, &f);

    if (rc || f.nwords == 0 || json_object_size(f.obj)) {
        free_filters(&f);
        return rc ? rc : usage_error(c, "use: %s", use);
    }
    if (f.nwords == 1) {
        sl_ctl_id_path(path, sizeof(path), "/v1/creators/%s", f.words[0]);
        rc = sl_ctl_call(c, EVHTTP_REQ_GET, path, NULL, &res);
        if (rc == 0 && !c->json)
            print_creator(res);
    } else if (f.nwords == 2 && (strcmp(f.words[0], "suspend") == 0 ||
                                 strcmp(f.words[0], "restore") == 0)) {
        bool suspend = strcmp(f.words[0], "suspend") == 0;
        if (!f.reason) {
            free_filters(&f);
            return usage_error(c, "creator %s needs --reason TEXT", f.words[0]);
        }
        char fmt[64];
        snprintf(fmt, sizeof(fmt), "/v1/creators/%%s/%s", f.words[0]);
        sl_ctl_id_path(path, sizeof(path), fmt, f.words[1]);
        body = json_pack("{s:s}", "reason", f.reason);
        if (suspend && f.mode)
            json_object_set_new(body, "mode", json_string(f.mode));
        if (!suspend && f.no_items)
            json_object_set_new(body, "items", json_false());
        rc = sl_ctl_call_as(c, EVHTTP_REQ_POST, path, body, TIMEOUT_S, !suspend && f.wait, &res);
        if (rc == 0 && json_object_get(res, "kind"))
            rc = show_job(c, res, f.wait);        /* restore: the items' job */
        else if (rc == 0 && !c->json && suspend)
            printf("creator %s suspended: new uploads %s\n", f.words[1],
                   strcmp(str(json_object_get(res, "suspension"), "mode"), "refuse") == 0
                       ? "refused" : "held for review");
        else if (rc == 0 && !c->json)
            printf("creator %s: %s\n", f.words[1], json_is_true(json_object_get(res, "lifted"))
                   ? "suspension lifted" : "was not suspended");
    } else {
        rc = usage_error(c, "use: %s", use);
    }
    json_decref(res);
    json_decref(body);
    free_filters(&f);
    return rc;
}

/* }===================================================================== */
