/* SPDX-License-Identifier: MIT */
/* Log lines to standard error, one per event, with level and time. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"

static int log_level = SL_LOG_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void sl_log_set_level(int level)
{
    log_level = level;
}

int sl_log_level_parse(const char *name)
{
    for (int i = 0; i < (int)(sizeof(level_names) / sizeof(level_names[0])); i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -EINVAL;
}

void sl_log(int level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    struct timespec ts;
    struct tm tm;
    char when[32];
    char line[2048];
    va_list ap;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* One fprintf per line so that lines from two threads never interleave. */
    fprintf(stderr, "%s.%03ldZ %-5s %s\n", when, ts.tv_nsec / 1000000L,
            level_names[level < 0 ? 0 : level > 3 ? 3 : level], line);
}
