# SPDX-License-Identifier: MIT
# POST /v1/follows: NDJSON lines of {follower, creator, op?}, each doing
# what PUT / DELETE /v1/follows/{follower}/{creator} does, in order: users
# created, edges stored, the audience told (an upload reaches exactly the
# followers the batches left); counts of what changed; a bad line refuses
# the whole batch naming its line, and nothing changes; too large a batch,
# a wrong role or media type refused; the edges survive a restart; on
# PostgreSQL the change feed gets a follow row per edge changed, as PUT's.
import json
import os
import sys
sys.dont_write_bytecode = True
import sluicetest as st

NDJSON = "application/x-ndjson"
FANS = ["f%02d" % i for i in range(50)]         # all follow cr; f40..f49 unfollow later
KEPT = FANS[:40]


def lines(*objs):
    return "".join(json.dumps(o) + "\n" for o in objs)


def edge(follower, creator="cr", op=None):
    o = {"follower": follower, "creator": creator}
    if op:
        o["op"] = op
    return o


def follows(d):
    return sorted(tuple(r) for r in d.sql("SELECT follower, creator FROM follows"))


def users(d):
    return sorted(r[0] for r in d.sql("SELECT id FROM users"))


def audience_users(d):
    """The users the daemon's audience holds in memory (its metric)."""
    for line in d.get("/metrics").body.decode().splitlines():
        if line.startswith("sluice_audience_users "):
            return int(line.split()[1])
    return None


def follow_changes(d):
    """The change feed's follow rows: (follower, [creator, 1|0]), in order."""
    return [(r[0], json.loads(r[1])) for r in
            d.sql("SELECT \"user\", data FROM changes WHERE kind = 'follow' ORDER BY seq")]


def followers_of(d, t, item):
    w = ((d.item(item).json or {}).get("waves") or [{}])[0]
    t.check(w.get("audience") == "followers", "%s's first wave goes to followers" % item, w)
    return w.get("placed")


def feed_has(d, token, user, item):
    r = d.get("/v1/feed/%s?tab=follow&limit=100" % user, token=token)
    return item in [e["id"] for e in (r.json or {}).get("items", [])]


