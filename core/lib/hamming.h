/* SPDX-License-Identifier: MIT */
/* A set of 64-bit perceptual hashes, queried by Hamming distance. */
#ifndef SL_HAMMING_H
#define SL_HAMMING_H

#include <stddef.h>
#include <stdint.h>

/*
 * Built once, then only read (any number of threads at once). A query
 * finds every member within a distance of up to SL_HAMMING_MAX bits:
 * popcount(member ^ query) <= distance, the rule the phash plugin matches
 * uploads by. Multi-index hashing: each member is kept in four tables
 * sorted by one of its 16-bit quarters; a member within distance r of the
 * query has some quarter within r/4 bits of the query's, so a query looks
 * only at the members sharing a nearby quarter.
 */
#define SL_HAMMING_MAX 32

struct sl_hamming;

/* A set of the n hashes (duplicates kept once); NULL when out of memory. */
struct sl_hamming *sl_hamming_new(const uint64_t *hashes, size_t n);
void sl_hamming_free(struct sl_hamming *h);
size_t sl_hamming_size(const struct sl_hamming *h);

/* fn(arg, member, distance) for each member within distance of q (at most
 * SL_HAMMING_MAX), each once; fn returning nonzero stops the query, which
 * returns that value. 0 otherwise, -EINVAL for a distance out of range. */
int sl_hamming_query(const struct sl_hamming *h, uint64_t q, unsigned distance,
                     int (*fn)(void *arg, uint64_t member, unsigned distance), void *arg);

#endif
