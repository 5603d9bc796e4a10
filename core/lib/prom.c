/* SPDX-License-Identifier: MIT */
/* Prometheus text exposition: the helpers every module's metrics write with. */
#include "config.h"

#include <stdint.h>

#include <event2/buffer.h>

#include "lib/prom.h"

void sl_metric_header(struct evbuffer *out, const char *name, const char *type,
                      const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void sl_metric_hist(struct evbuffer *out, const char *name, const char *labels,
                    const double *bounds, int nbounds, const uint64_t *counts,
                    double sum)
{
    uint64_t cum = 0;
    const char *sep = labels && *labels ? "," : "";

    labels = labels ? labels : "";
    for (int b = 0; b < nbounds; b++) {
        cum += counts[b];
        evbuffer_add_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
                            bounds[b], (unsigned long long)cum);
    }
    cum += counts[nbounds];
    evbuffer_add_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                        (unsigned long long)cum);
    evbuffer_add_printf(out, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels, sum,
                        name, labels, (unsigned long long)cum);
}
