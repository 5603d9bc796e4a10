# SPDX-License-Identifier: MIT
# Within a second on every node (PostgreSQL only; skipped on SQLite, where
# one node has it all): a policy reload on one node is run by all (and a
# node starting with another directory runs the stored set), a token made
# on one works on the others, a token revoked on one is refused by the
# others, a hash added to a bank on one rejects an upload to another (and
# its removal lets the next through); /v1/status lists the set each node
# runs.
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
    print("SKIP: policy sets and tokens reach the other nodes of one PostgreSQL database; "
          "on SQLite there is one node (make check-store runs this)")
    sys.exit(st.SKIP)


def version(d):
    return (d.get("/v1/policies").json or {}).get("version")


def within_a_second(what):
    t0 = time.monotonic()
    ok = ct.eventually(what, 1.0, 0.02)
    return ok, time.monotonic() - t0


def body(t):
    nodes = ct.cluster(t, 3, start=False)
    for n in nodes:
        dt.shipped(n)           # the phash plugin on each: banks are the nodes' own
    # n3's directory holds an older set: it runs the stored one anyway.
    for f in dt.shipped_policies()[1:]:
        os.remove(os.path.join(nodes[2].policies, os.path.basename(f)))
    for n in nodes:
        n.start()
    n1, n2, n3 = nodes
    v0 = version(n1)
    t.check(v0 and version(n2) == v0 and version(n3) == v0,
            "every node runs the stored set, whatever its directory holds",
            [version(n) for n in nodes])

    # A reload on n2 of a directory with one more file.
    with open(os.path.join(n2.policies, "99-extra.lua"), "w") as f:
        f.write("-- one more file, so that the set's version changes\n")
    r = n2.post("/v1/policies/reload")
    t.status(r, 200, "reload on n2")
    v1 = (r.json or {}).get("version")
    t.check(v1 and v1 != v0, "  ... to a new version", (v0, v1))
    ok, took = within_a_second(lambda: version(n1) == v1 and version(n3) == v1)
    t.check(ok, "n1 and n3 run it within a second (%.2f s)" % took,
            [version(n) for n in nodes])
    s = ct.eventually(lambda: all(x.get("policy") == v1 for x in
                                  (n1.get("/v1/status").json or {}).get("nodes", [])),
                      ct.LEASE_SECONDS + 1)
    t.check(s, "/v1/status lists the set each node runs",
            (n1.get("/v1/status").json or {}).get("nodes"))

    # Tokens.
    r = n1.post("/v1/tokens", {"name": "feeder", "role": "ingest"})
    t.status(r, 201, "a token made on n1")
    tok = (r.json or {}).get("token")
    ok, took = within_a_second(lambda: n3.get("/v1/feed/nobody", token=tok).status == 200)
    t.check(ok, "  ... works on n3 within a second (%.2f s)" % took)
    t.status(n2.req("DELETE", "/v1/tokens/feeder"), 200, "revoked on n2")
    ok, took = within_a_second(lambda: n1.get("/v1/feed/nobody", token=tok).status == 401 and
                               n3.get("/v1/feed/nobody", token=tok).status == 401)
    t.check(ok, "  ... refused on n1 and n3 within a second (%.2f s)" % took)

    # Hash banks: a hash banked on n1 rejects an upload 3 bits from it on
    # n2 and n3 (the shipped review policy); removed on n3, n1 lets it pass.
    bad = "d1c3b5a79e8f6042"
    near = "%016x" % (int(bad, 16) ^ (1 << 0) ^ (1 << 17) ^ (1 << 40))
    r = n1.post("/v1/hashbanks/bad", {"add": [bad], "retro_days": 0})
    t.check(r.status == 200 and (r.json or {}).get("added") == 1,
            "a hash added to bank bad on n1 -> 200 added 1", r)
    k = [0]

    def verdict(n):
        k[0] += 1
        # each by a creator of their own: the creator gate holds one with
        # several rejected uploads for review
        r = n.post("/v1/uploads", st.upload("banked-%d" % k[0], creator="bk%d" % k[0],
                                            hashes=[near]))
        return (r.json or {}).get("state") if r.status == 202 else r.status

    ok, took = within_a_second(lambda: verdict(n2) == "rejected" and verdict(n3) == "rejected")
    t.check(ok, "  ... rejects an upload near it on n2 and n3 within a second (%.2f s)" % took,
            (verdict(n2), verdict(n3)))
    r = n3.post("/v1/hashbanks/bad", {"remove": [bad]})
    t.check(r.status == 200 and (r.json or {}).get("removed") == 1,
            "removed from bank bad on n3 -> 200 removed 1", r)
    ok, took = within_a_second(lambda: verdict(n1) == "approved" and verdict(n2) == "approved")
    t.check(ok, "  ... n1 and n2 approve the same upload within a second (%.2f s)" % took,
            (verdict(n1), verdict(n2)))

    # A node that starts later loads the newest stored set.
    t.stopped(n3)
    n3.start()
    t.check(version(n3) == v1, "n3 started again runs the newest stored set", version(n3))


st.main(body)
