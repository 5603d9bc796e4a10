/* SPDX-License-Identifier: MIT */
/* Jobs: long policy work (check, replay) on threads of their own, polled over HTTP. */
#ifndef SL_JOBS_H
#define SL_JOBS_H

#include <stdbool.h>
#include <jansson.h>

struct sl_server;
struct sl_request;
struct sl_error;
struct sl_job;

/*
 * A job runs fn(job, arg) on a thread of its own, at a lower CPU priority
 * than the event loop, which goes on serving while it works. fn must touch
 * nothing the loop owns (the audience, the loaded sandbox, the loop's
 * store connection): what it needs from there is copied before the job
 * starts, or copied on the loop with sl_job_on_loop. It answers with
 * sl_job_answer what its route would have answered had it run on the loop;
 * GET /v1/jobs/{id} hands that answer out once the job is over.
 *
 * At most policy_jobs_max jobs run at once, each for at most
 * policy_job_time_limit_seconds; a job past its time is answered 422
 * time_limit, whatever fn answered.
 */
typedef void sl_job_fn(struct sl_job *job, void *arg);

/*
 * Start a job of kind ("check", "replay") for request r, and answer r:
 * 202 {"job": ID, "kind", "state": "running"} with a Location header; 429
 * too_many_jobs when policy_jobs_max are running; 503 when the daemon is
 * stopping or out of resources. unit says what its progress counts
 * ("uploads judged"). arg belongs to the job: free_arg(arg) runs when it is
 * over (on its thread), or at once when it cannot start.
 */
void sl_job_start(struct sl_request *r, const char *kind, const char *unit, sl_job_fn *fn,
                  void *arg, void (*free_arg)(void *arg));

/* {====================== On the job's thread ========================== */

/* How far the job got: done of total (total 0: not known yet). */
void sl_job_progress(struct sl_job *job, long long done, long long total);

/* Whether the job should stop now: it was cancelled (DELETE, or the
 * daemon is stopping) or is past its time limit. Its answer no longer
 * matters then; fn should return soon. */
bool sl_job_stopping(struct sl_job *job);

/* The job's answer: status and body (taken). A later answer replaces it. */
void sl_job_answer(struct sl_job *job, int status, json_t *body);
void sl_job_answer_error(struct sl_job *job, const struct sl_error *e);

/* Run fn(srv, arg) on the loop, where the loop's state may be read, and
 * wait for it: 0, or -ECANCELED when the job stops first (fn has not run
 * and never will). fn must be short: the loop serves nothing meanwhile. */
int sl_job_on_loop(struct sl_job *job, void (*fn)(struct sl_server *srv, void *arg),
                   void *arg);

/* }===================================================================== */

/* Cancel every job and wait for their threads; at exit, on the loop's
 * thread once the loop has stopped. */
void sl_jobs_free(struct sl_server *srv);

#endif
