# SPDX-License-Identifier: MIT
"""The synthetic platform, generated from a seed: people, the follow graph, sessions, uploads.

Everything here is decided before the daemon starts, so every policy variant
meets the same people, the same graph, the same sessions and the same
uploads; only what the daemon does with them differs. Users are dense
indices; interest and cluster membership are bit masks, so a viewer's match
with an item is one AND.
"""
import bisect
import math
import random

HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS

# Interests grouped in clusters: people who like one of a cluster tend to
# like others of it (football and basketball fans overlap), and a few like
# something of a second cluster.
CLUSTERS = (
    ("sport", 1.4, ("football", "basketball", "running", "cycling", "tennis")),
    ("music", 1.3, ("pop", "hiphop", "rock", "jazz")),
    ("food", 1.0, ("cooking", "baking", "streetfood")),
    ("outdoors", 0.8, ("travel", "hiking", "photography")),
    ("pets", 0.9, ("cats", "dogs")),
    ("tech", 0.8, ("gaming", "tech", "science")),
    ("style", 1.0, ("fashion", "beauty", "fitness")),
)
INTERESTS = tuple(i for _, _, names in CLUSTERS for i in names)
CLUSTER_OF = tuple(ci for ci, (_, _, names) in enumerate(CLUSTERS) for _ in names)

CITIES = ("lisbon", "porto", "madrid", "barcelona", "valencia", "seville", "paris", "lyon",
          "marseille", "toulouse", "milan", "rome", "turin", "naples", "berlin", "hamburg",
          "munich", "cologne", "vienna", "zurich", "brussels", "amsterdam", "rotterdam",
          "copenhagen")

# Relative chance of a session (or an upload) in each hour of the day:
# quiet nights, a lunch bump, the evening peak.
RHYTHM = (1.0, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.2, 2.6, 2.2, 2.0, 2.2,
          2.8, 2.6, 2.2, 2.2, 2.4, 2.8, 3.4, 4.0, 4.4, 4.0, 3.0, 1.8)

# Hidden quality bands: what a good and a poor item are, for the report.
GOOD_Q = 0.6
POOR_Q = 0.35

FULL = dict(users=100000, follows=1000000, items=20000, days=7, abusers=30, moderators=6)
SMALL = dict(users=3000, follows=30000, items=800, days=3, abusers=9, moderators=3)


class Params:
    """Every knob of the platform; the defaults are the full scale."""

    def __init__(self, **kw):
        self.seed = 1
        self.users = FULL["users"]
        self.follows = FULL["follows"]
        self.items = FULL["items"]
        self.days = FULL["days"]
        self.abusers = FULL["abusers"]
        self.moderators = FULL["moderators"]
        self.creator_share = 0.06       # users who upload
        self.zero_share = 0.20          # creators nobody follows at the start
        self.never_share = 1 / 3        # users who never come back after signing up
        self.daily_share = 0.35         # users who come back every day; the rest rarely
        self.step_min = 10              # simulated minutes per step
        self.feed_limit = 10            # items a page
        self.max_pages = 4              # pages a session at most
        self.mod_error = 0.05           # a moderator's wrong decisions
        self.mod_escalate = 0.02        # decisions handed to a second moderator
        self.mod_median_s = 90          # a moderator's median time for one decision
        for k, v in kw.items():
            if not hasattr(self, k):
                raise ValueError("unknown parameter %s" % k)
            setattr(self, k, v)

    def as_dict(self):
        return dict(vars(self))


class Item:
    __slots__ = ("idx", "id", "creator", "at_ms", "q", "topic", "tags", "signals",
                 "violating", "kind", "duration_ms")


def _poisson(rng, lam):
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _cum(weights):
    out, s = [], 0.0
    for w in weights:
        s += w
        out.append(s)
    return out


