# SPDX-License-Identifier: MIT
# Search (GET /v1/items): each filter, several at once, the cursor, Latin
# and Chinese text (substrings of 3+ characters from the index; shorter
# words only beside another filter), what each row shows, and the errors.
import os
import sys
import urllib.parse
sys.dont_write_bytecode = True
import sluicetest as st

HOUR = 3600 * 1000


def plugin(name):
    """A built plugin's shared object, or None."""
    for dirpath, _, files in os.walk(os.path.join(st.builddir(), "plugins")):
        if name + ".so" in files:
            return os.path.join(dirpath, name + ".so")
    return None


def search(d, token=st.DEFAULT, **params):
    qs = urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
    return d.req("GET", "/v1/items" + ("?" + qs if qs else ""), token=token)


def ids(r):
    return [i["id"] for i in (r.json or {}).get("items", [])]


def up(t, d, n, creator, title, **extra):
    b = {"id": n, "creator": creator, "title": title}
    b.update(extra)
    r = d.post("/v1/uploads", b)
    t.require(r.status == 202, "upload %s" % n, r)
    return r.json["state"]


def body(t):
    kw = plugin("keyword")
    conf = "simulated_clock = true\nclaim_lease_seconds = 60\n"
    if kw:
        conf += 'plugins = { { name = "keyword", path = "%s", lists = "%s" } }\n' % (
            kw, os.path.join(st.srcdir(), "policies", "keywords"))
    d = t.daemon(start=False, conf=conf)
    for p in ("00-thresholds.lua", "10-tag.lua", "20-review.lua"):
        os.link(os.path.join(st.srcdir(), "policies", p), os.path.join(d.policies, p))
    d.start()
    mod = d.post("/v1/tokens", {"name": "mod", "role": "moderator"}).json["token"]
    ing = d.post("/v1/tokens", {"name": "ing", "role": "ingest"}).json["token"]
    pol = d.post("/v1/tokens", {"name": "pol", "role": "policy"}).json["token"]

    # An hour of uploads, then another hour (the daemon's clock moves).
    t0 = d.get("/v1/clock").json["now_ms"]
    up(t, d, "a1", "alice", "Free MONEY tonight only")
    up(t, d, "a2", "alice", "cooking pasta at home")
    up(t, d, "b1", "bob", "猫咪视频 每天更新", description="关注我 免费领取 红包")
    up(t, d, "b2", "bob", "playground", signals={"face.age": 8})
    t.check(up(t, d, "b3", "bob", "late night", signals={"nsfw.score": 0.95}) == "rejected",
            "b3 is rejected by policy")
    d.post("/v1/clock", {"advance_ms": HOUR})
    t1 = d.get("/v1/clock").json["now_ms"]
    up(t, d, "c1", "carol", "a walk", transcript="The quick brown FOX jumps over the lazy dog")
    up(t, d, "c2", "carol", "小狗 学习", description="ab cd")
    up(t, d, "c3", "carol", "second walk", tags={"scene.park": 0.9, "scene.beach": 0.2})
    up(t, d, "c4", "carol", "third walk", tags={"scene.park": 0.3})
    newest_first = ["c4", "c3", "c2", "c1", "b3", "b2", "b1", "a2", "a1"]

    # People decide: mod approves b2 (minors) and takes c1 down.
    r = d.post("/v1/queue/claim", {"queue": "minors"}, token=mod)
    claimed = (r.json or {}).get("items", [])
    t.require(len(claimed) == 1 and claimed[0]["id"] == "b2", "mod claims b2", r)
    t.status(d.post("/v1/items/b2/decision", {"decision": "approve",
                                               "fence": claimed[0]["fence"]}, token=mod),
             200, "mod approves b2")
    t.status(d.post("/v1/items/c1/takedown", {"reason": "spam"}, token=mod), 200,
             "mod takes c1 down")

    # {================ Every filter ================
    r = search(d)
    t.check(r.status == 200 and ids(r) == newest_first and r.json["next"] is None
            and r.json["partial"] is False,
            "no filter: every item, newest first, nothing next", r)
    t.check(ids(search(d, creator="bob")) == ["b3", "b2", "b1"], "creator=bob")
    t.check(ids(search(d, creator="nobody")) == [], "creator=nobody: none")
    t.check(ids(search(d, state="rejected")) == ["b3"], "state=rejected")
    t.check(ids(search(d, state="removed")) == ["c1"], "state=removed (a takedown)")
    t.check(ids(search(d, state="rejected,removed")) == ["c1", "b3"],
            "state=rejected,removed: both states, newest first")
    if kw:
        t.check(ids(search(d, state="in_review")) == ["b1", "a1"],
                "state=in_review: the keyword matches wait for people")
    t.check(ids(search(d, tag="scene.park")) == ["c4", "c3"], "tag=scene.park")
    t.check(ids(search(d, tag="scene.park", tag_min="0.5")) == ["c3"],
            "tag=scene.park&tag_min=0.5: only the confident one")
    t.check(ids(search(d, tag="age.child")) == ["b2"], "tag=age.child (a policy's tag)")
    t.check(ids(search(d, queue="minors")) == [], "queue=minors: b2 was decided")
    if kw:
        t.check(ids(search(d, queue="text")) == ["b1", "a1"], "queue=text")
        t.check(ids(search(d, matched="spam")) == ["b1", "a1"],
                "matched=spam: the keyword list matched a1 (Latin) and b1 (Chinese)")
        t.check(ids(search(d, matched="spam", match_kind="keyword")) == ["b1", "a1"],
                "matched=spam&match_kind=keyword")
        t.check(ids(search(d, matched="spam", match_kind="hash")) == [],
                "matched=spam&match_kind=hash: none")
    version = d.get("/v1/policies", token=pol).json["version"]
    r = search(d, decided_by="policy:" + version)
    t.check(ids(r) == newest_first, "decided_by=policy:VERSION: every verdict", r)
    t.check(ids(search(d, decided_by="token:mod")) == ["c1", "b2"],
            "decided_by=token:mod: what mod approved and took down")
    t.check(ids(search(d, decided_by="mod")) == ["c1", "b2"], "decided_by=mod (a bare name)")
    t.check(ids(search(d, decided_by="token:nobody")) == [], "decided_by=token:nobody")
    t.check(ids(search(d, since_ms=str(t1))) == newest_first[:4], "since_ms: the second hour")
    t.check(ids(search(d, until_ms=str(t1))) == newest_first[4:], "until_ms: the first hour")
    a1 = [i for i in search(d, creator="alice").json["items"] if i["id"] == "a1"][0]
    t.check(ids(search(d, since_ms=str(a1["created_ms"]), until_ms=str(a1["created_ms"] + 1)))
            == ["a1"], "since_ms..until_ms: the one millisecond a1 came in", a1)
    t.check(t0 <= a1["created_ms"] < t1, "created_ms is the daemon's time", (t0, a1, t1))

    # {================ Text ================
    t.check(ids(search(d, q="free money")) == ["a1"], "q='free money': case ignored")
    t.check(ids(search(d, q="MONEY free")) == ["a1"], "q: words in any order, each found")
    t.check(ids(search(d, q="oney toni")) == ["a1"], "q: substrings, not whole words")
    t.check(ids(search(d, q="quick fox")) == ["c1"], "q in the transcript")
    t.check(ids(search(d, q="walk")) == ["c4", "c3", "c1"], "q='walk' in three titles")
    t.check(ids(search(d, q="免费领取")) == ["b1"], "q='免费领取' (Chinese) in the description")
    t.check(ids(search(d, q="猫咪视")) == ["b1"], "q='猫咪视': three characters of a title")
    t.check(ids(search(d, q="视频 每天更新")) == ["b1"],
            "q: a Chinese word of 2 characters beside one of 4 (the index finds the longer)")
    t.check(ids(search(d, q="免费领取\u3000红包")) == ["b1"],
            "q: words separated by an ideographic space (U+3000)")
    t.check(ids(search(d, q="狗学", creator="carol")) == [],
            "q='狗学' is not a substring of '小狗 学习'")
    t.check(ids(search(d, q="小狗", creator="carol")) == ["c2"],
            "q='小狗' (2 characters) beside creator=carol: checked on carol's items")
    t.check(ids(search(d, q="ab", creator="carol")) == ["c2"],
            "q='ab' (2 Latin letters) beside a filter")
    t.check(ids(search(d, q="小狗", since_ms=str(t1))) == ["c2"],
            "q='小狗' beside a time range")
    r = search(d, q="小狗")
    t.error(r, 400, "bad_request", "q='小狗' alone (2 characters, nothing else)", field="q")
    t.check(ids(search(d, q="walk", creator="carol", state="settled,distributing,approved"))
            == ["c4", "c3"], "q with creator and states: the taken-down walk is left out")
    t.check(ids(search(d, q="zzzz")) == [], "q='zzzz': none")

    # {================ The cursor ================
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": "2"}
        if cursor:
            params["cursor"] = cursor
        r = search(d, **params)
        t.require(r.status == 200, "page %d" % pages, r)
        seen += ids(r)
        pages += 1
        cursor = r.json["next"]
        if not cursor or pages > 10:
            break
    t.check(seen == newest_first and pages == 5,
            "limit=2: five pages give every item once, newest first; the last has no next",
            (pages, seen))
    r = search(d, creator="carol", limit="2")
    r2 = search(d, creator="carol", limit="2", cursor=r.json["next"])
    t.check(ids(r) == ["c4", "c3"] and ids(r2) == ["c2", "c1"] and r2.json["next"] is None,
            "a filtered walk: creator=carol in two pages", (r, r2))

    # {================ Rows ================
    row = {i["id"]: i for i in search(d).json["items"]}
    t.check(row["c1"]["state"] == "removed" and row["c1"]["decided"]["actor"] == "token:mod"
            and row["c1"]["decided"]["action"] == "takedown"
            and row["c1"]["decided"]["reason"] == "spam",
            "a row says the last decision: who, what, why", row.get("c1"))
    t.check(row["c3"]["tags"]["scene.park"]["confidence"] == 0.9 and row["c3"]["title"] == "second walk"
            and row["c3"]["creator"] == "carol" and isinstance(row["c3"]["created_ms"], int),
            "a row has the title, creator, tags and time", row.get("c3"))
    if kw:
        t.check(row["a1"]["queue"] == "text"
                and {"kind": "keyword", "name": "spam"} in row["a1"]["matches"],
                "a waiting row has its queue and what matched", row.get("a1"))

    # {================ Refusals ================
    t.error(search(d, creater="x"), 400, "bad_request", "a misspelt filter", field="creater")
    t.error(search(d, state="gone"), 400, "bad_request", "an unknown state", field="state")
    t.error(search(d, state="removed,removed"), 400, "bad_request", "a state twice",
            field="state")
    t.error(search(d, tag_min="0.5"), 400, "bad_request", "tag_min without tag",
            field="tag_min")
    t.error(search(d, tag="x", tag_min="2"), 400, "bad_request", "tag_min of 2",
            field="tag_min")
    t.error(search(d, match_kind="hash"), 400, "bad_request", "match_kind without matched",
            field="match_kind")
    t.error(search(d, since_ms="5", until_ms="5"), 400, "bad_request", "an empty time range",
            field="until_ms")
    t.error(search(d, since_ms="-1"), 400, "bad_request", "a negative time", field="since_ms")
    t.error(search(d, limit="0"), 400, "bad_request", "limit=0", field="limit")
    t.error(search(d, limit="201"), 400, "bad_request", "limit=201", field="limit")
    t.error(search(d, cursor="xyz"), 400, "bad_request", "a cursor of nothing", field="cursor")
    t.error(search(d, creator="bad id!"), 400, "bad_request", "a creator that is no id",
            field="creator")
    t.error(d.req("GET", "/v1/items?creator=a&creator=b"), 400, "bad_request",
            "a filter given twice", field="creator")
    t.error(search(d, q="x" * 101 + " walk"), 400, "bad_request", "a word of 101 characters",
            field="q")
    t.error(d.req("GET", "/v1/items?q=%ff%fe"), 400, "bad_request", "q that is not UTF-8",
            field="q")
    t.error(search(d, token=ing), 403, "forbidden", "an ingest token may not search")
    t.status(search(d, token=pol), 200, "a policy token may search (rules are written from it)")
    t.status(search(d, token=mod), 200, "a moderator may search")

    # Nothing above changed anything.
    t.check(ids(search(d)) == newest_first, "the refusals changed nothing")
    text = d.get("/metrics").body.decode()
    t.check('sluice_searches_total{outcome="ok"}' in text and "sluice_search_seconds_bucket" in text
            and "sluice_readers_busy" in text, "/metrics counts searches")
    t.stopped(d)


st.main(body)
