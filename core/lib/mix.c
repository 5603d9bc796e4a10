/* SPDX-License-Identifier: MIT */
/* The hash tables' key, drawn once a process. */
#include "config.h"

#include <stdint.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "lib/mix.h"

uint64_t sl_hash_key;

void sl_hash_key_init(void)
{
    uint64_t key;

    /* Without the kernel's randomness (never on a booted system): the
     * clock and the pid, which an attacker cannot read as exactly. */
    if (getrandom(&key, sizeof(key), GRND_NONBLOCK) != (ssize_t)sizeof(key)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t state = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        state ^= (uint64_t)getpid() << 32;
        key = sl_splitmix64(&state);
    }
    sl_hash_key = key;
}
