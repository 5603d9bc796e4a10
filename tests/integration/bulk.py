# SPDX-License-Identifier: MIT
# Bulk actions (POST /v1/bulk): the dry run changes nothing; above
# bulk_confirm_above a second moderator confirms (never the first); every
# item gets the single action's audit record naming the job; taken-down
# items leave every feed; review and restore send items to people, whose
# approval sends them on; cancel; a job killed mid-way finishes after the
# restart, each item acted on once.
import os
import signal
import sys
import time
sys.dont_write_bytecode = True
import sluicetest as st

LIMIT = 3


def bulk(d, token=st.DEFAULT, **body):
    return d.post("/v1/bulk", body, token=token)


def wait_job(t, d, job, states=("done",), timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        r = d.get("/v1/bulk/" + job)
        if r.status == 200 and r.json["state"] in states:
            return r.json
        if time.monotonic() > deadline:
            t.require(False, "job %s reaches %s within %ss" % (job, states, timeout), r)
        time.sleep(0.05)


def settles(d, item, states=("distributing", "settled"), timeout=10):
    """The item reaches one of states (distribution works after the answer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if state(d, item) in states:
            return True
        time.sleep(0.05)
    return False


def audit_of(d, item):
    return d.get("/v1/audit?item=" + item).json["records"]


def state(d, item):
    return d.item(item).json["state"]


def body(t):
    d = t.daemon(start=False, conf="bulk_confirm_above = %d\n" % LIMIT)
    for p in ("00-thresholds.lua", "10-tag.lua", "20-review.lua"):
        os.link(os.path.join(st.srcdir(), "policies", p), os.path.join(d.policies, p))
    d.start()
    tok = {n: d.post("/v1/tokens", {"name": n, "role": "moderator"}).json["token"]
           for n in ("mod1", "mod2")}
    ing = d.post("/v1/tokens", {"name": "ing", "role": "ingest"}).json["token"]
    for u in ("u1", "u2"):
        d.post("/v1/users", {"id": u})
        d.req("PUT", "/v1/follows/%s/spammer" % u)
        d.req("PUT", "/v1/follows/%s/good" % u)
    spam = ["s%d" % i for i in range(6)]
    for i in spam:
        r = d.post("/v1/uploads", {"id": i, "creator": "spammer", "title": "crypto offer " + i})
        t.require(r.status == 202 and r.json["state"] == "approved", "upload " + i, r)
    for i in ("g0", "g1"):
        d.post("/v1/uploads", {"id": i, "creator": "good", "title": "garden " + i})
    t.check(all(state(d, i) == "distributing" for i in spam + ["g0", "g1"]),
            "every upload is distributing (followers' wave)")
    audits_before = len(d.get("/v1/audit?limit=1000").json["records"])

    # {================ Dry run ================
    r = bulk(d, action="takedown", search={"creator": "spammer"}, reason="scam wave",
             dry_run=True, token=tok["mod1"])
    t.check(r.status == 200 and r.json["count"] == 6 and r.json["exact"] is True
            and r.json["needs_confirmation"] is True and r.json["confirm_above"] == LIMIT
            and [s["id"] for s in r.json["sample"]] == spam[::-1]
            and r.json["search"] == {"creator": "spammer"},
            "dry run: the count, the sample newest first, four eyes needed (6 > 3)", r)
    t.check(all(state(d, i) == "distributing" for i in spam)
            and len(d.get("/v1/audit?limit=1000").json["records"]) == audits_before,
            "the dry run changed nothing and wrote no audit record")

    # {================ Four eyes ================
    r = bulk(d, action="takedown", search={"creator": "spammer"}, reason="scam wave",
             token=tok["mod1"])
    t.require(r.status == 202 and r.json["state"] == "awaiting_confirmation"
              and r.json["total"] == 6 and r.json["created_by"] == "token:mod1",
              "the takedown of 6 waits for a second moderator", r)
    job = r.json["id"]
    time.sleep(0.3)
    t.check(all(state(d, i) == "distributing" for i in spam), "nothing is done before it")
    r = d.post("/v1/bulk/%s/confirm" % job, token=tok["mod1"])
    t.error(r, 403, "forbidden", "the one who asked may not confirm")
    r = d.post("/v1/bulk/%s/confirm" % job, token=tok["mod2"])
    t.check(r.status == 200 and r.json["confirmed_by"] == "token:mod2"
            and r.json["state"] in ("running", "done"), "another moderator confirms", r)
    j = wait_job(t, d, job)
    t.check(j["acted"] == 6 and j["skipped"] == 0 and j["matched"] == 6 and j["examined"] >= 6,
            "the job took 6 items down", j)
    t.check(all(state(d, i) == "removed" for i in spam), "all six are removed")
    recs = {i: [a for a in audit_of(d, i) if a["action"] == "takedown"] for i in spam}
    t.check(all(len(v) == 1 and v[0]["actor"] == "token:mod1" and v[0]["from"] == "distributing"
                and v[0]["to"] == "removed" and v[0]["reason"] == "job %s: scam wave" % job
                for v in recs.values()),
            "each item has one takedown record, as a single takedown's, naming the job",
            recs["s0"])
    allrecs = d.get("/v1/audit?limit=1000").json["records"]
    t.check(any(a["action"] == "bulk" and a["item"] is None and job in a["reason"]
                and a["actor"] == "token:mod1" for a in allrecs)
            and any(a["action"] == "bulk_confirm" and a["actor"] == "token:mod2"
                    and job in a["reason"] for a in allrecs),
            "the job's request and its confirmation are audited")
    feed = d.get("/v1/feed/u1?tab=follow&limit=100", token=ing).json["items"]
    t.check(not any(f["id"] in spam for f in feed) and {"g0", "g1"} <= {f["id"] for f in feed},
            "no taken-down item is in a follower's feed; the others are", feed)
    waves = d.item("s0").json["waves"]
    t.check(waves and waves[-1]["decision"] == "withdrawn",
            "the item's running wave ended as withdrawn", waves)
    r = d.post("/v1/bulk/%s/confirm" % job, token=tok["mod2"])
    t.error(r, 409, "conflict", "a finished job cannot be confirmed again")

    # The same again finds them removed: nothing more is written.
    r = bulk(d, action="takedown", search={"creator": "spammer", "state": "removed"},
             reason="again", token=tok["mod1"])
    t.require(r.status == 202, "a second takedown", r)
    r = d.post("/v1/bulk/%s/confirm" % r.json["id"], token=tok["mod2"])
    j = wait_job(t, d, r.json["id"])
    t.check(j["acted"] == 0 and j["skipped"] == 6, "already removed: 6 skipped, none acted", j)
    t.check(all(len([a for a in audit_of(d, i) if a["action"] == "takedown"]) == 1 for i in spam),
            "and no second takedown record")

    # {================ Review, below the limit ================
    r = bulk(d, action="review", search={"creator": "good"}, reason="second look",
             token=tok["mod1"])
    t.require(r.status == 202 and r.json["state"] in ("running", "done"),
              "a review of 2 (within the limit) runs at once", r)
    j = wait_job(t, d, r.json["id"])
    t.check(j["acted"] == 2, "two sent to review", j)
    q = d.get("/v1/queue?queue=investigation", token=tok["mod1"]).json["items"]
    t.check(sorted(i["id"] for i in q) == ["g0", "g1"]
            and all(state(d, i) == "in_review" for i in ("g0", "g1")),
            "both wait for people in queue investigation", q)
    rec = [a for a in audit_of(d, "g0") if a["action"] == "review"]
    t.check(len(rec) == 1 and rec[0]["from"] == "distributing" and rec[0]["to"] == "in_review"
            and rec[0]["reason"] == "job %s: second look" % j["id"],
            "g0's review record names the job", rec)
    t.check(d.item("g0").json["waves"][-1]["decision"] == "review",
            "g0's running wave ended as a review, as a distribution hold's does")
    feed = d.get("/v1/feed/u2?tab=follow&limit=100", token=ing).json["items"]
    t.check(not feed, "items in review are in no feed", feed)
    r = d.post("/v1/queue/claim", {"queue": "investigation"}, token=tok["mod2"])
    c = r.json["items"][0]
    r = d.post("/v1/items/%s/decision" % c["id"], {"decision": "approve", "fence": c["fence"]},
               token=tok["mod2"])
    t.check(r.status == 200 and settles(d, c["id"]),
            "approved by people, it goes on with its plan", (r, d.item(c["id"]).json))

    # {================ Restore ================
    r = bulk(d, action="restore", search={"creator": "spammer"}, reason="appeal granted",
             token=tok["mod2"])
    t.require(r.status == 202 and r.json["state"] == "awaiting_confirmation",
              "restoring six waits for confirmation", r)
    rjob = r.json["id"]
    d.post("/v1/bulk/%s/confirm" % rjob, token=tok["mod1"])
    j = wait_job(t, d, rjob)
    t.check(j["acted"] == 6 and all(state(d, i) == "in_review" for i in spam),
            "restored items go back to people (in_review), not straight to feeds", j)
    q = d.get("/v1/queue?queue=restored", token=tok["mod1"]).json["items"]
    t.check(len(q) == 6, "they wait in queue restored", q)
    rec = [a for a in audit_of(d, "s3") if a["action"] == "restore"]
    t.check(len(rec) == 1 and rec[0]["from"] == "removed" and rec[0]["to"] == "in_review"
            and rec[0]["actor"] == "token:mod2", "s3's restore record", rec)
    feed = d.get("/v1/feed/u2?tab=follow&limit=100", token=ing).json["items"]
    t.check(not any(f["id"] in spam for f in feed), "a restored item is in no feed yet", feed)
    r = d.post("/v1/queue/claim", {"queue": "restored"}, token=tok["mod1"])
    c = r.json["items"][0]
    r = d.post("/v1/items/%s/decision" % c["id"], {"decision": "approve", "fence": c["fence"]},
               token=tok["mod1"])
    t.check(r.status == 200 and settles(d, c["id"]),
            "approved after its restore, it is distributed again", (r, d.item(c["id"]).json))

    # {================ Cancel ================
    r = bulk(d, action="takedown", search={"state": "in_review"}, reason="oops",
             token=tok["mod1"])
    t.require(r.status == 202 and r.json["state"] == "awaiting_confirmation", "a big one", r)
    cj = r.json["id"]
    r = d.post("/v1/bulk/%s/cancel" % cj, token=tok["mod1"])
    t.check(r.status == 200 and r.json["state"] == "cancelled" and r.json["finished_ms"],
            "cancelled before anyone confirmed", r)
    t.error(d.post("/v1/bulk/%s/confirm" % cj, token=tok["mod2"]), 409, "conflict",
            "a cancelled job cannot be confirmed")
    t.error(d.post("/v1/bulk/%s/cancel" % cj, token=tok["mod2"]), 409, "conflict",
            "nor cancelled twice")
    t.check(all(state(d, i) == "in_review" for i in spam if i != c["id"]),
            "the cancelled job did nothing")

    # {================ Listing and refusals ================
    r = d.get("/v1/bulk", token=tok["mod1"])
    t.check(r.status == 200 and r.json["jobs"][0]["id"] == cj and len(r.json["jobs"]) == 5
            and "spec" not in r.json["jobs"][0] and r.json["you"] == "token:mod1",
            "GET /v1/bulk: newest first, and who is asking", r)
    r = d.get("/v1/bulk/" + job)
    t.check(r.json["spec"] == {"action": "takedown", "search": {"creator": "spammer"},
                               "reason": "scam wave"}, "a job shows what it was asked", r)
    t.error(d.get("/v1/bulk/jnope"), 404, "not_found", "an unknown job")
    t.error(bulk(d, action="delete", search={"creator": "x"}, reason="r"), 422, "invalid",
            "an unknown action", field="action")
    t.error(bulk(d, action="takedown", search={"creator": "x"}), 422, "invalid",
            "no reason", field="reason")
    t.error(bulk(d, action="takedown", search={"creator": "x"}, reason=""), 422, "invalid",
            "an empty reason", field="reason")
    t.error(bulk(d, action="takedown", search={}, reason="all"), 422, "invalid",
            "a search with no filter", field="search")
    t.error(bulk(d, action="takedown", reason="all"), 422, "invalid", "no search",
            field="search")
    t.error(bulk(d, action="takedown", search={"creater": "x"}, reason="r"), 422, "invalid",
            "a misspelt filter", field="search.creater")
    t.error(bulk(d, action="takedown", search={"state": "gone"}, reason="r"), 422, "invalid",
            "a bad state", field="search.state")
    t.error(bulk(d, action="takedown", search={"since_ms": "x"}, reason="r"), 422, "invalid",
            "a bad time", field="search.since_ms")
    t.error(bulk(d, action="takedown", search={"creator": "x"}, reason="r", queue="q"), 422,
            "invalid", "a queue for a takedown", field="queue")
    t.error(bulk(d, action="takedown", search={"creator": "x"}, reason="r", dry_run="yes"), 422,
            "invalid", "dry_run not a boolean", field="dry_run")
    t.error(bulk(d, action="takedown", search={"creator": "x"}, reason="r", token=ing), 403,
            "forbidden", "an ingest token")
    t.error(d.post("/v1/bulk/%s/confirm" % job, token=ing), 403, "forbidden",
            "an ingest token may not confirm")

    # {================ A restart in the middle ================
    many = ["m%04d" % i for i in range(1000)]
    bad = [r for r in (d.post("/v1/uploads", {"id": i, "creator": "many", "title": "bulk " + i})
                       for i in many) if r.status != 202]
    t.require(not bad, "1000 uploads by creator many", bad[:3])
    r = bulk(d, action="takedown", search={"creator": "many"}, reason="flood",
             token=tok["mod1"])
    big = r.json["id"]
    d.post("/v1/bulk/%s/confirm" % big, token=tok["mod2"])
    d.signal(signal.SIGKILL)
    d.wait()
    d.start()
    with open(d.stderr_path) as f:
        resumed = "bulk job %s (bulk takedown) runs from" % big in f.read()
    print("     the job was %s when the daemon was killed"
          % ("resumed at the restart: it was running" if resumed else "already done"))
    j = wait_job(t, d, big)
    t.check(j["acted"] == 1000 and j["skipped"] == 0,
            "killed mid-way, the job finishes after the restart: 1000 acted, none twice", j)
    n, cursor = 0, None
    while True:
        r = d.req("GET", "/v1/items?creator=many&limit=200" + ("&cursor=" + cursor if cursor else ""))
        n += sum(1 for i in r.json["items"] if i["state"] == "removed")
        cursor = r.json["next"]
        if not cursor:
            break
    t.check(n == 1000, "all 1000 are removed", n)
    twice = [i for i in many[::37]
             if len([a for a in audit_of(d, i) if a["action"] == "takedown"]) != 1]
    t.check(not twice, "a sample of them has exactly one takedown record each", twice)
    text = d.get("/metrics").body.decode()
    t.check('sluice_bulk_items_total{kind="bulk",outcome="acted"}' in text
            and "sluice_bulk_jobs_running 0" in text, "/metrics counts bulk items")
    t.stopped(d)


st.main(body)
