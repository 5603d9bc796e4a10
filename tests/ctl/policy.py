# SPDX-License-Identifier: MIT
# sluicectl policy check FILE | reload | replay DIR [--since DURATION]:
# errors name the file as typed and the line; replay reports exactly the
# verdicts a candidate set would change, and changes nothing itself.
import os
import sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ctltest as ct  # noqa: E402
st = ct.st

APPROVE_ALL = """-- A candidate that waves everything through.
function review(item)
  return "approve"
end
"""


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def body(t):
    d = t.daemon(start=False)
    ct.shipped_policies(d)
    d.start()
    run = ct.runner(d)
    pol = ct.token(d, "p-pol", "policy")
    work = os.path.join(t.tmp, "work")
    os.makedirs(work)

    # {====== policy check ======
    good = write(os.path.join(work, "30-extra.lua"), "function groups(user)\n  return {}\nend\n")
    r = run(["policy", "check", good])
    t.check(r.returncode == 0 and r.stdout.strip() == good + ": ok", "policy check of a good "
            "file: exit 0, 'FILE: ok'", (r.returncode, r.stdout, r.stderr))
    r = run(["--json", "policy", "check", good], tok=pol)
    t.check(r.returncode == 0 and ct.parse(r) == {"ok": True, "name": "30-extra.lua"},
            "--json policy check with a policy token: the daemon's {ok, name}", r.stdout)

    broken = write(os.path.join(work, "broken.lua"),
                   "-- line 1\nfunction review(item)\n  return = 'approve'\nend\n")
    r = run(["policy", "check", broken])
    t.check(r.returncode == 1, "policy check of a syntax error exits 1", r.returncode)
    t.check(r.stderr.startswith(broken + ":3:"), "  ... and the message starts with "
            "FILE:LINE as typed (%s:3:)" % broken, r.stderr)
    cwd_run = st.subprocess.run([ct.ctl(), "--url", d.url, "--token", d.token, "policy",
                                 "check", "broken.lua"], cwd=work, capture_output=True,
                                text=True, timeout=st.RUN_TIMEOUT, stdin=st.subprocess.DEVNULL)
    t.check(cwd_run.returncode == 1 and cwd_run.stderr.startswith("broken.lua:3:"),
            "  ... a relative FILE stays relative (broken.lua:3:)", cwd_run.stderr)
    r = run(["--json", "policy", "check", broken])
    j = ct.parse(r) or {}
    t.check(r.returncode == 1 and j.get("error", {}).get("code") == "policy_error"
            and ":3:" in j["error"].get("message", "") and r.stderr.startswith(broken + ":3:"),
            "--json: the daemon's policy_error on stdout, FILE:LINE on stderr", (r.stdout,
                                                                                r.stderr))
    runtime = write(os.path.join(work, "runtime.lua"), "local x = 1\n\nlocal y = nil + x\n")
    r = run(["policy", "check", runtime])
    t.check(r.returncode == 1 and r.stderr.startswith(runtime + ":3:"),
            "a file that fails when run: FILE:3:", r.stderr)
    r = run(["policy", "check", os.path.join(work, "missing.lua")])
    t.check(r.returncode == 2 and "missing.lua" in r.stderr, "a file that is not there: exit 2",
            (r.returncode, r.stderr))
    r = run(["policy", "check", work])
    t.check(r.returncode == 2, "a directory instead of a file: exit 2", (r.returncode, r.stderr))
    ing = ct.token(d, "p-ing", "ingest")
    r = run(["policy", "check", good], tok=ing)
    t.check(r.returncode == 1 and "403" in r.stderr, "policy check with an ingest token: 403, "
            "exit 1", (r.returncode, r.stderr))
    for bad in (["policy"], ["policy", "check"], ["policy", "check", good, "x"],
                ["policy", "frob"], ["policy", "reload", "x"], ["policy", "replay"],
                ["policy", "check", good, "--since", "1h"]):
        r = run(bad)
        t.check(r.returncode == 2, "sluicectl %s exits 2" % " ".join(bad),
                (r.returncode, r.stderr))

    # {====== policy reload ======
    before = d.get("/v1/policies").json["version"]
    r = run(["policy", "reload"])
    t.check(r.returncode == 0 and "version %s (was %s)" % (before, before) in r.stdout,
            "policy reload of the same files: new and previous version", r.stdout)
    write(os.path.join(d.policies, "30-extra.lua"), open(good).read())
    r = run(["--json", "policy", "reload"], tok=pol)
    j = ct.parse(r) or {}
    after = d.get("/v1/policies").json["version"]
    t.check(r.returncode == 0 and j.get("previous") == before and j.get("version") == after
            and after != before, "--json policy reload after adding a file: "
            "{version, previous, files}", r.stdout)
    write(os.path.join(d.policies, "40-broken.lua"), "function tag(item)\n  x = \nend\n")
    r = run(["policy", "reload"])
    t.check(r.returncode == 1 and "40-broken.lua:3" in r.stderr,
            "policy reload of a broken directory: exit 1 naming file and line", r.stderr)
    t.check(d.get("/v1/policies").json["version"] == after, "  ... and the old set keeps running")
    os.unlink(os.path.join(d.policies, "40-broken.lua"))
    os.unlink(os.path.join(d.policies, "30-extra.lua"))
    t.status(d.post("/v1/policies/reload"), 200, "back to the shipped set")

    # {====== policy replay ======
    # Known verdicts under the shipped policies.
    seeds = {"rp-clean": None, "rp-soft": 0.6, "rp-soft2": 0.55, "rp-hard": 0.95}
    for uid, nsfw in seeds.items():
        ct.upload(d, uid, nsfw=nsfw)
    states = {uid: ct.state(d, uid) for uid in seeds}
    t.require(states["rp-clean"] in ct.APPROVED and
              {k: v for k, v in states.items() if k != "rp-clean"} ==
              {"rp-soft": "in_review", "rp-soft2": "in_review", "rp-hard": "rejected"},
              "the shipped policies approve, queue and reject the seeds", states)
    version = d.get("/v1/policies").json["version"]

    cand = os.path.join(t.tmp, "candidate")
    os.makedirs(cand)
    for name in os.listdir(d.policies):     # the shipped set, with review replaced
        if name.endswith(".lua") and name != "20-review.lua":
            write(os.path.join(cand, name), open(os.path.join(d.policies, name)).read())
    write(os.path.join(cand, "20-review.lua"), APPROVE_ALL)
    write(os.path.join(cand, "README"), "not a policy: ignored\n")

    r = run(["--json", "policy", "replay", cand], tok=pol)
    j = ct.parse(r) or {}
    t.check(r.returncode == 0, "--json policy replay of an approve-all candidate exits 0",
            (r.returncode, r.stderr))
    t.check(j.get("current") == version and j.get("version") not in (None, version),
            "  ... names the running and the candidate versions", j)
    t.check(j.get("examined") == 4, "  ... examined the 4 stored uploads", j.get("examined"))
    t.check(j.get("counts") == {"in_review->approved": 2, "rejected->approved": 1},
            "  ... counts: in_review->approved 2, rejected->approved 1", j.get("counts"))
    changed = {c["id"]: (c["from"]["state"], c["to"]["state"]) for c in j.get("changed", [])}
    t.check(changed == {"rp-soft": ("in_review", "approved"),
                        "rp-soft2": ("in_review", "approved"),
                        "rp-hard": ("rejected", "approved")},
            "  ... and lists exactly the items that would change", j.get("changed"))
    t.check(isinstance(j.get("waves"), dict) and "examined" in j["waves"]
            and isinstance(j["waves"].get("changed"), list), "  ... and the waves part", j)

    r = run(["policy", "replay", cand])
    out = r.stdout
    t.check(r.returncode == 0, "policy replay (readable) exits 0", (r.returncode, r.stderr))
    t.check("uploads examined: 4; verdicts that would change: 3" in out,
            "  ... says how many were examined and would change", out)
    t.check(any(ln.split() == ["in_review->approved", "2"] for ln in out.splitlines()) and
            any(ln.split() == ["rejected->approved", "1"] for ln in out.splitlines()),
            "  ... with the counts", out)
    rows = [ln.split() for ln in out.splitlines() if ln.startswith("  rp-")]
    t.check(sorted(w[0] for w in rows) == ["rp-hard", "rp-soft", "rp-soft2"] and
            all("->" in w and w[-1] == "approved" for w in rows),
            "  ... and one line per changed item, from -> to", out)
    t.check("rp-clean" not in out, "  ... not the one that stays approved", out)
    after = {uid: ct.state(d, uid) for uid in seeds}
    after["rp-clean"] = states["rp-clean"] if after["rp-clean"] in ct.APPROVED else "?"
    t.check(after == states and d.get("/v1/policies").json["version"] == version,
            "replay changed no item and loaded nothing", after)

    # --since: uploads older than the window are not examined.
    r = run(["--json", "policy", "replay", cand, "--since", "24h"])
    t.check(r.returncode == 0 and (ct.parse(r) or {}).get("examined") == 4,
            "--since 24h examines all 4", r.stdout[:300])
    st.time.sleep(1.2)      # every seed is now more than a second old
    ct.upload(d, "rp-late", nsfw=0.7)
    r = run(["--json", "policy", "replay", cand, "--since=1s"])
    j = ct.parse(r) or {}
    t.check(r.returncode == 0 and j.get("examined") == 1 and
            [c["id"] for c in j.get("changed", [])] == ["rp-late"],
            "--since=1s examines only the upload of the last second", r.stdout[:300])

    same = os.path.join(t.tmp, "same")
    os.makedirs(same)
    for name in os.listdir(d.policies):
        if name.endswith(".lua"):
            write(os.path.join(same, name), open(os.path.join(d.policies, name)).read())
    r = run(["policy", "replay", same])
    t.check(r.returncode == 0 and "verdicts that would change: 0" in r.stdout,
            "replaying the running set changes nothing", r.stdout)

    bad = os.path.join(t.tmp, "bad")
    os.makedirs(bad)
    write(os.path.join(bad, "10-x.lua"), "function review(item)\n  return 'approve'\n")
    r = run(["policy", "replay", bad])
    t.check(r.returncode == 1 and "10-x.lua" in r.stderr and "422" in r.stderr,
            "a candidate that does not load: exit 1, naming the file", r.stderr)
    empty = os.path.join(t.tmp, "empty")
    os.makedirs(empty)
    for args, what in ((["policy", "replay", empty], "a directory without *.lua"),
                       (["policy", "replay", os.path.join(t.tmp, "nope")], "a missing directory"),
                       (["policy", "replay", cand, "--since", "yesterday"], "--since yesterday"),
                       (["policy", "replay", cand, "--since", "10"], "--since without a unit"),
                       (["policy", "replay", cand, "--since", "0h"], "--since 0h"),
                       (["policy", "replay", cand, "--since"], "--since without a value")):
        r = run(args)
        t.check(r.returncode == 2 and r.stderr.strip(), "%s: exit 2" % what,
                (r.returncode, r.stderr))
    r = run(["policy", "replay", cand], tok=ing)
    t.check(r.returncode == 1 and "403" in r.stderr, "replay with an ingest token: 403, exit 1",
            r.stderr)


st.main(body)
