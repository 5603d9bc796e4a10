# SPDX-License-Identifier: MIT
"""HTTP/1.1 to sluiced over kept-alive, pipelined connections (standard library only).

The daemon answers the requests of one connection in order, one at a time,
and an answer that writes waits for its group commit. So a connection with
several requests in flight saves the round trips but not the commit waits;
several connections let commits batch. A Pool holds both knobs: `conns`
connections with up to `window` requests in flight each. Requests are sent
without waiting for each other; each answer goes to its callback, in order
per connection.
"""
import collections
import json
import selectors
import socket
import time

STALL_S = 120.0     # no byte in or out for this long: the daemon is stuck
IDLE_S = 30.0       # sluiced closes a connection idle for 60 s; renew it before
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


class HttpError(Exception):
    pass


def encode(method, path, body=None, token=None, ctype=None):
    """The bytes of one request. body: bytes, str, or a dict/list sent as JSON."""
    if body is not None and not isinstance(body, (bytes, bytearray)):
        if not isinstance(body, str):
            body = json.dumps(body, separators=(",", ":"))
            ctype = ctype or "application/json"
        body = body.encode("utf-8")
    head = "%s %s HTTP/1.1\r\nHost: sim\r\n" % (method, path)
    if token:
        head += "Authorization: Bearer %s\r\n" % token
    if body is not None:
        head += "Content-Type: %s\r\n" % (ctype or "application/json")
    head += "Content-Length: %d\r\n\r\n" % (len(body) if body is not None else 0)
    return head.encode("ascii") + (bytes(body) if body is not None else b"")


class _Conn:
    __slots__ = ("sock", "out", "inbuf", "waiting", "used", "free")

    def __init__(self, port, host):
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.out = bytearray()
        self.inbuf = bytearray()
        self.waiting = collections.deque()     # callbacks, oldest first
        self.used = time.monotonic()
        self.free = False                       # in the pool's ring of connections with room


class Pool:
    def __init__(self, port, token=None, conns=1, window=1, host="127.0.0.1"):
        self.port, self.host = port, host
        self.token = token
        self.window = window
        self.sel = selectors.DefaultSelector()
        self.conns = [_Conn(port, host) for _ in range(conns)]
        # Connections with room in their window, each once, taken in turn:
        # choosing one costs O(1), not a look at every connection (with a
        # hundred connections that look was most of a load's client time).
        self.free = collections.deque()
        for c in self.conns:
            self.sel.register(c.sock, selectors.EVENT_READ, c)
            c.free = True
            self.free.append(c)
        self.requests = 0
        self.inflight = 0

    def close(self):
        for c in self.conns:
            self.sel.unregister(c.sock)
            c.sock.close()
        self.conns = []
        self.sel.close()

    # {====================== Sending ======================================

    def send(self, req, cb=None):
        """Queue one encoded request; cb(status, body) is called with its
        answer during a later send(), pump() or drain()."""
        while not self.free:
            self.pump()
        c = self.free[0]
        if not c.waiting and time.monotonic() - c.used > IDLE_S:
            c = self._renew(c)
        c.used = time.monotonic()
        if not c.out:
            self.sel.modify(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
        c.out += req
        c.waiting.append(cb)
        if len(c.waiting) >= self.window:
            self.free.popleft()
            c.free = False
        else:
            self.free.rotate(-1)
        self.requests += 1
        self.inflight += 1

    def submit(self, method, path, body=None, cb=None, ctype=None, token=None):
        self.send(encode(method, path, body, token or self.token, ctype), cb)

    def drain(self):
        """Wait until every request sent has its answer."""
        while self.inflight:
            self.pump()

    def call(self, method, path, body=None, ctype=None, token=None):
        """One request, waited for: (status, parsed JSON or None)."""
        got = []
        self.submit(method, path, body, lambda s, b: got.append((s, b)), ctype, token)
        while not got:
            self.pump()
        status, raw = got[0]
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None

    def map(self, reqs):
        """Encoded requests in, [(status, body)] out in the same order."""
        out = [None] * len(reqs)
        for i, req in enumerate(reqs):
            self.send(req, lambda s, b, i=i: out.__setitem__(i, (s, b)))
        self.drain()
        return out

    # }=====================================================================

    # {====================== The loop =====================================

    def pump(self):
        """Move bytes once: write what is queued, read what came, run the
        callbacks of complete answers."""
        events = self.sel.select(STALL_S)
        if not events:
            raise HttpError("no answer for %.0f s with %d requests in flight"
                            % (STALL_S, self.inflight))
        for key, mask in events:
            c = key.data
            if mask & selectors.EVENT_WRITE and c.out:
                try:
                    n = c.sock.send(c.out)
                except BlockingIOError:
                    n = 0
                except OSError as e:
                    raise HttpError("send: %s" % e)
                del c.out[:n]
                if not c.out:
                    self.sel.modify(c.sock, selectors.EVENT_READ, c)
            if mask & selectors.EVENT_READ:
                try:
                    data = c.sock.recv(1 << 20)
                except BlockingIOError:
                    continue
                except OSError as e:
                    raise HttpError("recv: %s" % e)
                if not data:
                    if not c.waiting and not c.out:
                        self._renew(c)      # closed while idle: nothing lost
                        continue
                    raise HttpError("the daemon closed a connection with %d answers due"
                                    % len(c.waiting))
                # The daemon's sockets keep Nagle's algorithm: its answer to
                # a pipelined request waits for our ACK of the one before,
                # which Linux would delay by up to 40 ms. ACK at once.
                if _QUICKACK:
                    c.sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
                c.inbuf += data
                self._answers(c)

    def _answers(self, c):
        # Complete answers are taken off the buffer before any callback
        # runs: a callback may send, and sending may read more.
        buf = c.inbuf
        pos = 0
        done = []
        while True:
            end = buf.find(b"\r\n\r\n", pos)
            if end < 0:
                break
            head = bytes(buf[pos:end])
            k = head.find(b"Content-Length:")
            if k < 0:
                k = head.lower().find(b"content-length:")
            if k < 0:
                raise HttpError("an answer without Content-Length: %r" % head[:200])
            eol = head.find(b"\r\n", k)
            n = int(head[k + 15:eol if eol > 0 else len(head)])
            if len(buf) < end + 4 + n:
                break
            done.append((c.waiting.popleft(), int(head[9:12]), bytes(buf[end + 4:end + 4 + n])))
            pos = end + 4 + n
        if pos:
            del buf[:pos]
        self.inflight -= len(done)
        if done and not c.free:
            c.free = True
            self.free.append(c)
        for cb, status, body in done:
            if cb is not None:
                cb(status, body)

    def _renew(self, c):
        """A new connection in c's place (c has nothing in flight)."""
        self.sel.unregister(c.sock)
        c.sock.close()
        n = _Conn(self.port, self.host)
        self.conns[self.conns.index(c)] = n
        self.sel.register(n.sock, selectors.EVENT_READ, n)
        if c.free:
            self.free[self.free.index(c)] = n
        else:
            self.free.append(n)
        n.free = True
        return n

    # }=====================================================================


def wait_healthy(port, timeout=30.0, host="127.0.0.1"):
    """True once GET /healthz answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            p = Pool(port, host=host)
            try:
                if p.call("GET", "/healthz")[0] == 200:
                    return True
            finally:
                p.close()
        except (OSError, HttpError):
            pass
        time.sleep(0.05)
    return False
