# SPDX-License-Identifier: MIT
# sluicectl migrate --from sqlite:STATE --to postgresql://...: a stopped
# installation's whole store moves, its keyed audit chain included (the key
# stays in its file, outside both stores, and the copy verifies under it),
# and a sluiced on the copy goes on where the old one stopped (items, queue,
# fences, waves, event counts, reports and reporters, when users were seen,
# tokens and their expiry, jobs, suspensions, and what searches find); a
# second copy into the same database is refused.
# Needs a PostgreSQL server: runs in `make check-store`, skips otherwise.
import json
import os
import shutil
import sys
import time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ctltest as ct  # noqa: E402
st = ct.st

if not st.on_postgres():
    print("SKIP: migrate copies into PostgreSQL: set SLUICE_TEST_STORE (make check-store)")
    sys.exit(st.SKIP)


def view(d, ids, mod):
    """What must read the same after the move."""
    items = {}
    for i in ids:
        r = d.item(i)
        it = r.json or {}
        items[i] = {k: it.get(k) for k in ("state", "tags", "upload", "reasons", "verdict",
                                           "counters", "waves", "audit", "created_ms",
                                           "plan", "reports")}
    queue = d.get("/v1/queue?limit=100", token=mod).json
    queue.pop("now_ms", None)
    audit = d.get("/v1/audit?limit=1000", token=mod).json
    tokens = d.get("/v1/tokens").json
    tokens.pop("now_ms", None)
    # The search's indexes are rebuilt on the destination, not copied.
    search = {f: [i["id"] for i in (d.get("/v1/items?limit=100&" + f, token=mod).json or {})
                  .get("items", [])]
              for f in ("creator=creator-1", "q=TITLE%20OF%20m-", "state=in_review",
                        "queue=default", "decided_by=system")}
    creator = d.get("/v1/creators/creator-2", token=mod).json
    jobs = (d.get("/v1/bulk?limit=100", token=mod).json or {}).get("jobs")
    return {"items": items, "queue": queue, "audit": audit, "tokens": tokens,
            "search": search, "creator": creator, "jobs": jobs}


def same(a, b):
    """What differs between two views: [] when nothing."""
    return [(k, i) for k in a for i in (a[k] if isinstance(a[k], dict) else [None])
            if (a[k].get(i) if i else a[k]) != (b.get(k, {}).get(i) if i else b.get(k))]


def value(v):
    """A column's value as both stores' rows give it: psql gives text,
    SQLite's module numbers."""
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def rows(d, sql):
    return sorted(tuple(value(v) for v in r) for r in d.sql(sql))


# What the API does not show whole, compared table by table.
TABLES = ('SELECT item, "user", ts_ms, served, weight, judged FROM reports',
          'SELECT "user", reports, upheld, dismissed FROM reporters',
          "SELECT id, seen_s FROM users",
          "SELECT name, role, hash, created_ms, expires_ms FROM tokens",
          "SELECT seq, v, hash FROM audit",
          # Offers a record per placement (its users each ended by a newline,
          # read as spaces: psql's rows are lines), served marks apart.
          "SELECT item, wave, part, source, replace(users, '\n', ' ') FROM offer_waves",
          'SELECT "user", item FROM served')


def give_key(src, dst):
    """Put src's audit key where sluiced on dst looks for it, as an
    operator moving an installation does (the copy does not carry it)."""
    shutil.copy(os.path.join(src.state, "audit.key"), os.path.join(dst.state, "audit.key"))
    os.chmod(os.path.join(dst.state, "audit.key"), 0o600)


