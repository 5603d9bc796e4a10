# SPDX-License-Identifier: MIT
# No row stored that cannot be listed: every text field at its limit in
# multi-byte characters (uploads, decisions, escalations, takedowns, policy
# holds, ids at their longest), read back through every listing and
# sluicectl view; a row edited by hand into bad UTF-8 is an error and a log
# line, never a gap.
import os
import sqlite3
import sys
sys.dont_write_bytecode = True
import sluicetest as st

EURO = "\u20ac"             # three bytes
CLEF = "\U0001d11e"         # four bytes

# Policy holds: a reason longer than the 255 bytes a review answer keeps,
# cut there on a character boundary (85 euros).
POLICY = """
function review(item)
  if item.title:sub(1, 4) == "hold" then
    return "review", { queue = "%s", reason = string.rep("\\u{20ac}", 100) }
  end
  return "review", { queue = "default", reason = "look" }
end
""" % ("q" * 63)


def claim(d, tok, queue=None):
    body = {"queue": queue} if queue else {}
    r = d.post("/v1/queue/claim", body, token=tok)
    items = (r.json or {}).get("items") or []
    if r.status != 200 or len(items) != 1:
        raise st.Failed("claim %s: %r" % (queue, r))
    return items[0]


def records_of(t, d, item):
    r = d.get("/v1/audit?item=%s&limit=1000" % item)
    t.require(r.status == 200, "GET /v1/audit?item=%s" % item, r)
    return r.json["records"]


