/* SPDX-License-Identifier: MIT */
/* Jobs: policy work on threads of their own; GET and DELETE /v1/jobs/{id}. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>

#include "api/api.h"
#include "api/jobs.h"
#include "lib/clock.h"
#include "lib/id.h"
#include "lib/log.h"
#include "lib/sha256.h"
#include "lib/text.h"
#include "server.h"

#define JOBS_KEPT 32            /* finished jobs whose answers are kept */
#define JOB_KEPT_S 600          /* ... each for at most this long */
#define JOB_NICE 19             /* the jobs' threads take the CPU only the loop leaves */
#define RETRY_AFTER "5"         /* seconds, with a 429 */

enum call_state { CALL_NONE, CALL_PENDING, CALL_RUNNING, CALL_DONE, CALL_CANCELLED };

struct sl_job {
    char id[24];                /* "j" and 16 hex digits */
    char kind[16];
    char unit[32];              /* what progress counts: "uploads judged" */
    char owner[SL_ID_MAX + 8];  /* "token:NAME", for the log */
    struct sl_jobs *jobs;
    struct sl_job *next;

    /* set on the loop before the thread starts, then read-only */
    sl_job_fn *fn;
    void *arg;
    void (*free_arg)(void *arg);
    double started;             /* sl_mono() */
    double deadline;
    int time_limit_s;

    /* shared with the thread */
    atomic_bool cancelled;      /* DELETE, or the daemon stopping */
    atomic_bool timed_out;      /* seen past the deadline */
    atomic_llong done, total;   /* progress */

    /* written by the thread, read by the loop after pthread_join */
    int status;
    json_t *body;

    /* a call on the loop (sl_job_on_loop), under lock */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    enum call_state call;
    void (*call_fn)(struct sl_server *srv, void *arg);
    void *call_arg;

    /* the loop's own */
    bool running;               /* the thread was started and has not said it is done */
    bool forgotten;             /* DELETEd: free it once the thread is done */
    double finished;            /* sl_mono() when it was done */
    struct event *done_ev;      /* the thread activates it when it returns */
    struct event *call_ev;      /* the thread activates it for sl_job_on_loop */
};

/*
 * The threads are detached: joining one on the loop could wait while the
 * thread, at its lower priority, finishes exiting. Each says it is done
 * through its job's done_ev, and, last of all, by counting itself out of
 * threads, which is what sl_jobs_free waits for.
 */
struct sl_jobs {
    struct sl_server *srv;
    struct sl_job *list;        /* newest first */
    int running;                /* jobs whose done_ev has not run yet, forgotten ones too */
    pthread_mutex_t lock;
    pthread_cond_t gone;
    int threads;                /* threads that have not returned, under lock */
};

/* {====================== Life of a job ================================ */

static void job_free(struct sl_job *job)
{
    if (job->done_ev)
        event_free(job->done_ev);
    if (job->call_ev)
        event_free(job->call_ev);
    pthread_mutex_destroy(&job->lock);
    pthread_cond_destroy(&job->cond);
    json_decref(job->body);
    free(job);
}

static void unlink_job(struct sl_jobs *jobs, struct sl_job *job)
{
    for (struct sl_job **p = &jobs->list; *p; p = &(*p)->next)
        if (*p == job) {
            *p = job->next;
            return;
        }
}

/* Forget finished jobs beyond JOBS_KEPT or older than JOB_KEPT_S. */
static void prune(struct sl_jobs *jobs)
{
    double now = sl_mono();
    int kept = 0;

    for (struct sl_job **p = &jobs->list; *p;) {
        struct sl_job *job = *p;
        if (!job->running && (++kept > JOBS_KEPT || now - job->finished > JOB_KEPT_S)) {
            *p = job->next;
            job_free(job);
        } else {
            p = &job->next;
        }
    }
}

static struct sl_job *find(struct sl_jobs *jobs, const char *id)
{
    for (struct sl_job *job = jobs ? jobs->list : NULL; job; job = job->next)
        if (!job->forgotten && strcmp(job->id, id) == 0)
            return job;
    return NULL;
}

