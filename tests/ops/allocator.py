# SPDX-License-Identifier: MIT
# sluiced's settings reach its allocator: jemalloc's transparent huge pages
# (core/main.c's malloc_conf, which jemalloc finds only when sluiced
# exports it), and MALLOC_CONF in the environment still has the last word.
# Once started, sluiced asks the kernel for no more of them.
import os
import subprocess
import sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import opstest as ot  # noqa: E402
st = ot.st


def settings(conf):
    """sluiced --version with jemalloc's statistics printed at exit."""
    env = dict(os.environ, MALLOC_CONF=conf)
    p = subprocess.run([st.program("sluiced"), "--version"], env=env, capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def body(t):
    rc, out = settings("stats_print:true")
    if "jemalloc statistics" not in out:
        ot.skip("sluiced is not linked with jemalloc (configured --without-jemalloc)")
    t.check(rc == 0 and 'opt.thp: "always"' in out, "sluiced asks for huge pages",
            [line for line in out.splitlines() if "opt.thp" in line])
    rc, out = settings("stats_print:true,thp:default")
    t.check(rc == 0 and 'opt.thp: "default"' in out, "MALLOC_CONF overrides it",
            [line for line in out.splitlines() if "opt.thp" in line])

    # The kernel says whether huge pages may back new faults (Linux 6.x:
    # THP_enabled in /proc/PID/status); a started daemon has said no.
    d = t.daemon()
    with open("/proc/%d/status" % d.proc.pid) as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    if "THP_enabled" in status:
        t.check(status["THP_enabled"].strip() == "0", "started: no more huge pages",
                status["THP_enabled"].strip())
    t.stopped(d)


st.main(body)
