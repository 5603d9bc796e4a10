# SPDX-License-Identifier: MIT
"""Review over HTTP: tags from signals, the shipped policies' verdicts,
failing review hooks, policy reload and check, the human queue (claims,
fences, leases, escalation, racing moderators), the audit chain and its
tamper check, hash banks and keyword lists."""
import os
import re
import signal
import sqlite3
import threading
import sys
import time

sys.dont_write_bytecode = True    # keep the source tree clean
import disttest as dt  # noqa: E402
from disttest import st  # noqa: E402

LEASE = 5           # claim_lease_seconds: the smallest the daemon accepts


def conf_with_plugins():
    lines = ["claim_lease_seconds = %d" % LEASE]
    ph, kw = dt.plugin("phash"), dt.plugin("keyword")
    plugins = []
    if ph:
        plugins.append('{ name = "phash", path = %s }' % dt.lua_str(ph))
    if kw:
        lists = os.path.join(st.srcdir(), "policies", "keywords")
        plugins.append('{ name = "keyword", path = %s, lists = %s }'
                       % (dt.lua_str(kw), dt.lua_str(lists)))
    if plugins:
        lines.append("plugins = { %s }" % ", ".join(plugins))
    return "\n".join(lines) + "\n", ph, kw


def up(d, n, **extra):
    b = {"id": n, "creator": extra.pop("creator", "rc1"), "title": extra.pop("title", "clip " + n)}
    b.update(extra)
    return d.post("/v1/uploads", b)


def policy_version(d):
    r = d.get("/v1/policies")
    return (r.json or {}).get("version") if r.status == 200 else None


# {====================== Tags and verdicts ===============================

def tags_and_verdicts(t, d):
    version = policy_version(d)
    t.require(bool(version), "GET /v1/policies has a version", d.get("/v1/policies"))

    r = up(d, "kid", signals={"face.age": 8})
    tags = (r.json or {}).get("tags", {})
    t.check(r.status == 202 and "age.child" in tags
            and tags["age.child"].get("source") == "policy"
            and abs(tags["age.child"].get("confidence", 0) - 0.8) < 1e-6,
            "face.age 8 -> tag age.child (confidence 0.8, source policy)", r)
    t.check(r.json.get("state") == "in_review"
            and r.json.get("reasons") == ["a child may be on screen"],
            "face.age 8 -> in_review with the minors reason", r)
    q = d.get("/v1/queue?queue=minors")
    ids = [i["id"] for i in (q.json or {}).get("items", [])]
    t.check(q.status == 200 and "kid" in ids
            and all(i["queue"] == "minors" and i["priority"] == 90
                    for i in q.json["items"] if i["id"] == "kid"),
            "the child item waits in queue minors with priority 90", q)

    r = up(d, "adult", signals={"face.age": 34})
    t.check("age.adult" in (r.json or {}).get("tags", {}) and r.json.get("state") == "approved",
            "face.age 34 -> age.adult and approved", r)

    r = up(d, "hug", signals={"emotion.joy": 0.8, "emotion.sadness": 0.75})
    tags = (r.json or {}).get("tags", {})
    ok = (set(tags) >= {"emotion.joy", "emotion.sadness", "emotion.ambiguous"}
          and abs(tags["emotion.joy"]["confidence"] - 0.48) < 1e-6
          and abs(tags["emotion.sadness"]["confidence"] - 0.45) < 1e-6
          and abs(tags["emotion.ambiguous"]["confidence"] - 2 / 3) < 1e-6)
    t.check(ok, "emotions 0.80/0.75 -> both tagged at 0.6x and emotion.ambiguous 0.667", r)
    r = up(d, "smile", signals={"emotion.joy": 0.9, "emotion.sadness": 0.2})
    tags = (r.json or {}).get("tags", {})
    t.check("emotion.joy" in tags and "emotion.ambiguous" not in tags
            and "emotion.sadness" not in tags
            and abs(tags["emotion.joy"]["confidence"] - 0.9) < 1e-6,
            "emotions 0.9/0.2 -> emotion.joy alone, not ambiguous", r)

    for bpm, tempo in ((70, "slow"), (110, "medium"), (150, "fast")):
        r = up(d, "bpm%d" % bpm, signals={"music.bpm": bpm})
        tags = (r.json or {}).get("tags", {})
        others = {"music.slow", "music.medium", "music.fast"} - {"music." + tempo}
        t.check("music." + tempo in tags and not (others & set(tags)),
                "music.bpm %d -> music.%s only" % (bpm, tempo), r)

    r = up(d, "nsfw", signals={"nsfw.score": 0.95})
    t.check(r.status == 202 and r.json.get("state") == "rejected"
            and r.json.get("reasons") == ["nsfw.score 0.95"],
            "nsfw.score 0.95 -> rejected, reason nsfw.score 0.95", r)
    r = up(d, "nsfw-mid", signals={"nsfw.score": 0.6})
    t.check(r.json.get("state") == "in_review", "nsfw.score 0.6 -> in_review", r)
    q = d.get("/v1/queue?queue=nsfw")
    t.check("nsfw-mid" in [i["id"] for i in (q.json or {}).get("items", [])],
            "nsfw.score 0.6 waits in queue nsfw", q)

    r = up(d, "plain")
    t.check(r.status == 202 and r.json.get("state") == "approved" and r.json.get("reasons") == [],
            "a plain upload -> approved with no reasons", r)
    it = d.item("plain").json or {}
    v = it.get("verdict") or {}
    t.check(v.get("actor") == "policy:" + version and v.get("state") == "approved"
            and v.get("failed") is False,
            "GET /v1/items/plain: verdict by policy:%s, not failed" % version, it.get("verdict"))
    actions = [(a.get("action"), a.get("from"), a.get("to")) for a in it.get("audit", [])]
    t.check(len(actions) >= 2 and actions[0] == ("upload", None, "pending")
            and actions[1][0] == "verdict" and actions[1][1] == "pending",
            "audit of plain starts with upload (to pending) then verdict (from pending)", actions)
    t.check(it.get("state") in ("approved", "distributing", "settled"),
            "plain is approved or on its way (%s)" % it.get("state"), it.get("state"))

