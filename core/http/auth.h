/* SPDX-License-Identifier: MIT */
/* Bearer tokens: made here, kept as SHA-256 hashes, checked in constant time, expiring if made so. */
#ifndef SL_AUTH_H
#define SL_AUTH_H

#include <stddef.h>
#include <stdint.h>

struct sl_auth;
struct sl_store;

/* Roles as bits, so a route names every role that may call it. */
enum sl_role {
    SL_ROLE_INGEST = 1 << 0,
    SL_ROLE_MODERATOR = 1 << 1,
    SL_ROLE_POLICY = 1 << 2,
    SL_ROLE_ADMIN = 1 << 3,
};
#define SL_ROLE_PUBLIC 0
#define SL_ROLE_ANY (SL_ROLE_INGEST | SL_ROLE_MODERATOR | SL_ROLE_POLICY | SL_ROLE_ADMIN)

int sl_role_parse(const char *name);        /* enum sl_role or -EINVAL */
const char *sl_role_name(int role);

/* Load every token from the store (the loop's reader). */
int sl_auth_new(struct sl_store *reader, struct sl_auth **out);
void sl_auth_free(struct sl_auth *a);

/* Check an Authorization header; 0 with the token's name (owned by a) and
 * role, -EKEYEXPIRED (name and role set) for a known token past its
 * expiry, or -EACCES. */
int sl_auth_check(struct sl_auth *a, const char *header, const char **name, int *role);

/* Add or drop a token in memory after the store has committed it;
 * expires_ms (daemon time) 0: never. */
int sl_auth_add(struct sl_auth *a, const char *name, int role, const char *hash_hex,
                int64_t expires_ms);
void sl_auth_remove(struct sl_auth *a, const char *name);

/* A new random token ("sl_" + 48 hex digits) and its SHA-256 hex. */
#define SL_TOKEN_LEN 51
int sl_auth_generate(char token[SL_TOKEN_LEN + 1], char hash_hex[65]);

#endif
