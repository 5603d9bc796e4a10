# SPDX-License-Identifier: MIT
"""An approved upload is taken into distribution before it is stored: the
202 finds it distributing with its first wave, offers and audit in the
store; a retry or a clash of its id changes nothing; a retry that the
store refuses to take leaves nothing behind that stops a later approval;
and an item held by reports after it settled goes back into feeds when
approved."""
import json
import os
import sys

sys.dont_write_bytecode = True    # keep the source tree clean
import disttest as dt  # noqa: E402
from disttest import st  # noqa: E402

FANS = ["tf%d" % i for i in range(6)]             # follow every creator below
OTHERS = ["tu%d" % i for i in range(6)]           # follow nobody
USERS = FANS + OTHERS
CREATORS = ["c-first", "c-retry", "c-clash", "c-held", "c-late"]
WAIT = 20                                          # seconds for the daemon to act
# The waves fixture steers by title: "slow" waves last ten minutes, so
# nothing moves while a check compares before and after; "stop" settles
# after one wave of a second. The taken fixture sends "hold" to people.


# {====================== Helpers =========================================

def upload(d, item, creator, title):
    return d.post("/v1/uploads", {"id": item, "creator": creator, "title": title,
                                  "city": "lyon"})


def feed_counts(d, item, users):
    """One page of each user's feed (which serves what it shows): how many
    times it holds item, for the users it shows it to."""
    got = {}
    for u in users:
        n = sum(1 for e in (d.get("/v1/feed/%s?tab=mixed&limit=100" % u).json or {})
                .get("items", []) if e.get("id") == item)
        if n:
            got[u] = n
    return got


def audit(d, mod, item):
    r = d.get("/v1/audit?item=%s&limit=1000" % item, token=mod)
    return (r.json or {}).get("records", []) if r.status == 200 else None


def steps(records):
    return [(a.get("action"), a.get("from"), a.get("to")) for a in records or []]


def stored(d, item):
    """What the store holds of item, read from its file: the row's state and
    plan, the numbers of its waves and its offers (user, wave)."""
    rows = d.sql("SELECT state, plan FROM items WHERE id = ?", (item,))
    row = rows[0] if rows else None
    waves = [n for (n,) in d.sql("SELECT n FROM waves WHERE item = ? ORDER BY n", (item,))]
    # A record per placement of a wave, its users each ended by a newline
    # (read as spaces: psql's rows are lines; no id holds either).
    nl = "chr(10)" if d.store else "char(10)"
    offers = sorted((u, wave) for wave, users in
                    d.sql("SELECT wave, replace(users, %s, ' ') FROM offer_waves"
                          " WHERE item = ?" % nl, (item,))
                    for u in users.split())
    return {"state": row[0] if row else None, "plan": row[1] if row else None,
            "waves": waves, "offers": offers}


def snapshot(d, mod, item):
    """Everything a retry or a clash must leave as it is (not the feeds:
    reading them changes them)."""
    it = d.item(item).json or {}
    s = stored(d, item)
    return {"state": it.get("state"), "upload": it.get("upload"), "waves": it.get("waves"),
            "audit": audit(d, mod, item), "store": s}


def first_wave_ok(waves):
    return (len(waves or []) == 1 and waves[0].get("n") == 1
            and waves[0].get("audience") == "followers"
            and waves[0].get("placed") == len(FANS) and waves[0].get("decision") == "")


def chain_ok(d, mod):
    r = d.get("/v1/audit/verify", token=mod)
    return r.status == 200 and (r.json or {}).get("ok") is True, r


def setup(t, d):
    bad = []
    for u in USERS + CREATORS:
        r = d.post("/v1/users", {"id": u, "city": "lyon"})
        if r.status != 200:
            bad.append(r)
    for u in FANS:
        for c in CREATORS:
            r = d.req("PUT", "/v1/follows/%s/%s" % (u, c))
            if r.status != 200:
                bad.append(r)
    t.require(not bad, "%d users, %d creators, each followed by %d fans"
              % (len(USERS), len(CREATORS), len(FANS)), bad[:3])


