# SPDX-License-Identifier: MIT
# Creators: GET /v1/creators/{id} (standing, items per state, recent items,
# reports against their items, their own reports); suspend (new uploads
# held for review, or refused); take down everything (a bulk job, four
# eyes above the limit); restore (the suspension lifted, removed items back
# to people); every step audited.
import os
import sys
import time
sys.dont_write_bytecode = True
import sluicetest as st


def wait_job(t, d, job, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = d.get("/v1/bulk/" + job)
        if r.status == 200 and r.json["state"] == "done":
            return r.json
        time.sleep(0.05)
    t.require(False, "job %s is done within %ss" % (job, timeout))


def state(d, item):
    return d.item(item).json["state"]


def body(t):
    d = t.daemon(start=False, conf="bulk_confirm_above = 4\n")
    for p in ("00-thresholds.lua", "10-tag.lua", "20-review.lua"):
        os.link(os.path.join(st.srcdir(), "policies", p), os.path.join(d.policies, p))
    d.start()
    mod = {n: d.post("/v1/tokens", {"name": n, "role": "moderator"}).json["token"]
           for n in ("mod", "mod2")}
    ing = d.post("/v1/tokens", {"name": "ing", "role": "ingest"}).json["token"]
    for u in ("u1", "cr"):
        d.post("/v1/users", {"id": u})
    d.req("PUT", "/v1/follows/u1/cr")

    def up(n, creator="cr", **extra):
        b = {"id": n, "creator": creator, "title": "clip " + n}
        b.update(extra)
        return d.post("/v1/uploads", b)

    for n in ("a", "b", "c"):
        t.require(up(n).json["state"] == "approved", "upload " + n)
    t.require(up("nsfw", signals={"nsfw.score": 0.95}).json["state"] == "rejected", "a reject")
    t.require(up("kid", signals={"face.age": 8}).json["state"] == "in_review", "one for people")
    up("other", creator="someone")
    # u1 was served a (the followers' wave) and reports it; cr reports another's item.
    feed = d.get("/v1/feed/u1?tab=follow&limit=10", token=ing).json["items"]
    t.require("a" in [f["id"] for f in feed], "u1's feed serves a", feed)
    d.post("/v1/events", {"item": "a", "user": "u1", "type": "report"}, token=ing)
    d.post("/v1/events", {"item": "other", "user": "cr", "type": "report"}, token=ing)
    time.sleep(0.2)

    # {================ The page ================
    r = d.get("/v1/creators/cr", token=mod["mod"])
    p = r.json or {}
    t.check(r.status == 200 and p["creator"] == "cr"
            and p["standing"] == {"uploads": 5, "rejections": 1},
            "the standing: 5 uploads, 1 rejected", r)
    t.check(p.get("states") == {"distributing": 3, "rejected": 1, "in_review": 1},
            "items per state", p.get("states"))
    t.check([i["id"] for i in p.get("recent", [])] == ["kid", "nsfw", "c", "b", "a"]
            and p["recent_next"] is None, "recent items, newest first", p.get("recent"))
    rep = p.get("reports", {})
    t.check(rep.get("items") == 1 and rep.get("reports") == 1 and rep.get("pending") == 1
            and rep["recent"][0]["item"] == "a" and rep["recent"][0]["user"] == "u1"
            and rep["recent"][0]["served"] is True,
            "the report against their item a, by a served reader", rep)
    t.check(p.get("reporter") == {"reports": 1, "upheld": 0, "dismissed": 0},
            "their own standing as a reporter", p.get("reporter"))
    t.check(p.get("suspension") is None, "not suspended")
    t.error(d.get("/v1/creators/nobody", token=mod["mod"]), 404, "not_found",
            "a creator nothing is known of")
    t.error(d.get("/v1/creators/bad%20id", token=mod["mod"]), 404, "not_found", "a bad id")
    t.error(d.get("/v1/creators/cr", token=ing), 403, "forbidden", "an ingest token")

    # {================ Suspended: held for review ================
    r = d.post("/v1/creators/cr/suspend", {"reason": "scam ring"}, token=mod["mod"])
    t.check(r.status == 200 and r.json["suspension"]["mode"] == "review"
            and r.json["suspension"]["by"] == "token:mod"
            and r.json["suspension"]["reason"] == "scam ring", "suspend (review by default)", r)
    r = up("d")
    t.check(r.status == 202 and r.json["state"] == "in_review"
            and r.json["reasons"][0] == "the creator is suspended: scam ring",
            "a new upload that the policies approve is held for people", r)
    v = d.item("d").json
    t.check(v["verdict"]["queue"] == "suspended" and v["verdict"]["actor"] == "system",
            "in queue suspended, the verdict the system's", v["verdict"])
    t.check(up("nsfw2", signals={"nsfw.score": 0.95}).json["state"] == "rejected",
            "a reject stays a reject")
    t.check(up("e", creator="someone").json["state"] == "approved",
            "another creator's upload is not held")
    audit = d.get("/v1/audit?limit=1000").json["records"]
    t.check(any(a["action"] == "suspend" and a["actor"] == "token:mod" and a["item"] is None
                and "creator cr" in a["reason"] and "scam ring" in a["reason"] for a in audit),
            "the suspension is audited")
    t.check(d.get("/v1/creators/cr", token=mod["mod"]).json["suspension"]["mode"] == "review",
            "the page shows the suspension")

    # {================ Suspended: refused ================
    r = d.post("/v1/creators/cr/suspend", {"reason": "repeat", "mode": "refuse"},
               token=mod["mod"])
    t.check(r.status == 200 and r.json["suspension"]["mode"] == "refuse", "now refuse", r)
    r = up("f")
    t.error(r, 403, "creator_suspended", "a new upload is refused", field="creator")
    t.check(d.item("f").status == 404, "and nothing was stored")
    r = up("a")
    t.check(r.status == 202 and r.json["id"] == "a", "a retry of a stored upload still answers",
            r)
    # The daemon keeps suspensions in memory beside its store: a restart
    # reads them back.
    d.stop()
    d.start()
    t.error(up("f"), 403, "creator_suspended", "after a restart, still refused", field="creator")

    # {================ Take down everything ================
    r = d.post("/v1/creators/cr/takedown", {"reason": "ring", "dry_run": True},
               token=mod["mod"])
    t.check(r.status == 200 and r.json["count"] == 5 and r.json["needs_confirmation"] is True
            and r.json["search"] == {"creator": "cr", "state": ["approved", "in_review",
                                                                 "distributing", "settled"]},
            "dry run: the 5 live or waiting items (not the rejected ones)", r)
    r = d.post("/v1/creators/cr/takedown", {"reason": "ring"}, token=mod["mod"])
    t.require(r.status == 202 and r.json["state"] == "awaiting_confirmation",
              "the takedown waits for four eyes", r)
    d.post("/v1/bulk/%s/confirm" % r.json["id"], token=mod["mod2"])
    j = wait_job(t, d, r.json["id"])
    t.check(j["acted"] == 5 and all(state(d, i) == "removed" for i in ("a", "b", "c", "kid", "d"))
            and state(d, "nsfw") == "rejected", "everything live is removed", j)
    t.check(d.get("/v1/creators/cr", token=mod["mod"]).json["states"]
            == {"removed": 5, "rejected": 2}, "the page counts them removed")

    # {================ Restore ================
    r = d.post("/v1/creators/cr/restore", {"reason": "appeal", "dry_run": True},
               token=mod["mod"])
    t.check(r.status == 200 and r.json["count"] == 5 and r.json["action"] == "restore",
            "restore's dry run counts the 5 removed", r)
    t.check(d.get("/v1/creators/cr", token=mod["mod"]).json["suspension"] is not None,
            "the dry run lifted nothing")
    r = d.post("/v1/creators/cr/restore", {"reason": "appeal"}, token=mod["mod2"])
    t.require(r.status == 202 and r.json["action"] == "restore"
              and r.json["state"] == "awaiting_confirmation",
              "restore: the removed items' restore waits for four eyes", r)
    t.check(d.get("/v1/creators/cr", token=mod["mod"]).json["suspension"] is None,
            "the suspension is lifted at once")
    d.post("/v1/bulk/%s/confirm" % r.json["id"], token=mod["mod"])
    wait_job(t, d, r.json["id"])
    t.check(all(state(d, i) == "in_review" for i in ("a", "b", "c", "kid", "d")),
            "the removed items are back with people, not in feeds")
    audit = d.get("/v1/audit?limit=1000").json["records"]
    t.check(any(a["action"] == "unsuspend" and a["actor"] == "token:mod2"
                and "appeal" in a["reason"] for a in audit), "the lifting is audited")
    t.check(up("g").json["state"] == "approved", "a new upload is judged as any other")
    r = d.post("/v1/creators/cr/restore", {"reason": "again", "items": False}, token=mod["mod"])
    t.check(r.status == 200 and r.json == {"creator": "cr", "suspension": None, "lifted": False},
            "restore with items false and no suspension: nothing to lift", r)

    # {================ Refusals ================
    t.error(d.post("/v1/creators/cr/suspend", {}, token=mod["mod"]), 422, "invalid",
            "suspend without a reason", field="reason")
    t.error(d.post("/v1/creators/cr/suspend", {"reason": "x", "mode": "ban"}, token=mod["mod"]),
            422, "invalid", "an unknown mode", field="mode")
    t.error(d.post("/v1/creators/cr/suspend", {"reason": "x", "until": 5}, token=mod["mod"]),
            422, "invalid", "an unknown field", field="until")
    t.error(d.post("/v1/creators/cr/restore", {"reason": "x", "items": "yes"}, token=mod["mod"]),
            422, "invalid", "items not a boolean", field="items")
    t.error(d.post("/v1/creators/cr/takedown", {"reason": "x"}, token=ing), 403, "forbidden",
            "an ingest token may not take down")
    t.error(d.post("/v1/creators/bad!/suspend", {"reason": "x"}, token=mod["mod"]), 404,
            "not_found", "a creator that is no id")
    t.check(d.get("/v1/creators/cr", token=mod["mod"]).json["suspension"] is None,
            "the refusals suspended nobody")
    t.stopped(d)


st.main(body)
