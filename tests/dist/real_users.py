# SPDX-License-Identifier: MIT
"""Distribution with users who do not all come back, under the shipped
policies, plugins and configuration (nothing tuned for the test; the
simulated clock on), on the simulated clock: 600 users of whom a third never return after signing up, creators
big, ordinary and without followers, good and poor items. Users who come
back read their mixed feed every half hour or so and react to what it
serves by the item's hidden quality. Then:

- good items go through every wave their plan has, none stalling on the
  users who never come back;
- good items reach at least five times the users poor ones reach;
- a poor item from the big creator stops no later than its first public
  wave (on the nearby wave's looks already, when they tell);
- the creator with no followers gets a first public audience;
- reports from users never served an item, or repeated by one user, do
  not pull it; three reports from served users pull a settled item that
  everyone was served back to review, also with a restart in between;
- a reporter's later reports weigh less, (1 + upheld) / (1 + reports
  before), and nothing below 1/2, so an account that reports whatever it
  sees cannot pull an item with a few others; once people cleared an item,
  its reporters cannot pull it again."""
import json
import random
import sys

sys.dont_write_bytecode = True    # keep the source tree clean
import disttest as dt  # noqa: E402
from disttest import st  # noqa: E402

USERS = ["r%03d" % i for i in range(600)]
INTERESTS = ("cooking", "football", "music", "travel", "cats")
CITIES = ("paris", "lyon", "nice")
BIG = "big"                 # followed by 240 users
ORDINARY = ["ord%d" % i for i in range(6)]   # 12 followers each
ZERO = "nobody"             # no followers
STEP_MS = 10 * 60 * 1000    # one round of the simulation: ten minutes
HOURS = 10


class World:
    def __init__(self, t, d):
        self.t, self.d = t, d
        self.rng = random.Random(20261205)
        # A third never come back after signing up (in every city, among
        # every creator's followers); the rest read about every half hour.
        pick = random.Random(7)
        self.back = [u for u in USERS if pick.random() >= 1 / 3]
        self.quality = {}       # item -> "good" | "poor"
        self.served = {}        # item -> users it was served to

    def people(self):
        d, bad = self.d, []
        for i, u in enumerate(USERS):
            r = d.post("/v1/users", {"id": u, "city": CITIES[i % 3],
                                     "interests": [INTERESTS[i % 5]]})
            if r.status != 200:
                bad.append(r)
        for c in [BIG, ZERO] + ORDINARY:
            if d.post("/v1/users", {"id": c, "city": "paris"}).status != 200:
                bad.append(c)
        for i, u in enumerate(USERS):
            mine = [BIG] if i < 240 else []
            mine.append(ORDINARY[i % len(ORDINARY)] if i % 8 == 0 else None)
            for c in filter(None, mine):
                if d.req("PUT", "/v1/follows/%s/%s" % (u, c)).status != 200:
                    bad.append((u, c))
        self.t.require(not bad, "600 users, 8 creators, the follow graph", bad[:3])

    def upload(self, item, creator, quality, interest=None):
        body = {"id": item, "creator": creator, "title": "clip " + item, "city": "paris"}
        if interest:
            body["tags"] = {"interest." + interest: 0.9}
        r = self.d.post("/v1/uploads", body)
        self.t.require(r.status == 202 and (r.json or {}).get("state") == "approved",
                       "upload %s (%s) by %s is approved" % (item, quality, creator), r)
        self.quality[item] = quality

    def react(self, user, item):
        """A viewer's events for an item a feed served them."""
        evs = [{"item": item, "user": user, "type": "impression"}]
        q = self.quality.get(item)
        if q == "good":
            kinds = [("play", 0.9), ("complete", 0.6), ("like", 0.5), ("share", 0.1)]
        else:
            kinds = [("skip", 0.8), ("complete", 0.04), ("like", 0.02)]
        for kind, p in kinds:
            if self.rng.random() < p:
                evs.append({"item": item, "user": user, "type": kind})
        return evs

    def round(self):
        evs = []
        for u in self.back:
            if self.rng.random() >= 0.35:
                continue
            r = self.d.get("/v1/feed/%s?tab=mixed&limit=10" % u)
            for e in (r.json or {}).get("items", []):
                self.served.setdefault(e["id"], set()).add(u)
                if e["id"] in self.quality:
                    evs += self.react(u, e["id"])
        if evs:
            r = self.d.post("/v1/events", "".join(json.dumps(e) + "\n" for e in evs),
                            ctype="application/x-ndjson")
            self.t.require(r.status == 202, "a round's events -> 202", r)
        r = self.d.post("/v1/clock", {"advance_ms": STEP_MS})
        self.t.require(r.status == 200, "POST /v1/clock: ten minutes on", r)


def waves(d, item):
    return (d.item(item).json or {}).get("waves") or []