def claim_approve(t, d, mod, queue, item):
    r = d.post("/v1/queue/claim", {"queue": queue, "limit": 50}, token=mod)
    c = [x for x in (r.json or {}).get("items", []) if x.get("id") == item]
    t.require(c, "%s: the moderator claims it from queue %s" % (item, queue), r)
    r = d.post("/v1/items/%s/decision" % item,
               {"decision": "approve", "reason": "fine after all", "fence": c[0]["fence"]},
               token=mod)
    t.require(r.status == 200, "%s: the moderator approves it -> 200" % item, r)


def in_queue(d, mod, queue, item):
    q = d.get("/v1/queue?queue=%s" % queue, token=mod)
    return [x for x in (q.json or {}).get("items", []) if x.get("id") == item]

# }=======================================================================


# {====================== The checks ======================================

def taken(t, d, mod):
    """1. The 202 comes after the store holds the item distributing."""
    r = upload(d, "i-first", "c-first", "slow first")
    t.require(r.status == 202 and (r.json or {}).get("state") == "approved",
              "first: upload approved -> 202", r)
    s = stored(d, "i-first")
    plan = json.loads(s["plan"]) if s["plan"] else None
    t.check(s["state"] == "distributing" and plan and s["waves"] == [1]
            and s["offers"] == [(u, 1) for u in FANS],
            "first: right after the 202 the store holds it distributing, with its plan, "
            "wave 1 and an offer to each of the %d fans" % len(FANS), s)
    it = d.item("i-first").json or {}
    t.check(it.get("state") == "distributing", "first: GET /v1/items says distributing",
            it.get("state"))
    t.check(first_wave_ok(it.get("waves")),
            "first: one wave, n 1, followers, placed %d, running" % len(FANS), it.get("waves"))
    recs = audit(d, mod, "i-first")
    t.check(steps(recs) == [("upload", None, "pending"), ("verdict", "pending", "approved"),
                            ("distribute", "approved", "distributing")],
            "first: audit is upload, verdict, distribute in that order", steps(recs))
    seqs = [a.get("seq") for a in recs or []]
    t.check(seqs == sorted(set(seqs)) and all(len(a.get("hash") or "") == 64 for a in recs),
            "first: its audit records rise in seq and carry their hashes", recs)
    ok, v = chain_ok(d, mod)
    t.check(ok, "first: GET /v1/audit/verify -> ok", v)
    got = feed_counts(d, "i-first", USERS)
    t.check(got == {u: 1 for u in FANS},
            "first: each fan's feed holds it once, nobody else's", got)


def distributed(t, d, mod, case, item, creator, title):
    """Upload item, approved; its snapshot once it is distributing."""
    r = upload(d, item, creator, title)
    t.require(r.status == 202 and (r.json or {}).get("state") == "approved",
              "%s: upload approved -> 202" % case, r)
    snap = snapshot(d, mod, item)
    t.require(snap["state"] == "distributing" and first_wave_ok(snap["waves"]),
              "%s: distributing with its first wave" % case, snap)
    return snap


def retry(t, d, mod):
    """2. The same upload again: the stored state, nothing placed twice."""
    before = distributed(t, d, mod, "retry", "i-retry", "c-retry", "slow retry")
    r = upload(d, "i-retry", "c-retry", "slow retry")
    t.check(r.status == 202 and (r.json or {}).get("id") == "i-retry"
            and r.json.get("state") == "distributing",
            "retry: the same body again -> 202 with the stored state distributing", r)
    after = snapshot(d, mod, "i-retry")
    t.check(after["waves"] == before["waves"],
            "retry: still exactly one first wave, unchanged", after["waves"])
    t.check(after["store"] == before["store"],
            "retry: the store's row, waves and offers are unchanged", after["store"])
    t.check(after["audit"] == before["audit"] and len(after["audit"]) == 3,
            "retry: the audit is unchanged (3 records)", steps(after["audit"]))
    got = feed_counts(d, "i-retry", USERS)
    t.check(got == {u: 1 for u in FANS},
            "retry: each fan's feed holds it once, nobody else's", got)
    again = feed_counts(d, "i-retry", USERS)
    t.check(not again, "retry: once served, no feed offers it again", again)


