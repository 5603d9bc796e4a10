/* SPDX-License-Identifier: MIT */
/* sluiced: start-up, signals, graceful stop. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "api/api.h"
#include "api/bulkjobs.h"
#include "api/cluster.h"
#include "api/creators.h"
#include "api/jobs.h"
#include "dist/dist.h"
#include "http/auth.h"
#include "http/http.h"
#include "lib/clock.h"
#include "lib/conf.h"
#include "lib/log.h"
#include "lib/mix.h"
#include "lib/notify.h"
#include "lib/sha256.h"
#include "lib/text.h"
#include "policy/policy.h"
#include "server.h"
#include "store/audit_key.h"
#include "store/commit.h"
#include "store/counters.h"
#include "store/readers.h"
#include "store/store.h"

#define DRAIN_TIMEOUT_MS 30000

#ifdef HAVE_JEMALLOC
/*
 * jemalloc's own settings, read when it starts (before main; MALLOC_CONF
 * in the environment still overrides them): its memory in transparent huge
 * pages where the kernel offers them (Debian's default "madvise" does;
 * "never" leaves 4 KiB pages), until sluiced has started
 * (no_more_huge_pages). The audience and a start's tables grow to
 * hundreds of megabytes, and each first touch of a 4 KiB page is a fault:
 * on a virtual machine whose page faults cost microseconds, faulting and
 * clearing pages took half the CPU of a start with 200,000 distributing
 * items (bench/README.md, "Start-up"). Visible, for jemalloc to find it
 * (tests/ops/allocator.py): sluiced is built with hidden visibility.
 */
__attribute__((visibility("default"))) const char *malloc_conf = "thp:always";
#endif

/*
 * Started: no more huge pages. What the start built stays in those it got;
 * while serving, a fault on a new one (2 MiB cleared, and memory compacted
 * when none is free) stalls the loop for milliseconds: with them the feed's
 * p99 after uploads-full read 61 ms, without 8 ms. Nothing else is lost if
 * the kernel refuses.
 */
static void no_more_huge_pages(void)
{
#ifdef HAVE_JEMALLOC
    if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) < 0)
        sl_debug("prctl(PR_SET_THP_DISABLE): %s", strerror(errno));
#endif
}

static void usage(FILE *to)
{
    fprintf(to,
        "usage: sluiced [-c FILE] [--listen ADDR:PORT] [--state DIR] [--policies DIR]\n"
        "               [--plugins DIR] [--check-config] [--version]\n"
        "  -c, --config FILE   Lua configuration file (sluice.conf(5))\n"
        "  --listen ADDR:PORT  listen here instead of the file's 'listen'\n"
        "  --state DIR         state directory (the SQLite store unless 'store' is set,\n"
        "                      admin.token, audit.key)\n"
        "  --policies DIR      directory of *.lua policies\n"
        "  --plugins DIR       directory of plugin .so files\n"
        "  --check-config      validate the configuration and exit 0 or 1\n"
        "  --version           print the version and exit\n");
}

/* {====================== First start ================================== */

/* On an empty store, make the admin token, keep only its hash, and hand the
 * token over once, in STATE/admin.token (0600). Standard output gets the
 * file's name, never the token: a journal keeps whatever is printed. */
static int first_start(struct sl_server *srv, struct sl_store *writer)
{
    char token[SL_TOKEN_LEN + 1], hash[65], path[4096];
    int rc = 0;

    if (sl_auth_generate(token, hash) < 0)
        return -EIO;
    if (sl_store_begin(writer) < 0 ||
        sl_store_token_insert(writer, "admin", "admin", hash, sl_now_ms(), 0) < 0 ||
        sl_store_commit(writer) < 0) {
        sl_store_rollback(writer);
        sl_memzero(token, sizeof(token));
        return -EIO;
    }
    snprintf(path, sizeof(path), "%s/admin.token", srv->cfg.state_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || fchmod(fd, 0600) < 0 || dprintf(fd, "%s\n", token) < 0 || fsync(fd) < 0) {
        sl_err("cannot write %s: %s", path, strerror(errno));
        rc = -EIO;
    }
    if (fd >= 0)
        close(fd);
    sl_memzero(token, sizeof(token));
    if (rc < 0)
        return rc;
    printf("sluiced: first start: the admin token is in %s\n", path);
    fflush(stdout);
    return 0;
}

