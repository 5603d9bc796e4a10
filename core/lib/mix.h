/* SPDX-License-Identifier: MIT */
/* Bit mixing and a seedable random stream, for hash tables and shuffles. */
#ifndef SL_MIX_H
#define SL_MIX_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The 64-bit finaliser of MurmurHash3: every input bit moves every output bit. */
static inline uint64_t sl_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* A hash of s[0..len), eight bytes a step, each step mixed in whole;
 * seed sets a table apart (the audience's, audience/sets.c). */
static inline uint64_t sl_hash(const void *s, size_t len, uint64_t seed)
{
    const unsigned char *p = s;
    uint64_t h = seed ^ (0x9e3779b97f4a7c15ULL * (len + 1)), w;
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        memcpy(&w, p + i, 8);
        h = (h ^ sl_mix64(w)) * 0x9fb21c651e98df25ULL;
    }
    w = 0;
    memcpy(&w, p + i, len - i);
    return sl_mix64(h ^ sl_mix64(w ^ len));
}

/*
 * The key of the tables that ids chosen by clients (users, items, creators)
 * are hashed into: drawn when sluiced starts (sl_hash_key_init), so that ids
 * made to fall into one run of a table in one process do not in another,
 * and no lookup can be made to walk thousands of them. 0 until drawn: the
 * unit tests' tables are the same from run to run. What must not change
 * from process to process (an item's picks, audience/picks.c) is hashed
 * with a seed of its own.
 */
extern uint64_t sl_hash_key;
void sl_hash_key_init(void);

/* The same of a string, keyed by sl_hash_key. */
static inline uint64_t sl_hash_str(const char *s)
{
    return sl_hash(s, strlen(s), sl_hash_key);
}

/* splitmix64: the next number of the stream whose state is *state. */
static inline uint64_t sl_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#endif
