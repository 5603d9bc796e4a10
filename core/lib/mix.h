/* SPDX-License-Identifier: MIT */
/* Bit mixing and a seedable random stream, for hash tables and shuffles. */
#ifndef SL_MIX_H
#define SL_MIX_H

#include <stdint.h>

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

/* splitmix64: the next number of the stream whose state is *state. */
static inline uint64_t sl_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#endif
