/* SPDX-License-Identifier: MIT */
/* systemd's notify protocol, spoken directly (no libsystemd needed). */
#ifndef SL_NOTIFY_H
#define SL_NOTIFY_H

#include <stdint.h>

/* Send "READY=1", "STOPPING=1", ... to $NOTIFY_SOCKET; a no-op without it. */
void sl_notify(const char *state);
/* Microseconds between watchdog pings (half of WATCHDOG_USEC), or 0. */
uint64_t sl_notify_watchdog_usec(void);

#endif
