# SPDX-License-Identifier: MIT
"""Distribution with a small synthetic population over HTTP: 300 users in
three cities, creators with many, some and no followers, good and bad items.
The test plays the users: each reads its mixed feed, reports impressions,
likes what is good and skips or dislikes what is bad, round after round.
Then: the traffic shares, reach of good against bad items, zero-follower
creators seen, reports and takedowns leaving every feed, the wave journey of
items, and what no feed may ever do."""
import json
import random
import sys
import time

sys.dont_write_bytecode = True    # keep the source tree clean
import disttest as dt  # noqa: E402
from disttest import st  # noqa: E402

CITIES = ("paris", "lyon", "nice")
INTERESTS = ("cooking", "football", "music", "travel", "cats")
USERS = ["u%03d" % i for i in range(300)]
HEAD = ["head0", "head1"]
MID = ["mid%d" % i for i in range(6)]
ZERO = ["zero%d" % i for i in range(10)]
ROUNDS_MAX = 60
DEADLINE_S = 150


class World:
    def __init__(self, t, d):
        self.t, self.d = t, d
        self.rng = random.Random(4242)
        self.good, self.bad = set(), set()
        self.followers = {c: set() for c in HEAD + MID + ZERO}
        self.served = {u: set() for u in USERS}       # item ids each user was served
        self.forbidden = {}                            # item -> why it may never be served
        self.violations = []
        self.pages = 0
        self.adjacent = []
        self.reads = 0
        self.creator_of = {}

    # -- set-up ---------------------------------------------------------
    def people(self):
        d, t = self.d, self.t
        bad_users = []
        for i, u in enumerate(USERS):
            ints = [INTERESTS[i % 5], INTERESTS[(i + 2) % 5]]
            r = d.post("/v1/users", {"id": u, "city": CITIES[i % 3], "interests": ints})
            if r.status != 200:
                bad_users.append((u, r))
        for i, c in enumerate(HEAD + MID + ZERO):
            r = d.post("/v1/users", {"id": c, "city": CITIES[i % 3], "interests": ["music"]})
            if r.status != 200:
                bad_users.append((c, r))
        t.require(not bad_users, "POST /v1/users for 300 users and 18 creators", bad_users[:3])
        bad = []
        for i, u in enumerate(USERS):
            mine = [HEAD[i % 2]] + [MID[i % 6]]
            if i % 3 == 0:
                mine.append(MID[(i + 1) % 6])
            if i % 4 == 0:
                mine.append(HEAD[(i + 1) % 2])
            for c in mine:
                r = d.req("PUT", "/v1/follows/%s/%s" % (u, c))
                if r.status != 200 or not (r.json or {}).get("following"):
                    bad.append((u, c, r))
                self.followers[c].add(u)
        t.require(not bad, "PUT /v1/follows: every user follows 2 to 4 creators", bad[:3])
        print("     followers: %s" % {c: len(v) for c, v in self.followers.items() if v})

    def upload(self, item, creator, good, **extra):
        body = {"id": item, "creator": creator, "title": "clip %s" % item,
                "city": extra.pop("city", None) or CITIES[(HEAD + MID + ZERO).index(creator) % 3]}
        body.update(extra)
        r = self.d.post("/v1/uploads", body)
        self.creator_of[item] = creator
        if r.status == 202 and r.json.get("state") == "approved":
            (self.good if good else self.bad).add(item)
        return r

    def catalogue(self):
        t = self.t
        fails = []
        n = 0
        for c, count in [(c, 4) for c in HEAD] + [(c, 3) for c in MID] + [(c, 2) for c in ZERO]:
            for k in range(count):
                n += 1
                item = "%s-v%d" % (c, k)
                # Every creator has good and bad items; zero-follower
                # creators' first items are good, second ones bad.
                r = self.upload(item, c, good=(k % 2 == 0))
                if r.status != 202 or r.json.get("state") != "approved":
                    fails.append((item, r))
        t.require(not fails, "%d plain uploads are approved" % n, fails[:3])
        # Uploads review keeps out of every feed.
        r = self.upload("nope-nsfw", "mid0", False, signals={"nsfw.score": 0.97})
        t.check(r.json.get("state") == "rejected", "nsfw upload rejected", r)
        self.forbidden["nope-nsfw"] = "rejected at upload"
        r = self.upload("nope-kid", "head0", False, signals={"face.age": 6})
        t.check(r.json.get("state") == "in_review", "child upload held for people", r)
        self.forbidden["nope-kid"] = "in review since upload"
        print("     %d good and %d bad items distributing" % (len(self.good), len(self.bad)))

    # -- one user's turn -----------------------------------------------------
    def read(self, u, events):
        r = self.d.get("/v1/feed/%s?tab=mixed&limit=10" % u)
        self.reads += 1
        if r.status != 200 or not isinstance((r.json or {}).get("items"), list):
            self.violations.append(("feed answer", u, repr(r)))
            return 0
        items = r.json["items"]
        for e in items:
            i = e.get("id")
            if i in self.served[u]:
                self.violations.append(("served twice", u, i))
            self.served[u].add(i)
            if i in self.forbidden:
                self.violations.append(("forbidden item served", u, i, self.forbidden[i]))
            if e.get("creator") != self.creator_of.get(i, e.get("creator")):
                self.violations.append(("wrong creator", u, e))
            if u == e.get("creator"):
                self.violations.append(("own item", u, i))
            events.append({"item": i, "user": u, "type": "impression"})
            rnd = self.rng.random()
            if i in self.good:
                if rnd < 0.9:
                    events.append({"item": i, "user": u, "type": "like"})
                else:
                    events.append({"item": i, "user": u, "type": "skip"})
            else:
                if rnd < 0.05:
                    events.append({"item": i, "user": u, "type": "like"})
                elif rnd < 0.6:
                    events.append({"item": i, "user": u, "type": "dislike"})
                else:
                    events.append({"item": i, "user": u, "type": "skip"})
        if items:
            self.pages += 1
            creators = [e.get("creator") for e in items]
            top = max(creators.count(c) for c in set(creators))
            avoidable = top <= (len(creators) + 1) // 2
            if avoidable and any(a == b for a, b in zip(creators, creators[1:])):
                self.adjacent.append((u, creators))
        return len(items)

    def send(self, events):
        if not events:
            return
        body = "\n".join(json.dumps(e) for e in events) + "\n"
        r = self.d.post("/v1/events", body, ctype="application/x-ndjson")
        if r.status != 202 or r.json != {"accepted": len(events)}:
            self.violations.append(("events", repr(r)))

    def round(self):
        served = 0
        for u in USERS:
            events = []
            served += self.read(u, events)
            self.send(events)
        return served


