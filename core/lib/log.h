/* SPDX-License-Identifier: MIT */
/* Log lines to standard error, one per event, with level and time. */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <sluice/plugin.h>

void sl_log_set_level(int level);
int sl_log_level_parse(const char *name);   /* enum sl_log_level or -EINVAL */
void sl_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sl_err(...) sl_log(SL_LOG_ERROR, __VA_ARGS__)
#define sl_warn(...) sl_log(SL_LOG_WARN, __VA_ARGS__)
#define sl_info(...) sl_log(SL_LOG_INFO, __VA_ARGS__)
#define sl_debug(...) sl_log(SL_LOG_DEBUG, __VA_ARGS__)

#endif