# }=======================================================================


# {====================== Plugins: hash banks and keywords ================

def flip(h, bits):
    v = int(h, 16)
    for b in bits:
        v ^= 1 << b
    return "%016x" % v


def plugins(t, d, ph, kw):
    if not ph:
        print("note: plugins/phash is not built here; hash bank checks skipped")
    else:
        bad = "d1c3b5a79e8f6042"
        r = d.post("/v1/hashbanks/bad", {"add": [bad]})
        t.check(r.status == 200 and r.json.get("bank") == "bad" and r.json.get("added") == 1,
                "POST /v1/hashbanks/bad {add:[1 hash]} -> 200 added 1", r)
        r = up(d, "near-bad", hashes=[flip(bad, (0, 17, 40))])
        reasons = " ".join((r.json or {}).get("reasons", []))
        t.check(r.status == 202 and r.json.get("state") == "rejected" and "bad" in reasons
                and "distance 3" in reasons,
                "an upload 3 bits from a banked hash -> rejected, reason names bank bad", r)
        it = d.item("near-bad").json or {}
        ms = [m for m in it.get("matches", []) if m.get("kind") == "hash"]
        t.check(ms and ms[0].get("name") == "bad" and ms[0].get("score") == 3,
                "GET /v1/items/near-bad: a hash match in bank bad at distance 3",
                it.get("matches"))
        r = up(d, "far-ish", hashes=[flip(bad, (1, 2, 3, 4, 5, 6))])
        t.check((r.json or {}).get("state") == "in_review"
                and any("bad" in x for x in r.json.get("reasons", [])),
                "an upload 6 bits away -> in_review (queue hashes)", r)
        r = up(d, "far", hashes=[flip(bad, range(0, 64, 3))])
        t.check((r.json or {}).get("state") == "approved",
                "an upload 22 bits away -> approved", r)
        r = d.post("/v1/hashbanks/bad", {"remove": [bad]})
        t.check(r.status == 200 and r.json.get("removed") == 1,
                "POST /v1/hashbanks/bad {remove:[it]} -> removed 1", r)
        r = up(d, "near-bad-2", hashes=[flip(bad, (0, 17, 40))])
        t.check((r.json or {}).get("state") == "approved",
                "after removal the same near hash is approved", r)

    if not kw:
        print("note: plugins/keyword is not built here; keyword checks skipped")
    else:
        r = up(d, "money", title="get FREE money now")
        t.check(r.status == 202 and r.json.get("state") == "in_review",
                "title with 'free money' -> in_review", r)
        q = d.get("/v1/queue?queue=text")
        t.check("money" in [i["id"] for i in (q.json or {}).get("items", [])],
                "the keyword item waits in queue text", q)
        it = d.item("money").json or {}
        ms = [m for m in it.get("matches", []) if m.get("kind") == "keyword"]
        t.check(ms and abs(ms[0].get("score", 0) - 0.6) < 1e-6
                and ms[0].get("detail", "").lower() == "free money"
                and ms[0].get("field") == "title",
                "GET /v1/items/money: keyword match 'free money' severity 0.6 in the title",
                it.get("matches"))
        r = up(d, "nomoney", title="money for free")
        t.check((r.json or {}).get("state") == "approved",
                "'money for free' (not the phrase) -> approved", r)
    if ph or kw:
        names = [p.get("name") for p in (d.get("/v1/policies").json or {}).get("plugins", [])]
        want = [n for n, p in (("phash", ph), ("keyword", kw)) if p]
        t.check(names == want, "GET /v1/policies lists the plugins %s" % want, names)

