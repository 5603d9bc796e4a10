/* SPDX-License-Identifier: MIT */
/* Multi-index hashing: 64-bit hashes within a Hamming distance, across banks. */
#ifndef SL_PHASH_INDEX_H
#define SL_PHASH_INDEX_H

#include <stddef.h>
#include <stdint.h>

/* Largest query distance (the chunk radii tables stop there). */
#define PH_MAX_DISTANCE 16
/* Banks are bits of a 64-bit membership mask. */
#define PH_MAX_BANKS 64

struct ph_index;

/* An empty index; NULL on allocation failure. Owned by the caller. */
struct ph_index *ph_index_new(void);
void ph_index_free(struct ph_index *ix);

/*
 * Add the hashes in add[] to bank, then remove those in del[] from it.
 * Adding a hash the bank holds, or removing one it lacks, is not an error.
 * All or nothing: 0, -EINVAL (bank >= PH_MAX_BANKS) or -ENOMEM, and on
 * error the index is as it was.
 */
int ph_index_update(struct ph_index *ix, unsigned bank,
                    const uint64_t *add, size_t nadd,
                    const uint64_t *del, size_t ndel);

/* Distinct hashes held by any bank. */
size_t ph_index_size(const struct ph_index *ix);
/* Hashes held by bank. */
size_t ph_index_bank_size(const struct ph_index *ix, unsigned bank);

/*
 * Called once for each stored hash within the distance of the query, with
 * its distance and the mask of banks that hold it (bit b: bank b). Order is
 * unspecified. A non-zero return stops the query and is returned.
 */
typedef int (*ph_hit_fn)(void *ud, uint64_t hash, unsigned distance,
                         uint64_t banks);

/* Every stored hash h with popcount(h ^ q) <= distance (at most
 * PH_MAX_DISTANCE, else -EINVAL). 0, or fn's non-zero return. */
int ph_index_query(const struct ph_index *ix, uint64_t q, unsigned distance,
                   ph_hit_fn fn, void *ud);

#endif
