# SPDX-License-Identifier: MIT
# sluicectl: status, token create, item; --json; SLUICE_URL/SLUICE_TOKEN;
# exit 0 on success, 1 on a refused request, 2 on usage errors.
import json
import sys
sys.dont_write_bytecode = True
import sluicetest as st


def body(t):
    d = t.daemon()
    ctl = st.program("sluicectl")
    base = [ctl, "--url", d.url, "--token", d.token]

    def run(args, env=None, argv=None):
        return st.run((argv or base) + args, env=env)

    def as_json(r, what):
        try:
            v = json.loads(r.stdout)
        except ValueError:
            v = None
        t.check(v is not None, "%s prints JSON" % what, r.stdout[:300])
        return v

    def works(token):
        return st.request(d.port, "GET", "/v1/items/none", token=token).status == 404

    # status
    r = run(["status"])
    t.check(r.returncode == 0 and r.stdout.strip(), "status exits 0 and prints something",
            (r.returncode, r.stdout, r.stderr))
    r = run(["--json", "status"])
    t.check(r.returncode == 0, "--json status exits 0", (r.returncode, r.stderr))
    as_json(r, "--json status")
    r = st.run([ctl, "status"], env={"SLUICE_URL": d.url, "SLUICE_TOKEN": d.token})
    t.check(r.returncode == 0, "status with SLUICE_URL and SLUICE_TOKEN exits 0",
            (r.returncode, r.stderr))

    # token create
    r = run(["token", "create", "ctl-a", "--role", "ingest"])
    t.check(r.returncode == 0, "token create ctl-a --role ingest exits 0", (r.returncode, r.stderr))
    printed = [w for w in r.stdout.split() if len(w) >= 16 and works(w)]
    t.check(len(printed) == 1, "  ... prints the new token, which works", r.stdout)
    r = run(["--json", "token", "create", "ctl-b", "--role", "moderator"])
    t.check(r.returncode == 0, "--json token create ctl-b exits 0", (r.returncode, r.stderr))
    j = as_json(r, "--json token create") or {}
    t.check(j.get("name") == "ctl-b" and j.get("role") == "moderator"
            and isinstance(j.get("token"), str) and works(j["token"]),
            "  ... {name, role, token} and the token works", j)
    r = run(["token", "create", "ctl-a", "--role", "ingest"])
    t.check(r.returncode == 1, "token create of a taken name exits 1", (r.returncode, r.stdout))
    t.check(r.stderr.strip() != "", "  ... and says why on stderr")
    r = run(["token", "create", "ctl-c", "--role", "root"])
    t.check(r.returncode in (1, 2), "token create with role root exits 1 or 2", r.returncode)
    t.check(d.req("DELETE", "/v1/tokens/ctl-c").status == 404, "  ... and made no token")

    # item
    t.status(d.post("/v1/uploads", st.upload("ctl-item", description="via http")), 202,
             "upload ctl-item over HTTP")
    r = run(["item", "ctl-item"])
    t.check(r.returncode == 0 and "ctl-item" in r.stdout, "item ctl-item exits 0 and shows it",
            (r.returncode, r.stdout))
    r = run(["--json", "item", "ctl-item"])
    t.check(r.returncode == 0, "--json item ctl-item exits 0", r.returncode)
    j = as_json(r, "--json item") or {}
    http = d.item("ctl-item").json
    t.check(j.get("id") == "ctl-item" and j.get("upload") == http.get("upload")
            and j.get("state") == http.get("state"),
            "  ... the same item as GET /v1/items/ctl-item", j)
    r = run(["item", "no-such-item"])
    t.check(r.returncode == 1, "item of an unknown id exits 1", (r.returncode, r.stdout))

    # refused
    r = st.run([ctl, "--url", d.url, "--token", "wrong-token", "status"])
    t.check(r.returncode == 1, "status with a wrong token exits 1", (r.returncode, r.stderr))
    r = st.run([ctl, "--url", d.url, "--token", "wrong-token", "token", "create", "ctl-d",
                "--role", "admin"])
    t.check(r.returncode == 1, "token create with a wrong token exits 1", r.returncode)
    ingest = None
    r = run(["--json", "token", "create", "ctl-ingest", "--role", "ingest"])
    try:
        ingest = json.loads(r.stdout).get("token")
    except ValueError:
        pass
    if t.check(ingest is not None, "an ingest token for the 403 case"):
        r = st.run([ctl, "--url", d.url, "--token", ingest, "token", "create", "ctl-e",
                    "--role", "admin"])
        t.check(r.returncode == 1, "token create with an ingest token (403) exits 1",
                r.returncode)
    for name in ("ctl-d", "ctl-e"):
        t.check(d.req("DELETE", "/v1/tokens/" + name).status == 404,
                "refused create made no token %s" % name)

    # usage errors
    for args in ([], ["frobnicate"], ["token"], ["token", "create"],
                 ["token", "create", "ctl-f"], ["token", "create", "ctl-f", "--role"],
                 ["item"], ["--no-such-option", "status"]):
        r = run(args)
        t.check(r.returncode == 2, "sluicectl %s exits 2" % " ".join(args),
                (r.returncode, r.stderr))
    t.check(d.req("DELETE", "/v1/tokens/ctl-f").status == 404, "usage errors made no token")

    # unreachable daemon: an error, not a hang
    r = st.run([ctl, "--url", "http://127.0.0.1:%d" % st.free_port(), "--token", d.token,
                "status"])
    t.check(r.returncode != 0, "status against a closed port fails", r.returncode)


st.main(body)
