# SPDX-License-Identifier: MIT
# The Grafana dashboard (dist/grafana-sluice.json) and the alert rules
# (dist/sluice.rules.yml) ask only for what exists: every metric name they
# use is exported by a running sluiced (or listed in docs/operations.md as
# another exporter's), every label they match or group by is one the metric
# has; and the dashboard is well formed.
import json
import os
import re
import sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import opstest as ot  # noqa: E402
st = ot.st

# Prometheus adds these to every sample it scrapes.
TARGET_LABELS = {"job", "instance"}

def exported(text):
    """{name: set of label names} of the samples in an exposition."""
    out = {}
    for name, labels in ot.metric_samples(text).items():
        s = out.setdefault(name, set())
        for lb in labels:
            s.update(re.findall(r'(\w+)="', lb))
    return out


def some_traffic(d):
    """Enough for every family to have samples: items in several states,
    a keyword match, events, a feed, a refused and a good reload."""
    for i in range(6):
        d.post("/v1/uploads", st.upload("m%d" % i, creator="c%d" % (i % 3)))
    d.post("/v1/uploads", st.upload("m-spam", title="free money, act now"))
    d.req("PUT", "/v1/follows/u1/c1")
    d.post("/v1/events", {"item": "m1", "user": "u1", "type": "like"})
    d.get("/v1/feed/u1")
    d.post("/v1/policies/reload")


def body(t):
    src = st.srcdir()
    with open(os.path.join(src, ot.DASHBOARD)) as f:
        dash = json.load(f)
    with open(os.path.join(src, ot.RULES)) as f:
        rules = ot.rules_exprs(f.read())
    t.require(len(rules) >= 9, "the rules file has its alerts (%d expressions)" % len(rules))
    exprs = ot.dashboard_exprs(dash) + [("alert %s" % a, e) for a, e in rules]
    t.require(len(exprs) > 40, "the dashboard and the rules have queries (%d)" % len(exprs))

    d = ot.Daemon(t, ot.plugins_conf())
    ot.shipped_policies(d)
    d.start()
    some_traffic(d)
    r = d.get("/metrics")
    t.require(r.status == 200, "GET /metrics", r)
    have = exported(r.body.decode("utf-8"))
    other = ot.other_exporters_metrics()
    t.check({"up", "node_filesystem_avail_bytes", "node_filesystem_size_bytes"} <= other,
            "docs/operations.md lists the other exporters' metrics", sorted(other))

    # {====== names ======
    unknown = []
    for where, e in exprs:
        for name in sorted(ot.metric_names(e)):
            if name not in have and name not in other:
                unknown.append("%s: %s" % (where, name))
    t.check(not unknown, "every metric name the dashboard and the rules use is exported "
            "or another exporter's", unknown)

    # {====== labels ======
    bad = []
    for where, e in exprs:
        for name, label in ot.selector_labels(e) + ot.grouping_labels(e):
            if name in other or label in TARGET_LABELS:
                continue
            labels = have.get(name, set())
            if label not in labels:
                bad.append("%s: %s has no label %r (it has %s)" % (where, name, label,
                                                                  sorted(labels)))
    t.check(not bad, "every label matched or grouped by is one the metric has", bad)

    # Values the selectors match exactly must exist too: a route renamed
    # in the daemon would leave a panel empty without an error.
    routes = set(re.findall(r'route="([^"]*)"', r.body.decode("utf-8")))
    wanted = set()
    for _, e in exprs:
        wanted.update(re.findall(r'route="([^"]*)"', e))
    t.check(wanted and wanted <= routes, "the routes named in queries exist (%s)"
            % ", ".join(sorted(wanted)), sorted(wanted - routes))

    # {====== the dashboard's shape ======
    panels = [p for p in dash["panels"] if p.get("type") != "row"]
    ids = [p["id"] for p in dash["panels"]]
    t.check(len(ids) == len(set(ids)), "panel ids are unique")
    cells, overlap = set(), []
    for p in dash["panels"]:
        g = p["gridPos"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        if mine & cells or g["x"] + g["w"] > 24:
            overlap.append(p["title"])
        cells |= mine
    t.check(not overlap, "panels do not overlap and fit 24 columns", overlap)
    t.check(all(p.get("datasource", {}).get("uid") == "${datasource}" for p in panels),
            "every panel reads the dashboard's data source variable")
    t.check(all(p.get("targets") and p.get("description") for p in panels),
            "every panel has queries and a description")
    titles = " | ".join(p["title"] for p in panels).lower()
    for topic in ("queue depth", "oldest", "decisions per hour", "wave funnel", "wave decisions",
                  "traffic shares", "gini", "requests per second", "latency", "commit latency",
                  "batch size", "heap"):
        t.check(topic in titles, "the dashboard shows %s" % topic)
    t.stopped(d)


st.main(body)
