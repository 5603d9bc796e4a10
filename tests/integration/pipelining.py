# SPDX-License-Identifier: MIT
# Requests sent one after another on a connection before any answer is read
# (pipelining) are answered in order, each after the one before it, also
# behind a request that waits for a commit; a client that shuts its side
# after its request still reads the answer; many pipelined requests, more
# than the daemon holds while a handler works, are all answered.
import os
import socket
import sys
import time
sys.dont_write_bytecode = True
import rawhttp as rh
import sluicetest as st

POLICY = 'function review(item) return "approve" end\n'


class Reader:
    """Answers from one connection, in order, keeping what one recv read of
    the next answers."""

    def __init__(self, s):
        self.s, self.buf = s, b""

    def _more(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise st.Failed("no answer in time")
        self.s.settimeout(left)
        chunk = self.s.recv(65536)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def answer(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if not self._more(deadline):
                return None
        head, rest = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:])}
        need = int(headers.get("content-length", "0"))
        while len(rest) < need:
            if not self._more(deadline):
                return None
            head, rest = self.buf.split(b"\r\n\r\n", 1)
        self.buf = rest[need:]
        return rh.Answer(int(lines[0].split(" ")[1]), headers, rest[:need])

    def closed(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        try:
            while not self.buf:
                if not self._more(deadline):
                    return True
        except OSError:
            return True
        return False


def get(path, token=None):
    auth = b"Authorization: Bearer %s\r\n" % token.encode() if token else b""
    return b"GET %s HTTP/1.1\r\nHost: sluice\r\n%s\r\n" % (path.encode(), auth)


def post(path, body, token):
    data = body.encode()
    return (b"POST %s HTTP/1.1\r\nHost: sluice\r\nAuthorization: Bearer %s\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (path.encode(), token.encode(), len(data), data))


def upload(n):
    return '{"id":"%s","creator":"c1","title":"t %s"}' % (n, n)


def body(t):
    d = t.daemon(start=False, conf='log_level = "warn"\n')
    with open(os.path.join(d.policies, "review.lua"), "w") as f:
        f.write(POLICY)
    d.start()
    tok = d.token

    # An upload (answered once its commit is done), then a read of it and a
    # health check, in one write: in order, the read after the commit.
    s = rh.connect(d.port, timeout=10)
    r = Reader(s)
    s.sendall(post("/v1/uploads", upload("p1"), tok) + get("/v1/items/p1", tok) + get("/healthz"))
    a, b, c = r.answer(), r.answer(), r.answer()
    t.check(a is not None and a.status == 202 and (a.json or {}).get("id") == "p1",
            "pipelined: the upload first, 202", a)
    t.check(b is not None and b.status == 200 and (b.json or {}).get("id") == "p1",
            "  ... then the item it stored, 200", b)
    t.check(c is not None and c.status == 200, "  ... then /healthz", c)

    # Events and uploads interleaved with reads, ten of each, in one write.
    batch = b""
    for i in range(10):
        batch += post("/v1/uploads", upload("q%d" % i), tok)
        batch += post("/v1/events", '{"item":"q%d","user":"u1","type":"play"}' % i, tok)
        batch += get("/v1/items/q%d" % i, tok)
    s.sendall(batch)
    got = [r.answer() for _ in range(30)]
    want = [202, 202, 200] * 10
    t.check([x.status if x else None for x in got] == want and
            all((got[3 * i + 2].json or {}).get("id") == "q%d" % i for i in range(10)),
            "30 pipelined requests: answered in order, each read after its upload",
            [x.status if x else None for x in got])

    # More pipelined requests than the daemon reads while a handler works
    # (a few KiB): behind an upload, 400 health checks (~17 KiB).
    s.sendall(post("/v1/uploads", upload("p2"), tok) + get("/healthz") * 400)
    first = r.answer()
    rest = [r.answer() for _ in range(400)]
    t.check(first is not None and first.status == 202 and
            all(x is not None and x.status == 200 for x in rest),
            "an upload and 400 health checks pipelined behind it: all answered",
            (first, sum(1 for x in rest if x is not None and x.status == 200)))
    t.status(st.request(d.port, "GET", "/healthz"), 200, "  ... and the daemon answers others")
    s.close()

    # A client that sends its request and shuts its side reads the answer,
    # and then the connection closes.
    for path, data in (("/v1/uploads", upload("h1")),
                       ("/v1/events", '{"item":"h1","user":"u1","type":"like"}')):
        s = rh.connect(d.port, timeout=10)
        r = Reader(s)
        s.sendall(post(path, data, tok))
        s.shutdown(socket.SHUT_WR)
        a = r.answer()
        t.check(a is not None and a.status == 202,
                "%s, then the client shuts its side: the answer arrives" % path, a)
        t.check(r.closed(), "  ... and the connection closes after it")
        s.close()

    t.status(d.item("h1"), 200, "the half-closed client's upload is stored")
    t.stopped(d)


st.main(body)
