/* SPDX-License-Identifier: MIT */
/* seqtest: the shipped wave decider, 30-distribute.lua's wave_done in C over the host's sequential test. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

#define NAME "seqtest"

/*
 * Thresholds read from sluice.conf; the defaults are those of the shipped
 * policies/30-distribute.lua, so that switching one for the other changes
 * who decides, not what is decided. Read-only after init: calls from
 * several threads (a replay beside the loop) share it safely.
 */
struct seqtest {
    const struct sl_host_api *host;
    struct sl_seq_params test;          /* method, min_trials, z, and the Beta ones */
    uint64_t baseline_min_trials;       /* baseline_prior weighs as this many impressions */
    double baseline_prior;
};

/* {====================== Options ====================================== */

/* A number from the whole of text within [lo, hi]. */
static int number(const char *text, double lo, double hi, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= lo && v <= hi))
        return -EINVAL;
    *out = v;
    return 0;
}

static int count(const char *text, double hi, uint64_t *out)
{
    double v;

    if (number(text, 0, hi, &v) < 0 || v != (double)(uint64_t)v)
        return -EINVAL;
    *out = (uint64_t)v;
    return 0;
}

static int option(struct seqtest *st, const char *key, const char *value)
{
    if (strcmp(key, "method") == 0) {
        if (strcmp(value, "wilson") == 0)
            st->test.method = SL_SEQ_WILSON;
        else if (strcmp(value, "beta") == 0)
            st->test.method = SL_SEQ_BETA;
        else
            return -EINVAL;
        return 0;
    }
    if (strcmp(key, "min_trials") == 0)
        return count(value, 1e9, &st->test.min_trials);
    if (strcmp(key, "z") == 0)
        return number(value, 0, 10, &st->test.z);
    if (strcmp(key, "continue_above") == 0)
        return number(value, 0, 1, &st->test.continue_above);
    if (strcmp(key, "stop_below") == 0)
        return number(value, 0, 1, &st->test.stop_below);
    if (strcmp(key, "prior_strength") == 0)
        return number(value, 1e-9, 1e9, &st->test.prior_strength);
    if (strcmp(key, "baseline_min_trials") == 0)
        return count(value, 1e15, &st->baseline_min_trials);
    if (strcmp(key, "baseline_prior") == 0)
        return number(value, 0, 1, &st->baseline_prior);
    return -ENOENT;
}

static int init(const struct sl_host_api *host, const struct sl_plugin_option *opts,
                void **state)
{
    struct seqtest *st;

    /* The host functions of ABI 1.1 this plugin calls. */
    if (host->struct_size < offsetof(struct sl_host_api, sequential) + sizeof(host->sequential)) {
        host->log(SL_LOG_ERROR, NAME, "this sluiced has no sequential test (ABI 1.1 needed)");
        return -EPROTO;
    }
    if (!(st = calloc(1, sizeof(*st))))
        return -ENOMEM;
    *st = (struct seqtest){
        .host = host,
        .test = SL_SEQ_PARAMS_INIT,
        .baseline_min_trials = 200,
        .baseline_prior = 0.10,
    };
    st->test.method = SL_SEQ_WILSON;
    st->test.min_trials = 20;
    st->test.z = 1.64;
    for (; opts && opts->key; opts++) {
        int rc = option(st, opts->key, opts->value);
        if (rc == -ENOENT)
            host->log(SL_LOG_ERROR, NAME, "unknown option \"%s\" (method, min_trials, z, "
                      "continue_above, stop_below, prior_strength, baseline_min_trials, "
                      "baseline_prior)", opts->key);
        else if (rc < 0)
            host->log(SL_LOG_ERROR, NAME, "option %s = \"%s\" is out of range or not a "
                      "number (see docs/plugins.md)", opts->key, opts->value);
        if (rc < 0) {
            free(st);
            return -EINVAL;
        }
    }
    if (st->test.stop_below > st->test.continue_above) {
        host->log(SL_LOG_ERROR, NAME, "stop_below (%g) must not be above continue_above (%g)",
                  st->test.stop_below, st->test.continue_above);
        free(st);
        return -EINVAL;
    }
    *state = st;
    return 0;
}

static void fini(void *state)
{
    free(state);
}

/* }===================================================================== */

/* {====================== Reasons ====================================== */

/*
 * The reasons read exactly as the Lua policy's string.format writes them,
 * so that the two are interchangeable in a wave's record. printf's %.3f
 * would cost most of a decision, so numbers are written here: the value
 * times 1000 rounded to the nearest integer, ties to even, from the exact
 * binary value, which is what glibc's printf does (tests/plugins/
 * test_seqtest.c compares every reason with the policy's).
 */
static size_t fixed3(char out[40], double x)
{
    if (!(x >= 0 && x < 1e15))          /* NaN, and what never comes: libc's */
        return (size_t)snprintf(out, 40, "%.3f", x);
    double v = x * 1000.0;
    double err = fma(x, 1000.0, -v);    /* x * 1000 is v + err exactly */
    double r = floor(v);
    /* v - r and d are exact; when d is not 0 it outweighs err. */
    double d = (v - r) - 0.5;
    unsigned long long k = (unsigned long long)r;
    char rev[40];
    size_t n = 0, len = 0;

    if (d > 0 || (d == 0 && (err > 0 || (err == 0 && (k & 1)))))
        k++;
    for (int i = 0; i < 3; i++, k /= 10)
        rev[n++] = (char)('0' + k % 10);
    rev[n++] = '.';
    do
        rev[n++] = (char)('0' + k % 10);
    while ((k /= 10) > 0);
    while (n > 0)
        out[len++] = rev[--n];
    out[len] = '\0';
    return len;
}

