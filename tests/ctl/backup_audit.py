# SPDX-License-Identifier: MIT
# sluicectl backup FILE [--force] writes a valid SQLite copy (never half a
# file, never over an existing one unless asked), or on PostgreSQL says to
# use pg_dump and writes nothing; sluicectl audit verify
# exits 0 on an intact chain and 1, naming the record, on an edited one.
import os
import sqlite3
import sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ctltest as ct  # noqa: E402
st = ct.st


def count_items(path):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        return db.execute("SELECT count(*) FROM items").fetchone()[0]
    finally:
        db.close()


def body(t):
    d = t.daemon(start=False)
    ct.shipped_policies(d)
    d.start()
    run = ct.runner(d)
    for i in range(12):
        ct.upload(d, "b-%d" % i, nsfw=(0.6 if i % 3 == 0 else None))

    # {====== backup ======
    if st.on_postgres():
        postgres_backup(t, d, run)
    else:
        sqlite_backup(t, d, run)
    audit(t, d, run)


def postgres_backup(t, d, run):
    """PostgreSQL is backed up with its own tools: a clear refusal."""
    out = os.path.join(t.tmp, "copy.db")
    r = run(["backup", out])
    t.check(r.returncode == 1 and "501" in r.stderr and "pg_dump" in r.stderr,
            "backup FILE on PostgreSQL: 501, exit 1, pointing at pg_dump",
            (r.returncode, r.stdout, r.stderr))
    t.check(not os.path.exists(out) and not os.path.exists(out + ".tmp"),
            "  ... and leaves no file behind")
    r = run(["--json", "backup", out])
    t.check(r.returncode == 1 and
            (ct.parse(r) or {}).get("error", {}).get("code") == "not_implemented",
            "  ... --json: the error JSON, code not_implemented", r.stdout)
    ct.upload(d, "b-late")      # as the SQLite half does: the audit half counts on it


def sqlite_backup(t, d, run):
    out = os.path.join(t.tmp, "copy.db")
    r = run(["backup", out])
    t.check(r.returncode == 0 and out in r.stdout, "backup FILE exits 0 and names it",
            (r.returncode, r.stdout, r.stderr))
    t.check(os.path.exists(out) and not os.path.exists(out + ".tmp"),
            "  ... FILE is there and FILE.tmp is gone")
    with open(out, "rb") as f:
        t.check(f.read(16) == b"SQLite format 3\x00", "  ... it starts with the SQLite header")
    t.check(count_items(out) == 12, "  ... and sqlite3 counts the 12 items in it")
    t.check(os.stat(out).st_mode & 0o077 == 0, "  ... readable by its owner only",
            oct(os.stat(out).st_mode))

    ct.upload(d, "b-late")
    size = os.path.getsize(out)
    r = run(["backup", out])
    t.check(r.returncode == 2 and "--force" in r.stderr, "backup over an existing FILE: exit 2, "
            "pointing at --force", (r.returncode, r.stderr))
    t.check(count_items(out) == 12 and os.path.getsize(out) == size,
            "  ... and the old copy is untouched")
    r = run(["--json", "backup", "--force", out])
    j = ct.parse(r) or {}
    t.check(r.returncode == 0 and j.get("file") == out and j.get("bytes") == os.path.getsize(out),
            "--json backup --force: {file, bytes}", r.stdout)
    t.check(count_items(out) == 13, "  ... the new copy has the 13th item")

    mod = ct.token(d, "b-mod", "moderator")
    denied = os.path.join(t.tmp, "denied.db")
    r = run(["backup", denied], tok=mod)
    t.check(r.returncode == 1 and "403" in r.stderr, "backup with a moderator token: 403, exit 1",
            (r.returncode, r.stderr))
    t.check(not os.path.exists(denied) and not os.path.exists(denied + ".tmp"),
            "  ... and leaves no file behind")
    r = run(["--json", "backup", denied], tok=mod)
    t.check(r.returncode == 1 and (ct.parse(r) or {}).get("error", {}).get("code") == "forbidden",
            "  ... --json: the error JSON", r.stdout)
    gone = os.path.join(t.tmp, "gone.db")
    r = st.run([ct.ctl(), "--url", "http://127.0.0.1:%d" % st.free_port(), "--token", d.token,
                "backup", gone])
    t.check(r.returncode == 1 and not os.path.exists(gone) and not os.path.exists(gone + ".tmp"),
            "backup with no daemon there: exit 1, no file", (r.returncode, r.stderr))
    r = run(["backup", os.path.join(t.tmp, "no", "such", "dir.db")])
    t.check(r.returncode == 2, "backup into a missing directory: exit 2", (r.returncode, r.stderr))
    r = run(["backup", t.tmp, "--force"])
    t.check(r.returncode == 2, "backup onto a directory, even with --force: exit 2",
            (r.returncode, r.stderr))
    for bad in (["backup"], ["backup", "a", "b"], ["backup", "--forse", "x"]):
        r = run(bad)
        t.check(r.returncode == 2, "sluicectl %s exits 2" % " ".join(bad), r.returncode)



def audit(t, d, run):
    # {====== audit verify ======
    mod = ct.token(d, "b-mod2", "moderator")
    r = run(["audit", "verify"])
    t.check(r.returncode == 0 and "intact" in r.stdout, "audit verify of an intact chain exits 0",
            (r.returncode, r.stdout, r.stderr))
    r = run(["--json", "audit", "verify"], tok=mod)
    j = ct.parse(r) or {}
    t.check(r.returncode == 0 and j.get("ok") is True and j.get("checked", 0) >= 26,
            "--json audit verify (moderator): {ok: true, checked}", r.stdout)
    ing = ct.token(d, "b-ing", "ingest")
    r = run(["audit", "verify"], tok=ing)
    t.check(r.returncode == 1 and "403" in r.stderr, "audit verify with an ingest token: 403",
            r.stderr)

    # Someone edits a record behind the daemon's back.
    seq = d.sql("SELECT seq FROM audit WHERE item = 'b-3' AND action = 'verdict'")[0][0]
    d.sql("UPDATE audit SET reason = 'looks fine to me' WHERE seq = ?", (seq,))
    r = run(["audit", "verify"])
    t.check(r.returncode == 1, "audit verify after an edit exits 1", (r.returncode, r.stdout))
    t.check("record %d" % seq in r.stderr, "  ... and names the record (seq %d)" % seq, r.stderr)
    r = run(["--json", "audit", "verify"])
    j = ct.parse(r) or {}
    t.check(r.returncode == 1 and j.get("ok") is False and j.get("bad_seq") == seq,
            "--json audit verify: the daemon's {ok: false, bad_seq}", r.stdout)
    t.check("record %d" % seq in r.stderr, "  ... and the words on stderr too", r.stderr)


st.main(body)
