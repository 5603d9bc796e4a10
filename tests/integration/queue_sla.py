# SPDX-License-Identifier: MIT
# Queue SLAs: each queue may have a time to decision (queue_sla); items past
# it show as overdue in GET /v1/queue, /metrics and sluicectl queue, and a
# claim takes them first, before more urgent items still within theirs.
# Bad settings are refused by --check-config with the line.
import os
import sys
sys.dont_write_bytecode = True
import sluicetest as st

MIN = 60 * 1000


def depths(d):
    return {q["name"]: q for q in (d.get("/v1/queue").json or {}).get("queues", [])}


def body(t):
    t.conf_refused("sla-type.conf", "queue_sla = 3600\n", 1, ["queue_sla"])
    t.conf_refused("sla-key.conf", "\nqueue_sla = { [\"bad key\"] = 60 }\n", 2, ["queue names"])
    t.conf_refused("sla-value.conf", "queue_sla = { minors = 1.5 }\n", 1, ["queue_sla.minors"])
    # Not read as "minors" (found by fuzzing: two such keys made JSON with a key twice).
    t.conf_refused("sla-nul.conf", 'queue_sla = { ["minors\\0x"] = 60 }\n', 1, ["queue names"])
    t.conf_refused("sla-range.conf", "queue_sla = { minors = 5 }\n", 1, ["queue_sla.minors"])

    d = t.daemon(start=False, conf='simulated_clock = true\n'
                 'queue_sla = { minors = 600, ["*"] = 3600 }\n')
    for p in ("00-thresholds.lua", "10-tag.lua", "20-review.lua"):
        os.link(os.path.join(st.srcdir(), "policies", p), os.path.join(d.policies, p))
    d.start()
    mod = d.post("/v1/tokens", {"name": "mod", "role": "moderator"}).json["token"]

    # A nsfw item (priority 70) now; an hour on, a minors item (90).
    r = d.post("/v1/uploads", {"id": "n1", "creator": "c1", "title": "n",
                               "signals": {"nsfw.score": 0.6}})
    t.require(r.status == 202 and r.json["state"] == "in_review", "n1 goes to people", r)
    t.status(d.post("/v1/clock", {"advance_ms": 61 * MIN}), 200, "an hour and a minute on")
    r = d.post("/v1/uploads", {"id": "m1", "creator": "c2", "title": "m",
                               "signals": {"face.age": 7, "face.confidence": 0.9}})
    t.require(r.status == 202 and r.json["state"] == "in_review", "m1 goes to people", r)

    q = depths(d)
    t.check(q.get("nsfw", {}).get("overdue") == 1 and q["nsfw"].get("sla_ms") == 3600 * 1000
            and q.get("minors", {}).get("overdue") == 0 and q["minors"].get("sla_ms") == 600 * 1000,
            "GET /v1/queue: nsfw (\"*\": an hour) has 1 overdue, minors (10 min) none yet", q)
    items = {i["id"]: i for i in (d.get("/v1/queue").json or {}).get("items", [])}
    t.check(items.get("n1", {}).get("overdue") is True and items.get("m1", {}).get("overdue") is False
            and items["m1"].get("due_ms") == items["m1"]["enqueued_ms"] + 600 * 1000,
            "each item says when it is due and whether it is past it", items)
    t.check(list(items)[0] == "n1", "the listing puts the overdue item first", list(items))

    text = d.get("/metrics").body.decode()
    for line in ('sluice_queue_overdue{queue="nsfw"} 1', 'sluice_queue_overdue{queue="minors"} 0',
                 'sluice_queue_depth{queue="minors"} 1', 'sluice_queue_sla_seconds{queue="minors"} 600.000'):
        t.check(line in text, "/metrics has %s" % line)

    r = st.run([st.program("sluicectl"), "--url", d.url, "--token", mod, "queue"])
    lines = {l.split()[0]: l.split() for l in r.stdout.splitlines() if l.strip()}
    t.check(r.returncode == 0 and "PAST" in lines.get("QUEUE", [])
            and lines.get("nsfw", [])[3:5] == ["1", "60m"]
            and lines.get("minors", [])[3:5] == ["0", "10m"],
            "sluicectl queue shows the past-SLA count and the SLA of each queue", r.stdout)

    # The claim takes the overdue nsfw item before the more urgent minors one.
    r = d.post("/v1/queue/claim", {"limit": 1}, token=mod)
    t.check([c["id"] for c in (r.json or {}).get("items", [])] == ["n1"],
            "a claim takes the overdue item (priority 70) before the fresh one (90)", r)
    r = d.post("/v1/queue/claim", {"limit": 1}, token=mod)
    t.check([c["id"] for c in (r.json or {}).get("items", [])] == ["m1"],
            "then the other", r)
    t.stopped(d)

    # Without queue_sla nothing is overdue and priority decides as before.
    e = t.daemon(name="plain")
    for p in ("00-thresholds.lua", "10-tag.lua", "20-review.lua"):
        os.link(os.path.join(st.srcdir(), "policies", p), os.path.join(e.policies, p))
    e.post("/v1/policies/reload")
    e.post("/v1/uploads", {"id": "n1", "creator": "c1", "title": "n", "signals": {"nsfw.score": 0.6}})
    e.post("/v1/uploads", {"id": "m1", "creator": "c2", "title": "m",
                           "signals": {"face.age": 7, "face.confidence": 0.9}})
    q = depths(e)
    t.check(all(v.get("sla_ms") is None and v.get("overdue") == 0 for v in q.values()),
            "without queue_sla: no SLA, nothing overdue", q)
    r = e.post("/v1/queue/claim", {"limit": 1})
    t.check([c["id"] for c in (r.json or {}).get("items", [])] == ["m1"],
            "and the most urgent is claimed first", r)
    t.stopped(e)


st.main(body)
