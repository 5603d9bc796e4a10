# SPDX-License-Identifier: MIT
# sluicectl status, queue, item, stats, token: readable output, --json (the
# daemon's document), errors on stderr (and as JSON on stdout under --json),
# exit status 0 done, 1 refused or unreachable, 2 usage.
import os
import sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ctltest as ct  # noqa: E402
st = ct.st


def body(t):
    d = t.daemon(start=False)
    ct.shipped_policies(d)
    d.start()
    run = ct.runner(d)
    ctl = ct.ctl()

    def ok(r, what):
        return t.check(r.returncode == 0, "%s exits 0" % what, (r.returncode, r.stderr))

    def same_json(args, path, what, drop=()):
        """--json prints what the daemon answers (fields in drop change by the second)."""
        r = run(["--json"] + args)
        ok(r, "--json " + what)
        got = ct.parse(r)
        want = d.get(path).json
        for k in drop:
            for x in (got, want):
                if isinstance(x, dict):
                    x.pop(k, None)
        t.check(got is not None and got == want, "  ... prints GET %s as one JSON document"
                % path, (r.stdout[:400], want))
        return got

    ct.upload(d, "c-ok")                    # approved by the shipped policies
    ct.upload(d, "c-soft", nsfw=0.6)        # to people, queue nsfw
    ct.upload(d, "c-hard", nsfw=0.95)       # rejected
    ct.upload(d, "c-evil", title="bell\x07 and \x1b[2J escape \u0085 C1")
    ct.quiet(d)

    # {====== status ======
    r = run(["status"])
    ok(r, "status")
    items = d.get("/v1/status").json["items"]
    t.check("sluiced " in r.stdout and items.get("rejected") == 1 and
            all("%s %d" % (k, n) in r.stdout for k, n in items.items()),
            "  ... names the version and counts items by state", (r.stdout, items))
    same_json(["status"], "/v1/status", "status", drop=("uptime_s", "nodes"))
    r = run(["status", "--json"])
    t.check(r.returncode == 0 and (ct.parse(r) or {}).get("version"),
            "--json after the command works too", r.stdout)

    # {====== queue ======
    r = run(["queue"])
    ok(r, "queue")
    lines = r.stdout.splitlines()
    t.check(any(ln.split()[:3] == ["nsfw", "1", "0"] for ln in lines if ln.strip()),
            "  ... a table row: queue nsfw, depth 1, none claimed", r.stdout)
    t.check(any(ln.startswith("c-soft ") and " nsfw " in ln and "nsfw.score 0.60" in ln
                for ln in lines), "  ... and the waiting item with its reason", r.stdout)
    same_json(["queue"], "/v1/queue?limit=50", "queue", drop=("now_ms",))
    r = run(["queue", "--queue", "nsfw", "--limit", "1"])
    ok(r, "queue --queue nsfw --limit 1")
    r = run(["--json", "queue", "--queue=default"])
    j = ct.parse(r) or {}
    t.check(r.returncode == 0 and all(i["queue"] == "default" for i in j.get("items", [])),
            "--json queue --queue=default lists only that queue", r.stdout)
    for bad in (["queue", "--limit", "0"], ["queue", "--limit", "x"], ["queue", "--limit"],
                ["queue", "extra"], ["queue", "--role", "admin"]):
        r = run(bad)
        t.check(r.returncode == 2 and r.stderr.strip(), "sluicectl %s exits 2 and says why"
                % " ".join(bad), (r.returncode, r.stderr))
    r = run(["queue", "--queue", "no/such"])
    t.check(r.returncode == 1 and "400" in r.stderr, "queue --queue with a bad name: the "
            "daemon's 400, exit 1", (r.returncode, r.stderr))

    # {====== item ======
    r = run(["item", "c-soft"])
    ok(r, "item c-soft")
    t.check("c-soft" in r.stdout and "in_review" in r.stdout and "verdict: in_review by policy:"
            in r.stdout and "nsfw.score 0.60" in r.stdout and "audit:" in r.stdout,
            "  ... shows state, verdict, reason and audit trail", r.stdout)
    same_json(["item", "c-soft"], "/v1/items/c-soft", "item c-soft")
    r = run(["item", "c-evil"])
    ok(r, "item with escapes in its title")
    t.check("\x1b" not in r.stdout and "\x07" not in r.stdout and "\x85" not in r.stdout
            and "bell? and ?[2J escape ? C1" in r.stdout, "  ... shows them without a single control character", repr(r.stdout))
    r = run(["item", "nope"])
    t.check(r.returncode == 1 and "404" in r.stderr and "nope" in r.stderr and r.stdout == "",
            "item of an unknown id: exit 1, the daemon's words on stderr only", (r.returncode,
                                                                                 r.stderr, r.stdout))
    r = run(["--json", "item", "nope"])
    j = ct.parse(r) or {}
    t.check(r.returncode == 1 and j.get("error", {}).get("code") == "not_found"
            and "404" in r.stderr, "--json item nope: exit 1, error JSON on stdout, words on "
            "stderr", (r.returncode, r.stdout, r.stderr))
    r = run(["item", "a b"])
    t.check(r.returncode == 1, "item with a space in the id is escaped and refused (404)",
            (r.returncode, r.stderr))

    # {====== token ======
    r = run(["token", "create", "c-mod", "--role", "moderator"])
    ok(r, "token create c-mod --role moderator")
    mod = r.stdout.strip()
    t.check(st.request(d.port, "GET", "/v1/queue", token=mod).status == 200,
            "  ... prints just the token, which works as a moderator", r.stdout)
    r = run(["--json", "token", "create", "--role=policy", "c-pol"])
    j = ct.parse(r) or {}
    t.check(r.returncode == 0 and j.get("name") == "c-pol" and j.get("role") == "policy"
            and len(j.get("token", "")) > 16, "--json token create: {name, role, token}", r.stdout)
    r = run(["token", "revoke", "c-pol"])
    t.check(r.returncode == 0 and "revoked c-pol" in r.stdout, "token revoke c-pol", r.stdout)
    t.check(st.request(d.port, "GET", "/v1/policies", token=j.get("token")).status == 401,
            "  ... and the token no longer works")
    r = run(["--json", "token", "revoke", "c-mod"])
    t.check(r.returncode == 0 and ct.parse(r) == {"name": "c-mod", "revoked": True},
            "--json token revoke: the daemon's answer", r.stdout)
    r = run(["token", "revoke", "c-mod"])
    t.check(r.returncode == 1 and "404" in r.stderr, "revoking it again: 404, exit 1", r.stderr)
    r = run(["token", "create", "c-x", "--role", "root"])
    t.check(r.returncode == 1 and "422" in r.stderr, "an unknown role: the daemon's 422, exit 1",
            r.stderr)
    for bad in (["token"], ["token", "create", "c-y"], ["token", "create", "c-y", "--role"],
                ["token", "remove", "c-y"], ["token", "revoke", "c-y", "--role", "admin"],
                ["token", "create", "c-y", "--rol", "admin"]):
        r = run(bad)
        t.check(r.returncode == 2, "sluicectl %s exits 2" % " ".join(bad), (r.returncode, r.stderr))
    t.check(d.req("DELETE", "/v1/tokens/c-y").status == 404 and
            d.req("DELETE", "/v1/tokens/c-x").status == 404, "  ... none of them made a token")

    # {====== stats ======
    tok = ct.token(d, "c-mod2", "moderator")
    claim = st.request(d.port, "POST", "/v1/queue/claim", {"queue": "nsfw"}, tok).json
    f = claim["items"][0]["fence"]
    t.status(st.request(d.port, "POST", "/v1/items/c-soft/decision",
                        {"decision": "approve", "fence": f}, tok), 200, "c-mod2 approves c-soft")
    # An approved item moves on to distribution by itself: let the states
    # settle before comparing two readings of them.
    import time
    deadline = time.time() + 5
    # (with nobody to offer it to, it settles at once: through distributing)
    while ({"approved", "distributing"} & set(d.get("/v1/stats").json["items"])
           and time.time() < deadline):
        time.sleep(0.05)
    r = run(["stats"])
    ok(r, "stats")
    items = d.get("/v1/stats").json["items"]
    t.check(all("%s %d" % (k, n) in r.stdout for k, n in items.items()) and
            "verdict 4" in r.stdout and "approve 1" in r.stdout,
            "  ... items by state and the day's decisions by action", (r.stdout, items))
    t.check(any(ln.split()[:4] == ["token:c-mod2", "1", "0", "0"] for ln in r.stdout.splitlines()),
            "  ... and a row per moderator", r.stdout)
    same_json(["stats"], "/v1/stats", "stats", drop=("now_ms",))

    # {====== who may: refused requests exit 1 ======
    ing = ct.token(d, "c-ing", "ingest")
    for args in (["stats"], ["status"]):
        r = run(args, tok=ing)
        t.check(r.returncode == 0, "%s with an ingest token (any role) exits 0" % args[0],
                (r.returncode, r.stderr))
    r = run(["queue"], tok=ing)
    t.check(r.returncode == 1 and "403" in r.stderr, "queue with an ingest token: 403, exit 1",
            (r.returncode, r.stderr))
    r = run(["--json", "token", "create", "c-z", "--role", "admin"], tok=ing)
    j = ct.parse(r) or {}
    t.check(r.returncode == 1 and j.get("error", {}).get("code") == "forbidden",
            "--json token create with an ingest token: the 403 error JSON, exit 1", r.stdout)
    r = run(["status"], tok="wrong")
    t.check(r.returncode == 1 and "401" in r.stderr, "a wrong token: 401, exit 1", r.stderr)

    # {====== where the token and the daemon come from ======
    tf = os.path.join(t.tmp, "token")
    with open(tf, "w") as fh:
        fh.write(d.token + "\n")
    r = st.run([ctl, "--url", d.url, "--token-file", tf, "queue"])
    ok(r, "--token-file FILE")
    r = st.run([ctl, "--url", d.url, "--token-file", os.path.join(d.state, "admin.token"),
                "--json", "status"])
    t.check(r.returncode == 0 and ct.parse(r), "--token-file STATE/admin.token", r.stderr)
    r = st.run([ctl, "--url", d.url, "--token-file", os.path.join(t.tmp, "none"), "status"])
    t.check(r.returncode == 2 and "none" in r.stderr, "--token-file of a missing file exits 2",
            (r.returncode, r.stderr))
    empty = os.path.join(t.tmp, "empty")
    open(empty, "w").close()
    r = st.run([ctl, "--url", d.url, "--token-file", empty, "status"])
    t.check(r.returncode == 2, "--token-file of an empty file exits 2", (r.returncode, r.stderr))
    r = st.run([ctl, "--json", "queue"], env={"SLUICE_URL": d.url, "SLUICE_TOKEN": d.token})
    t.check(r.returncode == 0 and "queues" in (ct.parse(r) or {}),
            "SLUICE_URL and SLUICE_TOKEN", (r.returncode, r.stderr))
    r = st.run([ctl, "--token", d.token, "status"], env={"SLUICE_URL": d.url + "/"})
    ok(r, "a URL with a trailing slash")

    # {====== usage ======
    for args in ([], ["frobnicate"], ["--frob", "status"], ["item"], ["item", "a", "b"],
                 ["status", "extra"], ["stats", "--force"], ["audit"], ["audit", "check"],
                 ["--url"], ["--url", "ftp://x", "status"], ["--url", "nonsense", "status"]):
        r = run(args) if args[:1] != ["--url"] else st.run([ctl] + args)
        t.check(r.returncode == 2 and r.stderr.strip() and r.stdout == "",
                "sluicectl %s exits 2 with words on stderr" % " ".join(args),
                (r.returncode, r.stdout, r.stderr))
    r = run(["--json", "frobnicate"])
    j = ct.parse(r) or {}
    t.check(r.returncode == 2 and j.get("error", {}).get("code") == "usage",
            "--json with an unknown command: a usage error JSON too", r.stdout)
    r = st.run([ctl, "--help"])
    t.check(r.returncode == 0 and all(w in r.stdout for w in (
        "status", "queue", "review", "item", "stats", "token create", "policy check",
        "policy reload", "policy replay", "backup", "audit verify")),
        "--help lists every command", r.stdout)
    r = st.run([ctl, "--version"])
    t.check(r.returncode == 0 and r.stdout.startswith("sluicectl "), "--version", r.stdout)

    # {====== unreachable ======
    gone = "http://127.0.0.1:%d" % st.free_port()
    r = st.run([ctl, "--url", gone, "--token", d.token, "status"])
    t.check(r.returncode == 1 and "cannot reach" in r.stderr, "no daemon there: exit 1, said",
            (r.returncode, r.stderr))
    r = st.run([ctl, "--url", gone, "--token", d.token, "--json", "stats"])
    j = ct.parse(r) or {}
    t.check(r.returncode == 1 and j.get("error", {}).get("code") == "unreachable",
            "  ... under --json also as error JSON", r.stdout)


st.main(body)
