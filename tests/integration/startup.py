# SPDX-License-Identifier: MIT
# Start-up: --version, the admin token on first start only (its file named,
# never the token printed), private file modes, /healthz, clean restart.
import os
import re
import stat
import sys
sys.dont_write_bytecode = True
import sluicetest as st


def package_version():
    with open(os.path.join(st.builddir(), "config.h")) as f:
        m = re.search(r'#define PACKAGE_VERSION "([^"]*)"', f.read())
    return m.group(1) if m else None


def body(t):
    # --version
    r = st.run([st.program("sluiced"), "--version"])
    t.check(r.returncode == 0, "sluiced --version exits 0", r.returncode)
    want = "sluiced %s" % package_version()
    t.check(r.stdout.strip() == want, "sluiced --version prints '%s'" % want, r.stdout)

    # First start on an empty state directory, under the usual umask: the
    # files that hold secrets are private whatever it is.
    os.umask(0o022)
    d = t.daemon()
    tok_path = os.path.join(d.state, "admin.token")
    t.require(os.path.exists(tok_path), "first start writes STATE/admin.token")
    for name in ("admin.token", "audit.key", "sluice.db", "sluice.db-wal", "sluice.db-shm"):
        path = os.path.join(d.state, name)
        if t.check(os.path.exists(path), "STATE/%s exists while sluiced runs" % name):
            mode = stat.S_IMODE(os.stat(path).st_mode)
            t.check(mode == 0o600, "%s has mode 0600 (umask 022)" % name, oct(mode))
    token = d.token
    t.require(token and re.fullmatch(r"\S{16,}", token) is not None,
              "admin.token holds one token of at least 16 characters", token)

    r = d.get("/healthz", token=None)
    t.status(r, 200, "GET /healthz without a token")
    t.check(r.json == {"status": "ok"}, "/healthz says {\"status\":\"ok\"}", r)

    r = d.item("nothing-here")
    t.error(r, 404, "not_found", "the admin token is accepted: GET unknown item")
    r = d.post("/v1/uploads", st.upload("keep1", description="survives restarts"))
    t.status(r, 202, "upload keep1")

    r = d.get("/v1/no-such-route")
    t.error(r, 404, "not_found", "GET an unknown route")
    r = d.req("DELETE", "/v1/uploads")
    t.error(r, 405, "method_not_allowed", "DELETE /v1/uploads")
    r = d.req("PATCH", "/v1/items/keep1")
    t.error(r, 405, "method_not_allowed", "PATCH /v1/items/keep1")

    rc = d.stop()
    t.check(rc == 0, "SIGTERM: sluiced exits 0", rc)
    t.check(st.port_refuses(d.port), "after exit the port refuses connections")
    out1 = d.stdout()
    t.check(token not in out1 and token not in d.logs(),
            "first start prints the admin token nowhere (a journal keeps what is printed)",
            out1[-500:])
    t.check("first start: the admin token is in %s" % tok_path in out1,
            "first start prints the token file's path", out1[-500:])

    # Second start on the same state: no new token, the old one still works.
    d.start()
    with open(tok_path) as f:
        t.check(f.read().strip() == token, "second start leaves admin.token as it was")
    t.check(d.token == token, "second start keeps the admin token")
    r = d.item("keep1")
    t.status(r, 200, "after restart GET /v1/items/keep1 with the old admin token")
    if r.status == 200:
        t.check(r.json.get("upload", {}).get("description") == "survives restarts",
                "keep1's upload survived the restart", r)
    rc = d.stop()
    t.check(rc == 0, "second SIGTERM: exit 0", rc)
    out2 = d.stdout()
    t.check(token not in out2 and "first start" not in out2,
            "second start says nothing of a first start", out2[-500:])

    # A broken config stops the start: exit 1, nothing listens, no token.
    bad = st.Daemon(t, conf="lisen = '127.0.0.1:1'\n", name="bad")
    r = st.run([st.program("sluiced"), "-c", bad.conf, "--listen",
                "127.0.0.1:%d" % bad.port, "--state", bad.state,
                "--policies", bad.policies])
    t.check(r.returncode == 1, "sluiced with an unknown config key exits 1", r.returncode)
    t.check("lisen" in r.stderr and ":1:" in r.stderr,
            "the start-up error names the key and line", r.stderr)
    t.check(st.port_refuses(bad.port), "nothing listens after a refused config")
    t.check(not os.path.exists(os.path.join(bad.state, "admin.token")),
            "a refused config creates no admin token")


st.main(body)
