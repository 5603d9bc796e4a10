/* SPDX-License-Identifier: MIT */
/* What both backends store alike: the audit chain's hash, packed event batches. */
#ifndef SL_STORE_CHAIN_H
#define SL_STORE_CHAIN_H

/*
 * Private to store/. A record's hash and a batch's bytes must not depend on
 * the backend: a store copied from SQLite to PostgreSQL verifies there,
 * and its event batches read back the same.
 */

#include <stddef.h>
#include <stdint.h>

#include "lib/sha256.h"

/* store.h's, which this header leaves to its includer: a backend includes
 * store.h under its own names (sqlite.h). */
struct sl_event_row;

/* The hash of one audit record: SHA-256 over the previous record's hash and
 * every field, each ended by a unit separator so that no two records
 * serialise alike (a NULL field differs from ""). */
void sl_chain_hash(const char *prev, int64_t seq, const char *item, const char *actor,
                   const char *action, const char *from, const char *to,
                   const char *reason, int64_t ts_ms, char out[SL_SHA256_HEX_LEN + 1]);

/* The hash before the first record. */
extern const char sl_chain_genesis[SL_SHA256_HEX_LEN + 1];

/* A batch of events packed: per event, item NUL user NUL, then type (1
 * byte), watch_ms and ts_ms as 8-byte little-endian (watch_ms -1 when
 * absent). *out is malloc'ed (the caller frees it), *len its length. */
int sl_events_pack(const struct sl_event_row *ev, size_t n, uint8_t **out, size_t *len);

/* Call each() for the n events packed in data (len bytes) of batch seq;
 * its rows point into data. 0, each()'s nonzero answer (the walk stops),
 * or -EIO for a damaged batch (logged). */
int sl_events_unpack(int64_t seq, const uint8_t *data, size_t len, int64_t n,
                     int (*each)(void *arg, int64_t seq, const struct sl_event_row *ev),
                     void *arg);

#endif
