# SPDX-License-Identifier: MIT
"""The wave state machine over HTTP, with fixture policies steered by each
item's title: continue, stop, switch, review before a wave, a failing
wave_done, the built-in plan, a creator without followers, a restart in the
middle of a distribution, a start refused over a record it cannot read, and
3,000 waves due at once after a long stop."""
import json
import os
import sys
import time

sys.dont_write_bytecode = True    # keep the source tree clean
import disttest as dt  # noqa: E402
from disttest import st  # noqa: E402

CATS = ["w%02d" % i for i in range(10)]
USERS = ["w%02d" % i for i in range(40)]
FANS = ["w%02d" % i for i in range(30, 35)]       # follow creator fc
WAIT = 20                                          # seconds for a wave to play out


def waves_of(d, item):
    return (d.item(item).json or {}).get("waves") or []


def settle_wait(d, item, st_want, timeout=WAIT):
    return dt.wait_for(lambda: dt.state(d, item) == st_want, timeout, 0.2)


def events(d, evs):
    body = "\n".join(json.dumps(e) for e in evs) + "\n"
    return d.post("/v1/events", body, ctype="application/x-ndjson")


def feed_holders(d, item, users):
    """Read every user's feed (limit 100); who got item, at which stage."""
    got = {}
    for u in users:
        for e in (d.get("/v1/feed/%s?tab=mixed&limit=100" % u).json or {}).get("items", []):
            if e.get("id") == item:
                got[u] = (e.get("source"), e.get("stage"))
    return got


def setup(t, d):
    bad = []
    for i, u in enumerate(USERS):
        r = d.post("/v1/users", {"id": u, "city": "lyon" if i % 2 else "paris",
                                 "interests": ["cats"] if u in CATS else ["dogs"]})
        if r.status != 200:
            bad.append(r)
    for c in ("fc", "lonely"):
        if d.post("/v1/users", {"id": c, "city": "lyon"}).status != 200:
            bad.append(c)
    for u in FANS:
        if d.req("PUT", "/v1/follows/%s/fc" % u).status != 200:
            bad.append(u)
    t.require(not bad, "40 users, 2 creators, 5 followers of fc", bad[:3])


def up(t, d, item, title, creator="fc"):
    r = d.post("/v1/uploads", {"id": item, "creator": creator, "title": title, "city": "lyon"})
    t.require(r.status == 202 and r.json.get("state") == "approved",
              "upload %s (%s) approved" % (item, title), r)


