# SPDX-License-Identifier: MIT
# `sluicectl backup FILE` under load, then the restore docs/operations.md
# describes: while writers upload and send events, take a backup; stop the
# daemon; put the file in place of the store (and drop the old store's WAL);
# start. Every write acknowledged before the backup began is there, none
# acknowledged after it ended is, and the audit chain verifies.
import os
import shutil
import sqlite3
import sys
import time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import opstest as ot  # noqa: E402
st = ot.st


def acked(load):
    """A copy of what the load has had acknowledged so far."""
    with load.lock:
        return set(load.uploads), load.events.copy(), load.batches


def wait_acks(load, uploads, batches, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        u, _, b = acked(load)
        if len(u) >= uploads and b >= batches:
            return
        if time.monotonic() > deadline:
            raise st.Failed("the load got %d uploads and %d batches acknowledged in %ds"
                            % (len(u), b, timeout))
        time.sleep(0.05)


def body(t):
    d = ot.Daemon(t, ot.plugins_conf())
    ot.shipped_policies(d)
    d.start()
    ctl = st.program("sluicectl")
    load = st.Load(d, "bk", threads=4, budget=100000).start()
    wait_acks(load, 200, 20)

    # {====== the backup, under load ======
    copy = os.path.join(t.tmp, "sluice-backup.db")
    before_u, before_e, before_b = acked(load)
    started = time.monotonic()
    r = st.run([ctl, "--url", d.url, "--token", d.token, "backup", copy], timeout=120)
    took = time.monotonic() - started
    after_u, _, after_b = acked(load)
    t.check(r.returncode == 0, "sluicectl backup FILE under load exits 0 (%.2f s)" % took,
            (r.returncode, r.stdout, r.stderr))
    # A small store copies in milliseconds: the writers may not get a word
    # in during the copy itself, but they must be running around it.
    time.sleep(0.5)
    soon_u, _, soon_b = acked(load)
    t.check(len(soon_u) + soon_b > len(before_u) + before_b,
            "  ... while writes went on: %d acknowledged during it, %d in the half second "
            "after" % (len(after_u) + after_b - len(before_u) - before_b,
                       len(soon_u) + soon_b - len(after_u) - after_b))
    wait_acks(load, len(after_u) + 100, after_b + 10)
    load.stop()
    load.check_answers(t, 1)
    late = acked(load)[0] - after_u       # acknowledged after the backup ended
    db = sqlite3.connect("file:%s?mode=ro" % copy, uri=True)
    try:
        t.check(db.execute("PRAGMA integrity_check").fetchone()[0] == "ok",
                "the backup passes PRAGMA integrity_check")
    finally:
        db.close()

    # {====== the restore, as docs/operations.md says ======
    t.stopped(d, "stop the daemon: exit 0")
    for suffix in ("", "-wal", "-shm"):
        path = os.path.join(d.state, "sluice.db" + suffix)
        if os.path.exists(path):
            os.rename(path, path + ".before-restore")
    shutil.copyfile(copy, os.path.join(d.state, "sluice.db"))
    os.chmod(os.path.join(d.state, "sluice.db"), 0o600)
    d.start()

    missing = sorted(u for u in before_u if d.item(u).status != 200)
    t.check(not missing, "every upload acknowledged before the backup (%d) is back"
            % len(before_u), missing[:10])
    short = []
    per_item = {}
    for (item, kind), n in before_e.items():
        per_item.setdefault(item, {})[kind] = n
    for item, kinds in sorted(per_item.items()):
        got = (d.item(item).json or {}).get("counters", {})
        short += [(item, k, got.get(k), n) for k, n in kinds.items() if got.get(k, -1) < n]
    t.check(not short, "every event batch acknowledged before it (%d) is counted" % before_b,
            short[:10])
    back = sorted(u for u in late if d.item(u).status == 200)
    t.check(late and not back, "no upload acknowledged after the backup ended (%d) is there: "
            "the store is the backup" % len(late), back[:10])
    r = d.get("/v1/audit/verify")
    t.check(r.status == 200 and (r.json or {}).get("ok") is True
            and r.json.get("checked", 0) >= 2 * len(before_u),
            "the restored audit chain verifies (%s records)" % (r.json or {}).get("checked"), r)
    r = st.run([ctl, "--url", d.url, "--token", d.token, "audit", "verify"])
    t.check(r.returncode == 0, "sluicectl audit verify exits 0", (r.stdout, r.stderr))
    r = d.post("/v1/uploads", st.upload("after-restore"))
    t.status(r, 202, "the restored daemon takes uploads")
    t.stopped(d)


st.main(body)
