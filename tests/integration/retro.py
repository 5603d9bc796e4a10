# SPDX-License-Identifier: MIT
# Retroactive hash matching: hashes added to a bank are matched against the
# items stored before them (within hashbank_retro_days), by the phash
# plugin's rule and configured distance; each match is recorded (the
# matched filter finds it) and the bank's setting says what follows:
# nothing, review by people, or a takedown.
import os
import sys
import time
sys.dont_write_bytecode = True
import sluicetest as st

DAY = 86400 * 1000
H1 = 0x0123456789ABCDEF
H2 = 0x7777000077770000
H3 = 0x5A5A5A5A5A5A5A5A


def plugin(name):
    for dirpath, _, files in os.walk(os.path.join(st.builddir(), "plugins")):
        if name + ".so" in files:
            return os.path.join(dirpath, name + ".so")
    return None


def hx(h):
    return "%016x" % h


def flip(h, n):
    """h with its n lowest bits flipped: Hamming distance n."""
    return h ^ ((1 << n) - 1)


def wait_job(t, d, job, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = d.get("/v1/bulk/" + job)
        if r.status == 200 and r.json["state"] in ("done", "failed"):
            return r.json
        time.sleep(0.05)
    t.require(False, "job %s ends within %ss" % (job, timeout))


def ids(d, **params):
    q = "&".join("%s=%s" % kv for kv in params.items())
    return [i["id"] for i in d.get("/v1/items?" + q).json["items"]]


def state(d, item):
    return d.item(item).json["state"]


def body(t):
    t.conf_refused("act-value.conf", '\nhashbank_action = { csam = "burn" }\n', 2,
                   ["hashbank_action.csam", "takedown"])
    t.conf_refused("act-type.conf", 'hashbank_action = "review"\n', 1, ["hashbank_action"])
    t.conf_refused("act-key.conf", 'hashbank_action = { ["bad key"] = "review" }\n', 1,
                   ["bank names"])
    t.conf_refused("days.conf", 'hashbank_retro_days = 4000\n', 1, ["hashbank_retro_days"])
    ph = plugin("phash")
    if not ph:
        print("the phash plugin is not built: nothing to match with")
        sys.exit(st.SKIP)
    d = t.daemon(start=False, conf=(
        'simulated_clock = true\n'
        'plugins = { { name = "phash", path = "%s", distance = 6 } }\n'
        'hashbank_action = { csam = "takedown", spam = "nothing", ["*"] = "review" }\n' % ph))
    for p in ("00-thresholds.lua", "10-tag.lua", "20-review.lua"):
        os.link(os.path.join(st.srcdir(), "policies", p), os.path.join(d.policies, p))
    d.start()
    mod = d.post("/v1/tokens", {"name": "mod", "role": "moderator"}).json["token"]

    def up(n, *hashes):
        r = d.post("/v1/uploads", {"id": n, "creator": "c", "title": "clip " + n,
                                   "hashes": [hx(h) for h in hashes]})
        t.require(r.status == 202 and r.json["state"] == "approved", "upload " + n, r)

    up("old1", H1)                          # 31 days before the bank learns H1
    for _ in range(2):                      # the clock moves 30 days at most a time
        t.status(d.post("/v1/clock", {"advance_ms": 31 * DAY // 2}), 200, "half of 31 days on")
    up("n1", flip(H1, 3))                   # distance 3
    up("n2", H2)
    up("n3", flip(H1, 7))                   # distance 7: beyond the plugin's 6
    up("n4", flip(H1, 6))                   # distance 6: just within
    up("n5", 0xFFFFFFFFFFFFFFFF, flip(H1, 1))
    up("n7", flip(H3, 2))
    up("plain")                             # no hashes at all
    before = {i: state(d, i) for i in ("old1", "n1", "n2", "n3", "n4", "n5", "n7")}
    t.check(all(v in ("distributing", "settled") for v in before.values()),
            "every upload is out in distribution", before)
    t.check(ids(d, matched="known") == [], "nothing has matched bank known yet")

    # {================ review (the "*" setting) ================
    r = d.post("/v1/hashbanks/known", {"add": [hx(H1)]}, token=mod)
    t.require(r.status == 200 and r.json["added"] == 1 and r.json["retro"]["then"] == "review"
              and r.json["retro"]["distance"] == 6, "adding H1 to bank known starts a job", r)
    j = wait_job(t, d, r.json["retro"]["job"])
    t.check(j["kind"] == "retro" and j["state"] == "done" and j["matched"] == 3
            and j["acted"] == 3 and j["examined"] == 6,
            "the job looked at the 6 recent items with hashes and matched 3", j)
    t.check(ids(d, matched="known") == ["n5", "n4", "n1"],
            "matched=known finds the items stored before the hashes (distance 1, 6, 3)")
    t.check(ids(d, matched="known", match_kind="hash") == ["n5", "n4", "n1"],
            "... as matches of kind hash")
    t.check(state(d, "old1") == before["old1"] and "old1" not in ids(d, matched="known"),
            "old1, stored 31 days before, is outside the 30-day window")
    t.check(state(d, "n3") == before["n3"], "n3 at distance 7 is beyond the distance (6)")
    t.check(all(state(d, i) == "in_review" for i in ("n1", "n4", "n5")),
            "the matched items went to people")
    q = {i["id"]: i for i in d.get("/v1/queue?queue=hashes", token=mod).json["items"]}
    t.check(set(q) == {"n1", "n4", "n5"} and q["n1"]["priority"] == 80,
            "in queue hashes, priority 80", q)
    item = d.item("n1").json
    m = [x for x in item["matches"] if x.get("source") == "hashbank"]
    t.check(len(m) == 1 and m[0]["kind"] == "hash" and m[0]["name"] == "known"
            and m[0]["detail"] == hx(H1) and m[0]["score"] == 3
            and m[0]["item_hash"] == hx(flip(H1, 3)) and m[0]["job"] == j["id"],
            "n1's match: the bank's hash, the item's, the distance, the job", m)
    recs = [a["action"] for a in item["audit"]]
    match = [a for a in item["audit"] if a["action"] == "match"]
    t.check(recs[-2:] == ["match", "review"] and match[0]["actor"] == "token:mod"
            and j["id"] in match[0]["reason"] and "within 3 bits" in match[0]["reason"],
            "n1's audit: the match, then the review, both naming the job", item["audit"][-2:])

    # The same hashes again: the matches are known, nothing is written twice.
    r = d.post("/v1/hashbanks/known", {"add": [hx(H1)]}, token=mod)
    j2 = wait_job(t, d, r.json["retro"]["job"])
    t.check(j2["matched"] == 0 and j2["skipped"] == 3 and j2["acted"] == 0,
            "adding them again: 3 already matched, nothing done", j2)
    t.check(len([a for a in d.item("n1").json["audit"] if a["action"] == "match"]) == 1,
            "n1 still has one match record")

    # {================ takedown (csam) and nothing (spam) ================
    r = d.post("/v1/hashbanks/csam", {"add": [hx(H2)]}, token=mod)
    j = wait_job(t, d, r.json["retro"]["job"])
    t.check(r.json["retro"]["then"] == "takedown" and j["acted"] == 1
            and state(d, "n2") == "removed", "bank csam takes n2 down", (r, j))
    rec = [a for a in d.item("n2").json["audit"] if a["action"] == "takedown"]
    t.check(len(rec) == 1 and rec[0]["reason"] == "job %s: matches hash bank csam" % j["id"],
            "the takedown record names the job and the bank", rec)
    r = d.post("/v1/hashbanks/spam", {"add": [hx(H3)]}, token=mod)
    j = wait_job(t, d, r.json["retro"]["job"])
    t.check(r.json["retro"]["then"] == "nothing" and j["matched"] == 1 and j["acted"] == 0
            and state(d, "n7") == before["n7"] and ids(d, matched="spam") == ["n7"],
            "bank spam only records the match", (r, j))

    # {================ the request's say ================
    r = d.post("/v1/hashbanks/other", {"add": [hx(flip(H3, 1))], "then": "nothing"}, token=mod)
    j = wait_job(t, d, r.json["retro"]["job"])
    t.check(r.json["retro"]["then"] == "nothing" and state(d, "n7") == before["n7"]
            and ids(d, matched="other") == ["n7"], "then=nothing: recorded only", r)
    t.error(d.post("/v1/hashbanks/other", {"add": [hx(H2)], "then": "takedown"}, token=mod),
            422, "invalid", "then=takedown where the bank's setting is review", field="then")
    t.error(d.post("/v1/hashbanks/other", {"add": [hx(H2)], "then": "burn"}, token=mod),
            422, "invalid", "an unknown then", field="then")
    t.error(d.post("/v1/hashbanks/other", {"add": [hx(H2)], "retro_days": -1}, token=mod),
            422, "invalid", "retro_days below 0", field="retro_days")
    r = d.post("/v1/hashbanks/other", {"add": [hx(H2)], "retro_days": 0}, token=mod)
    t.check(r.status == 200 and r.json["retro"] is None and ids(d, matched="other") == ["n7"],
            "retro_days 0: no look back", r)
    r = d.post("/v1/hashbanks/known", {"remove": [hx(H1)]}, token=mod)
    t.check(r.status == 200 and r.json["removed"] == 1 and r.json["retro"] is None,
            "a removal starts no job", r)
    r = d.post("/v1/hashbanks/wide", {"add": [hx(H1)], "retro_days": 40}, token=mod)
    j = wait_job(t, d, r.json["retro"]["job"])
    t.check("old1" in ids(d, matched="wide"), "retro_days 40 reaches old1", j)

    # Uploads after the bank grew are the plugin's: matched as they come.
    r = d.post("/v1/uploads", {"id": "late", "creator": "c", "title": "late",
                               "hashes": [hx(flip(H2, 2))]})
    t.check(r.status == 202 and r.json["state"] == "rejected"
            and "late" in ids(d, matched="csam"),
            "an upload after the change is matched by the plugin", r)
    t.stopped(d)


st.main(body)