def machine(t, d, version, mod):
    fails_before = dt.metric(d, "sluice_policy_failures_total", {"hook": "wave_done"}) or 0
    up(t, d, "i-cont", "continue")
    up(t, d, "i-stop", "stop")
    up(t, d, "i-switch", "switch")
    up(t, d, "i-review", "review")
    up(t, d, "i-explode", "explode")
    up(t, d, "i-lonely", "continue", creator="lonely")
    actor = "policy:" + version

    # continue: three waves, then settled.
    t.check(settle_wait(d, "i-cont", "settled"), "continue: i-cont settles",
            dt.state(d, "i-cont"))
    w = waves_of(d, "i-cont")
    t.check([(x["n"], x["audience"], x["placed"], x["decision"]) for x in w]
            == [(1, "followers", 5, "continue"), (2, "everyone", 5, "continue"),
                (3, "everyone", 5, "continue")]
            and all(x["decided_by"] == actor and x["reason"] == "0 impressions"
                    and x["ended_ms"] for x in w),
            "continue: followers 5 -> everyone 5 -> everyone 5, each decided by %s" % actor, w)
    audit = (d.item("i-cont").json or {}).get("audit", [])
    acts = [(a.get("action"), a.get("to")) for a in audit]
    t.check(("distribute", "distributing") in acts and ("settle", "settled") in acts,
            "continue: audit has distribute and settle", acts)

    # stop: one wave, settled.
    t.check(settle_wait(d, "i-stop", "settled"), "stop: i-stop settles", dt.state(d, "i-stop"))
    w = waves_of(d, "i-stop")
    t.check(len(w) == 1 and w[0]["decision"] == "stop"
            and w[0]["reason"] == "the title says stop" and w[0]["decided_by"] == actor,
            "stop: a single wave, decision stop with the policy's reason", w)

    # switch: the next wave goes to the switched audience, only that one.
    t.check(settle_wait(d, "i-switch", "settled"), "switch: i-switch settles",
            dt.state(d, "i-switch"))
    w = waves_of(d, "i-switch")
    t.check([(x["audience"], x["decision"]) for x in w]
            == [("followers", "switch"), ("interest:cats", "continue"), ("everyone", "continue")]
            and w[0]["reason"] == "cats will love it",
            "switch: wave 2 goes to interest:cats, wave 3 back to the plan's everyone", w)
    holders = feed_holders(d, "i-switch", USERS)
    stage2 = sorted(u for u, (_, stage) in holders.items() if stage == 2)
    t.check(stage2 and set(stage2) <= set(CATS) and len(stage2) == w[1]["placed"],
            "switch: the users who got wave 2 are cat lovers (%d)" % len(stage2), holders)

    # review before a wave: held in queue distribution; approve resumes.
    t.check(settle_wait(d, "i-review", "in_review"), "review: i-review is held for people",
            dt.state(d, "i-review"))
    q = d.get("/v1/queue?queue=distribution", token=mod)
    row = [x for x in (q.json or {}).get("items", []) if x["id"] == "i-review"]
    t.check(row and "review before wave 2" in row[0]["reason"],
            "review: waits in queue distribution, reason names wave 2", q)
    t.check(len(waves_of(d, "i-review")) == 1, "review: wave 2 has not started",
            waves_of(d, "i-review"))
    held = feed_holders(d, "i-review", USERS)
    t.check(not held, "review: while held, no feed offers it", held)
    r = d.post("/v1/queue/claim", {"queue": "distribution", "limit": 50}, token=mod)
    c = [x for x in (r.json or {}).get("items", []) if x["id"] == "i-review"]
    t.require(c, "review: the moderator claims i-review", r)
    r = d.post("/v1/items/i-review/decision",
               {"decision": "approve", "reason": "fine", "fence": c[0]["fence"]}, token=mod)
    t.check(r.status == 200, "review: approve -> 200", r)
    t.check(settle_wait(d, "i-review", "settled"), "review: after approval the plan goes on "
            "and the item settles", dt.state(d, "i-review"))
    w = waves_of(d, "i-review")
    t.check([x["audience"] for x in w] == ["followers", "everyone", "everyone"]
            and all(x["placed"] == 5 for x in w),
            "review: waves 2 and 3 ran after the approval", w)
    acts = [(a.get("actor"), a.get("action")) for a in
            (d.item("i-review").json or {}).get("audit", [])]
    t.check(("token:mod", "approve") in acts and any(a == "resume" for _, a in acts),
            "review: audit has the moderator's approve and the resume", acts)

    # wave_done failing: people look, the failure is counted.
    t.check(settle_wait(d, "i-explode", "in_review"), "wave_done error: item goes to people",
            dt.state(d, "i-explode"))
    q = d.get("/v1/queue?queue=distribution", token=mod)
    row = [x for x in (q.json or {}).get("items", []) if x["id"] == "i-explode"]
    t.check(row and row[0]["reason"].startswith("policy_error"),
            "wave_done error: in queue distribution with reason policy_error...", q)
    w = waves_of(d, "i-explode")
    t.check(len(w) == 1 and w[0]["decision"] == "review"
            and w[0]["reason"].startswith("policy_error"),
            "wave_done error: wave 1 ended in review with the policy error", w)
    after = dt.metric(d, "sluice_policy_failures_total", {"hook": "wave_done"}) or 0
    t.check(after >= fails_before + 1, "wave_done error counted in "
            "sluice_policy_failures_total{hook=wave_done} (%g -> %g)" % (fails_before, after))
    time.sleep(1.5)
    t.check(len(waves_of(d, "i-explode")) == 1 and dt.state(d, "i-explode") == "in_review",
            "wave_done error: no further wave starts by itself")

    # A plan the engine cannot take (fill past 1): people look, and say why.
    r = d.post("/v1/uploads", {"id": "i-badfill", "creator": "fc", "title": "badfill",
                               "city": "lyon"})
    t.check(r.status == 202, "upload i-badfill -> 202", r)
    t.check(settle_wait(d, "i-badfill", "in_review"), "a plan with fill 1.5 holds the item",
            dt.state(d, "i-badfill"))
    q = d.get("/v1/queue?queue=distribution", token=mod)
    row = [x for x in (q.json or {}).get("items", []) if x["id"] == "i-badfill"]
    t.check(row and "policy_error: plan" in row[0]["reason"] and "fill" in row[0]["reason"],
            "the reason names the plan and its fill", q)

    # A creator without followers: the followers wave is skipped.
    t.check(settle_wait(d, "i-lonely", "settled"), "no followers: i-lonely settles",
            dt.state(d, "i-lonely"))
    w = waves_of(d, "i-lonely")
    t.check(len(w) == 3 and w[0]["audience"] == "followers" and w[0]["placed"] == 0
            and w[0]["decision"] == "skip" and w[1]["audience"] == "everyone"
            and w[1]["placed"] == 5,
            "no followers: followers wave placed 0, decision skip; everyone wave placed 5", w)
    s = (d.get("/v1/stats").json or {}).get("decisions", {})
    t.check(s.get("skip", 0) >= 1 and s.get("switch", 0) >= 1 and s.get("stop", 0) >= 1
            and s.get("error", 0) >= 1 and s.get("review", 0) >= 1,
            "/v1/stats decisions count skip, switch, stop, review and error", s)


