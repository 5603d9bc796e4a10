# SPDX-License-Identifier: MIT
# The change feed (PostgreSQL only; skipped on SQLite, where one node has it
# all): what one node writes reaches the others within a second. Users and
# follows made on one node (one by one, or in a batch) shape the waves
# another places; a wave's offers placed by one node show in feeds read on
# another; an item served on one node leaves that user's inbox on the
# others; events taken by one node count in the waves of the item's owner;
# a takedown on one node takes the item out of every node's feeds.
import json
import os
import threading
import sys
import time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clustertest as ct  # noqa: E402
from clustertest import st  # noqa: E402
sys.path.insert(0, os.path.join(os.environ["SLUICE_SRCDIR"], "tests", "dist"))
import disttest as dt  # noqa: E402

if not st.on_postgres():
    print("SKIP: the change feed is between nodes on one PostgreSQL database; on SQLite "
          "one node has everything (make check-store runs this)")
    sys.exit(st.SKIP)

FANS = ["f%d" % i for i in range(8)]
BULK_FANS = ["b%d" % i for i in range(6)]
HERE = os.path.dirname(os.path.abspath(__file__))


def feed(d, user, limit=100):
    r = d.get("/v1/feed/%s?tab=mixed&limit=%d" % (user, limit))
    return [e["id"] for e in (r.json or {}).get("items", [])] if r.status == 200 else None


def offers(d, item):
    # Schema 14: a placement's users packed in one record, each ended by a newline.
    return d.sql("SELECT coalesce(sum(length(users) - length(replace(users, chr(10), ''))), 0)"
                 " FROM offer_waves WHERE item = ?", (item,))[0][0]