def distributing(d):
    r = d.get("/v1/status")
    return ((r.json or {}).get("items") or {}).get("distributing", 0)


def body(t):
    d = t.daemon(start=False)
    dt.install(d, [p for p in dt.shipped_policies() if not p.endswith("30-distribute.lua")])
    dt.install(d, dt.fixture_files("dist-small"))
    d.start()
    version = (d.get("/v1/policies").json or {}).get("version")
    mod = dt.token(t, d, "mod", "moderator")
    w = World(t, d)
    w.people()
    w.catalogue()
    # The head is worked out from followers of creators with items; a reload
    # recomputes it now instead of within the minute.
    r = d.post("/v1/policies/reload")
    t.require(r.status == 200, "POST /v1/policies/reload (recomputes the head)", r)

    start = time.monotonic()
    rounds = quiet = 0
    reported = taken = None
    while rounds < ROUNDS_MAX and time.monotonic() - start < DEADLINE_S:
        rounds += 1
        if rounds == 3:
            reported, taken = report_and_takedown(t, d, w, mod)
        served = w.round()
        left = distributing(d)
        quiet = quiet + 1 if served == 0 and left == 0 else 0
        if quiet >= 2:
            break
        time.sleep(0.3)
    print("     %d rounds, %d feed reads, %d non-empty pages, %.1fs; still distributing: %d"
          % (rounds, w.reads, w.pages, time.monotonic() - start, distributing(d)))
    t.check(distributing(d) == 0, "every item settled within the rounds", distributing(d))

    t.check(not w.violations, "no feed broke a rule (twice to one user, forbidden item, "
            "own item, wrong creator, bad answer)", w.violations[:10])
    t.check(not w.adjacent, "no avoidable adjacent items of one creator in %d mixed pages"
            % w.pages, w.adjacent[:5])
    shares_checks(t, d)
    reach_checks(t, d, w, version)
    if reported:
        q = d.get("/v1/queue?queue=reports", token=mod)
        t.check(reported in [i["id"] for i in (q.json or {}).get("items", [])],
                "the reported item still waits in queue reports", q)
    if taken:
        t.check(dt.state(d, taken) == "removed", "the taken-down item stays removed")
    t.stopped(d)


