/* SPDX-License-Identifier: MIT */
/* The daemon's clocks: wall time for what is stored, monotonic for durations. */
#include "config.h"

#include "lib/clock.h"

_Atomic int64_t sl_clock_offset;

int64_t sl_clock_advance(int64_t ms)
{
    return atomic_fetch_add(&sl_clock_offset, ms > 0 ? ms : 0) + (ms > 0 ? ms : 0);
}
