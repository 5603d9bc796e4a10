/* SPDX-License-Identifier: MIT */
/* POST /v1/uploads: validate, store durably with an audit record, answer. */
#ifndef SL_UPLOADS_H
#define SL_UPLOADS_H

#include <jansson.h>

#include "lib/error.h"

/* Check an upload body against docs/http-api.md; 0 or -EINVAL with err. */
int sl_upload_validate(json_t *body, struct sl_error *err);

#endif
