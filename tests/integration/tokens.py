# SPDX-License-Identifier: MIT
# Tokens: the last admin token that does not expire cannot be revoked;
# tokens made to expire stop working then (401 saying so), across a
# restart; GET /v1/tokens shows names, roles and expiry, never a secret.
import sys
import time
sys.dont_write_bytecode = True
import sluicetest as st


def body(t):
    # The simulated clock moves the daemon's time, which expiry reads.
    d = t.daemon(conf="simulated_clock = true\n")

    # The one admin token: revoking it would lock everyone out.
    r = d.req("DELETE", "/v1/tokens/admin")
    t.error(r, 409, "conflict", "revoking the only admin token")
    t.check("last admin token" in (r.json or {}).get("error", {}).get("message", ""),
            "the message says it is the last admin token", r)
    t.status(d.get("/v1/status"), 200, "the admin token still works")

    # A second lasting admin: then the first may go, and the second may not.
    r = d.post("/v1/tokens", {"name": "admin2", "role": "admin"})
    t.require(r.status == 201, "POST /v1/tokens admin2", r)
    admin2 = r.json["token"]
    t.check(r.json.get("expires_ms") is None, "a token without expires_in_s never expires", r)
    r = d.post("/v1/tokens", {"name": "admin-brief", "role": "admin", "expires_in_s": 3600})
    t.require(r.status == 201, "an admin token that expires in an hour", r)
    brief = r.json["token"]
    t.status(d.req("DELETE", "/v1/tokens/admin"), 200, "revoking 'admin' while admin2 lasts")
    r = d.req("DELETE", "/v1/tokens/admin2", token=admin2)
    t.error(r, 409, "conflict",
            "admin2 revoking itself, the last lasting admin (admin-brief expires)")
    r = d.req("DELETE", "/v1/tokens/admin-brief", token=admin2)
    t.status(r, 200, "an expiring admin token may always be revoked")
    t.error(d.get("/v1/status", token=brief), 401, "unauthorized", "the revoked admin-brief")

    # Expiry: works until then, 401 saying so after, listed as expired.
    r = d.post("/v1/tokens", {"name": "ing", "role": "ingest", "expires_in_s": 60},
               token=admin2)
    t.require(r.status == 201, "an ingest token for 60 s", r)
    ing, expires = r.json["token"], r.json.get("expires_ms")
    now = d.get("/v1/clock", token=admin2).json["now_ms"]
    t.check(isinstance(expires, int) and 59000 <= expires - now <= 60000,
            "expires_ms is 60 s on", (expires, now))
    t.status(d.post("/v1/uploads", st.upload("e1"), token=ing), 202,
             "the ingest token works before it expires")
    for bad in (0, -1, 315360001, "60", 1.5):
        r = d.post("/v1/tokens", {"name": "bad", "role": "ingest", "expires_in_s": bad},
                   token=admin2)
        t.error(r, 422, "invalid", "expires_in_s %r" % (bad,), field="expires_in_s")
    r = d.post("/v1/clock", {"advance_ms": 61000}, token=admin2)
    t.require(r.status == 200, "advance the clock 61 s", r)
    r = d.post("/v1/uploads", st.upload("e2"), token=ing)
    t.error(r, 401, "unauthorized", "the ingest token after it expired")
    t.check("expired" in (r.json or {}).get("error", {}).get("message", ""),
            "the 401 says the token expired", r)
    t.error(d.item("e2", token=admin2), 404, "not_found", "the refused upload stored nothing")
    r = d.get("/v1/tokens", token=admin2)
    if t.status(r, 200, "GET /v1/tokens"):
        toks = {x["name"]: x for x in r.json["tokens"]}
        t.check(sorted(toks) == ["admin2", "ing"], "the tokens left: admin2, ing", sorted(toks))
        t.check(toks.get("ing", {}).get("expired") is True
                and toks["ing"].get("expires_ms") == expires, "ing is listed as expired", toks)
        t.check(toks.get("admin2", {}).get("expires_ms") is None
                and toks["admin2"].get("expired") is False, "admin2 never expires", toks)
        t.check(ing.encode() not in r.body and admin2.encode() not in r.body
                and b"hash" not in r.body, "the list shows no token and no hash")
    t.error(d.get("/v1/tokens", token=ing), 401, "unauthorized", "GET /v1/tokens, expired")

    t.stopped(d)
    d.start()
    d.token = admin2        # start() reads admin.token, revoked above
    t.error(d.req("DELETE", "/v1/tokens/admin2"), 409, "conflict",
            "after a restart admin2 is still the last lasting admin")
    t.status(d.req("DELETE", "/v1/tokens/ing"), 200, "an expired token can be revoked")
    t.stopped(d)

    # Expiry survives a restart, on the real clock.
    e = t.daemon(name="e")
    r = e.post("/v1/tokens", {"name": "soon", "role": "moderator", "expires_in_s": 1})
    t.require(r.status == 201, "a moderator token for 1 s", r)
    soon = r.json["token"]
    t.status(e.get("/v1/queue", token=soon), 200, "the 1-s token works at once")
    t.stopped(e)
    time.sleep(1.2)
    e.start()
    r = e.get("/v1/queue", token=soon)
    t.error(r, 401, "unauthorized", "after a restart the 1-s token has expired")
    t.check("expired" in (r.json or {}).get("error", {}).get("message", ""),
            "...and the 401 says so", r)


st.main(body)
