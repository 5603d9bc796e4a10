# SPDX-License-Identifier: MIT
# What each role reads: an ingest token sees the state of its own uploads
# (no upload text, no audit trail, no moderator's name) and nothing of other
# uploads; moderators, policy authors and admins see the whole item. Feeds
# show ids only; /v1/stats names moderators to every role but ingest.
import json
import sys
import time
sys.dont_write_bytecode = True
import sluicetest as st

INGEST_KEYS = {"id", "creator", "state", "tags", "reasons", "created_ms", "updated_ms",
               "counters"}
SECRET = "the secret words of a rejected transcript"


def token(d, name, role):
    return d.post("/v1/tokens", {"name": name, "role": role}).json["token"]


def decide(t, d, mod, item, decision, **extra):
    """Claim item as mod (the only one waiting) and decide it."""
    r = d.post("/v1/queue/claim", {"limit": 50}, token=mod)
    claimed = [c for c in (r.json or {}).get("items", []) if c["id"] == item]
    t.require(claimed, "the moderator claims %s" % item, r)
    body = {"decision": decision, "fence": claimed[0]["fence"]}
    body.update(extra)
    t.status(d.post("/v1/items/%s/decision" % item, body, token=mod), 200,
             "%s %s as the moderator" % (decision, item))


def body(t):
    d = t.daemon(conf='log_level = "warn"\n')
    ing = token(d, "feeder", "ingest")
    other = token(d, "other-feeder", "ingest")
    mod = token(d, "alice-mod", "moderator")
    pol = token(d, "pat-policy", "policy")

    # No policies: every upload goes to people.
    up = st.upload("rv-1", transcript=SECRET, description="a description",
                   thumbnail="https://cdn.example.com/rv-1.jpg")
    t.status(d.post("/v1/uploads", up, token=ing), 202, "feeder uploads rv-1")
    decide(t, d, mod, "rv-1", "reject", reason="Spam: " + SECRET, tags={"spam": 0.9})

    # ---- ingest: its own upload, narrowed -------------------------------
    r = d.item("rv-1", token=ing)
    t.status(r, 200, "feeder reads its own upload rv-1")
    j = r.json or {}
    t.check(set(j) == INGEST_KEYS, "  ... and sees exactly %s" % sorted(INGEST_KEYS), sorted(j))
    t.check(j.get("state") == "rejected", "  ... its state: rejected", j.get("state"))
    text = r.body.decode()
    t.check(SECRET not in text and "a description" not in text,
            "  ... not the transcript, description or reject reason")
    t.check("alice-mod" not in text, "  ... no moderator's name anywhere", text)
    t.check((j.get("tags", {}).get("spam") or {}).get("source") == "moderator",
            "  ... a moderator's tag says source 'moderator'", j.get("tags"))
    t.check(set(j.get("counters", {})) == set(st.EVENT_TYPES), "  ... and its counters",
            j.get("counters"))

    # ---- ingest: another's upload does not exist for it ------------------
    r = d.item("rv-1", token=other)
    t.error(r, 404, "not_found", "another ingest token reads rv-1")
    missing = d.item("rv-none", token=other)
    t.check(r.json == json.loads(missing.body.decode().replace("rv-none", "rv-1")),
            "  ... with the very answer a missing id gets", (r.json, missing.json))
    t.status(d.post("/v1/uploads", st.upload("rv-admin")), 202, "admin uploads rv-admin")
    t.error(d.item("rv-admin", token=ing), 404, "not_found", "feeder reads the admin's upload")

    # ---- the other roles: the whole item ---------------------------------
    for who, tok in (("moderator", mod), ("policy", pol), ("admin", d.token)):
        r = d.item("rv-1", token=tok)
        j = r.json or {}
        t.check(r.status == 200 and j.get("upload", {}).get("transcript") == SECRET and
                any(a.get("actor") == "token:alice-mod" for a in j.get("audit", [])) and
                "waves" in j, "%s reads rv-1 whole: the transcript, the audit trail with the "
                "moderator, the waves" % who, r)

    # ---- feeds: ids, creators, where from, nothing else -------------------
    t.status(d.req("PUT", "/v1/follows/u1/c1", token=ing), 200, "u1 follows c1")
    t.status(d.post("/v1/uploads", st.upload("rv-2"), token=ing), 202, "feeder uploads rv-2")
    decide(t, d, mod, "rv-2", "approve")
    deadline = time.monotonic() + 10
    items = []
    while time.monotonic() < deadline and not items:
        r = d.get("/v1/feed/u1", token=ing)
        items = (r.json or {}).get("items", [])
        if not items:
            time.sleep(0.1)
    t.check([i.get("id") for i in items] == ["rv-2"], "u1's feed has rv-2", items)
    t.check(all(set(i) == {"id", "creator", "source", "stage"} for i in items),
            "  ... each entry is {id, creator, source, stage} only", items)
    t.error(d.get("/v1/feed/u1", token=mod), 403, "forbidden", "a moderator reads a feed")

    # ---- /v1/stats --------------------------------------------------------
    r = d.get("/v1/stats", token=ing)
    t.check(r.status == 200 and "moderators" not in (r.json or {}) and
            "alice-mod" not in r.body.decode(), "/v1/stats for ingest names no moderator", r)
    r = d.get("/v1/stats", token=mod)
    t.check(r.status == 200 and "token:alice-mod" in (r.json or {}).get("moderators", {}),
            "/v1/stats for a moderator has the moderators' figures", r)
    t.stopped(d)


st.main(body)
