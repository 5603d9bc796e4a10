# SPDX-License-Identifier: MIT
# sluicectl search, bulk and creator: readable and --json, every page with
# --all, the dry run before acting, four eyes through `bulk confirm`, a
# suspension and its lifting; errors and exit statuses.
import os
import sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ctltest as ct  # noqa: E402
st = ct.st


def body(t):
    d = t.daemon(start=False, conf="bulk_confirm_above = 2\n")
    ct.shipped_policies(d)
    d.start()
    mod1 = ct.token(d, "mod1", "moderator")
    mod2 = ct.token(d, "mod2", "moderator")
    run1, run2 = ct.runner(d, mod1), ct.runner(d, mod2)
    for i in range(5):
        r = d.post("/v1/uploads", {"id": "w%d" % i, "creator": "wave", "title": "crypto gift %d" % i})
        t.require(r.status == 202, "upload w%d" % i, r)
    d.post("/v1/uploads", {"id": "x1", "creator": "other", "title": "bell\x07 \x1b[2J title"})

    # {================ search ================
    r = run1(["search", "--creator", "wave"])
    lines = r.stdout.splitlines()
    t.check(r.returncode == 0 and lines[0].split()[:3] == ["ID", "STATE", "CREATOR"]
            and [l.split()[0] for l in lines[1:]] == ["w4", "w3", "w2", "w1", "w0"],
            "search --creator wave: a table, newest first", r.stdout)
    r = run1(["search", "crypto", "gift", "--limit", "2"])
    t.check(r.returncode == 0 and [l.split()[0] for l in r.stdout.splitlines()[1:3]] == ["w4", "w3"]
            and "more: --cursor c" in r.stdout, "search WORDS --limit 2 says how to go on",
            r.stdout)
    cursor = r.stdout.split("--cursor ")[1].split()[0]
    r = run1(["--json", "search", "crypto", "gift", "--limit", "2", "--cursor", cursor])
    got = ct.parse(r)
    t.check(r.returncode == 0 and [i["id"] for i in got["items"]] == ["w2", "w1"],
            "--json search --cursor: the next page, as the daemon's JSON", r.stdout)
    r = run1(["--json", "search", "--state", "distributing,settled,approved", "--all", "--creator", "wave",
              "--limit", "2"])
    got = ct.parse(r)
    t.check(r.returncode == 0 and [i["id"] for i in got["items"]] == ["w4", "w3", "w2", "w1", "w0"]
            and got["next"] is None, "search --all --json: every page in one document", r.stdout)
    r = run1(["search", "--creator", "other"])
    t.check(r.returncode == 0 and "\x07" not in r.stdout and "\x1b" not in r.stdout,
            "an uploader's control characters never reach the terminal", r.stdout)
    r = run1(["search", "--since", "1h", "--creator", "wave"])
    t.check(r.returncode == 0 and len(r.stdout.splitlines()) == 6, "search --since 1h", r.stdout)
    r = run1(["search", "--colour", "red"])
    t.check(r.returncode == 2 and "unknown option" in r.stderr, "an unknown option: 2", r)
    r = run1(["--json", "search", "--state", "gone"])
    t.check(r.returncode == 1 and ct.parse(r)["error"]["field"] == "state",
            "a refused search: 1, the daemon's error as JSON", r.stdout)

    # {================ bulk ================
    r = run1(["bulk", "takedown", "--creator", "wave", "--reason", "scam", "--dry-run"])
    t.check(r.returncode == 0 and "takedown would act on 5 items" in r.stdout
            and "second moderator" in r.stdout and "w4" in r.stdout,
            "bulk takedown --dry-run: the count, four eyes, the sample", r.stdout)
    t.check(all(d.item("w%d" % i).json["state"] != "removed" for i in range(5)),
            "the dry run took nothing down")
    r = run1(["bulk", "takedown", "--creator", "wave", "--reason", "scam"])
    t.check(r.returncode == 2 and "--yes" in r.stderr,
            "no terminal to ask: refuses without --yes (2)", r)
    r = run1(["bulk", "takedown", "--creator", "wave"])
    t.check(r.returncode == 2 and "--reason" in r.stderr, "no reason: 2", r)
    r = run1(["--json", "bulk", "takedown", "--creator", "wave", "--reason", "scam", "--yes"])
    job = ct.parse(r)
    t.require(r.returncode == 0 and job["state"] == "awaiting_confirmation",
              "bulk --yes --json: the job, waiting for a second moderator", r.stdout)
    r = run1(["bulk", "confirm", job["id"]])
    t.check(r.returncode == 1 and "another moderator" in r.stderr,
            "the one who asked cannot confirm: 1", r)
    r = run2(["bulk", "confirm", job["id"], "--wait"])
    t.check(r.returncode == 0 and "%s: bulk takedown, done" % job["id"] in r.stdout
            and "5 acted on" in r.stdout, "bulk confirm --wait: done, 5 acted on", r.stdout)
    t.check(all(d.item("w%d" % i).json["state"] == "removed" for i in range(5)),
            "every one is removed")
    r = run1(["--json", "bulk", "status", job["id"]])
    t.check(r.returncode == 0 and ct.parse(r) == d.get("/v1/bulk/" + job["id"]).json,
            "bulk status --json prints GET /v1/bulk/ID", r.stdout)
    r = run1(["bulk", "list"])
    t.check(r.returncode == 0 and job["id"] in r.stdout, "bulk list", r.stdout)
    r = run1(["bulk", "cancel", job["id"]])
    t.check(r.returncode == 1 and "409" in r.stderr, "cancelling a finished job: 1", r)
    r = run1(["bulk", "status", "jnothing"])
    t.check(r.returncode == 1 and "404" in r.stderr, "an unknown job: 1", r)

    # {================ creator ================
    r = run1(["creator", "suspend", "wave", "--reason", "ring", "--mode", "refuse"])
    t.check(r.returncode == 0 and "new uploads refused" in r.stdout, "creator suspend", r.stdout)
    r = run1(["creator", "wave"])
    t.check(r.returncode == 0 and "creator wave: 5 uploads" in r.stdout
            and "removed 5" in r.stdout and "suspended (uploads refused) by token:mod1: ring"
            in r.stdout, "creator ID: standing, states, suspension", r.stdout)
    r = run1(["--json", "creator", "wave"])
    t.check(r.returncode == 0 and ct.parse(r)["suspension"]["mode"] == "refuse",
            "creator --json", r.stdout)
    r = run2(["--json", "creator", "restore", "wave", "--reason", "appeal"])
    rj = ct.parse(r)
    t.check(r.returncode == 0 and rj["action"] == "restore"
            and rj["state"] == "awaiting_confirmation", "creator restore: the items' job", r.stdout)
    t.check(d.get("/v1/creators/wave").json["suspension"] is None, "the suspension is lifted")
    r = run1(["creator", "restore", "wave", "--reason", "again", "--no-items"])
    t.check(r.returncode == 0 and "was not suspended" in r.stdout, "restore --no-items", r.stdout)
    r = run1(["creator", "nobody"])
    t.check(r.returncode == 1 and "404" in r.stderr, "an unknown creator: 1", r)
    r = run1(["creator", "suspend", "wave"])
    t.check(r.returncode == 2 and "--reason" in r.stderr, "suspend without a reason: 2", r)
    t.stopped(d)


st.main(body)
