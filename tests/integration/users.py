# SPDX-License-Identifier: MIT
# Users and follows: create and update (fields left out keep their value),
# follow and unfollow, self-follow refused.
import sys
sys.dont_write_bytecode = True
import sluicetest as st


def user(d, t, body, what):
    r = d.post("/v1/users", body)
    t.status(r, 200, what)
    return r.json


def body(t):
    d = t.daemon()

    u = user(d, t, {"id": "alice", "city": "Chengdu", "interests": ["football", "music"]},
             "create alice")
    t.check(u == {"id": "alice", "city": "Chengdu", "interests": ["football", "music"]},
            "alice is stored as sent", u)
    u = user(d, t, {"id": "alice", "city": "Wuhan"}, "update alice's city")
    t.check(u == {"id": "alice", "city": "Wuhan", "interests": ["football", "music"]},
            "interests kept when left out", u)
    u = user(d, t, {"id": "alice", "interests": ["basketball"]}, "update alice's interests")
    t.check(u == {"id": "alice", "city": "Wuhan", "interests": ["basketball"]},
            "city kept when left out; interests replaced", u)
    u = user(d, t, {"id": "alice", "interests": []}, "clear alice's interests")
    t.check(u == {"id": "alice", "city": "Wuhan", "interests": []}, "interests cleared", u)
    u = user(d, t, {"id": "alice"}, "post alice with only the id")
    t.check(u == {"id": "alice", "city": "Wuhan", "interests": []}, "nothing changed", u)

    u = user(d, t, {"id": "bob"}, "create bob with only the id")
    t.check(isinstance(u, dict) and u.get("id") == "bob" and u.get("interests") in ([], None)
            and u.get("city") in (None, ""), "bob has no city and no interests", u)
    u = user(d, t, {"id": "u" * 128, "city": "\u6210\u90fd",
                    "interests": ["i%d" % i for i in range(64)]},
             "a user with a 128-character id, a CJK city and 64 interests")
    t.check(isinstance(u, dict) and u.get("city") == "\u6210\u90fd"
            and len(u.get("interests") or []) == 64, "  ... stored as sent", u)

    # Follows.
    def follow(method, a, b, following, what):
        r = d.req(method, "/v1/follows/%s/%s" % (a, b))
        if t.status(r, 200, what):
            t.check(r.json == {"follower": a, "creator": b, "following": following},
                    "  ... answers {follower:%s, creator:%s, following:%s}"
                    % (a, b, str(following).lower()), r)

    follow("PUT", "alice", "bob", True, "alice follows bob")
    follow("PUT", "alice", "bob", True, "alice follows bob again (idempotent)")
    follow("PUT", "bob", "alice", True, "bob follows alice")
    follow("DELETE", "alice", "bob", False, "alice unfollows bob")
    follow("DELETE", "alice", "bob", False, "alice unfollows bob again")
    follow("PUT", "carol", "dave", True, "carol follows dave (neither exists yet)")
    u = user(d, t, {"id": "carol"}, "carol exists now")
    t.check(isinstance(u, dict) and u.get("id") == "carol", "carol was created", u)

    r = d.req("PUT", "/v1/follows/alice/alice")
    t.error(r, 422, "invalid", "alice follows alice")
    r = d.req("PUT", "/v1/follows/nobody/nobody")
    t.error(r, 422, "invalid", "a new user follows itself")
    r = d.req("PUT", "/v1/follows/alice")
    t.check(r.status in (400, 404, 405), "PUT /v1/follows/alice (no creator) is refused", r)

    # Users keep their fields across a restart.
    t.stopped(d, "SIGTERM exits 0")
    d.start()
    u = user(d, t, {"id": "alice"}, "alice after restart")
    t.check(u == {"id": "alice", "city": "Wuhan", "interests": []}, "alice unchanged", u)
    follow("PUT", "bob", "alice", True, "bob still follows alice after restart")
    follow("DELETE", "bob", "alice", False, "bob unfollows alice after restart")


st.main(body)
