/* SPDX-License-Identifier: MIT */
/* Hash banks: durable sets of known-bad perceptual hashes, fed to plugins. */
#ifndef SL_HASHBANKS_H
#define SL_HASHBANKS_H

#include <stdint.h>

struct sl_server;

/* 16 hex digits to a 64-bit hash; -EINVAL otherwise. */
int sl_hash_parse(const char *hex, uint64_t *out);

/* Hand every stored bank to the plugins (at start, after they load). */
int sl_hashbanks_replay(struct sl_server *srv);

#endif
