# SPDX-License-Identifier: MIT
# Bad input: each request gets its documented status and code, and stores
# nothing (the item stays 404, the counters and the user stay as they were).
import json
import sys
sys.dont_write_bytecode = True
import sluicetest as st

LIMIT = 4096
J = "application/json"


def nested(depth):
    """A JSON value of exactly `depth` nested arrays."""
    return "[" * depth + "]" * depth


def upload_text(n, extra=""):
    return '{"id":"%s","creator":"c1","title":"t"%s}' % (n, extra)


def body(t):
    d = t.daemon(conf="body_limit = %d\nlog_level = \"warn\"\n" % LIMIT)

    # ---- uploads: each refused, each id then 404 ------------------------
    raw = [
        # what, body bytes, content type, status, code, field, id to look up
        ("invalid JSON", b'{"id":"b1","creator":"c1","title":', J, 400, "bad_json", None, "b1"),
        ("empty body", b"", J, 400, "bad_json", None, None),
        ("trailing garbage", upload_text("b2").encode() + b" x", J, 400, "bad_json", None, "b2"),
        ("two objects", (upload_text("b3") * 2).encode(), J, 400, "bad_json", None, "b3"),
        ("invalid UTF-8", b'{"id":"b4","creator":"c1","title":"\xff\xfe"}', J,
         400, "bad_json", None, "b4"),
        ("overlong UTF-8 encoding of '/'", b'{"id":"b5","creator":"c1","title":"\xc0\xaf"}',
         J, 400, "bad_json", None, "b5"),
        ("UTF-16 surrogate encoded in UTF-8", b'{"id":"b6","creator":"c1","title":"\xed\xa0\x80"}',
         J, 400, "bad_json", None, "b6"),
        ("\\u0000 in a string", b'{"id":"b7","creator":"c1","title":"a\\u0000b"}', J,
         400, "bad_json", None, "b7"),
        ("raw NUL byte in a string", b'{"id":"b8","creator":"c1","title":"a\x00b"}', J,
         400, "bad_json", None, "b8"),
        ("duplicate key", b'{"id":"b9","creator":"c1","title":"t","title":"u"}', J,
         400, "bad_json", None, "b9"),
        ("duplicate key in a nested object",
         b'{"id":"b10","creator":"c1","title":"t","tags":{"a":0.1,"a":0.2}}', J,
         400, "bad_json", None, "b10"),
        ("nesting depth 33", upload_text("b11", ',"description":' + nested(32)).encode(), J,
         400, "bad_json", None, "b11"),
        ("nesting depth 2000", upload_text("b12", ',"description":' + nested(1999)).encode(),
         J, 400, "bad_json", None, "b12"),
        # Depth 32 is allowed by the parser; the field then has the wrong type.
        ("nesting depth 32 (parses; wrong type)",
         upload_text("b13", ',"description":' + nested(31)).encode(), J,
         422, "invalid", "description", "b13"),
        ("top-level array", ("[" + upload_text("b14") + "]").encode(), J,
         (400, 422), ("bad_json", "invalid"), None, "b14"),
        ("top-level string", b'"b15"', J, (400, 422), ("bad_json", "invalid"), None, None),
        ("wrong content type text/plain", upload_text("b16").encode(), "text/plain",
         415, "unsupported_media_type", None, "b16"),
        ("no content type", upload_text("b17").encode(), None, 415,
         "unsupported_media_type", None, "b17"),
        ("NDJSON content type on uploads", upload_text("b18").encode(), "application/x-ndjson",
         415, "unsupported_media_type", None, "b18"),
        # jansson quotes the text near an error cut at any byte: the answer
        # is still the documented 400, not a 503 "could not be encoded".
        ("an invalid escape before a multi-byte character (found by fuzzing)",
         b'{"id":"b20","creator":"c1","title":"\\\xe2\x82\xac"}', J, 400, "bad_json", None, "b20"),
        ("body over body_limit (5000 > %d)" % LIMIT,
         upload_text("b19", ',"description":"%s"' % ("x" * 5000)).encode(), J,
         413, "too_large", None, "b19"),
    ]
    for what, b, ctype, status, code, field, look in raw:
        r = d.post("/v1/uploads", b, ctype=ctype)
        t.error(r, status, code, "upload: " + what, field=field)
        if look:
            t.error(d.item(look), 404, "not_found", "  ... and %s was not stored" % look)

    # A body just under the limit is fine (the limit is the body's size).
    small = upload_text("ok-limit", ',"description":"%s"' % ("y" * 3000)).encode()
    t.check(len(small) < LIMIT, "the control body is under the limit")
    t.status(d.post("/v1/uploads", small), 202, "upload of %d bytes under the limit" % len(small))

    fields = [
        # what, extra fields over a valid upload (None deletes), field named
        ("title is a number", {"title": 5}, "title"),
        ("title is empty", {"title": ""}, "title"),
        ("title is null", {"title": None}, "title"),
        ("title of 1001 characters", {"title": "\u00e9" * 1001}, "title"),
        ("creator missing", {"creator": None}, "creator"),
        ("creator is an object", {"creator": {"id": "x"}}, "creator"),
        ("creator with a slash", {"creator": "a/b"}, "creator"),
        # (longer text fields are in uploads.py: they need the default body_limit)
        ("duration_ms is a string", {"duration_ms": "10"}, "duration_ms"),
        ("duration_ms -1", {"duration_ms": -1}, "duration_ms"),
        ("duration_ms 86400001", {"duration_ms": 86400001}, "duration_ms"),
        ("duration_ms 1.5", {"duration_ms": 1.5}, "duration_ms"),
        ("duration_ms 1e300", {"duration_ms": 1e300}, "duration_ms"),
        ("city of 129 characters", {"city": "c" * 129}, "city"),
        ("thumbnail not http(s)", {"thumbnail": "ftp://x/y.jpg"}, "thumbnail"),
        ("thumbnail javascript:", {"thumbnail": "javascript:alert(1)"}, "thumbnail"),
        ("tags is an array", {"tags": ["a"]}, "tags"),
        ("tag confidence 1.5", {"tags": {"a": 1.5}}, lambda f: f in ("tags", "tags.a")),
        ("tag confidence -0.1", {"tags": {"a": -0.1}}, lambda f: f in ("tags", "tags.a")),
        ("tag confidence is a string", {"tags": {"a": "0.5"}}, lambda f: f in ("tags", "tags.a")),
        ("tag name not an id", {"tags": {"a b": 0.5}}, lambda f: f is not None and f.startswith("tags")),
        ("257 tags", {"tags": {"t%d" % i: 0.5 for i in range(257)}}, "tags"),
        ("signal is a string", {"signals": {"face.age": "old"}},
         lambda f: f in ("signals", "signals.face.age")),
        ("signal is null", {"signals": {"face.age": None}},
         lambda f: f in ("signals", "signals.face.age")),
        ("hashes is a string", {"hashes": "00ff00ff00ff00ff"}, "hashes"),
        ("hash of 15 hex digits", {"hashes": ["00ff00ff00ff00f"]},
         lambda f: f is not None and f.startswith("hashes")),
        ("hash with a non-hex digit", {"hashes": ["00ff00ff00ff00fg"]},
         lambda f: f is not None and f.startswith("hashes")),
        ("65 hashes", {"hashes": ["%016x" % i for i in range(65)]}, "hashes"),
        ("unknown field", {"colour": "red"}, "colour"),
        ("unknown field that is null", {"state": None}, "state"),
    ]
    for i, (what, extra, field) in enumerate(fields):
        n = "f%d" % i
        b = st.upload(n)
        for k, v in extra.items():
            if v is None and k in ("creator",):
                del b[k]
            else:
                b[k] = v
        r = d.post("/v1/uploads", b)
        t.error(r, 422, "invalid", "upload: " + what, field=field)
        t.error(d.item(n), 404, "not_found", "  ... and %s was not stored" % n)

    ids = [
        ("id of 129 characters", "i" * 129),
        ("id with a space", "a b"),
        ("id with a slash", "a/b"),
        ("id starting with '.'", ".hidden"),
        ("empty id", ""),
        ("id with a non-ASCII letter", "caf\u00e9"),
        ("id is a number", 17),
    ]
    for what, bad in ids:
        b = st.upload("x")
        b["id"] = bad
        r = d.post("/v1/uploads", b)
        t.error(r, 422, "invalid", "upload: " + what, field="id")
    r = d.item("i" * 129)
    t.check(r.status in (400, 404), "GET of a 129-character id finds nothing", r)
    for good in ("i" * 128, "A-z_0.9:@x"):
        t.status(d.post("/v1/uploads", st.upload(good)), 202, "upload with the id '%s'" % good[:20])
        t.status(d.item(good), 200, "  ... and it is stored")

    # ---- events: counters stay as they were ------------------------------
    t.status(d.post("/v1/uploads", st.upload("ev1")), 202, "upload ev1 for events")
    t.status(d.post("/v1/events", {"item": "ev1", "user": "u1", "type": "like"}), 202,
             "one good like on ev1")

    def counters():
        r = d.item("ev1")
        t.require(r.status == 200, "GET ev1", r)
        return r.json.get("counters")

    before = counters()
    t.check(before.get("like") == 1, "ev1 has one like", before)
    good = {"item": "ev1", "user": "u1", "type": "play"}
    bad_events = [
        ("type not in the list", dict(good, type="wink"), "type"),
        ("type missing", {"item": "ev1", "user": "u1"}, "type"),
        ("item missing", {"user": "u1", "type": "play"}, "item"),
        ("user is a number", dict(good, user=5), "user"),
        ("user with a space", dict(good, user="u 1"), "user"),
        ("watch_ms -1", dict(good, watch_ms=-1), "watch_ms"),
        ("watch_ms is a string", dict(good, watch_ms="5"), "watch_ms"),
        ("ts is a fraction", dict(good, ts=1.5), "ts"),
        ("unknown field", dict(good, weight=2), "weight"),
    ]
    for what, ev, field in bad_events:
        t.error(d.post("/v1/events", ev), 422, "invalid", "event: " + what, field=field)
    t.error(d.post("/v1/events", b'{"item":"ev1","user":"u1","type":"play"'), 400,
            "bad_json", "event: invalid JSON")
    t.error(d.post("/v1/events", json.dumps(good), ctype="text/plain"), 415,
            "unsupported_media_type", "event: text/plain")
    t.error(d.post("/v1/events", [good, good]), (400, 422), ("bad_json", "invalid"),
            "event: a JSON array instead of NDJSON")

    line = json.dumps(good)
    for bad_line, n, status, code in (
        ('{"item":"ev1","user":"u1","type":', 3, 400, "bad_json"),
        (json.dumps(dict(good, type="wink")), 3, 422, "invalid"),
        (json.dumps(dict(good, type="like")) + " trailing", 3, 400, "bad_json"),
        ('[1]', 3, (400, 422), ("bad_json", "invalid")),
    ):
        batch = "\n".join([line, line, bad_line, line, line]) + "\n"
        r = d.post("/v1/events", batch, ctype="application/x-ndjson")
        t.error(r, status, code, "NDJSON with a bad line %d (%s)" % (n, bad_line[:30]),
                field="line %d" % n)
    # The line's error, its field and its sentence put together, cut to fit
    # without splitting a character (40 three-byte characters cut one).
    r = d.post("/v1/events", line + "\n" + json.dumps(dict(good, **{"\u20ac" * 40: 1}),
               ensure_ascii=False) + "\n", ctype="application/x-ndjson")
    t.error(r, 422, "invalid", "NDJSON: an unknown field of 40 euro signs on line 2",
            field="line 2")
    r = d.post("/v1/events", line + "\n" + '{"item":"ev1","user":"u1","type":"\\\u20ac"}\n',
               ctype="application/x-ndjson")
    t.error(r, 400, "bad_json", "NDJSON: an invalid escape before a euro sign on line 2",
            field="line 2")
    # Blank lines are ignored but still counted in line numbers.
    batch = "\n".join([line, "", line, line, line, "{\"item\":\"ev1\"}", line]) + "\n"
    r = d.post("/v1/events", batch, ctype="application/x-ndjson")
    t.error(r, 422, "invalid", "NDJSON, bad line 6 after a blank line 2", field="line 6")
    big = "\n".join([line] * 200) + "\n"
    t.check(len(big) > LIMIT, "the NDJSON body is over the limit")
    t.error(d.post("/v1/events", big, ctype="application/x-ndjson"), 413, "too_large",
            "NDJSON body over body_limit")
    after = counters()
    t.check(after == before, "no refused event or batch changed ev1's counters",
            (before, after))

    # ---- users: unchanged after refused updates --------------------------
    first = {"id": "usr1", "city": "chengdu", "interests": ["football"]}
    r = d.post("/v1/users", first)
    t.status(r, 200, "create user usr1")
    bad_users = [
        ("interests is a string", {"id": "usr1", "interests": "music"}, "interests"),
        ("an interest is not an id", {"id": "usr1", "interests": ["a b"]},
         lambda f: f is not None and f.startswith("interests")),
        ("65 interests", {"id": "usr1", "interests": ["i%d" % i for i in range(65)]},
         "interests"),
        ("city is a number", {"id": "usr1", "city": 3}, "city"),
        ("unknown field", {"id": "usr1", "city": "wuhan", "age": 30}, "age"),
        ("id missing", {"city": "wuhan"}, "id"),
    ]
    for what, u, field in bad_users:
        t.error(d.post("/v1/users", u), 422, "invalid", "user: " + what, field=field)
    t.error(d.post("/v1/users", b'{"id":"usr1","city":"wuhan"'), 400, "bad_json",
            "user: invalid JSON")
    r = d.post("/v1/users", {"id": "usr1"})
    t.check(r.status == 200 and r.json == first,
            "usr1 is as first stored after the refused updates", r)

    # ---- follows: bad path ids -------------------------------------------
    for path in ("/v1/follows/a%20b/usr1", "/v1/follows/usr1/" + "z" * 129,
                 "/v1/follows/.x/usr1"):
        r = d.req("PUT", path)
        t.error(r, (400, 422), ("bad_request", "invalid"), "PUT " + path[:40])
    t.error(d.req("PUT", "/v1/follows/usr1/usr1"), 422, "invalid", "self-follow")

    # All of that, and the daemon still answers and still has what it had.
    t.status(d.get("/healthz", token=None), 200, "still healthy after the bad input")
    t.status(d.item("ok-limit"), 200, "good data still there")


st.main(body)
