/* SPDX-License-Identifier: MIT */
/* A throwaway 1.1 plugin for the distribution hooks' tests: its plan and wave
 * decisions are steered by words in the item's title, its traffic by an option. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sluice/plugin.h>

static const struct sl_host_api *host;
static char traffic_mode[16] = "on";    /* on, off (declines), garbage */

static int has(const struct sl_item *item, const char *word)
{
    const char *title = host->item_field(item, "title");
    return title && strstr(title, word) != NULL;
}

static int probe_init(const struct sl_host_api *h, const struct sl_plugin_option *opts,
                      void **state)
{
    host = h;
    for (; opts && opts->key; opts++) {
        if (strcmp(opts->key, "traffic") != 0 || strlen(opts->value) >= sizeof(traffic_mode)) {
            h->log(SL_LOG_ERROR, "dist_probe", "unknown option \"%s\"", opts->key);
            return -EINVAL;
        }
        strcpy(traffic_mode, opts->value);
    }
    *state = NULL;
    return 0;
}

static void wave(struct sl_plan_wave *w, const char *audience, uint32_t size, uint32_t limit_s,
                 uint32_t check)
{
    snprintf(w->audience, sizeof(w->audience), "%s", audience);
    w->size = size;
    w->limit_s = limit_s;
    w->check = check;
}

/* p-plan: followers, then 3 of everyone (1 s each); p-waitcheck: 5 of
 * everyone for 3 s, asked after each impression; p-plan-bad: a wave too
 * large; p-plan-zero: no waves at all. Otherwise no opinion. */
static int probe_plan(void *state, const struct sl_item *item, struct sl_plan_wave *waves,
                      size_t max, size_t *n)
{
    (void)state;
    (void)max;
    if (has(item, "p-plan-bad")) {
        wave(&waves[0], "everyone", 20000000, 1, 0);
        *n = 1;
        return 0;
    }
    if (has(item, "p-plan-zero"))
        return 0;
    if (has(item, "p-waitcheck")) {
        wave(&waves[0], "everyone", 5, 3, 1);
        *n = 1;
        return 0;
    }
    if (!has(item, "p-plan"))
        return SL_DECLINED;
    wave(&waves[0], "followers", 100, 1, 0);
    wave(&waves[1], "everyone", 3, 1, 0);
    *n = 2;
    return 0;
}

static int answer(struct sl_wave_answer *out, int decision, const char *reason)
{
    out->decision = decision;
    snprintf(out->reason, sizeof(out->reason), "%s", reason);
    return 0;
}

static int probe_wave_done(void *state, const struct sl_item *item, const struct sl_wave *w,
                           struct sl_wave_answer *out)
{
    (void)state;
    if (has(item, "p-stop"))
        return answer(out, SL_WAVE_STOP, "the probe says stop");
    if (has(item, "p-cont"))
        return answer(out, SL_WAVE_CONTINUE, "the probe says continue");
    if (has(item, "p-switch")) {
        if (w->n != 1)
            return answer(out, SL_WAVE_CONTINUE, "the probe says continue");
        snprintf(out->audience, sizeof(out->audience), "interest:cats");
        return answer(out, SL_WAVE_SWITCH, "the probe says cats");
    }
    if (has(item, "p-waitcheck")) {
        if (w->ended_by == SL_WAVE_END_EVIDENCE)
            return answer(out, SL_WAVE_WAIT, "");
        char why[128];
        snprintf(why, sizeof(why), "ended by %d after %u waits", w->ended_by, w->checks);
        return answer(out, SL_WAVE_CONTINUE, why);
    }
    if (has(item, "p-host")) {
        /* What the host functions give, said back in the reason. */
        const char *rel[4], *name;
        size_t nrel = host->wave_related(w, rel, 4);
        int64_t followers = -1;
        double conf = -1, c;
        void *cursor = NULL;
        int ntags = 0;
        double lo, hi;
        host->item_count(item, "creator.followers", &followers);
        host->item_tag_get(item, "interest.cats", &conf);
        while ((name = host->item_tag_next(item, &cursor, &c)))
            ntags++;
        struct sl_seq_params p = SL_SEQ_PARAMS_INIT;
        p.method = SL_SEQ_WILSON;
        p.min_trials = 10;
        int v = host->sequential(&p, 90, 100, 0.1, &lo, &hi, NULL);
        snprintf(out->reason, sizeof(out->reason),
                 "audience=%s followers=%lld cats=%.2f tags=%d related=%s,%s verdict=%d "
                 "lower=%.3f pool=%llu/%llu",
                 w->audience, (long long)followers, conf, ntags, nrel > 0 ? rel[0] : "",
                 nrel > 1 ? rel[1] : "", v, lo, (unsigned long long)w->pool_successes,
                 (unsigned long long)w->pool_trials);
        out->decision = SL_WAVE_CONTINUE;
        return 0;
    }
    /* Answers the host must refuse. */
    if (has(item, "p-garbage"))
        return answer(out, 42, "a decision that is no decision");
    if (has(item, "p-noreason"))
        return answer(out, SL_WAVE_CONTINUE, "");
    if (has(item, "p-waitend"))
        return answer(out, SL_WAVE_WAIT, "");
    if (has(item, "p-badswitch")) {
        snprintf(out->audience, sizeof(out->audience), "nowhere");
        return answer(out, SL_WAVE_SWITCH, "to an audience that is none");
    }
    if (has(item, "p-error"))
        return -EIO;
    if (has(item, "p-unterminated")) {
        out->decision = SL_WAVE_CONTINUE;
        memset(out->reason, 'x', sizeof(out->reason));
        return 0;
    }
    if (has(item, "p-spin")) {
        /* 300 ms of this thread's CPU, never blocking */
        struct timespec a, b;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
        do
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
        while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 300000000L);
        return answer(out, SL_WAVE_CONTINUE, "spun 300 ms first");
    }
    if (has(item, "p-sleep")) {
        struct timespec ts = { 0, 300 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        return answer(out, SL_WAVE_CONTINUE, "slept 300 ms first");
    }
    return SL_DECLINED;
}

/* on: private 0.45 and report_rate 0.001 (and report_threshold 5, which a
 * lower one in the policy overrules); garbage: a share above 1. */
static int probe_traffic(void *state, struct sl_traffic *out)
{
    (void)state;
    if (strcmp(traffic_mode, "off") == 0)
        return SL_DECLINED;
    if (strcmp(traffic_mode, "garbage") == 0) {
        out->private_share = 1.5;
        return 0;
    }
    out->private_share = 0.45;
    out->report_threshold = 5;
    out->report_rate = 0.001;
    return 0;
}

SL_PLUGIN_EXPORT const struct sl_plugin sluice_plugin = {
    SL_PLUGIN_INIT,
    .name = "dist_probe",
    .version = "1",
    .init = probe_init,
    .plan = probe_plan,
    .wave_done = probe_wave_done,
    .traffic = probe_traffic,
};