# }=======================================================================


# {====================== Reload, SIGHUP, check ===========================

def reload_and_check(t, d):
    v0 = policy_version(d)
    for fx in ("broken-syntax", "broken-runtime"):
        dt.install(d, dt.fixture_files(fx))
        r = d.post("/v1/policies/reload")
        msg = ((r.json or {}).get("error") or {}).get("message", "")
        t.error(r, 422, "policy_error", "POST /v1/policies/reload with %s" % fx)
        line = 5 if fx == "broken-syntax" else 3
        t.check(re.search(r"25-broken\.lua:%d\b" % line, msg),
                "the reload error names 25-broken.lua line %d" % line, msg)
        t.check(policy_version(d) == v0, "after the failed reload the version is still %s" % v0,
                policy_version(d))
        os.remove(os.path.join(d.policies, "25-broken.lua"))
    r = up(d, "after-bad-reload", signals={"nsfw.score": 0.95})
    t.check((r.json or {}).get("state") == "rejected",
            "the old policies still judge uploads after a failed reload", r)

    with open(os.path.join(d.policies, "40-extra.lua"), "w") as f:
        f.write("-- added by the test\nextra_marker = 1\n")
    r = d.post("/v1/policies/reload")
    v1 = (r.json or {}).get("version")
    t.check(r.status == 200 and v1 and v1 != v0 and r.json.get("previous") == v0,
            "a good reload -> 200 with a new version and previous = the old one", r)
    files = [f.get("file") for f in (d.get("/v1/policies").json or {}).get("files", [])]
    t.check(policy_version(d) == v1 and "40-extra.lua" in files,
            "GET /v1/policies shows the new version and the new file", files)
    r = up(d, "after-reload")
    t.check(((d.item("after-reload").json or {}).get("verdict") or {}).get("actor")
            == "policy:%s" % v1, "verdicts now name policy:%s" % v1,
            (d.item("after-reload").json or {}).get("verdict"))

    with open(os.path.join(d.policies, "40-extra.lua"), "a") as f:
        f.write("extra_marker = 2\n")
    d.signal(signal.SIGHUP)
    v2 = dt.wait_for(lambda: (policy_version(d) or v1) != v1 and policy_version(d), 10)
    t.check(v2 and v2 != v1, "SIGHUP reloads: the version changes (%s -> %s)" % (v1, v2), v2)
    t.check(d.running(), "sluiced is still running after SIGHUP")

    good = "function review(item)\n  return 'approve'\nend\n"
    r = d.job("/v1/policies/check", {"name": "x.lua", "source": good})
    t.check(r.status == 200 and r.json == {"ok": True, "name": "x.lua"},
            "POST /v1/policies/check with a good script -> 200 ok", r)
    bad = "function review(item)\n  return 'approve'\nend end\n"
    r = d.job("/v1/policies/check", {"name": "x.lua", "source": bad})
    t.error(r, 422, "policy_error", "POST /v1/policies/check with a bad script", field="source")
    msg = ((r.json or {}).get("error") or {}).get("message", "")
    t.check(":3:" in msg, "the check error names line 3", msg)
    r = d.job("/v1/policies/check", {"source": 42})
    t.error(r, 422, "invalid", "POST /v1/policies/check with a number as source",
            field="source")
    t.check(policy_version(d) == v2, "checks load nothing: the version stays", policy_version(d))

