# SPDX-License-Identifier: MIT
# Refused bodies: a body over body_limit, however large, gets the JSON 413,
# and a client that sends its whole body before reading reads that answer
# instead of a reset (lingering close). Chunked bodies are held to the same
# limit; Expect: 100-continue is answered before the body when it can be.
import socket
import sys
import threading
sys.dont_write_bytecode = True
import rawhttp as rh
import sluicetest as st

LIMIT = 4096


def head(d, length=None, chunked=False, extra=b""):
    h = (b"POST /v1/uploads HTTP/1.1\r\nHost: sluice\r\nAuthorization: Bearer %s\r\n"
         b"Content-Type: application/json\r\n" % d.token.encode())
    if chunked:
        h += b"Transfer-Encoding: chunked\r\n"
    else:
        h += b"Content-Length: %d\r\n" % length
    return h + extra + b"\r\n"


def send_then_read(d, size):
    """Send a head and a body of size bytes, all of it, and only then read:
    what Python's http.client and many other clients do."""
    s = rh.connect(d.port, timeout=20)
    # A small receive buffer on our side keeps the answer in the kernel's
    # hands while we send; the daemon's socket buffers cannot swallow 8 MiB.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        s.sendall(head(d, size))
        chunk = b"x" * 65536
        left = size
        while left > 0:
            n = s.send(chunk[:min(left, len(chunk))])
            left -= n
        return rh.read_answer(s, timeout=10), None
    except OSError as e:
        return None, e
    finally:
        s.close()


def is_413(a):
    return (a is not None and a.status == 413 and
            ((a.json or {}).get("error") or {}).get("code") == "too_large")


def body(t):
    d = t.daemon(conf="body_limit = %d\nbody_timeout_seconds = 10\nlog_level = \"warn\"\n"
                 % LIMIT)

    # ---- over the limit, in every size, sent before reading ---------------
    for size in (LIMIT + 1, 4 * LIMIT + 1, 256 * 1024, 8 * 1024 * 1024):
        a, err = send_then_read(d, size)
        t.check(is_413(a), "a %d-byte body sent whole before reading -> JSON 413 too_large, "
                "read without a reset" % size, err or a)
        t.check(a is not None and a.headers.get("connection") == "close",
                "  ... and the connection closes after it", a)

    # ---- the answer comes at once, before the body -----------------------
    s = rh.connect(d.port)
    s.sendall(head(d, 10 * 1024 * 1024))
    a = rh.read_answer(s, timeout=3)
    t.check(is_413(a), "a declared 10 MiB body is refused from its head, before any of it", a)
    # The client may still send some of it: it is read and dropped, no reset.
    try:
        for _ in range(16):
            s.sendall(b"y" * 65536)
        sent = True
    except OSError:
        sent = False
    t.check(sent, "  ... and 1 MiB sent after the answer is taken without a reset")
    s.close()

    # ---- Expect: 100-continue --------------------------------------------
    s = rh.connect(d.port)
    s.sendall(head(d, LIMIT * 2, extra=b"Expect: 100-continue\r\n"))
    a = rh.read_answer(s, timeout=3)
    t.check(is_413(a), "Expect: 100-continue with a body over the limit -> 413, no 100", a)
    s.close()
    body_ok = b'{"id":"exp-1","creator":"c1","title":"t"}'
    s = rh.connect(d.port)
    s.sendall(head(d, len(body_ok), extra=b"Expect: 100-continue\r\n"))
    s.settimeout(3)
    interim = s.recv(64)
    t.check(interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"),
            "Expect: 100-continue within the limit -> 100 Continue first", interim)
    s.sendall(body_ok)
    a = rh.read_answer(s, timeout=5)
    t.check(a is not None and a.status == 202, "  ... then the upload is taken (202)", a)
    s.close()

    # ---- chunked bodies: the same limit ----------------------------------
    s = rh.connect(d.port)
    s.sendall(head(d, chunked=True))
    chk = body_ok.replace(b"exp-1", b"chk-1")
    s.sendall(b"%x\r\n%s\r\n" % (10, chk[:10]) +
              b"%x;ext=1\r\n%s\r\n0\r\nX-Trailer: 1\r\n\r\n" % (len(chk) - 10, chk[10:]))
    a = rh.read_answer(s)
    t.check(a is not None and a.status == 202, "a chunked body within the limit is taken", a)
    # The same connection goes on after a chunked request.
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: sluice\r\n\r\n")
    a = rh.read_answer(s)
    t.check(a is not None and a.status == 200, "  ... and the connection serves the next one", a)
    s.close()
    t.status(d.item("chk-1"), 200, "  ... and the chunked upload is stored")

    s = rh.connect(d.port, timeout=10)
    s.sendall(head(d, chunked=True))
    stop = threading.Event()

    def flood():
        piece = b"%x\r\n%s\r\n" % (1000, b"z" * 1000)
        try:
            for _ in range(2000):
                if stop.is_set():
                    return
                s.sendall(piece)
        except OSError:
            pass
    th = threading.Thread(target=flood, daemon=True)
    th.start()
    a = rh.read_answer(s, timeout=10)
    stop.set()
    th.join(10)
    t.check(is_413(a), "a chunked body growing past the limit -> JSON 413", a)
    s.close()

    s = rh.connect(d.port)
    s.sendall(head(d, chunked=True) + b"zz\r\n")
    a = rh.read_answer(s)
    t.check(a is not None and a.status == 400, "a malformed chunk size -> 400", a)
    s.close()

    # ---- nothing refused was stored, and the lingering closes are counted -
    t.status(d.post("/v1/uploads", st.upload("after")), 202, "the daemon goes on serving")
    m = d.get("/metrics").body.decode()
    got = rh.metric(m, "sluice_http_lingering_closes_total")
    t.check(got is not None and got >= 5, "/metrics counts the lingering closes (%s)" % got)
    got = rh.metric(m, 'sluice_http_requests_total{route="POST /v1/uploads",code="413"}')
    t.check(got is not None and got >= 7, "/metrics counts the 413s on the route (%s)" % got)
    t.stopped(d)


st.main(body)
