# SPDX-License-Identifier: MIT
# The PostgreSQL store's own behaviour (run by `make check-store`; skips on
# SQLite): a first start creates the schema and the admin token, a restart
# finds both; connections the server drops are made again; a database that
# cannot be reached stops the start with a clear message.
import os
import sys
import time
sys.dont_write_bytecode = True
import sluicetest as st

if not st.on_postgres():
    print("SKIP: the store is SQLite here: set SLUICE_TEST_STORE (make check-store)")
    sys.exit(st.SKIP)


def eventually(what, timeout=10.0):
    """what() until it is true, for at most timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(0.1)
    return what()


def body(t):
    d = t.daemon()
    t.check("first start" in d.stdout() and d.token, "first start on an empty database: "
            "an admin token, printed and saved", d.stdout())
    tables = {r[0] for r in d.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    t.check({"items", "audit", "queue", "event_batches", "tokens", "offer_waves", "served",
             "item_leases", "changes", "nodes"}
            <= tables and "offers" not in tables, "the schema is in the database",
            sorted(tables))
    t.check(d.sql("SELECT version FROM sluice_schema") == [(16,)],
            "at the latest schema version (16, as SQLite's)",
            d.sql("SELECT version FROM sluice_schema"))
    t.check({"reports", "reporters"} <= tables and
            d.sql("SELECT count(*) FROM information_schema.columns WHERE"
                  " (table_name, column_name) IN (('users', 'seen_s'), ('audit', 'v'),"
                  " ('tokens', 'expires_ms'))") == [(3,)],
            "  ... with what migrations 7 to 9 add", sorted(tables))
    t.status(d.post("/v1/uploads", st.upload("p1")), 202, "an upload")

    # The server drops every connection of sluiced (as at a restart).
    gone = d.sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                 " WHERE datname = current_database() AND pid <> pg_backend_pid()")
    t.check(gone == [(5,)], "the server ends sluiced's five connections (writer, reader, "
            "the change feed's tailer, and the two search_workers' readers)", gone)
    ok = eventually(lambda: d.post("/v1/uploads", st.upload("p2")).status == 202)
    t.check(ok, "then uploads are acknowledged again (the writer connects again)")
    ok = eventually(lambda: d.item("p2").status == 200)
    t.check(ok, "and read again (the reader connects again)")
    ok = eventually(lambda: [i["id"] for i in (d.get("/v1/items?creator=c1").json or {})
                             .get("items", [])][:1] == ["p2"])
    t.check(ok, "and searched again (the search readers connect again)")
    t.check(d.running(), "sluiced kept running")
    v = d.get("/v1/audit/verify").json or {}
    t.check(v.get("ok") is True and v.get("checked") == 4 and v.get("head", {}).get("format") == 3,
            "the audit chain goes on where it was, keyed", v)

    # A restart on the same database: nothing created again, all there.
    t.stopped(d)
    os.remove(os.path.join(d.state, "admin.token"))
    d.start()
    t.check("first start" not in d.stdout(), "a restart creates no second admin token",
            d.stdout())
    r = d.req("GET", "/v1/items/p1", token=t.daemons[0].token)
    t.check(r.status == 200, "the old admin token still works, p1 is there", r)

    # A database that does not exist: the start fails, saying why.
    bad = st.Daemon(t, name="bad")
    with open(bad.conf, "a") as f:
        f.write("store = %s\n" % st.lua_str(st.with_dbname(st.STORE, "sluice_no_such_db")))
    r = st.run([st.program("sluiced"), "-c", bad.conf, "--listen", "127.0.0.1:%d" % bad.port,
                "--state", bad.state, "--policies", bad.policies], timeout=30)
    t.check(r.returncode == 1 and "PostgreSQL" in r.stderr and "sluice_no_such_db" in r.stderr,
            "store naming a missing database: exit 1, the error names it",
            (r.returncode, r.stderr[-400:]))
    t.check(not os.path.exists(os.path.join(bad.state, "admin.token")),
            "  ... and no admin token")


st.main(body)