# }=======================================================================


# {====================== Failing review hooks ============================

def failing_hooks(t):
    d = t.daemon(start=False, name="fail", conf="claim_lease_seconds = 5\n")
    dt.install(d, dt.shipped_policies())
    d.start()
    n = 0
    for fx in ("review-error", "review-loop", "review-nonsense", "review-missing"):
        if fx == "review-missing":
            dt.install(d, dt.fixture_files(fx), clear=True)
        else:
            dt.install(d, dt.shipped_policies(), clear=True)
            dt.install(d, dt.fixture_files(fx))
        r = d.post("/v1/policies/reload")
        t.require(r.status == 200, "reload with fixture %s -> 200" % fx, r)
        before = dt.metric(d, "sluice_policy_failures_total", {"hook": "review"}) or 0
        n += 1
        item = "f-%s" % fx
        t0 = time.monotonic()
        try:
            r = st.request(d.port, "POST", "/v1/uploads",
                           {"id": item, "creator": "fc", "title": "plain clip"}, d.token,
                           timeout=10)
        except OSError as e:
            t.check(False, "%s: the upload is answered within 10 s" % fx, e)
            continue
        took = time.monotonic() - t0
        reasons = (r.json or {}).get("reasons") or [""]
        t.check(r.status == 202 and r.json.get("state") == "in_review"
                and reasons[0].startswith("policy_error"),
                "%s: a plain upload goes to people, reason policy_error... (%.2fs)"
                % (fx, took), r)
        it = d.item(item).json or {}
        v = it.get("verdict") or {}
        t.check(v.get("failed") is True and v.get("queue") == "default",
                "%s: verdict failed=true, queue default" % fx, v)
        q = d.get("/v1/queue?queue=default")
        t.check(item in [i["id"] for i in (q.json or {}).get("items", [])],
                "%s: the item waits in queue default" % fx, q)
        after = dt.metric(d, "sluice_policy_failures_total", {"hook": "review"}) or 0
        t.check(after == before + 1,
                "%s: sluice_policy_failures_total{hook=review} %g -> %g" % (fx, before, after),
                after)
        h = st.request(d.port, "GET", "/healthz", timeout=5)
        t.check(h.status == 200, "%s: /healthz still answers" % fx, h)
        r = up(d, item + "-nsfw", signals={"nsfw.score": 0.95})
        t.check((r.json or {}).get("state") in ("in_review", "rejected"),
                "%s: nothing is approved by a failing hook" % fx, r)
    t.stopped(d)

# }=======================================================================


# {====================== The queue =======================================

def claim(d, tok, queue=None, limit=1):
    body = {"limit": limit}
    if queue:
        body["queue"] = queue
    return d.post("/v1/queue/claim", body, token=tok)


def decide(d, tok, item, fence, decision="approve", reason="looked at it"):
    return d.post("/v1/items/%s/decision" % item,
                  {"decision": decision, "reason": reason, "fence": fence}, token=tok)


def kids(d, prefix, n):
    for i in range(n):
        up(d, "%s%d" % (prefix, i), signals={"face.age": 7})
    return ["%s%d" % (prefix, i) for i in range(n)]


