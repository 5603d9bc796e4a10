/* SPDX-License-Identifier: MIT */
/* What the allocator holds, for /metrics. */
#ifndef SL_HEAP_H
#define SL_HEAP_H

struct evbuffer;

/* Append the heap gauges: the allocator's name, bytes handed out, and bytes
 * it keeps resident (handed out, cached and its own bookkeeping). */
void sl_heap_metrics(struct evbuffer *out);

#endif
