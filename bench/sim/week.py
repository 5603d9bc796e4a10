# SPDX-License-Identifier: MIT
"""The simulated week: creators upload, viewers read and react, abusers abuse, moderators decide.

Time moves in steps (Params.step_min simulated minutes). In each step the
uploads and sessions the world scheduled for it happen, at the daemon's time
of the step's start; at its end the daemon's clock moves on by a step
(POST /v1/clock), which ends the waves whose time is up before it answers.
A wave whose limit falls within a step so runs past it by up to a step: the
run measures that overshoot from the waves themselves.

What the simulator saw (pages, impressions per item and per creator, first
public impressions, moderators' decisions, abuse) is kept in Obs; at the
end every item is read back with GET /v1/items/{id}.
"""
import json
import math
import random
import time

import daemon as sd
import wire
from world import CITIES, CLUSTER_OF, DAY_MS, GOOD_Q, HOUR_MS, POOR_Q

EVENT_BATCH = 5000          # NDJSON lines a request (well under body_limit)
FEED_CONNS, FEED_WINDOW = 2, 16
WRITE_CONNS, WRITE_WINDOW = 12, 2
BRIGADE_EVERY_H = 6         # reporters pick a new good item to report this often
ABUSER_READ_EVERY_H = 1
SHIFTS = {"night": (0, 8), "day": (8, 16), "evening": (16, 24)}
TYPES = ("impression", "play", "complete", "like", "share", "skip", "dislike", "report",
         "follow")


class SimError(Exception):
    pass


class Obs:
    """What the simulator itself saw, per item (by index) and over time."""

    def __init__(self, n_items):
        self.upload_state = [None] * n_items    # the upload's answer
        self.upload_ms = [None] * n_items       # daemon time of the upload
        self.imp = [0] * n_items                # users served the item (each once)
        self.imp_pub = [0] * n_items            # ... by a wave other than followers
        self.first_ms = [None] * n_items
        self.first_pub_ms = [None] * n_items
        self.exposure = {}                      # creator -> items served
        self.events = dict.fromkeys(TYPES, 0)
        self.pages = self.page_items = self.short_pages = self.empty_pages = 0
        self.served_private = self.served_total = 0
        self.samples = []                       # hourly /v1/stats and memory
        self.decisions = []                     # moderators' decisions
        self.mod_conflicts = 0
        self.targets = []                       # brigade targets: (item idx, sim ms)
        self.genuine_reports = {}               # item idx -> reports by ordinary viewers
        self.abuser_reports = {}                # item idx -> reports by abusers
        self.boosted = set()                    # allied items the boosters pushed
        self.twice = []                         # an item served twice to one user
        self.errors = []                        # unexpected answers
        self.new_follows = 0


