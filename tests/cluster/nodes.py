# SPDX-License-Identifier: MIT
# Nodes: every sluiced has a name (node_name, else host:port) that /v1/status
# and /metrics show. On PostgreSQL the nodes sharing one database are listed
# with how long ago each beat; a second live node of one name is refused at
# start, and a clean stop takes the name's row away so a restart is not.
import os
import sys
import time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clustertest as ct  # noqa: E402
from clustertest import st  # noqa: E402


def single(t):
    d = t.daemon()
    s = d.get("/v1/status").json or {}
    port = str(d.port)
    t.check(isinstance(s.get("node"), str) and s["node"].endswith(":" + port),
            "without node_name the node is named host:port", s.get("node"))
    policy = (d.get("/v1/policies").json or {}).get("version")
    t.check(s.get("nodes") == [{"name": s.get("node"), "version": s.get("version"),
                                "started_ms": s["nodes"][0].get("started_ms"),
                                "seen_age_s": 0.0, "live": True, "policy": policy}]
            if s.get("nodes") else False,
            "/v1/status lists this node alone, with the policy set it runs", s.get("nodes"))
    m = d.get("/metrics").body.decode()
    t.check('sluice_node_info{node="%s"} 1' % s.get("node") in m and "sluice_nodes_live 1" in m,
            "/metrics names the node and counts it live", m[-600:])
    t.stopped(d)
    bad = os.path.join(t.tmp, "bad.conf")
    with open(bad, "w") as f:
        f.write('node_name = "web 1"\n')
    r = st.run([st.program("sluiced"), "--check-config", "-c", bad])
    t.check(r.returncode == 1 and "node_name" in r.stderr,
            "a node_name that is not an id is refused, naming the key", r.stderr)


def several(t):
    a, b, c = ct.cluster(t, 3, start=False)
    a.start()
    b.start()
    s = ct.eventually(lambda: b.get("/v1/status").json or {})
    names = [n["name"] for n in s.get("nodes", [])]
    t.check(s.get("node") == "n2" and names == ["n1", "n2"],
            "/v1/status on n2 names it and lists both nodes of the database", s)
    t.check(all(n["live"] and 0 <= n["seen_age_s"] < ct.LEASE_SECONDS for n in s["nodes"]),
            "  ... both live, seen within lease_seconds", s.get("nodes"))
    time.sleep(ct.LEASE_SECONDS / 3 * 2 + 0.5)
    s = b.get("/v1/status").json or {}
    t.check(all(n["seen_age_s"] < ct.LEASE_SECONDS / 3 + 1 for n in s.get("nodes", [])),
            "  ... and each beats every lease_seconds / 3", s.get("nodes"))
    m = a.get("/metrics").body.decode()
    t.check('sluice_node_seen_age_seconds{node="n2"}' in m and "sluice_nodes_live 2" in m,
            "/metrics lists every node's age and counts the live ones", m[-800:])

    # A third node under a live node's name does not start.
    c.node_name = "n1"
    c.write_conf("")
    try:
        c.start()
        started = True
    except st.Failed:
        started = False
    t.check(not started and c.proc.returncode == 1, "a second live node named n1 is refused")
    err = open(c.stderr_path).read()
    t.check("another sluiced named n1 runs on this store" in err and "node_name" in err,
            "  ... saying why and what to do", err[-500:])
    t.check(a.running(), "  ... and the first n1 runs on")

    # A node without the others' audit key does not make one of its own.
    d = ct.Node(t, "n4", a)
    try:
        st.Daemon.start(d)
        started = True
    except st.Failed:
        started = False
    err = open(d.stderr_path).read()
    t.check(not started and "no audit key" in err and "copy theirs there" in err,
            "a node joining live nodes without their audit key is refused, saying what to do",
            err[-400:])

    # A clean stop frees the name at once; a crash frees it after
    # lease_seconds without a beat.
    t.stopped(b)
    rows = a.sql("SELECT name FROM nodes ORDER BY name")
    t.check(rows == [("n1",)], "a clean stop takes the node's row away", rows)
    b.start()
    t.check(True, "  ... and it starts again at once under its name")
    b.kill()
    refused = True
    c.node_name = "n2"
    c.write_conf("")
    try:
        c.start()
        refused = False
    except st.Failed:
        pass
    t.check(refused, "right after a kill -9 its name is still taken for another state "
            "directory (it may be alive)")
    b.start()
    t.check(b.running(), "  ... while the killed node itself, on its state directory, starts "
            "again at once (its lock on STATE/node says the row is its predecessor's)")
    b.kill()
    time.sleep(ct.LEASE_SECONDS + 0.5)
    c.start()
    s = c.get("/v1/status").json or {}
    t.check(s.get("node") == "n2" and [n["name"] for n in s.get("nodes", [])] == ["n1", "n2"],
            "  ... and free once it has not beaten for lease_seconds", s)


def body(t):
    if not st.on_postgres():
        single(t)
        print("(the nodes sharing one database: PostgreSQL only; make check-store runs them)")
        return
    several(t)


st.main(body)