def body(t):
    src = t.daemon(start=False, sqlite=True, name="src")
    ct.shipped_policies(src)
    src.start()
    mod = ct.token(src, "m-mod", "moderator")
    for u in range(6):
        r = src.req("PUT", "/v1/follows/reader-%d/creator-1" % u)
        t.require(r.status in (200, 201, 204), "a follow", r)
    ids = []
    for i in range(10):
        uid = "m-%d" % i
        ct.upload(src, uid, nsfw=(0.6 if i % 3 == 0 else None), creator="creator-1")
        ids.append(uid)
    lines = "".join(json.dumps({"item": ids[i % 10], "user": "reader-%d" % (i % 6),
                                "type": "impression"}) + "\n" for i in range(30))
    r = src.post("/v1/events", lines, ctype="application/x-ndjson")
    t.require(r.status == 202, "events are accepted", r)
    r = src.post("/v1/hashbanks/known", {"add": ["00ff00ff00ff00ff"]}, token=mod)
    t.require(r.status == 200, "a hash bank entry", r)
    r = src.post("/v1/tokens", {"name": "m-brief", "role": "ingest", "expires_in_s": 30 * 86400})
    t.require(r.status == 201, "a token that expires", r)
    for u in range(3):
        r = src.get("/v1/feed/reader-%d" % u)
        t.require(r.status == 200, "a feed page", r)
    reports = "".join(json.dumps({"item": ids[1], "user": "reader-%d" % u, "type": "report"})
                      + "\n" for u in range(3))
    r = src.post("/v1/events", reports, ctype="application/x-ndjson")
    t.require(r.status == 202, "reports are accepted", r)
    r = src.post("/v1/creators/creator-2/suspend", {"reason": "a ring", "mode": "review"},
                 token=mod)
    t.require(r.status == 200, "a suspension", r)
    r = src.post("/v1/bulk", {"action": "review", "search": {"creator": "creator-2"},
                              "reason": "a look at all"}, token=mod)
    t.require(r.status == 202, "a bulk job", r)
    job = r.json.get("id")
    for _ in range(100):
        if (src.get("/v1/bulk/" + job, token=mod).json or {}).get("state") == "done":
            break
        time.sleep(0.1)
    r = src.post("/v1/queue/claim", {"limit": 1}, token=mod)
    t.require(r.status == 200 and len(r.json.get("items", [])) == 1, "a claim", r)
    old_fence = r.json["items"][0]["fence"]
    ct.quiet(src)
    before = view(src, ids, mod)
    t.require(before["audit"] and len(before["audit"]["records"]) > 20,
              "the source has an audit trail", before["audit"])
    t.stopped(src)
    tables = [rows(src, q) for q in TABLES]
    batches = src.sql("SELECT count(*) FROM event_batches")[0][0]
    t.check(tables[0] and tables[1] and any(r[4] for r in tables[3])
            and {r[1] for r in tables[4]} == {3} and tables[5] and tables[6],
            "the source has reports, reporters, an expiring token, a keyed chain (format 3), "
            "offers and served marks", tables[:2] + tables[3:4] + tables[5:])

    dst = st.Daemon(t, name="dst")      # its own empty database
    run = ct.runner(src)
    r = run(["migrate", "--from", "sqlite:" + src.state, "--to", dst.store])
    t.check(r.returncode == 0 and "audit chain verifies" in r.stdout,
            "migrate --from sqlite:STATE --to DB: exit 0, the chain verifies",
            (r.returncode, r.stdout, r.stderr[-600:]))
    t.check("password" not in r.stdout and dst.store not in r.stdout,
            "  ... naming PostgreSQL, not its connection string", r.stdout)
    t.check(os.path.join(src.state, "audit.key") in r.stdout,
            "  ... and where the audit key is, which the copy needs", r.stdout)
    t.check([rows(dst, q) for q in TABLES] == tables,
            "reports, reporters, users' last visits, tokens' expiry, the audit formats, "
            "offers and served marks are copied as they were")

    # The key is not in the copy: sluiced on it without the key does not start.
    ct.shipped_policies(dst)
    r = st.run(dst.command(), timeout=30)
    t.check(r.returncode == 1 and "audit.key" in r.stderr and "missing" in r.stderr,
            "sluiced on the copy, without the audit key: exit 1, naming it",
            (r.returncode, r.stderr[-400:]))
    give_key(src, dst)
    dst.start()
    t.check("first start" not in dst.stdout(), "sluiced on the copy makes no admin token",
            dst.stdout())
    dst.token = src.token
    after = view(dst, ids, mod)
    for i in ids:
        t.check(after["items"][i] == before["items"][i], "%s reads the same" % i,
                (before["items"][i], after["items"][i]))
    t.check(after["queue"] == before["queue"], "the review queue reads the same",
            (before["queue"], after["queue"]))
    t.check(after["audit"] == before["audit"], "the audit trail reads the same")
    t.check(after["tokens"] == before["tokens"], "the tokens read the same, expiry included",
            (before["tokens"], after["tokens"]))
    t.check(after["search"] == before["search"] and before["search"]["creator=creator-1"]
            and before["search"]["q=TITLE%20OF%20m-"],
            "searches find the same items, newest first (the indexes built again)",
            (before["search"], after["search"]))
    t.check(after["creator"] == before["creator"] and
            (before["creator"] or {}).get("suspension", {}).get("reason") == "a ring",
            "the creator reads the same, suspension included",
            (before["creator"], after["creator"]))
    t.check(after["jobs"] == before["jobs"] and
            sorted(j["kind"] for j in before["jobs"] or []) == ["bulk", "retro"],
            "the jobs read the same (the bulk job, the hash bank's retroactive matching)",
            (before["jobs"], after["jobs"]))
    v = dst.get("/v1/audit/verify").json
    t.check(v.get("ok") is True and v.get("checked") == len(before["audit"]["records"]),
            "GET /v1/audit/verify on the copy: ok, every record", v)

    # It goes on: the chain, the fences, the batches, the counts, the
    # items' numbers.
    ct.upload(dst, "m-new", creator="creator-1")
    got = [i["id"] for i in (dst.get("/v1/items?creator=creator-1&limit=2", token=mod).json
                             or {}).get("items", [])]
    t.check(got == ["m-new", "m-9"], "a new item is numbered after the copied ones", got)
    v = dst.get("/v1/audit/verify").json
    t.check(v.get("ok") is True and v.get("checked") > len(before["audit"]["records"]),
            "a new upload extends the copied chain", v)
    r = dst.post("/v1/events", json.dumps({"item": "m-1", "user": "reader-1",
                                            "type": "like"}) + "\n",
                 ctype="application/x-ndjson")
    t.check(r.status == 202, "events go on", r)
    got = st.psql(dst.store, "SELECT count(*), count(DISTINCT seq) FROM event_batches")
    t.check(got == [(batches + 1, batches + 1)], "the new batch is numbered after the %d "
            "copied ones" % batches, got)
    st_item = dst.item("m-1").json or {}
    t.check(st_item.get("counters", {}).get("like") == 1 and
            st_item.get("counters", {}).get("impression") ==
            before["items"]["m-1"]["counters"]["impression"],
            "counts go on from the copied ones", st_item.get("counters"))
    r = dst.post("/v1/queue/claim", {"limit": 5}, token=mod)
    fences = [c["fence"] for c in (r.json or {}).get("items", [])]
    t.check(r.status == 200 and fences and min(fences) > old_fence,
            "new claims take fences above the copied ones", (old_fence, r))
    r = dst.get("/v1/hashbanks/known", token=mod)
    t.check(dst.sql("SELECT bank, hash FROM hashbanks") == [("known", "00ff00ff00ff00ff")],
            "the hash bank moved", dst.sql("SELECT bank, hash FROM hashbanks"))
    final = view(dst, ids + ["m-new"], mod)
    t.stopped(dst)

    # And back: PostgreSQL to a new SQLite state directory. A PostgreSQL
    # source has no state directory: its keyed chain needs --audit-key.
    back = t.daemon(start=False, sqlite=True, name="back")
    ct.shipped_policies(back)
    key = os.path.join(dst.state, "audit.key")
    r = run(["migrate", "--from", dst.store, "--to", "sqlite:" + back.state])
    t.check(r.returncode == 1 and "--audit-key" in r.stderr
            and not os.path.exists(os.path.join(back.state, "sluice.db")),
            "a keyed chain without its key is not copied: exit 1, asking for --audit-key",
            (r.returncode, r.stderr[-400:]))
    wrong = os.path.join(t.tmp, "wrong.key")
    with open(wrong, "w") as f:
        f.write("ab" * 32 + "\n")
    r = run(["migrate", "--from", dst.store, "--to", "sqlite:" + back.state,
             "--audit-key", wrong])
    t.check(r.returncode == 1 and "record 1:" in r.stderr and "audit key" in r.stderr
            and not os.path.exists(os.path.join(back.state, "sluice.db")),
            "  ... nor with another key: exit 1 at the first keyed record",
            (r.returncode, r.stderr[-400:]))
    r = run(["migrate", "--from", dst.store, "--to", "sqlite:" + back.state,
             "--audit-key", os.path.join(t.tmp, "nowhere.key")])
    t.check(r.returncode == 2 and "nowhere.key" in r.stderr,
            "  ... a key file that is not there: exit 2, naming it", (r.returncode, r.stderr))
    r = run(["--json", "migrate", "--from", dst.store, "--to", "sqlite:" + back.state,
             "--audit-key", key])
    j = ct.parse(r) or {}
    t.check(r.returncode == 0 and j.get("audit_ok") is True and j.get("rows", 0) > 50
            and j.get("audit_keyed") is True and j.get("audit_key") == key,
            "migrate --from DB --to sqlite:DIR --audit-key FILE: exit 0, {rows, audit_ok, "
            "audit_keyed, audit_key}", (r.stdout, r.stderr[-400:]))
    t.check([rows(back, q) for q in TABLES[5:]] == [rows(dst, q) for q in TABLES[5:]],
            "  ... offers (the copy's own placements after the copied) and served marks "
            "come back as they were")
    give_key(dst, back)
    back.start()
    back.token = src.token
    again = view(back, ids + ["m-new"], mod)
    t.check(again == final, "the way back reads the same", same(final, again))
    t.stopped(back)

    # Never over a store.
    r = run(["migrate", "--from", "sqlite:" + src.state, "--to", dst.store])
    t.check(r.returncode == 1 and "already holds" in r.stderr,
            "migrate into a database that holds a store: exit 1", (r.returncode, r.stderr))
    t.check(dst.sql("SELECT count(*) FROM items") == [(11,)], "  ... which is untouched")
    r = run(["--json", "migrate", "--from", "sqlite:" + src.state, "--to", dst.store])
    t.check(r.returncode == 1 and (ct.parse(r) or {}).get("error", {}).get("code") == "conflict",
            "  ... --json: the error JSON", r.stdout)
    for bad in (["migrate"], ["migrate", "--from", "sqlite:" + src.state],
                ["migrate", "--from", src.state, "--to", dst.store],
                ["migrate", "--from", "sqlite:" + os.path.join(t.tmp, "nothing"),
                 "--to", dst.store],
                ["migrate", "--from", "sqlite:" + src.state, "--to", dst.store, "--fast"]):
        r = run(bad)
        t.check(r.returncode == 2, "sluicectl %s: exit 2" % " ".join(bad)[:60],
                (r.returncode, r.stderr))

    # A broken source chain is not copied.
    src.sql("UPDATE audit SET reason = 'edited' WHERE seq = 3")
    empty = st.Daemon(t, name="empty")
    r = run(["migrate", "--from", "sqlite:" + src.state, "--to", empty.store])
    t.check(r.returncode == 1 and "record 3" in r.stderr,
            "a source whose chain breaks: exit 1 naming the record", (r.returncode, r.stderr))
    t.check(st.psql(empty.store, "SELECT count(*) FROM pg_tables WHERE tablename = 'items'")
            == [(0,)], "  ... and nothing is written")


st.main(body)
