# SPDX-License-Identifier: MIT
# sluiced starts, takes an upload, reloads on SIGHUP and stops on SIGTERM
# (exit 0) under sluiced.service's system call filter, applied outside
# systemd by tests/ops/seccomp_run.c; no call outside the filter is made.
#
#   python3 tests/ops/syscall_filter.py --print-allow-list
# prints the allow-list this machine's systemd-analyze gives.
import os
import signal
import subprocess
import sys

UNIT_GROUPS = ("@system-service",)              # SystemCallFilter=
UNIT_DENIED = ("@privileged", "@resources")     # SystemCallFilter=~
# Calls the daemon may try and do without, each with the reason it is fine
# (none so far: a call here must be one the daemon survives being denied).
TOLERATED = {}
NOBODY = "65534:65534"      # as DynamicUser= would, when the test runs as root


def groups_from_systemd():
    """{"@group": [members]} from `systemd-analyze syscall-filter`, or None."""
    try:
        r = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True,
                           text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode != 0:
        return None
    groups, cur = {}, None
    for line in r.stdout.splitlines():
        if line.startswith("@"):
            cur = groups.setdefault(line.strip(), [])
        elif not line.startswith(" "):
            cur = None          # a top-level comment: the ungrouped calls
        elif cur is not None and line.strip() and not line.strip().startswith("#"):
            cur.append(line.strip())
    return groups if "@system-service" in groups else None


def expand(groups, name, seen=()):
    out = set()
    for m in groups.get(name, []):
        if m.startswith("@"):
            if m not in seen:
                out |= expand(groups, m, seen + (name,))
        else:
            out.add(m)
    return out


def allow_list():
    """(sorted names, where they came from)."""
    groups = groups_from_systemd()
    if groups:
        allowed = set()
        for g in UNIT_GROUPS:
            allowed |= expand(groups, g)
        for g in UNIT_DENIED:
            allowed -= expand(groups, g)
        return sorted(allowed), "systemd-analyze syscall-filter"
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unit-syscalls.list")
    with open(path) as f:
        names = [ln.split("#", 1)[0].strip() for ln in f]
    return sorted(n for n in names if n), "tests/ops/unit-syscalls.list (no systemd-analyze)"


if __name__ == "__main__" and sys.argv[1:] == ["--print-allow-list"]:
    print("\n".join(allow_list()[0]))
    sys.exit(0)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import opstest as ot  # noqa: E402
st = ot.st


def sanitized(binary):
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()


def body(t):
    harness = os.path.join(st.builddir(), "tests", "ops", "seccomp_run")
    if not os.access(harness, os.X_OK):
        ot.skip("tests/ops/seccomp_run is not built: configure found no libseccomp "
                "(Debian: libseccomp-dev)")
    names, source = allow_list()
    print("allow-list: %d system calls from %s" % (len(names), source))
    allow = os.path.join(t.tmp, "allow.list")
    with open(allow, "w") as f:
        f.write("\n".join(names) + "\n")

    env = {}
    if sanitized(st.program("sluiced")):
        # LeakSanitizer stops the world with ptrace, which no service filter
        # allows; the rest of the sanitizers run.
        env["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    wrap = [harness]
    if os.geteuid() == 0:
        wrap += ["--user", NOBODY]
    wrap += ["--allow", allow, "--"]
    d = ot.Daemon(t, ot.plugins_conf(), wrap=wrap, env=env)
    ot.shipped_policies(d)
    notify = ot.Notify(os.path.join(t.tmp, "notify"))
    env["NOTIFY_SOCKET"] = notify.path
    env["WATCHDOG_USEC"] = "2000000"
    if os.geteuid() == 0:
        uid, gid = (int(x) for x in NOBODY.split(":"))
        for p in (t.tmp, d.dir, d.policies):
            os.chmod(p, 0o755)
        os.chown(d.state, uid, gid)

    d.start()
    t.check(notify.wait_for("READY=1"), "under the filter: READY=1 on the notify socket")
    t.check(notify.wait_for("WATCHDOG=1", timeout=5), "  ... and WATCHDOG=1 within 5 s "
            "(WATCHDOG_USEC=2 s)")
    r = d.post("/v1/uploads", st.upload("f1", title="free money for everyone",
                                        hashes=["00000000000000ff"]))
    t.check(r.status == 202 and (r.json or {}).get("tags", {}).get("spam", {})
            .get("source") == "keyword", "an upload -> 202, tagged by the keyword plugin", r)
    r = d.post("/v1/hashbanks/known", {"add": ["00000000000000ff"]})
    t.status(r, 200, "a hash bank change")
    r = d.post("/v1/uploads", st.upload("f2", hashes=["00000000000000fe"]))
    t.check(r.status == 202 and "hash.known" in (r.json or {}).get("tags", {}),
            "an upload near the bank's hash is tagged hash.known by phash", r)
    r = d.post("/v1/events", {"item": "f2", "user": "u1", "type": "like"})
    t.status(r, 202, "an event")
    t.status(d.item("f1"), 200, "GET the item back")
    t.status(d.get("/metrics"), 200, "a /metrics scrape")
    r = d.get("/v1/backup")
    t.check(r.status == 200 and r.body[:16] == b"SQLite format 3\x00",
            "GET /v1/backup (SQLite's online backup) -> 200, a database", r.status)

    d.signal(signal.SIGHUP)
    t.check(notify.wait_for("RELOADING=1", timeout=10), "SIGHUP: RELOADING=1")
    t.check(notify.wait_for("READY=1", timeout=10), "  ... then READY=1")
    text = d.get("/metrics").body.decode()
    t.check('sluice_policy_reloads_total{result="ok"} 1' in text.splitlines(),
            "  ... and /metrics counts one reload, ok",
            [ln for ln in text.splitlines() if "reloads_total{" in ln])
    t.status(d.post("/v1/uploads", st.upload("f3")), 202, "an upload after the reload")

    rc = d.stop()
    t.check(rc == 0, "SIGTERM: sluiced exits 0 under the filter", rc)
    t.check(notify.wait_for("STOPPING=1", timeout=5), "  ... after STOPPING=1")
    notify.close()
    err = d.stderr()
    denied = set()
    for line in err.splitlines():
        if line.startswith("seccomp_run: denied system calls:"):
            denied = set(line.split(":", 2)[2].split())
    t.check("seccomp_run: no system call was denied" in err or denied,
            "the harness reported what it denied", err[-2000:])
    bad = sorted(denied - set(TOLERATED))
    t.check(not bad, "no system call outside the unit's filter was made", bad)


st.main(body)