def clash(t, d, mod):
    """3. Another body under the same id: 409, nothing changes."""
    before = distributed(t, d, mod, "clash", "i-clash", "c-clash", "slow clash")
    r = upload(d, "i-clash", "c-clash", "slow clash, another body")
    t.error(r, 409, "conflict", "clash: the same id with another body", field="id")
    after = snapshot(d, mod, "i-clash")
    t.check(after["state"] == "distributing" and after["upload"] == before["upload"],
            "clash: still distributing, the first body kept", after["upload"])
    t.check(after["waves"] == before["waves"] and after["store"] == before["store"],
            "clash: waves, store row and offers unchanged", after)
    t.check(after["audit"] == before["audit"],
            "clash: the audit is unchanged", steps(after["audit"]))
    got = feed_counts(d, "i-clash", USERS)
    t.check(got == {u: 1 for u in FANS},
            "clash: each fan's feed holds it once, nobody else's", got)


def held(t, d, mod):
    """4. A retry of an item in review, after a reload that would approve it:
    the store keeps it in review, distribution's attempt is undone, and a
    moderator's approval later distributes it as usual."""
    r = upload(d, "i-held", "c-held", "slow hold")
    t.require(r.status == 202 and (r.json or {}).get("state") == "in_review"
              and r.json.get("reasons") == ["the title says hold"],
              "held: upload with hold in the title -> in_review", r)
    os.remove(os.path.join(d.policies, "25-hold.lua"))
    r = d.post("/v1/policies/reload")
    t.require(r.status == 200, "held: reload without the hold policy -> 200", r)
    before = snapshot(d, mod, "i-held")
    funnel = (d.get("/v1/stats").json or {}).get("funnel")
    t.require(before["audit"] and [a for a, _, _ in steps(before["audit"])]
              == ["upload", "verdict"], "held: its audit is upload, verdict",
              steps(before["audit"]))

    r = upload(d, "i-held", "c-held", "slow hold")
    t.check(r.status == 202 and (r.json or {}).get("state") == "in_review",
            "held: the retry, now approved by the policies -> 202 with the stored in_review",
            r)
    after = snapshot(d, mod, "i-held")
    t.check(after["state"] == "in_review" and after["waves"] == [],
            "held: still in_review, no wave", (after["state"], after["waves"]))
    t.check(after["store"] == {"state": "in_review", "plan": None, "waves": [], "offers": []},
            "held: the store has no plan, wave or offer for it", after["store"])
    t.check(after["audit"] == before["audit"], "held: the audit is unchanged",
            steps(after["audit"]))
    now = (d.get("/v1/stats").json or {}).get("funnel")
    t.check(funnel is not None and now == funnel,
            "held: /v1/stats counts no wave for the undone attempt", (funnel, now))
    row = in_queue(d, mod, "titles", "i-held")
    t.check(row and row[0].get("claimed_by") is None,
            "held: it still waits in queue titles, unclaimed", row)
    # Not every fan reads now: a read drops the entries of items that are not
    # live, and the approval below must find the undone wave's entries left
    # in the others' inboxes.
    got = feed_counts(d, "i-held", OTHERS + FANS[:2])
    t.check(not got, "held: no feed holds it (%s and the non-fans read)"
            % ", ".join(FANS[:2]), got)

    claim_approve(t, d, mod, "titles", "i-held")
    ok = dt.wait_for(lambda: dt.state(d, "i-held") == "distributing", WAIT)
    t.check(ok, "held: after the approval it is distributing", dt.state(d, "i-held"))
    w = (d.item("i-held").json or {}).get("waves")
    t.check(first_wave_ok(w), "held: one first wave to the %d fans" % len(FANS), w)
    got = feed_counts(d, "i-held", USERS)
    t.check(got == {u: 1 for u in FANS},
            "held: each fan's feed holds it once, nobody else's", got)
    again = feed_counts(d, "i-held", USERS)
    t.check(not again, "held: once served, no feed offers it again", again)
    acts = [a for a, _, _ in steps(audit(d, mod, "i-held"))]
    t.check(acts == ["upload", "verdict", "claim", "approve", "distribute"],
            "held: audit is upload, verdict, claim, approve, distribute", acts)
    ok, v = chain_ok(d, mod)
    t.check(ok, "held: GET /v1/audit/verify -> ok", v)