/* The audit key's file: audit_key_file, or STATE/audit.key. */
static int audit_key(struct sl_server *srv, struct sl_store *writer)
{
    char path[4096], err[1024];

    if (srv->cfg.audit_key_file)
        sl_copy(path, sizeof(path), srv->cfg.audit_key_file);
    else
        snprintf(path, sizeof(path), "%s/audit.key", srv->cfg.state_dir);
    /* Several nodes append to one chain under one key: a node must not
     * make a key of its own while others run with theirs. */
    if (sl_cluster_others(srv) > 0 && access(path, F_OK) < 0) {
        sl_err("cannot start: %d other node(s) run on this store, and there is no audit key "
               "%s: copy theirs there (mode 0600), or point audit_key_file at a copy; a key "
               "of this node's own would break the one audit chain",
               sl_cluster_others(srv), path);
        return -EIO;
    }
    if (sl_audit_key_start(writer, srv->reader, path, !srv->cfg.audit_key_file, err,
                           sizeof(err)) < 0) {
        sl_err("cannot start: %s", err);
        return -EIO;
    }
    return 0;
}

/* }===================================================================== */

/* {====================== Signals ====================================== */

static struct event *drain_timer;
static int64_t drain_deadline;

static void check_drained(evutil_socket_t fd, short what, void *arg)
{
    struct sl_server *srv = arg;
    (void)fd;
    (void)what;

    if ((sl_http_inflight(srv->http) == 0 && sl_commit_pending(srv->commit) == 0) ||
        sl_now_ms() > drain_deadline) {
        if (sl_now_ms() > drain_deadline)
            sl_warn("stopping with %d requests still unanswered after %d ms",
                    sl_http_inflight(srv->http), DRAIN_TIMEOUT_MS);
        event_base_loopexit(srv->base, NULL);
        return;
    }
    struct timeval tv = { 0, 5000 };
    evtimer_add(drain_timer, &tv);
}

static void on_sigterm(evutil_socket_t sig, short what, void *arg)
{
    struct sl_server *srv = arg;
    (void)what;

    if (srv->draining)
        return;
    sl_info("signal %d: stopping: no new connections, finishing %d requests in flight",
            (int)sig, sl_http_inflight(srv->http));
    sl_notify("STOPPING=1");
    srv->draining = true;
    sl_http_stop_accepting(srv->http);
    drain_deadline = sl_now_ms() + DRAIN_TIMEOUT_MS;
    drain_timer = evtimer_new(srv->base, check_drained, srv);
    check_drained(-1, 0, srv);
}

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
    struct sl_server *srv = arg;
    char msg[64], err[1024];
    (void)sig;
    (void)what;

    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)(sl_mono() * 1e6));
    sl_notify(msg);
    sl_info("SIGHUP: reloading policies");
    if (sl_policy_reload(srv, err, sizeof(err)) == 0 && (sl_dist_policy_changed(srv), 1) &&
        (!srv->node.shared || sl_cluster_policy_publish(srv, "signal:SIGHUP") == 0))
        sl_notify("READY=1\nSTATUS=serving, policies reloaded");
    else
        sl_notify("READY=1\nSTATUS=serving, policy reload refused (see log)");
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    sl_notify("WATCHDOG=1");
}

/* }===================================================================== */

