# SPDX-License-Identifier: MIT
# Slow clients: a request head or body that trickles in is cut at its
# deadline (a total, however steadily the bytes come), while other clients
# are served without waiting; the cuts are counted in /metrics.
import sys
import threading
import time
sys.dont_write_bytecode = True
import rawhttp as rh
import sluicetest as st

SLOWLORIS = 60          # connections sending a header line now and then
SLOW_BODIES = 5         # connections sending a body byte now and then
TRICKLE = 0.25          # seconds between two of their sends
CONF = ("header_timeout_seconds = 1\nbody_timeout_seconds = 2\nidle_timeout_seconds = 30\n"
        "log_level = \"warn\"\n")


def trickle(socks, payloads, stop):
    """Send one more piece on each socket every TRICKLE seconds until stop;
    a socket the daemon closed is left alone."""
    i = 0
    while not stop.is_set():
        for s in socks:
            try:
                s.send(payloads(i))
            except OSError:
                pass
        i += 1
        stop.wait(TRICKLE)


def served_meanwhile(t, d, what):
    """/healthz and an upload answer quickly while the slow ones trickle."""
    worst = 0.0
    for n in range(10):
        t0 = time.monotonic()
        r = d.get("/healthz", token=None)
        worst = max(worst, time.monotonic() - t0)
        if r.status != 200:
            t.check(False, "%s: /healthz answers 200" % what, r)
            return
    t0 = time.monotonic()
    r = d.post("/v1/uploads", st.upload("during-" + what.replace(" ", "-")))
    worst = max(worst, time.monotonic() - t0)
    t.status(r, 202, "%s: an upload is served meanwhile" % what)
    t.check(worst < 0.5, "%s: every normal request took under 0.5 s (worst %.3f s)"
            % (what, worst), worst)


def slowloris(t, d):
    socks = [rh.connect(d.port) for _ in range(SLOWLORIS)]
    for s in socks:
        s.send(b"POST /v1/uploads HTTP/1.1\r\nHost: sluice\r\n")
    silent = rh.connect(d.port)     # sends nothing at all
    stop = threading.Event()
    th = threading.Thread(target=trickle, daemon=True,
                          args=(socks, lambda i: b"X-Slow-%d: %d\r\n" % (i, i), stop))
    th.start()
    t0 = time.monotonic()
    try:
        time.sleep(0.3)
        t.check(all(rh.still_open(s) for s in socks),
                "slowloris: the %d connections are open before the header deadline" % SLOWLORIS)
        served_meanwhile(t, d, "slowloris")
        cut = [rh.closed_within(s, 4.0) for s in socks]
        took = time.monotonic() - t0
        t.check(all(cut), "slowloris: the daemon closed all %d connections (%d closed, "
                "%.1f s after they began)" % (SLOWLORIS, sum(cut), took), took)
        t.check(took < 3.5, "slowloris: closed around the 1 s header deadline, not later "
                "(%.1f s)" % took)
        t.check(rh.closed_within(silent, 2.0),
                "a connection that sends nothing is closed at the header deadline too")
    finally:
        stop.set()
        th.join(5)
        for s in socks + [silent]:
            s.close()


def slow_bodies(t, d):
    head = (b"POST /v1/uploads HTTP/1.1\r\nHost: sluice\r\nAuthorization: Bearer %s\r\n"
            b"Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n"
            % d.token.encode())
    socks = [rh.connect(d.port) for _ in range(SLOW_BODIES)]
    for s in socks:
        s.send(head + b"{")
    stop = threading.Event()
    th = threading.Thread(target=trickle, args=(socks, lambda i: b" ", stop), daemon=True)
    th.start()
    t0 = time.monotonic()
    try:
        time.sleep(0.5)
        t.check(all(rh.still_open(s) for s in socks),
                "slow bodies: the %d connections are open before the body deadline"
                % SLOW_BODIES)
        served_meanwhile(t, d, "slow bodies")
        cut = [rh.closed_within(s, 5.0) for s in socks]
        took = time.monotonic() - t0
        t.check(all(cut), "slow bodies: the daemon closed all %d connections (%d, %.1f s "
                "after their heads)" % (SLOW_BODIES, sum(cut), took), took)
        t.check(took < 4.5, "slow bodies: closed around the 2 s body deadline (%.1f s)" % took)
    finally:
        stop.set()
        th.join(5)
        for s in socks:
            s.close()


def body(t):
    d = t.daemon(conf=CONF)
    base = d.get("/metrics").body.decode()
    h0 = rh.metric(base, 'sluice_http_connections_cut_total{reason="header_timeout"}')
    b0 = rh.metric(base, 'sluice_http_connections_cut_total{reason="body_timeout"}')
    t.require(h0 is not None and b0 is not None, "/metrics has the cut counters", base[-800:])

    slowloris(t, d)
    slow_bodies(t, d)

    # A client that sends its request whole but slowly within the deadline
    # is served: the deadline is for the head, not for each byte.
    s = rh.connect(d.port)
    for piece in (b"GET /healthz HTTP/1.1\r\n", b"Host: sluice\r\n", b"\r\n"):
        s.send(piece)
        time.sleep(0.2)
    a = rh.read_answer(s)
    t.check(a is not None and a.status == 200, "a head sent in three pieces over 0.6 s is "
            "answered", a)
    # Kept alive: the next request on the same connection gets its own deadline.
    time.sleep(1.5)
    s.send(b"GET /healthz HTTP/1.1\r\nHost: sluice\r\n\r\n")
    a = rh.read_answer(s)
    t.check(a is not None and a.status == 200, "an idle kept-alive connection is not cut by "
            "the header deadline (idle_timeout_seconds governs it)", a)
    s.close()

    m = d.get("/metrics").body.decode()
    h1 = rh.metric(m, 'sluice_http_connections_cut_total{reason="header_timeout"}')
    b1 = rh.metric(m, 'sluice_http_connections_cut_total{reason="body_timeout"}')
    t.check(h1 - h0 >= SLOWLORIS + 1, "/metrics: header_timeout cuts counted (%d)" % (h1 - h0))
    t.check(b1 - b0 >= SLOW_BODIES, "/metrics: body_timeout cuts counted (%d)" % (b1 - b0))
    t.check(rh.metric(m, "sluice_http_connections") is not None,
            "/metrics has sluice_http_connections")
    t.status(d.item("during-slowloris"), 200, "the upload served during the slowloris is stored")
    t.stopped(d)


st.main(body)
