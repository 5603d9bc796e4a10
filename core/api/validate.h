/* SPDX-License-Identifier: MIT */
/* Request bodies checked as their handlers check them, callable without a daemon. */
#ifndef SL_VALIDATE_H
#define SL_VALIDATE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "lib/error.h"

/*
 * Each takes a parsed body (sl_json_parse) and returns 0, or -EINVAL with
 * err set as docs/http-api.md states; a body it accepts is what the handler
 * goes on with, its strings borrowed from it. The upload's is in
 * api/uploads.h, the events' parser in api/events.h.
 */

/* users.c: POST /v1/users. */
int sl_user_validate(json_t *body, struct sl_error *err);

/* queue.c: POST /v1/items/{id}/decision by the token named who. On success
 * *tags is the decision's tags as stored ({name: {confidence, source}}),
 * or NULL when it has none: free() it. */
int sl_decision_validate(json_t *body, const char *who, char **tags, struct sl_error *err);

/* hashbanks.c: POST /v1/hashbanks/{bank}. On success the hashes to add
 * and to remove (free() both); on failure both are NULL (err is a 503 when
 * they could not be held). */
int sl_hashbank_validate(json_t *body, uint64_t **add, size_t *nadd, uint64_t **remove,
                         size_t *nremove, struct sl_error *err);

/* tokens.c: POST /v1/tokens: *role the role's bit (http/auth.h),
 * *expires_in_s 0 when the token never expires. */
int sl_token_validate(json_t *body, int *role, long long *expires_in_s, struct sl_error *err);

#endif
