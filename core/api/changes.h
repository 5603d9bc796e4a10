/* SPDX-License-Identifier: MIT */
/* The change feed: a thread tails other nodes' writes; the loop applies them. */
#ifndef SL_API_CHANGES_H
#define SL_API_CHANGES_H

#include <stdint.h>

struct sl_server;
struct evbuffer;

/* On a store several nodes share (srv->node.shared), start tailing the
 * feed from horizon (read before this node loaded its state from the
 * store: what committed since is applied, some of it again, which every
 * change allows); nothing on SQLite. */
int sl_changes_start(struct sl_server *srv, uint64_t horizon);
void sl_changes_stop(struct sl_server *srv);
void sl_changes_metrics(struct sl_server *srv, struct evbuffer *out);

#endif