def builtin_plan(t, d):
    os.remove(os.path.join(d.policies, "30-waves.lua"))
    dt.install(d, dt.fixture_files("waves-noplan"))
    r = d.post("/v1/policies/reload")
    t.require(r.status == 200 and "plan" not in (d.get("/v1/policies").json or {})
              .get("hooks", []), "reload without a plan hook", r)
    up(t, d, "i-default", "no plan here")
    w = waves_of(d, "i-default")
    t.check(len(w) == 1 and w[0]["audience"] == "followers" and w[0]["size"] == 1000
            and w[0]["placed"] == 5 and w[0]["limit_ms"] == 3600 * 1000,
            "built-in plan: wave 1 is followers, size 1000, an hour", w)
    # Only users a feed served count: the followers read it, then look.
    got = feed_holders(d, "i-default", FANS)
    t.check(sorted(got) == FANS, "built-in plan: every follower's feed serves it", got)
    events(d, [{"item": "i-default", "user": u, "type": "impression"} for u in FANS])
    ok = dt.wait_for(lambda: len(waves_of(d, "i-default")) >= 2, 10)
    w = waves_of(d, "i-default")
    t.check(ok and w[0]["decision"] == "continue" and w[1]["audience"] == "nearby"
            and w[1]["size"] == 100,
            "built-in plan: after every follower looked, wave 2 is nearby, size 100", w)
    d.post("/v1/items/i-default/takedown", {"reason": "done with it"})
    os.remove(os.path.join(d.policies, "30-noplan.lua"))
    dt.install(d, dt.fixture_files("waves"))
    r = d.post("/v1/policies/reload")
    t.require(r.status == 200, "reload the waves fixture again", r)


def shape(waves):
    return [(w["n"], w["audience"], w["placed"], w["started_ms"], w["decision"]) for w in waves]