def report_and_takedown(t, d, w, mod):
    # A fresh item of a mid creator: in its followers' inboxes; three of
    # them read it (only reports from users it was served to count), then
    # report it.
    r = w.upload("reported", "mid1", True)
    t.require(r.json.get("state") == "approved", "upload of the item to report", r)
    fans = sorted(w.followers["mid1"])[:3]
    served = [u for u in fans
              if "reported" in [e["id"] for e in (d.get("/v1/feed/%s?tab=follow&limit=100" % u)
                                                  .json or {}).get("items", [])]]
    t.check(served == fans, "the 3 fans' follow feeds serve the item to report", served)
    events = [{"item": "reported", "user": u, "type": "report"} for u in fans]
    r = d.post("/v1/events", "\n".join(json.dumps(e) for e in events) + "\n",
               ctype="application/x-ndjson")
    t.check(r.status == 202, "3 users report the item", r)
    w.forbidden["reported"] = "reported 3 times"
    w.good.discard("reported")
    now = dt.state(d, "reported")
    if now != "in_review":
        print("note: right after the 202 for the reports GET /v1/items says %s" % now)
    got = dt.wait_for(lambda: dt.state(d, "reported") == "in_review", 5)
    t.check(got, "3 reports: the item is in_review", dt.state(d, "reported"))
    q = d.get("/v1/queue?queue=reports", token=mod)
    row = [i for i in (q.json or {}).get("items", []) if i["id"] == "reported"]
    t.check(row and "report" in row[0].get("reason", ""),
            "the reported item waits in queue reports with a reason about reports", q)
    left = [u for u in w.followers["mid1"] if u not in fans]
    hits = [u for u in left
            if "reported" in [e["id"] for e in (d.get("/v1/feed/%s?tab=follow&limit=100" % u)
                                                .json or {}).get("items", [])]]
    t.check(not hits, "no follower's follow feed offers the reported item", hits[:5])

    r = w.upload("taken", "head0", True)
    t.require(r.json.get("state") == "approved", "upload of the item to take down", r)
    r = d.post("/v1/items/taken/takedown", {"reason": "copyright claim"}, token=mod)
    t.check(r.status == 200 and r.json.get("state") == "removed"
            and r.json.get("previous") == "distributing",
            "POST /v1/items/taken/takedown -> 200 removed, previous distributing", r)
    w.forbidden["taken"] = "taken down"
    w.good.discard("taken")
    t.check(dt.state(d, "taken") == "removed", "GET /v1/items/taken says removed")
    audit = (d.item("taken").json or {}).get("audit", [])
    t.check(any(a.get("action") == "takedown" and a.get("actor") == "token:mod"
                and a.get("reason") == "copyright claim" for a in audit),
            "the takedown is audited with token:mod and its reason", audit[-2:])
    return "reported", "taken"


