# SPDX-License-Identifier: MIT
# Today's sluiced opens a store written by the last release of the previous
# schema version (tests/ops/fixtures/schema5.sql, made by make-schema5.py
# from git history), migrates it, and every record reads back through the
# API as that release answered it (schema5.json): items with their tags,
# verdicts, counters, audit trails and waves, the queue with its claims and
# escalation, users, follows, hash banks, feeds, tokens. The audit chain
# verifies, and the daemon goes on working on the old records.
import collections
import json
import os
import re
import sqlite3
import sys
import time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import opstest as ot  # noqa: E402
st = ot.st

FIXTURES = os.path.join("tests", "ops", "fixtures")

# Keys of an item that never change once the item is stored, and those that
# change only with its state.
FIXED = ("id", "creator", "upload", "tags", "reasons", "created_ms", "matches", "verdict",
         "counters")
WAVE_FIXED = ("n", "audience", "size", "started_ms", "limit_ms")


def load_store(state, src):
    """schema5.sql into STATE/sluice.db, as `sqlite3 sluice.db < schema5.sql`."""
    with open(os.path.join(src, FIXTURES, "schema5.sql")) as f:
        sql = f.read()
    db = sqlite3.connect(os.path.join(state, "sluice.db"), isolation_level=None)
    try:
        db.executescript(sql)
        return db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()


def user_version(state):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(state, "sluice.db"), uri=True)
    try:
        return db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()


def differences(old, new, keys, what):
    out = []
    for k in keys:
        if k in old and old.get(k) != new.get(k):
            out.append("%s %s: was %s, now %s" % (what, k, json.dumps(old.get(k))[:200],
                                                   json.dumps(new.get(k))[:200]))
    return out


def compare_item(uid, old, new):
    """What differs between the old release's answer and today's, beyond
    what the daemon may have done since (a running distribution goes on)."""
    bad = differences(old, new, FIXED, uid)
    moving = old["state"] == "distributing"
    if not moving:
        bad += differences(old, new, ("state", "updated_ms"), uid)
    elif new.get("state") not in ("distributing", "settled"):
        bad.append("%s: was distributing, now %s" % (uid, new.get("state")))
    # The trail only grows: the old records first, unchanged.
    oa, na = old.get("audit") or [], new.get("audit") or []
    if len(na) < len(oa):
        bad.append("%s: %d audit records, was %d" % (uid, len(na), len(oa)))
    for o, n in zip(oa, na):
        bad += differences(o, n, sorted(o), "%s audit seq %s" % (uid, o.get("seq")))
    ow, nw = old.get("waves") or [], new.get("waves") or []
    if len(nw) < len(ow):
        bad.append("%s: %d waves, was %d" % (uid, len(nw), len(ow)))
    for o, n in zip(ow, nw):
        ended = bool(o.get("ended_ms"))
        keys = sorted(o) if ended else WAVE_FIXED
        bad += differences(o, n, keys, "%s wave %s" % (uid, o.get("n")))
    return bad


def feed(d, user, tab="mixed"):
    r = d.get("/v1/feed/%s?tab=%s&limit=100" % (user, tab))
    return [x["id"] for x in (r.json or {}).get("items", [])]


