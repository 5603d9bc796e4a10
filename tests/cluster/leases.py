# SPDX-License-Identifier: MIT
# Item leases (PostgreSQL only; skipped on SQLite, where one node runs every
# item): the node that takes an item into distribution holds its lease and
# alone writes its waves; a node killed with -9 hands its items over once
# their leases run out, and the taker goes on with their waves without
# starting any again; a lease taken away behind a node's back makes it drop
# the item; a clean stop hands its items over at once.
import json
import os
import sys
import time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clustertest as ct  # noqa: E402
from clustertest import st  # noqa: E402
sys.path.insert(0, os.path.join(os.environ["SLUICE_SRCDIR"], "tests", "dist"))
import disttest as dt  # noqa: E402

if not st.on_postgres():
    print("SKIP: item leases are shared by several nodes on one PostgreSQL database; "
          "on SQLite one node runs every item (make check-store runs this)")
    sys.exit(st.SKIP)

USERS = ["u%d" % i for i in range(12)]
HERE = os.path.dirname(os.path.abspath(__file__))


def leases(d):
    return {r[0]: (r[1], r[2]) for r in d.sql("SELECT item, node, fence FROM item_leases")}


def waves(d):
    """{(item, n): started_ms}"""
    return {(r[0], r[1]): json.loads(r[2]).get("started_ms")
            for r in d.sql("SELECT item, n, wave FROM waves")}


def body(t):
    n1, n2 = ct.cluster(t, 2, start=False)
    for n in (n1, n2):
        dt.install(n, dt.shipped_policies() + [os.path.join(HERE, "policies", "30-waves.lua")],
                   clear=True)
        n.start()
    # Until nodes share the audience through the store, each learns it.
    for n in (n1, n2):
        for u in USERS:
            n.post("/v1/users", {"id": u, "city": "lyon"})
            n.req("PUT", "/v1/follows/%s/c1" % u)
    for i in range(4):
        t.status(n1.post("/v1/uploads", st.upload("slow-a%d" % i, title="slow a%d" % i)), 202,
                 "slow upload a%d on n1" % i)
        t.status(n2.post("/v1/uploads", st.upload("slow-b%d" % i, title="slow b%d" % i)), 202,
                 "slow upload b%d on n2" % i)
    n1.post("/v1/uploads", st.upload("quick-a", title="quick a"))
    ls = ct.eventually(lambda: len(leases(n1)) == 9 and leases(n1), 5)
    t.check(ls and all(ls[k][0] == "n1" for k in ls if "-a" in k) and
            all(ls[k][0] == "n2" for k in ls if "-b" in k),
            "each item's lease is the node's that took it into distribution", ls)
    fences = {v for v in (ls or {}).values()}
    t.check(len(fences) == 2, "  ... one fence per node start", fences)
    before = waves(n1)
    t.check(all(("slow-a%d" % i, 1) in before for i in range(4)),
            "the first waves of n1's items are stored", sorted(before))

    # kill -9: n2 takes n1's items over once their leases run out. Once n1
    # renewed them together, they run out together: one takeover, resumed
    # in two slices.
    together = ct.eventually(lambda: n1.sql("SELECT max(until_ms) - min(until_ms) FROM"
                                            " item_leases WHERE node = 'n1'")[0][0] <= 5,
                             ct.LEASE_SECONDS)
    t.check(together, "n1 renewed its five leases together")
    n1.kill()
    t0 = time.monotonic()
    ls = ct.eventually(lambda: all(v[0] == "n2" for v in leases(n2).values()) and leases(n2),
                       ct.LEASE_SECONDS + 5)
    took = time.monotonic() - t0
    t.check(ls and len(ls) == 9, "n2 holds every lease after n1 was killed", ls)
    t.check(took <= ct.LEASE_SECONDS + 3, "  ... within lease_seconds (%d s) and a bit: %.1f s"
            % (ct.LEASE_SECONDS, took))
    m = dt.metric(n2, "sluice_dist_leases_taken_over_total")
    t.check(m is not None and m >= 5, "  ... and says so in /metrics", m)
    y = dt.metric(n2, "sluice_dist_takeover_yields_total")
    t.check(y is not None and y >= 1, "  ... resumed a slice at a time, the loop's sockets "
            "looked at between (five items, four a slice)", y)
    after = waves(n2)
    t.check(all(after.get(k) == v for k, v in before.items()),
            "no wave of a taken-over item was started again (same start times)",
            [(k, v, after.get(k)) for k, v in before.items() if after.get(k) != v])
    q = ct.eventually(lambda: max([n for (i, n) in waves(n2) if i == "quick-a"] or [0]) >= 3,
                      20)
    t.check(q, "the quick item's waves go on at n2", sorted(k for k in waves(n2)
                                                          if k[0] == "quick-a"))

    # n1 restarts at once and takes nothing: n2's leases are live.
    n1.start()
    time.sleep(2)
    t.check(all(v[0] == "n2" for v in leases(n1).values()),
            "n1 started again takes back nothing n2 runs", leases(n1))

    # A lease taken away behind n2's back: n2 drops the item and writes
    # nothing more about it.
    n2.sql("UPDATE item_leases SET node = 'ghost', fence = 0,"
           " until_ms = sluice_ms() + 600000 WHERE item = 'quick-a'")
    lost = ct.eventually(lambda: (dt.metric(n2, "sluice_dist_leases_lost_total") or 0) >= 1,
                         ct.LEASE_SECONDS + 3)
    t.check(lost, "a node whose lease was taken away drops the item (within a renewal)")
    frozen = {k: v for k, v in waves(n2).items() if k[0] == "quick-a"}
    rows = n2.sql("SELECT wave FROM waves WHERE item = 'quick-a' ORDER BY n")
    time.sleep(3)
    t.check(n2.sql("SELECT wave FROM waves WHERE item = 'quick-a' ORDER BY n") == rows,
            "  ... and writes nothing more about it", frozen)
    # Given back (ran out): one of the two takes it and its waves go on.
    n2.sql("UPDATE item_leases SET until_ms = 0 WHERE item = 'quick-a'")
    ok = ct.eventually(lambda: leases(n2).get("quick-a", ("",))[0] in ("n1", "n2"), 5)
    t.check(ok, "a lease that ran out is taken over by a live node", leases(n2).get("quick-a"))

    # A clean stop hands the items over at once.
    t.stopped(n2)
    ls = ct.eventually(lambda: all(v[0] == "n1" for v in leases(n1).values()) and leases(n1),
                       3)
    t.check(ls and len(ls) >= 8, "n2 stopped cleanly: n1 holds every lease within 3 s", ls)
    v = n1.get("/v1/audit/verify").json or {}
    t.check(v.get("ok") is True, "one audit chain, written by both, verifies", v)


st.main(body)