def body(t):
    n1, n2 = ct.cluster(t, 2, start=False)
    for n in (n1, n2):
        dt.install(n, dt.shipped_policies() + [os.path.join(HERE, "policies", "30-waves.lua")],
                   clear=True)
        n.start()

    # The audience, made on n1 alone, reaches n2.
    for u in FANS:
        t.require(n1.post("/v1/users", {"id": u, "city": "lyon"}).status in (200, 201, 202),
                  "user %s on n1" % u)
        n1.req("PUT", "/v1/follows/%s/c2" % u)
    time.sleep(1.0)
    t.status(n2.post("/v1/uploads", st.upload("slow-n2", creator="c2", title="slow n2")), 202,
             "an upload on n2 by the creator n1's users follow")
    got = ct.eventually(lambda: offers(n2, "slow-n2") == len(FANS), 5)
    t.check(got, "n2's first wave reached every follower made on n1 (users and follows "
            "came through the feed within a second)", offers(n2, "slow-n2"))

    # Follows imported in a batch on n1 (POST /v1/follows) reach n2 alike,
    # the unfollow of the batch's last line too.
    bulk = "".join(json.dumps({"follower": u, "creator": "c3"}) + "\n" for u in BULK_FANS)
    bulk += json.dumps({"follower": BULK_FANS[0], "creator": "c3", "op": "unfollow"}) + "\n"
    r = n1.post("/v1/follows", bulk.encode(), ctype="application/x-ndjson")
    t.check(r.status == 200 and r.json == {"followed": len(BULK_FANS), "unfollowed": 1,
                                           "unchanged": 0},
            "%d follows of c3 and one unfollow in one batch on n1" % len(BULK_FANS), r)
    time.sleep(1.0)
    t.status(n2.post("/v1/uploads", st.upload("bulk-n2", creator="c3", title="slow bulk n2")),
             202, "an upload on n2 by the creator the batch's users follow")
    got = ct.eventually(lambda: offers(n2, "bulk-n2") == len(BULK_FANS) - 1, 5)
    t.check(got, "n2's first wave reached the %d followers the batch left (not the one "
            "that unfollowed)" % (len(BULK_FANS) - 1), offers(n2, "bulk-n2"))

    # A wave placed by n1 shows in feeds read on n2.
    t.status(n1.post("/v1/uploads", st.upload("slow-n1", creator="c2", title="slow n1")), 202,
             "an upload on n1")
    t0 = time.monotonic()
    seen = ct.eventually(lambda: "slow-n1" in (feed(n2, "f0") or []), 5, 0.1)
    t.check(seen, "n1's offer is in f0's feed read on n2 (%.1f s)" % (time.monotonic() - t0))
    # Served on n2: not again on n1.
    time.sleep(1.0)
    again = feed(n1, "f0") or []
    t.check("slow-n1" not in again and "slow-n2" not in again,
            "what n2 served f0 is not served again by n1", again)

    # Events taken by n2 count in the wave n1 runs.
    for u in FANS[1:4]:
        feed(n1, u)             # served, on the owner
    evs = "\n".join(json.dumps({"item": "slow-n1", "user": u, "type": "like"})
                    for u in ["f0"] + FANS[1:4])
    r = n2.post("/v1/events", evs.encode(), ctype="application/x-ndjson")
    t.status(r, 202, "likes of n1's item posted to n2")

    def likes():
        rows = n1.sql("SELECT wave FROM waves WHERE item = 'slow-n1' AND n = 1")
        if not rows:
            return 0
        w = json.loads(rows[0][0])
        return (w.get("stats") or w.get("counts") or {}).get("like", 0)
    n = ct.eventually(lambda: likes() >= 4, 12, 0.2)
    t.check(n, "the owner n1 counted the likes n2 took, once each (written behind)", likes())

    # A takedown on n2 takes n1's item out of feeds on both.
    t.status(n2.post("/v1/items/slow-n1/takedown", {"reason": "test"}), 200, "takedown on n2")
    time.sleep(1.0)
    t.check(all("slow-n1" not in (feed(n, u) or []) for n in (n1, n2) for u in FANS[4:]),
            "the taken-down item is in no feed on either node")
    t.check(n1.sql("SELECT count(*) FROM item_leases WHERE item = 'slow-n1'") == [(0,)],
            "  ... and its lease is gone")
    # Reports taken by n2 on an item n1 runs: n1, its owner, takes it back
    # to people once they weigh enough.
    t.status(n1.post("/v1/uploads", st.upload("slow-r", creator="c2", title="slow r")), 202,
             "an upload on n1, to be reported on n2")
    ct.eventually(lambda: offers(n1, "slow-r") == len(FANS), 5)
    for u in FANS[:5]:
        feed(n1, u)             # served
    evs = "\n".join(json.dumps({"item": "slow-r", "user": u, "type": "report"})
                    for u in FANS[:5])
    t.status(n2.post("/v1/events", evs.encode(), ctype="application/x-ndjson"), 202,
             "five reports of n1's item posted to n2")
    held = ct.eventually(lambda: (n1.item("slow-r").json or {}).get("state") == "in_review", 5)
    t.check(held, "n1 took its running item back to people on the reports n2 weighed",
            (n1.item("slow-r").json or {}).get("state"))

    # Two nodes serving one user at the same moment never both serve an item.
    for i in range(12):
        node = (n1, n2)[i % 2]
        node.post("/v1/uploads", st.upload("slow-c%d" % i, creator="c2", title="slow c%d" % i))
    want = {"slow-c%d" % i for i in range(12)}
    ct.eventually(lambda: all(set(n.sql("SELECT DISTINCT item FROM offer_waves"
                                         " WHERE strpos(chr(10) || users, chr(10) || 'f7' || chr(10)) > 0"
                                         " AND item LIKE 'slow-c%%'"))
                              for n in (n1,)) and
                  len(n1.sql("SELECT DISTINCT item FROM offer_waves"
                             " WHERE strpos(chr(10) || users, chr(10) || 'f7' || chr(10)) > 0"
                             " AND item LIKE 'slow-c%'")) == 12, 5)
    time.sleep(1.0)             # every inbox has them
    got = {n1.node_name: [], n2.node_name: []}

    def reader(node):
        empty = 0
        while empty < 3:
            page = feed(node, "f7", 1) or []
            got[node.node_name] += page
            empty = empty + 1 if not page else 0
    ths = [threading.Thread(target=reader, args=(n,)) for n in (n1, n2)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(60)
    served = got["n1"] + got["n2"]
    dup = {x for x in served if served.count(x) > 1}
    t.check(not dup, "f7's feed read on both nodes at once: no item served twice", dup)
    t.check(want <= set(served), "  ... and every item offered was served once, by one node",
            sorted(want - set(served)))
    print("  (served by n1: %d, by n2: %d)" % (len(got["n1"]), len(got["n2"])))
    m = dt.metric(n2, "sluice_changes_applied_total", {"what": "row"})
    t.check(m and m > 0, "/metrics counts the changes applied", m)


st.main(body)