def body(t):
    d = t.daemon(start=False, conf="body_limit = 200000\n")
    for p in ("00-thresholds.lua", "10-tag.lua", "20-review.lua"):
        os.link(os.path.join(st.srcdir(), "policies", p), os.path.join(d.policies, p))
    d.start()
    ing = d.post("/v1/tokens", {"name": "ing", "role": "ingest"}).json["token"]
    mod = d.post("/v1/tokens", {"name": "mod", "role": "moderator"}).json["token"]

    def post(text, token=ing, ctype=NDJSON):
        return d.post("/v1/follows", text, token=token, ctype=ctype)

    # {================ Follows, unknown users created ================
    d.post("/v1/users", {"id": "cr", "city": "Lyon", "interests": ["cats"]})
    text = lines(*[edge(u) for u in FANS[:25]]) + "\n  \r\n" + \
        lines(*[edge(u) for u in FANS[25:]]).replace("\n", "\r\n")
    r = post(text)
    t.check(r.status == 200 and r.json == {"followed": 50, "unfollowed": 0, "unchanged": 0},
            "50 follows (blank lines and CRLF among them) -> 200, 50 followed", r)
    t.check(follows(d) == [(u, "cr") for u in FANS], "the 50 edges are stored", follows(d)[:5])
    t.check(users(d) == sorted(FANS + ["cr"]), "the 50 unknown followers were created",
            users(d)[:5])
    u = d.post("/v1/users", {"id": "cr"}).json
    t.check(u == {"id": "cr", "city": "Lyon", "interests": ["cats"]},
            "the creator's city and interests are kept", u)

    r = post(lines(edge("f00"), edge("f01", op="follow"), edge("f02", op="unfollow"),
                   edge("f02", op="unfollow"), edge("x1", "f03", op="unfollow")))
    t.check(r.status == 200 and r.json == {"followed": 0, "unfollowed": 1, "unchanged": 4},
            "follows again, an unfollow, it again, an unknown edge's unfollow -> "
            "0 followed, 1 unfollowed, 4 unchanged", r)

    # One pair several times in one batch: each line sees the ones before.
    r = post(lines(edge("g1"), edge("g1", op="unfollow"), edge("g1"), edge("g1"),
                   edge("f02"), edge("g2", "g1"), edge("g2", "g1", op="unfollow")))
    t.check(r.status == 200 and r.json == {"followed": 4, "unfollowed": 2, "unchanged": 1},
            "g1 follows, unfollows, follows twice; f02 again; g2 follows g1 and stops "
            "-> 4 followed, 2 unfollowed, 1 unchanged", r)
    t.check(follows(d) == sorted([(u, "cr") for u in FANS] + [("g1", "cr")]),
            "  ... stored: the last line of each pair wins", follows(d))

    r = post(lines(*[edge(u, op="unfollow") for u in FANS[40:]]))
    t.check(r.status == 200 and r.json == {"followed": 0, "unfollowed": 10, "unchanged": 0},
            "f40..f49 unfollow cr -> 10 unfollowed", r)

    r = post(json.dumps(edge("solo")), ctype="application/json")
    t.check(r.status == 200 and r.json == {"followed": 1, "unfollowed": 0, "unchanged": 0},
            "one edge as application/json -> 200, 1 followed", r)
    fans = sorted(KEPT + ["g1", "solo"])
    t.require(follows(d) == [(u, "cr") for u in fans],
              "stored: f00..f39, g1 and solo follow cr", follows(d))

    # {================ The audience follows: an upload reaches them ================
    r = d.post("/v1/uploads", {"id": "v1", "creator": "cr", "title": "a clip"})
    t.require(r.status == 202 and r.json["state"] == "approved", "cr uploads v1", r)
    t.check(followers_of(d, t, "v1") == len(fans),
            "v1's followers wave placed it with the %d followers left" % len(fans))
    got = [u for u in FANS + ["g1", "solo"] if feed_has(d, ing, u, "v1")]
    t.check(sorted(got) == fans, "v1 is in the follow feed of exactly those followers", got)

    # {================ A bad line: nothing changes ================
    before_f, before_u = follows(d), users(d)
    ok = [edge("h1"), edge("f45"), edge("f00", op="unfollow")]

    def refused(bad, n, status, code, what, raw=None):
        text = lines(*ok[:n - 1]) + (raw if raw is not None else json.dumps(bad) + "\n") + \
            lines(*ok)
        r = post(text)
        t.error(r, status, code, "%s on line %d" % (what, n), field="line %d" % n)
        t.check("line %d" % n in ((r.json or {}).get("error") or {}).get("message", ""),
                "  ... its message names line %d" % n, r)

    refused(edge("h2", "h2"), 3, 422, "invalid", "a self-follow")
    refused(None, 2, 400, "bad_json", "a line that is not JSON", raw='{"follower": "h2",\n')
    refused(edge("h2", op="block"), 1, 422, "invalid", "op block")
    refused({"follower": "h2", "creator": "cr", "x": 1}, 3, 422, "invalid", "an unknown key")
    refused(edge("bad id"), 2, 422, "invalid", "a follower that is not an id")
    refused({"follower": "h2"}, 3, 422, "invalid", "no creator")
    refused(None, 4, 400, "bad_json", "a line that is an array", raw="[1]\n")
    text = lines(*ok) + "\n" + json.dumps(edge("h3", "." + "h")) + "\n"
    t.error(post(text), 422, "invalid", "a creator starting with '.' on line 5 "
            "(after a blank line 4)", field="line 5")
    t.error(post(""), 422, "invalid", "an empty body")
    t.error(post("\n \n"), 422, "invalid", "only blank lines")
    t.check(follows(d) == before_f and users(d) == before_u,
            "after the refusals: no edge and no user changed", (len(follows(d)), len(users(d))))

    # {================ Too large, wrong role, wrong type ================
    t.error(post(lines(edge("h1")) * 6000), 413, "too_large",
            "a body past body_limit (6,000 lines, 240 KB)")
    t.error(post("\n" * 100001), 413, "too_large", "100,001 lines (blank)")
    r = post("\n" * 99999 + json.dumps(edge("h9")))
    t.check(r.status == 200 and r.json["followed"] == 1,
            "100,000 lines, the last one an edge -> 200", r)
    r = post(lines(edge("h1")), token=mod)
    t.error(r, 403, "forbidden", "a moderator's token")
    t.error(post(lines(edge("h1")), token=None), 401, "unauthorized", "no token")
    t.error(post(lines(edge("h1")), ctype="text/plain"), 415, "unsupported_media_type",
            "text/plain")
    r = d.post("/v1/follows", lines(edge("h1")), ctype=NDJSON)
    t.check(r.status == 200 and r.json["followed"] == 1, "an admin token may", r)
    t.check(("h1", "cr") in follows(d) and ("h2", "cr") not in follows(d),
            "h1's edge is stored, and no refused line's", follows(d))

    # {================ PostgreSQL: the change feed ================
    if st.on_postgres():
        ch = follow_changes(d)
        t.check(ch.count(("g1", ["cr", 1])) == 2
                and ch.count(("g1", ["cr", 0])) == 1,
                "the change feed has each of g1's changes: followed, unfollowed, followed",
                [c for c in ch if c[0] == "g1"])
        t.check(ch.count(("f00", ["cr", 1])) == 1,
                "  ... one row for f00's follow, none for its repeats", ch[:5])
        d.req("PUT", "/v1/follows/p1/cr")
        r = post(lines(edge("p2")))
        ch = follow_changes(d)
        t.check(ch[-2:] == [("p1", ["cr", 1]), ("p2", ["cr", 1])],
                "a PUT's follow and a batch's make the same row", ch[-2:])
        fans += ["p1", "p2"]
    fans += ["h1", "h9"]

    # {================ A restart ================
    held = audience_users(d)
    t.stopped(d)
    d.start()
    t.check(follows(d) == sorted((u, "cr") for u in fans), "the edges after a restart")
    t.check(held is not None and audience_users(d) == held,
            "the audience holds the users it held (x1 of an unknown edge's unfollow too)",
            (audience_users(d), held))
    r = d.post("/v1/uploads", {"id": "v2", "creator": "cr", "title": "another clip"})
    t.require(r.status == 202 and r.json["state"] == "approved", "cr uploads v2", r)
    t.check(followers_of(d, t, "v2") == len(fans),
            "after the restart v2 reaches the %d followers" % len(fans))
    t.check(not feed_has(d, ing, "f45", "v2") and feed_has(d, ing, "f39", "v2"),
            "  ... f39 gets it, f45 (unfollowed) does not")

    # {================ A self-follow stored by hand ================
    # Of a user the store does not hold, written behind the daemon's back
    # (the API refuses it): the start refuses it too, making no user.
    held = audience_users(d)
    t.stopped(d)
    d.sql("INSERT INTO follows VALUES ('ghost', 'ghost', 0)")
    d.start()
    d.sql("DELETE FROM follows WHERE follower = 'ghost'")
    now = audience_users(d)
    t.check(held is not None and now == held,
            "a stored self-follow of an unknown user makes no user at start", (now, held))


st.main(body)
