/* SPDX-License-Identifier: MIT */
/* A suspended creator's uploads: what uploads.c asks of creators.c. */
#ifndef SL_API_CREATORS_H
#define SL_API_CREATORS_H

#include <stdbool.h>

struct sl_request;
struct sl_outcome;
struct sl_server;

/* What an upload's creator's suspension asks of it. */
struct sl_creator_hold {
    bool on;                    /* its creator's uploads are held for review */
    char reason[480];
};

/* The suspensions into memory, where this node is its store's only writer;
 * 0, or the store's failure. */
int sl_creators_start(struct sl_server *srv);
void sl_creators_free(struct sl_server *srv);

/*
 * Before an upload is judged: 0 to go on (hold says whether it is held),
 * or 1 when r has been answered: 403 creator_suspended when the creator's
 * uploads are refused (a retry of an upload stored before is not: it gets
 * its stored answer), 503 when the store failed.
 */
int sl_creator_gate(struct sl_request *r, const char *creator, const char *id,
                    struct sl_creator_hold *hold);

/* After the policies: an approved upload of a held creator goes to people
 * (queue suspended) instead; other verdicts stand. */
void sl_creator_hold(const struct sl_creator_hold *hold, struct sl_outcome *v);

#endif