/* On the loop, once the thread is done with the job. */
static void job_done(evutil_socket_t fd, short what, void *arg)
{
    struct sl_job *job = arg;
    struct sl_jobs *jobs = job->jobs;
    (void)fd;
    (void)what;

    job->running = false;
    job->finished = sl_mono();
    jobs->running--;
    sl_info("policy job %s (%s, %s): %s %d after %.1f s", job->id, job->kind, job->owner,
            job->forgotten ? "cancelled," : "answered", job->status,
            job->finished - job->started);
    if (job->forgotten) {
        unlink_job(jobs, job);
        job_free(job);
    }
    prune(jobs);
}

/* On the loop: run what sl_job_on_loop asked for. */
static void job_call(evutil_socket_t fd, short what, void *arg)
{
    struct sl_job *job = arg;
    (void)fd;
    (void)what;

    pthread_mutex_lock(&job->lock);
    if (job->call != CALL_PENDING) {
        pthread_mutex_unlock(&job->lock);
        return;
    }
    job->call = CALL_RUNNING;
    pthread_mutex_unlock(&job->lock);
    job->call_fn(job->jobs->srv, job->call_arg);
    pthread_mutex_lock(&job->lock);
    job->call = CALL_DONE;
    pthread_cond_broadcast(&job->cond);
    pthread_mutex_unlock(&job->lock);
}

/* Lower this thread's priority, so that the loop gets the CPU first. */
static void yield_to_loop(void)
{
#ifdef SYS_gettid
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), JOB_NICE) < 0)
        sl_debug("policy job: cannot lower the thread's priority: %s", strerror(errno));
#endif
}

static void *job_thread(void *arg)
{
    struct sl_job *job = arg;

    yield_to_loop();
    job->fn(job, job->arg);
    if (atomic_load(&job->timed_out)) {
        struct sl_error e;
        long long done = atomic_load(&job->done), total = atomic_load(&job->total);
        char of[32] = "";
        if (total > 0)
            snprintf(of, sizeof(of), " of %lld", total);
        sl_error_set(&e, 422, "time_limit", NULL, "The %s job ran past its time limit "
                     "(policy_job_time_limit_seconds, %d s), with %lld%s %s; ask for less.",
                     job->kind, job->time_limit_s, done, of, job->unit);
        sl_job_answer_error(job, &e);
    } else if (!job->body) {
        struct sl_error e;
        sl_error_set(&e, 503, "unavailable", NULL, "The %s job was cancelled.", job->kind);
        sl_job_answer_error(job, &e);
    }
    if (job->free_arg)
        job->free_arg(job->arg);
    job->arg = NULL;
    /* From here on the loop may free the job. */
    struct sl_jobs *jobs = job->jobs;
    event_active(job->done_ev, EV_READ, 0);
    pthread_mutex_lock(&jobs->lock);
    jobs->threads--;
    pthread_cond_broadcast(&jobs->gone);
    pthread_mutex_unlock(&jobs->lock);
    return NULL;
}

/* Start job's thread, detached. */
static int spawn(struct sl_jobs *jobs, struct sl_job *job)
{
    pthread_attr_t attr;
    pthread_t thread;
    int rc = pthread_attr_init(&attr);

    if (rc == 0 && (rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED)) == 0) {
        pthread_mutex_lock(&jobs->lock);
        if ((rc = pthread_create(&thread, &attr, job_thread, job)) == 0)
            jobs->threads++;
        pthread_mutex_unlock(&jobs->lock);
    }
    pthread_attr_destroy(&attr);
    return -rc;
}

/* The jobs of srv, made on first use; NULL when out of memory. */
static struct sl_jobs *jobs_of(struct sl_server *srv)
{
    struct sl_jobs *jobs = srv->jobs;

    if (!jobs && (jobs = calloc(1, sizeof(*jobs)))) {
        jobs->srv = srv;
        pthread_mutex_init(&jobs->lock, NULL);
        pthread_cond_init(&jobs->gone, NULL);
        srv->jobs = jobs;
    }
    return jobs;
}

