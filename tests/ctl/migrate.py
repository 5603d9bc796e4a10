# SPDX-License-Identifier: MIT
# sluicectl migrate --from sqlite:STATE --to postgresql://...: a stopped
# installation's whole store moves, audit chain included, and a sluiced on
# the copy goes on where the old one stopped (items, queue, fences, waves,
# event counts, tokens); a second copy into the same database is refused.
# Needs a PostgreSQL server: runs in `make check-store`, skips otherwise.
import json
import os
import sys
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
                                           "counters", "waves", "audit", "created_ms")}
    queue = d.get("/v1/queue?limit=100", token=mod).json
    queue.pop("now_ms", None)
    audit = d.get("/v1/audit?limit=1000", token=mod).json
    return {"items": items, "queue": queue, "audit": audit}


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
    r = src.post("/v1/queue/claim", {"limit": 1}, token=mod)
    t.require(r.status == 200 and len(r.json.get("items", [])) == 1, "a claim", r)
    old_fence = r.json["items"][0]["fence"]
    ct.quiet(src)
    before = view(src, ids, mod)
    t.require(before["audit"] and len(before["audit"]["records"]) > 20,
              "the source has an audit trail", before["audit"])
    t.stopped(src)

    dst = st.Daemon(t, name="dst")      # its own empty database
    run = ct.runner(src)
    r = run(["migrate", "--from", "sqlite:" + src.state, "--to", dst.store])
    t.check(r.returncode == 0 and "audit chain verifies" in r.stdout,
            "migrate --from sqlite:STATE --to DB: exit 0, the chain verifies",
            (r.returncode, r.stdout, r.stderr[-600:]))
    t.check("password" not in r.stdout and dst.store not in r.stdout,
            "  ... naming PostgreSQL, not its connection string", r.stdout)

    ct.shipped_policies(dst)
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
    v = dst.get("/v1/audit/verify").json
    t.check(v.get("ok") is True and v.get("checked") == len(before["audit"]["records"]),
            "GET /v1/audit/verify on the copy: ok, every record", v)

    # It goes on: the chain, the fences, the batches, the counts.
    ct.upload(dst, "m-new", creator="creator-1")
    v = dst.get("/v1/audit/verify").json
    t.check(v.get("ok") is True and v.get("checked") > len(before["audit"]["records"]),
            "a new upload extends the copied chain", v)
    r = dst.post("/v1/events", json.dumps({"item": "m-1", "user": "reader-1",
                                            "type": "like"}) + "\n",
                 ctype="application/x-ndjson")
    t.check(r.status == 202, "events go on", r)
    got = st.psql(dst.store, "SELECT count(*), count(DISTINCT seq) FROM event_batches")
    t.check(got == [(2, 2)], "the new batch is numbered after the copied one", got)
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

    # And back: PostgreSQL to a new SQLite state directory.
    back = t.daemon(start=False, sqlite=True, name="back")
    ct.shipped_policies(back)
    r = run(["--json", "migrate", "--from", dst.store, "--to", "sqlite:" + back.state])
    j = ct.parse(r) or {}
    t.check(r.returncode == 0 and j.get("audit_ok") is True and j.get("rows", 0) > 50,
            "migrate --from DB --to sqlite:DIR: exit 0, {rows, audit_ok}",
            (r.stdout, r.stderr[-400:]))
    back.start()
    back.token = src.token
    again = view(back, ids + ["m-new"], mod)
    t.check(again == final, "the way back reads the same", (final, again))
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