def late(t, d, mod):
    """5. Settled, then held by reports of users it was served to (reports
    from users it never reached, and the report of a user who repeats it,
    count for nothing),
    then approved: back in the feeds of those who had not read it, settled
    again without a new wave."""
    r = upload(d, "i-late", "c-late", "stop late")
    t.require(r.status == 202 and (r.json or {}).get("state") == "approved",
              "late: upload approved -> 202", r)
    ok = dt.wait_for(lambda: dt.state(d, "i-late") == "settled", WAIT, 0.2)
    t.require(ok, "late: its one wave stops and it settles", dt.state(d, "i-late"))
    w0 = (d.item("i-late").json or {}).get("waves") or []
    t.require(len(w0) == 1 and w0[0].get("decision") == "stop",
              "late: one wave, decided stop", w0)
    got = feed_counts(d, "i-late", FANS[:4])
    t.check(got == {u: 1 for u in FANS[:4]},
            "late: settled, it is still in the feeds of %s" % ", ".join(FANS[:4]), got)

    def report(users, what):
        body = "".join(json.dumps({"item": "i-late", "user": u, "type": "report"}) + "\n"
                       for u in users)
        r = d.post("/v1/events", body, ctype="application/x-ndjson")
        t.require(r.status == 202, "late: %s -> 202" % what, r)

    report(OTHERS[:3], "3 reports from users it was never served to")
    report([FANS[0]] * 3, "one served fan reports it 3 times")
    card = lambda: (d.item("i-late").json or {}).get("reports") or {}  # noqa: E731
    # The fan's first report is kept (pending 4) before their repeats zero it:
    # wait for both.
    ok = dt.wait_for(lambda: card().get("pending") == 4
                     and abs(card().get("weight", -1)) < 1e-9, WAIT)
    c = card()
    t.check(ok and abs(c.get("weight", -1)) < 1e-9
            and sorted((x["user"], x["served"]) for x in c.get("reports", []))
            == sorted([(u, False) for u in OTHERS[:3]] + [(FANS[0], True)]),
            "late: 4 reports kept (3 unserved weighing 0, the fan's once, weighing 0 since "
            "they repeated it)", c)
    t.check(dt.state(d, "i-late") == "settled", "late: they do not pull it back",
            dt.state(d, "i-late"))
    report(FANS[1:4], "three other served fans report it")
    ok = dt.wait_for(lambda: dt.state(d, "i-late") == "in_review", WAIT)
    t.require(ok, "late: three served reports hold it for review", dt.state(d, "i-late"))
    t.check(in_queue(d, mod, "reports", "i-late"), "late: it waits in queue reports")
    # FANS[4] reads while it is held, and its entry goes; FANS[5] does not.
    got = feed_counts(d, "i-late", OTHERS + FANS[4:5])
    t.check(not got, "late: held, no feed holds it (%s and the non-fans read)" % FANS[4], got)

    claim_approve(t, d, mod, "reports", "i-late")

    def approved_again():
        acts = [a for a, _, _ in steps(audit(d, mod, "i-late"))]
        return acts[:8] == ["upload", "verdict", "distribute", "settle", "hold", "claim",
                            "approve", "settle"]

    t.check(dt.wait_for(approved_again, WAIT), "late: audit is upload, verdict, distribute, "
            "settle, hold, claim, approve, settle", steps(audit(d, mod, "i-late")))
    t.check(dt.state(d, "i-late") == "settled", "late: settled again", dt.state(d, "i-late"))
    w1 = (d.item("i-late").json or {}).get("waves") or []
    t.check(len(w1) == 1 and w1[0].get("started_ms") == w0[0].get("started_ms"),
            "late: no new wave: its distribution had ended", w1)
    c = card()
    t.check(c.get("pending") == 0 and all(x["judged"] == "dismissed" for x in c["reports"]),
            "late: the approval dismissed its reports", c)
    got = feed_counts(d, "i-late", USERS)
    t.check(got == {FANS[5]: 1},
            "late: back in feeds: the fan who never read it holds it once, nobody else", got)
    again = feed_counts(d, "i-late", USERS)
    t.check(not again, "late: once served, no feed offers it again", again)

# }=======================================================================


def body(t):
    d = t.daemon(start=False)
    dt.install(d, [p for p in dt.shipped_policies() if not p.endswith("30-distribute.lua")])
    dt.install(d, dt.fixture_files("waves"))
    dt.install(d, dt.fixture_files("taken"))
    d.start()
    mod = dt.token(t, d, "mod", "moderator")
    setup(t, d)
    taken(t, d, mod)
    retry(t, d, mod)
    clash(t, d, mod)
    held(t, d, mod)
    late(t, d, mod)
    t.stopped(d)


if __name__ == "__main__":
    st.main(body, "taken")
