/* SPDX-License-Identifier: MIT */
/* What distribution tells: an item's journey, the /v1/stats figures, /metrics. */
#include "config.h"

#include <stdio.h>

#include <event2/buffer.h>

#include "dist/internal.h"
#include "lib/prom.h"
#include "server.h"
#include "store/store.h"

/* {====================== Journey and figures ========================== */

static const char *const decision_names[DEC__COUNT] = {
    [DEC_CONTINUE] = "continue",
    [DEC_STOP]     = "stop",
    [DEC_SWITCH]   = "switch",
    [DEC_SKIP]     = "skip",
    [DEC_REVIEW]   = "review",
    [DEC_ERROR]    = "error",
};

json_t *sl_dist_journey(struct sl_server *srv, const char *id)
{
    struct sl_dist *d = D(srv);
    struct ditem *it = dist_item_get(d, id);
    json_t *waves = NULL;

    if (it) {
        waves = json_array();
        for (int i = 0; i < it->nwaves; i++)
            json_array_append_new(waves, dist_wave_json(&it->waves[i]));
    } else if (sl_store_waves_get(srv->reader, id, &waves) < 0) {
        waves = json_array();
    }
    return waves;
}

double dist_private_share(const struct sl_dist *d)
{
    uint64_t total = d->served_private + d->served_public;
    return total ? (double)d->served_private / (double)total : 0;
}

static void shares(struct sl_dist *d, double *priv, double *ordinary, double *gini)
{
    *priv = dist_private_share(d);
    *ordinary = d->served_public ? (double)d->served_ordinary / (double)d->served_public : 0;
    if (sl_audience_exposure_gini(d->aud, gini) < 0)
        *gini = 0;
}

json_t *sl_dist_stats(struct sl_server *srv)
{
    struct sl_dist *d = D(srv);
    double p, o, g;
    json_t *funnel = json_object(), *dec = json_object();

    for (int k = 1; k <= FUNNEL_MAX; k++) {
        char key[16];
        snprintf(key, sizeof(key), k == FUNNEL_MAX ? "wave%d+" : "wave%d", k);
        json_object_set_new(funnel, key, json_integer((json_int_t)d->funnel[k]));
    }
    for (int i = 0; i < DEC__COUNT; i++)
        json_object_set_new(dec, decision_names[i], json_integer((json_int_t)d->decisions[i]));
    shares(d, &p, &o, &g);
    return json_pack("{s:o, s:o, s:{s:f, s:f, s:f, s:I, s:I}, s:o*}", "funnel", funnel,
                     "decisions", dec, "shares", "private", p, "ordinary", o, "gini", g,
                     "served", (json_int_t)(d->served_private + d->served_public),
                     "served_public", (json_int_t)d->served_public,
                     "traffic", dist_traffic_json(d));
}

void sl_dist_metrics(struct sl_server *srv, struct evbuffer *out)
{
    struct sl_dist *d = D(srv);
    double p, o, g;

    shares(d, &p, &o, &g);
    sl_metric_header(out, "sluice_feed_private_share", "gauge",
                     "Share of mixed-feed items served from creators the user follows.");
    evbuffer_add_printf(out, "sluice_feed_private_share %.6f\n", p);
    sl_metric_header(out, "sluice_feed_ordinary_share", "gauge",
                     "Share of public mixed-feed items served from creators outside the head.");
    evbuffer_add_printf(out, "sluice_feed_ordinary_share %.6f\n", o);
    sl_metric_header(out, "sluice_exposure_gini", "gauge",
                     "Gini coefficient of items served per creator (0 is equal).");
    evbuffer_add_printf(out, "sluice_exposure_gini %.6f\n", g);
    sl_metric_header(out, "sluice_wave_funnel_total", "counter",
                     "Items whose distribution reached wave N.");
    for (int k = 1; k <= FUNNEL_MAX; k++)
        evbuffer_add_printf(out, "sluice_wave_funnel_total{wave=\"%d%s\"} %llu\n", k,
                            k == FUNNEL_MAX ? "+" : "", (unsigned long long)d->funnel[k]);
    sl_metric_header(out, "sluice_wave_decisions_total", "counter",
                     "Wave outcomes: the policy's decisions, skips, reviews and errors.");
    for (int i = 0; i < DEC__COUNT; i++)
        evbuffer_add_printf(out, "sluice_wave_decisions_total{decision=\"%s\"} %llu\n",
                            decision_names[i], (unsigned long long)d->decisions[i]);
    sl_metric_header(out, "sluice_wave_checks_total", "counter",
                     "Evidence checkpoints: wave_done asked before a wave's end, and how "
                     "often it answered wait.");
    evbuffer_add_printf(out, "sluice_wave_checks_total{answer=\"decided\"} %llu\n"
                             "sluice_wave_checks_total{answer=\"wait\"} %llu\n",
                        (unsigned long long)(d->checks - d->waits),
                        (unsigned long long)d->waits);
    sl_metric_header(out, "sluice_wave_lap_yields_total", "counter",
                     "Times a tick's lap over the running waves stopped after 10 ms of "
                     "decisions to let requests through, and went on after them.");
    evbuffer_add_printf(out, "sluice_wave_lap_yields_total %llu\n",
                        (unsigned long long)d->due_yields);
    sl_metric_header(out, "sluice_events_uncounted_total", "counter",
                     "Events stored but not counted in a wave: from users the item was "
                     "never served to, or a user's repeat of one kind.");
    for (int why = 0; why < 2; why++)
        for (int t = 0; t < SL_EV__COUNT; t++)
            evbuffer_add_printf(out, "sluice_events_uncounted_total{type=\"%s\",why=\"%s\"} %llu\n",
                                sl_event_names[t], why ? "repeated" : "unserved",
                                (unsigned long long)d->uncounted[why][t]);
    sl_metric_header(out, "sluice_reports_total", "counter",
                     "Reports weighed: from users served the item, from users never served "
                     "it (weighing unserved_report_weight), and repeats (not counted).");
    evbuffer_add_printf(out, "sluice_reports_total{from=\"served\"} %llu\n"
                             "sluice_reports_total{from=\"unserved\"} %llu\n"
                             "sluice_reports_total{from=\"repeated\"} %llu\n",
                        (unsigned long long)d->reports[0], (unsigned long long)d->reports[1],
                        (unsigned long long)d->reports[2]);
    sl_metric_header(out, "sluice_reports_pulled_total", "counter",
                     "Items reports took back to people, distributing or settled.");
    evbuffer_add_printf(out, "sluice_reports_pulled_total %llu\n", (unsigned long long)d->pulled);
    sl_metric_header(out, "sluice_audience_users", "gauge", "Users the audience holds.");
    evbuffer_add_printf(out, "sluice_audience_users %zu\n", sl_audience_user_count(d->aud));
}

/* }===================================================================== */
