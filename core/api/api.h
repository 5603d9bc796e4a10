/* SPDX-License-Identifier: MIT */
/* The handlers, one file per resource, and the routing table (routes.c) that main() hands to the front. */
#ifndef SL_API_H
#define SL_API_H

#include "http/http.h"

struct sl_commit_op;
struct sl_read_op;
struct sl_store;

/* {====================== What every handler shares ===================== */

/*
 * Hand a write to the commit thread on behalf of r: op->apply runs there in
 * a transaction, then op->done answers r on the loop. When it cannot be
 * queued (the daemon is stopping), r gets its 503 at once and drop(op)
 * frees the op. op NULL (its allocation failed): r gets a 503 saying so.
 * Either way the handler is done with r and op.
 */
void sl_api_submit(struct sl_request *r, struct sl_commit_op *op,
                   int (*apply)(struct sl_commit_op *op, struct sl_store *w),
                   void (*done)(struct sl_commit_op *op, int rc),
                   void (*drop)(struct sl_commit_op *op));
/* The same for a write that may be stored before writes queued earlier
 * (sl_commit_submit_ahead). */
void sl_api_submit_ahead(struct sl_request *r, struct sl_commit_op *op,
                         int (*apply)(struct sl_commit_op *op, struct sl_store *w),
                         void (*done)(struct sl_commit_op *op, int rc),
                         void (*drop)(struct sl_commit_op *op));

/* "token:NAME" of the caller, the audit trail's actor: len >= SL_ID_MAX + 7. */
void sl_api_actor(const struct sl_request *r, char *buf, size_t len);

/* Queue a read of the store for r on the reader threads (op's run, done
 * and deadline filled in). When it cannot be queued, r gets its answer (429
 * too_many_searches when every thread is busy, else the store's error) and
 * the error is returned: the caller frees op. */
int sl_api_read(struct sl_request *r, struct sl_read_op *op);

/* Answer a read of the store that failed with rc: 503, saying whether a
 * stored record could not be read (-EILSEQ: the store logged which). */
void sl_api_read_error(struct sl_request *r, int rc);

/* }===================================================================== */

/* routes.c: every route, in the order they are tried */
extern const struct sl_route sl_api_routes[];
extern const int sl_api_nroutes;

/* status.c */
void sl_api_healthz(struct sl_request *r);
void sl_api_metrics(struct sl_request *r);
void sl_api_status(struct sl_request *r);
/* sim_clock.c */
void sl_api_clock_get(struct sl_request *r);
void sl_api_clock_advance(struct sl_request *r);
/* uploads.c */
void sl_api_upload(struct sl_request *r);
/* items.c */
void sl_api_item_get(struct sl_request *r);
/* search.c */
struct evbuffer;
void sl_api_search(struct sl_request *r);
void sl_api_search_metrics(struct sl_server *srv, struct evbuffer *out);
/* bulk.c */
void sl_api_bulk(struct sl_request *r);
void sl_api_bulk_get(struct sl_request *r);
void sl_api_bulk_list(struct sl_request *r);
void sl_api_bulk_confirm(struct sl_request *r);
void sl_api_bulk_cancel(struct sl_request *r);
/* creators.c */
void sl_api_creator_get(struct sl_request *r);
void sl_api_creator_suspend(struct sl_request *r);
void sl_api_creator_restore(struct sl_request *r);
void sl_api_creator_takedown(struct sl_request *r);
/* audit.c */
void sl_api_audit(struct sl_request *r);
void sl_api_audit_verify(struct sl_request *r);
void sl_api_audit_head(struct sl_request *r);
/* users.c */
void sl_api_user_post(struct sl_request *r);
void sl_api_follow_put(struct sl_request *r);
void sl_api_follow_delete(struct sl_request *r);
/* follows.c */
void sl_api_follows_post(struct sl_request *r);
/* events.c */
void sl_api_events(struct sl_request *r);
/* policy.c */
void sl_api_policies(struct sl_request *r);
void sl_api_policies_reload(struct sl_request *r);
void sl_api_policies_check(struct sl_request *r);
/* replay.c */
void sl_api_policies_replay(struct sl_request *r);
/* jobs.c */
void sl_api_job_get(struct sl_request *r);
void sl_api_job_delete(struct sl_request *r);
/* backup.c */
void sl_api_backup(struct sl_request *r);
/* queue.c */
void sl_api_queue(struct sl_request *r);
void sl_api_queue_claim(struct sl_request *r);
void sl_api_decision(struct sl_request *r);
void sl_api_renew(struct sl_request *r);
void sl_api_hashbank(struct sl_request *r);
/* console.c */
void sl_api_console_index(struct sl_request *r);
void sl_api_console_file(struct sl_request *r);
void sl_api_console_settings(struct sl_request *r);
void sl_api_stats(struct sl_request *r);
/* feed.c */
void sl_api_feed(struct sl_request *r);
/* takedown.c */
void sl_api_takedown(struct sl_request *r);
/* tokens.c */
void sl_api_token_create(struct sl_request *r);
void sl_api_token_delete(struct sl_request *r);
void sl_api_token_list(struct sl_request *r);

#endif
