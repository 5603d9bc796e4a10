/* SPDX-License-Identifier: MIT */
/* Retroactive hash matching: what hashbanks.c asks of retro.c. */
#ifndef SL_API_RETRO_H
#define SL_API_RETRO_H

#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"

struct sl_request;
struct sl_config;

/* What follows a stored item's match with bank: its hashbank_action
 * ("nothing", "review" or "takedown"; "review" when unset). Static text. */
const char *sl_retro_configured(const struct sl_config *cfg, const char *bank);

/* A request's "then" (NULL: the bank's setting) checked against the
 * setting: "nothing" and "review" always, "takedown" only where the
 * setting is takedown. 0 with *out static text, or -EINVAL with err. */
int sl_retro_then(const struct sl_config *cfg, const char *bank, const char *then,
                  const char **out, struct sl_error *err);

/*
 * After bank's new hashes (add, nadd) are stored and in the plugins' index
 * (every upload from now on is matched by the plugin): match them against
 * the items stored within the last days days as a job (api/bulkjobs.h),
 * then answer r 200 {bank, added, removed, retro: {job, then, since_ms,
 * distance}}. days 0: no job, retro null.
 */
void sl_retro_start(struct sl_request *r, const char *bank, const uint64_t *add, size_t nadd,
                    size_t removed, const char *then, int days);

#endif