def shares_checks(t, d):
    s = (d.get("/v1/stats").json or {}).get("shares") or {}
    priv = dt.metric(d, "sluice_feed_private_share")
    ordi = dt.metric(d, "sluice_feed_ordinary_share")
    print("     shares: %s" % s)
    t.check(s.get("served", 0) > 1000 and s.get("served_public", 0) > 200,
            "the feeds served over 1000 items, over 200 public", s)
    t.check(priv is not None and priv >= 0.30 and abs(priv - s.get("private", -1)) < 1e-3,
            "achieved private share %.3f >= 0.30 (metrics and stats agree)" % (priv or -1), s)
    t.check(ordi is not None and ordi >= 0.70 and abs(ordi - s.get("ordinary", -1)) < 1e-3,
            "ordinary share of public traffic %.3f >= 0.70" % (ordi or -1), s)
    t.check(ordi is not None and ordi < 1.0,
            "the head did get some public traffic (the floor is a floor, not a ban)", ordi)


def reach_checks(t, d, w, version):
    info = {}
    for i in sorted(w.good | w.bad):
        r = d.item(i)
        info[i] = r.json or {}

    def public_placed(i):
        return sum(x.get("placed", 0) for x in info[i].get("waves", [])
                   if x.get("audience") != "followers")

    def impressions(i):
        return (info[i].get("counters") or {}).get("impression", 0)

    good = [i for i in w.good if i in info]
    bad = [i for i in w.bad if i in info]
    gp = sum(public_placed(i) for i in good) / max(1, len(good))
    bp = sum(public_placed(i) for i in bad) / max(1, len(bad))
    gi = sum(impressions(i) for i in good) / max(1, len(good))
    bi = sum(impressions(i) for i in bad) / max(1, len(bad))
    print("     mean public placed: good %.1f, bad %.1f; mean impressions: good %.1f, bad %.1f"
          % (gp, bp, gi, bi))
    t.check(gp >= 3 * max(bp, 1), "good items reach 3x+ the public users bad items do", (gp, bp))
    t.check(gi >= 2 * max(bi, 1), "good items get 2x+ the impressions of bad ones", (gi, bi))

    unseen = [i for i in good + bad if w.creator_of[i] in ZERO and impressions(i) == 0]
    t.check(not unseen, "every zero-follower creator's item was seen (impressions > 0)", unseen)
    skips = [i for i in good + bad if w.creator_of[i] in ZERO
             and not (info[i].get("waves") and info[i]["waves"][0].get("audience") == "followers"
                      and info[i]["waves"][0].get("decision") == "skip"
                      and info[i]["waves"][0].get("placed") == 0)]
    t.check(not skips, "zero-follower creators' followers wave is skipped", skips)

    bad_waves = []
    for i in good + bad:
        waves = info[i].get("waves") or []
        if not waves:
            bad_waves.append((i, "no waves"))
        for x in waves:
            keys = {"n", "audience", "size", "placed", "started_ms", "limit_ms", "ended_ms",
                    "stats", "decision", "reason", "decided_by"}
            if not keys <= set(x) or not isinstance(x.get("stats"), dict) \
                    or "impression" not in x["stats"]:
                bad_waves.append((i, x))
            elif x["decision"] in ("continue", "stop", "switch"):
                if x["decided_by"] != "policy:" + version or not x["reason"]:
                    bad_waves.append((i, x))
        if info[i].get("state") != "settled":
            bad_waves.append((i, "state %s" % info[i].get("state")))
    t.check(not bad_waves, "GET /v1/items explains every wave: audience, placed, stats, "
            "decision, reason, decided_by policy:%s; items settled" % version, bad_waves[:3])
    g = next((i for i in sorted(good) if w.creator_of[i] in MID), None)
    if g:
        print("     journey of %s: %s" % (g, [(x["audience"], x["placed"], x["decision"],
                                                x["reason"]) for x in info[g]["waves"]]))
        stops = [i for i in bad if any(x.get("decision") == "stop"
                                       for x in info[i].get("waves", []))]
        t.check(len(stops) >= len(bad) // 2,
                "most bad items were stopped by wave_done (%d of %d)" % (len(stops), len(bad)))


if __name__ == "__main__":
    st.main(body, "population")