/* "j" and 16 random hex digits. */
static int new_id(char *buf, size_t len)
{
    uint8_t raw[8];

    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return -EIO;
    buf[0] = 'j';
    sl_hex(raw, sizeof(raw), buf + 1);
    (void)len;
    return 0;
}

void sl_job_start(struct sl_request *r, const char *kind, const char *unit, sl_job_fn *fn,
                  void *arg, void (*free_arg)(void *arg))
{
    struct sl_server *srv = r->srv;
    struct sl_jobs *jobs = srv->jobs;
    struct sl_job *job = NULL;
    const char *why = NULL;

    if (srv->draining) {
        why = "The daemon is shutting down.";
    } else if (!(jobs = jobs_of(srv))) {
        why = "The daemon is out of memory.";
    } else if (jobs->running >= srv->cfg.policy_jobs_max) {
        free_arg(arg);
        evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After",
                          RETRY_AFTER);
        sl_http_reply_errorf(r, 429, "too_many_jobs", NULL,
                             "%d policy jobs are running, as many as policy_jobs_max allows; "
                             "retry when one is over.", jobs->running);
        return;
    } else if (!(job = calloc(1, sizeof(*job)))) {
        why = "The daemon is out of memory.";
    }
    if (why) {
        free_arg(arg);
        sl_http_reply_errorf(r, 503, "unavailable", NULL, "%s", why);
        return;
    }
    job->jobs = jobs;
    sl_copy(job->kind, sizeof(job->kind), kind);
    sl_copy(job->unit, sizeof(job->unit), unit);
    sl_api_actor(r, job->owner, sizeof(job->owner));
    job->fn = fn;
    job->arg = arg;
    job->free_arg = free_arg;
    job->started = sl_mono();
    job->time_limit_s = srv->cfg.policy_job_time_limit_seconds;
    job->deadline = job->started + job->time_limit_s;
    job->status = 503;
    pthread_mutex_init(&job->lock, NULL);
    pthread_cond_init(&job->cond, NULL);
    job->done_ev = event_new(srv->base, -1, 0, job_done, job);
    job->call_ev = event_new(srv->base, -1, 0, job_call, job);
    int rc = new_id(job->id, sizeof(job->id));
    if (rc == 0 && job->done_ev && job->call_ev)
        rc = spawn(jobs, job);
    else if (rc == 0)
        rc = -ENOMEM;
    if (rc < 0) {
        sl_err("policy job (%s): cannot start: %s", kind, strerror(-rc));
        free_arg(arg);
        job_free(job);
        sl_http_reply_errorf(r, 503, "unavailable", NULL, "Cannot start the %s job: %s.",
                             kind, strerror(-rc));
        return;
    }
    job->running = true;
    jobs->running++;
    job->next = jobs->list;
    jobs->list = job;
    prune(jobs);
    sl_info("policy job %s (%s, %s) started", job->id, job->kind, job->owner);

    char where[64];
    snprintf(where, sizeof(where), "/v1/jobs/%s", job->id);
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Location", where);
    sl_http_reply_json(r, 202, json_pack("{s:s, s:s, s:s}", "job", job->id, "kind", job->kind,
                                         "state", "running"));
}

void sl_jobs_free(struct sl_server *srv)
{
    struct sl_jobs *jobs = srv->jobs;

    if (!jobs)
        return;
    for (struct sl_job *job = jobs->list; job; job = job->next) {
        atomic_store(&job->cancelled, true);
        pthread_mutex_lock(&job->lock);
        pthread_cond_broadcast(&job->cond);
        pthread_mutex_unlock(&job->lock);
        if (job->running)
            sl_info("policy job %s (%s) cancelled: the daemon is stopping", job->id, job->kind);
    }
    pthread_mutex_lock(&jobs->lock);
    while (jobs->threads > 0)
        pthread_cond_wait(&jobs->gone, &jobs->lock);
    pthread_mutex_unlock(&jobs->lock);
    while (jobs->list) {
        struct sl_job *job = jobs->list;
        jobs->list = job->next;
        job_free(job);
    }
    pthread_mutex_destroy(&jobs->lock);
    pthread_cond_destroy(&jobs->gone);
    free(jobs);
    srv->jobs = NULL;
}

/* }===================================================================== */

