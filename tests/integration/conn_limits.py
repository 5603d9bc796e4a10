# SPDX-License-Identifier: MIT
# Connection caps: past max_connections_per_address one peer address gets a
# JSON 429 and a close, past max_connections everyone gets a JSON 503; the
# refusals are counted, and closing connections frees their places.
import sys
import time
sys.dont_write_bytecode = True
import rawhttp as rh
import sluicetest as st

PER_ADDRESS = 8
TOTAL = 20


def hold(port, n, src):
    """n connections from src, each proven accepted by a kept-alive /healthz."""
    socks = []
    for _ in range(n):
        s = rh.connect(port, src=src)
        s.send(b"GET /healthz HTTP/1.1\r\nHost: sluice\r\n\r\n")
        a = rh.read_answer(s)
        if a is None or a.status != 200:
            raise st.Failed("a connection from %s under the caps was not served: %r" % (src, a))
        socks.append(s)
    return socks


def refused(port, src):
    """What a connection over a cap gets without sending anything."""
    s = rh.connect(port, src=src)
    try:
        a = rh.read_answer(s, timeout=5)
        return a, rh.closed_within(s, 3)
    finally:
        s.close()


def body(t):
    d = t.daemon(conf="max_connections = %d\nmax_connections_per_address = %d\n"
                      "log_level = \"warn\"\n" % (TOTAL, PER_ADDRESS))
    m0 = d.get("/metrics").body.decode()

    # ---- one address: its cap ------------------------------------------
    mine = hold(d.port, PER_ADDRESS, "127.0.0.1")
    a, gone = refused(d.port, "127.0.0.1")
    t.check(a is not None and a.status == 429 and (a.json or {}).get("error", {}).get("code")
            == "too_many_connections", "connection %d from one address -> 429 "
            "too_many_connections (JSON)" % (PER_ADDRESS + 1), a)
    t.check(a is not None and a.headers.get("retry-after") == "1", "  ... with Retry-After: 1", a)
    t.check(gone, "  ... and the daemon closes it")
    t.check(all(rh.still_open(s) for s in mine), "the address's %d connections stay open"
            % PER_ADDRESS)
    # Another address is not held to the first one's count.
    other = hold(d.port, PER_ADDRESS, "127.0.0.2")
    t.check(len(other) == PER_ADDRESS, "another address gets its own %d" % PER_ADDRESS)

    # ---- every address: the global cap ----------------------------------
    third = hold(d.port, TOTAL - 2 * PER_ADDRESS, "127.0.0.3")
    a, gone = refused(d.port, "127.0.0.4")
    t.check(a is not None and a.status == 503 and (a.json or {}).get("error", {}).get("code")
            == "unavailable", "connection %d in all -> 503 unavailable (JSON)" % (TOTAL + 1), a)
    t.check(gone, "  ... and the daemon closes it")

    # ---- places come back as connections close --------------------------
    for s in mine + other + third:
        s.close()
    deadline = time.monotonic() + 5
    ok = False
    while time.monotonic() < deadline and not ok:
        try:
            ok = d.get("/healthz", token=None).status == 200
        except OSError:
            pass
        if not ok:
            time.sleep(0.05)
    t.check(ok, "after the connections close, new ones are served")
    again = hold(d.port, PER_ADDRESS, "127.0.0.1")
    t.check(len(again) == PER_ADDRESS, "the first address has its %d places back" % PER_ADDRESS)
    for s in again:
        s.close()

    time.sleep(0.2)
    m = d.get("/metrics").body.decode()
    for reason, least in (("max_connections_per_address", 1), ("max_connections", 1)):
        name = 'sluice_http_connections_refused_total{reason="%s"}' % reason
        got = (rh.metric(m, name) or 0) - (rh.metric(m0, name) or 0)
        t.check(got >= least, "/metrics counts the refusal: %s +%d" % (name, got))
    t.check((rh.metric(m, "sluice_http_connections") or 0) <= 2,
            "/metrics: the open-connection gauge came back down (%s)"
            % rh.metric(m, "sluice_http_connections"))
    t.stopped(d)

    # ---- the configuration is range-checked ------------------------------
    for line, what in (("max_connections = 0\n", "max_connections = 0"),
                       ("max_connections_per_address = -1\n", "a negative per-address cap"),
                       ("header_timeout_seconds = 0\n", "a zero header deadline"),
                       ("body_timeout_seconds = 1.5\n", "a fractional body deadline")):
        bad = t.daemon(conf=line, name="bad%d" % len(t.daemons), start=False)
        r = st.run([st.program("sluiced"), "--check-config", "-c", bad.conf])
        t.check(r.returncode == 1 and ":1:" in r.stderr, "--check-config refuses %s, naming "
                "the line" % what, (r.returncode, r.stderr))


st.main(body)