def restart(t, d):
    # Two items that nobody is served before the restart, stored before
    # i-slow: the start reads every item in the order stored, and i-slow's
    # served marks come after a gap of items without any.
    quiet = ["i-quiet1", "i-quiet2"]
    for q in quiet:
        up(t, d, q, "slow, quiet", creator="lonely")
    q0 = {q: shape(waves_of(d, q)) for q in quiet}
    t.require(all(w and w[-1][2] == 10 and w[-1][4] == "" for w in q0.values()),
              "quiet: each has a running wave of 10 everyone placed", q0)
    up(t, d, "i-slow", "slow")
    w0 = waves_of(d, "i-slow")
    t.require(len(w0) == 1 and w0[0]["placed"] == 5, "slow: wave 1 placed 5 followers", w0)
    before = feed_holders(d, "i-slow", FANS[:2])
    t.check(sorted(before) == FANS[:2], "slow: two followers read it before the restart",
            before)
    events(d, [{"item": "i-slow", "user": u, "type": "impression"} for u in before])
    t.stopped(d, "SIGTERM in the middle of a distribution: exit 0")
    d.start()
    t.check(dt.state(d, "i-slow") == "distributing", "after restart i-slow is distributing",
            dt.state(d, "i-slow"))
    q1 = {q: shape(waves_of(d, q)) for q in quiet}
    t.check(q1 == q0 and all(dt.state(d, q) == "distributing" for q in quiet),
            "after restart the quiet items are distributing, their waves as they were", q1)
    w1 = waves_of(d, "i-slow")
    t.check(len(w1) == 1 and w1[0]["audience"] == "followers" and w1[0]["placed"] == 5
            and w1[0]["started_ms"] == w0[0]["started_ms"] and w1[0]["decision"] == ""
            and w1[0]["stats"]["impression"] == 2,
            "after restart wave 1 is the same running wave with its 2 impressions", w1)
    again = feed_holders(d, "i-slow", USERS)
    t.check(sorted(again) == FANS[2:],
            "after restart only the 3 followers who had not read it get it", again)
    events(d, [{"item": "i-slow", "user": u, "type": "impression"} for u in again])
    ok = dt.wait_for(lambda: len(waves_of(d, "i-slow")) >= 2, 10)
    t.check(ok, "every follower looked: wave 2 starts", waves_of(d, "i-slow"))
    second = feed_holders(d, "i-slow", USERS)
    t.check(len(second) == 10 and not set(second) & set(FANS)
            and all(v == ("everyone", 2) for v in second.values()),
            "wave 2 goes to 10 users never offered before (no follower again)", second)
    events(d, [{"item": "i-slow", "user": u, "type": "impression"} for u in second])
    ok = dt.wait_for(lambda: len(waves_of(d, "i-slow")) >= 3, 10)
    third = feed_holders(d, "i-slow", USERS)
    t.check(ok and len(third) == 10 and not set(third) & (set(second) | set(FANS)),
            "wave 3 goes to 10 more users, none offered before", third)
    servings = len(before) + len(again) + len(second) + len(third)
    distinct = len(set(before) | set(again) | set(second) | set(third))
    t.check(servings == 25 and distinct == 25,
            "25 distinct users got i-slow, none twice, across the restart",
            "%d servings to %d users" % (servings, distinct))
    # Ended waves and a running one come back in their order: the start
    # reads an item's waves as one row and allocates them once.
    w3 = shape(waves_of(d, "i-slow"))
    t.require(len(w3) == 3 and [w[0] for w in w3] == [1, 2, 3] and w3[-1][4] == "",
              "i-slow: two waves ended, the third running", w3)
    t.stopped(d, "SIGTERM in i-slow's third wave: exit 0")
    d.start()
    t.check(shape(waves_of(d, "i-slow")) == w3,
            "after a second restart i-slow's three waves are as they were, in order",
            waves_of(d, "i-slow"))