/* {====================== On the job's thread ========================== */

void sl_job_progress(struct sl_job *job, long long done, long long total)
{
    atomic_store(&job->done, done);
    atomic_store(&job->total, total);
}

bool sl_job_stopping(struct sl_job *job)
{
    if (atomic_load(&job->cancelled) || atomic_load(&job->timed_out))
        return true;
    if (sl_mono() > job->deadline) {
        atomic_store(&job->timed_out, true);
        return true;
    }
    return false;
}

void sl_job_answer(struct sl_job *job, int status, json_t *body)
{
    json_decref(job->body);
    job->status = status;
    job->body = body;
}

void sl_job_answer_error(struct sl_job *job, const struct sl_error *e)
{
    json_t *err = json_pack("{s:s, s:s}", "code", e->code, "message", e->message);

    if (err && e->field[0])
        json_object_set_new(err, "field", json_string(e->field));
    sl_job_answer(job, e->status, err ? json_pack("{s:o}", "error", err) : NULL);
}

int sl_job_on_loop(struct sl_job *job, void (*fn)(struct sl_server *srv, void *arg), void *arg)
{
    int rc = 0;

    pthread_mutex_lock(&job->lock);
    job->call_fn = fn;
    job->call_arg = arg;
    job->call = CALL_PENDING;
    pthread_mutex_unlock(&job->lock);
    event_active(job->call_ev, EV_READ, 0);
    pthread_mutex_lock(&job->lock);
    while (job->call != CALL_DONE) {
        /* Stop waiting when the job stops, unless the loop is running fn
         * now: then it ends soon, and arg must live until it has. */
        if (job->call == CALL_PENDING && sl_job_stopping(job)) {
            job->call = CALL_CANCELLED;
            rc = -ECANCELED;
            break;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100 * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&job->cond, &job->lock, &until);
    }
    if (rc == 0)
        job->call = CALL_NONE;
    pthread_mutex_unlock(&job->lock);
    return rc;
}

/* }===================================================================== */

/* {====================== GET and DELETE /v1/jobs/{id} ================= */

void sl_api_job_get(struct sl_request *r)
{
    struct sl_jobs *jobs = r->srv->jobs;
    struct sl_job *job;

    if (jobs)
        prune(jobs);
    if (!(job = find(jobs, r->params[0]))) {
        sl_http_reply_errorf(r, 404, "not_found", NULL, "No job '%.64s' (an answer is kept "
                             "%d minutes after its job ends).", r->params[0], JOB_KEPT_S / 60);
        return;
    }
    if (job->running) {
        json_t *progress = json_pack("{s:I}", "done", (json_int_t)atomic_load(&job->done));
        long long total = atomic_load(&job->total);
        if (progress && total > 0)
            json_object_set_new(progress, "total", json_integer(total));
        sl_http_reply_json(r, 202, json_pack("{s:s, s:s, s:s, s:o, s:I}", "job", job->id,
                                             "kind", job->kind, "state", "running",
                                             "progress", progress, "elapsed_ms",
                                             (json_int_t)((sl_mono() - job->started) * 1000)));
        return;
    }
    /* The answer the route would have given, as often as asked. */
    sl_http_reply_json(r, job->status, json_incref(job->body));
}

void sl_api_job_delete(struct sl_request *r)
{
    struct sl_jobs *jobs = r->srv->jobs;
    struct sl_job *job = find(jobs, r->params[0]);

    if (!job) {
        sl_http_reply_errorf(r, 404, "not_found", NULL, "No job '%.64s'.", r->params[0]);
        return;
    }
    bool running = job->running;
    if (running) {
        atomic_store(&job->cancelled, true);
        pthread_mutex_lock(&job->lock);
        pthread_cond_broadcast(&job->cond);
        pthread_mutex_unlock(&job->lock);
        job->forgotten = true;
    } else {
        unlink_job(jobs, job);
    }
    sl_http_reply_json(r, 200, json_pack("{s:s, s:s}", "job", r->params[0], "state",
                                         running ? "cancelled" : "deleted"));
    if (!running)
        job_free(job);
}

/* }===================================================================== */
