# SPDX-License-Identifier: MIT
"""policy replay over recorded waves: a candidate whose wave_done says stop
where the live one said continue is reported wave by wave, and nothing in
the store changes."""
import os
import sys

sys.dont_write_bytecode = True
import disttest as dt  # noqa: E402
from disttest import st  # noqa: E402


def body(t):
    d = t.daemon(start=False)
    dt.install(d, dt.shipped_policies()[:3] + dt.fixture_files("waves"))
    d.start()
    for i in range(3):
        d.post("/v1/users", {"id": "r%d" % i, "city": "x"})
        t.status(st.request(d.port, "PUT", "/v1/follows/r%d/rc" % i, token=d.token), 200,
                 "r%d follows rc" % i)
    r = d.post("/v1/uploads", {"id": "rv", "creator": "rc", "title": "a plain item"})
    t.require(r.status == 202 and r.json["state"] == "approved", "rv is approved", r.json)
    # The fixture's waves end after a second; the live wave_done says continue.
    decided = dt.wait_for(lambda: any(w.get("decision") == "continue"
                                      for w in d.item("rv").json.get("waves", [])), 10)
    t.require(decided, "wave 1 of rv was decided 'continue' by the live policy",
              d.item("rv").json.get("waves"))
    before = d.item("rv").json

    candidate = {os.path.basename(p): open(p).read() for p in dt.shipped_policies()[:3]}
    candidate["30-waves.lua"] = open(dt.fixture_files("waves")[0]).read().replace(
        'return { decision = "continue"', 'return { decision = "stop"')
    r = d.job("/v1/policies/replay", {"files": candidate, "since_ms": 0})
    t.status(r, 200, "replay of a candidate that stops every wave")
    waves = (r.json or {}).get("waves", {})
    t.check(waves.get("examined", 0) >= 1, "the recorded waves were examined", waves)
    rv = [w for w in waves.get("changed", []) if w.get("id") == "rv"]
    t.check(rv and rv[0]["from"] == {"decision": "continue"} and rv[0]["to"] == {"decision": "stop"},
            "rv's wave 1 would change from continue to stop", waves)
    same = dict(candidate)
    same["30-waves.lua"] = open(dt.fixture_files("waves")[0]).read()
    r = d.job("/v1/policies/replay", {"files": same, "since_ms": 0})
    t.check(r.status == 200 and r.json["waves"]["changed"] == [],
            "replaying the live policies changes no wave", r.json)
    after = d.item("rv").json
    t.check(after["waves"][:1] == before["waves"][:1], "the store's record of wave 1 is unchanged")


st.main(body)