def body(t):
    src = st.srcdir()
    with open(os.path.join(src, FIXTURES, "schema5.json")) as f:
        m = json.load(f)

    d = ot.Daemon(t, ot.plugins_conf())
    ot.shipped_policies(d)
    os.remove(os.path.join(d.policies, "30-distribute.lua"))
    # The wave fixture the old release ran with, as this tree has it.
    with open(os.path.join(src, "tests", "dist", "waves", "30-waves.lua")) as f, \
            open(os.path.join(d.policies, "30-waves.lua"), "w") as g:
        g.write(f.read())
    t.require(load_store(d.state, src) == m["schema"] == 5,
              "the fixture loads into a store of schema version 5 (release %s)"
              % m["release"][:12])
    tok_path = os.path.join(d.state, "admin.token")
    with open(os.open(tok_path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(m["admin_token"] + "\n")

    # {====== the migration ======
    d.start()
    logs = d.logs()
    versions = [int(v) for v in re.findall(r"migrated schema to version (\d+)", logs)]
    t.check(versions and versions[0] == 6 and versions == list(range(6, versions[-1] + 1)),
            "start: the store migrates from version 5 through every later one", logs[-2000:])
    t.check("first start" not in d.stdout(), "  ... and is not taken for a first start")
    with open(tok_path) as f:
        t.check(f.read().strip() == m["admin_token"], "  ... admin.token is left alone")
    t.check(versions and user_version(d.state) == versions[-1],
            "  ... PRAGMA user_version is the last one migrated to", versions)

    # {====== tokens ======
    t.status(d.get("/v1/status"), 200, "the old admin token authenticates")
    roles = {"ingest": ("GET", "/v1/feed/w00"), "moderator": ("GET", "/v1/queue"),
             "policy": ("GET", "/v1/policies"), "admin": ("DELETE", "/v1/tokens/no-such")}
    for name, tk in sorted(m["tokens"].items()):
        if tk.get("revoked"):
            r = d.get("/v1/status", token=tk["token"])
            t.error(r, 401, "unauthorized", "revoked token %s still refused" % name)
            continue
        method, path = roles[tk["role"]]
        r = d.req(method, path, token=tk["token"])
        want = 404 if tk["role"] == "admin" else 200
        t.check(r.status == want, "token %s (%s) authenticates with its role: %s %s -> %d"
                % (name, tk["role"], method, path, want), r)
        if tk["role"] == "ingest":
            r = d.get("/v1/queue", token=tk["token"])
            t.error(r, 403, "forbidden", "  ... and ingest still may not read the queue")
    mod = m["tokens"]["mod-ann"]["token"]
    bob = m["tokens"]["mod-bob"]["token"]

    # {====== items, audit, waves ======
    now = {}
    bad = []
    for uid, old in sorted(m["items"].items()):
        r = d.item(uid)
        if r.status != 200:
            bad.append("%s: %r" % (uid, r))
            continue
        now[uid] = r.json
        bad += compare_item(uid, old, r.json)
    t.check(not bad, "all %d items read back as the old release answered: fields, tags, "
            "verdicts, counters, audit trails, waves" % len(m["items"]), bad[:20])
    t.check(set(m["states"]) >= {"in_review", "rejected", "distributing", "settled", "removed"},
            "  ... items in every state kept at rest (%s)" % ", ".join(m["states"]))
    r = d.get("/v1/audit/verify")
    t.check(r.status == 200 and (r.json or {}).get("ok") is True
            and r.json.get("checked", 0) >= m["audit_verify"]["checked"],
            "the audit chain verifies (%d old records)" % m["audit_verify"]["checked"], r)
    counts = collections.Counter(i["state"] for i in now.values())
    st_items = (d.get("/v1/status").json or {}).get("items", {})
    t.check({k: v for k, v in st_items.items() if v} == dict(counts),
            "items per state (kept by the new schema's triggers) match the items", st_items)

    # {====== queue, claims, escalation ======
    q = d.get("/v1/queue?limit=100", token=mod).json or {}
    rows = {x["id"]: x for x in q.get("items", [])}
    bad = []
    for o in m["queue"]["items"]:
        n = rows.get(o["id"])
        if not n:
            bad.append("%s is not in the queue" % o["id"])
            continue
        bad += differences(o, n, ("queue", "priority", "reason", "enqueued_ms", "escalated_by",
                                  "creator", "title"), o["id"])
        live = (o.get("lease_until_ms") or 0) > (q.get("now_ms") or 0)
        if n.get("claimed_by") != (o.get("claimed_by") if live else None):
            bad.append("%s claimed_by %s (lease %s, now %s)" % (o["id"], n.get("claimed_by"),
                                                                o.get("lease_until_ms"),
                                                                q.get("now_ms")))
    t.check(not bad and len(rows) == len(m["queue"]["items"]),
            "the queue reads back: %d items, queues, priorities, reasons, escalation, claims "
            "(expired since)" % len(m["queue"]["items"]), bad)
    old_fences = [c["fence"] for c in m["claims"].values()]
    c = m["claims"]["r-nsfw-4"]
    r = d.post("/v1/items/r-nsfw-4/decision",
               {"decision": "approve", "reason": "", "fence": c["fence"]}, token=bob)
    t.error(r, 409, "conflict", "another moderator deciding with a stored claim's fence")
    lease = next(x for x in m["queue"]["items"] if x["id"] == "r-nsfw-4")["lease_until_ms"]
    if lease < q.get("now_ms", 0):
        r = d.post("/v1/items/r-nsfw-4/decision",
                   {"decision": "approve", "reason": "", "fence": c["fence"]}, token=mod)
        t.error(r, 409, "lease_expired", "its holder deciding after the lease ran out")
    else:
        print("note: the fixture's claims are still live (it was just remade)")
    r = d.post("/v1/queue/claim", {"queue": "escalated"}, token=mod)
    t.check(r.status == 200 and (r.json or {}).get("items") == [],
            "r-nsfw-3 is not offered back to the moderator who escalated it", r)
    r = d.post("/v1/queue/claim", {"queue": "escalated"}, token=bob)
    got = (r.json or {}).get("items") or [{}]
    t.check(got[0].get("id") == "r-nsfw-3" and got[0].get("fence", 0) > max(old_fences),
            "another moderator claims it, with a fence above every old one (%d)"
            % max(old_fences), r)
    r = d.post("/v1/items/r-nsfw-3/decision", {"decision": "reject", "reason": "seen twice",
                                                "fence": got[0].get("fence")}, token=bob)
    t.check(r.status == 200 and d.item("r-nsfw-3").json.get("state") == "rejected",
            "  ... and decides it", r)

    # {====== users, follows, feeds, hash banks, events ======
    bad = []
    for u, old in sorted(m["users"].items()):
        r = d.post("/v1/users", {"id": u})
        if r.json != old:
            bad.append((u, old, r.json))
    t.check(not bad, "all %d users read back (city, interests)" % len(m["users"]), bad[:5])

    served = {u: feed(d, u) for u in m["served"]}
    t.check(not any("i-slow" in got for got in served.values()),
            "followers served i-slow before the upgrade are not served it again", served)
    pending = {u: feed(d, u) for u in m["placed_unserved"]}
    t.check(all("i-slow" in got for got in pending.values()),
            "followers it was placed for, who had not read their feed, get it now", pending)

    fans = sorted(f for f, c in m["follows"] if c == "fc")
    quitter = [f for f, c in m["unfollowed"] if c == "fc"]
    r = d.post("/v1/uploads", {"id": "n-follow", "creator": "fc", "title": "stop"})
    t.status(r, 202, "a new upload by fc after the upgrade")
    w = (d.item("n-follow").json or {}).get("waves") or [{}]
    t.check(w[0].get("audience") == "followers" and w[0].get("placed") == len(fans),
            "its followers wave reaches the %d stored followers" % len(fans), w)
    t.check(all("n-follow" in feed(d, u, "follow") for u in fans)
            and not any("n-follow" in feed(d, u, "follow") for u in quitter),
            "  ... each of them (tab=follow), not the one who unfollowed")

    def tags(r):
        return sorted((r.json or {}).get("tags", {}))
    r = d.post("/v1/uploads", {"id": "n-known", "creator": "cr", "title": "again",
                               "hashes": [m["banks"]["known"][1]]})
    t.check(r.status == 202 and r.json.get("state") == "rejected" and "hash.known" in tags(r),
            "an upload with a hash of bank known is tagged and rejected", r)
    r = d.post("/v1/uploads", {"id": "n-other", "creator": "cr", "title": "other",
                               "hashes": [m["banks"]["other"][0]]})
    t.check(r.status == 202 and "hash.other" in tags(r), "  ... bank other too", r)
    r = d.post("/v1/uploads", {"id": "n-removed", "creator": "cr", "title": "gone",
                               "hashes": [m["banks"]["removed"][0]]})
    t.check(r.status == 202 and not any(x.startswith("hash.") for x in tags(r)),
            "  ... a hash removed from the bank matches nothing", r)

    before = m["items"]["i-cont"]["counters"]
    r = d.post("/v1/events", {"item": "i-cont", "user": "w00", "type": "like"})
    t.status(r, 202, "an event on an old item")
    want = dict(before, like=before["like"] + 1)
    ok = False
    for _ in range(50):
        if (d.item("i-cont").json or {}).get("counters") == want:
            ok = True
            break
        time.sleep(0.1)
    t.check(ok, "  ... counts on top of its migrated counters", d.item("i-cont").json.get("counters"))

    # {====== again ======
    t.stopped(d)
    d.start()
    t.check("migrated" not in d.stdout() + open(d.stderr_path).read(),
            "a second start finds the schema current")
    r = d.get("/v1/audit/verify")
    t.check((r.json or {}).get("ok") is True, "  ... and the audit chain still verifies", r)
    t.stopped(d)


st.main(body)