class World:
    def __init__(self, params):
        self.p = params
        rng = random.Random(params.seed)
        self._people(rng)
        self._creators(rng)
        self._graph(random.Random(params.seed * 7919 + 1))
        self._sessions(random.Random(params.seed * 7919 + 2))
        self._uploads(random.Random(params.seed * 7919 + 3))
        self._bad_actors(random.Random(params.seed * 7919 + 4))

    # {====================== People =======================================

    def _people(self, rng):
        p = self.p
        n = p.users
        self.uid = ["u%d" % i for i in range(n)]
        city_w = [1 / (r + 1) ** 0.8 for r in range(len(CITIES))]
        city_cum = _cum(city_w)
        # Each city leans to one cluster (hiking somewhere, streetfood elsewhere).
        lean = [rng.randrange(len(CLUSTERS)) for _ in CITIES]
        self.city = [bisect.bisect_left(city_cum, rng.random() * city_cum[-1]) for _ in range(n)]
        self.imask = [0] * n
        self.cmask = [0] * n
        self.interests = [()] * n
        for u in range(n):
            cw = [w * (2.0 if ci == lean[self.city[u]] else 1.0)
                  for ci, (_, w, _) in enumerate(CLUSTERS)]
            picks = self._interests_for(rng, cw)
            self.interests[u] = tuple(picks)
            for i in picks:
                self.imask[u] |= 1 << i
                self.cmask[u] |= 1 << CLUSTER_OF[i]
        # Activity: sessions a day. A third never come back, many are daily,
        # the rest come now and then.
        self.rate = [0.0] * n
        self.klass = [""] * n
        self.shift = [0.0] * n
        for u in range(n):
            r = rng.random()
            if r < p.never_share:
                self.klass[u], self.rate[u] = "never", 0.0
            elif r < p.never_share + p.daily_share:
                self.klass[u] = "daily"
                self.rate[u] = min(12.0, rng.lognormvariate(math.log(2.0), 0.6))
            else:
                self.klass[u] = "rare"
                self.rate[u] = rng.uniform(0.05, 0.5)
            self.shift[u] = rng.gauss(0, 1.5)

    @staticmethod
    def _interests_for(rng, cluster_w):
        """Interest indices: 2-4 of a main cluster, often 1-2 of a second, rarely a stray one."""
        ccum = _cum(cluster_w)
        main = bisect.bisect_left(ccum, rng.random() * ccum[-1])
        names = CLUSTERS[main][2]
        base = INTERESTS.index(names[0])
        k = min(len(names), rng.choice((2, 2, 3, 3, 4)))
        # Earlier names of a cluster are more popular (football before tennis).
        w = [1 / (j + 1) for j in range(len(names))]
        out = set()
        while len(out) < k:
            out.add(base + rng.choices(range(len(names)), weights=w)[0])
        if rng.random() < 0.4:
            second = bisect.bisect_left(ccum, rng.random() * ccum[-1])
            names2 = CLUSTERS[second][2]
            base2 = INTERESTS.index(names2[0])
            for _ in range(rng.choice((1, 1, 2))):
                out.add(base2 + rng.randrange(len(names2)))
        if rng.random() < 0.1:
            out.add(rng.randrange(len(INTERESTS)))
        return sorted(out)

    # }=====================================================================

    # {====================== Creators and the follow graph ================

    def _creators(self, rng):
        p = self.p
        n = p.users
        k = max(10, int(n * p.creator_share))
        self.creators = sorted(rng.sample(range(n), k))
        self.is_creator = bytearray(n)
        for c in self.creators:
            self.is_creator[c] = 1
        # skill: the mean hidden quality of the creator's items
        self.skill = {c: rng.betavariate(2, 3) for c in self.creators}
        self.topic = {c: rng.choice(self.interests[c]) for c in self.creators}
        zero = set(rng.sample(self.creators, int(k * p.zero_share)))
        self.zero_at_start = zero
        # Popularity rank: luck mostly, skill a little.
        ranked = sorted((c for c in self.creators if c not in zero),
                        key=lambda c: -(0.4 * self.skill[c] + 0.6 * rng.random()))
        self.pop_w = {c: 0.0 for c in self.creators}
        for r, c in enumerate(ranked):
            self.pop_w[c] = 1.0 / (r + 1) ** 0.85
        # Uploads a week: heavy-tailed, bigger creators post more; creators
        # nobody follows yet post less.
        self.upload_w = {}
        for c in self.creators:
            base = rng.paretovariate(1.5)
            self.upload_w[c] = base * (1 + 20 * self.pop_w[c]) * (0.6 if c in zero else 1.0)

    def _graph(self, rng):
        p = self.p
        n = p.users
        followable = [c for c in self.creators if self.pop_w[c] > 0]
        g_cum = _cum(self.pop_w[c] for c in followable)
        by_topic = {}
        for c in followable:
            by_topic.setdefault(self.topic[c], []).append(c)
        t_cum = {t: (cs, _cum(self.pop_w[c] for c in cs)) for t, cs in by_topic.items()}
        by_city = {}
        for c in followable:
            by_city.setdefault(self.city[c], []).append(c)
        c_cum = {ci: (cs, _cum(self.pop_w[c] ** 0.5 for c in cs)) for ci, cs in by_city.items()}
        # Follows a user makes: log-normal, fewer for those who never came back.
        raw = [rng.lognormvariate(0, 1.0) * (0.5 if self.klass[u] == "never" else 1.0)
               for u in range(n)]
        scale = p.follows / sum(raw)
        cap = max(1, len(followable) // 2)
        want = [min(cap, int(x * scale + rng.random())) for x in raw]
        self.following = [set() for _ in range(n)]
        total = 0

        def draw(u):
            r = rng.random()
            if r < 0.55:
                mine = [t for t in self.interests[u] if t in t_cum]
                if mine:
                    cs, cum = t_cum[rng.choice(mine)]
                    return cs[bisect.bisect_left(cum, rng.random() * cum[-1])]
            elif r < 0.65 and self.city[u] in c_cum:
                cs, cum = c_cum[self.city[u]]
                return cs[bisect.bisect_left(cum, rng.random() * cum[-1])]
            return followable[bisect.bisect_left(g_cum, rng.random() * g_cum[-1])]

        for u in range(n):
            mine = self.following[u]
            tries = 0
            while len(mine) < want[u] and tries < 4 * want[u] + 10:
                c = draw(u)
                if c != u:
                    mine.add(c)
                tries += 1
            total += len(mine)
        # Exactly p.follows edges: top up (or trim) at random users.
        while total < p.follows:
            u = rng.randrange(n)
            c = draw(u)
            if c != u and c not in self.following[u] and len(self.following[u]) < cap:
                self.following[u].add(c)
                total += 1
        while total > p.follows:
            u = rng.randrange(n)
            if self.following[u]:
                self.following[u].pop()
                total -= 1
        self.followers = {c: 0 for c in self.creators}
        for u in range(n):
            for c in self.following[u]:
                self.followers[c] += 1

    def edges(self):
        for u, cs in enumerate(self.following):
            for c in sorted(cs):
                yield u, c

    # }=====================================================================

    # {====================== Time: sessions and uploads ===================

    def _when(self, rng, day_ms_span, shift=0.0):
        """A time (ms from the start) over the run, following the rhythm."""
        day = rng.randrange(self.p.days)
        hour = bisect.bisect_left(self._rhythm_cum, rng.random() * self._rhythm_cum[-1])
        t = (hour + shift) % 24 * HOUR_MS + rng.randrange(HOUR_MS)
        return int(day * DAY_MS + t) % day_ms_span

    @property
    def span_ms(self):
        return self.p.days * DAY_MS

    def _sessions(self, rng):
        self._rhythm_cum = _cum(RHYTHM)
        out = []
        for u in range(self.p.users):
            k = _poisson(rng, self.rate[u] * self.p.days)
            for _ in range(k):
                out.append((self._when(rng, self.span_ms, self.shift[u]), u))
        out.sort()
        self.sessions = out

    def _uploads(self, rng):
        p = self.p
        cs = self.creators
        cum = _cum(self.upload_w[c] for c in cs)
        items = []
        for k in range(p.items):
            it = Item()
            it.idx = k
            it.id = "i%d" % k
            it.creator = cs[bisect.bisect_left(cum, rng.random() * cum[-1])]
            it.at_ms = self._when(rng, self.span_ms)
            it.q = min(1.0, max(0.0, rng.gauss(self.skill[it.creator], 0.18)))
            own = self.interests[it.creator]
            it.topic = self.topic[it.creator] if rng.random() < 0.8 else rng.choice(own)
            it.duration_ms = rng.randrange(6000, 60000)
            it.tags, it.signals = self._detectors(rng, it)
            items.append(it)
        items.sort(key=lambda x: x.at_ms)
        self.items = items

    def _detectors(self, rng, it):
        """What the upstream detectors say: an interest tag (now and then
        unsure or wrong) and, for a few uploads, signals review looks at."""
        r = rng.random()
        t = INTERESTS[it.topic]
        if r < 0.80:
            tags = {"interest." + t: round(rng.uniform(0.6, 0.95), 2)}
        elif r < 0.90:
            tags = {"interest." + t: round(rng.uniform(0.2, 0.45), 2)}
        elif r < 0.95:
            tags = {"interest." + rng.choice(INTERESTS): round(rng.uniform(0.55, 0.8), 2)}
        else:
            names = CLUSTERS[CLUSTER_OF[it.topic]][2]
            tags = {"interest." + t: round(rng.uniform(0.6, 0.95), 2),
                    "interest." + rng.choice(names): round(rng.uniform(0.5, 0.8), 2)}
        signals = {}
        it.kind, it.violating = "plain", False
        r = rng.random()
        if r < 0.005:
            it.kind, it.violating = "explicit", True
            signals["nsfw.score"] = round(rng.uniform(0.9, 1.0), 3)
        elif r < 0.025:
            it.kind, it.violating = "borderline", rng.random() < 0.4
            signals["nsfw.score"] = round(rng.uniform(0.5, 0.89), 3)
        elif r < 0.035:
            it.kind, it.violating = "child", rng.random() < 0.2
            signals["face.age"] = rng.randrange(5, 12)
            signals["face.confidence"] = round(rng.uniform(0.7, 0.95), 2)
        elif r < 0.045:
            # Nothing a detector sees; viewers do, and report it.
            it.kind, it.violating = "slipped", True
        return tags, signals

    # }=====================================================================

    # {====================== Bad actors and moderators ====================

    def _bad_actors(self, rng):
        p = self.p
        self.abusers = ["x%d" % k for k in range(p.abusers)]
        n_rep = (2 * p.abusers + 2) // 3
        self.reporters = self.abusers[:n_rep]
        self.boosters = self.abusers[n_rep:]
        # Boosters push the poor items of two allied creators.
        uploads = {}
        for it in self.items:
            uploads[it.creator] = uploads.get(it.creator, 0) + 1
        poor = sorted((c for c in self.creators if self.skill[c] < 0.3 and uploads.get(c, 0) >= 2),
                      key=lambda c: -uploads[c])
        self.allies = set(poor[:2]) if self.boosters else set()
        # Moderators in shifts: most by day, fewest at night.
        shifts = ("day", "evening", "night")
        self.moderators = []
        for k in range(p.moderators):
            self.moderators.append(("mod%d" % (k + 1), shifts[k % 3] if k < 3 else
                                    ("day", "evening")[k % 2]))

    # }=====================================================================

    # {====================== Summary ======================================

    def summary(self):
        """Figures of the generated platform, for the report."""
        p = self.p
        n = p.users
        f = sorted(self.followers.values(), reverse=True)
        head_n = max(1, len(f) // 10)
        ints = {name: 0 for name in INTERESTS}
        for u in range(n):
            for i in self.interests[u]:
                ints[INTERESTS[i]] += 1

        def phi(a, b):
            ia, ib = INTERESTS.index(a), INTERESTS.index(b)
            n11 = sum(1 for u in range(n) if self.imask[u] >> ia & 1 and self.imask[u] >> ib & 1)
            na = ints[a]
            nb = ints[b]
            den = math.sqrt(na * (n - na) * nb * (n - nb)) or 1
            return (n11 * n - na * nb) / den

        klass = {k: sum(1 for x in self.klass if x == k) for k in ("never", "daily", "rare")}
        kinds = {}
        for it in self.items:
            kinds[it.kind] = kinds.get(it.kind, 0) + 1
        return {
            "users": n, "creators": len(self.creators),
            "follows": sum(len(s) for s in self.following),
            "followers_top": f[:5], "followers_median": f[len(f) // 2],
            "head_creators": head_n, "head_followers_share":
                sum(f[:head_n]) / max(1, sum(f)),
            "zero_follower_creators": sum(1 for x in f if x == 0),
            "activity": klass, "sessions": len(self.sessions),
            "items": len(self.items), "kinds": kinds,
            "good_items": sum(1 for it in self.items if it.q >= GOOD_Q),
            "poor_items": sum(1 for it in self.items if it.q < POOR_Q),
            "phi_football_basketball": phi("football", "basketball"),
            "phi_football_jazz": phi("football", "jazz"),
            "interest_users": ints,
            "abusers": len(self.abusers), "moderators": len(self.moderators),
        }

    # }=====================================================================
