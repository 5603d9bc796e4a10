/* SPDX-License-Identifier: MIT */
/* A search's plan, one for both backends: its terms, range of seq, driver and scan. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "store/search_plan.h"
#include "store/store.h"

/* {====================== SQL text ====================================== */

void sl_search_put(struct sql_text *o, const char *fmt, ...)
{
    va_list ap;
    size_t room = o->size - o->len;

    va_start(ap, fmt);
    int n = vsnprintf(o->text + o->len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room)
        o->over = true;
    else
        o->len += (size_t)n;
}

/* }===================================================================== */

/* {====================== The plan ====================================== */

int sl_search_valid(const struct sl_search *q)
{
    if (q->limit <= 0 || q->nterms > SL_SEARCH_TERMS || q->nstates > SL_SEARCH_STATES)
        return -EINVAL;
    return 0;
}

static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

int sl_search_terms(struct search_plan *p,
                    int (*term)(struct search_plan *p, const char *text, bool indexed))
{
    for (int t = 0; t < p->q->nterms; t++) {
        const char *text = p->q->terms[t];
        size_t n = text ? chars(text) : 0;
        if (n == 0)
            return -EINVAL;
        int rc = term(p, text, n >= 3);
        if (rc < 0)
            return rc;
        p->text = p->text || n >= 3;
    }
    return 0;
}

/* The first seq from which every item was created at or after t (created_ms
 * never decreases in seq order): a binary search, a few dozen lookups. */
static int seq_from_time(const struct search_plan *p, int64_t t, int64_t max, int64_t *out)
{
    int64_t lo = 1, hi = max + 1;

    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2, at, created;
        int rc = p->seq_at(p->db, mid, &at, &created);
        if (rc == -ENOENT) {
            at = max + 1;
            created = INT64_MAX;
        } else if (rc < 0) {
            return rc;
        }
        if (created >= t)
            hi = mid;
        else
            lo = at + 1;
    }
    *out = lo;
    return 0;
}

int sl_search_range(struct search_plan *p, int64_t max)
{
    const struct sl_search *q = p->q;
    int64_t at;
    int rc;

    p->lo = 1;
    p->up = max + 1;
    if (q->before > 0 && q->before < p->up)
        p->up = q->before;
    if (q->seq_max > 0 && q->seq_max + 1 < p->up)
        p->up = q->seq_max + 1;
    if (q->since_ms > 0) {
        if ((rc = seq_from_time(p, q->since_ms, max, &at)) < 0)
            return rc;
        p->lo = at;
    }
    if (q->until_ms > 0) {
        if ((rc = seq_from_time(p, q->until_ms, max, &at)) < 0)
            return rc;
        if (at < p->up)
            p->up = at;
    }
    return 0;
}

int sl_search_choose(const struct search_plan *p, enum driver *out)
{
    const struct sl_search *q = p->q;
    bool can[DR__COUNT] = {
        [DR_TEXT] = p->text, [DR_CREATOR] = q->creator != NULL,
        [DR_MATCHED] = q->matched != NULL, [DR_DECIDED] = q->decided_by != NULL,
        [DR_QUEUE] = q->queue != NULL, [DR_TAG] = q->tag != NULL,
        [DR_STATE] = q->nstates > 0, [DR_ALL] = true,
    };
    int64_t best = INT64_MAX;
    int n = 0;

    for (int d = 0; d < DR__COUNT; d++)
        n += can[d];
    /* Only the range: nothing to weigh. With one index beside it, the
     * range is weighed too, since a short time span beats a large index. */
    *out = DR_ALL;
    for (int d = 0; d < DR__COUNT; d++) {
        int64_t e = p->up - p->lo;
        if (!can[d])
            continue;
        if (n == 2 && d != DR_ALL && !(q->since_ms > 0 || q->until_ms > 0 || q->before > 0)) {
            *out = (enum driver)d;     /* one index and the whole range: the index */
            return 0;
        }
        int rc = d == DR_ALL ? 0 : p->estimate(p, (enum driver)d, &e);
        if (rc < 0)
            return rc;
        /* A driver that leaves the text to check costs that much more per
         * item (the backend says how much). */
        if (p->text && d != DR_TEXT)
            e = e > INT64_MAX / p->text_check ? INT64_MAX : e * p->text_check;
        if (e < best) {
            best = e;
            *out = (enum driver)d;
        }
    }
    return 0;
}

/* }===================================================================== */

/* {====================== The scan ====================================== */

int sl_search_row(struct search_scan *c, int64_t seq, const char *id, bool found)
{
    const struct sl_search *q = c->q;
    struct sl_search_end *end = c->end;

    if (seq == c->last)
        return 0;       /* one item matched under two kinds of one name */
    if (c->last && seq > c->last) {
        sl_err("store: a search's driver did not yield newest first (%lld after %lld)",
               (long long)seq, (long long)c->last);
        return -EIO;
    }
    c->last = seq;
    end->scanned += !c->full;
    if (found) {
        if (c->full) {
            end->next = c->full;
            return 1;
        }
        end->found++;
        if (c->fn(c->arg, seq, id)) {
            end->next = seq;
            return 1;
        }
        if (end->found >= q->limit)
            c->full = seq;
    }
    if ((++c->rows & 31) == 0 &&
        ((q->deadline > 0 && sl_mono() > q->deadline) || (c->due && c->due(c->db) != 0))) {
        end->partial = !c->full;
        end->next = c->full ? c->full : seq;
        return 1;
    }
    return 0;
}

int sl_search_cut(struct search_scan *c)
{
    if (c->last == 0)
        return -ETIMEDOUT;
    c->end->partial = !c->full;
    c->end->next = c->full ? c->full : c->last;
    return 0;
}

/* }===================================================================== */