static int ensure_dir(const char *dir)
{
    if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
        sl_err("cannot create the state directory %s: %s", dir, strerror(errno));
        return -errno;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config",       required_argument, NULL, 'c' },
        { "listen",       required_argument, NULL, 'l' },
        { "state",        required_argument, NULL, 's' },
        { "policies",     required_argument, NULL, 'p' },
        { "plugins",      required_argument, NULL, 'P' },
        { "check-config", no_argument,       NULL, 'C' },
        { "version",      no_argument,       NULL, 'V' },
        { "help",         no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct sl_server srv = { 0 };
    const char *conf_path = NULL, *listen = NULL, *state = NULL, *policies = NULL,
               *plugins = NULL;
    bool check_only = false;
    char err[1024];
    int c, status = 1;

    sl_hash_key_init();     /* before any table of ids is made */

    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': conf_path = optarg; break;
        case 'l': listen = optarg; break;
        case 's': state = optarg; break;
        case 'p': policies = optarg; break;
        case 'P': plugins = optarg; break;
        case 'C': check_only = true; break;
        case 'V': printf("sluiced %s\n", PACKAGE_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sluiced: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    sl_config_defaults(&srv.cfg);
    if (conf_path && sl_config_load(&srv.cfg, conf_path, err, sizeof(err)) < 0) {
        fprintf(stderr, "sluiced: %s\n", err);
        sl_config_clear(&srv.cfg);
        return 1;
    }
    if (check_only) {
        if (!conf_path) {
            fprintf(stderr, "sluiced: --check-config needs -c FILE\n");
            return 2;
        }
        printf("%s: ok\n", conf_path);
        sl_config_clear(&srv.cfg);
        return 0;
    }
    if (listen)
        sl_config_set(&srv.cfg.listen, listen);
    if (state)
        sl_config_set(&srv.cfg.state_dir, state);
    if (policies)
        sl_config_set(&srv.cfg.policies_dir, policies);
    if (plugins)
        sl_config_set(&srv.cfg.plugins_dir, plugins);
    if (sl_config_check(&srv.cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "sluiced: %s\n", err);
        sl_config_clear(&srv.cfg);
        return 1;
    }
    sl_log_set_level(srv.cfg.log_level);
    signal(SIGPIPE, SIG_IGN);
    srv.started_ms = sl_now_ms();

    struct sl_store *writer = NULL;
    struct event *sigterm = NULL, *sigint = NULL, *sighup = NULL, *watchdog = NULL;
    if (evthread_use_pthreads() < 0 || !(srv.base = event_base_new())) {
        sl_err("cannot start the event loop");
        goto out;
    }
    if (ensure_dir(srv.cfg.state_dir) < 0 ||
        sl_store_open(srv.cfg.store, srv.cfg.state_dir, true, &writer) < 0)
        goto out;
    if (sl_store_created(writer) && first_start(&srv, writer) < 0)
        goto out;
    if (sl_cluster_join(&srv, writer) < 0)
        goto out;
    if (sl_store_open(srv.cfg.store, srv.cfg.state_dir, false, &srv.reader) < 0 ||
        audit_key(&srv, writer) < 0 || sl_auth_new(srv.reader, &srv.auth) < 0)
        goto out;
    if (sl_commit_new(srv.base, writer, srv.cfg.commit_batch_max, &srv.commit) < 0) {
        sl_err("cannot start the commit thread");
        goto out;
    }
    writer = NULL;  /* the commit thread owns it now */
    if (sl_policy_start(&srv, err, sizeof(err)) < 0) {
        sl_err("cannot start: %s", err);
        goto out;
    }
    if (sl_cluster_start(&srv) < 0 || sl_dist_start(&srv) < 0 || sl_creators_start(&srv) < 0 ||
        sl_counters_start(&srv) < 0 ||
        sl_readers_new(srv.base, srv.cfg.store, srv.cfg.state_dir, srv.cfg.search_workers,
                       srv.cfg.search_queue, srv.commit, &srv.readers) < 0 ||
        sl_bulkjobs_start(&srv) < 0 ||
        sl_http_new(&srv, sl_api_routes, sl_api_nroutes, &srv.http) < 0)
        goto out;
    no_more_huge_pages();

    sigterm = evsignal_new(srv.base, SIGTERM, on_sigterm, &srv);
    sigint = evsignal_new(srv.base, SIGINT, on_sigterm, &srv);
    sighup = evsignal_new(srv.base, SIGHUP, on_sighup, &srv);
    evsignal_add(sigterm, NULL);
    evsignal_add(sigint, NULL);
    evsignal_add(sighup, NULL);
    uint64_t wd = sl_notify_watchdog_usec();
    if (wd) {
        struct timeval tv = { (time_t)(wd / 1000000), (suseconds_t)(wd % 1000000) };
        watchdog = event_new(srv.base, -1, EV_PERSIST, on_watchdog, NULL);
        event_add(watchdog, &tv);
    }

    printf("sluiced %s listening on http://%s/ (console: http://%s/console/)\n",
           PACKAGE_VERSION, srv.cfg.listen, srv.cfg.listen);
    fflush(stdout);
    sl_info("state %s, policies %s", srv.cfg.state_dir, srv.cfg.policies_dir);
    sl_notify("READY=1\nSTATUS=serving");
    event_base_dispatch(srv.base);
    status = 0;
    sl_info("stopped cleanly");

out:
    /* Order matters: policy jobs stop first (they use the plugins and the
     * store), the commit thread writes and answers what it still holds
     * while the HTTP side exists, then connections close, then the
     * stores. Searches still running are cut short and answered first;
     * bulk jobs stop taking slices first (they go on at the next start). */
    sl_jobs_free(&srv);
    sl_bulkjobs_stop(&srv);
    sl_readers_free(srv.readers);
    srv.readers = NULL;
    sl_counters_stop(&srv);
    sl_dist_stop(&srv);
    sl_cluster_stop(&srv, writer);
    sl_commit_free(srv.commit);
    sl_cluster_free(&srv);
    sl_bulkjobs_free(&srv);
    sl_counters_free(&srv);
    sl_http_free(srv.http);
    sl_store_free(writer);
    sl_policy_stop(&srv);
    sl_creators_free(&srv);
    sl_auth_free(srv.auth);
    sl_store_free(srv.reader);
    if (drain_timer)
        event_free(drain_timer);
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (sighup)
        event_free(sighup);
    if (watchdog)
        event_free(watchdog);
    if (srv.base)
        event_base_free(srv.base);
    sl_config_clear(&srv.cfg);
    return status;
}
