/* SPDX-License-Identifier: MIT */
/* The route handlers, one file per topic; the routing table is in http.c. */
#ifndef SL_API_H
#define SL_API_H

#include "http/http.h"

/* http.c */
void sl_api_healthz(struct sl_request *r);
void sl_api_metrics(struct sl_request *r);
void sl_api_status(struct sl_request *r);
/* uploads.c */
void sl_api_upload(struct sl_request *r);
/* items.c */
void sl_api_item_get(struct sl_request *r);
void sl_api_audit(struct sl_request *r);
void sl_api_audit_verify(struct sl_request *r);
/* users.c */
void sl_api_user_post(struct sl_request *r);
void sl_api_follow_put(struct sl_request *r);
void sl_api_follow_delete(struct sl_request *r);
/* events.c */
void sl_api_events(struct sl_request *r);
/* policy.c */
void sl_api_policies(struct sl_request *r);
void sl_api_policies_reload(struct sl_request *r);
void sl_api_policies_check(struct sl_request *r);
/* replay.c */
void sl_api_policies_replay(struct sl_request *r);
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
void sl_api_stats(struct sl_request *r);
/* feed.c */
void sl_api_feed(struct sl_request *r);
/* takedown.c */
void sl_api_takedown(struct sl_request *r);
/* auth.c */
void sl_api_token_create(struct sl_request *r);
void sl_api_token_delete(struct sl_request *r);

#endif