class Week:
    def __init__(self, world, d, toks, seed=1, check_served=False, log=print):
        self.w = world
        self.p = world.p
        self.d = d
        self.toks = toks
        self.log = log
        self.rng = random.Random(seed * 104729 + 11)
        self.obs = Obs(len(world.items))
        self.index = {it.id: it for it in world.items}
        self.admin = wire.Pool(d.port, d.token)
        self.feeds = wire.Pool(d.port, toks["sim-ingest"], FEED_CONNS, FEED_WINDOW)
        self.writes = wire.Pool(d.port, toks["sim-ingest"], WRITE_CONNS, WRITE_WINDOW)
        self.mod_pool = wire.Pool(d.port, None)
        self.ev = []
        self.added = {}                         # follows made during the run: user -> creators
        self.served = set() if check_served else None
        self.feed_req = {}
        self.pre = {it.id: '{"item":"%s","user":"' % it.id for it in world.items}
        self.boost_done = set()
        self.reported = set()
        self.mods = {m: {"shift": s, "free": 0} for m, s in world.moderators}
        self.allied = [it for it in world.items if it.creator in world.allies]

    # {====================== Clock ========================================

    def clock(self, advance_ms=None):
        if advance_ms is None:
            status, body = self.admin.call("GET", "/v1/clock")
        else:
            status, body = self.admin.call("POST", "/v1/clock", {"advance_ms": advance_ms})
        if status != 200 or not body.get("simulated"):
            raise SimError("the clock does not move (simulated_clock = true?): %s %s"
                           % (status, body))
        return body["now_ms"]

    # }=====================================================================

    # {====================== The run ======================================

    def begin(self):
        w = self.w
        self.step_ms = self.p.step_min * 60 * 1000
        self.nsteps = w.span_ms // self.step_ms
        self.t0 = self.now = self.clock()
        self.t_real = time.monotonic()
        self.cpu0 = sd.cpu_seconds(self.d.proc.pid)
        self.own0 = time.process_time()
        self.req0 = self.requests()
        self.ui = self.si = 0

    def step(self, s):
        """The uploads, sessions, abuse and moderation of step s."""
        items, sessions = self.w.items, self.w.sessions
        lo, hi = s * self.step_ms, (s + 1) * self.step_ms
        while self.ui < len(items) and items[self.ui].at_ms < hi:
            self.upload(items[self.ui])
            self.ui += 1
        users = []
        while self.si < len(sessions) and sessions[self.si][0] < hi:
            users.append(sessions[self.si][1])
            self.si += 1
        self.writes.drain()         # uploads are in before anyone reads
        self.read(users)
        self.abuse(lo, hi)
        self.moderate(lo, self.step_ms)
        self.flush(final=True)
        if hi % HOUR_MS == 0:
            self.sample()

    def advance(self):
        """The step is over: the daemon's clock moves on by one."""
        self.now = self.clock(self.step_ms)

    def end(self):
        """After the last step: final figures and every item."""
        self.writes.drain()
        self.sample()
        real = time.monotonic() - self.t_real
        cpu1 = sd.cpu_seconds(self.d.proc.pid)
        req = self.requests() - self.req0
        mem = sd.proc_status(self.d.proc.pid)
        self.perf = {"real_s": real, "steps": self.nsteps,
                     "sim_min_per_s": (self.now - self.t0) / 60000.0 / real,
                     "daemon_cpu_s": sum(cpu1) - sum(self.cpu0),
                     "driver_cpu_s": time.process_time() - self.own0,
                     "requests": req, "requests_per_s": req / real,
                     "hwm_kib": mem.get("VmHWM"), "rss_kib": mem.get("VmRSS")}
        self.items = self.collect()
        self.final_stats = self.admin.call("GET", "/v1/stats")[1]
        return self

    def requests(self):
        """Requests the daemon answered so far, from /metrics."""
        got = []
        self.admin.submit("GET", "/metrics", None, lambda s, b: got.append((s, b)))
        self.admin.drain()
        total = 0
        for line in got[0][1].decode("utf-8", "replace").splitlines():
            if line.startswith("sluice_http_requests_total{"):
                total += int(float(line.rsplit(" ", 1)[1]))
        return total

    def close(self):
        for pool in (self.admin, self.feeds, self.writes, self.mod_pool):
            pool.close()

    # }=====================================================================

    # {====================== Uploads ======================================

    def upload(self, it):
        w = self.w
        body = {"id": it.id, "creator": w.uid[it.creator], "title": "clip %s" % it.id,
                "duration_ms": it.duration_ms, "city": CITIES[w.city[it.creator]], "tags": it.tags}
        if it.signals:
            body["signals"] = it.signals
        obs = self.obs
        obs.upload_ms[it.idx] = self.now

        def done(status, raw):
            if status != 202:
                obs.errors.append(("upload", it.id, status, raw[:200]))
                return
            obs.upload_state[it.idx] = json.loads(raw).get("state")
        self.writes.submit("POST", "/v1/uploads", body, done)

    # }=====================================================================

    # {====================== Viewers ======================================

    def feed_request(self, u):
        r = self.feed_req.get(u)
        if r is None:
            name = self.w.uid[u] if isinstance(u, int) else u
            r = wire.encode("GET", "/v1/feed/%s?tab=mixed&limit=%d" % (name, self.p.feed_limit),
                            None, self.toks["sim-ingest"])
            self.feed_req[u] = r
        return r

    def read(self, users, react=None, pages=None):
        """Sessions: page after page of the mixed feed while the viewer
        likes what it sees. react(u, entries) replaces the viewer model
        (abusers)."""
        limit = self.p.feed_limit
        pages = pages or self.p.max_pages
        rng = self.rng
        pending = users
        page = 1
        while pending and page <= pages:
            answers = self.feeds.map([self.feed_request(u) for u in pending])
            nxt = []
            for u, (status, raw) in zip(pending, answers):
                if status != 200:
                    self.obs.errors.append(("feed", u, status, raw[:200]))
                    continue
                entries = json.loads(raw)["items"]
                liked = (react or self.view)(u, entries)
                if len(entries) == limit and rng.random() < 0.25 + 0.5 * liked / limit:
                    nxt.append(u)
            pending = nxt
            page += 1

    def seen(self, u, name, entries):
        """Book-keeping of one page; yields (item, public) per entry."""
        obs = self.obs
        n = len(entries)
        obs.pages += 1
        obs.page_items += n
        if n < self.p.feed_limit:
            obs.short_pages += 1
            if n == 0:
                obs.empty_pages += 1
        now = self.now
        for e in entries:
            it = self.index.get(e["id"])
            if it is None:
                obs.errors.append(("unknown item in a feed", name, e))
                continue
            k = it.idx
            if self.served is not None:
                key = (name, k)
                if key in self.served:
                    obs.twice.append(key)
                self.served.add(key)
            pub = e["source"] != "followers"
            obs.imp[k] += 1
            if obs.first_ms[k] is None:
                obs.first_ms[k] = now
            if pub:
                obs.imp_pub[k] += 1
                if obs.first_pub_ms[k] is None:
                    obs.first_pub_ms[k] = now
            obs.exposure[it.creator] = obs.exposure.get(it.creator, 0) + 1
            yield it, pub

    def view(self, u, entries):
        """One viewer's reactions to a page: the chance of each event
        grows with the item's hidden quality and with how well its topic
        matches the viewer's interests. Returns how many it liked."""
        w, obs, rng, ev = self.w, self.obs, self.rng, self.ev
        name = w.uid[u]
        imask, cmask = w.imask[u], w.cmask[u]
        mine = w.following[u]
        extra = self.added.get(u)
        liked = 0
        for it, _pub in self.seen(u, name, entries):
            pre = self.pre[it.id] + name
            c = it.creator
            fan = c in mine or (extra is not None and c in extra)
            obs.served_total += 1
            if fan:
                obs.served_private += 1
            if imask >> it.topic & 1:
                a = 1.0
            elif cmask >> CLUSTER_OF[it.topic] & 1:
                a = 0.55
            else:
                a = 0.25
            if fan:
                a = min(1.0, a + 0.25)
            q = it.q
            appeal = q * a
            ev.append(pre + '","type":"impression"}')
            n = 1
            if rng.random() < 0.35 + 0.6 * appeal:
                ev.append(pre + '","type":"play"}')
                n += 1
                done = rng.random() < min(0.95, 0.1 + 0.85 * appeal)
                if done:
                    ev.append(pre + '","type":"complete"}')
                    n += 1
                if rng.random() < (0.02 + 0.55 * appeal * appeal) * (1.5 if done else 1.0):
                    ev.append(pre + '","type":"like"}')
                    n += 1
                    liked += 1
                    if not fan and rng.random() < 0.04 * appeal:
                        self.follow(u, c)
                        ev.append(pre + '","type":"follow"}')
                        n += 1
                if rng.random() < 0.12 * appeal ** 3:
                    ev.append(pre + '","type":"share"}')
                    n += 1
                if rng.random() < 0.12 * (1 - q):
                    ev.append(pre + '","type":"dislike"}')
                    n += 1
            else:
                ev.append(pre + '","type":"skip"}')
                n += 1
            if rng.random() < (0.06 if it.violating else 0.0005 + 0.002 * (1 - q)):
                ev.append(pre + '","type":"report"}')
                obs.genuine_reports[it.idx] = obs.genuine_reports.get(it.idx, 0) + 1
                n += 1
        if len(ev) >= EVENT_BATCH:
            self.flush()
        return liked

    def follow(self, u, c):
        self.added.setdefault(u, set()).add(c)
        self.obs.new_follows += 1
        self.writes.submit("PUT", "/v1/follows/%s/%s" % (self.w.uid[u], self.w.uid[c]), None,
                           self._ok("follow", 200))

    def _ok(self, what, want):
        errors = self.obs.errors

        def cb(status, raw):
            if status != want:
                errors.append((what, status, raw[:200]))
        return cb

    def flush(self, final=False):
        """Send the buffered events as NDJSON batches; count them by type
        once acknowledged."""
        ev = self.ev
        while len(ev) >= (1 if final else EVENT_BATCH):
            batch = ev[:EVENT_BATCH]
            del ev[:EVENT_BATCH]
            self.send_events(batch)

    def send_events(self, lines):
        obs = self.obs

        def cb(status, raw):
            if status != 202:
                obs.errors.append(("events", status, raw[:200]))
                return
            for line in lines:
                t = line[line.rindex(':"') + 2:-2]
                obs.events[t] += 1
        self.writes.submit("POST", "/v1/events", "\n".join(lines) + "\n", cb,
                           ctype="application/x-ndjson")

    # }=====================================================================

    # {====================== Abusers ======================================

    def abuse(self, lo, hi):
        w, obs = self.w, self.obs
        if not w.abusers:
            return
        hour_edge = lo % HOUR_MS == 0
        if hour_edge and (lo // HOUR_MS) % ABUSER_READ_EVERY_H == 0:
            self.read(w.reporters, self.reporter_view, pages=1)
            self.read(w.boosters, self.booster_view, pages=1)
        if w.reporters and hour_edge and (lo // HOUR_MS) % BRIGADE_EVERY_H == 0:
            target = self.pick_target(lo)
            if target is not None:
                obs.targets.append((target.idx, self.now - self.t0))
                # Each reports it, and again, and again.
                for x in w.reporters:
                    for _ in range(3):
                        self.ev.append(self.pre[target.id] + x + '","type":"report"}')
                k = target.idx
                obs.abuser_reports[k] = obs.abuser_reports.get(k, 0) + 3 * len(w.reporters)
        # Boosters like, finish and share every fresh item of their allies,
        # whether or not it was ever shown to them.
        for it in self.allied_fresh(lo):
            for x in w.boosters:
                if (x, it.idx) in self.boost_done:
                    continue
                self.boost_done.add((x, it.idx))
                obs.boosted.add(it.idx)
                for t in ("impression", "complete", "like", "share"):
                    self.ev.append(self.pre[it.id] + x + '","type":"%s"}' % t)

    def pick_target(self, lo):
        """The brigade's next victim: a good item out in public, uploaded
        within the last day, the most seen first."""
        obs = self.obs
        best = None
        since = self.now - DAY_MS
        done = {k for k, _ in obs.targets}
        for it in self.w.items:
            if it.at_ms >= lo + HOUR_MS:
                break
            k = it.idx
            if (it.q < GOOD_Q or k in done or obs.imp_pub[k] == 0 or it.creator in self.w.allies
                    or (obs.upload_ms[k] or 0) < since):
                continue
            if best is None or obs.imp[k] > obs.imp[best.idx]:
                best = it
        return best

    def allied_fresh(self, lo):
        return [it for it in self.allied
                if lo - 2 * DAY_MS <= it.at_ms < lo and self.obs.upload_ms[it.idx] is not None]

    def reporter_view(self, x, entries):
        for it, _ in self.seen(x, x, entries):
            pre = self.pre[it.id] + x
            self.ev.append(pre + '","type":"impression"}')
            if it.q >= 0.5 and (x, it.idx) not in self.reported:
                self.reported.add((x, it.idx))
                self.ev.append(pre + '","type":"report"}')
                k = it.idx
                self.obs.abuser_reports[k] = self.obs.abuser_reports.get(k, 0) + 1
        return 0

    def booster_view(self, x, entries):
        for it, _ in self.seen(x, x, entries):
            pre = self.pre[it.id] + x
            self.ev.append(pre + '","type":"impression"}')
            if it.q < POOR_Q:
                self.ev.append(pre + '","type":"like"}')
        return 0

    # }=====================================================================

    # {====================== Moderators ===================================

    def moderate(self, lo, step):
        """Each moderator on shift works through the queues: claim, look
        (a decision takes its time), decide. Claims and decisions reach the
        daemon at the step's time; the moderator's own clock (free) says
        when each decision was really made, for the time to decision."""
        p = self.p
        hour = (lo % DAY_MS) // HOUR_MS
        end = self.now + step
        for name, m in self.mods.items():
            a, b = SHIFTS[m["shift"]]
            if not a <= hour < b:
                continue
            m["free"] = max(m.get("free", 0), self.now)
            while m["free"] < end:
                status, body = self.mod_pool.call("POST", "/v1/queue/claim", {"limit": 1},
                                                  token=self.toks[name])
                if status != 200:
                    self.obs.errors.append(("claim", name, status, body))
                    break
                if not body["items"]:
                    break
                took = min(540.0, self.rng.lognormvariate(math.log(p.mod_median_s), 0.7))
                m["free"] = self.decide(name, body["items"][0], m["free"], took)

    def decide(self, name, claim, free, took):
        """One decision; returns when the moderator is free again."""
        p, rng = self.p, self.rng
        item_id, fence = claim["id"], claim["fence"]
        it = self.index.get(item_id)
        item = claim.get("item") or {}
        # The claim does not name the queue: the audit record that put the
        # item in review tells it (an escalation, a hold for reports or for
        # a review wave), else the upload's verdict.
        last = {}
        for a in item.get("audit", []):
            if a.get("to") == "in_review":
                last = a
        enq, why = last.get("ts_ms"), last.get("reason") or last.get("action") or ""
        if last.get("action") == "escalate":
            queue = "escalated"
        elif last.get("action") == "hold":
            queue = "reports" if "report" in why else "distribution"
        else:
            queue = (item.get("verdict") or {}).get("queue") or "default"
        violating = it.violating if it else False
        right = "reject" if violating else "approve"
        wrong = "approve" if violating else "reject"
        r = rng.random()
        if queue != "escalated" and r < p.mod_escalate:
            decision = "escalate"
        else:
            decision = wrong if rng.random() < p.mod_error else right
        body = {"decision": decision, "fence": fence}
        if decision != "approve":
            body["reason"] = "sim: %s" % ("second opinion" if decision == "escalate"
                                          else "breaks the rules")
        done = max(free, enq or free) + int(took * 1000)
        status, ans = self.mod_pool.call("POST", "/v1/items/%s/decision" % item_id, body,
                                         token=self.toks[name])
        if status == 409:
            self.obs.mod_conflicts += 1
            return done
        if status != 200:
            self.obs.errors.append(("decision", item_id, status, ans))
            return done
        self.obs.decisions.append({
            "item": it.idx if it else None, "queue": queue, "moderator": name,
            "enqueued_ms": enq, "decided_ms": done, "work_s": took, "why": why[:60],
            "decision": decision, "right": decision == right,
            "violating": violating})
        return done

    # }=====================================================================

    # {====================== Reading the daemon ===========================

    def sample(self):
        status, st = self.admin.call("GET", "/v1/stats")
        if status != 200:
            self.obs.errors.append(("stats", status, st))
            return
        mem = sd.proc_status(self.d.proc.pid)
        self.obs.samples.append({
            "sim_ms": st["now_ms"] - self.t0, "shares": st.get("shares"),
            "queues": {q["name"]: q["depth"] for q in st.get("queues", [])},
            "funnel": st.get("funnel"), "decisions": st.get("decisions"),
            "items": st.get("items"), "rss_kib": mem.get("VmRSS"), "hwm_kib": mem.get("VmHWM")})

    def collect(self):
        """Every uploaded item as the daemon tells it, kept small."""
        out = {}
        reqs, ids = [], []
        for it in self.w.items:
            ids.append(it.id)
            reqs.append(wire.encode("GET", "/v1/items/" + it.id, None, self.d.token))
        for k0 in range(0, len(reqs), 2000):
            for i, (status, raw) in zip(ids[k0:k0 + 2000],
                                        self.feeds.map(reqs[k0:k0 + 2000])):
                if status != 200:
                    self.obs.errors.append(("item", i, status, raw[:200]))
                    continue
                j = json.loads(raw)
                out[i] = {
                    "state": j.get("state"),
                    "counters": j.get("counters"),
                    "waves": [{k: x.get(k) for k in
                               ("n", "audience", "size", "placed", "started_ms", "limit_ms",
                                "ended_ms", "decision", "reason", "decided_by", "ended_by")}
                              | {"impression": (x.get("stats") or {}).get("impression")}
                              for x in j.get("waves") or []],
                    "audit": [(a.get("action"), a.get("to"), a.get("reason"), a.get("ts_ms"))
                              for a in j.get("audit") or []
                              if a.get("action") not in ("upload",)],
                }
        return out

    # }=====================================================================


def run(wk, speed, log=print):
    """Run the week step by step: at most `speed` simulated minutes a real
    second (to watch a run, or to give the daemon's own one-second tick
    time between steps); 0: as fast as the daemon and the driver go, which
    changes no figure, since moving the clock ends what the time ends."""
    wk.begin()
    n = wk.nsteps
    pace = wk.p.step_min / speed if speed else 0.0
    t_real = time.monotonic()
    for s in range(n):
        t = time.monotonic()
        wk.step(s)
        spent = time.monotonic() - t
        if spent < pace:
            time.sleep(pace - spent)
        wk.advance()
        if s % max(1, n // 14) == 0 or s == n - 1:
            log("sim: day %.1f of %d, %d uploads, %d sessions, %.0f s"
                % ((s + 1) * wk.step_ms / DAY_MS, wk.p.days, wk.ui, wk.si,
                   time.monotonic() - t_real))
    return wk.end()