def body(t):
    d = t.daemon(start=False)
    with open(os.path.join(d.policies, "review.lua"), "w") as f:
        f.write(POLICY)
    d.start()
    mods = {}
    for name in ("m1", "m2"):
        r = d.post("/v1/tokens", {"name": name, "role": "moderator"})
        t.require(r.status == 201, "a moderator token " + name, r)
        mods[name] = r.json["token"]
    long_name = "t" * 128
    r = d.post("/v1/tokens", {"name": long_name, "role": "ingest"})
    t.status(r, 201, "a token with a 128-character name")

    # Uploads at every text limit, in three- and four-byte characters.
    up = {"id": "i" * 128, "creator": "c" * 128, "title": EURO * 1000,
          "description": CLEF * 10000, "transcript": EURO * 100000, "city": CLEF * 128,
          "thumbnail": "https://example.org/" + "a" * 2028,
          "tags": {"g" * 128: 0.5}}
    r = d.post("/v1/uploads", up)
    t.status(r, 202, "an upload with every text at its limit (title 1,000 euros, ...)")
    big = up["id"]
    r = d.post("/v1/uploads", st.upload("hold1", title="hold " + EURO))
    t.status(r, 202, "an upload the policy holds with a 300-byte reason")
    for n in ("esc", "down", "ok"):
        t.status(d.post("/v1/uploads", st.upload(n)), 202, "upload " + n)
    r = d.post("/v1/uploads", st.upload("toolong", title=EURO * 1001))
    t.error(r, 422, "invalid", "a title of 1,001 euros", field="title")

    # Decisions: an escalation of "a" + 999 euros (the report's case), then
    # a reject of 1,000 clefs by the other moderator, an approve of 1,000
    # euros with decision tags at their longest names.
    esc_reason = "a" + EURO * 999
    seen = set()
    while not {"esc", "ok"} <= seen:
        c = claim(d, mods["m1"], "default")
        seen.add(c["id"])
        if c["id"] == "esc":
            r = d.post("/v1/items/esc/decision", {"decision": "escalate", "reason": esc_reason,
                                                  "fence": c["fence"]}, token=mods["m1"])
            t.status(r, 200, "escalate with a reason of 'a' + 999 euros")
        elif c["id"] == "ok":
            r = d.post("/v1/items/ok/decision",
                       {"decision": "approve", "reason": EURO * 1000, "fence": c["fence"],
                        "tags": {"x" * 128: 0.9}}, token=mods["m1"])
            t.status(r, 200, "approve with a reason of 1,000 euros and a 128-character tag")
    r = d.post("/v1/items/esc/decision", {"decision": "reject", "reason": CLEF * 1001,
                                          "fence": 1}, token=mods["m2"])
    t.error(r, 422, "invalid", "a reason of 1,001 clefs", field="reason")
    r = d.post("/v1/items/down/takedown", {"reason": EURO * 500})
    t.status(r, 200, "a takedown with a reason of 500 euros")
    r = d.post("/v1/items/down/takedown", {"reason": EURO * 501})
    t.error(r, 422, "invalid", "a takedown reason of 501 euros", field="reason")

    # The queue: the escalated item is listed, its reason whole, and the
    # depths agree with the list.
    r = d.get("/v1/queue?limit=1000")
    t.require(r.status == 200, "GET /v1/queue", r)
    listed = {i["id"]: i for i in r.json["items"]}
    depth = sum(q["depth"] for q in r.json["queues"])
    t.check(depth == len(listed), "queue depths add up to the items listed (%d)" % depth,
            (depth, sorted(listed)))
    t.check(listed.get("esc", {}).get("reason") == esc_reason,
            "the escalated item is listed with its whole reason", listed.get("esc"))
    t.check(listed.get(big, {}).get("title") == EURO * 1000,
            "the 1,000-euro title is listed whole")
    t.check(listed.get("hold1", {}).get("reason") == EURO * 85
            and listed["hold1"].get("queue") == "q" * 63,
            "the policy's 300-byte reason is cut to 85 whole euros, in a 63-character queue",
            listed.get("hold1"))

    # The item, then its audit trail: every record there, reasons whole.
    r = d.item(big)
    if t.status(r, 200, "GET the upload at every limit"):
        u = r.json["upload"]
        t.check(all(u.get(k) == up[k] for k in ("title", "description", "transcript", "city",
                                                 "thumbnail")),
                "title, description, transcript, city and thumbnail come back whole")
    recs = records_of(t, d, "esc")
    t.check([x["action"] for x in recs] == ["upload", "verdict", "claim", "escalate"],
            "esc's audit: upload, verdict, claim, escalate", [x["action"] for x in recs])
    t.check(recs and recs[-1]["reason"] == esc_reason, "the escalation record's reason is whole")
    r = d.item("esc")
    t.check(r.status == 200 and [x["action"] for x in r.json.get("audit", [])]
            == ["upload", "verdict", "claim", "escalate"],
            "GET /v1/items/esc has the escalation record", r)
    recs = records_of(t, d, "down")
    t.check(recs and recs[-1]["action"] == "takedown" and recs[-1]["reason"] == EURO * 500,
            "the takedown record, its 500 euros whole", recs[-1:])
    recs = [x for x in records_of(t, d, "ok") if x["action"] == "approve"]
    t.check(len(recs) == 1 and recs[0]["reason"] == EURO * 1000,
            "the approval record, its 1,000 euros whole", recs)
    recs = records_of(t, d, "hold1")
    t.check(recs and recs[-1]["reason"] == EURO * 85, "the hold's verdict record", recs[-1:])

    # Escalated, the item waits for someone else: m2 rejects with 1,000 clefs.
    c = claim(d, mods["m2"], "escalated")
    r = d.post("/v1/items/esc/decision", {"decision": "reject", "reason": CLEF * 1000,
                                          "fence": c["fence"]}, token=mods["m2"])
    t.status(r, 200, "reject with a reason of 1,000 clefs")
    recs = records_of(t, d, "esc")
    t.check(recs and recs[-1]["reason"] == CLEF * 1000, "the reject record's reason is whole")

    # The whole trail: no seq missing, as many as the head says.
    r = d.get("/v1/audit?limit=1000")
    head = d.get("/v1/audit/head").json
    seqs = [x["seq"] for x in (r.json or {}).get("records", [])]
    t.check(r.status == 200 and seqs == list(range(1, head["seq"] + 1)),
            "GET /v1/audit lists every record 1..%d" % head["seq"], seqs[-5:])
    r = d.get("/v1/audit/verify")
    t.check(r.status == 200 and r.json.get("ok") is True
            and r.json.get("checked") == head["seq"], "the chain verifies whole", r)
    r = d.get("/v1/stats")
    t.check(r.status == 200 and r.json.get("moderators", {}).get("token:m2", {}).get("reject")
            == 1, "GET /v1/stats counts m2's reject", r)
    r = d.get("/v1/tokens")
    t.check(r.status == 200 and long_name in [x["name"] for x in r.json["tokens"]],
            "GET /v1/tokens lists the 128-character name", r)

    # sluicectl's views of the same.
    ctl = lambda *a: st.run([st.program("sluicectl"), "--url", d.url, "--token", d.token]
                            + list(a))
    p = ctl("item", "esc")
    t.check(p.returncode == 0 and "a" + EURO * 10 in p.stdout, "sluicectl item esc", p.stderr)
    p = ctl("item", big)
    t.check(p.returncode == 0 and EURO * 10 in p.stdout, "sluicectl item (every limit)",
            p.stderr)
    p = ctl("queue", "--limit", "1000")
    t.check(p.returncode == 0 and "hold1" in p.stdout, "sluicectl queue", p.stderr)
    p = ctl("stats")
    t.check(p.returncode == 0 and "token:m2" in p.stdout, "sluicectl stats", p.stderr)
    p = ctl("token", "list")
    t.check(p.returncode == 0 and long_name in p.stdout, "sluicectl token list", p.stderr)
    p = ctl("audit", "verify")
    t.check(p.returncode == 0, "sluicectl audit verify", p.stderr)

    # A record edited by hand into bytes JSON cannot carry: the listings say
    # so (503, a log line naming it), they never leave it out.
    t.stopped(d)
    db = sqlite3.connect(os.path.join(d.state, "sluice.db"))
    bad = db.execute("SELECT seq FROM audit WHERE item = 'ok' AND action = 'approve'").fetchone()[0]
    db.execute("UPDATE audit SET reason = CAST(X'61E282' AS TEXT) WHERE seq = ?", (bad,))
    db.execute("UPDATE queue SET reason = CAST(X'61E282' AS TEXT) WHERE item = 'hold1'")
    db.commit()
    db.close()
    d.start()
    t.error(d.get("/v1/audit?limit=1000"), 503, "unavailable",
            "GET /v1/audit over the edited record")
    t.error(d.item("ok"), 503, "unavailable", "GET /v1/items/ok over its edited record")
    r = d.get("/v1/audit?after=%d" % bad)
    t.status(r, 200, "GET /v1/audit after the edited record")
    t.error(d.get("/v1/queue"), 503, "unavailable", "GET /v1/queue over the edited entry")
    t.check("audit record %d cannot be listed" % bad in d.logs(),
            "the log names the audit record")
    t.check("the queue entry of item hold1 cannot be listed" in d.logs(),
            "the log names the queue entry")
    p = ctl("item", "ok")
    t.check(p.returncode == 1 and "cannot be read" in p.stderr,
            "sluicectl item ok says it cannot be read", p.stderr)


st.main(body)
