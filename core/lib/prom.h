/* SPDX-License-Identifier: MIT */
/* Prometheus text exposition: the helpers every module's metrics write with. */
#ifndef SL_PROM_H
#define SL_PROM_H

#include <stdint.h>

struct evbuffer;

/* The # HELP and # TYPE lines of metric name. */
void sl_metric_header(struct evbuffer *out, const char *name, const char *type,
                      const char *help);
/* A histogram's buckets (cumulative, then +Inf), _sum and _count, with
 * labels (may be NULL) on every line; counts has nbounds + 1 entries, the
 * last for values above every bound. */
void sl_metric_hist(struct evbuffer *out, const char *name, const char *labels,
                    const double *bounds, int nbounds, const uint64_t *counts,
                    double sum);

#endif
