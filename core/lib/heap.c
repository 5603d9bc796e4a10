/* SPDX-License-Identifier: MIT */
/* What the allocator holds: jemalloc's statistics, else glibc's mallinfo2. */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

#ifdef HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#elif defined(HAVE_MALLINFO2)
#include <malloc.h>
#endif

#include "lib/heap.h"
#include "lib/prom.h"

/* false when the allocator tells nothing. */
static bool heap_bytes(const char **name, size_t *allocated, size_t *resident)
{
#ifdef HAVE_JEMALLOC
    uint64_t epoch = 1;
    size_t len = sizeof epoch;

    *name = "jemalloc";
    /* jemalloc's statistics are a snapshot taken when the epoch moves. */
    if (mallctl("epoch", &epoch, &len, &epoch, len) != 0)
        return false;
    len = sizeof *allocated;
    if (mallctl("stats.allocated", allocated, &len, NULL, 0) != 0)
        return false;
    len = sizeof *resident;
    return mallctl("stats.resident", resident, &len, NULL, 0) == 0;
#elif defined(HAVE_MALLINFO2)
    struct mallinfo2 mi = mallinfo2();

    *name = "glibc";
    *allocated = mi.uordblks + mi.hblkhd;
    *resident = mi.arena + mi.hblkhd;
    return true;
#else
    (void)name;
    (void)allocated;
    (void)resident;
    return false;
#endif
}

void sl_heap_metrics(struct evbuffer *out)
{
    const char *name = NULL;
    size_t allocated = 0, resident = 0;

    if (!heap_bytes(&name, &allocated, &resident))
        return;
    sl_metric_header(out, "sluice_heap_allocator", "gauge",
                     "The allocator sluiced is linked with (always 1).");
    evbuffer_add_printf(out, "sluice_heap_allocator{name=\"%s\"} 1\n", name);
    sl_metric_header(out, "sluice_heap_allocated_bytes", "gauge",
                     "Bytes the allocator has handed out and not had back.");
    evbuffer_add_printf(out, "sluice_heap_allocated_bytes %zu\n", allocated);
    sl_metric_header(out, "sluice_heap_resident_bytes", "gauge",
                     "Bytes the allocator keeps in memory: handed out, cached, bookkeeping.");
    evbuffer_add_printf(out, "sluice_heap_resident_bytes %zu\n", resident);
}
