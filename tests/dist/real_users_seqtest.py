# SPDX-License-Identifier: MIT
"""The held-out checks of real_users.py (issue 12's population: a third of
the users never back, big, ordinary and follower-less creators, good and
poor items, reports), run again with the shipped decider switched on
instead of the Lua wave_done: dist/sluice.conf's commented seqtest entry
uncommented, and the shipped policies' wave_done taken away. Everything
real_users.py checks must still hold, and every wave must have been
decided by the plugin."""
import os
import re
import shutil
import sys

sys.dont_write_bytecode = True    # keep the source tree clean
import disttest as dt  # noqa: E402
from disttest import st  # noqa: E402
import real_users as ru  # noqa: E402


def seqtest_on(t, d):
    """Uncomment the shipped seqtest entry in the config dt.shipped wrote,
    and put the built plugin beside keyword and phash."""
    with open(d.conf) as f:
        conf = f.read()
    on, n = re.subn(r'(?m)^(\s*)-- (\{ name = "seqtest".*\n)\s*--(\s+.*\},)$', r'\1\2\1 \3', conf)
    t.require(n == 1, "dist/sluice.conf shows seqtest commented, in the plugins list",
              re.findall(r".*seqtest.*", conf))
    with open(d.conf, "w") as f:
        f.write(on)
    so = dt.plugin("seqtest")
    t.require(so is not None, "plugins/seqtest is built")
    shutil.copy(so, os.path.join(d.dir, "plugins", "seqtest.so"))


def body(t):
    d = t.daemon(start=False)
    dt.shipped(d, "simulated_clock = true\n")
    seqtest_on(t, d)
    dt.install(d, dt.fixture_files("seqtest-decides"))
    d.start()
    pol = d.get("/v1/policies").json or {}
    hooks = {p["name"]: p["hooks"] for p in pol.get("plugins", [])}
    t.require("wave_done" not in pol.get("hooks", []) and hooks.get("seqtest") == ["wave_done"],
              "the policies have no wave_done; seqtest has one", (pol.get("hooks"), hooks))
    w = ru.World(t, d)
    w.people()
    ru.distribution(t, d, w)
    decided = [(i, x["decision"], x["decided_by"]) for i in w.quality for x in ru.waves(d, i)
               if x["decision"] in ("continue", "stop", "switch")]
    t.check(decided and all(by == "plugin:seqtest" for _, _, by in decided),
            "all %d decided waves were decided by plugin:seqtest" % len(decided),
            [x for x in decided if x[2] != "plugin:seqtest"][:5])
    m = dt.metric(d, "sluice_plugin_failures_total", {"plugin": "seqtest", "hook": "wave_done"})
    t.check(m == 0, "seqtest never failed", m)
    ru.reports(t, d, w)
    t.stopped(d)


if __name__ == "__main__":
    st.main(body, "real_users_seqtest")