def reach(d, item):
    """Users who saw the item: its impressions, one per served user, also
    from the entries its waves left in inboxes after it settled."""
    return ((d.item(item).json or {}).get("counters") or {}).get("impression", 0)


def distribution(t, d, w):
    for i in range(5):
        w.upload("good%d" % i, ORDINARY[i], "good", INTERESTS[i])
        w.upload("poor%d" % i, ORDINARY[i + 1], "poor", INTERESTS[i])
    w.upload("big-poor", BIG, "poor")
    w.upload("zero-good", ZERO, "good")
    for _ in range(HOURS * 6):
        w.round()

    # Good items: every planned wave ran, none stalled.
    for i in range(5):
        item = "good%d" % i
        r = d.item(item).json or {}
        ws = r.get("waves") or []
        planned = len((r.get("plan") or {}).get("waves") or [])
        t.check(r.get("state") == "settled" and planned >= 3 and len(ws) == planned
                and all(x["decision"] in ("continue", "switch", "skip") for x in ws),
                "%s went through all %d planned waves and settled" % (item, planned),
                [(x["audience"], x["placed"], x["stats"]["impression"], x["decision"],
                  x["ended_by"]) for x in ws])
    ended = [x["ended_by"] for i in range(5) for x in waves(d, "good%d" % i) if x["placed"]]
    t.check("evidence" in ended or "fill" in ended,
            "with a third of the users never back, waves end on evidence or their fill, "
            "not only on time", ended)

    good = [reach(d, "good%d" % i) for i in range(5)]
    poor = [reach(d, "poor%d" % i) for i in range(5)]
    t.check(sum(poor) > 0 and sum(good) >= 5 * sum(poor),
            "good items reach at least 5x the users poor ones do (%d against %d)"
            % (sum(good), sum(poor)), (good, poor))

    # Judged from the nearby wave on: a poor item stops there on what few
    # looks it had, or at the latest after its first public wave.
    ws = waves(d, "big-poor")
    public = [k for k, x in enumerate(ws) if x["audience"] != "followers" and x["placed"] > 0
              and x["audience"] != "nearby"]
    near = [k for k, x in enumerate(ws) if x["audience"] == "nearby"]
    last = public[0] if public else near[0] if near else None
    t.check(dt.state(d, "big-poor") == "settled" and last is not None
            and ws[last]["decision"] == "stop" and len(ws) == last + 1
            and ws[0]["placed"] >= 200,
            "the big creator's poor item reached its 240 followers, then stopped no later than "
            "its first public wave", [(x["audience"], x["placed"], x["decision"], x["reason"])
                                      for x in ws])

    ws = waves(d, "zero-good")
    t.check(ws and ws[0]["audience"] == "followers" and ws[0]["decision"] == "skip"
            and any(x["placed"] > 0 and x["stats"]["impression"] > 0 for x in ws[1:]),
            "the creator with no followers got a first public audience",
            [(x["audience"], x["placed"], x["stats"]["impression"]) for x in ws])
    m = dt.metric(d, "sluice_events_uncounted_total", {"type": "impression", "why": "unserved"})
    t.check(m == 0, "every impression came from a user the item was served to", m)