def cut_offers(t, d):
    """A record the start cannot read (an offer record cut short, by hand)
    stops the start with a message naming the item, and changes nothing:
    mended, the same store starts. SQLite only: on PostgreSQL a node reads
    an item's offers when it takes the item's lease, not at its start."""
    if st.on_postgres():
        return
    # Schema 16 keys an item's offers by its seq.
    seq = "(SELECT seq FROM items WHERE id = 'i-slow')"
    where = "seq = %s AND wave = (SELECT max(wave) FROM item_offers WHERE seq = %s)" % (seq, seq)
    whole = d.sql("SELECT substr(users, -1) = char(10) FROM item_offers WHERE " + where)
    t.require(whole == [(1,)], "i-slow's last offers are stored, one record", whole)
    d.sql("UPDATE item_offers SET users = rtrim(users, char(10)) WHERE " + where)
    r = st.run([st.program("sluiced"), "-c", d.conf, "--listen", "127.0.0.1:%d" % d.port,
                "--state", d.state, "--policies", d.policies], timeout=60)
    t.check(r.returncode != 0 and "offers of item i-slow cannot be read" in r.stderr,
            "a cut offer record stops the start, naming the item", (r.returncode, r.stderr))
    d.sql("UPDATE item_offers SET users = users || char(10) WHERE " + where)
    d.start()
    t.check(dt.state(d, "i-slow") == "distributing", "mended, it starts with i-slow as it was",
            dt.state(d, "i-slow"))


def due_together(t, d):
    """After a stop longer than their time, 3,000 running waves are due
    at the first tick: the lap decides them in slices, with requests let
    through between, and leaves none out. SQLite only: their time is cut
    in the store by hand, and on PostgreSQL a node takes items by lease
    rather than all at its start."""
    if st.on_postgres():
        return
    # Decided here, 1,000 took three slices and 3,000 six: enough for a
    # faster machine to need more than one too.
    n = 3000
    ids = ["i-due-%04d" % i for i in range(n)]
    # A creator without followers: wave 1 (followers) is skipped at once,
    # wave 2 places 10 of everyone for 600 s.
    bad = [i for i in ids
           if d.post("/v1/uploads", {"id": i, "creator": "lonely", "title": "slow",
                                     "city": "lyon"}).status != 202]
    t.require(not bad, "%d slow uploads, each a wave of 10 running for 600 s" % n, bad[:3])
    t.stopped(d, "SIGTERM with the 3,000 waves running: exit 0")
    mine = "seq IN (SELECT seq FROM items WHERE id LIKE 'i-due-%')"
    d.sql("UPDATE item_waves SET wave = replace(wave, '\"limit_ms\":600000,',"
          " '\"limit_ms\":1000,') WHERE n = 2 AND " + mine)
    cut = d.sql("SELECT count(*) FROM item_waves WHERE n = 2 AND wave LIKE"
                " '%\"limit_ms\":1000,%\"ended_ms\":null,%' AND " + mine)
    t.require(cut == [(n,)], "each running wave's time cut to a second, as after a long stop",
              cut)
    d.start()
    third = "SELECT count(*) FROM item_waves WHERE n = 3 AND " + mine
    ok = dt.wait_for(lambda: d.sql(third) == [(n,)], 60, 0.2)
    t.check(ok, "every one of the %d waves ended and its item's next began" % n,
            d.sql(third))
    yields = dt.metric(d, "sluice_wave_lap_yields_total")
    t.check(yields is not None and yields >= 1,
            "the lap stopped for the loop's requests and went on", yields)
    w = waves_of(d, ids[-1])
    t.check(len(w) == 3 and w[1]["ended_by"] == "time" and w[1]["decision"] == "continue"
            and w[2]["placed"] > 0 and w[2]["decision"] == "",
            "the last item's wave 2 ended on its time, wave 3 placed and running",
            [(x["n"], x["ended_by"], x["decision"], x["placed"]) for x in w])


def body(t):
    d = t.daemon(start=False)
    dt.install(d, [p for p in dt.shipped_policies() if not p.endswith("30-distribute.lua")])
    dt.install(d, dt.fixture_files("waves"))
    d.start()
    version = (d.get("/v1/policies").json or {}).get("version")
    mod = dt.token(t, d, "mod", "moderator")
    setup(t, d)
    machine(t, d, version, mod)
    builtin_plan(t, d)
    restart(t, d)
    t.stopped(d)
    cut_offers(t, d)
    due_together(t, d)
    t.stopped(d)


if __name__ == "__main__":
    st.main(body, "waves")
