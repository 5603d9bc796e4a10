# SPDX-License-Identifier: MIT
# Bearer tokens and roles: 401/403, token creation per role, shown once,
# duplicate names, revocation; refused requests store nothing.
import sys
sys.dont_write_bytecode = True
import sluicetest as st

ROLES = ("ingest", "moderator", "policy", "admin")


def body(t):
    d = t.daemon()
    t.status(d.post("/v1/uploads", st.upload("a0")), 202, "admin uploads a0")

    # 401: missing, malformed, unknown.
    t.error(d.item("a0", token=None), 401, "unauthorized", "GET item without a token")
    t.error(d.item("a0", token="not-a-token"), 401, "unauthorized", "GET item with an unknown token")
    t.error(d.item("a0", token=d.token + "x"), 401, "unauthorized",
            "GET item with the admin token plus one character")
    r = d.req("GET", "/v1/items/a0", token=None, headers={"Authorization": "Basic " + d.token})
    t.error(r, 401, "unauthorized", "GET item with a Basic header")
    r = d.req("GET", "/v1/items/a0", token=None, headers={"Authorization": "Bearer"})
    t.error(r, 401, "unauthorized", "GET item with 'Bearer' and no token")
    r = d.post("/v1/uploads", st.upload("a1"), token=None)
    t.error(r, 401, "unauthorized", "upload without a token")
    t.error(d.item("a1"), 404, "not_found", "the unauthorized upload stored nothing")
    t.error(d.get("/metrics", token=None), 401, "unauthorized", "GET /metrics without a token")

    # Admin creates one token per role; each is shown once.
    tokens = {}
    for role in ROLES:
        r = d.post("/v1/tokens", {"name": "t-" + role, "role": role})
        ok = t.status(r, 201, "admin creates a %s token" % role)
        if ok:
            j = r.json or {}
            t.check(j.get("name") == "t-" + role and j.get("role") == role
                    and isinstance(j.get("token"), str) and len(j["token"]) >= 16,
                    "the answer is {name, role, token}", r)
            tokens[role] = j.get("token")
    t.require(len(tokens) == len(ROLES), "all four tokens were created")
    t.check(len(set(tokens.values())) == len(ROLES), "every token is different")
    t.check(d.token not in tokens.values(), "no new token equals the admin token")

    # A taken name: 409, and the answer does not show the existing token.
    r = d.post("/v1/tokens", {"name": "t-ingest", "role": "admin"})
    t.error(r, 409, "conflict", "a second token named t-ingest")
    t.check(tokens["ingest"].encode() not in r.body, "the 409 does not show the token")
    r = d.get("/v1/status", token=tokens["ingest"])
    t.status(r, 200, "t-ingest still works after the refused re-creation (role ingest)")
    r = d.post("/v1/tokens", {"name": "t-x", "role": "admin"}, token=tokens["ingest"])
    t.error(r, 403, "forbidden", "ingest token POST /v1/tokens")

    # Bad token requests.
    t.error(d.post("/v1/tokens", {"name": "t-root", "role": "root"}), 422, "invalid",
            "a token with role 'root'", field="role")
    t.error(d.post("/v1/tokens", {"name": "has space", "role": "ingest"}), 422, "invalid",
            "a token with a bad name", field="name")
    t.error(d.post("/v1/tokens", {"role": "ingest"}), 422, "invalid",
            "a token without a name", field="name")
    t.error(d.post("/v1/tokens", {"name": "t-extra", "role": "ingest", "admin": True}), 422,
            "invalid", "a token with an unknown field", field="admin")
    for name in ("t-root", "t-extra"):
        r = d.req("DELETE", "/v1/tokens/" + name)
        t.error(r, 404, "not_found", "refused token %s was not created" % name)

    # Roles: who may call what (docs/http-api.md, Authentication and roles).
    allowed = [
        ("ingest", "POST", "/v1/uploads", st.upload("r-ingest"), (202,)),
        ("ingest", "POST", "/v1/users", {"id": "u-r"}, (200,)),
        ("ingest", "POST", "/v1/events",
         {"item": "a0", "user": "u-r", "type": "play"}, (202,)),
        ("ingest", "PUT", "/v1/follows/u-r/u-r2", None, (200,)),
        ("ingest", "GET", "/v1/items/r-ingest", None, (200,)),
        ("moderator", "GET", "/v1/items/a0", None, (200,)),
        ("policy", "GET", "/v1/items/a0", None, (200,)),
        ("ingest", "GET", "/metrics", None, (200,)),
        ("moderator", "GET", "/metrics", None, (200,)),
        ("policy", "GET", "/metrics", None, (200,)),
        ("admin", "POST", "/v1/uploads", st.upload("r-admin2"), (202,)),
    ]
    for role, method, path, b, want in allowed:
        r = d.req(method, path, b, token=tokens[role])
        t.check(r.status in want, "%s may %s %s -> %s" % (role, method, path, want), r)
    r = d.item("r-ingest")
    if t.status(r, 200, "the ingest token's upload is stored"):
        audit = r.json.get("audit") or [{}]
        t.check(audit[0].get("actor") == "token:t-ingest",
                "its audit record names actor token:t-ingest", audit)

    refused = [
        ("moderator", "POST", "/v1/uploads", st.upload("r-mod")),
        ("policy", "POST", "/v1/uploads", st.upload("r-pol")),
        ("policy", "POST", "/v1/events", {"item": "a0", "user": "u-r", "type": "like"}),
        ("moderator", "POST", "/v1/users", {"id": "u-mod"}),
        ("policy", "PUT", "/v1/follows/u-r/u-r3", None),
        ("moderator", "DELETE", "/v1/follows/u-r/u-r2", None),
        ("moderator", "POST", "/v1/tokens", {"name": "t-m2", "role": "admin"}),
        ("policy", "POST", "/v1/tokens", {"name": "t-p2", "role": "admin"}),
        ("ingest", "DELETE", "/v1/tokens/t-policy", None),
    ]
    for role, method, path, b in refused:
        r = d.req(method, path, b, token=tokens[role])
        t.error(r, 403, "forbidden", "%s may not %s %s" % (role, method, path))
    for n in ("r-mod", "r-pol"):
        t.error(d.item(n), 404, "not_found", "the refused upload %s stored nothing" % n)
    r = d.item("a0")
    if t.status(r, 200, "GET a0"):
        c = r.json.get("counters", {})
        t.check(c.get("like") == 0 and c.get("play") == 1,
                "a0 counters: the ingest play counted, the refused like did not", c)
    r = d.req("DELETE", "/v1/tokens/t-m2")
    t.error(r, 404, "not_found", "the refused token t-m2 does not exist")
    t.status(d.item("a0", token=tokens["policy"]), 200,
             "t-policy still works after the refused DELETE")

    # The second admin may do admin things.
    r = d.post("/v1/tokens", {"name": "t-by-admin2", "role": "ingest"}, token=tokens["admin"])
    t.status(r, 201, "the created admin token creates a token")

    # Revocation.
    r = d.req("DELETE", "/v1/tokens/t-moderator")
    t.status(r, 200, "DELETE /v1/tokens/t-moderator")
    t.check(r.json == {"name": "t-moderator", "revoked": True},
            "the answer is {name, revoked:true}", r)
    t.error(d.item("a0", token=tokens["moderator"]), 401, "unauthorized",
            "the revoked token is refused")
    t.error(d.req("DELETE", "/v1/tokens/t-moderator"), 404, "not_found",
            "revoking it again")
    t.error(d.req("DELETE", "/v1/tokens/never-made"), 404, "not_found",
            "revoking an unknown token")
    t.status(d.get("/v1/status", token=tokens["ingest"]), 200, "other tokens still work")

    # An admin token revokes itself: its name was read after the token table
    # freed it (a use after free the sanitizer build catches).
    r = d.post("/v1/tokens", {"name": "t-self", "role": "admin"})
    t.require(r.status == 201, "POST /v1/tokens t-self (admin)", r)
    self_tok = r.json["token"]
    r = d.req("DELETE", "/v1/tokens/t-self", token=self_tok)
    t.status(r, 200, "t-self revokes itself")
    t.check(r.json == {"name": "t-self", "revoked": True}, "the answer names it", r)
    t.error(d.item("a0", token=self_tok), 401, "unauthorized", "t-self is refused afterwards")
    t.check("revoked by token:t-self" in d.logs(), "the log names who revoked it")

    # Tokens and revocations survive a restart.
    t.stopped(d, "SIGTERM exits 0")
    d.start()
    t.status(d.get("/v1/status", token=tokens["ingest"]), 200, "after restart t-ingest works")
    t.error(d.item("a0", token=tokens["moderator"]), 401, "unauthorized",
            "after restart the revoked token is still refused")
    # The name of a revoked token: the docs do not say it may be reused, only
    # that a taken name is 409; either way the old secret must stay dead.
    r = d.post("/v1/tokens", {"name": "t-moderator", "role": "moderator"})
    t.check(r.status in (201, 409), "re-creating a revoked name -> 201 or 409", r)
    if r.status == 201:
        t.check(r.json.get("token") != tokens["moderator"], "a new secret, not the old one")
    t.error(d.item("a0", token=tokens["moderator"]), 401, "unauthorized",
            "the old secret stays refused")


st.main(body)
