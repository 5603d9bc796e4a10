# SPDX-License-Identifier: MIT
# The simulated clock: off by default (POST /v1/clock refused), refused in the
# configuration unless the listener is loopback, and when on, an admin moves
# the daemon's time forward: a claim's lease runs out without waiting for it.
import os
import sys
sys.dont_write_bytecode = True
import sluicetest as st

HOUR = 3600 * 1000


def conf_check(t, text):
    path = os.path.join(t.tmp, "clock-%d.conf" % len(text))
    with open(path, "w") as f:
        f.write(text)
    return path, st.run([st.program("sluiced"), "--check-config", "-c", path])


def body(t):
    # Off by default: the time reads, never moves.
    d = t.daemon(name="off")
    r = d.get("/v1/clock")
    t.status(r, 200, "GET /v1/clock")
    t.check(r.json.get("simulated") is False and r.json.get("offset_ms") == 0,
            "the clock is not simulated by default", r.json)
    t.error(d.post("/v1/clock", {"advance_ms": HOUR}), 403, "forbidden",
            "POST /v1/clock without simulated_clock")
    t.check(d.get("/v1/clock").json.get("offset_ms") == 0, "a refused advance moved nothing")
    t.stopped(d)

    # Only on loopback: the file, and the command line, are checked.
    path, r = conf_check(t, 'listen = "0.0.0.0:8420"\n\nsimulated_clock = true\n')
    t.check(r.returncode == 1, "--check-config: simulated_clock on 0.0.0.0 exits 1",
            (r.returncode, r.stderr))
    t.check("%s:3:" % os.path.basename(path) in r.stderr and "simulated_clock" in r.stderr,
            "the error names the file, line 3 and the key", r.stderr)
    _, r = conf_check(t, "simulated_clock = 1\n")
    t.check(r.returncode == 1 and "true or false" in r.stderr,
            "simulated_clock must be a boolean", r.stderr)
    _, r = conf_check(t, 'listen = "127.0.0.1:8420"\nsimulated_clock = true\n')
    t.check(r.returncode == 0, "--check-config: simulated_clock on loopback is fine", r.stderr)
    on = t.daemon(name="on", conf="simulated_clock = true\nclaim_lease_seconds = 600\n",
                  start=False)
    r = st.run([st.program("sluiced"), "-c", on.conf, "--listen", "0.0.0.0:%d" % on.port,
                "--state", on.state, "--policies", on.policies], timeout=30)
    t.check(r.returncode == 1 and "loopback" in r.stderr,
            "--listen 0.0.0.0 with simulated_clock refuses to start", (r.returncode, r.stderr))

    on.start()
    before = on.get("/v1/clock").json
    t.check(before.get("simulated") is True, "GET /v1/clock says simulated", before)
    for bad, what in (({"advance_ms": -1}, "a negative advance"),
                      ({}, "no advance_ms"),
                      ({"advance_ms": 1.5}, "a fraction"),
                      ({"advance_ms": 31 * 24 * HOUR}, "more than 30 days at once"),
                      ({"advance_ms": 1, "rewind": True}, "an unknown key")):
        t.error(on.post("/v1/clock", bad), (400, 422), ("invalid", "bad_request"),
                "POST /v1/clock with %s" % what)
    ingest = on.post("/v1/tokens", {"name": "up", "role": "ingest"}).json["token"]
    t.error(on.post("/v1/clock", {"advance_ms": 1}, token=ingest), 403, "forbidden",
            "POST /v1/clock with an ingest token")
    t.check(on.get("/v1/clock").json.get("offset_ms") == 0, "refused advances moved nothing")

    # A claimed item: its lease (600 s) ends once the clock is an hour on.
    r = on.post("/v1/uploads", {"id": "kid", "creator": "c1", "title": "t",
                                "signals": {"face.age": 8, "face.confidence": 0.9}})
    t.status(r, 202, "an upload the shipped policies send to people")
    mod = on.post("/v1/tokens", {"name": "m", "role": "moderator"}).json["token"]
    r = on.post("/v1/queue/claim", {"limit": 5}, token=mod)
    t.check(r.status == 200 and [c["id"] for c in r.json.get("items", [])] == ["kid"],
            "the moderator claims it", r)
    t.check(on.post("/v1/queue/claim", {"limit": 5}, token=mod).json.get("items") == [],
            "while the lease runs, nothing is left to claim")
    r = on.post("/v1/clock", {"advance_ms": HOUR})
    t.status(r, 200, "POST /v1/clock advance_ms one hour")
    t.check(r.json.get("offset_ms") == HOUR and r.json["now_ms"] - before["now_ms"] >= HOUR,
            "the daemon's time is an hour on", (before, r.json))
    r = on.post("/v1/queue/claim", {"limit": 5}, token=mod)
    t.check([c["id"] for c in r.json.get("items", [])] == ["kid"],
            "the expired claim's item is claimable again", r)
    t.stopped(on)


st.main(body)