def queue_checks(t, d):
    alice = dt.token(t, d, "alice", "moderator")
    bob = dt.token(t, d, "bob", "moderator")
    ingest = dt.token(t, d, "ing", "ingest")

    # Drain what earlier parts queued, so the claims below see only ours.
    for _ in range(100):
        r = claim(d, alice, limit=50)
        items = (r.json or {}).get("items", [])
        if not items:
            break
        for c in items:
            decide(d, alice, c["id"], c["fence"], "reject", "clearing the queue")

    r = claim(d, ingest)
    t.error(r, 403, "forbidden", "POST /v1/queue/claim with an ingest token")
    r = claim(d, alice, queue="minors")
    t.check(r.status == 200 and r.json.get("items") == [],
            "claim on an empty queue -> 200 items []", r)

    # One claim: the item, a fence, a lease.
    kids(d, "q", 1)
    r = claim(d, alice, queue="minors")
    items = (r.json or {}).get("items", [])
    t.check(r.status == 200 and len(items) == 1 and items[0]["id"] == "q0"
            and isinstance(items[0].get("fence"), int) and items[0]["fence"] > 0
            and items[0].get("lease_until_ms", 0) > 0
            and items[0].get("item", {}).get("id") == "q0"
            and r.json.get("lease_seconds") == LEASE,
            "claim returns the item with a fence and a %ds lease" % LEASE, r)
    f = items[0]["fence"] if items else 0
    q = d.get("/v1/queue?queue=minors")
    row = [i for i in (q.json or {}).get("items", []) if i["id"] == "q0"]
    t.check(row and row[0].get("claimed_by") == "alice",
            "GET /v1/queue shows q0 claimed_by alice", q)
    r = claim(d, bob, queue="minors")
    t.check(r.status == 200 and r.json.get("items") == [],
            "bob cannot claim what alice holds", r)
    r = decide(d, alice, "q0", f - 1)
    t.error(r, 409, "conflict", "decision with a stale fence", field="fence")
    r = decide(d, bob, "q0", f)
    t.error(r, 409, "conflict", "bob deciding alice's claim with her fence", field="fence")
    t.check(dt.state(d, "q0") == "in_review", "refused decisions changed nothing")
    r = decide(d, alice, "q0", f, "reject", "a child alone on screen")
    t.check(r.status == 200 and r.json == {"id": "q0", "state": "rejected"},
            "alice decides with her fence -> 200 rejected", r)
    r = decide(d, alice, "q0", f, "approve")
    t.error(r, 409, "conflict", "deciding the same item again")
    t.check(dt.state(d, "q0") == "rejected", "q0 stays rejected")

    # Expired lease.
    kids(d, "e", 1)
    r = claim(d, alice, queue="minors")
    c = ((r.json or {}).get("items") or [{}])[0]
    t.require(c.get("id") == "e0", "alice claims e0", r)
    time.sleep(LEASE + 1.5)
    r = decide(d, alice, "e0", c["fence"])
    t.error(r, 409, "lease_expired", "decision after the lease ran out", field="fence")
    q = d.get("/v1/queue?queue=minors")
    row = [i for i in (q.json or {}).get("items", []) if i["id"] == "e0"]
    t.check(row and row[0].get("claimed_by") is None,
            "the expired item is back in the queue, unclaimed", q)
    r = claim(d, bob, queue="minors")
    c2 = ((r.json or {}).get("items") or [{}])[0]
    t.check(c2.get("id") == "e0" and c2.get("fence", 0) > c["fence"],
            "bob claims e0 again with a larger fence", r)
    r = decide(d, bob, "e0", c2.get("fence"))
    t.check(r.status == 200, "bob decides e0 -> 200", r)

    # Renew extends the lease.
    kids(d, "w", 1)
    r = claim(d, alice, queue="minors")
    c = ((r.json or {}).get("items") or [{}])[0]
    t.require(c.get("id") == "w0", "alice claims w0", r)
    time.sleep(3)
    r = d.post("/v1/items/w0/renew", {"fence": c["fence"]}, token=alice)
    t.check(r.status == 200 and r.json.get("id") == "w0"
            and r.json.get("lease_until_ms", 0) >= c["lease_until_ms"] + 2500,
            "renew -> 200 with a lease at least 2.5 s later", r)
    r2 = d.post("/v1/items/w0/renew", {"fence": c["fence"]}, token=bob)
    t.error(r2, 409, "conflict", "bob renewing alice's claim", field="fence")
    fence = (r.json or {}).get("fence", c["fence"])
    time.sleep(3)               # 6 s after the claim: past the first lease
    r = decide(d, alice, "w0", fence)
    t.check(r.status == 200, "decision 6 s after the claim, within the renewed lease -> 200", r)

    # Escalation.
    kids(d, "x", 1)
    r = claim(d, alice, queue="minors")
    c = ((r.json or {}).get("items") or [{}])[0]
    t.require(c.get("id") == "x0", "alice claims x0", r)
    r = decide(d, alice, "x0", c["fence"], "escalate", "")
    t.error(r, 422, "invalid", "escalate without a reason", field="reason")
    r = decide(d, alice, "x0", c["fence"], "escalate", "not sure: needs a senior look")
    t.check(r.status == 200 and r.json.get("state") == "in_review",
            "alice escalates x0 -> 200 in_review", r)
    q = d.get("/v1/queue?queue=escalated")
    row = [i for i in (q.json or {}).get("items", []) if i["id"] == "x0"]
    t.check(row and row[0].get("escalated_by") == "alice" and row[0].get("claimed_by") is None
            and row[0].get("priority") == 90,
            "x0 is in queue escalated, unclaimed, escalated_by alice, priority kept", q)
    r = claim(d, alice, queue="escalated")
    t.check(r.status == 200 and "x0" not in [i["id"] for i in r.json.get("items", [])],
            "the escalated item is not offered back to alice", r)
    r = decide(d, alice, "x0", c["fence"], "approve")
    t.error(r, 403, "forbidden", "alice deciding the item she escalated")
    r = claim(d, bob, queue="escalated")
    c2 = ((r.json or {}).get("items") or [{}])[0]
    t.check(c2.get("id") == "x0", "bob claims x0 from escalated", r)
    r = decide(d, alice, "x0", c2.get("fence"), "approve")
    t.error(r, (403, 409), ("forbidden", "conflict"), "alice deciding it with bob's fence")
    r = decide(d, bob, "x0", c2.get("fence"), "approve")
    t.check(r.status == 200 and r.json.get("state") in ("approved", "distributing", "settled"),
            "bob approves x0 -> 200", r)

    a = d.get("/v1/audit?item=x0", token=alice)
    recs = (a.json or {}).get("records", [])
    seen = [(x.get("actor"), x.get("action")) for x in recs]
    want = [("token:alice", "claim"), ("token:alice", "escalate"), ("token:bob", "claim"),
            ("token:bob", "approve")]
    t.check(a.status == 200 and all(w in seen for w in want)
            and seen[0] == ("token:admin", "upload"),
            "audit of x0: upload by token:admin, claim/escalate by alice, claim/approve by bob",
            seen)
    seqs = [x.get("seq") for x in recs]
    t.check(seqs == sorted(seqs) and all(isinstance(x.get("hash"), str) and len(x["hash"]) == 64
                                          for x in recs),
            "audit records are in order with SHA-256 hashes", seqs)
    return alice, bob


