# SPDX-License-Identifier: MIT
# Rate limits per token: past its role's burst a token gets 429 rate_limited
# with Retry-After, other tokens go on, the bucket refills at the rate, and
# the refusals are counted by role. Bad limits in the file are refused.
import sys
import time
sys.dont_write_bytecode = True
import rawhttp as rh
import sluicetest as st

CONF = """log_level = "warn"
rate_limits = {
  moderator = { rate = 2, burst = 3 },
  ingest = { rate = 1, burst = 1 },
}
"""


def token(d, name, role):
    r = d.post("/v1/tokens", {"name": name, "role": role})
    if r.status != 201 and r.status != 200:
        raise st.Failed("token %s: %r" % (name, r))
    return r.json["token"]


def body(t):
    d = t.daemon(conf=CONF)
    mod = token(d, "mod-a", "moderator")
    mod_b = token(d, "mod-b", "moderator")
    ing = token(d, "ing-a", "ingest")

    # ---- a moderator's burst, then 429 -----------------------------------
    codes = [d.get("/v1/queue", token=mod).status for _ in range(3)]
    t.check(codes == [200, 200, 200], "moderator mod-a: its burst of 3 is served", codes)
    r = d.get("/v1/queue", token=mod)
    t.error(r, 429, "rate_limited", "moderator mod-a: the 4th request at once")
    ra = r.headers.get("retry-after", "")
    t.check(ra.isdigit() and 1 <= int(ra) <= 2, "  ... with Retry-After in whole seconds (%r)"
            % ra)
    t.check("mod-a" in ((r.json or {}).get("error") or {}).get("message", ""),
            "  ... and a message naming the token", r)
    # What is refused costs nothing else: a forbidden route is limited too.
    t.error(d.get("/v1/policies", token=mod), 429, "rate_limited",
            "mod-a on a route its role may not call, while over its rate")

    # ---- per token: another moderator is not held back -------------------
    t.status(d.get("/v1/queue", token=mod_b), 200, "moderator mod-b, same role, own bucket")

    # ---- the bucket refills at the rate ----------------------------------
    time.sleep(int(ra) if ra.isdigit() else 1)
    t.status(d.get("/v1/queue", token=mod), 200, "mod-a after waiting Retry-After seconds")

    # ---- ingest: rate 1, burst 1 ------------------------------------------
    t.status(d.post("/v1/uploads", st.upload("rl-1"), token=ing), 202, "ingest: first upload")
    r = d.post("/v1/uploads", st.upload("rl-2"), token=ing)
    t.error(r, 429, "rate_limited", "ingest: a second upload at once")
    t.error(d.item("rl-2"), 404, "not_found", "  ... which stored nothing")

    # ---- admin: no limit by default --------------------------------------
    codes = {d.get("/v1/status").status for _ in range(60)}
    t.check(codes == {200}, "admin: 60 requests at once, no limit by default", codes)

    # ---- a request without a valid token is not limited per token --------
    t.error(d.get("/v1/queue", token="sl_nothing"), 401, "unauthorized", "an unknown token")

    m = d.get("/metrics").body.decode()
    got = rh.metric(m, 'sluice_http_rate_limited_total{role="moderator"}')
    t.check(got is not None and got >= 2, "/metrics: moderator refusals counted (%s)" % got)
    got = rh.metric(m, 'sluice_http_rate_limited_total{role="ingest"}')
    t.check(got is not None and got >= 1, "/metrics: ingest refusals counted (%s)" % got)
    got = rh.metric(m, 'sluice_http_requests_total{route="GET /v1/queue",code="429"}')
    t.check(got is not None and got >= 1, "/metrics: the 429s show in the route's counts")
    t.stopped(d)

    # ---- the defaults: moderators limited, admin not ---------------------
    d2 = t.daemon(conf='log_level = "warn"\n', name="defaults")
    mod = token(d2, "mod", "moderator")
    codes = [d2.get("/v1/status", token=mod).status for _ in range(260)]
    t.check(codes.count(200) >= 200 and 429 in codes,
            "default moderator limit: a burst of about 200, then 429 (%d served)"
            % codes.count(200))
    t.stopped(d2)

    # ---- the configuration is checked ------------------------------------
    for conf, what in (
            ('rate_limits = { moderater = { rate = 1 } }', "an unknown role"),
            ('rate_limits = { moderator = { rate = -1 } }', "a negative rate"),
            ('rate_limits = { moderator = { rate = "5" } }', "a rate that is a string"),
            ('rate_limits = { moderator = { burst = 0 } }', "a burst of 0"),
            ('rate_limits = { moderator = { burst = 2.5 } }', "a fractional burst"),
            ('rate_limits = { moderator = { rate = 1, per = 60 } }', "an unknown field"),
            ('rate_limits = 5', "a number for the table")):
        bad = t.daemon(conf="\n" + conf + "\n", name="bad%d" % len(t.daemons), start=False)
        r = st.run([st.program("sluiced"), "--check-config", "-c", bad.conf])
        t.check(r.returncode == 1 and ":2:" in r.stderr and "rate_limits" in r.stderr,
                "--check-config refuses %s, naming the key and line" % what,
                (r.returncode, r.stderr.strip()))
    ok = t.daemon(conf="rate_limits = { ingest = { rate = 0.5 }, admin = { rate = 0 } }\n",
                  name="ok", start=False)
    r = st.run([st.program("sluiced"), "--check-config", "-c", ok.conf])
    t.check(r.returncode == 0, "a fractional rate, and 0 (no limit), are taken", r.stderr)


st.main(body)
