/* SPDX-License-Identifier: MIT */
/* The daemon's clocks: wall time for what is stored, monotonic for durations. */
#ifndef SL_CLOCK_H
#define SL_CLOCK_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

/*
 * The daemon's time is the wall clock plus an offset that only moves
 * forward, and only when the configuration allows it (simulated_clock):
 * a simulation advances it to run a week of waves, leases and report
 * windows in minutes through the real HTTP API. Every time sluice stores
 * or compares with a stored time reads sl_now_ms(), on any thread; the
 * offset is atomic. Logs keep the real time.
 */
extern _Atomic int64_t sl_clock_offset;

/* Wall-clock milliseconds since the epoch, plus the offset. */
static inline int64_t sl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
           atomic_load_explicit(&sl_clock_offset, memory_order_relaxed);
}

/* Move the daemon's time forward by ms (>= 0); the new offset. */
int64_t sl_clock_advance(int64_t ms);

/* Monotonic seconds, for latencies and timeouts that must not jump. */
static inline double sl_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
