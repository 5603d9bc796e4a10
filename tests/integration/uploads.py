# SPDX-License-Identifier: MIT
# Uploads: the 202 answer, the stored item with its audit record, idempotency
# by id, generated ids, every optional field kept as sent.
import re
import sys
sys.dont_write_bytecode = True
import sluicetest as st

STATES = ("pending", "approved", "rejected", "in_review", "distributing", "settled", "removed")


def body(t):
    d = t.daemon()

    full = {
        "id": "v1",
        "creator": "creator-1",
        "title": "A hug at the station \u62e5\u62b1",
        "description": "two people, one train",
        "transcript": "goodbye, see you soon",
        "duration_ms": 15000,
        "city": "Chengdu",
        "thumbnail": "https://example.org/v1.jpg",
        "tags": {"scene.outdoor": 0.75, "emotion.joy": 0.5},
        "signals": {"face.age": 31.5, "music.bpm": 120, "motion.speed": -0.25},
        "hashes": ["00ff00ff00ff00ff", "0123456789abcdef"],
    }
    r = d.post("/v1/uploads", full)
    t.require(r.status == 202, "upload v1 with every field -> 202", r)
    a = r.json or {}
    t.check(set(a) >= {"id", "state", "tags", "reasons"},
            "the answer has id, state, tags, reasons", a)
    t.check(a.get("id") == "v1", "answer id is v1", a)
    # With no policies loaded the missing review hook must never approve:
    # the upload goes to people, and says why.
    t.check(a.get("state") == "in_review", "answer state is in_review (no review hook)", a)
    t.check(any(str(x).startswith("policy_error") for x in a.get("reasons", [])),
            "the reasons say policy_error", a)
    t.check(isinstance(a.get("tags"), dict) and isinstance(a.get("reasons"), list),
            "tags is an object, reasons a list", a)

    r = d.item("v1")
    t.require(r.status == 200, "GET /v1/items/v1 -> 200", r)
    it = r.json
    t.check(it.get("id") == "v1" and it.get("creator") == "creator-1", "item id and creator", it)
    t.check(it.get("state") in STATES, "item state is a documented state", it.get("state"))
    up = it.get("upload") or {}
    for k in ("title", "description", "transcript", "duration_ms", "city", "thumbnail",
              "signals", "hashes"):
        t.check(up.get(k) == full[k], "upload.%s kept as sent" % k, up.get(k))
    tags = it.get("tags") or {}
    for name, conf in full["tags"].items():
        tag = tags.get(name) or {}
        t.check(tag.get("confidence") == conf and tag.get("source") == "upload",
                "tag %s kept with confidence %s, source upload" % (name, conf), tag)
    t.check(isinstance(it.get("created_ms"), int) and isinstance(it.get("updated_ms"), int)
            and it["created_ms"] > 1.6e12 and it["updated_ms"] >= it["created_ms"],
            "created_ms and updated_ms are epoch milliseconds", (it.get("created_ms"), it.get("updated_ms")))
    counters = it.get("counters")
    t.check(counters == {k: 0 for k in st.EVENT_TYPES}, "every counter exists and is 0", counters)
    audit = it.get("audit") or []
    t.check(len(audit) >= 1, "the item has an audit record", audit)
    if audit:
        first = audit[0]
        t.check(first.get("action") == "upload" and first.get("actor") == "token:admin"
                and first.get("from") is None and first.get("to") == "pending"
                and isinstance(first.get("seq"), int) and isinstance(first.get("ts_ms"), int),
                "audit[0] is {action upload, actor token:admin, from null, to pending, seq, ts_ms}",
                first)
    uploads_in_audit = [x for x in audit if x.get("action") == "upload"]

    # Idempotency: same id, same body.
    r = d.post("/v1/uploads", full)
    t.status(r, 202, "the same upload again")
    if r.status == 202:
        t.check(r.json.get("id") == "v1", "  ... answers for v1", r)
        now = d.item("v1").json
        t.check(r.json.get("state") == now.get("state"),
                "  ... with the item's current state", (r.json, now.get("state")))
        t.check(len([x for x in now.get("audit", []) if x.get("action") == "upload"])
                == len(uploads_in_audit), "  ... and no second upload audit record")
    # Same body with keys in another order is the same body.
    reordered = dict(reversed(list(full.items())))
    t.status(d.post("/v1/uploads", reordered), 202, "the same upload with keys reordered")

    # Other body: 409 and the original kept.
    for what, change in (("another title", {"title": "changed"}),
                         ("another creator", {"creator": "creator-2"}),
                         ("a field left out", {"transcript": None}),
                         ("a field added", {"tags": dict(full["tags"], extra=0.1)})):
        other = dict(full)
        other.update(change)
        other = {k: v for k, v in other.items() if v is not None}
        t.error(d.post("/v1/uploads", other), 409, "conflict", "upload v1 with " + what)
    r = d.item("v1")
    up = (r.json or {}).get("upload", {})
    t.check(r.status == 200 and up.get("title") == full["title"]
            and up.get("transcript") == full["transcript"] and r.json.get("creator") == "creator-1",
            "v1 keeps its original body after the conflicts", r)

    # Without an id: a generated one, and two calls make two items.
    plain = {"creator": "creator-3", "title": "no id"}
    ids = []
    for i in range(2):
        r = d.post("/v1/uploads", plain)
        t.status(r, 202, "upload without id (%d)" % (i + 1))
        gid = (r.json or {}).get("id", "")
        t.check(re.fullmatch(r"u[0-9a-f]{24}", gid) is not None,
                "  ... gets an id 'u' + 24 hex digits", gid)
        ids.append(gid)
        r = d.item(gid)
        t.check(r.status == 200 and r.json.get("upload", {}).get("title") == "no id",
                "  ... and GET %s finds it" % gid, r)
    t.check(ids[0] != ids[1], "two uploads without id get two ids", ids)

    # Boundaries that must be accepted.
    edge = st.upload("edge1", title="\u6807" * 1000, description="d" * 10000,
                     duration_ms=86400000, city="c" * 128,
                     tags={"t%d" % i: 1.0 if i % 2 else 0.0 for i in range(256)},
                     hashes=["%016x" % i for i in range(64)])
    r = d.post("/v1/uploads", edge)
    t.status(r, 202, "upload at every upper bound (1000-character CJK title, 256 tags, 64 hashes)")
    r = d.item("edge1")
    if t.status(r, 200, "GET edge1"):
        t.check(r.json["upload"].get("title") == edge["title"], "the CJK title round-trips")
        t.check(len(r.json.get("tags", {})) >= 256, "all 256 tags kept", len(r.json.get("tags", {})))

    # Just past each text bound (these need the default 1 MiB body_limit).
    for n, field, value in (("long1", "description", "d" * 10001),
                            ("long2", "transcript", "t" * 100001),
                            ("long3", "thumbnail", "https://x.org/" + "p" * 2035)):
        t.error(d.post("/v1/uploads", st.upload(n, **{field: value})), 422, "invalid",
                "upload with a %d-character %s" % (len(value), field), field=field)
        t.error(d.item(n), 404, "not_found", "  ... and %s was not stored" % n)
    r = d.post("/v1/uploads", st.upload("long4", transcript="t" * 100000,
                                        thumbnail="https://x.org/" + "p" * 2034))
    t.status(r, 202, "upload with a 100000-character transcript and a 2048-character thumbnail")

    # Items survive a restart unchanged.
    before = d.item("v1").json
    t.stopped(d, "SIGTERM exits 0")
    d.start()
    after = d.item("v1").json
    t.check(after is not None and after.get("upload") == before.get("upload")
            and after.get("audit")[:1] == before.get("audit")[:1],
            "v1 is the same after a restart", (before, after))
    t.status(d.post("/v1/uploads", full), 202, "after restart the same upload is still idempotent")
    t.error(d.post("/v1/uploads", dict(full, title="x")), 409, "conflict",
            "after restart another body is still a conflict")


st.main(body)
