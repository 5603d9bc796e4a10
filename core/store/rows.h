/* SPDX-License-Identifier: MIT */
/* Text in, rows out: what both backends do alike so that every stored row can be listed. */
#ifndef SL_STORE_ROWS_H
#define SL_STORE_ROWS_H

/*
 * Private to store/. No row may be stored that a listing cannot show. Free
 * text (reasons, actors) goes in through text_in: text that is not UTF-8
 * (a caller's bug: a cut character, a plugin's bytes) is stored repaired
 * (sl_utf8_repair) and the repair is logged; PostgreSQL would refuse it
 * outright, and fail the whole group commit with it. A row read back that
 * still cannot become JSON (written by an older sluiced, or edited by hand)
 * is never left out of a listing in silence: row_unreadable logs where it
 * is and the listing fails with -EILSEQ.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/log.h"
#include "lib/text.h"

/* Text to store, valid: *keep is NULL or the repaired copy to free(). */
static inline int text_in(const char *v, const char *what, const char **out, char **keep)
{
    int rc = v ? sl_utf8_repair(v, keep) : 0;

    *out = rc == 1 ? *keep : v;
    if (rc == 1)
        sl_warn("store: %s was not valid UTF-8 (a cut character or stray bytes); "
                "stored with those bytes repaired", what);
    return rc < 0 ? rc : 0;
}

/* text_in for field `name` of audit record seq, named only when it is not
 * valid: three records an upload, and naming each field cost as much as
 * the rest of making the record. */
static inline int text_in_audit(const char *v, long long seq, const char *name,
                                const char **out, char **keep)
{
    char what[64];

    *keep = NULL;
    *out = v;
    if (!v || sl_utf8_valid(v, strlen(v)))
        return 0;
    snprintf(what, sizeof(what), "audit record %lld's %s", seq, name);
    return text_in(v, what, out, keep);
}

/* json_pack_ex refused a row: say which and why; -EILSEQ (-ENOMEM when
 * it was memory). what is "audit record 12" or the like. */
static inline int row_unreadable(const json_error_t *jerr, const char *what)
{
    if (json_error_code(jerr) == json_error_out_of_memory)
        return -ENOMEM;
    sl_err("store: %s cannot be listed: %s (written by an older sluiced, or edited "
           "by hand?)", what, json_error_code(jerr) == json_error_null_value
           ? "a JSON column does not parse" : jerr->text);
    return -EILSEQ;
}

#endif