/* A reason from fmt with %s (a string), %u (unsigned long long) and %f (a
 * double with three decimals); cut to size. */
static void say(char *buf, size_t size, const char *fmt, ...)
{
    char *p = buf, *end = buf + size - 1;
    va_list ap;

    va_start(ap, fmt);
    for (; *fmt && p < end; fmt++) {
        if (*fmt != '%') {
            *p++ = *fmt;
            continue;
        }
        switch (*++fmt) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            while (*s && p < end)
                *p++ = *s++;
            break;
        }
        case 'u': {
            char digits[24];
            int n = 0;
            unsigned long long v = va_arg(ap, unsigned long long);
            do
                digits[n++] = (char)('0' + v % 10);
            while ((v /= 10) > 0);
            while (n > 0 && p < end)
                *p++ = digits[--n];
            break;
        }
        case 'f': {
            char num[40];
            size_t n = fixed3(num, va_arg(ap, double));
            for (size_t i = 0; i < n && p < end; i++)
                *p++ = num[i];
            break;
        }
        default:
            fmt--;
            *p++ = '%';
        }
    }
    *p = '\0';
    va_end(ap);
}

/* }===================================================================== */

/* {====================== The decision ================================= */

/* Worse than its pool here; a related audience may still like it once. */
static int worse(const struct seqtest *st, const struct sl_wave *w,
                 struct sl_wave_answer *out, const char *why)
{
    const char *rel[1];

    if (strncmp(w->audience, "interest:", 9) != 0 && st->host->wave_related(w, rel, 1) == 1) {
        out->decision = SL_WAVE_SWITCH;
        say(out->audience, sizeof(out->audience), "interest:%s", rel[0]);
        say(out->reason, sizeof(out->reason), "%s; trying %s", why, rel[0]);
    } else {
        out->decision = SL_WAVE_STOP;
        say(out->reason, sizeof(out->reason), "%s", why);
    }
    return 0;
}

/*
 * The followers' wave never judges; else the engagement rate against the
 * pool's: the sequential test decides when it is sure either way; not sure
 * at a checkpoint waits; not sure at an end, on many looks or few, goes on
 * only if at least as good as the pool; worse switches to a related
 * interest once rather than stopping; no look at all when time ran out is
 * the audience's fault rather than the item's.
 */
static int wave_done(void *state, const struct sl_item *item, const struct sl_wave *w,
                     struct sl_wave_answer *out)
{
    const struct seqtest *st = state;
    unsigned long long n = w->impressions;
    unsigned long long s = w->engaged < n ? w->engaged : n;
    int early = w->ended_by == SL_WAVE_END_EVIDENCE;
    /* The pool's rate shrunk towards the prior: a young pool's few
     * impressions neither set the bar alone nor leave it at the prior once
     * they say otherwise (the prior is worth baseline_min_trials of them). */
    double pt = (double)w->pool_trials, pm = (double)st->baseline_min_trials;
    double rate = pt + pm > 0 ? (w->pool_rate * pt + st->baseline_prior * pm) / (pt + pm)
                              : st->baseline_prior;
    double lo = 0, hi = 1, share = (double)s / (double)n;
    int verdict = SL_SEQ_UNDECIDED;
    char why[200];
    const char *rel[1];

    (void)item;
    if (strcmp(w->audience, "followers") == 0) {
        out->decision = SL_WAVE_CONTINUE;
        say(out->reason, sizeof(out->reason),
            "%u of the creator's followers saw it; the public waves judge", n);
        return 0;
    }
    if (n >= st->test.min_trials &&
        (verdict = st->host->sequential(&st->test, s, n, rate, &lo, &hi, NULL)) < 0)
        return verdict;
    if (verdict == SL_SEQ_CONTINUE) {
        out->decision = SL_WAVE_CONTINUE;
        say(out->reason, sizeof(out->reason), "engagement %f (lower bound %f) beats the pool's %f%s",
            share, lo, rate, early ? ", early" : "");
        return 0;
    }
    if (verdict == SL_SEQ_STOP) {
        say(why, sizeof(why), "engagement %f (upper bound %f) below the pool's %f%s", share, hi,
            rate, early ? ", early" : "");
        return worse(st, w, out, why);
    }
    if (early) {
        out->decision = SL_WAVE_WAIT;
        return 0;
    }
    if (n == 0) {
        if (w->ended_by == SL_WAVE_END_TIME && st->host->wave_related(w, rel, 1) == 1) {
            out->decision = SL_WAVE_SWITCH;
            say(out->audience, sizeof(out->audience), "interest:%s", rel[0]);
            say(out->reason, sizeof(out->reason), "no impressions in %s", w->audience);
            return 0;
        }
        out->decision = SL_WAVE_CONTINUE;
        say(out->reason, sizeof(out->reason), "no impressions: no verdict");
        return 0;
    }
    if (share >= rate) {
        out->decision = SL_WAVE_CONTINUE;
        say(out->reason, sizeof(out->reason),
            "engagement %f within [%f, %f], at least the pool's %f", share, lo, hi, rate);
        return 0;
    }
    say(why, sizeof(why), "engagement %f within [%f, %f], below the pool's %f", share, lo, hi,
        rate);
    return worse(st, w, out, why);
}

/* }===================================================================== */

SL_PLUGIN_EXPORT const struct sl_plugin sluice_plugin = {
    SL_PLUGIN_INIT,
    .name = NAME,
    .version = "1.0",
    .init = init,
    .fini = fini,
    .wave_done = wave_done,
};
