/* SPDX-License-Identifier: MIT */
/* What both backends store alike: the audit chain, packed event batches, packed offers. */
#ifndef SL_STORE_CHAIN_H
#define SL_STORE_CHAIN_H

/*
 * Private to store/. A record's hash and a batch's bytes must not depend on
 * the backend: a store copied from SQLite to PostgreSQL verifies there
 * under the same key, and its event batches read back the same. A backend
 * keeps the SQL; what a record's hash is, and what makes a record wrong,
 * is here once.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/sha256.h"

/* store.h's, which this header leaves to its includer: a backend includes
 * store.h under its own names (sqlite.h). */
struct sl_event_row;
struct sl_audit_rec;
struct sl_audit_check;

/* {====================== The audit chain ============================== */
/*
 * Each record's hash covers the previous record's hash and its own fields,
 * so a record edited or removed breaks the chain at that point. Three
 * formats, kept per record (the column v):
 *   1  SHA-256 of the fields as text: anyone who can write the database can
 *      recompute it (what sluice wrote before the chain was keyed);
 *   2  HMAC-SHA-256 under the audit key, which is kept outside the database,
 *      of "2" and the same text;
 *   3  HMAC-SHA-256 under the key of what the record must bind and no more,
 *      packed: the byte 3, the previous hash as its 32 bytes (not 64 hex
 *      digits), seq and ts_ms as 8 bytes each, big-endian (not printed), and
 *      each text field as its length (plus one; 0 for none) in LEB128 then
 *      its bytes. A typical record is two blocks of the inner hash where
 *      format 2 took three, and no printf. What sluiced writes since; 1 and
 *      2 verify as they always did.
 * A chain may start plain and go on keyed, from the record the key was
 * made at (it is kept with the key, outside the database): a plain record
 * from there on is a chain rewritten without the key.
 */
#define SL_CHAIN_PLAIN 1
#define SL_CHAIN_KEYED 2
#define SL_CHAIN_PACKED 3

/* A connection's audit key (store.h, sl_store_audit_key): zeroed, none. */
struct sl_chain_key {
    bool keyed;
    int64_t keyed_from;         /* the first record the key keys */
    struct sl_hmac_sha256 mac;  /* the key's HMAC state */
};

/* -EINVAL for a key under 16 bytes or keyed_from < 1 (k unchanged). */
int sl_chain_key_set(struct sl_chain_key *k, const uint8_t *key, size_t len,
                     int64_t keyed_from);

/* The hash before the first record. */
extern const char sl_chain_genesis[SL_SHA256_HEX_LEN + 1];

/* One record as stored. */
struct sl_chain_rec {
    int64_t seq;
    const char *item, *actor, *action, *from, *to, *reason;    /* item, from, to: NULL-able */
    int64_t ts_ms;
    const char *prev, *hash;    /* as stored */
    int format;                 /* SL_CHAIN_PLAIN, _KEYED or _PACKED */
};

/* The hash of r's fields in r->format, linked to prev (r->prev and
 * r->hash are not read): NULL differs from "", and no two records
 * serialise alike. */
void sl_chain_hash(const struct sl_chain_key *k, const struct sl_chain_rec *r,
                   const char *prev, char out[SL_SHA256_HEX_LEN + 1]);

/* What is wrong with r, read where record expect_seq belongs, after a
 * record whose stored hash is prev; NULL when nothing (a static sentence). */
const char *sl_chain_problem(const struct sl_chain_key *k, const struct sl_chain_rec *r,
                             int64_t expect_seq, const char *prev);

/* A record about to be appended as seq after prev: its texts as they will
 * be stored (text that is not UTF-8 repaired, and the repair logged:
 * rows.h), its format (packed when k is keyed, else plain) and its hash.
 * 0, or -ENOMEM with nothing to clear. */
struct sl_chain_new {
    struct sl_chain_rec rec;    /* prev points to the caller's; hash to below */
    char hash[SL_SHA256_HEX_LEN + 1];
    char *keep[6];              /* repaired copies, freed by sl_chain_new_clear */
};
int sl_chain_new(const struct sl_chain_key *k, const struct sl_audit_rec *r, int64_t seq,
                 const char *prev, struct sl_chain_new *out);
void sl_chain_new_clear(struct sl_chain_new *n);

/*
 * One page of sl_store_audit_verify (store.h), the same on each backend:
 *
 *     sl_chain_page_start(&p, key, c);
 *     if (c->after > 0)   read record c->after's stored hash into p.prev;
 *                         none: return sl_chain_page_gone(&p, the newest seq)
 *     for each record after c->after, oldest first, at most c->limit + 1:
 *         if (sl_chain_page_next(&p, &rec)) stop;
 *     return p.rc, or the read's own error
 */
struct sl_chain_page {
    const struct sl_chain_key *key;
    struct sl_audit_check *c;
    char prev[SL_SHA256_HEX_LEN + 1];   /* the stored hash of the record before */
    int rc;                             /* 0, or -EBADMSG with c->bad_seq, c->problem */
};
void sl_chain_page_start(struct sl_chain_page *p, const struct sl_chain_key *k,
                         struct sl_audit_check *c);
/* Record c->after is not stored: -ERANGE when it is past the newest, else
 * -EBADMSG (deleted). */
int sl_chain_page_gone(struct sl_chain_page *p, int64_t newest);
/* Check the next record of the walk; true when the walk is over. */
bool sl_chain_page_next(struct sl_chain_page *p, const struct sl_chain_rec *r);
/* }===================================================================== */

/* {====================== Event batches ================================ */
/* A batch of events packed (chain.c has the forms; watch_ms -1 when
 * absent). *out is malloc'ed (the caller frees it), *len its length. */
int sl_events_pack(const struct sl_event_row *ev, size_t n, uint8_t **out, size_t *len);

/* Call each() for the n events packed in data (len bytes) of batch seq;
 * its rows point into data. 0, each()'s nonzero answer (the walk stops),
 * or -EIO for a damaged batch (logged). */
int sl_events_unpack(int64_t seq, const uint8_t *data, size_t len, int64_t n,
                     int (*each)(void *arg, int64_t seq, const struct sl_event_row *ev),
                     void *arg);
/* }===================================================================== */

/* {====================== Offers packed ============================== */
/* A placement's users as one text: each id ended by a newline (no id holds
 * one). *out is malloc'ed (the caller frees it), NUL-terminated, *len its
 * length; 0 or -ENOMEM. */
int sl_offers_pack(const char *const *users, size_t n, char **out, size_t *len);

/* The users packed in text[0..len), split in place (each newline becomes a
 * NUL) into *ids (grown as needed, *cap its room), their count in *n. 0,
 * -ENOMEM, or -EILSEQ for a record that does not end with a newline. */
int sl_offers_unpack(char *text, size_t len, const char ***ids, size_t *cap, size_t *n);
/* }===================================================================== */

#endif