def race(t, d, alice, bob):
    """Two moderators claim and decide from one queue at the same time."""
    ids = kids(d, "r", 30)
    results = {"alice": [], "bob": []}
    gate = threading.Barrier(2)

    def work(name, tok):
        gate.wait(10)
        for _ in range(200):
            r = claim(d, tok, queue="minors")
            items = (r.json or {}).get("items", [])
            if r.status != 200 or not items:
                return
            c = items[0]
            r = decide(d, tok, c["id"], c["fence"], "approve")
            results[name].append((c["id"], r.status, ((r.json or {}).get("error") or {})
                                  .get("code")))

    ths = [threading.Thread(target=work, args=a, daemon=True)
           for a in (("alice", alice), ("bob", bob))]
    for th in ths:
        th.start()
    for th in ths:
        th.join(120)
    t.require(not any(th.is_alive() for th in ths), "racing moderators finish")
    ok = {}
    for name, rs in results.items():
        for item, status, code in rs:
            if status == 200:
                ok.setdefault(item, []).append(name)
    twice = {k: v for k, v in ok.items() if len(v) > 1}
    t.check(not twice, "racing claims: no item decided twice", twice)
    t.check(sorted(ok) == sorted(ids), "racing claims: all 30 items decided exactly once",
            sorted(set(ids) - set(ok)))
    print("     alice decided %d, bob %d" % (len([1 for v in ok.values() if v == ["alice"]]),
                                             len([1 for v in ok.values() if v == ["bob"]])))

    # Head on: alice's claims run out, bob claims the same items, and both
    # decide every one of them at the same moment.
    ids = kids(d, "h", 5)
    r = claim(d, alice, queue="minors", limit=5)
    ca = {c["id"]: c["fence"] for c in (r.json or {}).get("items", [])}
    t.require(sorted(ca) == ids, "alice claims the 5 items", r)
    time.sleep(LEASE + 1.5)
    r = claim(d, bob, queue="minors", limit=5)
    cb = {c["id"]: c["fence"] for c in (r.json or {}).get("items", [])}
    t.require(sorted(cb) == ids, "after her lease ran out bob claims the same 5", r)
    out = {}
    gate = threading.Barrier(2 * len(ids))

    def one(name, tok, item, fence):
        gate.wait(10)
        r = decide(d, tok, item, fence, "approve" if name == "alice" else "reject",
                   "racing")
        out[(name, item)] = (r.status, ((r.json or {}).get("error") or {}).get("code"))

    ths = [threading.Thread(target=one, args=("alice", alice, i, ca[i]), daemon=True)
           for i in ids]
    ths += [threading.Thread(target=one, args=("bob", bob, i, cb[i]), daemon=True)
            for i in ids]
    for th in ths:
        th.start()
    for th in ths:
        th.join(60)
    for i in ids:
        a, b = out.get(("alice", i)), out.get(("bob", i))
        t.check(b and b[0] == 200 and a and a[0] == 409 and a[1] in ("conflict", "lease_expired")
                and dt.state(d, i) == "rejected",
                "%s: bob's decision 200, alice's stale one 409, state rejected" % i, (a, b))