def reports(t, d, w):
    item = "good0"
    t.require(dt.state(d, item) == "settled", "%s is settled" % item, dt.state(d, item))
    served = sorted(w.served.get(item, ()))
    never = [u for u in USERS if u not in w.served.get(item, ())][:4]
    t.require(len(served) >= 6 and len(never) == 4, "users served %s, and users never" % item,
              (len(served), len(never)))

    def send(users):
        body = "".join(json.dumps({"item": item, "user": u, "type": "report"}) + "\n"
                       for u in users)
        return d.post("/v1/events", body, ctype="application/x-ndjson")

    def card():
        return (d.item(item).json or {}).get("reports") or {}

    t.status(send(never + ["no-such-user"]), 202, "5 reports from users never served it")
    t.status(send([served[0]] * 4), 202, "one served user reports it 4 times")
    t.status(send([served[1]]), 202, "a second served user reports it")
    ok = dt.wait_for(lambda: card().get("pending") == 7, 10)
    c = card()
    t.check(ok and abs(c["weight"] - 1.0) < 1e-9,
            "7 reports kept, weighing 1 (the unserved weigh 0; the one who repeated is a "
            "script and weighs 0)", c)
    t.check(dt.state(d, item) == "settled", "they do not pull it back", dt.state(d, item))
    t.check(dt.metric(d, "sluice_reports_total", {"from": "repeated"}) == 3
            and dt.metric(d, "sluice_reports_total", {"from": "unserved"}) == 5,
            "/metrics counts 3 repeats and 5 reports from users never served it")

    t.stopped(d, "a restart between the second and the third served report: exit 0")
    d.start()
    c = card()
    t.check(c.get("pending") == 7 and abs(c["weight"] - 1.0) < 1e-9,
            "after the restart the reports are all still there", c)
    t.status(send([served[0]]), 202, "the first served user reports it once more")
    t.status(send([served[2]]), 202, "a third served user reports it")
    ok = dt.wait_for(lambda: card().get("pending") == 8, 10)
    t.check(ok and dt.state(d, item) == "settled" and abs(card()["weight"] - 2.0) < 1e-9,
            "two served users' reports weigh 2: still settled", card())
    # Settled, it goes back to people once its served reports weigh the
    # shipped report_threshold and report_rate of its impressions.
    tr = (d.get("/v1/stats").json or {}).get("traffic") or {}
    imps = ((d.item(item).json or {}).get("counters") or {}).get("impression", 0)
    need = max(tr.get("report_threshold", 3), tr.get("report_rate", 0) * imps)
    t.require(need < len(served) - 1, "the shipped threshold for %d impressions (%.2f) is "
              "within reach of the users served it" % (imps, need), tr)
    k = 3
    while k < need - 1e-9:
        t.status(send([served[k]]), 202, "served user %d of %d reports it" % (k + 1, len(served)))
        ok = dt.wait_for(lambda: card().get("weight", 0) >= k - 1e-9, 10)
        t.check(ok and dt.state(d, item) == "settled",
                "%d served users' reports weigh %d, under %.2f: still settled" % (k, k, need),
                card())
        k += 1
    t.status(send([served[k]]), 202, "one more served user reports it")
    ok = dt.wait_for(lambda: dt.state(d, item) == "in_review", 10)
    t.check(ok, "%d served users' reports (weighing %d, at least %.2f) pull the settled item "
            "back to review" % (k, k, need), dt.state(d, item))
    r = d.get("/v1/queue?queue=reports")
    t.check(item in [x["id"] for x in (r.json or {}).get("items", [])],
            "it waits in queue reports", r.json)
    got = [u for u in served[k + 1:] + never
           if item in [e["id"] for e in (d.get("/v1/feed/%s?tab=mixed&limit=100" % u).json
                                         or {}).get("items", [])]]
    t.check(not got, "no feed serves it while people look", got)
    c = card()
    t.check(sorted(x["weight"] for x in c.get("reports", []) if x["served"]) == [0] + [1] * k,
            "each served user's report weighed 1, but the one who repeated it", c)

    # People clear it: the same reporters cannot pull it again.
    mod = dt.token(t, d, "mod", "moderator")
    r = d.post("/v1/queue/claim", {"queue": "reports", "limit": 50}, token=mod)
    got = [x for x in (r.json or {}).get("items", []) if x.get("id") == item]
    t.require(got, "a moderator claims it from queue reports", r)
    r = d.post("/v1/items/%s/decision" % item, {"decision": "approve", "fence": got[0]["fence"]},
               token=mod)
    t.require(r.status == 200, "the moderator approves it -> 200", r)
    ok = dt.wait_for(lambda: dt.state(d, item) == "settled", 10)
    t.require(ok, "approved, it settles again", dt.state(d, item))
    before = dt.metric(d, "sluice_reports_total", {"from": "repeated"})
    t.status(send(served[1:k + 1]), 202, "its %d reporters report it again" % k)
    ok = dt.wait_for(lambda: dt.metric(d, "sluice_reports_total", {"from": "repeated"})
                     == before + k, 10)
    t.check(ok and dt.state(d, item) == "settled" and card().get("pending") == 0,
            "their reports are repeats: it stays settled, nothing pending", card())

    # A reporter's record: served[k + 1] never reported; their first report
    # weighs 1, their second 1 / (1 + 1) while the first is not upheld,
    # their third 1/3: not credible, 0.
    v = served[k + 1]
    mine = [x for x in sorted(w.served) if x != item and v in w.served[x]
            and dt.state(d, x) in ("settled", "distributing")][:3]
    t.require(len(mine) == 3, "%s was served three other items" % v, mine)
    for k, (x, want) in enumerate(zip(mine, (1.0, 0.5, 0.0))):
        t.status(d.post("/v1/events", json.dumps({"item": x, "user": v, "type": "report"})
                        + "\n", ctype="application/x-ndjson"), 202, "%s reports %s" % (v, x))
        xc = lambda: (d.item(x).json or {}).get("reports") or {}  # noqa: E731
        ok = dt.wait_for(lambda: any(r["user"] == v for r in xc().get("reports", [])), 10)
        got = [r for r in xc().get("reports", []) if r["user"] == v]
        t.check(ok and got and got[0]["served"] and abs(got[0]["weight"] - want) < 1e-9
                and got[0]["reporter"]["reports"] == k + 1,
                "their report number %d weighs %g" % (k + 1, want), got)


def body(t):
    d = t.daemon(start=False)
    dt.shipped(d, "simulated_clock = true\n")
    d.start()
    w = World(t, d)
    w.people()
    distribution(t, d, w)
    reports(t, d, w)
    t.stopped(d)


if __name__ == "__main__":
    st.main(body, "real_users")
