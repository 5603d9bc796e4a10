/* SPDX-License-Identifier: MIT */
/* Bearer tokens: made here, kept as SHA-256 hashes, checked in constant time, expiring if made so. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "http/auth.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/sha256.h"
#include "lib/text.h"
#include "store/store.h"

struct token {
    char *name;
    int role;
    int64_t expires_ms;         /* daemon time; 0 never */
    uint8_t hash[SL_SHA256_LEN];
};

struct sl_auth {
    struct token *tokens;
    size_t n, cap;
};

static const char *const role_names[] = { "ingest", "moderator", "policy", "admin" };

int sl_role_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, role_names[i]) == 0)
            return 1 << i;
    return -EINVAL;
}

const char *sl_role_name(int role)
{
    for (int i = 0; i < 4; i++)
        if (role == 1 << i)
            return role_names[i];
    return "none";
}

static int unhex(const char *hex, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -EINVAL;
        out[i] = (uint8_t)v;
    }
    return 0;
}

int sl_auth_add(struct sl_auth *a, const char *name, int role, const char *hash_hex,
                int64_t expires_ms)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 8;
        struct token *t = realloc(a->tokens, cap * sizeof(*t));
        if (!t)
            return -ENOMEM;
        a->tokens = t;
        a->cap = cap;
    }
    struct token *t = &a->tokens[a->n];
    if (strlen(hash_hex) != SL_SHA256_HEX_LEN || unhex(hash_hex, t->hash, SL_SHA256_LEN) < 0)
        return -EINVAL;
    t->name = strdup(name);
    t->role = role;
    t->expires_ms = expires_ms;
    if (!t->name)
        return -ENOMEM;
    a->n++;
    return 0;
}

void sl_auth_remove(struct sl_auth *a, const char *name)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->tokens[i].name, name) == 0) {
            free(a->tokens[i].name);
            a->tokens[i] = a->tokens[--a->n];
            return;
        }
}

static int load_one(void *arg, const char *name, const char *role, const char *hash_hex,
                    int64_t created_ms, int64_t expires_ms)
{
    int r = sl_role_parse(role);
    (void)created_ms;
    if (r < 0 || sl_auth_add(arg, name, r, hash_hex, expires_ms) < 0)
        sl_warn("auth: token '%s' in the store is malformed and was skipped", name);
    return 0;
}

int sl_auth_new(struct sl_store *reader, struct sl_auth **out)
{
    struct sl_auth *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    int rc = sl_store_token_each(reader, load_one, a);
    if (rc < 0) {
        sl_auth_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void sl_auth_free(struct sl_auth *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        free(a->tokens[i].name);
    free(a->tokens);
    free(a);
}

int sl_auth_check(struct sl_auth *a, const char *header, const char **name, int *role)
{
    uint8_t hash[SL_SHA256_LEN];
    struct token *found = NULL;

    if (!header || strncasecmp(header, "Bearer ", 7) != 0)
        return -EACCES;
    const char *tok = header + 7;
    while (*tok == ' ')
        tok++;
    sl_sha256(tok, strlen(tok), hash);
    /* Compare against every token without stopping early, so the time taken
     * says nothing about which token came close. */
    for (size_t i = 0; i < a->n; i++)
        if (sl_memeq_const(a->tokens[i].hash, hash, SL_SHA256_LEN) == 0)
            found = &a->tokens[i];
    if (!found)
        return -EACCES;
    *name = found->name;
    *role = found->role;
    /* Known, so saying it expired tells nothing a guesser could use. */
    if (found->expires_ms > 0 && sl_now_ms() >= found->expires_ms)
        return -EKEYEXPIRED;
    return 0;
}

int sl_auth_generate(char token[SL_TOKEN_LEN + 1], char hash_hex[65])
{
    uint8_t raw[24];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return -EIO;
    memcpy(token, "sl_", 3);
    sl_hex(raw, sizeof(raw), token + 3);
    sl_sha256_hex(token, SL_TOKEN_LEN, hash_hex);
    return 0;
}