def audit_checks(t, d):
    r = d.get("/v1/audit/verify")
    n = (r.json or {}).get("checked", 0)
    t.check(r.status == 200 and r.json.get("ok") is True and n > 50,
            "GET /v1/audit/verify -> ok over %d records" % n, r)
    db = os.path.join(d.state, "sluice.db")
    t.require(os.path.exists(db), "the state holds sluice.db")
    con = sqlite3.connect(db, timeout=10)
    try:
        row = con.execute("SELECT seq FROM audit WHERE item = 'x0' AND action = 'escalate'"
                          ).fetchone()
        t.require(row is not None, "the escalate record of x0 is in the audit table")
        seq = row[0]
        con.execute("UPDATE audit SET reason = 'nothing to see' WHERE seq = ?", (seq,))
        con.commit()
    finally:
        con.close()
    r = d.get("/v1/audit/verify")
    t.check(r.status == 200 and r.json.get("ok") is False and r.json.get("bad_seq") == seq
            and r.json.get("message"),
            "after editing record %d: verify -> ok:false, bad_seq %d" % (seq, seq), r)

# }=======================================================================


def body(t):
    conf, ph, kw = conf_with_plugins()
    d = t.daemon(conf=conf, start=False)
    dt.install(d, dt.shipped_policies())
    d.start()
    tags_and_verdicts(t, d)
    plugins(t, d, ph, kw)
    reload_and_check(t, d)
    alice, bob = queue_checks(t, d)
    race(t, d, alice, bob)
    audit_checks(t, d)
    t.stopped(d)
    failing_hooks(t)


if __name__ == "__main__":
    st.main(body, "review")
