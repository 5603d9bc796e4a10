# SPDX-License-Identifier: MIT
"""The groups(user) hook: a wave to "group:NAME" reaches exactly the users
the hook put in NAME, a user's groups follow the user's changes and the
policies' reloads, and a failing hook leaves that user in no group."""
import sys

sys.dont_write_bytecode = True    # keep the source tree clean
import disttest as dt  # noqa: E402
from disttest import st  # noqa: E402

OWLS = ["owl%d" % i for i in range(6)]          # porto, jazz
PORTO = ["pt%d" % i for i in range(4)]          # porto, no jazz
LYON_JAZZ = ["ly%d" % i for i in range(5)]      # lyon, jazz
WAIT = 20


def user(t, d, uid, city, interests):
    r = d.post("/v1/users", {"id": uid, "city": city, "interests": interests})
    t.require(r.status == 200, "user %s" % uid, r)


def holders(d, item, users):
    got = set()
    for u in users:
        for e in (d.get("/v1/feed/%s?tab=mixed&limit=100" % u).json or {}).get("items", []):
            if e.get("id") == item:
                got.add(u)
    return got


def first_wave(t, d, item):
    ok = dt.wait_for(lambda: (d.item(item).json or {}).get("waves"), WAIT, 0.1)
    t.require(ok, "%s: its first wave started" % item, d.item(item).json)
    return d.item(item).json["waves"][0]


def upload(t, d, item, title):
    r = d.post("/v1/uploads", {"id": item, "creator": "c1", "title": title, "city": "porto"})
    t.require(r.status == 202 and r.json.get("state") == "approved",
              "upload %s approved" % item, r)


def body(t):
    d = t.daemon(start=False)
    dt.install(d, [p for p in dt.shipped_policies() if not p.endswith("30-distribute.lua")])
    dt.install(d, dt.fixture_files("groups"))
    d.start()
    everyone = OWLS + PORTO + LYON_JAZZ + ["boom", "junk", "c1"]
    fails0 = dt.metric(d, "sluice_policy_failures_total", {"hook": "groups"}) or 0
    for u in OWLS:
        user(t, d, u, "porto", ["jazz", "wine"])
    for u in PORTO:
        user(t, d, u, "porto", ["football"])
    for u in LYON_JAZZ:
        user(t, d, u, "lyon", ["jazz"])
    user(t, d, "boom", "porto", ["jazz"])       # the hook fails for boom
    user(t, d, "junk", "porto", ["jazz"])       # the hook answers a bad name
    user(t, d, "c1", "porto", [])

    fails = dt.metric(d, "sluice_policy_failures_total", {"hook": "groups"}) or 0
    t.check(fails - fails0 == 2, "the hook's two failures are counted", (fails0, fails))

    upload(t, d, "g1", "to night-owls")
    w = first_wave(t, d, "g1")
    t.check(w["audience"] == "group:night-owls" and w["placed"] == len(OWLS),
            "a wave to group:night-owls places its %d members" % len(OWLS), w)
    got = holders(d, "g1", everyone)
    t.check(got == set(OWLS), "  ... exactly the porto jazz lovers; not boom nor junk", got)

    upload(t, d, "g2", "to jazz-any-city")
    w = first_wave(t, d, "g2")
    got = holders(d, "g2", everyone)
    t.check(w["placed"] == len(OWLS) + len(LYON_JAZZ) and got == set(OWLS + LYON_JAZZ),
            "the hook builds on the default groups: interest:jazz in any city", (w, got))

    upload(t, d, "g3", "to nobody-here")
    w = first_wave(t, d, "g3")
    t.check(w["placed"] == 0 and w["decision"] == "skip",
            "a group nobody is in: the wave is skipped", w)

    # A user who changes moves between groups at once.
    user(t, d, "ly0", "porto", ["jazz"])
    user(t, d, "owl0", "porto", ["wine"])
    upload(t, d, "g4", "to night-owls")
    got = holders(d, "g4", everyone)
    want = set(OWLS[1:] + ["ly0"])
    t.check(got == want, "after two users change, group:night-owls is theirs", (got, want))

    # New policies without the hook: no policy group is left.
    dt.install(d, [p for p in dt.shipped_policies() if not p.endswith("30-distribute.lua")],
               clear=True)
    with open(d.policies + "/30-plan.lua", "w") as f:
        f.write('function plan(item) return {{ audience = "group:night-owls", size = 100 }} end\n'
                'function wave_done(item, wave, stats) return "stop" end\n')
    r = d.post("/v1/policies/reload")
    t.require(r.status == 200, "reload without a groups hook", r)
    upload(t, d, "g5", "to night-owls")
    w = first_wave(t, d, "g5")
    t.check(w["placed"] == 0, "without the hook, group:night-owls is empty", w)

    # And back: the pass after the reload regroups every user.
    dt.install(d, [p for p in dt.shipped_policies() if not p.endswith("30-distribute.lua")],
               clear=True)
    dt.install(d, dt.fixture_files("groups"))
    r = d.post("/v1/policies/reload")
    t.require(r.status == 200, "reload with the groups hook again", r)
    tries = []

    def regrouped():
        item = "g6-%d" % len(tries)
        upload(t, d, item, "to night-owls")
        w = first_wave(t, d, item)
        tries.append(w["placed"])
        return w["placed"] == len(want)

    t.check(dt.wait_for(regrouped, WAIT, 0.5),
            "after a reload with the hook, the pass puts the %d members back" % len(want), tries)
    t.stopped(d)


if __name__ == "__main__":
    st.main(body, "groups")
