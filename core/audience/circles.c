/* SPDX-License-Identifier: MIT */
/* The audience's groups: circles by label propagation over the follow graph, and group members. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audience/internal.h"
#include "lib/mix.h"

/* {====================== Label propagation ============================ */

/*
 * Label propagation runs in slices so that a big graph never stalls the
 * event loop: the work happens on private arrays over the users that existed
 * when it began, and is published at once when it ends.
 */
struct regroup {
    uint32_t n;             /* users taken into account */
    uint32_t *label;        /* working labels: dense, so neighbours' labels stay in cache */
    float *weight;          /* each user's vote, from its degree when the run began */
    uint32_t *order;        /* this round's visiting order */
    float *votes;           /* weight per label, all zero between visits */
    uint32_t *counts;       /* members per label, when publishing */
    uint32_t *touched;      /* labels with votes */
    uint32_t round, pos, changed;
    uint64_t rng, tie_key;
};

void aud_regroup_drop(struct sl_audience *a)
{
    struct regroup *rg = a->rg;
    if (!rg)
        return;
    free(rg->label);
    free(rg->weight);
    free(rg->order);
    free(rg->votes);
    free(rg->counts);
    free(rg->touched);
    free(rg);
    a->rg = NULL;
}

static void shuffle(struct regroup *rg)
{
    for (uint32_t i = rg->n; i > 1; i--) {
        uint32_t j = (uint32_t)(sl_splitmix64(&rg->rng) % i);
        uint32_t t = rg->order[i - 1];
        rg->order[i - 1] = rg->order[j];
        rg->order[j] = t;
    }
}

static int regroup_begin(struct sl_audience *a)
{
    struct regroup *rg = calloc(1, sizeof(*rg));
    if (!rg)
        return -ENOMEM;
    a->rg = rg;
    rg->n = a->nusers;
    size_t sz = ((size_t)rg->n + 1) * sizeof(uint32_t);
    rg->label = malloc(sz);
    rg->order = malloc(sz);
    rg->weight = malloc(((size_t)rg->n + 1) * sizeof(*rg->weight));
    rg->votes = calloc((size_t)rg->n + 1, sizeof(*rg->votes));
    rg->counts = calloc(1, sz);
    rg->touched = malloc(sz);
    if (!rg->label || !rg->weight || !rg->order || !rg->votes || !rg->counts || !rg->touched) {
        aud_regroup_drop(a);
        return -ENOMEM;
    }
    rg->rng = a->conf.seed ^ 0x6c62272e07bb0142ULL;
    rg->tie_key = sl_splitmix64(&rg->rng);
    for (uint32_t i = 0; i < rg->n; i++) {
        const struct user *u = &a->users[i];
        rg->label[i] = rg->order[i] = i;
        rg->weight[i] = 1.0f / (1.0f + (float)u->followers.n + (float)u->following.n);
    }
    shuffle(rg);
    return 0;
}

/*
 * Votes of one neighbour set; users newer than the run have no label. A
 * neighbour's vote weighs 1 / (1 + its degree): following a celebrity says
 * little about whose circle one is in, a follow among a few says much.
 * Without it, label propagation over a follow graph with hubs collapses
 * into one circle holding nearly everyone.
 */
static size_t count_labels(struct regroup *rg, const struct idset *s, uint32_t *nt)
{
    for (uint32_t i = 0; i < s->n; i++) {
        uint32_t w = s->v[i];
        if (w >= rg->n)
            continue;
        uint32_t l = rg->label[w];
        if (rg->votes[l] == 0)
            rg->touched[(*nt)++] = l;
        rg->votes[l] += rg->weight[w];
    }
    return s->n;
}

/* One user takes the label with the most votes among its neighbours. */
static size_t visit(struct sl_audience *a, struct regroup *rg, uint32_t v)
{
    const struct user *u = &a->users[v];
    uint32_t nt = 0;
    size_t work = 1 + count_labels(rg, &u->followers, &nt) + count_labels(rg, &u->following, &nt);
    uint32_t cur = rg->label[v], best = cur;
    float best_n = rg->votes[cur];
    uint64_t best_key = sl_mix64(cur ^ rg->tie_key);

    for (uint32_t t = 0; t < nt; t++) {
        uint32_t l = rg->touched[t];
        float c = rg->votes[l];
        uint64_t key = sl_mix64(l ^ rg->tie_key);
        rg->votes[l] = 0;
        /* The current label wins ties; otherwise the least keyed label. */
        if (c > best_n || (c == best_n && best != cur && key < best_key)) {
            best = l;
            best_n = c;
            best_key = key;
        }
    }
    if (best != cur) {
        rg->label[v] = best;
        rg->changed++;
    }
    return work;
}

/* Members by label (a counting sort), then swap the result in. */
static int regroup_publish(struct sl_audience *a)
{
    struct regroup *rg = a->rg;
    uint32_t n = rg->n;
    uint32_t *start = calloc((size_t)n + 1, sizeof(*start));
    uint32_t *members = malloc(((size_t)n + 1) * sizeof(*members));

    if (!start || !members) {
        free(start);
        free(members);
        aud_regroup_drop(a);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++)
        start[rg->label[i]]++;
    uint32_t sum = 0;
    for (uint32_t l = 0; l < n; l++) {
        uint32_t c = start[l];
        start[l] = sum;
        sum += c;
    }
    start[n] = sum;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t l = rg->label[i];
        members[start[l] + rg->counts[l]++] = i;
    }
    free(a->labels);
    free(a->group_start);
    free(a->group_order);
    a->labels = rg->label;
    rg->label = NULL;
    a->group_start = start;
    a->group_order = members;
    a->grouped = n;
    aud_regroup_drop(a);
    return 0;
}

int sl_audience_regroup_step(struct sl_audience *a, size_t budget, bool *done)
{
    int rc;

    if (!a)
        return -EINVAL;
    if (done)
        *done = false;
    if (!a->rg && (rc = regroup_begin(a)) < 0)
        return rc;
    struct regroup *rg = a->rg;
    size_t work = 0;
    while (work < budget) {
        if (rg->pos == rg->n) {
            rg->round++;
            if (rg->changed == 0 || rg->round >= a->conf.group_rounds) {
                if ((rc = regroup_publish(a)) < 0)
                    return rc;
                if (done)
                    *done = true;
                return 0;
            }
            rg->pos = 0;
            rg->changed = 0;
            shuffle(rg);
            work += rg->n / 16;     /* the shuffle is work too */
            continue;
        }
        work += visit(a, rg, rg->order[rg->pos++]);
    }
    return 0;
}

int sl_audience_regroup(struct sl_audience *a)
{
    bool done = false;
    int rc;

    if (!a)
        return -EINVAL;
    aud_regroup_drop(a);        /* start afresh from the graph as it is now */
    while (!done)
        if ((rc = sl_audience_regroup_step(a, SIZE_MAX, &done)) < 0)
            return rc;
    return 0;
}

/* }===================================================================== */

/* {====================== Group names and members ====================== */

static int circle_name(const struct sl_audience *a, uint32_t label, char *buf, size_t size)
{
    const char *id = a->users[label].id;
    size_t len = strlen(id);
    if (len + 8 > size)
        return -ENOSPC;
    memcpy(buf, "circle:", 7);
    memcpy(buf + 7, id, len + 1);
    return 0;
}

int sl_audience_groups(const struct sl_audience *a, uint32_t idx, sl_aud_name_fn fn, void *ctx)
{
    char name[16 + SL_AUD_ID_MAX];
    int rc;

    if (!a || !fn)
        return -EINVAL;
    if (idx >= a->nusers)
        return -ENOENT;
    const struct user *u = &a->users[idx];
    if (idx < a->grouped) {
        if ((rc = circle_name(a, a->labels[idx], name, sizeof(name))) < 0)
            return rc;
        if ((rc = fn(ctx, name)) != 0)
            return rc;
    }
    const uint32_t *v = user_ints(u);
    for (uint32_t i = 0; i < u->nints; i++) {
        const char *in = a->ints[v[i]].named.name;
        size_t len = strlen(in);
        memcpy(name, "interest:", 9);
        memcpy(name + 9, in, len + 1);
        if ((rc = fn(ctx, name)) != 0)
            return rc;
    }
    return 0;
}

int sl_audience_group_members(const struct sl_audience *a, const char *group,
                              struct sl_aud_list *out)
{
    if (!a || !group || !out)
        return -EINVAL;
    *out = (struct sl_aud_list){ NULL, 0 };
    if (strncmp(group, "interest:", 9) == 0) {
        *out = sl_audience_interest_users(a, group + 9);
        return 0;
    }
    if (strncmp(group, "circle:", 7) != 0)
        return a->group_source ? a->group_source(a->group_ctx, group, out) : -EINVAL;
    size_t len;
    if (!id_ok(group + 7, &len))
        return 0;
    uint32_t l = aud_user_lookup(a, group + 7, len);
    if (l == SL_AUD_NONE || l >= a->grouped)
        return 0;
    out->v = a->group_order + a->group_start[l];
    out->n = a->group_start[l + 1] - a->group_start[l];
    return 0;
}

void sl_audience_set_group_source(struct sl_audience *a, sl_aud_group_source fn, void *ctx)
{
    a->group_source = fn;
    a->group_ctx = ctx;
}

/* }===================================================================== */
